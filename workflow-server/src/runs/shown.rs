//! What a run's log shows: its stream items as envelopes (step state
//! changes as internal `StepStateChanged` events), and how it ended as its
//! terminal event, as LlamaIndex's server writes them.

use serde_json::{json, Value};
use workflow_core::{RunEvent, RunOutcome};

use super::Status;
use crate::envelope::{envelope, Envelopes};

/// An item of the run's stream as it is logged: visible events as their
/// envelope; step state changes as internal `StepStateChanged` events.
pub(super) fn shown(envelopes: &Envelopes, item: &RunEvent<Value>) -> Option<(bool, Value)> {
    let type_of = |key: Option<&str>| {
        key.map(|k| envelopes.kind(k).map_or_else(|| k.to_owned(), |kind| kind.name.clone()))
    };
    let state =
        |name: &str, state: &str, worker: Option<usize>, input: Option<&str>, output: Option<&str>| {
            let (input, output) = (type_of(input), type_of(output));
            let value = json!({
                "name": name,
                "step_state": state,
                "worker_id": worker.map(|w| w.to_string()),
                "input_event_name": input,
                "output_event_name": output,
            });
            (
                true,
                envelope(
                    value,
                    "workflows.events.StepStateChanged",
                    "StepStateChanged",
                    Some(&["InternalDispatchEvent"]),
                ),
            )
        };
    match item {
        RunEvent::Event(tagged) => {
            let key = tagged.get("event").and_then(Value::as_str).unwrap_or_default();
            let data = tagged.get("data").cloned().unwrap_or(Value::Null);
            Some((false, envelopes.encode(key, &data)))
        }
        RunEvent::StepQueued { step, input } => Some(state(step, "preparing", None, Some(input), None)),
        RunEvent::StepStarted { step, worker, input, .. } => {
            Some(state(step, "running", Some(*worker), Some(input), None))
        }
        RunEvent::StepFinished { step, worker, output, .. } => {
            Some(state(step, "not_running", Some(*worker), None, output.first().copied()))
        }
        RunEvent::Idle => Some((
            true,
            envelope(
                json!({}),
                "workflows.events.WorkflowIdleEvent",
                "WorkflowIdleEvent",
                Some(&["InternalDispatchEvent"]),
            ),
        )),
        _ => None,
    }
}

/// How a run ended, as its record and terminal event show it.
pub(super) struct Terminal {
    pub(super) status: Status,
    /// The stop event's envelope, if it completed.
    pub(super) result: Option<Value>,
    pub(super) error: Option<String>,
    pub(super) event: Value,
}

/// The end of a run whose result (as JSON) or error's message is
/// `outcome`, and whose stream's last item is `ended`.
pub(super) fn terminal(envelopes: &Envelopes, outcome: Result<&Value, &str>, ended: &RunOutcome) -> Terminal {
    let failure = |kind: &str, value: Value| {
        envelope(value, &format!("workflows.events.{kind}"), kind, Some(&["StopEvent"]))
    };
    match (outcome, ended) {
        (Ok(output), _) => {
            let stop = envelopes.encode_stop(output);
            Terminal { status: Status::Completed, result: Some(stop.clone()), error: None, event: stop }
        }
        (Err(_), RunOutcome::TimedOut { after, active_steps }) => {
            let seconds = after.as_secs_f64();
            Terminal {
                status: Status::Failed,
                result: None,
                error: Some(format!("Workflow timed out after {}s", trim_float(seconds))),
                event: failure(
                    "WorkflowTimedOutEvent",
                    json!({ "timeout": seconds, "active_steps": active_steps }),
                ),
            }
        }
        // As LlamaIndex's server: a cancelled run has no error.
        (Err(_), RunOutcome::Cancelled) => Terminal {
            status: Status::Cancelled,
            result: None,
            error: None,
            event: failure("WorkflowCancelledEvent", json!({})),
        },
        (Err(message), ended) => {
            let (step, attempts, elapsed, kind, message) = match ended {
                RunOutcome::Failed(f) => {
                    (f.step, f.attempts, f.elapsed.as_secs_f64(), f.kind, f.message.clone())
                }
                _ => (None, 1, 0.0, "WorkflowError", message.to_owned()),
            };
            let event = failure(
                "WorkflowFailedEvent",
                json!({
                    "step_name": step,
                    "exception": { "exception_type": kind, "exception_message": message },
                    "attempts": attempts,
                    "elapsed_seconds": elapsed,
                }),
            );
            // As LlamaIndex's server: the error is what the step raised.
            Terminal { status: Status::Failed, result: None, error: Some(message), event }
        }
    }
}

/// `2.0` as `2`, `0.5` as `0.5`.
fn trim_float(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}
