//! The deterministic heart of a run: queues, worker limits, routing, stop and
//! stall detection. It takes inputs (start, a step finished, time ran out) and
//! answers with commands (invoke a step, finish the run). No tokio, no clock,
//! no I/O: the same inputs always give the same commands.

use std::collections::VecDeque;
use std::time::Duration;

use crate::error::{BoxError, WorkflowError};
use crate::workflow::{Dispatch, Emitted, StepId, Workflow};

/// What the driver must do next.
pub enum Command<W: Workflow> {
    /// Call step `step` with `event` on a new task.
    Invoke {
        /// The step to call.
        step: StepId,
        /// Its input.
        event: W::Event,
    },
    /// The run is over: drop every task still in flight and return this.
    Finish(Result<W::Output, WorkflowError>),
}

impl<W: Workflow> std::fmt::Debug for Command<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Invoke { step, event } => f
                .debug_struct("Invoke")
                .field("step", &W::INFO.steps[*step].name)
                .field("event", &W::event_name(event))
                .finish(),
            Command::Finish(Ok(_)) => f.write_str("Finish(Ok(..))"),
            Command::Finish(Err(error)) => f.debug_tuple("Finish").field(error).finish(),
        }
    }
}

/// How a step invocation failed.
#[derive(Debug)]
pub enum StepFailure {
    /// The step returned `Err`.
    Error(BoxError),
    /// The step panicked with this message.
    Panic(String),
}

/// How many event names a [`WorkflowError::Stalled`] reports.
const RECENT_EVENTS: usize = 5;

/// The state of one run.
pub struct RunCore<W: Workflow> {
    /// Events waiting for a free worker, per step.
    queues: Vec<VecDeque<W::Event>>,
    /// Invocations in flight, per step.
    running: Vec<usize>,
    /// Names of the last events routed, oldest first.
    recent: VecDeque<&'static str>,
    finished: bool,
}

impl<W: Workflow> std::fmt::Debug for RunCore<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunCore")
            .field("workflow", &W::INFO.name)
            .field("queued", &self.queues.iter().map(VecDeque::len).collect::<Vec<_>>())
            .field("running", &self.running)
            .field("recent", &self.recent)
            .field("finished", &self.finished)
            .finish()
    }
}

impl<W: Workflow> Default for RunCore<W> {
    fn default() -> Self {
        Self::new()
    }
}

impl<W: Workflow> RunCore<W> {
    /// A run that has not started.
    pub fn new() -> Self {
        let steps = W::INFO.steps.len();
        Self {
            queues: (0..steps).map(|_| VecDeque::new()).collect(),
            running: vec![0; steps],
            recent: VecDeque::with_capacity(RECENT_EVENTS),
            finished: false,
        }
    }

    /// Whether a `Finish` command has been issued.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Starts the run with `input`.
    pub fn start(&mut self, input: W::Input, commands: &mut Vec<Command<W>>) {
        let event = W::start_event(input);
        self.deliver(event, commands);
        self.advance(commands);
    }

    /// Records that an invocation of `step` ended with `result`.
    pub fn step_finished(
        &mut self,
        step: StepId,
        result: Result<Emitted<W::Event>, StepFailure>,
        commands: &mut Vec<Command<W>>,
    ) {
        if self.finished {
            return;
        }
        self.running[step] -= 1;
        match result {
            Ok(Emitted::Nothing) => {}
            Ok(Emitted::One(event)) => self.deliver(event, commands),
            Ok(Emitted::Many(events)) => {
                for event in events {
                    self.deliver(event, commands);
                    if self.finished {
                        break;
                    }
                }
            }
            Err(failure) => self.finish(Err(step_error::<W>(step, failure)), commands),
        }
        self.advance(commands);
    }

    /// Ends the run because its timeout elapsed.
    pub fn timed_out(&mut self, after: Duration, commands: &mut Vec<Command<W>>) {
        let error =
            WorkflowError::Timeout { workflow: W::INFO.name, after, active_steps: self.active_steps() };
        self.finish(Err(error), commands);
    }

