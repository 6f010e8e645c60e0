//! The errors a run can end with, and those of sending an event into one.

use std::fmt;
use std::time::Duration;

pub use crate::boxed::{box_error, BoxError};

/// Why a run ended without a result.
///
/// Every variant names the workflow and, where one is to blame, the step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// A step returned an error.
    #[error("step `{step}` of workflow `{workflow}` failed after {attempts} attempt(s): {source}")]
    StepFailed {
        /// The workflow's name.
        workflow: &'static str,
        /// The step that failed.
        step: &'static str,
        /// How many times the step was tried.
        attempts: u32,
        /// The step's own error.
        #[source]
        source: BoxError,
    },

    /// A step panicked; the panic was caught and ended this run only.
    #[error("step `{step}` of workflow `{workflow}` panicked: {message}")]
    StepPanicked {
        /// The workflow's name.
        workflow: &'static str,
        /// The step that panicked.
        step: &'static str,
        /// Which attempt panicked (a panic is not retried, but a step
        /// recovered from earlier failures counts on).
        attempts: u32,
        /// The panic message, when it was a string.
        message: String,
    },

    /// The run took longer than its timeout.
    #[error(
        "workflow `{workflow}` timed out after {after:?}; steps still running: {}; \
         raise the timeout with `RunOptions::timeout` or make those steps faster",
        ListOrNone(active_steps)
    )]
    Timeout {
        /// The workflow's name.
        workflow: &'static str,
        /// The timeout that elapsed.
        after: Duration,
        /// The steps that had an invocation in flight or queued.
        active_steps: Vec<&'static str>,
    },

    /// The run can make no more progress: nothing is queued or running and no
    /// stop event was emitted.
    #[error(
        "workflow `{workflow}` stalled: no step is running or queued and no stop event was \
         emitted (last events: {}); a step returned no event (`None` or an empty `Vec`) \
         where the run needed one",
        ListOrNone(last_events)
    )]
    Stalled {
        /// The workflow's name.
        workflow: &'static str,
        /// The names of the last events routed, oldest first.
        last_events: Vec<&'static str>,
    },

    /// The context given to the run is already in use by another run.
    #[error(
        "the context of workflow `{workflow}` is already used by a run in progress; \
         wait for that run to end or give this run its own `Context`"
    )]
    ContextBusy {
        /// The workflow's name.
        workflow: &'static str,
    },

    /// The run was cancelled through its handler.
    #[error("workflow `{workflow}` was cancelled")]
    Cancelled {
        /// The workflow's name.
        workflow: &'static str,
    },

    /// A durable run could not write its journal.
    #[error("workflow `{workflow}` could not write its journal, so it is no longer durable: {reason}")]
    Journal {
        /// The workflow's name.
        workflow: &'static str,
        /// What the store or the serialization reported.
        reason: String,
    },

    /// The run's result could not be turned into JSON (a run started from JSON).
    #[error("the result of workflow `{workflow}` cannot be turned into JSON: {source}")]
    Output {
        /// The workflow's name.
        workflow: &'static str,
        /// What serde reported.
        #[source]
        source: serde_json::Error,
    },

    /// The run could not start: the resource factories it may use cannot
    /// all be built (they need each other in a cycle).
    #[error("workflow `{workflow}` cannot start: {source}")]
    Resources {
        /// The workflow's name.
        workflow: &'static str,
        /// What is wrong with its factories.
        #[source]
        source: crate::resource::ResourceError,
    },

    /// The run's driver task was stopped from outside (its runtime shut down).
    #[error("workflow `{workflow}` was aborted before it finished: {reason}")]
    Aborted {
        /// The workflow's name.
        workflow: &'static str,
        /// What stopped it.
        reason: String,
    },
}

impl WorkflowError {
    /// The variant's name, as a kind of failure: `StepFailed`, `Timeout`…
    pub fn kind(&self) -> &'static str {
        match self {
            Self::StepFailed { .. } => "StepFailed",
            Self::StepPanicked { .. } => "StepPanicked",
            Self::Timeout { .. } => "Timeout",
            Self::Stalled { .. } => "Stalled",
            Self::ContextBusy { .. } => "ContextBusy",
            Self::Cancelled { .. } => "Cancelled",
            Self::Journal { .. } => "Journal",
            Self::Output { .. } => "Output",
            Self::Resources { .. } => "Resources",
            Self::Aborted { .. } => "Aborted",
        }
    }

    /// The step to blame, if one is.
    pub fn step(&self) -> Option<&'static str> {
        match self {
            Self::StepFailed { step, .. } | Self::StepPanicked { step, .. } => Some(step),
            _ => None,
        }
    }
}

/// Why an event could not be sent into a run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The step did not declare the event it sends.
    #[error(
        "step `{step}` sends `{event}` but does not declare it; list it in the step's \
         `#[step(sends = [..])]` to send it to steps, or `streams = [..]` to write it to the caller's stream"
    )]
    Undeclared {
        /// The sending step.
        step: &'static str,
        /// The event's type.
        event: &'static str,
    },
    /// A targeted send named a step that does not take the event.
    #[error("step `{target}` does not consume `{event}`; send it to a step that takes `ev: {event}`")]
    NotAccepted {
        /// The step named as target.
        target: &'static str,
        /// The event's type.
        event: &'static str,
    },
    /// The run is over (or this context is not a step's).
    #[error("the run has ended, so `{event}` cannot be sent into it")]
    RunEnded {
        /// The event's type.
        event: &'static str,
    },
}

impl SendError {
    /// The type of the event that could not be sent.
    pub fn event(&self) -> &'static str {
        match self {
            SendError::Undeclared { event, .. }
            | SendError::NotAccepted { event, .. }
            | SendError::RunEnded { event } => event,
        }
    }
}

/// Formats a list of names as `a, b, c`, or `none`.
struct ListOrNone<'a>(&'a [&'static str]);

impl fmt::Display for ListOrNone<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        f.write_str(&self.0.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_workflow_step_and_fix() {
        let e = WorkflowError::Timeout {
            workflow: "Rag",
            after: Duration::from_millis(50),
            active_steps: vec!["retrieve", "rerank"],
        };
        let text = e.to_string();
        assert!(text.contains("`Rag`"), "{text}");
        assert!(text.contains("retrieve, rerank"), "{text}");
        assert!(text.contains("RunOptions::timeout"), "{text}");

        let e = WorkflowError::Stalled { workflow: "Rag", last_events: vec![] };
        assert!(e.to_string().contains("last events: none"), "{e}");
    }

    #[test]
    fn step_names_the_culprit() {
        let e = WorkflowError::StepPanicked { workflow: "W", step: "s", attempts: 1, message: "boom".into() };
        assert_eq!(e.step(), Some("s"));
        assert_eq!(WorkflowError::ContextBusy { workflow: "W" }.step(), None);
    }
}
