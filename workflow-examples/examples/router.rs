//! Routes a question to the simple or the complex branch:
//! `cargo run -p workflow-examples --example router -- "Do you ship to Norway and how long does express take?"`

use std::sync::Arc;

use workflow_core::prelude::*;
use workflow_examples::corpus::Index;
use workflow_examples::router::QueryRouter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let question = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let question = if question.trim().is_empty() {
        "Do you ship to Norway and how fast is express shipping?".to_owned()
    } else {
        question
    };
    let routed = QueryRouter::new(Arc::new(Index::bundled()?)).run(question.clone()).await?;
    println!("Q: {question}");
    println!("Route: {:?}", routed.route);
    for answer in routed.answers {
        println!("- {answer}");
    }
    Ok(())
}
