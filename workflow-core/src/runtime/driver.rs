//! Carries out the core's commands on tokio: one task per step invocation,
//! the waiters' reply channels, the caller's event stream, the timeout.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant, Sleep};
use tracing::Instrument;

use super::core::{
    Command, CoreOptions, CoreParts, InvocationId, Restored, RunCore, RunEvent, RunOutcome, StepFailure,
    WaiterId,
};
use super::link::{Inbound, RunLink};
use super::mailbox::Mailbox;
use super::options::RunOptions;
use crate::context::lock;
use crate::context::{Lease, Scope};
use crate::error::WorkflowError;
use crate::journal::Journal;
use crate::snapshot::{compose, event_data, CollectData, SnapshotError};
use crate::trace::Trace;
use crate::workflow::{Emitted, StepId, StepInput, Workflow, WorkflowEvent};

/// Which invocation to run: its id, step, worker slot and attempt.
#[derive(Clone, Copy, Debug)]
struct Call {
    invocation: InvocationId,
    step: StepId,
    worker: usize,
    attempt: u32,
}

/// What an invocation's task reports: which, how it ended, and for the
/// inline-or-spawn choice, its step and how long the step itself took.
type Completion<E> = (InvocationId, Result<Emitted<E>, StepFailure>, StepId, Duration);

/// Everything one run needs; [`drive`] consumes it.
pub(crate) struct Run<W: Workflow> {
    pub(crate) flow: Arc<W>,
    /// Shared with every step task, so that the context is released only
    /// when the last task of this run is gone, not when the run returns.
    pub(crate) lease: Arc<Lease<W::State>>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) verbose: bool,
    pub(crate) internal_events: bool,
    pub(crate) run_id: u64,
    pub(crate) link: Arc<RunLink<W::Event>>,
    /// The caller's event stream, if the caller holds a handler.
    pub(crate) stream: Option<Arc<Mailbox<RunEvent<W::Event>>>>,
    /// Where the run's trace goes when it ends, if anyone can read it.
    pub(crate) trace: Option<Trace>,
    /// Where the run journals itself, for a durable run.
    pub(crate) journal: Option<Journal<W>>,
}

impl<W: Workflow> Run<W> {
    /// Everything a run of `flow` needs, on `options`' context (claimed now),
    /// with a stream and a trace if a handler will read them.
    pub(crate) fn prepare(
        flow: Arc<W>,
        options: RunOptions<W::State>,
        run_id: u64,
        stream: Option<Arc<Mailbox<RunEvent<W::Event>>>>,
        trace: Option<Trace>,
    ) -> Result<Self, WorkflowError> {
        let journal = options.durable.map(|d| Journal {
            store: d.store,
            key: d.key,
            state: d.state,
            output: crate::journal::output_json::<W::Output>,
        });
        let context = options.context.unwrap_or_default();
        let lease = context.lease(W::INFO.name)?;
        let link = Arc::new(RunLink::new());
        let run = Self {
            flow,
            lease: Arc::new(lease),
            timeout: options.timeout,
            verbose: options.verbose,
            internal_events: options.internal_events,
            run_id,
            link,
            stream,
            trace,
            journal,
        };
        Ok(run)
    }
}

/// How a run begins.
pub(crate) enum Start<W: Workflow> {
    /// From its input.
    Fresh(W::Input),
    /// From a snapshot, decoded and checked already.
    Restored(Box<Restored<W::Event>>),
}

