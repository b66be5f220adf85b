//! `dida`: the Dida Travel hotel API over JSON (`shared/protocols/dida.md`).
//!
//! Every call is `POST <path>?$format=json`. Natively the credentials travel in the body's
//! `Header{ClientID, LicenseKey}`; in Basic or OAuth 1.0a mode they move to `Authorization` and
//! the body carries no `Header` (the spec says it is then ignored). The flow is PriceSearch →
//! PriceConfirm with `PreBook` (recheck, or the book prelude when no recheck happened) →
//! HotelBookingConfirm with the confirm's `ReferenceNo` → HotelBookingSearch → a two-step
//! HotelBookingCancel (quote, then confirm). Business errors arrive as HTTP 200
//! `{"Success":false,"Error":{"Code":…}}`. Amounts are JSON numbers and are read from their
//! decimal text, never through f64 arithmetic.
//!
//! The offer key's token is `dida1|<RatePlanID>|<Nationality>|<Currency>|<ReferenceNo>` (each
//! field percent-encoded, the last empty until a PriceConfirm): PriceConfirm needs the search's
//! nationality and currency, which the unified key does not otherwise hold.

#[cfg(test)]
mod tests;

use crate::auth;
use crate::*;
use rust_decimal::Decimal;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

const SEARCH_PATH: &str = "/api/rate/PriceSearch?$format=json";
const CONFIRM_PRICE_PATH: &str = "/api/rate/PriceConfirm?$format=json";
const BOOK_PATH: &str = "/api/booking/HotelBookingConfirm?$format=json";
const BOOKING_SEARCH_PATH: &str = "/api/booking/HotelBookingSearch?$format=json";
const CANCEL_PATH: &str = "/api/booking/HotelBookingCancel?$format=json";
const CONTENT_PATH: &str = "/api/static/HotelDetail?$format=json";
/// "Search": at most 50 hotel ids per PriceSearch.
const MAX_HOTELS: usize = 50;
const TOKEN_PREFIX: &str = "dida1";
const MAX_MESSAGE: usize = 200;

pub struct Dida {
    credentials: Credentials,
}

impl Dida {
    pub fn new(credentials: Credentials) -> Self {
        Dida { credentials }
    }
}

impl Connector for Dida {
    fn protocol(&self) -> Protocol {
        Protocol::Dida
    }

    fn build(&self, call: &Call, cx: &CallContext<'_>) -> SupplierResult<WireRequest> {
        let (path, mut body) = request_body(call)?;
        let c = &self.credentials;
        let mut req = WireRequest::new(Method::Post, path);
        match c.mode {
            AuthMode::Native => {
                if let Value::Object(m) = &mut body {
                    m.insert(
                        "Header".into(),
                        json!({"ClientID": c.key, "LicenseKey": c.secret}),
                    );
                }
            }
            AuthMode::Basic => req = req.header("Authorization", auth::basic(&c.key, &c.secret)),
            AuthMode::Oauth1 => {
                let url = format!("{}{}", cx.base_url, path);
                req = req.header(
                    "Authorization",
                    auth::oauth1_header("POST", &url, &c.key, &c.secret, cx.nonce, cx.now),
                );
            }
        }
        let bytes = serde_json::to_vec(&body)
            .map_err(|e| SupplierError::invalid(format!("request body: {e}")))?;
        Ok(req.json_body(bytes))
    }

