//! What a run's core tells its driver to do, and what a run writes to its
//! caller's stream.

use std::fmt;
use std::time::Duration;

use serde_json::{json, Value};

use super::input::event_json;
use crate::contract::{InputId, InvocationId, StepId, StepInput, WaiterId, WorkflowInfo};
use crate::erased::ErasedEvent;
use crate::error::WorkflowError;
pub use crate::outcome::{RunFailure, RunOutcome};
use crate::snapshot::{input_data, SnapshotError};
pub use crate::stream::RunEvent;

/// What the driver must do next.
pub enum Command {
    /// Call `step` with `input` on a new task, after `delay` (a retry's backoff).
    Invoke {
        /// Reported back in [`Input::StepFinished`](super::Input::StepFinished).
        invocation: InvocationId,
        /// The input's lasting id.
        id: InputId,
        /// The step to call.
        step: StepId,
        /// Which of the step's `num_workers` slots runs it.
        worker: usize,
        /// 1 for the first try, then 2, 3… on retries.
        attempt: u32,
        /// Its input.
        input: StepInput<ErasedEvent>,
        /// How long to wait before calling it.
        delay: Duration,
    },
    /// Hand `event` to the step waiting in `ctx.wait_for_event`.
    Wake {
        /// The waiter, as in [`Input::Wait`](super::Input::Wait).
        waiter: WaiterId,
        /// The event it waited for.
        event: ErasedEvent,
    },
    /// Write to the caller's event stream.
    Stream(RunEvent<ErasedEvent>),
    /// The run is over: drop every task still in flight and return this
    /// (on success, the stop event, which holds the run's output).
    Finish(Result<ErasedEvent, WorkflowError>),
}

impl Command {
    /// The command as JSON: events as in snapshots, steps by name (of
    /// `info`'s workflow), the result of a finish as its stop event or its
    /// error's message.
    pub fn to_json(&self, info: &WorkflowInfo) -> Result<Value, SnapshotError> {
        let event = event_json;
        Ok(match self {
            Command::Invoke { invocation, step, worker, attempt, input, delay, .. } => json!({ "invoke": {
                "invocation": invocation,
                "step": info.steps[*step].name,
                "worker": worker,
                "attempt": attempt,
                "input": step_input_json(input)?,
                "delay_ns": delay.as_nanos() as u64,
            }}),
            Command::Wake { waiter, event: e } => json!({ "wake": { "waiter": waiter, "event": event(e)? } }),
            Command::Stream(RunEvent::Event(e)) => json!({ "stream": event(e)? }),
            Command::Stream(RunEvent::StepQueued { step, input }) => {
                json!({ "step_queued": { "step": step, "input": input } })
            }
            Command::Stream(RunEvent::StepStarted { step, worker, attempt, input }) => json!({
                "step_started": { "step": step, "worker": worker, "attempt": attempt, "input": input }
            }),
            Command::Stream(RunEvent::StepFinished { step, worker, attempt, succeeded, output }) => json!({
                "step_finished": {
                    "step": step, "worker": worker, "attempt": attempt, "succeeded": succeeded, "output": output
                }
            }),
            Command::Stream(RunEvent::Idle) => json!("idle"),
            Command::Stream(RunEvent::Child(child)) => json!({
                "child": { "workflow": child.workflow, "run_id": child.run_id, "step": child.step }
            }),
            Command::Stream(RunEvent::Finished(outcome)) => json!({ "finished": format!("{outcome:?}") }),
            Command::Finish(Ok(stop)) => json!({ "finish": { "stop": event(stop)? } }),
            Command::Finish(Err(error)) => json!({ "finish": { "error": error.to_string() } }),
        })
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Invoke { step, worker, attempt, delay, .. } => f
                .debug_struct("Invoke")
                .field("step", step)
                .field("worker", worker)
                .field("attempt", attempt)
                .field("delay", delay)
                .finish_non_exhaustive(),
            Command::Wake { waiter, event } => {
                f.debug_struct("Wake").field("waiter", waiter).field("event", &event.name()).finish()
            }
            Command::Stream(event) => f.debug_tuple("Stream").field(event).finish(),
            Command::Finish(Ok(_)) => f.write_str("Finish(Ok(..))"),
            Command::Finish(Err(error)) => f.debug_tuple("Finish").field(error).finish(),
        }
    }
}

/// A step input as JSON: `{"collected": bool, "events": [..]}`.
fn step_input_json(input: &StepInput<ErasedEvent>) -> Result<Value, SnapshotError> {
    let (collected, events) = input_data(input)?;
    Ok(json!({ "collected": collected, "events": events }))
}
