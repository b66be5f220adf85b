//! `hotelbeds`: the Hotelbeds APItude Booking API 1.0 family (`shared/protocols/hotelbeds.md`).
//!
//! Search is `POST hotels`; a rate whose `rateType` is `RECHECK` goes through `POST checkrates`
//! before `POST bookings`; bookings are read back by reference or listed by our
//! `clientReference` (reconciliation after a book timeout) and cancelled with `DELETE`. Requests
//! carry `Api-key` + `X-Signature` (§Auth) unless the supplier is configured for Basic or OAuth
//! 1.0a. The offer token is `{"k":<rateKey>,"t":<rateType>}`; a booking needs nothing beyond its
//! reference, so its token is empty.

mod wire;

#[cfg(test)]
mod tests;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use self::wire::*;
use crate::json_util::{
    self, clean_message, decode, decode_token, encode, encode_token, is_digits, Amount,
};
use crate::*;

const AVAILABILITY: &str = "/hotel-api/1.0/hotels";
const CHECKRATES: &str = "/hotel-api/1.0/checkrates";
const BOOKINGS: &str = "/hotel-api/1.0/bookings";
const CONTENT: &str = "/hotel-content-api/1.0/hotels";
const LANGUAGE: &str = "ENG";
/// §Search: "At most 2000 hotel codes; at most 30 nights."
const MAX_HOTELS: usize = 2000;
const MAX_NIGHTS: i64 = 30;

pub struct Hotelbeds {
    credentials: Credentials,
}

impl Hotelbeds {
    pub fn new(credentials: Credentials) -> Self {
        Hotelbeds { credentials }
    }
}

/// Our offer token: the rate key to check or book and the rate type it was issued with.
/// After checkrates the type is `BOOKABLE`, whatever the supplier echoes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RateToken {
    #[serde(rename = "k")]
    rate_key: String,
    #[serde(rename = "t")]
    rate_type: String,
}

impl RateToken {
    fn read(offer: &OfferKey) -> SupplierResult<RateToken> {
        let token: RateToken = decode_token(&offer.token, "offer")?;
        if token.rate_key.is_empty() {
            return Err(SupplierError::invalid("the offer token has no rate key"));
        }
        Ok(token)
    }

    /// §Search: only `BOOKABLE` rates may be booked directly; anything else is checked first.
    fn needs_checkrates(&self) -> bool {
        self.rate_type != "BOOKABLE"
    }
}

impl Connector for Hotelbeds {
    fn protocol(&self) -> Protocol {
        Protocol::Hotelbeds
    }

    fn build(&self, call: &Call, cx: &CallContext<'_>) -> SupplierResult<WireRequest> {
        let req = match call {
            Call::Search { query } => search_request(query)?,
            Call::Content { hotels } => content_request(hotels)?,
            Call::Recheck { offer } | Call::Prepare { offer, .. } => {
                let token = RateToken::read(offer)?;
                let body = CheckRatesRq {
                    rooms: [RateKeyRq {
                        rate_key: &token.rate_key,
                    }],
                    language: LANGUAGE,
                };
                WireRequest::new(Method::Post, CHECKRATES).json_body(encode(&body)?)
            }
            Call::Book {
                offer,
                book,
                prepared,
            } => book_request(offer, book, prepared.as_ref())?,
            Call::Retrieve { booking } => {
                WireRequest::new(Method::Get, format!("{BOOKINGS}/{}", reference(booking)?))
            }
            Call::Find {
                client_reference, ..
            } => {
                if client_reference.is_empty() {
                    return Err(SupplierError::invalid("no client reference to look up"));
                }
                let path = format!(
                    "{BOOKINGS}?clientReference={}&from=1&to=25",
                    json_util::pct(client_reference)
                );
                WireRequest::new(Method::Get, path)
            }
            Call::Cancel { booking, .. } => {
                let path = format!(
                    "{BOOKINGS}/{}?cancellationFlag=CANCELLATION",
                    reference(booking)?
                );
                WireRequest::new(Method::Delete, path)
            }
            Call::Token | Call::CancelQuote { .. } => {
                return Err(SupplierError::invalid(format!(
                    "hotelbeds has no {} call",
                    call.op()
                )))
            }
        };
        let req = req.header("Accept", "application/json");
        let Credentials { key, secret, .. } = &self.credentials;
        Ok(json_util::authorize(req, &self.credentials, cx, |r| {
            r.header("Api-key", key.as_str())
                .header("X-Signature", auth::sha256_signature(key, secret, cx.now))
        }))
    }

