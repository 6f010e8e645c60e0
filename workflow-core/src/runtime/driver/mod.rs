//! Carries out a run on tokio: tells the core what happened (a step
//! finished, a message came in, time ran out) and does what it answers,
//! running each invocation inline or on a task of its own.

mod boundary;
mod invocation;
mod placement;
mod slot;
mod waiters;

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Waker};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant, Sleep};
use tracing::instrument::WithSubscriber;
use tracing::Instrument;

use self::invocation::{Call, Completion, OnTask, Polled};
pub(crate) use self::invocation::{StepFuture, Steps};
use self::placement::Placement;
use self::slot::Slot;
use self::waiters::Waiters;
use super::core::{Command, CoreOptions, Input, Restored, RunCore, RunEvent, RunOutcome, StepFailure};
use super::durable::Journal;
use super::options::Setup;
use super::table::Table;
use super::verbose::{self, Verbose};
use crate::context::Scope;
use crate::contract::{Emitted, InvocationId, StepId, StepInfo, StepInput};
use crate::erased::ErasedEvent;
use crate::error::WorkflowError;
use crate::link::{Inbound, RunLink, SnapshotReply, StateJson};
use crate::retry::{FailedAttempt, Jitter};
use crate::sync::Mailbox;
use crate::trace::Trace;

/// Everything one run needs; [`drive`] consumes it.
pub(crate) struct Run {
    table: &'static Table,
    /// The workflow's steps, on the run's context (whose lease they hold).
    steps: Arc<dyn Steps>,
    timeout: Option<Duration>,
    verbose: bool,
    internal_events: bool,
    run_id: u64,
    pub(crate) link: Arc<RunLink>,
    /// The caller's event stream, if the caller holds a handler.
    stream: Option<Arc<Mailbox<RunEvent<ErasedEvent>>>>,
    /// Where the run's trace goes when it ends, if anyone can read it.
    trace: Option<Trace>,
    /// Where the run journals itself, for a durable run.
    journal: Option<Journal>,
    /// The semaphore of its workflow instance, if the workflow limits how
    /// many of its runs go at once.
    pub(crate) limit: Option<Arc<tokio::sync::Semaphore>>,
}

impl Run {
    /// Everything a run of `table`'s workflow needs, its steps called on
    /// `steps`, with a stream and a trace if a handler will read them.
    pub(crate) fn new(
        table: &'static Table,
        steps: Arc<dyn Steps>,
        setup: Setup,
        run_id: u64,
        stream: Option<Arc<Mailbox<RunEvent<ErasedEvent>>>>,
        trace: Option<Trace>,
    ) -> Self {
        Self {
            table,
            steps,
            timeout: setup.timeout,
            verbose: setup.verbose,
            internal_events: setup.internal_events,
            run_id,
            link: Arc::new(RunLink::new(table.info().steps.len())),
            stream,
            trace,
            journal: setup.journal,
            limit: None,
        }
    }
}

/// How a run begins.
pub(crate) enum Start {
    /// From its start event.
    Fresh(ErasedEvent),
    /// From a snapshot, decoded and checked already.
    Restored(Box<Restored>),
}

/// Runs one workflow to its end, and writes how it ended to the stream;
/// on success, returns the stop event. Dropping this future drops every
/// step invocation still in flight, then the context's lease.
pub(crate) async fn drive(run: Run, start: Start) -> Result<ErasedEvent, WorkflowError> {
    use tracing::field::Empty;
    let span = tracing::info_span!(
        "workflow_run",
        workflow = run.table.info().name,
        run_id = run.run_id,
        outcome = Empty,
        error = Empty,
        otel.status_code = Empty,
    );
    let verbose = run.verbose;
    let (mut driver, first) = Driver::new(run, start);
    let running = driver.run(first).instrument(span.clone());
    let outcome =
        if verbose { running.with_subscriber(Verbose::around_default()).await } else { running.await };
    let outcome = driver.end(outcome);
    // Stop what is still in flight before anyone hears that the run is
    // over, and wait until it is dropped: a step's child runs and their
    // tasks are gone when the run returns.
    if let Some(tasks) = &mut driver.tasks {
        tasks.shutdown().await;
    }
    driver.announce(&outcome);
    if !span.is_disabled() {
        match &outcome {
            Ok(_) => {
                span.record("outcome", "stopped");
            }
            Err(error) => {
                span.record("outcome", error.kind());
                span.record("error", error.to_string().as_str());
                span.record("otel.status_code", "ERROR");
            }
        }
    }
    outcome
}

