//! `expedia-rapid` simulator: the link-navigated JSON protocol of `shared/protocols/expedia-rapid.md`
//! (modelled on Expedia Rapid v3), answered from the seeded catalog.
//!
//! Counters (`/__sim/counters`): `search`, `price_check`, `book`, `retrieve`, `list` (find by
//! `affiliate_reference_id`), `cancel`, `content`.
//!
//! Choices where the spec is silent (the spec wins wherever it speaks):
//! - Auth: the `EAN` scheme word and parameter names are case-insensitive; the signature hex is
//!   compared case-insensitively; a wrong key, signature or a timestamp off by more than 300 s is
//!   401 `request_unauthenticated` echoing the header timestamp ("" when absent).
//! - Search requires, as real Rapid does, `checkin`, `checkout`, `currency` (EUR, USD, GBP),
//!   `language` (`xx-XX`), `country_code` (2 letters), `occupancy` (1–8 repeats of `adults[-ages]`,
//!   1–8 adults, 0–6 children aged 0–17), `property_id` (1–250 numeric), `rate_plan_count` (≥ 1, rates
//!   per property), `sales_channel` and `sales_environment`; all problems are reported together as
//!   nested `invalid_input` errors. At most 28 nights within the 365-day window.
//! - Every occupancy is one room of the same room type and rate; a rate is offered only when all
//!   of them are available (allotment ≥ number of rooms). Per night, `base_rate` = inclusive / 1.1 and
//!   `tax_and_service_fee` the rest; `exclusive` is the sum of base rates. Hotels with a pool charge a
//!   resort fee of 3.00 EUR per room and night as `property_fees` (not in `inclusive`).
//! - Refundable rates penalise the first night of every room from check-in − 2 days 23:59 UTC (or now
//!   when that is past) until check-out; non-refundable rates the full amount from now.
//! - Links: price-check, book and shop tokens live 30 minutes in the simulator's store and are
//!   bound to their path; retrieve and cancel tokens are derived from the itinerary (and room) with a
//!   simulator-internal key and do not expire. A missing token is 400 `invalid_input`
//!   (`token.required`); an unknown, expired, altered or already used one is 410 `link_expired`. A
//!   book token is consumed by a successful booking. On long load runs the store forgets expired
//!   tokens past 50 000 entries and keeps only the newest 100 000 past 200 000.
//! - `price_up:<pct>` raises the live price seen by price check and book (not search). Book charges
//!   the price of its token and fails with 409 `price_mismatch` only when the live price is higher.
//! - Book: `email`, `phone`, `rooms` (one per occupancy, `given_name`/`family_name`) and `payments`
//!   (`affiliate_collect` only) are required; `hold: true` is `invalid_input`. The duplicate check on
//!   `affiliate_reference_id` runs before the token is looked at, so a retry after a timeout always
//!   learns the itinerary id.
//! - Retrieve accepts the `retrieve` link's token or `email=` of the booking. Find by reference does
//!   not require `Customer-Ip`; both it and retrieve return only `{"itinerary_id",
//!   "creation_date_time"}` for 2 s after a `commit_then_timeout` booking.
//! - Cancelling an already cancelled room → 400 `invalid_input` with nested type
//!   `room.already_canceled` (the room exists, so not 404). Unknown itinerary or room → 404.

mod itinerary;
mod shopping;
#[cfg(test)]
mod tests;

use crate::scenario::{Op, Scenario};
use crate::state::SimState;
use crate::world::mix;
use crate::{ErrorKind, Route, SimRequest, SimResponse, Supplier};
use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha512};

pub struct ExpediaRapid;

/// Accepted clock skew of the `timestamp` (spec "Auth").
const SKEW_SECS: i64 = 300;
/// Price-check, book and shop links expire this long after issue (spec "Search response").
pub(super) const LINK_TTL_MINUTES: i64 = 30;
/// kv prefix of issued link tokens.
pub(super) const TOKEN_PREFIX: &str = "rapid:tok:";
/// Most tokens remembered at once (see [`prune`]).
const MAX_REMEMBERED: usize = 200_000;

type Reply<T> = Result<T, SimResponse>;