    fn parse(&self, call: &Call, resp: &WireResponse) -> SupplierResult<Reply> {
        match self.parse_reply(call, resp) {
            // §Errors: "No availability" at checkrates is an answer to a re-check, not a failure.
            Err(e) if e.class == ErrorClass::SoldOut && matches!(call, Call::Recheck { .. }) => {
                Ok(Reply::Recheck {
                    outcome: sold_out(),
                })
            }
            Err(e) => already_cancelled(call, e),
            ok => ok,
        }
    }

    fn supports(&self, query: &SearchQuery) -> bool {
        let shape_ok = query
            .rooms
            .first()
            .is_some_and(|first| query.rooms.iter().all(|r| same_shape(r, first)));
        shape_ok
            && (1..=MAX_HOTELS).contains(&query.hotels.len())
            && query.hotels.iter().all(|h| is_digits(h))
            && (1..=MAX_NIGHTS).contains(&query.stay.nights())
    }

    /// A `RECHECK` rate that has not been through checkrates needs `Prepare` (§Book: booking it
    /// directly fails with `PRODUCT_ERROR` price changed). A garbled token also answers
    /// `Prepare`, whose build then reports it.
    fn book_prelude(&self, offer: &OfferKey) -> BookPrelude {
        match RateToken::read(offer) {
            Ok(token) if !token.needs_checkrates() => BookPrelude::None,
            _ => BookPrelude::Prepare,
        }
    }
}

impl Hotelbeds {
    fn parse_reply(&self, call: &Call, resp: &WireResponse) -> SupplierResult<Reply> {
        if !resp.is_success() {
            return Err(self.http_error(resp));
        }
        match call {
            Call::Search { query } => {
                let rs: AvailabilityRs = self.body(resp, "availability response")?;
                let hotels = rs
                    .hotels
                    .hotels
                    .into_iter()
                    .map(|h| hotel_offers(h, query))
                    .collect::<Result<_, _>>()?;
                Ok(Reply::Search { hotels })
            }
            Call::Content { .. } => {
                let rs: ContentRs = self.body(resp, "content response")?;
                Ok(Reply::Content {
                    hotels: rs.hotels.into_iter().map(hotel_content).collect(),
                })
            }
            Call::Recheck { offer } => {
                let rs: CheckRatesRs = self.body(resp, "checkrates response")?;
                Ok(Reply::Recheck {
                    outcome: recheck_outcome(rs, offer)?,
                })
            }
            Call::Prepare { offer, .. } => {
                let rs: CheckRatesRs = self.body(resp, "checkrates response")?;
                let Some((price, rate_key)) = live_rate(rs, &offer.room)? else {
                    return Err(SupplierError::new(
                        ErrorClass::SoldOut,
                        "",
                        "checkrates returned no rate",
                    ));
                };
                if price != offer.price {
                    return Err(price_changed(&price));
                }
                Ok(Reply::Prepared {
                    prepared: Prepared {
                        handle: rate_key,
                        price,
                        expires_at: None,
                    },
                })
            }
            Call::Book { book, .. } => {
                let rs: BookingRs = self.body(resp, "booking response")?;
                booking_reply(rs.booking, &book.client_reference)
            }
            Call::Retrieve { booking } | Call::Cancel { booking, .. } => {
                let rs: BookingRs = self.body(resp, "booking response")?;
                booking_reply(rs.booking, &booking.client_reference)
            }
            Call::Find {
                client_reference, ..
            } => {
                let rs: BookingListRs = self.body(resp, "booking list response")?;
                let found = rs.bookings.bookings.into_iter().find(|b| {
                    b.client_reference
                        .as_deref()
                        .is_none_or(|r| r.eq_ignore_ascii_case(client_reference))
                });
                Ok(Reply::Booking {
                    booking: found
                        .map(|b| booking_info(b, client_reference))
                        .transpose()?,
                })
            }
            Call::Token | Call::CancelQuote { .. } => Err(SupplierError::invalid(format!(
                "hotelbeds has no {} call",
                call.op()
            ))),
        }
    }

