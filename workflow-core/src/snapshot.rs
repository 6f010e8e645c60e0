//! Snapshots: a run written down as versioned JSON, and resumed from it,
//! in this process or another.
//!
//! A snapshot holds the context's typed state and store, every input queued
//! or in flight (an in-flight step runs again from the top on resume: steps
//! run *at least once*), events the caller sent that nobody took yet, open
//! requests for input, fan-out batches and `collect_events` buffers. Steps
//! that had finished do not run again.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::contract::{StepInput, WorkflowInfo};
use crate::erased::{ErasedEvent, EventOps};

/// The snapshot format this build writes and reads.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// A run, written down. Serialize it with [`Snapshot::to_json`]; read it
/// back with [`Snapshot::from_json`], which checks its shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// [`SNAPSHOT_FORMAT`] when it was written.
    pub format: u32,
    /// The workflow's name.
    pub workflow: String,
    /// The workflow's event types, to detect a workflow that changed since.
    pub events: Vec<String>,
    /// The workflow's steps, likewise.
    pub steps: Vec<String>,
    /// The context's typed state.
    pub state: Value,
    /// The context's key-value store.
    pub store: Map<String, Value>,
    /// Inputs in flight (first) and queued, per step, in the order they came.
    pub inputs: Vec<PendingInput>,
    /// Events the caller sent that no waiter or step took yet.
    pub unclaimed: Vec<EventData>,
    /// Requests for input not answered yet.
    pub pending_requests: usize,
    /// Fan-out batches still open.
    pub batches: Vec<BatchData>,
    /// `ctx.collect_events` buffers, per step.
    pub collected: Vec<CollectData>,
    /// What failure handlers did, per step that took part; absent when
    /// nothing was recovered (and in snapshots of older builds).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recoveries: Vec<RecoveryData>,
    /// The child runs of the steps in flight, so that a step run again
    /// after a resume takes its children up where they were; absent when
    /// there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildData>,
}

/// A child run of a step in flight (`ctx.run_child`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChildData {
    /// Which call it was: `{input id}.{attempt}.{call}`, the input that
    /// started the step, the attempt of it, and which of its `run_child`
    /// calls, counted from 0.
    pub key: String,
    /// The child's workflow.
    pub workflow: String,
    /// Where it was.
    pub run: Journaled,
}

/// What a journal holds of one run: where it was, or how it ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Journaled {
    /// It has not ended: its last journal.
    Unfinished(Box<Snapshot>),
    /// It ended with this result, as JSON.
    Stopped(Value),
    /// It failed with this message.
    Failed(String),
}

/// What failure handling did for one step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryData {
    /// The step's name.
    pub step: String,
    /// As a handler: the failures it recovered from (toward its
    /// `max_recoveries`).
    pub recovered: u32,
    /// As a failing step: the attempts it had made when its last failure
    /// was recovered; its next invocation counts on from there.
    pub attempts: u32,
}

/// One event: its type's name and its data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventData {
    /// The event type's name, as in `WorkflowInfo::events`.
    pub event: String,
    /// The event itself.
    pub data: Value,
}

/// An input of a step, in flight or queued.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingInput {
    /// The step's name.
    pub step: String,
    /// The attempt it was on (it runs again as this attempt).
    pub attempt: u32,
    /// The fan-out batch it belongs to, as an index into `batches`.
    pub batch: Option<usize>,
    /// Whether it is a `Collected` input (all the events) or one event.
    pub collected: bool,
    /// The input's events.
    pub events: Vec<EventData>,
    /// Its lasting id within the run, by which a step that runs again
    /// finds the child runs it started (0 in snapshots of older builds).
    #[serde(default)]
    pub id: u32,
    /// For an input in flight: how many events its invocation had streamed
    /// (written, or as a wait's request). Where the store keeps the stream
    /// beside the journal, the step run again on resume does not stream
    /// those again.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub streamed: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A fan-out batch: what its `Collected` steps have gathered so far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchData {
    /// The step whose fan-out opened the batch: the `Collected` steps it
    /// feeds run when it settles, with an empty list if nothing reached
    /// them. Absent in snapshots of older builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Gathered events, with the `Collected` step each is for.
    pub collected: Vec<(String, EventData)>,
}

/// A step's `collect_events` buffer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectData {
    /// The step's name.
    pub step: String,
    /// The events it has buffered.
    pub events: Vec<EventData>,
}

