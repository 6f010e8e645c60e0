//! What the core does when a step fails: retry it (as its policy, asked by
//! the driver, said), hand the failure to the handler that covers the step
//! while it has recoveries left, or end the run with the step's own error.

use std::collections::VecDeque;

use super::{Command, RunCore, StepFailure};
use crate::contract::{InvocationId, StepId, StepInput, WorkflowInfo};
use crate::error::WorkflowError;
use crate::event::StepFailed;

/// What failure handlers did in this run.
#[derive(Clone, Debug, Default)]
pub(crate) struct Recovery {
    /// Per handler step: the failures it took.
    pub(crate) used: Vec<u32>,
    /// Per step: the attempts it had made when its last failure was taken
    /// by a handler. Its next invocation goes on counting from there, so
    /// that recovering does not give a step a fresh set of retries.
    pub(crate) attempts: Vec<u32>,
}

impl Recovery {
    fn new(steps: usize) -> Self {
        Self { used: vec![0; steps], attempts: vec![0; steps] }
    }

    /// What a snapshot says, for a run of `steps` steps.
    pub(crate) fn restored(steps: usize, per_step: impl IntoIterator<Item = (StepId, u32, u32)>) -> Self {
        let mut recovery = Self::new(steps);
        for (step, used, attempts) in per_step {
            recovery.used[step] = used;
            recovery.attempts[step] = attempts;
        }
        recovery
    }
}

impl RunCore {
    /// Tries the invocation again if its step's policy said so; true if so.
    pub(super) fn retry(
        &mut self,
        invocation: InvocationId,
        failure: &StepFailure,
        out: &mut VecDeque<Command>,
    ) -> bool {
        let StepFailure::Error { retry: Some(delay), .. } = failure else { return false };
        let inv = self.invocations.get_mut(invocation).expect("the invocation is in flight");
        let Some(input) = inv.input.clone() else { return false };
        inv.attempt += 1;
        // A new attempt: what it streams is new, even after a resume.
        (inv.streamed, inv.journaled) = (0, 0);
        let (step, worker, attempt, id, delay) = (inv.step, inv.worker, inv.attempt, inv.id, *delay);
        self.invoke(Command::Invoke { invocation, id, step, worker, attempt, input, delay }, out);
        true
    }

    /// Reports a failure that will not be retried: as a `StepFailed` event
    /// to the handler that covers the step while it has recoveries left,
    /// else by ending the run with the step's own error.
    pub(super) fn fail(
        &mut self,
        invocation: InvocationId,
        failure: StepFailure,
        out: &mut VecDeque<Command>,
    ) {
        let info = self.info();
        let inv = self.invocations.get_mut(invocation).expect("the invocation is in flight");
        let (step, attempts, batch, input) = (inv.step, inv.attempt, inv.batch, inv.input.take());
        let name = info.steps[step].name;
        if let Some(handler) = self.recovering(step, attempts) {
            let (event, json) = match &input {
                Some(StepInput::One(e)) => (e.name(), e.to_json().unwrap_or_default()),
                Some(StepInput::Collected(es)) => (
                    es.first().map_or("Collected", |e| e.name()),
                    serde_json::Value::Array(es.iter().map(|e| e.to_json().unwrap_or_default()).collect()),
                ),
                None => ("", serde_json::Value::Null),
            };
            let report = StepFailed {
                step: name.to_owned(),
                event: event.to_owned(),
                input: json,
                error: failure.to_string(),
                attempts,
            };
            let event =
                self.table.events.step_failed(report).expect("`step_failed` names a `StepFailed` event");
            self.recent.note(event.index());
            return self.enqueue(handler, StepInput::One(event), batch, out);
        }
        let workflow = info.name;
        let error = match failure {
            StepFailure::Error { error: source, .. } => {
                WorkflowError::StepFailed { workflow, step: name, attempts, source }
            }
            StepFailure::Panic(message) => {
                WorkflowError::StepPanicked { workflow, step: name, attempts, message }
            }
        };
        self.finish(Err(error), out);
    }

    /// The handler that recovers `step`'s failure after `attempts`, if one
    /// covers it and has recoveries left; counts the recovery.
    fn recovering(&mut self, step: StepId, attempts: u32) -> Option<StepId> {
        let info = self.info();
        let handler = handler_for(info, step)?;
        let max = info.steps[handler].recovers.map_or(0, |r| r.max_recoveries);
        let recovery = self.recovery.get_or_insert_with(|| Box::new(Recovery::new(info.steps.len())));
        if recovery.used[handler] >= max {
            return None;
        }
        recovery.used[handler] += 1;
        recovery.attempts[step] = attempts;
        Some(handler)
    }
}

/// The handler of `step`'s failures: the one whose `for_steps` names it,
/// else the one that covers every step; none for a handler itself.
fn handler_for(info: &WorkflowInfo, step: StepId) -> Option<StepId> {
    if info.steps[step].recovers.is_some() {
        return None;
    }
    let covers = |explicit: bool| {
        info.steps.iter().position(|s| match s.recovers.map(|r| r.steps) {
            Some(Some(steps)) => explicit && steps.contains(&step),
            Some(None) => !explicit,
            None => false,
        })
    };
    covers(true).or_else(|| covers(false))
}