    /// Decodes a success body; a body that is instead an error envelope is classified as one.
    fn body<T: DeserializeOwned>(&self, resp: &WireResponse, what: &str) -> SupplierResult<T> {
        decode(&resp.body, what).map_err(|malformed| {
            match serde_json::from_slice::<ErrorRs>(&resp.body) {
                Ok(rs) => self.coded_error(resp.status, rs.error),
                Err(_) => malformed,
            }
        })
    }

    /// A non-2xx answer (§Auth failures, §Errors).
    fn http_error(&self, resp: &WireResponse) -> SupplierError {
        let status = resp.status;
        let text = String::from_utf8_lossy(&resp.body);
        let over_qps = text.to_ascii_lowercase().contains("over qps")
            || resp
                .get_header("X-Rate-Limit-Error")
                .is_some_and(|v| v.eq_ignore_ascii_case("over_qps"));
        match status {
            401 => {
                return SupplierError::new(
                    ErrorClass::AuthFailed,
                    "401",
                    "signature or timestamp rejected",
                )
            }
            403 if over_qps => {
                return SupplierError::new(ErrorClass::RateLimited, "403", "Developer Over Qps")
            }
            403 => {
                return SupplierError::new(
                    ErrorClass::AuthFailed,
                    "403",
                    clean_message(&text, &self.credentials),
                )
            }
            _ => {}
        }
        match serde_json::from_slice::<ErrorRs>(&resp.body) {
            Ok(rs) => self.coded_error(status, rs.error),
            Err(_) if matches!(status, 404 | 429 | 500..=599) => by_status(
                status,
                &format!("HTTP {status} without a Hotelbeds error body"),
            ),
            Err(_) => {
                SupplierError::malformed(format!("HTTP {status} without a Hotelbeds error body"))
            }
        }
    }

    /// §Errors: match on the code prefix before the first `-`, then on the message.
    fn coded_error(&self, status: u16, detail: ErrorDetail) -> SupplierError {
        let prefix = detail.code.split('-').next().unwrap_or_default();
        let message = clean_message(&detail.message, &self.credentials);
        let lower = message.to_ascii_lowercase();
        let class = match prefix {
            "INVALID_REQUEST" => ErrorClass::InvalidRequest,
            "INVALID_DATA" if lower.contains("ratekey") => ErrorClass::RateExpired,
            "INVALID_DATA" if lower.contains("already cancel") => ErrorClass::InvalidRequest,
            "INVALID_DATA" if lower.contains("booking") => ErrorClass::NotFound,
            "INVALID_DATA" => ErrorClass::InvalidRequest,
            "PRODUCT_ERROR" if lower.contains("price changed") => ErrorClass::PriceChanged,
            "PRODUCT_ERROR" if lower.contains("no availability") => ErrorClass::SoldOut,
            "SYSTEM_ERROR" => ErrorClass::SupplierUnavailable,
            _ => by_status(status, "").class,
        };
        let code = clean_message(&detail.code, &self.credentials);
        SupplierError::new(
            class,
            code,
            if message.is_empty() {
                format!("HTTP {status}")
            } else {
                message
            },
        )
    }
}

/// §Cancel: cancelling a cancelled booking is `INVALID_DATA`; for a cancel that means the
/// booking is cancelled, which is what the caller wanted.
fn already_cancelled(call: &Call, e: SupplierError) -> SupplierResult<Reply> {
    match call {
        Call::Cancel { booking, .. }
            if e.code.starts_with("INVALID_DATA")
                && e.message.to_ascii_lowercase().contains("already cancel") =>
        {
            Ok(Reply::Booking {
                booking: Some(BookingInfo {
                    key: booking.clone(),
                    status: BookingStatus::Cancelled,
                    price: None,
                    hotel_code: None,
                    stay: None,
                    penalty: None,
                    cancellation_reference: None,
                }),
            })
        }
        _ => Err(e),
    }
}

