//! `ota-soap`: OpenTravel 2003/05 messages over SOAP 1.1, SynXis/HBSi style (`shared/protocols/ota-soap.md`).
//!
//! Every call is one `POST /ota` whose envelope carries a WS-Security PasswordText UsernameToken
//! and one OTA request; the `SOAPAction` names its root element. Search and recheck are
//! `OTA_HotelAvailRQ`, booking is `OTA_HotelResRQ` Initiate (a ten-minute hold, [`BookPrelude::Prepare`])
//! then Commit, retrieve and reconciliation are `OTA_ReadRQ` by our (Type 16) or the supplier's
//! (Type 10) reference, cancel is `OTA_CancelRQ`, content is `OTA_HotelDescriptiveInfoRQ`.
//! Answers are read into a namespace-aware element tree ([`xml`]) that refuses DTDs; business
//! errors arrive as HTTP 200 `<Errors>` and are classified by code ("Errors" table).
//!
//! The offer key needs no token: (HotelCode, RoomTypeCode, RatePlanCode, dates, guests) is the
//! whole key, so [`OfferKey::token`] stays empty.

mod xml;

#[cfg(test)]
mod tests;

use crate::auth::{wsse_username_token, xml_escape};
use crate::*;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use std::fmt::Write as _;
use xml::Element;

const PATH: &str = "/ota";
const OTA_VERSION: &str = "2.0";
/// How long an Initiate hold lasts ("Book": "holds the room for 10 minutes").
const HOLD_MINUTES: i64 = 10;
/// Longest supplier message copied into an error.
const MAX_MESSAGE: usize = 200;

pub struct OtaSoap {
    credentials: Credentials,
}

impl OtaSoap {
    pub fn new(credentials: Credentials) -> Self {
        OtaSoap { credentials }
    }
}

impl Connector for OtaSoap {
    fn protocol(&self) -> Protocol {
        Protocol::OtaSoap
    }