/// Runs one workflow to its end, and writes how it ended to the stream.
/// Dropping this future drops every step invocation still in flight, then
/// the context's lease.
pub(crate) async fn drive<W: Workflow>(run: Run<W>, input: Start<W>) -> Result<W::Output, WorkflowError> {
    let span = tracing::info_span!("workflow_run", workflow = W::INFO.name, run_id = run.run_id);
    let stream = run.stream.clone();
    let trace = run.trace.clone();
    let (mut driver, input) = Driver::new(run, input);
    let mut outcome = driver.run(input).instrument(span).await;
    if let Some(journal) = &driver.run.journal {
        let recorded = match &outcome {
            Ok(output) => (journal.output)(output)
                .map_err(|e| e.to_string())
                .and_then(|json| journal.store.finish(&journal.key, Ok(&json)).map_err(|e| e.to_string())),
            Err(error) => {
                journal.store.finish(&journal.key, Err(&error.to_string())).map_err(|e| e.to_string())
            }
        };
        if let (Err(reason), true) = (recorded, outcome.is_ok()) {
            outcome = Err(WorkflowError::Journal { workflow: W::INFO.name, reason });
        }
    }
    if let (Some(trace), Some(recorded)) = (trace, driver.core.take_trace()) {
        trace.record(recorded);
    }
    driver.run.link.inbox.close();
    // Abort what is still in flight before anyone hears that the run is over.
    if let Some(tasks) = &mut driver.tasks {
        tasks.abort_all();
    }
    let Some(stream) = stream else { return outcome };
    let summary = match &outcome {
        Ok(_) => RunOutcome::Stopped,
        Err(WorkflowError::Cancelled { .. }) => RunOutcome::Cancelled,
        Err(error) => RunOutcome::Failed(error.to_string()),
    };
    let _ = stream.send(RunEvent::Finished(summary));
    stream.close();
    outcome
}

struct Driver<W: Workflow> {
    run: Run<W>,
    started: Instant,
    core: RunCore<W>,
    /// Invocations on tasks of their own; created on first use, since most
    /// runs of light steps never spawn one.
    tasks: Option<JoinSet<Completion<W::Event>>>,
    waiters: Vec<(WaiterId, oneshot::Sender<W::Event>)>,
    commands: Vec<Command<W>>,
    /// The batch being carried out: swapped with `commands`, so that neither
    /// allocates once warm.
    batch: Vec<Command<W>>,
    /// What each step's invocations have been like, to choose inline or spawn.
    speed: Vec<Speed>,
    /// The timeout's timer, boxed: most runs have none, and a waiting run
    /// should not carry one.
    sleep: Option<Pin<Box<Sleep>>>,
    /// Inline invocations so far, to time one in sixteen.
    inline_count: u32,
    /// Whether a step boundary passed since the journal was last written.
    journal_due: bool,
    /// Snapshots asked for, answered at the next boundary.
    snapshot_replies: Vec<SnapshotReply>,
}

type SnapshotReply = oneshot::Sender<Result<(CoreParts, Vec<CollectData>), SnapshotError>>;

/// How a step's invocations are run.
///
/// Spawning a task costs far more than a trivial step, so an invocation is
/// first polled inline on the driver; if it completes at once (and quickly)
/// its step is `Light` and stays inline. A step whose invocation awaits
/// something (`Pending` on the first poll) or computes for long is `Spawned`
/// from then on: it runs on its own task, so that such steps run in parallel
/// on every core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Speed {
    Unknown,
    /// Unknown, with an invocation already on a task.
    UnknownSpawned,
    Light,
    Spawned,
}

/// An inline invocation that took longer than this makes its step `Spawned`.
const SLOW: Duration = Duration::from_micros(200);

/// How many invocations run inline before the driver yields to the runtime.
const INLINE_BUDGET: usize = 256;

/// What `execute` left to do.
enum Progress<O> {
    /// The run is over.
    Finished(Result<O, WorkflowError>),
    /// Nothing to do until a task, a message or the deadline wakes the driver.
    Idle,
    /// The inline budget ran out with work left: yield, then go on.
    Busy,
}

