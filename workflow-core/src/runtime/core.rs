//! The deterministic heart of a run: queues, worker limits, routing, stop and
//! stall detection. It takes inputs (start, a step finished, time ran out) and
//! answers with commands (invoke a step, finish the run). No tokio, no clock,
//! no I/O: the same inputs always give the same commands.

use std::collections::VecDeque;
use std::time::Duration;

use crate::error::{BoxError, WorkflowError};
use crate::workflow::{Dispatch, Emitted, StepId, Workflow};

/// What the driver must do next.
#[derive(Debug)]
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
#[derive(Debug)]
pub struct RunCore<W: Workflow> {
    /// Events waiting for a free worker, per step.
    queues: Vec<VecDeque<W::Event>>,
    /// Invocations in flight, per step.
    running: Vec<usize>,
    /// Names of the last events routed, oldest first.
    recent: VecDeque<&'static str>,
    finished: bool,
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
        let error = WorkflowError::Timeout {
            workflow: W::INFO.name,
            after,
            active_steps: self.active_steps(),
        };
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

    fn finish(
        &mut self,
        outcome: Result<W::Output, WorkflowError>,
        commands: &mut Vec<Command<W>>,
    ) {
        self.finished = true;
        commands.clear();
        commands.push(Command::Finish(outcome));
    }
}

fn step_error<W: Workflow>(step: StepId, failure: StepFailure) -> WorkflowError {
    let workflow = W::INFO.name;
    let step = W::INFO.steps[step].name;
    match failure {
        StepFailure::Error(source) => WorkflowError::StepFailed {
            workflow,
            step,
            attempts: 1,
            source,
        },
        StepFailure::Panic(message) => WorkflowError::StepPanicked {
            workflow,
            step,
            message,
        },
    }
}