    fn parse(&self, call: &Call, resp: &WireResponse) -> SupplierResult<Reply> {
        // The hot path: a plain successful search answer, read in one pass.
        if let Call::Search { query } = call {
            if let Some(rs) = plain_success::<PriceSearchRs>(resp) {
                return search_reply(query, rs);
            }
        }
        let success = match success(resp) {
            Ok(s) => s,
            Err(e) => return on_error(call, e),
        };
        match call {
            Call::Search { query } => search_reply(query, from(success)?),
            Call::Recheck { offer: key } => {
                let rs: PriceConfirmRs = from(success)?;
                let Some(live) = confirmed_offer(&rs, key)? else {
                    return Ok(Reply::Recheck {
                        outcome: sold_out(),
                    });
                };
                let price = live.price;
                let status = if price == key.price {
                    RecheckStatus::Available
                } else {
                    RecheckStatus::PriceChanged
                };
                Ok(Reply::Recheck {
                    outcome: RecheckOutcome {
                        status,
                        price: Some(price),
                        key: Some(live.key),
                        expires_at: None,
                    },
                })
            }
            Call::Prepare { offer: key, .. } => {
                let rs: PriceConfirmRs = from(success)?;
                let live = confirmed_offer(&rs, key)?.ok_or_else(|| {
                    SupplierError::new(
                        ErrorClass::SoldOut,
                        "2010",
                        "the rate plan is no longer offered",
                    )
                })?;
                let handle = rs
                    .reference_no
                    .filter(|r| !r.is_empty())
                    .ok_or_else(|| SupplierError::malformed("PriceConfirm without ReferenceNo"))?;
                if live.price != key.price {
                    return Err(SupplierError::new(
                        ErrorClass::PriceChanged,
                        "2009",
                        format!(
                            "confirmed total {} {} differs from {} {}",
                            live.price.amount,
                            live.price.currency,
                            key.price.amount,
                            key.price.currency
                        ),
                    ));
                }
                Ok(Reply::Prepared {
                    prepared: Prepared {
                        handle,
                        price: live.price,
                        expires_at: None,
                    },
                })
            }
            Call::Book { offer, book, .. } => {
                let rs: BookRs = from(success)?;
                let details = rs.booking_details.ok_or_else(|| {
                    SupplierError::new(
                        ErrorClass::BookingUnknown,
                        "",
                        "HotelBookingConfirm answered without BookingDetails",
                    )
                })?;
                let fallback = Fallback {
                    client_reference: &book.client_reference,
                    hotel: Some(&offer.hotel),
                    stay: Some(offer.stay),
                };
                Ok(Reply::Booking {
                    booking: Some(booking_info(details, &fallback)?),
                })
            }
            Call::Retrieve { booking } => {
                let rs: BookingSearchRs = from(success)?;
                let found = pick(rs.booking_details_list, |d| {
                    d.booking_id
                        .as_ref()
                        .is_some_and(|id| id.0 == booking.supplier_reference)
                })
                .ok_or_else(|| {
                    SupplierError::new(ErrorClass::NotFound, "3001", "no such booking")
                })?;
                let fallback = Fallback {
                    client_reference: &booking.client_reference,
                    hotel: None,
                    stay: None,
                };
                Ok(Reply::Booking {
                    booking: Some(booking_info(found, &fallback)?),
                })
            }
            Call::Find {
                client_reference,
                offer,
                ..
            } => {
                let rs: BookingSearchRs = from(success)?;
                let Some(found) = pick(rs.booking_details_list, |d| {
                    d.client_reference.as_deref() == Some(client_reference)
                }) else {
                    return Ok(Reply::Booking { booking: None });
                };
                let fallback = Fallback {
                    client_reference,
                    hotel: Some(&offer.hotel),
                    stay: Some(offer.stay),
                };
                Ok(Reply::Booking {
                    booking: Some(booking_info(found, &fallback)?),
                })
            }
            Call::CancelQuote { .. } => {
                let rs: CancelRs = from(success)?;
                let confirm = rs
                    .confirm_id
                    .filter(|c| !c.is_empty())
                    .ok_or_else(|| SupplierError::malformed("cancel quote without ConfirmID"))?;
                let penalty = rs
                    .penalty
                    .ok_or_else(|| SupplierError::malformed("cancel quote without Penalty"))?
                    .money();
                Ok(Reply::CancelQuote {
                    quote: CancelQuote { confirm, penalty },
                })
            }
            Call::Cancel { booking, confirm } => {
                let rs: CancelRs = from(success)?;
                Ok(Reply::Booking {
                    booking: Some(BookingInfo {
                        key: booking.clone(),
                        status: rs.status.map(status).unwrap_or(BookingStatus::Unknown),
                        price: None,
                        hotel_code: None,
                        stay: None,
                        penalty: rs.penalty.map(|p| p.money()),
                        cancellation_reference: rs
                            .confirm_id
                            .or_else(|| confirm.clone())
                            .filter(|c| !c.is_empty()),
                    }),
                })
            }
            Call::Content { .. } => {
                let rs: ContentRs = from(success)?;
                Ok(Reply::Content {
                    hotels: rs
                        .hotel_list
                        .into_iter()
                        .map(ContentHotel::into_content)
                        .collect(),
                })
            }
            Call::Token => Err(SupplierError::invalid("dida has no token call")),
        }
    }

    /// One occupancy shape for all rooms and at most 50 numeric hotel ids ("Search", "Simplifications").
    fn supports(&self, query: &SearchQuery) -> bool {
        uniform(&query.rooms).is_some()
            && query.hotels.len() <= MAX_HOTELS
            && query.hotels.iter().all(|h| hotel_id(h).is_ok())
    }

