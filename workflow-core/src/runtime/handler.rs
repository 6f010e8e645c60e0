//! What a caller holds: `run` and `start`, and the handle on a running workflow.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use futures::Stream;

use super::core::{RunCore, RunEvent};
use super::driver::{drive, Start};
use super::durable::{self, state_json, RecoverError, RunStore};
use super::handle::{next_run_id, Caller, RunHandle};
use super::options::RunOptions;
use super::typed::{self, output, prepare};
use crate::context::Context;
use crate::contract::{WorkflowEvent, Wrap};
use crate::erased::ErasedEvent;
use crate::error::{SendError, WorkflowError};
use crate::snapshot::{Snapshot, SnapshotError};
use crate::sync::Mailbox;
use crate::trace::Trace;
use crate::workflow::Workflow;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A handle on a running workflow: await it for the result, read its
/// [`events`](Self::events), answer its requests with
/// [`send_event`](Self::send_event), or [`cancel`](Self::cancel) it.
///
/// Dropping the handler cancels the run and every step still in flight.
#[must_use = "a run is cancelled when its handler is dropped; await it"]
pub struct Handler<W: Workflow> {
    handle: RunHandle,
    /// The run's context, for snapshots of its state.
    context: Option<Context<W::State>>,
    events: EventStream<W::Event>,
}

/// The events a run writes for its caller, ending with
/// [`RunEvent::Finished`]. A `futures::Stream`.
pub struct EventStream<E> {
    /// The run's items, their events erased; only a `Handler` of the run's
    /// workflow makes the stream, with `E` its event enum.
    mailbox: Arc<Mailbox<RunEvent<ErasedEvent>>>,
    _events: PhantomData<fn() -> E>,
}

impl<E> Stream for EventStream<E> {
    type Item = RunEvent<E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<RunEvent<E>>> {
        // SAFETY: the run's events are its workflow's, made by its own
        // layer: `E`s (see `_events`).
        self.mailbox
            .poll_recv(cx)
            .map(|item| item.map(|item| item.map(|event| unsafe { event.into_typed() })))
    }
}

impl<E> std::fmt::Debug for EventStream<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").field("closed", &self.mailbox.is_closed()).finish_non_exhaustive()
    }
}

impl<W: Workflow> std::fmt::Debug for Handler<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("workflow", &W::INFO.name)
            .field("run_id", &self.handle.run_id())
            .finish_non_exhaustive()
    }
}

impl<W: Workflow> Handler<W> {
    /// Claims the context now, so that of two runs started on one context
    /// the first one started is the one that gets it, then spawns the driver.
    fn spawn(flow: Arc<W>, start: Start, mut options: RunOptions<W::State>) -> Self {
        let table = typed::table::<W>();
        let caller = Caller::new(table);
        let traced = options.setup.trace.then(|| caller.trace.clone());
        let stream = Arc::clone(&caller.stream);
        let events = EventStream { mailbox: Arc::clone(&stream), _events: PhantomData };
        let context = options.context.get_or_insert_with(Context::default).clone();
        let run = prepare(flow, options, caller.run_id, Some(stream), traced);
        let context = run.is_ok().then_some(context);
        Self { handle: RunHandle::spawn(table, caller, run, start), context, events }
    }

    /// The erased handle, for the registry's JSON runs.
    pub(crate) fn into_handle(self) -> RunHandle {
        self.handle
    }

    /// The run's trace, filled in when it ends if the run was started with
    /// [`RunOptions::trace`]: draw the path it took with [`Trace::mermaid`]
    /// or [`Trace::svg`].
    pub fn trace(&self) -> Trace {
        self.handle.trace().clone()
    }

    /// A number that identifies this run within the process, as in traces.
    pub fn run_id(&self) -> u64 {
        self.handle.run_id()
    }

    /// The run's event stream: what steps write with
    /// `ctx.write_event_to_stream`, requests for input, internal events if
    /// asked for, and last, how the run ended.
    ///
    /// ```no_run
    /// # use futures::StreamExt;
    /// # use workflow_core::prelude::*;
    /// # async fn demo<W: workflow_core::Workflow>(mut handler: workflow_core::Handler<W>) {
    /// while let Some(event) = handler.events().next().await {
    ///     println!("{event:?}");
    /// }
    /// let result = handler.await;
    /// # }
    /// ```
    pub fn events(&mut self) -> &mut EventStream<W::Event> {
        &mut self.events
    }

