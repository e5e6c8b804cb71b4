//! Full-text search: the query a user typed, parsed at the edge into
//! `SearchQuery` (words, "quoted phrases", `prefix*` words), the backend
//! expressions built from it (FTS5 `MATCH` for SQLite, a `tsquery` for
//! PostgreSQL), and the highlight of a found message (UTF-16 ranges into
//! its text, so a page marks the words as text, never as HTML).
//!
//! Why parse instead of passing the text on: FTS5 and `to_tsquery` both
//! have a syntax of their own (`AND`, `NEAR`, `:`, `&`, `!`, parentheses,
//! column filters), and a stray quote in either is an SQL error, a 500.
//! A query is cut into words the way both indexes cut text (runs of
//! letters and digits; everything else separates), and each word reaches
//! the backend quoted, made of letters and digits only, so no input can
//! mean syntax.

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::messages::MessageId;
use crate::rooms::RoomName;

/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 256;
/// Most words in a query, counting every word of every phrase.
pub const MAX_QUERY_WORDS: usize = 16;
/// Shortest word before a `*` (a one-letter prefix matches most of an index).
pub const MIN_PREFIX_CHARS: usize = 2;
/// Results per page unless `limit` says otherwise, and the most.
pub const SEARCH_DEFAULT: i64 = 20;
pub const SEARCH_MAX: i64 = 50;

/// Why a search was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// `q` missing, blank, or with no letter or digit in it.
    #[error("the query has no words to search for")]
    Empty,
    /// `q` longer than `MAX_QUERY_CHARS`.
    #[error("the query is longer than {MAX_QUERY_CHARS} characters")]
    TooLong,
    /// More than `MAX_QUERY_WORDS` words.
    #[error("the query has more than {MAX_QUERY_WORDS} words")]
    TooManyWords,
    /// A `*` after fewer than `MIN_PREFIX_CHARS` letters.
    #[error("a word before * needs at least {MIN_PREFIX_CHARS} letters")]
    ShortPrefix,
    /// `limit` outside 1..=`SEARCH_MAX`.
    #[error("limit must be between 1 and {SEARCH_MAX}")]
    Limit,
    /// `before` not a positive message id.
    #[error("before must be a positive message id")]
    Cursor,
}

/// One thing every result must contain: a word, or a phrase (words next to
/// each other, in order); `prefix` makes the last word match any word it
/// begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    words: Vec<String>,
    prefix: bool,
}

impl Clause {
    pub fn words(&self) -> &[String] {
        &self.words
    }

    pub fn prefix(&self) -> bool {
        self.prefix
    }
}

/// A parsed query: every clause must match. Only `parse` makes one, and
/// every word in it is letters and digits only (with the combining marks
/// on them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    clauses: Vec<Clause>,
}

impl SearchQuery {
    /// Parses what a user typed. Quotes pair up (an unclosed one runs to
    /// the end); a word with punctuation inside (`e-mail`, `example.com`)
    /// is the phrase of its parts, as both indexes store it; a `*` right
    /// after a word or a closing quote makes its last word a prefix; other
    /// symbols separate words.
    pub fn parse(raw: &str) -> Result<Self, SearchError> {
        if raw.chars().count() > MAX_QUERY_CHARS {
            return Err(SearchError::TooLong);
        }
        let mut clauses = Vec::new();
        let mut phrase_before = false;
        for (i, part) in raw.split('"').enumerate() {
            if i % 2 == 1 {
                // Inside quotes: one phrase.
                phrase_before = push_clause(&mut clauses, words_of(part), false);
                continue;
            }
            // After a closing quote (every even part but the first).
            if phrase_before
                && part.starts_with('*')
                && let Some(phrase) = clauses.last_mut()
            {
                phrase.prefix = true;
            }
            for chunk in part.split_whitespace() {
                let prefix = chunk.ends_with('*');
                push_clause(&mut clauses, words_of(chunk), prefix);
            }
        }
        let words: usize = clauses.iter().map(|c| c.words.len()).sum();
        if words == 0 {
            return Err(SearchError::Empty);
        }
        if words > MAX_QUERY_WORDS {
            return Err(SearchError::TooManyWords);
        }
        if clauses.iter().any(short_prefix) {
            return Err(SearchError::ShortPrefix);
        }
        Ok(Self { clauses })
    }

    pub fn clauses(&self) -> &[Clause] {
        &self.clauses
    }

    /// The FTS5 `MATCH` expression: each clause a quoted string (FTS5 cuts
    /// it into the phrase of its words), `*` after it for a prefix, all of
    /// them required. The words hold no quote, so none can end a string.
    pub fn fts5(&self) -> String {
        let clauses: Vec<String> = self
            .clauses
            .iter()
            .map(|c| {
                let star = if c.prefix { "*" } else { "" };
                format!("\"{}\"{star}", c.words.join(" "))
            })
            .collect();
        clauses.join(" AND ")
    }

