//! The deterministic heart of a run: queues, worker slots, routing, fan-in
//! batches, waits, retries, stop and stall detection.
//!
//! It takes inputs (start, a step finished, a step sent an event, the caller
//! answered, time ran out…) and answers with [`Command`]s (invoke a step,
//! wake a waiter, write to the stream, finish). No tokio, no clock, no I/O:
//! the driver passes the run's elapsed time in, and the same inputs always
//! give the same commands.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use crate::error::{BoxError, WorkflowError};
use crate::event::StepFailed;
use crate::snapshot::EventData;
use crate::snapshot::{
    event_data, event_from, input_data, step_index, BatchData, PendingInput, Snapshot, SnapshotError,
};
use crate::trace::RunTrace;
use crate::workflow::{Dispatch, Emitted, Route, StepId, StepInput, Workflow, WorkflowEvent};

/// Identifies one invocation of a step (across its retries).
pub type InvocationId = usize;

/// Identifies one `ctx.wait_for_event` call.
pub type WaiterId = u64;

/// What a waiter accepts: its type and its filter, over the workflow's events.
pub type Matcher<E> = Box<dyn FnMut(&E) -> bool + Send>;

/// What the driver must do next.
pub enum Command<W: Workflow> {
    /// Call `step` with `input` on a new task, after `delay` (a retry's backoff).
    Invoke {
        /// Reported back in [`RunCore::step_finished`].
        invocation: InvocationId,
        /// The step to call.
        step: StepId,
        /// Which of the step's `num_workers` slots runs it.
        worker: usize,
        /// 1 for the first try, then 2, 3… on retries.
        attempt: u32,
        /// Its input.
        input: StepInput<W::Event>,
        /// How long to wait before calling it.
        delay: Duration,
    },
    /// Hand `event` to the step waiting in `ctx.wait_for_event`.
    Wake {
        /// The waiter, as registered with [`RunCore::wait`].
        waiter: WaiterId,
        /// The event it waited for.
        event: W::Event,
    },
    /// Write to the caller's event stream.
    Stream(RunEvent<W::Event>),
    /// The run is over: drop every task still in flight and return this.
    Finish(Result<W::Output, WorkflowError>),
}

/// An item of a run's event stream.
#[derive(Clone, Debug)]
pub enum RunEvent<E> {
    /// An event a step wrote with `ctx.write_event_to_stream`, or a request
    /// for outside input.
    Event(E),
    /// A step invocation started (with `RunOptions::internal_events`).
    StepStarted {
        /// The step.
        step: &'static str,
        /// Its worker slot, in `0..num_workers`.
        worker: usize,
        /// 1 for the first try.
        attempt: u32,
    },
    /// A step invocation ended (with `RunOptions::internal_events`).
    StepFinished {
        /// The step.
        step: &'static str,
        /// Its worker slot.
        worker: usize,
        /// Which try this was.
        attempt: u32,
        /// Whether it returned events rather than failing.
        succeeded: bool,
    },
    /// The last item: how the run ended.
    Finished(RunOutcome),
}

impl<E> RunEvent<E> {
    /// The same item with its event converted.
    pub fn map<F>(self, convert: impl FnOnce(E) -> F) -> RunEvent<F> {
        match self {
            RunEvent::Event(event) => RunEvent::Event(convert(event)),
            RunEvent::StepStarted { step, worker, attempt } => {
                RunEvent::StepStarted { step, worker, attempt }
            }
            RunEvent::StepFinished { step, worker, attempt, succeeded } => {
                RunEvent::StepFinished { step, worker, attempt, succeeded }
            }
            RunEvent::Finished(outcome) => RunEvent::Finished(outcome),
        }
    }
}

/// How a run ended, as its stream's last item reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// A stop event ended it; await the handler for the result.
    Stopped,
    /// It was cancelled through its handler.
    Cancelled,
    /// It failed; the message is the [`WorkflowError`]'s.
    Failed(String),
}

/// How a step invocation failed.
#[derive(Debug)]
pub enum StepFailure {
    /// The step returned `Err`.
    Error(BoxError),
    /// The step panicked with this message.
    Panic(String),
}

impl fmt::Display for StepFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepFailure::Error(error) => error.fmt(f),
            StepFailure::Panic(message) => write!(f, "panicked: {message}"),
        }
    }
}

/// Options of the core that the caller chooses.
#[derive(Clone, Copy, Debug, Default)]
pub struct CoreOptions {
    /// Whether to stream `StepStarted`/`StepFinished` events.
    pub internal_events: bool,
    /// Seed of the jitter of retry delays.
    pub seed: u64,
    /// Whether to count the edges taken, for [`Trace`](crate::Trace).
    pub trace: bool,
    /// Whether to keep a copy of every input in flight, so that the run can
    /// be snapshotted (a copy per invocation).
    pub snapshots: bool,
}

/// A snapshot, decoded and checked against the workflow: what a resumed
/// run starts from.
pub(crate) struct Restored<E> {
    inputs: Vec<(StepId, Queued<E>)>,
    /// Open batches, none outstanding yet (a batch's id is its index).
    batches: Vec<Batch<E>>,
    unclaimed: Vec<E>,
    pending_requests: usize,
    /// `collect_events` buffers, per step; the driver puts them back.
    pub(crate) collected: Vec<(StepId, Vec<E>)>,
}

/// What the core contributes to a [`Snapshot`].
pub(crate) struct CoreParts {
    pub(crate) inputs: Vec<PendingInput>,
    pub(crate) unclaimed: Vec<EventData>,
    pub(crate) pending_requests: usize,
    pub(crate) batches: Vec<BatchData>,
}

/// How many event names a [`WorkflowError::Stalled`] reports.
const RECENT_EVENTS: usize = 5;

type BatchId = usize;

struct Queued<E> {
    input: StepInput<E>,
    batch: Option<BatchId>,
    /// 1, or the attempt a resumed in-flight input was on.
    attempt: u32,
}

struct Invocation<E> {
    step: StepId,
    worker: usize,
    attempt: u32,
    batch: Option<BatchId>,
    /// A copy of the input, kept when a retry or a failure report may need it.
    input: Option<StepInput<E>>,
    /// When the first attempt started, for `RetryPolicy::max_elapsed`.
    started: Duration,
}

