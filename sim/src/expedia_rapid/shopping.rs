//! Shopping: availability search, price check (spec "Search response", "Recheck") and content.

use super::{
    field_error, invalid_input, invalid_one, issue_token, link, link_expired, live_token, money,
    prune, token_param, FieldError, Reply, LINK_TTL_MINUTES,
};
use crate::catalog::CatalogHotel;
use crate::scenario::Scenario;
use crate::state::SimState;
use crate::{SimRequest, SimResponse};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Timelike, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

const MAX_OCCUPANCIES: usize = 8;
const MAX_PROPERTIES: usize = 250;
const MAX_NIGHTS: i64 = 28;
/// Resort fee of hotels with a pool, EUR per room and night, paid at the property.
const RESORT_FEE_EUR: Decimal = Decimal::from_parts(300, 0, 0, false, 2);
const SALES_CHANNELS: [&str; 6] = [
    "website",
    "agent_tool",
    "mobile_app",
    "mobile_web",
    "meta",
    "cache",
];
const SALES_ENVIRONMENTS: [&str; 3] = ["hotel_only", "hotel_package", "loyalty"];

/// One room's occupancy: `adults[-age,age…]`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Occupancy {
    /// Normalised form, the key of `occupancy_pricing`.
    pub key: String,
    pub adults: u8,
    pub ages: Vec<u8>,
}

pub(super) fn parse_occupancy(s: &str) -> Option<Occupancy> {
    let (adults, kids) = match s.split_once('-') {
        Some((a, k)) => (a, Some(k)),
        None => (s, None),
    };
    let digits = |x: &str| !x.is_empty() && x.len() <= 3 && x.bytes().all(|b| b.is_ascii_digit());
    if !digits(adults) {
        return None;
    }
    let adults: u8 = adults.parse().ok().filter(|n| (1..=8).contains(n))?;
    let ages: Vec<u8> = match kids {
        None => Vec::new(),
        Some(k) => k
            .split(',')
            .map(|a| {
                digits(a)
                    .then(|| a.parse::<u8>().ok())
                    .flatten()
                    .filter(|a| *a <= 17)
            })
            .collect::<Option<Vec<u8>>>()?,
    };
    if ages.len() > 6 {
        return None;
    }
    let key = if ages.is_empty() {
        adults.to_string()
    } else {
        let ages: Vec<String> = ages.iter().map(u8::to_string).collect();
        format!("{adults}-{}", ages.join(","))
    };
    Some(Occupancy { key, adults, ages })
}

/// What a price-check or book token stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Offer {
    pub kind: String,
    pub property_id: String,
    pub room_id: String,
    pub rate_id: String,
    pub room_idx: usize,
    pub rate_idx: usize,
    pub checkin: NaiveDate,
    pub checkout: NaiveDate,
    pub currency: String,
    /// One normalised occupancy per room.
    pub occupancies: Vec<String>,
    /// Quoted inclusive total, all rooms, in `currency`.
    pub total: Decimal,
    /// Book tokens: the pricing object of each room, in `occupancies` order.
    #[serde(default)]
    pub room_pricing: Vec<Value>,
    #[serde(default)]
    pub cancel_penalties: Value,
}

impl Offer {
    pub fn occupancies(&self) -> Vec<Occupancy> {
        self.occupancies
            .iter()
            .filter_map(|o| parse_occupancy(o))
            .collect()
    }
}

/// A live price of one rate for all requested rooms.
pub(super) struct Pricing {
    /// `occupancy_pricing` keyed by normalised occupancy.
    pub by_occupancy: Map<String, Value>,
    /// Pricing object per requested room, in order.
    pub per_room: Vec<Value>,
    /// Inclusive total, all rooms.
    pub total: Decimal,
    /// First night of every room, inclusive.
    pub first_nights: Decimal,
    pub available: u32,
}

fn amount(value: Decimal, currency: &str) -> Value {
    json!({"value": money(value), "currency": currency})
}

fn has_pool(state: &SimState, hotel: &CatalogHotel) -> bool {
    state
        .world
        .hotels
        .get(hotel.world_idx)
        .is_some_and(|h| h.amenities.contains(&"POOL"))
}