    /// The `to_tsquery('simple', …)` text: each word a quoted lexeme, the
    /// words of a phrase joined by `<->` (next to each other), `:*` on a
    /// prefix, the clauses by `&`. The words hold no quote or backslash.
    pub fn tsquery(&self) -> String {
        let clauses: Vec<String> = self
            .clauses
            .iter()
            .map(|c| {
                let last = c.words.len().saturating_sub(1);
                let words: Vec<String> = c
                    .words
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        let star = if c.prefix && i == last { ":*" } else { "" };
                        format!("'{w}'{star}")
                    })
                    .collect();
                format!("({})", words.join(" <-> "))
            })
            .collect();
        clauses.join(" & ")
    }

    /// Where the query's words are in `text`, as `[start, end)` ranges in
    /// UTF-16 code units (what JavaScript strings index), sorted and
    /// disjoint. Words compare as the SQLite index does: case and
    /// diacritics aside.
    pub fn highlight(&self, text: &str) -> Vec<[usize; 2]> {
        let tokens = tokens(text);
        let mut ranges: Vec<[usize; 2]> = Vec::new();
        for clause in &self.clauses {
            let wanted: Vec<String> = clause.words.iter().map(|w| fold(w)).collect();
            let n = wanted.len();
            for start in 0..tokens.len().saturating_sub(n - 1) {
                let run = &tokens[start..start + n];
                let hit = run.iter().zip(&wanted).enumerate().all(|(i, (t, w))| {
                    if clause.prefix && i == n - 1 {
                        t.folded.starts_with(w.as_str())
                    } else {
                        t.folded == *w
                    }
                });
                if hit {
                    ranges.push([run[0].start, run[n - 1].end]);
                }
            }
        }
        merge(ranges)
    }
}

/// Adds a clause of `words` if there are any; whether it did.
fn push_clause(clauses: &mut Vec<Clause>, words: Vec<String>, prefix: bool) -> bool {
    let any = !words.is_empty();
    if any {
        clauses.push(Clause { words, prefix });
    }
    any
}

fn short_prefix(clause: &Clause) -> bool {
    clause.prefix && clause.words.len() == 1 && clause.words[0].chars().count() < MIN_PREFIX_CHARS
}

/// The words of `text`: runs of letters and digits (with the combining
/// marks on them).
fn words_of(text: &str) -> Vec<String> {
    tokens(text).into_iter().map(|t| t.text).collect()
}

/// A word of a text, where it is (UTF-16 units) and its folded form.
struct Token {
    text: String,
    folded: String,
    start: usize,
    end: usize,
}

fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut current: Option<Token> = None;
    let mut at = 0;
    for c in text.chars() {
        let width = c.len_utf16();
        let in_word = c.is_alphanumeric() || (current.is_some() && is_combining_mark(c));
        match (&mut current, in_word) {
            (Some(token), true) => {
                token.text.push(c);
                token.end = at + width;
            }
            (None, true) => {
                current = Some(Token {
                    text: c.to_string(),
                    folded: String::new(),
                    start: at,
                    end: at + width,
                });
            }
            (_, false) => out.extend(current.take()),
        }
        at += width;
    }
    out.extend(current.take());
    for token in &mut out {
        token.folded = fold(&token.text);
    }
    out
}

/// Lowercase, without diacritics (as FTS5's `remove_diacritics`).
fn fold(word: &str) -> String {
    word.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

fn merge(mut ranges: Vec<[usize; 2]>) -> Vec<[usize; 2]> {
    ranges.sort_unstable();
    let mut merged: Vec<[usize; 2]> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range[0] <= last[1] => last[1] = last[1].max(range[1]),
            _ => merged.push(range),
        }
    }
    merged
}

/// A validated search request: the query, an optional room, the cursor
/// (results older than `before`) and the page size.
#[derive(Debug, Clone)]
pub struct Search {
    pub query: SearchQuery,
    pub room: Option<RoomName>,
    pub before: Option<MessageId>,
    pub limit: i64,
}

impl Search {
    /// `before` and `limit` as given (the room is parsed by the caller).
    pub fn parse(
        q: Option<&str>,
        room: Option<RoomName>,
        before: Option<&str>,
        limit: Option<&str>,
    ) -> Result<Self, SearchError> {
        let query = SearchQuery::parse(q.unwrap_or(""))?;
        let before = match before {
            None | Some("") => None,
            Some(raw) => match raw.parse::<i64>() {
                Ok(id) if id > 0 => Some(id),
                _ => return Err(SearchError::Cursor),
            },
        };
        let limit = match limit {
            None | Some("") => SEARCH_DEFAULT,
            Some(raw) => raw.parse::<i64>().map_err(|_| SearchError::Limit)?,
        };
        if !(1..=SEARCH_MAX).contains(&limit) {
            return Err(SearchError::Limit);
        }
        Ok(Self {
            query,
            room,
            before,
            limit,
        })
    }
}

