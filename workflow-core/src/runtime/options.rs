//! How a run is set up: what the caller chooses for it.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::durable::{state_json, Journal, RunStore, StateCodec, StateWriter};
use crate::context::Context;

/// How to run a workflow: its timeout, its context, and what to report.
///
/// ```
/// # use std::time::Duration;
/// # use workflow_core::prelude::*;
/// let ctx = Context::<u32>::new();
/// let options = RunOptions::new().timeout(Duration::from_secs(30)).context(ctx.clone()).verbose(true);
/// # let _ = options;
/// ```
#[derive(Debug)]
pub struct RunOptions<S> {
    pub(crate) setup: Setup,
    pub(crate) context: Option<Context<S>>,
    /// How to write the state, for the journal of a durable run.
    pub(crate) state_writer: Option<StateWriter<S>>,
}

/// What the driver reads of a run's options: all but its context, so that
/// it is one plain value, the same for every workflow.
#[derive(Debug, Default)]
pub(crate) struct Setup {
    pub(crate) timeout: Option<Duration>,
    pub(crate) internal_events: bool,
    pub(crate) verbose: bool,
    pub(crate) trace: bool,
    /// Where a durable run journals itself.
    pub(crate) journal: Option<Journal>,
}

impl<S> RunOptions<S> {
    /// No timeout, a fresh context, no internal events, quiet.
    pub fn new() -> Self {
        Self { setup: Setup::default(), context: None, state_writer: None }
    }

    /// Ends the run with [`WorkflowError::Timeout`](crate::WorkflowError::Timeout)
    /// if it has not stopped after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.setup.timeout = Some(timeout);
        self
    }

    /// Runs on `context`, so that its state is shared with the caller and with
    /// later runs.
    pub fn context(mut self, context: Context<S>) -> Self {
        self.context = Some(context);
        self
    }

    /// Writes `StepStarted` and `StepFinished` events, with worker slots and
    /// attempt numbers, to the run's event stream.
    pub fn internal_events(mut self, on: bool) -> Self {
        self.setup.internal_events = on;
        self
    }

    /// Counts the edges the run takes, so that [`Handler::trace`](crate::Handler::trace)
    /// can draw its path when it ends. Off by default: it costs a table of
    /// counters per run.
    pub fn trace(mut self, on: bool) -> Self {
        self.setup.trace = on;
        self
    }

    /// Prints each step as it runs and what it emitted, to standard error.
    pub fn verbose(mut self, on: bool) -> Self {
        self.setup.verbose = on;
        self
    }
}

impl<S: Serialize> RunOptions<S> {
    /// Makes the run durable: it journals itself to `store` under `key`
    /// when it starts and at every step boundary, and records how it ended,
    /// so that if the process dies, `WorkflowExt::recover`
    /// in the next one finishes it. Steps that were running when the process
    /// died run again from the top (at least once); finished steps do not.
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use workflow_core::prelude::*;
    /// # #[derive(Default)] struct Flow;
    /// # #[workflow] impl Flow { #[step] async fn s(&self, ev: StartEvent<u32>) -> StopEvent<u32> { StopEvent::new(ev.input) } }
    /// # async fn demo(store: Arc<dyn workflow_core::durable::RunStore>) -> Result<(), WorkflowError> {
    /// let total = Flow.run_with(7, RunOptions::new().durable(store, "order-42")).await?;
    /// # Ok(()) }
    /// ```
    pub fn durable(mut self, store: Arc<dyn RunStore>, key: impl Into<String>) -> Self {
        self.setup.journal = Some(Journal::new(store, key.into()));
        self.state_writer = Some(state_json::<S>);
        self
    }
}

impl RunOptions<()> {
    /// The same options for a workflow whose state is `T` (with a fresh
    /// context), journaled with `codec`; `None` if they are durable and
    /// there is no codec to write the state with.
    pub(crate) fn for_state<T>(self, codec: Option<StateCodec<T>>) -> Option<RunOptions<T>> {
        let state_writer = match (&self.setup.journal, codec) {
            (Some(_), None) => return None,
            (Some(_), Some(codec)) => Some(codec.write),
            (None, _) => None,
        };
        Some(RunOptions { setup: self.setup, context: None, state_writer })
    }
}

impl<S> Default for RunOptions<S> {
    fn default() -> Self {
        Self::new()
    }
}
