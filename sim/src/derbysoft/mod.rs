//! `derbysoft` simulator: the JSON protocol of `shared/protocols/derbysoft.md` (modelled on DerbySoft
//! ShoppingEngine v4 + BookingUSB v4), answered from the seeded catalog. `/oauth/token` issues HS256
//! JWTs; shopping answers from the "cache" (no scenario), live availability and prebook from live
//! inventory; reservations live in [`SimState::bookings`].
//!
//! Choices where the spec is silent (the spec wins wherever it speaks):
//! - Auth: `/oauth/token` takes only `Authorization: Basic` client credentials (bad or missing → 401
//!   `{"error":"Key not authorised"}`) and a form `grant_type=client_credentials` (missing → 400
//!   `{"error":"invalid_request"}`, another grant → 400 `{"error":"unsupported_grant_type"}`, as RFC
//!   6749 §5.2). `sub` is the client id and `expires_in` the configured token lifetime. A bearer token
//!   is accepted when its header is exactly `{"alg":"HS256","typ":"JWT"}`, its signature verifies
//!   under `derby-signing-key`, `sub` is our client id and `exp` is in the future; tokens are not
//!   stored, so any such token is "one we issued". Auth is checked before the body is parsed.
//! - Every error body echoes the request's `header` object (`{}` when there is none).
//! - Rates are quoted in USD (converted per night from the EUR inventory, then summed). `adultCount`,
//!   `childCount` and `childAges` are per room; `roomCount` 1–9, `adultCount` 1–8, `childCount` 0–4,
//!   `childAges` (0–17) required with exactly `childCount` entries. At most 500 hotel ids per shopping
//!   or content request; unknown ids are skipped, repeated ids answered once; hotels without rates are
//!   left out of `availHotels`. Live availability, prebook and book answer 404 `HotelNotFound` for an
//!   unknown `hotelId`.
//! - Hotels of 4 and 5 stars carry a City Tax fee (2.00 USD per person per night, Exclusive); 3-star
//!   hotels answer `"fees":[]`. Refundable plans (`BAR-BB`) are free until 23:59 hotel-local time two
//!   days before arrival, then cost the first night (of every room); non-refundable plans (`ADV-RO`)
//!   answer `cancellable:false` with `chargeBase` `FullStay`. Hotel-local time comes from the
//!   destination's time zone with EU/US daylight-saving rules ([`crate::dida::tz`]).
//! - Prebook and book take exactly one `roomRates` entry (`roomCount` identical rooms). An unknown
//!   `roomId`/`rateId` is `RoomRateNotAvailable`. `total.currency` must be the rates' currency (USD),
//!   else 400 `InvalidField`; `total.amountAfterTax` (string or number) must equal the live total to
//!   the cent. Prebook answers `expireTime` (15 min) and echoes the total.
//! - Book: a known `distributorResId` returns that reservation as it is (even cancelled) before any
//!   other check. Otherwise every field is validated, the `bookingToken` must be live and unused
//!   (unknown, used or older than 15 min → 410), hotel/room/rate/stay/occupancy must equal the
//!   prebook's (else 400 `InvalidField`), `total` must equal the prebook total (else 409
//!   `PriceChanged`), and the live inventory is checked again: sold out → 409 `RoomRateNotAvailable`,
//!   a reprice since prebook (`/__sim/reprice`) → 409 `PriceChanged`. `contactPerson` needs
//!   `firstName`/`lastName`; `guests` needs at least one entry with `firstName`/`lastName`, `type`
//!   `Adult`/`Child` when given, and at least one adult. A failed book leaves the token usable.
//! - Detail and cancel find the reservation whose ids equal every id given (at least one).
//!   The cancel penalty is charged in the booking's currency.
//! - `price_up:<pct>` raises live availability and prebook prices (not shopping, not book, which
//!   charges the prebook total); `sold_out_at_recheck` empties live availability; `sold_out_at_book`
//!   fails prebook and book with `RoomRateNotAvailable`; `commit_then_timeout` stores the booking then
//!   never answers (a repeated book of a stored `distributorResId` is answered). `pct` is clamped to
//!   -99..1000. `server_error` → 500 `InternalError`, `rate_limited` → 429 `TooManyRequests`,
//!   `auth_fail` → 401.