impl<W: Workflow> Drop for Driver<W> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<W: Workflow> Driver<W> {
    /// The driver of `run`, with its core built fresh or from a snapshot,
    /// and the input still to start it with, if fresh.
    fn new(run: Run<W>, start: Start<W>) -> (Self, Option<W::Input>) {
        let options = CoreOptions {
            internal_events: run.internal_events,
            seed: run.run_id,
            trace: run.trace.is_some(),
            snapshots: run.stream.is_some() || run.journal.is_some(),
        };
        let (core, input) = match start {
            Start::Fresh(input) => (RunCore::new(options), Some(input)),
            Start::Restored(mut restored) => {
                let mut buffers = lock(&run.link.collected);
                for (step, events) in std::mem::take(&mut restored.collected) {
                    if buffers.len() <= step {
                        buffers.resize_with(W::INFO.steps.len(), Vec::new);
                    }
                    buffers[step].extend(events);
                }
                drop(buffers);
                (RunCore::restored(options, *restored), None)
            }
        };
        let started = Instant::now();
        let driver = Self {
            started,
            core,
            tasks: None,
            waiters: Vec::new(),
            commands: Vec::new(),
            batch: Vec::new(),
            speed: vec![Speed::Unknown; W::INFO.steps.len()],
            sleep: None,
            inline_count: 0,
            journal_due: false,
            snapshot_replies: Vec::new(),
            run,
        };
        (driver, input)
    }

    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    /// Ends the run if its deadline has passed.
    fn check_deadline(&mut self) {
        if let (Some(at), Some(after)) = (self.deadline(), self.run.timeout) {
            if Instant::now() >= at && !self.core.is_finished() {
                self.core.timed_out(after, &mut self.commands);
            }
        }
    }

    /// When the run times out, if it has a timeout.
    fn deadline(&self) -> Option<Instant> {
        self.run.timeout.and_then(|t| self.started.checked_add(t))
    }

    /// Starts the run (from `input`, or where its snapshot left it) and
    /// carries it out to its end.
    async fn run(&mut self, input: Option<W::Input>) -> Result<W::Output, WorkflowError> {
        self.sleep = self.deadline().map(|at| Box::pin(sleep_until(at)));
        let now = self.now();
        self.journal_due = true;
        match input {
            Some(input) => self.core.start(input, now, &mut self.commands),
            None => self.core.resume(now, &mut self.commands),
        }
        loop {
            match self.execute() {
                Progress::Finished(outcome) => return outcome,
                Progress::Busy => {
                    if let Err(outcome) = self.at_boundary() {
                        return outcome;
                    }
                    tokio::task::yield_now().await;
                    continue;
                }
                Progress::Idle => {
                    if let Err(outcome) = self.at_boundary() {
                        return outcome;
                    }
                    // Idle, maybe for hours: give the command buffers back.
                    self.commands = Vec::new();
                    self.batch = Vec::new();
                }
            }
            // Biased: the deadline first, so that a busy run cannot starve its
            // timeout; then messages, so that what a step sent or streamed
            // before it returned is handled before its completion. The clock
            // is read after the wake-up, not before: the driver may have been
            // idle for a whole retry back-off, and a retry decision taken with
            // the time it went idle would start an attempt past `max_elapsed`.
            tokio::select! {
                biased;
                () = poll_sleep(&mut self.sleep) => {
                    let after = self.run.timeout.unwrap_or_default();
                    self.core.timed_out(after, &mut self.commands);
                }
                Some(message) = self.run.link.inbox.recv() => {
                    let now = self.now();
                    self.receive(message, now);
                }
                Some(joined) = join_next(&mut self.tasks) => match joined {
                    Ok((invocation, result, step, took)) => {
                        let now = self.now();
                        // What the step sent or streamed before it returned may
                        // still be in the inbox (it ran on another thread):
                        // handle that first, as for an inline step.
                        while let Some(message) = self.run.link.inbox.try_recv() {
                            self.receive(message, now);
                        }
                        if matches!(self.speed[step], Speed::Unknown | Speed::UnknownSpawned) {
                            self.speed[step] = if took > SLOW { Speed::Spawned } else { Speed::Light };
                        }
                        if self.run.verbose {
                            report(&result);
                        }
                        let mut result = result;
                        self.fail_on_violation(invocation, &mut result);
                        self.core.step_finished(invocation, result, now, &mut self.commands);
                        self.journal_due = true;
                    }
                    Err(join_error) => {
                        return Err(WorkflowError::Aborted { workflow: W::INFO.name, reason: join_error.to_string() })
                    }
                },
            }
        }
    }

