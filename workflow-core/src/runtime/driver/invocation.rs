//! One step invocation as a future that reports its own completion, and
//! what the driver asks of a workflow's typed layer to make one.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::time::{Instant, Sleep};

use super::super::core::StepFailure;
use super::super::table::Table;
use crate::context::Scope;
use crate::contract::{Emitted, InputId, InvocationId, StepId, StepInput, StepOutcome};
use crate::erased::ErasedEvent;
use crate::snapshot::SnapshotError;

/// A step's call, boxed: the one allocation of an invocation.
pub(crate) type StepFuture = Pin<Box<dyn Future<Output = StepOutcome<ErasedEvent>> + Send>>;

/// A workflow instance and its run's context, as the driver uses them: the
/// typed layer implements it once per workflow, and the driver, compiled
/// once, calls through it (one indirect call per invocation).
pub(crate) trait Steps: Send + Sync + 'static {
    /// Calls step `scope.step` with `input`, on the run's context scoped
    /// to the invocation.
    /// The future holds `self`, and with it the run's context lease. It is
    /// written into `spare`'s box if one is given: a finished future of an
    /// earlier call on this same object, so that a light hop allocates nothing.
    fn call(
        self: Arc<Self>,
        scope: Scope,
        input: StepInput<ErasedEvent>,
        spare: Option<StepFuture>,
    ) -> StepFuture;

    /// The context's key-value store, for a snapshot.
    fn store(&self) -> Map<String, Value>;

    /// The context's typed state as JSON, for the journal of a durable run.
    fn journal_state(&self) -> Result<Value, SnapshotError>;
}

/// Which invocation to run: its id, step, worker slot and attempt.
#[derive(Clone, Copy, Debug)]
pub(super) struct Call {
    pub(super) invocation: InvocationId,
    pub(super) step: StepId,
    pub(super) worker: usize,
    pub(super) attempt: u32,
    /// The input's lasting id.
    pub(super) id: InputId,
}

/// What an invocation reports: which call it was, how it ended and, if it
/// was timed, how long the step itself took (for the inline-or-spawn choice).
pub(super) struct Completion {
    pub(super) call: Call,
    pub(super) result: Result<Emitted<ErasedEvent>, StepFailure>,
    pub(super) took: Duration,
}

/// A step's call polled once, outside any task: how it went.
pub(super) enum Polled {
    /// It finished; `reusable` if it did not panic, so that its box can be
    /// filled again.
    Ready {
        result: Result<Emitted<ErasedEvent>, StepFailure>,
        reusable: bool,
    },
    Pending,
}

/// Polls a step's call inside `span` (its first poll if `first`); a
/// panic becomes a [`StepFailure::Panic`], and an error is not retried
/// until the driver asks the step's policy.
pub(super) fn poll_step(
    future: &mut StepFuture,
    span: &tracing::Span,
    first: bool,
    cx: &mut TaskContext<'_>,
) -> Polled {
    let _entered = span.enter();
    if first {
        tracing::debug!("step started");
    }
    let (result, reusable) = match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
        Ok(Poll::Pending) => return Polled::Pending,
        Ok(Poll::Ready(Ok(emitted))) => (Ok(emitted), true),
        Ok(Poll::Ready(Err(error))) => (Err(StepFailure::Error { error, retry: None }), true),
        Err(panic) => (Err(StepFailure::Panic(panic_message(panic.as_ref()))), false),
    };
    tracing::debug!(succeeded = result.is_ok(), "step finished");
    record_outcome(span, &result);
    Polled::Ready { result, reusable }
}

/// The span a step's invocation runs in, made where the run's span is
/// the current one.
///
/// Its fields are what a trace backend shows of the invocation (through
/// OpenTelemetry, say): the workflow, run, step, worker and attempt, and,
/// recorded when it ends, its outcome (`ok`, `error` or `panicked`), the
/// error's message and `otel.status_code`.
pub(super) fn span(table: &Table, run_id: u64, call: Call) -> tracing::Span {
    use tracing::field::Empty;
    tracing::info_span!(
        "workflow_step",
        workflow = table.info().name,
        run_id,
        step = table.info().steps[call.step].name,
        worker = call.worker,
        attempt = call.attempt,
        outcome = Empty,
        error = Empty,
        otel.status_code = Empty,
    )
}

/// Writes how an invocation ended into its span, if anyone records it.
fn record_outcome(span: &tracing::Span, result: &Result<Emitted<ErasedEvent>, StepFailure>) {
    if span.is_disabled() {
        return;
    }
    match result {
        Ok(_) => {
            span.record("outcome", "ok");
        }
        Err(failure) => {
            let (outcome, message) = match failure {
                StepFailure::Error { error, .. } => ("error", error.to_string()),
                StepFailure::Panic(message) => ("panicked", message.clone()),
            };
            span.record("outcome", outcome);
            span.record("error", message.as_str());
            span.record("otel.status_code", "ERROR");
        }
    }
}

/// An invocation on a task of its own: after its delay, its step's call
/// polled to the end, then its completion reported.
///
/// Written by hand rather than as an `async` block so that it is `Unpin`
/// and its parts can come from an inline poll that went pending.
pub(super) struct OnTask {
    /// The step's call; it holds the workflow and the run's context lease,
    /// so that the context is released only when the last invocation is
    /// gone, not when the run returns.
    future: StepFuture,
    delay: Option<Pin<Box<Sleep>>>,
    span: tracing::Span,
    call: Call,
    timed: bool,
    /// When the step was first polled, once it has been.
    started: Option<Option<Instant>>,
}

impl OnTask {
    /// `future`, not polled yet, after `delay`; its step's own time is
    /// measured if `timed`.
    pub(super) fn new(
        table: &'static Table,
        run_id: u64,
        call: Call,
        future: StepFuture,
        delay: Duration,
        timed: bool,
    ) -> Self {
        let delay = (!delay.is_zero()).then(|| Box::pin(tokio::time::sleep(delay)));
        Self { future, delay, span: span(table, run_id, call), call, timed, started: None }
    }

    /// `future`, polled once inline already inside `span`.
    pub(super) fn resumed(call: Call, future: StepFuture, span: tracing::Span) -> Self {
        Self { future, delay: None, span, call, timed: false, started: Some(None) }
    }
}

impl Future for OnTask {
    type Output = Completion;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Completion> {
        let this = self.get_mut();
        if let Some(delay) = &mut this.delay {
            if delay.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.delay = None;
        }
        let first = this.started.is_none();
        let started = *this.started.get_or_insert_with(|| this.timed.then(Instant::now));
        match poll_step(&mut this.future, &this.span, first, cx) {
            Polled::Pending => Poll::Pending,
            Polled::Ready { result, .. } => {
                let took = started.map_or(Duration::ZERO, |at| at.elapsed());
                Poll::Ready(Completion { call: this.call, result, took })
            }
        }
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
