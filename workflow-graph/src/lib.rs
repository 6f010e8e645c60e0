//! Drawing workflow graphs: a layered layout rendered as a self-contained
//! SVG (no script, no network, colours that follow the page's text colour),
//! and as mermaid text.
//!
//! It has no dependencies and no `unsafe`, because two very different users
//! share it: the `#[workflow]` macro, which embeds the SVG in the rustdoc of
//! each workflow at compile time, and the runtime, which draws the path a
//! run actually took.

mod layout;
mod mermaid;
mod svg;

pub use layout::{Layout, Placed};

/// What a node stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// The start event.
    Start,
    /// The stop event.
    Stop,
    /// Any other event.
    Event,
    /// A step.
    Step,
    /// The caller, which receives streamed events and requests.
    Caller,
    /// A workflow that a step runs as its child (drawn in full on its own page).
    Child,
}

/// A node of the graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub label: String,
    pub kind: NodeKind,
}

/// How an edge is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// An event delivered to a step, or emitted by one.
    Flow,
    /// An event written to the caller's stream.
    Stream,
    /// A step runs a child workflow.
    Child,
}

/// A directed edge between two nodes, by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
}

/// A workflow graph: events and steps as nodes, deliveries as edges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// One step, as [`Graph::workflow`] takes it.
#[derive(Clone, Copy, Debug)]
pub struct StepSpec<'a> {
    pub name: &'a str,
    /// The events it consumes.
    pub accepts: &'a [&'a str],
    /// The events it returns or sends.
    pub emits: &'a [&'a str],
    /// The events it writes to the caller's stream.
    pub streams: &'a [&'a str],
    /// The workflows it runs as children.
    pub children: &'a [&'a str],
}