    /// Carries out the pending commands, running light steps inline.
    fn execute(&mut self) -> Progress<W::Output> {
        let mut budget = INLINE_BUDGET;
        while !self.commands.is_empty() {
            // Swap the two buffers: commands issued while this batch is
            // carried out go to the other one, and neither reallocates.
            let mut batch = std::mem::take(&mut self.batch);
            std::mem::swap(&mut self.commands, &mut batch);
            let now = self.now();
            let mut commands = batch.drain(..);
            while let Some(command) = commands.next() {
                match command {
                    Command::Invoke { invocation, step, worker, attempt, input, delay } => {
                        if self.core.is_finished() {
                            continue; // an earlier invocation of this batch ended the run
                        }
                        let more_of_this_step = || {
                            commands
                                .as_slice()
                                .iter()
                                .any(|c| matches!(c, Command::Invoke { step: s, .. } if *s == step))
                        };
                        let inline = delay.is_zero()
                            && match self.speed[step] {
                                Speed::Light => true,
                                Speed::Spawned => false,
                                // Several at once: spawn them all, so that a
                                // heavy step runs in parallel from the start
                                // (an inline one would hold the driver's
                                // thread, where a fresh task waits to run).
                                Speed::Unknown => !more_of_this_step(),
                                Speed::UnknownSpawned => false,
                            };
                        let call = Call { invocation, step, worker, attempt };
                        if !inline {
                            self.spawn(call, input, delay);
                        } else if budget == 0 {
                            self.check_deadline();
                            if self.core.is_finished() {
                                continue;
                            }
                            let first = Command::Invoke { invocation, step, worker, attempt, input, delay };
                            let rest: Vec<Command<W>> = std::iter::once(first).chain(commands).collect();
                            self.commands.splice(0..0, rest);
                            self.batch = batch;
                            return Progress::Busy;
                        } else {
                            budget -= 1;
                            self.run_inline(call, input, now);
                        }
                    }
                    Command::Wake { waiter, event } => {
                        let Some(at) = self.waiters.iter().position(|(id, _)| *id == waiter) else {
                            continue;
                        };
                        let (_, reply) = self.waiters.swap_remove(at);
                        if let Err(event) = reply.send(event) {
                            self.core.put_back(event);
                        }
                    }
                    Command::Stream(event) => {
                        if let Some(stream) = &self.run.stream {
                            let _ = stream.send(event);
                        }
                    }
                    Command::Finish(outcome) => return Progress::Finished(outcome),
                }
            }
            drop(commands);
            self.batch = batch;
            // A long inline stretch must not outrun the timeout.
            self.check_deadline();
        }
        Progress::Idle
    }

    /// A step that broke its declarations (sent or streamed what it did not
    /// declare, or sent to a step that does not take it) fails, however it
    /// returned.
    #[inline]
    fn fail_on_violation(
        &self,
        invocation: InvocationId,
        result: &mut Result<Emitted<W::Event>, StepFailure>,
    ) {
        if let Some(error) = self.run.link.take_violation(invocation) {
            if result.is_ok() {
                *result = Err(StepFailure::Error(Box::new(error)));
            }
        }
    }

    /// The verbose mode's line about an invocation that starts.
    fn announce(&self, call: Call) {
        if self.run.verbose {
            let Call { step, worker, attempt, .. } = call;
            eprintln!(
                "[{}] running step {} (worker {worker}, attempt {attempt})",
                W::INFO.name,
                W::INFO.steps[step].name
            );
        }
    }

