//! Booking, retrieval and cancellation (spec "Book", "Retrieve", "Cancel"): `OTA_HotelResRQ`
//! Initiate and Commit, `OTA_ReadRQ`, `OTA_CancelRQ`.
//!
//! Reservations live in [`SimState::bookings`] with status `Pending` (held), `Book` or `Cancelled`;
//! their OTA details are in `extra` as [`Details`]. A hold's issue time is the store entry
//! [`hold_key`].

use super::avail::{offer, penalty, rate_plan, Stay};
use super::xml::{El, Element, OTA_NS};
use super::{amount, child, guests, money, required, stay, units, Ctx, OtaError, Outcome};
use crate::scenario::Scenario;
use crate::state::{SimBooking, SimState};
use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How long an Initiate holds the room (spec "Book").
pub(super) const HOLD: Duration = Duration::minutes(10);
/// Longest guest name part accepted.
const MAX_NAME: usize = 64;

const PENDING: &str = "Pending";
const BOOK: &str = "Book";
const CANCELLED: &str = "Cancelled";

/// The store key under which a hold's issue time is kept.
pub(super) fn hold_key(hold: &str) -> String {
    format!("ota-soap:hold:{hold}")
}

/// The OTA side of a reservation, kept in [`SimBooking::extra`].
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Details {
    hold_id: String,
    confirmation: Option<String>,
    cancellation: Option<String>,
    units: u32,
    adults: u8,
    children: u8,
    first_night: Decimal,
    /// (given name, surname)
    guests: Vec<(String, String)>,
    /// Everything the Initiate asked for, to recognise a repeated request.
    fingerprint: String,
    penalty: Option<Decimal>,
}

fn details(b: &SimBooking) -> Option<Details> {
    serde_json::from_value(b.extra.clone()).ok()
}

/// An Initiate's content.
struct BookRequest {
    client_reference: String,
    hotel: String,
    room: String,
    rate: String,
    stay: Stay,
    total: Decimal,
    guests: Vec<(String, String)>,
}

impl BookRequest {
    fn parse(ctx: &Ctx, rq: &Element) -> Result<BookRequest, OtaError> {
        let client_reference = unique_id(rq, "16")?
            .ok_or_else(|| OtaError::missing("UniqueID Type 16"))?
            .to_string();
        let reservation = match rq
            .all(OTA_NS, &["HotelReservations", "HotelReservation"])
            .as_slice()
        {
            [] => return Err(OtaError::missing("HotelReservations/HotelReservation")),
            [one] => *one,
            _ => return Err(OtaError::invalid("Only one HotelReservation is supported")),
        };
        let room_stay = match reservation
            .all(OTA_NS, &["RoomStays", "RoomStay"])
            .as_slice()
        {
            [] => return Err(OtaError::missing("RoomStays/RoomStay")),
            [one] => *one,
            _ => return Err(OtaError::invalid("Only one RoomStay is supported")),
        };
        let room_type = child(room_stay, &["RoomTypes", "RoomType"])?;
        let rate_plan = child(room_stay, &["RatePlans", "RatePlan"])?;
        let (adults, children) = guests(child(room_stay, &["GuestCounts"])?)?;
        let (checkin, checkout) = stay(ctx.state, child(room_stay, &["TimeSpan"])?)?;
        let total_el = child(room_stay, &["Total"])?;
        let total_text = required(total_el, "AmountAfterTax")?;
        let total: Decimal = total_text
            .parse()
            .ok()
            .filter(|t: &Decimal| *t > Decimal::ZERO)
            .ok_or_else(|| {
                OtaError::invalid(format!(
                    "Total@AmountAfterTax must be an amount: {total_text}"
                ))
            })?;
        if let Some(currency) = total_el.attr("CurrencyCode") {
            if currency != "EUR" {
                return Err(OtaError::invalid(format!(
                    "Total@CurrencyCode must be EUR: {currency}"
                )));
            }
        }
        let hotel = required(child(room_stay, &["BasicPropertyInfo"])?, "HotelCode")?;
        let mut names = Vec::new();
        for person in reservation
            .all(OTA_NS, &["ResGuests", "ResGuest"])
            .into_iter()
            .flat_map(|g| g.descendants(OTA_NS, "PersonName"))
        {
            let part = |n: &str| person.child(OTA_NS, n).map(|e| e.text().to_string());
            let (given, surname) = (part("GivenName").unwrap_or_default(), part("Surname"));
            let Some(surname) = surname.filter(|s| !s.is_empty()) else {
                return Err(OtaError::missing("PersonName/Surname"));
            };
            if given.chars().count() > MAX_NAME || surname.chars().count() > MAX_NAME {
                return Err(OtaError::invalid(format!(
                    "Guest names are limited to {MAX_NAME} characters"
                )));
            }
            names.push((given, surname));
        }
        if names.is_empty() {
            return Err(OtaError::missing("ResGuests/ResGuest/.../PersonName"));
        }
        Ok(BookRequest {
            client_reference,
            hotel: hotel.to_string(),
            room: required(room_type, "RoomTypeCode")?.to_string(),
            rate: required(rate_plan, "RatePlanCode")?.to_string(),
            stay: Stay {
                checkin,
                checkout,
                rooms: units(room_type, "NumberOfUnits")?,
                adults,
                children,
            },
            total,
            guests: names,
        })
    }