/// Classes for answers that carry no recognised Hotelbeds code (README "Unified error classes").
fn by_status(status: u16, message: &str) -> SupplierError {
    let class = match status {
        401 | 403 => ErrorClass::AuthFailed,
        404 => ErrorClass::NotFound,
        429 => ErrorClass::RateLimited,
        400..=499 => ErrorClass::InvalidRequest,
        500..=599 => ErrorClass::SupplierUnavailable,
        _ => ErrorClass::SupplierMalformed,
    };
    SupplierError::new(class, status.to_string(), message)
}

fn price_changed(price: &Money) -> SupplierError {
    SupplierError::new(
        ErrorClass::PriceChanged,
        "",
        format!("the rate now costs {} {}", price.amount, price.currency),
    )
}

fn sold_out() -> RecheckOutcome {
    RecheckOutcome {
        status: RecheckStatus::SoldOut,
        price: None,
        key: None,
        expires_at: None,
    }
}

fn same_shape(a: &Occupancy, b: &Occupancy) -> bool {
    let sorted = |o: &Occupancy| {
        let mut ages = o.children_ages.clone();
        ages.sort_unstable();
        ages
    };
    a.adults == b.adults && sorted(a) == sorted(b)
}

/// §Search. Hotelbeds prices an occupancy entry for `rooms` identical rooms, so a search is one
/// entry (see [`Hotelbeds::supports`]); child ages are listed once per room.
fn search_request(query: &SearchQuery) -> SupplierResult<WireRequest> {
    let Some(first) = query.rooms.first() else {
        return Err(SupplierError::invalid("a search needs at least one room"));
    };
    if !query.rooms.iter().all(|r| same_shape(r, first)) {
        return Err(SupplierError::invalid(
            "hotelbeds prices one occupancy shape for all rooms",
        ));
    }
    let paxes = query
        .rooms
        .iter()
        .flat_map(|r| {
            r.children_ages
                .iter()
                .map(|&age| ChildPaxRq { kind: "CH", age })
        })
        .collect();
    let body = AvailabilityRq {
        stay: StayRq {
            check_in: query.stay.checkin,
            check_out: query.stay.checkout,
        },
        occupancies: vec![OccupancyRq {
            rooms: query.rooms.len(),
            adults: first.adults,
            children: first.children_ages.len(),
            paxes,
        }],
        hotels: HotelsRq {
            hotel: hotel_codes(&query.hotels)?,
        },
        currency: &query.currency,
        language: LANGUAGE,
    };
    Ok(WireRequest::new(Method::Post, AVAILABILITY).json_body(encode(&body)?))
}

fn hotel_codes(hotels: &[String]) -> SupplierResult<Vec<u64>> {
    if hotels.is_empty() || hotels.len() > MAX_HOTELS {
        return Err(SupplierError::invalid(format!(
            "hotelbeds searches 1 to {MAX_HOTELS} hotels"
        )));
    }
    hotels
        .iter()
        .map(|h| {
            h.parse().map_err(|_| {
                SupplierError::invalid(format!("hotelbeds hotel codes are integers, not {h:?}"))
            })
        })
        .collect()
}

/// §Content: `GET hotels?codes=…&fields=all&language=ENG`.
fn content_request(hotels: &[String]) -> SupplierResult<WireRequest> {
    let codes = hotel_codes(hotels)?
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    Ok(WireRequest::new(
        Method::Get,
        format!("{CONTENT}?codes={codes}&fields=all&language={LANGUAGE}"),
    ))
}