struct Driver {
    run: Run,
    started: Instant,
    core: RunCore,
    /// Invocations on tasks of their own; created on first use, since most
    /// runs of light steps never spawn one.
    tasks: Option<JoinSet<Completion>>,
    waiters: Waiters,
    /// What the core asked for and the driver has not done yet, oldest
    /// first: the core appends, `execute` takes from the front.
    commands: VecDeque<Command>,
    placement: Placement,
    /// The timeout's timer, boxed: most runs have none, and a waiting run
    /// should not carry one.
    sleep: Option<Pin<Box<Sleep>>>,
    /// Whether a step boundary passed since the journal was last written.
    journal_due: bool,
    /// Snapshots asked for, answered at the next boundary.
    snapshot_requests: Vec<(StateJson, SnapshotReply)>,
    /// Whether to report each invocation (`verbose`, or a subscriber that
    /// listens to [`verbose::TARGET`] when the run starts): asked once per
    /// run, since a hop is a few hundred instructions.
    report: bool,
    /// What retries need (the invocations being tried, the jitter);
    /// made on the first invocation of a step with a retry policy.
    retries: Option<Box<Retries>>,
    /// Its slot among its instance's runs (`num_concurrent_runs`), made
    /// only for a workflow that limits its runs.
    slot: Option<Box<Slot>>,
    /// Whether it got past waiting in line and started.
    began: bool,
    /// The box of the last inline step's future, finished, for the next
    /// invocation to fill (see `Steps::call`); dropped when the run idles.
    spare: Option<StepFuture>,
    /// Whether to record the core's inputs (a subscriber that listens to
    /// [`verbose::RECORD`] when the run starts).
    record: bool,
    /// Whether the journal keeps the stream: then what the run streams
    /// waits in `unjournaled` for the next journal, and goes to the
    /// caller's stream once saved with it.
    journal_stream: bool,
    unjournaled: Vec<RunEvent<ErasedEvent>>,
}

/// What the driver keeps for retries.
struct Retries {
    /// Invocations of steps with a retry policy, while they are tried.
    tried: Vec<Retrying>,
    /// The run's own sequence of numbers for retry jitter.
    jitter: Jitter,
}

/// An invocation of a step with a retry policy, while it is tried.
struct Retrying {
    invocation: InvocationId,
    /// When its first attempt started, for the policy's elapsed time.
    first_started: Instant,
}

/// How many invocations run inline before the driver yields to the runtime.
const INLINE_BUDGET: usize = 256;

/// What `execute` left to do.
enum Progress {
    /// The run is over.
    Finished(Result<ErasedEvent, WorkflowError>),
    /// Nothing to do until a task, a message or the deadline wakes the driver.
    Idle,
    /// The inline budget ran out with work left: yield, then go on.
    Busy,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Refuse further messages and stream events: the run is over (or
        // its driver was dropped), and senders must be told so.
        self.close_inbox();
        if let Some(stream) = &self.run.stream {
            stream.close();
        }
    }
}

impl Driver {
    /// Refuses further messages and drops those not read: the run's link
    /// outlives the driver (the handler holds it), and a snapshot request
    /// left in it would keep its caller waiting for an answer forever.
    fn close_inbox(&self) {
        self.run.link.inbox.close();
        while self.run.link.inbox.try_recv().is_some() {}
    }

