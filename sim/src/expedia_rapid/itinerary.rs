//! Itineraries: book, retrieve, find by `affiliate_reference_id`, cancel a room (spec "Book",
//! "Retrieve").

use super::shopping::{price_rate, Offer};
use super::{
    derived_token, field_error, invalid_input, invalid_one, iso_ms, link, link_expired, live_token,
    money, not_found, require_customer_ip, rooms_unavailable, token_param, FieldError, Reply,
    TOKEN_PREFIX,
};
use crate::scenario::Scenario;
use crate::state::{SimBooking, SimState};
use crate::{SimRequest, SimResponse};
use chrono::Duration;
use serde_json::{json, Map, Value};

const BOOKED: &str = "booked";
const CANCELED: &str = "canceled";
/// How long a `commit_then_timeout` itinerary shows only its id (spec "Retrieve").
const PENDING_MS: i64 = 2000;

struct Guest {
    given_name: String,
    family_name: String,
    smoking: bool,
}

fn str_in(v: Option<&Value>, min: usize, max: usize) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| (min..=max).contains(&s.chars().count()))
        .map(str::to_string)
}

fn digits(v: Option<&Value>, min: usize, max: usize) -> bool {
    v.and_then(Value::as_str)
        .is_some_and(|s| (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
}

fn body_error(kind: &str, message: &str, field: &str, value: &str) -> FieldError {
    field_error(kind, message, field, "body", value)
}

/// `POST /v3/itineraries?token=…` → 201 with the itinerary id and a `retrieve` link.
pub(super) fn book(state: &SimState, req: &SimRequest, scenario: &Scenario) -> Reply<SimResponse> {
    require_customer_ip(req)?;
    let token = token_param(req)?;
    let body: Map<String, Value> = match serde_json::from_slice(&req.body) {
        Ok(Value::Object(m)) => m,
        _ => {
            return Err(invalid_one(
                "body.invalid",
                "The request body must be a JSON object.",
                "body",
                "body",
                "",
            ))
        }
    };
    let mut errors = Vec::new();
    let reference = str_in(body.get("affiliate_reference_id"), 3, 28);
    if reference.is_none() {
        errors.push(body_error(
            "affiliate_reference_id.invalid",
            "affiliate_reference_id is required, 3 to 28 characters.",
            "affiliate_reference_id",
            body.get("affiliate_reference_id")
                .and_then(Value::as_str)
                .unwrap_or(""),
        ));
    }
    match body.get("hold") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => errors.push(body_error(
            "hold.not_supported",
            "Holds are not supported.",
            "hold",
            "true",
        )),
        Some(_) => errors.push(body_error(
            "hold.invalid",
            "hold must be a boolean.",
            "hold",
            "",
        )),
    }
    let email = str_in(body.get("email"), 3, 254).filter(|e| {
        e.split_once('@')
            .is_some_and(|(a, d)| !a.is_empty() && d.contains('.'))
    });
    if email.is_none() {
        errors.push(body_error(
            "email.invalid",
            "email is required and must be an email address.",
            "email",
            body.get("email").and_then(Value::as_str).unwrap_or(""),
        ));
    }
    let phone = body.get("phone").and_then(Value::as_object);
    if !phone.is_some_and(|p| digits(p.get("country_code"), 1, 4) && digits(p.get("number"), 4, 15))
    {
        errors.push(body_error(
            "phone.invalid",
            "phone with numeric country_code and number is required.",
            "phone",
            "",
        ));
    }
    let mut guests = Vec::new();
    match body.get("rooms").and_then(Value::as_array) {
        Some(rooms) if !rooms.is_empty() && rooms.len() <= 8 => {
            for (i, r) in rooms.iter().enumerate() {
                let given = str_in(r.get("given_name"), 1, 60);
                let family = str_in(r.get("family_name"), 1, 60);
                let smoking = match r.get("smoking") {
                    None | Some(Value::Null) => Some(false),
                    Some(Value::Bool(b)) => Some(*b),
                    Some(_) => None,
                };
                match (given, family, smoking) {
                    (Some(given_name), Some(family_name), Some(smoking)) => guests.push(Guest {
                        given_name,
                        family_name,
                        smoking,
                    }),
                    _ => errors.push(body_error(
                        "rooms.invalid",
                        "Each room needs given_name and family_name (1-60 characters) and an optional boolean smoking.",
                        &format!("rooms[{i}]"),
                        "",
                    )),
                }
            }
        }
        _ => errors.push(body_error(
            "rooms.required",
            "rooms is required: one entry per occupancy.",
            "rooms",
            "",
        )),
    }
    let payments_ok = body
        .get("payments")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty() && p.iter().all(|x| x["type"] == "affiliate_collect"));
    if !payments_ok {
        errors.push(body_error(
            "payments.invalid",
            "payments is required; only type affiliate_collect is supported.",
            "payments",
            "",
        ));
    }
    let (Some(reference), Some(email), true) = (reference, email, errors.is_empty()) else {
        return Err(invalid_input(errors));
    };

    if let Some(existing) = itinerary_id_by_reference(state, &reference) {
        return Err(duplicate(&existing));
    }
    let offer: Offer = live_token(state, token, "book")
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(link_expired)?;
    let occs = offer.occupancies();
    if guests.len() != occs.len() {
        return Err(invalid_one(
            "rooms.number_of_rooms_mismatch",
            &format!("rooms must have one entry per occupancy ({}).", occs.len()),
            "rooms",
            "body",
            &guests.len().to_string(),
        ));
    }
    let Some(hotel) = state.catalog.hotel(&offer.property_id) else {
        return Err(rooms_unavailable());
    };
    if *scenario == Scenario::SoldOutAtBook {
        return Err(rooms_unavailable());
    }
    let pct = match scenario {
        Scenario::PriceUp(p) => Some(*p),
        _ => None,
    };
    let Some(live) = price_rate(
        state,
        hotel,
        offer.room_idx,
        offer.rate_idx,
        offer.checkin,
        offer.checkout,
        &occs,
        &offer.currency,
        pct,
    ) else {
        return Err(rooms_unavailable());
    };
    if live.total > offer.total {
        return Err(SimResponse::json(
            409,
            &json!({
                "type": "price_mismatch",
                "message": "The price of the rate has changed. Please price check again.",
                "fields": [{"name": "price", "type": "body", "value": money(live.total)}],
            }),
        ));
    }

    let itinerary_id = (9_100_000_000u64 + state.next_seq()).to_string();
    let now = state.now();
    let refundable = state
        .catalog
        .rate_plans
        .get(offer.rate_idx)
        .is_some_and(|p| p.refundable);
    let initials: String = hotel
        .name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(3)
        .collect::<String>()
        .to_ascii_uppercase();
    let rooms: Vec<Value> = occs
        .iter()
        .zip(&guests)
        .enumerate()
        .map(|(i, (occ, g))| {
            let n = state.next_seq();
            json!({
                "id": (770_000 + n).to_string(),
                "confirmation_id": {"expedia": format!("EXP-{}", 5500 + n), "property": format!("{initials}-{:04}", n % 10_000)},
                "bed_group_id": offer.room_id.clone(),
                "checkin": offer.checkin.to_string(),
                "checkout": offer.checkout.to_string(),
                "number_of_adults": occ.adults,
                "child_ages": occ.ages,
                "given_name": g.given_name,
                "family_name": g.family_name,
                "smoking": g.smoking,
                "status": BOOKED,
                "rate": {
                    "id": offer.rate_id,
                    "refundable": refundable,
                    "cancel_penalties": offer.cancel_penalties,
                    "pricing": offer.room_pricing.get(i).cloned().unwrap_or(Value::Null),
                },
            })
        })
        .collect();
    let itinerary = json!({
        "itinerary_id": itinerary_id,
        "property_id": offer.property_id,
        "affiliate_reference_id": reference,
        "creation_date_time": iso_ms(now),
        "email": email,
        "phone": body.get("phone"),
        "rooms": rooms,
    });
    let record = SimBooking {
        reference: itinerary_id.clone(),
        client_reference: reference.clone(),
        status: BOOKED.into(),
        hotel: offer.property_id.clone(),
        room: offer.room_id.clone(),
        rate: offer.rate_id.clone(),
        checkin: offer.checkin,
        checkout: offer.checkout,
        total: offer.total,
        currency: offer.currency.clone(),
        guests: guests
            .iter()
            .map(|g| format!("{} {}", g.given_name, g.family_name))
            .collect(),
        created_at: now,
        extra: json!({
            "itinerary": itinerary,
            "email": email,
            "pending": *scenario == Scenario::CommitThenTimeout,
        }),
    };
    {
        let mut all = state.bookings.lock();
        if let Some(b) = all.iter().find(|b| b.client_reference == reference) {
            let id = b.reference.clone();
            drop(all);
            return Err(duplicate(&id));
        }
        all.push(record);
    }
    state.kv_remove(&format!("{TOKEN_PREFIX}{token}"));
    let retrieve = derived_token(state, "R", &format!("retrieve|{itinerary_id}"));
    let resp = SimResponse::json(
        201,
        &json!({
            "itinerary_id": itinerary_id,
            "links": {"retrieve": link("GET", format!("/v3/itineraries/{itinerary_id}?token={retrieve}"), None)},
        }),
    );
    Ok(if *scenario == Scenario::CommitThenTimeout {
        resp.hang()
    } else {
        resp
    })
}

