//! The agent API v1 (DESIGN §4): routing, authentication, bounded body reading, JSON answers.
//! Handlers run in `request_filter` and answer directly; their supplier calls run as legs.

pub mod answers;
pub mod booking;
pub mod content;
pub mod search;
pub mod search_memo;
pub mod webhooks;

use crate::app::App;
use crate::errors::ApiError;
use arigate_filters::agent_auth::{Agent, AuthError};
use bytes::Bytes;
use pingora_proxy::Session;

/// A handler's successful answer.
pub struct ApiResponse {
    pub status: u16,
    pub body: Vec<u8>,
    /// Prepared bytes sent after `body`, shared, not copied (a stored search answer's hotels).
    pub tail: Bytes,
    pub headers: Vec<(&'static str, String)>,
}

impl ApiResponse {
    pub fn json(status: u16, value: &serde_json::Value) -> ApiResponse {
        ApiResponse {
            tail: bytes::Bytes::new(),
            status,
            body: value.to_string().into_bytes(),
            headers: Vec::new(),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> ApiResponse {
        self.headers.push((name, value.into()));
        self
    }
}

/// What a request is, for routing, metrics and spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Search,
    Destinations,
    HotelsInDestination,
    Hotel(String),
    Availability,
    Book,
    BookingQuery(String),
    Cancel(String),
    Webhook(String),
}

impl Route {
    pub fn name(&self) -> &'static str {
        match self {
            Route::Search => "search",
            Route::Destinations => "destinations",
            Route::HotelsInDestination => "hotels",
            Route::Hotel(_) => "hotel",
            Route::Availability => "availability",
            Route::Book => "book",
            Route::BookingQuery(_) => "booking_query",
            Route::Cancel(_) => "cancel",
            Route::Webhook(_) => "webhook",
        }
    }

    /// Resolves method and path (already without query) to a route; 404/405 otherwise.
    pub fn resolve(method: &str, path: &str) -> Result<Route, ApiError> {
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let route = match segs.as_slice() {
            ["v1", "search"] => (Route::Search, "POST"),
            ["v1", "destinations"] => (Route::Destinations, "GET"),
            ["v1", "hotels"] => (Route::HotelsInDestination, "GET"),
            ["v1", "hotels", id] if !id.is_empty() => (Route::Hotel(id.to_string()), "GET"),
            ["v1", "availability"] => (Route::Availability, "POST"),
            ["v1", "bookings"] => (Route::Book, "POST"),
            ["v1", "bookings", id] if !id.is_empty() => {
                (Route::BookingQuery(id.to_string()), "GET")
            }
            ["v1", "bookings", id, "cancel"] if !id.is_empty() => {
                (Route::Cancel(id.to_string()), "POST")
            }
            ["webhooks", s] if !s.is_empty() => (Route::Webhook(s.to_string()), "POST"),
            _ => return Err(ApiError::not_found(format!("no route for {path}"))),
        };
        if route.1 != method {
            return Err(ApiError::new(
                405,
                "method_not_allowed",
                format!("{path} takes {}", route.1),
            ));
        }
        Ok(route.0)
    }
}

/// Authenticates the agent from `Authorization: Bearer <key>`.
pub fn authenticate<'a>(app: &'a App, session: &Session) -> Result<&'a Agent, ApiError> {
    let header = session
        .req_header()
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    // The challenge says which scheme to use and, with credentials, what was wrong with them.
    app.agents.authenticate(header).map_err(|e| match e {
        AuthError::Missing => ApiError::new(
            401,
            "unauthorized",
            "missing Authorization: Bearer <api key>",
        )
        .with_challenge("Bearer realm=\"arigate\""),
        AuthError::Malformed => ApiError::new(
            401,
            "unauthorized",
            "Authorization must be Bearer <api key>",
        )
        .with_challenge("Bearer realm=\"arigate\", error=\"invalid_request\""),
        AuthError::Unknown => ApiError::new(401, "unauthorized", "unknown API key")
            .with_challenge("Bearer realm=\"arigate\", error=\"invalid_token\""),
    })
}

fn too_large(max: usize) -> ApiError {
    ApiError::new(
        413,
        "payload_too_large",
        format!("request bodies on this route are limited to {max} bytes"),
    )
}

/// Refuses (413) a request whose `Content-Length` is over `max`, before reading any of it.
/// (Pingora already refused unparseable or conflicting lengths with 400.)
pub fn check_declared_length(session: &Session, max: usize) -> Result<(), ApiError> {
    if let Some(len) = session
        .req_header()
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
    {
        if len.trim().parse::<u64>().map_or(true, |n| n > max as u64) {
            return Err(too_large(max));
        }
    }
    Ok(())
}

