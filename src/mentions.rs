//! Mentions: the `@name`s and `@room` in a message's text, read once, where
//! the text comes in (a `send` or an `edit`). The store resolves the names
//! to users in the transaction that writes the message, so a mention costs
//! the sender no extra round trip.
//!
//! What counts as a mention:
//! - `@` followed by a run of name characters (ASCII letters, digits, `_`,
//!   `.`, `-`: the user-name rules), where the `@` does not follow a name
//!   character: `email@example.com` mentions nobody;
//! - dots at the end of the run are the sentence's, not the name's
//!   (`thanks @bob.` mentions `bob`); a run longer than a name can be is
//!   no mention;
//! - `@room` (any case) mentions the whole room: a flag, not a list of its
//!   members;
//! - names are compared regardless of case, each counted once, and only the
//!   first `MAX_MENTIONED` distinct ones are resolved, so a message full of
//!   `@`s costs a bounded lookup.

use crate::limits::Limits;
use crate::messages::MessageText;

/// Most distinct names one message may mention; more are left as text.
pub const MAX_MENTIONED: usize = 20;

/// What a text mentions, before the names are resolved to users.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mentions {
    /// Lowercased names (the form users are found by), distinct, in order
    /// of first appearance.
    names: Vec<String>,
    room: bool,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

impl Mentions {
    /// Reads the mentions in a text that has passed the text rules.
    pub fn parse(text: &MessageText, limits: &Limits) -> Self {
        let mut mentions = Self::default();
        let text = text.as_str();
        let mut previous: Option<char> = None;
        for (at, c) in text.char_indices() {
            let starts = c == '@' && !previous.is_some_and(is_name_char);
            previous = Some(c);
            if !starts {
                continue;
            }
            let rest = &text[at + 1..];
            let run = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
            let name = rest[..run].trim_end_matches('.');
            if name.is_empty() || name.len() > limits.max_name_chars {
                continue;
            }
            mentions.add(name.to_ascii_lowercase());
        }
        mentions
    }

    fn add(&mut self, key: String) {
        if key == "room" {
            self.room = true;
        } else if self.names.len() < MAX_MENTIONED && !self.names.contains(&key) {
            self.names.push(key);
        }
    }

    /// The names to resolve, lowercased.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether the text mentions the whole room.
    pub fn room(&self) -> bool {
        self.room
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mentions(raw: &str) -> (Vec<String>, bool) {
        let limits = Limits::default();
        let text = MessageText::parse(raw, &limits).unwrap();
        let m = Mentions::parse(&text, &limits);
        (m.names().to_vec(), m.room())
    }

    fn names(raw: &str) -> Vec<String> {
        mentions(raw).0
    }

    #[test]
    fn a_name_after_an_at_sign_is_a_mention() {
        assert_eq!(names("hi @alice and @Bob_2"), ["alice", "bob_2"]);
        assert_eq!(names("@carol"), ["carol"]);
    }

    #[test]
    fn an_email_address_mentions_nobody() {
        assert!(names("write to email@example.com").is_empty());
        assert!(names("a.b@c.d").is_empty());
    }

    #[test]
    fn punctuation_after_a_name_is_not_part_of_it() {
        assert_eq!(
            names("thanks @bob. (@carol), @dave! @erin: @frank...?"),
            ["bob", "carol", "dave", "erin", "frank"]
        );
        assert_eq!(names("@a.b."), ["a.b"]);
    }

    #[test]
    fn a_name_is_mentioned_once_whatever_its_case() {
        assert_eq!(names("@Alice @alice @ALICE"), ["alice"]);
    }

    #[test]
    fn at_room_is_a_flag_not_a_name() {
        assert_eq!(mentions("@room look"), (vec![], true));
        assert_eq!(mentions("hey @ROOM @bob"), (vec!["bob".to_owned()], true));
        assert_eq!(mentions("@rooms"), (vec!["rooms".to_owned()], false));
    }

    #[test]
    fn a_lone_at_sign_or_an_overlong_name_is_no_mention() {
        assert!(names("@ @@ @. @!").is_empty());
        assert!(names(&format!("@{}", "x".repeat(33))).is_empty());
        assert_eq!(names(&format!("@{}", "x".repeat(32))), ["x".repeat(32)]);
    }

    #[test]
    fn an_at_sign_after_another_or_after_markup_still_mentions() {
        assert_eq!(names("@@bob <@carol>"), ["bob", "carol"]);
    }

    #[test]
    fn at_most_twenty_distinct_names_are_kept() {
        let text: Vec<String> = (0..50).map(|i| format!("@user{i}")).collect();
        let found = names(&text.join(" "));
        assert_eq!(found.len(), MAX_MENTIONED);
        assert_eq!(found[0], "user0");
        assert_eq!(found[19], "user19");
    }

    #[test]
    fn non_ascii_letters_end_a_name() {
        assert_eq!(names("@bobé"), ["bob"]);
        assert!(names("é@bob").contains(&"bob".to_owned()));
    }
}
