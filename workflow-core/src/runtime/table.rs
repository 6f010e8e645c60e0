//! What the runtime knows of one workflow, as data and plain functions:
//! the one thing a run is generic over at run time instead of compile time.

use serde_json::Value;

use crate::contract::{StepId, WorkflowInfo};
use crate::erased::{ErasedEvent, EventOps};
use crate::retry::RetryPolicy;

/// One workflow's graph and the few functions of it the runtime calls,
/// written once per workflow by [`table`](super::typed::table).
pub(crate) struct Table {
    /// The operations on its erased events, which also know the graph.
    pub(crate) events: &'static EventOps,
    /// The retry policy of a step, from `#[step(retry = ..)]`.
    pub(crate) retry_policy: fn(StepId) -> Option<Box<dyn RetryPolicy>>,
    /// The stop event's payload (the run's output) as JSON.
    pub(crate) output_json: fn(&ErasedEvent) -> Result<Value, serde_json::Error>,
}

impl Table {
    /// The graph: names, steps, routes.
    #[inline]
    pub(crate) fn info(&self) -> &'static WorkflowInfo {
        self.events.info
    }
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("workflow", &self.info().name).finish_non_exhaustive()
    }
}
