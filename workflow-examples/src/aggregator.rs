//! Parallel search: one question, three sources searched at once, results merged.
//!
//! ```text
//! StartEvent<String> ─fan_out→ Vec<SourceQuery> ─search (3 workers)→ SourceHits ─merge (Collected)→ StopEvent<Merged>
//! ```
//!
//! Each source is a slice of the bundled corpus with a simulated latency, so
//! the run takes as long as the slowest source, not the sum of all three.

use std::sync::Arc;
use std::time::Duration;

use workflow_core::prelude::*;

use crate::corpus::{bundled_dir, load, Hit, Index};

/// One source to search: its name, index and latency.
pub struct Source {
    pub name: &'static str,
    pub latency: Duration,
    pub index: Index,
}

/// The three sources over the bundled help pages.
pub fn bundled_sources() -> std::io::Result<Vec<Source>> {
    let passages = load(bundled_dir())?;
    let pick = |files: &[&str]| {
        Index::new(passages.iter().filter(|p| files.contains(&p.source.as_str())).cloned().collect())
    };
    Ok(vec![
        Source {
            name: "policies",
            latency: Duration::from_millis(120),
            index: pick(&["refunds.txt", "shipping.txt", "warranty.txt"]),
        },
        Source {
            name: "accounts",
            latency: Duration::from_millis(80),
            index: pick(&["accounts.txt", "gift-cards.txt"]),
        },
        Source { name: "stores", latency: Duration::from_millis(40), index: pick(&["stores.txt"]) },
    ])
}

#[event]
pub struct SourceQuery {
    pub source: usize,
    pub question: String,
}

#[event]
pub struct SourceHits {
    pub source: String,
    pub hits: Vec<Hit>,
}

/// The best passages over all sources, best first, each with its source.
#[data]
#[derive(PartialEq)]
pub struct Merged {
    pub results: Vec<(String, Hit)>,
    /// The sources that answered, in the order they finished.
    pub answered: Vec<String>,
}

pub struct Aggregator {
    sources: Arc<Vec<Source>>,
    per_source: usize,
}

impl Aggregator {
    pub fn new(sources: Vec<Source>, per_source: usize) -> Self {
        Self { sources: Arc::new(sources), per_source }
    }

    /// Over the bundled sources, two hits each: how the registry builds it.
    pub fn bundled() -> std::io::Result<Self> {
        Ok(Self::new(bundled_sources()?, 2))
    }
}

#[workflow(new = Aggregator::bundled)]
impl Aggregator {
    #[step]
    async fn fan_out(&self, ev: StartEvent<String>) -> Vec<SourceQuery> {
        (0..self.sources.len()).map(|source| SourceQuery { source, question: ev.input.clone() }).collect()
    }

    /// Searches one source; three run at once.
    #[step(num_workers = 3)]
    async fn search(&self, ev: SourceQuery) -> SourceHits {
        let source = &self.sources[ev.source];
        tokio::time::sleep(source.latency).await;
        SourceHits {
            source: source.name.to_owned(),
            hits: source.index.search(&ev.question, self.per_source),
        }
    }

    /// Runs once, with the hits of every source.
    #[step]
    async fn merge(&self, ev: Collected<SourceHits>) -> StopEvent<Merged> {
        let answered = ev.iter().map(|s| s.source.clone()).collect();
        let mut results: Vec<(String, Hit)> =
            ev.into_iter().flat_map(|s| s.hits.into_iter().map(move |h| (s.source.clone(), h))).collect();
        results.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
        StopEvent::new(Merged { results, answered })
    }
}