fn duplicate(itinerary_id: &str) -> SimResponse {
    SimResponse::json(
        409,
        &json!({
            "type": "duplicate_itinerary",
            "message": "An itinerary with this affiliate_reference_id already exists.",
            "fields": [{"name": "itinerary_id", "type": "body", "value": itinerary_id}],
        }),
    )
}

fn itinerary_id_by_reference(state: &SimState, reference: &str) -> Option<String> {
    state
        .bookings
        .lock()
        .iter()
        .find(|b| b.client_reference == reference)
        .map(|b| b.reference.clone())
}

/// The itinerary as retrieve shows it: the short form while pending, else with cancel links.
fn render(state: &SimState, b: &SimBooking) -> Value {
    let it = &b.extra["itinerary"];
    let pending = b.extra["pending"] == true
        && state.now() - b.created_at < Duration::milliseconds(PENDING_MS);
    if pending {
        return json!({"itinerary_id": it["itinerary_id"], "creation_date_time": it["creation_date_time"]});
    }
    let mut out = it.clone();
    if let Some(rooms) = out["rooms"].as_array_mut() {
        for room in rooms {
            if room["status"] == BOOKED {
                let room_id = room["id"].as_str().unwrap_or("").to_string();
                let token = derived_token(state, "C", &format!("cancel|{}|{room_id}", b.reference));
                room["links"] = json!({"cancel": link(
                    "DELETE",
                    format!("/v3/itineraries/{}/rooms/{room_id}?token={token}", b.reference),
                    None,
                )});
            }
        }
    }
    out
}

