//! The Origin check on Socket.IO handshakes, against cross-site WebSocket
//! hijacking: a page on another site must not open a socket that rides on a
//! visitor's session cookie.

/// Which browser origins may open sockets: this server's own (the `Origin`
/// matches the `Host` it was sent to) and any listed explicitly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginPolicy {
    allowed: Vec<String>,
}

impl OriginPolicy {
    /// `allowed` holds full origins such as `https://chat.example.com`.
    pub fn new(allowed: impl IntoIterator<Item = String>) -> Self {
        let allowed = allowed
            .into_iter()
            .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|o| !o.is_empty())
            .collect();
        Self { allowed }
    }

    /// Whether a handshake with these headers may proceed. No `Origin` means
    /// no browser (browsers always send it on WebSocket and cross-origin
    /// requests), so there is no cookie to hijack and the token decides.
    pub fn allows(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin.map(str::to_ascii_lowercase) else {
            return true;
        };
        if self.allowed.contains(&origin) {
            return true;
        }
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        match (authority, host) {
            (Some(authority), Some(host)) => authority == host.to_ascii_lowercase(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_origin_is_allowed() {
        let policy = OriginPolicy::default();
        assert!(policy.allows(Some("http://127.0.0.1:3000"), Some("127.0.0.1:3000")));
        assert!(policy.allows(Some("https://Chat.Example.com"), Some("chat.example.com")));
    }

    #[test]
    fn a_foreign_origin_is_refused() {
        let policy = OriginPolicy::default();
        assert!(!policy.allows(Some("https://evil.example"), Some("chat.example.com")));
        assert!(!policy.allows(Some("http://127.0.0.1:3001"), Some("127.0.0.1:3000")));
        assert!(!policy.allows(Some("null"), Some("chat.example.com")));
        assert!(!policy.allows(Some("https://evil.example"), None));
    }

    #[test]
    fn a_listed_origin_is_allowed() {
        let policy = OriginPolicy::new(["https://app.example.com/".to_owned()]);
        assert!(policy.allows(Some("https://app.example.com"), Some("api.example.com")));
    }

    #[test]
    fn clients_without_an_origin_are_left_to_the_token() {
        assert!(OriginPolicy::default().allows(None, Some("chat.example.com")));
    }
}
