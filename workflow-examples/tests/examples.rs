//! The examples give sensible answers; each test fails if its workflow breaks.

use std::sync::Arc;
use std::time::Duration;

use workflow_core::prelude::*;
use workflow_examples::corpus::{Hit, Index, Passage};
use workflow_examples::rag::{Rag, RagError, Retriever};
use workflow_examples::refine::{Brief, Refine, MAX_REVIEWS};
use workflow_examples::router::{QueryRouter, Route};

fn index() -> Arc<Index> {
    Arc::new(Index::bundled().expect("the bundled corpus loads"))
}

#[tokio::test]
async fn rag_answers_from_the_right_document() {
    let index = index();
    let cases = [
        ("How long is the refund window?", "refunds.txt", "30 days"),
        ("How do I reset my password?", "accounts.txt", "Forgot password"),
        ("How much does express shipping cost?", "shipping.txt", "12 euros"),
        ("How long is the warranty on tents?", "warranty.txt", "2 year warranty"),
        ("When is the Utrecht store open on Sunday?", "stores.txt", "11 am to 5 pm"),
    ];
    for (question, source, needle) in cases {
        let answer = Rag::new(Arc::clone(&index)).run(question.into()).await.unwrap();
        assert!(answer.text.contains(needle), "{question} → {}", answer.text);
        assert_eq!(answer.sources.first().map(String::as_str), Some(source), "{question}");
    }
}

#[tokio::test]
async fn rag_says_so_when_nothing_matches_and_rejects_empty_questions() {
    let answer = Rag::new(index()).run("quantum zebra".into()).await.unwrap();
    assert!(answer.text.contains("found nothing"));
    assert!(answer.sources.is_empty());

    let err = Rag::new(index()).run("   ".into()).await.unwrap_err();
    let WorkflowError::StepFailed { step: "retrieve", source, .. } = &err else { panic!("{err:?}") };
    assert!(matches!(source.downcast_ref::<RagError>(), Some(RagError::EmptyQuestion)));
}

/// A retriever that finds two fixed passages, whatever the question, and
/// counts the words of the question a text contains.
struct Fake;

impl Retriever for Fake {
    fn search(&self, _query: &str, _k: usize) -> Vec<Hit> {
        let passage = |source: &str, text: &str| Passage { source: source.into(), text: text.into() };
        vec![
            Hit { passage: passage("moon.txt", "The moon is made of rock. It has no air."), score: 2.0 },
            Hit { passage: passage("sun.txt", "The sun is a star."), score: 1.0 },
        ]
    }

    fn coverage(&self, query: &str, text: &str) -> f64 {
        let words: Vec<&str> = query.split_whitespace().collect();
        let found = words.iter().filter(|w| text.contains(**w)).count();
        found as f64 / words.len().max(1) as f64
    }
}

#[tokio::test]
async fn rag_runs_on_any_retriever_such_as_a_fake() {
    let answer = Rag::new(Fake).run("moon rock".into()).await.unwrap();
    assert_eq!(answer.text, "The moon is made of rock.");
    assert_eq!(answer.sources, ["moon.txt"]);
}

#[tokio::test]
async fn router_takes_the_simple_branch_for_one_question() {
    let routed = QueryRouter::new(index()).run("How long is a gift card valid?".into()).await.unwrap();
    assert_eq!(routed.route, Route::Simple);
    assert_eq!(routed.answers.len(), 1);
    assert!(routed.answers[0].contains("3 years"), "{:?}", routed.answers);
}

#[tokio::test]
async fn router_splits_a_compound_question_into_parts() {
    let question = "Do you ship to Norway and how fast is express shipping?";
    let routed = QueryRouter::new(index()).run(question.into()).await.unwrap();
    assert_eq!(routed.route, Route::Complex);
    assert_eq!(routed.answers.len(), 2);
    assert!(routed.answers[0].contains("Norway"), "{:?}", routed.answers);
    assert!(routed.answers[1].contains("next business day"), "{:?}", routed.answers);
}

fn brief(max_words: usize, must_include: &str) -> Brief {
    Brief {
        text: "All Northwind tents, backpacks and sleeping bags carry a 2 year warranty against defects."
            .into(),
        max_words,
        must_include: must_include.into(),
    }
}

