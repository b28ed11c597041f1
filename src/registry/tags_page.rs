//! One page of a `tags/list` reply, read without building a JSON tree: strings are kept,
//! any other entry is skipped and counted, and reading stops once a page holds more entries
//! than the caller allows, so a hostile page costs no more memory than its own bytes.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The entries of one page.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TagsPage {
    /// String entries, in order (not yet checked to be valid tags).
    pub strings: Vec<String>,
    /// Entries that are not strings (numbers, objects, lists, null).
    pub non_strings: usize,
}

impl TagsPage {
    /// Every entry, strings or not.
    pub fn len(&self) -> usize {
        self.strings.len() + self.non_strings
    }
}

/// Why a page could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum PageError {
    /// The page holds more than the allowed number of entries; reading stopped there.
    TooMany,
    /// The page is not a JSON object with a `tags` list: where the parser gave up.
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
}

/// Reads `body` as `{"tags": [...]}` keeping at most `limit` entries (`tags` missing or
/// `null` is an empty page; other keys are skipped).
pub fn parse(body: &[u8], limit: usize) -> Result<TagsPage, PageError> {
    let over = Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let page = PageSeed { limit, over: &over }
        .deserialize(&mut deserializer)
        .and_then(|page| deserializer.end().map(|()| page));
    match page {
        Ok(page) => Ok(page),
        Err(_) if over.get() => Err(PageError::TooMany),
        Err(e) => Err(PageError::Json {
            line: e.line(),
            column: e.column(),
        }),
    }
}

struct PageSeed<'a> {
    limit: usize,
    over: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for PageSeed<'_> {
    type Value = TagsPage;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<TagsPage, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PageSeed<'_> {
    type Value = TagsPage;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object with a tags list")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TagsPage, A::Error> {
        let mut page = TagsPage::default();
        while let Some(key) = map.next_key::<KeyName>()? {
            if key.0 {
                page = map.next_value_seed(ListSeed {
                    limit: self.limit,
                    over: self.over,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(page)
    }
}

/// A key of the page object: `true` for `tags`. Reads the key without keeping it.
struct KeyName(bool);

impl<'de> de::Deserialize<'de> for KeyName {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyName, E> {
                Ok(KeyName(v == "tags"))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

struct ListSeed<'a> {
    limit: usize,
    over: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
    type Value = TagsPage;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<TagsPage, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = TagsPage;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of tags or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<TagsPage, E> {
        Ok(TagsPage::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<TagsPage, E> {
        Ok(TagsPage::default())
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<TagsPage, D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TagsPage, A::Error> {
        let mut page = TagsPage::default();
        while let Some(entry) = seq.next_element::<Entry>()? {
            if page.len() >= self.limit {
                self.over.set(true);
                return Err(de::Error::custom("more tags than allowed"));
            }
            match entry {
                Entry::String(s) => page.strings.push(s),
                Entry::Other => page.non_strings += 1,
            }
        }
        Ok(page)
    }
}

/// One list entry: a string is kept, anything else is skipped without being built.
enum Entry {
    String(String),
    Other,
}

impl<'de> de::Deserialize<'de> for Entry {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(EntryVisitor)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tag")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Entry, E> {
        Ok(Entry::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Entry, E> {
        Ok(Entry::String(v))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Entry, E> {
        Ok(Entry::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Entry, E> {
        Ok(Entry::Other)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Entry, E> {
        Ok(Entry::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Entry, E> {
        Ok(Entry::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Entry, E> {
        Ok(Entry::Other)
    }

    fn visit_none<E: de::Error>(self) -> Result<Entry, E> {
        Ok(Entry::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entry, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Entry::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Entry::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_kept_and_the_rest_counted() {
        let page = parse(
            br#"{"name":"a/b","tags":["1.0",2,null,{"x":[1,2]},[[]],"2.0",true]}"#,
            100,
        )
        .unwrap();
        assert_eq!(page.strings, ["1.0", "2.0"]);
        assert_eq!(page.non_strings, 5);
    }

    #[test]
    fn missing_and_null_tags_are_empty() {
        assert_eq!(parse(br#"{"name":"a"}"#, 10).unwrap(), TagsPage::default());
        assert_eq!(parse(br#"{"tags":null}"#, 10).unwrap(), TagsPage::default());
    }

    #[test]
    fn reading_stops_past_the_limit() {
        assert_eq!(parse(br#"{"tags":["a","b","c"]}"#, 3).unwrap().len(), 3);
        assert_eq!(
            parse(br#"{"tags":["a","b","c","d"]}"#, 3),
            Err(PageError::TooMany)
        );
        // The limit counts entries that are not strings too.
        assert_eq!(parse(br#"{"tags":[1,2,3,4]}"#, 3), Err(PageError::TooMany));
    }

    #[test]
    fn malformed_pages_say_where() {
        assert!(matches!(
            parse(br#"["a"]"#, 3),
            Err(PageError::Json { line: 1, .. })
        ));
        assert!(matches!(
            parse(br#"{"tags":"a"}"#, 3),
            Err(PageError::Json { .. })
        ));
        assert!(matches!(
            parse(br#"{"tags":[] } x"#, 3),
            Err(PageError::Json { .. })
        ));
    }
}
