//! The server's runs ("handlers"): each a record (status, result, times)
//! and a numbered event log that many readers follow, fed by a task that
//! drives the run's [`JsonRun`] and carries the requests made to it.
//!
//! The log holds every event the run wrote to its stream as an envelope,
//! its internal step events (shown on request), and, last, exactly one
//! terminal event. The record's status is set before the terminal event
//! is logged, so a reader that sees the end finds the record final.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::{oneshot, watch, Notify};
use workflow_core::registry::{JsonRun, SendJsonError, StartError};
use workflow_core::workflow::WorkflowInfo;
use workflow_core::{RunEvent, RunOptions, RunOutcome};

use crate::clock;
use crate::envelope::{envelope, Envelopes};

/// Starts a run of a served workflow from its input (the start event's
/// payload, as JSON).
pub(crate) type Starter = dyn Fn(Value, RunOptions<()>) -> Result<JsonRun, StartError> + Send + Sync;

/// A workflow the server serves.
pub(crate) struct Served {
    pub(crate) name: String,
    pub(crate) info: &'static WorkflowInfo,
    pub(crate) envelopes: Envelopes,
    /// Each event type's JSON Schema (of the Rust type), by graph name.
    pub(crate) schemas: Vec<(&'static str, Value)>,
    pub(crate) start: Box<Starter>,
    pub(crate) timeout: Option<Duration>,
}

/// Where a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl Status {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Status> {
        [Status::Running, Status::Completed, Status::Failed, Status::Cancelled]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// One event of a run's log.
#[derive(Clone, Debug)]
pub(crate) struct Logged {
    pub(crate) sequence: u64,
    /// Shown only with `include_internal`.
    pub(crate) internal: bool,
    /// The envelope, written out: a waiting run keeps its log for hours,
    /// and text is a fraction of a `Value`'s size.
    pub(crate) envelope: Arc<str>,
}

struct State {
    status: Status,
    /// The stop event's envelope, once completed.
    result: Option<Value>,
    error: Option<String>,
    started_at: String,
    updated_at: String,
    completed_at: Option<String>,
    log: Vec<Logged>,
    /// Whether the terminal event is logged.
    ended: bool,
}

/// What a request asks of the task that drives a run.
enum Request {
    Send { key: &'static str, data: Value, reply: oneshot::Sender<Result<(), SendJsonError>> },
    Cancel,
}

/// A run the server knows.
pub(crate) struct Run {
    pub(crate) id: String,
    pub(crate) run_id: String,
    pub(crate) served: Arc<Served>,
    state: Mutex<State>,
    /// Bumped to the log's length when it grows or the run ends.
    changed: watch::Sender<usize>,
    /// Requests for the driving task, and its wake-up. Not a channel: a
    /// channel allocates a block of slots per run, and a waiting run lives
    /// for hours with none in it.
    requests: Mutex<Option<Vec<Request>>>,
    wake: Notify,
}

impl Run {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn status(&self) -> Status {
        self.state().status
    }

    /// The Handler record; with `bare`, the result is the stop event's
    /// value unwrapped (`/results`).
    pub(crate) fn record(&self, bare: bool) -> Value {
        let state = self.state();
        let result = match (&state.result, bare) {
            (Some(envelope), true) => self.served.envelopes.bare_result(envelope),
            (Some(envelope), false) => envelope.clone(),
            (None, _) => Value::Null,
        };
        json!({
            "handler_id": self.id,
            "workflow_name": self.served.name,
            "run_id": self.run_id,
            "error": state.error,
            "result": result,
            "result_unreadable": false,
            "status": state.status.name(),
            "started_at": state.started_at,
            "updated_at": state.updated_at,
            "completed_at": state.completed_at,
        })
    }

    /// The logged events after `cursor` (all with `None`), internal ones
    /// only if asked, and whether the log is complete.
    pub(crate) fn events_after(&self, cursor: Option<u64>, internal: bool) -> (Vec<Logged>, bool) {
        let state = self.state();
        let events = state
            .log
            .iter()
            .filter(|e| cursor.is_none_or(|c| e.sequence > c) && (internal || !e.internal))
            .cloned()
            .collect();
        (events, state.ended)
    }

