//! Search (`POST /hotels`) and checkrates, and the rate keys they issue (spec "Search", "Recheck").

use super::{
    currency_of, fail, int_field, invalid, invalid_data, json_body, money, no_availability, ok,
    parse_date, policy_time, Reply,
};
use crate::catalog::CatalogHotel;
use crate::scenario::Scenario;
use crate::state::SimState;
use crate::world::{mix, str_id};
use crate::SimRequest;
use chrono::{Duration, NaiveDate, NaiveTime, Timelike};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Most hotel codes in one search (spec "Search").
const MAX_HOTELS: usize = 2000;
/// Most nights in one search (spec "Search").
const MAX_NIGHTS: i64 = 30;
const MAX_OCCUPANCIES: usize = 10;
/// Rate keys expire this long after issue (spec "Search").
pub(super) const KEY_TTL_MINUTES: i64 = 30;
/// kv prefix of issued rate keys.
pub(super) const KEY_PREFIX: &str = "hb:rk:";
/// Most rate keys remembered at once (see [`prune`]).
const MAX_REMEMBERED: usize = 200_000;
/// Pay-at-hotel city tax of 4- and 5-star hotels, EUR per room and night.
const CITY_TAX_EUR: Decimal = Decimal::from_parts(200, 0, 0, false, 2);

/// What the simulator remembers about an issued rate key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct RateInfo {
    pub hotel: String,
    pub room_idx: usize,
    pub rate_idx: usize,
    pub checkin: NaiveDate,
    pub checkout: NaiveDate,
    pub rooms: u32,
    /// Per room.
    pub adults: u8,
    /// Per room.
    pub children: u8,
    pub ages: Vec<u8>,
    pub currency: String,
    /// Quoted total for the stay and all rooms, in `currency`, pay-at-hotel taxes excluded.
    pub net: Decimal,
    /// First night, all rooms, in `currency` (the refundable plan's penalty).
    pub first_night: Decimal,
    pub allotment: u32,
    /// The key must pass through checkrates before booking.
    pub recheck: bool,
    /// Issued by checkrates.
    pub checked: bool,
}

/// One requested occupancy: `rooms` rooms of `adults` + `children` each.
#[derive(Debug, Clone)]
struct Occupancy {
    rooms: u32,
    adults: u8,
    children: u8,
    ages: Vec<u8>,
}

/// A live price for a rate, in the requested currency.
pub(super) struct Priced {
    pub net: Decimal,
    pub first_night: Decimal,
    pub allotment: u32,
}

/// The live price (with sell-outs, repricing and `price_up:<pct>`), `None` when unavailable.
pub(super) fn live_price(
    state: &SimState,
    info: &RateInfo,
    pct: Option<Decimal>,
) -> Option<Priced> {
    let hotel = state.catalog.hotel(&info.hotel)?;
    let q = state.quote(
        hotel,
        info.room_idx,
        info.rate_idx,
        info.checkin,
        info.checkout,
        info.rooms,
        info.adults,
        info.children,
    )?;
    let factor = pct.map_or(Decimal::ONE, |p| Decimal::ONE + p / Decimal::from(100));
    let total = (q.total * factor).round_dp(2);
    let first = (q.nightly.first().copied()? * Decimal::from(info.rooms) * factor).round_dp(2);
    Some(Priced {
        net: state.convert(total, &info.currency)?,
        first_night: state.convert(first, &info.currency)?,
        allotment: q.allotment,
    })
}

pub(super) fn price_up(scenario: &Scenario) -> Option<Decimal> {
    match scenario {
        Scenario::PriceUp(p) => Some(*p),
        _ => None,
    }
}

/// The remembered rate of a key, or `INVALID_DATA` (unknown or older than 30 minutes).
pub(super) fn lookup_key(state: &SimState, key: &str) -> Reply<RateInfo> {
    let Some((issued, value)) = state.kv_get(&format!("{KEY_PREFIX}{key}")) else {
        return Err(invalid_data(
            state,
            format!("Invalid rateKey: {key} is unknown or already used"),
        ));
    };
    if state.now() - issued > Duration::minutes(KEY_TTL_MINUTES) {
        return Err(invalid_data(
            state,
            format!(
                "The rateKey has expired (issued more than {KEY_TTL_MINUTES} minutes ago): {key}"
            ),
        ));
    }
    value
        .as_str()
        .and_then(|v| serde_json::from_str(v).ok())
        .ok_or_else(|| invalid_data(state, format!("Invalid rateKey: {key}")))
}

