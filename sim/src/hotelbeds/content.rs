//! Content API (spec "Content"): hotel static data, reduced to the fields the spec lists.

use super::{fail, invalid, ok, Reply, CONTENT_API};
use crate::catalog::CatalogHotel;
use crate::state::SimState;
use crate::{SimRequest, SimResponse};
use serde_json::{json, Value};

/// Facility descriptions and codes for the world's amenity ids.
fn facility(amenity: &str) -> (u32, &'static str) {
    match amenity {
        "WIFI" => (261, "Wi-fi"),
        "POOL" => (363, "Outdoor swimming pool"),
        "SPA" => (460, "Spa centre"),
        "GYM" => (470, "Gym"),
        "PARKING" => (320, "Car park"),
        "RESTAURANT" => (200, "Restaurant"),
        "BAR" => (130, "Bar"),
        "AIRPORT_SHUTTLE" => (562, "Airport shuttle"),
        _ => (0, "Other"),
    }
}

fn hotel_json(state: &SimState, hotel: &CatalogHotel) -> Option<Value> {
    let world = state.world.hotels.get(hotel.world_idx)?;
    let dest = world.dest();
    let facilities: Vec<Value> = world
        .amenities
        .iter()
        .map(|a| {
            let (code, description) = facility(a);
            json!({"facilityCode": code, "facilityGroupCode": 70, "description": {"content": description}})
        })
        .collect();
    let rooms: Vec<Value> = hotel
        .rooms
        .iter()
        .map(|r| {
            json!({"roomCode": r.code, "description": r.name, "minPax": 1, "maxPax": r.max_occupancy,
                   "maxAdults": r.max_occupancy, "maxChildren": r.max_occupancy.saturating_sub(1)})
        })
        .collect();
    Some(json!({
        "code": hotel.code.parse::<u64>().ok()?,
        "name": {"content": hotel.name},
        "countryCode": dest.country,
        "destinationCode": dest.code,
        "coordinates": {
            "latitude": (world.lat * 1e6).round() / 1e6,
            "longitude": (world.lon * 1e6).round() / 1e6,
        },
        "categoryCode": format!("{}EST", world.stars),
        "address": {"content": world.address},
        "city": {"content": dest.city.to_uppercase()},
        "facilities": facilities,
        "rooms": rooms,
    }))
}

/// `GET /hotel-content-api/1.0/hotels?codes=…` and `GET …/hotels/{code}/details`.
pub(super) fn content(state: &SimState, req: &SimRequest) -> Reply<SimResponse> {
    let path = req.path.trim_end_matches('/');
    if let Some(code) = path
        .strip_prefix(CONTENT_API)
        .and_then(|r| r.strip_prefix("/hotels/"))
        .and_then(|r| r.strip_suffix("/details"))
    {
        return match state.catalog.hotel(code).and_then(|h| hotel_json(state, h)) {
            Some(h) => Ok(ok(state, json!({"hotel": h}))),
            None => Err(fail(
                state,
                404,
                "INVALID_DATA",
                format!("Hotel {code} not found"),
            )),
        };
    }
    let (total, hotels): (usize, Vec<Value>) = match req.query_param("codes") {
        Some(codes) => {
            let mut out = Vec::new();
            for code in codes.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                if code.parse::<u64>().is_err() {
                    return Err(invalid(
                        state,
                        format!("codes must be comma-separated integers, got {code:?}"),
                    ));
                }
                if let Some(h) = state.catalog.hotel(code).and_then(|h| hotel_json(state, h)) {
                    out.push(h);
                }
            }
            (out.len(), out)
        }
        None => {
            let from = page_param(state, req, "from", 1)?;
            let to = page_param(state, req, "to", 100)?;
            if to < from || to - from >= 1000 {
                return Err(invalid(
                    state,
                    "to must be at least from and at most from + 999",
                ));
            }
            let page = state
                .catalog
                .hotels
                .iter()
                .skip(from - 1)
                .take(to - from + 1)
                .filter_map(|h| hotel_json(state, h))
                .collect();
            (state.catalog.hotels.len(), page)
        }
    };
    Ok(ok(state, json!({"total": total, "hotels": hotels})))
}

fn page_param(state: &SimState, req: &SimRequest, name: &str, default: usize) -> Reply<usize> {
    match req.query_param(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| invalid(state, format!("{name} must be a positive integer"))),
    }
}
