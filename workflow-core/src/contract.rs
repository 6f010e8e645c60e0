//! The contract between the code `#[workflow]` generates and the runtime:
//! the event enum's traits, routing, what a step is given and returns, the
//! graph metadata, and the ids a run hands out. It is the ground the
//! context, the workflow trait and the runtime all stand on, and it
//! depends on none of them.

use std::fmt::Debug;

use crate::error::BoxError;
use crate::event::StepFailed;

/// Index of a step in [`WorkflowInfo::steps`].
pub type StepId = usize;

/// Identifies one invocation of a step within a run (across its retries).
pub type InvocationId = usize;

/// Identifies one input of a step within a run, for good: across its
/// retries, snapshots and resumes (a child run is found again by it).
pub type InputId = u32;

/// Identifies one `ctx.wait_for_event` call within a run.
pub type WaiterId = u64;

/// The generated enum of a workflow's events.
pub trait WorkflowEvent: Clone + Debug + Send + 'static {
    /// The generated enum of the workflow's steps, for targeted sends.
    type Step: Copy + Debug + Into<StepId> + Send + 'static;

    /// The workflow's graph.
    const INFO: &'static WorkflowInfo;

    /// The name of this event's type, as written in the signatures.
    fn name(&self) -> &'static str;

    /// The position of this event's type in [`WorkflowInfo::events`].
    fn index(&self) -> usize;

    /// Whether step `step` consumes this event's type.
    fn accepted_by(&self, step: StepId) -> bool;

    /// Whether step `step` declares that it hands this event's type to other
    /// steps: in its return type or its `sends = [..]`.
    fn sent_by(&self, step: StepId) -> bool;

    /// Whether step `step` declares that it writes this event's type to the
    /// caller's stream, in its `streams = [..]`.
    fn streamed_by(&self, step: StepId) -> bool;

    /// This event as JSON, for failure reports and snapshots.
    fn to_json(&self) -> Result<serde_json::Value, serde_json::Error>;

    /// The event of type `name` (as in [`WorkflowInfo::events`]) read from
    /// `data`; `None` if the workflow has no such event type.
    fn from_json(name: &str, data: serde_json::Value) -> Option<Result<Self, serde_json::Error>>;

    /// The runtime's failure report as an event, if some step consumes it.
    fn step_failed(failure: StepFailed) -> Option<Self>;
}

/// Reads one of its event types out of a workflow's event enum (the other
/// way is [`Wrap`]).
#[diagnostic::on_unimplemented(
    message = "`{T}` is not an event of this workflow",
    label = "`{T}` is not one of the workflow's event types",
    note = "to wait for `{T}`, the step must declare it: `#[step(waits = [{T}])]`"
)]
pub trait Variant<T>: Sized {
    /// The position of `T` in [`WorkflowInfo::events`].
    const INDEX: usize;
    /// The event, if it is a `T`.
    fn as_variant(&self) -> Option<&T>;
    /// The event, if it is a `T`; itself otherwise.
    fn into_variant(self) -> Result<T, Self>;
}

/// Wraps one of a workflow's event types into the workflow's event enum:
/// implemented by `#[workflow]` on the enum, once for each event type (and
/// each `OneOf<..>` a step takes). The way back is [`Variant`].
#[diagnostic::on_unimplemented(
    message = "`{T}` is not an event of this workflow",
    label = "not one of the workflow's event types",
    note = "only types that appear in the workflow's step signatures (or their `sends`/`streams` lists) can be sent"
)]
pub trait Wrap<T>: Sized {
    /// Wraps `event` in the enum.
    fn wrap(event: T) -> Self;
}

/// Where events of one type go.
#[derive(Debug)]
pub struct Route {
    /// Steps that take the event itself, each in its own invocation.
    pub steps: &'static [StepId],
    /// Steps that take `Collected<E>`: all events of one fan-out at once.
    pub collectors: &'static [StepId],
    /// Whether the event asks for outside input: it is written to the
    /// caller's stream, and the run waits for an answer instead of stalling.
    pub request: bool,
    /// Whether it is the stop event: it ends the run with its payload.
    pub stop: bool,
}

/// What a step invocation is given.
#[derive(Clone, Debug)]
pub enum StepInput<E> {
    /// One event.
    One(E),
    /// The events collected for a `Collected<E>` parameter.
    Collected(Vec<E>),
}

/// What one step invocation emitted.
#[derive(Debug)]
pub enum Emitted<E> {
    /// No event (`None`, or an empty `Vec`).
    Nothing,
    /// A single event.
    One(E),
    /// Several events from a `Vec` (a fan-out), routed in order.
    Many(Vec<E>),
}