/// §Book. The rate key is the prepared one (checkrates may issue a new key) or the offer's.
fn book_request(
    offer: &OfferKey,
    book: &BookInput,
    prepared: Option<&Prepared>,
) -> SupplierResult<WireRequest> {
    let token;
    let rate_key = match prepared {
        Some(p) if !p.handle.is_empty() => p.handle.as_str(),
        _ => {
            token = RateToken::read(offer)?;
            token.rate_key.as_str()
        }
    };
    let Some(holder) = book.guests.first() else {
        return Err(SupplierError::invalid("a booking needs at least one guest"));
    };
    let body = BookingRq {
        holder: HolderRq {
            name: &holder.first_name,
            surname: &holder.last_name,
        },
        rooms: [BookRoomRq {
            rate_key,
            paxes: paxes(&book.guests, &offer.rooms)?,
        }],
        client_reference: &book.client_reference,
        remark: "",
        tolerance: 0,
    };
    Ok(WireRequest::new(Method::Post, BOOKINGS).json_body(encode(&body)?))
}

/// Places the guests in the booked rooms: first one adult per room, then the remaining adult
/// places room by room, then the children (`CH` with the searched age). A room left without a
/// named guest gets the holder, as Hotelbeds wants every room named. More guests than places is
/// our error: the rate key fixes the occupancy.
fn paxes<'a>(guests: &'a [Guest], rooms: &[Occupancy]) -> SupplierResult<Vec<PaxRq<'a>>> {
    let leads = rooms
        .iter()
        .enumerate()
        .filter(|(_, r)| r.adults > 0)
        .map(|(i, _)| (i + 1, None));
    let other_adults = rooms
        .iter()
        .enumerate()
        .flat_map(|(i, r)| (1..r.adults).map(move |_| (i + 1, None::<u8>)));
    let children = rooms
        .iter()
        .enumerate()
        .flat_map(|(i, r)| r.children_ages.iter().map(move |&a| (i + 1, Some(a))));
    let places: Vec<(usize, Option<u8>)> = leads.chain(other_adults).chain(children).collect();
    if guests.len() > places.len() {
        return Err(SupplierError::invalid(format!(
            "{} guests do not fit the offer's occupancy of {}",
            guests.len(),
            places.len()
        )));
    }
    let pax = |room_id, age: Option<u8>, g: &'a Guest| PaxRq {
        room_id,
        kind: if age.is_some() { "CH" } else { "AD" },
        age,
        name: &g.first_name,
        surname: &g.last_name,
    };
    let mut out: Vec<PaxRq<'a>> = guests
        .iter()
        .zip(&places)
        .map(|(g, &(room, age))| pax(room, age, g))
        .collect();
    if let Some(holder) = guests.first() {
        for room in 1..=rooms.len() {
            if !out.iter().any(|p| p.room_id == room) {
                out.push(pax(room, None, holder));
            }
        }
    }
    out.sort_by_key(|p| p.room_id);
    Ok(out)
}

fn reference(booking: &BookingKey) -> SupplierResult<String> {
    if booking.supplier_reference.is_empty() {
        return Err(SupplierError::invalid(
            "the booking has no hotelbeds reference",
        ));
    }
    Ok(json_util::pct(&booking.supplier_reference))
}

fn hotel_offers(hotel: Hotel, query: &SearchQuery) -> SupplierResult<HotelOffers> {
    let mut offers = Vec::new();
    for room in &hotel.rooms {
        for rate in &room.rates {
            if let Some(offer) = offer(&hotel, room, rate, query)? {
                offers.push(offer);
            }
        }
    }
    Ok(HotelOffers {
        hotel_code: hotel.code.0,
        hotel_name: hotel.name,
        offers,
    })
}

