//! Drafts a headline and revises it until it fits the brief:
//! `cargo run -p workflow-examples --example refine -- 5 warranty`

use workflow_core::prelude::*;
use workflow_examples::refine::{Brief, Refine};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let max_words = args.next().map(|n| n.parse()).transpose()?.unwrap_or(5);
    let must_include = args.next().unwrap_or_else(|| "warranty".to_owned());
    let text = "All Northwind tents, backpacks and sleeping bags carry a 2 year warranty against defects. \
                Jackets carry a lifetime warranty on zips and seams."
        .to_owned();
    let headline = Refine.run(Brief { text, max_words, must_include }).await?;
    println!("{} (after {} review(s), accepted: {})", headline.text, headline.reviews, headline.accepted);
    Ok(())
}