#[tokio::test]
async fn refine_loops_until_the_headline_fits_the_brief() {
    let headline = Refine.run(brief(6, "warranty")).await.unwrap();
    assert!(headline.accepted, "{headline:?}");
    assert!(headline.text.split_whitespace().count() <= 6, "{headline:?}");
    assert!(headline.text.to_lowercase().contains("warranty"), "{headline:?}");
    assert!(headline.reviews > 1, "the first draft is too long, so it must loop: {headline:?}");
}

#[tokio::test]
async fn refine_stops_at_its_guard_when_the_brief_cannot_be_met() {
    let headline = Refine.run(brief(0, "warranty")).await.unwrap();
    assert!(!headline.accepted);
    assert_eq!(headline.reviews, MAX_REVIEWS);
}

// ------------------------------------------------------------ issue 3's examples

use workflow_examples::aggregator::{bundled_sources, Aggregator};
use workflow_examples::approval::{run_interactively, RefundApproval, RefundRequest};
use workflow_examples::progress::{Indexer, IndexerEvent, Summary};

#[tokio::test(start_paused = true)]
async fn the_aggregator_searches_its_sources_in_parallel_and_merges_them() {
    let sources = bundled_sources().unwrap();
    let slowest = sources.iter().map(|s| s.latency).max().unwrap();
    let total: std::time::Duration = sources.iter().map(|s| s.latency).sum();
    let started = tokio::time::Instant::now();
    let merged = Aggregator::new(sources, 2).run("refund or return in a store".into()).await.unwrap();
    let took = started.elapsed();
    assert!(
        took >= slowest && took < total,
        "took {took:?}: the slowest source is {slowest:?}, all of them {total:?}"
    );
    assert_eq!(merged.answered, ["stores", "accounts", "policies"], "fastest source first");
    let sources: Vec<&str> = merged.results.iter().map(|(s, _)| s.as_str()).collect();
    assert!(sources.contains(&"stores") && sources.contains(&"policies"), "{sources:?}");
    assert!(merged.results.windows(2).all(|w| w[0].1.score >= w[1].1.score));
}

#[tokio::test]
async fn the_indexer_streams_one_progress_event_per_document() {
    let mut handler = Indexer.start(workflow_examples::corpus::bundled_dir().to_path_buf());
    let mut done = Vec::new();
    while let Some(event) = futures::StreamExt::next(handler.events()).await {
        if let RunEvent::Event(IndexerEvent::Progress(p)) = event {
            assert_eq!(p.total, 6);
            done.push(p.done);
        }
    }
    assert_eq!(done, [1, 2, 3, 4, 5, 6]);
    let summary: Summary = handler.await.unwrap();
    assert_eq!(summary.documents, 6);
    assert!(summary.words > 300, "{summary:?}");
}

fn refund(days: u32) -> RefundRequest {
    RefundRequest { order: "NW-1".into(), amount_cents: 1_250, days_since_delivery: days }
}

#[tokio::test]
async fn the_approval_asks_on_the_terminal_and_acts_on_the_answer() {
    let mut screen = Vec::new();
    let decision =
        run_interactively(refund(3), Duration::from_secs(5), &b"yes\n"[..], &mut screen).await.unwrap();
    assert!(decision.approved);
    assert_eq!(decision.refunded_cents, 1_250);
    let screen = String::from_utf8(screen).unwrap();
    assert!(screen.contains("Refund 12.50 euros for order NW-1.\nApprove? [y/n] "), "{screen}");

    let mut screen = Vec::new();
    let decision =
        run_interactively(refund(45), Duration::from_secs(5), &b"n\n"[..], &mut screen).await.unwrap();
    assert!(!decision.approved);
    assert_eq!(decision.refunded_cents, 0);
    assert!(String::from_utf8(screen).unwrap().contains("past the 30-day window"));
}

#[tokio::test(start_paused = true)]
async fn the_approval_gives_up_when_nobody_answers() {
    let err = RefundApproval { patience: Duration::from_secs(60) }.run(refund(1)).await.unwrap_err();
    assert!(err.to_string().contains("within 60s"), "{err}");
}