mod auth;
mod reservation;
mod shopping;
#[cfg(test)]
mod tests;

pub use auth::{mint_jwt, verify_jwt, SIGNING_KEY};

use crate::scenario::{Op, Scenario};
use crate::state::SimState;
use crate::{ErrorKind, Route, SimRequest, SimResponse, Supplier};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

pub struct Derbysoft;

/// The currency every DerbySoft hotel quotes in.
const CURRENCY: &str = "USD";
/// Most hotel ids in one shopping or content request.
const MAX_HOTELS: usize = 500;
/// Longest stay, in nights.
const MAX_NIGHTS: i64 = 30;
/// Inventory window, in days from today.
const WINDOW_DAYS: i64 = 365;

/// A failed request; becomes the protocol's error answer in [`Fail::into_response`] only.
#[derive(Debug)]
enum Fail {
    /// 400 `InvalidField`; the message names the field.
    Invalid(String),
    /// Any other `errorCode` with its HTTP status.
    Code(u16, &'static str, String),
    /// 401 with the plain `{"error":"Key not authorised"}` body.
    Unauthorised,
}

type Reply<T> = Result<T, Fail>;

impl Fail {
    fn invalid(field: &str, why: &str) -> Fail {
        Fail::Invalid(format!("{field}: {why}"))
    }

    fn not_available(msg: impl Into<String>) -> Fail {
        Fail::Code(409, "RoomRateNotAvailable", msg.into())
    }

    fn into_response(self, header: &Value) -> SimResponse {
        let (status, code, message) = match self {
            Fail::Unauthorised => return unauthorised(),
            Fail::Invalid(m) => (400, "InvalidField", m),
            Fail::Code(s, c, m) => (s, c, m),
        };
        SimResponse::json(
            status,
            &json!({"header": header, "errorCode": code, "errorMessage": message}),
        )
    }
}

fn unauthorised() -> SimResponse {
    SimResponse::json(401, &json!({"error": "Key not authorised"}))
}

/// A 200 answer: `body`'s fields plus the echoed `header`.
fn ok(header: &Value, body: Value) -> SimResponse {
    let mut map = match body {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    map.insert("header".into(), header.clone());
    SimResponse::json(200, &Value::Object(map))
}

/// The request body's `header` object, echoed by every answer (`{}` when absent or not an object).
fn echo_header(body: &[u8]) -> Value {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("header").filter(|h| h.is_object()).cloned())
        .unwrap_or_else(|| json!({}))
}

impl Supplier for Derbysoft {
    fn route(&self, req: &SimRequest) -> Option<Route> {
        if req.method != "POST" {
            return None;
        }
        let (endpoint, op) = match req.path.trim_end_matches('/') {
            "/oauth/token" => ("token", Op::Other),
            "/shoppingengine/v4/shopping/multihotels" => ("search", Op::Search),
            "/shoppingengine/v4/hotels/content" => ("content", Op::Content),
            "/bookingusb/v4/availability" => ("availability", Op::Recheck),
            "/bookingusb/v4/reservation/prebook" => ("prebook", Op::Book),
            "/bookingusb/v4/reservation/book" => ("book", Op::Book),
            "/bookingusb/v4/reservation/detail" => ("detail", Op::Retrieve),
            "/bookingusb/v4/reservation/cancel" => ("cancel", Op::Cancel),
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
        if route.endpoint == "token" {
            return auth::token(state, req);
        }
        let header = echo_header(&req.body);
        answer(state, route, req, scenario, &header).unwrap_or_else(|f| f.into_response(&header))
    }

    fn error_response(
        &self,
        _state: &SimState,
        _route: &Route,
        req: &SimRequest,
        kind: ErrorKind,
    ) -> SimResponse {
        let header = echo_header(&req.body);
        match kind {
            ErrorKind::AuthFail => unauthorised(),
            ErrorKind::ServerError => {
                Fail::Code(500, "InternalError", "internal error".into()).into_response(&header)
            }
            ErrorKind::RateLimited => {
                Fail::Code(429, "TooManyRequests", "too many requests".into())
                    .into_response(&header)
            }
        }
    }
}

fn answer(
    state: &SimState,
    route: &Route,
    req: &SimRequest,
    scenario: &Scenario,
    header: &Value,
) -> Reply<SimResponse> {
    auth::check_bearer(state, req)?;
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|e| Fail::invalid("body", &format!("invalid JSON ({e})")))?;
    if !body.is_object() {
        return Err(Fail::invalid("body", "must be a JSON object"));
    }
    check_header(&body)?;
    match route.endpoint.as_str() {
        "search" => shopping::search(state, &body, header),
        "availability" => shopping::availability(state, &body, header, scenario),
        "content" => shopping::content(state, &body, header),
        "prebook" => reservation::prebook(state, &body, header, scenario),
        "book" => reservation::book(state, &body, header, scenario),
        "detail" => reservation::detail(state, &body, header),
        "cancel" => reservation::cancel(state, &body, header),
        other => Err(Fail::invalid("path", &format!("no endpoint {other}"))),
    }
}

/// The echo header (spec "The echo header"): present, `version` `v4`, string ids.
fn check_header(body: &Value) -> Reply<()> {
    let Some(h) = field(body, "header") else {
        return Err(Fail::invalid("header", "is required"));
    };
    if !h.is_object() {
        return Err(Fail::invalid("header", "must be an object"));
    }
    let distributor = req_str(h, "distributorId", "header.distributorId")?;
    if distributor.is_empty() {
        return Err(Fail::invalid("header.distributorId", "must not be empty"));
    }
    if req_str(h, "version", "header.version")? != "v4" {
        return Err(Fail::invalid("header.version", "must be v4"));
    }
    req_str(h, "token", "header.token")?;
    Ok(())
}

// ---- field helpers: every failure names the field by its JSON path ----

/// A present, non-null member.
fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

fn req<'a>(v: &'a Value, key: &str, path: &str) -> Reply<&'a Value> {
    field(v, key).ok_or_else(|| Fail::invalid(path, "is required"))
}

