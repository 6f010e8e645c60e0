//! Every workflow registers itself, so that tools can list, describe, draw
//! and run workflows they were not written for: each `#[workflow]` submits a
//! [`Registration`] through `inventory`, and [`registry`] collects them.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use futures::Stream;
use serde::de::DeserializeOwned;
use serde::Serialize;

use serde_json::Value;

use crate::contract::WorkflowInfo;
use crate::error::{BoxError, SendError, WorkflowError};
use crate::runtime::{resume_reading, RunEvent, RunHandle, RunOptions, WorkflowExt};
use crate::snapshot::{Snapshot, SnapshotError};
use crate::workflow::Workflow;

/// One registered workflow: its graph, its schemas, and a way to run it from JSON.
pub struct Registration {
    info: &'static WorkflowInfo,
    /// The workflow type's name, with its type arguments for an
    /// instantiation of a generic workflow (`Rag<Bm25>`).
    name: &'static str,
    module: &'static str,
    input_schema: fn() -> schemars::Schema,
    output_schema: fn() -> schemars::Schema,
    event_schemas: fn() -> Vec<(&'static str, schemars::Schema)>,
    start: StartFn,
    journaled: fn() -> bool,
}

type StartFn = fn(JsonBegin, RunOptions<()>) -> Result<JsonRun, StartError>;

/// How a run from JSON begins: from its input, or from a snapshot
/// ([`Registration::begin_json`], [`begin_json_on`]).
#[derive(Debug)]
pub enum JsonBegin {
    /// The start event's payload.
    Input(Value),
    /// A run written down before (a journal).
    Resume(Box<Snapshot>),
}

inventory::collect!(Registration);

impl Registration {
    #[doc(hidden)]
    pub const fn new(
        info: &'static WorkflowInfo,
        module: &'static str,
        input_schema: fn() -> schemars::Schema,
        output_schema: fn() -> schemars::Schema,
        event_schemas: fn() -> Vec<(&'static str, schemars::Schema)>,
        start: StartFn,
        journaled: fn() -> bool,
    ) -> Self {
        Self { info, name: info.name, module, input_schema, output_schema, event_schemas, start, journaled }
    }

    /// Whether its runs from JSON can be durable: its state can be
    /// journaled (see [`StartError::NotDurable`]).
    pub fn journaled(&self) -> bool {
        (self.journaled)()
    }

    /// The same registration under the name of one instantiation of a
    /// generic workflow, such as `Rag<Bm25>`.
    #[doc(hidden)]
    pub const fn named(self, name: &'static str) -> Self {
        Self { name, ..self }
    }

    /// The workflow type's name (`Rag`, or `Rag<Bm25>` for an instantiation
    /// of a generic workflow).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Its name qualified by its module path: `my_crate::v1::Flow`.
    pub fn qualified_name(&self) -> String {
        format!("{}::{}", self.module, self.name)
    }

    /// The module that defines it, as `module_path!()` gives it.
    pub fn module(&self) -> &'static str {
        self.module
    }

    /// Its steps and events.
    pub fn info(&self) -> &'static WorkflowInfo {
        self.info
    }

    /// The JSON Schema of what `run` takes.
    pub fn input_schema(&self) -> schemars::Schema {
        (self.input_schema)()
    }

    /// The JSON Schema of what `run` returns.
    pub fn output_schema(&self) -> schemars::Schema {
        (self.output_schema)()
    }

    /// The JSON Schema of every event type, by name.
    pub fn event_schemas(&self) -> Vec<(&'static str, schemars::Schema)> {
        (self.event_schemas)()
    }

    /// Starts a run with `input` as JSON (on the current tokio runtime). The
    /// input is checked against the input type first: a wrong field is
    /// reported with its path. The workflow is built with the constructor
    /// given in `#[workflow(new = ..)]`, or else `Default`.
    pub fn start_json(&self, input: Value, options: RunOptions<()>) -> Result<JsonRun, StartError> {
        (self.start)(JsonBegin::Input(input), options)
    }