    /// A key re-checked by PriceConfirm already holds a `ReferenceNo`; otherwise PriceConfirm first.
    fn book_prelude(&self, offer: &OfferKey) -> BookPrelude {
        match OfferToken::decode(&offer.token) {
            Some(OfferToken {
                reference: Some(_), ..
            }) => BookPrelude::None,
            _ => BookPrelude::Prepare,
        }
    }

    fn cancel_prelude(&self) -> CancelPrelude {
        CancelPrelude::Quote
    }
}

// ---------------------------------------------------------------------------------------------
// Offer token

/// The connector's part of an offer key (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
struct OfferToken {
    rate_plan: String,
    nationality: String,
    currency: String,
    reference: Option<String>,
}

impl OfferToken {
    fn encode(&self) -> String {
        format!(
            "{TOKEN_PREFIX}|{}|{}|{}|{}",
            auth::pct(&self.rate_plan),
            auth::pct(&self.nationality),
            auth::pct(&self.currency),
            auth::pct(self.reference.as_deref().unwrap_or_default())
        )
    }

    fn decode(token: &str) -> Option<OfferToken> {
        let mut parts = token.split('|');
        if parts.next()? != TOKEN_PREFIX {
            return None;
        }
        let mut field = || -> Option<String> {
            let raw = parts.next()?;
            Some(
                percent_encoding::percent_decode_str(raw)
                    .decode_utf8()
                    .ok()?
                    .into_owned(),
            )
        };
        let t = OfferToken {
            rate_plan: field()?,
            nationality: field()?,
            currency: field()?,
            reference: Some(field()?).filter(|r| !r.is_empty()),
        };
        if parts.next().is_some()
            || t.rate_plan.is_empty()
            || t.nationality.is_empty()
            || t.currency.is_empty()
        {
            return None;
        }
        Some(t)
    }

