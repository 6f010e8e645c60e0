//! Streaming progress: index every document of a folder, reporting each
//! one to the caller as it goes.
//!
//! ```text
//! StartEvent<PathBuf> ─list→ Vec<Document> ─index (2 workers, streams Progress)→ Indexed ─summarize (Collected)→ StopEvent<Summary>
//! ```

use std::path::PathBuf;

use workflow_core::prelude::*;

use crate::corpus::load;

#[event]
pub struct Document {
    pub source: String,
    pub paragraphs: Vec<String>,
}

#[event]
pub struct Indexed {
    pub source: String,
    pub words: usize,
}

/// Written to the caller's stream after each document.
#[event]
#[derive(PartialEq)]
pub struct Progress {
    pub source: String,
    pub done: usize,
    pub total: usize,
}

#[data]
#[derive(PartialEq)]
pub struct Summary {
    pub documents: usize,
    pub words: usize,
}

/// How many documents are done, shared by the `index` workers.
#[derive(Default)]
pub struct Counter {
    total: usize,
    done: usize,
}

#[derive(Default)]
pub struct Indexer;

#[workflow]
impl Indexer {
    #[step]
    async fn list(
        &self,
        ctx: &Context<Counter>,
        ev: StartEvent<PathBuf>,
    ) -> Result<Vec<Document>, std::io::Error> {
        let mut documents: Vec<Document> = Vec::new();
        for passage in load(&ev.input)? {
            match documents.iter_mut().find(|d| d.source == passage.source) {
                Some(document) => document.paragraphs.push(passage.text),
                None => documents.push(Document { source: passage.source, paragraphs: vec![passage.text] }),
            }
        }
        ctx.update(|c| c.total = documents.len());
        Ok(documents)
    }

    #[step(num_workers = 2, streams = [Progress])]
    async fn index(&self, ctx: &Context<Counter>, ev: Document) -> Result<Indexed, SendError> {
        let words = ev.paragraphs.iter().map(|p| p.split_whitespace().count()).sum();
        tokio::time::sleep(std::time::Duration::from_millis(30)).await; // the real work would be here
        let (done, total) = ctx.update(|c| {
            c.done += 1;
            (c.done, c.total)
        });
        ctx.write_event_to_stream(Progress { source: ev.source.clone(), done, total });
        Ok(Indexed { source: ev.source, words })
    }

    #[step]
    async fn summarize(&self, ev: Collected<Indexed>) -> StopEvent<Summary> {
        StopEvent::new(Summary { documents: ev.len(), words: ev.iter().map(|d| d.words).sum() })
    }
}
