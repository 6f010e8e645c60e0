//! Durable runs: a run can journal itself to a [`RunStore`] at step
//! boundaries, so that a process that dies can resume its unfinished runs.
//!
//! The store is a small trait, so that an embedded store (SQLite, in the
//! `workflow-durable` crate) and a server-grade one can both back it without
//! touching the runtime.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::error::BoxError;
use crate::snapshot::{Snapshot, SnapshotError};
use crate::workflow::Workflow;

/// Where durable runs keep their journals.
pub trait RunStore: Send + Sync + 'static {
    /// Replaces the journal of run `key` (of workflow `workflow`) with `snapshot`.
    fn save(&self, key: &str, workflow: &str, snapshot: &Snapshot) -> Result<(), BoxError>;
    /// Records that run `key` ended, with its result as JSON or its error's message.
    fn finish(&self, key: &str, outcome: Result<&Value, &str>) -> Result<(), BoxError>;
    /// The runs of `workflow` that have a journal and no end, with their journals.
    fn unfinished(&self, workflow: &str) -> Result<Vec<(String, Snapshot)>, BoxError>;
}

/// A run's journal: where it goes, under which key, and how to write the
/// state and the result (the driver has no `Serialize` bounds of its own).
pub(crate) struct Journal<W: Workflow> {
    pub(crate) store: Arc<dyn RunStore>,
    pub(crate) key: String,
    pub(crate) state: fn(&W::State) -> Result<Value, SnapshotError>,
    pub(crate) output: fn(&W::Output) -> Result<Value, serde_json::Error>,
}

impl<W: Workflow> std::fmt::Debug for Journal<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("key", &self.key).finish_non_exhaustive()
    }
}

/// The result as JSON.
pub(crate) fn output_json<O: Serialize>(output: &O) -> Result<Value, serde_json::Error> {
    serde_json::to_value(output)
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
