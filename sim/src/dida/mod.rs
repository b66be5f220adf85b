//! `dida` simulator: the JSON protocol of `shared/protocols/dida.md` (modelled on the Dida Travel
//! hotel API), answered from the seeded catalog. Auth is the body `Header` by default, or HTTP Basic
//! or two-legged OAuth 1.0a when started with `--auth basic|oauth1`.
//!
//! Choices where the spec is silent (the spec wins wherever it speaks):
//! - Checks run in this order: Basic/OAuth 1.0a (401), `$format=json` query (else 1001), JSON object
//!   body (else 1001), body `Header` credentials in native mode (missing or wrong → 4001), fields.
//! - OAuth 1.0a: `oauth_consumer_key` must be our ClientID and the signing secret is our LicenseKey;
//!   `oauth_version`, when given, must be `1.0`; the base URL is `http://` + the `Host` header (port
//!   kept as sent) + the path. Nonces are remembered for 10 minutes after a valid request only.
//! - Occupancy is per room (`RealTimeOccupancy`, `OccupancyDetails`): AdultCount 1–8, ChildCount 0–4,
//!   ChildAgeDetails 0–17 with one age per child, RoomCount/NumOfRooms 1–9. `OccupancyDetails` holds
//!   one entry (for every room) or one per room, all of the same shape; `RoomNum` must be 1–9.
//! - `Currency` is required (EUR, USD, GBP; others → 1001); `Nationality`, when given, is two
//!   letters. At most 50 hotel ids in PriceSearch and HotelDetail; unknown ids are skipped.
//! - A `RatePlanID` names room and plan: the plan's base id + 100 × the room's index in the hotel
//!   (so the first room's breakfast plan is `1494507509528725623`, as in the spec). An unknown
//!   `HotelID` or a `RatePlanID` the hotel does not sell → 1001.
//! - Prices are converted per night, then summed. In PriceConfirm both `TotalPrice` and `PriceList`
//!   (per night) are for all rooms, and `ReferenceNo` is given only with `"PreBook":true`.
//! - Refundable plans cost the first night (of every room) from 00:00 hotel-local two days before
//!   check-in; non-refundable plans cost the total from today 00:00. Hotel-local time comes from the
//!   destination's zone ([`tz`]).
//! - HotelBookingConfirm: a known `ClientReference` returns that booking as it is, before any other
//!   check. Otherwise: `ReferenceNo` unknown, used or older than 30 min → 3003; dates or room count
//!   differing from the PriceConfirm → 2001; `GuestList` must cover every room 1..NumOfRooms with
//!   at least one adult (`Name.First`/`Name.Last`); `Contact.Name` is required. Live inventory is
//!   checked again (sold out → 2010; repriced since PriceConfirm through `/__sim/reprice` → 2009);
//!   the booking is charged the PriceConfirm price. A failed confirm leaves the ReferenceNo usable.
//! - Cancel: the quote's `ConfirmID` does not expire but belongs to its booking (another or unknown
//!   → 1001); the penalty charged is the quoted one. Cancelling a cancelled booking (quote or
//!   confirm) answers its final `{"BookingID","Status":3,"Penalty"}` again.
//! - `price_up:<pct>` raises PriceConfirm prices; `sold_out_at_recheck` → PriceConfirm 2010;
//!   `sold_out_at_book` → HotelBookingConfirm 2010; `commit_then_timeout` stores the booking then never
//!   answers (a repeated `ClientReference` is answered); `pct` is clamped to -99..1000.
//!   `server_error` → HTTP 500 with the Code 9999 body; `rate_limited` → HTTP 200 Code 4029;
//!   `auth_fail` → this mode's auth failure.

mod auth;
mod booking;
mod rates;
#[cfg(test)]
mod tests;
pub(crate) mod tz;

pub use auth::{oauth1_base_string, oauth1_signature, pct};

use crate::scenario::{Op, Scenario};
use crate::state::SimState;
use crate::{ErrorKind, Route, SimAuth, SimRequest, SimResponse, Supplier};
use chrono::NaiveDate;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::{json, Value};

pub struct Dida;

/// Most hotel ids per PriceSearch or HotelDetail (spec "Search").
const MAX_HOTELS: usize = 50;
const MAX_NIGHTS: i64 = 30;
const WINDOW_DAYS: i64 = 365;

