//! Carries out the core's commands on tokio: one task per step invocation.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};

use super::core::{Command, RunCore, StepFailure};
use crate::context::{Context, Lease};
use crate::error::WorkflowError;
use crate::workflow::{Emitted, StepId, Workflow};

type Completion<E> = (StepId, Result<Emitted<E>, StepFailure>);

/// Runs one workflow to its end on a context it holds the lease of.
/// Dropping this future drops every step invocation still in flight, and
/// then the lease.
pub(crate) async fn drive<W: Workflow>(
    flow: Arc<W>,
    input: W::Input,
    lease: Lease<W::State>,
    timeout: Option<Duration>,
) -> Result<W::Output, WorkflowError> {
    let context = lease.context().clone();
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t).map(|at| (at, t)));

    let mut core = RunCore::<W>::new();
    // A local, so dropped before the `lease` parameter: the context is
    // released only once no step of this run can touch it any more.
    let mut tasks: JoinSet<Completion<W::Event>> = JoinSet::new();
    let mut commands = Vec::new();
    core.start(input, &mut commands);
    loop {
        for command in commands.drain(..) {
            match command {
                Command::Invoke { step, event } => {
                    tasks.spawn(invoke(Arc::clone(&flow), step, context.clone(), event));
                }
                Command::Finish(outcome) => return outcome,
            }
        }
        let joined = match deadline {
            None => tasks.join_next().await,
            Some((at, after)) => tokio::select! {
                biased;
                joined = tasks.join_next() => joined,
                () = sleep_until(at) => {
                    core.timed_out(after, &mut commands);
                    continue;
                }
            },
        };
        match joined {
            Some(Ok((step, result))) => core.step_finished(step, result, &mut commands),
            Some(Err(join_error)) => {
                return Err(WorkflowError::Aborted { workflow: W::INFO.name, reason: join_error.to_string() })
            }
            None => unreachable!("the core finishes the run before the last task ends"),
        }
    }
}

/// One step invocation; a panic becomes a [`StepFailure::Panic`].
async fn invoke<W: Workflow>(
    flow: Arc<W>,
    step: StepId,
    context: Context<W::State>,
    event: W::Event,
) -> Completion<W::Event> {
    let result = AssertUnwindSafe(flow.invoke(step, context, event)).catch_unwind().await;
    let result = match result {
        Ok(Ok(emitted)) => Ok(emitted),
        Ok(Err(error)) => Err(StepFailure::Error(error)),
        Err(panic) => Err(StepFailure::Panic(panic_message(panic.as_ref()))),
    };
    (step, result)
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
