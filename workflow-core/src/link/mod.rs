//! The channel from a run's steps and its caller to its driver: what a
//! step's context and a handler hold of the run. It sits below both the
//! context and the runtime, so that neither needs the other to reach it.

mod children;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::contract::{InvocationId, StepId, WaiterId};
use crate::erased::ErasedEvent;
use crate::error::SendError;
use crate::snapshot::{Snapshot, SnapshotError};
use crate::stream::ChildEvent;
use crate::sync::{lock, Mailbox};

pub(crate) use self::children::{child_key, Children};

/// What a waiter accepts: its type and its filter, over the workflow's
/// events. Code, not data: the driver keeps it and tells the core which
/// waiter an event went to.
pub(crate) type Matcher<E = ErasedEvent> = Box<dyn FnMut(&E) -> bool + Send>;

/// Writes the run's typed state as JSON, for a snapshot: taken where
/// `State: Serialize` is known, since the driver has no such bound.
pub(crate) type StateJson = Box<dyn FnOnce() -> Result<Value, SnapshotError> + Send>;

/// Where a snapshot asked for is answered.
pub(crate) type SnapshotReply = oneshot::Sender<Result<Snapshot, SnapshotError>>;

/// What the driver receives from outside its own loop.
pub(crate) enum Inbound {
    /// `ctx.send_event` / `send_event_to`.
    Send { from: InvocationId, event: ErasedEvent, target: Option<StepId> },
    /// `ctx.write_event_to_stream`.
    Stream { from: InvocationId, event: ErasedEvent },
    /// `ctx.wait_for_event`.
    Wait {
        waiter: WaiterId,
        /// The waiting invocation.
        from: InvocationId,
        matches: Matcher,
        request: Option<ErasedEvent>,
        reply: oneshot::Sender<ErasedEvent>,
    },
    /// A wait that ended without an answer.
    Unwait(WaiterId),
    /// `handler.send_event` / `send_event_to` (to `target` only).
    External { event: ErasedEvent, target: Option<StepId> },
    /// `handler.cancel()`.
    Cancel,
    /// `handler.snapshot()`: the whole run, with the state `state` writes.
    Snapshot { state: StateJson, reply: SnapshotReply },
    /// An item of a child run's stream, for this run's stream.
    Child(Box<ChildEvent>),
}

/// What a run's link holds for few runs.
#[derive(Default)]
struct Rare {
    /// How the last attempt of each invocation being retried failed, for
    /// `ctx.retry_info()`: kept here rather than in every step's context,
    /// which most steps never retry.
    previous_errors: Vec<(InvocationId, std::sync::Arc<str>)>,
    /// The run as it was when it was cancelled, its state left to the
    /// handler to write: what a snapshot taken after `cancel()` returns.
    cancelled: Option<Snapshot>,
    /// The child runs of its steps, and where they journal.
    children: Children,
}

/// Shared by the steps of one run (through their contexts) and its handler.
pub(crate) struct RunLink {
    /// What the driver has still to read; closed when the driver ends.
    pub(crate) inbox: Mailbox<Inbound>,
    /// `ctx.collect_events` buffers, per step (grown on first use).
    pub(crate) collected: Mutex<Vec<Vec<ErasedEvent>>>,
    next_waiter: AtomicU64,
    /// Sends and stream writes a step made against its declarations: the
    /// step fails with the first when it returns. Counted, so that the hot
    /// path reads an atomic, not a lock.
    violations: Mutex<Vec<(InvocationId, SendError)>>,
    violations_pending: AtomicUsize,
    /// What few runs need, boxed on first use: a waiting run holds its
    /// link for hours.
    rare: Mutex<Option<Box<Rare>>>,
    /// How many steps the workflow has, for the buffers.
    steps: usize,
}

impl RunLink {
    pub(crate) fn new(steps: usize) -> Self {
        Self {
            inbox: Mailbox::new(),
            collected: Mutex::new(Vec::new()),
            steps,
            next_waiter: AtomicU64::new(0),
            violations: Mutex::new(Vec::new()),
            violations_pending: AtomicUsize::new(0),
            rare: Mutex::new(None),
        }
    }

    fn post(&self, message: Inbound, event: &'static str) -> Result<(), SendError> {
        self.inbox.send(message).map_err(|_| SendError::RunEnded { event })
    }

    /// Runs `edit` on step `step`'s `collect_events` buffer (the buffers
    /// are made on first use).
    pub(crate) fn collect_into<R>(&self, step: StepId, edit: impl FnOnce(&mut Vec<ErasedEvent>) -> R) -> R {
        let mut buffers = lock(&self.collected);
        if buffers.len() <= step {
            buffers.resize_with(self.steps.max(step + 1), Vec::new);
        }
        edit(&mut buffers[step])
    }

