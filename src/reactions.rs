//! Reactions: an emoji put on a message by a user. What a client may send
//! as an emoji is parsed here, once.

use unicode_segmentation::UnicodeSegmentation;

/// Longest emoji, in UTF-8 bytes: room for the longest sequences in use
/// (a family with skin tones is 25 bytes; a subdivision flag 28).
pub const MAX_EMOJI_BYTES: usize = 32;

/// Most distinct emoji on one message.
pub const MAX_REACTIONS: i64 = 20;

/// Why an emoji was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "an emoji must be one character (one extended grapheme cluster) of at most {MAX_EMOJI_BYTES} bytes, visible and not white space"
)]
pub struct EmojiError;

/// One emoji, as a reaction holds it: a single extended grapheme cluster
/// (what a reader sees as one character: `👍🏽`, `🇫🇷`, `👨‍👩‍👧` are one
/// each) of at most `MAX_EMOJI_BYTES`, with no control, white-space,
/// invisible or direction-changing character (they would let a reaction
/// hide, or turn the text around it).
///
/// Graphemes are cut by `unicode-segmentation` (UAX #29): counting scalar
/// values would refuse every emoji made of several (flags, skin tones,
/// ZWJ sequences), and counting bytes alone would take several letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emoji(String);

/// Characters that take no room on screen or change the direction of
/// text; a grapheme cluster may carry them after its first character.
fn is_hidden(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}' | '\u{200C}' | '\u{200E}' | '\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}')
}

impl Emoji {
    pub fn parse(raw: &str) -> Result<Self, EmojiError> {
        if raw.is_empty() || raw.len() > MAX_EMOJI_BYTES {
            return Err(EmojiError);
        }
        if raw.graphemes(true).nth(1).is_some() {
            return Err(EmojiError);
        }
        let bad = |c: char| c.is_control() || c.is_whitespace() || is_hidden(c);
        // A cluster that starts with a joiner or a variation selector
        // shows nothing of its own.
        let starts_blank = raw
            .chars()
            .next()
            .is_some_and(|c| matches!(c, '\u{200D}' | '\u{FE00}'..='\u{FE0F}'));
        if raw.chars().any(bad) || starts_blank {
            return Err(EmojiError);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_emoji_of_several_scalar_values_are_accepted() {
        for ok in ["👍", "👍🏽", "🇫🇷", "👨‍👩‍👧", "❤️", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "é", "1️⃣"]
        {
            assert_eq!(Emoji::parse(ok).map(|e| e.0), Ok(ok.to_owned()), "{ok:?}");
        }
    }

    #[test]
    fn two_graphemes_are_refused() {
        for bad in ["👍👍", "ab", "🇫🇷🇫🇷", "👍 "] {
            assert_eq!(Emoji::parse(bad), Err(EmojiError), "{bad:?}");
        }
    }

    #[test]
    fn empty_blank_control_and_invisible_emoji_are_refused() {
        for bad in [
            "", " ", "\n", "\u{0}", "\u{1b}", "\u{200B}", "\u{202E}", "\u{200D}", "\u{FE0F}",
        ] {
            assert_eq!(Emoji::parse(bad), Err(EmojiError), "{bad:?}");
        }
    }

    #[test]
    fn a_single_grapheme_over_32_bytes_is_refused() {
        // One base and many combining marks: one grapheme, 61 bytes.
        let huge = format!("a{}", "\u{301}".repeat(30));
        assert_eq!(huge.graphemes(true).count(), 1);
        assert_eq!(Emoji::parse(&huge), Err(EmojiError));
    }
}