/// What a step invocation returns to the runtime.
pub type StepOutcome<E> = Result<Emitted<E>, BoxError>;

/// The graph of a workflow, as constants the macro writes.
#[derive(Debug)]
pub struct WorkflowInfo {
    /// The workflow type's name.
    pub name: &'static str,
    /// The start event's type, as written in the signatures.
    pub start: &'static str,
    /// The stop event's type, as written in the signatures.
    pub stop: &'static str,
    /// Every event type, in the order of the generated enum.
    pub events: &'static [&'static str],
    /// Every step, indexed by [`StepId`].
    pub steps: &'static [StepInfo],
    /// Where each event type goes, indexed like `events`.
    pub routes: &'static [Route],
    /// The index of `StepFailed` in `events`, if a step consumes it: then
    /// a step's failure is reported to that step instead of ending the run.
    pub step_failed: Option<usize>,
    /// The event types the caller may send in (`HumanResponse<T>`, the
    /// types of `#[workflow(external = [..])]`, and those steps wait for).
    pub answers: &'static [&'static str],
    /// The event types that ask the caller for input (`InputRequired<T>`
    /// and the types of `#[workflow(requests = [..])]`).
    pub requests: &'static [&'static str],
    /// The graph as a mermaid `flowchart`.
    pub mermaid: &'static str,
    /// How many runs of one workflow instance may go at once
    /// (`#[workflow(num_concurrent_runs = N)]`); more wait their turn.
    pub num_concurrent_runs: Option<usize>,
}

/// One step of a workflow.
#[derive(Debug)]
pub struct StepInfo {
    /// The method's name.
    pub name: &'static str,
    /// The event types it consumes.
    pub accepts: &'static [&'static str],
    /// The event types it returns or sends to other steps.
    pub emits: &'static [&'static str],
    /// The event types it writes to the caller's stream.
    pub streams: &'static [&'static str],
    /// How many invocations may run at once.
    pub num_workers: usize,
    /// Whether it has a retry policy (`#[step(retry = ..)]`).
    pub retries: bool,
    /// The `Collected` steps a fan-out of this step feeds: each runs once
    /// per fan-out, with an empty list if none of its events reached it.
    pub fan_in: &'static [StepId],
    /// The event types it returns many of at once (`Vec<E>`): its fan-out.
    pub fans_out: &'static [&'static str],
    /// The events it declares it waits for (`waits = [..]`), as indices
    /// into [`WorkflowInfo::events`].
    pub waits: &'static [usize],
    /// If it handles failures (it takes `StepFailed`): which, and how often.
    pub recovers: Option<Recovers>,
    /// The workflows it may run as children (`children = [..]`), as written.
    pub children: &'static [&'static str],
}

/// What a failure handler covers: `#[step(for_steps = [..], max_recoveries = N)]`.
///
/// A step's failure, once its retries are spent, goes to the handler whose
/// `steps` name it, else to the one that covers every step, else it ends
/// the run. Handlers never cover handlers: a failing handler ends the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recovers {
    /// The steps it covers; `None` for every step no other handler names.
    pub steps: Option<&'static [StepId]>,
    /// How many failures it may recover from in one run; past that, the
    /// run fails with the step's own error.
    pub max_recoveries: u32,
}

impl WorkflowInfo {
    /// The step called `name`, if there is one.
    pub fn step(&self, name: &str) -> Option<&StepInfo> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// The graph, as the macro drew it into the rustdoc.
    pub fn graph(&self) -> workflow_graph::Graph {
        let waits: Vec<Vec<&str>> =
            self.steps.iter().map(|s| s.waits.iter().map(|&e| self.events[e]).collect()).collect();
        let specs: Vec<workflow_graph::StepSpec<'_>> = self
            .steps
            .iter()
            .enumerate()
            .zip(&waits)
            .map(|((i, s), waits)| workflow_graph::StepSpec {
                name: s.name,
                accepts: s.accepts,
                // A step that takes `Collected<E>` is among the route's collectors.
                collects: s.accepts.iter().any(|a| {
                    self.events
                        .iter()
                        .position(|e| e == a)
                        .is_some_and(|e| self.routes[e].collectors.contains(&i))
                }),
                emits: s.emits,
                fans_out: s.fans_out,
                streams: s.streams,
                waits,
                children: s.children,
            })
            .collect();
        workflow_graph::Graph::workflow(self.events, &specs, self.start, self.stop, self.answers)
    }

    /// The graph as a self-contained SVG element.
    pub fn svg(&self) -> String {
        self.graph().svg(None)
    }
}
