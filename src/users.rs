//! Users: the people (and guests) who talk in Banter, and the parsed forms of
//! the names and passwords they give us.

use serde::{Deserialize, Serialize};

use crate::limits::Limits;

/// A user's id, as stored.
pub type UserId = i64;

/// A user as every client sees them.
/// (Deserialize: a message or a presence change from another node.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub name: String,
    /// Guests have a display name only and no password.
    pub guest: bool,
    /// A webhook's user: it posts through its webhook and never signs in
    /// (issue #11). `default`: a frame from a node that predates it.
    #[serde(default)]
    pub bot: bool,
}

/// Why a user name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UsernameError {
    /// The name is empty or longer than the limit.
    #[error("a name must be 1 to {max} characters long")]
    Length { max: usize },
    /// The name holds a character outside ASCII letters, digits, `_ . -`.
    #[error("a name may only contain letters, digits, '_', '.' and '-'")]
    Charset,
}

/// A user name that follows the rules: 1..=max ASCII letters, digits, `_ . -`.
///
/// ASCII only, on purpose: names are compared case-insensitively and shown to
/// everyone, and a Unicode look-alike ("Аlice" with a Cyrillic A) would let
/// one user pass for another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str, limits: &Limits) -> Result<Self, UsernameError> {
        let len = raw.chars().count();
        if len == 0 || len > limits.max_name_chars {
            return Err(UsernameError::Length {
                max: limits.max_name_chars,
            });
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        if !raw.chars().all(allowed) {
            return Err(UsernameError::Charset);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form two names are compared in: "Alice" and "alice" are one name.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// Why a password was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    /// Too short to resist guessing, or so long that hashing it is a DoS lever.
    #[error("a password must be {min} to {max} characters long")]
    Length { min: usize, max: usize },
}

/// A password of acceptable length. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct Password(String);

/// Longest password accepted: argon2 hashes the whole input, so unbounded
/// input would let one request burn CPU at will.
pub const MAX_PASSWORD_CHARS: usize = 1024;

impl Password {
    pub fn parse(raw: &str, limits: &Limits) -> Result<Self, PasswordError> {
        let len = raw.chars().count();
        if len < limits.min_password_chars || len > MAX_PASSWORD_CHARS {
            return Err(PasswordError::Length {
                min: limits.min_password_chars,
                max: MAX_PASSWORD_CHARS,
            });
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(**redacted**)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn a_name_of_letters_digits_and_punctuation_is_accepted() {
        let name = Username::parse("Alice_B.c-9", &limits()).unwrap();
        assert_eq!(name.as_str(), "Alice_B.c-9");
    }

    #[test]
    fn names_compare_without_case() {
        let a = Username::parse("Alice", &limits()).unwrap();
        let b = Username::parse("aLICE", &limits()).unwrap();
        assert_eq!(a.key(), b.key());
    }

    #[test]
    fn an_empty_name_is_refused() {
        assert_eq!(
            Username::parse("", &limits()),
            Err(UsernameError::Length { max: 32 })
        );
    }

    #[test]
    fn a_name_of_32_characters_is_accepted_and_33_refused() {
        assert!(Username::parse(&"a".repeat(32), &limits()).is_ok());
        assert!(Username::parse(&"a".repeat(33), &limits()).is_err());
    }

    #[test]
    fn names_with_spaces_markup_or_non_ascii_letters_are_refused() {
        for bad in ["al ice", "<b>", "Аlice", "a/b", "ali\u{0}ce", "é", "a\n"] {
            assert_eq!(
                Username::parse(bad, &limits()),
                Err(UsernameError::Charset),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_name_limit_is_configurable() {
        let limits = Limits {
            max_name_chars: 3,
            ..Limits::default()
        };
        assert!(Username::parse("abcd", &limits).is_err());
    }

    #[test]
    fn a_short_password_is_refused() {
        assert!(Password::parse("1234567", &limits()).is_err());
        assert!(Password::parse("12345678", &limits()).is_ok());
    }

    #[test]
    fn an_overlong_password_is_refused() {
        let long = "x".repeat(MAX_PASSWORD_CHARS + 1);
        assert!(Password::parse(&long, &limits()).is_err());
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let p = Password::parse("hunter2hunter2", &limits()).unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
