//! Retry policies for `#[step(retry = ..)]`: the [`RetryPolicy`] trait,
//! [`Backoff`] (fixed or exponential delays) and the combinators that
//! narrow a policy down.

use std::time::Duration;

use crate::error::BoxError;

/// Decides whether, and after how long, a failed step is tried again.
///
/// The runtime asks it after each failed attempt, with the attempt's
/// number, the time since the first attempt started and the error;
/// `Some(delay)` tries again after `delay`, `None` gives up (the failure
/// then goes to a failure handler, or ends the run). A panic is never
/// retried. Write your own, or build one from [`Backoff`] and the
/// combinators:
///
/// ```
/// # use std::time::Duration;
/// use workflow_core::retry::{Backoff, FailedAttempt, RetryPolicy};
///
/// let policy = Backoff::exponential(5)
///     .base_delay(Duration::from_millis(50))
///     .max_delay(Duration::from_secs(2))
///     .max_elapsed(Duration::from_secs(10))
///     .retry_if(|error| !error.to_string().contains("permanent"));
/// # let _ = policy;
///
/// /// Retries a rate limit after the time the error names, three times.
/// struct RateLimited;
///
/// impl RetryPolicy for RateLimited {
///     fn next_delay(&self, failed: &FailedAttempt<'_>) -> Option<Duration> {
///         let seconds: u64 = failed.error.to_string().strip_prefix("retry after ")?.parse().ok()?;
///         (failed.attempt < 3).then(|| Duration::from_secs(seconds))
///     }
/// }
/// ```
///
/// A retried step runs again from the top with a copy of its input event;
/// it reads its attempt number and the previous attempt's error with
/// `ctx.retry_info()`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a retry policy",
    label = "not a `RetryPolicy`",
    note = "use `Backoff::fixed(attempts, delay)` or `Backoff::exponential(attempts)`, or implement `RetryPolicy` for your own type"
)]
pub trait RetryPolicy: Send + Sync + 'static {
    /// The delay before the attempt after `failed`, or `None` to give up.
    fn next_delay(&self, failed: &FailedAttempt<'_>) -> Option<Duration>;

    /// This policy, for errors `predicate` accepts only; others are not retried.
    fn retry_if<F>(self, predicate: F) -> RetryIf<Self, F>
    where
        Self: Sized,
        F: Fn(&BoxError) -> bool + Send + Sync + 'static,
    {
        RetryIf { policy: self, predicate }
    }

    /// This policy, giving up once `max_attempts` attempts in all have failed.
    fn max_attempts(self, max_attempts: u32) -> MaxAttempts<Self>
    where
        Self: Sized,
    {
        MaxAttempts { policy: self, max_attempts }
    }

    /// This policy, giving up when the next attempt would start more than
    /// `limit` after the first one started.
    fn max_elapsed(self, limit: Duration) -> MaxElapsed<Self>
    where
        Self: Sized,
    {
        MaxElapsed { policy: self, limit }
    }
}

/// An attempt of a step that failed, as a [`RetryPolicy`] is told it.
#[derive(Debug)]
#[non_exhaustive]
pub struct FailedAttempt<'a> {
    /// Which attempt failed: 1 for the first. After a failure handler
    /// recovered the step, its attempts go on counting.
    pub attempt: u32,
    /// The time since the first of these attempts started.
    pub elapsed: Duration,
    /// The step's error.
    pub error: &'a BoxError,
    /// A number in `0.0..1.0` for jitter, drawn from the run's own sequence
    /// (seeded by its id), so that runs failing together spread apart.
    pub random: f64,
}

impl<'a> FailedAttempt<'a> {
    /// Attempt `attempt`, `elapsed` after the first started, failed with `error`.
    pub fn new(attempt: u32, elapsed: Duration, error: &'a BoxError, random: f64) -> Self {
        Self { attempt, elapsed, error, random }
    }
}

