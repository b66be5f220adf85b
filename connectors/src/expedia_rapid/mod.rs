//! `expedia-rapid`: the Expedia Rapid v3 family (`shared/protocols/expedia-rapid.md`).
//!
//! Rapid is navigated by links. A search offer carries its bed group's `price_check` href; the
//! price check (our `Recheck`, or `Prepare` before a book) answers a `book` href; the book answers
//! an itinerary id and a `retrieve` href; a retrieve lists each room's `cancel` href, and a
//! cancel deletes one room. Our tokens hold those hrefs: the offer token is
//! `{"pc":<price_check>,"bk"?:<book>}`, the booking token `{"r"?:<retrieve>,"c":[<cancel>…],
//! "e"?:<email>}` (the e-mail lets a booking without a retrieve link be found by
//! `affiliate_reference_id`). Requests carry `Authorization: EAN …` (§Auth) unless the supplier
//! is configured for Basic or OAuth 1.0a.
//!
//! The spec gives Rapid no board: an offer is room only unless one of its rate amenities names a
//! meal plan (breakfast, half or full board, all inclusive), as real Rapid rates do.

mod wire;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use self::wire::*;
use crate::json_util::{
    self, clean_message, decode, decode_token, encode, encode_token, is_digits, origin_form,
};
use crate::*;

const AVAILABILITY: &str = "/v3/properties/availability";
const CONTENT: &str = "/v3/properties/content";
const ITINERARIES: &str = "/v3/itineraries";
const LANGUAGE: &str = "en-US";
/// §Endpoints: "At most 8 occupancies, 250 property ids, 28 nights."
const MAX_ROOMS: usize = 8;
const MAX_PROPERTIES: usize = 250;
const MAX_NIGHTS: i64 = 28;
const RATE_PLAN_COUNT: u8 = 4;

pub struct ExpediaRapid {
    credentials: Credentials,
}

impl ExpediaRapid {
    pub fn new(credentials: Credentials) -> Self {
        ExpediaRapid { credentials }
    }
}

/// Our offer token: the bed group's price check link and, once a price check answered, the book link.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct RateToken {
    #[serde(rename = "pc", default, skip_serializing_if = "Option::is_none")]
    price_check: Option<String>,
    #[serde(rename = "bk", default, skip_serializing_if = "Option::is_none")]
    book: Option<String>,
}

impl RateToken {
    fn read(offer: &OfferKey) -> SupplierResult<RateToken> {
        decode_token(&offer.token, "offer")
    }

    fn price_check(&self) -> SupplierResult<String> {
        let href = self.price_check.as_deref();
        origin_form(
            href.ok_or_else(|| SupplierError::invalid("the offer has no price check link"))?,
        )
    }
}

/// Our booking token: how to read the itinerary again and which rooms can still be cancelled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct ItineraryToken {
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    retrieve: Option<String>,
    #[serde(rename = "c", default)]
    cancel: Vec<String>,
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

impl ItineraryToken {
    fn read(booking: &BookingKey) -> SupplierResult<ItineraryToken> {
        decode_token(&booking.token, "booking")
    }
}

/// Which calls must carry `Customer-Ip` (§Auth, "Other headers").
fn needs_customer_ip(call: &Call) -> bool {
    matches!(
        call,
        Call::Book { .. } | Call::Retrieve { .. } | Call::Find { .. } | Call::Cancel { .. }
    )
}

impl Connector for ExpediaRapid {
    fn protocol(&self) -> Protocol {
        Protocol::ExpediaRapid
    }

