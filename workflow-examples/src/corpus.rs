//! A corpus of text files split into passages, and a BM25 index over them.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::Path;

use workflow_core::data;

use crate::text::{sentences, terms};

/// One paragraph of a document.
#[data]
#[derive(PartialEq)]
pub struct Passage {
    /// The file it came from, e.g. `refunds.txt`.
    pub source: String,
    pub text: String,
}

/// The corpus shipped with the examples: a fictional outdoor shop's help pages.
pub fn bundled_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/corpus"))
}

/// Reads every `.txt` file of `dir`; each paragraph after the title line is a passage.
pub fn load(dir: &Path) -> io::Result<Vec<Passage>> {
    let mut files: Vec<_> =
        std::fs::read_dir(dir)?.map(|entry| entry.map(|e| e.path())).collect::<io::Result<_>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "txt"));
    files.sort();
    let mut passages = Vec::new();
    for path in files {
        let source = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let text = std::fs::read_to_string(&path)?;
        for paragraph in text.split("\n\n").skip(1) {
            let paragraph = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
            if !paragraph.is_empty() {
                passages.push(Passage { source: source.clone(), text: paragraph });
            }
        }
    }
    Ok(passages)
}

/// Okapi BM25 over passages.
#[derive(Debug)]
pub struct Index {
    passages: Vec<Passage>,
    terms: Vec<Vec<String>>,
    document_frequency: HashMap<String, usize>,
    average_length: f64,
}

/// A passage and how well it matched.
#[data]
#[derive(PartialEq)]
pub struct Hit {
    pub passage: Passage,
    pub score: f64,
}

const K1: f64 = 1.2;
const B: f64 = 0.75;

impl Index {
    pub fn new(passages: Vec<Passage>) -> Self {
        let terms: Vec<Vec<String>> = passages.iter().map(|p| terms(&p.text)).collect();
        let mut document_frequency = HashMap::new();
        for doc in &terms {
            for term in doc.iter().collect::<HashSet<_>>() {
                *document_frequency.entry(term.clone()).or_insert(0) += 1;
            }
        }
        let total: usize = terms.iter().map(Vec::len).sum();
        let average_length = total as f64 / terms.len().max(1) as f64;
        Self { passages, terms, document_frequency, average_length }
    }

    /// The index of the bundled corpus.
    pub fn bundled() -> io::Result<Self> {
        Ok(Self::new(load(bundled_dir())?))
    }

    pub fn len(&self) -> usize {
        self.passages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.passages.is_empty()
    }

    /// Inverse document frequency of a term (BM25's, floored at zero).
    pub fn idf(&self, term: &str) -> f64 {
        let n = self.passages.len() as f64;
        let df = *self.document_frequency.get(term).unwrap_or(&0) as f64;
        ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
    }

    /// The `k` best passages for `query`, best first; passages matching no term are left out.
    pub fn search(&self, query: &str, k: usize) -> Vec<Hit> {
        let query = terms(query);
        let mut hits: Vec<Hit> = self
            .terms
            .iter()
            .enumerate()
            .filter_map(|(i, doc)| {
                let score = self.score(&query, doc);
                (score > 0.0).then(|| Hit { passage: self.passages[i].clone(), score })
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(k);
        hits
    }

    fn score(&self, query: &[String], doc: &[String]) -> f64 {
        let length = doc.len() as f64;
        query
            .iter()
            .map(|term| {
                let tf = doc.iter().filter(|t| *t == term).count() as f64;
                if tf == 0.0 {
                    return 0.0;
                }
                self.idf(term) * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * length / self.average_length))
            })
            .sum()
    }

    /// How much of `query` a piece of text covers: the idf-weighted share of
    /// the query's distinct terms that it contains, in `0.0..=1.0`.
    pub fn coverage(&self, query: &str, text: &str) -> f64 {
        let wanted: HashSet<String> = terms(query).into_iter().collect();
        let present: HashSet<String> = terms(text).into_iter().collect();
        let total: f64 = wanted.iter().map(|t| self.idf(t)).sum();
        if total == 0.0 {
            return 0.0;
        }
        wanted.iter().filter(|t| present.contains(*t)).map(|t| self.idf(t)).sum::<f64>() / total
    }

    /// The sentences of `hits` that best answer `query`, at most `n`, in
    /// reading order (by hit rank, then position in the passage).
    pub fn best_sentences(&self, query: &str, hits: &[Hit], n: usize) -> Vec<String> {
        best_sentences(query, hits, n, |q, s| self.coverage(q, s))
    }
}

/// The sentences of `hits` that best answer `query` by `coverage`, at most
/// `n`, in reading order (by hit rank, then position in the passage).
pub fn best_sentences(
    query: &str,
    hits: &[Hit],
    n: usize,
    coverage: impl Fn(&str, &str) -> f64,
) -> Vec<String> {
    let mut scored: Vec<(f64, usize, usize, &str)> = Vec::new();
    for (rank, hit) in hits.iter().enumerate() {
        for (position, sentence) in sentences(&hit.passage.text).into_iter().enumerate() {
            let score = coverage(query, sentence) - rank as f64 * 0.05;
            if score > 0.0 {
                scored.push((score, rank, position, sentence));
            }
        }
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.truncate(n);
    scored.sort_by_key(|&(_, rank, position, _)| (rank, position));
    scored.into_iter().map(|(_, _, _, s)| s.to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_corpus_loads_into_passages() {
        let index = Index::bundled().unwrap();
        assert!(index.len() >= 20, "{} passages", index.len());
    }

    #[test]
    fn search_ranks_the_passage_that_matches_best_first() {
        let index = Index::bundled().unwrap();
        let hits = index.search("how do I reset my password", 3);
        assert_eq!(hits[0].passage.source, "accounts.txt");
        assert!(hits[0].passage.text.contains("Forgot password"));
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        assert!(index.search("zebra quantum", 3).is_empty());
    }
}
