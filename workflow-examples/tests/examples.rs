//! The examples give sensible answers; each test fails if its workflow breaks.

use std::sync::Arc;

use workflow_core::prelude::*;
use workflow_examples::corpus::Index;
use workflow_examples::rag::{Rag, RagError};
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