    fn build(&self, call: &Call, cx: &CallContext<'_>) -> SupplierResult<WireRequest> {
        if self.credentials.mode != AuthMode::Native {
            return Err(SupplierError::invalid(
                "ota-soap supports only its native WS-Security authentication",
            ));
        }
        let (root, attrs, inner) = request_body(call)?;
        let ts = DateTime::from_timestamp(cx.now, 0)
            .ok_or_else(|| SupplierError::invalid("clock value out of range"))?
            .format("%Y-%m-%dT%H:%M:%SZ");
        let echo: String = cx.nonce.chars().take(128).collect();
        let body = format!(
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                r#"<soap-env:Envelope xmlns:soap-env="{soap}"><soap-env:Header>{security}</soap-env:Header>"#,
                r#"<soap-env:Body><{root} xmlns="{ota}" EchoToken="{echo}" TimeStamp="{ts}" Version="{version}"{attrs}>{inner}</{root}>"#,
                r#"</soap-env:Body></soap-env:Envelope>"#
            ),
            soap = xml::SOAP_NS,
            security = wsse_username_token(&self.credentials.key, &self.credentials.secret),
            root = root,
            ota = xml::OTA_NS,
            echo = xml_escape(&echo),
            ts = ts,
            version = OTA_VERSION,
            attrs = attrs,
            inner = inner,
        );
        let mut req = WireRequest::new(Method::Post, PATH)
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("SOAPAction", format!("\"{root}\""));
        req.body = body.into_bytes();
        Ok(req)
    }

    fn parse(&self, call: &Call, resp: &WireResponse) -> SupplierResult<Reply> {
        let doc = match xml::parse(&resp.body) {
            Ok(doc) => doc,
            Err(e) => {
                return Err(status_error(resp.status).unwrap_or_else(|| SupplierError::malformed(e)))
            }
        };
        let rs = match payload(&doc) {
            Some(Payload::Fault(e)) => return Err(e),
            Some(Payload::Rs(rs)) => rs,
            None => {
                return Err(status_error(resp.status).unwrap_or_else(|| {
                    SupplierError::malformed("no OTA message in the SOAP body")
                }))
            }
        };
        if let Some(err) = first_error(rs) {
            return on_error(call, err);
        }
        if !resp.is_success() {
            return Err(status_error(resp.status).unwrap_or_else(|| {
                SupplierError::new(
                    ErrorClass::SupplierMalformed,
                    resp.status.to_string(),
                    "unexpected HTTP status",
                )
            }));
        }
        match call {
            Call::Search { query } => {
                expect_root(rs, &["OTA_HotelAvailRS"])?;
                Ok(Reply::Search {
                    hotels: group_by_hotel(avail_offers(rs, query.stay, &query.rooms, None)?),
                })
            }
            Call::Recheck { offer } => {
                expect_root(rs, &["OTA_HotelAvailRS"])?;
                Ok(Reply::Recheck {
                    outcome: recheck_outcome(rs, offer)?,
                })
            }
            Call::Prepare { offer, .. } => {
                expect_root(rs, &["OTA_HotelResRS"])?;
                Ok(Reply::Prepared {
                    prepared: prepared(rs, offer)?,
                })
            }
            Call::Book { offer, book, .. } => {
                expect_root(rs, &["OTA_HotelResRS"])?;
                let res = reservation(rs)
                    .ok_or_else(|| SupplierError::malformed("no HotelReservation in the answer"))?;
                let fallback = Fallback {
                    client_reference: &book.client_reference,
                    hotel: Some(&offer.hotel),
                    stay: Some(offer.stay),
                    ..Fallback::default()
                };
                Ok(Reply::Booking {
                    booking: Some(booking_info(rs, res, &fallback)?),
                })
            }
            Call::Retrieve { booking } => {
                expect_root(rs, &["OTA_HotelResRS", "OTA_ResRetrieveRS"])?;
                let res = reservation(rs).ok_or_else(|| {
                    SupplierError::new(ErrorClass::NotFound, "", "no such reservation")
                })?;
                let fallback = Fallback {
                    supplier_reference: &booking.supplier_reference,
                    client_reference: &booking.client_reference,
                    token: &booking.token,
                    ..Fallback::default()
                };
                Ok(Reply::Booking {
                    booking: Some(booking_info(rs, res, &fallback)?),
                })
            }
            Call::Find {
                client_reference,
                offer,
                ..
            } => {
                expect_root(rs, &["OTA_HotelResRS", "OTA_ResRetrieveRS"])?;
                let Some(res) = reservation(rs) else {
                    return Ok(Reply::Booking { booking: None });
                };
                let fallback = Fallback {
                    client_reference,
                    hotel: Some(&offer.hotel),
                    stay: Some(offer.stay),
                    ..Fallback::default()
                };
                Ok(Reply::Booking {
                    booking: Some(booking_info(rs, res, &fallback)?),
                })
            }
            Call::Cancel { booking, .. } => {
                expect_root(rs, &["OTA_CancelRS"])?;
                Ok(Reply::Booking {
                    booking: Some(cancel_info(rs, booking)?),
                })
            }
            Call::Content { .. } => {
                expect_root(rs, &["OTA_HotelDescriptiveInfoRS"])?;
                Ok(Reply::Content {
                    hotels: content(rs)?,
                })
            }
            Call::Token | Call::CancelQuote { .. } => Err(SupplierError::invalid(format!(
                "ota-soap has no {} call",
                call.op()
            ))),
        }
    }

    fn book_prelude(&self, _offer: &OfferKey) -> BookPrelude {
        BookPrelude::Prepare
    }

    /// An offer quoted with `AmountBeforeTax` alone carries [`BEFORE_TAX`] in its key.
    fn taxes_included(&self, offer: &OfferKey) -> bool {
        offer.token != BEFORE_TAX
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

/// Root element name, extra root attributes and inner XML of the OTA request for `call`.
fn request_body(call: &Call) -> SupplierResult<(&'static str, String, String)> {
    match call {
        Call::Search { query } => {
            check_stay(query.stay)?;
            if query.hotels.is_empty() {
                return Err(SupplierError::invalid("a search needs at least one hotel"));
            }
            let refs: String = query
                .hotels
                .iter()
                .map(|h| format!(r#"<HotelRef HotelCode="{}"/>"#, xml_escape(h)))
                .collect();
            Ok((
                "OTA_HotelAvailRQ",
                r#" AvailRatesOnly="true""#.into(),
                avail_segment(&refs, query.stay, &query.rooms, None)?,
            ))
        }
        Call::Recheck { offer } => {
            check_stay(offer.stay)?;
            let refs = format!(r#"<HotelRef HotelCode="{}"/>"#, xml_escape(&offer.hotel));
            let inner = avail_segment(
                &refs,
                offer.stay,
                &offer.rooms,
                Some((&offer.room, &offer.rate)),
            )?;
            Ok((
                "OTA_HotelAvailRQ",
                r#" AvailRatesOnly="true""#.into(),
                inner,
            ))
        }
        Call::Prepare { offer, book } => Ok((
            "OTA_HotelResRQ",
            r#" ResStatus="Initiate""#.into(),
            reservation_request(offer, book, None)?,
        )),
        Call::Book {
            offer,
            book,
            prepared,
        } => {
            let hold = prepared
                .as_ref()
                .map(|p| p.handle.as_str())
                .filter(|h| !h.is_empty())
                .ok_or_else(|| {
                    SupplierError::invalid("an OTA Commit needs the hold id of its Initiate")
                })?;
            if let Some(confirmation) = hold.strip_prefix(ALREADY_BOOKED) {
                return Ok((
                    "OTA_ReadRQ",
                    String::new(),
                    read_request("10", confirmation),
                ));
            }
            Ok((
                "OTA_HotelResRQ",
                r#" ResStatus="Commit""#.into(),
                reservation_request(offer, book, Some(hold))?,
            ))
        }
        Call::Retrieve { booking } => {
            if booking.supplier_reference.is_empty() {
                return Err(SupplierError::invalid(
                    "retrieve needs the supplier reference",
                ));
            }
            Ok((
                "OTA_ReadRQ",
                String::new(),
                read_request("10", &booking.supplier_reference),
            ))
        }
        Call::Find {
            client_reference, ..
        } => {
            if client_reference.is_empty() {
                return Err(SupplierError::invalid("find needs our client reference"));
            }
            Ok((
                "OTA_ReadRQ",
                String::new(),
                read_request("16", client_reference),
            ))
        }
        Call::Cancel { booking, .. } => {
            if booking.supplier_reference.is_empty() {
                return Err(SupplierError::invalid(
                    "cancel needs the supplier reference",
                ));
            }
            let inner = format!(
                r#"<UniqueID Type="10" ID="{}"/>"#,
                xml_escape(&booking.supplier_reference)
            );
            Ok(("OTA_CancelRQ", r#" CancelType="Cancel""#.into(), inner))
        }
        Call::Content { hotels } => {
            // "Simplifications": one hotel per descriptive-info request.
            let hotel = hotels
                .first()
                .ok_or_else(|| SupplierError::invalid("content needs a hotel code"))?;
            let inner = format!(
                r#"<HotelDescriptiveInfos><HotelDescriptiveInfo HotelCode="{}"/></HotelDescriptiveInfos>"#,
                xml_escape(hotel)
            );
            Ok(("OTA_HotelDescriptiveInfoRQ", String::new(), inner))
        }
        Call::Token | Call::CancelQuote { .. } => Err(SupplierError::invalid(format!(
            "ota-soap has no {} call",
            call.op()
        ))),
    }
}

fn check_stay(stay: Stay) -> SupplierResult<()> {
    if stay.checkout <= stay.checkin {
        return Err(SupplierError::invalid("checkout must be after checkin"));
    }
    Ok(())
}

/// One `AvailRequestSegment`: one `RoomStayCandidate` (Quantity 1) per requested room; a recheck
/// adds the room type and rate plan candidates ("Search and recheck").
fn avail_segment(
    hotel_refs: &str,
    stay: Stay,
    rooms: &[Occupancy],
    only: Option<(&str, &str)>,
) -> SupplierResult<String> {
    if rooms.is_empty() {
        return Err(SupplierError::invalid("at least one room is required"));
    }
    let mut s = String::from(r#"<AvailRequestSegments><AvailRequestSegment AvailReqType="Room">"#);
    let _ = write!(
        s,
        "<HotelSearchCriteria><Criterion>{hotel_refs}</Criterion></HotelSearchCriteria>"
    );
    let _ = write!(
        s,
        r#"<StayDateRange Start="{}" End="{}"/>"#,
        stay.checkin, stay.checkout
    );
    s.push_str("<RoomStayCandidates>");
    for room in rooms {
        let _ = write!(
            s,
            r#"<RoomStayCandidate Quantity="1">{}</RoomStayCandidate>"#,
            guest_counts(std::slice::from_ref(room))
        );
    }
    s.push_str("</RoomStayCandidates>");
    if let Some((room, rate)) = only {
        let _ = write!(
            s,
            r#"<RoomTypeCandidates><RoomTypeCandidate RoomTypeCode="{}"/></RoomTypeCandidates>"#,
            xml_escape(room)
        );
        let _ = write!(
            s,
            r#"<RatePlanCandidates><RatePlanCandidate RatePlanCode="{}"/></RatePlanCandidates>"#,
            xml_escape(rate)
        );
    }
    s.push_str("</AvailRequestSegment></AvailRequestSegments>");
    Ok(s)
}

/// `GuestCounts` for the given rooms: adults (AgeQualifyingCode 10) summed, one entry per child
/// (code 8) with its age.
fn guest_counts(rooms: &[Occupancy]) -> String {
    let adults: u32 = rooms.iter().map(|r| u32::from(r.adults)).sum();
    let mut s = format!(r#"<GuestCounts><GuestCount AgeQualifyingCode="10" Count="{adults}"/>"#);
    for age in rooms.iter().flat_map(|r| r.children_ages.iter()) {
        let _ = write!(
            s,
            r#"<GuestCount AgeQualifyingCode="8" Age="{age}" Count="1"/>"#
        );
    }
    s.push_str("</GuestCounts>");
    s
}

/// The body of `OTA_HotelResRQ`: Initiate when `hold` is None, Commit of that hold otherwise.
/// All rooms go into one `RoomStay` with `NumberOfUnits` = room count; `Total` is the price the
/// agent was shown (the supplier answers Error 189 when it differs).
fn reservation_request(
    offer: &OfferKey,
    book: &BookInput,
    hold: Option<&str>,
) -> SupplierResult<String> {
    check_stay(offer.stay)?;
    if offer.rooms.is_empty() {
        return Err(SupplierError::invalid("at least one room is required"));
    }
    if book.guests.is_empty() {
        return Err(SupplierError::invalid("at least one guest is required"));
    }
    if book.client_reference.is_empty() {
        return Err(SupplierError::invalid("a client reference is required"));
    }
    let mut s = format!(
        r#"<UniqueID Type="16" ID="{}"/>"#,
        xml_escape(&book.client_reference)
    );
    if let Some(hold) = hold {
        let _ = write!(s, r#"<UniqueID Type="14" ID="{}"/>"#, xml_escape(hold));
    }
    s.push_str("<HotelReservations><HotelReservation><RoomStays><RoomStay>");
    let _ = write!(
        s,
        r#"<RoomTypes><RoomType RoomTypeCode="{}" NumberOfUnits="{}"/></RoomTypes>"#,
        xml_escape(&offer.room),
        offer.rooms.len()
    );
    let _ = write!(
        s,
        r#"<RatePlans><RatePlan RatePlanCode="{}"/></RatePlans>"#,
        xml_escape(&offer.rate)
    );
    s.push_str(&guest_counts(&offer.rooms));
    let _ = write!(
        s,
        r#"<TimeSpan Start="{}" End="{}"/>"#,
        offer.stay.checkin, offer.stay.checkout
    );
    // An offer quoted before tax (no tax given) is booked at that figure (`avail_offers`).
    let _ = write!(
        s,
        r#"<Total {}="{}" CurrencyCode="{}"/>"#,
        if offer.token == BEFORE_TAX {
            "AmountBeforeTax"
        } else {
            "AmountAfterTax"
        },
        offer.price.amount,
        xml_escape(&offer.price.currency)
    );
    let _ = write!(
        s,
        r#"<BasicPropertyInfo HotelCode="{}"/>"#,
        xml_escape(&offer.hotel)
    );
    s.push_str("</RoomStay></RoomStays><ResGuests>");
    for g in &book.guests {
        let _ = write!(
            s,
            "<ResGuest><Profiles><ProfileInfo><Profile><Customer><PersonName><GivenName>{}</GivenName><Surname>{}</Surname></PersonName></Customer></Profile></ProfileInfo></Profiles></ResGuest>",
            xml_escape(&g.first_name),
            xml_escape(&g.last_name)
        );
    }
    s.push_str("</ResGuests></HotelReservation></HotelReservations>");
    Ok(s)
}

fn read_request(id_type: &str, id: &str) -> String {
    format!(
        r#"<ReadRequests><ReadRequest><UniqueID Type="{id_type}" ID="{}"/></ReadRequest></ReadRequests>"#,
        xml_escape(id)
    )
}

// ---------------------------------------------------------------------------------------------
// Answers: envelope, faults, errors

enum Payload<'a> {
    Fault(SupplierError),
    Rs(&'a Element),
}

/// The OTA message inside the SOAP body, or the body's Fault. A bare OTA root (no envelope) is
/// accepted too.
fn payload(doc: &Element) -> Option<Payload<'_>> {
    if doc.is_soap("Envelope") {
        let body = doc.children.iter().find(|c| c.is_soap("Body"))?;
        let first = body.first_element()?;
        if first.is_soap("Fault") {
            return Some(Payload::Fault(fault_error(first)));
        }
        return is_ota_message(first).then_some(Payload::Rs(first));
    }
    is_ota_message(doc).then_some(Payload::Rs(doc))
}

fn is_ota_message(el: &Element) -> bool {
    el.name.starts_with("OTA_") && el.is_ota(&el.name)
}

/// SOAP 1.1 Fault: `faultcode` `*:Client…` → invalid_request, `*:Server…` → supplier_unavailable
/// ("Errors", last paragraph).
fn fault_error(fault: &Element) -> SupplierError {
    let code = fault
        .child_any_ns("faultcode")
        .map(|c| c.text.trim().to_string())
        .unwrap_or_default();
    let message = fault
        .child_any_ns("faultstring")
        .map(|c| bounded(&c.text))
        .unwrap_or_default();
    let local = code.rsplit(':').next().unwrap_or_default();
    let class = match local.split('.').next().unwrap_or_default() {
        "Server" | "Receiver" => ErrorClass::SupplierUnavailable,
        _ => ErrorClass::InvalidRequest,
    };
    SupplierError::new(class, code, format!("SOAP fault: {message}"))
}

struct OtaError {
    code: String,
    kind: Option<String>,
    message: String,
}

fn first_error(rs: &Element) -> Option<OtaError> {
    let err = rs.path(&["Errors", "Error"])?;
    Some(OtaError {
        code: err.attr("Code").unwrap_or_default().trim().to_string(),
        kind: err.attr("Type").map(|t| t.trim().to_string()),
        message: bounded(
            err.attr("ShortText")
                .filter(|t| !t.trim().is_empty())
                .unwrap_or(&err.text),
        ),
    })
}

/// The "Errors" table; codes it does not list are classified by their OTA error type (EWT).
fn error_class(code: &str, kind: Option<&str>) -> ErrorClass {
    match code {
        "320" | "321" | "95" => ErrorClass::InvalidRequest,
        "497" => ErrorClass::AuthFailed,
        "450" => ErrorClass::RateLimited,
        "392" | "245" => ErrorClass::NotFound,
        "322" => ErrorClass::SoldOut,
        "189" => ErrorClass::PriceChanged,
        "436" => ErrorClass::RateExpired,
        "448" => ErrorClass::SupplierUnavailable,
        _ => match kind {
            Some("4" | "5" | "6") => ErrorClass::AuthFailed,
            Some("1" | "12" | "13") => ErrorClass::SupplierUnavailable,
            _ => ErrorClass::InvalidRequest,
        },
    }
}

/// An `<Errors>` answer: an error for most calls, but "no availability" at recheck is a sold-out
/// outcome, at search an empty result, and "booking not found" at reconciliation means no booking.
fn on_error(call: &Call, err: OtaError) -> SupplierResult<Reply> {
    let class = error_class(&err.code, err.kind.as_deref());
    match (call, class) {
        (Call::Recheck { .. }, ErrorClass::SoldOut) => Ok(Reply::Recheck {
            outcome: sold_out(),
        }),
        (Call::Search { .. }, ErrorClass::SoldOut) => Ok(Reply::Search { hotels: Vec::new() }),
        (Call::Find { .. }, ErrorClass::NotFound) if err.code == "245" => {
            Ok(Reply::Booking { booking: None })
        }
        _ => Err(SupplierError::new(class, err.code, err.message)),
    }
}

/// The class of an HTTP status that carries no readable OTA answer; None for 2xx.
fn status_error(status: u16) -> Option<SupplierError> {
    let class = match status {
        200..=299 => return None,
        401 | 403 => ErrorClass::AuthFailed,
        429 => ErrorClass::RateLimited,
        500..=599 => ErrorClass::SupplierUnavailable,
        400..=499 => ErrorClass::InvalidRequest,
        _ => ErrorClass::SupplierMalformed,
    };
    Some(SupplierError::new(
        class,
        status.to_string(),
        format!("HTTP {status} without an OTA answer"),
    ))
}

fn expect_root(rs: &Element, names: &[&str]) -> SupplierResult<()> {
    if names.contains(&rs.name.as_str()) {
        Ok(())
    } else {
        Err(SupplierError::malformed(format!(
            "expected {} but got {}",
            names.join(" or "),
            bounded(&rs.name)
        )))
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

fn malformed_attr(el: &Element, attr: &str) -> SupplierError {
    SupplierError::malformed(format!("{}@{} missing or invalid", el.name, attr))
}

fn required<'a>(el: &'a Element, attr: &str) -> SupplierResult<&'a str> {
    el.attr_nonempty(attr)
        .ok_or_else(|| malformed_attr(el, attr))
}

/// A non-negative decimal attribute; an integer with `DecimalPlaces="n"` is scaled by 10^-n
/// (OTA `CurrencyAmountGroup`).
fn amount(el: &Element, attr: &str) -> SupplierResult<Decimal> {
    let raw = required(el, attr)?;
    let mut value = parse_decimal(raw).ok_or_else(|| malformed_attr(el, attr))?;
    if !raw.contains('.') {
        if let Some(dp) = el
            .attr_nonempty("DecimalPlaces")
            .and_then(|d| d.parse::<u32>().ok())
        {
            if dp > 10 {
                return Err(malformed_attr(el, "DecimalPlaces"));
            }
            value
                .set_scale(value.scale() + dp)
                .map_err(|_| malformed_attr(el, "DecimalPlaces"))?;
        }
    }
    if value.is_sign_negative() && !value.is_zero() {
        return Err(malformed_attr(el, attr));
    }
    Ok(value)
}

fn parse_decimal(s: &str) -> Option<Decimal> {
    let s = s.trim();
    s.parse::<Decimal>()
        .ok()
        .or_else(|| Decimal::from_scientific(s).ok())
}

fn money(el: &Element, attr: &str) -> SupplierResult<Money> {
    Ok(Money::new(amount(el, attr)?, required(el, "CurrencyCode")?))
}

/// An xs:dateTime (with or without offset; without one it is read as UTC) or an xs:date (midnight UTC).
fn instant(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M") {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

fn date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

/// The answer's `TimeStamp`: the spec has responses echo the request's, i.e. our clock at send time.
fn reference_time(rs: &Element) -> Option<DateTime<Utc>> {
    rs.attr("TimeStamp").and_then(instant)
}

// ---------------------------------------------------------------------------------------------
// Availability

/// One offer with the hotel it belongs to.
struct Found {
    hotel_code: String,
    hotel_name: String,
    offer: SupplierOffer,
}

/// Every (RoomRate × RoomStay) of an `OTA_HotelAvailRS`. The price is the `RoomRate`'s own `Total`
/// if it has one, else the `RoomStay`'s `Total` (only when the stay has a single room rate).
/// `Total AmountAfterTax` is taken as the whole stay for all requested rooms ("Search and recheck").
fn avail_offers(
    rs: &Element,
    stay: Stay,
    rooms: &[Occupancy],
    default_hotel: Option<&str>,
) -> SupplierResult<Vec<Found>> {
    let now = reference_time(rs);
    let mut out = Vec::new();
    let Some(stays) = rs.child("RoomStays") else {
        return Ok(out);
    };
    for room_stay in stays.children_named("RoomStay") {
        let info = room_stay.child("BasicPropertyInfo");
        let hotel_code = match info
            .and_then(|i| i.attr_nonempty("HotelCode"))
            .or(default_hotel)
        {
            Some(h) => h.to_string(),
            None => {
                return Err(SupplierError::malformed(
                    "RoomStay without BasicPropertyInfo@HotelCode",
                ))
            }
        };
        let hotel_name = info
            .and_then(|i| i.attr("HotelName"))
            .unwrap_or_default()
            .trim()
            .to_string();
        let rates: Vec<&Element> = room_stay
            .child("RoomRates")
            .map(|r| r.children_named("RoomRate").collect())
            .unwrap_or_default();
        if rates.is_empty() {
            return Err(SupplierError::malformed("RoomStay without RoomRates"));
        }
        for rate in &rates {
            let room_code = required(rate, "RoomTypeCode")?;
            let rate_code = required(rate, "RatePlanCode")?;
            let total = match (rate.child("Total"), room_stay.child("Total")) {
                (Some(t), _) => t,
                (None, Some(t)) if rates.len() == 1 => t,
                _ => return Err(SupplierError::malformed("RoomRate without a Total")),
            };
            let (price, taxes_included) = stay_total(total)?;
            let room_type = room_stay.child("RoomTypes").and_then(|r| {
                r.children_named("RoomType")
                    .find(|t| t.attr("RoomTypeCode").map(str::trim) == Some(room_code))
            });
            let room_name = room_type
                .and_then(|t| t.child("RoomDescription"))
                .and_then(|d| {
                    d.attr_nonempty("Name")
                        .map(str::to_string)
                        .or_else(|| text_of(d.child("Text")))
                })
                .unwrap_or_else(|| room_code.to_string());
            let plan = room_stay.child("RatePlans").and_then(|r| {
                r.children_named("RatePlan")
                    .find(|p| p.attr("RatePlanCode").map(str::trim) == Some(rate_code))
            });
            let rate_name = plan
                .and_then(|p| p.attr_nonempty("RatePlanName"))
                .unwrap_or(rate_code)
                .to_string();
            let board = plan
                .and_then(|p| p.child("MealsIncluded"))
                .map(board)
                .unwrap_or(Board::RoomOnly);
            let (refundable, cancel_penalties) = match plan {
                Some(p) => penalties(p, &price, stay, now)?,
                None => (true, Vec::new()),
            };
            let allotment = rate
                .attr("NumberOfUnits")
                .and_then(|n| n.trim().parse::<u32>().ok());
            let key = OfferKey {
                hotel: hotel_code.clone(),
                room: room_code.to_string(),
                rate: rate_code.to_string(),
                stay,
                rooms: rooms.to_vec(),
                price: price.clone(),
                token: if taxes_included {
                    String::new()
                } else {
                    BEFORE_TAX.to_string()
                },
            };
            let offer = SupplierOffer {
                room_code: room_code.to_string(),
                room_name,
                rate_code: rate_code.to_string(),
                rate_name,
                board,
                refundable,
                cancel_penalties,
                price,
                taxes_included,
                // OTA states no charges payable at the hotel in this profile ("Search and recheck").
                pay_at_hotel: Vec::new(),
                pay_at_hotel_listed: true,
                allotment,
                key,
            };
            out.push(Found {
                hotel_code: hotel_code.clone(),
                hotel_name: hotel_name.clone(),
                offer,
            });
        }
    }
    Ok(out)
}

fn text_of(el: Option<&Element>) -> Option<String> {
    el.map(|e| e.text.trim().to_string())
        .filter(|t| !t.is_empty())
}

fn group_by_hotel(found: Vec<Found>) -> Vec<HotelOffers> {
    let mut hotels: Vec<HotelOffers> = Vec::new();
    for f in found {
        match hotels.iter_mut().find(|h| h.hotel_code == f.hotel_code) {
            Some(h) => h.offers.push(f.offer),
            None => hotels.push(HotelOffers {
                hotel_code: f.hotel_code,
                hotel_name: f.hotel_name,
                offers: vec![f.offer],
            }),
        }
    }
    hotels
}

/// `MealsIncluded`: an OTA Meal Plan Type code in `MealPlanCodes` wins; otherwise the
/// Breakfast/Lunch/Dinner flags (breakfast only → BB, two meals → HB, three → FB).
fn board(meals: &Element) -> Board {
    let flag = |a: &str| {
        meals
            .attr(a)
            .is_some_and(|v| matches!(v.trim(), "true" | "1"))
    };
    let by_code = meals
        .attr("MealPlanCodes")
        .and_then(|codes| codes.split_whitespace().next())
        .and_then(|c| match c {
            "1" => Some(Board::AllInclusive),
            "2" | "10" => Some(Board::FullBoard),
            "12" | "17" | "20" | "23" => Some(Board::HalfBoard),
            "3" | "4" | "5" | "6" | "7" | "11" | "19" => Some(Board::Breakfast),
            "8" | "14" | "15" => Some(Board::RoomOnly),
            _ => None,
        });
    if let Some(b) = by_code {
        return b;
    }
    match (flag("Breakfast"), flag("Lunch"), flag("Dinner")) {
        (true, true, true) => Board::FullBoard,
        (true, true, false) | (true, false, true) => Board::HalfBoard,
        (true, false, false) => Board::Breakfast,
        _ => Board::RoomOnly,
    }
}

/// A rate plan's `CancelPenalties`. Each penalty starts at `Deadline@AbsoluteDeadline` (or a
/// relative deadline before arrival, counted from checkin midnight UTC) and costs
/// `AmountPercent@Amount`, or `@Percent` of the total, or `@NmbrOfNights` average nights.
/// Refundable when no penalty is `NonRefundable`, and the first one that costs anything starts
/// after the answer's `TimeStamp` (our request time, echoed), or, without a TimeStamp, at a
/// stated deadline at all.
fn penalties(
    plan: &Element,
    total: &Money,
    stay: Stay,
    now: Option<DateTime<Utc>>,
) -> SupplierResult<(bool, Vec<Penalty>)> {
    let mut refundable = true;
    let mut list: Vec<Penalty> = Vec::new();
    let Some(group) = plan.child("CancelPenalties") else {
        return Ok((true, list));
    };
    for p in group.children_named("CancelPenalty") {
        let non_refundable = p
            .attr("NonRefundable")
            .is_some_and(|v| matches!(v.trim(), "true" | "1"));
        if non_refundable {
            refundable = false;
        }
        let from = match p.child("Deadline") {
            Some(d) => deadline(d, stay)?,
            None => None,
        };
        let Some(ap) = p.child("AmountPercent") else {
            if non_refundable {
                continue;
            }
            return Err(SupplierError::malformed(
                "CancelPenalty without AmountPercent",
            ));
        };
        let amount = if ap.attr_nonempty("Amount").is_some() {
            Money::new(
                amount(ap, "Amount")?,
                ap.attr_nonempty("CurrencyCode").unwrap_or(&total.currency),
            )
        } else if ap.attr_nonempty("Percent").is_some() {
            let pct = amount(ap, "Percent")?;
            Money::new(
                total.amount * pct / Decimal::ONE_HUNDRED,
                total.currency.clone(),
            )
        } else if ap.attr_nonempty("NmbrOfNights").is_some() {
            let n = amount(ap, "NmbrOfNights")?;
            let nights = Decimal::from(stay.nights().max(1));
            Money::new(
                total.amount * n.min(nights) / nights,
                total.currency.clone(),
            )
        } else {
            return Err(SupplierError::malformed(
                "AmountPercent without Amount, Percent or NmbrOfNights",
            ));
        };
        if amount.amount.is_zero() {
            continue;
        }
        match from.or(now.map(CancelTime::Instant)) {
            Some(from) => {
                if from_is_past(from.as_if_utc(), now) {
                    refundable = false;
                }
                list.push(Penalty { from, amount });
            }
            None => refundable = false,
        }
    }
    list.sort_by_key(|p| p.from);
    Ok((refundable, list))
}

fn from_is_past(from: DateTime<Utc>, now: Option<DateTime<Utc>>) -> bool {
    now.is_some_and(|now| from <= now)
}

/// `Deadline`: `AbsoluteDeadline`, or `OffsetTimeUnit` × `OffsetUnitMultiplier` with
/// `OffsetDropTime="BeforeArrival"`. `AfterBooking` has no instant without a clock: None.
/// An xs:dateTime without a zone, and a deadline before arrival (counted from midnight of the
/// arrival day), are the hotel's wall clock.
fn deadline(d: &Element, stay: Stay) -> SupplierResult<Option<CancelTime>> {
    if let Some(abs) = d.attr_nonempty("AbsoluteDeadline") {
        return CancelTime::parse(abs)
            .map(Some)
            .ok_or_else(|| malformed_attr(d, "AbsoluteDeadline"));
    }
    let (Some(unit), Some(mult)) = (
        d.attr_nonempty("OffsetTimeUnit"),
        d.attr_nonempty("OffsetUnitMultiplier"),
    ) else {
        return Ok(None);
    };
    if d.attr("OffsetDropTime").map(str::trim) != Some("BeforeArrival") {
        return Ok(None);
    }
    let n: i64 = mult
        .parse()
        .map_err(|_| malformed_attr(d, "OffsetUnitMultiplier"))?;
    let offset = match unit {
        "Day" => Duration::try_days(n),
        "Hour" => Duration::try_hours(n),
        "Week" => Duration::try_weeks(n),
        _ => None,
    }
    .ok_or_else(|| malformed_attr(d, "OffsetTimeUnit"))?;
    let arrival = stay
        .checkin
        .and_hms_opt(0, 0, 0)
        .ok_or_else(|| malformed_attr(d, "OffsetTimeUnit"))?;
    Ok(arrival
        .checked_sub_signed(offset)
        .map(CancelTime::HotelLocal))
}

/// Recheck: the live `Total` of the offer's (hotel, room, rate) against the price shown. No such
/// room stay (or Warning 322 with no `RoomStays`) means sold out.
fn recheck_outcome(rs: &Element, offer: &OfferKey) -> SupplierResult<RecheckOutcome> {
    let found = avail_offers(rs, offer.stay, &offer.rooms, Some(&offer.hotel))?;
    let Some(live) = found.into_iter().find(|f| {
        f.hotel_code == offer.hotel
            && f.offer.room_code == offer.room
            && f.offer.rate_code == offer.rate
    }) else {
        return Ok(sold_out());
    };
    let price = live.offer.price;
    let status = if price == offer.price {
        RecheckStatus::Available
    } else {
        RecheckStatus::PriceChanged
    };
    // The live answer's tax basis, which the key's token records.
    let key = OfferKey {
        price: price.clone(),
        token: live.offer.key.token,
        ..offer.clone()
    };
    Ok(RecheckOutcome {
        status,
        price: Some(price),
        key: Some(key),
        expires_at: None,
    })
}

// ---------------------------------------------------------------------------------------------
// Reservations

fn reservation(rs: &Element) -> Option<&Element> {
    rs.path(&["HotelReservations", "HotelReservation"])
}

/// A reservation id of the given OTA UniqueID type: `HotelReservationID@ResID_Type` or `UniqueID@Type`.
fn reservation_id(res: &Element, id_type: &str) -> Option<String> {
    res.descendants("HotelReservationID")
        .into_iter()
        .find(|i| i.attr("ResID_Type").map(str::trim) == Some(id_type))
        .and_then(|i| i.attr_nonempty("ResID_Value"))
        .or_else(|| {
            res.children_named("UniqueID")
                .find(|u| u.attr("Type").map(str::trim) == Some(id_type))
                .and_then(|u| u.attr_nonempty("ID"))
        })
        .map(str::to_string)
}

fn reservation_total(res: &Element) -> SupplierResult<Option<Money>> {
    let total = res
        .path(&["ResGlobalInfo", "Total"])
        .or_else(|| res.descendants("Total").into_iter().next());
    total.map(|t| stay_total(t).map(|(m, _)| m)).transpose()
}

/// `OfferKey::token` of an offer whose supplier quoted only `AmountBeforeTax`.
const BEFORE_TAX: &str = "before-tax";

/// A `Total`: `AmountAfterTax` (taxes included); else `AmountBeforeTax` plus `Taxes@Amount`
/// (included, computed); else `AmountBeforeTax` alone, with the taxes unknown (`false`).
fn stay_total(total: &Element) -> SupplierResult<(Money, bool)> {
    if total.attr_nonempty("AmountAfterTax").is_some() {
        return Ok((money(total, "AmountAfterTax")?, true));
    }
    let before =
        money(total, "AmountBeforeTax").map_err(|_| malformed_attr(total, "AmountAfterTax"))?;
    match total
        .child("Taxes")
        .filter(|t| t.attr_nonempty("Amount").is_some())
    {
        Some(taxes) => {
            let tax = amount(taxes, "Amount")?;
            if taxes
                .attr_nonempty("CurrencyCode")
                .is_some_and(|c| c != before.currency)
            {
                return Err(malformed_attr(taxes, "CurrencyCode"));
            }
            Ok((Money::new(before.amount + tax, before.currency), true))
        }
        None => Ok((before, false)),
    }
}

/// The handle of an Initiate that answered an already committed reservation: the prefix, then
/// its confirmation (`ResID_Type` 10).
const ALREADY_BOOKED: &str = "booked:";

/// Initiate answer: the hold id (`ResID_Type` 14) is the handle; a `Total` other than the
/// expected one is a price change even without Error 189.
fn prepared(rs: &Element, offer: &OfferKey) -> SupplierResult<Prepared> {
    let res = reservation(rs)
        .ok_or_else(|| SupplierError::malformed("no HotelReservation in the Initiate answer"))?;
    let handle = match (reservation_id(res, "14"), reservation_id(res, "10")) {
        // A repeated Initiate for a reservation already committed answers that reservation, with
        // its confirmation (idempotent on `UniqueID Type="16"`): the book step then reads it
        // instead of committing again.
        (_, Some(confirmation)) => format!("{ALREADY_BOOKED}{confirmation}"),
        (Some(hold), None) => hold,
        (None, None) => {
            return Err(SupplierError::malformed(
                "Initiate answer without a hold id (ResID_Type 14)",
            ))
        }
    };
    let price = reservation_total(res)?.unwrap_or_else(|| offer.price.clone());
    if price != offer.price {
        return Err(SupplierError::new(
            ErrorClass::PriceChanged,
            "189",
            format!(
                "hold total {} {} differs from {} {}",
                price.amount, price.currency, offer.price.amount, offer.price.currency
            ),
        ));
    }
    let expires_at =
        reference_time(rs).and_then(|t| t.checked_add_signed(Duration::minutes(HOLD_MINUTES)));
    Ok(Prepared {
        handle,
        price,
        expires_at,
    })
}

/// What the call already knows about the booking, for fields the answer leaves out.
#[derive(Default)]
struct Fallback<'a> {
    supplier_reference: &'a str,
    client_reference: &'a str,
    token: &'a str,
    hotel: Option<&'a str>,
    stay: Option<Stay>,
}

/// OTA `HotelResStatus` (and `ResResponseType`) → unified status.
fn res_status(s: &str) -> BookingStatus {
    match s.trim() {
        "Book" | "Booked" | "Commit" | "Committed" | "Confirmed" | "Reserved" | "Modify" => {
            BookingStatus::Confirmed
        }
        "Cancel" | "Cancelled" | "Canceled" => BookingStatus::Cancelled,
        "Pending" | "Initiate" | "Hold" => BookingStatus::Pending,
        "Waitlisted" | "Request" | "Requested" | "OnRequest" => BookingStatus::OnRequest,
        _ => BookingStatus::Unknown,
    }
}

/// A reservation in an `OTA_HotelResRS` (Commit, read): the confirmation (`ResID_Type` 10) is the
/// supplier reference, our Type 16 id the client reference.
fn booking_info(rs: &Element, res: &Element, fb: &Fallback<'_>) -> SupplierResult<BookingInfo> {
    let status = res
        .attr_nonempty("ResStatus")
        .or_else(|| rs.attr_nonempty("ResResponseType"))
        .map(res_status)
        .unwrap_or(BookingStatus::Unknown);
    let supplier_reference =
        reservation_id(res, "10").unwrap_or_else(|| fb.supplier_reference.to_string());
    if supplier_reference.is_empty()
        && matches!(status, BookingStatus::Confirmed | BookingStatus::Cancelled)
    {
        return Err(SupplierError::malformed(
            "booked reservation without a confirmation id (ResID_Type 10)",
        ));
    }
    let client_reference =
        reservation_id(res, "16").unwrap_or_else(|| fb.client_reference.to_string());
    let hotel_code = res
        .descendants("BasicPropertyInfo")
        .into_iter()
        .find_map(|b| b.attr_nonempty("HotelCode"))
        .or(fb.hotel)
        .map(str::to_string);
    let stay = match res.descendants("TimeSpan").into_iter().next() {
        Some(ts) => {
            let (Some(checkin), Some(checkout)) = (
                ts.attr("Start").and_then(date),
                ts.attr("End").and_then(date),
            ) else {
                return Err(SupplierError::malformed(
                    "TimeSpan@Start/End missing or invalid",
                ));
            };
            Some(Stay { checkin, checkout })
        }
        None => fb.stay,
    };
    Ok(BookingInfo {
        key: BookingKey {
            supplier_reference,
            client_reference,
            token: fb.token.to_string(),
        },
        status,
        price: reservation_total(res)?,
        hotel_code,
        stay,
        penalty: None,
        cancellation_reference: None,
    })
}

/// `OTA_CancelRS`: `Status` (Cancelled unless it says otherwise), the cancellation id (UniqueID
/// Type 15) and the charged penalty (`CancelRule` `Amount`, attribute or child element).
fn cancel_info(rs: &Element, booking: &BookingKey) -> SupplierResult<BookingInfo> {
    let status = rs
        .attr_nonempty("Status")
        .map(res_status)
        .unwrap_or(BookingStatus::Cancelled);
    let cancellation_reference = rs
        .descendants("UniqueID")
        .into_iter()
        .find(|u| u.attr("Type").map(str::trim) == Some("15"))
        .and_then(|u| u.attr_nonempty("ID"))
        .map(str::to_string);
    let penalty = match rs.descendants("CancelRule").into_iter().next() {
        Some(rule) if rule.attr_nonempty("Amount").is_some() => Some(money(rule, "Amount")?),
        Some(rule) => rule
            .child("Amount")
            .map(|a| money(a, "Amount"))
            .transpose()?,
        None => None,
    };
    Ok(BookingInfo {
        key: booking.clone(),
        status,
        price: None,
        hotel_code: None,
        stay: None,
        penalty,
        cancellation_reference,
    })
}

// ---------------------------------------------------------------------------------------------
// Content

fn content(rs: &Element) -> SupplierResult<Vec<HotelContent>> {
    let Some(list) = rs.child("HotelDescriptiveContents") else {
        return Ok(Vec::new());
    };
    list.children_named("HotelDescriptiveContent")
        .map(hotel_content)
        .collect()
}

fn hotel_content(h: &Element) -> SupplierResult<HotelContent> {
    let code = required(h, "HotelCode")?.to_string();
    let name = h.attr("HotelName").unwrap_or_default().trim().to_string();
    let position = h.descendants("Position").into_iter().next();
    let coord = |attr: &str| -> SupplierResult<Option<f64>> {
        match position.and_then(|p| p.attr_nonempty(attr)) {
            None => Ok(None),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Some)
                .ok_or_else(|| malformed_attr(h, attr)),
        }
    };
    let amenities = h
        .descendants("Service")
        .into_iter()
        .filter_map(|s| {
            text_of(s.child("DescriptiveText"))
                .or_else(|| s.attr_nonempty("Code").map(str::to_string))
        })
        .collect();
    let rooms = h
        .descendants("GuestRoom")
        .into_iter()
        .filter_map(|r| {
            let code = r.attr_nonempty("Code")?.to_string();
            Some(RoomContent {
                name: r
                    .attr_nonempty("RoomTypeName")
                    .map(str::to_string)
                    .unwrap_or_else(|| code.clone()),
                max_occupancy: r.attr("MaxOccupancy").and_then(|m| m.trim().parse().ok()),
                code,
            })
        })
        .collect();
    let address = h.descendants("Address").into_iter().next();
    let line = address.map(|a| {
        a.children_named("AddressLine")
            .filter_map(|l| text_of(Some(l)))
            .collect::<Vec<_>>()
            .join(", ")
    });
    Ok(HotelContent {
        code,
        name,
        address: line.filter(|l| !l.is_empty()),
        city: address.and_then(|a| text_of(a.child("CityName"))),
        country: address.and_then(|a| a.child("CountryName")).and_then(|c| {
            c.attr_nonempty("Code")
                .map(str::to_string)
                .or_else(|| text_of(Some(c)))
        }),
        latitude: coord("Latitude")?,
        longitude: coord("Longitude")?,
        time_zone: None,
        amenities,
        rooms,
    })
}