impl Supplier for ExpediaRapid {
    fn route(&self, req: &SimRequest) -> Option<Route> {
        let path = req.path.trim_end_matches('/');
        let segs: Vec<&str> = path.strip_prefix("/v3/")?.split('/').collect();
        let (endpoint, op) = match (req.method.as_str(), segs.as_slice()) {
            ("GET", ["properties", "availability"]) => ("search", Op::Search),
            ("GET", ["properties", "content"]) => ("content", Op::Content),
            ("GET", ["properties", _, "rooms", _, "rates", _]) => ("price_check", Op::Recheck),
            ("POST", ["itineraries"]) => ("book", Op::Book),
            ("GET", ["itineraries"]) => ("list", Op::Retrieve),
            ("GET", ["itineraries", _]) => ("retrieve", Op::Retrieve),
            ("DELETE", ["itineraries", _, "rooms", _]) => ("cancel", Op::Cancel),
            _ => return None,
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
        if let Err(resp) = check_auth(state, req) {
            return resp;
        }
        let reply = match route.endpoint.as_str() {
            "search" => shopping::search(state, req),
            "price_check" => shopping::price_check(state, req, scenario),
            "content" => shopping::content(state, req),
            "book" => itinerary::book(state, req, scenario),
            "retrieve" => itinerary::retrieve(state, req),
            "list" => itinerary::find(state, req),
            "cancel" => itinerary::cancel(state, req),
            _ => Err(not_found()),
        };
        reply.unwrap_or_else(|e| e)
    }

    fn error_response(
        &self,
        state: &SimState,
        _route: &Route,
        req: &SimRequest,
        kind: ErrorKind,
    ) -> SimResponse {
        match kind {
            ErrorKind::ServerError => error(
                500,
                "unknown_internal_error",
                "An internal server error has occurred.",
            ),
            ErrorKind::AuthFail => {
                let ts = auth_params(req.header("authorization").unwrap_or(""))
                    .and_then(|p| p.timestamp)
                    .unwrap_or_default();
                unauthenticated(state, &ts)
            }
            ErrorKind::RateLimited => error(
                429,
                "too_many_requests",
                "You have exceeded the allowed number of requests.",
            )
            .with_header("Rate-Limit-Minute-Remaining", "0"),
        }
    }
}

#[derive(Default)]
struct AuthParams {
    api_key: Option<String>,
    signature: Option<String>,
    timestamp: Option<String>,
}

/// `EAN APIKey=…,Signature=…,timestamp=…`: names case-insensitive, any order, spaces allowed.
fn auth_params(header: &str) -> Option<AuthParams> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("EAN") {
        return None;
    }
    let mut p = AuthParams::default();
    for part in rest.split(',') {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        let v = Some(v.trim().to_string());
        match k.trim().to_ascii_lowercase().as_str() {
            "apikey" => p.api_key = v,
            "signature" => p.signature = v,
            "timestamp" => p.timestamp = v,
            _ => {}
        }
    }
    Some(p)
}

fn check_auth(state: &SimState, req: &SimRequest) -> Reply<()> {
    let p = auth_params(req.header("authorization").unwrap_or("")).unwrap_or_default();
    let ts_text = p.timestamp.clone().unwrap_or_default();
    let fail = || unauthenticated(state, &ts_text);
    let (Some(key), Some(sig), Some(ts)) = (p.api_key, p.signature, p.timestamp) else {
        return Err(fail());
    };
    let Ok(t) = ts.parse::<i64>() else {
        return Err(fail());
    };
    if (state.now().timestamp() - t).abs() > SKEW_SECS
        || key != state.options.key
        || !signature(&key, &state.options.secret, t).eq_ignore_ascii_case(&sig)
    {
        return Err(fail());
    }
    Ok(())
}

/// Lowercase hex sha512 of `apiKey + secret + timestamp` (spec "Auth").
pub fn signature(key: &str, secret: &str, t: i64) -> String {
    hex::encode(Sha512::digest(format!("{key}{secret}{t}").as_bytes()))
}

fn unauthenticated(state: &SimState, ts: &str) -> SimResponse {
    SimResponse::json(
        401,
        &json!({
            "type": "request_unauthenticated",
            "message": "Data required to authenticate your request is missing or inaccurate.",
            "fields": [
                {"name": "timestamp", "type": "header", "value": ts},
                {"name": "servertimestamp", "type": "server", "value": state.now().timestamp().to_string()},
            ],
        }),
    )
}

fn error(status: u16, kind: &str, message: &str) -> SimResponse {
    SimResponse::json(status, &json!({"type": kind, "message": message}))
}

fn not_found() -> SimResponse {
    error(
        404,
        "resource_not_found",
        "The requested resource could not be found.",
    )
}

fn link_expired() -> SimResponse {
    error(
        410,
        "link_expired",
        "The link has expired or is invalid. Please shop again.",
    )
}

fn rooms_unavailable() -> SimResponse {
    error(
        410,
        "rooms_unavailable",
        "One or more requested rooms are unavailable.",
    )
}

/// One nested `invalid_input` error.
struct FieldError {
    kind: String,
    message: String,
    field: String,
    location: &'static str,
    value: String,
}

