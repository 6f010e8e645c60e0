//! The graph as a mermaid flowchart.

use crate::{EdgeKind, Graph, NodeKind};

pub(crate) fn render(graph: &Graph, marks: Option<&[u64]>, counts: Option<&[u64]>) -> String {
    let escape = |s: &str| s.replace('"', "#quot;").replace('<', "#lt;").replace('>', "#gt;");
    let mut out = String::from("flowchart TD\n");
    for (i, node) in graph.nodes.iter().enumerate() {
        let label = match counts.and_then(|c| c.get(i)).copied().unwrap_or(0) {
            0 => escape(&node.label),
            n => format!("{} ×{n}", escape(&node.label)),
        };
        let shape = match node.kind {
            NodeKind::Start | NodeKind::Stop => format!("(((\"{label}\")))"),
            NodeKind::Step => format!("[\"{label}\"]"),
            NodeKind::Event => format!("([\"{label}\"])"),
            NodeKind::Caller => format!("[/\"{label}\"/]"),
            NodeKind::Answerer => format!("[\\\"{label}\"\\]"),
            NodeKind::Child => format!("[[\"{label}\"]]"),
        };
        out.push_str(&format!("    n{i}{shape}\n"));
    }
    let mut taken = Vec::new();
    for (i, edge) in graph.edges.iter().enumerate() {
        let weight = marks.and_then(|m| m.get(i)).copied().unwrap_or(0);
        let arrow = match (edge.kind, weight) {
            (EdgeKind::Stream, 0) => "-.->".to_owned(),
            (EdgeKind::Stream, w) => format!("-. \"×{w}\" .->"),
            (EdgeKind::Flow, 0) => "-->".to_owned(),
            (EdgeKind::Flow, w) => format!("==>|\"×{w}\"|"),
            (EdgeKind::FanOut, 0) => "-->|\"×n\"|".to_owned(),
            (EdgeKind::FanOut, w) => format!("==>|\"×n, ×{w}\"|"),
            (EdgeKind::FanIn, 0) => "-->|all|".to_owned(),
            (EdgeKind::FanIn, w) => format!("==>|\"all, ×{w}\"|"),
            (EdgeKind::Answer, _) => "-. answers .->".to_owned(),
            (EdgeKind::Wait, _) => "-. waits .->".to_owned(),
            (EdgeKind::Child, 0) => "-. runs .->".to_owned(),
            (EdgeKind::Child, w) => format!("-. \"runs ×{w}\" .->"),
        };
        if weight > 0 {
            taken.push(i);
        }
        out.push_str(&format!("    n{} {arrow} n{}\n", edge.from, edge.to));
    }
    if !taken.is_empty() {
        let list: Vec<String> = taken.iter().map(usize::to_string).collect();
        out.push_str(&format!("    linkStyle {} stroke:#d9480f,stroke-width:3px\n", list.join(",")));
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::tests::sample;

    #[test]
    fn all_flows_snapshot() {
        assert_eq!(
            sample().mermaid(None),
            "flowchart TD
    n0(((\"StartEvent#lt;String#gt;\")))
    n1([\"Retrieved\"])
    n2([\"Progress\"])
    n3(((\"StopEvent#lt;String#gt;\")))
    n4[\"retrieve\"]
    n5[\"answer\"]
    n6[/\"caller\"/]
    n0 --> n4
    n4 --> n1
    n1 --> n5
    n5 --> n1
    n5 --> n3
    n5 -.-> n2
    n2 -.-> n6
"
        );
    }

    #[test]
    fn a_run_snapshot_marks_the_path_taken() {
        let graph = sample();
        let marks = [1, 1, 2, 1, 1, 0, 0];
        let text = graph.mermaid(Some(&marks));
        assert!(text.contains("    n1 ==>|\"×2\"| n5\n"), "{text}");
        assert!(text.contains("    n5 -.-> n2\n"), "{text}");
        assert!(text.ends_with("    linkStyle 0,1,2,3,4 stroke:#d9480f,stroke-width:3px\n"), "{text}");
    }
}