/// What the core keeps per step.
struct StepState<E> {
    /// Inputs waiting for a free worker: the oldest in `next`, so that the
    /// common case of one at a time allocates nothing, the others after it.
    next: Option<Queued<E>>,
    queue: VecDeque<Queued<E>>,
    /// Where its stretch of `slots` starts, and how many of it are free.
    slot_start: usize,
    free: usize,
    /// Whether an invocation keeps a copy of its input, for a retry, a
    /// `StepFailed` report or a snapshot.
    keep_input: bool,
    /// Whether it is listed in `dirty`.
    dirty: bool,
}

impl<E> StepState<E> {
    fn push(&mut self, queued: Queued<E>) {
        if self.next.is_none() && self.queue.is_empty() {
            self.next = Some(queued);
        } else {
            self.queue.push_back(queued);
        }
    }

    fn pop(&mut self) -> Option<Queued<E>> {
        self.next.take().or_else(|| self.queue.pop_front())
    }

    fn len(&self) -> usize {
        usize::from(self.next.is_some()) + self.queue.len()
    }
}

/// The events of one fan-out that are still on their way.
struct Batch<E> {
    /// The step whose fan-out opened it (unknown in a snapshot of an older
    /// build): its `fan_in` steps each run once when the batch settles.
    origin: Option<StepId>,
    /// Queued events and running invocations that carry this batch.
    outstanding: usize,
    /// Events for `Collected<_>` steps, in arrival order.
    collected: Vec<(StepId, E)>,
}

struct Waiter<E> {
    id: WaiterId,
    matches: Matcher<E>,
}

/// The state of one run.
pub struct RunCore<W: Workflow> {
    options: CoreOptions,
    /// Per-step queues, worker slots and flags.
    steps: Vec<StepState<W::Event>>,
    /// The free worker slots of every step, each step in its own stretch.
    slots: Vec<usize>,
    /// Steps with a new input or a freed worker since the last `advance`.
    dirty: Vec<StepId>,
    invocations: Slab<Invocation<W::Event>>,
    /// Open fan-out batches; boxed, since most runs have none.
    batches: Box<Slab<Batch<W::Event>>>,
    waiters: Vec<Waiter<W::Event>>,
    /// Events from the caller that no waiter or step took yet.
    unclaimed: VecDeque<W::Event>,
    /// Requests for outside input not answered yet.
    pending_requests: usize,
    /// The last events routed, as indices into `WorkflowInfo::events`: a
    /// ring, `recent_count` of them ending before `recent_next`.
    recent: [u16; RECENT_EVENTS],
    recent_next: u8,
    recent_count: u8,
    random: u64,
    trace: Option<Box<RunTrace>>,
    finished: bool,
}

impl<W: Workflow> fmt::Debug for Command<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Invoke { step, worker, attempt, delay, .. } => f
                .debug_struct("Invoke")
                .field("step", &W::INFO.steps[*step].name)
                .field("worker", worker)
                .field("attempt", attempt)
                .field("delay", delay)
                .finish_non_exhaustive(),
            Command::Wake { waiter, event } => {
                f.debug_struct("Wake").field("waiter", waiter).field("event", &event.name()).finish()
            }
            Command::Stream(event) => f.debug_tuple("Stream").field(event).finish(),
            Command::Finish(Ok(_)) => f.write_str("Finish(Ok(..))"),
            Command::Finish(Err(error)) => f.debug_tuple("Finish").field(error).finish(),
        }
    }
}

impl<W: Workflow> fmt::Debug for RunCore<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunCore")
            .field("workflow", &W::INFO.name)
            .field("queued", &self.steps.iter().map(StepState::len).collect::<Vec<_>>())
            .field("running", &self.running())
            .field("waiters", &self.waiters.len())
            .field("pending_requests", &self.pending_requests)
            .field("recent", &self.recent_events())
            .field("finished", &self.finished)
            .finish()
    }
}

impl<W: Workflow> Default for RunCore<W> {
    fn default() -> Self {
        Self::new(CoreOptions::default())
    }
}

impl<W: Workflow> RunCore<W> {
    /// A run that has not started.
    pub fn new(options: CoreOptions) -> Self {
        let info = W::INFO.steps;
        let reports_failures = W::Event::step_failed(StepFailed::default()).is_some();
        let mut slots = Vec::with_capacity(info.iter().map(|s| s.num_workers).sum());
        let mut steps = Vec::with_capacity(info.len());
        for (id, step) in info.iter().enumerate() {
            steps.push(StepState {
                next: None,
                queue: VecDeque::new(),
                slot_start: slots.len(),
                free: step.num_workers,
                keep_input: options.snapshots || reports_failures || W::retry_policy(id).is_some(),
                dirty: false,
            });
            slots.extend((0..step.num_workers).rev());
        }
        Self {
            options,
            steps,
            slots,
            dirty: Vec::new(),
            invocations: Slab::default(),
            batches: Box::default(),
            waiters: Vec::new(),
            unclaimed: VecDeque::new(),
            pending_requests: 0,
            recent: [0; RECENT_EVENTS],
            recent_next: 0,
            recent_count: 0,
            random: options.seed | 1,
            trace: options.trace.then(|| Box::new(RunTrace::new(W::INFO))),
            finished: false,
        }
    }

    /// Hands over the trace, at the end of the run.
    pub fn take_trace(&mut self) -> Option<Box<RunTrace>> {
        self.trace.take()
    }

    /// Whether a `Finish` command has been issued.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Invocations in flight, per step.
    pub fn running(&self) -> Vec<usize> {
        W::INFO.steps.iter().zip(&self.steps).map(|(s, state)| s.num_workers - state.free).collect()
    }

    /// Starts the run with `input`.
    pub fn start(&mut self, input: W::Input, now: Duration, commands: &mut Vec<Command<W>>) {
        self.deliver(W::start_event(input), None, commands);
        self.advance(now, commands);
    }