/// Builds a key (spec format, with a fresh nonce), remembers it, and returns it.
fn issue_key(state: &SimState, hotel: &CatalogHotel, mut info: RateInfo) -> (String, RateInfo) {
    let room = hotel
        .rooms
        .get(info.room_idx)
        .map_or("", |r| r.code.as_str());
    let plan = state.catalog.rate_plans.get(info.rate_idx);
    let ages: Vec<String> = info.ages.iter().map(u8::to_string).collect();
    let base = format!(
        "{}|{}|W|{}|{}|{}|{}|{}||{}~{}~{}|{}",
        info.checkin.format("%Y%m%d"),
        info.checkout.format("%Y%m%d"),
        100 + mix(&[state.options.seed, str_id(&hotel.code)]) % 900,
        hotel.code,
        room,
        plan.map_or("", |p| p.code.as_str()),
        plan.map_or("", |p| p.board),
        info.rooms,
        info.adults,
        info.children,
        ages.join(","),
    );
    if !info.checked {
        info.recheck = mix(&[state.options.seed, str_id(&base)]).is_multiple_of(5);
    }
    let seq = state.next_seq();
    let nonce = mix(&[state.options.seed, seq, str_id(&base)]) & 0xff_ffff;
    let key = format!("{base}|N@{:02}~~{nonce:06x}", seq % 100);
    state.kv_put(
        format!("{KEY_PREFIX}{key}"),
        Value::String(serde_json::to_string(&info).unwrap_or_default()),
    );
    (key, info)
}

/// Bounds the store on long load runs: past 50 000 entries (checked every 16th call), drops expired keys; past 200 000, keeps
/// only the newest half (older ones then answer as expired).
pub(super) fn prune(state: &SimState) {
    let mut kv = state.kv.lock();
    if kv.len() < 50_000 || !state.next_seq().is_multiple_of(16) {
        return;
    }
    let cutoff = state.now() - Duration::minutes(KEY_TTL_MINUTES);
    kv.retain(|k, (issued, _)| !k.starts_with(KEY_PREFIX) || *issued >= cutoff);
    if kv.len() <= MAX_REMEMBERED {
        return;
    }
    let mut times: Vec<_> = kv
        .iter()
        .filter(|(k, _)| k.starts_with(KEY_PREFIX))
        .map(|(_, (issued, _))| *issued)
        .collect();
    times.sort_unstable();
    if let Some(keep_from) = times
        .get(times.len().saturating_sub(MAX_REMEMBERED / 2))
        .copied()
    {
        kv.retain(|k, (issued, _)| !k.starts_with(KEY_PREFIX) || *issued >= keep_from);
    }
}

fn stars(state: &SimState, hotel: &CatalogHotel) -> u8 {
    state
        .world
        .hotels
        .get(hotel.world_idx)
        .map_or(3, |h| h.stars)
}

/// The rate object of search and checkrates responses.
pub(super) fn rate_json(state: &SimState, info: &RateInfo, key: &str) -> Value {
    let plan = state.catalog.rate_plans.get(info.rate_idx);
    let refundable = plan.is_some_and(|p| p.refundable);
    let board = plan.map_or("RO", |p| p.board);
    let hotel = state.catalog.hotel(&info.hotel);
    let nights = (info.checkout - info.checkin).num_days();
    let taxes = match hotel {
        Some(h) if stars(state, h) >= 4 => {
            let eur = CITY_TAX_EUR * Decimal::from(nights) * Decimal::from(info.rooms);
            let amount = state.convert(eur, &info.currency).unwrap_or(eur);
            json!({"allIncluded": false, "taxes": [{
                "included": false, "amount": money(amount), "currency": info.currency,
                "type": "TAX", "subType": "CITY_TAX"}]})
        }
        _ => json!({"allIncluded": true}),
    };
    let selling = (info.net * Decimal::new(107, 2)).round_dp(2);
    let mut rate = json!({
        "rateKey": key,
        "rateClass": if refundable { "NOR" } else { "NRF" },
        "rateType": if info.recheck && !info.checked { "RECHECK" } else { "BOOKABLE" },
        "net": money(info.net),
        "sellingRate": money(selling),
        "hotelMandatory": false,
        "allotment": info.allotment,
        "paymentType": "AT_WEB",
        "packaging": false,
        "boardCode": board,
        "boardName": if board == "BB" { "BED AND BREAKFAST" } else { "ROOM ONLY" },
        "cancellationPolicies": policies(state, info),
        "taxes": taxes,
        "rooms": info.rooms,
        "adults": info.adults,
        "children": info.children,
    });
    if !info.ages.is_empty() {
        let ages: Vec<String> = info.ages.iter().map(u8::to_string).collect();
        rate["childrenAges"] = json!(ages.join(","));
    }
    rate
}

