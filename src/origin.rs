//! The Origin check, against cross-site request forgery and cross-site
//! WebSocket hijacking: a page on another site (or another port of this
//! host) must not open a socket or change state on a visitor's session
//! cookie.
//!
//! The server's own origin comes from `--public-origin`, not from the
//! request: the `Host` header is chosen by whoever sends the request (DNS
//! rebinding makes a browser send an attacker's name), so "Origin matches
//! Host" proves nothing. Only when no public origin is configured does the
//! Host rule still apply, and then for loopback hosts alone (`localhost`,
//! `127.0.0.0/8`, `::1`), so that a development server works unconfigured.

use std::net::IpAddr;

/// Which browser origins may open sockets and send state-changing requests:
/// the server's public origins, any listed explicitly, and (without public
/// origins) a loopback origin that matches the `Host` it was sent to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginPolicy {
    public: Vec<String>,
    allowed: Vec<String>,
}

/// `https://Chat.Example.com/` → `https://chat.example.com`.
fn normalize(origins: impl IntoIterator<Item = String>) -> Vec<String> {
    origins
        .into_iter()
        .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
        .filter(|o| !o.is_empty())
        .collect()
}

/// Whether a `Host` value (`name`, `name:port`, `[v6]:port`) names this
/// machine's loopback interface.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl OriginPolicy {
    /// `public` are the origins the server is served under, `allowed` other
    /// sites' origins; both full origins such as `https://chat.example.com`.
    pub fn new(
        public: impl IntoIterator<Item = String>,
        allowed: impl IntoIterator<Item = String>,
    ) -> Self {
        Self {
            public: normalize(public),
            allowed: normalize(allowed),
        }
    }

    /// Whether the server's own origin is configured (else the loopback
    /// Host rule applies).
    pub fn has_public_origin(&self) -> bool {
        !self.public.is_empty()
    }

    /// Whether a handshake with these headers may proceed. No `Origin` means
    /// no browser (browsers always send it on WebSocket and cross-origin
    /// requests), so there is no cookie to hijack and the token decides.
    pub fn allows(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin.map(str::to_ascii_lowercase) else {
            return true;
        };
        if self.public.contains(&origin) || self.allowed.contains(&origin) {
            return true;
        }
        if self.has_public_origin() {
            return false;
        }
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        match (authority, host.map(str::to_ascii_lowercase)) {
            (Some(authority), Some(host)) => authority == host && is_loopback_host(&host),
            _ => false,
        }
    }

    /// Whether a state-changing HTTP request may proceed. Browsers send
    /// `Origin` on every POST and `Sec-Fetch-Site` on every request; a
    /// request with neither comes from no browser (curl, bots) and carries
    /// no ambient cookie worth forging. `same-site` is refused as well as
    /// `cross-site`: another port or subdomain of this host is another
    /// origin, and may be another user's page.
    pub fn allows_request(
        &self,
        origin: Option<&str>,
        fetch_site: Option<&str>,
        host: Option<&str>,
    ) -> bool {
        if origin.is_some() {
            return self.allows(origin, host);
        }
        !matches!(
            fetch_site.map(str::to_ascii_lowercase).as_deref(),
            Some("cross-site" | "same-site")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> OriginPolicy {
        OriginPolicy::default()
    }

    fn public(origin: &str) -> OriginPolicy {
        OriginPolicy::new([origin.to_owned()], [])
    }

    #[test]
    fn without_a_public_origin_the_same_loopback_origin_is_allowed() {
        assert!(dev().allows(Some("http://127.0.0.1:3000"), Some("127.0.0.1:3000")));
        assert!(dev().allows(Some("http://LOCALHOST:3000"), Some("localhost:3000")));
        assert!(dev().allows(Some("http://[::1]:3000"), Some("[::1]:3000")));
    }

    #[test]
    fn without_a_public_origin_a_forged_host_does_not_make_an_origin_ours() {
        assert!(!dev().allows(Some("http://evil.example"), Some("evil.example")));
        assert!(!dev().allows(Some("https://chat.example.com"), Some("chat.example.com")));
    }

    #[test]
    fn the_public_origin_is_allowed_whatever_the_host() {
        let policy = public("https://Chat.Example.com/");
        assert!(policy.allows(Some("https://chat.example.com"), Some("10.0.0.5:3000")));
        assert!(policy.has_public_origin());
    }

    #[test]
    fn with_a_public_origin_the_host_rule_is_off() {
        let policy = public("https://chat.example.com");
        assert!(!policy.allows(Some("http://127.0.0.1:3000"), Some("127.0.0.1:3000")));
        assert!(!policy.allows(Some("https://evil.example"), Some("evil.example")));
    }

    #[test]
    fn a_foreign_origin_is_refused() {
        assert!(!dev().allows(Some("https://evil.example"), Some("chat.example.com")));
        assert!(!dev().allows(Some("http://127.0.0.1:3001"), Some("127.0.0.1:3000")));
        assert!(!dev().allows(Some("null"), Some("chat.example.com")));
        assert!(!dev().allows(Some("https://evil.example"), None));
    }

    #[test]
    fn a_listed_origin_is_allowed() {
        let policy = OriginPolicy::new([], ["https://app.example.com/".to_owned()]);
        assert!(policy.allows(Some("https://app.example.com"), Some("api.example.com")));
    }

    #[test]
    fn clients_without_an_origin_are_left_to_the_token() {
        assert!(dev().allows(None, Some("chat.example.com")));
    }

    #[test]
    fn requests_from_other_sites_are_refused_by_origin_or_fetch_site() {
        let host = Some("127.0.0.1:3000");
        let policy = dev();
        assert!(!policy.allows_request(Some("http://127.0.0.1:3001"), None, host));
        assert!(!policy.allows_request(None, Some("same-site"), host));
        assert!(!policy.allows_request(None, Some("cross-site"), host));
        assert!(policy.allows_request(Some("http://127.0.0.1:3000"), Some("same-origin"), host));
        assert!(policy.allows_request(None, Some("same-origin"), host));
        assert!(policy.allows_request(None, Some("none"), host));
        assert!(policy.allows_request(None, None, host));
    }
}