    /// The token of `key`, checked against the key's rate plan.
    fn of(key: &OfferKey) -> SupplierResult<OfferToken> {
        OfferToken::decode(&key.token)
            .filter(|t| t.rate_plan == key.rate)
            .ok_or_else(|| {
                SupplierError::invalid("offer token is not a Dida token for this rate plan")
            })
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

fn uniform(rooms: &[Occupancy]) -> Option<&Occupancy> {
    let first = rooms.first()?;
    rooms.iter().all(|r| r == first).then_some(first)
}

/// Dida hotel ids are integers.
fn hotel_id(code: &str) -> SupplierResult<u64> {
    code.trim()
        .parse::<u64>()
        .map_err(|_| SupplierError::invalid("Dida hotel ids are integers"))
}

fn check_stay(stay: Stay) -> SupplierResult<()> {
    if stay.checkout <= stay.checkin {
        return Err(SupplierError::invalid("checkout must be after checkin"));
    }
    Ok(())
}

fn occupancy_details(rooms: &[Occupancy]) -> Vec<Value> {
    rooms
        .iter()
        .enumerate()
        .map(|(i, r)| {
            json!({"RoomNum": i + 1, "AdultCount": r.adults, "ChildCount": r.children_ages.len(), "ChildAgeDetails": r.children_ages})
        })
        .collect()
}

/// Path and body (without the credentials `Header`) for `call`.
fn request_body(call: &Call) -> SupplierResult<(&'static str, Value)> {
    match call {
        Call::Search { query } => {
            check_stay(query.stay)?;
            if query.hotels.is_empty() || query.hotels.len() > MAX_HOTELS {
                return Err(SupplierError::invalid("a Dida search takes 1 to 50 hotels"));
            }
            let room = uniform(&query.rooms).ok_or_else(|| {
                SupplierError::invalid("dida needs the same occupancy in every room")
            })?;
            let ids = query
                .hotels
                .iter()
                .map(|h| hotel_id(h))
                .collect::<SupplierResult<Vec<_>>>()?;
            Ok((
                SEARCH_PATH,
                json!({
                    "CheckInDate": query.stay.checkin.to_string(),
                    "CheckOutDate": query.stay.checkout.to_string(),
                    "Currency": query.currency,
                    "Nationality": query.nationality,
                    "HotelIDList": ids,
                    "IsRealTime": {"Value": false},
                    "RealTimeOccupancy": {
                        "AdultCount": room.adults,
                        "ChildCount": room.children_ages.len(),
                        "ChildAgeDetails": room.children_ages,
                        "RoomCount": query.rooms.len(),
                    },
                }),
            ))
        }
        Call::Recheck { offer } | Call::Prepare { offer, .. } => {
            check_stay(offer.stay)?;
            let token = OfferToken::of(offer)?;
            uniform(&offer.rooms).ok_or_else(|| {
                SupplierError::invalid("dida needs the same occupancy in every room")
            })?;
            Ok((
                CONFIRM_PRICE_PATH,
                json!({
                    "PreBook": true,
                    "CheckInDate": offer.stay.checkin.to_string(),
                    "CheckOutDate": offer.stay.checkout.to_string(),
                    "NumOfRooms": offer.rooms.len(),
                    "HotelID": hotel_id(&offer.hotel)?,
                    "OccupancyDetails": occupancy_details(&offer.rooms),
                    "Currency": token.currency,
                    "Nationality": token.nationality,
                    "RatePlanID": token.rate_plan,
                    "IsNeedOnRequest": false,
                }),
            ))
        }
        Call::Book {
            offer,
            book,
            prepared,
        } => {
            check_stay(offer.stay)?;
            let reference = match prepared.as_ref().filter(|p| !p.handle.is_empty()) {
                Some(p) => p.handle.clone(),
                None => OfferToken::of(offer)?.reference.ok_or_else(|| {
                    SupplierError::invalid("a Dida book needs the ReferenceNo of a PriceConfirm")
                })?,
            };
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
                    "ReferenceNo": reference,
                    "ClientReference": book.client_reference,
                    "CheckInDate": offer.stay.checkin.to_string(),
                    "CheckOutDate": offer.stay.checkout.to_string(),
                    "NumOfRooms": offer.rooms.len(),
                    "GuestList": guest_list(&book.guests, &offer.rooms),
                    "Contact": {"Name": {"First": lead.first_name, "Last": lead.last_name}, "Email": book.email, "Phone": book.phone.replace(' ', "")},
                }),
            ))
        }
        Call::Retrieve { booking } => {
            if booking.supplier_reference.is_empty() {
                return Err(SupplierError::invalid("retrieve needs the Dida BookingID"));
            }
            Ok((
                BOOKING_SEARCH_PATH,
                json!({"SearchBy": {"BookingID": booking.supplier_reference}}),
            ))
        }
        Call::Find {
            client_reference, ..
        } => {
            if client_reference.is_empty() {
                return Err(SupplierError::invalid("find needs our client reference"));
            }
            Ok((
                BOOKING_SEARCH_PATH,
                json!({"SearchBy": {"ClientReference": client_reference}}),
            ))
        }
        Call::CancelQuote { booking } => {
            if booking.supplier_reference.is_empty() {
                return Err(SupplierError::invalid("cancel needs the Dida BookingID"));
            }
            Ok((
                CANCEL_PATH,
                json!({"BookingID": booking.supplier_reference, "ConfirmID": ""}),
            ))
        }
        Call::Cancel { booking, confirm } => {
            if booking.supplier_reference.is_empty() {
                return Err(SupplierError::invalid("cancel needs the Dida BookingID"));
            }
            let confirm = confirm
                .as_deref()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    SupplierError::invalid("a Dida cancel confirms a quote's ConfirmID")
                })?;
            Ok((
                CANCEL_PATH,
                json!({"BookingID": booking.supplier_reference, "ConfirmID": confirm}),
            ))
        }
        Call::Content { hotels } => {
            if hotels.is_empty() {
                return Err(SupplierError::invalid("content needs at least one hotel"));
            }
            let ids = hotels
                .iter()
                .map(|h| hotel_id(h))
                .collect::<SupplierResult<Vec<_>>>()?;
            Ok((CONTENT_PATH, json!({"HotelIDList": ids})))
        }
        Call::Token => Err(SupplierError::invalid("dida has no token call")),
    }
}

