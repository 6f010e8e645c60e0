//! Tokenizing for the lexical retriever: lowercase words, no stop words,
//! and a light plural-stripping stem so that "refunds" finds "refund".

const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "by", "can", "do",
    "does", "for", "from", "get", "has", "have", "how", "i", "if", "in", "is", "it", "its", "long", "many",
    "much", "my", "of", "on", "or", "our", "so", "than", "that", "the", "their", "them", "then", "there",
    "this", "to", "up", "was", "we", "what", "when", "where", "which", "who", "will", "with", "you", "your",
];

/// The index terms of `text`, in order.
pub fn terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect()
}

fn stem(word: &str) -> String {
    if let Some(base) = word.strip_suffix("ies").filter(|b| b.len() > 2) {
        return format!("{base}y");
    }
    match word.strip_suffix('s') {
        Some(base) if base.len() > 2 && !base.ends_with('s') => base.to_owned(),
        _ => word.to_owned(),
    }
}

/// Splits a paragraph into sentences at `.`, `!` or `?` followed by a space.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let ends =
            matches!(b, b'.' | b'!' | b'?') && bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace());
        if ends {
            let sentence = text[start..=i].trim();
            if !sentence.is_empty() {
                out.push(sentence);
            }
            start = i + 1;
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_drop_stop_words_and_plurals() {
        assert_eq!(terms("How long is the Refunds window?"), ["refund", "window"]);
        assert_eq!(terms("policies, glass"), ["policy", "glass"]);
    }

    #[test]
    fn sentences_split_at_terminal_punctuation() {
        assert_eq!(
            sentences("It costs 4.95 euros. Orders ship free! Done"),
            ["It costs 4.95 euros.", "Orders ship free!", "Done"]
        );
    }
}