    /// Polls an invocation once on the driver: done if it completes, else
    /// handed to a task of its own.
    fn run_inline(&mut self, call: Call, input: StepInput<W::Event>, now: Duration) {
        let step = call.step;
        self.announce(call);
        let mut future = Box::pin(self.invocation(call, input, Duration::ZERO, false));
        // Time the first invocations of a step, then one in sixteen: enough
        // to notice a light step turning heavy, without a clock read per hop.
        self.inline_count = self.inline_count.wrapping_add(1);
        let timed = self.speed[step] == Speed::Unknown || self.inline_count & 15 == 0;
        let started = timed.then(Instant::now);
        match future.as_mut().poll(&mut TaskContext::from_waker(Waker::noop())) {
            Poll::Ready((invocation, result, _, _)) => {
                if let Some(started) = started {
                    self.speed[step] = if started.elapsed() > SLOW { Speed::Spawned } else { Speed::Light };
                }
                // What the step sent or streamed comes before what it returned.
                while let Some(message) = self.run.link.inbox.try_recv() {
                    self.receive(message, now);
                }
                if self.run.verbose {
                    report(&result);
                }
                let mut result = result;
                self.fail_on_violation(invocation, &mut result);
                self.core.step_finished(invocation, result, now, &mut self.commands);
                self.journal_due = true;
            }
            Poll::Pending => {
                self.speed[step] = Speed::Spawned;
                self.tasks.get_or_insert_with(JoinSet::new).spawn(future);
            }
        }
    }

    /// Between batches of work, when no inline step is halfway through its
    /// completion: answers the snapshots asked for, and writes the journal.
    /// (A snapshot taken while a step's completion is being handled would
    /// show the step in flight after its effects, such as what it put in a
    /// `collect_events` buffer, and a resume would apply them twice.)
    fn at_boundary(&mut self) -> Result<(), Result<W::Output, WorkflowError>> {
        for reply in std::mem::take(&mut self.snapshot_replies) {
            let parts =
                self.core.export().and_then(|parts| Ok((parts, collected_data::<W>(&self.run.link)?)));
            let _ = reply.send(parts);
        }
        self.write_journal()
    }

    /// Writes the run to its journal, if it has one and a step boundary
    /// passed; a store that fails ends the run, which would no longer be durable.
    fn write_journal(&mut self) -> Result<(), Result<W::Output, WorkflowError>> {
        let Some(journal) = &self.run.journal else { return Ok(()) };
        if !self.journal_due || self.core.is_finished() {
            return Ok(());
        }
        self.journal_due = false;
        let failed = |reason: String| Err(Err(WorkflowError::Journal { workflow: W::INFO.name, reason }));
        let context = self.run.lease.context();
        let snapshot = self.core.export().and_then(|parts| {
            let collected = collected_data::<W>(&self.run.link)?;
            let state = context.read(journal.state)?;
            Ok(compose::<W>(parts, collected, state, context.store_snapshot()))
        });
        match snapshot {
            Err(error) => failed(error.to_string()),
            Ok(snapshot) => match journal.store.save(&journal.key, W::INFO.name, &snapshot) {
                Ok(()) => Ok(()),
                Err(error) => failed(error.to_string()),
            },
        }
    }

    /// Refuses further messages and stream events: the run is over (or its
    /// driver was dropped), and senders must be told so.
    fn close(&self) {
        self.run.link.inbox.close();
        if let Some(stream) = &self.run.stream {
            stream.close();
        }
    }

    fn receive(&mut self, message: Inbound<W::Event>, now: Duration) {
        let commands = &mut self.commands;
        match message {
            Inbound::Send { from, event, target } => self.core.send(from, event, target, now, commands),
            Inbound::Stream { from, event } => self.core.stream(from, event, commands),
            Inbound::Wait { waiter, matches, request, reply } => {
                self.waiters.push((waiter, reply));
                self.core.wait(waiter, matches, request, now, commands);
            }
            Inbound::Unwait(waiter) => {
                self.waiters.retain(|(id, _)| *id != waiter);
                self.core.unwait(waiter);
            }
            Inbound::External(event) => self.core.external(event, now, commands),
            Inbound::Cancel => self.core.cancel(commands),
            Inbound::Snapshot(reply) => self.snapshot_replies.push(reply),
        }
    }