/// Fixed or exponentially growing delays, up to a number of attempts:
/// [`Backoff::fixed`] and [`Backoff::exponential`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    max_attempts: u32,
    base_delay: Duration,
    factor: u32,
    max_delay: Duration,
    jitter: bool,
}

impl Backoff {
    /// Up to `max_attempts` attempts in all, `delay` apart.
    pub fn fixed(max_attempts: u32, delay: Duration) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            base_delay: delay,
            factor: 1,
            max_delay: delay,
            jitter: false,
        }
    }

    /// Up to `max_attempts` attempts in all, waiting 100 ms, then 200 ms,
    /// 400 ms… (at most 10 s), each with random jitter of up to half the delay.
    pub fn exponential(max_attempts: u32) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            base_delay: Duration::from_millis(100),
            factor: 2,
            max_delay: Duration::from_secs(10),
            jitter: true,
        }
    }

    /// The delay before the second attempt.
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The longest delay between two attempts.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Whether to add random jitter (up to half the delay) to each delay,
    /// so that many failing runs do not retry in lockstep.
    pub fn jitter(mut self, on: bool) -> Self {
        self.jitter = on;
        self
    }
}

impl RetryPolicy for Backoff {
    fn next_delay(&self, failed: &FailedAttempt<'_>) -> Option<Duration> {
        if failed.attempt >= self.max_attempts {
            return None;
        }
        let growth = self.factor.saturating_pow(failed.attempt.saturating_sub(1));
        let delay = self.base_delay.saturating_mul(growth).min(self.max_delay);
        if !self.jitter {
            return Some(delay);
        }
        Some(delay.saturating_add(delay.mul_f64(failed.random.clamp(0.0, 1.0) / 2.0)))
    }
}

/// A policy for the errors a predicate accepts: [`RetryPolicy::retry_if`].
pub struct RetryIf<P, F> {
    policy: P,
    predicate: F,
}

impl<P: RetryPolicy, F: Fn(&BoxError) -> bool + Send + Sync + 'static> RetryPolicy for RetryIf<P, F> {
    fn next_delay(&self, failed: &FailedAttempt<'_>) -> Option<Duration> {
        (self.predicate)(failed.error).then(|| self.policy.next_delay(failed)).flatten()
    }
}

/// A policy stopped after a number of attempts: [`RetryPolicy::max_attempts`].
#[derive(Clone, Copy, Debug)]
pub struct MaxAttempts<P> {
    policy: P,
    max_attempts: u32,
}

impl<P: RetryPolicy> RetryPolicy for MaxAttempts<P> {
    fn next_delay(&self, failed: &FailedAttempt<'_>) -> Option<Duration> {
        (failed.attempt < self.max_attempts).then(|| self.policy.next_delay(failed)).flatten()
    }
}

/// A policy stopped after a time: [`RetryPolicy::max_elapsed`].
#[derive(Clone, Copy, Debug)]
pub struct MaxElapsed<P> {
    policy: P,
    limit: Duration,
}

impl<P: RetryPolicy> RetryPolicy for MaxElapsed<P> {
    fn next_delay(&self, failed: &FailedAttempt<'_>) -> Option<Duration> {
        self.policy.next_delay(failed).filter(|delay| failed.elapsed.saturating_add(*delay) <= self.limit)
    }
}

/// A deterministic sequence of numbers in `0.0..1.0`, one per failure, for
/// jitter: xorshift64 seeded per run.
#[derive(Clone, Debug)]
pub(crate) struct Jitter(u64);

impl Jitter {
    /// The sequence of run `seed` (run ids are 1, 2, 3…).
    pub(crate) fn new(seed: u64) -> Self {
        Self(scramble(seed) | 1)
    }

