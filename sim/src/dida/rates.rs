//! PriceSearch, PriceConfirm (recheck and hold) and HotelDetail (spec "Search", "Recheck and hold",
//! "Content").

use super::tz;
use super::{
    fail, field, int_in, invalid, num, opt_bool, parse_currency, parse_occupancy, parse_stay,
    price_up, req, req_array, req_int, req_obj, req_str, success, Occupancy, Reply, Stay,
    MAX_HOTELS,
};
use crate::catalog::CatalogHotel;
use crate::scenario::Scenario;
use crate::state::SimState;
use crate::world::{mix, Bed};
use crate::SimResponse;
use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// How long a `ReferenceNo` lives (spec "Recheck and hold").
pub(super) const REFERENCE_MINUTES: i64 = 30;

/// One bookable (room, rate plan) for a stay, an occupancy and a room count.
#[derive(Debug, Clone)]
struct Offer {
    room: usize,
    rate: usize,
    /// Price per night for one room, taxes included, in the requested currency.
    nightly: Vec<Decimal>,
    allotment: u32,
    /// Live EUR total for all rooms, without scenarios.
    base_eur: Decimal,
}

impl Offer {
    fn per_room_total(&self) -> Decimal {
        self.nightly.iter().sum()
    }
}

#[allow(clippy::too_many_arguments)]
fn offer(
    state: &SimState,
    hotel: &CatalogHotel,
    room: usize,
    rate: usize,
    stay: &Stay,
    occ: &Occupancy,
    rooms: u32,
    currency: &str,
    price_up: Option<Decimal>,
) -> Option<Offer> {
    let q = state.quote(
        hotel,
        room,
        rate,
        stay.checkin,
        stay.checkout,
        rooms,
        occ.adults,
        occ.children,
    )?;
    // Clamped so that no scenario argument can overflow the arithmetic.
    let pct = price_up
        .unwrap_or_default()
        .clamp(Decimal::from(-99), Decimal::from(1000));
    let factor = Decimal::ONE + pct / Decimal::from(100);
    let nightly = q
        .nightly
        .iter()
        .map(|eur| state.convert(eur.checked_mul(factor)?.round_dp(2), currency))
        .collect::<Option<Vec<_>>>()?;
    Some(Offer {
        room,
        rate,
        nightly,
        allotment: q.allotment,
        base_eur: q.total,
    })
}

/// A rate plan id names room and plan: the plan's base id + 100 × room index.
pub(super) fn rate_plan_id(state: &SimState, room: usize, rate: usize) -> String {
    state
        .catalog
        .rate_plans
        .get(rate)
        .and_then(|p| p.code.parse::<u64>().ok())
        .and_then(|base| base.checked_add(100 * room as u64))
        .map(|id| id.to_string())
        .unwrap_or_default()
}

/// The (room index, rate plan index) of a rate plan id of `hotel`.
fn decode_rate_plan_id(state: &SimState, hotel: &CatalogHotel, id: &str) -> Option<(usize, usize)> {
    let n: u64 = id.parse().ok()?;
    state
        .catalog
        .rate_plans
        .iter()
        .enumerate()
        .find_map(|(rate, p)| {
            let base: u64 = p.code.parse().ok()?;
            let diff = n.checked_sub(base)?;
            let room = usize::try_from(diff / 100).ok()?;
            (diff % 100 == 0 && room < hotel.rooms.len()).then_some((room, rate))
        })
}

/// The hotel's time zone (from its destination).
pub(super) fn time_zone(state: &SimState, hotel: &CatalogHotel) -> &'static str {
    state
        .world
        .hotels
        .get(hotel.world_idx)
        .map_or("UTC", |w| w.dest().time_zone)
}

/// Hotel-local date and time from which the first night (refundable) or everything is charged.
pub(super) fn penalty_from(
    state: &SimState,
    hotel: &CatalogHotel,
    checkin: NaiveDate,
    refundable: bool,
) -> chrono::NaiveDateTime {
    let local_today = tz::local_now(time_zone(state, hotel), state.now()).date();
    let from = if refundable {
        (checkin - Duration::days(2)).max(local_today)
    } else {
        local_today
    };
    from.and_hms_opt(0, 0, 0).unwrap_or_default()
}