    /// Records that `invocation` ended with `result`.
    pub fn step_finished(
        &mut self,
        invocation: InvocationId,
        result: Result<Emitted<W::Event>, StepFailure>,
        now: Duration,
        commands: &mut Vec<Command<W>>,
    ) {
        if self.finished {
            return;
        }
        let Some(inv) = self.invocations.get(invocation) else { return };
        let (step, worker, attempt, batch) = (inv.step, inv.worker, inv.attempt, inv.batch);
        self.internal(commands, || RunEvent::StepFinished {
            step: W::INFO.steps[step].name,
            worker,
            attempt,
            succeeded: result.is_ok(),
        });
        match result {
            Ok(emitted) => {
                if let Some(trace) = &mut self.trace {
                    match &emitted {
                        Emitted::Nothing => {}
                        Emitted::One(event) => trace.emitted(step, event.index()),
                        Emitted::Many(events) => events.iter().for_each(|e| trace.emitted(step, e.index())),
                    }
                }
                let emitted_batch = match (&emitted, batch) {
                    (Emitted::Many(_), None) => Some(self.batches.insert(Batch {
                        origin: Some(step),
                        outstanding: 0,
                        collected: Vec::new(),
                    })),
                    _ => batch,
                };
                match emitted {
                    Emitted::Nothing => {}
                    Emitted::One(event) => self.deliver(event, batch, commands),
                    Emitted::Many(events) => {
                        for event in events {
                            self.deliver(event, emitted_batch, commands);
                        }
                    }
                }
                if emitted_batch != batch {
                    self.settle(emitted_batch);
                }
            }
            Err(failure) => {
                if self.retry(invocation, &failure, now, commands) {
                    return;
                }
                self.fail(invocation, failure, commands);
            }
        }
        self.end_invocation(invocation);
        self.advance(now, commands);
    }

    /// A step sent `event` with `ctx.send_event` (to every consumer, or to
    /// `target` only) while `invocation` was running.
    pub fn send(
        &mut self,
        invocation: InvocationId,
        event: W::Event,
        target: Option<StepId>,
        now: Duration,
        commands: &mut Vec<Command<W>>,
    ) {
        let batch = self.invocations.get(invocation).and_then(|i| i.batch);
        if let (Some(inv), Some(trace)) = (self.invocations.get(invocation), &mut self.trace) {
            trace.emitted(inv.step, event.index());
        }
        match target {
            None => self.deliver(event, batch, commands),
            Some(step) => {
                self.note(&event);
                self.enqueue(step, StepInput::One(event), batch);
            }
        }
        self.advance(now, commands);
    }

    /// A step wrote `event` to the caller's stream while `invocation` ran.
    pub fn stream(&mut self, invocation: InvocationId, event: W::Event, commands: &mut Vec<Command<W>>) {
        if let (Some(inv), Some(trace)) = (self.invocations.get(invocation), &mut self.trace) {
            trace.streamed(inv.step, event.index());
        }
        if !self.finished {
            commands.push(Command::Stream(RunEvent::Event(event)));
        }
    }

    /// A step waits for an event that `matches`; `request`, if any, is
    /// written to the stream (and routed like any event) first.
    pub fn wait(
        &mut self,
        waiter: WaiterId,
        mut matches: Matcher<W::Event>,
        request: Option<W::Event>,
        now: Duration,
        commands: &mut Vec<Command<W>>,
    ) {
        if self.finished {
            return;
        }
        if let Some(position) = self.unclaimed.iter().position(&mut matches) {
            let event = self.unclaimed.remove(position).expect("position is in range");
            commands.push(Command::Wake { waiter, event });
        } else {
            self.waiters.reserve_exact(1);
            self.waiters.push(Waiter { id: waiter, matches });
        }
        if let Some(request) = request {
            self.note(&request);
            match W::dispatch(request) {
                Dispatch::Stop(output) => self.finish(Ok(output), commands),
                Dispatch::Route(route, request) => {
                    // Written to the stream, and delivered to any consumer,
                    // but not counted as pending: the waiting step itself
                    // keeps the run alive until the answer comes.
                    commands.push(Command::Stream(RunEvent::Event(request.clone())));
                    self.deliver_to_steps(route, request, None);
                }
            }
        }
        self.advance(now, commands);
    }

    /// A waiter gave up (its timeout elapsed, or its step was dropped).
    pub fn unwait(&mut self, waiter: WaiterId) {
        self.waiters.retain(|w| w.id != waiter);
    }

    /// The caller sent `event` through the handler: the first matching
    /// waiter gets it; otherwise the steps that consume it; otherwise it is
    /// kept for a waiter to come, so that nothing the caller sends is lost.
    pub fn external(&mut self, event: W::Event, now: Duration, commands: &mut Vec<Command<W>>) {
        if self.finished {
            return;
        }
        self.note(&event);
        if let Some(index) = self.waiters.iter_mut().position(|w| (w.matches)(&event)) {
            // An answer to a step waiting in place: its request was never
            // counted (the waiting step keeps the run alive), so no count drops.
            let waiter = self.waiters.remove(index);
            commands.push(Command::Wake { waiter: waiter.id, event });
        } else {
            match W::dispatch(event) {
                Dispatch::Stop(output) => self.finish(Ok(output), commands),
                Dispatch::Route(route, event) if route.steps.is_empty() && route.collectors.is_empty() => {
                    self.unclaimed.push_back(event);
                }
                Dispatch::Route(route, event) => {
                    // Taken by a step: this answers a returned request.
                    self.pending_requests = self.pending_requests.saturating_sub(1);
                    self.route(route, event, None, commands);
                }
            }
        }
        self.advance(now, commands);
    }

