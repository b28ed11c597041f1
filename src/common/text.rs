//! Text helpers for messages: an error with its causes on one line, any value collapsed onto
//! one line (so it cannot break a log line, a commit subject or a trailer block), and the
//! "did you mean" suggestion.

/// `err` followed by each of its causes (`: cause`), skipping a cause whose text the
/// message already holds.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    with_causes(err.to_string(), err)
}

/// `head` (what to say about `err` itself) followed by each of `err`'s causes, as
/// [`error_chain`] does.
pub fn with_causes(head: String, err: &dyn std::error::Error) -> String {
    let mut text = head;
    let mut source = err.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// `s` with every run of whitespace (newlines included) turned into one space, trimmed.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The entry of `known` closest to `given`, when one is close enough to be a likely typo.
pub fn suggest<'k>(given: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(given, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// `items` as one log field or message part: their `Display` forms joined by `", "`.
pub fn comma_list<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|item| item.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `items` in words: `a`, `a or b`, `a, b or c` (with `word` = "or").
pub fn listed<T: std::fmt::Display>(items: impl IntoIterator<Item = T>, word: &str) -> String {
    let items: Vec<String> = items.into_iter().map(|item| item.to_string()).collect();
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} {word} {last}", rest.join(", ")),
        _ => items.join(""),
    }
}

/// The first 12 characters of a commit id, as messages and pages show it.
pub fn short_commit(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// `sha256:0123456789ab` from a full digest, as messages show it.
pub fn short_digest(digest: &str) -> String {
    digest.chars().take("sha256:".len() + 12).collect()
}

/// Whether `name` may stand in a URL path, a file name or a metrics label: 1 to `max`
/// bytes, an ASCII letter or digit first, then letters, digits, `-`, `_` and `extra`.
pub fn is_plain_name(name: &str, max: usize, extra: &[u8]) -> bool {
    name.len() <= max
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || extra.contains(&b))
}

/// What to say about a name that is not among the `[SECTION.NAME]` tables in `known`: the
/// close one, the section to add, or the names there are.
pub fn unknown_name_hint(given: &str, known: &[&str], section: &str) -> String {
    match suggest(given, known) {
        Some(close) => format!("did you mean {close:?}?"),
        None if known.is_empty() => format!("add an [{section}.NAME] section"),
        None => format!("known {section} are {}", known.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms_and_plain_names() {
        assert_eq!(short_commit("0123456789abcdef"), "0123456789ab");
        assert_eq!(short_commit("abc"), "abc");
        assert_eq!(
            short_digest(&format!("sha256:{}", "a".repeat(64))),
            "sha256:aaaaaaaaaaaa"
        );
        assert!(is_plain_name("prod-1_a", 64, b""));
        assert!(!is_plain_name("a.b", 64, b""));
        assert!(is_plain_name("a.b", 64, b"."));
        assert!(!is_plain_name("", 64, b""));
        assert!(!is_plain_name("-a", 64, b""));
        assert!(!is_plain_name("abc", 2, b""));
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner;

    #[derive(Debug, thiserror::Error)]
    #[error("outer: inner")]
    struct Repeats(#[source] Inner);

    #[test]
    fn chain_of_causes() {
        assert_eq!(error_chain(&Outer(Inner)), "outer: inner");
        assert_eq!(error_chain(&Repeats(Inner)), "outer: inner");
        assert_eq!(
            with_causes("timed out".into(), &Outer(Inner)),
            "timed out: inner"
        );
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            suggest("intervall", &["interval", "image"]),
            Some("interval")
        );
        assert_eq!(suggest("zzz", &["interval", "image"]), None);
    }

    #[test]
    fn collapses_whitespace() {
        assert_eq!(one_line("  a\n b\t\tc \r\n"), "a b c");
        assert_eq!(one_line(""), "");
    }
}
