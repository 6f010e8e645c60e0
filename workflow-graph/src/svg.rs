//! The layout as one `<svg>` element, safe to paste into HTML or Markdown:
//! no blank line (a Markdown HTML block ends at one), no script, colours from
//! `currentColor` so that light and dark rustdoc themes both read.

use crate::layout::{back_edges, Layout};
use crate::{EdgeKind, Graph, NodeKind};

pub(crate) fn render(graph: &Graph, layout: &Layout, marks: Option<&[u64]>) -> String {
    let back = back_edges(graph);
    let mut out = format!(
        "<svg class=\"workflow-graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" \
         viewBox=\"0 0 {w:.0} {h:.0}\" role=\"img\" font-family=\"sans-serif\" font-size=\"12\">\
         <defs><marker id=\"wf-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" \
         orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"currentColor\"/></marker></defs>",
        w = layout.width,
        h = layout.height
    );
    for (i, edge) in graph.edges.iter().enumerate() {
        let (a, b) = (layout.nodes[edge.from], layout.nodes[edge.to]);
        let weight = marks.and_then(|m| m.get(i)).copied().unwrap_or(0);
        let taken = weight > 0;
        let (x1, y1) = (a.x, a.y + a.height / 2.0);
        let (x2, y2) = (b.x, b.y - b.height / 2.0);
        let path = if back[i] || b.layer <= a.layer {
            // A loop: leave and enter on the right, around the side.
            let side = layout.width - 20.0 - (i % 3) as f64 * 6.0;
            let (sx, sy) = (a.x + a.width / 2.0, a.y);
            let (ex, ey) = (b.x + b.width / 2.0, b.y);
            format!("M{sx:.1},{sy:.1} C{side:.1},{sy:.1} {side:.1},{ey:.1} {ex:.1},{ey:.1}")
        } else {
            let mid = (y1 + y2) / 2.0;
            format!("M{x1:.1},{y1:.1} C{x1:.1},{mid:.1} {x2:.1},{mid:.1} {x2:.1},{y2:.1}")
        };
        let dash = match edge.kind {
            EdgeKind::Stream => " stroke-dasharray=\"4 3\"",
            EdgeKind::Child => " stroke-dasharray=\"1 3\"",
            EdgeKind::Flow => "",
        };
        let (stroke, width) = if taken { ("#d9480f", 2.5) } else { ("currentColor", 1.2) };
        out.push_str(&format!(
            "<path d=\"{path}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{width}\"{dash} \
             marker-end=\"url(#wf-arrow)\" opacity=\"{}\"/>",
            if marks.is_some() && !taken { "0.35" } else { "0.8" }
        ));
        if taken {
            let (lx, ly) = ((x1 + x2) / 2.0 + 6.0, (y1 + y2) / 2.0);
            out.push_str(&format!("<text x=\"{lx:.1}\" y=\"{ly:.1}\" fill=\"#d9480f\">×{weight}</text>"));
        }
    }
    for (node, placed) in graph.nodes.iter().zip(&layout.nodes) {
        let (x, y, w, h) =
            (placed.x - placed.width / 2.0, placed.y - placed.height / 2.0, placed.width, placed.height);
        let radius = match node.kind {
            NodeKind::Step | NodeKind::Child => 3.0,
            _ => h / 2.0,
        };
        let (fill, weight) = match node.kind {
            NodeKind::Start | NodeKind::Stop => ("#2f9e44", "bold"),
            NodeKind::Step => ("#1c7ed6", "bold"),
            NodeKind::Caller => ("#868e96", "normal"),
            NodeKind::Event => ("#868e96", "normal"),
            NodeKind::Child => ("#7048e8", "bold"),
        };
        if node.kind == NodeKind::Child {
            // A second frame inside the first: a workflow of its own.
            out.push_str(&format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"2\" fill=\"none\" \
                 stroke=\"{fill}\" stroke-width=\"1\"/>",
                x + 4.0,
                y + 3.0,
                w - 8.0,
                h - 6.0
            ));
        }
        out.push_str(&format!(
            "<g class=\"wf-{kind}\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"{radius:.1}\" \
             fill=\"{fill}\" fill-opacity=\"0.14\" stroke=\"{fill}\" stroke-width=\"1.5\"/>\
             <text x=\"{cx:.1}\" y=\"{cy:.1}\" text-anchor=\"middle\" dominant-baseline=\"central\" \
             fill=\"currentColor\" font-weight=\"{weight}\">{label}</text></g>",
            kind = format!("{:?}", node.kind).to_lowercase(),
            cx = placed.x,
            cy = placed.y,
            label = escape(&node.label),
        ));
    }
    out.push_str("</svg>");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use crate::tests::sample;

    #[test]
    fn one_svg_element_with_every_label_escaped_and_no_blank_line() {
        let svg = sample().svg(None);
        assert!(svg.starts_with("<svg class=\"workflow-graph\"") && svg.ends_with("</svg>"));
        assert!(!svg.contains("\n\n"));
        for label in ["retrieve", "answer", "StartEvent&lt;String&gt;", "Retrieved", "caller"] {
            assert!(svg.contains(&format!(">{label}</text>")), "{label}");
        }
        assert!(!svg.contains("<script"));
    }

    #[test]
    fn marked_edges_are_highlighted_with_their_counts() {
        let graph = sample();
        let mut marks = vec![0; graph.edges.len()];
        marks[0] = 1;
        marks[1] = 3;
        let svg = graph.svg(Some(&marks));
        assert_eq!(svg.matches("stroke=\"#d9480f\"").count(), 2);
        assert!(svg.contains(">×3</text>"));
    }
}
