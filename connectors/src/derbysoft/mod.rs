//! `derbysoft`: DerbySoft ShoppingEngine v4 + BookingUSB v4 over JSON (`shared/protocols/derbysoft.md`).
//!
//! Shopping (`/shoppingengine/v4/…`) answers from DerbySoft's cache; recheck, prebook, book,
//! detail and cancel (`/bookingusb/v4/…`) are live. Natively every call carries an OAuth2
//! client-credentials bearer ([`Call::Token`] fetches it, the proxy caches it); the body's echo
//! `header` carries our distributor id and a correlation id derived from the call's nonce. Prices
//! come per night for one room and are totalled here; `Exclusive` fees are expanded into
//! pay-at-hotel amounts and relative cancel deadlines into UTC instants. The booking key's token
//! keeps all three reservation ids (`dsr1:<distributorResId>:<derbyResId>:<supplierResId>`,
//! each percent-encoded) so detail and cancel can name the reservation as DerbySoft expects.

#[cfg(test)]
mod tests;

use crate::auth;
use crate::*;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use sha2::Digest;

const TOKEN_PATH: &str = "/oauth/token";
const SHOPPING_PATH: &str = "/shoppingengine/v4/shopping/multihotels";
const CONTENT_PATH: &str = "/shoppingengine/v4/hotels/content";
const AVAILABILITY_PATH: &str = "/bookingusb/v4/availability";
const PREBOOK_PATH: &str = "/bookingusb/v4/reservation/prebook";
const BOOK_PATH: &str = "/bookingusb/v4/reservation/book";
const DETAIL_PATH: &str = "/bookingusb/v4/reservation/detail";
const CANCEL_PATH: &str = "/bookingusb/v4/reservation/cancel";
const JSON_TYPE: &str = "application/json;charset=utf-8";
/// `distributorId` when the credentials name no account ("The echo header").
const DEFAULT_DISTRIBUTOR: &str = "ARIGATE";
const TOKEN_PREFIX: &str = "dsr1";
/// Token lifetime assumed when the token answer leaves out `expires_in` (RFC 6749 §5.1 makes it optional).
const DEFAULT_TOKEN_TTL: u64 = 3600;
const MAX_MESSAGE: usize = 200;

pub struct Derbysoft {
    credentials: Credentials,
}

impl Derbysoft {
    pub fn new(credentials: Credentials) -> Self {
        Derbysoft { credentials }
    }

    /// `POST /oauth/token` with client id and secret as HTTP Basic ("Auth").
    fn token_request(&self) -> SupplierResult<WireRequest> {
        if self.credentials.mode != AuthMode::Native {
            return Err(SupplierError::invalid(
                "no OAuth2 token is used outside the native auth mode",
            ));
        }
        let mut req = WireRequest::new(Method::Post, TOKEN_PATH)
            .header(
                "Authorization",
                auth::basic(&self.credentials.key, &self.credentials.secret),
            )
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json");
        req.body = b"grant_type=client_credentials".to_vec();
        Ok(req)
    }

    fn authorization(&self, path: &str, cx: &CallContext<'_>) -> SupplierResult<String> {
        let c = &self.credentials;
        match c.mode {
            AuthMode::Native => cx
                .bearer
                .filter(|b| !b.is_empty())
                .map(|b| format!("Bearer {b}"))
                .ok_or_else(|| SupplierError::invalid("no bearer token for a DerbySoft call")),
            AuthMode::Basic => Ok(auth::basic(&c.key, &c.secret)),
            AuthMode::Oauth1 => Ok(auth::oauth1_header(
                "POST",
                &format!("{}{}", cx.base_url, path),
                &c.key,
                &c.secret,
                cx.nonce,
                cx.now,
            )),
        }
    }

    /// The echo `header`; its `token` is a correlation id, not the access token.
    fn echo_header(&self, cx: &CallContext<'_>) -> Value {
        let distributor = self
            .credentials
            .account
            .as_deref()
            .filter(|a| !a.is_empty())
            .unwrap_or(DEFAULT_DISTRIBUTOR);
        json!({"distributorId": distributor, "version": "v4", "token": correlation_id(cx.nonce)})
    }
}

impl Connector for Derbysoft {
    fn protocol(&self) -> Protocol {
        Protocol::Derbysoft
    }

    fn build(&self, call: &Call, cx: &CallContext<'_>) -> SupplierResult<WireRequest> {
        if let Call::Token = call {
            return self.token_request();
        }
        let header = self.echo_header(cx);
        let (path, body) = request_body(call, header)?;
        let body = serde_json::to_vec(&body)
            .map_err(|e| SupplierError::invalid(format!("request body: {e}")))?;
        let mut req = WireRequest::new(Method::Post, path)
            .header("Content-Type", JSON_TYPE)
            .header("Authorization", self.authorization(path, cx)?);
        req.body = body;
        Ok(req)
    }

