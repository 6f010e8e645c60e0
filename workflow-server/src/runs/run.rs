//! One run the server knows (a "handler"): its record, the part of its
//! event log it holds in memory, and the requests made to the task that
//! drives it. Every event is committed to the store before it is logged
//! here, with the run's journal when it has one: a reader sees nothing
//! that a crash could take back.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{json, Value};
use tokio::sync::{oneshot, watch, Notify};
use workflow_core::registry::SendJsonError;
use workflow_core::snapshot::Snapshot;
use workflow_core::{BoxError, RunEvent, RunOutcome};

use super::shown::{shown, terminal};
use super::{Served, Status};
use crate::clock;
use crate::store::{Commit, Ending, HandlerRow, Store};

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
    /// The events from `log_start` on; the earlier ones are in the store.
    log: Vec<Logged>,
    log_start: u64,
    /// The sequence the next event gets.
    next_sequence: u64,
    /// Whether the terminal event is logged.
    ended: bool,
    /// Whether its last journal had no step in flight or queued: only
    /// outside input can move it on, and it can be released from memory.
    releasable: bool,
}

impl State {
    /// Lets go of the log in memory: readers read it from the store.
    fn forget_log(&mut self) {
        self.log = Vec::new();
        self.log_start = self.next_sequence;
    }
}

/// What a request asks of the task that drives a run.
pub(super) enum Request {
    Send { key: &'static str, data: Value, reply: oneshot::Sender<Result<(), SendJsonError>> },
    Cancel,
}

/// Whether a task drives the run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Driving {
    Driven,
    /// Idle and out of memory: its journal holds it until a request comes.
    Released,
    /// It ended: requests are refused.
    Ended,
}

/// What became of a request.
pub(super) enum Requested {
    Queued,
    /// The run was released: it must be loaded again to take the request.
    Reload,
    Refused,
}

/// Requests for the driving task: not a channel, which allocates a block
/// of slots per run, and a waiting run lives for hours with none in it.
struct Control {
    requests: Vec<Request>,
    driving: Driving,
}