impl Graph {
    /// The graph of a workflow. Node `i` is event `events[i]`, then come
    /// the steps in order, then (if anything is streamed) the caller.
    pub fn workflow(events: &[&str], steps: &[StepSpec<'_>], start: &str, stop: &str) -> Self {
        let mut graph = Graph::default();
        for &event in events {
            let kind = if event == start {
                NodeKind::Start
            } else if event == stop {
                NodeKind::Stop
            } else {
                NodeKind::Event
            };
            graph.nodes.push(Node { label: event.to_owned(), kind });
        }
        let index = |name: &str| events.iter().position(|e| *e == name);
        let mut caller = None;
        for step in steps {
            let at = graph.nodes.len();
            graph.nodes.push(Node { label: step.name.to_owned(), kind: NodeKind::Step });
            for event in step.accepts.iter().filter_map(|e| index(e)) {
                graph.edges.push(Edge { from: event, to: at, kind: EdgeKind::Flow });
            }
            for event in step.emits.iter().filter_map(|e| index(e)) {
                graph.edges.push(Edge { from: at, to: event, kind: EdgeKind::Flow });
            }
            for event in step.streams.iter().filter_map(|e| index(e)) {
                graph.edges.push(Edge { from: at, to: event, kind: EdgeKind::Stream });
                let caller = *caller.get_or_insert_with(|| {
                    graph.nodes.push(Node { label: "caller".to_owned(), kind: NodeKind::Caller });
                    graph.nodes.len() - 1
                });
                if !graph.edges.iter().any(|e| e.from == event && e.to == caller) {
                    graph.edges.push(Edge { from: event, to: caller, kind: EdgeKind::Stream });
                }
            }
        }
        // Children after everything else, so that the indices above hold.
        for (i, step) in steps.iter().enumerate() {
            let at = events.len() + i;
            for &child in step.children {
                let node =
                    match graph.nodes.iter().position(|n| n.kind == NodeKind::Child && n.label == child) {
                        Some(node) => node,
                        None => {
                            graph.nodes.push(Node { label: child.to_owned(), kind: NodeKind::Child });
                            graph.nodes.len() - 1
                        }
                    };
                graph.edges.push(Edge { from: at, to: node, kind: EdgeKind::Child });
            }
        }
        graph
    }

    /// Lays the graph out in layers from the start event downwards.
    pub fn layout(&self) -> Layout {
        layout::layout(self)
    }

    /// The graph as an SVG element; edges whose weight in `marks` is not
    /// zero are drawn as taken, with the weight as a label.
    pub fn svg(&self, marks: Option<&[u64]>) -> String {
        svg::render(self, &self.layout(), marks)
    }

    /// The graph as a mermaid flowchart, with taken edges marked likewise.
    pub fn mermaid(&self, marks: Option<&[u64]>) -> String {
        mermaid::render(self, marks)
    }

    /// The graph as plain text, one line per step: what a reader without
    /// SVG or mermaid sees.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (at, node) in self.nodes.iter().enumerate().filter(|(_, n)| n.kind == NodeKind::Step) {
            let names = |from_step: bool| {
                let list: Vec<&str> = self
                    .edges
                    .iter()
                    .filter(|e| e.kind == EdgeKind::Flow && if from_step { e.from == at } else { e.to == at })
                    .map(|e| self.nodes[if from_step { e.to } else { e.from }].label.as_str())
                    .collect();
                list.join(" | ")
            };
            let children: Vec<&str> = self
                .edges
                .iter()
                .filter(|e| e.kind == EdgeKind::Child && e.from == at)
                .map(|e| self.nodes[e.to].label.as_str())
                .collect();
            let runs =
                if children.is_empty() { String::new() } else { format!(" (runs {})", children.join(", ")) };
            out.push_str(&format!("{}: {} -> {}{runs}\n", node.label, names(false), names(true)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Graph {
        let steps = [
            StepSpec {
                name: "retrieve",
                accepts: &["StartEvent<String>"],
                emits: &["Retrieved"],
                streams: &[],
                children: &[],
            },
            StepSpec {
                name: "answer",
                accepts: &["Retrieved"],
                emits: &["Retrieved", "StopEvent<String>"],
                streams: &["Progress"],
                children: &[],
            },
        ];
        let events = ["StartEvent<String>", "Retrieved", "Progress", "StopEvent<String>"];
        Graph::workflow(&events, &steps, "StartEvent<String>", "StopEvent<String>")
    }

    #[test]
    fn builds_nodes_for_events_steps_and_the_caller() {
        let graph = sample();
        let kinds: Vec<NodeKind> = graph.nodes.iter().map(|n| n.kind).collect();
        use NodeKind::*;
        assert_eq!(kinds, [Start, Event, Event, Stop, Step, Step, Caller]);
        assert!(graph.edges.contains(&Edge { from: 5, to: 1, kind: EdgeKind::Flow }), "the loop back");
        assert!(graph.edges.contains(&Edge { from: 2, to: 6, kind: EdgeKind::Stream }));
    }

    #[test]
    fn a_child_is_one_node_for_every_step_that_runs_it() {
        let steps = [
            StepSpec {
                name: "ask",
                accepts: &["StartEvent<String>"],
                emits: &["Asked"],
                streams: &[],
                children: &["Search"],
            },
            StepSpec {
                name: "check",
                accepts: &["Asked"],
                emits: &["StopEvent<String>"],
                streams: &[],
                children: &["Search", "Judge"],
            },
        ];
        let events = ["StartEvent<String>", "Asked", "StopEvent<String>"];
        let graph = Graph::workflow(&events, &steps, "StartEvent<String>", "StopEvent<String>");
        let children: Vec<&str> =
            graph.nodes.iter().filter(|n| n.kind == NodeKind::Child).map(|n| n.label.as_str()).collect();
        assert_eq!(children, ["Search", "Judge"]);
        assert!(graph.edges.contains(&Edge { from: 3, to: 5, kind: EdgeKind::Child }));
        assert!(graph.edges.contains(&Edge { from: 4, to: 5, kind: EdgeKind::Child }), "one Search node");
        assert!(
            graph.text().contains("check: Asked -> StopEvent<String> (runs Search, Judge)"),
            "{}",
            graph.text()
        );
        assert!(graph.mermaid(None).contains("n5[[\"Search\"]]"), "{}", graph.mermaid(None));
        assert!(graph.mermaid(None).contains("n3 -. runs .-> n5"), "{}", graph.mermaid(None));
        assert!(graph.svg(None).contains("class=\"wf-child\""));
    }

    #[test]
    fn text_lists_each_step_with_its_inputs_and_outputs() {
        assert_eq!(
            sample().text(),
            "retrieve: StartEvent<String> -> Retrieved\nanswer: Retrieved -> Retrieved | StopEvent<String>\n"
        );
    }
}