    fn spawn(&mut self, call: Call, input: StepInput<W::Event>, delay: Duration) {
        let step = call.step;
        self.announce(call);
        if self.speed[step] == Speed::Unknown {
            self.speed[step] = Speed::UnknownSpawned;
        }
        let timed = self.speed[step] == Speed::UnknownSpawned;
        let future = self.invocation(call, input, delay, timed);
        self.tasks.get_or_insert_with(JoinSet::new).spawn(future);
    }

    /// One invocation, as a future that reports its own completion (and, if
    /// `timed`, how long the step took); a panic becomes a [`StepFailure::Panic`].
    fn invocation(
        &self,
        call: Call,
        input: StepInput<W::Event>,
        delay: Duration,
        timed: bool,
    ) -> impl std::future::Future<Output = Completion<W::Event>> + Send + 'static {
        let Call { invocation, step, worker, attempt } = call;
        // A violation left by an earlier holder of this id (a context a
        // step moved to a task that outlived it) is not this one's.
        let _ = self.run.link.take_violation(invocation);
        let name = W::INFO.steps[step].name;
        let scope = Scope { link: Arc::clone(&self.run.link), invocation, step, worker, attempt };
        let context = self.run.lease.context().scoped(scope);
        let flow = Arc::clone(&self.run.flow);
        let lease = Arc::clone(&self.run.lease);
        let span = tracing::info_span!("workflow_step", step = name, worker, attempt);
        async move {
            let _lease = lease;
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            tracing::debug!("step started");
            let started = timed.then(Instant::now);
            let result = AssertUnwindSafe(flow.invoke(step, context, input)).catch_unwind().await;
            let took = started.map_or(Duration::ZERO, |at| at.elapsed());
            let result = match result {
                Ok(Ok(emitted)) => Ok(emitted),
                Ok(Err(error)) => Err(StepFailure::Error(error)),
                Err(panic) => Err(StepFailure::Panic(panic_message(panic.as_ref()))),
            };
            tracing::debug!(succeeded = result.is_ok(), "step finished");
            (invocation, result, step, took)
        }
        .instrument(span)
    }
}

/// The next invocation task to end, or never if there is none.
async fn join_next<T: 'static>(tasks: &mut Option<JoinSet<T>>) -> Option<Result<T, tokio::task::JoinError>> {
    match tasks {
        Some(tasks) if !tasks.is_empty() => tasks.join_next().await,
        _ => std::future::pending().await,
    }
}

/// The `collect_events` buffers as snapshot data.
fn collected_data<W: Workflow>(link: &RunLink<W::Event>) -> Result<Vec<CollectData>, SnapshotError> {
    let buffers = lock(&link.collected);
    buffers
        .iter()
        .enumerate()
        .filter(|(_, events)| !events.is_empty())
        .map(|(step, events)| {
            let events = events.iter().map(event_data).collect::<Result<_, _>>()?;
            Ok(CollectData { step: W::INFO.steps[step].name.to_owned(), events })
        })
        .collect()
}

/// The timeout's timer, or never.
async fn poll_sleep(sleep: &mut Option<Pin<Box<Sleep>>>) {
    match sleep {
        Some(sleep) => sleep.as_mut().await,
        None => std::future::pending().await,
    }
}

/// The verbose mode's line about what an invocation emitted.
fn report<E: WorkflowEvent>(result: &Result<Emitted<E>, StepFailure>) {
    match result {
        Ok(Emitted::Nothing) => eprintln!("  -> emitted nothing"),
        Ok(Emitted::One(event)) => eprintln!("  -> emitted {}", event.name()),
        Ok(Emitted::Many(events)) => {
            let names: Vec<_> = events.iter().map(WorkflowEvent::name).collect();
            eprintln!("  -> emitted {}", names.join(", "));
        }
        Err(failure) => eprintln!("  -> failed: {failure}"),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}