    /// Sends `event` into the run from outside: to the step waiting for it
    /// in `ctx.wait_for_event`, else to the steps that consume it; kept for
    /// a later waiter if neither exists yet.
    pub fn send_event<T>(&self, event: T) -> Result<(), SendError>
    where
        W::Event: Wrap<T>,
    {
        self.handle.send(ErasedEvent::new(W::Event::wrap(event)), None)
    }

    /// Sends `event` into the run to one step only, named by the generated
    /// step enum (`MyFlowStep::Rerank`): it is queued for that step even if
    /// another step or a waiter takes its type. Fails with
    /// [`SendError::NotAccepted`] if the step does not take the event, and
    /// [`SendError::RunEnded`] once the run is over.
    pub fn send_event_to<T>(&self, step: <W::Event as WorkflowEvent>::Step, event: T) -> Result<(), SendError>
    where
        W::Event: Wrap<T>,
    {
        let target = step.into();
        let event = W::Event::wrap(event);
        if !event.accepted_by(target) {
            let target = W::INFO.steps[target].name;
            return Err(SendError::NotAccepted { target, event: event.name() });
        }
        self.handle.send(ErasedEvent::new(event), Some(target))
    }

    /// Writes the run down as it is now (see [`Snapshot`]), while it goes on.
    /// Resume it later, here or in another process, with
    /// [`WorkflowExt::resume`]. Fails with [`SnapshotError::Unserializable`],
    /// naming the field, if the state holds something JSON cannot carry.
    pub async fn snapshot(&self) -> Result<Snapshot, SnapshotError>
    where
        W::State: Serialize,
    {
        let Some(context) = self.context.clone() else { return Err(SnapshotError::RunEnded) };
        self.handle.snapshot(Arc::new(move || context.read(state_json))).await
    }

    /// Ends the run with [`WorkflowError::Cancelled`]; steps in flight are
    /// dropped, and the stream ends with [`RunOutcome::Cancelled`](crate::RunOutcome::Cancelled).
    pub fn cancel(&self) {
        self.handle.cancel();
    }

    /// Whether the run is over.
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

impl<W: Workflow> Future for Handler<W> {
    type Output = Result<W::Output, WorkflowError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        self.handle.poll_outcome(cx).map(|outcome| outcome.map(output::<W>))
    }
}

