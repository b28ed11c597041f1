//! Commit message anatomy following git's rules: the subject (first paragraph), the body,
//! and the trailer block (`Key: value` lines in the last paragraph), without I/O.

/// A commit message split the way `git log --format=%s/%b` and `git interpret-trailers` see it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageParts {
    /// The first paragraph, its lines joined by single spaces (git's `%s`).
    pub subject: String,
    /// The text between the subject and the trailer block, trimmed (empty when none).
    pub body: String,
    /// The trailers of the last paragraph, in order, keys as written, values trimmed with
    /// continuation lines folded in by a single space.
    pub trailers: Vec<(String, String)>,
}

/// Splits `message` into subject, body and trailers.
///
/// Git's rules: the trailer block is the last paragraph, never the first (the subject). It counts
/// as a trailer block when every logical line in it is a trailer, or when at least a quarter of
/// its lines are trailers and one of them is git-generated (`Signed-off-by:` or a
/// `(cherry picked from commit ...)` line). A trailer is `Token: value` where the token is made of
/// ASCII letters, digits and `-`, optionally followed by spaces before the colon; a line starting
/// with whitespace continues the previous trailer.
pub fn split_message(message: &str) -> MessageParts {
    let lines: Vec<&str> = message.lines().map(|l| l.trim_end_matches('\r')).collect();
    let is_blank = |l: &str| l.trim().is_empty();

    // Subject: first paragraph after leading blank lines.
    let mut i = 0;
    while i < lines.len() && is_blank(lines[i]) {
        i += 1;
    }
    let subject_start = i;
    while i < lines.len() && !is_blank(lines[i]) {
        i += 1;
    }
    let subject = lines[subject_start..i]
        .iter()
        .map(|l| l.trim())
        .collect::<Vec<_>>()
        .join(" ");
    let rest_start = i;

    // Last paragraph of what follows the subject.
    let mut end = lines.len();
    while end > rest_start && is_blank(lines[end - 1]) {
        end -= 1;
    }
    let mut start = end;
    while start > rest_start && !is_blank(lines[start - 1]) {
        start -= 1;
    }
    let (trailers, body_end) = if start < end && start > rest_start {
        match parse_block(&lines[start..end]) {
            Some(trailers) => (trailers, start),
            None => (Vec::new(), end),
        }
    } else {
        (Vec::new(), end)
    };
    let body = lines[rest_start.min(body_end)..body_end]
        .join("\n")
        .trim()
        .to_string();
    MessageParts {
        subject,
        body,
        trailers,
    }
}

/// The trailers of `message` (see [`split_message`]).
pub fn parse_trailers(message: &str) -> Vec<(String, String)> {
    split_message(message).trailers
}

/// Parses a candidate trailer block; `None` when git would not treat it as one.
fn parse_block(lines: &[&str]) -> Option<Vec<(String, String)>> {
    let mut trailers: Vec<(String, String)> = Vec::new();
    let mut trailer_lines = 0usize;
    let mut other_lines = 0usize;
    let mut recognized = false;
    // Whether the previous logical line was a trailer (continuations attach to it).
    let mut last_was_trailer = false;
    for line in lines {
        if line.starts_with([' ', '\t']) {
            if last_was_trailer && let Some(last) = trailers.last_mut() {
                let more = line.trim();
                if !more.is_empty() {
                    if !last.1.is_empty() {
                        last.1.push(' ');
                    }
                    last.1.push_str(more);
                }
                continue;
            }
            other_lines += 1;
            last_was_trailer = false;
            continue;
        }
        if line.starts_with("(cherry picked from commit ") {
            recognized = true;
            other_lines += 1;
            last_was_trailer = false;
            continue;
        }
        match split_trailer(line) {
            Some((key, value)) => {
                if key.eq_ignore_ascii_case("Signed-off-by") {
                    recognized = true;
                }
                trailers.push((key.to_string(), value.to_string()));
                trailer_lines += 1;
                last_was_trailer = true;
            }
            None => {
                other_lines += 1;
                last_was_trailer = false;
            }
        }
    }
    let is_block =
        trailer_lines > 0 && (other_lines == 0 || (recognized && trailer_lines * 3 >= other_lines));
    is_block.then_some(trailers)
}

