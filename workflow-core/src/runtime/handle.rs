//! The half of a caller's handle that does not know the workflow's types:
//! the driver's task, the link into the run and its stream. `Handler<W>`
//! and the registry's `JsonRun` each wrap one, so that what they share is
//! compiled once.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context as TaskContext, Poll};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::core::{RunEvent, RunOutcome};
use super::driver::{drive, Run, Start};
use super::table::Table;
use crate::contract::StepId;
use crate::erased::ErasedEvent;
use crate::error::{SendError, WorkflowError};
use crate::link::RunLink;
use crate::snapshot::{Snapshot, SnapshotError};
use crate::sync::Mailbox;
use crate::trace::Trace;

/// Writes the run's typed state as JSON, for a snapshot (see `StateJson`):
/// shared, since the snapshot may be made by the driver or, after a
/// cancel, by the handle.
pub(crate) type SharedStateJson = Arc<dyn Fn() -> Result<serde_json::Value, SnapshotError> + Send + Sync>;

static RUN_IDS: AtomicU64 = AtomicU64::new(1);

/// A number for a new run, unique within the process.
pub(crate) fn next_run_id() -> u64 {
    RUN_IDS.fetch_add(1, Ordering::Relaxed)
}

/// A spawned run, its events erased. Dropping it cancels the run.
pub(crate) struct RunHandle {
    table: &'static Table,
    run_id: u64,
    trace: Trace,
    state: State,
    link: Option<Arc<RunLink>>,
    stream: Arc<Mailbox<RunEvent<ErasedEvent>>>,
}

enum State {
    /// The driver's task, which ends with the stop event.
    Running(JoinHandle<Result<ErasedEvent, WorkflowError>>),
    /// The run could not start (its context was busy); the error is taken once.
    Refused(Option<WorkflowError>),
}

/// What a run needs from its caller before it is prepared: its id, where
/// its trace goes and its stream.
pub(crate) struct Caller {
    pub(crate) run_id: u64,
    pub(crate) trace: Trace,
    pub(crate) stream: Arc<Mailbox<RunEvent<ErasedEvent>>>,
}

impl Caller {
    /// A new run of `table`'s workflow, to be prepared with `traced` (the
    /// trace, if the run counts its edges) and `stream`.
    pub(crate) fn new(table: &'static Table) -> Self {
        Self { run_id: next_run_id(), trace: Trace::new(table.info()), stream: Arc::new(Mailbox::new()) }
    }
}

impl RunHandle {
    /// Spawns the driver of `run` from `start`, or, if the run could not be
    /// prepared, ends the stream with why.
    pub(crate) fn spawn(
        table: &'static Table,
        caller: Caller,
        run: Result<Run, WorkflowError>,
        start: Start,
    ) -> Self {
        let Caller { run_id, trace, stream } = caller;
        match run {
            Ok(run) => {
                let link = Some(Arc::clone(&run.link));
                let task = tokio::spawn(drive(run, start));
                Self { table, run_id, trace, state: State::Running(task), link, stream }
            }
            Err(refused) => {
                let _ = stream
                    .send(RunEvent::Finished(RunOutcome::ended_by(&refused, std::time::Duration::ZERO)));
                stream.close();
                Self { table, run_id, trace, state: State::Refused(Some(refused)), link: None, stream }
            }
        }
    }

    pub(crate) fn table(&self) -> &'static Table {
        self.table
    }

    pub(crate) fn run_id(&self) -> u64 {
        self.run_id
    }

    pub(crate) fn trace(&self) -> &Trace {
        &self.trace
    }

    pub(crate) fn stream(&self) -> &Arc<Mailbox<RunEvent<ErasedEvent>>> {
        &self.stream
    }

    /// Sends `event` into the run from outside, to `target` only if given.
    pub(crate) fn send(&self, event: ErasedEvent, target: Option<StepId>) -> Result<(), SendError> {
        match &self.link {
            Some(link) => link.external(event, target),
            None => Err(SendError::RunEnded { event: event.name() }),
        }
    }

    /// The run as it is now, with the state `state` writes (once: for the
    /// running driver, or for the snapshot a cancelled run left).
    pub(crate) async fn snapshot(&self, state: SharedStateJson) -> Result<Snapshot, SnapshotError> {
        let Some(link) = &self.link else { return Err(SnapshotError::RunEnded) };
        if !link.inbox.is_closed() {
            let (reply, answer) = oneshot::channel();
            let write = Arc::clone(&state);
            link.snapshot(Box::new(move || write()), reply);
            if let Ok(snapshot) = answer.await {
                return snapshot;
            }
            // The run ended before it got to the request: cancelled, or over.
        }
        let mut snapshot = link.cancelled_snapshot().ok_or(SnapshotError::RunEnded)?;
        snapshot.state = state()?;
        Ok(snapshot)
    }

    pub(crate) fn cancel(&self) {
        if let Some(link) = &self.link {
            link.cancel();
        }
    }

    pub(crate) fn is_finished(&self) -> bool {
        match &self.state {
            State::Running(task) => task.is_finished(),
            State::Refused(_) => true,
        }
    }

    /// How the run ended: its stop event, or its error.
    pub(crate) fn poll_outcome(
        &mut self,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Result<ErasedEvent, WorkflowError>> {
        match &mut self.state {
            State::Running(task) => {
                let joined = ready!(Pin::new(task).poll(cx));
                Poll::Ready(joined.unwrap_or_else(|join_error| {
                    Err(WorkflowError::Aborted {
                        workflow: self.table.info().name,
                        reason: join_error.to_string(),
                    })
                }))
            }
            State::Refused(error) => {
                Poll::Ready(Err(error.take().expect("a run's outcome is not polled after it is taken")))
            }
        }
    }
}

impl Drop for RunHandle {
    fn drop(&mut self) {
        if let State::Running(task) = &self.state {
            task.abort();
        }
    }
}