    /// Steps with an invocation in flight or an event queued.
    pub fn active_steps(&self) -> Vec<&'static str> {
        (0..self.running.len())
            .filter(|&s| self.running[s] > 0 || !self.queues[s].is_empty())
            .map(|s| W::INFO.steps[s].name)
            .collect()
    }

    /// Routes one event: queue it for its consumers, or finish on the stop event.
    fn deliver(&mut self, event: W::Event, commands: &mut Vec<Command<W>>) {
        if self.finished {
            return;
        }
        if self.recent.len() == RECENT_EVENTS {
            self.recent.pop_front();
        }
        self.recent.push_back(W::event_name(&event));
        match W::dispatch(event) {
            Dispatch::Stop(output) => self.finish(Ok(output), commands),
            Dispatch::Steps(steps, event) => {
                if let Some((&last, others)) = steps.split_last() {
                    for &step in others {
                        self.queues[step].push_back(event.clone());
                    }
                    self.queues[last].push_back(event);
                }
            }
        }
    }

    /// Hands queued events to free workers, and detects a stall.
    fn advance(&mut self, commands: &mut Vec<Command<W>>) {
        if self.finished {
            return;
        }
        for (step, queue) in self.queues.iter_mut().enumerate() {
            let limit = W::INFO.steps[step].num_workers;
            while self.running[step] < limit {
                let Some(event) = queue.pop_front() else {
                    break;
                };
                self.running[step] += 1;
                commands.push(Command::Invoke { step, event });
            }
        }
        if self.running.iter().all(|&n| n == 0) {
            let error = WorkflowError::Stalled {
                workflow: W::INFO.name,
                last_events: self.recent.iter().copied().collect(),
            };
            self.finish(Err(error), commands);
        }
    }

    fn finish(&mut self, outcome: Result<W::Output, WorkflowError>, commands: &mut Vec<Command<W>>) {
        self.finished = true;
        commands.clear();
        commands.push(Command::Finish(outcome));
    }
}

