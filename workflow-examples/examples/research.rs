//! A research agent over the bundled help pages, one child search per part
//! of the question, their progress streamed as they go:
//! `cargo run -p workflow-examples --example research -- "How long is the refund window and how much does express shipping cost?"`

use workflow_core::prelude::*;
use workflow_examples::research::Research;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let question = std::env::args().nth(1).unwrap_or_else(|| {
        "How long is the refund window and how much does express shipping cost \
         and when is the Utrecht store open on Sunday?"
            .to_owned()
    });
    let mut handler = Research::bundled()?.start(question);
    while let Some(item) = handler.events().next().await {
        if let RunEvent::Child(child) = item {
            if let RunEvent::Event(event) = &child.event {
                println!("[{} run {}] {}", child.workflow, child.run_id, event["data"]);
            }
        }
    }
    let report = handler.await?;
    println!("\n{}", report.question);
    for finding in report.findings {
        let answer = finding.answer.unwrap_or_else(|| "nothing found".to_owned());
        let source = finding.source.map(|s| format!(" ({s})")).unwrap_or_default();
        println!("- {}: {answer}{source}", finding.question);
    }
    Ok(())
}