// ------------------------------------------------------------ fallback on error

mod fallback {
    use workflow_core::prelude::*;
    use workflow_examples::fallback::{Quote, QuoteSource, RateService, Rates};

    const CACHED: [(&str, f64); 1] = [("EUR/USD", 1.0790)];

    async fn quote(service: RateService, pair: &str) -> (Result<Quote, WorkflowError>, u32) {
        let rates = std::sync::Arc::new(Rates::new(service, &CACHED));
        let result = std::sync::Arc::clone(&rates).run(pair.into()).await;
        (result, rates.service().calls())
    }

    #[tokio::test(start_paused = true)]
    async fn a_healthy_service_answers_live_on_the_first_attempt() {
        let (quote, calls) = quote(RateService::healthy(), "eur/usd").await;
        let quote = quote.unwrap();
        assert_eq!(
            (quote.pair.as_str(), quote.rate, quote.source),
            ("EUR/USD", 1.0842, QuoteSource::Live { attempt: 1 })
        );
        assert_eq!(calls, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn timeouts_are_retried_until_the_service_answers() {
        let (quote, calls) = quote(RateService::flaky(2), "EUR/USD").await;
        assert_eq!(quote.unwrap().source, QuoteSource::Live { attempt: 3 });
        assert_eq!(calls, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_service_that_stays_down_is_replaced_by_the_cached_rate() {
        let (quote, calls) = quote(RateService::down(), "EUR/USD").await;
        let quote = quote.unwrap();
        assert_eq!(quote.rate, 1.0790);
        let QuoteSource::Cached { because } = quote.source else { panic!("{quote:?}") };
        assert_eq!(because, "the rate service is unavailable (503)");
        assert_eq!(calls, 3, "three attempts before the fallback");
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_pair_is_not_retried_and_fails_without_a_cached_rate() {
        let (result, calls) = quote(RateService::healthy(), "CHF/SEK").await;
        assert_eq!(calls, 1, "not worth a second attempt");
        let err = result.unwrap_err();
        let WorkflowError::StepFailed { step: "use_cache", source, .. } = &err else { panic!("{err:?}") };
        assert_eq!(source.to_string(), "no rate for CHF/SEK: the service failed (the rate service does not quote CHF/SEK) and none is cached");
    }

    #[tokio::test(start_paused = true)]
    async fn a_malformed_pair_is_not_covered_by_the_fallback() {
        let (result, calls) = quote(RateService::healthy(), "euro").await;
        assert_eq!(calls, 0);
        let err = result.unwrap_err();
        let WorkflowError::StepFailed { step: "check", source, .. } = &err else { panic!("{err:?}") };
        assert!(source.to_string().contains("BASE/QUOTE"), "{source}");
    }
}

// ------------------------------------------------------------ child workflows

mod research {
    use std::collections::BTreeSet;

    use futures::StreamExt;
    use workflow_core::prelude::*;
    use workflow_examples::research::Research;

    #[tokio::test]
    async fn the_research_agent_runs_a_child_search_per_part_and_merges_them_in_order() {
        let question = "How long is the refund window and how much does express shipping cost?";
        let mut handler = Research::new(super::index()).start(question.into());
        let mut searches = BTreeSet::new();
        while let Some(item) = handler.events().next().await {
            if let RunEvent::Child(child) = item {
                assert_eq!((child.workflow, child.step), ("Search", "investigate"));
                if matches!(child.event, RunEvent::Event(_)) {
                    searches.insert(child.run_id);
                }
            }
        }
        assert_eq!(searches.len(), 2, "one child run per part, each streaming its progress");
        let report = handler.await.unwrap();
        assert_eq!(report.question, question);
        let found: Vec<(&str, Option<&str>)> =
            report.findings.iter().map(|f| (f.question.as_str(), f.source.as_deref())).collect();
        assert_eq!(
            found,
            [
                ("How long is the refund window", Some("refunds.txt")),
                ("how much does express shipping cost", Some("shipping.txt")),
            ]
        );
        assert!(report.findings[1].answer.as_deref().unwrap().contains("12 euros"));
    }
}
