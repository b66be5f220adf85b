//! HotelBookingConfirm, HotelBookingSearch and the two-step HotelBookingCancel (spec "Book",
//! "Retrieve", "Cancel").

use super::rates::{penalty_from, reference_key, time_zone, Hold, REFERENCE_MINUTES};
use super::{
    fail, field, int_in, invalid, num, parse_stay, req, req_array, req_int, req_obj, req_str,
    success, tz, Reply,
};
use crate::scenario::Scenario;
use crate::state::{SimBooking, SimState};
use crate::SimResponse;
use chrono::Duration;
use rust_decimal::Decimal;
use serde_json::{json, Value};

const CONFIRMED: &str = "2";
const CANCELED: &str = "3";

fn not_found() -> SimResponse {
    fail("3001", "Booking not found")
}

fn reference_expired() -> SimResponse {
    fail("3003", "ReferenceNo expired or already used")
}

/// `BookingDetails` of a stored booking.
fn details(b: &SimBooking) -> Value {
    json!({
        "BookingID": b.reference,
        "ClientReference": b.client_reference,
        "Status": b.status.parse::<u8>().ok(),
        "TotalPrice": num(b.total),
        "Currency": b.currency,
        "HotelConfirmationNo": b.extra.get("HotelConfirmationNo"),
        "HotelID": b.hotel.parse::<u64>().ok(),
        "HotelName": b.extra.get("HotelName"),
        "RatePlanID": b.rate,
        "RoomName": b.extra.get("RoomName"),
        "CheckInDate": b.checkin.to_string(),
        "CheckOutDate": b.checkout.to_string(),
        "NumOfRooms": b.extra.get("NumOfRooms"),
        "GuestList": b.extra.get("GuestList"),
    })
}

fn name_of(v: &Value, path: &str) -> Reply<String> {
    let name = req_obj(v, "Name", &format!("{path}.Name"))?;
    let first = req_str(name, "First", &format!("{path}.Name.First"))?;
    let last = req_str(name, "Last", &format!("{path}.Name.Last"))?;
    if first.trim().is_empty() || last.trim().is_empty() {
        return Err(invalid(
            &format!("{path}.Name"),
            "First and Last must not be empty",
        ));
    }
    Ok(format!("{first} {last}"))
}

/// `GuestList`: every room 1..rooms once, each with at least one adult. Returns guest names.
fn guest_list(body: &Value, rooms: u32) -> Reply<Vec<String>> {
    let list = req_array(body, "GuestList", "GuestList")?;
    let mut seen = vec![false; rooms as usize];
    let mut names = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let path = format!("GuestList[{i}]");
        if !entry.is_object() {
            return Err(invalid(&path, "must be an object"));
        }
        let room_path = format!("{path}.RoomNum");
        let room = int_in(
            req(entry, "RoomNum", &room_path)?,
            &room_path,
            1,
            u64::from(rooms),
        )? as usize;
        match seen.get_mut(room - 1) {
            Some(s) if !*s => *s = true,
            _ => return Err(invalid(&room_path, "names a room twice")),
        }
        let guests = req_array(entry, "GuestInfo", &format!("{path}.GuestInfo"))?;
        let mut adults = 0;
        for (j, g) in guests.iter().enumerate() {
            let gpath = format!("{path}.GuestInfo[{j}]");
            if !g.is_object() {
                return Err(invalid(&gpath, "must be an object"));
            }
            names.push(name_of(g, &gpath)?);
            let is_adult = req(g, "IsAdult", &format!("{gpath}.IsAdult"))?
                .as_bool()
                .ok_or_else(|| invalid(&format!("{gpath}.IsAdult"), "must be true or false"))?;
            if is_adult {
                adults += 1;
            }
        }
        if adults == 0 {
            return Err(invalid(
                &format!("{path}.GuestInfo"),
                "every room needs an adult guest",
            ));
        }
    }
    if seen.iter().any(|s| !s) {
        return Err(invalid(
            "GuestList",
            "every room 1..NumOfRooms needs its guests",
        ));
    }
    Ok(names)
}

fn contact(body: &Value) -> Reply<Value> {
    let c = req_obj(body, "Contact", "Contact")?;
    name_of(c, "Contact")?;
    for key in ["Email", "Phone"] {
        if let Some(v) = field(c, key) {
            v.as_str()
                .ok_or_else(|| invalid(&format!("Contact.{key}"), "must be a string"))?;
        }
    }
    Ok(c.clone())
}

fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .filter(char::is_ascii_alphabetic)
        .take(3)
        .collect::<String>()
        .to_ascii_uppercase()
}

/// `POST /api/booking/HotelBookingConfirm`: books a `ReferenceNo`, idempotent by `ClientReference`.
pub(super) fn confirm(state: &SimState, body: &Value, scenario: &Scenario) -> Reply<SimResponse> {
    let client_ref = req_str(body, "ClientReference", "ClientReference")?;
    if client_ref.trim().is_empty() {
        return Err(invalid("ClientReference", "must not be empty"));
    }
    if let Some(b) = state
        .bookings
        .lock()
        .iter()
        .find(|b| b.client_reference == client_ref)
    {
        return Ok(success(json!({"BookingDetails": details(b)})));
    }
    let reference = req_str(body, "ReferenceNo", "ReferenceNo")?;
    let stay = parse_stay(state, body)?;
    let rooms = req_int(body, "NumOfRooms", "NumOfRooms", 1, 9)? as u32;
    let guests = guest_list(body, rooms)?;
    let contact = contact(body)?;
    let key = reference_key(reference);
    let (issued, hold) = state
        .kv_get(&key)
        .and_then(|(t, v)| serde_json::from_value::<Hold>(v).ok().map(|h| (t, h)))
        .ok_or_else(reference_expired)?;
    if state.now() - issued > Duration::minutes(REFERENCE_MINUTES) {
        state.kv_remove(&key);
        return Err(reference_expired());
    }
    if hold.checkin != stay.checkin || hold.checkout != stay.checkout || hold.rooms != rooms {
        return Err(fail(
            "2001",
            "CheckInDate, CheckOutDate and NumOfRooms must match the PriceConfirm",
        ));
    }
    let hotel = state
        .catalog
        .hotel(&hold.hotel)
        .ok_or_else(|| fail("2010", "No availability"))?;
    if *scenario == Scenario::SoldOutAtBook {
        return Err(fail("2010", "No availability"));
    }
    let live = state
        .quote(
            hotel,
            hold.room,
            hold.rate,
            hold.checkin,
            hold.checkout,
            hold.rooms,
            hold.adults,
            hold.children,
        )
        .ok_or_else(|| fail("2010", "No availability"))?;
    if live.total != hold.base_eur {
        return Err(fail(
            "2009",
            "Price changed since PriceConfirm; confirm the price again",
        ));
    }
    let room = hotel.rooms.get(hold.room);
    let booking = {
        let mut bookings = state.bookings.lock();
        if let Some(b) = bookings.iter().find(|b| b.client_reference == client_ref) {
            return Ok(success(json!({"BookingDetails": details(b)})));
        }
        if state.kv_remove(&key).is_none() {
            return Err(reference_expired());
        }
        let seq = state.next_seq();
        let b = SimBooking {
            reference: format!("DD-{}", 90_000 + seq),
            client_reference: client_ref.to_string(),
            status: CONFIRMED.into(),
            hotel: hold.hotel.clone(),
            room: room.map(|r| r.code.clone()).unwrap_or_default(),
            rate: hold.rate_plan_id.clone(),
            checkin: hold.checkin,
            checkout: hold.checkout,
            total: hold.total,
            currency: hold.currency.clone(),
            guests,
            created_at: state.now(),
            extra: json!({
                "HotelConfirmationNo": format!("{}-{}", initials(&hotel.name), 3_000 + seq),
                "HotelName": hotel.name,
                "RoomName": room.map(|r| r.name.as_str()),
                "NumOfRooms": hold.rooms,
                "FirstNight": hold.nightly.first().map(|n| n.to_string()),
                "Refundable": hold.refundable,
                "GuestList": body.get("GuestList"),
                "Contact": contact,
            }),
        };
        bookings.push(b.clone());
        b
    };
    let resp = success(json!({"BookingDetails": details(&booking)}));
    Ok(if *scenario == Scenario::CommitThenTimeout {
        resp.hang()
    } else {
        resp
    })
}