/// Reads the whole request body, refusing more than `max` bytes (413) as it streams — chunked
/// bodies included — and a body not complete within `within` (408, `limits.body_read_timeout`).
pub async fn read_body(
    session: &mut Session,
    max: usize,
    within: std::time::Duration,
) -> Result<Bytes, ApiError> {
    check_declared_length(session, max)?;
    let read = async {
        let mut body = bytes::BytesMut::new();
        loop {
            match session.read_request_body().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > max {
                        return Err(too_large(max));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body.freeze()),
                Err(e) if e.etype() == &pingora_error::ErrorType::ReadTimedout => {
                    return Err(body_timeout())
                }
                // A body it cannot frame (a bad chunk size, an oversized chunk extension…):
                // where it ends is unknown, so nothing after it is read (RFC 9112 §6.3, §7.1).
                Err(_) => {
                    return Err(ApiError::bad_request("could not read the request body").closing())
                }
            }
        }
    };
    match tokio::time::timeout(within, read).await {
        Ok(r) => r,
        Err(_) => Err(body_timeout()),
    }
}

fn body_timeout() -> ApiError {
    crate::metrics::client_timeout(crate::metrics::ClientTimeout::Body);
    ApiError::new(
        408,
        "request_timeout",
        "the request body did not arrive in time",
    )
}

/// Refuses request targets that could be read as more than one path (400): absolute-form and
/// authority-form targets, `*`, empty, `.` or `..` segments, backslashes, and percent-encoded
/// dots, slashes and backslashes. The router then sees each path one way only.
pub fn check_target(req: &pingora_http::RequestHeader) -> Result<(), ApiError> {
    let bad = |why: &str| {
        Err(ApiError::bad_request(format!(
            "the request target {why}; send the canonical origin-form path"
        )))
    };
    // The target as sent (Pingora keeps absolute-form targets whole here).
    let raw = req.raw_path();
    let path = raw.split(|b| *b == b'?').next().unwrap_or_default();
    if path.first() != Some(&b'/') || req.uri.scheme().is_some() || req.uri.authority().is_some() {
        return bad("is not in origin form (absolute-form, authority-form and * are refused)");
    }
    if path.contains(&b'\\') {
        return bad("contains a backslash");
    }
    let has = |needle: &[u8]| {
        path.windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    };
    if has(b"%2e") || has(b"%2f") || has(b"%5c") || has(b"%00") {
        return bad("percent-encodes a dot, slash, backslash or NUL");
    }
    let mut segs = path[1..].split(|b| *b == b'/').peekable();
    while let Some(seg) = segs.next() {
        // A trailing slash is left to the router (a 404); empty segments elsewhere are refused.
        if seg == b"." || seg == b".." || (seg.is_empty() && segs.peek().is_some()) {
            return bad("has an empty, . or .. segment");
        }
    }
    Ok(())
}

/// The query parameter `name`, percent-decoded.
pub fn query_param(session: &Session, name: &str) -> Option<String> {
    let q = session.req_header().uri.query()?;
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The client's IP address (never from `X-Forwarded-For`).
pub fn client_ip(session: &Session) -> String {
    session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".to_string())
}

/// Decimal money for agents: rounded once, two places, as a string.
pub fn money_json(amount: rust_decimal::Decimal, currency: &str) -> serde_json::Value {
    let rounded =
        amount.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    serde_json::json!({"amount": format!("{rounded:.2}"), "currency": currency})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_resolve_with_methods() {
        assert_eq!(Route::resolve("POST", "/v1/search"), Ok(Route::Search));
        assert_eq!(
            Route::resolve("GET", "/v1/hotels/ARG-LIS-0001"),
            Ok(Route::Hotel("ARG-LIS-0001".into()))
        );
        assert_eq!(
            Route::resolve("POST", "/v1/bookings/bk_x/cancel"),
            Ok(Route::Cancel("bk_x".into()))
        );
        assert_eq!(
            Route::resolve("GET", "/v1/search").map_err(|e| e.status),
            Err(405)
        );
        assert_eq!(
            Route::resolve("GET", "/v2/search").map_err(|e| e.status),
            Err(404)
        );
        assert_eq!(
            Route::resolve("GET", "/v1/hotels/").map_err(|e| e.status),
            Err(404)
        );
        assert_eq!(
            Route::resolve("GET", "/__leg/hotelbeds/search").map_err(|e| e.status),
            Err(404)
        );
    }

    #[test]
    fn only_canonical_origin_form_targets_pass() {
        let check = |t: &str| {
            let h = pingora_http::RequestHeader::build("GET", t.as_bytes(), None).expect("head");
            check_target(&h).map_err(|e| e.status)
        };
        for ok in [
            "/v1/search",
            "/v1/hotels/",
            "/v1/hotels?destination=LIS",
            "/v1/hotels/A.B",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for bad in [
            "//v1/search",
            "/v1//search",
            "/v1/../admin",
            "/v1/./search",
            "/v1/%2e%2e/admin",
            "/v1/%2E/search",
            "/v1%2fsearch",
            "/v1%5Csearch",
            "/v1/search%00",
            "http://evil/v1/search",
            "*",
        ] {
            assert_eq!(check(bad), Err(400), "{bad}");
        }
    }

    #[test]
    fn money_rounds_once_half_away_from_zero() {
        use rust_decimal::Decimal;
        assert_eq!(money_json(Decimal::new(12345, 3), "EUR")["amount"], "12.35");
        assert_eq!(money_json(Decimal::new(5, 0), "USD")["amount"], "5.00");
    }
}
