//! Query routing: a simple question gets one lookup; a compound one is split
//! into parts that are answered one by one.
//!
//! ```text
//! StartEvent<String> ─route→ SimpleQuery ─simple→ StopEvent<Routed>
//!                          └→ ComplexQuery ─complex→ StopEvent<Routed>
//! ```

use std::sync::Arc;

use workflow_core::prelude::*;

use crate::corpus::Index;

#[event]
pub struct SimpleQuery {
    pub question: String,
}

#[event]
pub struct ComplexQuery {
    pub parts: Vec<String>,
}

/// Which branch answered, and its answers (one per part).
#[data]
#[derive(PartialEq)]
pub struct Routed {
    pub route: Route,
    pub answers: Vec<String>,
}

#[data]
#[derive(Copy, PartialEq, Eq)]
pub enum Route {
    Simple,
    Complex,
}

pub struct QueryRouter {
    index: Arc<Index>,
}

impl QueryRouter {
    pub fn new(index: Arc<Index>) -> Self {
        Self { index }
    }

    /// Over the bundled corpus: how the registry (and so the CLI) builds it.
    pub fn bundled() -> std::io::Result<Self> {
        Ok(Self::new(Arc::new(Index::bundled()?)))
    }

    fn answer(&self, question: &str) -> String {
        let hits = self.index.search(question, 3);
        self.index.best_sentences(question, &hits, 1).pop().unwrap_or_else(|| "No answer found.".to_owned())
    }
}

/// Splits a question into parts at " and " or "?"; one part means simple.
pub fn split_question(question: &str) -> Vec<String> {
    question
        .split('?')
        .flat_map(|q| q.split(" and "))
        .map(|p| p.trim().trim_end_matches([',', '.']).trim())
        .filter(|p| p.split_whitespace().count() >= 2)
        .map(str::to_owned)
        .collect()
}

#[workflow(new = QueryRouter::bundled)]
impl QueryRouter {
    #[step]
    async fn route(&self, ev: StartEvent<String>) -> Emit<(SimpleQuery, ComplexQuery)> {
        let parts = split_question(&ev.input);
        if parts.len() > 1 {
            Emit::new(ComplexQuery { parts })
        } else {
            Emit::new(SimpleQuery { question: ev.input.clone() })
        }
    }

    #[step]
    async fn simple(&self, ev: SimpleQuery) -> StopEvent<Routed> {
        StopEvent::new(Routed { route: Route::Simple, answers: vec![self.answer(&ev.question)] })
    }

    #[step]
    async fn complex(&self, ev: ComplexQuery) -> StopEvent<Routed> {
        let answers = ev.parts.iter().map(|part| self.answer(part)).collect();
        StopEvent::new(Routed { route: Route::Complex, answers })
    }
}