/// One rate as a unified offer (§Search): `net` is the price; taxes with `"included":false`
/// are pay-at-hotel fees. A rate with a board we cannot name is left out rather than mislabelled.
fn offer(
    hotel: &Hotel,
    room: &Room,
    rate: &Rate,
    query: &SearchQuery,
) -> SupplierResult<Option<SupplierOffer>> {
    let Some(board) = board(&rate.board_code) else {
        return Ok(None);
    };
    let currency = hotel.currency.as_str();
    let price = Money::new(rate.net.non_negative("net")?, currency);
    // `net` includes every tax not marked `"included":false`; those are paid at the hotel. A
    // rate without a `taxes` object says nothing about charges at the hotel.
    let pay_at_hotel_listed = rate.taxes.is_some();
    let pay_at_hotel = rate
        .taxes
        .iter()
        .flat_map(|t| &t.taxes)
        .filter(|t| !t.included)
        .map(|t| {
            Ok(Fee {
                name: t
                    .sub_type
                    .clone()
                    .or_else(|| t.kind.clone())
                    .unwrap_or_else(|| "Tax".to_string()),
                amount: Money::new(
                    t.amount.non_negative("tax amount")?,
                    t.currency.as_deref().unwrap_or(currency),
                ),
            })
        })
        .collect::<SupplierResult<_>>()?;
    let rate_code = rate_name(&rate.rate_key)
        .unwrap_or_else(|| format!("{}-{}", rate.rate_class, rate.board_code));
    let token = RateToken {
        rate_key: rate.rate_key.clone(),
        rate_type: rate.rate_type.clone(),
    };
    Ok(Some(SupplierOffer {
        room_code: room.code.clone(),
        room_name: room.name.clone(),
        rate_code: rate_code.clone(),
        rate_name: rate.board_name.clone().unwrap_or_else(|| rate_code.clone()),
        board,
        refundable: rate.rate_class == "NOR",
        cancel_penalties: penalties(&rate.cancellation_policies, currency)?,
        price: price.clone(),
        taxes_included: true,
        pay_at_hotel,
        pay_at_hotel_listed,
        allotment: rate.allotment,
        key: OfferKey {
            hotel: hotel.code.0.clone(),
            room: room.code.clone(),
            rate: rate_code,
            stay: query.stay,
            rooms: query.rooms.clone(),
            price,
            token: encode_token(&token),
        },
    }))
}

