//! Where an invocation runs: polled inline on the driver, or on a task of
//! its own.
//!
//! Spawning a task costs far more than a trivial step, so an invocation is
//! first polled inline; if it completes at once (and quickly) its step is
//! light and stays inline. A step whose invocation awaits something
//! (`Pending` on the first poll) or computes for long is spawned from then
//! on, so that such steps run in parallel on every core.
//!
//! That a step is light is remembered across runs in the process (see
//! [`LEARNED`]): a run of ten light steps would otherwise read the clock
//! twenty times to learn again what the last run knew.

use std::sync::atomic::{AtomicU64, Ordering};
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

/// The steps known to be light, across the runs of a process: slots of
/// `key << 1 | 1`, where the key names a workflow's step (see [`key`]). Only
/// lightness is remembered, and a slot is taken by the last step judged, so
/// that a collision forgets what was known but never misleads; a step that
/// turns heavy is caught by the one-in-sixteen timing and forgotten.
static LEARNED: [AtomicU64; 1024] = [const { AtomicU64::new(0) }; 1024];

/// A step of one workflow, as [`LEARNED`] knows it: the address of the
/// workflow's static table, mixed with the step.
fn key(workflow: usize, step: StepId) -> u64 {
    (workflow as u64) ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn slot(key: u64) -> &'static AtomicU64 {
    // Fibonacci hashing: the top bits of the product spread nearby keys.
    &LEARNED[(key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54) as usize]
}

/// The inline-or-spawn choice, learned per step.
pub(super) struct Placement {
    speed: Vec<Speed>,
    /// Inline invocations so far, to time one in sixteen.
    inline_count: u32,
    /// The workflow whose steps' lightness is remembered across runs, by
    /// the address of its static table; `None` to remember nothing.
    workflow: Option<usize>,
}

impl Placement {
    /// A placement that knows nothing and remembers nothing.
    #[cfg(test)]
    pub(super) fn new(steps: usize) -> Self {
        Self { speed: vec![Speed::Unknown; steps], inline_count: 0, workflow: None }
    }

    /// A placement for a run of `workflow` (the address of its static
    /// table) that starts from what earlier runs learned, its sampling
    /// offset by `phase` so that short runs do not all time the same hop.
    pub(super) fn remembering(steps: usize, workflow: usize, phase: u64) -> Self {
        let speed = (0..steps)
            .map(|step| {
                let key = key(workflow, step);
                let known = slot(key).load(Ordering::Relaxed) == key << 1 | 1;
                if known {
                    Speed::Light
                } else {
                    Speed::Unknown
                }
            })
            .collect();
        Self { speed, inline_count: phase as u32 & 15, workflow: Some(workflow) }
    }

    /// Sets `step`'s speed, and remembers or forgets that it is light.
    fn judged(&mut self, step: StepId, speed: Speed) {
        let was = std::mem::replace(&mut self.speed[step], speed);
        let Some(workflow) = self.workflow else { return };
        let key = key(workflow, step);
        match speed {
            Speed::Light if was != Speed::Light => slot(key).store(key << 1 | 1, Ordering::Relaxed),
            Speed::Spawned => {
                let _ = slot(key).compare_exchange(key << 1 | 1, 0, Ordering::Relaxed, Ordering::Relaxed);
            }
            _ => {}
        }
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
            self.judged(step, Self::judge(took));
        }
    }

    /// An inline invocation of `step` did not complete on its first poll.
    pub(super) fn went_pending(&mut self, step: StepId) {
        self.judged(step, Speed::Spawned);
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
            self.judged(step, Self::judge(took));
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

    #[test]
    fn lightness_is_remembered_across_runs_and_forgotten_when_a_step_turns_heavy() {
        // An address no real table has, so that other tests cannot meet it.
        let workflow = 0x0dd0_0000_usize;
        let mut first = Placement::remembering(2, workflow, 0);
        assert!(first.time_inline(0), "unknown at first: timed");
        first.completed_inline(0, Some(FAST));
        first.completed_inline(1, Some(HEAVY));
        let mut second = Placement::remembering(2, workflow, 0);
        assert!(second.inline(0, Duration::ZERO, || true), "known light: inline even in company");
        assert!(!second.time_inline(0), "a known light step is not timed on its first hop");
        assert!(!second.inline(1, Duration::ZERO, || true), "heaviness is not remembered: unknown again");
        second.went_pending(0);
        let third = Placement::remembering(2, workflow, 0);
        assert!(!third.inline(0, Duration::ZERO, || true), "a step that awaited is forgotten as light");
        let other = Placement::remembering(2, workflow + 64, 0);
        assert!(!other.inline(0, Duration::ZERO, || true), "another workflow knows nothing of it");
    }
}