fn bed_type(bed: Bed) -> &'static str {
    match bed {
        Bed::King => "King",
        Bed::Queen => "Queen",
        Bed::Double => "Double",
        Bed::Twin => "Twin",
    }
}

/// One `RatePlanList` entry; prices for `rooms` rooms.
fn rate_plan(
    state: &SimState,
    hotel: &CatalogHotel,
    o: &Offer,
    stay: &Stay,
    rooms: u32,
    currency: &str,
) -> Value {
    let croom = hotel.rooms.get(o.room);
    let wroom = croom.and_then(|r| {
        state
            .world
            .hotels
            .get(hotel.world_idx)
            .and_then(|w| w.rooms.get(r.world_room))
    });
    let plan = state.catalog.rate_plans.get(o.rate);
    let refundable = plan.is_some_and(|p| p.refundable);
    let n = Decimal::from(rooms);
    let total = o.per_room_total() * n;
    let room_name = croom.map_or("", |r| r.name.as_str());
    let from = penalty_from(state, hotel, stay.checkin, refundable);
    let amount = if refundable {
        o.nightly.first().copied().unwrap_or_default() * n
    } else {
        total
    };
    let prices: Vec<Value> = stay
        .checkin
        .iter_days()
        .zip(&o.nightly)
        .map(|(d, p)| json!({"StayDate": d.to_string(), "Price": num(*p * n)}))
        .collect();
    json!({
        "RatePlanID": rate_plan_id(state, o.room, o.rate),
        "RatePlanName": format!("{room_name} - {}", plan.map_or("", |p| p.name.as_str())),
        "RoomTypeID": croom.and_then(|r| r.code.parse::<u64>().ok()),
        "RoomName": room_name,
        "BedType": wroom.map(|w| bed_type(w.bed)),
        "BreakfastType": if plan.is_some_and(|p| p.board == "BB") { 2 } else { 1 },
        "TotalPrice": num(total),
        "Currency": currency,
        "PriceList": prices,
        "InventoryCount": o.allotment,
        "IsOnRequest": false,
        "RatePlanCancellationPolicyList": [{
            "FromDate": from.format("%Y-%m-%dT%H:%M:%S").to_string(),
            "Amount": num(amount),
        }],
    })
}

fn hotel_entry(
    state: &SimState,
    hotel: &CatalogHotel,
    offers: &[Offer],
    stay: &Stay,
    rooms: u32,
    currency: &str,
) -> Value {
    let lowest = offers
        .iter()
        .map(|o| o.per_room_total() * Decimal::from(rooms))
        .min()
        .unwrap_or_default();
    json!({
        "HotelID": hotel.code.parse::<u64>().ok(),
        "HotelName": hotel.name,
        "LowestPrice": {"Value": num(lowest), "Currency": currency},
        "RatePlanList": offers.iter().map(|o| rate_plan(state, hotel, o, stay, rooms, currency))
            .collect::<Vec<_>>(),
    })
}

