//! Book, retrieve, list by `clientReference`, and cancel (spec "Book", "Cancel").

use super::availability::{live_price, lookup_key, policies, price_up, RateInfo, KEY_PREFIX};
use super::{
    invalid, invalid_data, json_body, money, no_availability, ok, price_changed, str_field, Reply,
    API,
};
use crate::scenario::Scenario;
use crate::state::{SimBooking, SimState};
use crate::{SimRequest, SimResponse};
use chrono::DateTime;
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use std::str::FromStr;

const MAX_CLIENT_REFERENCE: usize = 20;
const MAX_ROOMS: usize = 10;
const CONFIRMED: &str = "CONFIRMED";
const CANCELLED: &str = "CANCELLED";

/// One pax of a `rooms[].paxes` entry.
struct Pax {
    room_id: u64,
    adult: bool,
    json: Value,
    display: String,
}

/// `POST /hotel-api/1.0/bookings`
pub(super) fn book(state: &SimState, req: &SimRequest, scenario: &Scenario) -> Reply<SimResponse> {
    let body = json_body(state, req)?;
    let Some(holder) = body.get("holder").and_then(Value::as_object) else {
        return Err(invalid(state, "holder is required (object)"));
    };
    let holder_name = str_field(state, holder, "name", "holder")?.to_uppercase();
    let holder_surname = str_field(state, holder, "surname", "holder")?.to_uppercase();
    let client_reference = match body.get("clientReference") {
        Some(Value::String(s))
            if !s.trim().is_empty() && s.chars().count() <= MAX_CLIENT_REFERENCE =>
        {
            s.clone()
        }
        _ => {
            return Err(invalid(
                state,
                format!("clientReference is required (1-{MAX_CLIENT_REFERENCE} characters)"),
            ))
        }
    };
    let remark = match body.get("remark") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(invalid(state, "remark must be a string")),
    };
    let tolerance = match body.get("tolerance") {
        None | Some(Value::Null) => Decimal::ZERO,
        Some(Value::Number(n)) => Decimal::from_str(&n.to_string())
            .or_else(|_| Decimal::from_scientific(&n.to_string()))
            .ok()
            .filter(|t| !t.is_sign_negative())
            .ok_or_else(|| invalid(state, "tolerance must be a non-negative number"))?,
        Some(_) => return Err(invalid(state, "tolerance must be a number")),
    };
    let Some(rooms) = body
        .get("rooms")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
    else {
        return Err(invalid(state, "rooms is required (non-empty array)"));
    };
    if rooms.len() > MAX_ROOMS {
        return Err(invalid(
            state,
            format!("At most {MAX_ROOMS} rooms per booking"),
        ));
    }
    let mut requested = Vec::new();
    for (i, room) in rooms.iter().enumerate() {
        let path = format!("rooms[{i}]");
        let Some(room) = room.as_object() else {
            return Err(invalid(state, format!("{path} must be an object")));
        };
        let Some(key) = room.get("rateKey").and_then(Value::as_str) else {
            return Err(invalid(
                state,
                format!("{path}.rateKey is required (string)"),
            ));
        };
        let paxes = paxes(state, room.get("paxes"), &path)?;
        requested.push((key.to_string(), paxes));
    }

    // A repeated clientReference answers with the booking it already made.
    if let Some(existing) = booking_json_by_client_reference(state, &client_reference) {
        return Ok(ok(state, json!({"booking": existing})));
    }

    let mut infos: Vec<RateInfo> = Vec::new();
    for (key, paxes) in &requested {
        let info = lookup_key(state, key)?;
        if let Some(first) = infos.first() {
            if first.hotel != info.hotel
                || first.checkin != info.checkin
                || first.checkout != info.checkout
                || first.currency != info.currency
            {
                return Err(invalid(
                    state,
                    "All rooms of a booking must share hotel, stay and currency",
                ));
            }
        }
        let adults = paxes.iter().filter(|p| p.adult).count() as u64;
        let children = paxes.len() as u64 - adults;
        let rooms = u64::from(info.rooms);
        if adults > u64::from(info.adults) * rooms
            || children > u64::from(info.children) * rooms
            || paxes.iter().any(|p| p.room_id > rooms)
        {
            return Err(invalid(
                state,
                format!(
                    "paxes do not fit the rate's occupancy ({} rooms of {} adults and {} children)",
                    info.rooms, info.adults, info.children
                ),
            ));
        }
        infos.push(info);
    }
    if *scenario == Scenario::SoldOutAtBook {
        return Err(no_availability(state));
    }
    for info in &infos {
        if info.recheck && !info.checked {
            return Err(price_changed(state));
        }
        let Some(live) = live_price(state, info, price_up(scenario)) else {
            return Err(no_availability(state));
        };
        let limit = info.net * (Decimal::ONE + tolerance / Decimal::from(100));
        if live.net > limit {
            return Err(price_changed(state));
        }
    }

    let (Some(first), Some(hotel)) = (
        infos.first(),
        infos.first().and_then(|i| state.catalog.hotel(&i.hotel)),
    ) else {
        return Err(no_availability(state));
    };
    let reference = format!("217-{}", 4_409_000 + state.next_seq());
    let total: Decimal = infos.iter().map(|i| i.net).sum();
    let mut guests = Vec::new();
    let mut booked_rooms = Vec::new();
    for (i, (info, (_, paxes))) in infos.iter().zip(&requested).enumerate() {
        let plan = state.catalog.rate_plans.get(info.rate_idx);
        let room = hotel.rooms.get(info.room_idx);
        guests.extend(paxes.iter().map(|p| p.display.clone()));
        let board = plan.map_or("RO", |p| p.board);
        booked_rooms.push(json!({
            "status": CONFIRMED,
            "id": i + 1,
            "code": room.map(|r| r.code.as_str()),
            "name": room.map(|r| r.name.as_str()),
            "paxes": paxes.iter().map(|p| p.json.clone()).collect::<Vec<_>>(),
            "rates": [{
                "rateClass": if plan.is_some_and(|p| p.refundable) { "NOR" } else { "NRF" },
                "net": money(info.net),
                "boardCode": board,
                "boardName": if board == "BB" { "BED AND BREAKFAST" } else { "ROOM ONLY" },
                "rooms": info.rooms,
                "adults": info.adults,
                "children": info.children,
                "cancellationPolicies": policies(state, info),
            }],
        }));
    }
    let world = state.world.hotels.get(hotel.world_idx);
    let booking = json!({
        "reference": reference,
        "clientReference": client_reference,
        "creationDate": state.now().date_naive().to_string(),
        "status": CONFIRMED,
        "modificationPolicies": {"cancellation": true, "modification": false},
        "creationUser": state.options.key,
        "holder": {"name": holder_name, "surname": holder_surname},
        "remark": remark,
        "hotel": {
            "code": hotel.code.parse::<u64>().unwrap_or(0),
            "name": hotel.name,
            "categoryCode": world.map(|w| format!("{}EST", w.stars)),
            "destinationCode": world.map(|w| w.dest().code),
            "checkIn": first.checkin.to_string(),
            "checkOut": first.checkout.to_string(),
            "rooms": booked_rooms,
            "totalNet": money(total),
            "currency": first.currency,
            "supplier": {"name": "HOTELBEDS SIMULATOR", "vatNumber": "ESB00000000"},
        },
        "totalNet": money(total),
        "pendingAmount": money(total),
        "currency": first.currency,
    });
    let record = SimBooking {
        reference: reference.clone(),
        client_reference: client_reference.clone(),
        status: CONFIRMED.into(),
        hotel: hotel.code.clone(),
        room: hotel
            .rooms
            .get(first.room_idx)
            .map_or_else(String::new, |r| r.code.clone()),
        rate: state
            .catalog
            .rate_plans
            .get(first.rate_idx)
            .map_or_else(String::new, |p| p.code.clone()),
        checkin: first.checkin,
        checkout: first.checkout,
        total,
        currency: first.currency.clone(),
        guests,
        created_at: state.now(),
        extra: json!({"booking": booking}),
    };
    {
        let mut all = state.bookings.lock();
        if let Some(existing) = all
            .iter()
            .find(|b| b.client_reference == client_reference)
            .map(|b| b.extra["booking"].clone())
        {
            drop(all);
            return Ok(ok(state, json!({"booking": existing})));
        }
        all.push(record);
    }
    for (key, _) in &requested {
        state.kv_remove(&format!("{KEY_PREFIX}{key}"));
    }
    let resp = ok(state, json!({"booking": booking}));
    Ok(if *scenario == Scenario::CommitThenTimeout {
        resp.hang()
    } else {
        resp
    })
}

