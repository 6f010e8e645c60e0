//! Durable runs: a run journals itself to a [`RunStore`] when it starts and
//! at every step boundary, and records how it ended, so that a process that
//! dies can resume its unfinished runs. Everything of it is here: the
//! store's trait, what `RunOptions::durable` records, the journal a run
//! writes, and what recovery reads back.
//!
//! The store is a small trait, so that an embedded store (SQLite, in the
//! `workflow-durable` crate) and a server-grade one can both back it without
//! touching the runtime.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::table::Table;
use crate::erased::ErasedEvent;
use crate::error::{BoxError, WorkflowError};
use crate::snapshot::{Snapshot, SnapshotError};
pub use crate::store::RunStore;
use crate::store::CHILD_KEY;
pub(crate) use crate::store::{state_from_json, state_json, StateCodec, StateReader, StateWriter};
use crate::stream::{RunEvent, RunOutcome};

/// Streamed items with their events as JSON, for a store that keeps them.
fn as_json(streamed: &[RunEvent<ErasedEvent>]) -> Vec<RunEvent<Value>> {
    streamed.iter().map(|item| item.clone().map(|event| event.tagged_json())).collect()
}

/// A run's journal: where it goes and under which key. `RunOptions::durable`
/// makes one, with the writer of the run's state (see [`StateWriter`]);
/// recovery makes one per unfinished run.
#[derive(Clone)]
pub(crate) struct Journal {
    store: Arc<dyn RunStore>,
    key: String,
    /// Whether the store keeps the run's stream with its journal.
    keeps_stream: bool,
}

impl Journal {
    pub(crate) fn new(store: Arc<dyn RunStore>, key: String) -> Self {
        let keeps_stream = store.keeps_stream(&key);
        Self { store, key, keeps_stream }
    }

    /// Whether the store keeps the run's stream (see [`RunStore::keeps_stream`]).
    pub(crate) fn keeps_stream(&self) -> bool {
        self.keeps_stream
    }

    /// Its store and key, where the run's children journal too.
    pub(crate) fn store_and_key(&self) -> (Arc<dyn RunStore>, String) {
        (Arc::clone(&self.store), self.key.clone())
    }

    /// Replaces the journal with `snapshot`, with what the run streamed
    /// since if the store keeps it; the error says why it could not.
    pub(crate) fn save(
        &self,
        workflow: &str,
        snapshot: &Snapshot,
        streamed: &[RunEvent<ErasedEvent>],
    ) -> Result<(), String> {
        let saved = if self.keeps_stream {
            self.store.save_streamed(&self.key, workflow, snapshot, &as_json(streamed))
        } else {
            self.store.save(&self.key, workflow, snapshot)
        };
        saved.map_err(|e| e.to_string())
    }

    /// Records how the run ended. A result that cannot be recorded turns
    /// the run's success into [`WorkflowError::Journal`]: it is no longer durable.
    pub(crate) fn finish(
        &self,
        table: &Table,
        outcome: Result<ErasedEvent, WorkflowError>,
        elapsed: Duration,
        streamed: &[RunEvent<ErasedEvent>],
    ) -> Result<ErasedEvent, WorkflowError> {
        let workflow = table.info().name;
        let finish = |ended: Result<&Value, &str>| {
            if self.keeps_stream {
                let outcome = RunOutcome::of(&outcome, elapsed);
                self.store.finish_streamed(&self.key, ended, &outcome, &as_json(streamed))
            } else {
                self.store.finish(&self.key, ended)
            }
            .map_err(|e| e.to_string())
        };
        let recorded = match &outcome {
            Ok(stop) => {
                (table.output_json)(stop).map_err(|e| e.to_string()).and_then(|json| finish(Ok(&json)))
            }
            Err(error) => finish(Err(&error.to_string())),
        };
        match (recorded, outcome) {
            (Err(reason), Ok(_)) => Err(WorkflowError::Journal { workflow, reason }),
            (_, outcome) => outcome,
        }
    }
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("key", &self.key).finish_non_exhaustive()
    }
}

/// An unfinished run: its key, its journal so far, and the journal to go
/// on writing.
pub(crate) type Unfinished = (String, Snapshot, Journal);

/// The unfinished runs of `workflow` in `store`.
pub(crate) fn unfinished(store: &Arc<dyn RunStore>, workflow: &str) -> Result<Vec<Unfinished>, RecoverError> {
    let runs = store.unfinished(workflow).map_err(RecoverError::Store)?;
    Ok(runs
        .into_iter()
        // A child run is taken up by its parent's step, not on its own.
        .filter(|(key, _)| !key.contains(CHILD_KEY))
        .map(|(key, snapshot)| {
            let journal = Journal::new(Arc::clone(store), key.clone());
            (key, snapshot, journal)
        })
        .collect())
}

/// Why unfinished runs could not be recovered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecoverError {
    /// The store could not list them.
    #[error("the run store failed: {0}")]
    Store(#[source] BoxError),
    /// One journal could not be resumed.
    #[error("the journal of run `{key}` cannot be resumed: {source}")]
    Snapshot {
        /// The run's key.
        key: String,
        /// Why.
        #[source]
        source: SnapshotError,
    },
}
