//! Child workflows: a step runs another workflow as a typed part of its own
//! run (`ctx.run_child`), and gets its output, or its error.
//!
//! The child is driven inside the step's future: cancelling or timing out
//! the parent drops the step, which drops the child and every task of it.
//! The child journals itself at each of its step boundaries: into the
//! parent's link (for the parent's snapshots) and, if the parent is
//! durable, into the parent's store under a key made from the parent's.
//! A step that runs again after a resume makes the same `run_child` calls
//! in the same order, so each call finds its child by the step's input, the
//! attempt and the call's number: a finished child gives its output again,
//! an unfinished one is taken up from its journal (its finished steps do
//! not run again), and only a child never started starts.

use std::future::{poll_fn, Future};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::core::RunCore;
use super::driver::{drive, Start};
use super::durable::{state_json, Journal};
use super::handle::next_run_id;
use super::handler::WorkflowExt;
use super::options::RunOptions;
use super::typed::{self, output, prepare};
use crate::context::{Context, Scope};
use crate::contract::WorkflowEvent;
use crate::erased::ErasedEvent;
use crate::error::{BoxError, WorkflowError};
use crate::link::{child_key, RunLink};
use crate::snapshot::{Journaled, Snapshot, SnapshotError};
use crate::store::RunStore;
use crate::stream::{ChildEvent, RunEvent};
use crate::sync::Mailbox;
use crate::workflow::Workflow;

/// Marks `Self` as a workflow that steps of the workflow whose event enum
/// is `E` declare as a child (`#[step(children = [Self])]`); `#[workflow]`
/// implements it. `ctx.run_child` takes only such workflows.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a declared child of this workflow",
    label = "not named in any step's `children = [..]`",
    note = "add it to the step's `#[step(children = [..])]`"
)]
pub trait ChildOf<E>: Workflow {}

/// How a child run goes: [`Context::run_child_with`].
#[derive(Clone, Debug, Default)]
pub struct ChildOptions {
    stream: bool,
    timeout: Option<Duration>,
}

impl ChildOptions {
    /// The default: the child's stream is not passed on, no timeout of its own.
    pub fn new() -> Self {
        Self::default()
    }

    /// Passes what the child writes to its stream on to the parent's stream,
    /// each item a [`RunEvent::Child`] naming the child's workflow and run.
    pub fn stream_events(mut self, stream: bool) -> Self {
        self.stream = stream;
        self
    }

    /// Ends the child with `WorkflowError::Timeout` if it has not stopped
    /// after `timeout` (the parent's own timeout ends it in any case).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// Why a child run gave no output.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChildError {
    /// The child failed (or was cancelled, or timed out).
    #[error("child workflow `{workflow}` failed: {source}")]
    Failed {
        /// The child's workflow.
        workflow: &'static str,
        /// How it ended.
        #[source]
        source: WorkflowError,
    },
    /// The child had failed before the parent resumed, with this message.
    #[error("child workflow `{workflow}` failed before the parent resumed: {message}")]
    FailedBefore {
        /// The child's workflow.
        workflow: &'static str,
        /// Its error, as its journal recorded it.
        message: String,
    },
    /// What the child left could not be read, or it cannot be journaled.
    #[error("child workflow `{workflow}` cannot be taken up again: {reason}")]
    Journal {
        /// The child's workflow.
        workflow: &'static str,
        /// Why.
        reason: String,
    },
}

impl<S, E: WorkflowEvent> Context<S, E> {
    /// Runs `child` with `input` as a child of this step and returns its
    /// output, or its error (which `?` makes this step's). The child must
    /// be declared in the step's `#[step(children = [..])]`.
    ///
    /// Cancelling or timing out this run cancels the child. A child is part
    /// of its parent's snapshots and durable journal: when this step runs
    /// again after a resume, the same call takes the child up where it was.
    pub fn run_child<C>(
        &self,
        child: impl WorkflowExt<Flow = C>,
        input: C::Input,
    ) -> impl Future<Output = Result<C::Output, ChildError>> + Send + '_
    where
        C: ChildOf<E>,
        C::State: Serialize + DeserializeOwned,
        C::Output: DeserializeOwned,
        S: Send + Sync,
    {
        self.run_child_with(child, input, ChildOptions::new())
    }

    /// [`run_child`](Self::run_child), with `options`: to pass the child's
    /// stream on, or give it a timeout of its own.
    pub fn run_child_with<C>(
        &self,
        child: impl WorkflowExt<Flow = C>,
        input: C::Input,
        options: ChildOptions,
    ) -> impl Future<Output = Result<C::Output, ChildError>> + Send + '_
    where
        C: ChildOf<E>,
        C::State: Serialize + DeserializeOwned,
        C::Output: DeserializeOwned,
        S: Send + Sync,
    {
        // Everything the future needs is taken now, so that it holds no
        // borrow of the context's type parameters beyond `'_`.
        let workflow = C::INFO.name;
        let scope = self.scope().cloned();
        let parent_step = scope.as_ref().and_then(|s| E::INFO.steps.get(s.step)).map_or("", |s| s.name);
        run_child::<C>(scope, child.into_shared(), input, options, workflow, parent_step)
    }
}

