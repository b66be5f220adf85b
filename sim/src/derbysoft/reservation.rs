//! Prebook, book, detail and cancel (spec "Prebook", "Book", "Detail", "Cancel").

use super::shopping::{hotel_not_found, offer};
use super::{
    field, hotel_id, money, money_field, ok, parse_occupancy, parse_stay, price_up, req, req_array,
    req_obj, req_str, Fail, Occupancy, Reply, Stay, CURRENCY,
};
use crate::catalog::CatalogHotel;
use crate::scenario::Scenario;
use crate::state::{SimBooking, SimState};
use crate::world::mix;
use crate::SimResponse;
use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// How long a booking token lives (spec "Prebook").
pub(super) const TOKEN_MINUTES: i64 = 15;

/// What a booking token holds: the prebooked offer and its price.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Hold {
    hotel: String,
    room: String,
    rate: String,
    checkin: NaiveDate,
    checkout: NaiveDate,
    rooms: u32,
    adults: u8,
    children: u8,
    /// After-tax price per night for one room.
    nightly: Vec<Decimal>,
    /// After-tax total for all rooms.
    total: Decimal,
    currency: String,
    /// Live EUR total at prebook without scenarios; book compares it with the live price again.
    base_eur: Decimal,
}

/// The `state.kv` key of a booking token (tests age tokens through it).
pub(super) fn token_key(token: &str) -> String {
    format!("derbysoft/bookingToken/{token}")
}

fn token_expired() -> Fail {
    Fail::Code(
        410,
        "BookingTokenExpired",
        "bookingToken is unknown, expired or already used".into(),
    )
}

fn price_changed(msg: String) -> Fail {
    Fail::Code(409, "PriceChanged", msg)
}

/// The single `roomRates[0]{roomId,rateId}` of prebook and book.
fn room_rate_ids(body: &Value) -> Reply<(&str, &str)> {
    let rates = req_array(body, "roomRates", "roomRates")?;
    let [rr] = rates.as_slice() else {
        return Err(Fail::invalid(
            "roomRates",
            "must hold exactly one room rate",
        ));
    };
    if !rr.is_object() {
        return Err(Fail::invalid("roomRates[0]", "must be an object"));
    }
    Ok((
        req_str(rr, "roomId", "roomRates[0].roomId")?,
        req_str(rr, "rateId", "roomRates[0].rateId")?,
    ))
}

/// `total{amountAfterTax,currency}`; the currency must be the rates' currency.
fn parse_total(body: &Value) -> Reply<Decimal> {
    let total = req_obj(body, "total", "total")?;
    let amount = money_field(total, "amountAfterTax", "total.amountAfterTax")?;
    if req_str(total, "currency", "total.currency")? != CURRENCY {
        return Err(Fail::invalid(
            "total.currency",
            "must be USD, the currency of the rates",
        ));
    }
    Ok(amount.round_dp(2))
}

fn resolve(
    state: &SimState,
    hotel: &CatalogHotel,
    room_id: &str,
    rate_id: &str,
) -> Reply<(usize, usize)> {
    let room = hotel.rooms.iter().position(|r| r.code == room_id);
    let rate = state.catalog.rate_plan(rate_id).map(|(i, _)| i);
    match (room, rate) {
        (Some(room), Some(rate)) => Ok((room, rate)),
        _ => Err(Fail::not_available(format!(
            "room rate {room_id}/{rate_id} is not sold by hotel {}",
            hotel.code
        ))),
    }
}

/// Drops expired protocol material now and then, so long runs keep `state.kv` small.
fn prune(state: &SimState, seq: u64) {
    if !seq.is_multiple_of(256) {
        return;
    }
    let cutoff = state.now() - Duration::minutes(TOKEN_MINUTES);
    state
        .kv
        .lock()
        .retain(|k, (t, _)| !k.starts_with("derbysoft/") || *t >= cutoff);
}

