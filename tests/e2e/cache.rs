//! The browse and static cache never lies about ARI: repeated browse answers come from cache,
//! transactional calls never do, urgent stays are never cached, and webhooks and failed re-checks
//! make the next search ask the supplier again. Proven with simulator counters.

use crate::cluster::cluster_options;
use crate::harness::*;
use arigate::cluster::testkit::TestRedis;
use arigate_sim::world::PROTOCOLS;
use chrono::Timelike;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub(crate) async fn search(stack: &Stack, ids: &[String], days: i64) -> Answer {
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let a = stack
        .agent("POST", "/v1/search", Some(&search_body(&ids, days)))
        .await;
    assert_eq!(a.status, 200, "{}", a.raw);
    a
}

fn supplier_cache(a: &Answer) -> BTreeMap<String, (bool, u64)> {
    a.body["suppliers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["code"].as_str().unwrap_or("").to_string(),
                (
                    s["cached"].as_bool().unwrap_or(false),
                    s["age_s"].as_u64().unwrap_or(0),
                ),
            )
        })
        .collect()
}

pub(crate) fn all_searches(stack: &Stack) -> BTreeMap<&'static str, u64> {
    PROTOCOLS.iter().map(|p| (*p, searches(stack, p))).collect()
}

/// The offers without their (per-request) signed ids.
fn offer_summary(a: &Answer) -> Vec<String> {
    let mut v: Vec<String> = offers(&a.body)
        .into_iter()
        .map(|(h, o)| {
            format!(
                "{h} {} {} {} {}",
                o["supplier"], o["board"], o["refundable"], o["price"]["amount"]
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_search_within_its_ttl_makes_no_supplier_call() {
    let stack = Stack::start().await;
    let ids = shared_hotels(3);
    let first = search(&stack, &ids, 30).await;
    assert_eq!(
        first.header("x-arigate-cache"),
        Some("miss"),
        "{}",
        first.raw
    );
    assert!(supplier_cache(&first).values().all(|(cached, _)| !cached));
    let calls = all_searches(&stack);
    assert!(calls.values().all(|n| *n == 1), "{calls:?}");

    // The same hotels in another order are the same request.
    let reordered: Vec<String> = ids.iter().rev().cloned().collect();
    let second = search(&stack, &reordered, 30).await;
    assert_eq!(
        second.header("x-arigate-cache"),
        Some("hit"),
        "{}",
        second.raw
    );
    assert_eq!(second.body["cache"], "hit");
    assert_eq!(second.body["reference_only"], true);
    assert!(
        supplier_cache(&second).values().all(|(cached, _)| *cached),
        "{}",
        second.raw
    );
    assert_eq!(
        all_searches(&stack),
        calls,
        "a cached search reached a supplier"
    );
    assert_eq!(offer_summary(&first), offer_summary(&second));
    let cc = second.header("cache-control").unwrap_or("");
    let max_age: u64 = cc
        .strip_prefix("private, max-age=")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(max_age > 0 && max_age <= 300, "{cc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_content_is_cached_and_says_so() {
    let stack = Stack::start().await;
    let id = shared_hotels(1).remove(0);
    let a = stack.agent("GET", &format!("/v1/hotels/{id}"), None).await;
    let b = stack.agent("GET", &format!("/v1/hotels/{id}"), None).await;
    assert_eq!((a.status, b.status), (200, 200));
    assert!(b
        .header("cache-control")
        .is_some_and(|c| c.starts_with("public, max-age=")));
    let hits = b.body["sources"]
        .as_array()
        .map(|s| s.iter().filter(|x| x["cache"] == "hit").count());
    assert_eq!(hits, Some(5), "{}", b.raw);
    for p in PROTOCOLS {
        let content: u64 = stack
            .counters(p)
            .iter()
            .filter(|(k, _)| {
                k.contains("content") || k.contains("Detail") || k.contains("descriptive")
            })
            .map(|(_, v)| v)
            .sum();
        assert_eq!(content, 1, "{p}: {:?}", stack.counters(p));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_calls_always_reach_the_supplier() {
    let stack = Stack::start().await;
    let ids = shared_hotels(2);
    let s = search(&stack, &ids, 30).await;
    let offer = offer_of_supplier(&s.body, "hotelbeds");
    for n in 1..=3 {
        let r = stack.recheck(&offer["offer_id"]).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(
            stack.counters("hotelbeds").get("checkrates").copied(),
            Some(n)
        );
    }
    let booked = stack
        .book(offer["offer_id"].as_str().unwrap_or(""), "tx-1")
        .await;
    assert_eq!(booked.status, 201, "{}", booked.raw);
    let id = booked.body["booking_id"].as_str().unwrap_or("").to_string();
    for n in 1..=3 {
        let q = stack
            .agent("GET", &format!("/v1/bookings/{id}"), None)
            .await;
        assert_eq!(q.status, 200);
        assert_eq!(
            stack.counters("hotelbeds").get("retrieve").copied(),
            Some(n)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_with_check_in_within_three_hours_is_never_cached() {
    // Make "check-in" two hours from now whatever the clock says.
    let target = chrono::Utc::now() + chrono::Duration::hours(2);
    let stack = Stack::start_with(Options {
        extra_yaml: Some(format!("cache:\n  checkin_hour_utc: {}", target.hour())),
        ..Options::default()
    })
    .await;
    let ids = shared_hotels(2);
    let checkin = target.date_naive();
    let body = json!({"checkin": checkin.to_string(), "checkout": (checkin + chrono::Duration::days(1)).to_string(),
                      "hotels": ids, "occupancy": [{"adults": 2}], "currency": "EUR"});
    for n in 1..=2 {
        let a = stack.agent("POST", "/v1/search", Some(&body)).await;
        assert_eq!(a.status, 200, "{}", a.raw);
        assert_eq!(a.header("x-arigate-cache"), Some("bypass"), "{}", a.raw);
        assert_eq!(a.header("cache-control"), Some("private, no-store"));
        for p in PROTOCOLS {
            assert_eq!(searches(&stack, p), n, "{p}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_makes_the_next_search_ask_that_supplier_again_for_that_hotel_only() {
    let stack = Stack::start().await;
    let hotels = shared_hotels(2);
    let (h, k) = (vec![hotels[0].clone()], vec![hotels[1].clone()]);
    search(&stack, &h, 30).await;
    search(&stack, &k, 30).await;
    let before = all_searches(&stack);
    assert!(before.values().all(|n| *n == 2), "{before:?}");

    // The simulator sells the room out and delivers a signed webhook to the edge, for real.
    let hb = code_of(&hotels[0], "hotelbeds");
    let d = http(
        "POST",
        &format!("{}/__sim/webhook", stack.sim("hotelbeds").base_url()),
        &[],
        Some(&json!({"type": "ROOM_SOLD_OUT", "hotel": hb})),
    )
    .await;
    assert_eq!(d.body["delivered"], true, "{}", d.raw);
    assert_eq!(d.body["status"], 202, "{}", d.raw);

    let again = search(&stack, &h, 30).await;
    let cache = supplier_cache(&again);
    assert!(!cache["hotelbeds"].0, "{}", again.raw);
    for p in ["expedia-rapid", "ota-soap", "derbysoft", "dida"] {
        assert!(cache[p].0, "{p} should still be cached: {}", again.raw);
    }
    let after = all_searches(&stack);
    assert_eq!(after["hotelbeds"], 3);
    assert_eq!(
        after
            .iter()
            .filter(|(p, _)| **p != "hotelbeds")
            .map(|(_, n)| n)
            .sum::<u64>(),
        8
    );
    // The other hotel stays cached at every supplier.
    let other = search(&stack, &k, 30).await;
    assert!(
        supplier_cache(&other).values().all(|(c, _)| *c),
        "{}",
        other.raw
    );
    assert_eq!(all_searches(&stack), after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_availability_webhooks_do_not_invalidate() {
    let stack = Stack::start().await;
    let h = vec![shared_hotels(1).remove(0)];
    search(&stack, &h, 30).await;
    let code = code_of(&h[0], "dida");
    let d = http(
        "POST",
        &format!("{}/__sim/webhook", stack.sim("dida").base_url()),
        &[],
        Some(&json!({"type": "NEW_AVAILABILITY", "hotel": code})),
    )
    .await;
    assert_eq!(d.body["status"], 202, "{}", d.raw);
    let again = search(&stack, &h, 30).await;
    assert_eq!(
        again.header("x-arigate-cache"),
        Some("hit"),
        "{}",
        again.raw
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_recheck_invalidates_what_the_search_showed() {
    let stack = Stack::start().await;
    let h = vec![shared_hotels(1).remove(0)];
    let s = search(&stack, &h, 30).await;
    let offer = offer_of_supplier(&s.body, "ota-soap");
    stack
        .set_scenario("ota-soap", "sold_out_at_recheck", Some(&["recheck"]))
        .await;
    let r = stack.recheck(&offer["offer_id"]).await;
    assert_eq!(r.body["status"], "sold_out", "{}", r.raw);
    let before = all_searches(&stack);
    let again = search(&stack, &h, 30).await;
    let cache = supplier_cache(&again);
    assert!(!cache["ota-soap"].0, "{}", again.raw);
    assert!(
        cache
            .iter()
            .filter(|(p, _)| *p != "ota-soap")
            .all(|(_, (c, _))| *c),
        "{}",
        again.raw
    );
    let after = all_searches(&stack);
    assert_eq!(after["ota-soap"], before["ota-soap"] + 1);
    assert_eq!(
        after
            .iter()
            .filter(|(p, _)| **p != "ota-soap")
            .map(|(_, n)| n)
            .sum::<u64>(),
        before
            .iter()
            .filter(|(p, _)| **p != "ota-soap")
            .map(|(_, n)| n)
            .sum::<u64>()
    );
}

/// `bursts` stampedes of `per_burst` concurrent identical searches, each burst for a stay no
/// earlier burst asked about (cold for every supplier): each must cost every supplier exactly one
/// search, by the simulators' own counters.
async fn cold_stampedes(stack: &Stack, bursts: i64, per_burst: usize) {
    let ids = shared_hotels(3);
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let auth = format!("Bearer {API_KEY}");
    let url = format!("{}/v1/search", stack.edge);
    for burst in 0..bursts {
        let before = all_searches(stack);
        let body = search_body(&ids, 40 + burst);
        let tasks: Vec<_> = (0..per_burst)
            .map(|_| {
                let (body, auth, url) = (body.clone(), auth.clone(), url.clone());
                tokio::spawn(async move {
                    http("POST", &url, &[("authorization", &auth)], Some(&body)).await
                })
            })
            .collect();
        for t in tasks {
            let a = t.await.expect("task");
            assert_eq!(a.status, 200, "burst {burst}: {}", a.raw);
            assert_eq!(a.body["complete"], true, "burst {burst}: {}", a.raw);
        }
        let after = all_searches(stack);
        let calls: BTreeMap<_, _> = PROTOCOLS
            .iter()
            .map(|p| (*p, after[p] - before[p]))
            .collect();
        assert!(
            calls.values().all(|n| *n == 1),
            "burst {burst}: supplier searches for {per_burst} identical cold searches: {calls:?}"
        );
    }
}

/// A leg whose lookup misses just before the first leg's fill is stored, and which asks for the
/// cache lock just after that writer released it, must read the fill, not call the supplier
/// again. The gap is widest with Redis behind L1 (the lookup waits for Redis before it takes the
/// lock): bursts there make a second call in nearly every burst if the gap is open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_identical_cold_searches_make_one_call_per_supplier() {
    // Generous timeouts: this is about one supplier call for 200 requests, not about speed.
    let stampede = |extra_yaml| Options {
        deadline: "20s",
        supplier_timeout: "15s",
        extra_yaml,
        ..Options::default()
    };
    let single = Stack::start_with(stampede(None)).await;
    cold_stampedes(&single, 3, 200).await;
    drop(single);
    let redis = TestRedis::start();
    let with_l2 = Stack::start_with(stampede(cluster_options(&redis, "").extra_yaml)).await;
    cold_stampedes(&with_l2, 6, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_stale_future_replayed_and_reserialized_webhooks_are_rejected_and_invalidate_nothing(
) {
    use arigate_filters::webhook::signature;
    let stack = Stack::start().await;
    let h = vec![shared_hotels(1).remove(0)];
    search(&stack, &h, 30).await;
    let code = code_of(&h[0], "hotelbeds");
    let url = format!("{}/webhooks/hotelbeds", stack.edge);
    let body = json!({"event_id": "evt-e2e-1", "type": "ROOM_SOLD_OUT", "supplier": "hotelbeds", "hotel": code, "room": null,
                      "rate": null, "dates": [], "occurred_at": "2027-01-01T00:00:00Z"}).to_string();
    let now = chrono::Utc::now().timestamp();
    let secret = "whsec_hotelbeds_demo";
    let send = |sig: String, id: &'static str, body: String| {
        let url = url.clone();
        async move {
            http_raw(
                "POST",
                &url,
                &[("x-arigate-signature", &sig), ("x-webhook-id", id)],
                body.into_bytes(),
            )
            .await
        }
    };
    let cases = [
        (
            "forged",
            format!(
                "t={now},v1={}",
                signature("not-the-secret", now, body.as_bytes())
            ),
            body.clone(),
        ),
        (
            "stale",
            format!(
                "t={},v1={}",
                now - 1000,
                signature(secret, now - 1000, body.as_bytes())
            ),
            body.clone(),
        ),
        (
            "future",
            format!(
                "t={},v1={}",
                now + 1000,
                signature(secret, now + 1000, body.as_bytes())
            ),
            body.clone(),
        ),
        (
            "re-serialized",
            format!("t={now},v1={}", signature(secret, now, body.as_bytes())),
            body.replace(",", ", "),
        ),
        ("unsigned", String::new(), body.clone()),
    ];
    for (name, sig, b) in cases {
        let r = send(sig, "evt-e2e-1", b).await;
        assert_eq!(r.status, 401, "{name}: {}", r.raw);
    }
    let still = search(&stack, &h, 30).await;
    assert_eq!(
        still.header("x-arigate-cache"),
        Some("hit"),
        "a rejected webhook invalidated: {}",
        still.raw
    );

    // The genuine delivery invalidates; replaying it is refused and invalidates nothing more.
    let genuine = format!("t={now},v1={}", signature(secret, now, body.as_bytes()));
    assert_eq!(
        send(genuine.clone(), "evt-e2e-1", body.clone())
            .await
            .status,
        202
    );
    let after = search(&stack, &h, 30).await;
    assert!(!supplier_cache(&after)["hotelbeds"].0);
    let replay = send(genuine, "evt-e2e-1", body.clone()).await;
    assert_eq!(replay.status, 409, "{}", replay.raw);
    let last = search(&stack, &h, 30).await;
    assert_eq!(last.header("x-arigate-cache"), Some("hit"), "{}", last.raw);
    let _: Value = last.body;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_purge_by_tag_and_key_makes_the_next_search_miss() {
    let stack = Stack::start().await;
    let hotels = shared_hotels(2);
    let (h, k) = (vec![hotels[0].clone()], vec![hotels[1].clone()]);
    search(&stack, &h, 30).await;
    search(&stack, &k, 30).await;
    let purge = |body: Value| {
        let url = format!("{}/admin/cache/purge", stack.admin);
        async move { http("POST", &url, &[], Some(&body)).await }
    };
    // By unified hotel: every supplier asks again for H, K stays cached.
    let p = purge(json!({"hotel": hotels[0]})).await;
    assert_eq!(p.status, 200, "{}", p.raw);
    assert_eq!(
        p.body["invalidated"].as_array().map(Vec::len),
        Some(5),
        "{}",
        p.raw
    );
    let again = search(&stack, &h, 30).await;
    assert_eq!(
        again.header("x-arigate-cache"),
        Some("miss"),
        "{}",
        again.raw
    );
    assert_eq!(
        search(&stack, &k, 30).await.header("x-arigate-cache"),
        Some("hit")
    );
    // By supplier: only that supplier's entries.
    assert_eq!(purge(json!({"supplier": "derbysoft"})).await.status, 200);
    let partial = search(&stack, &k, 30).await;
    assert_eq!(
        partial.header("x-arigate-cache"),
        Some("partial"),
        "{}",
        partial.raw
    );
    assert!(!supplier_cache(&partial)["derbysoft"].0);
    // Nonsense is refused, and transactional answers always say bypass.
    assert_eq!(purge(json!({"hotel": "ARG-NOPE-0001"})).await.status, 404);
    assert_eq!(purge(json!({})).await.status, 400);
    assert_eq!(
        stack
            .agent("GET", "/v1/destinations", None)
            .await
            .header("x-arigate-cache"),
        Some("bypass")
    );
    let stats = stack.admin_call("GET", "/admin/cache").await;
    assert!(
        stats.body["entries"].as_u64().unwrap_or(0) > 0,
        "{}",
        stats.raw
    );
    assert!(
        stats.body["bytes"].as_u64() <= stats.body["budget_bytes"].as_u64(),
        "{}",
        stats.raw
    );
}