    /// The driver of `run`, with its core built fresh or from a snapshot,
    /// and the input that sets it going.
    fn new(mut run: Run, start: Start) -> (Self, Input) {
        let journal_stream = run.journal.as_ref().is_some_and(Journal::keeps_stream);
        let options = CoreOptions {
            internal_events: run.internal_events,
            trace: run.trace.is_some(),
            snapshots: run.stream.is_some() || run.journal.is_some(),
            stream_journaled: journal_stream,
        };
        let (core, first) = match start {
            Start::Fresh(event) => (RunCore::new(run.table, options), Input::Start(event)),
            Start::Restored(mut restored) => {
                for (step, events) in std::mem::take(&mut restored.collected) {
                    run.link.collect_into(step, |buffer| buffer.extend(events));
                }
                let children = std::mem::take(&mut restored.children);
                if !children.is_empty() {
                    run.link.children(|c| c.restore(children));
                }
                (RunCore::restored(run.table, options, *restored), Input::Resume)
            }
        };
        tracing::trace!(target: verbose::RECORD, workflow = run.table.info().name, options = ?options, "core created");
        let driver = Self {
            started: Instant::now(),
            core,
            tasks: None,
            waiters: Waiters::default(),
            commands: VecDeque::new(),
            placement: Placement::remembering(
                run.table.info().steps.len(),
                std::ptr::from_ref(run.table) as usize,
                run.run_id,
            ),
            sleep: None,
            journal_due: false,
            snapshot_requests: Vec::new(),
            report: run.verbose || tracing::enabled!(target: verbose::TARGET, tracing::Level::DEBUG),
            record: tracing::enabled!(target: verbose::RECORD, tracing::Level::TRACE),
            retries: None,
            slot: run.limit.take().map(|limit| Box::new(Slot::new(limit))),
            began: false,
            spare: None,
            journal_stream,
            unjournaled: Vec::new(),
            run,
        };
        (driver, first)
    }

    /// Tells the core what happened; what it answers is carried out by the
    /// next `execute`.
    fn handle(&mut self, input: Input) {
        if self.record {
            return self.handle_recorded(input);
        }
        self.core.handle(input, &mut self.commands);
    }

    /// [`handle`](Self::handle), writing the input and the commands it
    /// gave as JSON to `tracing` (target [`verbose::RECORD`],
    /// level trace): what a fresh core needs to replay the run.
    #[cold]
    fn handle_recorded(&mut self, input: Input) {
        let recorded = verbose::recordable(input.to_json());
        let before = self.commands.len();
        self.core.handle(input, &mut self.commands);
        let commands = self
            .commands
            .range(before..)
            .map(|c| verbose::recordable(c.to_json(self.run.table.info())))
            .collect();
        tracing::trace!(
            target: verbose::RECORD,
            workflow = self.run.table.info().name,
            input = %recorded,
            commands = %serde_json::Value::Array(commands),
            "core input"
        );
    }

    /// Ends the run if its deadline has passed.
    fn check_deadline(&mut self) {
        if let (Some(at), Some(after)) = (self.deadline(), self.run.timeout) {
            if Instant::now() >= at {
                self.handle(Input::TimedOut { after });
            }
        }
    }

    /// When the run times out, if it has a timeout.
    fn deadline(&self) -> Option<Instant> {
        self.run.timeout.and_then(|t| self.started.checked_add(t))
    }