    fn build(&self, call: &Call, cx: &CallContext<'_>) -> SupplierResult<WireRequest> {
        let req = match call {
            Call::Search { query } => WireRequest::new(Method::Get, search_path(query)?),
            Call::Content { hotels } => WireRequest::new(Method::Get, content_path(hotels)?),
            Call::Recheck { offer } | Call::Prepare { offer, .. } => {
                WireRequest::new(Method::Get, RateToken::read(offer)?.price_check()?)
            }
            Call::Book {
                offer,
                book,
                prepared,
            } => book_request(offer, book, prepared.as_ref())?,
            Call::Retrieve { booking } => {
                let token = ItineraryToken::read(booking)?;
                let path = match (&token.retrieve, &token.email) {
                    (Some(href), _) => origin_form(href)?,
                    (None, Some(email)) => find_path(&booking.client_reference, email)?,
                    (None, None) => {
                        return Err(SupplierError::invalid("the booking has no retrieve link"))
                    }
                };
                WireRequest::new(Method::Get, path)
            }
            Call::Find {
                client_reference,
                email,
                ..
            } => WireRequest::new(Method::Get, find_path(client_reference, email)?),
            Call::Cancel { booking, .. } => {
                let token = ItineraryToken::read(booking)?;
                let Some(href) = token.cancel.first() else {
                    return Err(SupplierError::invalid(
                        "the itinerary has no room left to cancel",
                    ));
                };
                WireRequest::new(Method::Delete, origin_form(href)?)
            }
            Call::Token | Call::CancelQuote { .. } => {
                return Err(SupplierError::invalid(format!(
                    "expedia-rapid has no {} call",
                    call.op()
                )))
            }
        };
        let mut req = req.header("Accept", "application/json");
        if needs_customer_ip(call) && cx.customer_ip.is_empty() {
            return Err(SupplierError::invalid(format!(
                "Rapid requires Customer-Ip on {}",
                call.op()
            )));
        }
        if !cx.customer_ip.is_empty()
            && (needs_customer_ip(call)
                || matches!(call, Call::Recheck { .. } | Call::Prepare { .. }))
        {
            req = req.header("Customer-Ip", cx.customer_ip);
        }
        let Credentials { key, secret, .. } = &self.credentials;
        Ok(json_util::authorize(req, &self.credentials, cx, |r| {
            let signature = auth::sha512_signature(key, secret, cx.now);
            r.header(
                "Authorization",
                format!(
                    "EAN APIKey={key},Signature={signature},timestamp={}",
                    cx.now
                ),
            )
        }))
    }

    fn parse(&self, call: &Call, resp: &WireResponse) -> SupplierResult<Reply> {
        if !resp.is_success() {
            return self.http_error(call, resp);
        }
        match call {
            Call::Search { query } => {
                let properties: Vec<Property> = decode(&resp.body, "availability response")?;
                let hotels = properties
                    .into_iter()
                    .filter(|p| is_available(p.status.as_deref()))
                    .map(|p| property_offers(p, query))
                    .collect::<Result<_, _>>()?;
                Ok(Reply::Search { hotels })
            }
            Call::Content { .. } => {
                let rs: ContentRs = decode(&resp.body, "content response")?;
                Ok(Reply::Content {
                    hotels: rs
                        .0
                        .into_iter()
                        .map(|(key, p)| property_content(key, p))
                        .collect(),
                })
            }
            Call::Recheck { offer } => {
                let rs: PriceCheckRs = decode(&resp.body, "price check response")?;
                Ok(Reply::Recheck {
                    outcome: recheck_outcome(rs, offer)?,
                })
            }
            Call::Prepare { offer, .. } => {
                let rs: PriceCheckRs = decode(&resp.body, "price check response")?;
                Ok(Reply::Prepared {
                    prepared: prepared(rs, offer)?,
                })
            }
            Call::Book {
                offer,
                book,
                prepared,
            } => {
                let rs: ItineraryCreatedRs = decode(&resp.body, "itinerary response")?;
                let token = ItineraryToken {
                    retrieve: rs.links.retrieve.map(|l| l.href),
                    cancel: Vec::new(),
                    email: Some(book.email.clone()),
                };
                let price = prepared
                    .as_ref()
                    .map_or_else(|| offer.price.clone(), |p| p.price.clone());
                Ok(booked(offer, book, rs.itinerary_id.0, token, Some(price)))
            }
            Call::Retrieve { booking } => {
                let token = ItineraryToken::read(booking)?;
                let all = self.itineraries(resp)?;
                let wanted = |i: &Itinerary| {
                    booking.supplier_reference.is_empty()
                        || i.itinerary_id.0 == booking.supplier_reference
                };
                let Some(found) = all.into_iter().find(wanted) else {
                    return Err(SupplierError::new(
                        ErrorClass::NotFound,
                        "",
                        "the itinerary is not in the answer",
                    ));
                };
                let info = itinerary_info(found, &booking.client_reference, token)?;
                Ok(Reply::Booking {
                    booking: Some(info),
                })
            }
            Call::Find {
                client_reference,
                email,
                ..
            } => {
                let all = self.itineraries(resp)?;
                let found = all.into_iter().find(|i| {
                    i.affiliate_reference_id
                        .as_deref()
                        .is_none_or(|r| r == client_reference)
                });
                let token = ItineraryToken {
                    email: Some(email.clone()),
                    ..ItineraryToken::default()
                };
                Ok(Reply::Booking {
                    booking: found
                        .map(|i| itinerary_info(i, client_reference, token))
                        .transpose()?,
                })
            }
            Call::Cancel { booking, .. } => cancel_reply(booking, resp.status),
            Call::Token | Call::CancelQuote { .. } => Err(SupplierError::invalid(format!(
                "expedia-rapid has no {} call",
                call.op()
            ))),
        }
    }