/// Runs workflows: `MyFlow::new(..).run(input).await`.
///
/// Implemented for every workflow and for `Arc` of one, so that one instance
/// can serve many runs.
pub trait WorkflowExt: Sized + Send + 'static {
    /// The workflow being run.
    type Flow: Workflow;

    /// The shared instance the runs' steps are called on.
    fn into_shared(self) -> Arc<Self::Flow>;

    /// Runs to the end with a fresh context and no timeout. Like any future,
    /// it starts when first polled.
    fn run(
        self,
        input: <Self::Flow as Workflow>::Input,
    ) -> impl Future<Output = Result<<Self::Flow as Workflow>::Output, WorkflowError>> + Send {
        self.run_with(input, RunOptions::new())
    }

    /// Runs to the end with `options`. The run is driven inside this
    /// future, on the caller's task (its steps that await or compute for
    /// long still get tasks of their own); dropping the future cancels it.
    fn run_with(
        self,
        input: <Self::Flow as Workflow>::Input,
        options: RunOptions<<Self::Flow as Workflow>::State>,
    ) -> impl Future<Output = Result<<Self::Flow as Workflow>::Output, WorkflowError>> + Send {
        async move {
            let start = ErasedEvent::new(Self::Flow::start_event(input));
            let run = prepare(self.into_shared(), options, next_run_id(), None, None)?;
            drive(run, Start::Fresh(start)).await.map(output::<Self::Flow>)
        }
    }

    /// Starts a run on the current tokio runtime now and returns its handler.
    fn start(self, input: <Self::Flow as Workflow>::Input) -> Handler<Self::Flow> {
        self.start_with(input, RunOptions::new())
    }

    /// Starts a run with `options`.
    fn start_with(
        self,
        input: <Self::Flow as Workflow>::Input,
        options: RunOptions<<Self::Flow as Workflow>::State>,
    ) -> Handler<Self::Flow> {
        let start = ErasedEvent::new(Self::Flow::start_event(input));
        Handler::spawn(self.into_shared(), Start::Fresh(start), options)
    }

    /// Resumes every unfinished durable run of this workflow journaled in
    /// `store` (started with [`RunOptions::durable`]), each on this instance,
    /// and returns their keys and handlers. Call it when a process starts,
    /// before it starts new runs.
    fn recover(self, store: Arc<dyn RunStore>) -> Result<Recovered<Self::Flow>, RecoverError>
    where
        <Self::Flow as Workflow>::State: Serialize + DeserializeOwned,
    {
        recover(self.into_shared(), store)
    }

    /// Resumes a run from a snapshot (see [`Snapshot`]): its state and store
    /// are put in `options`' context (or a fresh one), its queued inputs and
    /// the inputs that were in flight are started (a step in flight runs
    /// again from the top), and the run goes on. The stream of the resumed
    /// run holds only what happens after the resume.
    fn resume(
        self,
        snapshot: Snapshot,
        options: RunOptions<<Self::Flow as Workflow>::State>,
    ) -> Result<Handler<Self::Flow>, SnapshotError>
    where
        <Self::Flow as Workflow>::State: DeserializeOwned,
    {
        resume_with(self.into_shared(), snapshot, options)
    }
}

/// A run resumed from `snapshot` (journaled if `options` are durable).
fn resume_with<W: Workflow>(
    flow: Arc<W>,
    snapshot: Snapshot,
    options: RunOptions<W::State>,
) -> Result<Handler<W>, SnapshotError>
where
    W::State: DeserializeOwned,
{
    resume_reading(flow, snapshot, options, durable::state_from_json::<W::State>)
}

/// [`resume_with`], the state read by `read`: what a run resumed from
/// JSON uses, where `W::State: DeserializeOwned` is not known.
pub(crate) fn resume_reading<W: Workflow>(
    flow: Arc<W>,
    snapshot: Snapshot,
    options: RunOptions<W::State>,
    read: durable::StateReader<W::State>,
) -> Result<Handler<W>, SnapshotError> {
    snapshot.check(W::INFO)?;
    // Decode everything now, so that a bad snapshot fails here, not in the run.
    let restored = RunCore::decode(typed::table::<W>(), &snapshot)?;
    let state = read(snapshot.state.clone())?;
    let context = options.context.clone().unwrap_or_default();
    context.update(|s| *s = state);
    context.restore_store(snapshot.store.clone());
    let options = options.context(context);
    Ok(Handler::spawn(flow, Start::Restored(Box::new(restored)), options))
}

/// The runs [`WorkflowExt::recover`] resumed: each run's key and handler.
pub type Recovered<W> = Vec<(String, Handler<W>)>;

/// [`WorkflowExt::recover`].
fn recover<W>(flow: Arc<W>, store: Arc<dyn RunStore>) -> Result<Recovered<W>, RecoverError>
where
    W: Workflow,
    W::State: Serialize + DeserializeOwned,
{
    let runs = durable::unfinished(&store, W::INFO.name)?;
    let mut handlers = Vec::with_capacity(runs.len());
    for (key, snapshot, journal) in runs {
        let mut options = RunOptions::new();
        options.setup.journal = Some(journal);
        options.state_writer = Some(state_json::<W::State>);
        let handler = resume_with(Arc::clone(&flow), snapshot, options)
            .map_err(|source| RecoverError::Snapshot { key: key.clone(), source })?;
        handlers.push((key, handler));
    }
    Ok(handlers)
}

impl<W: Workflow> WorkflowExt for W {
    type Flow = W;
    fn into_shared(self) -> Arc<W> {
        Arc::new(self)
    }
}

impl<W: Workflow> WorkflowExt for Arc<W> {
    type Flow = W;
    fn into_shared(self) -> Arc<W> {
        self
    }
}
