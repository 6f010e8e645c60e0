//! The layout as one `<svg>` element, safe to paste into HTML or Markdown:
//! no blank line (a Markdown HTML block ends at one), no script, colours from
//! `currentColor` so that light and dark rustdoc themes both read.

use crate::layout::Layout;
use crate::{EdgeKind, Graph, NodeKind};

pub(crate) fn render(
    graph: &Graph,
    layout: &Layout,
    marks: Option<&[u64]>,
    counts: Option<&[u64]>,
) -> String {
    let mut out = format!(
        "<svg class=\"workflow-graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" \
         viewBox=\"0 0 {w:.0} {h:.0}\" role=\"img\" font-family=\"sans-serif\" font-size=\"12\">\
         <defs><marker id=\"wf-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" \
         orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"currentColor\"/></marker></defs>",
        w = layout.width,
        h = layout.height
    );
    for (i, edge) in graph.edges.iter().enumerate() {
        let weight = marks.and_then(|m| m.get(i)).copied().unwrap_or(0);
        let taken = weight > 0;
        let route = &layout.routes[i];
        let path = route_path(route);
        let dash = match edge.kind {
            EdgeKind::Stream | EdgeKind::Answer | EdgeKind::Wait => " stroke-dasharray=\"4 3\"",
            EdgeKind::Child => " stroke-dasharray=\"1 3\"",
            EdgeKind::Flow | EdgeKind::FanOut | EdgeKind::FanIn => "",
        };
        // A fan-out is drawn as several lines, and says `×n`; a fan-in says `all`.
        let note = match edge.kind {
            EdgeKind::FanOut => Some(("×n", route.last())),
            EdgeKind::FanIn => Some(("all", route.last())),
            _ => None,
        };
        if let Some((text, Some(&(x, y)))) = note {
            out.push_str(&format!(
                "<text class=\"wf-edge-note\" x=\"{:.1}\" y=\"{:.1}\" fill=\"currentColor\" font-size=\"10\" \
                 font-style=\"italic\">{text}</text>",
                x + 5.0,
                y - 8.0
            ));
        }
        if edge.kind == EdgeKind::FanOut {
            for offset in [-3.0, 3.0] {
                let shifted: Vec<(f64, f64)> = route.iter().map(|&(x, y)| (x + offset, y)).collect();
                out.push_str(&format!(
                    "<path d=\"{}\" fill=\"none\" stroke=\"currentColor\" stroke-width=\"0.8\" opacity=\"0.45\"/>",
                    route_path(&shifted)
                ));
            }
        }
        let (stroke, width) = if taken { ("#d9480f", 2.5) } else { ("currentColor", 1.2) };
        out.push_str(&format!(
            "<path d=\"{path}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{width}\"{dash} \
             marker-end=\"url(#wf-arrow)\" opacity=\"{}\"/>",
            if marks.is_some() && !taken { "0.35" } else { "0.8" }
        ));
        if taken {
            let ((x1, y1), (x2, y2)) = (route[0], route[1]);
            let (lx, ly) = ((x1 + x2) / 2.0 + 6.0, (y1 + y2) / 2.0);
            out.push_str(&format!("<text x=\"{lx:.1}\" y=\"{ly:.1}\" fill=\"#d9480f\">×{weight}</text>"));
        }
    }
    for (n, (node, placed)) in graph.nodes.iter().zip(&layout.nodes).enumerate() {
        let (x, y, w, h) =
            (placed.x - placed.width / 2.0, placed.y - placed.height / 2.0, placed.width, placed.height);
        let radius = match node.kind {
            NodeKind::Step | NodeKind::Child => 3.0,
            _ => h / 2.0,
        };
        let (fill, weight) = match node.kind {
            NodeKind::Start | NodeKind::Stop => ("#2f9e44", "bold"),
            NodeKind::Step => ("#1c7ed6", "bold"),
            NodeKind::Caller | NodeKind::Answerer => ("#868e96", "normal"),
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
        if let Some(count) = counts.and_then(|c| c.get(n)).copied().filter(|&c| c > 0) {
            // How often the step ran, on its top right corner.
            out.push_str(&format!(
                "<text class=\"wf-count\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#d9480f\" \
                 font-size=\"11\" font-weight=\"bold\">×{count}</text>",
                x + w,
                y - 3.0
            ));
        }
    }
    out.push_str("</svg>");
    out
}

/// An SVG path through `route`: straight through a dummy's slot, a curve
/// with vertical ends across a gap between layers (it stays in the gap).
fn route_path(route: &[(f64, f64)]) -> String {
    let mut path = String::new();
    for (k, &(x, y)) in route.iter().enumerate() {
        if k == 0 {
            path.push_str(&format!("M{x:.1},{y:.1}"));
            continue;
        }
        let (px, py) = route[k - 1];
        if (px - x).abs() < 0.05 || (py - y).abs() < 0.05 {
            path.push_str(&format!(" L{x:.1},{y:.1}"));
        } else {
            let mid = (py + y) / 2.0;
            path.push_str(&format!(" C{px:.1},{mid:.1} {x:.1},{mid:.1} {x:.1},{y:.1}"));
        }
    }
    path
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