    /// Sets the run going with `first` and carries it out to its end.
    async fn run(&mut self, first: Input) -> Result<ErasedEvent, WorkflowError> {
        if self.slot.is_some() {
            // Boxed: a run's task holds its driver's future whole, and
            // waiting for a slot is rare and larger than anything else.
            Box::pin(self.take_slot(false)).await;
            // The timeout starts when the run does, not while it waits in line.
            self.started = Instant::now();
        }
        self.began = !self.core.is_finished();
        self.sleep = self.deadline().map(|at| Box::pin(sleep_until(at)));
        self.journal_due = true;
        self.handle(first);
        self.receive_early();
        loop {
            match self.execute() {
                Progress::Finished(outcome) => return outcome,
                Progress::Busy => {
                    self.at_boundary()?;
                    tokio::task::yield_now().await;
                    continue;
                }
                Progress::Idle => {
                    self.at_boundary()?;
                    // Idle, maybe for hours: give the buffers back, and the
                    // slot if only outside input can move the run on.
                    self.commands = VecDeque::new();
                    self.spare = None;
                    self.release_slot_if_waiting();
                }
            }
            // Biased: the deadline first, so that a busy run cannot starve its
            // timeout; then messages, so that what a step sent or streamed
            // before it returned is handled before its completion. A run that
            // gave its slot back while it waited takes it again before going on.
            tokio::select! {
                biased;
                () = poll_sleep(&mut self.sleep) => {
                    let after = self.run.timeout.unwrap_or_default();
                    self.handle(Input::TimedOut { after });
                }
                Some(message) = self.run.link.inbox.recv() => {
                    self.receive(message);
                }
                Some(joined) = join_next(&mut self.tasks) => match joined {
                    Ok(completion) => {
                        self.placement.completed_on_task(completion.call.step, completion.took);
                        self.completed(completion);
                    }
                    Err(join_error) => {
                        return Err(WorkflowError::Aborted { workflow: self.run.table.info().name, reason: join_error.to_string() })
                    }
                },
            }
            if self.needs_slot() {
                Box::pin(self.take_slot(true)).await;
            }
        }
    }

    /// Carries out the pending commands, oldest first, running light steps
    /// inline; what they cause is appended and carried out in turn.
    fn execute(&mut self) -> Progress {
        let mut budget = INLINE_BUDGET;
        while let Some(command) = self.commands.pop_front() {
            match command {
                // The run ended with an earlier command, or an input handled
                // since this command was issued: nothing more runs.
                Command::Invoke { .. } | Command::Wake { .. } if self.core.is_finished() => {}
                Command::Invoke { invocation, id, step, worker, attempt, input, delay } => {
                    let call = Call { invocation, step, worker, attempt, id };
                    let commands = &self.commands;
                    let more_of_this_step = || {
                        commands.iter().any(|c| matches!(c, Command::Invoke { step: s, .. } if *s == step))
                    };
                    if !self.placement.inline(step, delay, more_of_this_step) {
                        self.spawn(call, input, delay);
                        continue;
                    }
                    self.run_inline(call, input);
                    budget -= 1;
                    if budget == 0 && !self.commands.is_empty() {
                        // A long inline stretch must not outrun the timeout,
                        // nor keep the thread from the runtime's other tasks.
                        self.check_deadline();
                        return Progress::Busy;
                    }
                }
                Command::Wake { waiter, event } => {
                    if let Err(event) = self.waiters.wake(waiter, event) {
                        self.handle(Input::PutBack(event));
                    }
                }
                Command::Stream(event) if self.journal_stream => self.unjournaled.push(event),
                Command::Stream(event) => {
                    if let Some(stream) = &self.run.stream {
                        let _ = stream.send(event);
                    }
                }
                Command::Finish(outcome) => return Progress::Finished(outcome),
            }
        }
        self.check_deadline();
        if self.commands.is_empty() {
            Progress::Idle
        } else {
            Progress::Busy // the deadline passed: its finish is queued
        }
    }