    /// Resumes a run from `snapshot` (a journal's, or a handler's), as
    /// [`WorkflowExt::resume`] does, on a fresh
    /// instance. With `options` made durable, it goes on journaling there.
    pub fn resume_json(&self, snapshot: Snapshot, options: RunOptions<()>) -> Result<JsonRun, StartError> {
        self.begin_json(JsonBegin::Resume(Box::new(snapshot)), options)
    }

    /// [`start_json`](Self::start_json) or [`resume_json`](Self::resume_json),
    /// as `begin` says: for a caller that does both the same way (a server).
    pub fn begin_json(&self, begin: JsonBegin, options: RunOptions<()>) -> Result<JsonRun, StartError> {
        (self.start)(begin, options)
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration").field("name", &self.name()).field("module", &self.module).finish()
    }
}

/// Every workflow linked into this program, by name.
pub fn registry() -> Vec<&'static Registration> {
    let mut all: Vec<&'static Registration> = inventory::iter::<Registration>.into_iter().collect();
    all.sort_by_key(|r| (r.name(), r.module()));
    all
}

/// The workflow called `name`.
///
/// The name is as [`Registration::name`] gives it, or qualified by (the end
/// of) its module path, as `v1::Flow` or `my_crate::v1::Flow`. A name that
/// two workflows share is an error listing their qualified names. A generic
/// workflow with one registered instantiation (`Rag<Bm25>`) is also found by
/// its bare name (`Rag`).
pub fn find(name: &str) -> Result<&'static Registration, StartError> {
    let all = registry();
    let unique = |found: Vec<&'static Registration>| match found.as_slice() {
        [] => None,
        [only] => Some(Ok(*only)),
        several => Some(Err(StartError::Ambiguous {
            name: name.to_owned(),
            candidates: several.iter().map(|r| r.qualified_name()).collect(),
        })),
    };
    let exact = all.iter().copied().filter(|r| r.name() == name).collect();
    let qualified = || {
        let suffix = format!("::{name}");
        all.iter()
            .copied()
            .filter(|r| {
                let full = r.qualified_name();
                full == name || full.ends_with(&suffix)
            })
            .collect()
    };
    let instances = || {
        let suffix = format!("::{name}");
        all.iter()
            .copied()
            .filter(|r| {
                let base = format!("{}::{}", r.module(), r.info().name);
                r.info().name == name || base == name || base.ends_with(&suffix)
            })
            .collect()
    };
    unique(exact).or_else(|| unique(qualified())).or_else(|| unique(instances())).unwrap_or_else(|| {
        Err(StartError::Unknown { name: name.to_owned(), known: all.iter().map(|r| r.name()).collect() })
    })
}

/// Why a run could not start from JSON.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// No workflow has that name.
    #[error("no workflow is called `{name}`; the registered ones are: {}", known.join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names there are.
        known: Vec<&'static str>,
    },
    /// Several workflows have that name.
    #[error(
        "{} workflows are called `{name}`: {}; use one of these qualified names",
        candidates.len(),
        candidates.join(", ")
    )]
    Ambiguous {
        /// The name asked for.
        name: String,
        /// The qualified names of the workflows that have it.
        candidates: Vec<String>,
    },
    /// The input does not fit the workflow's input type.
    #[error("invalid input for workflow `{workflow}` at `{path}`: {message}")]
    InvalidInput {
        /// The workflow.
        workflow: &'static str,
        /// Where in the input, as `field.list[2].name` (`.` for the whole input).
        path: String,
        /// What was wrong there.
        message: String,
    },
    /// The workflow has no constructor the registry can call.
    #[error(
        "workflow `{workflow}` cannot be built from the registry: implement `Default` for it, or name a \
         constructor with `#[workflow(new = path::to::constructor)]`"
    )]
    NotConstructible {
        /// The workflow.
        workflow: &'static str,
    },
    /// Its constructor failed.
    #[error("building workflow `{workflow}` failed: {source}")]
    Construction {
        /// The workflow.
        workflow: &'static str,
        /// The constructor's error.
        #[source]
        source: BoxError,
    },
    /// The run could not start (its context was busy).
    #[error(transparent)]
    Run(#[from] WorkflowError),
    /// The run was asked to be durable, and its state cannot be journaled.
    #[error(
        "workflow `{workflow}` cannot run durably from JSON: its state type is not `Serialize + \
         DeserializeOwned` (or names a type parameter of the workflow)"
    )]
    NotDurable {
        /// The workflow.
        workflow: &'static str,
    },
    /// The snapshot to resume from does not fit the workflow.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