/// Refundable: the first night from check-in − 2 days 23:59 UTC; non-refundable: everything from now.
pub(super) fn policies(state: &SimState, info: &RateInfo) -> Value {
    let refundable = state
        .catalog
        .rate_plans
        .get(info.rate_idx)
        .is_some_and(|p| p.refundable);
    let now = state.now().with_nanosecond(0).unwrap_or(state.now());
    if refundable {
        let start = (info.checkin - Duration::days(2))
            .and_time(NaiveTime::from_hms_opt(23, 59, 0).unwrap_or_default())
            .and_utc();
        json!([{"amount": money(info.first_night), "from": policy_time(start.max(now))}])
    } else {
        json!([{"amount": money(info.net), "from": policy_time(now)}])
    }
}

fn occupancies(state: &SimState, v: Option<&Value>) -> Reply<Vec<Occupancy>> {
    let Some(list) = v.and_then(Value::as_array).filter(|l| !l.is_empty()) else {
        return Err(invalid(state, "occupancies is required (non-empty array)"));
    };
    if list.len() > MAX_OCCUPANCIES {
        return Err(invalid(
            state,
            format!("At most {MAX_OCCUPANCIES} occupancies are allowed"),
        ));
    }
    let mut out = Vec::new();
    for (i, o) in list.iter().enumerate() {
        let path = format!("occupancies[{i}]");
        let Some(o) = o.as_object() else {
            return Err(invalid(state, format!("{path} must be an object")));
        };
        let rooms = int_field(state, o, "rooms", &path, 1, 9, None)? as u32;
        let adults = int_field(state, o, "adults", &path, 1, 8, None)? as u8;
        let children = int_field(state, o, "children", &path, 0, 4, Some(0))? as u8;
        let mut ages = Vec::new();
        match o.get("paxes") {
            None | Some(Value::Null) => {}
            Some(Value::Array(paxes)) => {
                for (j, p) in paxes.iter().enumerate() {
                    let ppath = format!("{path}.paxes[{j}]");
                    let Some(p) = p.as_object() else {
                        return Err(invalid(state, format!("{ppath} must be an object")));
                    };
                    match p.get("type").and_then(Value::as_str) {
                        Some("CH") => {
                            ages.push(int_field(state, p, "age", &ppath, 0, 17, None)? as u8)
                        }
                        Some("AD") => {}
                        _ => return Err(invalid(state, format!("{ppath}.type must be AD or CH"))),
                    }
                }
            }
            Some(_) => return Err(invalid(state, format!("{path}.paxes must be an array"))),
        }
        let n = usize::from(children);
        if ages.len() != n && ages.len() != n * rooms as usize {
            return Err(invalid(
                state,
                format!("{path}: {children} children need one CH pax with an age each"),
            ));
        }
        ages.truncate(n);
        out.push(Occupancy {
            rooms,
            adults,
            children,
            ages,
        });
    }
    Ok(out)
}

