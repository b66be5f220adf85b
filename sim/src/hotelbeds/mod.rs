//! `hotelbeds` simulator: the JSON REST protocol of `shared/protocols/hotelbeds.md` (modelled on
//! Hotelbeds APItude Booking API 1.0), answered from the seeded catalog.
//!
//! Counters (`/__sim/counters`): `search`, `checkrates`, `book`, `retrieve`, `list`, `cancel`,
//! `content`, `status`.
//!
//! Choices where the spec is silent (the spec wins wherever it speaks):
//! - Auth: `X-Signature` is compared case-insensitively against sha256(key+secret+t) for every `t`
//!   within ±300 s of the clock; a missing `Api-key` counts as an unknown key (403). The status and
//!   content endpoints are authenticated too.
//! - Search: `hotels.hotel` is required (1–2000 integer codes, unknown codes are skipped); at most 10
//!   occupancies, each 1–9 rooms of 1–8 adults and 0–4 children per room; child ages (0–17) come from
//!   `CH` paxes, one per child (per room or for all rooms). `currency` defaults to EUR (EUR, USD,
//!   GBP). A hotel is listed only when every occupancy has a rate. Adults and children are per room.
//! - Hotels of 4 and 5 stars charge a city tax of 2.00 EUR per room and night payable at the hotel
//!   (`"included":false`, not part of `net`); other hotels answer `"allIncluded":true`.
//! - Refundable plans (`NOR`) cost the first night (all rooms) from check-in − 2 days 23:59 UTC (or
//!   from now when that is past); non-refundable plans (`NRF`) cost the full net from now.
//! - About 20 % of rates are `RECHECK`, decided by a hash of the rate key without its nonce.
//!   Checkrates always issues a new `BOOKABLE` key at the current price; the old key stays valid.
//! - `price_up:<pct>` raises the live price seen by checkrates and book (not search). Book charges the
//!   key's quoted net and fails with `Price changed` only when the live price exceeds it by more than
//!   `tolerance` percent (a price drop is booked at the quoted net).
//! - A booked rate key is consumed (booking it again → `INVALID_DATA` rateKey). A repeated
//!   `clientReference` returns the existing booking (200) without checking the rate keys.
//! - Several `rooms` entries in one booking must share hotel and stay; each becomes one booked room.
//!   Paxes: at least one; at most adults×rooms `AD` and children×rooms `CH` per rate key.
//! - List: `clientReference` optional (all bookings otherwise); `from`/`to` 1-based, at most 100.
//! - Cancelling twice → 400 `INVALID_DATA` "Booking … is already cancelled"; `cancellationFlag`
//!   defaults to `CANCELLATION`. Unknown references → 400 `INVALID_DATA` "No booking found …".
//!   Unknown hotel on `/hotels/{code}/details` → 404 `INVALID_DATA` "Hotel … not found".
//! - Responses are gzip-compressed when the request accepts gzip, as the real API does.
//! - Issued keys live in the simulator's store; on long load runs it forgets expired keys past
//!   50 000 entries and keeps only the newest 100 000 past 200 000 (forgotten keys answer as unknown).

mod availability;
mod bookings;
mod content;
#[cfg(test)]
mod tests;

use crate::scenario::{Op, Scenario};
use crate::state::SimState;
use crate::world::mix;
use crate::{ErrorKind, Route, SimRequest, SimResponse, Supplier};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub struct Hotelbeds;

const API: &str = "/hotel-api/1.0";
const CONTENT_API: &str = "/hotel-content-api/1.0";
/// Accepted clock skew of `X-Signature` (spec "Auth").
const SKEW_SECS: i64 = 300;

/// Handlers return the error response they want to send as `Err`.
type Reply<T> = Result<T, SimResponse>;

