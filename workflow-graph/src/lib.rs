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
    /// The caller, which receives streamed events and requests (drawn last).
    Caller,
    /// The caller as the source of answers (drawn first, above the events
    /// it sends in).
    Answerer,
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
    /// A step returns many of an event at once (`Vec<E>`, a fan-out): `×n`.
    FanOut,
    /// A step takes all the events of a fan-out at once (`Collected<E>`): `all`.
    FanIn,
    /// An event written to the caller's stream.
    Stream,
    /// The caller sends an event in (an answer).
    Answer,
    /// A step waits for an event in place (`waits = [..]`).
    Wait,
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
#[derive(Clone, Copy, Debug, Default)]
pub struct StepSpec<'a> {
    pub name: &'a str,
    /// The events it consumes.
    pub accepts: &'a [&'a str],
    /// Whether it takes them all at once (`Collected<E>`, a fan-in).
    pub collects: bool,
    /// The events it returns or sends.
    pub emits: &'a [&'a str],
    /// Those of `emits` it returns many of at once (`Vec<E>`, a fan-out).
    pub fans_out: &'a [&'a str],
    /// The events it writes to the caller's stream.
    pub streams: &'a [&'a str],
    /// The events it waits for in place (`waits = [..]`).
    pub waits: &'a [&'a str],
    /// The workflows it runs as children.
    pub children: &'a [&'a str],
}

