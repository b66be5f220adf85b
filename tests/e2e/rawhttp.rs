//! Raw HTTP/1 over loopback TCP: exact bytes out, every byte back, and when the edge closed.

use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The `host:port` of an `http://host:port` base URL.
pub fn addr_of(base: &str) -> String {
    base.trim_start_matches("http://").to_string()
}

/// One response parsed out of a raw byte stream.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The JSON error code, if the body is an arigate error.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

/// What came back on one connection.
#[derive(Debug)]
pub struct Exchange {
    pub bytes: Vec<u8>,
    /// The edge closed the connection (EOF or reset) within the wait.
    pub closed: bool,
    /// When it was closed, from the start of the exchange.
    pub closed_after: Option<Duration>,
}

impl Exchange {
    /// Every complete response in the bytes, in order (Content-Length or chunked framing).
    pub fn responses(&self) -> Vec<RawResponse> {
        parse_responses(&self.bytes)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

pub fn parse_responses(mut b: &[u8]) -> Vec<RawResponse> {
    let mut out = Vec::new();
    while let Some(end) = find(b, b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&b[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let rest = &b[end + 4..];
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.clone())
        };
        let (body, used) = if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            let mut body = Vec::new();
            let mut r = rest;
            let mut used = 0;
            loop {
                let Some(le) = find(r, b"\r\n") else {
                    return out;
                };
                let size = usize::from_str_radix(
                    String::from_utf8_lossy(&r[..le])
                        .split(';')
                        .next()
                        .unwrap_or("")
                        .trim(),
                    16,
                )
                .unwrap_or(0);
                if r.len() < le + 2 + size + 2 {
                    return out;
                }
                body.extend_from_slice(&r[le + 2..le + 2 + size]);
                used += le + 2 + size + 2;
                r = &r[le + 2 + size + 2..];
                if size == 0 {
                    break;
                }
            }
            (body, used)
        } else {
            let len: usize = get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if rest.len() < len {
                return out;
            }
            (rest[..len].to_vec(), len)
        };
        out.push(RawResponse {
            status,
            headers,
            body,
        });
        b = &rest[used..];
    }
    out
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

pub async fn connect(base: &str) -> TcpStream {
    TcpStream::connect(addr_of(base))
        .await
        .expect("connect to the edge")
}

/// Reads until the edge closes the connection or `wait` passes.
pub async fn read_until_close(s: &mut TcpStream, started: Instant, wait: Duration) -> Exchange {
    let mut bytes = Vec::new();
    let mut buf = vec![0u8; 65536];
    let until = started + wait;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return Exchange {
                    bytes,
                    closed: true,
                    closed_after: Some(started.elapsed()),
                }
            }
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
            Err(_) => {
                return Exchange {
                    bytes,
                    closed: false,
                    closed_after: None,
                }
            }
        }
    }
}

/// Sends `raw` on a fresh connection and reads until the edge closes it or `wait` passes.
pub async fn exchange(base: &str, raw: &[u8], wait: Duration) -> Exchange {
    let mut s = connect(base).await;
    let started = Instant::now();
    s.write_all(raw).await.expect("send");
    read_until_close(&mut s, started, wait).await
}

/// A request with `Content-Length` framing, as bytes.
pub fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut r = format!("{method} {target} HTTP/1.1\r\nhost: edge\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        r.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    r.push_str("\r\n");
    let mut out = r.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A Prometheus sample from the admin listener's `/metrics` (0 when absent).
pub async fn metric(admin: &str, series: &str) -> f64 {
    let (_, _, body) =
        arigate_sim::server::http_request("GET", &format!("{admin}/metrics"), &[], Vec::new())
            .await
            .expect("metrics");
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}
