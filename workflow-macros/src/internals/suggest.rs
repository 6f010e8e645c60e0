//! "Did you mean": the nearest known name to a misspelled one.
//!
//! Once a macro fails, rustc no longer offers its own "a struct with a
//! similar name exists" hints, so the macro offers them itself.

/// The candidate closest to `word`, if it is close enough to be a likely
/// typo: at most a third of its letters changed (at least one), compared
/// without regard to case.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_lower = word.to_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (distance(&word_lower, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `" (did you mean `x`?)"`, or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    nearest(word, candidates).map_or_else(String::new, |c| format!(" (did you mean `{c}`?)"))
}

/// Levenshtein distance, with a swap of two neighbours counted as one edit.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1).min(rows[i][j - 1] + 1).min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_and_swaps_but_not_strangers() {
        assert_eq!(nearest("Retreived", ["Retrieved", "Checked"]), Some("Retrieved"));
        assert_eq!(nearest("dead_ends", ["unconsumed", "dead_end"]), Some("dead_end"));
        assert_eq!(nearest("num_worker", ["num_workers", "retry"]), Some("num_workers"));
        assert_eq!(nearest("Hit", ["Found"]), None);
        assert_eq!(did_you_mean("Lost", ["Orphan"]), "");
        assert_eq!(did_you_mean("Retreived", ["Retrieved"]), " (did you mean `Retrieved`?)");
    }
}
