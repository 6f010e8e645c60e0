//! What a caller holds: `run` and `start`, and the handle on a running workflow.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context as TaskContext, Poll};

use tokio::task::JoinHandle;

use super::driver::drive;
use super::options::RunOptions;
use crate::error::WorkflowError;
use crate::workflow::Workflow;

/// A handle on a running workflow; await it for the run's result.
///
/// Dropping the handler cancels the run and every step still in flight.
#[must_use = "a run is cancelled when its handler is dropped; await it"]
pub struct Handler<W: Workflow> {
    state: State<W::Output>,
}

enum State<O> {
    Running(JoinHandle<Result<O, WorkflowError>>),
    /// The run could not start (its context was busy); the error is taken once.
    Refused(Option<WorkflowError>),
}

impl<W: Workflow> std::fmt::Debug for Handler<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler").field("workflow", &W::INFO.name).finish_non_exhaustive()
    }
}

impl<W: Workflow> Handler<W> {
    /// Claims the context now, so that of two runs started on one context
    /// the first one started is the one that gets it, then spawns the driver.
    fn spawn(flow: Arc<W>, input: W::Input, options: RunOptions<W::State>) -> Self {
        let context = options.context.unwrap_or_default();
        let state = match context.lease(W::INFO.name) {
            Ok(lease) => State::Running(tokio::spawn(drive(flow, input, lease, options.timeout))),
            Err(busy) => State::Refused(Some(busy)),
        };
        Self { state }
    }
}

impl<W: Workflow> Future for Handler<W> {
    type Output = Result<W::Output, WorkflowError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            State::Running(task) => {
                let joined = ready!(Pin::new(task).poll(cx));
                Poll::Ready(joined.unwrap_or_else(|join_error| {
                    Err(WorkflowError::Aborted { workflow: W::INFO.name, reason: join_error.to_string() })
                }))
            }
            State::Refused(error) => {
                Poll::Ready(Err(error.take().expect("a Handler is not polled after it completed")))
            }
        }
    }
}

impl<W: Workflow> Drop for Handler<W> {
    fn drop(&mut self) {
        if let State::Running(task) = &self.state {
            task.abort();
        }
    }
}

/// Runs workflows: `MyFlow::new(..).run(input).await`.
///
/// Implemented for every workflow and for `Arc` of one, so that one instance
/// can serve many runs.
pub trait WorkflowExt: Sized {
    /// The workflow being run.
    type Flow: Workflow;

    /// The shared instance the runs' steps are called on.
    fn into_shared(self) -> Arc<Self::Flow>;

    /// Runs to the end with a fresh context and no timeout.
    fn run(
        self,
        input: <Self::Flow as Workflow>::Input,
    ) -> impl Future<Output = Result<<Self::Flow as Workflow>::Output, WorkflowError>> + Send {
        self.start(input)
    }

    /// Runs to the end with `options`.
    fn run_with(
        self,
        input: <Self::Flow as Workflow>::Input,
        options: RunOptions<<Self::Flow as Workflow>::State>,
    ) -> impl Future<Output = Result<<Self::Flow as Workflow>::Output, WorkflowError>> + Send {
        self.start_with(input, options)
    }

    /// Starts a run on the current tokio runtime and returns its handler.
    fn start(self, input: <Self::Flow as Workflow>::Input) -> Handler<Self::Flow> {
        self.start_with(input, RunOptions::new())
    }

    /// Starts a run with `options`.
    fn start_with(
        self,
        input: <Self::Flow as Workflow>::Input,
        options: RunOptions<<Self::Flow as Workflow>::State>,
    ) -> Handler<Self::Flow> {
        Handler::spawn(self.into_shared(), input, options)
    }
}

impl<W: Workflow> WorkflowExt for W {
    type Flow = W;
    fn into_shared(self) -> Arc<W> {
        Arc::new(self)
    }
}

impl<W: Workflow> WorkflowExt for Arc<W> {
    type Flow = W;
    fn into_shared(self) -> Arc<W> {
        self
    }
}