/// `POST /api/booking/HotelBookingSearch`: by `BookingID` and/or `ClientReference`.
pub(super) fn search(state: &SimState, body: &Value) -> Reply<SimResponse> {
    let by = req_obj(body, "SearchBy", "SearchBy")?;
    let mut given: Vec<(&str, &str)> = Vec::new();
    for key in ["BookingID", "ClientReference"] {
        if let Some(v) = field(by, key) {
            let s = v
                .as_str()
                .ok_or_else(|| invalid(&format!("SearchBy.{key}"), "must be a string"))?;
            given.push((key, s));
        }
    }
    if given.is_empty() {
        return Err(invalid("SearchBy", "needs BookingID or ClientReference"));
    }
    let bookings = state.bookings.lock();
    let found: Vec<Value> = bookings
        .iter()
        .filter(|b| {
            given.iter().all(|(k, v)| match *k {
                "BookingID" => b.reference == *v,
                _ => b.client_reference == *v,
            })
        })
        .map(details)
        .collect();
    if found.is_empty() {
        return Err(not_found());
    }
    Ok(success(json!({ "BookingDetailsList": found })))
}

/// The penalty of cancelling now: from 00:00 hotel-local two days before check-in the first night
/// of every room (refundable), the total at any time (non-refundable).
fn penalty(state: &SimState, b: &SimBooking) -> Decimal {
    let refundable = b
        .extra
        .get("Refundable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let Some(hotel) = state.catalog.hotel(&b.hotel) else {
        return b.total;
    };
    if !refundable {
        return b.total;
    }
    let local = tz::local_now(time_zone(state, hotel), state.now());
    if local < penalty_from(state, hotel, b.checkin, true) {
        return Decimal::ZERO;
    }
    let first = b
        .extra
        .get("FirstNight")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Decimal>().ok())
        .unwrap_or_default();
    let rooms = b
        .extra
        .get("NumOfRooms")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    first * Decimal::from(rooms)
}

fn cancel_key(confirm_id: &str) -> String {
    format!("dida/cancel/{confirm_id}")
}

/// `POST /api/booking/HotelBookingCancel`: empty `ConfirmID` quotes, a quoted one cancels.
pub(super) fn cancel(state: &SimState, body: &Value) -> Reply<SimResponse> {
    let id = req_str(body, "BookingID", "BookingID")?;
    let confirm_id = match field(body, "ConfirmID") {
        None => "",
        Some(v) => v
            .as_str()
            .ok_or_else(|| invalid("ConfirmID", "must be a string"))?,
    };
    let mut bookings = state.bookings.lock();
    let b = bookings
        .iter_mut()
        .find(|b| b.reference == id)
        .ok_or_else(not_found)?;
    let penalty_json =
        |amount: Decimal, currency: &str| json!({"Value": num(amount), "Currency": currency});
    if b.status == CANCELED {
        let p = b.extra.get("Penalty").cloned().unwrap_or(Value::Null);
        return Ok(success(
            json!({"BookingID": b.reference, "Status": 3, "Penalty": p}),
        ));
    }
    if confirm_id.is_empty() {
        let amount = penalty(state, b);
        let cid = format!("CF-{}", state.next_seq());
        state.kv_put(
            cancel_key(&cid),
            json!({"BookingID": b.reference, "Penalty": amount.to_string()}),
        );
        return Ok(success(
            json!({"ConfirmID": cid, "Penalty": penalty_json(amount, &b.currency)}),
        ));
    }
    let quoted = state
        .kv_get(&cancel_key(confirm_id))
        .map(|(_, v)| v)
        .filter(|v| v.get("BookingID").and_then(Value::as_str) == Some(b.reference.as_str()))
        .and_then(|v| {
            v.get("Penalty")
                .and_then(Value::as_str)
                .and_then(|p| p.parse::<Decimal>().ok())
        })
        .ok_or_else(|| invalid("ConfirmID", "is not a cancellation quote of this booking"))?;
    state.kv_remove(&cancel_key(confirm_id));
    let p = penalty_json(quoted, &b.currency);
    b.status = CANCELED.into();
    if let Some(extra) = b.extra.as_object_mut() {
        extra.insert("Penalty".into(), p.clone());
        extra.insert("ConfirmID".into(), json!(confirm_id));
    }
    Ok(success(
        json!({"BookingID": b.reference, "Status": 3, "Penalty": p}),
    ))
}
