//! Guest sign-in over a hand-written HTTP/1.1 keep-alive connection: one
//! connection per worker (and server node), reused, so that signing 20,000
//! guests in does not use 20,000 more ephemeral ports.

use std::net::IpAddr;

use serde::Deserialize;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::failure::Failure;
use crate::sio::tcp_connect;
use crate::target::Target;

/// A parsed HTTP response.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    /// Whether the connection can carry another request.
    pub keep_alive: bool,
}

/// Reads one response: status line, headers, and a body framed by
/// Content-Length, chunked encoding, or the end of the stream.
pub async fn read_response<R: AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Response> {
    use std::io::{Error, ErrorKind};
    let bad = |what: &str| Error::new(ErrorKind::InvalidData, what.to_owned());
    let mut line = String::new();
    if r.read_line(&mut line).await? == 0 {
        return Err(Error::new(ErrorKind::UnexpectedEof, "connection closed"));
    }
    let mut parts = line.split_ascii_whitespace();
    let version = parts.next().unwrap_or_default().to_owned();
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut keep_alive = version == "HTTP/1.1";
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Err(Error::new(ErrorKind::UnexpectedEof, "closed in headers"));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse().map_err(|_| bad("bad content-length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            let value = value.to_ascii_lowercase();
            if value.contains("close") {
                keep_alive = false;
            } else if value.contains("keep-alive") {
                keep_alive = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line).await?;
            let size = line.trim_end().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size.trim(), 16).map_err(|_| bad("bad chunk size"))?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    line.clear();
                    if r.read_line(&mut line).await? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..]).await?;
            line.clear();
            r.read_line(&mut line).await?;
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        r.read_exact(&mut body).await?;
    } else if status >= 200 && status != 204 && status != 304 {
        r.read_to_end(&mut body).await?;
        keep_alive = false;
    }
    Ok(Response {
        status,
        body,
        keep_alive,
    })
}

#[derive(Deserialize)]
struct Issued {
    token: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorCode,
}

#[derive(Deserialize)]
struct ErrorCode {
    code: String,
}

/// Signs guests in, reusing one keep-alive connection per server node.
pub struct GuestClient {
    target: std::rc::Rc<Target>,
    source: Option<IpAddr>,
    /// One per node, opened on first use.
    conns: Vec<Option<BufReader<TcpStream>>>,
}

impl GuestClient {
    pub fn new(target: std::rc::Rc<Target>, source: Option<IpAddr>) -> Self {
        let conns = target.nodes.iter().map(|_| None).collect();
        GuestClient {
            target,
            source,
            conns,
        }
    }

    /// `POST /api/auth/guest` with `name` on node number `node`; the
    /// session token.
    pub async fn sign_in(&mut self, node: usize, name: &str) -> Result<String, Failure> {
        let node = node % self.conns.len();
        let server = self.target.node(node);
        let body = serde_json::json!({ "name": name }).to_string();
        let request = format!(
            "POST /api/auth/guest HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Accept: application/json\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{}",
            server.authority,
            body.len(),
            body
        );
        let slot = &mut self.conns[node];
        let mut attempt = 0;
        let response = loop {
            attempt += 1;
            let reused = slot.is_some();
            let conn = match slot.as_mut() {
                Some(c) => c,
                None => {
                    let stream = tcp_connect(server, self.source)
                        .await
                        .map_err(|f| Failure::new("http_connect", f.detail))?;
                    slot.insert(BufReader::new(stream))
                }
            };
            let result = async {
                conn.get_mut().write_all(request.as_bytes()).await?;
                read_response(conn).await
            }
            .await;
            match result {
                Ok(r) => break r,
                // The server may close an idle keep-alive connection: retry
                // once on a fresh one.
                Err(_) if reused && attempt == 1 => *slot = None,
                Err(e) => {
                    *slot = None;
                    return Err(Failure::new("http_io", e));
                }
            }
        };
        if !response.keep_alive {
            *slot = None;
        }
        if response.status == 200 || response.status == 201 {
            let issued: Issued = serde_json::from_slice(&response.body)
                .map_err(|e| Failure::new("http_bad_body", e))?;
            return Ok(issued.token);
        }
        let code = serde_json::from_slice::<ErrorBody>(&response.body)
            .map(|b| format!("_{}", b.error.code))
            .unwrap_or_default();
        Err(Failure::new(
            format!("http_{}{code}", response.status),
            String::from_utf8_lossy(&response.body),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Response {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async { read_response(&mut raw.as_bytes()).await.unwrap() })
    }

    #[test]
    fn a_response_with_a_content_length_is_read_and_kept_alive() {
        let r =
            parse("HTTP/1.1 201 Created\r\ncontent-length: 4\r\ncontent-type: x\r\n\r\nabcdNEXT");
        assert_eq!(
            (r.status, r.body.as_slice(), r.keep_alive),
            (201, &b"abcd"[..], true)
        );
    }

    #[test]
    fn a_chunked_response_is_reassembled() {
        let r = parse(
            "HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
             3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        );
        assert_eq!(
            (r.status, r.body.as_slice(), r.keep_alive),
            (409, &b"abcde"[..], false)
        );
    }

    #[test]
    fn a_response_without_a_length_ends_with_the_stream() {
        let r = parse("HTTP/1.0 200 OK\r\n\r\nrest");
        assert_eq!((r.body.as_slice(), r.keep_alive), (&b"rest"[..], false));
    }
}
