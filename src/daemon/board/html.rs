//! A page being written: markup only from string literals, every other value escaped, so text
//! from registries, repositories and configuration can never become markup.

use std::fmt::Write as _;

/// An HTML document under construction.
#[derive(Debug, Default)]
pub struct Html {
    out: String,
}

impl Html {
    /// An empty document with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Html {
        Html {
            out: String::with_capacity(capacity),
        }
    }

    /// Appends markup. Only literals are accepted: a value from outside cannot get here.
    pub fn raw(&mut self, markup: &'static str) -> &mut Self {
        self.out.push_str(markup);
        self
    }

    /// Appends `text` escaped for element content and quoted attribute values alike.
    pub fn text(&mut self, text: &str) -> &mut Self {
        for c in text.chars() {
            match c {
                '&' => self.out.push_str("&amp;"),
                '<' => self.out.push_str("&lt;"),
                '>' => self.out.push_str("&gt;"),
                '"' => self.out.push_str("&quot;"),
                '\'' => self.out.push_str("&#39;"),
                // Control characters have no business on the page (and some are not allowed).
                c if c.is_control() && c != '\n' && c != '\t' => self.out.push('\u{FFFD}'),
                c => self.out.push(c),
            }
        }
        self
    }

    /// Appends a number.
    pub fn number(&mut self, n: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.out, "{n}");
        self
    }

    /// `<a href="URL">text</a>` when `url` is an absolute http(s) URL, else the text alone: a
    /// `javascript:` or other scheme from outside never becomes a link.
    pub fn link(&mut self, url: Option<&str>, text: &str) -> &mut Self {
        match url.and_then(web_url) {
            Some(url) => self
                .raw("<a href=\"")
                .text(url.as_str())
                .raw("\">")
                .text(text)
                .raw("</a>"),
            None => self.text(text),
        }
    }

    /// A link to a page of the board itself: `path` is built by the board, `segment` (a
    /// configured name) is percent-encoded.
    pub fn local_link(&mut self, path: &'static str, segment: &str, text: &str) -> &mut Self {
        self.raw("<a href=\"")
            .raw(path)
            .text(&percent_encode(segment))
            .raw("\">")
            .text(text)
            .raw("</a>")
    }

    /// The document.
    pub fn finish(self) -> String {
        self.out
    }
}

/// `url` parsed, when it is an absolute `http://` or `https://` URL.
pub fn web_url(url: &str) -> Option<url::Url> {
    url::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
}

/// `text` with everything but unreserved characters percent-encoded, for one path segment.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_inert() {
        let mut h = Html::default();
        h.raw("<p title=\"")
            .text("\"><script>alert('x')</script>&")
            .raw("\">");
        assert_eq!(
            h.finish(),
            "<p title=\"&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;\">"
        );
        let mut h = Html::default();
        h.text("a\u{0}b\u{1b}c");
        assert_eq!(h.finish(), "a\u{FFFD}b\u{FFFD}c");
    }

    #[test]
    fn only_web_urls_become_links() {
        let mut h = Html::default();
        h.link(Some("javascript:alert(1)"), "x")
            .link(Some("data:text/html,hi"), "y")
            .link(Some("https://forge.example.com/pr/1?a=1&b=\"2\""), "z");
        assert_eq!(
            h.finish(),
            "xy<a href=\"https://forge.example.com/pr/1?a=1&amp;b=%222%22\">z</a>"
        );
    }

    #[test]
    fn local_links_encode_the_name() {
        let mut h = Html::default();
        h.local_link("/images/", "a b/../\"c", "n");
        assert_eq!(h.finish(), "<a href=\"/images/a%20b%2F..%2F%22c\">n</a>");
    }
}