/// The live price (sell-outs, repricing, `price_up:<pct>`); `None` when any room is unavailable.
#[allow(clippy::too_many_arguments)]
pub(super) fn price_rate(
    state: &SimState,
    hotel: &CatalogHotel,
    room_idx: usize,
    rate_idx: usize,
    checkin: NaiveDate,
    checkout: NaiveDate,
    occs: &[Occupancy],
    currency: &str,
    pct: Option<Decimal>,
) -> Option<Pricing> {
    let factor = pct.map_or(Decimal::ONE, |p| Decimal::ONE + p / Decimal::from(100));
    let tax_factor = Decimal::new(110, 2);
    let nights = (checkout - checkin).num_days();
    let fee = if has_pool(state, hotel) {
        Some(state.convert(RESORT_FEE_EUR, currency)? * Decimal::from(nights))
    } else {
        None
    };
    let mut out = Pricing {
        by_occupancy: Map::new(),
        per_room: Vec::new(),
        total: Decimal::ZERO,
        first_nights: Decimal::ZERO,
        available: u32::MAX,
    };
    for occ in occs {
        let q = state.quote(
            hotel,
            room_idx,
            rate_idx,
            checkin,
            checkout,
            occs.len() as u32,
            occ.adults,
            occ.ages.len() as u8,
        )?;
        let mut nightly = Vec::new();
        let (mut inclusive, mut exclusive) = (Decimal::ZERO, Decimal::ZERO);
        for (n, eur) in q.nightly.iter().enumerate() {
            let incl = state.convert((*eur * factor).round_dp(2), currency)?;
            let base = (incl / tax_factor).round_dp(2);
            if n == 0 {
                out.first_nights += incl;
            }
            inclusive += incl;
            exclusive += base;
            nightly.push(json!([
                {"type": "base_rate", "value": money(base), "currency": currency},
                {"type": "tax_and_service_fee", "value": money(incl - base), "currency": currency},
            ]));
        }
        let mut totals = json!({
            "inclusive": {"request_currency": amount(inclusive, currency)},
            "exclusive": {"request_currency": amount(exclusive, currency)},
        });
        if let Some(fee) = fee {
            totals["property_fees"] = json!({"request_currency": amount(fee, currency)});
        }
        let pricing = json!({"nightly": nightly, "totals": totals});
        out.total += inclusive;
        out.available = out.available.min(q.allotment);
        out.by_occupancy.insert(occ.key.clone(), pricing.clone());
        out.per_room.push(pricing);
    }
    Some(out)
}

/// Refundable: the first night of every room from check-in − 2 days 23:59 UTC until check-out;
/// non-refundable: everything from now.
pub(super) fn cancel_penalties(
    state: &SimState,
    refundable: bool,
    checkin: NaiveDate,
    checkout: NaiveDate,
    pricing: &Pricing,
    currency: &str,
) -> Value {
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string();
    let now = state.now().with_nanosecond(0).unwrap_or(state.now());
    let end = checkout.and_time(NaiveTime::MIN).and_utc();
    if refundable {
        let start = (checkin - Duration::days(2))
            .and_time(NaiveTime::from_hms_opt(23, 59, 0).unwrap_or_default())
            .and_utc();
        json!([{"currency": currency, "start": fmt(start.max(now)), "end": fmt(end),
                "amount": money(pricing.first_nights)}])
    } else {
        json!([{"currency": currency, "start": fmt(now), "end": fmt(end), "amount": money(pricing.total)}])
    }
}

struct SearchParams {
    checkin: NaiveDate,
    checkout: NaiveDate,
    currency: String,
    occupancies: Vec<Occupancy>,
    property_ids: Vec<String>,
    rate_plan_count: usize,
}

fn valid_language(l: &str) -> bool {
    let b = l.as_bytes();
    b.len() == 5
        && b[..2].iter().all(u8::is_ascii_lowercase)
        && b[2] == b'-'
        && b[3..].iter().all(u8::is_ascii_uppercase)
}