/// `GuestList`: guests are spread over the rooms in turn (guest i in room i mod n); a room left
/// without a guest gets the lead guest's name, as every room needs one. Within a room the first
/// `AdultCount` guests are adults, the next ones children with their ages.
fn guest_list(guests: &[Guest], rooms: &[Occupancy]) -> Vec<Value> {
    let n = rooms.len().max(1);
    let mut per_room: Vec<Vec<&Guest>> = vec![Vec::new(); n];
    for (i, g) in guests.iter().enumerate() {
        if let Some(room) = per_room.get_mut(i % n) {
            room.push(g);
        }
    }
    per_room
        .iter()
        .enumerate()
        .map(|(r, list)| {
            let lead = guests.first();
            let names: Vec<&Guest> = if list.is_empty() { lead.into_iter().collect() } else { list.clone() };
            let adults = rooms.get(r).map_or(usize::MAX, |o| usize::from(o.adults));
            let info: Vec<Value> = names
                .iter()
                .enumerate()
                .map(|(k, g)| {
                    let age = k.checked_sub(adults).and_then(|c| rooms.get(r).and_then(|o| o.children_ages.get(c)));
                    let mut v = json!({"Name": {"First": g.first_name, "Last": g.last_name}, "IsAdult": age.is_none()});
                    if let Some(age) = age {
                        v["Age"] = json!(age);
                    }
                    v
                })
                .collect();
            json!({"RoomNum": r + 1, "GuestInfo": info})
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Answers: errors

/// The "Errors" table; unlisted codes go by their thousand (1xxx invalid, 9xxx internal).
fn code_class(code: &str) -> ErrorClass {
    match code {
        "2001" => ErrorClass::InvalidRequest,
        "4001" => ErrorClass::AuthFailed,
        "4029" => ErrorClass::RateLimited,
        "3001" => ErrorClass::NotFound,
        "2010" => ErrorClass::SoldOut,
        "2009" => ErrorClass::PriceChanged,
        "3003" => ErrorClass::RateExpired,
        "9999" => ErrorClass::SupplierUnavailable,
        c if c.len() == 4 && c.starts_with('9') => ErrorClass::SupplierUnavailable,
        _ => ErrorClass::InvalidRequest,
    }
}

#[derive(Deserialize, Default)]
struct ErrorRs {
    #[serde(rename = "Code", default)]
    code: Option<Value>,
    #[serde(rename = "Message", default)]
    message: Option<String>,
}

impl ErrorRs {
    fn code(&self) -> String {
        match &self.code {
            Some(Value::String(s)) => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        }
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

/// The `Success` object of an answer, or its classified error: HTTP 401 → auth_failed, 429 →
/// rate_limited, 5xx → supplier_unavailable, `"Success":false` with `Error.Code` → the table.
fn success(resp: &WireResponse) -> SupplierResult<Value> {
    let parsed: Option<Value> = serde_json::from_slice(&resp.body).ok();
    let error = parsed
        .as_ref()
        .and_then(|v| v.get("Error"))
        .filter(|e| e.is_object())
        .and_then(|e| ErrorRs::deserialize(e).ok());
    if !resp.is_success() {
        let code = error.as_ref().map(ErrorRs::code).filter(|c| !c.is_empty());
        let class = match (resp.status, &code) {
            (401 | 403, _) => ErrorClass::AuthFailed,
            (429, _) => ErrorClass::RateLimited,
            (500..=599, _) => ErrorClass::SupplierUnavailable,
            (400..=499, Some(c)) => code_class(c),
            (400..=499, None) => ErrorClass::InvalidRequest,
            _ => ErrorClass::SupplierMalformed,
        };
        let message = error
            .and_then(|e| e.message)
            .unwrap_or_else(|| format!("HTTP {}", resp.status));
        return Err(SupplierError::new(
            class,
            code.unwrap_or_else(|| resp.status.to_string()),
            bounded(&message),
        ));
    }
    let Some(mut body) = parsed else {
        return Err(SupplierError::malformed("dida answer is not JSON"));
    };
    if let Some(e) = error {
        let code = e.code();
        if code.is_empty() {
            return Err(SupplierError::malformed("Error without a Code"));
        }
        return Err(SupplierError::new(
            code_class(&code),
            code,
            bounded(e.message.as_deref().unwrap_or_default()),
        ));
    }
    match body.get_mut("Success").map(Value::take) {
        Some(s @ Value::Object(_)) => Ok(s),
        Some(Value::Bool(false)) => Err(SupplierError::malformed("Success false without an Error")),
        _ => Err(SupplierError::malformed("answer without a Success object")),
    }
}

/// A search answer's offers (on-request rate plans left out) and hotels with any.
fn search_reply(query: &SearchQuery, rs: PriceSearchRs) -> SupplierResult<Reply> {
    let token = OfferToken {
        rate_plan: String::new(),
        nationality: query.nationality.clone(),
        currency: query.currency.clone(),
        reference: None,
    };
    let mut hotels = Vec::new();
    for h in rs.price_details.map(|p| p.hotel_list).unwrap_or_default() {
        let mut offers = Vec::new();
        for plan in h.rate_plan_list.iter().filter(|p| !p.is_on_request) {
            offers.push(offer(
                plan,
                &h.hotel_id.0,
                query.stay,
                &query.rooms,
                &token,
                PriceScope::OneRoom,
            )?);
        }
        if !offers.is_empty() {
            hotels.push(HotelOffers {
                hotel_code: h.hotel_id.0,
                hotel_name: h.hotel_name.unwrap_or_default(),
                offers,
            });
        }
    }
    Ok(Reply::Search { hotels })
}

/// A plainly successful answer's `Success` object read straight into `T` (no `Value` in
/// between): a 2xx status, a JSON object with a `Success` object that reads as `T`, and no
/// `Error` object. `None` for anything else, which [`success`] then reads and classifies as it
/// always did, so an answer means the same either way.
fn plain_success<T: DeserializeOwned>(resp: &WireResponse) -> Option<T> {
    #[derive(Deserialize)]
    struct Plain<T> {
        #[serde(rename = "Success")]
        success: ObjectOf<T>,
        #[serde(rename = "Error", default)]
        error: Option<Value>,
    }
    if !resp.is_success() {
        return None;
    }
    let ObjectOf(plain) = serde_json::from_slice::<ObjectOf<Plain<T>>>(&resp.body).ok()?;
    match plain.error {
        Some(Value::Object(_)) => None,
        _ => Some(plain.success.0),
    }
}

/// A `T` that must be a JSON object (a derived struct also reads an array, field by field).
struct ObjectOf<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOf<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Object<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Object(std::marker::PhantomData))
            .map(ObjectOf)
    }
}

/// Sold out at recheck is an outcome; "booking not found" at reconciliation means no booking.
fn on_error(call: &Call, err: SupplierError) -> SupplierResult<Reply> {
    match (call, err.class) {
        (Call::Recheck { .. }, ErrorClass::SoldOut) => Ok(Reply::Recheck {
            outcome: sold_out(),
        }),
        (Call::Find { .. }, ErrorClass::NotFound) if err.code == "3001" => {
            Ok(Reply::Booking { booking: None })
        }
        _ => Err(err),
    }
}

fn from<T: DeserializeOwned>(v: Value) -> SupplierResult<T> {
    serde_json::from_value(v).map_err(|e| SupplierError::malformed(format!("dida answer: {e}")))
}

fn sold_out() -> RecheckOutcome {
    RecheckOutcome {
        status: RecheckStatus::SoldOut,
        price: None,
        key: None,
        expires_at: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Answers: values

/// A non-negative decimal sent as a JSON number (236.0) or string, read from its decimal text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dec(Decimal);

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = match Value::deserialize(d)? {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.trim().to_string(),
            _ => return Err(D::Error::custom("expected a decimal amount")),
        };
        match text
            .parse::<Decimal>()
            .ok()
            .or_else(|| Decimal::from_scientific(&text).ok())
        {
            Some(x) if !x.is_sign_negative() || x.is_zero() => Ok(Dec(x)),
            _ => Err(D::Error::custom(format!(
                "not a non-negative decimal: {}",
                bounded(&text)
            ))),
        }
    }
}

/// An id sent as a JSON integer or string.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Id(String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) if n.is_u64() => Ok(Id(n.to_string())),
            Value::String(s) if !s.trim().is_empty() => Ok(Id(s.trim().to_string())),
            _ => Err(D::Error::custom("expected an id")),
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
#[serde(rename_all = "PascalCase")]
struct PriceSearchRs {
    #[serde(default)]
    price_details: Option<PriceDetails>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PriceDetails {
    #[serde(default)]
    hotel_list: Vec<HotelRs>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HotelRs {
    #[serde(rename = "HotelID")]
    hotel_id: Id,
    #[serde(default)]
    hotel_name: Option<String>,
    #[serde(default)]
    rate_plan_list: Vec<RatePlanRs>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RatePlanRs {
    #[serde(rename = "RatePlanID")]
    rate_plan_id: Id,
    #[serde(default)]
    rate_plan_name: Option<String>,
    #[serde(rename = "RoomTypeID")]
    room_type_id: Id,
    #[serde(default)]
    room_name: Option<String>,
    #[serde(default)]
    breakfast_type: Option<i64>,
    total_price: Dec,
    currency: String,
    #[serde(default)]
    inventory_count: Option<u32>,
    #[serde(default)]
    is_on_request: bool,
    #[serde(default)]
    rate_plan_cancellation_policy_list: Vec<CancellationRs>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CancellationRs {
    from_date: String,
    amount: Dec,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PriceConfirmRs {
    #[serde(default)]
    price_details: Option<PriceDetails>,
    #[serde(default)]
    reference_no: Option<String>,
}

/// Whether a rate plan's amounts are for one room (PriceSearch) or all rooms (PriceConfirm).
#[derive(Clone, Copy, PartialEq, Eq)]
enum PriceScope {
    OneRoom,
    AllRooms,
}

/// `FromDate` is hotel-local time without an offset ("Search"): the hotel's wall clock, placed
/// on the timeline by the edge with the hotel's zone (an offset, when present, is honoured).
fn from_date(s: &str) -> Option<CancelTime> {
    CancelTime::parse(s)
}

/// One rate plan as an offer for `rooms`. PriceSearch's `TotalPrice` and penalty amounts are for
/// one room (× room count); PriceConfirm's are for all rooms. Refundable when no penalty costs
/// anything, or the earliest one costs less than the whole price: parse has no clock to tell
/// whether the first `FromDate` is still ahead, so a non-refundable rate is recognised by a full
/// charge from its first penalty on; `cancel_penalties` carries the exact schedule.
fn offer(
    plan: &RatePlanRs,
    hotel: &str,
    stay: Stay,
    rooms: &[Occupancy],
    token: &OfferToken,
    scope: PriceScope,
) -> SupplierResult<SupplierOffer> {
    let k = match scope {
        PriceScope::OneRoom => Decimal::from(u64::try_from(rooms.len()).unwrap_or(u64::MAX)),
        PriceScope::AllRooms => Decimal::ONE,
    };
    let price = Money::new(plan.total_price.0 * k, plan.currency.clone());
    let mut penalties = Vec::new();
    for p in &plan.rate_plan_cancellation_policy_list {
        let from = from_date(&p.from_date)
            .ok_or_else(|| SupplierError::malformed("FromDate is not a date-time"))?;
        if !p.amount.0.is_zero() {
            penalties.push(Penalty {
                from,
                amount: Money::new(p.amount.0 * k, plan.currency.clone()),
            });
        }
    }
    penalties.sort_by_key(|p| p.from);
    let refundable = penalties
        .first()
        .is_none_or(|p| p.amount.amount < price.amount);
    let rate = plan.rate_plan_id.0.clone();
    let key_token = OfferToken {
        rate_plan: rate.clone(),
        ..token.clone()
    };
    let key = OfferKey {
        hotel: hotel.to_string(),
        room: plan.room_type_id.0.clone(),
        rate: rate.clone(),
        stay,
        rooms: rooms.to_vec(),
        price: price.clone(),
        token: key_token.encode(),
    };
    Ok(SupplierOffer {
        room_code: plan.room_type_id.0.clone(),
        room_name: plan
            .room_name
            .clone()
            .unwrap_or_else(|| plan.room_type_id.0.clone()),
        rate_code: rate.clone(),
        rate_name: plan.rate_plan_name.clone().unwrap_or(rate),
        board: if plan.breakfast_type == Some(2) {
            Board::Breakfast
        } else {
            Board::RoomOnly
        },
        refundable,
        cancel_penalties: penalties,
        price,
        // `TotalPrice` is taxes included; "the hotel's tax exclusive fees are not given".
        taxes_included: true,
        pay_at_hotel: Vec::new(),
        pay_at_hotel_listed: false,
        allotment: plan.inventory_count,
        key,
    })
}

/// The PriceConfirm answer's rate plan for `key` as an offer whose key carries the `ReferenceNo`;
/// None when the plan is not in the answer.
fn confirmed_offer(rs: &PriceConfirmRs, key: &OfferKey) -> SupplierResult<Option<SupplierOffer>> {
    let token = OfferToken::of(key)?;
    let hotels = rs
        .price_details
        .as_ref()
        .map(|p| p.hotel_list.as_slice())
        .unwrap_or_default();
    let Some(plan) = hotels
        .iter()
        .filter(|h| h.hotel_id.0 == key.hotel)
        .flat_map(|h| h.rate_plan_list.iter())
        .find(|p| p.rate_plan_id.0 == key.rate)
    else {
        return Ok(None);
    };
    let token = OfferToken {
        reference: rs.reference_no.clone().filter(|r| !r.is_empty()),
        ..token
    };
    let mut live = offer(
        plan,
        &key.hotel,
        key.stay,
        &key.rooms,
        &token,
        PriceScope::AllRooms,
    )?;
    live.key.room = key.room.clone();
    Ok(Some(live))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BookRs {
    #[serde(default)]
    booking_details: Option<BookingDetails>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BookingSearchRs {
    #[serde(default)]
    booking_details_list: Vec<BookingDetails>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BookingDetails {
    #[serde(rename = "BookingID", default)]
    booking_id: Option<Id>,
    #[serde(default)]
    client_reference: Option<String>,
    #[serde(default)]
    status: Option<i64>,
    #[serde(default)]
    total_price: Option<Dec>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(rename = "HotelID", default)]
    hotel_id: Option<Id>,
    #[serde(default)]
    check_in_date: Option<chrono::NaiveDate>,
    #[serde(default)]
    check_out_date: Option<chrono::NaiveDate>,
}

/// The matching entry of a booking list, else its first.
fn pick(
    list: Vec<BookingDetails>,
    matches: impl Fn(&BookingDetails) -> bool,
) -> Option<BookingDetails> {
    let i = list.iter().position(matches).unwrap_or(0);
    list.into_iter().nth(i)
}

/// "Book" status codes: 2 Confirmed, 3 Canceled, 4 Failed are final; 6 is on request; 0, 1, 5
/// and anything else are not final yet (pending).
fn status(code: i64) -> BookingStatus {
    match code {
        2 => BookingStatus::Confirmed,
        3 => BookingStatus::Cancelled,
        4 => BookingStatus::Failed,
        6 => BookingStatus::OnRequest,
        _ => BookingStatus::Pending,
    }
}

struct Fallback<'a> {
    client_reference: &'a str,
    hotel: Option<&'a str>,
    stay: Option<Stay>,
}

fn booking_info(d: BookingDetails, fb: &Fallback<'_>) -> SupplierResult<BookingInfo> {
    let status = d.status.map(status).unwrap_or(BookingStatus::Pending);
    let supplier_reference = d.booking_id.map(|i| i.0).unwrap_or_default();
    if supplier_reference.is_empty()
        && matches!(status, BookingStatus::Confirmed | BookingStatus::Cancelled)
    {
        return Err(SupplierError::malformed("booking without BookingID"));
    }
    let price = match (d.total_price, d.currency) {
        (Some(p), Some(c)) if !c.is_empty() => Some(Money::new(p.0, c)),
        (Some(_), _) => return Err(SupplierError::malformed("TotalPrice without Currency")),
        _ => None,
    };
    let stay = match (d.check_in_date, d.check_out_date) {
        (Some(checkin), Some(checkout)) => Some(Stay { checkin, checkout }),
        _ => fb.stay,
    };
    Ok(BookingInfo {
        key: BookingKey {
            supplier_reference,
            client_reference: d
                .client_reference
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| fb.client_reference.to_string()),
            token: String::new(),
        },
        status,
        price,
        hotel_code: d.hotel_id.map(|h| h.0).or(fb.hotel.map(str::to_string)),
        stay,
        penalty: None,
        cancellation_reference: None,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CancelRs {
    #[serde(rename = "ConfirmID", default)]
    confirm_id: Option<String>,
    #[serde(default)]
    status: Option<i64>,
    #[serde(default)]
    penalty: Option<PenaltyRs>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PenaltyRs {
    value: Dec,
    currency: String,
}

impl PenaltyRs {
    fn money(self) -> Money {
        Money::new(self.value.0, self.currency)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContentRs {
    #[serde(default)]
    hotel_list: Vec<ContentHotel>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContentHotel {
    #[serde(rename = "HotelID")]
    hotel_id: Id,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    city: Option<String>,
    #[serde(default)]
    country_code: Option<String>,
    #[serde(default)]
    latitude: Option<Coord>,
    #[serde(default)]
    longitude: Option<Coord>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    facilities: Vec<String>,
    #[serde(default)]
    room_type_list: Vec<ContentRoom>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContentRoom {
    #[serde(rename = "RoomTypeID")]
    room_type_id: Id,
    #[serde(default)]
    room_name: Option<String>,
    #[serde(default)]
    max_occupancy: Option<u8>,
}

impl ContentHotel {
    fn into_content(self) -> HotelContent {
        HotelContent {
            code: self.hotel_id.0,
            name: self.name.unwrap_or_default(),
            address: self.address,
            city: self.city,
            country: self.country_code,
            latitude: self.latitude.map(|c| c.0),
            longitude: self.longitude.map(|c| c.0),
            time_zone: self.time_zone.filter(|t| !t.is_empty()),
            amenities: self.facilities,
            rooms: self
                .room_type_list
                .into_iter()
                .map(|r| RoomContent {
                    name: r.room_name.unwrap_or_else(|| r.room_type_id.0.clone()),
                    code: r.room_type_id.0,
                    max_occupancy: r.max_occupancy,
                })
                .collect(),
        }
    }
}