fn field_error(
    kind: &str,
    message: &str,
    field: &str,
    location: &'static str,
    value: &str,
) -> FieldError {
    FieldError {
        kind: kind.to_string(),
        message: message.to_string(),
        field: field.to_string(),
        location,
        value: value.to_string(),
    }
}

fn invalid_input(errors: Vec<FieldError>) -> SimResponse {
    let errors: Vec<Value> = errors
        .into_iter()
        .map(|e| {
            json!({"type": e.kind, "message": e.message,
                   "fields": [{"name": e.field, "type": e.location, "value": e.value}]})
        })
        .collect();
    SimResponse::json(
        400,
        &json!({
            "type": "invalid_input",
            "message": "An invalid request was sent in, please check the nested errors for details.",
            "errors": errors,
        }),
    )
}

fn invalid_one(
    kind: &str,
    message: &str,
    field: &str,
    location: &'static str,
    value: &str,
) -> SimResponse {
    invalid_input(vec![field_error(kind, message, field, location, value)])
}

/// `Customer-Ip` is required on book, retrieve and cancel (spec "Auth").
fn require_customer_ip(req: &SimRequest) -> Reply<()> {
    match req.header("customer-ip").map(str::trim) {
        Some(ip) if !ip.is_empty() => Ok(()),
        _ => Err(invalid_one(
            "customer_ip.required",
            "Customer-Ip header is required.",
            "Customer-Ip",
            "header",
            "",
        )),
    }
}

/// The `token` query parameter, or 400 `token.required`.
fn token_param(req: &SimRequest) -> Reply<&str> {
    req.query_param("token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            invalid_one(
                "token.required",
                "A token from a link is required.",
                "token",
                "querystring",
                "",
            )
        })
}

/// `2026-11-22T10:30:00.000Z`
fn iso_ms(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn money(d: Decimal) -> String {
    format!("{:.2}", d.round_dp(2))
}

/// Issues an opaque token remembered with `payload` (its kind under `"kind"`).
fn issue_token(state: &SimState, prefix: &str, payload: Value) -> String {
    let n = mix(&[
        state.options.seed,
        state.next_seq(),
        u64::from(state.now().timestamp_subsec_nanos()),
    ]);
    let token = format!("{prefix}{n:016x}");
    // Stored as compact text: searches issue many tokens.
    state.kv_put(
        format!("{TOKEN_PREFIX}{token}"),
        Value::String(payload.to_string()),
    );
    token
}

/// The payload of a live token of `kind`, `None` when unknown, expired or of another kind.
fn live_token(state: &SimState, token: &str, kind: &str) -> Option<Value> {
    let (issued, stored) = state.kv_get(&format!("{TOKEN_PREFIX}{token}"))?;
    let payload: Value = serde_json::from_str(stored.as_str()?).ok()?;
    if state.now() - issued > Duration::minutes(LINK_TTL_MINUTES) || payload["kind"] != kind {
        return None;
    }
    Some(payload)
}

/// Bounds the store on long load runs: past 50 000 entries (checked every 16th call), drops expired tokens; past 200 000, keeps
/// only the newest half (older ones then answer as expired).
pub(super) fn prune(state: &SimState) {
    let mut kv = state.kv.lock();
    if kv.len() < 50_000 || !state.next_seq().is_multiple_of(16) {
        return;
    }
    let cutoff = state.now() - Duration::minutes(LINK_TTL_MINUTES);
    kv.retain(|k, (issued, _)| !k.starts_with(TOKEN_PREFIX) || *issued >= cutoff);
    if kv.len() <= MAX_REMEMBERED {
        return;
    }
    let mut times: Vec<_> = kv
        .iter()
        .filter(|(k, _)| k.starts_with(TOKEN_PREFIX))
        .map(|(_, (issued, _))| *issued)
        .collect();
    times.sort_unstable();
    if let Some(keep_from) = times
        .get(times.len().saturating_sub(MAX_REMEMBERED / 2))
        .copied()
    {
        kv.retain(|k, (issued, _)| !k.starts_with(TOKEN_PREFIX) || *issued >= keep_from);
    }
}

/// Retrieve and cancel tokens: derived from what they address with a simulator-internal key.
fn derived_token(state: &SimState, prefix: &str, what: &str) -> String {
    let digest = Sha256::digest(
        format!(
            "{what}|{}|{}|sim-internal",
            state.options.secret, state.options.seed
        )
        .as_bytes(),
    );
    format!("{prefix}{}", &hex::encode(digest)[..20])
}

fn link(method: &str, href: String, expires: Option<DateTime<Utc>>) -> Value {
    let mut l = json!({"method": method, "href": href});
    if let Some(e) = expires {
        l["expires"] = json!(iso_ms(e));
    }
    l
}
