//! An exchange rate from a rate service that is healthy, flaky, then down:
//! `cargo run -p workflow-examples --example fallback -- EUR/USD`

use workflow_core::prelude::*;
use workflow_examples::fallback::{QuoteSource, RateService, Rates};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pair = std::env::args().nth(1).unwrap_or_else(|| "EUR/USD".to_owned());
    let cached = [("EUR/USD", 1.0790), ("EUR/GBP", 0.8502), ("USD/JPY", 149.80)];
    for (name, service) in [
        ("healthy", RateService::healthy()),
        ("flaky (two timeouts)", RateService::flaky(2)),
        ("down", RateService::down()),
    ] {
        let quote = Rates::new(service, &cached).run(pair.clone()).await?;
        let from = match quote.source {
            QuoteSource::Live { attempt } => format!("live, attempt {attempt}"),
            QuoteSource::Cached { because } => format!("cached, because {because}"),
        };
        println!("{name:>22}: {} = {} ({from})", quote.pair, quote.rate);
    }
    Ok(())
}