/// The rate name inside a rate key (§Search: `checkin|checkout|W|contract|hotel|room|rateName|…`).
fn rate_name(rate_key: &str) -> Option<String> {
    let name = rate_key.split('|').nth(6)?.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// Board codes (§Search `boardCode`); `SC` (self catering) serves no meals.
fn board(code: &str) -> Option<Board> {
    Some(match code {
        "RO" | "SC" => Board::RoomOnly,
        "BB" => Board::Breakfast,
        "HB" => Board::HalfBoard,
        "FB" => Board::FullBoard,
        "AI" => Board::AllInclusive,
        _ => return None,
    })
}

fn penalties(policies: &[CancellationPolicy], currency: &str) -> SupplierResult<Vec<Penalty>> {
    policies
        .iter()
        .map(|p| {
            Ok(Penalty {
                from: json_util::cancel_time(&p.from, "cancellationPolicies.from")?,
                amount: Money::new(p.amount.non_negative("cancellation amount")?, currency),
            })
        })
        .collect()
}

/// The live price and rate key in a checkrates answer: the offer's room if present, else the
/// first room (one rate key per checkrates call). `None` when no rate came back.
fn live_rate(rs: CheckRatesRs, room: &str) -> SupplierResult<Option<(Money, String)>> {
    let hotel = rs.hotel;
    let chosen = hotel
        .rooms
        .iter()
        .find(|r| r.code == room)
        .or(hotel.rooms.first());
    let Some(rate) = chosen.and_then(|r| r.rates.first()) else {
        return Ok(None);
    };
    if rate.rate_key.is_empty() {
        return Err(SupplierError::malformed(
            "checkrates rate without a rateKey",
        ));
    }
    Ok(Some((
        Money::new(rate.net.non_negative("net")?, hotel.currency.as_str()),
        rate.rate_key.clone(),
    )))
}

/// §Recheck: a higher (or lower) `net` is a price change; the returned key is the one to book.
fn recheck_outcome(rs: CheckRatesRs, offer: &OfferKey) -> SupplierResult<RecheckOutcome> {
    let Some((price, rate_key)) = live_rate(rs, &offer.room)? else {
        return Ok(sold_out());
    };
    let status = if price == offer.price {
        RecheckStatus::Available
    } else {
        RecheckStatus::PriceChanged
    };
    let token = RateToken {
        rate_key,
        rate_type: "BOOKABLE".to_string(),
    };
    let key = OfferKey {
        price: price.clone(),
        token: encode_token(&token),
        ..offer.clone()
    };
    Ok(RecheckOutcome {
        status,
        price: Some(price),
        key: Some(key),
        expires_at: None,
    })
}

fn booking_reply(booking: Booking, client_reference: &str) -> SupplierResult<Reply> {
    Ok(Reply::Booking {
        booking: Some(booking_info(booking, client_reference)?),
    })
}

/// A booking object (§Book; retrieve, list and cancel return the same object).
fn booking_info(b: Booking, client_reference: &str) -> SupplierResult<BookingInfo> {
    if b.reference.is_empty() {
        return Err(SupplierError::malformed("booking without a reference"));
    }
    let hotel = b.hotel;
    let currency = b
        .currency
        .or_else(|| hotel.as_ref().and_then(|h| h.currency.clone()));
    let money = |amount: Option<Amount>, what: &str| -> SupplierResult<Option<Money>> {
        match (amount, &currency) {
            (Some(a), Some(c)) => Ok(Some(Money::new(a.non_negative(what)?, c.as_str()))),
            (Some(_), None) => Err(SupplierError::malformed(format!(
                "booking {what} without a currency"
            ))),
            (None, _) => Ok(None),
        }
    };
    let price = money(
        b.total_net
            .or_else(|| hotel.as_ref().and_then(|h| h.total_net)),
        "totalNet",
    )?;
    let penalty = money(
        hotel.as_ref().and_then(|h| h.cancellation_amount),
        "cancellationAmount",
    )?;
    let stay = hotel
        .as_ref()
        .and_then(|h| match (h.check_in, h.check_out) {
            (Some(checkin), Some(checkout)) if checkout > checkin => {
                Some(Stay { checkin, checkout })
            }
            _ => None,
        });
    let client_reference = match (client_reference, b.client_reference) {
        ("", Some(theirs)) => theirs,
        (ours, _) => ours.to_string(),
    };
    Ok(BookingInfo {
        key: BookingKey {
            supplier_reference: b.reference,
            client_reference,
            token: String::new(),
        },
        status: booking_status(&b.status),
        price,
        hotel_code: hotel.as_ref().and_then(|h| h.code.clone()).map(|c| c.0),
        stay,
        penalty,
        cancellation_reference: b
            .cancellation_reference
            .or_else(|| hotel.and_then(|h| h.cancellation_reference))
            .filter(|r| !r.is_empty()),
    })
}

fn booking_status(status: &str) -> BookingStatus {
    match status {
        "CONFIRMED" => BookingStatus::Confirmed,
        "CANCELLED" => BookingStatus::Cancelled,
        "PENDING" | "PRECONFIRMED" => BookingStatus::Pending,
        "ON_REQUEST" | "ONREQUEST" => BookingStatus::OnRequest,
        _ => BookingStatus::Unknown,
    }
}

fn hotel_content(h: ContentHotel) -> HotelContent {
    let text = |t: Option<Text>| t.map(Text::into_string).filter(|s| !s.is_empty());
    let (latitude, longitude) = match h.coordinates {
        Some(c) => (c.latitude.map(|v| v.0), c.longitude.map(|v| v.0)),
        None => (None, None),
    };
    HotelContent {
        code: h.code.0,
        name: h.name.into_string(),
        address: text(h.address),
        city: text(h.city),
        country: h.country_code,
        latitude,
        longitude,
        time_zone: None,
        amenities: h
            .facilities
            .into_iter()
            .filter_map(|f| text(f.description))
            .collect(),
        rooms: h
            .rooms
            .into_iter()
            .map(|r| RoomContent {
                name: text(r.description).unwrap_or_else(|| r.room_code.clone()),
                code: r.room_code,
                max_occupancy: r.max_pax,
            })
            .collect(),
    }
}