fn segments(req: &SimRequest) -> Vec<String> {
    req.path
        .trim_end_matches('/')
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

/// `GET /v3/itineraries/{itinerary_id}?token=…` (or `?email=…`).
pub(super) fn retrieve(state: &SimState, req: &SimRequest) -> Reply<SimResponse> {
    require_customer_ip(req)?;
    let segs = segments(req);
    let id = segs.get(3).map(String::as_str).unwrap_or("");
    let Some(b) = state
        .bookings
        .lock()
        .iter()
        .find(|b| b.reference == id)
        .cloned()
    else {
        return Err(not_found());
    };
    match (req.query_param("token"), req.query_param("email")) {
        (Some(t), _) if t == derived_token(state, "R", &format!("retrieve|{id}")) => {}
        (Some(_), _) => return Err(link_expired()),
        (None, Some(e))
            if b.extra["email"]
                .as_str()
                .is_some_and(|x| x.eq_ignore_ascii_case(e)) => {}
        (None, Some(_)) => return Err(not_found()),
        (None, None) => {
            token_param(req)?;
        }
    }
    Ok(SimResponse::json(200, &render(state, &b)))
}

/// `GET /v3/itineraries?affiliate_reference_id=…&email=…` → the itinerary, 404 when none.
pub(super) fn find(state: &SimState, req: &SimRequest) -> Reply<SimResponse> {
    let mut errors = Vec::new();
    let reference = req
        .query_param("affiliate_reference_id")
        .filter(|r| !r.is_empty());
    let email = req.query_param("email").filter(|e| !e.is_empty());
    for (name, v) in [("affiliate_reference_id", reference), ("email", email)] {
        if v.is_none() {
            errors.push(field_error(
                &format!("{name}.required"),
                &format!("{name} is required."),
                name,
                "querystring",
                "",
            ));
        }
    }
    let (Some(reference), Some(email)) = (reference, email) else {
        return Err(invalid_input(errors));
    };
    let found = state
        .bookings
        .lock()
        .iter()
        .find(|b| {
            b.client_reference == reference
                && b.extra["email"]
                    .as_str()
                    .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
        .cloned();
    match found {
        Some(b) => Ok(SimResponse::json(200, &render(state, &b))),
        None => Err(not_found()),
    }
}

/// `DELETE /v3/itineraries/{itinerary_id}/rooms/{room_id}?token=…` → 204.
pub(super) fn cancel(state: &SimState, req: &SimRequest) -> Reply<SimResponse> {
    require_customer_ip(req)?;
    let segs = segments(req);
    let (id, room_id) = match segs.as_slice() {
        [_, _, _, id, _, room] => (id.clone(), room.clone()),
        _ => return Err(not_found()),
    };
    let token = token_param(req)?.to_string();
    let mut all = state.bookings.lock();
    let Some(b) = all.iter_mut().find(|b| b.reference == id) else {
        return Err(not_found());
    };
    let Some(rooms) = b.extra["itinerary"]["rooms"].as_array_mut() else {
        return Err(not_found());
    };
    let Some(room) = rooms.iter_mut().find(|r| r["id"] == room_id.as_str()) else {
        return Err(not_found());
    };
    if token != derived_token(state, "C", &format!("cancel|{id}|{room_id}")) {
        return Err(link_expired());
    }
    if room["status"] == CANCELED {
        return Err(invalid_one(
            "room.already_canceled",
            "The room has already been canceled.",
            "room_id",
            "path",
            &room_id,
        ));
    }
    room["status"] = json!(CANCELED);
    if rooms.iter().all(|r| r["status"] == CANCELED) {
        b.status = CANCELED.into();
    }
    drop(all);
    Ok(SimResponse {
        status: 204,
        ..SimResponse::default()
    })
}