    fn fingerprint(&self) -> String {
        let s = &self.stay;
        format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{}|{:?}",
            self.hotel,
            self.room,
            self.rate,
            s.checkin,
            s.checkout,
            s.rooms,
            s.adults,
            s.children,
            money(self.total),
            self.guests
        )
    }
}

/// The `ID` of the request's top-level `UniqueID` of this `Type`, if there is one.
fn unique_id<'a>(rq: &'a Element, kind: &str) -> Result<Option<&'a str>, OtaError> {
    match rq
        .all(OTA_NS, &["UniqueID"])
        .into_iter()
        .find(|u| u.attr("Type") == Some(kind))
    {
        Some(u) => required(u, "ID").map(Some),
        None => Ok(None),
    }
}

fn hold_expired(state: &SimState, hold: &str) -> bool {
    state
        .kv_get(&hold_key(hold))
        .is_none_or(|(issued, _)| state.now() - issued > HOLD)
}

/// `OTA_HotelResRQ ResStatus="Initiate"`: price check, then a 10-minute hold.
pub(super) fn initiate(ctx: &Ctx, rq: &Element) -> Result<Outcome, OtaError> {
    match rq.attr("ResStatus") {
        Some("Initiate") => {}
        None => return Err(OtaError::missing("OTA_HotelResRQ@ResStatus")),
        Some(other) => {
            return Err(OtaError::invalid(format!(
                "ResStatus must be Initiate or Commit: {other}"
            )))
        }
    }
    let state = ctx.state;
    let req = BookRequest::parse(ctx, rq)?;
    let hotel = state
        .catalog
        .hotel(&req.hotel)
        .ok_or_else(|| OtaError::unknown_hotel(&req.hotel))?;
    let room = hotel
        .rooms
        .iter()
        .position(|r| r.code == req.room)
        .ok_or_else(|| OtaError::invalid(format!("Invalid room type code: {}", req.room)))?;
    let (rate, _) = state
        .catalog
        .rate_plan(&req.rate)
        .ok_or_else(|| OtaError::invalid(format!("Invalid rate plan code: {}", req.rate)))?;
    let fingerprint = req.fingerprint();

    // One lock over lookup and insert: concurrent duplicates hold once.
    let mut bookings = state.bookings.lock();
    let existing = bookings
        .iter()
        .position(|b| b.client_reference == req.client_reference);
    if let Some(i) = existing {
        let b = &bookings[i];
        let d = details(b).ok_or_else(|| OtaError::not_found(&req.client_reference))?;
        if d.fingerprint != fingerprint {
            return Err(OtaError::invalid(format!(
                "UniqueID Type 16 {} was already used for a different reservation",
                req.client_reference
            )));
        }
        if b.status != PENDING || !hold_expired(state, &d.hold_id) {
            return Ok(outcome(state, b, &d));
        }
        state.kv_remove(&hold_key(&d.hold_id));
    }
    if *ctx.scenario == Scenario::SoldOutAtBook {
        return Err(OtaError::sold_out());
    }
    let live = offer(state, hotel, room, rate, &req.stay, ctx.price_up())
        .ok_or_else(OtaError::sold_out)?;
    if live.total != req.total {
        return Err(OtaError::new(
            3,
            189,
            "Price has changed",
            format!(
                "Price has changed: requested total {} EUR, current total {} EUR",
                money(req.total),
                money(live.total)
            ),
        ));
    }
    let hold = format!("SX-HOLD-{}", 3300 + state.next_seq());
    state.kv_put(
        hold_key(&hold),
        json!({"client_reference": req.client_reference}),
    );
    let d = Details {
        hold_id: hold.clone(),
        confirmation: None,
        cancellation: None,
        units: req.stay.rooms,
        adults: req.stay.adults,
        children: req.stay.children,
        first_night: live.first_night,
        guests: req.guests.clone(),
        fingerprint,
        penalty: None,
    };
    let booking = SimBooking {
        reference: hold,
        client_reference: req.client_reference.clone(),
        status: PENDING.to_string(),
        hotel: hotel.code.clone(),
        room: req.room.clone(),
        rate: req.rate.clone(),
        checkin: req.stay.checkin,
        checkout: req.stay.checkout,
        total: live.total,
        currency: "EUR".to_string(),
        guests: req
            .guests
            .iter()
            .map(|(g, s)| format!("{g} {s}").trim().to_string())
            .collect(),
        created_at: state.now(),
        extra: serde_json::to_value(&d).unwrap_or_default(),
    };
    let result = outcome(state, &booking, &d);
    match existing {
        Some(i) => bookings[i] = booking,
        None => bookings.push(booking),
    }
    Ok(result)
}

