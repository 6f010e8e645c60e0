//! Searches three sources in parallel and merges the results:
//! `cargo run -p workflow-examples --example aggregator -- "gift card balance"`

use std::time::Instant;

use workflow_core::prelude::*;
use workflow_examples::aggregator::{bundled_sources, Aggregator};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let question = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let question =
        if question.trim().is_empty() { "refund or return in a store".to_owned() } else { question };
    let sources = bundled_sources()?;
    let latencies: Vec<_> = sources.iter().map(|s| format!("{} {:?}", s.name, s.latency)).collect();
    let started = Instant::now();
    let merged = Aggregator::new(sources, 2).run(question.clone()).await?;
    println!("Q: {question}");
    println!(
        "searched {} in {:?} (sources answered: {})",
        latencies.join(", "),
        started.elapsed(),
        merged.answered.join(", ")
    );
    for (source, hit) in merged.results.iter().take(3) {
        println!("- [{source}, {:.2}] {}", hit.score, hit.passage.text);
    }
    Ok(())
}