impl Supplier for Hotelbeds {
    fn route(&self, req: &SimRequest) -> Option<Route> {
        let path = req.path.trim_end_matches('/');
        let method = req.method.as_str();
        let (endpoint, op) = if let Some(rest) = path.strip_prefix(API) {
            match (method, rest) {
                ("POST", "/hotels") => ("search", Op::Search),
                ("POST", "/checkrates") => ("checkrates", Op::Recheck),
                ("POST", "/bookings") => ("book", Op::Book),
                ("GET", "/bookings") => ("list", Op::Retrieve),
                ("GET", "/status") => ("status", Op::Other),
                (_, rest) => {
                    let reference = rest.strip_prefix("/bookings/")?;
                    if reference.is_empty() || reference.contains('/') {
                        return None;
                    }
                    match method {
                        "GET" => ("retrieve", Op::Retrieve),
                        "DELETE" => ("cancel", Op::Cancel),
                        _ => return None,
                    }
                }
            }
        } else if let Some(rest) = path.strip_prefix(CONTENT_API) {
            if method != "GET" {
                return None;
            }
            let details = rest
                .strip_prefix("/hotels/")
                .and_then(|r| r.strip_suffix("/details"))
                .is_some_and(|code| !code.is_empty() && !code.contains('/'));
            if rest != "/hotels" && !details {
                return None;
            }
            ("content", Op::Content)
        } else {
            return None;
        };
        Some(Route::new(endpoint, op))
    }

    fn handle(
        &self,
        state: &SimState,
        route: &Route,
        req: &SimRequest,
        scenario: &Scenario,
    ) -> SimResponse {
        let resp = match check_auth(state, req) {
            Err(resp) => resp,
            Ok(()) => {
                let reply = match route.endpoint.as_str() {
                    "search" => availability::search(state, req),
                    "checkrates" => availability::checkrates(state, req, scenario),
                    "book" => bookings::book(state, req, scenario),
                    "retrieve" => bookings::retrieve(state, req),
                    "list" => bookings::list(state, req),
                    "cancel" => bookings::cancel(state, req),
                    "content" => content::content(state, req),
                    "status" => Ok(ok(state, json!({"status": "OK"}))),
                    _ => Err(invalid(state, "Unknown operation")),
                };
                reply.unwrap_or_else(|e| e)
            }
        };
        compress(req, resp)
    }

    fn error_response(
        &self,
        state: &SimState,
        _route: &Route,
        req: &SimRequest,
        kind: ErrorKind,
    ) -> SimResponse {
        let resp = match kind {
            ErrorKind::ServerError => fail(
                state,
                500,
                "SYSTEM_ERROR",
                "An internal error has occurred, please try again later",
            ),
            ErrorKind::AuthFail => not_authorized(),
            ErrorKind::RateLimited => SimResponse::new(403, "text/plain", "Developer Over Qps")
                .with_header("X-Rate-Limit-Error", "over_qps"),
        };
        compress(req, resp)
    }
}

/// `Api-key` must be the configured key (else 403 `Developer Inactive`), `X-Signature` must be
/// sha256(key + secret + t) for a `t` within ±300 s (else 401 `Not Authorized`).
fn check_auth(state: &SimState, req: &SimRequest) -> Reply<()> {
    let key = req.header("api-key").map(str::trim).unwrap_or("");
    if key.is_empty() || key != state.options.key {
        return Err(SimResponse::new(403, "text/plain", "Developer Inactive"));
    }
    let given = req.header("x-signature").map(str::trim).unwrap_or("");
    if given.len() != 64 {
        return Err(not_authorized());
    }
    let now = state.now().timestamp();
    let matches = |t: i64| signature(key, &state.options.secret, t).eq_ignore_ascii_case(given);
    for d in 0..=SKEW_SECS {
        if matches(now - d) || (d > 0 && matches(now + d)) {
            return Ok(());
        }
    }
    Err(not_authorized())
}

/// Lowercase hex sha256 of `key + secret + t` (spec "Auth").
pub fn signature(key: &str, secret: &str, t: i64) -> String {
    hex::encode(Sha256::digest(format!("{key}{secret}{t}").as_bytes()))
}

fn not_authorized() -> SimResponse {
    SimResponse::json(401, &json!({"error": "Not Authorized"}))
}