/// Why a snapshot could not be taken or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The text is not a snapshot: not JSON, cut short, or a field is wrong.
    #[error("not a valid snapshot at `{path}`: {message}")]
    Malformed {
        /// Where, as `inputs[2].events` (`.` for the whole document).
        path: String,
        /// What serde reported, with line and column.
        message: String,
    },
    /// Written by another version of the format.
    #[error("the snapshot is in format {found}, but this build reads format {supported}")]
    Version {
        /// The snapshot's format.
        found: u32,
        /// The format this build reads.
        supported: u32,
    },
    /// A snapshot of another workflow.
    #[error("the snapshot is of workflow `{found}`, not `{expected}`")]
    OtherWorkflow {
        /// The workflow being resumed.
        expected: &'static str,
        /// The snapshot's workflow.
        found: String,
    },
    /// The workflow's steps or events changed since the snapshot was taken.
    #[error(
        "workflow `{workflow}` changed since the snapshot was taken: its {what} were {found:?} and are now \
         {expected:?}; resume it with the version of the workflow that took it"
    )]
    Changed {
        /// The workflow.
        workflow: &'static str,
        /// `"steps"` or `"events"`.
        what: &'static str,
        /// Now.
        expected: Vec<&'static str>,
        /// In the snapshot.
        found: Vec<String>,
    },
    /// An event or step the workflow does not have.
    #[error("`{name}` at `{at}` is not a {what} of workflow `{workflow}`")]
    Unknown {
        /// The workflow.
        workflow: &'static str,
        /// `"step"` or `"event"`.
        what: &'static str,
        /// The name found.
        name: String,
        /// Where in the snapshot.
        at: String,
    },
    /// Data that does not fit its type (an event's, or the state's).
    #[error("`{at}` does not fit `{name}`: {message}")]
    BadData {
        /// The type: an event's name, or the state's.
        name: String,
        /// Where in the snapshot.
        at: String,
        /// What serde reported.
        message: String,
    },
    /// A value could not be written as JSON when the snapshot was taken.
    #[error("cannot snapshot {what}: `{path}` is not serializable: {message}")]
    Unserializable {
        /// `"the state"`, or an event's name.
        what: String,
        /// Where inside it.
        path: String,
        /// What serde reported.
        message: String,
    },
    /// The run is over: there is nothing to snapshot.
    #[error("the run has ended; take snapshots of runs that are still going")]
    RunEnded,
    /// An input in flight was not kept (a run started with `run`, not `start`).
    #[error("an input in flight of step `{step}` was not kept; snapshot runs started with `start`")]
    InputNotKept {
        /// The step.
        step: &'static str,
    },
}

impl Snapshot {
    /// The snapshot as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a snapshot is plain JSON data")
    }

    /// Reads a snapshot, reporting where it is malformed.
    pub fn from_json(text: &str) -> Result<Self, SnapshotError> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let snapshot: Snapshot = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            SnapshotError::Malformed { path: e.path().to_string(), message: e.into_inner().to_string() }
        })?;
        deserializer
            .end()
            .map_err(|e| SnapshotError::Malformed { path: ".".into(), message: e.to_string() })?;
        Ok(snapshot)
    }

    /// Checks that this snapshot is of `info`'s workflow, as it is now.
    pub fn check(&self, info: &'static WorkflowInfo) -> Result<(), SnapshotError> {
        if self.format != SNAPSHOT_FORMAT {
            return Err(SnapshotError::Version { found: self.format, supported: SNAPSHOT_FORMAT });
        }
        if self.workflow != info.name {
            return Err(SnapshotError::OtherWorkflow { expected: info.name, found: self.workflow.clone() });
        }
        let steps: Vec<&'static str> = info.steps.iter().map(|s| s.name).collect();
        for (what, expected, found) in
            [("events", info.events.to_vec(), &self.events), ("steps", steps, &self.steps)]
        {
            if expected.iter().map(|s| s.to_string()).collect::<Vec<_>>() != *found {
                return Err(SnapshotError::Changed {
                    workflow: info.name,
                    what,
                    expected,
                    found: found.clone(),
                });
            }
        }
        Ok(())
    }
}

/// An event as snapshot data.
pub(crate) fn event_data(event: &ErasedEvent) -> Result<EventData, SnapshotError> {
    match event.to_json() {
        Ok(data) => Ok(EventData { event: event.name().to_owned(), data }),
        Err(e) => Err(SnapshotError::Unserializable {
            what: format!("event `{}`", event.name()),
            path: ".".into(),
            message: e.to_string(),
        }),
    }
}

/// An event of `events`' workflow read back from snapshot data found at `at`.
pub(crate) fn event_from(
    events: &EventOps,
    data: &EventData,
    at: &str,
) -> Result<ErasedEvent, SnapshotError> {
    let workflow = events.info.name;
    match events.read(&data.event, data.data.clone()) {
        None => Err(SnapshotError::Unknown {
            workflow,
            what: "event",
            name: data.event.clone(),
            at: at.to_owned(),
        }),
        Some(Err(e)) => Err(SnapshotError::BadData {
            name: data.event.clone(),
            at: format!("{at}.data"),
            message: e.to_string(),
        }),
        Some(Ok(event)) => Ok(event),
    }
}

/// The index of step `name`, found at `at`.
pub(crate) fn step_index(info: &'static WorkflowInfo, name: &str, at: &str) -> Result<usize, SnapshotError> {
    info.steps.iter().position(|s| s.name == name).ok_or_else(|| SnapshotError::Unknown {
        workflow: info.name,
        what: "step",
        name: name.to_owned(),
        at: at.to_owned(),
    })
}

/// A step input as snapshot data.
pub(crate) fn input_data(input: &StepInput<ErasedEvent>) -> Result<(bool, Vec<EventData>), SnapshotError> {
    match input {
        StepInput::One(event) => Ok((false, vec![event_data(event)?])),
        StepInput::Collected(events) => Ok((true, events.iter().map(event_data).collect::<Result<_, _>>()?)),
    }
}
