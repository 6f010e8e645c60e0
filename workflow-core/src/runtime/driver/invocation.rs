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
use crate::contract::{Emitted, InvocationId, StepId, StepInput, StepOutcome};
use crate::erased::ErasedEvent;
use crate::error::BoxError;
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
}

/// What an invocation reports: which, how it ended, its step and, if it
/// was timed, how long the step itself took (for the inline-or-spawn choice).
pub(super) struct Completion {
    pub(super) invocation: InvocationId,
    pub(super) result: Result<Emitted<ErasedEvent>, StepFailure>,
    pub(super) step: StepId,
    pub(super) took: Duration,
}

/// Calls a step after its delay, inside its span; a panic becomes a
/// [`StepFailure::Panic`], and an error carries its retry policy's verdict.
///
/// Written by hand rather than as an `async` block so that it is `Unpin`:
/// the driver polls it once in place and moves it to a task only if it is
/// pending, without boxing it a second time.
pub(super) struct Invocation {
    table: &'static Table,
    /// The step's call; it holds the workflow and the run's context lease,
    /// so that the context is released only when the last invocation is
    /// gone, not when the run returns.
    future: StepFuture,
    delay: Option<Pin<Box<Sleep>>>,
    span: tracing::Span,
    invocation: InvocationId,
    step: StepId,
    timed: bool,
    /// When the step was first polled, once it has been.
    started: Option<Option<Instant>>,
    /// Whether the step's future finished without panicking: then its box
    /// can be filled again.
    reusable: bool,
}

impl Invocation {
    pub(super) fn new(
        table: &'static Table,
        steps: &Arc<dyn Steps>,
        scope: Scope,
        input: StepInput<ErasedEvent>,
        delay: Duration,
        timed: bool,
        spare: Option<StepFuture>,
    ) -> Self {
        let (invocation, step) = (scope.invocation, scope.step);
        let span = tracing::info_span!(
            "workflow_step",
            step = table.info().steps[step].name,
            worker = scope.worker,
            attempt = scope.attempt
        );
        Self {
            table,
            future: Arc::clone(steps).call(scope, input, spare),
            delay: (!delay.is_zero()).then(|| Box::pin(tokio::time::sleep(delay))),
            span,
            invocation,
            step,
            timed,
            started: None,
            reusable: false,
        }
    }

    /// The box of a step's future that finished, for the next call to fill.
    pub(super) fn into_spare(self) -> Option<StepFuture> {
        self.reusable.then_some(self.future)
    }
}

impl Future for Invocation {
    type Output = Completion;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Completion> {
        let this = self.get_mut();
        let _entered = this.span.enter();
        if let Some(delay) = &mut this.delay {
            if delay.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.delay = None;
        }
        let started = *this.started.get_or_insert_with(|| {
            tracing::debug!("step started");
            this.timed.then(Instant::now)
        });
        let result = match catch_unwind(AssertUnwindSafe(|| this.future.as_mut().poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(Ok(emitted))) => {
                this.reusable = true;
                Ok(emitted)
            }
            Ok(Poll::Ready(Err(error))) => {
                this.reusable = true;
                Err(failure(this.table, this.step, error))
            }
            Err(panic) => Err(StepFailure::Panic(panic_message(panic.as_ref()))),
        };
        let took = started.map_or(Duration::ZERO, |at| at.elapsed());
        tracing::debug!(succeeded = result.is_ok(), "step finished");
        Poll::Ready(Completion { invocation: this.invocation, result, step: this.step, took })
    }
}

/// A step's error as the core is told it: with its retry policy's verdict.
pub(super) fn failure(table: &Table, step: StepId, error: BoxError) -> StepFailure {
    let retryable = (table.retry_policy)(step).is_some_and(|policy| policy.retries(&error));
    StepFailure::Error { error, retryable }
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