/// Distinct integer hotel ids of `HotelIDList`, 1..50 of them.
fn hotel_ids(body: &Value) -> Reply<Vec<u64>> {
    let list = req_array(body, "HotelIDList", "HotelIDList")?;
    if list.is_empty() || list.len() > MAX_HOTELS {
        return Err(invalid(
            "HotelIDList",
            &format!("must hold 1..{MAX_HOTELS} hotel ids"),
        ));
    }
    let mut ids = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let id = v
            .as_u64()
            .ok_or_else(|| invalid(&format!("HotelIDList[{i}]"), "must be an integer hotel id"))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// `POST /api/rate/PriceSearch`: one room's price for the whole stay, never affected by scenarios.
pub(super) fn price_search(state: &SimState, body: &Value) -> Reply<SimResponse> {
    let stay = parse_stay(state, body)?;
    let currency = parse_currency(state, body)?;
    let ids = hotel_ids(body)?;
    let occ_v = req_obj(body, "RealTimeOccupancy", "RealTimeOccupancy")?;
    let rooms = req_int(occ_v, "RoomCount", "RealTimeOccupancy.RoomCount", 1, 9)? as u32;
    let occ = parse_occupancy(occ_v, "RealTimeOccupancy")?;
    if let Some(rt) = field(body, "IsRealTime") {
        if !rt.is_object() {
            return Err(invalid("IsRealTime", "must be an object {\"Value\":bool}"));
        }
        opt_bool(rt, "Value").map_err(|_| invalid("IsRealTime.Value", "must be true or false"))?;
    }
    let hotels: Vec<Value> = ids
        .iter()
        .filter_map(|id| state.catalog.hotel(&id.to_string()))
        .filter_map(|h| {
            let offers: Vec<Offer> = (0..h.rooms.len())
                .flat_map(|room| (0..state.catalog.rate_plans.len()).map(move |rate| (room, rate)))
                .filter_map(|(room, rate)| {
                    offer(state, h, room, rate, &stay, &occ, rooms, currency, None)
                })
                .collect();
            // Search prices one room; `rooms` only decides availability.
            (!offers.is_empty()).then(|| hotel_entry(state, h, &offers, &stay, 1, currency))
        })
        .collect();
    Ok(success(json!({"PriceDetails": {
        "CheckInDate": stay.checkin.to_string(), "CheckOutDate": stay.checkout.to_string(),
        "HotelList": hotels}})))
}

/// What a `ReferenceNo` holds: the confirmed offer and its price.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Hold {
    pub hotel: String,
    pub room: usize,
    pub rate: usize,
    pub rate_plan_id: String,
    pub checkin: NaiveDate,
    pub checkout: NaiveDate,
    pub rooms: u32,
    pub adults: u8,
    pub children: u8,
    pub currency: String,
    /// Price per night for one room.
    pub nightly: Vec<Decimal>,
    /// Price for all rooms.
    pub total: Decimal,
    /// Live EUR total at PriceConfirm without scenarios.
    pub base_eur: Decimal,
    pub refundable: bool,
}

/// The `state.kv` key of a `ReferenceNo` (tests age references through it).
pub(super) fn reference_key(reference: &str) -> String {
    format!("dida/reference/{reference}")
}

/// `OccupancyDetails`: one entry for every room, or one per room, all of one shape.
fn occupancy_details(body: &Value, rooms: u32) -> Reply<Occupancy> {
    let list = req_array(body, "OccupancyDetails", "OccupancyDetails")?;
    if list.len() != 1 && list.len() != rooms as usize {
        return Err(invalid(
            "OccupancyDetails",
            "must hold one entry, or one per room",
        ));
    }
    let mut first: Option<Occupancy> = None;
    for (i, entry) in list.iter().enumerate() {
        let path = format!("OccupancyDetails[{i}]");
        if !entry.is_object() {
            return Err(invalid(&path, "must be an object"));
        }
        int_in(
            req(entry, "RoomNum", &format!("{path}.RoomNum"))?,
            &format!("{path}.RoomNum"),
            1,
            9,
        )?;
        let occ = parse_occupancy(entry, &path)?;
        match &first {
            None => first = Some(occ),
            Some(f) if f.adults == occ.adults && f.children == occ.children => {}
            Some(_) => {
                return Err(invalid(
                    "OccupancyDetails",
                    "every room must have the same occupancy",
                ))
            }
        }
    }
    first.ok_or_else(|| invalid("OccupancyDetails", "must not be empty"))
}