    /// What the core holds, as snapshot data: inputs in flight (they run
    /// again on resume) then queued, unclaimed events, open requests, batches.
    pub(crate) fn export(&self) -> Result<CoreParts, SnapshotError> {
        let live: Vec<BatchId> =
            (0..self.batches.slots.len()).filter(|&b| self.batches.get(b).is_some()).collect();
        let batch_index = |id: Option<BatchId>| id.and_then(|id| live.iter().position(|&b| b == id));
        let mut inputs = Vec::new();
        for inv in self.invocations.slots.iter().flatten() {
            let step = W::INFO.steps[inv.step].name;
            let input = inv.input.as_ref().ok_or(SnapshotError::InputNotKept { step })?;
            let (collected, events) = input_data(input)?;
            let (attempt, batch) = (inv.attempt, batch_index(inv.batch));
            inputs.push(PendingInput { step: step.to_owned(), attempt, batch, collected, events });
        }
        for (id, state) in self.steps.iter().enumerate() {
            for queued in state.next.iter().chain(&state.queue) {
                let (collected, events) = input_data(&queued.input)?;
                inputs.push(PendingInput {
                    step: W::INFO.steps[id].name.to_owned(),
                    attempt: queued.attempt,
                    batch: batch_index(queued.batch),
                    collected,
                    events,
                });
            }
        }
        let batches = live
            .iter()
            .map(|&b| {
                let batch = self.batches.get(b).expect("the batch is live");
                let collected = batch
                    .collected
                    .iter()
                    .map(|(step, e)| Ok((W::INFO.steps[*step].name.to_owned(), event_data(e)?)))
                    .collect::<Result<_, SnapshotError>>()?;
                let origin = batch.origin.map(|step| W::INFO.steps[step].name.to_owned());
                Ok(BatchData { origin, collected })
            })
            .collect::<Result<_, SnapshotError>>()?;
        Ok(CoreParts {
            inputs,
            unclaimed: self.unclaimed.iter().map(event_data).collect::<Result<_, _>>()?,
            pending_requests: self.pending_requests,
            batches,
        })
    }

    /// Decodes and checks everything of a snapshot the run needs (its
    /// inputs, batches, unclaimed events, `collect_events` buffers), so that
    /// a bad snapshot fails before the run starts, with the place it is bad.
    pub(crate) fn decode(snapshot: &Snapshot) -> Result<Restored<W::Event>, SnapshotError> {
        let events = |list: &[EventData], at: &str| {
            list.iter()
                .enumerate()
                .map(|(j, e)| event_from(e, &format!("{at}[{j}]")))
                .collect::<Result<Vec<_>, _>>()
        };
        let mut batches = Vec::with_capacity(snapshot.batches.len());
        for (b, batch) in snapshot.batches.iter().enumerate() {
            let mut collected = Vec::with_capacity(batch.collected.len());
            for (i, (step, event)) in batch.collected.iter().enumerate() {
                let at = format!("batches[{b}].collected[{i}]");
                collected.push((step_index(W::INFO, step, &at)?, event_from(event, &at)?));
            }
            let origin = match &batch.origin {
                Some(step) => Some(step_index(W::INFO, step, &format!("batches[{b}].origin"))?),
                None => None,
            };
            batches.push(Batch { origin, outstanding: 0, collected });
        }
        let mut inputs = Vec::with_capacity(snapshot.inputs.len());
        for (i, pending) in snapshot.inputs.iter().enumerate() {
            let at = format!("inputs[{i}]");
            let step = step_index(W::INFO, &pending.step, &format!("{at}.step"))?;
            let mut decoded = events(&pending.events, &format!("{at}.events"))?;
            let input = match (pending.collected, decoded.len()) {
                (true, _) => StepInput::Collected(decoded),
                (false, 1) => StepInput::One(decoded.remove(0)),
                (false, n) => {
                    let message = format!("a step takes one event, not {n}");
                    return Err(SnapshotError::BadData {
                        name: pending.step.clone(),
                        at: format!("{at}.events"),
                        message,
                    });
                }
            };
            if pending.batch.is_some_and(|b| b >= batches.len()) {
                let message = format!("there are {} batches", batches.len());
                return Err(SnapshotError::BadData {
                    name: "batch".into(),
                    at: format!("{at}.batch"),
                    message,
                });
            }
            inputs.push((step, Queued { input, batch: pending.batch, attempt: pending.attempt.max(1) }));
        }
        let mut collected = Vec::with_capacity(snapshot.collected.len());
        for (i, buffer) in snapshot.collected.iter().enumerate() {
            let at = format!("collected[{i}]");
            let step = step_index(W::INFO, &buffer.step, &format!("{at}.step"))?;
            collected.push((step, events(&buffer.events, &format!("{at}.events"))?));
        }
        Ok(Restored {
            inputs,
            batches,
            unclaimed: events(&snapshot.unclaimed, "unclaimed")?,
            pending_requests: snapshot.pending_requests,
            collected,
        })
    }

    /// A core rebuilt from a decoded snapshot; `resume` then starts its inputs.
    pub(crate) fn restored(options: CoreOptions, restored: Restored<W::Event>) -> Self {
        let mut core = Self::new(options);
        // In a fresh slab, the batches get the ids 0, 1, 2…: their indices in the snapshot.
        for batch in restored.batches {
            core.batches.insert(batch);
        }
        for (step, queued) in restored.inputs {
            if let Some(open) = queued.batch.and_then(|b| core.batches.get_mut(b)) {
                open.outstanding += 1;
            }
            core.steps[step].push(queued);
            core.mark(step);
        }
        core.unclaimed.extend(restored.unclaimed);
        core.pending_requests = restored.pending_requests;
        core
    }

    /// Starts the inputs of a restored core.
    pub(crate) fn resume(&mut self, now: Duration, commands: &mut Vec<Command<W>>) {
        for id in 0..self.batches.slots.len() {
            self.settle(Some(id)); // a batch whose events were all handled
        }
        self.advance(now, commands);
    }

    /// Puts back an event a waiter could not take (its step was dropped), for
    /// the next waiter.
    pub fn put_back(&mut self, event: W::Event) {
        self.unclaimed.push_front(event);
    }

    /// Ends the run because the caller cancelled it.
    pub fn cancel(&mut self, commands: &mut Vec<Command<W>>) {
        if !self.finished {
            self.finish(Err(WorkflowError::Cancelled { workflow: W::INFO.name }), commands);
        }
    }

    /// Ends the run because its timeout elapsed.
    pub fn timed_out(&mut self, after: Duration, commands: &mut Vec<Command<W>>) {
        let error =
            WorkflowError::Timeout { workflow: W::INFO.name, after, active_steps: self.active_steps() };
        self.finish(Err(error), commands);
    }