/// `OTA_HotelResRQ ResStatus="Commit"` with the hold's `UniqueID Type="14"`.
pub(super) fn commit(ctx: &Ctx, rq: &Element) -> Result<Outcome, OtaError> {
    let state = ctx.state;
    let hold = unique_id(rq, "14")?.ok_or_else(|| OtaError::missing("UniqueID Type 14"))?;
    let client = unique_id(rq, "16")?;
    let expired = || {
        OtaError::new(
            3,
            436,
            "Rate no longer available",
            format!("Hold {hold} is unknown or has expired"),
        )
    };
    let owner = state.kv_get(&hold_key(hold)).and_then(|(_, v)| {
        v.get("client_reference")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
    });
    let Some(owner) = owner else {
        return Err(expired());
    };
    let mut bookings = state.bookings.lock();
    let Some(b) = bookings.iter_mut().find(|b| b.client_reference == owner) else {
        return Err(expired());
    };
    // The requester may have re-initiated since: only the current hold commits.
    let Some(mut d) = details(b).filter(|d| d.hold_id == hold) else {
        return Err(expired());
    };
    if client.is_some_and(|c| c != b.client_reference) {
        return Err(OtaError::invalid(format!(
            "UniqueID Type 16 does not match hold {hold}"
        )));
    }
    match b.status.as_str() {
        BOOK => {}
        PENDING if !hold_expired(state, hold) => {
            let confirmation = format!("SX-{}", 88200 + state.next_seq());
            b.status = BOOK.to_string();
            b.reference = confirmation.clone();
            d.confirmation = Some(confirmation);
            b.extra = serde_json::to_value(&d).unwrap_or_default();
        }
        _ => return Err(expired()),
    }
    Ok(Outcome {
        hang: *ctx.scenario == Scenario::CommitThenTimeout,
        ..outcome(state, b, &d)
    })
}

/// The reservation a Read or Cancel names by `UniqueID` Type 10 (confirmation) or 16 (requester's);
/// holds never committed are not reservations.
fn find<'a>(
    bookings: &'a mut [SimBooking],
    id: &Element,
) -> Result<(&'a mut SimBooking, Details), OtaError> {
    let kind = required(id, "Type")?;
    let value = required(id, "ID")?;
    if kind != "10" && kind != "16" {
        return Err(OtaError::invalid(format!(
            "UniqueID Type must be 10 or 16: {kind}"
        )));
    }
    let b = bookings
        .iter_mut()
        .find(|b| {
            b.status != PENDING
                && match kind {
                    "10" => b.reference == value,
                    _ => b.client_reference == value,
                }
        })
        .ok_or_else(|| OtaError::not_found(value))?;
    let d = details(b).ok_or_else(|| OtaError::not_found(value))?;
    Ok((b, d))
}

/// `OTA_ReadRQ` → `OTA_HotelResRS` with the reservation.
pub(super) fn read(ctx: &Ctx, rq: &Element) -> Result<Outcome, OtaError> {
    let id = child(rq, &["ReadRequests", "ReadRequest", "UniqueID"])?;
    let mut bookings = ctx.state.bookings.lock();
    let (b, d) = find(&mut bookings, id)?;
    Ok(outcome(ctx.state, b, &d))
}

