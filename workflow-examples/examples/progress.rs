//! Indexes the bundled corpus, printing progress as the workflow streams it:
//! `cargo run -p workflow-examples --example progress`

use futures::StreamExt;
use workflow_core::prelude::*;
use workflow_examples::corpus::bundled_dir;
use workflow_examples::progress::{Indexer, IndexerEvent};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut handler = Indexer.start(bundled_dir().to_path_buf());
    while let Some(event) = handler.events().next().await {
        if let RunEvent::Event(IndexerEvent::Progress(p)) = event {
            println!("[{}/{}] indexed {}", p.done, p.total, p.source);
        }
    }
    let summary = handler.await?;
    println!("done: {} documents, {} words", summary.documents, summary.words);
    Ok(())
}