/// Check-in and check-out of `stay`, validated against the inventory window.
fn stay(state: &SimState, v: Option<&Value>) -> Reply<(NaiveDate, NaiveDate)> {
    let Some(stay) = v.and_then(Value::as_object) else {
        return Err(invalid(state, "stay is required (object)"));
    };
    let checkin = parse_date(state, stay.get("checkIn"), "stay.checkIn")?;
    let checkout = parse_date(state, stay.get("checkOut"), "stay.checkOut")?;
    let today = state.now().date_naive().max(state.today);
    if checkin < today {
        return Err(invalid(state, "stay.checkIn is in the past"));
    }
    if checkout <= checkin {
        return Err(invalid(state, "stay.checkOut must be after stay.checkIn"));
    }
    if (checkout - checkin).num_days() > MAX_NIGHTS {
        return Err(invalid(
            state,
            format!("The stay may not exceed {MAX_NIGHTS} nights"),
        ));
    }
    if checkout > state.today + Duration::days(365) {
        return Err(invalid(
            state,
            "stay.checkOut is beyond the 365-day booking window",
        ));
    }
    Ok((checkin, checkout))
}

/// `POST /hotel-api/1.0/hotels`
pub(super) fn search(state: &SimState, req: &SimRequest) -> Reply<crate::SimResponse> {
    let body = json_body(state, req)?;
    let (checkin, checkout) = stay(state, body.get("stay"))?;
    let occs = occupancies(state, body.get("occupancies"))?;
    let Some(codes) = body
        .get("hotels")
        .and_then(|h| h.get("hotel"))
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
    else {
        return Err(invalid(
            state,
            "hotels.hotel is required (non-empty array of hotel codes)",
        ));
    };
    if codes.len() > MAX_HOTELS {
        return Err(invalid(
            state,
            format!("At most {MAX_HOTELS} hotel codes are allowed"),
        ));
    }
    let mut hotel_codes = Vec::new();
    for c in codes {
        let Some(code) = c.as_u64() else {
            return Err(invalid(state, "hotels.hotel must hold integer hotel codes"));
        };
        if !hotel_codes.contains(&code) {
            hotel_codes.push(code);
        }
    }
    let max_rates = match body.get("filter") {
        None | Some(Value::Null) => usize::MAX,
        Some(Value::Object(f)) => {
            int_field(state, f, "maxRatesPerRoom", "filter", 1, 1000, Some(1000))? as usize
        }
        Some(_) => return Err(invalid(state, "filter must be an object")),
    };
    let currency = currency_of(state, body.get("currency"))?;
    if let Some(l) = body.get("language") {
        if !l.is_string() {
            return Err(invalid(state, "language must be a string"));
        }
    }
    prune(state);
    let mut hotels = Vec::new();
    for code in hotel_codes {
        let Some(hotel) = state.catalog.hotel(&code.to_string()) else {
            continue;
        };
        if let Some(h) = hotel_offer(
            state, hotel, code, checkin, checkout, &occs, &currency, max_rates,
        ) {
            hotels.push(h);
        }
    }
    if hotels.is_empty() {
        return Ok(ok(state, json!({"hotels": {"total": 0, "hotels": []}})));
    }
    Ok(ok(
        state,
        json!({"hotels": {
            "checkIn": checkin.to_string(),
            "checkOut": checkout.to_string(),
            "total": hotels.len(),
            "hotels": hotels,
        }}),
    ))
}