/// Gzips the body when the client accepts it (spec: `Accept-Encoding: gzip` allowed).
fn compress(req: &SimRequest, mut resp: SimResponse) -> SimResponse {
    use std::io::Write;
    let accepts = req.header("accept-encoding").is_some_and(|v| {
        v.split(',').any(|e| {
            e.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("gzip")
        })
    });
    if !accepts || resp.body.is_empty() {
        return resp;
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    if enc.write_all(&resp.body).is_err() {
        return resp;
    }
    if let Ok(body) = enc.finish() {
        resp.body = body;
        resp.headers
            .push(("Content-Encoding".into(), "gzip".into()));
    }
    resp
}

/// A short random-looking hex string (audit tokens, error code suffixes, nonces).
fn hex_token(state: &SimState, len: usize) -> String {
    let n = mix(&[
        state.options.seed,
        state.next_seq(),
        u64::from(state.now().timestamp_subsec_nanos()),
    ]);
    let s = format!("{n:016x}");
    s[..len.min(16)].to_string()
}

fn audit(state: &SimState) -> Value {
    json!({
        "processTime": "3",
        "timestamp": state.now().format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
        "token": hex_token(state, 12),
        "environment": "[sim]",
    })
}

/// 200 with `auditData` followed by the fields of `body`.
fn ok(state: &SimState, body: Value) -> SimResponse {
    let mut out = serde_json::Map::new();
    out.insert("auditData".into(), audit(state));
    if let Value::Object(fields) = body {
        out.extend(fields);
    }
    SimResponse::json(200, &Value::Object(out))
}

/// The error envelope; `code` gets a token suffix as real codes do (`INVALID_REQUEST-a1b2`).
fn fail(state: &SimState, status: u16, code: &str, message: impl Into<String>) -> SimResponse {
    let code = format!("{code}-{}", hex_token(state, 4));
    SimResponse::json(
        status,
        &json!({"auditData": audit(state), "error": {"code": code, "message": message.into()}}),
    )
}

fn invalid(state: &SimState, message: impl Into<String>) -> SimResponse {
    fail(state, 400, "INVALID_REQUEST", message)
}

fn invalid_data(state: &SimState, message: impl Into<String>) -> SimResponse {
    fail(state, 400, "INVALID_DATA", message)
}

fn no_availability(state: &SimState) -> SimResponse {
    fail(state, 500, "PRODUCT_ERROR", "No availability")
}

/// `PRODUCT_ERROR` with exactly the spec's message; connectors match on it.
fn price_changed(state: &SimState) -> SimResponse {
    fail(state, 500, "PRODUCT_ERROR", "Price changed")
}

/// The request body as a JSON object, or `INVALID_REQUEST`.
fn json_body(state: &SimState, req: &SimRequest) -> Reply<serde_json::Map<String, Value>> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid(state, "Request body is missing"));
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(invalid(state, "Request body must be a JSON object")),
        Err(e) => Err(invalid(state, format!("Malformed JSON body: {e}"))),
    }
}

fn parse_date(state: &SimState, v: Option<&Value>, field: &str) -> Reply<NaiveDate> {
    let s = v
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(state, format!("{field} is required (YYYY-MM-DD)")))?;
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|_| s.len() == 10)
        .ok_or_else(|| {
            invalid(
                state,
                format!("{field} must be a date YYYY-MM-DD, got {s:?}"),
            )
        })
}

/// An integer field within `min..=max`; absent → `default` (or an error when `default` is None).
fn int_field(
    state: &SimState,
    obj: &serde_json::Map<String, Value>,
    field: &str,
    path: &str,
    min: u64,
    max: u64,
    default: Option<u64>,
) -> Reply<u64> {
    match obj.get(field) {
        None | Some(Value::Null) => {
            default.ok_or_else(|| invalid(state, format!("{path}.{field} is required")))
        }
        Some(v) => v
            .as_u64()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                invalid(
                    state,
                    format!("{path}.{field} must be an integer from {min} to {max}"),
                )
            }),
    }
}

fn str_field<'a>(
    state: &SimState,
    obj: &'a serde_json::Map<String, Value>,
    field: &str,
    path: &str,
) -> Reply<&'a str> {
    obj.get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            invalid(
                state,
                format!("{path}.{field} is required (non-empty string)"),
            )
        })
}

/// Decimal strings with two places, as the simulator always sends amounts.
fn money(d: Decimal) -> String {
    format!("{:.2}", d.round_dp(2))
}

/// `2027-01-13T23:59:00+00:00`
fn policy_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

fn currency_of(state: &SimState, v: Option<&Value>) -> Reply<String> {
    let cur = match v {
        None | Some(Value::Null) => "EUR",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(invalid(state, "currency must be a string")),
    };
    if state.convert(Decimal::ONE, cur).is_none() {
        return Err(invalid(
            state,
            format!("currency {cur:?} is not supported (EUR, USD, GBP)"),
        ));
    }
    Ok(cur.to_string())
}
