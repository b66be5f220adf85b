//! The foundation (issue: five supplier protocols end to end): search fan-out, and for every
//! supplier re-check, book, query and cancel through the edge, proven with simulator counters.

use crate::harness::*;
use arigate_sim::world::PROTOCOLS;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(k, v)| {
            let d = v - before.get(k).copied().unwrap_or(0);
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

async fn search(stack: &Stack, hotels: &[String], days: i64) -> Answer {
    let ids: Vec<&str> = hotels.iter().map(String::as_str).collect();
    stack
        .agent("POST", "/v1/search", Some(&search_body(&ids, days)))
        .await
}

/// An offer of `supplier` from a search for shared hotels, refundable ones first.
async fn offer_of(stack: &Stack, supplier: &str) -> Value {
    for days in [30, 45, 60] {
        let s = search(stack, &shared_hotels(6), days).await;
        assert_eq!(s.status, 200, "{}", s.raw);
        let mut of: Vec<Value> = offers(&s.body)
            .into_iter()
            .map(|(_, o)| o)
            .filter(|o| o["supplier"] == supplier)
            .collect();
        of.sort_by_key(|o| !o["refundable"].as_bool().unwrap_or(false));
        if let Some(o) = of.into_iter().next() {
            return o;
        }
    }
    panic!("no offer from {supplier}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_for_shared_hotels_returns_offers_from_all_five_suppliers() {
    let stack = Stack::start().await;
    let hotels = shared_hotels(4);
    let s = search(&stack, &hotels, 30).await;
    assert_eq!(s.status, 200, "{}", s.raw);
    assert_eq!(s.body["reference_only"], true);
    assert_eq!(s.body["complete"], true, "{}", s.raw);
    assert_eq!(s.header("x-arigate-complete"), Some("true"));
    assert_eq!(s.header("x-trace-id").map(str::len), Some(32));
    assert_eq!(s.body["trace_id"].as_str(), s.header("x-trace-id"));
    for p in PROTOCOLS {
        let status = s.body["suppliers"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["code"] == p))
            .cloned()
            .unwrap_or(Value::Null);
        assert_eq!(status["status"], "ok", "{p}: {status}");
        assert!(
            status["offers"].as_u64().unwrap_or(0) > 0,
            "{p} returned no offers: {status}"
        );
        // One search call per supplier (plus DerbySoft's token), nothing else.
        assert_eq!(searches(&stack, p), 1, "{p}: {:?}", stack.counters(p));
    }
    let all = offers(&s.body);
    for (hotel, o) in &all {
        assert!(hotels.contains(hotel));
        assert_eq!(o["price"]["currency"], "EUR");
        assert_eq!(o["price"]["taxes_included"], true);
        let amount: f64 = o["price"]["amount"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .unwrap_or(-1.0);
        assert!(amount > 0.0, "{o}");
        assert!(o["offer_id"].as_str().is_some_and(|t| t.starts_with("of_")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_are_converted_to_the_requested_currency() {
    let stack = Stack::start().await;
    let ids = shared_hotels(2);
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut body = search_body(&ids, 40);
    let eur = stack.agent("POST", "/v1/search", Some(&body)).await;
    body["currency"] = json!("USD");
    let usd = stack.agent("POST", "/v1/search", Some(&body)).await;
    assert_eq!((eur.status, usd.status), (200, 200));
    let price = |a: &Answer, sup: &str| -> Option<f64> {
        offers(&a.body)
            .iter()
            .filter(|(_, o)| o["supplier"] == sup)
            .filter_map(|(_, o)| o["price"]["amount"].as_str()?.parse().ok())
            .reduce(f64::min)
    };
    // Hotelbeds quotes EUR: the USD answer is the EUR one converted at the configured 1.08.
    let (e, u) = (
        price(&eur, "hotelbeds").expect("hotelbeds EUR"),
        price(&usd, "hotelbeds").expect("hotelbeds USD"),
    );
    assert!(
        (u - e * 1.08).abs() < 0.02 || (u / e - 1.08).abs() < 0.001,
        "EUR {e} USD {u}"
    );
    assert!(offers(&usd.body)
        .iter()
        .all(|(_, o)| o["price"]["currency"] == "USD"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_supplier_rechecks_books_queries_and_cancels_through_the_edge() {
    let stack = Stack::start().await;
    for p in PROTOCOLS {
        let offer = offer_of(&stack, p).await;
        let before = stack.counters(p);
        let recheck = stack.recheck(&offer["offer_id"]).await;
        assert_eq!(recheck.status, 200, "{p} recheck: {}", recheck.raw);
        assert_eq!(recheck.header("cache-control"), Some("no-store"));
        assert!(
            ["available", "price_changed"].contains(&recheck.body["status"].as_str().unwrap_or("")),
            "{p}: {}",
            recheck.raw
        );
        let offer_id = recheck.body["offer_id"]
            .as_str()
            .expect("offer id")
            .to_string();

        let booked = stack.book(&offer_id, &format!("e2e-{p}-1")).await;
        assert_eq!(booked.status, 201, "{p} book: {}", booked.raw);
        assert_eq!(booked.body["status"], "confirmed", "{p}: {}", booked.raw);
        assert!(
            !booked.body["supplier_reference"]
                .as_str()
                .unwrap_or("")
                .is_empty(),
            "{p}: {}",
            booked.raw
        );
        let booking_id = booked.body["booking_id"]
            .as_str()
            .expect("booking id")
            .to_string();

        let queried = stack
            .agent("GET", &format!("/v1/bookings/{booking_id}"), None)
            .await;
        assert_eq!(queried.status, 200, "{p} query: {}", queried.raw);
        assert_eq!(queried.body["status"], "confirmed", "{p}: {}", queried.raw);
        assert_eq!(
            queried.body["supplier_reference"],
            booked.body["supplier_reference"]
        );

        let cancelled = stack
            .agent("POST", &format!("/v1/bookings/{booking_id}/cancel"), None)
            .await;
        assert_eq!(cancelled.status, 200, "{p} cancel: {}", cancelled.raw);
        assert_eq!(
            cancelled.body["status"], "cancelled",
            "{p}: {}",
            cancelled.raw
        );

        // Every call reached the supplier, each protocol step exactly once: nothing cached,
        // duplicated or retried.
        let d = delta(&before, &stack.counters(p));
        let steps: u64 = d
            .iter()
            .filter(|(k, _)| !k.contains("token"))
            .map(|(_, v)| v)
            .sum();
        let expected = match p {
            "hotelbeds" => 4,     // checkrates, book, retrieve, cancel
            "expedia-rapid" => 5, // price check, book, retrieve, retrieve (cancel link), cancel room
            "ota-soap" => 5,      // avail (recheck), initiate, commit, read, cancel
            "derbysoft" => 5,     // live availability, prebook, book, detail, cancel
            _ => 5,               // PriceConfirm, Confirm, Search, cancel quote, cancel
        };
        assert_eq!(steps, expected, "{p}: {d:?}");
        assert!(d.values().all(|v| *v <= 2), "{p}: {d:?}");
        let sim_bookings = stack.sim(p).state.bookings.lock().clone();
        assert_eq!(sim_bookings.len(), 1, "{p}: {sim_bookings:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_rise_at_recheck_is_reported_as_price_changed() {
    let stack = Stack::start().await;
    for p in PROTOCOLS {
        let offer = offer_of(&stack, p).await;
        stack
            .set_scenario(p, "price_up:15", Some(&["recheck"]))
            .await;
        let r = stack.recheck(&offer["offer_id"]).await;
        assert_eq!(r.status, 200, "{p}: {}", r.raw);
        assert_eq!(r.body["status"], "price_changed", "{p}: {}", r.raw);
        let old: f64 = offer["price"]["amount"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .unwrap_or(0.0);
        let new: f64 = r.body["price"]["amount"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .unwrap_or(0.0);
        assert!(new > old * 1.10, "{p}: old {old} new {new}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sold_out_at_book_is_a_conflict() {
    let stack = Stack::start().await;
    for p in PROTOCOLS {
        let offer = offer_of(&stack, p).await;
        stack.set_scenario(p, "sold_out_at_book", None).await;
        let r = stack
            .book(
                offer["offer_id"].as_str().unwrap_or(""),
                &format!("soldout-{p}"),
            )
            .await;
        assert_eq!(r.status, 409, "{p}: {}", r.raw);
        assert_eq!(r.body["error"]["code"], "sold_out", "{p}: {}", r.raw);
        assert!(
            stack.sim(p).state.bookings.lock().iter().all(|b| !b
                .status
                .to_lowercase()
                .contains("confirm")
                && b.status != "Book"
                && b.status != "2"),
            "{p}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supplier_auth_failure_is_a_502_that_leaks_no_secret() {
    let stack = Stack::start().await;
    let offer = offer_of(&stack, "expedia-rapid").await;
    stack.set_scenario("expedia-rapid", "auth_fail", None).await;
    let r = stack.recheck(&offer["offer_id"]).await;
    assert_eq!(r.status, 502, "{}", r.raw);
    assert_eq!(r.body["error"]["code"], "auth_failed");
    for secret in [
        "rapidsecret",
        "rapidkey123",
        "s3cr3tHB",
        "0ta-Pa55",
        "derby-secret",
        "TestKey",
    ] {
        assert!(!r.raw.contains(secret), "{}", r.raw);
    }
    let s = search(&stack, &shared_hotels(2), 30).await;
    let st = s.body["suppliers"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["code"] == "expedia-rapid"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(st["status"], "error", "{st}");
    assert_eq!(s.body["complete"], false);
    assert!(!s.raw.contains("rapidsecret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hung_supplier_times_out_and_the_others_still_answer_within_the_deadline() {
    let stack = Stack::start().await;
    stack
        .set_scenario("dida", "timeout", Some(&["search"]))
        .await;
    let started = Instant::now();
    let s = search(&stack, &shared_hotels(3), 30).await;
    let elapsed = started.elapsed();
    assert_eq!(s.status, 200, "{}", s.raw);
    // Within the 1 s deadline plus a few ms; the hung leg itself gave up at its 300 ms timeout.
    assert!(
        elapsed < Duration::from_millis(1000 + 100),
        "took {elapsed:?}"
    );
    let status = |code: &str| {
        s.body["suppliers"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["code"] == code))
            .map(|x| x["status"].clone())
    };
    assert_eq!(status("dida"), Some(json!("timeout")), "{}", s.raw);
    for p in ["hotelbeds", "expedia-rapid", "ota-soap", "derbysoft"] {
        assert_eq!(status(p), Some(json!("ok")), "{p}: {}", s.raw);
    }
    assert_eq!(s.body["complete"], false);
    assert_eq!(s.header("x-arigate-complete"), Some("false"));
    assert!(offers(&s.body).iter().all(|(_, o)| o["supplier"] != "dida"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_book_that_times_out_after_commit_is_unknown_then_reconciled() {
    let stack = Stack::start().await;
    for p in PROTOCOLS {
        let offer = offer_of(&stack, p).await;
        stack
            .set_scenario(p, "commit_then_timeout", Some(&["book"]))
            .await;
        let booked = stack
            .book(
                offer["offer_id"].as_str().unwrap_or(""),
                &format!("ctt-{p}"),
            )
            .await;
        assert_eq!(booked.status, 201, "{p}: {}", booked.raw);
        assert_eq!(booked.body["status"], "unknown", "{p}: {}", booked.raw);
        let booking_id = booked.body["booking_id"].as_str().unwrap_or("").to_string();
        let http_calls_before = stack.counters(p);
        let mut status = Value::Null;
        // The supplier may need a moment before its lookup shows the booking (Rapid: 2 s).
        for _ in 0..40 {
            let q = stack
                .agent("GET", &format!("/v1/bookings/{booking_id}"), None)
                .await;
            assert_eq!(q.status, 200, "{p}: {}", q.raw);
            status = q.body["status"].clone();
            if status == "confirmed" {
                assert!(
                    !q.body["supplier_reference"]
                        .as_str()
                        .unwrap_or("")
                        .is_empty(),
                    "{p}: {}",
                    q.raw
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(status, "confirmed", "{p}");
        // Reconciliation looked the booking up; it never booked again.
        let d = delta(&http_calls_before, &stack.counters(p));
        assert!(
            d.keys()
                .all(|k| !k.contains("book") || k.contains("Search") || k.contains("list")),
            "{p}: {d:?}"
        );
        assert_eq!(stack.sim(p).state.bookings.lock().len(), 1, "{p}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_idempotency_key_books_once() {
    let stack = Stack::start().await;
    let offer = offer_of(&stack, "hotelbeds").await;
    let id = offer["offer_id"].as_str().unwrap_or("");
    let first = stack.book(id, "same-key").await;
    let second = stack.book(id, "same-key").await;
    assert_eq!(first.status, 201, "{}", first.raw);
    assert_eq!(second.status, 201, "{}", second.raw);
    assert_eq!(first.raw, second.raw);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(stack.sim("hotelbeds").state.bookings.lock().len(), 1);
    assert_eq!(
        stack.counters("hotelbeds").get("book").copied(),
        Some(1),
        "{:?}",
        stack.counters("hotelbeds")
    );

    // Same key, another body → 422; a missing key → 400; neither reaches the supplier.
    let auth = format!("Bearer {API_KEY}");
    let other = json!({"offer_id": id, "guests": [{"first_name": "Grace", "last_name": "Hopper"}]});
    let r = http(
        "POST",
        &format!("{}/v1/bookings", stack.edge),
        &[("authorization", &auth), ("idempotency-key", "same-key")],
        Some(&other),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.raw);
    let r = http(
        "POST",
        &format!("{}/v1/bookings", stack.edge),
        &[("authorization", &auth)],
        Some(&other),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.raw);
    assert_eq!(r.body["error"]["code"], "idempotency_key_required");
    assert_eq!(stack.counters("hotelbeds").get("book").copied(), Some(1));
}

/// Without Redis the edge's idempotency store dies with the process. A retry after a restart
/// still books once: the supplier reference is derived from the key, and OTA answers a repeated
/// reference with the reservation it already committed, which the edge reads instead of
/// committing again (found by the chaos test: it used to be a 502).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_retried_after_an_edge_restart_is_the_same_booking_at_ota() {
    let mut stack = Stack::start().await;
    let offer = offer_of(&stack, "ota-soap").await;
    let id = offer["offer_id"].as_str().unwrap_or("").to_string();
    let first = stack.book(&id, "kept-by-ota").await;
    assert_eq!(first.status, 201, "{}", first.raw);
    stack.restart_edge().await;
    let again = stack.book(&id, "kept-by-ota").await;
    assert_eq!(again.status, 201, "{}", again.raw);
    assert_eq!(
        again.header("idempotent-replayed"),
        None,
        "the store died with the edge"
    );
    assert_eq!(again.body["status"], first.body["status"], "{}", again.raw);
    assert_eq!(
        again.body["supplier_reference"], first.body["supplier_reference"],
        "{}\n{}",
        first.raw, again.raw
    );
    assert_eq!(stack.sim("ota-soap").state.bookings.lock().len(), 1);
    let counters = stack.counters("ota-soap");
    assert_eq!(counters.get("res_commit").copied(), Some(1), "{counters:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicates_of_one_booking_conflict_and_book_once() {
    let stack = Stack::start().await;
    let offer = offer_of(&stack, "ota-soap").await;
    stack
        .set_scenario("ota-soap", "slow:400", Some(&["book"]))
        .await;
    let id = offer["offer_id"].as_str().unwrap_or("").to_string();
    let (a, b) = tokio::join!(stack.book(&id, "dup-key"), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        stack.book(&id, "dup-key").await
    });
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{} / {}", a.raw, b.raw);
    assert_eq!(stack.sim("ota-soap").state.bookings.lock().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_routes_list_destinations_hotels_and_content_with_supplier_codes() {
    let stack = Stack::start().await;
    let d = stack.agent("GET", "/v1/destinations", None).await;
    assert_eq!(d.status, 200);
    assert_eq!(
        d.body["destinations"].as_array().map(Vec::len),
        Some(8),
        "{}",
        d.raw
    );
    let h = stack.agent("GET", "/v1/hotels?destination=LIS", None).await;
    assert_eq!(h.status, 200);
    assert_eq!(h.body["hotels"].as_array().map(Vec::len), Some(38));
    let id = shared_hotels(1).remove(0);
    let c = stack.agent("GET", &format!("/v1/hotels/{id}"), None).await;
    assert_eq!(c.status, 200, "{}", c.raw);
    assert_eq!(
        c.body["codes"].as_object().map(|o| o.len()),
        Some(5),
        "{}",
        c.raw
    );
    assert!(c.body["geo"]["latitude"].is_number(), "{}", c.raw);
    assert!(
        c.body["room_types"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{}",
        c.raw
    );
    let ok = c.body["sources"]
        .as_array()
        .map(|s| s.iter().filter(|x| x["status"] == "ok").count());
    assert_eq!(ok, Some(5), "{}", c.raw);
    let missing = stack.agent("GET", "/v1/hotels/ARG-XXX-9999", None).await;
    assert_eq!(missing.status, 404);
}

/// `/admin/suppliers` shows each supplier's recent latency and error rate, from the calls that
/// reached it: a supplier made slow shows it, a quick one does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listener_shows_each_suppliers_recent_latency() {
    let stack = Stack::start_with(Options {
        supplier_timeout: "1s",
        deadline: "2s",
        ..Options::default()
    })
    .await;
    stack
        .set_scenario("dida", "slow:400", Some(&["search"]))
        .await;
    let hotels = shared_hotels(3);
    let ids: Vec<&str> = hotels.iter().map(String::as_str).collect();
    for days in [30, 31, 32] {
        let r = stack
            .agent("POST", "/v1/search", Some(&search_body(&ids, days)))
            .await;
        assert_eq!(r.status, 200, "{}", r.raw);
    }
    let a = stack.admin_call("GET", "/admin/suppliers").await;
    assert_eq!(a.status, 200, "{}", a.raw);
    let recent = |code: &str| {
        a.body["suppliers"]
            .as_array()
            .and_then(|l| l.iter().find(|s| s["code"] == code))
            .map(|s| s["recent"].clone())
            .unwrap_or_default()
    };
    let (dida, hotelbeds) = (recent("dida"), recent("hotelbeds"));
    assert_eq!(dida["calls"], searches(&stack, "dida"), "{}", a.raw);
    assert!(dida["calls"].as_u64().unwrap_or(0) >= 3, "{}", a.raw);
    let p50 = |v: &Value| v["p50_ms"].as_f64().unwrap_or(f64::NAN);
    assert!(p50(&dida) >= 400.0, "{}", a.raw);
    assert!(p50(&hotelbeds) < p50(&dida) - 200.0, "{}", a.raw);
    assert_eq!(dida["error_rate"], 0.0, "{}", a.raw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listener_lists_suppliers_without_secrets() {
    let stack = Stack::start().await;
    let a = stack.admin_call("GET", "/admin/suppliers").await;
    assert_eq!(a.status, 200);
    let list = a.body["suppliers"].as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 5);
    for s in &list {
        assert!(
            s["endpoint"]
                .as_str()
                .is_some_and(|e| e.starts_with("http://127.0.0.1:")),
            "{s}"
        );
        assert!(PROTOCOLS.contains(&s["protocol"].as_str().unwrap_or("")));
    }
    for secret in [
        "rapidsecret",
        "s3cr3tHB",
        "0ta-Pa55",
        "derby-secret",
        "TestKey",
        "whsec_",
    ] {
        assert!(!a.raw.contains(secret), "{}", a.raw);
    }
    assert_eq!(
        http("GET", &format!("{}/healthz", stack.admin), &[], None)
            .await
            .status,
        200
    );
}
