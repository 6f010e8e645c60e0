//! What a caller holds: `run` and `start`, and the handle on a running workflow.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context as TaskContext, Poll};

use futures::Stream;
use tokio::task::JoinHandle;

use super::core::{RunCore, RunEvent, RunOutcome};
use super::driver::{drive, Start};
use super::durable::{self, state_json, RecoverError, RunStore};
use super::options::RunOptions;
use super::typed::{self, output, prepare, stream_item};
use crate::context::Context;
use crate::contract::{WorkflowEvent, Wrap};
use crate::erased::ErasedEvent;
use crate::error::{SendError, WorkflowError};
use crate::link::RunLink;
use crate::snapshot::{Snapshot, SnapshotError};
use crate::sync::Mailbox;
use crate::trace::Trace;
use crate::workflow::Workflow;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::oneshot;

/// A handle on a running workflow: await it for the result, read its
/// [`events`](Self::events), answer its requests with
/// [`send_event`](Self::send_event), or [`cancel`](Self::cancel) it.
///
/// Dropping the handler cancels the run and every step still in flight.
#[must_use = "a run is cancelled when its handler is dropped; await it"]
pub struct Handler<W: Workflow> {
    run_id: u64,
    trace: Trace,
    /// The run's context, for snapshots of its state.
    context: Option<Context<W::State>>,
    state: State,
    link: Option<Arc<RunLink>>,
    events: EventStream<W::Event>,
}

enum State {
    /// The driver's task, which ends with the stop event.
    Running(JoinHandle<Result<ErasedEvent, WorkflowError>>),
    /// The run could not start (its context was busy); the error is taken once.
    Refused(Option<WorkflowError>),
}

/// The events a run writes for its caller, ending with
/// [`RunEvent::Finished`]. A `futures::Stream`.
pub struct EventStream<E> {
    mailbox: Arc<Mailbox<RunEvent<ErasedEvent>>>,
    /// Turns the run's erased events back into its workflow's.
    typed: fn(RunEvent<ErasedEvent>) -> RunEvent<E>,
}

impl<E> Stream for EventStream<E> {
    type Item = RunEvent<E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<RunEvent<E>>> {
        self.mailbox.poll_recv(cx).map(|item| item.map(self.typed))
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
            .field("run_id", &self.run_id)
            .finish_non_exhaustive()
    }
}

static RUN_IDS: AtomicU64 = AtomicU64::new(1);

fn next_run_id() -> u64 {
    RUN_IDS.fetch_add(1, Ordering::Relaxed)
}

impl<W: Workflow> Handler<W> {
    /// Claims the context now, so that of two runs started on one context
    /// the first one started is the one that gets it, then spawns the driver.
    fn spawn(flow: Arc<W>, start: Start, options: RunOptions<W::State>) -> Self {
        let run_id = next_run_id();
        let trace = Trace::new(W::INFO);
        let traced = options.trace.then(|| trace.clone());
        let stream = Arc::new(Mailbox::new());
        let events = EventStream { mailbox: Arc::clone(&stream), typed: stream_item::<W> };
        let context = options.context.clone().unwrap_or_default();
        let options = options.context(context.clone());
        match prepare(flow, options, run_id, Some(Arc::clone(&stream)), traced) {
            Ok(run) => {
                let link = Arc::clone(&run.link);
                let context = Some(context);
                let task = tokio::spawn(drive(run, start));
                Self { run_id, trace, context, state: State::Running(task), link: Some(link), events }
            }
            Err(busy) => {
                let _ = stream.send(RunEvent::Finished(RunOutcome::Failed(busy.to_string())));
                stream.close();
                Self { run_id, trace, context: None, state: State::Refused(Some(busy)), link: None, events }
            }
        }
    }

    /// The run's trace, filled in when it ends if the run was started with
    /// [`RunOptions::trace`]: draw the path it took with [`Trace::mermaid`]
    /// or [`Trace::svg`].
    pub fn trace(&self) -> Trace {
        self.trace.clone()
    }

    /// A number that identifies this run within the process, as in traces.
    pub fn run_id(&self) -> u64 {
        self.run_id
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
        self.send_wrapped(W::Event::wrap(event))
    }

    /// Sends an event of the workflow's own event enum into the run, as
    /// [`Handler::send_event`] does for one of its types.
    pub(crate) fn send_wrapped(&self, event: W::Event) -> Result<(), SendError> {
        match &self.link {
            Some(link) => link.external(ErasedEvent::new(event)),
            None => Err(SendError::RunEnded { event: event.name() }),
        }
    }

    /// Writes the run down as it is now (see [`Snapshot`]), while it goes on.
    /// Resume it later, here or in another process, with
    /// [`WorkflowExt::resume`]. Fails with [`SnapshotError::Unserializable`],
    /// naming the field, if the state holds something JSON cannot carry.
    pub async fn snapshot(&self) -> Result<Snapshot, SnapshotError>
    where
        W::State: Serialize,
    {
        let (Some(link), Some(context)) = (&self.link, &self.context) else {
            return Err(SnapshotError::RunEnded);
        };
        let (reply, answer) = oneshot::channel();
        let context = context.clone();
        link.snapshot(Box::new(move || context.read(state_json)), reply);
        answer.await.map_err(|_| SnapshotError::RunEnded)?
    }

    /// Ends the run with [`WorkflowError::Cancelled`]; steps in flight are
    /// dropped, and the stream ends with [`RunOutcome::Cancelled`].
    pub fn cancel(&self) {
        if let Some(link) = &self.link {
            link.cancel();
        }
    }

    /// Whether the run is over.
    pub fn is_finished(&self) -> bool {
        match &self.state {
            State::Running(task) => task.is_finished(),
            State::Refused(_) => true,
        }
    }
}

impl<W: Workflow> Future for Handler<W> {
    type Output = Result<W::Output, WorkflowError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            State::Running(task) => {
                let joined = ready!(Pin::new(task).poll(cx));
                Poll::Ready(match joined {
                    Ok(outcome) => outcome.map(output::<W>),
                    Err(join_error) => {
                        Err(WorkflowError::Aborted { workflow: W::INFO.name, reason: join_error.to_string() })
                    }
                })
            }
            State::Refused(error) => {
                Poll::Ready(Err(error.take().expect("a Handler is not polled after it completed")))
            }
        }
    }
}

impl<W: Workflow> Drop for Handler<W> {
    fn drop(&mut self) {
        if let State::Running(task) = &self.state {
            task.abort();
        }
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
    snapshot.check(W::INFO)?;
    // Decode everything now, so that a bad snapshot fails here, not in the run.
    let restored = RunCore::decode(typed::table::<W>(), &snapshot)?;
    let state: W::State =
        serde_path_to_error::deserialize(snapshot.state.clone()).map_err(|e| SnapshotError::BadData {
            name: std::any::type_name::<W::State>().to_owned(),
            at: format!("state.{}", e.path()),
            message: e.into_inner().to_string(),
        })?;
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
        let options = RunOptions { durable: Some((journal, state_json::<W::State>)), ..RunOptions::new() };
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
