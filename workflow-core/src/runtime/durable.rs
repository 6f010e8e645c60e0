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

use serde::Serialize;
use serde_json::Value;

use super::table::Table;
use crate::erased::ErasedEvent;
use crate::error::{BoxError, WorkflowError};
use crate::snapshot::{Snapshot, SnapshotError};
pub use crate::store::RunStore;
use crate::store::CHILD_KEY;

/// A run's journal: where it goes and under which key. `RunOptions::durable`
/// makes one, with the writer of the run's state (see [`StateWriter`]);
/// recovery makes one per unfinished run.
#[derive(Clone)]
pub(crate) struct Journal {
    store: Arc<dyn RunStore>,
    key: String,
}

/// Writes a run's state `S` as JSON for its journal: taken where
/// `S: Serialize` is known, so that the driver needs no bound.
pub(crate) type StateWriter<S> = fn(&S) -> Result<Value, SnapshotError>;

impl Journal {
    pub(crate) fn new(store: Arc<dyn RunStore>, key: String) -> Self {
        Self { store, key }
    }

    /// Its store and key, where the run's children journal too.
    pub(crate) fn store_and_key(&self) -> (Arc<dyn RunStore>, String) {
        (Arc::clone(&self.store), self.key.clone())
    }

    /// Replaces the journal with `snapshot`; the error says why it could not.
    pub(crate) fn save(&self, workflow: &str, snapshot: &Snapshot) -> Result<(), String> {
        self.store.save(&self.key, workflow, snapshot).map_err(|e| e.to_string())
    }

    /// Records how the run ended. A result that cannot be recorded turns
    /// the run's success into [`WorkflowError::Journal`]: it is no longer durable.
    pub(crate) fn finish(
        &self,
        table: &Table,
        outcome: Result<ErasedEvent, WorkflowError>,
    ) -> Result<ErasedEvent, WorkflowError> {
        let workflow = table.info().name;
        let recorded = match &outcome {
            Ok(stop) => (table.output_json)(stop)
                .map_err(|e| e.to_string())
                .and_then(|json| self.store.finish(&self.key, Ok(&json)).map_err(|e| e.to_string())),
            Err(error) => self.store.finish(&self.key, Err(&error.to_string())).map_err(|e| e.to_string()),
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

/// The state as JSON, naming the field that cannot be written.
pub(crate) fn state_json<S: Serialize>(state: &S) -> Result<Value, SnapshotError> {
    serde_path_to_error::serialize(state, serde_json::value::Serializer).map_err(|e| {
        SnapshotError::Unserializable {
            what: "the state".into(),
            path: e.path().to_string(),
            message: e.into_inner().to_string(),
        }
    })
}
