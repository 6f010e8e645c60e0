//! The deterministic heart of a run: queues, worker slots, routing, fan-in
//! batches, retries, stop and stall detection, as one reducer.
//!
//! A run's core is told what happened, one [`Input`] at a time, through its
//! one entry [`RunCore::handle`], and answers with [`Command`]s (invoke a
//! step, wake a waiter, write to the stream, finish). No tokio, no clock,
//! no I/O, no user code: whether a failed step is retried, and after how
//! long, is decided by its retry policy in the driver and arrives in the
//! input, so that the same inputs always give the same commands.

mod command;
mod containers;
mod failure;
mod input;
mod restore;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

pub use self::command::{Command, RunEvent, RunFailure, RunOutcome};
use self::containers::{Copies, Queue, Recent, Slab};
pub(crate) use self::failure::Recovery;
pub use self::input::{Input, StepFailure};
pub(crate) use self::restore::Restored;
use super::table::Table;
use crate::contract::{Emitted, InputId, InvocationId, StepId, StepInput, WorkflowInfo};
use crate::erased::ErasedEvent;
use crate::error::WorkflowError;
use crate::trace::RunTrace;

/// Options of the core that the caller chooses.
#[derive(Clone, Copy, Debug, Default)]
pub struct CoreOptions {
    /// Whether to stream `StepStarted`/`StepFinished` events.
    pub internal_events: bool,
    /// Whether to count the edges taken, for [`Trace`](crate::trace::Trace).
    pub trace: bool,
    /// Whether to keep a copy of every input in flight, so that the run can
    /// be snapshotted (a copy per invocation).
    pub snapshots: bool,
    /// Whether the run's stream is journaled with it: a step in flight when
    /// the run was journaled runs again on resume, and does not stream again
    /// the events it streamed before (its first `n` writes and requests
    /// are dropped), so that a reader of the journaled stream sees each once.
    pub stream_journaled: bool,
}

/// How many event names a [`WorkflowError::Stalled`] reports.
const RECENT_EVENTS: usize = 5;

type BatchId = usize;

struct Queued {
    input: StepInput<ErasedEvent>,
    batch: Option<BatchId>,
    /// 1; after a recovery, the attempts its step made before, plus 1;
    /// for a resumed in-flight input, the attempt it was on.
    attempt: u32,
    /// Names this input for good: kept in snapshots, so that a step run
    /// again after a resume finds the child runs it started before.
    id: InputId,
    /// For an input in flight when its run was journaled with its stream:
    /// how many events its invocation had streamed. Run again, it does not
    /// stream those again (see [`CoreOptions::stream_journaled`]).
    streamed: u32,
}

struct Invocation {
    step: StepId,
    worker: usize,
    attempt: u32,
    id: InputId,
    batch: Option<BatchId>,
    /// A copy of the input, kept when a retry or a failure report may need it.
    input: Option<StepInput<ErasedEvent>>,
    /// How many events this attempt streamed (written or as a wait's request).
    streamed: u32,
    /// How many of them an earlier run of it streamed and journaled: these
    /// are not streamed again.
    journaled: u32,
}

/// What the core keeps per step.
struct StepState {
    /// Inputs waiting for a free worker, oldest first.
    queue: Queue<Queued>,
    /// Where its stretch of `slots` starts, and how many of it are free.
    slot_start: usize,
    free: usize,
    /// Whether an invocation keeps a copy of its input, for a retry, a
    /// `StepFailed` report or a snapshot.
    keep_input: bool,
    /// Whether it is listed in `dirty`.
    dirty: bool,
}

/// The events of one fan-out that are still on their way.
struct Batch {
    /// The step whose fan-out opened it (unknown in a snapshot of an older
    /// build): its `fan_in` steps each run once when the batch settles.
    origin: Option<StepId>,
    /// Queued events and running invocations that carry this batch.
    outstanding: usize,
    /// Events for `Collected<_>` steps, in arrival order.
    collected: Vec<(StepId, ErasedEvent)>,
}

