//! Where an invocation runs: polled inline on the driver, or on a task of
//! its own.
//!
//! Spawning a task costs far more than a trivial step, so an invocation is
//! first polled inline; if it completes at once (and quickly) its step is
//! light and stays inline. A step whose invocation awaits something
//! (`Pending` on the first poll) or computes for long is spawned from then
//! on, so that such steps run in parallel on every core.

use std::time::Duration;

use crate::contract::StepId;

/// An inline invocation that took longer than this makes its step spawned.
const SLOW: Duration = Duration::from_micros(200);

/// What is known of a step's invocations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Speed {
    Unknown,
    /// Unknown, with an invocation already on a task.
    UnknownSpawned,
    Light,
    Spawned,
}

/// The inline-or-spawn choice, learned per step.
pub(super) struct Placement {
    speed: Vec<Speed>,
    /// Inline invocations so far, to time one in sixteen.
    inline_count: u32,
}

impl Placement {
    pub(super) fn new(steps: usize) -> Self {
        Self { speed: vec![Speed::Unknown; steps], inline_count: 0 }
    }

    /// Whether an invocation of `step` runs inline: only without a delay,
    /// and, while the step is unknown, only if it is the only one of its
    /// step in this batch (several at once are all spawned, so that a heavy
    /// step runs in parallel from the start: an inline one would hold the
    /// driver's thread, where a fresh task waits to run).
    pub(super) fn inline(
        &self,
        step: StepId,
        delay: Duration,
        more_of_this_step: impl FnOnce() -> bool,
    ) -> bool {
        delay.is_zero()
            && match self.speed[step] {
                Speed::Light => true,
                Speed::Spawned | Speed::UnknownSpawned => false,
                Speed::Unknown => !more_of_this_step(),
            }
    }

    /// Whether to time this inline invocation of `step`: the first ones of
    /// a step, then one in sixteen, enough to notice a light step turning
    /// heavy without a clock read per hop.
    pub(super) fn time_inline(&mut self, step: StepId) -> bool {
        self.inline_count = self.inline_count.wrapping_add(1);
        self.speed[step] == Speed::Unknown || self.inline_count & 15 == 0
    }

    /// An inline invocation of `step` completed on its first poll, in
    /// `took` if it was timed.
    pub(super) fn completed_inline(&mut self, step: StepId, took: Option<Duration>) {
        if let Some(took) = took {
            self.speed[step] = Self::judge(took);
        }
    }

    /// An inline invocation of `step` did not complete on its first poll.
    pub(super) fn went_pending(&mut self, step: StepId) {
        self.speed[step] = Speed::Spawned;
    }

    /// An invocation of `step` is spawned; whether to time it.
    pub(super) fn spawning(&mut self, step: StepId) -> bool {
        if self.speed[step] == Speed::Unknown {
            self.speed[step] = Speed::UnknownSpawned;
        }
        self.speed[step] == Speed::UnknownSpawned
    }

    /// A spawned invocation of `step` ended after `took` of its own work.
    pub(super) fn completed_on_task(&mut self, step: StepId, took: Duration) {
        if matches!(self.speed[step], Speed::Unknown | Speed::UnknownSpawned) {
            self.speed[step] = Self::judge(took);
        }
    }

    fn judge(took: Duration) -> Speed {
        if took > SLOW {
            Speed::Spawned
        } else {
            Speed::Light
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Duration = Duration::from_micros(1);
    const HEAVY: Duration = Duration::from_millis(5);

    #[test]
    fn an_unknown_step_runs_inline_alone_and_is_spawned_in_company() {
        let placement = Placement::new(1);
        assert!(placement.inline(0, Duration::ZERO, || false));
        assert!(!placement.inline(0, Duration::ZERO, || true));
        assert!(!placement.inline(0, Duration::from_millis(1), || false), "a delayed retry is spawned");
    }

    #[test]
    fn a_quick_step_stays_inline_and_a_slow_or_pending_one_is_spawned() {
        let mut placement = Placement::new(3);
        assert!(placement.time_inline(0));
        placement.completed_inline(0, Some(FAST));
        assert!(placement.inline(0, Duration::ZERO, || true), "light: inline even in company");
        placement.completed_inline(1, Some(HEAVY));
        assert!(!placement.inline(1, Duration::ZERO, || false));
        placement.went_pending(2);
        assert!(!placement.inline(2, Duration::ZERO, || false));
    }

    #[test]
    fn a_spawned_unknown_step_is_judged_by_its_first_completion() {
        let mut placement = Placement::new(1);
        assert!(placement.spawning(0), "the first spawned invocation is timed");
        assert!(!placement.inline(0, Duration::ZERO, || false), "unknown, spawned: not inline yet");
        placement.completed_on_task(0, FAST);
        assert!(placement.inline(0, Duration::ZERO, || false));
        assert!(!placement.spawning(0), "a known step's tasks are not timed");
    }
}