fn parse_search(state: &SimState, query: &[(String, String)]) -> Reply<SearchParams> {
    let one = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let all = |name: &str| -> Vec<&str> {
        query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let mut errors: Vec<FieldError> = Vec::new();
    let required = |name: &str, errors: &mut Vec<FieldError>| -> Option<String> {
        match one(name) {
            Some(v) if !v.is_empty() => Some(v.to_string()),
            _ => {
                errors.push(field_error(
                    &format!("{name}.required"),
                    &format!("{name} is required."),
                    name,
                    "querystring",
                    "",
                ));
                None
            }
        }
    };
    let date = |name: &str, v: Option<String>, errors: &mut Vec<FieldError>| {
        let v = v?;
        let d = NaiveDate::parse_from_str(&v, "%Y-%m-%d")
            .ok()
            .filter(|_| v.len() == 10);
        if d.is_none() {
            errors.push(field_error(
                &format!("{name}.invalid_date_format"),
                &format!("{name} must be a date in YYYY-MM-DD format."),
                name,
                "querystring",
                &v,
            ));
        }
        d
    };
    let checkin_raw = required("checkin", &mut errors);
    let checkout_raw = required("checkout", &mut errors);
    let checkin = date("checkin", checkin_raw.clone(), &mut errors);
    let checkout = date("checkout", checkout_raw.clone(), &mut errors);
    let today = state.now().date_naive().max(state.today);
    let window_end = state.today + Duration::days(365);
    if let (Some(ci), Some(raw)) = (checkin, &checkin_raw) {
        if ci < today {
            errors.push(field_error(
                "checkin.invalid_date_in_the_past",
                "Checkin cannot be in the past.",
                "checkin",
                "querystring",
                raw,
            ));
        } else if ci >= window_end {
            errors.push(field_error(
                "checkin.invalid_date_too_far_out",
                "Checkin must be within 365 days.",
                "checkin",
                "querystring",
                raw,
            ));
        }
    }
    if let (Some(ci), Some(co), Some(raw)) = (checkin, checkout, &checkout_raw) {
        if co <= ci {
            errors.push(field_error(
                "checkout.invalid_checkout_before_checkin",
                "Checkout must be after checkin.",
                "checkout",
                "querystring",
                raw,
            ));
        } else if (co - ci).num_days() > MAX_NIGHTS {
            errors.push(field_error(
                "checkout.invalid_length_of_stay_too_long",
                &format!("The stay may not exceed {MAX_NIGHTS} nights."),
                "checkout",
                "querystring",
                raw,
            ));
        } else if co > window_end {
            errors.push(field_error(
                "checkout.invalid_date_too_far_out",
                "Checkout must be within 365 days.",
                "checkout",
                "querystring",
                raw,
            ));
        }
    }
    let currency = required("currency", &mut errors);
    if let Some(c) = &currency {
        if state.convert(Decimal::ONE, c).is_none() {
            errors.push(field_error(
                "currency.not_supported",
                "Currency is not supported (EUR, USD, GBP).",
                "currency",
                "querystring",
                c,
            ));
        }
    }
    if let Some(l) = required("language", &mut errors) {
        if !valid_language(&l) {
            errors.push(field_error(
                "language.not_supported",
                "Language must look like en-US.",
                "language",
                "querystring",
                &l,
            ));
        }
    }
    if let Some(c) = required("country_code", &mut errors) {
        if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            errors.push(field_error(
                "country_code.invalid",
                "country_code must be an ISO 3166-1 alpha-2 code.",
                "country_code",
                "querystring",
                &c,
            ));
        }
    }
    for (name, allowed) in [
        ("sales_channel", &SALES_CHANNELS[..]),
        ("sales_environment", &SALES_ENVIRONMENTS[..]),
    ] {
        if let Some(v) = required(name, &mut errors) {
            if !allowed.contains(&v.as_str()) {
                errors.push(field_error(
                    &format!("{name}.invalid"),
                    &format!("{name} must be one of {}.", allowed.join(", ")),
                    name,
                    "querystring",
                    &v,
                ));
            }
        }
    }
    let rate_plan_count = required("rate_plan_count", &mut errors).and_then(|v| {
        let n = v.parse::<usize>().ok().filter(|n| *n >= 1);
        if n.is_none() {
            errors.push(field_error(
                "rate_plan_count.invalid",
                "rate_plan_count must be a positive integer.",
                "rate_plan_count",
                "querystring",
                &v,
            ));
        }
        n
    });
    let occ_raw = all("occupancy");
    let mut occupancies = Vec::new();
    if occ_raw.is_empty() {
        required("occupancy", &mut errors);
    } else if occ_raw.len() > MAX_OCCUPANCIES {
        errors.push(field_error(
            "number_of_occupancies.invalid_above_maximum",
            &format!("At most {MAX_OCCUPANCIES} occupancies are allowed."),
            "occupancy",
            "querystring",
            &occ_raw.len().to_string(),
        ));
    } else {
        for o in &occ_raw {
            match parse_occupancy(o) {
                Some(occ) => occupancies.push(occ),
                None => errors.push(field_error(
                    "occupancy.invalid",
                    "occupancy must be adults (1-8), then optionally - and child ages (0-17, at most 6).",
                    "occupancy",
                    "querystring",
                    o,
                )),
            }
        }
    }
    let ids = all("property_id");
    let mut property_ids: Vec<String> = Vec::new();
    if ids.is_empty() {
        required("property_id", &mut errors);
    } else if ids.len() > MAX_PROPERTIES {
        errors.push(field_error(
            "property_id.invalid_above_maximum",
            &format!("At most {MAX_PROPERTIES} property ids are allowed."),
            "property_id",
            "querystring",
            &ids.len().to_string(),
        ));
    } else {
        for id in ids {
            if id.is_empty() || id.len() > 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                errors.push(field_error(
                    "property_id.invalid",
                    "property_id must be numeric.",
                    "property_id",
                    "querystring",
                    id,
                ));
            } else if !property_ids.iter().any(|p| p == id) {
                property_ids.push(id.to_string());
            }
        }
    }
    match (checkin, checkout, currency, rate_plan_count) {
        (Some(checkin), Some(checkout), Some(currency), Some(rate_plan_count))
            if errors.is_empty() =>
        {
            Ok(SearchParams {
                checkin,
                checkout,
                currency,
                occupancies,
                property_ids,
                rate_plan_count,
            })
        }
        _ => Err(invalid_input(errors)),
    }
}

