//! The trait `#[workflow]` implements: a workflow's types and its entry
//! points for the runtime. The contract types it is written in are
//! re-exported here, where users of the graph metadata look for them.

use std::future::Future;
use std::sync::Arc;

use crate::context::Context;
use crate::resource::ResourceError;
use crate::retry::RetryPolicy;
use crate::store::StateCodec;

pub use crate::contract::{
    Emitted, Recovers, Route, StepId, StepInfo, StepInput, StepOutcome, Variant, WorkflowEvent, WorkflowInfo,
};

/// A workflow: the routing table and step calls that `#[workflow]` generates.
///
/// Do not implement it by hand: the macro proves the graph sound before it
/// writes this impl. Run a workflow through [`WorkflowExt`](crate::WorkflowExt).
pub trait Workflow: Send + Sync + Sized + 'static {
    /// The generated enum with one variant per event type of this workflow.
    type Event: WorkflowEvent;
    /// The typed state of the workflow's [`Context`] (`()` when no step takes one).
    type State: Default + Send + 'static;
    /// What `run` takes: the start event's payload.
    type Input: Send + 'static;
    /// What `run` returns: the stop event's payload (always serializable,
    /// as events are: durable runs and the registry write it as JSON).
    type Output: Send + serde::Serialize + 'static;

    /// The graph as the macro read it.
    const INFO: &'static WorkflowInfo;

    /// Wraps the run's input in the start event.
    fn start_event(input: Self::Input) -> Self::Event;

    /// The run's output, if `event` is the stop event (where every other
    /// event goes is data: [`WorkflowInfo::routes`]).
    fn output(event: Self::Event) -> Option<Self::Output>;

    /// The retry policy of step `step`, from `#[step(retry = ..)]`.
    fn retry_policy(step: StepId) -> Option<Box<dyn RetryPolicy>>;

    /// Whether the resource factories declared outside the workflow
    /// (`#[workflow(resources = [..])]`) can be built: checked when a run
    /// starts, as the macro cannot see what they need.
    fn check_resources() -> Result<(), ResourceError> {
        Ok(())
    }

    /// How the state goes into a journal and back, if it can (it is
    /// `Serialize` and `DeserializeOwned`): what lets a run started from
    /// JSON, which names no state type, be durable. `#[workflow]` fills it in.
    #[doc(hidden)]
    fn state_codec() -> Option<StateCodec<Self::State>> {
        None
    }

    /// Calls step `step` with `input`, which `dispatch` routed to it.
    fn invoke(
        self: Arc<Self>,
        step: StepId,
        context: Context<Self::State, Self::Event>,
        input: StepInput<Self::Event>,
    ) -> impl Future<Output = StepOutcome<Self::Event>> + Send + 'static;
}