async fn run_child<C>(
    scope: Option<Scope>,
    flow: Arc<C>,
    input: C::Input,
    options: ChildOptions,
    workflow: &'static str,
    parent_step: &'static str,
) -> Result<C::Output, ChildError>
where
    C: Workflow,
    C::State: Serialize + DeserializeOwned,
    C::Output: DeserializeOwned,
{
    let Some(scope) = scope else {
        unreachable!("only a step's context is typed with its workflow's events")
    };
    let link = Arc::clone(&scope.link);
    let call = link.children(|c| c.next_call(scope.input, scope.attempt));
    let key = child_key(scope.input, scope.attempt, call);
    let durable = link.children(|c| c.durable(&key));
    let journal_error = |reason: String| ChildError::Journal { workflow, reason };
    let found = match &durable {
        Some((store, full)) => store.load(full).map_err(|e| journal_error(e.to_string()))?,
        None => None,
    };
    let found = found.or_else(|| link.children(|c| c.record(&key).cloned()));
    let snapshot = match found {
        Some(Journaled::Stopped(json)) => {
            return serde_json::from_value(json).map_err(|e| journal_error(format!("its result: {e}")));
        }
        Some(Journaled::Failed(message)) => return Err(ChildError::FailedBefore { workflow, message }),
        Some(Journaled::Unfinished(snapshot)) => Some(*snapshot),
        None => None,
    };
    let store = ChildStore { parent: Arc::clone(&link), key: key.clone(), durable: durable.clone() };
    let mut run_options = RunOptions::<C::State>::new();
    run_options.setup.journal = Some(Journal::new(Arc::new(store), key));
    run_options.state_writer = Some(state_json::<C::State>);
    run_options.setup.timeout = options.timeout;
    let start = match snapshot {
        Some(snapshot) => {
            let (context, restored) = resumed::<C>(&snapshot).map_err(|e| journal_error(e.to_string()))?;
            run_options = run_options.context(context);
            Start::Restored(Box::new(restored))
        }
        None => Start::Fresh(ErasedEvent::new(C::start_event(input))),
    };
    let run_id = next_run_id();
    let stream = options.stream.then(|| Arc::new(Mailbox::new()));
    let run = prepare(flow, run_options, run_id, stream.clone(), None)
        .map_err(|source| ChildError::Failed { workflow, source })?;
    let outcome = match stream {
        None => drive(run, start).await,
        Some(stream) => {
            let forward = forward(&stream, &link, workflow, run_id, parent_step);
            let (outcome, ()) = tokio::join!(drive(run, start), forward);
            outcome
        }
    };
    outcome.map(output::<C>).map_err(|source| ChildError::Failed { workflow, source })
}

/// The context and the decoded core of a child taken up from `snapshot`.
fn resumed<C: Workflow>(
    snapshot: &Snapshot,
) -> Result<(Context<C::State>, super::core::Restored), SnapshotError>
where
    C::State: DeserializeOwned,
{
    snapshot.check(C::INFO)?;
    let restored = RunCore::decode(typed::table::<C>(), snapshot)?;
    let state: C::State =
        serde_path_to_error::deserialize(snapshot.state.clone()).map_err(|e| SnapshotError::BadData {
            name: std::any::type_name::<C::State>().to_owned(),
            at: format!("state.{}", e.path()),
            message: e.into_inner().to_string(),
        })?;
    let context = Context::with_state(state);
    context.restore_store(snapshot.store.clone());
    Ok((context, restored))
}

/// Passes the child's stream items on to the parent's stream, until the
/// child's stream ends.
async fn forward(
    stream: &Mailbox<RunEvent<ErasedEvent>>,
    parent: &RunLink,
    workflow: &'static str,
    run_id: u64,
    step: &'static str,
) {
    while let Some(item) = poll_fn(|cx| stream.poll_recv(cx)).await {
        let event = item.map(|event| event.tagged_json());
        parent.child_event(ChildEvent { workflow, run_id, step, event });
    }
}

/// Where a child journals: into its parent's link, for the parent's
/// snapshots, and into the parent's store if the parent is durable.
struct ChildStore {
    parent: Arc<RunLink>,
    /// The child's key within its parent.
    key: String,
    /// The parent's store, and the child's key there.
    durable: Option<(Arc<dyn RunStore>, String)>,
}

impl RunStore for ChildStore {
    fn save(&self, _: &str, workflow: &str, snapshot: &Snapshot) -> Result<(), BoxError> {
        if let Some((store, key)) = &self.durable {
            store.save(key, workflow, snapshot)?;
        }
        let run = Journaled::Unfinished(Box::new(snapshot.clone()));
        self.parent.children(|c| c.note(&self.key, workflow, run));
        Ok(())
    }

    fn finish(&self, _: &str, outcome: Result<&Value, &str>) -> Result<(), BoxError> {
        if let Some((store, key)) = &self.durable {
            store.finish(key, outcome)?;
        }
        let run = match outcome {
            Ok(result) => Journaled::Stopped(result.clone()),
            Err(message) => Journaled::Failed(message.to_owned()),
        };
        self.parent.children(|c| c.note(&self.key, "", run));
        Ok(())
    }

    fn unfinished(&self, _: &str) -> Result<Vec<(String, Snapshot)>, BoxError> {
        Ok(Vec::new())
    }

    fn load(&self, _: &str) -> Result<Option<Journaled>, BoxError> {
        Ok(self.parent.children(|c| c.record(&self.key).cloned()))
    }
}
