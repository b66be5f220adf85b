//! Supplier HTTP messages as plain data: what a connector asks the proxy to send and what it reads back.

use serde::{Deserialize, Serialize};

/// HTTP methods the supplier protocols use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// A request to a supplier. `path` is origin-form (path and query), relative to the supplier's base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireRequest {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl WireRequest {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        WireRequest {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn json_body(mut self, body: Vec<u8>) -> Self {
        self.headers
            .push(("Content-Type".into(), "application/json".into()));
        self.body = body;
        self
    }

    /// First header value with this name, ignoring case.
    pub fn get_header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// A supplier's answer, body already de-compressed by the proxy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WireResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl WireResponse {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        WireResponse {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn get_header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Decodes a `Content-Encoding: gzip` body, refusing to inflate past `max` bytes (zip bombs).
pub fn gunzip_bounded(body: &[u8], max: usize) -> Result<Vec<u8>, crate::SupplierError> {
    use std::io::Read;
    let mut out = Vec::new();
    let mut decoder = flate2::read::GzDecoder::new(body).take(max as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| crate::SupplierError::malformed(format!("gzip body: {e}")))?;
    if out.len() > max {
        return Err(crate::SupplierError::malformed(format!(
            "gzip body inflates past {max} bytes"
        )));
    }
    Ok(out)
}