/// `POST /bookingusb/v4/reservation/prebook`: live price check → single-use booking token.
pub(super) fn prebook(
    state: &SimState,
    body: &Value,
    header: &Value,
    scenario: &Scenario,
) -> Reply<SimResponse> {
    let id = hotel_id(req(body, "hotelId", "hotelId")?, "hotelId")?;
    let stay = parse_stay(state, body)?;
    let occ = parse_occupancy(body)?;
    let (room_id, rate_id) = room_rate_ids(body)?;
    let amount = parse_total(body)?;
    let hotel = state.catalog.hotel(id).ok_or_else(|| hotel_not_found(id))?;
    let (room, rate) = resolve(state, hotel, room_id, rate_id)?;
    if *scenario == Scenario::SoldOutAtBook {
        return Err(Fail::not_available("the room rate is sold out"));
    }
    let o = offer(state, hotel, room, rate, &stay, &occ, price_up(scenario))
        .ok_or_else(|| Fail::not_available("the room rate is not available for this stay"))?;
    let live = o.total(occ.rooms);
    if amount != live {
        return Err(price_changed(format!(
            "total.amountAfterTax {} differs from the live total {} {CURRENCY}",
            money(amount),
            money(live)
        )));
    }
    let seq = state.next_seq();
    prune(state, seq);
    let nanos = state.now().timestamp_nanos_opt().unwrap_or_default() as u64;
    let token = format!(
        "bt-{seq:x}{:06x}",
        mix(&[state.catalog.seed, seq, nanos]) & 0xff_ffff
    );
    let hold = Hold {
        hotel: hotel.code.clone(),
        room: room_id.to_string(),
        rate: rate_id.to_string(),
        checkin: stay.checkin,
        checkout: stay.checkout,
        rooms: occ.rooms,
        adults: occ.adults,
        children: occ.children,
        nightly: o.nightly.clone(),
        total: live,
        currency: CURRENCY.to_string(),
        base_eur: o.base_eur,
    };
    state.kv_put(
        token_key(&token),
        serde_json::to_value(&hold).unwrap_or_default(),
    );
    let expire = state.now() + Duration::minutes(TOKEN_MINUTES);
    Ok(ok(
        header,
        json!({"bookingToken": token, "expireTime": expire.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
               "total": {"amountAfterTax": money(live), "currency": CURRENCY}}),
    ))
}

/// `contactPerson{firstName,lastName,email?}`.
fn parse_contact(body: &Value) -> Reply<Value> {
    let c = req_obj(body, "contactPerson", "contactPerson")?;
    for key in ["firstName", "lastName"] {
        let path = format!("contactPerson.{key}");
        if req_str(c, key, &path)?.trim().is_empty() {
            return Err(Fail::invalid(&path, "must not be empty"));
        }
    }
    if let Some(e) = field(c, "email") {
        e.as_str()
            .ok_or_else(|| Fail::invalid("contactPerson.email", "must be a string"))?;
    }
    Ok(c.clone())
}

/// `guests[{firstName,lastName,type?,index?}]`, at least one adult; returns display names.
fn parse_guests(body: &Value) -> Reply<Vec<String>> {
    let guests = req_array(body, "guests", "guests")?;
    if guests.is_empty() {
        return Err(Fail::invalid("guests", "must name at least one guest"));
    }
    let mut names = Vec::new();
    let mut adults = 0;
    for (i, g) in guests.iter().enumerate() {
        if !g.is_object() {
            return Err(Fail::invalid(&format!("guests[{i}]"), "must be an object"));
        }
        let first = req_str(g, "firstName", &format!("guests[{i}].firstName"))?;
        let last = req_str(g, "lastName", &format!("guests[{i}].lastName"))?;
        if first.trim().is_empty() || last.trim().is_empty() {
            return Err(Fail::invalid(
                &format!("guests[{i}]"),
                "firstName and lastName must not be empty",
            ));
        }
        match field(g, "type").map(Value::as_str) {
            None | Some(Some("Adult")) => adults += 1,
            Some(Some("Child")) => {}
            Some(_) => {
                return Err(Fail::invalid(
                    &format!("guests[{i}].type"),
                    "must be Adult or Child",
                ))
            }
        }
        if let Some(ix) = field(g, "index") {
            ix.as_u64().ok_or_else(|| {
                Fail::invalid(&format!("guests[{i}].index"), "must be an integer")
            })?;
        }
        names.push(format!("{first} {last}"));
    }
    if adults == 0 {
        return Err(Fail::invalid("guests", "must include an adult"));
    }
    Ok(names)
}

fn reservation_ids(b: &SimBooking) -> Value {
    json!({"distributorResId": b.client_reference, "derbyResId": b.reference,
           "supplierResId": b.extra.get("supplierResId")})
}

fn book_answer(b: &SimBooking) -> Value {
    json!({"reservationIds": reservation_ids(b), "status": b.status,
           "total": {"amountAfterTax": money(b.total), "currency": b.currency}})
}

/// The offer of a book request, which must equal the token's.
fn matches_hold(
    hold: &Hold,
    hotel: &str,
    stay: &Stay,
    occ: &Occupancy,
    room: &str,
    rate: &str,
) -> Reply<()> {
    let mismatch = |f: &str| Fail::invalid(f, "does not match the prebook of bookingToken");
    if hold.hotel != hotel {
        return Err(mismatch("hotelId"));
    }
    if hold.checkin != stay.checkin || hold.checkout != stay.checkout {
        return Err(mismatch("stayRange"));
    }
    if hold.rooms != occ.rooms || hold.adults != occ.adults || hold.children != occ.children {
        return Err(mismatch("roomCriteria"));
    }
    if hold.room != room || hold.rate != rate {
        return Err(mismatch("roomRates"));
    }
    Ok(())
}