/// Where an event being routed comes from, which decides how it counts
/// toward the requests for input that keep a run waiting.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// A step returned or sent it (or it is the start event): a request
    /// among them is streamed and counted until answered.
    Step,
    /// A waiting step's request: streamed whatever its type (unless the
    /// step's earlier run streamed it, `streamed`), and not counted, since
    /// the waiting step keeps the run alive itself.
    WaitRequest { streamed: bool },
    /// The caller sent it and no waiter took it: kept if no step takes it,
    /// else it answers a returned request.
    Caller,
}

/// The state of one run.
pub struct RunCore {
    table: &'static Table,
    options: CoreOptions,
    /// Per-step queues, worker slots and flags.
    steps: Vec<StepState>,
    /// The free worker slots of every step, each step in its own stretch.
    slots: Vec<usize>,
    /// Steps with a new input or a freed worker since the last `advance`.
    dirty: Vec<StepId>,
    invocations: Slab<Invocation>,
    /// Open fan-out batches; boxed, since most runs have none.
    batches: Box<Slab<Batch>>,
    /// Events from the caller that no waiter or step took yet.
    unclaimed: VecDeque<ErasedEvent>,
    /// Requests for outside input not answered yet.
    pending_requests: usize,
    recent: Recent<RECENT_EVENTS>,
    trace: Option<Box<RunTrace>>,
    finished: bool,
    /// Steps suspended in `wait_for_event` with no answer yet.
    waits: usize,
    /// Whether `Idle` was streamed since something last ran.
    idle: bool,
    /// Recoveries made and attempts carried over them; boxed and made on
    /// the first failure a handler takes, since most runs have none.
    recovery: Option<Box<Recovery>>,
    /// Set while the events one step returned together are routed: their
    /// steps start at the next `advance`, not one by one, so that nothing
    /// starts if a later one of them is the stop event.
    defer_starts: bool,
    /// The id the next queued input gets.
    next_input: InputId,
}

impl fmt::Debug for RunCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunCore")
            .field("workflow", &self.info().name)
            .field("queued", &self.steps.iter().map(|s| s.queue.len()).collect::<Vec<_>>())
            .field("running", &self.running())
            .field("pending_requests", &self.pending_requests)
            .field("recent", &self.recent_events())
            .field("finished", &self.finished)
            .finish()
    }
}

impl RunCore {
    /// A run of `table`'s workflow that has not started.
    pub fn new(table: &'static Table, options: CoreOptions) -> Self {
        let info = table.info().steps;
        let reports_failures = table.info().step_failed.is_some();
        let mut slots = Vec::with_capacity(info.iter().map(|s| s.num_workers).sum());
        let mut steps = Vec::with_capacity(info.len());
        for step in info {
            steps.push(StepState {
                queue: Queue::default(),
                slot_start: slots.len(),
                free: step.num_workers,
                keep_input: options.snapshots || reports_failures || step.retries,
                dirty: false,
            });
            slots.extend((0..step.num_workers).rev());
        }
        Self {
            table,
            options,
            steps,
            slots,
            dirty: Vec::new(),
            invocations: Slab::default(),
            batches: Box::default(),
            unclaimed: VecDeque::new(),
            pending_requests: 0,
            recent: Recent::default(),
            trace: options.trace.then(|| Box::new(RunTrace::new(table.info()))),
            finished: false,
            defer_starts: false,
            recovery: None,
            waits: 0,
            idle: false,
            next_input: 0,
        }
    }

