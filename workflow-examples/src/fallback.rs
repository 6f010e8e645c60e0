//! Fallback on error: an exchange rate from a flaky upstream source, retried
//! with back-off, and served from the last known rates when the source stays
//! down.
//!
//! ```text
//! StartEvent<String> ─check→ Lookup ─fetch→ Quote ─answer→ StopEvent<Quote>
//!                                       │ (retried, then)
//!                                       └→ StepFailed ─use_cache→ Quote
//! ```
//!
//! `fetch` retries transient errors (a timeout, a 503) three times in all;
//! an unknown pair is not retried. Whatever `fetch` cannot get goes to
//! `use_cache`, which covers `fetch` only: a malformed pair, rejected by
//! `check`, ends the run with `check`'s own error.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use workflow_core::prelude::*;

/// What the upstream source answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// Worth trying again.
    #[error("the rate service timed out")]
    Timeout,
    /// Worth trying again.
    #[error("the rate service is unavailable (503)")]
    Unavailable,
    /// Not worth trying again.
    #[error("the rate service does not quote {0}")]
    UnknownPair(String),
}

impl SourceError {
    /// Whether another attempt may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, SourceError::Timeout | SourceError::Unavailable)
    }
}

/// A rate service: here an offline stand-in that fails on cue.
pub struct RateService {
    rates: HashMap<String, f64>,
    /// How many calls fail (with a timeout) before the service answers.
    failures_left: AtomicU32,
    /// Whether every call fails (with a 503).
    down: bool,
    calls: AtomicU32,
}

impl RateService {
    /// A service that answers at once.
    pub fn healthy() -> Self {
        Self::new(0, false)
    }

    /// A service whose first `n` calls time out.
    pub fn flaky(n: u32) -> Self {
        Self::new(n, false)
    }

    /// A service that is down.
    pub fn down() -> Self {
        Self::new(0, true)
    }

    fn new(failures: u32, down: bool) -> Self {
        let rates = [("EUR/USD", 1.0842), ("EUR/GBP", 0.8531), ("USD/JPY", 151.37)];
        Self {
            rates: rates.into_iter().map(|(pair, rate)| (pair.to_owned(), rate)).collect(),
            failures_left: AtomicU32::new(failures),
            down,
            calls: AtomicU32::new(0),
        }
    }

    /// How many times it was called.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    async fn quote(&self, pair: &str) -> Result<f64, SourceError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(2)).await; // the round trip
        if self.down {
            return Err(SourceError::Unavailable);
        }
        let failing =
            self.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if failing.is_ok() {
            return Err(SourceError::Timeout);
        }
        self.rates.get(pair).copied().ok_or_else(|| SourceError::UnknownPair(pair.to_owned()))
    }
}

/// A currency pair to look up, as `BASE/QUOTE`.
#[event]
pub struct Lookup {
    pub pair: String,
}

/// A rate, and where it came from.
#[event]
#[derive(PartialEq)]
pub struct Quote {
    pub pair: String,
    pub rate: f64,
    pub source: QuoteSource,
}

#[data]
#[derive(PartialEq)]
pub enum QuoteSource {
    /// From the service, on this attempt.
    Live { attempt: u32 },
    /// From the last known rates, because the service failed so.
    Cached { because: String },
}

/// Why a pair was rejected before the service was asked.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a currency pair; write it as BASE/QUOTE, such as EUR/USD")]
pub struct MalformedPair(String);

/// Why there is no rate at all.
#[derive(Debug, thiserror::Error)]
#[error("no rate for {pair}: the service failed ({error}) and none is cached")]
pub struct NoRate {
    pair: String,
    error: String,
}

pub struct Rates {
    service: RateService,
    /// The last known rates, as the service last gave them.
    cache: Mutex<HashMap<String, f64>>,
}

impl Rates {
    /// Rates from `service`, with `cached` as the last known ones.
    pub fn new(service: RateService, cached: &[(&str, f64)]) -> Self {
        let cache = cached.iter().map(|(pair, rate)| ((*pair).to_owned(), *rate)).collect();
        Self { service, cache: Mutex::new(cache) }
    }

    /// The service, to see how often it was called.
    pub fn service(&self) -> &RateService {
        &self.service
    }
}

#[workflow]
impl Rates {
    #[step]
    async fn check(&self, ev: StartEvent<String>) -> Result<Lookup, MalformedPair> {
        let pair = ev.input.trim().to_uppercase();
        let well_formed = pair.split('/').map(str::len).eq([3, 3]);
        if !well_formed {
            return Err(MalformedPair(ev.input.clone()));
        }
        Ok(Lookup { pair })
    }

    /// Asks the service; a timeout or a 503 is tried again (three attempts,
    /// 10 ms then 20 ms apart), an unknown pair is not.
    #[step(retry = Backoff::exponential(3)
        .base_delay(Duration::from_millis(10))
        .jitter(false)
        .retry_if(|e| e.downcast_ref::<SourceError>().is_some_and(SourceError::is_transient)))]
    async fn fetch(&self, ctx: &Context, ev: Lookup) -> Result<Quote, SourceError> {
        let rate = self.service.quote(&ev.pair).await?;
        self.cache.lock().unwrap().insert(ev.pair.clone(), rate);
        Ok(Quote { pair: ev.pair, rate, source: QuoteSource::Live { attempt: ctx.retry_info().attempt } })
    }

    /// What `fetch` could not get: the last known rate, if there is one.
    #[step(for_steps = [fetch])]
    async fn use_cache(&self, ev: StepFailed) -> Result<Quote, NoRate> {
        let pair = ev.input["pair"].as_str().unwrap_or_default().to_owned();
        let cached = self.cache.lock().unwrap().get(&pair).copied();
        match cached {
            Some(rate) => Ok(Quote { pair, rate, source: QuoteSource::Cached { because: ev.error } }),
            None => Err(NoRate { pair, error: ev.error }),
        }
    }

    #[step]
    async fn answer(&self, ev: Quote) -> StopEvent<Quote> {
        StopEvent::new(ev)
    }
}
