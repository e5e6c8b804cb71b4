//! Where the server is, and where the bench connects from.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use anyhow::{Context, bail};

#[derive(Debug, Clone)]
pub struct Target {
    /// The server's address.
    pub addr: SocketAddr,
    /// `host:port` as given, for the Host header.
    pub authority: String,
    /// `ws://host:port/socket.io/?EIO=4&transport=websocket`.
    pub ws_url: String,
    /// Local source addresses, used round-robin.
    pub sources: Vec<IpAddr>,
}

impl Target {
    /// From `http://host:port[/]` and the source addresses (none: let the
    /// kernel choose).
    pub fn new(url: &str, sources: &[IpAddr]) -> anyhow::Result<Self> {
        let Some(rest) = url.strip_prefix("http://") else {
            bail!("--url must start with http:// (no TLS): {url}");
        };
        let authority = rest.split('/').next().unwrap_or_default().to_owned();
        if authority.is_empty() {
            bail!("--url has no host: {url}");
        }
        let with_port = if authority.contains(':') && !authority.ends_with(']') {
            authority.clone()
        } else {
            format!("{authority}:80")
        };
        let want_v4 = sources.first().is_none_or(IpAddr::is_ipv4);
        let addrs: Vec<SocketAddr> = with_port
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {with_port}"))?
            .collect();
        let addr = addrs
            .iter()
            .find(|a| a.is_ipv4() == want_v4)
            .or(addrs.first())
            .copied()
            .with_context(|| format!("{with_port} resolves to nothing"))?;
        Ok(Target {
            addr,
            ws_url: format!("ws://{authority}/socket.io/?EIO=4&transport=websocket"),
            authority,
            sources: sources.to_vec(),
        })
    }

    /// The source address for connection number `i`.
    pub fn source(&self, i: usize) -> Option<IpAddr> {
        if self.sources.is_empty() {
            None
        } else {
            Some(self.sources[i % self.sources.len()])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_url_gives_the_socket_io_websocket_url() {
        let t = Target::new("http://127.0.0.1:3000/", &[]).unwrap();
        assert_eq!(t.addr, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(
            t.ws_url,
            "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(t.source(3), None);
        assert!(Target::new("https://x", &[]).is_err());
    }
}