/// One result: the message and where the query's words are in its text.
#[derive(Debug, Clone, Serialize)]
pub struct Hit<M: Serialize> {
    pub message: M,
    pub highlight: Vec<[usize; 2]>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(raw: &str) -> SearchQuery {
        SearchQuery::parse(raw).unwrap()
    }

    #[test]
    fn words_phrases_and_prefixes_are_parsed() {
        let query = q(r#"hello "big red fox" wor*"#);
        assert_eq!(query.fts5(), r#""hello" AND "big red fox" AND "wor"*"#);
        assert_eq!(
            query.tsquery(),
            "('hello') & ('big' <-> 'red' <-> 'fox') & ('wor':*)"
        );
    }

    #[test]
    fn a_star_after_a_closing_quote_makes_the_phrase_a_prefix() {
        assert_eq!(q(r#""big re"*"#).fts5(), r#""big re"*"#);
        assert_eq!(q(r#""big re"*"#).tsquery(), "('big' <-> 're':*)");
    }

    #[test]
    fn syntax_of_either_backend_is_only_a_separator_or_a_word() {
        let query = q(r#"AND OR NOT NEAR(d) text:e & !g 'h' \i (j) ^k -l +m"#);
        for clause in query.clauses() {
            for word in clause.words() {
                assert!(word.chars().all(char::is_alphanumeric), "{word:?}");
            }
        }
        assert!(query.fts5().contains(r#""AND""#));
        assert!(!query.tsquery().contains('!'));
        assert!(!query.tsquery().contains('\\'));
    }

    #[test]
    fn punctuation_inside_a_word_makes_a_phrase() {
        assert_eq!(q("example.com").fts5(), r#""example com""#);
        assert_eq!(q("e-mail").tsquery(), "('e' <-> 'mail')");
    }

    #[test]
    fn an_unclosed_quote_runs_to_the_end() {
        assert_eq!(
            q(r#"say "hello there"#).fts5(),
            r#""say" AND "hello there""#
        );
    }

    #[test]
    fn bad_queries_are_refused_with_their_reason() {
        let err = |raw: &str| SearchQuery::parse(raw).unwrap_err();
        assert_eq!(err(""), SearchError::Empty);
        assert_eq!(err("  \"\" * && ::"), SearchError::Empty);
        assert_eq!(err(&"a".repeat(MAX_QUERY_CHARS + 1)), SearchError::TooLong);
        assert!(SearchQuery::parse(&"a".repeat(MAX_QUERY_CHARS)).is_ok());
        let many = vec!["w"; MAX_QUERY_WORDS + 1].join(" ");
        assert_eq!(err(&many), SearchError::TooManyWords);
        assert_eq!(err("a*"), SearchError::ShortPrefix);
        assert!(SearchQuery::parse("ab*").is_ok());
    }

    #[test]
    fn highlight_is_in_utf16_units_ignoring_case_and_diacritics() {
        // "😀" is two UTF-16 units; "Café" matches "cafe".
        let text = "😀 Café CAFE cafeteria";
        assert_eq!(q("cafe").highlight(text), vec![[3, 7], [8, 12]]);
        assert_eq!(q("caf*").highlight(text), vec![[3, 7], [8, 12], [13, 22]]);
    }

    #[test]
    fn a_phrase_is_highlighted_only_where_its_words_are_in_order() {
        let text = "red fox, fox red, the red  fox";
        assert_eq!(q(r#""red fox""#).highlight(text), vec![[0, 7], [22, 30]]);
    }

    #[test]
    fn overlapping_highlights_merge() {
        assert_eq!(q(r#"fox "red fox""#).highlight("red fox"), vec![[0, 7]]);
    }

    #[test]
    fn search_limits_and_cursors_are_checked() {
        let parse = |before, limit| Search::parse(Some("x"), None, before, limit);
        assert_eq!(parse(None, None).unwrap().limit, SEARCH_DEFAULT);
        assert_eq!(parse(None, Some("0")).unwrap_err(), SearchError::Limit);
        assert_eq!(parse(None, Some("51")).unwrap_err(), SearchError::Limit);
        assert_eq!(parse(None, Some("x")).unwrap_err(), SearchError::Limit);
        assert_eq!(parse(Some("0"), None).unwrap_err(), SearchError::Cursor);
        assert_eq!(parse(Some("7"), None).unwrap().before, Some(7));
    }
}