    /// The sequence of the last logged event (`None` if there is none): the
    /// cursor of a reader that wants only what comes next.
    pub(crate) fn last_sequence(&self) -> Option<u64> {
        self.state().log.last().map(|e| e.sequence)
    }

    /// Waits until the log grows or the run ends.
    pub(crate) fn watch(&self) -> watch::Receiver<usize> {
        self.changed.subscribe()
    }

    /// Sends event `key` with `data` into the run.
    pub(crate) async fn send(&self, key: &'static str, data: Value) -> Result<(), SendJsonError> {
        let (reply, answer) = oneshot::channel();
        if !self.request(Request::Send { key, data, reply }) {
            return Err(SendJsonError::Send(workflow_core::SendError::RunEnded { event: key }));
        }
        answer.await.unwrap_or(Err(SendJsonError::Send(workflow_core::SendError::RunEnded { event: key })))
    }

    pub(crate) fn cancel(&self) {
        self.request(Request::Cancel);
    }

    /// Hands `request` to the driving task; false if it has stopped taking them.
    fn request(&self, request: Request) -> bool {
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(queue) = requests.as_mut() else { return false };
        queue.push(request);
        drop(requests);
        self.wake.notify_one();
        true
    }

    /// The requests made since the last call; `None` once closed.
    fn take_requests(&self, close: bool) -> Vec<Request> {
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        if close {
            return requests.take().unwrap_or_default();
        }
        requests.as_mut().map(std::mem::take).unwrap_or_default()
    }

    fn log(&self, internal: bool, envelope: Value) {
        let mut state = self.state();
        let sequence = state.log.len() as u64;
        state.log.push(Logged { sequence, internal, envelope: envelope.to_string().into() });
        state.updated_at = clock::now();
        let len = state.log.len();
        drop(state);
        self.changed.send_replace(len);
    }

    /// Records how the run ended, then logs its terminal event.
    fn end(&self, status: Status, result: Option<Value>, error: Option<String>, terminal: Value) {
        let mut state = self.state();
        let now = clock::now();
        state.status = status;
        state.result = result;
        state.error = error;
        state.updated_at = now.clone();
        state.completed_at = Some(now);
        let sequence = state.log.len() as u64;
        state.log.push(Logged { sequence, internal: false, envelope: terminal.to_string().into() });
        state.ended = true;
        let len = state.log.len();
        drop(state);
        self.changed.send_replace(len);
    }
}

/// The runs by handler id, and their ids in the order they started.
type Table = (HashMap<String, Arc<Run>>, Vec<String>);

/// Every run the server knows, by handler id, in the order they started.
#[derive(Default)]
pub(crate) struct Runs {
    runs: Mutex<Table>,
}

impl Runs {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<Run>> {
        self.lock().0.get(id).cloned()
    }

    pub(crate) fn all(&self) -> Vec<Arc<Run>> {
        let runs = self.lock();
        runs.1.iter().filter_map(|id| runs.0.get(id).cloned()).collect()
    }

    /// Forgets run `id` (a purge).
    pub(crate) fn remove(&self, id: &str) -> Option<Arc<Run>> {
        let mut runs = self.lock();
        let run = runs.0.remove(id)?;
        runs.1.retain(|i| i != id);
        Some(run)
    }

