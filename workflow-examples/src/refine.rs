//! A self-correcting loop: draft a headline, review it against a brief, and
//! revise until it passes, with a counter in the context as the guard.
//!
//! ```text
//! StartEvent<Brief> ─draft→ Draft ─review→ StopEvent<Headline>
//!                             ↑      └→ Feedback ─revise→ Draft
//! ```

use workflow_core::prelude::*;

/// What the headline must satisfy.
#[data]
pub struct Brief {
    /// The text to summarise.
    pub text: String,
    /// The most words the headline may have.
    pub max_words: usize,
    /// A word the headline must contain.
    pub must_include: String,
}

#[event]
pub struct Draft {
    pub brief: Brief,
    pub headline: String,
}

#[event]
pub struct Feedback {
    pub draft: Draft,
    pub problems: Vec<Problem>,
}

#[data]
#[derive(PartialEq)]
pub enum Problem {
    TooLong { words: usize },
    Missing { word: String },
}

/// The result: the last headline, how many reviews it took, and whether it passed.
#[data]
#[derive(PartialEq)]
pub struct Headline {
    pub text: String,
    pub reviews: u32,
    pub accepted: bool,
}

/// The loop guard's state.
#[derive(Default)]
pub struct Reviews {
    pub count: u32,
}

/// Reviews at most this many drafts.
pub const MAX_REVIEWS: u32 = 8;

const FILLER: &[&str] =
    &["a", "an", "the", "of", "to", "and", "for", "is", "are", "at", "in", "on", "your", "any"];

#[derive(Default)]
pub struct Refine;

#[workflow]
impl Refine {
    /// The first draft is the text's first sentence.
    #[step]
    async fn draft(&self, ev: StartEvent<Brief>) -> Draft {
        let brief = ev.input.clone();
        let headline = brief.text.split(['.', '!', '?']).next().unwrap_or_default().trim().to_owned();
        Draft { brief, headline }
    }

    #[step]
    async fn review(&self, ctx: &Context<Reviews>, ev: Draft) -> Emit<(Feedback, StopEvent<Headline>)> {
        let reviews = ctx.update(|r| {
            r.count += 1;
            r.count
        });
        let problems = problems(&ev);
        if problems.is_empty() || reviews >= MAX_REVIEWS {
            let accepted = problems.is_empty();
            return Emit::new(StopEvent::new(Headline { text: ev.headline, reviews, accepted }));
        }
        Emit::new(Feedback { draft: ev, problems })
    }

    /// Fixes what the review found: adds the missing word, and drops half of
    /// the excess words (at least one), filler words first, then trailing ones.
    #[step]
    async fn revise(&self, ev: Feedback) -> Draft {
        let Draft { brief, headline } = ev.draft;
        let mut words: Vec<String> = headline.split_whitespace().map(str::to_owned).collect();
        for problem in &ev.problems {
            match problem {
                Problem::Missing { word } => words.insert(0, capitalise(word)),
                Problem::TooLong { words: count } => {
                    let keep = brief.must_include.to_lowercase();
                    for _ in 0..(count - brief.max_words).div_ceil(2) {
                        let filler = words.iter().rposition(|w| FILLER.contains(&w.to_lowercase().as_str()));
                        let last_other = words.iter().rposition(|w| w.to_lowercase() != keep);
                        if let Some(i) = filler.or(last_other) {
                            words.remove(i);
                        }
                    }
                }
            }
        }
        Draft { brief, headline: words.join(" ") }
    }
}

fn problems(draft: &Draft) -> Vec<Problem> {
    let words = draft.headline.split_whitespace().count();
    let mut problems = Vec::new();
    let wanted = draft.brief.must_include.to_lowercase();
    if !draft
        .headline
        .split_whitespace()
        .any(|w| w.to_lowercase().trim_matches(|c: char| !c.is_alphanumeric()) == wanted)
    {
        problems.push(Problem::Missing { word: draft.brief.must_include.clone() });
    }
    if words > draft.brief.max_words {
        problems.push(Problem::TooLong { words });
    }
    problems
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