    /// Turns what came in through the link into the core's input; waits are
    /// matched here, where their filters are.
    fn receive(&mut self, message: Inbound) {
        let input = match message {
            Inbound::Send { from, event, target } => Input::Send { from, event, target },
            Inbound::Stream { from, event } => Input::Stream { from, event },
            Inbound::Wait { waiter, from, matches, request, reply } => {
                let claim = self.waiters.begin(waiter, matches, reply, self.core.unclaimed());
                Input::Wait { waiter, from, claim, request }
            }
            Inbound::External { event, target: None } => {
                Input::External { waiter: self.waiters.choose(&event), event }
            }
            Inbound::External { event, target: Some(target) } => Input::ExternalTo { event, target },
            Inbound::Cancel => Input::Cancel,
            Inbound::Unwait(waiter) if self.waiters.withdraw(waiter) => Input::Unwait(waiter),
            Inbound::Unwait(_) => return,
            Inbound::Snapshot { state, reply } => return self.snapshot_requests.push((state, reply)),
            Inbound::Child(event) => {
                if let Some(stream) = &self.run.stream {
                    let _ = stream.send(RunEvent::Child(event));
                }
                return;
            }
        };
        self.handle(input);
    }

    /// An invocation ended: what it sent or streamed before it returned
    /// comes first, then what it returned, unless it broke its declarations.
    fn completed(&mut self, completion: Completion) {
        while let Some(message) = self.run.link.inbox.try_recv() {
            self.receive(message);
        }
        let Completion { call: Call { invocation, step, attempt, id, .. }, mut result, .. } = completion;
        if self.report {
            verbose::returned(self.run.table.info().name, &result);
        }
        if let Some(error) = self.run.link.take_violation(invocation) {
            if result.is_ok() {
                result = Err(StepFailure::Error { error: Box::new(error), retry: None });
            }
        }
        let info: &'static StepInfo = &self.run.table.info().steps[step];
        if info.retries {
            self.decide_retry(invocation, step, attempt, &mut result);
        }
        if !info.children.is_empty() {
            // The input is done with (a retry is another attempt): its
            // children will not be looked for again.
            self.run.link.children(|c| c.forget(id));
        }
        self.handle(Input::StepFinished { invocation, result });
        self.journal_due = true;
    }

    /// The call of `call`'s step with `input`, and the report that it starts.
    fn call_step(&mut self, call: Call, input: StepInput<ErasedEvent>) -> StepFuture {
        let Call { invocation, step, worker, attempt, id } = call;
        let info = self.run.table.info();
        if self.report {
            verbose::invoking(info.name, info.steps[step].name, worker, attempt);
        }
        // A violation left by an earlier holder of this id (a context a
        // step moved to a task that outlived it) is not this one's.
        let _ = self.run.link.take_violation(invocation);
        if info.steps[step].retries {
            self.tried(invocation); // its first attempt starts the policy's clock
        }
        let scope = Scope { link: Arc::clone(&self.run.link), invocation, step, worker, attempt, input: id };
        Arc::clone(&self.run.steps).call(scope, input, self.spare.take())
    }

    /// The record of `invocation` of a step with a retry policy, made as
    /// its first attempt starts.
    fn tried(&mut self, invocation: InvocationId) -> &mut Retrying {
        let run_id = self.run.run_id;
        let retries = self
            .retries
            .get_or_insert_with(|| Box::new(Retries { tried: Vec::new(), jitter: Jitter::new(run_id) }));
        let at = match retries.tried.iter().position(|r| r.invocation == invocation) {
            Some(at) => at,
            None => {
                retries.tried.push(Retrying { invocation, first_started: Instant::now() });
                retries.tried.len() - 1
            }
        };
        &mut retries.tried[at]
    }

    /// Asks the step's retry policy whether a failed attempt is tried again
    /// and after how long, and writes the answer into the failure: the
    /// core decides on that. The invocation's record goes once it is not
    /// retried.
    fn decide_retry(
        &mut self,
        invocation: InvocationId,
        step: StepId,
        attempt: u32,
        result: &mut Result<Emitted<ErasedEvent>, StepFailure>,
    ) {
        let retried = match result {
            Err(StepFailure::Error { error, retry }) => {
                let policy = (self.run.table.retry_policy)(step);
                let elapsed = self.tried(invocation).first_started.elapsed();
                let random = self.retries.as_mut().map_or(0.0, |r| r.jitter.next());
                let failed = FailedAttempt::new(attempt, elapsed, error, random);
                *retry = policy.and_then(|policy| policy.next_delay(&failed));
                retry.is_some().then(|| Arc::<str>::from(error.to_string()))
            }
            _ => None,
        };
        if let (None, Some(retries)) = (&retried, &mut self.retries) {
            retries.tried.retain(|r| r.invocation != invocation);
        }
        self.run.link.set_previous_error(invocation, retried);
    }

