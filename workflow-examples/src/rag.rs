//! Retrieve → rerank → synthesize over a folder of text files, offline.
//!
//! ```text
//! StartEvent<String> ─retrieve→ Retrieved ─rerank→ Reranked ─synthesize→ StopEvent<Answer>
//! ```

use std::sync::Arc;

use workflow_core::prelude::*;

use crate::corpus::{best_sentences, Hit, Index};

/// How many passages `retrieve` hands to `rerank`.
const RETRIEVE: usize = 6;
/// How many passages `rerank` keeps.
const KEEP: usize = 3;
/// How many sentences the answer quotes.
const SENTENCES: usize = 2;

/// The passages BM25 found for a question.
#[event]
pub struct Retrieved {
    pub question: String,
    pub hits: Vec<Hit>,
}

/// The passages that cover the question best.
#[event]
pub struct Reranked {
    pub question: String,
    pub hits: Vec<Hit>,
}

/// An extractive answer: sentences quoted from the corpus, and their files.
#[data]
#[derive(PartialEq)]
pub struct Answer {
    pub text: String,
    pub sources: Vec<String>,
}

/// Why a question could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum RagError {
    #[error("the question is empty; ask something, such as \"How long is the refund window?\"")]
    EmptyQuestion,
}

/// Where [`Rag`] finds passages, and how it scores text against a question:
/// a type parameter, so that the example runs on BM25 and a test on a fake.
pub trait Retriever: Send + Sync + 'static {
    /// The `k` best passages for `query`, best first.
    fn search(&self, query: &str, k: usize) -> Vec<Hit>;
    /// How much of `query` a piece of text covers, in `0.0..=1.0`.
    fn coverage(&self, query: &str, text: &str) -> f64;
}

/// BM25 over an [`Index`], shared between runs.
pub type Bm25 = Arc<Index>;

impl Retriever for Bm25 {
    fn search(&self, query: &str, k: usize) -> Vec<Hit> {
        Index::search(self, query, k)
    }

    fn coverage(&self, query: &str, text: &str) -> f64 {
        Index::coverage(self, query, text)
    }
}

/// Question answering over what a [`Retriever`] finds.
pub struct Rag<R: Retriever = Bm25> {
    retriever: R,
}

impl<R: Retriever> Rag<R> {
    pub fn new(retriever: R) -> Self {
        Self { retriever }
    }
}

impl Rag<Bm25> {
    /// Over the bundled corpus: how the registry (and so the CLI) builds it.
    pub fn bundled() -> std::io::Result<Self> {
        Ok(Self::new(Arc::new(Index::bundled()?)))
    }
}

#[workflow(new = Rag::<Bm25>::bundled, register = [Rag<Bm25>])]
impl<R: Retriever> Rag<R> {
    /// Finds candidate passages (BM25 in the example).
    #[step]
    async fn retrieve(&self, ev: StartEvent<String>) -> Result<Retrieved, RagError> {
        let question = ev.input.trim().to_owned();
        if question.is_empty() {
            return Err(RagError::EmptyQuestion);
        }
        let hits = self.retriever.search(&question, RETRIEVE);
        Ok(Retrieved { question, hits })
    }

    /// Rescores by how much of the question each passage covers, so that a
    /// passage naming every term beats one repeating a single term.
    #[step]
    async fn rerank(&self, ev: Retrieved) -> Reranked {
        let best = ev.hits.first().map_or(1.0, |h| h.score);
        let mut hits: Vec<Hit> = ev
            .hits
            .into_iter()
            .map(|mut hit| {
                let coverage = self.retriever.coverage(&ev.question, &hit.passage.text);
                hit.score = 0.5 * hit.score / best + 0.5 * coverage;
                hit
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(KEEP);
        Reranked { question: ev.question, hits }
    }

    /// Quotes the sentences that answer best.
    #[step]
    async fn synthesize(&self, ev: Reranked) -> StopEvent<Answer> {
        let sentences =
            best_sentences(&ev.question, &ev.hits, SENTENCES, |q, text| self.retriever.coverage(q, text));
        if sentences.is_empty() {
            let text = "I found nothing about that in the documents.".to_owned();
            return StopEvent::new(Answer { text, sources: Vec::new() });
        }
        let mut sources: Vec<String> = Vec::new();
        for hit in &ev.hits {
            if sentences.iter().any(|s| hit.passage.text.contains(s.as_str()))
                && !sources.contains(&hit.passage.source)
            {
                sources.push(hit.passage.source.clone());
            }
        }
        StopEvent::new(Answer { text: sentences.join(" "), sources })
    }
}