    fn supports(&self, query: &SearchQuery) -> bool {
        (1..=MAX_ROOMS).contains(&query.rooms.len())
            && (1..=MAX_PROPERTIES).contains(&query.hotels.len())
            && query.hotels.iter().all(|h| is_digits(h))
            && (1..=MAX_NIGHTS).contains(&query.stay.nights())
    }

    /// A price check first, unless a re-check already left the book link in the token. A
    /// garbled token also answers `Prepare`, whose build then reports it.
    fn book_prelude(&self, offer: &OfferKey) -> BookPrelude {
        match RateToken::read(offer) {
            Ok(RateToken { book: Some(_), .. }) => BookPrelude::None,
            _ => BookPrelude::Prepare,
        }
    }

    /// Cancel links are per room and only a retrieve lists them (§Retrieve).
    fn cancel_prelude(&self) -> CancelPrelude {
        CancelPrelude::Retrieve
    }
}

impl ExpediaRapid {
    fn itineraries(&self, resp: &WireResponse) -> SupplierResult<Vec<Itinerary>> {
        decode::<Itineraries>(&resp.body, "itinerary response").map(Itineraries::into_vec)
    }

    /// A non-2xx answer, classified by status and `type` (§Errors). Two answers are not
    /// failures: 404 to a find (nothing booked), and 409 `duplicate_itinerary` to a book (our
    /// earlier attempt succeeded; its id is in `fields`).
    fn http_error(&self, call: &Call, resp: &WireResponse) -> SupplierResult<Reply> {
        let status = resp.status;
        let envelope = serde_json::from_slice::<ErrorRs>(&resp.body).ok();
        let kind = envelope
            .as_ref()
            .map(|e| e.kind.as_str())
            .unwrap_or_default();
        match (call, status, kind) {
            (Call::Find { .. }, 404, _) => return Ok(Reply::Booking { booking: None }),
            (Call::Book { offer, book, .. }, 409, "duplicate_itinerary") => {
                if let Some(id) = envelope.as_ref().and_then(existing_itinerary) {
                    let token = ItineraryToken {
                        email: Some(book.email.clone()),
                        ..ItineraryToken::default()
                    };
                    return Ok(booked(offer, book, id, token, None));
                }
            }
            _ => {}
        }
        let link_invalid = envelope
            .as_ref()
            .is_some_and(|e| e.errors.iter().any(|i| i.kind.starts_with("link.")));
        let class = match (status, kind) {
            (401 | 403, _) => ErrorClass::AuthFailed,
            (404, _) => ErrorClass::NotFound,
            (429, _) => ErrorClass::RateLimited,
            (500..=599, _) => ErrorClass::SupplierUnavailable,
            _ if envelope.is_none() => {
                return Err(SupplierError::malformed(format!(
                    "HTTP {status} without a Rapid error envelope"
                )))
            }
            (400, _) if link_invalid => ErrorClass::RateExpired,
            (409, "price_mismatch") => ErrorClass::PriceChanged,
            (409, "duplicate_itinerary") => ErrorClass::BookingUnknown,
            (410, "rooms_unavailable") => ErrorClass::SoldOut,
            (410, _) => ErrorClass::RateExpired,
            (400..=499, _) => ErrorClass::InvalidRequest,
            _ => ErrorClass::SupplierMalformed,
        };
        let code = if kind.is_empty() {
            status.to_string()
        } else {
            clean_message(kind, &self.credentials)
        };
        let message = envelope
            .as_ref()
            .map(|e| clean_message(&e.message, &self.credentials))
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| format!("HTTP {status}"));
        Err(SupplierError::new(class, code, message))
    }
}