/// `Token: value` → `(Token, value)`, following git's `find_separator`.
fn split_trailer(line: &str) -> Option<(&str, &str)> {
    let colon = line.find(':')?;
    let key_part = &line[..colon];
    let key = key_part.trim_end();
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return None;
    }
    Some((key, line[colon + 1..].trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn subject_only_has_no_trailers() {
        let parts = split_message("Fix: the thing\n");
        assert_eq!(parts.subject, "Fix: the thing");
        assert_eq!(parts.body, "");
        assert!(parts.trailers.is_empty());
    }

    #[test]
    fn multi_line_subject_is_joined() {
        let parts = split_message("one\ntwo\n\nbody\n");
        assert_eq!(parts.subject, "one two");
        assert_eq!(parts.body, "body");
    }

    #[test]
    fn last_paragraph_of_trailers_is_parsed() {
        let msg =
            "staging: a 1 -> 2\n\nsome body\nmore\n\nBaton-Environment: staging\nBaton-To: 2\n";
        let parts = split_message(msg);
        assert_eq!(parts.subject, "staging: a 1 -> 2");
        assert_eq!(parts.body, "some body\nmore");
        assert_eq!(
            parts.trailers,
            kv(&[("Baton-Environment", "staging"), ("Baton-To", "2")])
        );
    }

    #[test]
    fn trailers_only_after_subject() {
        let parts = split_message("subject\n\nKey: v\n\n\n");
        assert_eq!(parts.body, "");
        assert_eq!(parts.trailers, kv(&[("Key", "v")]));
    }

    #[test]
    fn earlier_paragraphs_are_not_trailers() {
        let parts = split_message("subject\n\nKey: v\n\njust prose here\n");
        assert!(parts.trailers.is_empty());
        assert_eq!(parts.body, "Key: v\n\njust prose here");
    }

    #[test]
    fn mixed_block_without_git_trailer_is_not_a_block() {
        let parts = split_message("s\n\nKey: v\nnot a trailer line\n");
        assert!(parts.trailers.is_empty());
    }

    #[test]
    fn mixed_block_with_signed_off_by_counts_at_quarter() {
        let msg = "s\n\nprose one\nSigned-off-by: A <a@x>\nKey: v\nprose two\n";
        assert_eq!(
            parse_trailers(msg),
            kv(&[("Signed-off-by", "A <a@x>"), ("Key", "v")])
        );
        let too_little = "s\n\na\nb\nc\nd\ne\nSigned-off-by: A <a@x>\n";
        assert!(parse_trailers(too_little).is_empty());
    }

    #[test]
    fn continuation_lines_fold() {
        let msg = "s\n\nKey: first\n  second\n\tthird\nOther: x\n";
        assert_eq!(
            parse_trailers(msg),
            kv(&[("Key", "first second third"), ("Other", "x")])
        );
    }

    #[test]
    fn keys_with_spaces_or_odd_chars_are_not_trailers() {
        assert!(parse_trailers("s\n\nNot a: trailer\n").is_empty());
        assert!(parse_trailers("s\n\na_b: y\n").is_empty());
        assert!(parse_trailers("s\n\na.b: y\n").is_empty());
        assert_eq!(parse_trailers("s\n\nKey : v\n"), kv(&[("Key", "v")]));
    }

    #[test]
    fn values_may_contain_colons_and_be_empty() {
        assert_eq!(
            parse_trailers("s\n\nBaton-Digest: sha256:abc\nEmpty:\n"),
            kv(&[("Baton-Digest", "sha256:abc"), ("Empty", "")])
        );
    }

    #[test]
    fn crlf_messages_parse() {
        let parts = split_message("s\r\n\r\nKey: v\r\n");
        assert_eq!(parts.subject, "s");
        assert_eq!(parts.trailers, kv(&[("Key", "v")]));
    }
}