/// Handlers answer errors as `Err` with the finished response.
type Reply<T> = Result<T, SimResponse>;

/// HTTP 200 `{"Success":false,"Error":{"Code","Message"}}`.
fn fail(code: &str, message: impl Into<String>) -> SimResponse {
    SimResponse::json(
        200,
        &json!({"Success": false, "Error": {"Code": code, "Message": message.into()}}),
    )
}

/// Code 1001 naming the field.
fn invalid(field: &str, why: &str) -> SimResponse {
    fail("1001", format!("{field}: {why}"))
}

fn success(v: Value) -> SimResponse {
    SimResponse::json(200, &json!({ "Success": v }))
}

impl Supplier for Dida {
    fn route(&self, req: &SimRequest) -> Option<Route> {
        if req.method != "POST" {
            return None;
        }
        let (endpoint, op) = match req.path.trim_end_matches('/') {
            "/api/rate/PriceSearch" => ("PriceSearch", Op::Search),
            "/api/rate/PriceConfirm" => ("PriceConfirm", Op::Recheck),
            "/api/booking/HotelBookingConfirm" => ("HotelBookingConfirm", Op::Book),
            "/api/booking/HotelBookingSearch" => ("HotelBookingSearch", Op::Retrieve),
            "/api/booking/HotelBookingCancel" => ("HotelBookingCancel", Op::Cancel),
            "/api/static/HotelDetail" => ("HotelDetail", Op::Content),
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
        answer(state, route, req, scenario).unwrap_or_else(|r| r)
    }

    fn error_response(
        &self,
        state: &SimState,
        _route: &Route,
        _req: &SimRequest,
        kind: ErrorKind,
    ) -> SimResponse {
        match kind {
            ErrorKind::ServerError => SimResponse::json(
                500,
                &json!({"Success": false, "Error": {"Code": "9999", "Message": "Internal error"}}),
            ),
            ErrorKind::RateLimited => fail("4029", "Request rate exceeded"),
            ErrorKind::AuthFail => match state.options.auth {
                SimAuth::Native => auth::native_denied(),
                SimAuth::Basic => auth::basic_denied(),
                SimAuth::Oauth1 => auth::oauth_denied(),
            },
        }
    }
}

fn answer(
    state: &SimState,
    route: &Route,
    req: &SimRequest,
    scenario: &Scenario,
) -> Reply<SimResponse> {
    auth::check_transport(state, req)?;
    if req.query_param("$format") != Some("json") {
        return Err(invalid("$format", "the query must ask for $format=json"));
    }
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|e| invalid("body", &format!("invalid JSON ({e})")))?;
    if !body.is_object() {
        return Err(invalid("body", "must be a JSON object"));
    }
    if state.options.auth == SimAuth::Native {
        auth::check_native(state, &body)?;
    }
    match route.endpoint.as_str() {
        "PriceSearch" => rates::price_search(state, &body),
        "PriceConfirm" => rates::price_confirm(state, &body, scenario),
        "HotelDetail" => rates::hotel_detail(state, &body),
        "HotelBookingConfirm" => booking::confirm(state, &body, scenario),
        "HotelBookingSearch" => booking::search(state, &body),
        "HotelBookingCancel" => booking::cancel(state, &body),
        other => Err(invalid("path", &format!("no endpoint {other}"))),
    }
}

// ---- field helpers: every failure is a 1001 naming the field by its JSON path ----

fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

fn req<'a>(v: &'a Value, key: &str, path: &str) -> Reply<&'a Value> {
    field(v, key).ok_or_else(|| invalid(path, "is required"))
}

fn req_str<'a>(v: &'a Value, key: &str, path: &str) -> Reply<&'a str> {
    req(v, key, path)?
        .as_str()
        .ok_or_else(|| invalid(path, "must be a string"))
}

fn req_obj<'a>(v: &'a Value, key: &str, path: &str) -> Reply<&'a Value> {
    let o = req(v, key, path)?;
    if o.is_object() {
        Ok(o)
    } else {
        Err(invalid(path, "must be an object"))
    }
}

fn req_array<'a>(v: &'a Value, key: &str, path: &str) -> Reply<&'a Vec<Value>> {
    req(v, key, path)?
        .as_array()
        .ok_or_else(|| invalid(path, "must be an array"))
}

