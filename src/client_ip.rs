//! The client's IP address, for per-address limits. Behind a trusted
//! reverse proxy it comes from `X-Forwarded-For`; from anyone else that
//! header is ignored, since a client can write whatever it likes there.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

/// Which peers are reverse proxies whose `X-Forwarded-For` we believe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self(nets)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The address of the client behind `peer`: the peer itself, unless it
    /// is a trusted proxy, in which case the right-most address of
    /// `X-Forwarded-For` that is not itself a trusted proxy (entries to its
    /// left were written by the client and prove nothing).
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for hop in forwarded.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) if self.trusts(ip) => continue,
                Ok(ip) => return ip,
                Err(_) => return peer,
            }
        }
        peer
    }

    /// Whether a trusted proxy says the client came over HTTPS.
    pub fn forwarded_https(&self, parts: &Parts) -> bool {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        peer.is_some_and(|ip| self.trusts(ip))
            && parts
                .headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
    }

    /// The client address of a request, from the connection's peer address
    /// (which `run` records) and its headers.
    pub fn of_request(&self, parts: &Parts) -> IpAddr {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(addr)| addr.ip());
        self.client_ip(peer, &parts.headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    #[test]
    fn the_header_is_ignored_from_an_untrusted_peer() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client_ip(ip("203.0.113.9"), &headers("1.2.3.4")),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let p = proxies(&["127.0.0.1/32"]);
        assert_eq!(
            p.client_ip(ip("127.0.0.1"), &headers("198.51.100.7")),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn addresses_the_client_wrote_itself_are_skipped() {
        let p = proxies(&["10.0.0.0/8"]);
        let h = headers("6.6.6.6, 198.51.100.7, 10.0.0.2");
        assert_eq!(p.client_ip(ip("10.0.0.1"), &h), ip("198.51.100.7"));
    }

    #[test]
    fn garbage_in_the_header_falls_back_to_the_peer() {
        let p = proxies(&["127.0.0.1/32"]);
        assert_eq!(
            p.client_ip(ip("127.0.0.1"), &headers("not-an-ip")),
            ip("127.0.0.1")
        );
        assert_eq!(
            p.client_ip(ip("127.0.0.1"), &HeaderMap::new()),
            ip("127.0.0.1")
        );
    }
}