    fn parse(&self, call: &Call, resp: &WireResponse) -> SupplierResult<Reply> {
        if let Call::Token = call {
            return parse_token(resp);
        }
        if let Some(err) = response_error(resp) {
            return on_error(call, err);
        }
        match call {
            Call::Search { query } => {
                let rs: ShoppingRs = read(resp)?;
                let mut hotels = Vec::new();
                for h in rs.avail_hotels {
                    let offers = h
                        .room_rates
                        .iter()
                        .map(|r| offer(r, &h.hotel_id, query.stay, &query.rooms))
                        .collect::<SupplierResult<Vec<_>>>()?;
                    if !offers.is_empty() {
                        hotels.push(HotelOffers {
                            hotel_code: h.hotel_id,
                            hotel_name: h.hotel_name.unwrap_or_default(),
                            offers,
                        });
                    }
                }
                Ok(Reply::Search { hotels })
            }
            Call::Recheck { offer: key } => {
                let rs: AvailabilityRs = read(resp)?;
                Ok(Reply::Recheck {
                    outcome: recheck_outcome(&rs, key)?,
                })
            }
            Call::Prepare { offer, .. } => {
                let rs: PrebookRs = read(resp)?;
                if rs.booking_token.is_empty() {
                    return Err(SupplierError::malformed(
                        "prebook answer with an empty bookingToken",
                    ));
                }
                let price = rs.total.money();
                if price != offer.price {
                    return Err(SupplierError::new(
                        ErrorClass::PriceChanged,
                        "PriceChanged",
                        format!(
                            "prebook total {} {} differs from {} {}",
                            price.amount, price.currency, offer.price.amount, offer.price.currency
                        ),
                    ));
                }
                let expires_at = match rs.expire_time.as_deref() {
                    Some(t) => Some(instant(t).ok_or_else(|| {
                        SupplierError::malformed("expireTime is not a date-time")
                    })?),
                    None => None,
                };
                Ok(Reply::Prepared {
                    prepared: Prepared {
                        handle: rs.booking_token,
                        price,
                        expires_at,
                    },
                })
            }
            Call::Book {
                offer,
                book,
                prepared,
            } => {
                let rs: ReservationRs = read(resp)?;
                let fallback = Fallback {
                    ids: ResIds {
                        distributor_res_id: Some(book.client_reference.clone()),
                        ..ResIds::default()
                    },
                    price: Some(prepared.as_ref().map_or(&offer.price, |p| &p.price).clone()),
                    hotel: Some(offer.hotel.clone()),
                    stay: Some(offer.stay),
                };
                Ok(Reply::Booking {
                    booking: Some(booking_info(rs.inner(), fallback)?),
                })
            }
            Call::Retrieve { booking } => {
                let rs: ReservationRs = read(resp)?;
                let fallback = Fallback {
                    ids: reservation_ids(booking)?,
                    ..Fallback::default()
                };
                Ok(Reply::Booking {
                    booking: Some(booking_info(rs.inner(), fallback)?),
                })
            }
            Call::Find {
                client_reference,
                offer,
                ..
            } => {
                let rs: ReservationRs = read(resp)?;
                let fallback = Fallback {
                    ids: ResIds {
                        distributor_res_id: Some(client_reference.clone()),
                        ..ResIds::default()
                    },
                    price: None,
                    hotel: Some(offer.hotel.clone()),
                    stay: Some(offer.stay),
                };
                Ok(Reply::Booking {
                    booking: Some(booking_info(rs.inner(), fallback)?),
                })
            }
            Call::Cancel { booking, .. } => {
                let rs: CancelRs = read(resp)?;
                let status = rs
                    .status
                    .as_deref()
                    .map(status)
                    .unwrap_or(BookingStatus::Cancelled);
                Ok(Reply::Booking {
                    booking: Some(BookingInfo {
                        key: booking.clone(),
                        status,
                        price: None,
                        hotel_code: None,
                        stay: None,
                        penalty: rs.penalty.map(|p| Money::new(p.amount.0, p.currency)),
                        cancellation_reference: rs.cancellation_id.filter(|c| !c.is_empty()),
                    }),
                })
            }
            Call::Content { .. } => {
                let rs: ContentRs = read(resp)?;
                Ok(Reply::Content {
                    hotels: rs
                        .hotels
                        .into_iter()
                        .map(ContentHotel::into_content)
                        .collect(),
                })
            }
            Call::Token | Call::CancelQuote { .. } => Err(SupplierError::invalid(format!(
                "derbysoft has no {} call",
                call.op()
            ))),
        }
    }

    fn needs_bearer(&self) -> bool {
        self.credentials.mode == AuthMode::Native
    }

    /// `roomCriteria` describes one room shape for all rooms.
    fn supports(&self, query: &SearchQuery) -> bool {
        uniform(&query.rooms).is_some()
    }

