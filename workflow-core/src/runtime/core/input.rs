//! What a run's core is told: one plain-data [`Input`] per thing that
//! happened, so that a run is the sequence of its inputs, and the same
//! sequence fed to a fresh core gives the same commands.

use std::fmt;
use std::time::Duration;

use serde_json::{json, Value};

use crate::contract::{Emitted, InvocationId, StepId, WaiterId};
use crate::erased::ErasedEvent;
use crate::error::BoxError;
use crate::snapshot::{event_data, SnapshotError};

/// One thing that happened to a run.
///
/// Decisions that need code rather than data are taken before the input is
/// made, by whoever holds that code, and recorded in it: which waiter's
/// filter took an event (`Wait::claim`, `External::waiter`), and whether a
/// step's error is retried, and after how long (`StepFailure::Error`).
#[derive(Debug)]
pub enum Input {
    /// Start the run with its start event.
    Start(ErasedEvent),
    /// Start the queued inputs of a core restored from a snapshot.
    Resume,
    /// An invocation ended.
    StepFinished {
        /// Which one.
        invocation: InvocationId,
        /// What it returned, or how it failed.
        result: Result<Emitted<ErasedEvent>, StepFailure>,
    },
    /// A step sent an event with `ctx.send_event` (to every consumer), or
    /// `send_event_to` (to `target` only), while `from` ran.
    Send {
        /// The sending invocation.
        from: InvocationId,
        /// The event.
        event: ErasedEvent,
        /// The one step to deliver to, if targeted.
        target: Option<StepId>,
    },
    /// A step wrote an event to the caller's stream while `from` ran.
    Stream {
        /// The writing invocation.
        from: InvocationId,
        /// The event.
        event: ErasedEvent,
    },
    /// A step began waiting in `ctx.wait_for_event`.
    Wait {
        /// The wait.
        waiter: WaiterId,
        /// The waiting invocation.
        from: InvocationId,
        /// The position, among the events nobody took yet, of the first
        /// one the wait's filter accepts: it answers the wait at once.
        claim: Option<usize>,
        /// A request written to the stream (and routed) as the wait begins.
        request: Option<ErasedEvent>,
    },
    /// The caller sent an event through the handler.
    External {
        /// The event.
        event: ErasedEvent,
        /// The first waiter whose filter accepts it, if any: it gets it.
        waiter: Option<WaiterId>,
    },
    /// A wait that had no answer yet ended without one (it timed out, or
    /// its step stopped waiting).
    Unwait(WaiterId),
    /// The caller sent an event to one step (`handler.send_event_to`):
    /// queued for it, whoever else waits for or takes the type.
    ExternalTo {
        /// The event.
        event: ErasedEvent,
        /// The step, which takes the event's type (checked by the sender).
        target: StepId,
    },
    /// A waiter could not take the event it was woken with (its step was
    /// dropped): it goes back to the front of the unclaimed events.
    PutBack(ErasedEvent),
    /// The caller cancelled the run.
    Cancel,
    /// The run's timeout elapsed.
    TimedOut {
        /// The timeout.
        after: Duration,
    },
}

/// How a step invocation failed.
pub enum StepFailure {
    /// The step returned `Err`.
    Error {
        /// Its error.
        error: BoxError,
        /// The delay before the next attempt, if its step's retry policy
        /// retries it: decided in the driver, which holds the policy (user
        /// code) and the clock, so that the core decides on data.
        retry: Option<Duration>,
    },
    /// The step panicked with this message.
    Panic(String),
}

impl fmt::Display for StepFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepFailure::Error { error, .. } => error.fmt(f),
            StepFailure::Panic(message) => write!(f, "panicked: {message}"),
        }
    }
}

impl fmt::Debug for StepFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepFailure::Error { error, retry } => {
                f.debug_struct("Error").field("error", &error.to_string()).field("retry", retry).finish()
            }
            StepFailure::Panic(message) => f.debug_tuple("Panic").field(message).finish(),
        }
    }
}

/// Why a recorded input could not be read back. (Only the replay test
/// reads records back today; the driver writes them, see `handle_recorded`.)
#[cfg(test)]
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// It is not an input's JSON form.
    #[error("not a recorded input: {0}")]
    Shape(String),
    /// An event in it is not one of the workflow's.
    #[error(transparent)]
    Event(#[from] SnapshotError),
}