fn req_str<'a>(v: &'a Value, key: &str, path: &str) -> Reply<&'a str> {
    req(v, key, path)?
        .as_str()
        .ok_or_else(|| Fail::invalid(path, "must be a string"))
}

fn req_obj<'a>(v: &'a Value, key: &str, path: &str) -> Reply<&'a Value> {
    let o = req(v, key, path)?;
    if o.is_object() {
        Ok(o)
    } else {
        Err(Fail::invalid(path, "must be an object"))
    }
}

fn req_array<'a>(v: &'a Value, key: &str, path: &str) -> Reply<&'a Vec<Value>> {
    req(v, key, path)?
        .as_array()
        .ok_or_else(|| Fail::invalid(path, "must be an array"))
}

fn int_in(v: &Value, path: &str, min: u64, max: u64) -> Reply<u64> {
    let n = v
        .as_u64()
        .ok_or_else(|| Fail::invalid(path, "must be a non-negative integer"))?;
    if n < min || n > max {
        return Err(Fail::invalid(path, &format!("must be {min}..{max}")));
    }
    Ok(n)
}

fn req_int(v: &Value, key: &str, path: &str, min: u64, max: u64) -> Reply<u64> {
    int_in(req(v, key, path)?, path, min, max)
}

/// A hotel id matching `^[0-9A-Z-]+$`.
fn hotel_id<'a>(v: &'a Value, path: &str) -> Reply<&'a str> {
    let id = v
        .as_str()
        .ok_or_else(|| Fail::invalid(path, "must be a string"))?;
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b == b'-')
    {
        return Err(Fail::invalid(path, "must match ^[0-9A-Z-]+$"));
    }
    Ok(id)
}