/// A run started from JSON: a stream of its events as JSON, then its result.
pub struct JsonRun {
    handle: RunHandle,
}

impl JsonRun {
    /// The run's result as JSON, once it ends.
    pub async fn finish(mut self) -> Result<Value, WorkflowError> {
        let stop = std::future::poll_fn(|cx| self.handle.poll_outcome(cx)).await?;
        let table = self.handle.table();
        (table.output_json)(&stop)
            .map_err(|source| WorkflowError::Output { workflow: table.info().name, source })
    }

    /// Cancels the run.
    pub fn cancel(&self) {
        self.handle.cancel();
    }

    /// The run's graph.
    pub fn info(&self) -> &'static WorkflowInfo {
        self.handle.table().info()
    }

    /// Sends the caller's event `event` (one of [`WorkflowInfo::answers`],
    /// by name) with `data` into the run, as [`Handler::send_event`](crate::Handler::send_event) does.
    pub fn send_json(&self, event: &str, data: Value) -> Result<(), SendJsonError> {
        let table = self.handle.table();
        let not_an_answer = || SendJsonError::NotAnAnswer {
            workflow: table.info().name,
            event: event.to_owned(),
            answers: table.info().answers.to_vec(),
        };
        if !table.info().answers.contains(&event) {
            return Err(not_an_answer());
        }
        let decoded = table.events.read(event, data).ok_or_else(not_an_answer)?;
        let event = decoded.map_err(|e| SendJsonError::InvalidData {
            event: event.to_owned(),
            path: ".".to_owned(),
            message: e.to_string(),
        })?;
        Ok(self.handle.send(event, None)?)
    }
}

/// Why an event given as JSON could not be sent into a run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendJsonError {
    /// The workflow takes no event of that type from the caller.
    #[error("workflow `{workflow}` takes no `{event}` from the caller; it takes: {}", answers.join(", "))]
    NotAnAnswer {
        /// The workflow.
        workflow: &'static str,
        /// The type asked for.
        event: String,
        /// The types it takes.
        answers: Vec<&'static str>,
    },
    /// The data does not fit the event type.
    #[error("invalid `{event}` at `{path}`: {message}")]
    InvalidData {
        /// The event type.
        event: String,
        /// Where in the data, as `field.list[2]` (`.` for the whole).
        path: String,
        /// What was wrong there.
        message: String,
    },
    /// The run could not take it (it has ended).
    #[error(transparent)]
    Send(#[from] SendError),
}

impl Stream for JsonRun {
    type Item = RunEvent<Value>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<RunEvent<Value>>> {
        self.handle.stream().poll_recv(cx).map(|item| item.map(|item| item.map(|e| e.tagged_json())))
    }
}

impl std::fmt::Debug for JsonRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonRun").field("workflow", &self.info().name).finish()
    }
}

/// Starts a run of the instance `flow` from JSON: what [`Registration::start_json`]
/// does with a fresh instance, for a server that serves instances of its own.
pub fn start_json_on<W>(flow: Arc<W>, input: Value, options: RunOptions<()>) -> Result<JsonRun, StartError>
where
    W: Workflow,
    W::Input: DeserializeOwned,
{
    begin_json_on(flow, JsonBegin::Input(input), options)
}

