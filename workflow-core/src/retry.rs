//! Retry policies for `#[step(retry = ..)]`.

use std::time::Duration;

use crate::error::BoxError;

/// When and how often a failed step is tried again.
///
/// ```
/// # use std::time::Duration;
/// # use workflow_core::RetryPolicy;
/// let policy = RetryPolicy::exponential(5)
///     .base_delay(Duration::from_millis(50))
///     .max_delay(Duration::from_secs(2))
///     .max_elapsed(Duration::from_secs(10))
///     .retry_if(|error| !error.to_string().contains("permanent"));
/// # let _ = policy;
/// ```
///
/// A retried step runs again from the top with a copy of its input event;
/// it can read its attempt number with `ctx.attempt()`.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    factor: u32,
    max_delay: Duration,
    jitter: bool,
    max_elapsed: Option<Duration>,
    retry_if: Option<fn(&BoxError) -> bool>,
}

impl RetryPolicy {
    /// Up to `max_attempts` attempts in all, `delay` apart.
    pub fn fixed(max_attempts: u32, delay: Duration) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            base_delay: delay,
            factor: 1,
            max_delay: delay,
            jitter: false,
            max_elapsed: None,
            retry_if: None,
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
            max_elapsed: None,
            retry_if: None,
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

    /// Stops retrying once this long has passed since the first attempt started.
    pub fn max_elapsed(mut self, limit: Duration) -> Self {
        self.max_elapsed = Some(limit);
        self
    }

    /// Retries only errors for which `predicate` is true (a panic is never retried).
    pub fn retry_if(mut self, predicate: fn(&BoxError) -> bool) -> Self {
        self.retry_if = Some(predicate);
        self
    }

    /// The most attempts this policy allows.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The delay before attempt `attempts + 1`, after `attempts` failures, or
    /// `None` if the policy gives up. `elapsed` is the time since the first
    /// attempt started; `random` is a number in `0.0..1.0` for the jitter.
    pub fn next_delay(
        &self,
        attempts: u32,
        elapsed: Duration,
        error: &BoxError,
        random: f64,
    ) -> Option<Duration> {
        self.retries(error).then(|| self.delay_after(attempts, elapsed, random)).flatten()
    }

    /// Whether this policy retries `error` at all (its `retry_if`).
    pub(crate) fn retries(&self, error: &BoxError) -> bool {
        self.retry_if.is_none_or(|retry| retry(error))
    }

    /// [`next_delay`](Self::next_delay) for an error this policy retries.
    pub(crate) fn delay_after(&self, attempts: u32, elapsed: Duration, random: f64) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let growth = self.factor.saturating_pow(attempts.saturating_sub(1));
        let mut delay = self.base_delay.saturating_mul(growth).min(self.max_delay);
        if self.jitter {
            delay = delay.saturating_add(delay.mul_f64(random.clamp(0.0, 1.0) / 2.0));
        }
        match self.max_elapsed {
            Some(limit) if elapsed.saturating_add(delay) > limit => None,
            _ => Some(delay),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> BoxError {
        text.into()
    }

    #[test]
    fn fixed_retries_a_set_number_of_times_with_a_constant_delay() {
        let policy = RetryPolicy::fixed(3, Duration::from_millis(20));
        let e = error("flaky");
        assert_eq!(policy.next_delay(1, Duration::ZERO, &e, 0.9), Some(Duration::from_millis(20)));
        assert_eq!(policy.next_delay(2, Duration::ZERO, &e, 0.9), Some(Duration::from_millis(20)));
        assert_eq!(policy.next_delay(3, Duration::ZERO, &e, 0.9), None);
    }

    #[test]
    fn exponential_doubles_up_to_the_maximum_delay() {
        let policy = RetryPolicy::exponential(10).jitter(false).max_delay(Duration::from_millis(500));
        let e = error("flaky");
        let delays: Vec<_> =
            (1..=5).map(|n| policy.next_delay(n, Duration::ZERO, &e, 0.0).unwrap()).collect();
        let ms: Vec<_> = delays.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [100, 200, 400, 500, 500]);
    }

    #[test]
    fn jitter_adds_at_most_half_the_delay() {
        let policy = RetryPolicy::exponential(3);
        let e = error("flaky");
        assert_eq!(policy.next_delay(1, Duration::ZERO, &e, 0.0), Some(Duration::from_millis(100)));
        assert_eq!(policy.next_delay(1, Duration::ZERO, &e, 1.0), Some(Duration::from_millis(150)));
    }

    #[test]
    fn elapsed_time_and_the_predicate_stop_retries() {
        let policy =
            RetryPolicy::fixed(10, Duration::from_millis(100)).max_elapsed(Duration::from_millis(250));
        let e = error("flaky");
        assert!(policy.next_delay(1, Duration::from_millis(100), &e, 0.0).is_some());
        assert!(policy.next_delay(2, Duration::from_millis(200), &e, 0.0).is_none());

        let picky = RetryPolicy::fixed(10, Duration::ZERO).retry_if(|e| e.to_string() == "flaky");
        assert!(picky.next_delay(1, Duration::ZERO, &e, 0.0).is_some());
        assert!(picky.next_delay(1, Duration::ZERO, &error("fatal"), 0.0).is_none());
    }
}