fn paxes(state: &SimState, v: Option<&Value>, path: &str) -> Reply<Vec<Pax>> {
    let Some(list) = v.and_then(Value::as_array).filter(|l| !l.is_empty()) else {
        return Err(invalid(
            state,
            format!("{path}.paxes is required (non-empty array)"),
        ));
    };
    let mut out = Vec::new();
    for (j, p) in list.iter().enumerate() {
        let ppath = format!("{path}.paxes[{j}]");
        let Some(p) = p.as_object() else {
            return Err(invalid(state, format!("{ppath} must be an object")));
        };
        let room_id = super::int_field(state, p, "roomId", &ppath, 1, 9, Some(1))?;
        let name = str_field(state, p, "name", &ppath)?;
        let surname = str_field(state, p, "surname", &ppath)?;
        let mut json = json!({"roomId": room_id, "name": name.to_uppercase(), "surname": surname.to_uppercase()});
        let adult = match p.get("type").and_then(Value::as_str) {
            Some("AD") => true,
            Some("CH") => {
                json["age"] = json!(super::int_field(state, p, "age", &ppath, 0, 17, None)?);
                false
            }
            _ => return Err(invalid(state, format!("{ppath}.type must be AD or CH"))),
        };
        json["type"] = json!(if adult { "AD" } else { "CH" });
        out.push(Pax {
            room_id,
            adult,
            json,
            display: format!("{name} {surname}"),
        });
    }
    Ok(out)
}