/// `GET /v3/properties/availability` (also the `shop` link, whose token stands for a query).
pub(super) fn search(state: &SimState, req: &SimRequest) -> Reply<SimResponse> {
    let query: Vec<(String, String)> = match req.query_param("token") {
        Some(token) => {
            let payload = live_token(state, token, "shop").ok_or_else(link_expired)?;
            serde_json::from_value(payload["query"].clone()).map_err(|_| link_expired())?
        }
        None => req.query.clone(),
    };
    let p = parse_search(state, &query)?;
    prune(state);
    let mut out = Vec::new();
    for id in &p.property_ids {
        if let Some(hotel) = state.catalog.hotel(id) {
            if let Some(v) = property_offer(state, hotel, &p) {
                out.push(v);
            }
        }
    }
    Ok(SimResponse::json(200, &Value::Array(out)))
}

fn bed_group(room_code: &str, room_name: &str) -> (String, String) {
    let n: u64 = room_code.parse().unwrap_or(0);
    let description = room_name.split(", ").nth(1).unwrap_or("1 Bed").to_string();
    ((37_000 + n % 1000).to_string(), description)
}

fn property_offer(state: &SimState, hotel: &CatalogHotel, p: &SearchParams) -> Option<Value> {
    let expires = state.now() + Duration::minutes(LINK_TTL_MINUTES);
    let mut rooms = Vec::new();
    let mut count = 0;
    'rooms: for (ri, room) in hotel.rooms.iter().enumerate() {
        let mut rates = Vec::new();
        for (pi, plan) in state.catalog.rate_plans.iter().enumerate() {
            if count >= p.rate_plan_count {
                if !rates.is_empty() {
                    rooms.push(room_json(room, rates));
                }
                break 'rooms;
            }
            let Some(pricing) = price_rate(
                state,
                hotel,
                ri,
                pi,
                p.checkin,
                p.checkout,
                &p.occupancies,
                &p.currency,
                None,
            ) else {
                continue;
            };
            count += 1;
            let offer = Offer {
                kind: "price_check".into(),
                property_id: hotel.code.clone(),
                room_id: room.code.clone(),
                rate_id: plan.code.clone(),
                room_idx: ri,
                rate_idx: pi,
                checkin: p.checkin,
                checkout: p.checkout,
                currency: p.currency.clone(),
                occupancies: p.occupancies.iter().map(|o| o.key.clone()).collect(),
                total: pricing.total,
                room_pricing: Vec::new(),
                cancel_penalties: Value::Null,
            };
            let token = issue_token(
                state,
                "Q",
                serde_json::to_value(&offer).unwrap_or(Value::Null),
            );
            let (bed_id, bed_description) = bed_group(&room.code, &room.name);
            let href = format!(
                "/v3/properties/{}/rooms/{}/rates/{}?token={token}",
                hotel.code, room.code, plan.code
            );
            let mut bed_groups = Map::new();
            bed_groups.insert(
                bed_id.clone(),
                json!({"id": bed_id, "description": bed_description,
                       "links": {"price_check": link("GET", href, Some(expires))}}),
            );
            let amenities = if plan.board == "BB" {
                json!({"2104": {"id": "2104", "name": "Breakfast buffet"}})
            } else {
                json!({})
            };
            rates.push(json!({
                "id": plan.code,
                "status": "available",
                "available_rooms": pricing.available,
                "refundable": plan.refundable,
                "member_deal_available": false,
                "merchant_of_record": "expedia",
                "amenities": amenities,
                "bed_groups": bed_groups,
                "cancel_penalties": cancel_penalties(state, plan.refundable, p.checkin, p.checkout, &pricing, &p.currency),
                "occupancy_pricing": pricing.by_occupancy,
            }));
        }
        if !rates.is_empty() {
            rooms.push(room_json(room, rates));
        }
    }
    if rooms.is_empty() {
        return None;
    }
    Some(json!({"property_id": hotel.code, "status": "available", "rooms": rooms}))
}