    fn book_prelude(&self, _offer: &OfferKey) -> BookPrelude {
        BookPrelude::Prepare
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

/// A UUID-shaped (version 4 layout) correlation id from SHA-256 of the nonce: unique per call
/// and reproducible in tests.
fn correlation_id(nonce: &str) -> String {
    let digest = sha2::Sha256::digest(nonce.as_bytes());
    let mut b = [0u8; 16];
    for (dst, src) in b.iter_mut().zip(digest.iter()) {
        *dst = *src;
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The one occupancy shared by all rooms, if there is one.
fn uniform(rooms: &[Occupancy]) -> Option<&Occupancy> {
    let first = rooms.first()?;
    rooms.iter().all(|r| r == first).then_some(first)
}

fn check_stay(stay: Stay) -> SupplierResult<()> {
    if stay.checkout <= stay.checkin {
        return Err(SupplierError::invalid("checkout must be after checkin"));
    }
    Ok(())
}

fn stay_range(stay: Stay) -> Value {
    json!({"checkin": stay.checkin.to_string(), "checkout": stay.checkout.to_string()})
}

/// `roomCriteria`: room count and the per-room occupancy (adults, children and their ages).
fn room_criteria(rooms: &[Occupancy]) -> SupplierResult<Value> {
    let room = uniform(rooms).ok_or_else(|| {
        SupplierError::invalid("derbysoft needs the same occupancy in every room")
    })?;
    Ok(json!({
        "roomCount": rooms.len(),
        "adultCount": room.adults,
        "childCount": room.children_ages.len(),
        "childAges": room.children_ages,
    }))
}

fn total(price: &Money) -> Value {
    json!({"amountAfterTax": price.amount.to_string(), "currency": price.currency})
}

/// Path and JSON body for every call except the token.
fn request_body(call: &Call, header: Value) -> SupplierResult<(&'static str, Value)> {
    match call {
        Call::Search { query } => {
            check_stay(query.stay)?;
            if query.hotels.is_empty() {
                return Err(SupplierError::invalid("a search needs at least one hotel"));
            }
            let hotels: Vec<Value> = query.hotels.iter().map(|h| json!({"hotelId": h})).collect();
            Ok((
                SHOPPING_PATH,
                json!({"header": header, "hotels": hotels, "stayRange": stay_range(query.stay), "roomCriteria": room_criteria(&query.rooms)?}),
            ))
        }
        Call::Recheck { offer } => {
            check_stay(offer.stay)?;
            Ok((
                AVAILABILITY_PATH,
                json!({"header": header, "hotelId": offer.hotel, "stayRange": stay_range(offer.stay), "roomCriteria": room_criteria(&offer.rooms)?}),
            ))
        }
        Call::Prepare { offer, .. } => {
            check_stay(offer.stay)?;
            Ok((
                PREBOOK_PATH,
                json!({
                    "header": header,
                    "hotelId": offer.hotel,
                    "stayRange": stay_range(offer.stay),
                    "roomCriteria": room_criteria(&offer.rooms)?,
                    "roomRates": [{"roomId": offer.room, "rateId": offer.rate}],
                    "total": total(&offer.price),
                }),
            ))
        }
        Call::Book {
            offer,
            book,
            prepared,
        } => {
            check_stay(offer.stay)?;
            let prepared = prepared
                .as_ref()
                .filter(|p| !p.handle.is_empty())
                .ok_or_else(|| {
                    SupplierError::invalid("a DerbySoft book needs the prebook's bookingToken")
                })?;
            let lead = book
                .guests
                .first()
                .ok_or_else(|| SupplierError::invalid("at least one guest is required"))?;
            if book.client_reference.is_empty() {
                return Err(SupplierError::invalid("a client reference is required"));
            }
            Ok((
                BOOK_PATH,
                json!({
                    "header": header,
                    "reservationIds": {"distributorResId": book.client_reference},
                    "hotelId": offer.hotel,
                    "stayRange": stay_range(offer.stay),
                    "roomCriteria": room_criteria(&offer.rooms)?,
                    "contactPerson": {"firstName": lead.first_name, "lastName": lead.last_name, "email": book.email},
                    "guests": guests(&book.guests, &offer.rooms),
                    "roomRates": [{"roomId": offer.room, "rateId": offer.rate}],
                    "total": total(&prepared.price),
                    "bookingToken": prepared.handle,
                }),
            ))
        }
        Call::Retrieve { booking } => Ok((
            DETAIL_PATH,
            json!({"header": header, "reservationIds": reservation_ids(booking)?.to_json()}),
        )),
        Call::Find {
            client_reference, ..
        } => {
            if client_reference.is_empty() {
                return Err(SupplierError::invalid("find needs our client reference"));
            }
            Ok((
                DETAIL_PATH,
                json!({"header": header, "reservationIds": {"distributorResId": client_reference}}),
            ))
        }
        Call::Cancel { booking, .. } => Ok((
            CANCEL_PATH,
            json!({"header": header, "reservationIds": reservation_ids(booking)?.to_json()}),
        )),
        Call::Content { hotels } => {
            if hotels.is_empty() {
                return Err(SupplierError::invalid("content needs at least one hotel"));
            }
            Ok((CONTENT_PATH, json!({"header": header, "hotelIds": hotels})))
        }
        Call::Token | Call::CancelQuote { .. } => Err(SupplierError::invalid(format!(
            "derbysoft has no {} call",
            call.op()
        ))),
    }
}

/// `guests`: guests are spread over the rooms in turn (guest i in room i mod n); `index` is the
/// 1-based room number; within a room the first `adults` guests are adults, the next children.
fn guests(list: &[Guest], rooms: &[Occupancy]) -> Vec<Value> {
    let n = rooms.len().max(1);
    let mut seen = vec![0usize; n];
    list.iter()
        .enumerate()
        .map(|(i, g)| {
            let room = i % n;
            let k = seen.get(room).copied().unwrap_or(0);
            if let Some(s) = seen.get_mut(room) {
                *s += 1;
            }
            let occupancy = rooms.get(room);
            let adults = occupancy.map_or(usize::MAX, |o| usize::from(o.adults));
            let child_age = occupancy.and_then(|o| k.checked_sub(adults).and_then(|c| o.children_ages.get(c)));
            let mut v = json!({"firstName": g.first_name, "lastName": g.last_name, "type": "Adult", "index": room + 1});
            if let Some(age) = child_age {
                v["type"] = json!("Child");
                v["age"] = json!(age);
            }
            v
        })
        .collect()
}

/// The three reservation ids as DerbySoft names them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResIds {
    #[serde(default)]
    distributor_res_id: Option<String>,
    #[serde(default)]
    derby_res_id: Option<String>,
    #[serde(default)]
    supplier_res_id: Option<String>,
}

impl ResIds {
    fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        for (k, v) in [
            ("distributorResId", &self.distributor_res_id),
            ("derbyResId", &self.derby_res_id),
            ("supplierResId", &self.supplier_res_id),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                m.insert(k.into(), json!(v));
            }
        }
        Value::Object(m)
    }

    fn is_empty(&self) -> bool {
        [
            &self.distributor_res_id,
            &self.derby_res_id,
            &self.supplier_res_id,
        ]
        .iter()
        .all(|v| v.as_deref().is_none_or(str::is_empty))
    }

    /// Fills the ids this one lacks from `other`.
    fn or(self, other: ResIds) -> ResIds {
        let pick = |a: Option<String>, b: Option<String>| {
            a.filter(|v| !v.is_empty()).or(b.filter(|v| !v.is_empty()))
        };
        ResIds {
            distributor_res_id: pick(self.distributor_res_id, other.distributor_res_id),
            derby_res_id: pick(self.derby_res_id, other.derby_res_id),
            supplier_res_id: pick(self.supplier_res_id, other.supplier_res_id),
        }
    }

    fn encode(&self) -> String {
        let part = |v: &Option<String>| auth::pct(v.as_deref().unwrap_or_default());
        format!(
            "{TOKEN_PREFIX}:{}:{}:{}",
            part(&self.distributor_res_id),
            part(&self.derby_res_id),
            part(&self.supplier_res_id)
        )
    }

    fn decode(token: &str) -> Option<ResIds> {
        let mut parts = token.split(':');
        if parts.next()? != TOKEN_PREFIX {
            return None;
        }
        let mut field = || -> Option<Option<String>> {
            let raw = parts.next()?;
            let v = percent_encoding::percent_decode_str(raw)
                .decode_utf8()
                .ok()?
                .into_owned();
            Some(Some(v).filter(|v| !v.is_empty()))
        };
        let ids = ResIds {
            distributor_res_id: field()?,
            derby_res_id: field()?,
            supplier_res_id: field()?,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(ids)
    }
}

/// The ids of a booking key: its token's (when it has one) completed by the references.
fn reservation_ids(booking: &BookingKey) -> SupplierResult<ResIds> {
    let from_refs = ResIds {
        distributor_res_id: Some(booking.client_reference.clone()),
        derby_res_id: Some(booking.supplier_reference.clone()),
        supplier_res_id: None,
    };
    let ids = if booking.token.is_empty() {
        ResIds::default().or(from_refs)
    } else {
        ResIds::decode(&booking.token)
            .ok_or_else(|| {
                SupplierError::invalid("booking token is not a DerbySoft reservation token")
            })?
            .or(from_refs)
    };
    if ids.is_empty() {
        return Err(SupplierError::invalid("the booking has no reservation id"));
    }
    Ok(ids)
}

// ---------------------------------------------------------------------------------------------
// Answers: errors

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ErrorRs {
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
    /// OAuth2 (RFC 6749 §5.2) and the plain 401 body.
    #[serde(default)]
    error: Option<Value>,
}

/// The "Errors" table by `errorCode`.
fn code_class(code: &str) -> Option<ErrorClass> {
    Some(match code {
        "InvalidField" | "ReservationAlreadyCancelled" => ErrorClass::InvalidRequest,
        "TooManyRequests" => ErrorClass::RateLimited,
        "ReservationNotFound" | "HotelNotFound" => ErrorClass::NotFound,
        "RoomRateNotAvailable" => ErrorClass::SoldOut,
        "PriceChanged" => ErrorClass::PriceChanged,
        "BookingTokenExpired" => ErrorClass::RateExpired,
        "InternalError" => ErrorClass::SupplierUnavailable,
        _ => return None,
    })
}

fn status_class(status: u16) -> ErrorClass {
    match status {
        401 | 403 => ErrorClass::AuthFailed,
        404 => ErrorClass::NotFound,
        410 => ErrorClass::RateExpired,
        429 => ErrorClass::RateLimited,
        500..=599 => ErrorClass::SupplierUnavailable,
        400..=499 => ErrorClass::InvalidRequest,
        _ => ErrorClass::SupplierMalformed,
    }
}

/// The classified error of a non-2xx answer (or a 2xx one that carries an `errorCode`). A 401 is
/// always auth_failed (its body is the plain `{"error":…}`), a 5xx always supplier_unavailable.
fn response_error(resp: &WireResponse) -> Option<SupplierError> {
    let body: ErrorRs = serde_json::from_slice(&resp.body).unwrap_or_default();
    let code = body.error_code.filter(|c| !c.is_empty());
    if resp.is_success() && code.is_none() {
        return None;
    }
    let message = body
        .error_message
        .or_else(|| body.error.and_then(|e| e.as_str().map(str::to_string)))
        .map(|m| bounded(&m))
        .unwrap_or_else(|| format!("HTTP {}", resp.status));
    let class = match resp.status {
        401 => ErrorClass::AuthFailed,
        500..=599 => ErrorClass::SupplierUnavailable,
        s => code
            .as_deref()
            .and_then(code_class)
            .unwrap_or_else(|| status_class(s)),
    };
    Some(SupplierError::new(
        class,
        code.unwrap_or_else(|| resp.status.to_string()),
        message,
    ))
}

/// Sold out at recheck is an outcome, and "not found" at reconciliation means no booking.
fn on_error(call: &Call, err: SupplierError) -> SupplierResult<Reply> {
    match (call, err.class) {
        (Call::Recheck { .. }, ErrorClass::SoldOut) => Ok(Reply::Recheck {
            outcome: sold_out(),
        }),
        (Call::Find { .. }, ErrorClass::NotFound) if err.code == "ReservationNotFound" => {
            Ok(Reply::Booking { booking: None })
        }
        _ => Err(err),
    }
}

fn bounded(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() <= MAX_MESSAGE {
        s.to_string()
    } else {
        s.chars().take(MAX_MESSAGE).chain("…".chars()).collect()
    }
}

fn read<T: DeserializeOwned>(resp: &WireResponse) -> SupplierResult<T> {
    serde_json::from_slice(&resp.body)
        .map_err(|e| SupplierError::malformed(format!("derbysoft answer: {e}")))
}

#[derive(Deserialize)]
struct TokenRs {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// The token answer; OAuth2 `invalid_client` / `unauthorized_client` are auth failures.
fn parse_token(resp: &WireResponse) -> SupplierResult<Reply> {
    if !resp.is_success() {
        let body: ErrorRs = serde_json::from_slice(&resp.body).unwrap_or_default();
        let oauth = body
            .error
            .as_ref()
            .and_then(Value::as_str)
            .map(str::to_string);
        let class = match (resp.status, oauth.as_deref()) {
            (_, Some("invalid_client" | "unauthorized_client")) => ErrorClass::AuthFailed,
            (s, _) => status_class(s),
        };
        let code = oauth.clone().unwrap_or_else(|| resp.status.to_string());
        return Err(SupplierError::new(
            class,
            code,
            format!("token request refused (HTTP {})", resp.status),
        ));
    }
    let rs: TokenRs = read(resp)?;
    if rs.access_token.is_empty() {
        return Err(SupplierError::malformed("empty access_token"));
    }
    if rs
        .token_type
        .as_deref()
        .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
    {
        return Err(SupplierError::malformed("token_type is not Bearer"));
    }
    Ok(Reply::Token {
        access_token: rs.access_token,
        expires_in: rs.expires_in.unwrap_or(DEFAULT_TOKEN_TTL),
    })
}

// ---------------------------------------------------------------------------------------------
// Answers: values

/// A non-negative decimal sent as a JSON string ("121.00") or number; numbers are read from their
/// decimal text, never through f64 arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dec(Decimal);

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let text = match &v {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            _ => return Err(D::Error::custom("expected a decimal amount")),
        };
        let dec = text
            .parse::<Decimal>()
            .ok()
            .or_else(|| Decimal::from_scientific(&text).ok());
        match dec {
            Some(x) if !x.is_sign_negative() || x.is_zero() => Ok(Dec(x)),
            _ => Err(D::Error::custom(format!(
                "not a non-negative decimal: {}",
                bounded(&text)
            ))),
        }
    }
}

/// A coordinate as a JSON number or string.
#[derive(Debug, Clone, Copy)]
struct Coord(f64);

impl<'de> Deserialize<'de> for Coord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = match Value::deserialize(d)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        f.filter(|f| f.is_finite())
            .map(Coord)
            .ok_or_else(|| D::Error::custom("expected a coordinate"))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StayRange {
    checkin: NaiveDate,
    checkout: NaiveDate,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TotalRs {
    amount_after_tax: Dec,
    currency: String,
}

impl TotalRs {
    fn money(&self) -> Money {
        Money::new(self.amount_after_tax.0, self.currency.clone())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShoppingRs {
    #[serde(default)]
    avail_hotels: Vec<AvailHotel>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AvailHotel {
    hotel_id: String,
    #[serde(default)]
    hotel_name: Option<String>,
    #[serde(default)]
    room_rates: Vec<RoomRate>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AvailabilityRs {
    #[serde(default)]
    hotel_id: Option<String>,
    #[serde(default)]
    room_rates: Vec<RoomRate>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoomRate {
    room_id: String,
    #[serde(default)]
    room_name: Option<String>,
    rate_id: String,
    #[serde(default)]
    rate_name: Option<String>,
    currency: String,
    #[serde(default)]
    inventory: Option<u32>,
    #[serde(default)]
    meal_plan: Option<String>,
    #[serde(default)]
    amount_before_tax: Option<Vec<Dec>>,
    amount_after_tax: Vec<Dec>,
    #[serde(default)]
    fees: Vec<FeeRs>,
    #[serde(default)]
    cancel_policy: Option<CancelPolicy>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FeeRs {
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    amount: Dec,
    #[serde(default)]
    amount_type: Option<String>,
    #[serde(default)]
    charge_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelPolicy {
    #[serde(default)]
    cancel_penalties: Vec<CancelPenaltyRs>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelPenaltyRs {
    cancellable: bool,
    #[serde(default)]
    no_show: bool,
    #[serde(default)]
    cancel_deadline: Option<DeadlineRs>,
    #[serde(default)]
    penalty_charge: Option<PenaltyCharge>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeadlineRs {
    offset_time_drop_type: String,
    offset_time_unit: String,
    offset_time_value: i64,
    /// Spelled `dealineTime` by DerbySoft ("Search", note); the correct spelling is accepted too.
    #[serde(default, rename = "dealineTime", alias = "deadlineTime")]
    dealine_time: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PenaltyCharge {
    charge_base: String,
    #[serde(default)]
    nights: Option<u32>,
    #[serde(default)]
    amount: Option<Dec>,
    #[serde(default)]
    percent: Option<Dec>,
}

/// `mealPlan` codes; anything unknown is reported as room only (never promising more than sold).
fn board(code: Option<&str>) -> Board {
    match code.map(|c| c.trim().to_ascii_uppercase()).as_deref() {
        Some("BB" | "BREAKFAST" | "CP") => Board::Breakfast,
        Some("HB" | "HALFBOARD" | "MAP") => Board::HalfBoard,
        Some("FB" | "FULLBOARD" | "AP") => Board::FullBoard,
        Some("AI" | "ALLINCLUSIVE") => Board::AllInclusive,
        _ => Board::RoomOnly,
    }
}

fn dec_count(n: usize) -> Decimal {
    Decimal::from(u64::try_from(n).unwrap_or(u64::MAX))
}

/// One `roomRates` entry as an offer for `rooms`. `amountAfterTax` is per night for one room
/// ("Search"), so the price is its sum × room count; an array whose length is not the number
/// of nights violates the schema.
fn offer(
    rate: &RoomRate,
    hotel: &str,
    stay: Stay,
    rooms: &[Occupancy],
) -> SupplierResult<SupplierOffer> {
    let nights = usize::try_from(stay.nights()).unwrap_or(0);
    if rate.amount_after_tax.len() != nights {
        return Err(SupplierError::malformed(format!(
            "amountAfterTax of {}/{} has {} entries for {} nights",
            bounded(&rate.room_id),
            bounded(&rate.rate_id),
            rate.amount_after_tax.len(),
            nights
        )));
    }
    let room_count = dec_count(rooms.len());
    let per_night: Vec<Decimal> = rate.amount_after_tax.iter().map(|d| d.0).collect();
    let price = Money::new(
        per_night.iter().copied().sum::<Decimal>() * room_count,
        rate.currency.clone(),
    );
    let occupancy = uniform(rooms).cloned().unwrap_or(Occupancy {
        adults: 0,
        children_ages: vec![],
    });
    let pay_at_hotel = fees(rate, &occupancy, nights, rooms.len())?;
    let (refundable, cancel_penalties) = cancel_terms(
        rate.cancel_policy.as_ref(),
        &per_night,
        &price,
        rooms.len(),
        stay,
    )?;
    let key = OfferKey {
        hotel: hotel.to_string(),
        room: rate.room_id.clone(),
        rate: rate.rate_id.clone(),
        stay,
        rooms: rooms.to_vec(),
        price: price.clone(),
        token: String::new(),
    };
    Ok(SupplierOffer {
        room_code: rate.room_id.clone(),
        room_name: rate
            .room_name
            .clone()
            .unwrap_or_else(|| rate.room_id.clone()),
        rate_code: rate.rate_id.clone(),
        rate_name: rate
            .rate_name
            .clone()
            .unwrap_or_else(|| rate.rate_id.clone()),
        board: board(rate.meal_plan.as_deref()),
        refundable,
        cancel_penalties,
        price,
        taxes_included: true,
        pay_at_hotel,
        pay_at_hotel_listed: true,
        allotment: rate.inventory,
        key,
    })
}

/// `fees` of type `Exclusive`, expanded to the whole stay and all rooms. `Fixed` amounts are
/// multiplied by `chargeType`: persons (adults + children of one room) for PerPerson*, nights for
/// *PerNight / PerNight, rooms for everything per room or per stay (a `roomRates` entry prices one
/// room, so "per stay" is per room-stay); PerBooking is charged once. `Percent` is a percentage
/// of the stay's before-tax amount for all rooms (after-tax when no before-tax is given).
fn fees(
    rate: &RoomRate,
    occupancy: &Occupancy,
    nights: usize,
    rooms: usize,
) -> SupplierResult<Vec<Fee>> {
    let persons = dec_count(usize::from(occupancy.adults) + occupancy.children_ages.len());
    let (nights_d, rooms_d) = (dec_count(nights), dec_count(rooms));
    let mut out = Vec::new();
    for f in rate
        .fees
        .iter()
        .filter(|f| f.kind.eq_ignore_ascii_case("Exclusive"))
    {
        let charge = f.charge_type.as_deref().unwrap_or("PerStay");
        let amount = match f.amount_type.as_deref().unwrap_or("Fixed") {
            "Fixed" => {
                let times = match charge {
                    "PerPersonPerNight" => persons * nights_d * rooms_d,
                    "PerPersonPerStay" | "PerPerson" => persons * rooms_d,
                    "PerRoomPerNight" | "PerNight" => nights_d * rooms_d,
                    "PerRoomPerStay" | "PerRoom" | "PerStay" => rooms_d,
                    "PerBooking" | "PerReservation" | "PerOrder" => Decimal::ONE,
                    other => {
                        return Err(SupplierError::malformed(format!(
                            "fee chargeType {} is not understood",
                            bounded(other)
                        )))
                    }
                };
                f.amount.0 * times
            }
            "Percent" => {
                let base: Decimal = rate
                    .amount_before_tax
                    .as_ref()
                    .unwrap_or(&rate.amount_after_tax)
                    .iter()
                    .map(|d| d.0)
                    .sum();
                base * rooms_d * f.amount.0 / Decimal::ONE_HUNDRED
            }
            other => {
                return Err(SupplierError::malformed(format!(
                    "fee amountType {} is not understood",
                    bounded(other)
                )))
            }
        };
        out.push(Fee {
            name: f.name.clone().unwrap_or_else(|| "Fee".into()),
            amount: Money::new(amount, rate.currency.clone()),
        });
    }
    Ok(out)
}

/// `cancelPolicy.cancelPenalties`. Refundable when there is a cancellable (non-no-show) penalty and
/// none is non-cancellable or counted from booking (that instant is unknown without a clock; such
/// penalties are left out of the list). Deadlines `BeforeArrival` are the checkin date at
/// `dealineTime` (00:00 if absent) minus the offset, in hotel-local time. Charges:
/// `NightBase` n = the first n nights × rooms, `FullStay` = the price, `Amount` = per room ×
/// rooms, `Percent` of the price.
fn cancel_terms(
    policy: Option<&CancelPolicy>,
    per_night: &[Decimal],
    price: &Money,
    rooms: usize,
    stay: Stay,
) -> SupplierResult<(bool, Vec<Penalty>)> {
    let Some(policy) = policy else {
        return Ok((false, Vec::new()));
    };
    let mut any_cancellable = false;
    let mut refundable = true;
    let mut list = Vec::new();
    for p in policy.cancel_penalties.iter().filter(|p| !p.no_show) {
        if !p.cancellable {
            refundable = false;
            continue;
        }
        any_cancellable = true;
        let Some(deadline) = &p.cancel_deadline else {
            refundable = false;
            continue;
        };
        let Some(from) = deadline_instant(deadline, stay)? else {
            refundable = false;
            continue;
        };
        let charge = p
            .penalty_charge
            .as_ref()
            .ok_or_else(|| SupplierError::malformed("cancellable penalty without penaltyCharge"))?;
        let rooms_d = dec_count(rooms);
        let amount = match charge.charge_base.as_str() {
            "NightBase" => {
                let n = usize::try_from(charge.nights.unwrap_or(1)).unwrap_or(usize::MAX);
                per_night.iter().take(n).copied().sum::<Decimal>() * rooms_d
            }
            "FullStay" => price.amount,
            "Amount" => {
                charge
                    .amount
                    .ok_or_else(|| SupplierError::malformed("Amount penalty without amount"))?
                    .0
                    * rooms_d
            }
            "Percent" => {
                let pct = charge
                    .percent
                    .ok_or_else(|| SupplierError::malformed("Percent penalty without percent"))?
                    .0;
                price.amount * pct / Decimal::ONE_HUNDRED
            }
            other => {
                return Err(SupplierError::malformed(format!(
                    "chargeBase {} is not understood",
                    bounded(other)
                )))
            }
        };
        if !amount.is_zero() {
            list.push(Penalty {
                from,
                amount: Money::new(amount, price.currency.clone()),
            });
        }
    }
    list.sort_by_key(|p| p.from);
    Ok((refundable && any_cancellable, list))
}

/// A relative deadline as the hotel's wall-clock time (checkin day at `dealineTime`, minus the
/// offset); None when it counts from booking.
fn deadline_instant(d: &DeadlineRs, stay: Stay) -> SupplierResult<Option<CancelTime>> {
    match d.offset_time_drop_type.as_str() {
        "BeforeArrival" => {}
        "AfterBooking" => return Ok(None),
        other => {
            return Err(SupplierError::malformed(format!(
                "offsetTimeDropType {} is not understood",
                bounded(other)
            )))
        }
    }
    let time = match d
        .dealine_time
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        None => NaiveTime::MIN,
        Some(t) => NaiveTime::parse_from_str(t, "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M:%S"))
            .map_err(|_| SupplierError::malformed("dealineTime is not HH:MM"))?,
    };
    let offset = match d.offset_time_unit.as_str() {
        "D" => Duration::try_days(d.offset_time_value),
        "H" => Duration::try_hours(d.offset_time_value),
        _ => None,
    }
    .ok_or_else(|| SupplierError::malformed("offsetTimeUnit/offsetTimeValue not understood"))?;
    stay.checkin
        .and_time(time)
        .checked_sub_signed(offset)
        .map(|t| Some(CancelTime::HotelLocal(t)))
        .ok_or_else(|| SupplierError::malformed("cancel deadline out of range"))
}

fn sold_out() -> RecheckOutcome {
    RecheckOutcome {
        status: RecheckStatus::SoldOut,
        price: None,
        key: None,
        expires_at: None,
    }
}

/// Live availability: the offer's roomId/rateId at its live price; absent means sold out.
fn recheck_outcome(rs: &AvailabilityRs, key: &OfferKey) -> SupplierResult<RecheckOutcome> {
    if rs.hotel_id.as_deref().is_some_and(|h| h != key.hotel) {
        return Err(SupplierError::malformed(
            "availability answer for another hotel",
        ));
    }
    let Some(rate) = rs
        .room_rates
        .iter()
        .find(|r| r.room_id == key.room && r.rate_id == key.rate)
    else {
        return Ok(sold_out());
    };
    let live = offer(rate, &key.hotel, key.stay, &key.rooms)?;
    let status = if live.price == key.price {
        RecheckStatus::Available
    } else {
        RecheckStatus::PriceChanged
    };
    let new_key = OfferKey {
        price: live.price.clone(),
        ..key.clone()
    };
    Ok(RecheckOutcome {
        status,
        price: Some(live.price),
        key: Some(new_key),
        expires_at: None,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrebookRs {
    booking_token: String,
    #[serde(default)]
    expire_time: Option<String>,
    total: TotalRs,
}

/// A reservation (book answer, or detail answer at the top level or under `reservation`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReservationRs {
    #[serde(default)]
    reservation_ids: ResIds,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    hotel_id: Option<String>,
    #[serde(default)]
    stay_range: Option<StayRange>,
    #[serde(default)]
    total: Option<TotalRs>,
    #[serde(default)]
    reservation: Option<Box<ReservationRs>>,
}

impl ReservationRs {
    fn inner(&self) -> &ReservationRs {
        self.reservation.as_deref().unwrap_or(self)
    }
}

#[derive(Default)]
struct Fallback {
    ids: ResIds,
    price: Option<Money>,
    hotel: Option<String>,
    stay: Option<Stay>,
}

fn status(s: &str) -> BookingStatus {
    match s.trim() {
        "Confirmed" => BookingStatus::Confirmed,
        "Cancelled" | "Canceled" => BookingStatus::Cancelled,
        "Pending" => BookingStatus::Pending,
        "OnRequest" | "Requested" => BookingStatus::OnRequest,
        "Failed" | "Rejected" => BookingStatus::Failed,
        _ => BookingStatus::Unknown,
    }
}

/// Book/detail answer → booking: `derbyResId` is the supplier reference, `distributorResId` our
/// client reference, and the token keeps all three ids for detail and cancel.
fn booking_info(r: &ReservationRs, fb: Fallback) -> SupplierResult<BookingInfo> {
    let ids = r.reservation_ids.clone().or(fb.ids);
    let status = r
        .status
        .as_deref()
        .map(status)
        .unwrap_or(BookingStatus::Unknown);
    let supplier_reference = ids.derby_res_id.clone().unwrap_or_default();
    if supplier_reference.is_empty()
        && matches!(status, BookingStatus::Confirmed | BookingStatus::Cancelled)
    {
        return Err(SupplierError::malformed("reservation without derbyResId"));
    }
    Ok(BookingInfo {
        key: BookingKey {
            supplier_reference,
            client_reference: ids.distributor_res_id.clone().unwrap_or_default(),
            token: ids.encode(),
        },
        status,
        price: r.total.as_ref().map(TotalRs::money).or(fb.price),
        hotel_code: r.hotel_id.clone().or(fb.hotel),
        stay: r
            .stay_range
            .as_ref()
            .map(|s| Stay {
                checkin: s.checkin,
                checkout: s.checkout,
            })
            .or(fb.stay),
        penalty: None,
        cancellation_reference: None,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelRs {
    #[serde(default)]
    cancellation_id: Option<String>,
    #[serde(default)]
    penalty: Option<PenaltyRs>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct PenaltyRs {
    amount: Dec,
    currency: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContentRs {
    #[serde(default)]
    hotels: Vec<ContentHotel>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContentHotel {
    hotel_id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    address: Option<AddressRs>,
    #[serde(default)]
    position: Option<PositionRs>,
    #[serde(default)]
    amenities: Vec<String>,
    #[serde(default)]
    rooms: Vec<ContentRoom>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddressRs {
    #[serde(default)]
    line: Option<String>,
    #[serde(default)]
    city: Option<String>,
    #[serde(default)]
    country_code: Option<String>,
}

#[derive(Deserialize)]
struct PositionRs {
    #[serde(default)]
    latitude: Option<Coord>,
    #[serde(default)]
    longitude: Option<Coord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContentRoom {
    room_id: String,
    #[serde(default)]
    room_name: Option<String>,
    #[serde(default)]
    max_occupancy: Option<u8>,
}

impl ContentHotel {
    fn into_content(self) -> HotelContent {
        let (address, city, country) = match self.address {
            Some(a) => (a.line, a.city, a.country_code),
            None => (None, None, None),
        };
        HotelContent {
            name: self.name.unwrap_or_default(),
            code: self.hotel_id,
            address,
            city,
            country,
            latitude: self.position.as_ref().and_then(|p| p.latitude).map(|c| c.0),
            longitude: self
                .position
                .as_ref()
                .and_then(|p| p.longitude)
                .map(|c| c.0),
            time_zone: None,
            amenities: self.amenities,
            rooms: self
                .rooms
                .into_iter()
                .map(|r| RoomContent {
                    name: r.room_name.unwrap_or_else(|| r.room_id.clone()),
                    code: r.room_id,
                    max_occupancy: r.max_occupancy,
                })
                .collect(),
        }
    }
}

/// An RFC 3339 instant (`expireTime`).
fn instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