/// The existing itinerary id a 409 `duplicate_itinerary` names in `fields`.
fn existing_itinerary(e: &ErrorRs) -> Option<String> {
    let field = e.fields.iter().find(|f| f.name == "itinerary_id")?;
    match field.value.as_ref()? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn is_available(status: Option<&str>) -> bool {
    status.is_none_or(|s| s == "available")
}

/// `occupancy=2-9,4`: adults, then `-` and the child ages (§Endpoints).
fn occupancy_param(o: &Occupancy) -> String {
    if o.children_ages.is_empty() {
        return o.adults.to_string();
    }
    let ages: Vec<String> = o.children_ages.iter().map(u8::to_string).collect();
    format!("{}-{}", o.adults, ages.join(","))
}

/// An occupancy as (adults, sorted child ages).
type Shape = (u8, Vec<u8>);

/// An `occupancy_pricing` key read back as a [`Shape`].
fn occupancy_shape(key: &str) -> Option<Shape> {
    let (adults, ages) = key.split_once('-').unwrap_or((key, ""));
    let mut ages: Vec<u8> = ages
        .split(',')
        .filter(|a| !a.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    ages.sort_unstable();
    Some((adults.parse().ok()?, ages))
}

fn search_path(query: &SearchQuery) -> SupplierResult<String> {
    if !(1..=MAX_ROOMS).contains(&query.rooms.len()) {
        return Err(SupplierError::invalid(format!(
            "Rapid searches 1 to {MAX_ROOMS} rooms"
        )));
    }
    let mut q = format!(
        "{AVAILABILITY}?checkin={}&checkout={}&currency={}&country_code={}&language={LANGUAGE}",
        query.stay.checkin,
        query.stay.checkout,
        json_util::pct(&query.currency),
        json_util::pct(&query.nationality)
    );
    for room in &query.rooms {
        q.push_str(&format!("&occupancy={}", occupancy_param(room)));
    }
    for id in property_ids(&query.hotels)? {
        q.push_str(&format!("&property_id={id}"));
    }
    q.push_str(&format!(
        "&rate_plan_count={RATE_PLAN_COUNT}&sales_channel=agent_tool&sales_environment=hotel_only"
    ));
    Ok(q)
}

fn property_ids(hotels: &[String]) -> SupplierResult<&[String]> {
    if hotels.is_empty() || hotels.len() > MAX_PROPERTIES {
        return Err(SupplierError::invalid(format!(
            "Rapid searches 1 to {MAX_PROPERTIES} properties"
        )));
    }
    if let Some(bad) = hotels.iter().find(|h| !is_digits(h)) {
        return Err(SupplierError::invalid(format!(
            "Rapid property ids are numeric, not {bad:?}"
        )));
    }
    Ok(hotels)
}

fn content_path(hotels: &[String]) -> SupplierResult<String> {
    let ids: String = property_ids(hotels)?
        .iter()
        .map(|id| format!("property_id={id}&"))
        .collect();
    Ok(format!("{CONTENT}?{ids}language={LANGUAGE}"))
}

fn find_path(client_reference: &str, email: &str) -> SupplierResult<String> {
    if client_reference.is_empty() || email.is_empty() {
        return Err(SupplierError::invalid(
            "finding an itinerary needs the affiliate reference and the e-mail",
        ));
    }
    Ok(format!(
        "{ITINERARIES}?affiliate_reference_id={}&email={}",
        json_util::pct(client_reference),
        json_util::pct(email)
    ))
}

/// §Book: one `rooms` entry per booked room, named for its guest (the first guest when fewer
/// guests than rooms are given).
fn book_request(
    offer: &OfferKey,
    book: &BookInput,
    prepared: Option<&Prepared>,
) -> SupplierResult<WireRequest> {
    let href = match prepared {
        Some(p) if !p.handle.is_empty() => p.handle.clone(),
        _ => RateToken::read(offer)?.book.ok_or_else(|| {
            SupplierError::invalid("the offer has no book link; price check it first")
        })?,
    };
    let Some(lead) = book.guests.first() else {
        return Err(SupplierError::invalid("a booking needs at least one guest"));
    };
    let rooms = (0..offer.rooms.len().max(1))
        .map(|i| {
            let g = book.guests.get(i).unwrap_or(lead);
            BookRoomRq {
                given_name: &g.first_name,
                family_name: &g.last_name,
                smoking: false,
            }
        })
        .collect();
    let (country_code, number) = split_phone(&book.phone)?;
    let body = BookRq {
        affiliate_reference_id: &book.client_reference,
        hold: false,
        email: &book.email,
        phone: PhoneRq {
            country_code,
            number,
        },
        rooms,
        payments: [PaymentRq {
            kind: "affiliate_collect",
        }],
    };
    Ok(WireRequest::new(Method::Post, origin_form(&href)?).json_body(encode(&body)?))
}

/// Splits `+33 155501234` into Rapid's `country_code` and `number` (digits only).
fn split_phone(phone: &str) -> SupplierResult<(&str, &str)> {
    let (cc, number) = phone
        .trim()
        .trim_start_matches('+')
        .split_once(' ')
        .ok_or_else(|| {
            SupplierError::invalid("the agency phone must read +<country code> <number>")
        })?;
    let digits = |s: &str, min: usize, max: usize| {
        (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(cc, 1, 4) || !digits(number, 4, 15) {
        return Err(SupplierError::invalid(
            "the agency phone must read +<country code> <number>, digits only",
        ));
    }
    Ok((cc, number))
}

/// The stay total and property fees of `rooms`: `occupancy_pricing` prices one room per
/// occupancy key (as in real Rapid), so identical rooms share one key and are added up.
fn stay_total(
    pricing: &BTreeMap<String, OccupancyPricing>,
    rooms: &[Occupancy],
) -> SupplierResult<(Money, Option<Money>)> {
    let by_shape: Vec<(Option<Shape>, &OccupancyPricing)> = pricing
        .iter()
        .map(|(k, v)| (occupancy_shape(k), v))
        .collect();
    let mut total: Option<Money> = None;
    let mut fees: Option<Money> = None;
    for room in rooms {
        let param = occupancy_param(room);
        let shape = occupancy_shape(&param);
        let p = pricing
            .get(&param)
            .or_else(|| {
                by_shape
                    .iter()
                    .find(|(s, _)| s.is_some() && *s == shape)
                    .map(|(_, p)| *p)
            })
            .ok_or_else(|| SupplierError::malformed(format!("no pricing for occupancy {param}")))?;
        add(
            &mut total,
            &p.totals.inclusive.request_currency,
            "totals.inclusive",
        )?;
        if let Some(f) = &p.totals.property_fees {
            add(&mut fees, &f.request_currency, "totals.property_fees")?;
        }
    }
    let total = total.ok_or_else(|| SupplierError::malformed("no priced room"))?;
    Ok((total, fees))
}

fn add(sum: &mut Option<Money>, v: &wire::Value, what: &str) -> SupplierResult<()> {
    let amount = v.value.non_negative(what)?;
    match sum {
        None => *sum = Some(Money::new(amount, v.currency.as_str())),
        Some(m) if m.currency == v.currency => m.amount += amount,
        Some(_) => return Err(SupplierError::malformed(format!("{what} mixes currencies"))),
    }
    Ok(())
}

fn pay_at_hotel(fees: Option<Money>) -> Vec<Fee> {
    fees.filter(|f| f.amount > Decimal::ZERO)
        .map(|amount| Fee {
            name: "Property fees".to_string(),
            amount,
        })
        .into_iter()
        .collect()
}

/// The meal plan a rate's amenities name; room only when none does (module docs).
fn board(amenities: &json_util::Entries<Amenity>) -> Board {
    let names: Vec<String> = amenities
        .0
        .iter()
        .map(|(_, a)| a.name().to_ascii_lowercase())
        .collect();
    let has = |needle: &str| names.iter().any(|n| n.contains(needle));
    if has("all inclusive") || has("all-inclusive") {
        Board::AllInclusive
    } else if has("full board") {
        Board::FullBoard
    } else if has("half board") {
        Board::HalfBoard
    } else if has("breakfast") {
        Board::Breakfast
    } else {
        Board::RoomOnly
    }
}

fn property_offers(p: Property, query: &SearchQuery) -> SupplierResult<HotelOffers> {
    let hotel = p.property_id.0;
    let mut offers = Vec::new();
    for room in &p.rooms {
        for rate in room
            .rates
            .iter()
            .filter(|r| is_available(r.status.as_deref()))
        {
            offers.extend(rate_offers(&hotel, room, rate, query)?);
        }
    }
    Ok(HotelOffers {
        hotel_code: hotel,
        hotel_name: String::new(),
        offers,
    })
}

/// One offer per bed group of a rate (each bed group has its own price check link; a bed group
/// without one cannot be booked and is left out). `totals.inclusive` is the price,
/// `property_fees` are paid at the property (§Search response).
fn rate_offers(
    hotel: &str,
    room: &Room,
    rate: &Rate,
    query: &SearchQuery,
) -> SupplierResult<Vec<SupplierOffer>> {
    let (price, fees) = stay_total(&rate.occupancy_pricing, &query.rooms)?;
    let cancel_penalties = rate
        .cancel_penalties
        .iter()
        .map(|p| {
            Ok(Penalty {
                from: json_util::cancel_time(&p.start, "cancel_penalties.start")?,
                amount: Money::new(
                    p.amount.non_negative("cancel_penalties.amount")?,
                    p.currency.as_str(),
                ),
            })
        })
        .collect::<SupplierResult<Vec<_>>>()?;
    let board = board(&rate.amenities);
    let fees = pay_at_hotel(fees);
    Ok(rate
        .bed_groups
        .0
        .iter()
        .filter_map(|(_, bg)| {
            let href = bg.links.price_check.as_ref()?.href.clone();
            let token = RateToken {
                price_check: Some(href),
                book: None,
            };
            Some(SupplierOffer {
                room_code: room.id.0.clone(),
                room_name: room.room_name.clone(),
                rate_code: rate.id.0.clone(),
                rate_name: bg.description.clone().unwrap_or_else(|| rate.id.0.clone()),
                board,
                refundable: rate.refundable,
                cancel_penalties: cancel_penalties.clone(),
                price: price.clone(),
                taxes_included: true,
                pay_at_hotel: fees.clone(),
                pay_at_hotel_listed: true,
                allotment: rate.available_rooms,
                key: OfferKey {
                    hotel: hotel.to_string(),
                    room: room.id.0.clone(),
                    rate: rate.id.0.clone(),
                    stay: query.stay,
                    rooms: query.rooms.clone(),
                    price: price.clone(),
                    token: encode_token(&token),
                },
            })
        })
        .collect())
}

/// What a price check found: the live price and the book link (absent when sold out).
struct Checked {
    status: RecheckStatus,
    price: Money,
    book: Link,
}

/// §Recheck: `available` / `price_changed` carry pricing and a book link; `sold_out` does not.
/// An `available` answer whose total differs from the shown price is reported as a change.
fn price_check(rs: PriceCheckRs, offer: &OfferKey) -> SupplierResult<Option<Checked>> {
    let supplier_status = match rs.status.as_str() {
        "sold_out" => return Ok(None),
        "available" => RecheckStatus::Available,
        "price_changed" => RecheckStatus::PriceChanged,
        other => {
            return Err(SupplierError::malformed(format!(
                "unknown price check status {other:?}"
            )))
        }
    };
    let (price, _) = stay_total(&rs.occupancy_pricing, &offer.rooms)?;
    let book = rs
        .links
        .book
        .ok_or_else(|| SupplierError::malformed("price check without a book link"))?;
    let status = if price == offer.price {
        supplier_status
    } else {
        RecheckStatus::PriceChanged
    };
    Ok(Some(Checked {
        status,
        price,
        book,
    }))
}

fn expiry(link: &Link) -> SupplierResult<Option<chrono::DateTime<chrono::Utc>>> {
    link.expires
        .as_deref()
        .map(|e| json_util::instant(e, "links.book.expires"))
        .transpose()
}

fn recheck_outcome(rs: PriceCheckRs, offer: &OfferKey) -> SupplierResult<RecheckOutcome> {
    let Some(checked) = price_check(rs, offer)? else {
        return Ok(RecheckOutcome {
            status: RecheckStatus::SoldOut,
            price: None,
            key: None,
            expires_at: None,
        });
    };
    let expires_at = expiry(&checked.book)?;
    let token = RateToken {
        book: Some(checked.book.href),
        ..RateToken::read(offer)?
    };
    let key = OfferKey {
        price: checked.price.clone(),
        token: encode_token(&token),
        ..offer.clone()
    };
    Ok(RecheckOutcome {
        status: checked.status,
        price: Some(checked.price),
        key: Some(key),
        expires_at,
    })
}

/// The price check before a book: only an unchanged price may go on to book.
fn prepared(rs: PriceCheckRs, offer: &OfferKey) -> SupplierResult<Prepared> {
    let Some(checked) = price_check(rs, offer)? else {
        return Err(SupplierError::new(
            ErrorClass::SoldOut,
            "sold_out",
            "the rate sold out at price check",
        ));
    };
    if checked.status != RecheckStatus::Available {
        let p = &checked.price;
        return Err(SupplierError::new(
            ErrorClass::PriceChanged,
            "price_changed",
            format!("the rate now costs {} {}", p.amount, p.currency),
        ));
    }
    Ok(Prepared {
        expires_at: expiry(&checked.book)?,
        handle: checked.book.href,
        price: checked.price,
    })
}

/// §Book: a 201 means the itinerary exists, so it is confirmed; the price is the one the book
/// link was issued for (Rapid answers 409 `price_mismatch` otherwise).
fn booked(
    offer: &OfferKey,
    book: &BookInput,
    itinerary_id: String,
    token: ItineraryToken,
    price: Option<Money>,
) -> Reply {
    Reply::Booking {
        booking: Some(BookingInfo {
            key: BookingKey {
                supplier_reference: itinerary_id,
                client_reference: book.client_reference.clone(),
                token: encode_token(&token),
            },
            status: BookingStatus::Confirmed,
            price,
            hotel_code: Some(offer.hotel.clone()),
            stay: Some(offer.stay),
            penalty: None,
            cancellation_reference: None,
        }),
    }
}

fn room_status(status: &str) -> BookingStatus {
    match status {
        "booked" => BookingStatus::Confirmed,
        "canceled" | "cancelled" => BookingStatus::Cancelled,
        "pending" => BookingStatus::Pending,
        _ => BookingStatus::Unknown,
    }
}

/// §Retrieve. The itinerary is cancelled when every room is, pending while any room is (or
/// while it has no rooms yet), confirmed when its remaining rooms are booked. The token keeps
/// what the caller knew and lists the cancel links of the rooms not yet cancelled.
fn itinerary_info(
    it: Itinerary,
    client_reference: &str,
    known: ItineraryToken,
) -> SupplierResult<BookingInfo> {
    let statuses: Vec<BookingStatus> = it.rooms.iter().map(|r| room_status(&r.status)).collect();
    let status = if statuses.is_empty() || statuses.contains(&BookingStatus::Pending) {
        BookingStatus::Pending
    } else if statuses.contains(&BookingStatus::Unknown) {
        BookingStatus::Unknown
    } else if statuses.iter().all(|s| *s == BookingStatus::Cancelled) {
        BookingStatus::Cancelled
    } else {
        BookingStatus::Confirmed
    };
    let mut total = None;
    let mut priced = !it.rooms.is_empty();
    for room in &it.rooms {
        match room.rate.as_ref().and_then(|r| r.pricing.as_ref()) {
            Some(p) => add(
                &mut total,
                &p.totals.inclusive.request_currency,
                "rate.pricing.totals.inclusive",
            )?,
            None => priced = false,
        }
    }
    let stay = it.rooms.iter().find_map(|r| match (r.checkin, r.checkout) {
        (Some(checkin), Some(checkout)) if checkout > checkin => Some(Stay { checkin, checkout }),
        _ => None,
    });
    let cancel = it
        .rooms
        .iter()
        .filter(|r| room_status(&r.status) != BookingStatus::Cancelled)
        .filter_map(|r| r.links.cancel.as_ref().map(|l| l.href.clone()))
        .collect();
    let token = ItineraryToken {
        retrieve: known.retrieve.or(it.links.retrieve.map(|l| l.href)),
        cancel,
        email: known.email,
    };
    let client_reference = match (client_reference, it.affiliate_reference_id) {
        ("", Some(theirs)) => theirs,
        (ours, _) => ours.to_string(),
    };
    Ok(BookingInfo {
        key: BookingKey {
            supplier_reference: it.itinerary_id.0,
            client_reference,
            token: encode_token(&token),
        },
        status,
        price: if priced { total } else { None },
        hotel_code: it.property_id.map(|c| c.0),
        stay,
        penalty: None,
        cancellation_reference: None,
    })
}

/// §Endpoints, cancel room: 204 cancelled, 202 outcome unknown. Rapid cancels one room per
/// call; while other rooms of the itinerary remain booked it stays confirmed.
fn cancel_reply(booking: &BookingKey, status: u16) -> SupplierResult<Reply> {
    let mut token = ItineraryToken::read(booking)?;
    let status = match status {
        202 => BookingStatus::Unknown,
        _ => {
            if !token.cancel.is_empty() {
                token.cancel.remove(0);
            }
            if token.cancel.is_empty() {
                BookingStatus::Cancelled
            } else {
                BookingStatus::Confirmed
            }
        }
    };
    Ok(Reply::Booking {
        booking: Some(BookingInfo {
            key: BookingKey {
                token: encode_token(&token),
                ..booking.clone()
            },
            status,
            price: None,
            hotel_code: None,
            stay: None,
            penalty: None,
            cancellation_reference: None,
        }),
    })
}

fn property_content(key: Option<String>, p: ContentProperty) -> HotelContent {
    let (address, city, country) = match p.address {
        Some(Address::Line(line)) => (Some(line), None, None),
        Some(Address::Parts {
            line_1,
            line_2,
            city,
            country_code,
        }) => {
            let lines: Vec<String> = [line_1, line_2]
                .into_iter()
                .flatten()
                .filter(|l| !l.is_empty())
                .collect();
            (
                (!lines.is_empty()).then(|| lines.join(", ")),
                city,
                country_code,
            )
        }
        None => (None, None, None),
    };
    let coordinates = p.location.and_then(|l| l.coordinates);
    HotelContent {
        code: p.property_id.map(|c| c.0).or(key).unwrap_or_default(),
        name: p.name,
        address,
        city,
        country,
        latitude: coordinates.as_ref().and_then(|c| c.latitude).map(|c| c.0),
        longitude: coordinates.as_ref().and_then(|c| c.longitude).map(|c| c.0),
        time_zone: None,
        amenities: p
            .amenities
            .0
            .iter()
            .map(|(_, a)| a.name().to_string())
            .collect(),
        rooms: p
            .rooms
            .0
            .into_iter()
            .filter_map(|(key, r)| {
                let code = r.id.map(|c| c.0).or(key)?;
                Some(RoomContent {
                    name: r.name.unwrap_or_else(|| code.clone()),
                    code,
                    max_occupancy: r
                        .occupancy
                        .and_then(|o| o.max_allowed)
                        .and_then(|m| m.total),
                })
            })
            .collect(),
    }
}