fn room_json(room: &crate::catalog::CatalogRoom, rates: Vec<Value>) -> Value {
    json!({"id": room.code, "room_name": room.name, "rates": rates})
}

/// `GET /v3/properties/{property_id}/rooms/{room_id}/rates/{rate_id}?token=…` — always 200 unless
/// the link itself is bad.
pub(super) fn price_check(
    state: &SimState,
    req: &SimRequest,
    scenario: &Scenario,
) -> Reply<SimResponse> {
    let token = token_param(req)?;
    let segs: Vec<&str> = req.path.trim_end_matches('/').split('/').collect();
    let (pid, rid, rate) = match segs.as_slice() {
        ["", "v3", "properties", pid, "rooms", rid, "rates", rate] => (*pid, *rid, *rate),
        _ => return Err(link_expired()),
    };
    let offer: Offer = live_token(state, token, "price_check")
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(link_expired)?;
    if offer.property_id != pid || offer.room_id != rid || offer.rate_id != rate {
        return Err(link_expired());
    }
    let pct = match scenario {
        Scenario::PriceUp(p) => Some(*p),
        _ => None,
    };
    let pricing = match (scenario, state.catalog.hotel(&offer.property_id)) {
        (Scenario::SoldOutAtRecheck, _) | (_, None) => None,
        (_, Some(hotel)) => price_rate(
            state,
            hotel,
            offer.room_idx,
            offer.rate_idx,
            offer.checkin,
            offer.checkout,
            &offer.occupancies(),
            &offer.currency,
            pct,
        ),
    };
    let Some(pricing) = pricing else {
        return Ok(sold_out(state, &offer));
    };
    let status = if pricing.total == offer.total {
        "available"
    } else {
        "price_changed"
    };
    let refundable = state
        .catalog
        .rate_plans
        .get(offer.rate_idx)
        .is_some_and(|p| p.refundable);
    let penalties = cancel_penalties(
        state,
        refundable,
        offer.checkin,
        offer.checkout,
        &pricing,
        &offer.currency,
    );
    let book = Offer {
        kind: "book".into(),
        total: pricing.total,
        room_pricing: pricing.per_room.clone(),
        cancel_penalties: penalties,
        ..offer
    };
    let token = issue_token(
        state,
        "B",
        serde_json::to_value(&book).unwrap_or(Value::Null),
    );
    let expires = state.now() + Duration::minutes(LINK_TTL_MINUTES);
    Ok(SimResponse::json(
        200,
        &json!({
            "status": status,
            "occupancy_pricing": pricing.by_occupancy,
            "links": {"book": link("POST", format!("/v3/itineraries?token={token}"), Some(expires))},
        }),
    ))
}

