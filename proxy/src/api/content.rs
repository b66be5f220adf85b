//! Static routes: destinations and hotel listings from the mapping, and hotel content merged from
//! every supplier's content endpoint (with each supplier's own code, GIATA-multicode style).

use super::ApiResponse;
use crate::app::App;
use crate::errors::ApiError;
use crate::legs::LegCache;
use crate::supplier_calls::{call_supplier, CallOptions};
use crate::traces::RequestTrace;
use arigate_connectors::{Call, HotelContent, Reply};
use arigate_filters::agent_auth::Agent;
use pingora_proxy::Session;
use serde_json::{json, Value};

const STATIC_CACHE: &str = "public, max-age=3600";

/// `GET /v1/destinations`
pub fn destinations(app: &App) -> ApiResponse {
    let list: Vec<Value> = app
        .config
        .mapping
        .destinations()
        .into_iter()
        .map(|(code, n)| json!({"code": code, "hotels": n}))
        .collect();
    ApiResponse::json(200, &json!({"destinations": list})).header("cache-control", STATIC_CACHE)
}

/// `GET /v1/hotels?destination=CODE`
pub fn hotels(app: &App, destination: Option<String>) -> Result<ApiResponse, ApiError> {
    let d = destination
        .ok_or_else(|| ApiError::bad_request("the destination query parameter is required"))?;
    let list: Vec<Value> = app
        .config
        .mapping
        .in_destination(&d)
        .map(|h| json!({"hotel_id": h.id, "name": h.name, "suppliers": h.codes.keys().collect::<Vec<_>>()}))
        .collect();
    if list.is_empty() {
        return Err(ApiError::new(
            404,
            "unknown_destination",
            format!("unknown destination {d:?}"),
        ));
    }
    Ok(
        ApiResponse::json(200, &json!({"destination": d, "hotels": list}))
            .header("cache-control", STATIC_CACHE),
    )
}

/// `GET /v1/hotels/{id}`: content from every supplier that sells the hotel, merged.
pub async fn hotel(
    app: &App,
    session: &Session,
    agent: &Agent,
    id: &str,
    trace: &RequestTrace,
) -> Result<ApiResponse, ApiError> {
    let h =
        app.config.mapping.hotel(id).ok_or_else(|| {
            ApiError::new(404, "unknown_hotel", format!("unknown hotel id {id:?}"))
        })?;
    let ip = super::client_ip(session);
    let calls = h.codes.iter().filter_map(|(code, supplier_code)| {
        let s = app
            .supplier(code)
            .filter(|s| app.agent_may_use(agent, s))?
            .clone();
        let call = Call::Content {
            hotels: vec![supplier_code.clone()],
        };
        let ip = ip.clone();
        let leg_trace = trace.leg(vec![id.to_string()]);
        let cache = LegCache {
            ttl: app.static_ttl,
            hotels: vec![supplier_code.clone()],
            refresh: false,
        };
        Some(async move {
            let opts = CallOptions {
                timeout: s.config.booking_timeout.min(app.config.search.deadline),
                customer_ip: &ip,
                max_response_bytes: app.config.max_supplier_response_bytes,
                cache: Some(cache),
                trace: leg_trace,
            };
            let r = call_supplier(app, session, &s, call, opts).await;
            (s.code().to_string(), r.reply, r.cache)
        })
    });
    let results = futures::future::join_all(calls).await;
    let mut contents: Vec<(String, HotelContent)> = Vec::new();
    let mut sources = Vec::new();
    for (code, reply, cache) in results {
        match reply {
            Ok(Reply::Content { hotels }) => {
                sources.push(json!({"code": code, "status": "ok", "cache": cache.as_str()}));
                contents.extend(hotels.into_iter().map(|c| (code.clone(), c)));
            }
            Ok(_) => {
                sources.push(json!({"code": code, "status": "error", "error": "unexpected reply"}))
            }
            Err(e) => {
                sources.push(json!({"code": code, "status": "error", "error": e.class.as_str()}))
            }
        }
    }
    let first = |f: &dyn Fn(&HotelContent) -> Option<Value>| {
        contents
            .iter()
            .find_map(|(_, c)| f(c))
            .unwrap_or(Value::Null)
    };
    let mut amenities: Vec<String> = contents
        .iter()
        .flat_map(|(_, c)| c.amenities.iter().map(|a| a.to_string()))
        .collect();
    amenities.sort();
    amenities.dedup();
    let room_types: Vec<Value> = contents
        .iter()
        .flat_map(|(s, c)| c.rooms.iter().map(move |r| json!({"supplier": s, "code": r.code, "name": r.name, "max_occupancy": r.max_occupancy})))
        .collect();
    let body = json!({
        "hotel_id": h.id,
        "name": h.name,
        "destination": h.destination,
        "address": first(&|c| c.address.clone().map(Value::from)),
        "city": first(&|c| c.city.clone().map(Value::from)),
        "country": first(&|c| c.country.clone().map(Value::from)),
        "geo": first(&|c| Some(json!({"latitude": c.latitude?, "longitude": c.longitude?}))),
        "time_zone": first(&|c| c.time_zone.clone().map(Value::from)),
        "amenities": amenities,
        "room_types": room_types,
        "codes": h.codes,
        "sources": sources,
    });
    let hits = sources.iter().filter(|s| s["cache"] == "hit").count();
    let overall = match hits {
        0 => "miss",
        n if n == sources.len() => "hit",
        _ => "partial",
    };
    Ok(ApiResponse::json(200, &body)
        .header("cache-control", STATIC_CACHE)
        .header("x-arigate-cache", overall))
}