    /// Starts a run of `served` from `input` under `id` (a fresh one if
    /// `None`), and the task that drives it.
    pub(crate) fn start(
        &self,
        served: &Arc<Served>,
        input: Value,
        id: Option<String>,
    ) -> Result<Arc<Run>, StartError> {
        let mut options = RunOptions::new().internal_events(true);
        if let Some(timeout) = served.timeout {
            options = options.timeout(timeout);
        }
        let json = (served.start)(input, options)?;
        let now = clock::now();
        let run = Arc::new(Run {
            id: id.unwrap_or_else(clock::new_id),
            run_id: clock::new_id(),
            served: Arc::clone(served),
            state: Mutex::new(State {
                status: Status::Running,
                result: None,
                error: None,
                started_at: now.clone(),
                updated_at: now,
                completed_at: None,
                log: Vec::new(),
                ended: false,
            }),
            changed: watch::channel(0).0,
            requests: Mutex::new(Some(Vec::new())),
            wake: Notify::new(),
        });
        let mut runs = self.lock();
        if runs.0.insert(run.id.clone(), Arc::clone(&run)).is_none() {
            runs.1.push(run.id.clone());
        }
        drop(runs);
        tokio::spawn(drive(Arc::clone(&run), json));
        Ok(run)
    }
}

/// Drives a run: logs what it streams, carries out sends and cancels, and
/// records how it ended.
async fn drive(run: Arc<Run>, mut json: JsonRun) {
    let envelopes = &run.served.envelopes;
    let mut finished = None;
    loop {
        tokio::select! {
            item = json.next() => match item {
                Some(RunEvent::Finished(outcome)) => finished = Some(outcome),
                Some(item) => {
                    if let Some((internal, envelope)) = shown(envelopes, item) {
                        run.log(internal, envelope);
                    }
                }
                None => break,
            },
            () = run.wake.notified() => {
                for request in run.take_requests(false) {
                    match request {
                        Request::Send { key, data, reply } => {
                            let _ = reply.send(json.send_json(key, data));
                        }
                        Request::Cancel => json.cancel(),
                    }
                }
            }
        }
    }
    // Requests that came too late get `RunEnded` (their reply is dropped).
    drop(run.take_requests(true));
    let outcome = json.finish().await;
    let failure = |kind: &str, value: Value| {
        envelope(value, &format!("workflows.events.{kind}"), kind, Some(&["StopEvent"]))
    };
    match (outcome, finished) {
        (Ok(output), _) => {
            let stop = envelopes.encode_stop(&output);
            run.end(Status::Completed, Some(stop.clone()), None, stop);
        }
        (Err(error), Some(RunOutcome::TimedOut { after, active_steps })) => {
            let seconds = after.as_secs_f64();
            let message = format!("Workflow timed out after {}s", trim_float(seconds));
            let _ = error;
            let event =
                failure("WorkflowTimedOutEvent", json!({ "timeout": seconds, "active_steps": active_steps }));
            run.end(Status::Failed, None, Some(message), event);
        }
        (Err(_), Some(RunOutcome::Cancelled)) => {
            // As LlamaIndex's server: a cancelled run has no error.
            run.end(Status::Cancelled, None, None, failure("WorkflowCancelledEvent", json!({})));
        }
        (Err(error), finished) => {
            let (step, attempts, elapsed, kind, message) = match finished {
                Some(RunOutcome::Failed(f)) => {
                    (f.step, f.attempts, f.elapsed.as_secs_f64(), f.kind.to_owned(), f.message)
                }
                _ => (error.step(), 1, 0.0, error.kind().to_owned(), error.to_string()),
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
            run.end(Status::Failed, None, Some(message_of(&error, &event)), event);
        }
    }
}

/// A failed run's error: the step's own message, as the terminal event has it.
fn message_of(error: &workflow_core::WorkflowError, event: &Value) -> String {
    event
        .pointer("/value/exception/exception_message")
        .and_then(Value::as_str)
        .map_or_else(|| error.to_string(), str::to_owned)
}

/// `2.0` as `2`, `0.5` as `0.5`.
fn trim_float(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}

/// An item of the run's stream as it is logged: visible events as their
/// envelope; step state changes as internal `StepStateChanged` events.
fn shown(envelopes: &Envelopes, item: RunEvent<Value>) -> Option<(bool, Value)> {
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
            Some(state(step, "running", Some(worker), Some(input), None))
        }
        RunEvent::StepFinished { step, worker, output, .. } => {
            Some(state(step, "not_running", Some(worker), None, output.first().copied()))
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