fn int_in(v: &Value, path: &str, min: u64, max: u64) -> Reply<u64> {
    let n = v
        .as_u64()
        .ok_or_else(|| invalid(path, "must be a non-negative integer"))?;
    if n < min || n > max {
        return Err(invalid(path, &format!("must be {min}..{max}")));
    }
    Ok(n)
}

fn req_int(v: &Value, key: &str, path: &str, min: u64, max: u64) -> Reply<u64> {
    int_in(req(v, key, path)?, path, min, max)
}

fn opt_bool(v: &Value, key: &str) -> Reply<Option<bool>> {
    match field(v, key) {
        None => Ok(None),
        Some(b) => b
            .as_bool()
            .map(Some)
            .ok_or_else(|| invalid(key, "must be true or false")),
    }
}

/// A JSON number for a price (Dida writes prices as numbers).
fn num(d: Decimal) -> Value {
    d.round_dp(2)
        .to_f64()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// `CheckInDate`/`CheckOutDate`: not past, checkout after checkin, ≤ 30 nights, inside the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stay {
    checkin: NaiveDate,
    checkout: NaiveDate,
}

fn parse_stay(state: &SimState, body: &Value) -> Reply<Stay> {
    let date = |key: &str| -> Reply<NaiveDate> {
        NaiveDate::parse_from_str(req_str(body, key, key)?, "%Y-%m-%d")
            .map_err(|_| invalid(key, "must be a date YYYY-MM-DD"))
    };
    let checkin = date("CheckInDate")?;
    let checkout = date("CheckOutDate")?;
    if checkin < state.today {
        return Err(invalid("CheckInDate", "is in the past"));
    }
    if (checkin - state.today).num_days() >= WINDOW_DAYS {
        return Err(invalid(
            "CheckInDate",
            "is beyond the 365-day booking window",
        ));
    }
    if checkout <= checkin {
        return Err(invalid("CheckOutDate", "must be after CheckInDate"));
    }
    if (checkout - checkin).num_days() > MAX_NIGHTS {
        return Err(invalid("CheckOutDate", "stays are limited to 30 nights"));
    }
    if (checkout - state.today).num_days() > WINDOW_DAYS {
        return Err(invalid(
            "CheckOutDate",
            "is beyond the 365-day booking window",
        ));
    }
    Ok(Stay { checkin, checkout })
}

/// One room's occupancy.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Occupancy {
    adults: u8,
    children: u8,
    ages: Vec<u8>,
}

/// `{AdultCount, ChildCount, ChildAgeDetails}` at `path`.
fn parse_occupancy(v: &Value, path: &str) -> Reply<Occupancy> {
    let adults = req_int(v, "AdultCount", &format!("{path}.AdultCount"), 1, 8)? as u8;
    let children = match field(v, "ChildCount") {
        None => 0,
        Some(c) => int_in(c, &format!("{path}.ChildCount"), 0, 4)? as u8,
    };
    let ages_path = format!("{path}.ChildAgeDetails");
    let ages = match field(v, "ChildAgeDetails") {
        None => Vec::new(),
        Some(a) => a
            .as_array()
            .ok_or_else(|| invalid(&ages_path, "must be an array"))?
            .iter()
            .enumerate()
            .map(|(i, x)| int_in(x, &format!("{ages_path}[{i}]"), 0, 17).map(|n| n as u8))
            .collect::<Reply<Vec<u8>>>()?,
    };
    if ages.len() != children as usize {
        return Err(invalid(&ages_path, "must give one age per child"));
    }
    Ok(Occupancy {
        adults,
        children,
        ages,
    })
}

/// `Currency`, one the simulator converts to.
fn parse_currency<'a>(state: &SimState, body: &'a Value) -> Reply<&'a str> {
    let c = req_str(body, "Currency", "Currency")?;
    if state.convert(Decimal::ONE, c).is_none() {
        return Err(invalid("Currency", "is not supported (EUR, USD, GBP)"));
    }
    if let Some(n) = field(body, "Nationality") {
        let n = n
            .as_str()
            .ok_or_else(|| invalid("Nationality", "must be a string"))?;
        if n.len() != 2 || !n.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(invalid("Nationality", "must be a two-letter country code"));
        }
    }
    Ok(c)
}

/// The percentage of a `price_up` scenario.
fn price_up(scenario: &Scenario) -> Option<Decimal> {
    match scenario {
        Scenario::PriceUp(p) => Some(*p),
        _ => None,
    }
}