/// `POST /api/rate/PriceConfirm`: the live price for all rooms, and with `PreBook` a `ReferenceNo`.
pub(super) fn price_confirm(
    state: &SimState,
    body: &Value,
    scenario: &Scenario,
) -> Reply<SimResponse> {
    let prebook = opt_bool(body, "PreBook")?.unwrap_or(false);
    let stay = parse_stay(state, body)?;
    let rooms = req_int(body, "NumOfRooms", "NumOfRooms", 1, 9)? as u32;
    let hotel_id = req(body, "HotelID", "HotelID")?
        .as_u64()
        .ok_or_else(|| invalid("HotelID", "must be an integer hotel id"))?;
    let occ = occupancy_details(body, rooms)?;
    let currency = parse_currency(state, body)?;
    let plan_id = req_str(body, "RatePlanID", "RatePlanID")?;
    opt_bool(body, "IsNeedOnRequest")?;
    let hotel = state
        .catalog
        .hotel(&hotel_id.to_string())
        .ok_or_else(|| invalid("HotelID", "unknown hotel"))?;
    let (room, rate) = decode_rate_plan_id(state, hotel, plan_id)
        .ok_or_else(|| invalid("RatePlanID", "is not sold by this hotel"))?;
    if *scenario == Scenario::SoldOutAtRecheck {
        return Err(fail("2010", "No availability"));
    }
    let o = offer(
        state,
        hotel,
        room,
        rate,
        &stay,
        &occ,
        rooms,
        currency,
        price_up(scenario),
    )
    .ok_or_else(|| fail("2010", "No availability"))?;
    let mut answer = json!({"PriceDetails": {
        "CheckInDate": stay.checkin.to_string(), "CheckOutDate": stay.checkout.to_string(),
        "HotelList": [hotel_entry(state, hotel, std::slice::from_ref(&o), &stay, rooms, currency)]}});
    if prebook {
        let seq = state.next_seq();
        let nanos = state.now().timestamp_nanos_opt().unwrap_or_default() as u64;
        let reference = format!(
            "DIDA-RF-{seq:x}{:06x}",
            mix(&[state.catalog.seed, seq, nanos]) & 0xff_ffff
        );
        if seq.is_multiple_of(256) {
            let cutoff = state.now() - Duration::minutes(REFERENCE_MINUTES);
            state
                .kv
                .lock()
                .retain(|k, (t, _)| !k.starts_with("dida/reference/") || *t >= cutoff);
        }
        let hold = Hold {
            hotel: hotel.code.clone(),
            room,
            rate,
            rate_plan_id: plan_id.to_string(),
            checkin: stay.checkin,
            checkout: stay.checkout,
            rooms,
            adults: occ.adults,
            children: occ.children,
            currency: currency.to_string(),
            total: o.per_room_total() * Decimal::from(rooms),
            nightly: o.nightly,
            base_eur: o.base_eur,
            refundable: state
                .catalog
                .rate_plans
                .get(rate)
                .is_some_and(|p| p.refundable),
        };
        state.kv_put(
            reference_key(&reference),
            serde_json::to_value(&hold).unwrap_or_default(),
        );
        if let Some(a) = answer.as_object_mut() {
            a.insert("ReferenceNo".into(), json!(reference));
        }
    }
    Ok(success(answer))
}

fn facility(code: &str) -> &'static str {
    match code {
        "WIFI" => "Wi-Fi",
        "POOL" => "Swimming Pool",
        "SPA" => "Spa",
        "GYM" => "Fitness Center",
        "PARKING" => "Parking",
        "RESTAURANT" => "Restaurant",
        "BAR" => "Bar",
        "AIRPORT_SHUTTLE" => "Airport Shuttle",
        _ => "Other",
    }
}

/// `POST /api/static/HotelDetail`: content, with the hotel's time zone.
pub(super) fn hotel_detail(state: &SimState, body: &Value) -> Reply<SimResponse> {
    let ids = hotel_ids(body)?;
    let hotels: Vec<Value> = ids
        .iter()
        .filter_map(|id| state.catalog.hotel(&id.to_string()))
        .filter_map(|h| {
            let w = state.world.hotels.get(h.world_idx)?;
            let d = w.dest();
            Some(json!({
                "HotelID": h.code.parse::<u64>().ok(),
                "Name": h.name,
                "Address": w.address,
                "City": d.city,
                "CountryCode": d.country,
                "Latitude": w.lat,
                "Longitude": w.lon,
                "TimeZone": d.time_zone,
                "StarRating": w.stars,
                "Facilities": w.amenities.iter().map(|a| facility(a)).collect::<Vec<_>>(),
                "RoomTypeList": h.rooms.iter().map(|r| json!({
                    "RoomTypeID": r.code.parse::<u64>().ok(), "RoomName": r.name,
                    "MaxOccupancy": r.max_occupancy})).collect::<Vec<_>>(),
            }))
        })
        .collect();
    Ok(success(json!({ "HotelList": hotels })))
}
