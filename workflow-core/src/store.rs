//! Where durable runs keep their journals: the store's trait, below the
//! runtime, so that a run's link can hold the store its child runs journal to.

use serde::Serialize;
use serde_json::Value;

use crate::boxed::BoxError;
pub use crate::snapshot::Journaled;
use crate::snapshot::{Snapshot, SnapshotError};
use crate::stream::{RunEvent, RunOutcome};

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

    /// Whether the store keeps run `key`'s stream beside its journal (a
    /// server's event log does; the default is no). If it does, the run
    /// hands it what it streams with each journal ([`save_streamed`](Self::save_streamed),
    /// [`finish_streamed`](Self::finish_streamed)), sends it on to its own
    /// stream only once saved, and a step run again after a resume does not
    /// stream again what it streamed before: whenever the process dies, a
    /// reader of the kept stream sees each event once, in order, with no gap.
    fn keeps_stream(&self, key: &str) -> bool {
        let _ = key;
        false
    }

    /// [`save`](Self::save), with the items the run streamed since its
    /// last journal (events as `{"event": name, "data": ..}`): both are
    /// kept, or neither.
    fn save_streamed(
        &self,
        key: &str,
        workflow: &str,
        snapshot: &Snapshot,
        streamed: &[RunEvent<Value>],
    ) -> Result<(), BoxError> {
        let _ = streamed;
        self.save(key, workflow, snapshot)
    }

    /// [`finish`](Self::finish), with the last items the run streamed and
    /// how it ended in full (the stream's last item): all kept, or none.
    fn finish_streamed(
        &self,
        key: &str,
        outcome: Result<&Value, &str>,
        ended: &RunOutcome,
        streamed: &[RunEvent<Value>],
    ) -> Result<(), BoxError> {
        let _ = (ended, streamed);
        self.finish(key, outcome)
    }
}

/// How a workflow's state `S` goes into a journal and comes back: what
/// lets a run that is started from JSON (a server's) be durable, where
/// nothing says whether `S` is `Serialize`. `#[workflow]` fills it in
/// when it is (see [`Workflow::state_codec`](crate::Workflow::state_codec)).
pub struct StateCodec<S> {
    pub(crate) write: StateWriter<S>,
    pub(crate) read: StateReader<S>,
}

/// Writes a run's state `S` as JSON for its journal: taken where
/// `S: Serialize` is known, so that the driver needs no bound.
pub(crate) type StateWriter<S> = fn(&S) -> Result<Value, SnapshotError>;

/// Reads a run's state `S` back from its journal.
pub(crate) type StateReader<S> = fn(Value) -> Result<S, SnapshotError>;

impl<S> Clone for StateCodec<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for StateCodec<S> {}

impl<S> std::fmt::Debug for StateCodec<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateCodec")
    }
}

impl<S: Serialize + serde::de::DeserializeOwned> StateCodec<S> {
    /// The codec of a state that serde writes and reads.
    pub fn serde() -> Self {
        Self { write: state_json::<S>, read: state_from_json::<S> }
    }
}

/// The state read from JSON, naming the field that does not fit.
pub(crate) fn state_from_json<S: serde::de::DeserializeOwned>(json: Value) -> Result<S, SnapshotError> {
    serde_path_to_error::deserialize(json).map_err(|e| SnapshotError::BadData {
        name: std::any::type_name::<S>().to_owned(),
        at: format!("state.{}", e.path()),
        message: e.into_inner().to_string(),
    })
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