    /// Polls an invocation once on the driver: done if it completes, else
    /// handed to a task of its own.
    fn run_inline(&mut self, call: Call, input: StepInput<ErasedEvent>) {
        let step = call.step;
        let mut future = self.call_step(call, input);
        let span = invocation::span(self.run.table, self.run.run_id, call);
        let started = self.placement.time_inline(step).then(Instant::now);
        let mut cx = TaskContext::from_waker(Waker::noop());
        match invocation::poll_step(&mut future, &span, true, &mut cx) {
            Polled::Ready { result, reusable } => {
                self.placement.completed_inline(step, started.map(|at| at.elapsed()));
                if reusable {
                    self.spare = Some(future);
                }
                self.completed(Completion { call, result, took: Duration::ZERO });
            }
            Polled::Pending => {
                self.placement.went_pending(step);
                let on_task = OnTask::resumed(call, future, span);
                self.tasks.get_or_insert_with(JoinSet::new).spawn(on_task);
            }
        }
    }

    fn spawn(&mut self, call: Call, input: StepInput<ErasedEvent>, delay: Duration) {
        let timed = self.placement.spawning(call.step);
        let future = self.call_step(call, input);
        let on_task = OnTask::new(self.run.table, self.run.run_id, call, future, delay, timed);
        self.tasks.get_or_insert_with(JoinSet::new).spawn(on_task);
    }

    /// Records how the run ended (journal, trace) and closes the inbox;
    /// `drive` then stops what is still in flight and [`announce`](Self::announce)s
    /// the end. Borrowed, not consumed: moving the driver would copy it.
    fn end(&mut self, outcome: Result<ErasedEvent, WorkflowError>) -> Result<ErasedEvent, WorkflowError> {
        if let (Err(WorkflowError::Cancelled { .. }), true) = (&outcome, self.began) {
            // Written down before the inbox closes and snapshot requests
            // waiting in it are dropped: their callers fall back on it.
            match self.snapshot(|| Ok(serde_json::Value::Null), true) {
                Ok(snapshot) => self.run.link.leave_cancelled(snapshot),
                Err(error) => {
                    tracing::warn!(%error, "the cancelled run cannot be written down to be resumed")
                }
            }
        }
        let outcome = match &self.run.journal {
            Some(journal) => {
                journal.finish(self.run.table, outcome, self.started.elapsed(), &self.unjournaled)
            }
            None => outcome,
        };
        self.forward_journaled();
        if let (Some(trace), Some(recorded)) = (&self.run.trace, self.core.take_trace()) {
            trace.record(recorded);
        }
        self.close_inbox();
        outcome
    }

    /// Tells the stream how the run ended: its last item.
    fn announce(&self, outcome: &Result<ErasedEvent, WorkflowError>) {
        if let Some(stream) = &self.run.stream {
            let _ = stream.send(RunEvent::Finished(RunOutcome::of(outcome, self.started.elapsed())));
        }
    }
}

/// The next invocation task to end, or never if there is none.
async fn join_next<T: 'static>(tasks: &mut Option<JoinSet<T>>) -> Option<Result<T, tokio::task::JoinError>> {
    match tasks {
        Some(tasks) if !tasks.is_empty() => tasks.join_next().await,
        _ => std::future::pending().await,
    }
}

/// The timeout's timer, or never.
async fn poll_sleep(sleep: &mut Option<Pin<Box<Sleep>>>) {
    match sleep {
        Some(sleep) => sleep.as_mut().await,
        None => std::future::pending().await,
    }
}