fn step_error<W: Workflow>(step: StepId, failure: StepFailure) -> WorkflowError {
    let workflow = W::INFO.name;
    let step = W::INFO.steps[step].name;
    match failure {
        StepFailure::Error(source) => WorkflowError::StepFailed { workflow, step, attempts: 1, source },
        StepFailure::Panic(message) => WorkflowError::StepPanicked { workflow, step, message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    #[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Job(u8);

    /// Start → `split` → Job×n → `work` (1 worker) and `audit` (broadcast) → stop.
    struct Flow;

    #[workflow]
    impl Flow {
        #[step]
        async fn split(&self, ev: StartEvent<u8>) -> Vec<Job> {
            (0..ev.input).map(Job).collect()
        }

        #[step(num_workers = 1)]
        async fn work(&self, ev: Job) -> Option<StopEvent<u8>> {
            Some(StopEvent::new(ev.0))
        }

        #[step(num_workers = 2)]
        async fn audit(&self, ev: Job) -> Vec<Emit<(Job, StopEvent<u8>)>> {
            vec![Emit::new(ev)]
        }
    }

    const SPLIT: StepId = 0;
    const WORK: StepId = 1;
    const AUDIT: StepId = 2;

    fn invoked(commands: &mut Vec<Command<Flow>>) -> Vec<(StepId, String)> {
        commands
            .drain(..)
            .map(|c| match c {
                Command::Invoke { step, event } => (step, format!("{event:?}")),
                Command::Finish(outcome) => panic!("unexpected finish: {:?}", outcome.map(|_| ())),
            })
            .collect()
    }

    fn finished(commands: &mut Vec<Command<Flow>>) -> Result<u8, WorkflowError> {
        assert_eq!(commands.len(), 1, "a finish is the only command");
        match commands.pop() {
            Some(Command::Finish(outcome)) => outcome,
            other => panic!("expected a finish, got {other:?}"),
        }
    }

    /// A core that has started with `input`, and an empty command buffer.
    fn started(input: u8) -> (RunCore<Flow>, Vec<Command<Flow>>) {
        let (mut core, mut commands) = (RunCore::<Flow>::new(), Vec::new());
        core.start(input, &mut commands);
        commands.clear();
        (core, commands)
    }

    fn jobs(range: std::ops::Range<u8>) -> Emitted<FlowEvent> {
        Emitted::Many(range.map(|i| FlowEvent::Job(Job(i))).collect())
    }

    #[test]
    fn start_invokes_the_start_consumer() {
        let (mut core, mut commands) = (RunCore::<Flow>::new(), Vec::new());
        core.start(3, &mut commands);
        assert_eq!(invoked(&mut commands), [(SPLIT, "StartEvent(StartEvent { input: 3 })".into())]);
    }

    #[test]
    fn events_are_broadcast_and_held_back_beyond_num_workers() {
        let (mut core, mut commands) = started(3);
        core.step_finished(SPLIT, Ok(jobs(0..3)), &mut commands);
        let calls = invoked(&mut commands);
        // `work` has one worker, `audit` two: three jobs give 1 + 2 invocations now.
        assert_eq!(calls.iter().filter(|(s, _)| *s == WORK).count(), 1);
        assert_eq!(calls.iter().filter(|(s, _)| *s == AUDIT).count(), 2);
        assert_eq!(core.active_steps(), ["work", "audit"]);

        // `work` finishes without an event: the next queued job goes to it, in order.
        core.step_finished(WORK, Ok(Emitted::Nothing), &mut commands);
        assert_eq!(invoked(&mut commands), [(WORK, "Job(Job(1))".into())]);
    }

    #[test]
    fn the_stop_event_finishes_at_once_and_later_completions_are_ignored() {
        let (mut core, mut commands) = started(1);
        core.step_finished(SPLIT, Ok(jobs(0..2)), &mut commands);
        commands.clear();
        let emitted = Emitted::Many(vec![
            FlowEvent::StopEvent(StopEvent::new(7)),
            FlowEvent::Job(Job(9)), // after the stop: never routed
        ]);
        core.step_finished(AUDIT, Ok(emitted), &mut commands);
        assert_eq!(finished(&mut commands).unwrap(), 7);
        assert!(core.is_finished());
        core.step_finished(WORK, Ok(Emitted::One(FlowEvent::StopEvent(StopEvent::new(1)))), &mut commands);
        assert!(commands.is_empty(), "nothing happens after the finish");
    }

    #[test]
    fn no_work_left_and_no_stop_is_a_stall_naming_recent_events() {
        let (mut core, mut commands) = started(0);
        core.step_finished(SPLIT, Ok(jobs(0..0)), &mut commands);
        let err = finished(&mut commands).unwrap_err();
        assert!(
            matches!(&err, WorkflowError::Stalled { last_events, .. } if last_events == &["StartEvent<u8>"]),
            "{err:?}"
        );
    }

    #[test]
    fn a_failure_finishes_the_run_naming_the_step() {
        let (mut core, mut commands) = started(1);
        core.step_finished(SPLIT, Err(StepFailure::Panic("boom".into())), &mut commands);
        let err = finished(&mut commands).unwrap_err();
        assert!(matches!(err, WorkflowError::StepPanicked { step: "split", .. }), "{err:?}");
    }

    #[test]
    fn a_timeout_names_running_and_queued_steps() {
        let (mut core, mut commands) = started(1);
        core.timed_out(Duration::from_secs(1), &mut commands);
        let err = finished(&mut commands).unwrap_err();
        assert!(matches!(&err, WorkflowError::Timeout { active_steps, .. } if active_steps == &["split"]));
    }

    #[test]
    fn only_the_last_five_events_are_kept_for_a_stall_report() {
        let (mut core, mut commands) = started(1);
        core.step_finished(SPLIT, Ok(jobs(0..9)), &mut commands);
        assert_eq!(core.recent.len(), RECENT_EVENTS);
    }
}
