//! The `Workflow` trait that `#[workflow]` implements, and its graph metadata.

use std::future::Future;
use std::sync::Arc;

use crate::context::Context;
use crate::error::BoxError;

/// Index of a step in [`WorkflowInfo::steps`].
pub type StepId = usize;

/// A workflow: the routing table and step calls that `#[workflow]` generates.
///
/// Do not implement it by hand: the macro proves the graph sound before it
/// writes this impl. Run a workflow through [`WorkflowExt`](crate::WorkflowExt).
pub trait Workflow: Send + Sync + Sized + 'static {
    /// The generated enum with one variant per event type of this workflow.
    type Event: Clone + Send + 'static;
    /// The typed state of the workflow's [`Context`] (`()` when no step takes one).
    type State: Default + Send + 'static;
    /// What `run` takes: the start event's payload.
    type Input: Send + 'static;
    /// What `run` returns: the stop event's payload.
    type Output: Send + 'static;

    /// The graph as the macro read it.
    const INFO: &'static WorkflowInfo;

    /// Wraps the run's input in the start event.
    fn start_event(input: Self::Input) -> Self::Event;

    /// Where an event goes: to the steps that consume its type, or out as the result.
    fn dispatch(event: Self::Event) -> Dispatch<Self::Event, Self::Output>;

    /// The name of an event's type, for traces and errors.
    fn event_name(event: &Self::Event) -> &'static str;

    /// Calls step `step` with `event`, which `dispatch` routed to it.
    fn invoke(
        self: Arc<Self>,
        step: StepId,
        context: Context<Self::State>,
        event: Self::Event,
    ) -> impl Future<Output = StepOutcome<Self::Event>> + Send + 'static;
}

/// The result of routing one event.
#[derive(Debug)]
pub enum Dispatch<E, O> {
    /// Deliver the event to each of these steps.
    Steps(&'static [StepId], E),
    /// The stop event: the run is over with this output.
    Stop(O),
}

/// What one step invocation emitted.
#[derive(Debug)]
pub enum Emitted<E> {
    /// No event (`None`, or an empty `Vec`).
    Nothing,
    /// A single event.
    One(E),
    /// Several events, routed in order.
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
    /// The graph as a mermaid `flowchart`.
    pub mermaid: &'static str,
}

/// One step of a workflow.
#[derive(Debug)]
pub struct StepInfo {
    /// The method's name.
    pub name: &'static str,
    /// The event type it consumes.
    pub accepts: &'static str,
    /// The event types it may emit.
    pub emits: &'static [&'static str],
    /// How many invocations may run at once.
    pub num_workers: usize,
}

impl WorkflowInfo {
    /// The step called `name`, if there is one.
    pub fn step(&self, name: &str) -> Option<&StepInfo> {
        self.steps.iter().find(|s| s.name == name)
    }
}