    pub(crate) fn send(
        &self,
        from: InvocationId,
        event: ErasedEvent,
        target: Option<StepId>,
    ) -> Result<(), SendError> {
        let name = event.name();
        self.post(Inbound::Send { from, event, target }, name)
    }

    pub(crate) fn stream(&self, from: InvocationId, event: ErasedEvent) -> Result<(), SendError> {
        let name = event.name();
        self.post(Inbound::Stream { from, event }, name)
    }

    pub(crate) fn external(&self, event: ErasedEvent, target: Option<StepId>) -> Result<(), SendError> {
        let name = event.name();
        self.post(Inbound::External { event, target }, name)
    }

    pub(crate) fn wait(
        &self,
        from: InvocationId,
        matches: Matcher,
        request: Option<ErasedEvent>,
        reply: oneshot::Sender<ErasedEvent>,
    ) -> Result<WaiterId, SendError> {
        let waiter = self.next_waiter.fetch_add(1, Ordering::Relaxed);
        self.post(Inbound::Wait { waiter, from, matches, request, reply }, "a wait")?;
        Ok(waiter)
    }

    /// Records that invocation `from` broke its declarations with `error`;
    /// the first one is its failure when it returns.
    pub(crate) fn poison(&self, from: InvocationId, error: SendError) {
        let mut violations = lock(&self.violations);
        if !violations.iter().any(|(i, _)| *i == from) {
            violations.push((from, error));
            self.violations_pending.fetch_add(1, Ordering::Release);
        }
    }

    /// The violation of invocation `of`, if it made one; forgets it.
    #[inline]
    pub(crate) fn take_violation(&self, of: InvocationId) -> Option<SendError> {
        if self.violations_pending.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.take_violation_slow(of)
    }

    #[cold]
    fn take_violation_slow(&self, of: InvocationId) -> Option<SendError> {
        let mut violations = lock(&self.violations);
        let at = violations.iter().position(|(i, _)| *i == of)?;
        self.violations_pending.fetch_sub(1, Ordering::Release);
        Some(violations.swap_remove(at).1)
    }

    pub(crate) fn unwait(&self, waiter: WaiterId) {
        let _ = self.inbox.send(Inbound::Unwait(waiter));
    }

    /// Notes how `invocation`'s last attempt failed, or forgets it (`None`).
    pub(crate) fn set_previous_error(&self, invocation: InvocationId, error: Option<std::sync::Arc<str>>) {
        let mut rare = lock(&self.rare);
        if rare.is_none() && error.is_none() {
            return;
        }
        let errors = &mut rare.get_or_insert_with(Box::default).previous_errors;
        errors.retain(|(i, _)| *i != invocation);
        errors.extend(error.map(|e| (invocation, e)));
    }

    /// How `invocation`'s previous attempt failed, if it is a retry.
    pub(crate) fn previous_error(&self, invocation: InvocationId) -> Option<std::sync::Arc<str>> {
        let rare = lock(&self.rare);
        let errors = &rare.as_ref()?.previous_errors;
        errors.iter().find(|(i, _)| *i == invocation).map(|(_, e)| std::sync::Arc::clone(e))
    }

    /// Keeps the cancelled run's snapshot (without its state).
    pub(crate) fn leave_cancelled(&self, snapshot: Snapshot) {
        lock(&self.rare).get_or_insert_with(Box::default).cancelled = Some(snapshot);
    }

    /// The cancelled run's snapshot, if it was cancelled and could be
    /// written down; its state is still to be written.
    pub(crate) fn cancelled_snapshot(&self) -> Option<Snapshot> {
        lock(&self.rare).as_ref()?.cancelled.clone()
    }

    pub(crate) fn cancel(&self) {
        let _ = self.inbox.send(Inbound::Cancel);
    }

    /// Passes an item of a child's stream on to this run's stream.
    pub(crate) fn child_event(&self, event: ChildEvent) {
        let _ = self.inbox.send(Inbound::Child(Box::new(event)));
    }

    pub(crate) fn snapshot(&self, state: StateJson, reply: SnapshotReply) {
        let _ = self.inbox.send(Inbound::Snapshot { state, reply });
    }

    /// Works on the run's children (made on first use).
    pub(crate) fn children<R>(&self, work: impl FnOnce(&mut Children) -> R) -> R {
        work(&mut lock(&self.rare).get_or_insert_with(Box::default).children)
    }

    /// The run's children, for its snapshot: none if it never had any.
    pub(crate) fn child_records(&self) -> Vec<crate::snapshot::ChildData> {
        lock(&self.rare).as_ref().map(|rare| rare.children.records()).unwrap_or_default()
    }
}