    /// Takes in one thing that happened to the run and appends what to do
    /// about it to `out`. After the run has finished, every input is ignored.
    pub fn handle(&mut self, input: Input, out: &mut VecDeque<Command>) {
        if self.finished {
            return;
        }
        match input {
            Input::Start(event) => self.route(event, Origin::Step, None, out),
            Input::Resume => {
                for id in self.batches.ids().collect::<Vec<_>>() {
                    self.settle(Some(id), out); // a batch whose events were all handled
                }
            }
            Input::StepFinished { invocation, result } => self.step_finished(invocation, result, out),
            Input::Send { from, event, target } => self.sent(from, event, target, out),
            Input::Stream { from, event } => {
                if let (Some(inv), Some(trace)) = (self.invocations.get(from), &mut self.trace) {
                    trace.streamed(inv.step, event.index());
                }
                if self.streams_again(from) {
                    out.push_back(Command::Stream(RunEvent::Event(event)));
                }
            }
            Input::Wait { waiter, from, claim, request } => {
                // `claim` picks the unclaimed event that answers the wait at
                // once; the request is written to the stream and routed.
                match claim.and_then(|at| self.unclaimed.remove(at)) {
                    Some(event) => out.push_back(Command::Wake { waiter, event }),
                    None => self.waits += 1,
                }
                if let Some(request) = request {
                    let streamed = !self.streams_again(from);
                    self.route(request, Origin::WaitRequest { streamed }, None, out);
                }
            }
            Input::External { event, waiter: Some(waiter) } => {
                // An answer to a step waiting in place: its request was never
                // counted (the waiting step keeps the run alive), so no count drops.
                self.recent.note(event.index());
                self.waits = self.waits.saturating_sub(1);
                out.push_back(Command::Wake { waiter, event });
            }
            Input::Unwait(_) => self.waits = self.waits.saturating_sub(1),
            Input::External { event, waiter: None } => self.route(event, Origin::Caller, None, out),
            Input::ExternalTo { event, target } => {
                // Taken by a step, as a routed caller's event that a step
                // consumes: it answers a returned request.
                self.recent.note(event.index());
                self.pending_requests = self.pending_requests.saturating_sub(1);
                self.enqueue(target, StepInput::One(event), None, out);
            }
            Input::PutBack(event) => self.unclaimed.push_front(event),
            Input::Cancel => self.finish(Err(WorkflowError::Cancelled { workflow: self.info().name }), out),
            Input::TimedOut { after } => {
                let active_steps = self.active_steps();
                self.finish(
                    Err(WorkflowError::Timeout { workflow: self.info().name, after, active_steps }),
                    out,
                );
            }
        }
        self.advance(out);
    }

