//! Where durable runs keep their journals: the store's trait, below the
//! runtime, so that a run's link can hold the store its child runs journal to.

use crate::boxed::BoxError;
pub use crate::snapshot::Journaled;
use crate::snapshot::Snapshot;

/// What the key of a child run holds after its parent's key: a child's
/// journal is under `{parent key}#child:{input}.{attempt}.{call}`.
pub(crate) const CHILD_KEY: &str = "#child:";

/// Where durable runs keep their journals.
pub trait RunStore: Send + Sync + 'static {
    /// Replaces the journal of run `key` (of workflow `workflow`) with `snapshot`.
    fn save(&self, key: &str, workflow: &str, snapshot: &Snapshot) -> Result<(), BoxError>;
    /// Records that run `key` ended, with its result as JSON or its error's message.
    fn finish(&self, key: &str, outcome: Result<&serde_json::Value, &str>) -> Result<(), BoxError>;
    /// The runs of `workflow` that have a journal and no end, with their journals.
    fn unfinished(&self, workflow: &str) -> Result<Vec<(String, Snapshot)>, BoxError>;
    /// What run `key` left: its journal, how it ended, or nothing. A child
    /// run started again after its parent resumed is found by this.
    fn load(&self, key: &str) -> Result<Option<Journaled>, BoxError>;
}