/// `POST /bookingusb/v4/reservation/book`: idempotent by `distributorResId`.
pub(super) fn book(
    state: &SimState,
    body: &Value,
    header: &Value,
    scenario: &Scenario,
) -> Reply<SimResponse> {
    let ids = req_obj(body, "reservationIds", "reservationIds")?;
    let dist = req_str(ids, "distributorResId", "reservationIds.distributorResId")?;
    if dist.trim().is_empty() {
        return Err(Fail::invalid(
            "reservationIds.distributorResId",
            "must not be empty",
        ));
    }
    if let Some(b) = state
        .bookings
        .lock()
        .iter()
        .find(|b| b.client_reference == dist)
    {
        return Ok(ok(header, book_answer(b)));
    }
    let id = hotel_id(req(body, "hotelId", "hotelId")?, "hotelId")?;
    let stay = parse_stay(state, body)?;
    let occ = parse_occupancy(body)?;
    let (room_id, rate_id) = room_rate_ids(body)?;
    let amount = parse_total(body)?;
    let contact = parse_contact(body)?;
    let guests = parse_guests(body)?;
    let token = req_str(body, "bookingToken", "bookingToken")?;
    let key = token_key(token);
    let (issued, hold) = state
        .kv_get(&key)
        .and_then(|(t, v)| serde_json::from_value::<Hold>(v).ok().map(|h| (t, h)))
        .ok_or_else(token_expired)?;
    if state.now() - issued > Duration::minutes(TOKEN_MINUTES) {
        state.kv_remove(&key);
        return Err(token_expired());
    }
    matches_hold(&hold, id, &stay, &occ, room_id, rate_id)?;
    if amount != hold.total {
        return Err(price_changed(format!(
            "total.amountAfterTax {} differs from the prebook total {} {CURRENCY}",
            money(amount),
            money(hold.total)
        )));
    }
    let hotel = state.catalog.hotel(id).ok_or_else(|| hotel_not_found(id))?;
    let (room, rate) = resolve(state, hotel, room_id, rate_id)?;
    if *scenario == Scenario::SoldOutAtBook {
        return Err(Fail::not_available("the room rate is sold out"));
    }
    let live = state
        .quote(
            hotel,
            room,
            rate,
            stay.checkin,
            stay.checkout,
            occ.rooms,
            occ.adults,
            occ.children,
        )
        .ok_or_else(|| Fail::not_available("the room rate is no longer available"))?;
    if live.total != hold.base_eur {
        return Err(price_changed(
            "the price changed since prebook; prebook again".into(),
        ));
    }
    let refundable = state
        .catalog
        .rate_plans
        .get(rate)
        .is_some_and(|p| p.refundable);
    let booking = {
        let mut bookings = state.bookings.lock();
        if let Some(b) = bookings.iter().find(|b| b.client_reference == dist) {
            return Ok(ok(header, book_answer(b)));
        }
        if state.kv_remove(&key).is_none() {
            return Err(token_expired());
        }
        let seq = state.next_seq();
        let b = SimBooking {
            reference: format!("DRB-{}", 55_000 + seq),
            client_reference: dist.to_string(),
            status: "Confirmed".into(),
            hotel: hotel.code.clone(),
            room: room_id.to_string(),
            rate: rate_id.to_string(),
            checkin: stay.checkin,
            checkout: stay.checkout,
            total: hold.total,
            currency: hold.currency.clone(),
            guests,
            created_at: state.now(),
            extra: json!({
                "supplierResId": format!("HTL-{}", 9_000 + seq),
                "roomCriteria": occ.json(),
                "contactPerson": contact,
                "guests": body.get("guests"),
                "amountAfterTax": hold.nightly.iter().map(|n| money(*n)).collect::<Vec<_>>(),
                "refundable": refundable,
            }),
        };
        bookings.push(b.clone());
        b
    };
    let resp = ok(header, book_answer(&booking));
    Ok(if *scenario == Scenario::CommitThenTimeout {
        resp.hang()
    } else {
        resp
    })
}

