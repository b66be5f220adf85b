//! Shopping (cached multi-hotel search), live availability and hotel content (spec "Search",
//! "Recheck", "Content").

use super::{
    field, hotel_id, money, ok, parse_occupancy, parse_stay, price_up, req_array, Fail, Occupancy,
    Reply, Stay, CURRENCY, MAX_HOTELS,
};
use crate::catalog::{CatalogHotel, RatePlan};
use crate::scenario::Scenario;
use crate::state::SimState;
use crate::SimResponse;
use rust_decimal::Decimal;
use serde_json::{json, Value};

/// One bookable (room, rate plan) for a stay and occupancy.
#[derive(Debug, Clone)]
pub(super) struct Offer {
    pub room: usize,
    pub rate: usize,
    /// After-tax price per night for one room, in [`CURRENCY`].
    pub nightly: Vec<Decimal>,
    pub allotment: u32,
    /// Live EUR total for all rooms, without scenarios (what a later reprice is compared with).
    pub base_eur: Decimal,
}

impl Offer {
    /// After-tax total for all rooms, in [`CURRENCY`].
    pub fn total(&self, rooms: u32) -> Decimal {
        self.nightly.iter().sum::<Decimal>() * Decimal::from(rooms)
    }
}

/// The live offer for one room and rate plan, with `price_up` applied when given.
pub(super) fn offer(
    state: &SimState,
    hotel: &CatalogHotel,
    room: usize,
    rate: usize,
    stay: &Stay,
    occ: &Occupancy,
    price_up: Option<Decimal>,
) -> Option<Offer> {
    let q = state.quote(
        hotel,
        room,
        rate,
        stay.checkin,
        stay.checkout,
        occ.rooms,
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
        .map(|eur| state.convert(eur.checked_mul(factor)?.round_dp(2), CURRENCY))
        .collect::<Option<Vec<_>>>()?;
    Some(Offer {
        room,
        rate,
        nightly,
        allotment: q.allotment,
        base_eur: q.total,
    })
}

/// Every offer of a hotel, room by room, rate plan by rate plan.
fn offers(
    state: &SimState,
    hotel: &CatalogHotel,
    stay: &Stay,
    occ: &Occupancy,
    price_up: Option<Decimal>,
) -> Vec<Offer> {
    (0..hotel.rooms.len())
        .flat_map(|room| (0..state.catalog.rate_plans.len()).map(move |rate| (room, rate)))
        .filter_map(|(room, rate)| offer(state, hotel, room, rate, stay, occ, price_up))
        .collect()
}

/// Before-tax amount of an after-tax one (10 % tax).
pub(super) fn before_tax(after: Decimal) -> Decimal {
    (after / Decimal::new(110, 2)).round_dp(2)
}

pub(super) fn cancel_policy(plan: &RatePlan) -> Value {
    if plan.refundable {
        json!({"code": "2D_1N", "description": "free until 2 days before arrival",
          "cancelPenalties": [{"cancellable": true, "noShow": false,
            "cancelDeadline": {"offsetTimeDropType": "BeforeArrival", "offsetTimeUnit": "D",
                               "offsetTimeValue": 2, "dealineTime": "23:59"},
            "penaltyCharge": {"chargeBase": "NightBase", "nights": 1}}]})
    } else {
        json!({"code": "NRF", "description": "non-refundable",
          "cancelPenalties": [{"cancellable": false, "noShow": false,
            "penaltyCharge": {"chargeBase": "FullStay"}}]})
    }
}

fn fees(state: &SimState, hotel: &CatalogHotel) -> Value {
    let stars = state
        .world
        .hotels
        .get(hotel.world_idx)
        .map_or(0, |h| h.stars);
    if stars >= 4 {
        json!([{"name": "City Tax", "type": "Exclusive", "amount": "2.00", "amountType": "Fixed",
                "chargeType": "PerPersonPerNight"}])
    } else {
        json!([])
    }
}

fn room_rate(state: &SimState, hotel: &CatalogHotel, o: &Offer) -> Value {
    let room = hotel.rooms.get(o.room);
    let plan = state.catalog.rate_plans.get(o.rate);
    json!({
        "roomId": room.map(|r| r.code.as_str()),
        "roomName": room.map(|r| r.name.as_str()),
        "rateId": plan.map(|p| p.code.as_str()),
        "rateName": plan.map(|p| p.name.as_str()),
        "currency": CURRENCY,
        "inventory": o.allotment,
        "mealPlan": plan.map(|p| p.board),
        "amountBeforeTax": o.nightly.iter().map(|n| money(before_tax(*n))).collect::<Vec<_>>(),
        "amountAfterTax": o.nightly.iter().map(|n| money(*n)).collect::<Vec<_>>(),
        "fees": fees(state, hotel),
        "cancelPolicy": plan.map(cancel_policy),
    })
}

fn room_rates(
    state: &SimState,
    hotel: &CatalogHotel,
    stay: &Stay,
    occ: &Occupancy,
    price_up: Option<Decimal>,
) -> Vec<Value> {
    offers(state, hotel, stay, occ, price_up)
        .iter()
        .map(|o| room_rate(state, hotel, o))
        .collect()
}

/// Distinct hotel ids of an array field, each matching the id pattern.
fn hotel_ids<'a>(list: &'a [Value], path: &str, key: Option<&str>) -> Reply<Vec<&'a str>> {
    if list.is_empty() || list.len() > MAX_HOTELS {
        return Err(Fail::invalid(
            path,
            &format!("must hold 1..{MAX_HOTELS} hotels"),
        ));
    }
    let mut ids: Vec<&str> = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let id = match key {
            Some(k) => {
                let p = format!("{path}[{i}].{k}");
                if !item.is_object() {
                    return Err(Fail::invalid(&format!("{path}[{i}]"), "must be an object"));
                }
                let v = field(item, k).ok_or_else(|| Fail::invalid(&p, "is required"))?;
                hotel_id(v, &p)?
            }
            None => hotel_id(item, &format!("{path}[{i}]"))?,
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// `POST /shoppingengine/v4/shopping/multihotels`: cached prices, never affected by scenarios.
pub(super) fn search(state: &SimState, body: &Value, header: &Value) -> Reply<SimResponse> {
    let ids = hotel_ids(
        req_array(body, "hotels", "hotels")?,
        "hotels",
        Some("hotelId"),
    )?;
    let stay = parse_stay(state, body)?;
    let occ = parse_occupancy(body)?;
    let avail: Vec<Value> = ids
        .iter()
        .filter_map(|id| state.catalog.hotel(id))
        .filter_map(|h| {
            let rates = room_rates(state, h, &stay, &occ, None);
            (!rates.is_empty()).then(|| json!({"hotelId": h.code, "roomRates": rates}))
        })
        .collect();
    Ok(ok(header, json!({"availHotels": avail})))
}

/// `POST /bookingusb/v4/availability`: live prices for one hotel.
pub(super) fn availability(
    state: &SimState,
    body: &Value,
    header: &Value,
    scenario: &Scenario,
) -> Reply<SimResponse> {
    let id = hotel_id(super::req(body, "hotelId", "hotelId")?, "hotelId")?;
    let stay = parse_stay(state, body)?;
    let occ = parse_occupancy(body)?;
    let hotel = state.catalog.hotel(id).ok_or_else(|| hotel_not_found(id))?;
    let rates = if *scenario == Scenario::SoldOutAtRecheck {
        Vec::new()
    } else {
        room_rates(state, hotel, &stay, &occ, price_up(scenario))
    };
    Ok(ok(
        header,
        json!({"hotelId": hotel.code, "stayRange": stay.json(), "roomCriteria": occ.json(),
               "roomRates": rates}),
    ))
}

pub(super) fn hotel_not_found(id: &str) -> Fail {
    Fail::Code(404, "HotelNotFound", format!("hotel {id} not found"))
}

/// `POST /shoppingengine/v4/hotels/content`: descriptive content from the world.
pub(super) fn content(state: &SimState, body: &Value, header: &Value) -> Reply<SimResponse> {
    let ids = hotel_ids(req_array(body, "hotelIds", "hotelIds")?, "hotelIds", None)?;
    let hotels: Vec<Value> = ids
        .iter()
        .filter_map(|id| state.catalog.hotel(id))
        .filter_map(|h| {
            let w = state.world.hotels.get(h.world_idx)?;
            let d = w.dest();
            Some(json!({
                "hotelId": h.code,
                "name": h.name,
                "address": {"line": w.address, "city": d.city, "countryCode": d.country},
                "position": {"latitude": w.lat, "longitude": w.lon},
                "amenities": w.amenities,
                "rooms": h.rooms.iter().map(|r| json!({"roomId": r.code, "roomName": r.name,
                    "maxOccupancy": r.max_occupancy})).collect::<Vec<_>>(),
            }))
        })
        .collect();
    Ok(ok(header, json!({"hotels": hotels})))
}
