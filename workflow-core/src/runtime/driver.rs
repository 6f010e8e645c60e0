//! Carries out the core's commands on tokio: one task per step invocation,
//! the waiters' reply channels, the caller's event stream, the timeout.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};
use tracing::Instrument;

use super::core::{Command, CoreOptions, InvocationId, RunCore, RunEvent, RunOutcome, StepFailure, WaiterId};
use super::link::{Inbound, RunLink};
use crate::context::{Context, Lease, Scope};
use crate::error::WorkflowError;
use crate::trace::Trace;
use crate::workflow::{Emitted, StepId, StepInput, Workflow, WorkflowEvent};

type Completion<E> = (InvocationId, Result<Emitted<E>, StepFailure>);

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
    pub(crate) inbox: mpsc::UnboundedReceiver<Inbound<W::Event>>,
    pub(crate) stream: mpsc::UnboundedSender<RunEvent<W::Event>>,
    /// Where the run's trace goes when it ends.
    pub(crate) trace: Trace,
}

/// Runs one workflow to its end, and writes how it ended to the stream.
/// Dropping this future drops every step invocation still in flight, then
/// the context's lease.
pub(crate) async fn drive<W: Workflow>(run: Run<W>, input: W::Input) -> Result<W::Output, WorkflowError> {
    let span = tracing::info_span!("workflow_run", workflow = W::INFO.name, run_id = run.run_id);
    let stream = run.stream.clone();
    let trace = run.trace.clone();
    let mut driver = Driver::new(run);
    let outcome = driver.run(input).instrument(span).await;
    trace.record(driver.core.trace().clone());
    let summary = match &outcome {
        Ok(_) => RunOutcome::Stopped,
        Err(WorkflowError::Cancelled { .. }) => RunOutcome::Cancelled,
        Err(error) => RunOutcome::Failed(error.to_string()),
    };
    let _ = stream.send(RunEvent::Finished(summary));
    outcome
}

struct Driver<W: Workflow> {
    run: Run<W>,
    context: Context<W::State>,
    started: Instant,
    core: RunCore<W>,
    tasks: JoinSet<Completion<W::Event>>,
    waiters: Vec<(WaiterId, oneshot::Sender<W::Event>)>,
    commands: Vec<Command<W>>,
}

impl<W: Workflow> Driver<W> {
    fn new(run: Run<W>) -> Self {
        let options = CoreOptions { internal_events: run.internal_events, seed: run.run_id };
        Self {
            context: run.lease.context().clone(),
            started: Instant::now(),
            core: RunCore::new(options),
            tasks: JoinSet::new(),
            waiters: Vec::new(),
            commands: Vec::new(),
            run,
        }
    }

    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    async fn run(&mut self, input: W::Input) -> Result<W::Output, WorkflowError> {
        let deadline = self.run.timeout.and_then(|t| self.started.checked_add(t).map(|at| (at, t)));
        let now = self.now();
        self.core.start(input, now, &mut self.commands);
        loop {
            if let Some(outcome) = self.execute() {
                return outcome;
            }
            let now = self.now();
            // Biased: the deadline first, so that a busy run cannot starve its
            // timeout; then messages, so that what a step sent or streamed
            // before it returned is handled before its completion.
            tokio::select! {
                biased;
                () = sleep_until(deadline.map_or_else(far_future, |(at, _)| at)), if deadline.is_some() => {
                    let after = deadline.map(|(_, t)| t).unwrap_or_default();
                    self.core.timed_out(after, &mut self.commands);
                }
                Some(message) = self.run.inbox.recv() => self.receive(message, now),
                Some(joined) = self.tasks.join_next(), if !self.tasks.is_empty() => match joined {
                    Ok((invocation, result)) => {
                        if self.run.verbose {
                            report(&result);
                        }
                        self.core.step_finished(invocation, result, now, &mut self.commands);
                    }
                    Err(join_error) => {
                        return Err(WorkflowError::Aborted { workflow: W::INFO.name, reason: join_error.to_string() })
                    }
                },
            }
        }
    }

    /// Carries out the pending commands; `Some` once the run is over.
    fn execute(&mut self) -> Option<Result<W::Output, WorkflowError>> {
        while !self.commands.is_empty() {
            for command in std::mem::take(&mut self.commands) {
                match command {
                    Command::Invoke { invocation, step, worker, attempt, input, delay } => {
                        self.spawn(invocation, step, worker, attempt, input, delay);
                    }
                    Command::Wake { waiter, event } => {
                        let Some(at) = self.waiters.iter().position(|(id, _)| *id == waiter) else {
                            continue;
                        };
                        let (_, reply) = self.waiters.swap_remove(at);
                        if let Err(event) = reply.send(event) {
                            self.core.restore(event);
                        }
                    }
                    Command::Stream(event) => {
                        let _ = self.run.stream.send(event);
                    }
                    Command::Finish(outcome) => return Some(outcome),
                }
            }
        }
        None
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
        }
    }

    fn spawn(
        &mut self,
        invocation: InvocationId,
        step: StepId,
        worker: usize,
        attempt: u32,
        input: StepInput<W::Event>,
        delay: Duration,
    ) {
        let name = W::INFO.steps[step].name;
        if self.run.verbose {
            eprintln!("[{}] running step {name} (worker {worker}, attempt {attempt})", W::INFO.name);
        }
        let scope = Scope { link: Arc::clone(&self.run.link), invocation, step, worker, attempt };
        let context = self.context.scoped(scope);
        let flow = Arc::clone(&self.run.flow);
        let lease = Arc::clone(&self.run.lease);
        let span = tracing::info_span!("workflow_step", step = name, worker, attempt);
        self.tasks.spawn(
            async move {
                let _lease = lease;
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                tracing::debug!("step started");
                let result = AssertUnwindSafe(flow.invoke(step, context, input)).catch_unwind().await;
                let result = match result {
                    Ok(Ok(emitted)) => Ok(emitted),
                    Ok(Err(error)) => Err(StepFailure::Error(error)),
                    Err(panic) => Err(StepFailure::Panic(panic_message(panic.as_ref()))),
                };
                tracing::debug!(succeeded = result.is_ok(), "step finished");
                (invocation, result)
            }
            .instrument(span),
        );
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
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