    pub(crate) fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// splitmix64's finalizer: spreads a small seed over all 64 bits. xorshift's
/// first outputs from a small seed are tiny, which gave the first retry of
/// every run almost no jitter, so that runs failing together retried in
/// lockstep.
fn scramble(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> BoxError {
        text.into()
    }

    fn delay(
        policy: &impl RetryPolicy,
        attempt: u32,
        elapsed_ms: u64,
        e: &BoxError,
        random: f64,
    ) -> Option<u128> {
        let failed = FailedAttempt::new(attempt, Duration::from_millis(elapsed_ms), e, random);
        policy.next_delay(&failed).map(|d| d.as_millis())
    }

    #[test]
    fn fixed_retries_a_set_number_of_times_with_a_constant_delay() {
        let policy = Backoff::fixed(3, Duration::from_millis(20));
        let e = error("flaky");
        assert_eq!(delay(&policy, 1, 0, &e, 0.9), Some(20));
        assert_eq!(delay(&policy, 2, 0, &e, 0.9), Some(20));
        assert_eq!(delay(&policy, 3, 0, &e, 0.9), None);
    }

    #[test]
    fn exponential_doubles_up_to_the_maximum_delay() {
        let policy = Backoff::exponential(10).jitter(false).max_delay(Duration::from_millis(500));
        let e = error("flaky");
        let ms: Vec<_> = (1..=5).map(|n| delay(&policy, n, 0, &e, 0.0).unwrap()).collect();
        assert_eq!(ms, [100, 200, 400, 500, 500]);
    }

    #[test]
    fn jitter_adds_at_most_half_the_delay() {
        let policy = Backoff::exponential(3);
        let e = error("flaky");
        assert_eq!(delay(&policy, 1, 0, &e, 0.0), Some(100));
        assert_eq!(delay(&policy, 1, 0, &e, 1.0), Some(150));
    }

    #[test]
    fn combinators_stop_on_elapsed_time_attempts_and_errors() {
        let e = error("flaky");
        let timed = Backoff::fixed(10, Duration::from_millis(100)).max_elapsed(Duration::from_millis(250));
        assert_eq!(delay(&timed, 1, 100, &e, 0.0), Some(100));
        assert_eq!(delay(&timed, 2, 200, &e, 0.0), None, "the next attempt would start at 300 ms");

        let capped = Backoff::fixed(10, Duration::ZERO).max_attempts(2);
        assert_eq!(delay(&capped, 1, 0, &e, 0.0), Some(0));
        assert_eq!(delay(&capped, 2, 0, &e, 0.0), None);

        let picky = Backoff::fixed(10, Duration::ZERO).retry_if(|e| e.to_string() == "flaky");
        assert_eq!(delay(&picky, 1, 0, &e, 0.0), Some(0));
        assert_eq!(delay(&picky, 1, 0, &error("fatal"), 0.0), None);
    }

    #[test]
    fn a_hand_written_policy_sees_the_attempt_the_time_and_the_error() {
        struct UntilNoon;
        impl RetryPolicy for UntilNoon {
            fn next_delay(&self, failed: &FailedAttempt<'_>) -> Option<Duration> {
                let later = failed.error.to_string() == "later" && failed.elapsed < Duration::from_secs(12);
                later.then(|| Duration::from_secs(u64::from(failed.attempt)))
            }
        }
        let policy = UntilNoon.max_attempts(3);
        assert_eq!(delay(&policy, 2, 0, &error("later"), 0.0), Some(2000));
        assert_eq!(delay(&policy, 1, 12_000, &error("later"), 0.0), None);
        assert_eq!(delay(&policy, 1, 0, &error("never"), 0.0), None);
        assert_eq!(delay(&policy, 3, 0, &error("later"), 0.0), None);
    }

    #[test]
    fn jitter_is_spread_from_the_first_draw_and_repeats_per_seed() {
        let firsts: Vec<f64> = (1..=4).map(|seed| Jitter::new(seed).next()).collect();
        assert!(firsts.iter().all(|r| (0.0..1.0).contains(r)));
        assert!(firsts.iter().any(|&r| r > 0.1), "not all tiny: {firsts:?}");
        assert_eq!(Jitter::new(7).next(), Jitter::new(7).next());
    }
}