/// `sold_out` with a `shop` link that repeats the search for this property.
fn sold_out(state: &SimState, offer: &Offer) -> SimResponse {
    let mut query: Vec<(String, String)> = vec![
        ("checkin".into(), offer.checkin.to_string()),
        ("checkout".into(), offer.checkout.to_string()),
        ("currency".into(), offer.currency.clone()),
        ("country_code".into(), "US".into()),
        ("language".into(), "en-US".into()),
    ];
    query.extend(
        offer
            .occupancies
            .iter()
            .map(|o| ("occupancy".to_string(), o.clone())),
    );
    query.extend([
        ("property_id".into(), offer.property_id.clone()),
        ("rate_plan_count".into(), "250".into()),
        ("sales_channel".into(), "agent_tool".into()),
        ("sales_environment".into(), "hotel_only".into()),
    ]);
    let token = issue_token(state, "S", json!({"kind": "shop", "query": query}));
    SimResponse::json(
        200,
        &json!({"status": "sold_out", "links": {"shop": link("GET", format!("/v3/properties/availability?token={token}"), None)}}),
    )
}

/// Amenity ids and names for the world's amenity ids.
fn amenity(a: &str) -> (&'static str, &'static str) {
    match a {
        "WIFI" => ("2390", "Free WiFi"),
        "POOL" => ("24", "Outdoor pool"),
        "SPA" => ("2123", "Full-service spa"),
        "GYM" => ("2008", "Fitness facilities"),
        "PARKING" => ("2011", "Parking available"),
        "RESTAURANT" => ("19", "Restaurant"),
        "BAR" => ("3", "Bar/lounge"),
        "AIRPORT_SHUTTLE" => ("2353", "Airport shuttle service"),
        _ => ("0", "Other"),
    }
}

fn content_json(state: &SimState, hotel: &CatalogHotel) -> Option<Value> {
    let world = state.world.hotels.get(hotel.world_idx)?;
    let dest = world.dest();
    let mut amenities = Map::new();
    for a in &world.amenities {
        let (id, name) = amenity(a);
        amenities.insert(id.into(), json!({"id": id, "name": name}));
    }
    let mut rooms = Map::new();
    for r in &hotel.rooms {
        rooms.insert(
            r.code.clone(),
            json!({"id": r.code, "name": r.name,
                   "occupancy": {"max_allowed": {"total": r.max_occupancy}}}),
        );
    }
    Some(json!({
        "property_id": hotel.code,
        "name": hotel.name,
        "address": {"line_1": world.address, "city": dest.city, "country_code": dest.country},
        "ratings": {"property": {"rating": format!("{}.0", world.stars), "type": "Star"}},
        "location": {"coordinates": {
            "latitude": (world.lat * 1e6).round() / 1e6,
            "longitude": (world.lon * 1e6).round() / 1e6,
        }},
        "amenities": amenities,
        "rooms": rooms,
    }))
}

/// `GET /v3/properties/content?property_id=…&language=en-US` → object keyed by property id.
pub(super) fn content(state: &SimState, req: &SimRequest) -> Reply<SimResponse> {
    match req.query_param("language") {
        Some(l) if valid_language(l) => {}
        other => {
            return Err(invalid_one(
                "language.required",
                "language is required and must look like en-US.",
                "language",
                "querystring",
                other.unwrap_or(""),
            ))
        }
    }
    let ids = req.query_all("property_id");
    if ids.is_empty() || ids.len() > MAX_PROPERTIES {
        return Err(invalid_one(
            "property_id.invalid",
            &format!("1 to {MAX_PROPERTIES} property_id values are required."),
            "property_id",
            "querystring",
            &ids.len().to_string(),
        ));
    }
    let mut out = Map::new();
    for id in ids {
        if !id.bytes().all(|b| b.is_ascii_digit()) || id.is_empty() {
            return Err(invalid_one(
                "property_id.invalid",
                "property_id must be numeric.",
                "property_id",
                "querystring",
                id,
            ));
        }
        if let Some(v) = state.catalog.hotel(id).and_then(|h| content_json(state, h)) {
            out.insert(id.to_string(), v);
        }
    }
    Ok(SimResponse::json(200, &Value::Object(out)))
}
