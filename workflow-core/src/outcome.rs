//! How a run ended, as the last item of its stream says it: the typed
//! counterpart of LlamaIndex's terminal events (`StopEvent`,
//! `WorkflowFailedEvent`, `WorkflowTimedOutEvent`, `WorkflowCancelledEvent`).

use std::fmt;
use std::time::Duration;

use crate::error::WorkflowError;

/// How a run ended, as its stream's last item reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunOutcome {
    /// A stop event ended it; await the handler for the result.
    Stopped,
    /// A step failed and nothing recovered it, or the run could not go on
    /// (LlamaIndex's `WorkflowFailedEvent`).
    Failed(RunFailure),
    /// Its timeout elapsed (`WorkflowTimedOutEvent`).
    TimedOut {
        /// The timeout.
        after: Duration,
        /// The steps that had an invocation in flight or queued.
        active_steps: Vec<&'static str>,
    },
    /// It was cancelled through its handler (`WorkflowCancelledEvent`); a
    /// snapshot taken after it resumes the run.
    Cancelled,
}

/// Why a run failed: the step to blame, how often it was tried, how long the
/// run had gone on, and the error.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunFailure {
    /// The step that failed or panicked; `None` when no step is to blame
    /// (a stall, a journal that could not be written, an abort).
    pub step: Option<&'static str>,
    /// How many times that step was tried; 0 when no step is to blame.
    pub attempts: u32,
    /// How long the run had been going.
    pub elapsed: Duration,
    /// What kind of failure, as the [`WorkflowError`] variant's name
    /// (`StepFailed`, `StepPanicked`, `Stalled`…): LlamaIndex's exception type.
    pub kind: &'static str,
    /// The step's own error or panic message when a step is to blame, else
    /// the whole error's.
    pub message: String,
}

impl fmt::Display for RunFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.step {
            Some(step) => write!(
                f,
                "{} in step `{step}` after {} attempt(s): {}",
                self.kind, self.attempts, self.message
            ),
            None => write!(f, "{}: {}", self.kind, self.message),
        }
    }
}

impl RunOutcome {
    /// The outcome of a run that ended with `result`, after `elapsed`.
    pub fn of<T>(result: &Result<T, WorkflowError>, elapsed: Duration) -> Self {
        match result {
            Ok(_) => RunOutcome::Stopped,
            Err(error) => Self::ended_by(error, elapsed),
        }
    }

    /// The outcome of a run that `error` ended, after `elapsed`.
    pub fn ended_by(error: &WorkflowError, elapsed: Duration) -> Self {
        let (step, attempts, message) = match error {
            WorkflowError::Cancelled { .. } => return RunOutcome::Cancelled,
            WorkflowError::Timeout { after, active_steps, .. } => {
                return RunOutcome::TimedOut { after: *after, active_steps: active_steps.clone() }
            }
            WorkflowError::StepFailed { step, attempts, source, .. } => {
                (Some(*step), *attempts, source.to_string())
            }
            WorkflowError::StepPanicked { step, attempts, message, .. } => {
                (Some(*step), *attempts, message.clone())
            }
            other => (None, 0, other.to_string()),
        };
        RunOutcome::Failed(RunFailure { step, attempts, elapsed, kind: error.kind(), message })
    }
}