/// An amount given as a decimal string (or a JSON number).
fn money_field(v: &Value, key: &str, path: &str) -> Reply<Decimal> {
    let parsed = match req(v, key, path)? {
        Value::String(s) => s.trim().parse::<Decimal>().ok(),
        Value::Number(n) => n.to_string().parse::<Decimal>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| Fail::invalid(path, "must be a decimal amount"))
}

/// Two decimals, as DerbySoft writes amounts.
fn money(d: Decimal) -> String {
    let mut d = d.round_dp(2);
    d.rescale(2);
    d.to_string()
}

/// `stayRange{checkin,checkout}`: checkin not past, checkout after checkin, at most 30 nights,
/// inside the 365-day inventory window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stay {
    checkin: NaiveDate,
    checkout: NaiveDate,
}

impl Stay {
    fn json(&self) -> Value {
        json!({"checkin": self.checkin.to_string(), "checkout": self.checkout.to_string()})
    }
}

fn parse_stay(state: &SimState, body: &Value) -> Reply<Stay> {
    let range = req_obj(body, "stayRange", "stayRange")?;
    let date = |key: &str| -> Reply<NaiveDate> {
        let path = format!("stayRange.{key}");
        NaiveDate::parse_from_str(req_str(range, key, &path)?, "%Y-%m-%d")
            .map_err(|_| Fail::invalid(&path, "must be a date YYYY-MM-DD"))
    };
    let checkin = date("checkin")?;
    let checkout = date("checkout")?;
    if checkin < state.today {
        return Err(Fail::invalid("stayRange.checkin", "is in the past"));
    }
    if (checkin - state.today).num_days() >= WINDOW_DAYS {
        return Err(Fail::invalid(
            "stayRange.checkin",
            "is beyond the 365-day booking window",
        ));
    }
    if checkout <= checkin {
        return Err(Fail::invalid(
            "stayRange.checkout",
            "must be after stayRange.checkin",
        ));
    }
    if (checkout - checkin).num_days() > MAX_NIGHTS {
        return Err(Fail::invalid(
            "stayRange.checkout",
            "stays are limited to 30 nights",
        ));
    }
    if (checkout - state.today).num_days() > WINDOW_DAYS {
        return Err(Fail::invalid(
            "stayRange.checkout",
            "is beyond the 365-day booking window",
        ));
    }
    Ok(Stay { checkin, checkout })
}

/// `roomCriteria`, adults and children per room.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Occupancy {
    rooms: u32,
    adults: u8,
    children: u8,
    ages: Vec<u8>,
}

impl Occupancy {
    fn json(&self) -> Value {
        json!({"roomCount": self.rooms, "adultCount": self.adults, "childCount": self.children,
               "childAges": self.ages})
    }
}

fn parse_occupancy(body: &Value) -> Reply<Occupancy> {
    let rc = req_obj(body, "roomCriteria", "roomCriteria")?;
    let rooms = req_int(rc, "roomCount", "roomCriteria.roomCount", 1, 9)? as u32;
    let adults = req_int(rc, "adultCount", "roomCriteria.adultCount", 1, 8)? as u8;
    let children = match field(rc, "childCount") {
        None => 0,
        Some(v) => int_in(v, "roomCriteria.childCount", 0, 4)? as u8,
    };
    let ages = match field(rc, "childAges") {
        None => Vec::new(),
        Some(v) => {
            let arr = v
                .as_array()
                .ok_or_else(|| Fail::invalid("roomCriteria.childAges", "must be an array"))?;
            arr.iter()
                .enumerate()
                .map(|(i, a)| int_in(a, &format!("roomCriteria.childAges[{i}]"), 0, 17))
                .map(|r| r.map(|a| a as u8))
                .collect::<Reply<Vec<u8>>>()?
        }
    };
    if ages.len() != children as usize {
        return Err(Fail::invalid(
            "roomCriteria.childAges",
            "must give one age per child (childCount)",
        ));
    }
    Ok(Occupancy {
        rooms,
        adults,
        children,
        ages,
    })
}

/// The percentage of a `price_up` scenario.
fn price_up(scenario: &Scenario) -> Option<Decimal> {
    match scenario {
        Scenario::PriceUp(p) => Some(*p),
        _ => None,
    }
}
