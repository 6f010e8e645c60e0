//! What a run writes to its caller's stream: the items, below the runtime
//! that writes them, so that a run's link can carry a child run's items
//! up to its parent.

use serde_json::Value;

pub use crate::outcome::RunOutcome;

/// An item of a run's event stream.
#[derive(Clone, Debug)]
pub enum RunEvent<E> {
    /// An event a step wrote with `ctx.write_event_to_stream`, or a request
    /// for outside input.
    Event(E),
    /// An input of a step waits in its queue because all its workers are
    /// busy (with `RunOptions::internal_events`; LlamaIndex's
    /// `StepStateChanged`, `preparing`).
    StepQueued {
        /// The step.
        step: &'static str,
        /// The input's event type.
        input: &'static str,
    },
    /// A step invocation started (with `RunOptions::internal_events`;
    /// `StepStateChanged`, `running`).
    StepStarted {
        /// The step.
        step: &'static str,
        /// Its worker slot, in `0..num_workers`.
        worker: usize,
        /// 1 for the first try.
        attempt: u32,
        /// The input's event type (the collected type for `Collected<_>`).
        input: &'static str,
    },
    /// A step invocation ended (with `RunOptions::internal_events`;
    /// `StepStateChanged`, `not_running`).
    StepFinished {
        /// The step.
        step: &'static str,
        /// Its worker slot.
        worker: usize,
        /// Which try this was.
        attempt: u32,
        /// Whether it returned events rather than failing.
        succeeded: bool,
        /// The event types it returned, in order; none if it failed.
        output: Vec<&'static str>,
    },
    /// Nothing runs but steps waiting for outside input, and the run waits
    /// for it: a returned request or a `wait_for_event` (with
    /// `RunOptions::internal_events`; LlamaIndex's `WorkflowIdleEvent`).
    /// Once per idle stretch, never as the run ends.
    Idle,
    /// An item of the stream of a child run a step started, if it asked
    /// for them (`ChildOptions::stream_events`).
    Child(Box<ChildEvent>),
    /// The last item: how the run ended.
    Finished(RunOutcome),
}

impl<E> RunEvent<E> {
    /// The same item with its event converted.
    pub fn map<F>(self, convert: impl FnOnce(E) -> F) -> RunEvent<F> {
        match self {
            RunEvent::Event(event) => RunEvent::Event(convert(event)),
            RunEvent::StepQueued { step, input } => RunEvent::StepQueued { step, input },
            RunEvent::StepStarted { step, worker, attempt, input } => {
                RunEvent::StepStarted { step, worker, attempt, input }
            }
            RunEvent::StepFinished { step, worker, attempt, succeeded, output } => {
                RunEvent::StepFinished { step, worker, attempt, succeeded, output }
            }
            RunEvent::Idle => RunEvent::Idle,
            RunEvent::Child(event) => RunEvent::Child(event),
            RunEvent::Finished(outcome) => RunEvent::Finished(outcome),
        }
    }
}

/// An item of a child run's stream, in its parent's stream: which child it
/// is and what it wrote, its events as JSON (the parent's stream is typed
/// with the parent's events, not the child's).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ChildEvent {
    /// The child's workflow.
    pub workflow: &'static str,
    /// The child run's id, as its handler's `run_id`.
    pub run_id: u64,
    /// The parent's step that started it.
    pub step: &'static str,
    /// What the child wrote.
    pub event: RunEvent<Value>,
}