    /// Steps with an invocation in flight or an input queued.
    pub fn active_steps(&self) -> Vec<&'static str> {
        let running = self.running();
        (0..running.len())
            .filter(|&s| running[s] > 0 || self.steps[s].len() > 0)
            .map(|s| W::INFO.steps[s].name)
            .collect()
    }

    /// Routes one event: queue it for its consumers, or finish on the stop event.
    fn deliver(&mut self, event: W::Event, batch: Option<BatchId>, commands: &mut Vec<Command<W>>) {
        if self.finished {
            return;
        }
        self.note(&event);
        match W::dispatch(event) {
            Dispatch::Stop(output) => self.finish(Ok(output), commands),
            Dispatch::Route(route, event) => self.route(route, event, batch, commands),
        }
    }

    /// Delivers `event` as its route says; a request for outside input is
    /// also written to the stream and counted until the caller answers.
    fn route(
        &mut self,
        route: &Route,
        event: W::Event,
        batch: Option<BatchId>,
        commands: &mut Vec<Command<W>>,
    ) {
        if route.request {
            self.pending_requests += 1;
            commands.push(Command::Stream(RunEvent::Event(event.clone())));
        }
        self.deliver_to_steps(route, event, batch);
    }

    /// Queues `event` for the steps that consume it; collectors gather it in
    /// its batch.
    fn deliver_to_steps(&mut self, route: &Route, event: W::Event, batch: Option<BatchId>) {
        if route.steps.is_empty() && route.collectors.is_empty() {
            return;
        }
        let mut copies = Copies::new(event, route.steps.len() + route.collectors.len());
        for &step in route.steps {
            self.enqueue(step, StepInput::One(copies.next()), batch);
        }
        for &step in route.collectors {
            let event = copies.next();
            match batch.and_then(|b| self.batches.get_mut(b)) {
                Some(open) => open.collected.push((step, event)),
                None => self.enqueue(step, StepInput::Collected(vec![event]), None),
            }
        }
    }

    fn enqueue(&mut self, step: StepId, input: StepInput<W::Event>, batch: Option<BatchId>) {
        if let Some(open) = batch.and_then(|b| self.batches.get_mut(b)) {
            open.outstanding += 1;
        }
        self.steps[step].push(Queued { input, batch, attempt: 1 });
        self.mark(step);
    }

    /// Lists `step` for the next `advance`.
    fn mark(&mut self, step: StepId) {
        if !self.steps[step].dirty {
            self.steps[step].dirty = true;
            self.dirty.push(step);
        }
    }

    /// The last events routed, oldest first.
    fn recent_events(&self) -> Vec<&'static str> {
        let (next, count) = (usize::from(self.recent_next), usize::from(self.recent_count));
        (0..count)
            .map(|back| {
                W::INFO.events
                    [usize::from(self.recent[(next + RECENT_EVENTS - count + back) % RECENT_EVENTS])]
            })
            .collect()
    }

    fn note(&mut self, event: &W::Event) {
        self.recent[usize::from(self.recent_next)] = event.index() as u16;
        self.recent_next = (self.recent_next + 1) % RECENT_EVENTS as u8;
        self.recent_count = (self.recent_count + 1).min(RECENT_EVENTS as u8);
    }

    /// Tries the invocation again if its step's policy allows; true if so.
    fn retry(
        &mut self,
        invocation: InvocationId,
        failure: &StepFailure,
        now: Duration,
        commands: &mut Vec<Command<W>>,
    ) -> bool {
        let StepFailure::Error(error) = failure else { return false };
        let random = self.next_random();
        let inv = self.invocations.get_mut(invocation).expect("the invocation is in flight");
        let Some(policy) = W::retry_policy(inv.step) else { return false };
        let Some(delay) = policy.next_delay(inv.attempt, now.saturating_sub(inv.started), error, random)
        else {
            return false;
        };
        let Some(input) = inv.input.clone() else { return false };
        inv.attempt += 1;
        let (step, worker, attempt) = (inv.step, inv.worker, inv.attempt);
        self.internal(commands, || RunEvent::StepStarted { step: W::INFO.steps[step].name, worker, attempt });
        commands.push(Command::Invoke { invocation, step, worker, attempt, input, delay });
        true
    }

    /// Reports a failure that will not be retried: as a `StepFailed` event if
    /// a step consumes it (and the failing step is not that one), else by
    /// ending the run.
    fn fail(&mut self, invocation: InvocationId, failure: StepFailure, commands: &mut Vec<Command<W>>) {
        let inv = self.invocations.get_mut(invocation).expect("the invocation is in flight");
        let (step, attempts, batch) = (inv.step, inv.attempt, inv.batch);
        let input = inv.input.take();
        let (event, json) = match &input {
            Some(StepInput::One(e)) => (e.name(), e.to_json().unwrap_or_default()),
            Some(StepInput::Collected(es)) => (
                es.first().map_or("Collected", |e| e.name()),
                serde_json::Value::Array(es.iter().map(|e| e.to_json().unwrap_or_default()).collect()),
            ),
            None => ("", serde_json::Value::Null),
        };
        let name = W::INFO.steps[step].name;
        let report = StepFailed {
            step: name.to_owned(),
            event: event.to_owned(),
            input: json,
            error: failure.to_string(),
            attempts,
        };
        // A failing failure handler is not sent its own failure: that could loop forever.
        match W::Event::step_failed(report).filter(|report| !report.accepted_by(step)) {
            Some(event) => self.deliver(event, batch, commands),
            None => {
                let workflow = W::INFO.name;
                let error = match failure {
                    StepFailure::Error(source) => {
                        WorkflowError::StepFailed { workflow, step: name, attempts, source }
                    }
                    StepFailure::Panic(message) => {
                        WorkflowError::StepPanicked { workflow, step: name, message }
                    }
                };
                self.finish(Err(error), commands);
            }
        }
    }

    /// Frees the invocation's worker and counts it out of its batch.
    fn end_invocation(&mut self, invocation: InvocationId) {
        if let Some(inv) = self.invocations.remove(invocation) {
            let state = &mut self.steps[inv.step];
            self.slots[state.slot_start + state.free] = inv.worker;
            state.free += 1;
            self.mark(inv.step);
            if let Some(open) = inv.batch.and_then(|b| self.batches.get_mut(b)) {
                open.outstanding -= 1;
            }
            self.settle(inv.batch);
        }
    }

    /// Delivers a batch's collected events once nothing of it is on its way.
    fn settle(&mut self, batch: Option<BatchId>) {
        let Some(id) = batch else { return };
        if self.batches.get(id).is_none_or(|b| b.outstanding > 0) {
            return;
        }
        let done = self.batches.remove(id).expect("the batch exists");
        // Every collector the fan-out feeds runs once, even if nothing
        // reached it: a search that found nothing still gets to its merge.
        let fed = done.origin.map_or(&[][..], |origin| W::INFO.steps[origin].fan_in);
        let mut per_step: Vec<(StepId, Vec<W::Event>)> = fed.iter().map(|&step| (step, Vec::new())).collect();
        for (step, event) in done.collected {
            match per_step.iter_mut().find(|(s, _)| *s == step) {
                Some((_, events)) => events.push(event),
                None => per_step.push((step, vec![event])),
            }
        }
        for (step, events) in per_step {
            self.enqueue(step, StepInput::Collected(events), None);
        }
    }

    /// Hands queued inputs to free workers, and detects a stall.
    fn advance(&mut self, now: Duration, commands: &mut Vec<Command<W>>) {
        if self.finished {
            return;
        }
        let mut dirty = std::mem::take(&mut self.dirty);
        for step in dirty.drain(..) {
            self.steps[step].dirty = false;
            while self.steps[step].free > 0 {
                let state = &mut self.steps[step];
                let Some(queued) = state.pop() else { break };
                state.free -= 1;
                let worker = self.slots[state.slot_start + state.free];
                let input = state.keep_input.then(|| queued.input.clone());
                if let Some(trace) = &mut self.trace {
                    trace.invocations[step] += 1;
                    match &queued.input {
                        StepInput::One(event) => trace.consumed(step, event.index()),
                        StepInput::Collected(events) => {
                            events.iter().for_each(|e| trace.consumed(step, e.index()))
                        }
                    }
                }
                let attempt = queued.attempt;
                let invocation = self.invocations.insert(Invocation {
                    step,
                    worker,
                    attempt,
                    batch: queued.batch,
                    input,
                    started: now,
                });
                self.internal(commands, || RunEvent::StepStarted {
                    step: W::INFO.steps[step].name,
                    worker,
                    attempt,
                });
                commands.push(Command::Invoke {
                    invocation,
                    step,
                    worker,
                    attempt,
                    input: queued.input,
                    delay: Duration::ZERO,
                });
            }
        }
        self.dirty = dirty; // keep the allocation
        if self.invocations.is_empty() && self.pending_requests == 0 {
            let error = WorkflowError::Stalled { workflow: W::INFO.name, last_events: self.recent_events() };
            self.finish(Err(error), commands);
        }
    }

    fn internal(&self, commands: &mut Vec<Command<W>>, event: impl FnOnce() -> RunEvent<W::Event>) {
        if self.options.internal_events {
            commands.push(Command::Stream(event()));
        }
    }

    fn finish(&mut self, outcome: Result<W::Output, WorkflowError>, commands: &mut Vec<Command<W>>) {
        self.finished = true;
        commands.retain(|c| matches!(c, Command::Stream(_)));
        commands.push(Command::Finish(outcome));
    }

    /// xorshift64: deterministic jitter, seeded per run.
    fn next_random(&mut self) -> f64 {
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        (self.random >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Hands out `n` copies of an event: clones for all but the last, which
/// gets the original, so that a single consumer costs no clone.
struct Copies<E> {
    event: Option<E>,
    left: usize,
}

impl<E: Clone> Copies<E> {
    fn new(event: E, n: usize) -> Self {
        Self { event: Some(event), left: n }
    }

    fn next(&mut self) -> E {
        self.left -= 1;
        if self.left == 0 {
            self.event.take().expect("no more copies than announced")
        } else {
            self.event.clone().expect("no more copies than announced")
        }
    }
}

/// A vector with reusable slots, addressed by index.
struct Slab<T> {
    slots: Vec<Option<T>>,
    free: Vec<usize>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self { slots: Vec::new(), free: Vec::new(), len: 0 }
    }
}

impl<T> Slab<T> {
    fn insert(&mut self, value: T) -> usize {
        self.len += 1;
        if self.free.is_empty() {
            self.slots.reserve_exact(1); // grow one by one: a waiting run holds few
        }
        match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(value);
                i
            }
            None => {
                self.slots.push(Some(value));
                self.slots.len() - 1
            }
        }
    }

    fn get(&self, i: usize) -> Option<&T> {
        self.slots.get(i).and_then(Option::as_ref)
    }

    fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.slots.get_mut(i).and_then(Option::as_mut)
    }

    fn remove(&mut self, i: usize) -> Option<T> {
        let value = self.slots.get_mut(i).and_then(Option::take);
        if value.is_some() {
            self.free.reserve_exact(1);
            self.free.push(i);
            self.len -= 1;
        }
        value
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    #[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
    struct Job(u8);
    #[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
    struct Done(u8);
    #[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
    struct Approval(bool);

    /// Start → `split` → Job×n → `work` (1 worker) and `audit` (broadcast,
    /// 2 workers) → Done → `gather` (collects a fan-out) → stop.
    struct Flow;

    #[workflow(external = [Approval])]
    impl Flow {
        #[step]
        async fn split(&self, ev: StartEvent<u8>) -> Vec<Job> {
            (0..ev.input).map(Job).collect()
        }

        #[step(num_workers = 1)]
        async fn work(&self, ev: Job) -> Option<Done> {
            Some(Done(ev.0))
        }

        #[step(num_workers = 2)]
        async fn audit(&self, ev: Job) -> Vec<Emit<(Job, StopEvent<u8>)>> {
            vec![Emit::new(ev)]
        }

        #[step]
        async fn gather(&self, ev: Collected<Done>) -> Emit<(InputRequired<u8>, StopEvent<u8>)> {
            Emit::new(StopEvent::new(ev.len() as u8))
        }

        #[step]
        async fn approve(&self, ev: Approval) -> StopEvent<u8> {
            StopEvent::new(u8::from(ev.0))
        }
    }

    const SPLIT: StepId = 0;
    const WORK: StepId = 1;
    const AUDIT: StepId = 2;
    const GATHER: StepId = 3;
    const NOW: Duration = Duration::ZERO;

    type Cmds = Vec<Command<Flow>>;

    /// The invocations among `commands` (which are drained), as (id, step, input).
    fn invoked(commands: &mut Cmds) -> Vec<(InvocationId, StepId, String)> {
        commands
            .drain(..)
            .filter_map(|c| match c {
                Command::Invoke { invocation, step, input, .. } => {
                    Some((invocation, step, format!("{input:?}")))
                }
                Command::Finish(outcome) => panic!("unexpected finish: {:?}", outcome.map(|_| ())),
                _ => None,
            })
            .collect()
    }

    fn finished(commands: &mut Cmds) -> Result<u8, WorkflowError> {
        match commands.pop() {
            Some(Command::Finish(outcome)) => outcome,
            other => panic!("expected a finish, got {other:?}"),
        }
    }

    /// A core that has started with `input`, and the invocation of `split`.
    fn started(input: u8) -> (RunCore<Flow>, Cmds, InvocationId) {
        let (mut core, mut commands) = (RunCore::<Flow>::default(), Vec::new());
        core.start(input, NOW, &mut commands);
        let calls = invoked(&mut commands);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].1, SPLIT);
        (core, commands, calls[0].0)
    }

    fn jobs(range: std::ops::Range<u8>) -> Emitted<FlowEvent> {
        Emitted::Many(range.map(|i| FlowEvent::Job(Job(i))).collect())
    }

    #[test]
    fn start_invokes_the_start_consumer() {
        let (mut core, mut commands) = (RunCore::<Flow>::default(), Vec::new());
        core.start(3, NOW, &mut commands);
        let calls = invoked(&mut commands);
        assert_eq!(calls[0].2, "One(StartEvent(StartEvent { input: 3 }))");
    }

    #[test]
    fn events_are_broadcast_and_held_back_beyond_num_workers() {
        let (mut core, mut commands, split) = started(3);
        core.step_finished(split, Ok(jobs(0..3)), NOW, &mut commands);
        let calls = invoked(&mut commands);
        // `work` has one worker, `audit` two: three jobs give 1 + 2 invocations now.
        assert_eq!(calls.iter().filter(|c| c.1 == WORK).count(), 1);
        assert_eq!(calls.iter().filter(|c| c.1 == AUDIT).count(), 2);
        assert_eq!(core.active_steps(), ["work", "audit"]);

        // `work` finishes without an event: the next queued job goes to it, in order.
        let work = calls.iter().find(|c| c.1 == WORK).unwrap().0;
        core.step_finished(work, Ok(Emitted::Nothing), NOW, &mut commands);
        assert_eq!(invoked(&mut commands)[0].2, "One(Job(Job(1)))");
    }

    #[test]
    fn a_collector_runs_once_when_its_fan_out_has_settled() {
        let (mut core, mut commands, split) = started(3);
        core.step_finished(split, Ok(jobs(0..3)), NOW, &mut commands);
        let mut pending = invoked(&mut commands);
        let mut gathered = None;
        // Drive every invocation: `work` turns each job into `Done` (but job 1
        // into nothing), `audit` emits nothing, until `gather` is invoked.
        while let Some((id, step, input)) = pending.pop() {
            let result = match step {
                WORK if input.contains("Job(1)") => Emitted::Nothing,
                WORK => Emitted::One(FlowEvent::Done(Done(9))),
                AUDIT => Emitted::Nothing,
                GATHER => {
                    gathered = Some(input);
                    continue;
                }
                other => panic!("unexpected step {other}"),
            };
            core.step_finished(id, Ok(result), NOW, &mut commands);
            pending.extend(invoked(&mut commands));
        }
        assert_eq!(gathered.as_deref(), Some("Collected([Done(Done(9)), Done(Done(9))])"));
    }

    #[test]
    fn an_empty_fan_out_still_runs_its_collector_once_with_nothing() {
        let (mut core, mut commands, split) = started(0);
        core.step_finished(split, Ok(jobs(0..0)), NOW, &mut commands);
        let calls = invoked(&mut commands);
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!((calls[0].1, calls[0].2.as_str()), (GATHER, "Collected([])"));
    }

    #[test]
    fn a_fan_out_whose_branches_emit_nothing_still_runs_its_collector() {
        let (mut core, mut commands, split) = started(2);
        core.step_finished(split, Ok(jobs(0..2)), NOW, &mut commands);
        let mut pending = invoked(&mut commands);
        let mut gathered = Vec::new();
        while let Some((id, step, input)) = pending.pop() {
            if step == GATHER {
                gathered.push(input);
                continue;
            }
            core.step_finished(id, Ok(Emitted::Nothing), NOW, &mut commands);
            pending.extend(invoked(&mut commands));
        }
        assert_eq!(gathered, ["Collected([])"], "once, when the last branch ended");
    }

    #[test]
    fn the_stop_event_finishes_at_once_and_later_completions_are_ignored() {
        let (mut core, mut commands, split) = started(1);
        core.step_finished(split, Ok(jobs(0..2)), NOW, &mut commands);
        let calls = invoked(&mut commands);
        let audit = calls.iter().find(|c| c.1 == AUDIT).unwrap().0;
        let emitted = Emitted::Many(vec![
            FlowEvent::StopEvent(StopEvent::new(7)),
            FlowEvent::Job(Job(9)), // after the stop: never routed
        ]);
        core.step_finished(audit, Ok(emitted), NOW, &mut commands);
        assert_eq!(finished(&mut commands).unwrap(), 7);
        assert!(commands.is_empty(), "a finish is the only command");
        let work = calls.iter().find(|c| c.1 == WORK).unwrap().0;
        core.step_finished(work, Ok(Emitted::Nothing), NOW, &mut commands);
        assert!(commands.is_empty(), "nothing happens after the finish");
    }

    #[test]
    fn no_work_left_and_no_stop_is_a_stall_naming_recent_events() {
        let (mut core, mut commands, split) = started(0);
        core.step_finished(split, Ok(Emitted::Nothing), NOW, &mut commands);
        let err = finished(&mut commands).unwrap_err();
        assert!(
            matches!(&err, WorkflowError::Stalled { last_events, .. } if last_events == &["StartEvent<u8>"]),
            "{err:?}"
        );
    }

    #[test]
    fn a_request_for_input_keeps_the_run_waiting_until_the_caller_answers() {
        let (mut core, mut commands) = (RunCore::<Flow>::default(), Vec::new());
        core.start(0, NOW, &mut commands);
        let split = invoked(&mut commands)[0].0;
        // Pretend `split` asked for input: the request is streamed, the run waits.
        let request = FlowEvent::InputRequired(InputRequired::new(1));
        core.step_finished(split, Ok(Emitted::One(request)), NOW, &mut commands);
        assert!(matches!(
            commands.as_slice(),
            [Command::Stream(RunEvent::Event(FlowEvent::InputRequired(_)))]
        ));
        commands.clear();
        assert!(!core.is_finished(), "waiting for input is not a stall");
        core.external(FlowEvent::Approval(Approval(true)), NOW, &mut commands);
        let approve = invoked(&mut commands)[0].0;
        core.step_finished(
            approve,
            Ok(Emitted::One(FlowEvent::StopEvent(StopEvent::new(1)))),
            NOW,
            &mut commands,
        );
        assert_eq!(finished(&mut commands).unwrap(), 1);
    }

    #[test]
    fn a_waiter_gets_the_matching_external_event_and_others_are_kept() {
        let (mut core, mut commands, _split) = started(1);
        core.external(FlowEvent::InputRequired(InputRequired::new(5)), NOW, &mut commands);
        assert!(commands.is_empty(), "an event nobody takes is kept, not lost");
        let wants_five = Box::new(|e: &FlowEvent| matches!(e, FlowEvent::InputRequired(r) if r.request == 5));
        core.wait(42, wants_five, None, NOW, &mut commands);
        assert!(matches!(commands.as_slice(), [Command::Wake { waiter: 42, .. }]));
    }

    #[test]
    fn answering_a_waiting_step_leaves_a_returned_request_open() {
        let (mut core, mut commands, split) = started(1);
        core.step_finished(split, Ok(jobs(0..1)), NOW, &mut commands);
        let calls = invoked(&mut commands);
        let work = calls.iter().find(|c| c.1 == WORK).unwrap().0;
        let audit = calls.iter().find(|c| c.1 == AUDIT).unwrap().0;
        // `work` waits in place for an approval; `audit` returns a request.
        let approval = Box::new(|e: &FlowEvent| matches!(e, FlowEvent::Approval(_)));
        core.wait(7, approval, None, NOW, &mut commands);
        let request = FlowEvent::InputRequired(InputRequired::new(3));
        core.step_finished(audit, Ok(Emitted::One(request)), NOW, &mut commands);
        commands.clear();

        // The caller answers the waiting step: that answers no returned request.
        core.external(FlowEvent::Approval(Approval(false)), NOW, &mut commands);
        assert!(matches!(commands.as_slice(), [Command::Wake { waiter: 7, .. }]));
        commands.clear();
        core.step_finished(work, Ok(Emitted::Nothing), NOW, &mut commands);
        assert!(!core.is_finished(), "the returned request is still open: {commands:?}");

        // The answer to the request reaches `approve`, which stops the run.
        core.external(FlowEvent::Approval(Approval(true)), NOW, &mut commands);
        let approve = invoked(&mut commands)[0].0;
        let stop = Emitted::One(FlowEvent::StopEvent(StopEvent::new(1)));
        core.step_finished(approve, Ok(stop), NOW, &mut commands);
        assert_eq!(finished(&mut commands).unwrap(), 1);
    }

    #[test]
    fn a_failure_finishes_the_run_naming_the_step() {
        let (mut core, mut commands, split) = started(1);
        core.step_finished(split, Err(StepFailure::Panic("boom".into())), NOW, &mut commands);
        let err = finished(&mut commands).unwrap_err();
        assert!(matches!(err, WorkflowError::StepPanicked { step: "split", .. }), "{err:?}");
    }

    #[test]
    fn cancel_and_timeout_finish_with_their_own_errors() {
        let (mut core, mut commands, _) = started(1);
        core.timed_out(Duration::from_secs(1), &mut commands);
        let err = finished(&mut commands).unwrap_err();
        assert!(matches!(&err, WorkflowError::Timeout { active_steps, .. } if active_steps == &["split"]));

        let (mut core, mut commands, _) = started(1);
        core.cancel(&mut commands);
        assert!(matches!(
            finished(&mut commands).unwrap_err(),
            WorkflowError::Cancelled { workflow: "Flow" }
        ));
    }

    #[test]
    fn a_stall_reports_the_last_five_events_oldest_first() {
        let (mut core, mut commands, split) = started(7);
        // `work` and `audit` both take each job; finish them all with nothing.
        core.step_finished(split, Ok(jobs(0..7)), NOW, &mut commands);
        let mut pending = invoked(&mut commands);
        while let Some((id, _, _)) = pending.pop() {
            core.step_finished(id, Ok(Emitted::Nothing), NOW, &mut commands);
            if core.is_finished() {
                break;
            }
            pending.extend(invoked(&mut commands));
        }
        let err = finished(&mut commands).unwrap_err();
        let WorkflowError::Stalled { last_events, .. } = err else { panic!("{err:?}") };
        assert_eq!(last_events, ["Job", "Job", "Job", "Job", "Job"], "StartEvent<u8> has left the ring");
    }

    #[test]
    fn internal_events_report_worker_slots() {
        let mut core = RunCore::<Flow>::new(CoreOptions {
            internal_events: true,
            seed: 1,
            trace: false,
            snapshots: false,
        });
        let mut commands = Vec::new();
        core.start(1, NOW, &mut commands);
        assert!(matches!(
            commands.first(),
            Some(Command::Stream(RunEvent::StepStarted { step: "split", worker: 0, attempt: 1 }))
        ));
    }
}