/// `OTA_CancelRQ` → `OTA_CancelRS`: the penalty as of now; `Quote` leaves the booking alone.
pub(super) fn cancel(ctx: &Ctx, rq: &Element) -> Result<Outcome, OtaError> {
    let state = ctx.state;
    let quote = match rq.attr("CancelType").unwrap_or("Cancel") {
        "Cancel" => false,
        "Quote" => true,
        other => {
            return Err(OtaError::invalid(format!(
                "CancelType must be Cancel or Quote: {other}"
            )))
        }
    };
    let id = child(rq, &["UniqueID"])?;
    let mut bookings = state.bookings.lock();
    let (b, mut d) = find(&mut bookings, id)?;
    if b.status == CANCELLED {
        return Err(OtaError::new(
            3,
            95,
            "Booking already cancelled",
            format!("Reservation {} is already cancelled", b.reference),
        ));
    }
    let now = state.now();
    let cost = match state.catalog.rate_plan(&b.rate) {
        Some((_, plan)) => {
            let (from, cost) = penalty(plan, b.checkin, d.first_night, b.total, b.created_at);
            if now >= from {
                cost
            } else {
                Decimal::ZERO
            }
        }
        None => b.total,
    };
    let rules = El::new("CancelRules").child(
        El::new("CancelRule").child(
            El::new("Amount")
                .attr("Amount", money(cost))
                .attr("CurrencyCode", "EUR"),
        ),
    );
    if quote {
        return Ok(Outcome {
            attrs: vec![("Status", "Pending".to_string())],
            body: vec![El::new("CancelInfoRS").child(rules)],
            hang: false,
        });
    }
    let cancellation = format!("SX-CX-{}", 5500 + state.next_seq());
    b.status = CANCELLED.to_string();
    d.cancellation = Some(cancellation.clone());
    d.penalty = Some(cost);
    b.extra = serde_json::to_value(&d).unwrap_or_default();
    Ok(Outcome {
        attrs: vec![("Status", CANCELLED.to_string())],
        body: vec![El::new("CancelInfoRS")
            .child(
                El::new("UniqueID")
                    .attr("Type", 15)
                    .attr("ID", cancellation),
            )
            .child(rules)],
        hang: false,
    })
}

/// An `OTA_HotelResRS` body for a reservation as it now is.
fn outcome(state: &SimState, b: &SimBooking, d: &Details) -> Outcome {
    let response_type = match b.status.as_str() {
        BOOK => "Committed",
        other => other,
    };
    Outcome {
        attrs: vec![("ResResponseType", response_type.to_string())],
        body: vec![El::new("HotelReservations").child(reservation(state, b, d))],
        hang: false,
    }
}

fn reservation(state: &SimState, b: &SimBooking, d: &Details) -> El {
    let hotel = state.catalog.hotel(&b.hotel);
    let mut room_type = El::new("RoomType")
        .attr("RoomTypeCode", &b.room)
        .attr("NumberOfUnits", d.units);
    if let Some(room) = hotel.and_then(|h| h.rooms.iter().find(|r| r.code == b.room)) {
        room_type = room_type.child(El::new("RoomDescription").attr("Name", &room.name));
    }
    let plan = match state.catalog.rate_plan(&b.rate) {
        Some((_, plan)) => rate_plan(plan, b.checkin, d.first_night, b.total, b.created_at),
        None => El::new("RatePlan").attr("RatePlanCode", &b.rate),
    };
    let mut counts = vec![El::new("GuestCount")
        .attr("AgeQualifyingCode", 10)
        .attr("Count", d.adults)];
    if d.children > 0 {
        counts.push(
            El::new("GuestCount")
                .attr("AgeQualifyingCode", 8)
                .attr("Count", d.children),
        );
    }
    let mut property = El::new("BasicPropertyInfo").attr("HotelCode", &b.hotel);
    if let Some(h) = hotel {
        property = property.attr("HotelName", &h.name);
    }
    let room_stay = El::new("RoomStay")
        .child(El::new("RoomTypes").child(room_type))
        .child(El::new("RatePlans").child(plan))
        .child(El::new("GuestCounts").children(counts))
        .child(time_span(b.checkin, b.checkout))
        .child(amount("Total", b.total))
        .child(property);
    let guests = d.guests.iter().map(|(given, surname)| {
        let mut name = El::new("PersonName");
        if !given.is_empty() {
            name = name.child(El::new("GivenName").text(given));
        }
        let name = name.child(El::new("Surname").text(surname));
        El::new("ResGuest").child(El::new("Profiles").child(
            El::new("ProfileInfo").child(El::new("Profile").child(El::new("Customer").child(name))),
        ))
    });
    let id = match &d.confirmation {
        Some(c) if b.status != PENDING => El::new("HotelReservationID")
            .attr("ResID_Type", 10)
            .attr("ResID_Value", c),
        _ => El::new("HotelReservationID")
            .attr("ResID_Type", 14)
            .attr("ResID_Value", &d.hold_id),
    };
    El::new("HotelReservation")
        .attr("ResStatus", &b.status)
        .attr("CreateDateTime", super::timestamp(b.created_at))
        .child(
            El::new("UniqueID")
                .attr("Type", 16)
                .attr("ID", &b.client_reference),
        )
        .child(El::new("RoomStays").child(room_stay))
        .child(El::new("ResGuests").children(guests))
        .child(
            El::new("ResGlobalInfo")
                .child(El::new("HotelReservationIDs").child(id))
                .child(amount("Total", b.total)),
        )
}

fn time_span(start: NaiveDate, end: NaiveDate) -> El {
    El::new("TimeSpan").attr("Start", start).attr("End", end)
}