/// Index of the reservation whose ids equal every id given in `reservationIds`.
fn lookup(bookings: &[SimBooking], body: &Value) -> Reply<usize> {
    let ids = req_obj(body, "reservationIds", "reservationIds")?;
    let mut given: Vec<(&str, &str)> = Vec::new();
    for key in ["distributorResId", "derbyResId", "supplierResId"] {
        if let Some(v) = field(ids, key) {
            let s = v.as_str().ok_or_else(|| {
                Fail::invalid(&format!("reservationIds.{key}"), "must be a string")
            })?;
            given.push((key, s));
        }
    }
    if given.is_empty() {
        return Err(Fail::invalid(
            "reservationIds",
            "needs distributorResId, derbyResId or supplierResId",
        ));
    }
    bookings
        .iter()
        .position(|b| {
            let all = reservation_ids(b);
            given
                .iter()
                .all(|(k, v)| all.get(*k).and_then(Value::as_str) == Some(*v))
        })
        .ok_or_else(|| {
            Fail::Code(
                404,
                "ReservationNotFound",
                "no reservation with these ids".into(),
            )
        })
}

fn reservation(b: &SimBooking) -> Value {
    let mut r = json!({
        "reservationIds": reservation_ids(b),
        "status": b.status,
        "hotelId": b.hotel,
        "stayRange": {"checkin": b.checkin.to_string(), "checkout": b.checkout.to_string()},
        "roomCriteria": b.extra.get("roomCriteria"),
        "roomRates": [{"roomId": b.room, "rateId": b.rate, "currency": b.currency,
                       "amountAfterTax": b.extra.get("amountAfterTax")}],
        "contactPerson": b.extra.get("contactPerson"),
        "guests": b.extra.get("guests"),
        "total": {"amountAfterTax": money(b.total), "currency": b.currency},
    });
    for key in ["cancellationId", "penalty"] {
        if let (Some(v), Some(obj)) = (b.extra.get(key), r.as_object_mut()) {
            obj.insert(key.into(), v.clone());
        }
    }
    r
}

/// `POST /bookingusb/v4/reservation/detail`.
pub(super) fn detail(state: &SimState, body: &Value, header: &Value) -> Reply<SimResponse> {
    let bookings = state.bookings.lock();
    let i = lookup(&bookings, body)?;
    let b = bookings.get(i).ok_or_else(|| {
        Fail::Code(
            404,
            "ReservationNotFound",
            "no reservation with these ids".into(),
        )
    })?;
    Ok(ok(header, reservation(b)))
}

/// The cancellation penalty now: refundable plans cost the first night of every room after
/// 23:59 hotel-local two days before arrival; non-refundable plans cost the total.
fn penalty(state: &SimState, b: &SimBooking) -> Decimal {
    if !b
        .extra
        .get("refundable")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        return b.total;
    }
    let tz = state
        .catalog
        .hotel(&b.hotel)
        .and_then(|h| state.world.hotels.get(h.world_idx))
        .map_or("UTC", |w| w.dest().time_zone);
    let local = crate::dida::tz::local_now(tz, state.now());
    let deadline = (b.checkin - Duration::days(2)).and_hms_opt(23, 59, 0);
    if deadline.is_some_and(|d| local <= d) {
        return Decimal::ZERO;
    }
    let first_night = b
        .extra
        .get("amountAfterTax")
        .and_then(|a| a.get(0))
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Decimal>().ok())
        .unwrap_or_default();
    let rooms = b
        .extra
        .get("roomCriteria")
        .and_then(|r| r.get("roomCount"))
        .and_then(Value::as_u64)
        .unwrap_or(1);
    first_night * Decimal::from(rooms)
}

/// `POST /bookingusb/v4/reservation/cancel`.
pub(super) fn cancel(state: &SimState, body: &Value, header: &Value) -> Reply<SimResponse> {
    let mut bookings = state.bookings.lock();
    let i = lookup(&bookings, body)?;
    let Some(b) = bookings.get_mut(i) else {
        return Err(Fail::Code(
            404,
            "ReservationNotFound",
            "no reservation with these ids".into(),
        ));
    };
    if b.status == "Cancelled" {
        return Err(Fail::Code(
            409,
            "ReservationAlreadyCancelled",
            format!("reservation {} is already cancelled", b.reference),
        ));
    }
    let amount = penalty(state, b);
    let cancellation_id = format!("CXL-{}", 3_000 + state.next_seq());
    let penalty = json!({"amount": money(amount), "currency": b.currency});
    b.status = "Cancelled".into();
    if let Some(extra) = b.extra.as_object_mut() {
        extra.insert("cancellationId".into(), json!(cancellation_id));
        extra.insert("penalty".into(), penalty.clone());
    }
    Ok(ok(
        header,
        json!({"cancellationId": cancellation_id, "penalty": penalty}),
    ))
}
