//! Answers a question from the bundled help pages:
//! `cargo run -p workflow-examples --example rag -- "How long is the refund window?"`

use std::sync::Arc;

use workflow_core::prelude::*;
use workflow_examples::corpus::Index;
use workflow_examples::rag::Rag;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let question = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let question =
        if question.trim().is_empty() { "How long is the refund window?".to_owned() } else { question };
    let index = Arc::new(Index::bundled()?);
    let answer = Rag::new(index).run(question.clone()).await?;
    println!("Q: {question}");
    println!("A: {}", answer.text);
    if !answer.sources.is_empty() {
        println!("Sources: {}", answer.sources.join(", "));
    }
    Ok(())
}