fn booking_json_by_client_reference(state: &SimState, client_reference: &str) -> Option<Value> {
    state
        .bookings
        .lock()
        .iter()
        .find(|b| b.client_reference == client_reference)
        .map(|b| b.extra["booking"].clone())
}

/// The `{reference}` path segment, percent-decoded.
fn reference_of(req: &SimRequest) -> String {
    let raw = req
        .path
        .trim_end_matches('/')
        .strip_prefix(API)
        .and_then(|r| r.strip_prefix("/bookings/"))
        .unwrap_or("");
    percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned()
}

fn unknown_booking(state: &SimState, reference: &str) -> SimResponse {
    invalid_data(
        state,
        format!("No booking found with reference {reference}"),
    )
}

/// `GET /hotel-api/1.0/bookings/{reference}`
pub(super) fn retrieve(state: &SimState, req: &SimRequest) -> Reply<SimResponse> {
    let reference = reference_of(req);
    let booking = state
        .bookings
        .lock()
        .iter()
        .find(|b| b.reference == reference)
        .map(|b| b.extra["booking"].clone());
    match booking {
        Some(b) => Ok(ok(state, json!({"booking": b}))),
        None => Err(unknown_booking(state, &reference)),
    }
}

fn query_int(state: &SimState, req: &SimRequest, name: &str, default: u64) -> Reply<u64> {
    match req.query_param(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| invalid(state, format!("{name} must be a positive integer"))),
    }
}

/// `GET /hotel-api/1.0/bookings?clientReference=…&from=1&to=25`
pub(super) fn list(state: &SimState, req: &SimRequest) -> Reply<SimResponse> {
    let from = query_int(state, req, "from", 1)?;
    let to = query_int(state, req, "to", 25)?;
    if to < from || to - from >= 100 {
        return Err(invalid(
            state,
            "to must be at least from and at most from + 99",
        ));
    }
    let client_reference = req.query_param("clientReference");
    let matching: Vec<Value> = state
        .bookings
        .lock()
        .iter()
        .filter(|b| client_reference.is_none_or(|c| b.client_reference == c))
        .map(|b| b.extra["booking"].clone())
        .collect();
    let total = matching.len();
    let page: Vec<Value> = matching
        .into_iter()
        .skip(from as usize - 1)
        .take((to - from + 1) as usize)
        .collect();
    Ok(ok(
        state,
        json!({"bookings": {"from": from, "to": to, "total": total, "bookings": page}}),
    ))
}

/// The penalty due now: per room, the largest policy amount whose `from` has passed.
fn penalty_now(state: &SimState, booking: &Value) -> Decimal {
    let now = state.now();
    let mut sum = Decimal::ZERO;
    for room in booking["hotel"]["rooms"].as_array().into_iter().flatten() {
        let mut due = Decimal::ZERO;
        for rate in room["rates"].as_array().into_iter().flatten() {
            for p in rate["cancellationPolicies"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let from = p["from"]
                    .as_str()
                    .and_then(|f| DateTime::parse_from_rfc3339(f).ok());
                let amount = p["amount"].as_str().and_then(|a| Decimal::from_str(a).ok());
                if let (Some(from), Some(amount)) = (from, amount) {
                    if from <= now {
                        due = due.max(amount);
                    }
                }
            }
        }
        sum += due;
    }
    sum
}

/// `DELETE /hotel-api/1.0/bookings/{reference}?cancellationFlag=CANCELLATION|SIMULATION`
pub(super) fn cancel(state: &SimState, req: &SimRequest) -> Reply<SimResponse> {
    let simulate = match req.query_param("cancellationFlag") {
        None | Some("CANCELLATION") => false,
        Some("SIMULATION") => true,
        Some(other) => {
            return Err(invalid(
                state,
                format!("cancellationFlag must be CANCELLATION or SIMULATION, got {other:?}"),
            ))
        }
    };
    let reference = reference_of(req);
    let mut all = state.bookings.lock();
    let Some(record) = all.iter_mut().find(|b| b.reference == reference) else {
        drop(all);
        return Err(unknown_booking(state, &reference));
    };
    if record.status == CANCELLED {
        drop(all);
        return Err(invalid_data(
            state,
            format!("Booking {reference} is already cancelled"),
        ));
    }
    let mut booking = record.extra["booking"].clone();
    let amount = penalty_now(state, &booking);
    booking["hotel"]["cancellationAmount"] = json!(money(amount));
    if !simulate {
        booking["status"] = json!(CANCELLED);
        booking["cancellationReference"] = json!(format!("CX-{}", 88_000 + state.next_seq()));
        booking["pendingAmount"] = json!(money(amount));
        if let Some(rooms) = booking["hotel"]["rooms"].as_array_mut() {
            for room in rooms {
                room["status"] = json!(CANCELLED);
            }
        }
        record.status = CANCELLED.into();
        if let Some(extra) = record.extra.as_object_mut() {
            extra.insert("booking".into(), booking.clone());
            extra.insert("cancellation_amount".into(), json!(money(amount)));
        }
    }
    drop(all);
    let mut out = Map::new();
    out.insert("booking".into(), booking);
    Ok(ok(state, Value::Object(out)))
}
