//! The server's runs ("handlers"): each a record and a numbered event log
//! that many readers follow (`run.rs`), fed by a task that drives it
//! (`drive.rs`), in the store (`crate::store`) before anywhere else.
//!
//! The log holds every event the run wrote to its stream as an envelope,
//! its internal step events (shown on request), and, last, exactly one
//! terminal event (`shown.rs`). The record's status is set with the
//! terminal event, so a reader that sees the end finds the record final.
//!
//! A run whose state can be journaled is durable: its driver commits what
//! it streamed with its journal at every step boundary, a restart resumes
//! it, and when it waits for outside input with no step in flight it is
//! released from memory after a while and loaded again when a request
//! comes. A run whose state cannot be journaled lives in memory only; a
//! restart ends it as failed.

mod drive;
mod journal;
mod run;
mod shown;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;
use workflow_core::durable::{Journaled, RunStore};
use workflow_core::registry::{JsonBegin, JsonRun, StartError};
use workflow_core::workflow::WorkflowInfo;
use workflow_core::{RunOptions, RunOutcome};

use self::journal::RunJournal;
pub(crate) use self::run::{Logged, Run};
use crate::clock;
use crate::envelope::Envelopes;
use crate::store::{HandlerRow, Store};

/// Starts a run of a served workflow from its input (the start event's
/// payload, as JSON), or resumes one from its journal.
pub(crate) type Starter = dyn Fn(JsonBegin, RunOptions<()>) -> Result<JsonRun, StartError> + Send + Sync;

/// A workflow the server serves.
pub(crate) struct Served {
    pub(crate) name: String,
    pub(crate) info: &'static WorkflowInfo,
    pub(crate) envelopes: Envelopes,
    /// Each event type's JSON Schema (of the Rust type), by graph name.
    pub(crate) schemas: Vec<(&'static str, Value)>,
    pub(crate) start: Box<Starter>,
    pub(crate) timeout: Option<Duration>,
    /// Whether its state can be journaled: its runs are durable.
    pub(crate) durable: bool,
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

/// The runs by handler id, and their ids in the order they started.
type Table = (HashMap<String, Arc<Run>>, Vec<String>);

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartFailure {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("the server's store failed: {0}")]
    Store(workflow_core::BoxError),
}

/// Every run the server knows, by handler id, in the order they started.
pub(crate) struct Runs {
    runs: Mutex<Table>,
    store: Arc<Store>,
    /// How long a durable run waits idle before it is released.
    idle_release: Option<Duration>,
}

impl Runs {
    pub(crate) fn new(store: Arc<Store>, idle_release: Option<Duration>) -> Self {
        Self { runs: Mutex::default(), store, idle_release }
    }

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

    /// How many runs are loaded: driven by a task, not ended or released.
    pub(crate) fn loaded(&self) -> usize {
        self.all().iter().filter(|r| !r.is_ended() && !r.is_released()).count()
    }

    fn insert(&self, run: &Arc<Run>) {
        let mut runs = self.lock();
        if runs.0.insert(run.id.clone(), Arc::clone(run)).is_none() {
            runs.1.push(run.id.clone());
        }
    }

    /// Forgets run `id` (a purge), in the store too.
    pub(crate) fn remove(&self, id: &str) -> Option<Arc<Run>> {
        if let Err(error) = self.store.delete(id) {
            tracing::error!(handler = id, %error, "the handler cannot be deleted from the store");
        }
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
    ) -> Result<Arc<Run>, StartFailure> {
        let now = clock::now();
        let reused = id.is_some();
        let row = HandlerRow {
            id: id.unwrap_or_else(clock::new_id),
            workflow: served.name.clone(),
            run_id: clock::new_id(),
            status: Status::Running.name().to_owned(),
            input: input.clone(),
            result: None,
            error: None,
            started_at: now.clone(),
            updated_at: now,
            completed_at: None,
            durable: served.durable,
            next_sequence: 0,
        };
        // Recorded before the run starts: its first journal updates the record.
        self.store.insert_handler(&row, reused).map_err(StartFailure::Store)?;
        let run = Arc::new(Run::new(row, Arc::clone(served), Arc::clone(&self.store)));
        let json = match self.begin(&run, JsonBegin::Input(input)) {
            Ok(json) => json,
            Err(error) => {
                // A bad input leaves nothing behind.
                let _ = self.store.delete(&run.id);
                return Err(error.into());
            }
        };
        self.insert(&run);
        tokio::spawn(drive::drive(Arc::clone(&run), json, self.idle_release));
        Ok(run)
    }

    /// A run of `run`'s workflow from `begin`, journaled under its id if
    /// it is durable.
    fn begin(&self, run: &Arc<Run>, begin: JsonBegin) -> Result<JsonRun, StartError> {
        let served = &run.served;
        let mut options = RunOptions::new().internal_events(true);
        if let Some(timeout) = served.timeout {
            options = options.timeout(timeout);
        }
        if run.durable {
            let journal = RunJournal { store: Arc::clone(&self.store), run: Arc::downgrade(run) };
            options = options.durable(Arc::new(journal) as Arc<dyn RunStore>, run.id.clone());
        }
        (served.start)(begin, options)
    }

    /// Loads `run` again from its journal (it was released, or the server
    /// restarted), and the task that drives it; a run that cannot be
    /// loaded ends as failed.
    pub(crate) fn resume(&self, run: &Arc<Run>) {
        let begun = match self.store.load(&run.id) {
            Ok(Some(Journaled::Unfinished(snapshot))) => {
                self.begin(run, JsonBegin::Resume(snapshot)).map_err(|e| e.to_string())
            }
            // It stopped before its first journal: nothing of it was committed.
            Ok(None) => self
                .store
                .input(&run.id)
                .map_err(|e| e.to_string())
                .and_then(|input| self.begin(run, JsonBegin::Input(input)).map_err(|e| e.to_string())),
            Ok(Some(_)) => Err("its journal says it ended, and its record does not".to_owned()),
            Err(error) => Err(error.to_string()),
        };
        match begun {
            Ok(json) => {
                tokio::spawn(drive::drive(Arc::clone(run), json, self.idle_release));
            }
            Err(reason) => fail(run, &format!("The run could not be resumed: {reason}")),
        }
    }

    /// Takes up what the store holds: every handler, and every run that
    /// was going when the server stopped (resumed from its journal, or
    /// ended as failed if it had none).
    pub(crate) fn load(&self, served: &[Arc<Served>]) -> Result<(), workflow_core::BoxError> {
        for row in self.store.handlers()? {
            let Some(by) = served.iter().find(|s| s.name == row.workflow) else {
                tracing::warn!(handler = %row.id, workflow = %row.workflow, "the store holds a run of a workflow no longer served");
                continue;
            };
            let running = row.status == Status::Running.name();
            let durable = row.durable;
            let run = Arc::new(Run::new(row, Arc::clone(by), Arc::clone(&self.store)));
            self.insert(&run);
            match (running, durable) {
                (false, _) => {}
                (true, true) => self.resume(&run),
                (true, false) => fail(
                    &run,
                    "The server stopped while the run was going, and its state cannot be journaled: \
                     it was not resumed",
                ),
            }
        }
        Ok(())
    }
}

/// Ends `run` as failed with `message`; requests waiting for it are refused.
fn fail(run: &Run, message: &str) {
    drop(run.take_requests(true));
    let ended = RunOutcome::ended_by(
        &workflow_core::WorkflowError::Aborted { workflow: run.served.info.name, reason: message.to_owned() },
        Duration::ZERO,
    );
    run.end(Err(message), &ended);
}
