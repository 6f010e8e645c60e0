//! A research agent: a question is split into sub-questions, a child
//! `Search` workflow answers each (in parallel, each a typed part of the
//! parent run), and the answers are merged into one report.
//!
//! ```text
//! Research: StartEvent<String> ─split→ SubQuestion ─investigate→ Finding ─merge→ StopEvent<Report>
//!                                                     └ runs Search per sub-question
//! Search:   StartEvent<String> ─look_up→ Passages ─summarize→ StopEvent<Finding>
//! ```
//!
//! Cancelling the research cancels its searches; a snapshot of it holds the
//! searches in flight; its stream shows each search's progress, marked with
//! the search's run.

use std::sync::Arc;

use workflow_core::child::ChildOptions;
use workflow_core::prelude::*;

use crate::corpus::{Hit, Index};
use crate::router::split_question;

/// How many passages a search reads.
const PASSAGES: usize = 3;

/// One part of the question, for one search.
#[event]
pub struct SubQuestion {
    pub text: String,
}

/// What a search found for its sub-question.
#[data]
#[derive(PartialEq)]
pub struct Finding {
    pub question: String,
    /// The sentence that answers it best, if any does.
    pub answer: Option<String>,
    /// The file it comes from.
    pub source: Option<String>,
}

/// A finding, as the parent collects it.
#[event]
pub struct Found {
    pub finding: Finding,
}

/// The findings for every part of the question, in the question's order.
#[data]
#[derive(PartialEq)]
pub struct Report {
    pub question: String,
    pub findings: Vec<Finding>,
}

/// The passages one search retrieved.
#[event]
pub struct Passages {
    pub question: String,
    pub hits: Vec<Hit>,
}

/// A search's progress, for the caller's stream.
#[event]
pub struct Searching {
    pub question: String,
    pub passages: usize,
}

/// The child: answers one sub-question from the corpus.
#[derive(Clone)]
pub struct Search {
    index: Arc<Index>,
}

impl Search {
    pub fn new(index: Arc<Index>) -> Self {
        Self { index }
    }
}

#[workflow]
impl Search {
    #[step(streams = [Searching])]
    async fn look_up(&self, ctx: &Context<()>, ev: StartEvent<String>) -> Passages {
        let hits = self.index.search(&ev.input, PASSAGES);
        ctx.write_event_to_stream(Searching { question: ev.input.clone(), passages: hits.len() });
        Passages { question: ev.input, hits }
    }

    #[step]
    async fn summarize(&self, ev: Passages) -> StopEvent<Finding> {
        let answer = self.index.best_sentences(&ev.question, &ev.hits, 1).pop();
        let source = answer.as_ref().and(ev.hits.first()).map(|hit| hit.passage.source.clone());
        StopEvent::new(Finding { question: ev.question, answer, source })
    }
}

/// The parent: splits, runs a search per part (four at once), merges.
pub struct Research {
    index: Arc<Index>,
}

impl Research {
    pub fn new(index: Arc<Index>) -> Self {
        Self { index }
    }

    /// Over the bundled corpus: how the registry (and so the CLI) builds it.
    pub fn bundled() -> std::io::Result<Self> {
        Ok(Self::new(Arc::new(Index::bundled()?)))
    }
}

#[workflow(new = Research::bundled)]
impl Research {
    #[step]
    async fn split(
        &self,
        ctx: &Context<()>,
        ev: StartEvent<String>,
    ) -> Result<Vec<SubQuestion>, ContextError> {
        let parts = split_question(&ev.input);
        let parts = if parts.is_empty() { vec![ev.input.clone()] } else { parts };
        ctx.set("question", &ev.input)?;
        ctx.set("order", &parts)?;
        Ok(parts.into_iter().map(|text| SubQuestion { text }).collect())
    }

    /// Each sub-question's search is a child run: its output is typed, its
    /// failure is this step's, and its progress goes to the caller.
    #[step(children = [Search], num_workers = 4)]
    async fn investigate(&self, ctx: &Context<()>, ev: SubQuestion) -> Result<Found, BoxError> {
        let search = Search::new(Arc::clone(&self.index));
        let finding = ctx.run_child_with(search, ev.text, ChildOptions::new().stream_events(true)).await?;
        Ok(Found { finding })
    }

    #[step]
    async fn merge(
        &self,
        ctx: &Context<()>,
        ev: Collected<Found>,
    ) -> Result<StopEvent<Report>, ContextError> {
        let order: Vec<String> = ctx.get("order")?;
        let mut findings: Vec<Finding> = ev.into_iter().map(|found| found.finding).collect();
        findings.sort_by_key(|f| order.iter().position(|q| *q == f.question));
        Ok(StopEvent::new(Report { question: ctx.get("question")?, findings }))
    }
}