#[allow(clippy::too_many_arguments)]
fn hotel_offer(
    state: &SimState,
    hotel: &CatalogHotel,
    code: u64,
    checkin: NaiveDate,
    checkout: NaiveDate,
    occs: &[Occupancy],
    currency: &str,
    max_rates: usize,
) -> Option<Value> {
    let mut rooms = Vec::new();
    let mut covered = vec![false; occs.len()];
    let (mut min, mut max): (Option<Decimal>, Option<Decimal>) = (None, None);
    for (ri, room) in hotel.rooms.iter().enumerate() {
        let mut rates = Vec::new();
        'plans: for ri_plan in 0..state.catalog.rate_plans.len() {
            for (oi, occ) in occs.iter().enumerate() {
                if rates.len() >= max_rates {
                    break 'plans;
                }
                let mut info = RateInfo {
                    hotel: hotel.code.clone(),
                    room_idx: ri,
                    rate_idx: ri_plan,
                    checkin,
                    checkout,
                    rooms: occ.rooms,
                    adults: occ.adults,
                    children: occ.children,
                    ages: occ.ages.clone(),
                    currency: currency.to_string(),
                    net: Decimal::ZERO,
                    first_night: Decimal::ZERO,
                    allotment: 0,
                    recheck: false,
                    checked: false,
                };
                let Some(p) = live_price(state, &info, None) else {
                    continue;
                };
                info.net = p.net;
                info.first_night = p.first_night;
                info.allotment = p.allotment;
                let (key, info) = issue_key(state, hotel, info);
                covered[oi] = true;
                min = Some(min.map_or(info.net, |m| m.min(info.net)));
                max = Some(max.map_or(info.net, |m| m.max(info.net)));
                rates.push(rate_json(state, &info, &key));
            }
        }
        if !rates.is_empty() {
            rooms.push(json!({"code": room.code, "name": room.name, "rates": rates}));
        }
    }
    if rooms.is_empty() || !covered.iter().all(|c| *c) {
        return None;
    }
    let world = state.world.hotels.get(hotel.world_idx)?;
    Some(json!({
        "code": code,
        "name": hotel.name,
        "categoryCode": format!("{}EST", world.stars),
        "categoryName": format!("{} STARS", world.stars),
        "destinationCode": world.dest().code,
        "destinationName": world.dest().city.to_uppercase(),
        "latitude": format!("{:.6}", world.lat),
        "longitude": format!("{:.6}", world.lon),
        "currency": currency,
        "minRate": money(min?),
        "maxRate": money(max?),
        "rooms": rooms,
    }))
}

/// `POST /hotel-api/1.0/checkrates`: one key in, a fresh `BOOKABLE` key at the live price out.
pub(super) fn checkrates(
    state: &SimState,
    req: &SimRequest,
    scenario: &Scenario,
) -> Reply<crate::SimResponse> {
    let body = json_body(state, req)?;
    let Some(rooms) = body.get("rooms").and_then(Value::as_array) else {
        return Err(invalid(state, "rooms is required (array with one rateKey)"));
    };
    if rooms.len() != 1 {
        return Err(invalid(state, "Exactly one rateKey per checkrates call"));
    }
    let Some(key) = rooms
        .first()
        .and_then(|r| r.get("rateKey"))
        .and_then(Value::as_str)
    else {
        return Err(invalid(state, "rooms[0].rateKey is required (string)"));
    };
    let info = lookup_key(state, key)?;
    if *scenario == Scenario::SoldOutAtRecheck {
        return Err(no_availability(state));
    }
    let Some(p) = live_price(state, &info, price_up(scenario)) else {
        return Err(no_availability(state));
    };
    let Some(hotel) = state.catalog.hotel(&info.hotel) else {
        return Err(fail(state, 500, "PRODUCT_ERROR", "No availability"));
    };
    let fresh = RateInfo {
        net: p.net,
        first_night: p.first_night,
        allotment: p.allotment,
        recheck: false,
        checked: true,
        ..info
    };
    let (new_key, fresh) = issue_key(state, hotel, fresh);
    let room = hotel.rooms.get(fresh.room_idx);
    let world = state.world.hotels.get(hotel.world_idx);
    let mut out = Map::new();
    out.insert("code".into(), json!(hotel.code.parse::<u64>().unwrap_or(0)));
    out.insert("name".into(), json!(hotel.name));
    out.insert(
        "categoryCode".into(),
        json!(world.map(|w| format!("{}EST", w.stars))),
    );
    out.insert(
        "destinationCode".into(),
        json!(world.map(|w| w.dest().code)),
    );
    out.insert("checkIn".into(), json!(fresh.checkin.to_string()));
    out.insert("checkOut".into(), json!(fresh.checkout.to_string()));
    out.insert("currency".into(), json!(fresh.currency));
    out.insert("totalNet".into(), json!(money(fresh.net)));
    out.insert(
        "rooms".into(),
        json!([{
            "code": room.map(|r| r.code.as_str()),
            "name": room.map(|r| r.name.as_str()),
            "rates": [rate_json(state, &fresh, &new_key)],
        }]),
    );
    Ok(ok(state, json!({"hotel": Value::Object(out)})))
}
