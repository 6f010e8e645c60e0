//! One step invocation as a future that reports its own completion.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::time::Instant;
use tracing::Instrument;

use super::super::core::StepFailure;
use crate::context::{Context, Lease};
use crate::contract::{Emitted, InvocationId, StepId, StepInput};
use crate::error::BoxError;
use crate::workflow::Workflow;

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
pub(super) struct Completion<E> {
    pub(super) invocation: InvocationId,
    pub(super) result: Result<Emitted<E>, StepFailure>,
    pub(super) step: StepId,
    pub(super) took: Duration,
}

/// What every invocation of a run shares.
pub(super) struct Shared<W: Workflow> {
    pub(super) flow: Arc<W>,
    /// Held by every invocation, so that the context is released only
    /// when the last one is gone, not when the run returns.
    pub(super) lease: Arc<Lease<W::State>>,
}

/// Calls `call`'s step with `input` after `delay`, on `context` (scoped to
/// the invocation); a panic becomes a [`StepFailure::Panic`], and an error
/// carries its retry policy's verdict on it.
pub(super) fn invocation<W: Workflow>(
    shared: &Shared<W>,
    context: Context<W::State, W::Event>,
    call: Call,
    input: StepInput<W::Event>,
    delay: Duration,
    timed: bool,
) -> impl std::future::Future<Output = Completion<W::Event>> + Send + 'static {
    let Call { invocation, step, worker, attempt } = call;
    let flow = Arc::clone(&shared.flow);
    let lease = Arc::clone(&shared.lease);
    let span = tracing::info_span!("workflow_step", step = W::INFO.steps[step].name, worker, attempt);
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
            Ok(Err(error)) => Err(failure::<W>(step, error)),
            Err(panic) => Err(StepFailure::Panic(panic_message(panic.as_ref()))),
        };
        tracing::debug!(succeeded = result.is_ok(), "step finished");
        Completion { invocation, result, step, took }
    }
    .instrument(span)
}

/// A step's error as the core is told it: with its retry policy's verdict.
pub(super) fn failure<W: Workflow>(step: StepId, error: BoxError) -> StepFailure {
    let retryable = W::retry_policy(step).is_some_and(|policy| policy.retries(&error));
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
