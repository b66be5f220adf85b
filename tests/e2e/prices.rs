//! Prices and cancellation terms agents can compare across suppliers: every offer's price is the
//! stay total in the requested currency with taxes, the comparison price adds what is payable at
//! the hotel, and deadlines that suppliers state in hotel-local time land on the right UTC instant.
//!
//! The expected figures come from the simulators' world (`arigate_sim`): the same real room is
//! priced from one base by all five suppliers, each quoting in its own way (Hotelbeds net with a
//! city tax at the hotel, Rapid inclusive with property fees, DerbySoft per night in USD with an
//! exclusive city tax, Dida and OTA all taxes included).

use crate::harness::*;
use arigate_connectors::normalize::Tz;
use arigate_sim::catalog::Catalog;
use arigate_sim::world::{World, WorldHotel, DESTINATIONS};
use chrono::{Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Charges the simulators list as payable at the hotel, in EUR for the stay (one room, two adults):
/// Hotelbeds a city tax of 2.00 EUR per night at 4- and 5-star hotels (sim/src/hotelbeds), Rapid
/// a resort fee of 3.00 EUR per night at hotels with a pool (sim/src/expedia_rapid), DerbySoft a
/// city tax of 2.00 USD per person per night at 4- and 5-star hotels (sim/src/derbysoft).
fn hotel_fees_eur(protocol: &str, h: &WorldHotel, nights: i64) -> Decimal {
    let n = Decimal::from(nights);
    match protocol {
        "hotelbeds" if h.stars >= 4 => Decimal::from(2) * n,
        "expedia-rapid" if h.amenities.contains(&"POOL") => Decimal::from(3) * n,
        "derbysoft" if h.stars >= 4 => Decimal::from(4) * n / dec("1.08"),
        _ => Decimal::ZERO,
    }
}

fn dec(s: &str) -> Decimal {
    s.parse().expect("decimal")
}

fn amount(v: &Value) -> Decimal {
    v["amount"].as_str().map(dec).expect("amount string")
}

fn body(hotels: &[&str], checkin: NaiveDate, nights: i64, currency: &str) -> Value {
    json!({"checkin": checkin.to_string(), "checkout": (checkin + Duration::days(nights)).to_string(),
           "hotels": hotels, "occupancy": [{"adults": 2}], "currency": currency})
}

/// The world's stay total (one room, two adults, taxes included, EUR) of the room a supplier
/// calls `room_name`, on the rate plan with this board and refundability.
fn world_total(
    world: &World,
    protocol: &str,
    hotel: &WorldHotel,
    offer: &Value,
    checkin: NaiveDate,
    nights: i64,
) -> Decimal {
    let catalog = Catalog::new(world, protocol).expect("protocol");
    let ch = catalog
        .hotels
        .iter()
        .find(|c| c.world_idx == hotel.idx)
        .expect("sold by this supplier");
    let name = offer["supplier_room_name"].as_str().expect("room name");
    let room = ch
        .rooms
        .iter()
        .position(|r| r.name == name)
        .unwrap_or_else(|| panic!("{protocol} has no room {name:?}"));
    let board = offer["board"].as_str().expect("board");
    let refundable = offer["refundable"].as_bool().expect("refundable");
    let rate = catalog
        .rate_plans
        .iter()
        .position(|p| p.board == board && p.refundable == refundable)
        .expect("rate plan");
    let today = Utc::now().date_naive();
    (0..nights)
        .map(|i| {
            catalog
                .night(
                    world,
                    ch,
                    room,
                    rate,
                    checkin + Duration::days(i),
                    today,
                    2,
                    0,
                )
                .expect("night in the inventory window")
                .0
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comparison_prices_agree_with_the_world_across_all_five_suppliers() {
    let world = World::new(42);
    // A hotel all five sell where every kind of charge at the hotel applies.
    let hotel = world
        .hotels
        .iter()
        .find(|h| h.sellers.iter().all(|s| *s) && h.stars >= 4 && h.amenities.contains(&"POOL"))
        .expect("the seed-42 world has such a hotel");
    let stack = Stack::start().await;
    let nights = 2;
    let checkin = Utc::now().date_naive() + Duration::days(40);
    let s = stack
        .agent(
            "POST",
            "/v1/search",
            Some(&body(&[&hotel.id], checkin, nights, "EUR")),
        )
        .await;
    assert_eq!(s.status, 200, "{}", s.raw);
    assert_eq!(s.body["currency_rates_as_of"], "2026-11-01", "{}", s.raw);
    let h = &s.body["hotels"][0];
    let mut seen = BTreeSet::new();
    let mut comparisons = Vec::new();
    for row in h["rooms"].as_array().expect("rooms") {
        let offers = row["offers"].as_array().expect("offers");
        let row_cmp: Vec<Decimal> = offers
            .iter()
            .map(|o| amount(&o["comparison_price"]))
            .collect();
        assert!(
            row_cmp.windows(2).all(|w| w[0] <= w[1]),
            "offers of a row are ordered by comparison price: {row_cmp:?}"
        );
        comparisons.extend(row_cmp);
        for o in offers {
            let supplier = o["supplier"].as_str().expect("supplier");
            seen.insert(supplier.to_string());
            let price = amount(&o["price"]);
            assert_eq!(o["price"]["currency"], "EUR");
            assert_eq!(o["price"]["taxes_included"], true, "{o}");
            // Only Dida's protocol does not give charges payable at the hotel.
            assert_eq!(o["pay_at_hotel_listed"], supplier != "dida", "{o}");
            let world_price = world_total(&world, supplier, hotel, o, checkin, nights);
            // DerbySoft quotes USD per night (each rounded to cents by the supplier); the others
            // quote this currency, so their figure is exact.
            let tolerance = if supplier == "derbysoft" {
                dec("0.01") * Decimal::from(nights)
            } else {
                Decimal::ZERO
            };
            assert!(
                (price - world_price).abs() <= tolerance,
                "{supplier}: price {price} but the world says {world_price}: {o}"
            );
            let fees: Decimal = o["pay_at_hotel"]
                .as_array()
                .expect("pay_at_hotel")
                .iter()
                .map(|f| {
                    assert_eq!(f["amount"]["currency"], "EUR");
                    assert!(f["payable"]["currency"].is_string(), "{f}");
                    amount(&f["amount"])
                })
                .sum();
            let want_fees = hotel_fees_eur(supplier, hotel, nights);
            assert!(
                (fees - want_fees).abs() <= dec("0.01"),
                "{supplier}: charges at the hotel {fees}, expected {want_fees}: {o}"
            );
            let cmp = amount(&o["comparison_price"]);
            assert!(
                (cmp - (world_price + want_fees)).abs() <= tolerance + dec("0.01"),
                "{supplier}: comparison {cmp}, the world says {} + {want_fees}: {o}",
                world_price
            );
        }
    }
    assert_eq!(
        seen.len(),
        5,
        "offers from every supplier: {seen:?} in {}",
        s.raw
    );
    let min = comparisons.iter().min().copied().expect("offers");
    assert_eq!(
        amount(&h["min_price"]),
        min,
        "min_price is the lowest comparison price"
    );

    // In another currency the same offers compare the same way, converted with the table.
    let usd = stack
        .agent(
            "POST",
            "/v1/search",
            Some(&body(&[&hotel.id], checkin, nights, "USD")),
        )
        .await;
    assert_eq!(usd.status, 200, "{}", usd.raw);
    let usd_min = amount(&usd.body["hotels"][0]["min_price"]);
    assert_eq!(usd.body["hotels"][0]["min_price"]["currency"], "USD");
    assert!(
        (usd_min - min * dec("1.08")).abs() <= dec("0.05"),
        "USD min {usd_min} against EUR min {min} × 1.08"
    );
}

/// The hotel's zone from the world, and the instant a wall-clock time there means.
fn at_hotel(hotel: &WorldHotel, date: NaiveDate, time: NaiveTime) -> String {
    let tz: Tz = DESTINATIONS[hotel.destination]
        .time_zone
        .parse()
        .expect("IANA zone");
    tz.from_local_datetime(&date.and_time(time))
        .single()
        .expect("not on a DST edge")
        .with_timezone(&Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hotel_local_deadlines_are_placed_in_the_hotels_zone() {
    let world = World::new(42);
    // New York is 4 to 5 hours behind UTC: reading its wall clock as UTC would be far off.
    let hotels: Vec<&WorldHotel> = world
        .hotels
        .iter()
        .filter(|h| DESTINATIONS[h.destination].code == "NYC" && h.sellers.iter().all(|s| *s))
        .take(3)
        .collect();
    assert_eq!(hotels.len(), 3);
    let ids: Vec<&str> = hotels.iter().map(|h| h.id.as_str()).collect();
    let stack = Stack::start().await;
    // One stay in winter (EST) and one in summer (EDT).
    for days in [30, 200] {
        let checkin = Utc::now().date_naive() + Duration::days(days);
        let s = stack
            .agent("POST", "/v1/search", Some(&body(&ids, checkin, 2, "EUR")))
            .await;
        assert_eq!(s.status, 200, "{}", s.raw);
        let deadline_day = checkin - Duration::days(2);
        let mut checked = BTreeSet::new();
        for (hotel_id, o) in offers(&s.body) {
            let hotel = hotels
                .iter()
                .find(|h| h.id == hotel_id)
                .expect("searched hotel");
            let supplier = o["supplier"].as_str().expect("supplier").to_string();
            let c = &o["cancellation"];
            if o["refundable"] != true {
                assert_eq!(c["free_until"], Value::Null, "{o}");
                assert!(o.get("cancel_deadline").is_none(), "{o}");
                continue;
            }
            // Each simulator's own rule for its refundable plan, in its own terms.
            let want = match supplier.as_str() {
                // Dida: `FromDate` = midnight hotel-local two days before arrival.
                "dida" => at_hotel(hotel, deadline_day, NaiveTime::MIN),
                // DerbySoft: free until 23:59 hotel-local two days before arrival.
                "derbysoft" => at_hotel(
                    hotel,
                    deadline_day,
                    NaiveTime::from_hms_opt(23, 59, 0).expect("time"),
                ),
                // Hotelbeds, Rapid and OTA state UTC instants: 23:59Z two days before arrival.
                _ => format!("{deadline_day}T23:59:00Z"),
            };
            assert_eq!(c["free_until"], want.as_str(), "{supplier}: {o}");
            assert_eq!(o["cancel_deadline"], c["free_until"], "{o}");
            let penalties = c["penalties"].as_array().expect("penalties");
            assert_eq!(penalties[0]["from"], want.as_str(), "{o}");
            assert_eq!(penalties[0]["currency"], "EUR");
            assert!(amount(&penalties[0]) > Decimal::ZERO, "{o}");
            checked.insert(supplier);
        }
        for s in ["dida", "derbysoft", "hotelbeds"] {
            assert!(
                checked.contains(s),
                "no refundable {s} offer checked for {checkin}: {checked:?}"
            );
        }
    }
}