impl Input {
    /// The input as JSON: events as in snapshots, a step's error as its
    /// message (which is all of it a decision reads), and what a step
    /// emitted as `null` (nothing), an event, or a list (a fan-out).
    pub fn to_json(&self) -> Result<Value, SnapshotError> {
        let event = event_json;
        Ok(match self {
            Input::Start(e) => json!({ "start": event(e)? }),
            Input::Resume => json!("resume"),
            Input::StepFinished { invocation, result } => {
                let result = match result {
                    Ok(Emitted::Nothing) => json!({ "emitted": null }),
                    Ok(Emitted::One(e)) => json!({ "emitted": event(e)? }),
                    Ok(Emitted::Many(es)) => {
                        json!({ "emitted": es.iter().map(event).collect::<Result<Vec<_>, _>>()? })
                    }
                    Err(StepFailure::Error { error, retry }) => {
                        let retry_ns = retry.map(|d| d.as_nanos() as u64);
                        json!({ "error": error.to_string(), "retry_ns": retry_ns })
                    }
                    Err(StepFailure::Panic(message)) => json!({ "panic": message }),
                };
                json!({ "step_finished": { "invocation": invocation, "result": result } })
            }
            Input::Send { from, event: e, target } => {
                json!({ "send": { "from": from, "event": event(e)?, "target": target } })
            }
            Input::Stream { from, event: e } => json!({ "stream": { "from": from, "event": event(e)? } }),
            Input::Wait { waiter, from, claim, request } => {
                let request = request.as_ref().map(event).transpose()?;
                json!({ "wait": { "waiter": waiter, "from": from, "claim": claim, "request": request } })
            }
            Input::External { event: e, waiter } => {
                json!({ "external": { "event": event(e)?, "waiter": waiter } })
            }
            Input::ExternalTo { event: e, target } => {
                json!({ "external_to": { "event": event(e)?, "target": target } })
            }
            Input::PutBack(e) => json!({ "put_back": event(e)? }),
            Input::Unwait(waiter) => json!({ "unwait": waiter }),
            Input::Cancel => json!("cancel"),
            Input::TimedOut { after } => json!({ "timed_out": { "after_ns": after.as_nanos() as u64 } }),
        })
    }

    /// Reads an input back from [`Input::to_json`]'s form.
    #[cfg(test)]
    pub fn from_json(json: &Value, events: &crate::erased::EventOps) -> Result<Self, InputError> {
        let shape = || InputError::Shape(json.to_string());
        let event = |v: &Value| -> Result<ErasedEvent, InputError> {
            let data = serde_json::from_value(v.clone()).map_err(|e| InputError::Shape(e.to_string()))?;
            Ok(crate::snapshot::event_from(events, &data, "input")?)
        };
        let number = |v: &Value| v.as_u64().ok_or_else(shape);
        let optional = |v: &Value| if v.is_null() { Ok(None) } else { number(v).map(Some) };
        if let Some(word) = json.as_str() {
            return match word {
                "resume" => Ok(Input::Resume),
                "cancel" => Ok(Input::Cancel),
                _ => Err(shape()),
            };
        }
        let (kind, body) = json.as_object().and_then(|o| o.iter().next()).ok_or_else(shape)?;
        Ok(match kind.as_str() {
            "start" => Input::Start(event(body)?),
            "step_finished" => {
                let result = &body["result"];
                let result = if let Some(emitted) = result.get("emitted") {
                    Ok(match emitted {
                        Value::Null => Emitted::Nothing,
                        Value::Array(es) => Emitted::Many(es.iter().map(event).collect::<Result<_, _>>()?),
                        one => Emitted::One(event(one)?),
                    })
                } else if let Some(error) = result.get("error").and_then(Value::as_str) {
                    let retry = optional(&result["retry_ns"])?.map(Duration::from_nanos);
                    Err(StepFailure::Error { error: error.into(), retry })
                } else {
                    Err(StepFailure::Panic(result["panic"].as_str().ok_or_else(shape)?.to_owned()))
                };
                Input::StepFinished { invocation: number(&body["invocation"])? as usize, result }
            }
            "send" => Input::Send {
                from: number(&body["from"])? as usize,
                event: event(&body["event"])?,
                target: optional(&body["target"])?.map(|t| t as usize),
            },
            "stream" => {
                Input::Stream { from: number(&body["from"])? as usize, event: event(&body["event"])? }
            }
            "wait" => Input::Wait {
                waiter: number(&body["waiter"])?,
                from: number(&body["from"])? as usize,
                claim: optional(&body["claim"])?.map(|c| c as usize),
                request: if body["request"].is_null() { None } else { Some(event(&body["request"])?) },
            },
            "external" => {
                Input::External { event: event(&body["event"])?, waiter: optional(&body["waiter"])? }
            }
            "external_to" => {
                Input::ExternalTo { event: event(&body["event"])?, target: number(&body["target"])? as usize }
            }
            "put_back" => Input::PutBack(event(body)?),
            "unwait" => Input::Unwait(number(body)?),
            "timed_out" => Input::TimedOut { after: Duration::from_nanos(number(&body["after_ns"])?) },
            _ => return Err(shape()),
        })
    }
}

/// An event as JSON, as in snapshots: `{"event": name, "data": ..}`.
pub(super) fn event_json(event: &ErasedEvent) -> Result<Value, SnapshotError> {
    event_data(event).map(|data| json!(data))
}
