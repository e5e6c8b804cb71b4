//! Where the server is (one node, or several sharing a database and a
//! bus), and where the bench connects from.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use anyhow::{Context, bail};

/// One server node.
#[derive(Debug, Clone)]
pub struct Node {
    /// The node's address.
    pub addr: SocketAddr,
    /// `host:port` as given, for the Host header.
    pub authority: String,
    /// `ws://host:port/socket.io/?EIO=4&transport=websocket`.
    pub ws_url: String,
}

impl Node {
    /// From `http://host:port[/]`; an IPv4 address if `want_v4` and the
    /// name has one.
    fn new(url: &str, want_v4: bool) -> anyhow::Result<Self> {
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
        Ok(Node {
            addr,
            ws_url: format!("ws://{authority}/socket.io/?EIO=4&transport=websocket"),
            authority,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    /// The nodes, in the order the URLs were given (at least one).
    pub nodes: Vec<Node>,
    /// The URLs as given.
    pub urls: Vec<String>,
    /// Local source addresses, used round-robin.
    pub sources: Vec<IpAddr>,
}

impl Target {
    /// From one `http://host:port[/]` per node and the source addresses
    /// (none: let the kernel choose).
    pub fn new(urls: &[String], sources: &[IpAddr]) -> anyhow::Result<Self> {
        if urls.is_empty() {
            bail!("--url is needed");
        }
        let want_v4 = sources.first().is_none_or(IpAddr::is_ipv4);
        let nodes = urls
            .iter()
            .map(|u| Node::new(u, want_v4))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Target {
            nodes,
            urls: urls.to_vec(),
            sources: sources.to_vec(),
        })
    }

    /// The node client `i` of a run with `rooms` rooms uses. Client `i` is
    /// member `i / rooms` of room `i % rooms`, and member `k` of each room
    /// goes to node `k % n`: every room has members on every node (a plain
    /// `i % n` would put each room on one node whenever `n` divides the
    /// number of rooms).
    pub fn node_for(&self, i: usize, rooms: usize) -> usize {
        (i / rooms.max(1)) % self.nodes.len()
    }

    /// Node number `n` (modulo the number of nodes).
    pub fn node(&self, n: usize) -> &Node {
        &self.nodes[n % self.nodes.len()]
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

    fn urls(list: &[&str]) -> Vec<String> {
        list.iter().map(|u| (*u).to_owned()).collect()
    }

    #[test]
    fn an_http_url_gives_the_socket_io_websocket_url() {
        let t = Target::new(&urls(&["http://127.0.0.1:3000/"]), &[]).unwrap();
        assert_eq!(t.node(0).addr, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(
            t.node(0).ws_url,
            "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(t.source(3), None);
        assert!(Target::new(&urls(&["https://x"]), &[]).is_err());
        assert!(Target::new(&[], &[]).is_err());
    }

    #[test]
    fn every_room_has_members_on_every_node() {
        let t = Target::new(&urls(&["http://127.0.0.1:1", "http://127.0.0.1:2"]), &[]).unwrap();
        let rooms = 10;
        for room in 0..rooms {
            let nodes: Vec<usize> = (0..50)
                .filter(|i| i % rooms == room)
                .map(|i| t.node_for(i, rooms))
                .collect();
            assert_eq!(nodes.iter().filter(|&&n| n == 0).count(), 3, "room {room}");
            assert_eq!(nodes.iter().filter(|&&n| n == 1).count(), 2, "room {room}");
        }
        let one = Target::new(&urls(&["http://127.0.0.1:1"]), &[]).unwrap();
        assert!((0..100).all(|i| one.node_for(i, 7) == 0));
    }
}