/// A run the server knows.
pub(crate) struct Run {
    pub(crate) id: String,
    pub(crate) run_id: String,
    pub(crate) served: Arc<Served>,
    /// Whether it journals itself (its state can be journaled).
    pub(crate) durable: bool,
    store: Arc<Store>,
    state: Mutex<State>,
    /// Bumped to the next sequence when the log grows or the run ends.
    changed: watch::Sender<u64>,
    control: Mutex<Control>,
    pub(super) wake: Notify,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Run {
    /// The run of `row`, served by `served`, holding none of its log yet.
    pub(super) fn new(row: HandlerRow, served: Arc<Served>, store: Arc<Store>) -> Self {
        let status = Status::from_name(&row.status).unwrap_or(Status::Failed);
        let ended = status != Status::Running;
        Self {
            id: row.id,
            run_id: row.run_id,
            served,
            durable: row.durable,
            store,
            state: Mutex::new(State {
                status,
                result: row.result,
                error: row.error,
                started_at: row.started_at,
                updated_at: row.updated_at,
                completed_at: row.completed_at,
                log: Vec::new(),
                log_start: row.next_sequence,
                next_sequence: row.next_sequence,
                ended,
                releasable: false,
            }),
            changed: watch::channel(row.next_sequence).0,
            control: Mutex::new(Control {
                requests: Vec::new(),
                driving: if ended { Driving::Ended } else { Driving::Driven },
            }),
            wake: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
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
    /// only if asked, and whether the log is complete. Those no longer in
    /// memory are read from the store.
    pub(crate) fn events_after(&self, cursor: Option<u64>, internal: bool) -> (Vec<Logged>, bool) {
        let from = cursor.map_or(0, |c| c + 1);
        let keep = |e: &Logged| e.sequence >= from && (internal || !e.internal);
        let state = self.state();
        let (log_start, ended) = (state.log_start, state.ended);
        let held: Vec<Logged> = state.log.iter().filter(|e| keep(e)).cloned().collect();
        drop(state);
        if from >= log_start {
            return (held, ended);
        }
        let stored = match self.store.events(&self.id, from, log_start) {
            Ok(stored) => stored,
            Err(error) => {
                tracing::error!(handler = %self.id, %error, "the run's events cannot be read");
                Vec::new()
            }
        };
        let mut events: Vec<Logged> = stored
            .into_iter()
            .map(|(sequence, internal, envelope)| Logged { sequence, internal, envelope: envelope.into() })
            .filter(keep)
            .collect();
        events.extend(held);
        (events, ended)
    }

    /// The sequence of the last logged event (`None` if there is none): the
    /// cursor of a reader that wants only what comes next.
    pub(crate) fn last_sequence(&self) -> Option<u64> {
        self.state().next_sequence.checked_sub(1)
    }

    /// Waits until the log grows or the run ends.
    pub(crate) fn watch(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.state().ended
    }

    /// Commits what the run streamed (as its stream items), with its
    /// journal and its end if given, then logs it: all of it, or nothing
    /// and the store's error.
    pub(crate) fn commit(
        &self,
        streamed: &[RunEvent<Value>],
        journal: Option<(&str, &Snapshot)>,
        end: Option<(Result<&Value, &str>, &RunOutcome)>,
    ) -> Result<(), BoxError> {
        self.log(streamed, journal, end, true)
    }

    /// Commits how the run ended; if the store cannot record it, ends the
    /// run in memory only, so that its record and readers see it end rather
    /// than wait forever (the store still says it was going: a restart
    /// resumes it).
    pub(crate) fn end(&self, outcome: Result<&Value, &str>, ended: &RunOutcome) {
        if let Err(error) = self.commit(&[], None, Some((outcome, ended))) {
            tracing::error!(handler = %self.id, %error, "the run's end cannot be committed");
            let _ = self.log(&[], None, Some((outcome, ended)), false);
        }
    }

    fn log(
        &self,
        streamed: &[RunEvent<Value>],
        journal: Option<(&str, &Snapshot)>,
        end: Option<(Result<&Value, &str>, &RunOutcome)>,
        stored: bool,
    ) -> Result<(), BoxError> {
        let envelopes = &self.served.envelopes;
        let mut events: Vec<(bool, String)> = streamed
            .iter()
            .filter_map(|item| shown(envelopes, item))
            .map(|(i, e)| (i, e.to_string()))
            .collect();
        let end = end.map(|(outcome, ended)| (terminal(envelopes, outcome, ended), outcome));
        if let Some((terminal, _)) = &end {
            events.push((false, terminal.event.to_string()));
        }
        let now = clock::now();
        let mut state = self.state();
        if state.ended {
            return Err("the run has ended already".into());
        }
        let first_sequence = state.next_sequence;
        let ending = end.as_ref().map(|(t, outcome)| Ending {
            status: t.status.name(),
            result: t.result.as_ref(),
            error: t.error.as_deref(),
            completed_at: &now,
            journal: self.durable.then_some(*outcome),
        });
        if stored {
            self.store.commit(&Commit {
                handler: &self.id,
                first_sequence,
                events: &events,
                updated_at: &now,
                journal,
                ending,
            })?;
        }
        state.next_sequence = first_sequence + events.len() as u64;
        for (i, (internal, envelope)) in events.into_iter().enumerate() {
            let sequence = first_sequence + i as u64;
            state.log.push(Logged { sequence, internal, envelope: envelope.into() });
        }
        state.updated_at.clone_from(&now);
        if let Some((_, snapshot)) = journal {
            state.releasable = snapshot.inputs.is_empty();
        }
        if let Some((terminal, _)) = end {
            state.status = terminal.status;
            state.result = terminal.result;
            state.error = terminal.error;
            state.completed_at = Some(now);
            state.ended = true;
            if stored {
                // Its log is complete in the store: a finished run holds none
                // of it in memory, and its readers read it from there.
                state.forget_log();
            }
        }
        let next = state.next_sequence;
        drop(state);
        self.changed.send_replace(next);
        Ok(())
    }

    /// Sends event `key` with `data` into the run, once it is loaded.
    pub(crate) async fn send(
        self: &Arc<Self>,
        key: &'static str,
        data: Value,
        reload: impl FnOnce(&Arc<Run>),
    ) -> Result<(), SendJsonError> {
        let ended = || SendJsonError::Send(workflow_core::SendError::RunEnded { event: key });
        let (reply, answer) = oneshot::channel();
        match self.request(Request::Send { key, data, reply }) {
            Requested::Queued => {}
            Requested::Reload => reload(self),
            Requested::Refused => return Err(ended()),
        }
        answer.await.unwrap_or_else(|_| Err(ended()))
    }

    pub(crate) fn cancel(self: &Arc<Self>, reload: impl FnOnce(&Arc<Run>)) {
        if let Requested::Reload = self.request(Request::Cancel) {
            reload(self);
        }
    }

    /// Hands `request` to the driving task.
    fn request(&self, request: Request) -> Requested {
        let mut control = lock(&self.control);
        let requested = match control.driving {
            Driving::Ended => return Requested::Refused,
            Driving::Driven => Requested::Queued,
            Driving::Released => {
                control.driving = Driving::Driven;
                Requested::Reload
            }
        };
        control.requests.push(request);
        drop(control);
        self.wake.notify_one();
        requested
    }

    /// The requests made since the last call; with `close`, none are
    /// taken after this.
    pub(super) fn take_requests(&self, close: bool) -> Vec<Request> {
        let mut control = lock(&self.control);
        if close {
            control.driving = Driving::Ended;
        }
        std::mem::take(&mut control.requests)
    }

    /// Lets go of the run if it is idle with no step in flight and no
    /// request waiting: its log goes (the store has it), and its driver
    /// with the caller's dropping it. False if it cannot go.
    pub(super) fn release(&self) -> bool {
        let mut control = lock(&self.control);
        let mut state = self.state();
        if !state.releasable || state.ended || !control.requests.is_empty() {
            return false;
        }
        control.driving = Driving::Released;
        state.forget_log();
        true
    }

    /// Whether its driver has let it go.
    pub(crate) fn is_released(&self) -> bool {
        lock(&self.control).driving == Driving::Released
    }
}