impl Graph {
    /// The graph of a workflow. Node `i` is event `events[i]`, then come
    /// the steps in order, then the caller if anything is streamed, then
    /// the caller as the source of `answers` (the events it may send in) if
    /// there are any, then the child workflows.
    pub fn workflow(
        events: &[&str],
        steps: &[StepSpec<'_>],
        start: &str,
        stop: &str,
        answers: &[&str],
    ) -> Self {
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
        for step in steps {
            graph.nodes.push(Node { label: step.name.to_owned(), kind: NodeKind::Step });
        }
        let mut streamed = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            let at = events.len() + i;
            let taken = if step.collects { EdgeKind::FanIn } else { EdgeKind::Flow };
            for event in step.accepts.iter().filter_map(|e| index(e)) {
                graph.edges.push(Edge { from: event, to: at, kind: taken });
            }
            for (name, event) in step.emits.iter().filter_map(|e| Some((*e, index(e)?))) {
                let kind = if step.fans_out.contains(&name) { EdgeKind::FanOut } else { EdgeKind::Flow };
                graph.edges.push(Edge { from: at, to: event, kind });
            }
            for event in step.streams.iter().filter_map(|e| index(e)) {
                graph.edges.push(Edge { from: at, to: event, kind: EdgeKind::Stream });
                if !streamed.contains(&event) {
                    streamed.push(event);
                }
            }
            for event in step.waits.iter().filter_map(|e| index(e)) {
                graph.edges.push(Edge { from: event, to: at, kind: EdgeKind::Wait });
            }
        }
        // The caller after every step, so that steps keep their indices.
        if !streamed.is_empty() {
            graph.nodes.push(Node { label: "caller".to_owned(), kind: NodeKind::Caller });
            let caller = graph.nodes.len() - 1;
            for event in streamed {
                graph.edges.push(Edge { from: event, to: caller, kind: EdgeKind::Stream });
            }
        }
        let answered: Vec<usize> = answers.iter().filter_map(|e| index(e)).collect();
        if !answered.is_empty() {
            graph.nodes.push(Node { label: "caller".to_owned(), kind: NodeKind::Answerer });
            let caller = graph.nodes.len() - 1;
            for event in answered {
                graph.edges.push(Edge { from: caller, to: event, kind: EdgeKind::Answer });
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
        svg::render(self, &self.layout(), marks, None)
    }

    /// The graph as a mermaid flowchart, with taken edges marked likewise.
    pub fn mermaid(&self, marks: Option<&[u64]>) -> String {
        mermaid::render(self, marks, None)
    }

    /// A run's path as an SVG element: taken edges marked with how often
    /// (`marks`, per edge), and each node with its count (`counts`, per
    /// node: how often a step was invoked; 0 shows nothing).
    pub fn svg_traced(&self, marks: &[u64], counts: &[u64]) -> String {
        svg::render(self, &self.layout(), Some(marks), Some(counts))
    }

    /// A run's path as a mermaid flowchart, with the same marks and counts.
    pub fn mermaid_traced(&self, marks: &[u64], counts: &[u64]) -> String {
        mermaid::render(self, Some(marks), Some(counts))
    }

    /// The graph as plain text, one line per step: what a reader without
    /// SVG or mermaid sees.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (at, node) in self.nodes.iter().enumerate().filter(|(_, n)| n.kind == NodeKind::Step) {
            let names = |from_step: bool| {
                let list: Vec<String> = self
                    .edges
                    .iter()
                    .filter(|e| if from_step { e.from == at } else { e.to == at })
                    .filter_map(|e| {
                        let label = &self.nodes[if from_step { e.to } else { e.from }].label;
                        match e.kind {
                            EdgeKind::Flow => Some(label.clone()),
                            EdgeKind::FanOut => Some(format!("×n {label}")),
                            EdgeKind::FanIn => Some(format!("all {label}")),
                            _ => None,
                        }
                    })
                    .collect();
                list.join(" | ")
            };
            let waits: Vec<&str> = self
                .edges
                .iter()
                .filter(|e| e.kind == EdgeKind::Wait && e.to == at)
                .map(|e| self.nodes[e.from].label.as_str())
                .collect();
            let answered = |event: &str| {
                self.edges.iter().any(|e| e.kind == EdgeKind::Answer && self.nodes[e.to].label == event)
            };
            let waits: Vec<String> = waits
                .iter()
                .map(|w| if answered(w) { format!("{w} from the caller") } else { (*w).to_owned() })
                .collect();
            let waits =
                if waits.is_empty() { String::new() } else { format!(" (waits for {})", waits.join(", ")) };
            let children: Vec<&str> = self
                .edges
                .iter()
                .filter(|e| e.kind == EdgeKind::Child && e.from == at)
                .map(|e| self.nodes[e.to].label.as_str())
                .collect();
            let runs =
                if children.is_empty() { String::new() } else { format!(" (runs {})", children.join(", ")) };
            out.push_str(&format!("{}: {} -> {}{waits}{runs}\n", node.label, names(false), names(true)));
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
                ..StepSpec::default()
            },
            StepSpec {
                name: "answer",
                accepts: &["Retrieved"],
                emits: &["Retrieved", "StopEvent<String>"],
                streams: &["Progress"],
                children: &[],
                ..StepSpec::default()
            },
        ];
        let events = ["StartEvent<String>", "Retrieved", "Progress", "StopEvent<String>"];
        Graph::workflow(&events, &steps, "StartEvent<String>", "StopEvent<String>", &[])
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
                ..StepSpec::default()
            },
            StepSpec {
                name: "check",
                accepts: &["Asked"],
                emits: &["StopEvent<String>"],
                streams: &[],
                children: &["Search", "Judge"],
                ..StepSpec::default()
            },
        ];
        let events = ["StartEvent<String>", "Asked", "StopEvent<String>"];
        let graph = Graph::workflow(&events, &steps, "StartEvent<String>", "StopEvent<String>", &[]);
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

    /// A fan-out, a fan-in and an answer from the caller that a step waits for.
    fn fanned() -> Graph {
        let steps = [
            StepSpec {
                name: "split",
                accepts: &["StartEvent<String>"],
                emits: &["Query"],
                fans_out: &["Query"],
                ..StepSpec::default()
            },
            StepSpec { name: "search", accepts: &["Query"], emits: &["Hits"], ..StepSpec::default() },
            StepSpec {
                name: "merge",
                accepts: &["Hits"],
                collects: true,
                emits: &["StopEvent<String>"],
                waits: &["HumanResponse<String>"],
                ..StepSpec::default()
            },
        ];
        let events = ["StartEvent<String>", "Query", "Hits", "HumanResponse<String>", "StopEvent<String>"];
        Graph::workflow(
            &events,
            &steps,
            "StartEvent<String>",
            "StopEvent<String>",
            &["HumanResponse<String>"],
        )
    }

    #[test]
    fn fan_out_fan_in_and_outside_input_in_the_text_form() {
        assert_eq!(
            fanned().text(),
            "split: StartEvent<String> -> ×n Query\n\
             search: Query -> Hits\n\
             merge: all Hits -> StopEvent<String> (waits for HumanResponse<String> from the caller)\n"
        );
    }

    #[test]
    fn fan_out_fan_in_and_outside_input_in_the_mermaid_form() {
        assert_eq!(
            fanned().mermaid(None),
            "flowchart TD
    n0(((\"StartEvent#lt;String#gt;\")))
    n1([\"Query\"])
    n2([\"Hits\"])
    n3([\"HumanResponse#lt;String#gt;\"])
    n4(((\"StopEvent#lt;String#gt;\")))
    n5[\"split\"]
    n6[\"search\"]
    n7[\"merge\"]
    n8[\\\"caller\"\\]
    n0 --> n5
    n5 -->|\"×n\"| n1
    n1 --> n6
    n6 --> n2
    n2 -->|all| n7
    n7 --> n4
    n3 -. waits .-> n7
    n8 -. answers .-> n3
"
        );
    }

    #[test]
    fn fan_out_fan_in_and_outside_input_in_the_svg() {
        let svg = fanned().svg(None);
        assert!(svg.contains(">×n</text>") && svg.contains(">all</text>"), "{svg}");
        assert!(svg.contains("class=\"wf-answerer\""), "{svg}");
        // The caller that answers sits above the answer it sends.
        let layout = fanned().layout();
        assert!(layout.nodes[8].layer < layout.nodes[3].layer);
    }

    #[test]
    fn text_lists_each_step_with_its_inputs_and_outputs() {
        assert_eq!(
            sample().text(),
            "retrieve: StartEvent<String> -> Retrieved\nanswer: Retrieved -> Retrieved | StopEvent<String>\n"
        );
    }
}