/// Resumes a run of the instance `flow` from `snapshot`: what
/// [`Registration::resume_json`] does with a fresh instance.
pub fn resume_json_on<W>(
    flow: Arc<W>,
    snapshot: Snapshot,
    options: RunOptions<()>,
) -> Result<JsonRun, StartError>
where
    W: Workflow,
    W::Input: DeserializeOwned,
{
    begin_json_on(flow, JsonBegin::Resume(Box::new(snapshot)), options)
}

/// [`start_json_on`] or [`resume_json_on`], as `begin` says: what
/// [`Registration::begin_json`] does with a fresh instance.
pub fn begin_json_on<W>(
    flow: Arc<W>,
    begin: JsonBegin,
    options: RunOptions<()>,
) -> Result<JsonRun, StartError>
where
    W: Workflow,
    W::Input: DeserializeOwned,
{
    begin_on(flow, decode::<W>(begin)?, options)
}

/// [`JsonBegin`] with the input decoded.
enum Begin<I> {
    Input(I),
    Resume(Box<Snapshot>),
}

/// Decodes the input of `begin`, naming the place it does not fit.
fn decode<W: Workflow>(begin: JsonBegin) -> Result<Begin<W::Input>, StartError>
where
    W::Input: DeserializeOwned,
{
    match begin {
        JsonBegin::Input(input) => {
            serde_path_to_error::deserialize(input).map(Begin::Input).map_err(|e| StartError::InvalidInput {
                workflow: W::INFO.name,
                path: e.path().to_string(),
                message: e.into_inner().to_string(),
            })
        }
        JsonBegin::Resume(snapshot) => Ok(Begin::Resume(snapshot)),
    }
}

/// Starts or resumes a run of `flow`, journaled if `options` are durable
/// and the workflow's state can be.
fn begin_on<W: Workflow>(
    flow: Arc<W>,
    begin: Begin<W::Input>,
    options: RunOptions<()>,
) -> Result<JsonRun, StartError> {
    let workflow = W::INFO.name;
    let codec = W::state_codec();
    let options = options.for_state::<W::State>(codec).ok_or(StartError::NotDurable { workflow })?;
    let handler = match begin {
        Begin::Input(input) => flow.start_with(input, options),
        Begin::Resume(snapshot) => {
            let codec = codec.ok_or(StartError::NotDurable { workflow })?;
            resume_reading(flow, *snapshot, options, codec.read)?
        }
    };
    Ok(JsonRun { handle: handler.into_handle() })
}

/// The registration of workflow `W` (of its event types and schemas), if it
/// has one: every workflow that is not generic, and each instantiation a
/// generic one lists in `register = [..]` (they share their schemas).
pub fn registration_of<W: Workflow>() -> Option<&'static Registration> {
    // By content: a `const`'s address is not one address.
    let same = |info: &WorkflowInfo| {
        info.name == W::INFO.name
            && info.events == W::INFO.events
            && info.steps.iter().map(|s| s.name).eq(W::INFO.steps.iter().map(|s| s.name))
    };
    registry().into_iter().find(|r| same(r.info()))
}

/// Whether `W`'s state can be journaled ([`Registration::journaled`]).
#[doc(hidden)]
pub fn journaled<W: Workflow>() -> bool {
    W::state_codec().is_some()
}

/// Generated code's half of [`Registration::start_json`].
#[doc(hidden)]
pub fn start_json<W>(
    construct: Option<fn() -> Result<W, BoxError>>,
    begin: JsonBegin,
    options: RunOptions<()>,
) -> Result<JsonRun, StartError>
where
    W: Workflow,
    W::Input: DeserializeOwned,
    W::Output: Serialize,
{
    let workflow = W::INFO.name;
    // A bad input is reported before the workflow is built.
    let begun = decode::<W>(begin)?;
    let construct = construct.ok_or(StartError::NotConstructible { workflow })?;
    let flow = construct().map_err(|source| StartError::Construction { workflow, source })?;
    begin_on(Arc::new(flow), begun, options)
}