    /// The workflow's graph.
    pub fn info(&self) -> &'static WorkflowInfo {
        self.table.info()
    }

    /// Hands over the trace, at the end of the run.
    pub fn take_trace(&mut self) -> Option<Box<RunTrace>> {
        self.trace.take()
    }

    /// Whether only outside input can move the run on: nothing runs but
    /// steps waiting for an answer, and an answer is awaited.
    pub fn awaits_outside_input(&self) -> bool {
        !self.finished
            && self.invocations.len() <= self.waits
            && (self.pending_requests > 0 || self.waits > 0)
    }

    /// Whether a `Finish` command has been issued.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Invocations in flight, per step.
    pub fn running(&self) -> Vec<usize> {
        self.info().steps.iter().zip(&self.steps).map(|(s, state)| s.num_workers - state.free).collect()
    }

    /// Events the caller sent that no waiter or step took yet, oldest
    /// first: where a new wait looks for its answer.
    pub fn unclaimed(&self) -> impl Iterator<Item = &ErasedEvent> {
        self.unclaimed.iter()
    }

    /// Steps with an invocation in flight or an input queued.
    pub fn active_steps(&self) -> Vec<&'static str> {
        let running = self.running();
        (0..running.len())
            .filter(|&s| running[s] > 0 || !self.steps[s].queue.is_empty())
            .map(|s| self.info().steps[s].name)
            .collect()
    }

    fn step_finished(
        &mut self,
        invocation: InvocationId,
        result: Result<Emitted<ErasedEvent>, StepFailure>,
        out: &mut VecDeque<Command>,
    ) {
        let Some(inv) = self.invocations.get(invocation) else { return };
        let (step, worker, attempt, batch) = (inv.step, inv.worker, inv.attempt, inv.batch);
        self.internal(out, || RunEvent::StepFinished {
            step: self.info().steps[step].name,
            worker,
            attempt,
            succeeded: result.is_ok(),
            output: match &result {
                Ok(Emitted::One(event)) => vec![event.name()],
                Ok(Emitted::Many(events)) => events.iter().map(ErasedEvent::name).collect(),
                Ok(Emitted::Nothing) | Err(_) => Vec::new(),
            },
        });
        match result {
            // Outside a fan-out the worker is freed first, so that what the
            // step returned can start on it at once (a step that loops on
            // itself has one worker). In a fan-out the events are counted
            // into the batch first, so that it cannot settle before them.
            Ok(emitted) if batch.is_none() => {
                self.end_invocation(invocation, out);
                self.emitted(step, batch, emitted, out);
                return;
            }
            Ok(emitted) => self.emitted(step, batch, emitted, out),
            Err(failure) => {
                if self.retry(invocation, &failure, out) {
                    return;
                }
                self.fail(invocation, failure, out);
            }
        }
        self.end_invocation(invocation, out);
    }

    /// Routes what an invocation of `step` (of fan-out `batch`) returned; a
    /// fan-out opens a batch of its own if it is not part of one already.
    fn emitted(
        &mut self,
        step: StepId,
        batch: Option<BatchId>,
        emitted: Emitted<ErasedEvent>,
        out: &mut VecDeque<Command>,
    ) {
        if let Some(trace) = &mut self.trace {
            match &emitted {
                Emitted::Nothing => {}
                Emitted::One(event) => trace.emitted(step, event.index()),
                Emitted::Many(events) => events.iter().for_each(|e| trace.emitted(step, e.index())),
            }
        }
        match emitted {
            Emitted::Nothing => {}
            Emitted::One(event) => self.route(event, Origin::Step, batch, out),
            Emitted::Many(events) => {
                let fan_out = match batch {
                    Some(batch) => Some(batch),
                    None => Some(self.batches.insert(Batch {
                        origin: Some(step),
                        outstanding: 0,
                        collected: Vec::new(),
                    })),
                };
                self.defer_starts = true;
                for event in events {
                    if self.finished {
                        break; // events after the stop event are never routed
                    }
                    self.route(event, Origin::Step, fan_out, out);
                }
                self.defer_starts = false;
                if fan_out != batch {
                    self.settle(fan_out, out);
                }
            }
        }
    }

    fn sent(
        &mut self,
        from: InvocationId,
        event: ErasedEvent,
        target: Option<StepId>,
        out: &mut VecDeque<Command>,
    ) {
        let batch = self.invocations.get(from).and_then(|i| i.batch);
        if let (Some(inv), Some(trace)) = (self.invocations.get(from), &mut self.trace) {
            trace.emitted(inv.step, event.index());
        }
        match target {
            None => self.route(event, Origin::Step, batch, out),
            Some(step) => {
                self.recent.note(event.index());
                self.enqueue(step, StepInput::One(event), batch, out);
            }
        }
    }

    /// The one place an event is routed by its type: queued for the steps
    /// that consume it, the end of the run if it is the stop event, written
    /// to the stream and counted if it asks for input, kept if it came from
    /// the caller and nothing takes it.
    fn route(
        &mut self,
        event: ErasedEvent,
        origin: Origin,
        batch: Option<BatchId>,
        out: &mut VecDeque<Command>,
    ) {
        self.recent.note(event.index());
        let route = &self.info().routes[event.index()];
        if route.stop {
            return self.finish(Ok(event), out);
        }
        let consumed = !route.steps.is_empty() || !route.collectors.is_empty();
        if origin == Origin::Caller {
            if !consumed {
                self.unclaimed.push_back(event);
                return;
            }
            // Taken by a step: this answers a returned request.
            self.pending_requests = self.pending_requests.saturating_sub(1);
        }
        // A wait's request is streamed whatever its type (unless its step's
        // earlier run did), and never counted: the waiting step keeps the run alive.
        let streams = match origin {
            Origin::WaitRequest { streamed } => !streamed,
            Origin::Step | Origin::Caller => {
                if route.request {
                    self.pending_requests += 1;
                }
                route.request
            }
        };
        if streams {
            out.push_back(Command::Stream(RunEvent::Event(event.clone())));
        }
        if !consumed {
            return;
        }
        let mut copies = Copies::new(event, route.steps.len() + route.collectors.len());
        for &step in route.steps {
            self.enqueue(step, StepInput::One(copies.next()), batch, out);
        }
        for &step in route.collectors {
            let event = copies.next();
            match batch.and_then(|b| self.batches.get_mut(b)) {
                Some(open) => open.collected.push((step, event)),
                None => self.enqueue(step, StepInput::Collected(vec![event]), None, out),
            }
        }
    }

    /// Hands `input` to `step`: started at once on a free worker if none
    /// is queued before it (the common case, which skips the queue and the
    /// next `advance`), else queued.
    fn enqueue(
        &mut self,
        step: StepId,
        input: StepInput<ErasedEvent>,
        batch: Option<BatchId>,
        out: &mut VecDeque<Command>,
    ) {
        if let Some(open) = batch.and_then(|b| self.batches.get_mut(b)) {
            open.outstanding += 1;
        }
        let carried = self.recovery.as_ref().map_or(0, |r| r.attempts[step]);
        let id = self.next_input;
        self.next_input = id.wrapping_add(1);
        let queued = Queued { input, batch, attempt: 1 + carried, id, streamed: 0 };
        let state = &self.steps[step];
        if state.free > 0 && state.queue.is_empty() && !self.finished && !self.defer_starts {
            return self.start(step, queued, out);
        }
        // Busy: no worker left for it once those queued before it start
        // (inputs routed together start at the next `advance`).
        if state.free <= state.queue.len() {
            let input = self.input_name(step, &queued.input);
            self.internal(out, || RunEvent::StepQueued { step: self.info().steps[step].name, input });
        }
        self.steps[step].queue.push(queued);
        self.mark(step);
    }

    /// The event type of a step's input, for the internal events.
    fn input_name(&self, step: StepId, input: &StepInput<ErasedEvent>) -> &'static str {
        match input {
            StepInput::One(event) => event.name(),
            StepInput::Collected(events) => events.first().map_or_else(
                || self.info().steps[step].accepts.first().copied().unwrap_or(""),
                ErasedEvent::name,
            ),
        }
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
        self.recent.iter().map(|event| self.info().events[event]).collect()
    }

    /// Frees the invocation's worker and counts it out of its batch.
    fn end_invocation(&mut self, invocation: InvocationId, out: &mut VecDeque<Command>) {
        if let Some(inv) = self.invocations.remove(invocation) {
            let state = &mut self.steps[inv.step];
            self.slots[state.slot_start + state.free] = inv.worker;
            state.free += 1;
            if !state.queue.is_empty() {
                self.mark(inv.step); // a queued input can have the worker
            }
            if let Some(open) = inv.batch.and_then(|b| self.batches.get_mut(b)) {
                open.outstanding -= 1;
            }
            self.settle(inv.batch, out);
        }
    }

    /// Delivers a batch's collected events once nothing of it is on its way.
    fn settle(&mut self, batch: Option<BatchId>, out: &mut VecDeque<Command>) {
        let Some(id) = batch else { return };
        if self.batches.get(id).is_none_or(|b| b.outstanding > 0) {
            return;
        }
        let done = self.batches.remove(id).expect("the batch exists");
        // Every collector the fan-out feeds runs once, even if nothing
        // reached it: a search that found nothing still gets to its merge.
        let fed = done.origin.map_or(&[][..], |origin| self.info().steps[origin].fan_in);
        let mut per_step: Vec<(StepId, Vec<ErasedEvent>)> =
            fed.iter().map(|&step| (step, Vec::new())).collect();
        for (step, event) in done.collected {
            match per_step.iter_mut().find(|(s, _)| *s == step) {
                Some((_, events)) => events.push(event),
                None => per_step.push((step, vec![event])),
            }
        }
        for (step, events) in per_step {
            self.enqueue(step, StepInput::Collected(events), None, out);
        }
    }

    /// Counts an event that invocation `from` streams; false if an earlier
    /// run of it streamed (and journaled) this one already.
    fn streams_again(&mut self, from: InvocationId) -> bool {
        let Some(inv) = self.invocations.get_mut(from) else { return true };
        inv.streamed += 1;
        inv.streamed > inv.journaled
    }

    /// Hands queued inputs to free workers, and detects a stall.
    fn advance(&mut self, out: &mut VecDeque<Command>) {
        if self.finished {
            return;
        }
        if !self.dirty.is_empty() {
            let mut dirty = std::mem::take(&mut self.dirty);
            for step in dirty.drain(..) {
                self.steps[step].dirty = false;
                while self.steps[step].free > 0 {
                    let Some(queued) = self.steps[step].queue.pop() else { break };
                    self.start(step, queued, out);
                }
            }
            self.dirty = dirty; // keep the allocation
        }
        if self.invocations.is_empty() && self.pending_requests == 0 {
            let error =
                WorkflowError::Stalled { workflow: self.info().name, last_events: self.recent_events() };
            return self.finish(Err(error), out);
        }
        // `Idle` once each time the run comes to wait for outside input.
        let waiting = self.awaits_outside_input();
        if waiting && !self.idle {
            self.internal(out, || RunEvent::Idle);
        }
        self.idle = waiting;
    }

    /// Starts an invocation of `step` with `queued` on a free worker.
    fn start(&mut self, step: StepId, queued: Queued, out: &mut VecDeque<Command>) {
        let state = &mut self.steps[step];
        state.free -= 1;
        let worker = self.slots[state.slot_start + state.free];
        let input = state.keep_input.then(|| queued.input.clone());
        if let Some(trace) = &mut self.trace {
            trace.invocations[step] += 1;
            match &queued.input {
                StepInput::One(event) => trace.consumed(step, event.index()),
                StepInput::Collected(events) => events.iter().for_each(|e| trace.consumed(step, e.index())),
            }
        }
        let (attempt, id, journaled) = (queued.attempt, queued.id, queued.streamed);
        let invocation = self.invocations.insert(Invocation {
            step,
            worker,
            attempt,
            id,
            batch: queued.batch,
            input,
            streamed: 0,
            journaled,
        });
        let delay = Duration::ZERO;
        let input = queued.input;
        self.invoke(Command::Invoke { invocation, id, step, worker, attempt, input, delay }, out);
    }

    /// Issues an `Invoke` (of a first attempt or a retry), announced by a
    /// `StepStarted` if internal events are on.
    fn invoke(&self, invoke: Command, out: &mut VecDeque<Command>) {
        if let Command::Invoke { step, worker, attempt, input, .. } = &invoke {
            self.internal(out, || RunEvent::StepStarted {
                step: self.info().steps[*step].name,
                worker: *worker,
                attempt: *attempt,
                input: self.input_name(*step, input),
            });
        }
        out.push_back(invoke);
    }

    fn internal(&self, out: &mut VecDeque<Command>, event: impl FnOnce() -> RunEvent<ErasedEvent>) {
        if self.options.internal_events {
            out.push_back(Command::Stream(event()));
        }
    }

    /// Ends the run. Commands already in `out` stay: the driver carries out
    /// no invocation or wake once the core is finished, and streams the rest.
    fn finish(&mut self, outcome: Result<ErasedEvent, WorkflowError>, out: &mut VecDeque<Command>) {
        self.finished = true;
        out.push_back(Command::Finish(outcome));
    }
}
