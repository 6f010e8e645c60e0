use std::time::Duration;

use crate::context::Context;

/// How to run a workflow: its timeout and the context to use.
///
/// ```
/// # use std::time::Duration;
/// # use workflow_core::prelude::*;
/// let ctx = Context::<u32>::new();
/// let options = RunOptions::new().timeout(Duration::from_secs(30)).context(ctx.clone());
/// # let _ = options;
/// ```
#[derive(Debug)]
pub struct RunOptions<S> {
    pub(crate) timeout: Option<Duration>,
    pub(crate) context: Option<Context<S>>,
}

impl<S> RunOptions<S> {
    /// No timeout, and a fresh context.
    pub fn new() -> Self {
        Self { timeout: None, context: None }
    }

    /// Ends the run with [`WorkflowError::Timeout`](crate::WorkflowError::Timeout)
    /// if it has not stopped after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Runs on `context`, so that its state is shared with the caller and with
    /// later runs.
    pub fn context(mut self, context: Context<S>) -> Self {
        self.context = Some(context);
        self
    }
}

impl<S> Default for RunOptions<S> {
    fn default() -> Self {
        Self::new()
    }
}
