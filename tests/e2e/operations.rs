//! Running it in production (issue #6): hot reload without a failed request, an invalid file
//! that leaves the running config alone, and a graceful shutdown that lets a booking finish.

use crate::harness::{http, offer_of_supplier, search_body, shared_hotels, until, Stack};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn dida_status(search: &Value) -> String {
    search["suppliers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["code"] == "dida")
        .and_then(|l| l["status"].as_str())
        .unwrap_or("")
        .to_string()
}

async fn admin_config(stack: &Stack) -> Value {
    let a = stack.admin_call("GET", "/admin/config").await;
    assert_eq!(a.status, 200, "{}", a.raw);
    a.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reload_applies_a_new_timeout_under_load_and_refuses_an_invalid_file() {
    let stack = Arc::new(Stack::start().await);
    let hotels = shared_hotels(2);
    // Dida answers searches in 500 ms: over the 300 ms supplier timeout the edge starts with.
    stack
        .set_scenario("dida", "slow:500", Some(&["search"]))
        .await;
    let body = search_body(&[&hotels[0], &hotels[1]], 30);
    let first = stack.agent("POST", "/v1/search", Some(&body)).await;
    assert_eq!(first.status, 200);
    assert_eq!(dida_status(&first.body), "timeout");
    assert_eq!(admin_config(&stack).await["generation"], 0);

    // Agents keep searching through every reload below; not one request may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut load = Vec::new();
    for worker in 0..3 {
        let (stack, stop, served, failed) =
            (stack.clone(), stop.clone(), served.clone(), failed.clone());
        let hotels = hotels.clone();
        load.push(tokio::spawn(async move {
            let mut n: i64 = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1; // a fresh stay each time: every leg goes to its supplier
                let b = search_body(&[&hotels[0], &hotels[1]], 31 + (n * 3 + worker) % 200);
                let a = stack.agent("POST", "/v1/search", Some(&b)).await;
                served.fetch_add(1, Ordering::Relaxed);
                if a.status != 200 {
                    failed.fetch_add(1, Ordering::Relaxed);
                    eprintln!("failed during reload: {} {}", a.status, a.raw);
                }
            }
        }));
    }

    // A longer supplier timeout in the file is picked up by the watcher, without a restart.
    let path = stack.config_path();
    let original = std::fs::read_to_string(&path).expect("config");
    assert!(original.contains("supplier_timeout: 300ms"));
    std::fs::write(
        &path,
        original.replace("supplier_timeout: 300ms", "supplier_timeout: 800ms"),
    )
    .expect("write config");
    let applied_by = Instant::now() + Duration::from_secs(15);
    let mut day = 20;
    loop {
        day += 1;
        let a = stack
            .agent(
                "POST",
                "/v1/search",
                Some(&search_body(&[&hotels[0], &hotels[1]], day)),
            )
            .await;
        if dida_status(&a.body) == "ok" {
            break;
        }
        assert!(
            Instant::now() < applied_by,
            "the new timeout never applied: {}",
            a.body["suppliers"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cfg = admin_config(&stack).await;
    assert_eq!(cfg["generation"], 1, "{cfg}");
    assert_eq!(cfg["reloads"]["ok"], 1);
    assert_eq!(cfg["reloads"]["last"]["report"]["result"], "ok");

    // An invalid file is refused with every problem named; the running config stays.
    let good = std::fs::read_to_string(&path).expect("config");
    std::fs::write(
        &path,
        good.replace("supplier_timeout: 800ms", "supplier_timeout: soon"),
    )
    .expect("write config");
    let r = stack.admin_call("POST", "/admin/config/reload").await;
    assert_eq!(r.status, 422, "{}", r.raw);
    assert_eq!(r.body["result"], "invalid");
    assert!(r.raw.contains("search.supplier_timeout"), "{}", r.raw);
    assert_eq!(r.body["generation"], 1, "{}", r.raw);
    // The watcher refuses one too: another invalid file, whose fingerprint the POST never stored.
    let refused = |cfg: &Value| cfg["reloads"]["invalid"].as_u64().unwrap_or(0);
    let before = refused(&admin_config(&stack).await);
    std::fs::write(
        &path,
        good.replace("supplier_timeout: 800ms", "supplier_timeout: later"),
    )
    .expect("write config");
    until(
        "the watcher refuses the changed invalid file",
        Duration::from_secs(15),
        || async { refused(&admin_config(&stack).await) > before },
    )
    .await;
    let cfg = admin_config(&stack).await;
    assert_eq!(cfg["generation"], 1, "{cfg}");
    let last = &cfg["reloads"]["last"]["report"];
    assert_eq!(last["result"], "invalid", "{cfg}");
    assert!(
        last["problems"]
            .to_string()
            .contains("search.supplier_timeout"),
        "{cfg}"
    );
    let a = stack
        .agent(
            "POST",
            "/v1/search",
            Some(&search_body(&[&hotels[0], &hotels[1]], 61)),
        )
        .await;
    assert_eq!(
        (a.status, dida_status(&a.body).as_str()),
        (200, "ok"),
        "the 800 ms timeout still runs: {}",
        a.body["suppliers"]
    );

    // Secrets never show in the config view.
    let raw = admin_config(&stack).await.to_string();
    for secret in [
        "s3cr3tHB",
        "rapidsecret",
        "0ta-Pa55",
        "derby-secret",
        "TestKey",
        crate::harness::E2E_TOKEN_SECRET,
    ] {
        assert!(!raw.contains(secret), "{secret} in /admin/config");
    }

    stop.store(true, Ordering::Relaxed);
    for l in load {
        l.await.expect("load task");
    }
    let (served, failed) = (
        served.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
    );
    eprintln!("searches during reloads: {served}, failed: {failed}");
    assert!(served >= 10, "the load ran: {served}");
    assert_eq!(failed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_booking_in_flight_finish_and_then_exits() {
    let mut stack = Stack::start().await;
    let hotels = shared_hotels(1);
    let search = stack
        .agent("POST", "/v1/search", Some(&search_body(&[&hotels[0]], 30)))
        .await;
    let offer = offer_of_supplier(&search.body, "expedia-rapid");
    // The supplier takes 1.5 s to book: SIGTERM arrives in the middle of it.
    stack
        .set_scenario("expedia-rapid", "slow:1500", Some(&["book"]))
        .await;
    let edge = stack.edge.clone();
    let offer_id = offer["offer_id"].as_str().expect("offer id").to_string();
    let booking = tokio::spawn(async move {
        let body = serde_json::json!({"offer_id": offer_id, "guests": [{"first_name": "Ada", "last_name": "Lovelace"}]});
        http(
            "POST",
            &format!("{edge}/v1/bookings"),
            &[
                ("authorization", "Bearer demo-key"),
                ("idempotency-key", "shutdown-1"),
            ],
            Some(&body),
        )
        .await
    });
    until(
        "the booking reaches the supplier",
        Duration::from_secs(10),
        || async { stack.counters("expedia-rapid").get("book") == Some(&1) },
    )
    .await;
    let signalled = Instant::now();
    stack.signal("TERM");
    let booked = booking.await.expect("booking task");
    assert_eq!(booked.status, 201, "{}", booked.raw);
    assert_eq!(booked.body["status"], "confirmed");
    assert_eq!(stack.counters("expedia-rapid").get("book"), Some(&1));
    let status = tokio::task::block_in_place(|| stack.wait_exit(Duration::from_secs(10)))
        .expect("the edge exits once drained");
    assert!(status.success(), "{status}");
    // Drained, not sat out: the default grace period is the booking timeout plus 2 s.
    assert!(
        signalled.elapsed() < Duration::from_secs(4),
        "{:?}",
        signalled.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_agent_gets_429s_while_another_agent_is_unaffected() {
    let stack = Stack::start().await;
    let get = |key: &'static str| {
        let url = format!("{}/v1/destinations", stack.edge);
        async move {
            http(
                "GET",
                &url,
                &[("authorization", &format!("Bearer {key}"))],
                None,
            )
            .await
        }
    };
    // The trial agent has the seed's default: 60 a minute, bursts of 10.
    let mut statuses = Vec::new();
    for _ in 0..15 {
        let a = get("trial-key").await;
        if a.status == 429 {
            assert_eq!(a.body["error"]["code"], "rate_limited", "{}", a.raw);
            let retry: u64 = a
                .header("retry-after")
                .and_then(|v| v.parse().ok())
                .expect("Retry-After");
            assert!((1..=60).contains(&retry), "{retry}");
            assert_eq!(a.header("ratelimit-policy"), Some("\"default\";q=60;w=60"));
            assert!(
                a.header("ratelimit").is_some_and(|v| v.contains("r=0")),
                "{:?}",
                a.headers
            );
        } else {
            assert_eq!(a.status, 200);
            assert!(
                a.header("ratelimit").is_some(),
                "answers carry the RateLimit field"
            );
        }
        statuses.push(a.status);
        // The demo agent, interleaved, is never limited by the trial agent's burst.
        assert_eq!(get("demo-key").await.status, 200);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        5,
        "{statuses:?}"
    );
    let metrics = http("GET", &format!("{}/metrics", stack.admin), &[], None).await;
    assert!(
        metrics
            .raw
            .contains("arigate_rate_limited_total{agent=\"trial\"} 5"),
        "{}",
        metrics
            .raw
            .lines()
            .filter(|l| l.contains("rate_limited"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn supplier_status(search: &Value, code: &str) -> String {
    search["suppliers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["code"] == code)
        .and_then(|l| l["status"].as_str())
        .unwrap_or("")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_suppliers_circuit_opens_search_keeps_the_others_and_it_closes_after_recovery() {
    let stack = Stack::start_with(crate::harness::Options {
        extra_yaml: Some("circuit: {consecutive_failures: 3, open_for: 1s}\n".into()),
        ..Default::default()
    })
    .await;
    let hotels = shared_hotels(1);
    let mut day = 30;
    let mut search = || {
        day += 1; // a fresh stay: no leg from the cache
        search_body(&[&hotels[0]], day)
    };
    let first = search();
    let before = stack.agent("POST", "/v1/search", Some(&first)).await;
    let dida_offer = offer_of_supplier(&before.body, "dida");

    stack.set_scenario("dida", "server_error", None).await;
    for _ in 0..3 {
        let a = stack.agent("POST", "/v1/search", Some(&search())).await;
        assert_eq!(supplier_status(&a.body, "dida"), "error");
    }
    let calls = crate::harness::searches(&stack, "dida");
    let open = stack.agent("POST", "/v1/search", Some(&search())).await;
    assert_eq!(open.status, 200);
    assert_eq!(
        supplier_status(&open.body, "dida"),
        "circuit_open",
        "{}",
        open.body["suppliers"]
    );
    for other in ["hotelbeds", "expedia-rapid", "ota-soap", "derbysoft"] {
        assert_eq!(supplier_status(&open.body, other), "ok");
    }
    assert_eq!(open.header("x-arigate-complete"), Some("false"));
    assert_eq!(
        crate::harness::searches(&stack, "dida"),
        calls,
        "an open circuit sends nothing"
    );
    // What the cache holds is still served in full: the circuit guards calls, not cached legs.
    let cached = stack.agent("POST", "/v1/search", Some(&first)).await;
    for code in [
        "hotelbeds",
        "expedia-rapid",
        "ota-soap",
        "derbysoft",
        "dida",
    ] {
        assert_eq!(supplier_status(&cached.body, code), "ok", "{}", cached.raw);
    }
    assert_eq!(
        cached.header("x-arigate-cache"),
        Some("hit"),
        "{}",
        cached.raw
    );
    assert_eq!(cached.body["complete"], true, "{}", cached.raw);
    assert_eq!(
        crate::harness::searches(&stack, "dida"),
        calls,
        "a cached leg reached dida"
    );
    // A transactional call fails fast with a clear error, and is not sent either.
    let rechecks = stack
        .counters("dida")
        .get("PriceConfirm")
        .copied()
        .unwrap_or(0);
    let r = stack.recheck(&dida_offer["offer_id"]).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (503, Some("circuit_open")),
        "{}",
        r.raw
    );
    assert!(r.header("retry-after").is_some());
    assert_eq!(
        stack
            .counters("dida")
            .get("PriceConfirm")
            .copied()
            .unwrap_or(0),
        rechecks
    );
    let m = http("GET", &format!("{}/metrics", stack.admin), &[], None).await;
    assert!(m
        .raw
        .contains("arigate_supplier_circuit_open{supplier=\"dida\"} 1"));

    // The supplier recovers; after the open period one probe goes through and closes it.
    stack.set_scenario("dida", "ok", None).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let probe = stack.agent("POST", "/v1/search", Some(&search())).await;
    assert_eq!(
        supplier_status(&probe.body, "dida"),
        "ok",
        "{}",
        probe.body["suppliers"]
    );
    let after = stack.agent("POST", "/v1/search", Some(&search())).await;
    assert_eq!(supplier_status(&after.body, "dida"), "ok");
    let m = http("GET", &format!("{}/metrics", stack.admin), &[], None).await;
    assert!(m
        .raw
        .contains("arigate_supplier_circuit_open{supplier=\"dida\"} 0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_token_guards_every_admin_route_but_health_checks() {
    let token = "ops-token-0123456789abcdef";
    let stack = Stack::start_with(crate::harness::Options {
        extra_yaml: Some(format!("admin_token: \"{token}\"\n")),
        ..Default::default()
    })
    .await;
    let bearer = format!("Bearer {token}");
    for path in [
        "/admin/config",
        "/admin/suppliers",
        "/metrics",
        "/api/traces/by-hotel/ARG-LIS-0001",
    ] {
        let url = format!("{}{path}", stack.admin);
        assert_eq!(
            http("GET", &url, &[], None).await.status,
            401,
            "{path} without the token"
        );
        let wrong = http(
            "GET",
            &url,
            &[("authorization", "Bearer ops-token-0123456789abcdeX")],
            None,
        )
        .await;
        assert_eq!(wrong.status, 401, "{path} with a wrong token");
        let ok = http("GET", &url, &[("authorization", &bearer)], None).await;
        assert_ne!(ok.status, 401, "{path} with the token");
    }
    let purge = http(
        "POST",
        &format!("{}/admin/cache/purge", stack.admin),
        &[],
        Some(&serde_json::json!({"all": true})),
    )
    .await;
    assert_eq!(purge.status, 401);
    assert_eq!(
        http("GET", &format!("{}/healthz", stack.admin), &[], None)
            .await
            .status,
        200
    );
    // The token is a secret: the config view does not show it.
    let cfg = http(
        "GET",
        &format!("{}/admin/config", stack.admin),
        &[("authorization", &bearer)],
        None,
    )
    .await;
    assert!(!cfg.raw.contains(token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suppliers_request_rate_cap_holds_and_refused_calls_are_never_sent() {
    let stack = Stack::start().await;
    // Cap Dida at 2 calls a second, through a reload.
    let path = stack.config_path();
    let text = std::fs::read_to_string(&path).expect("config");
    let capped = text.replacen(
        "    credentials: {key: DidaApiTestID",
        "    rate_limit_rps: 2\n    credentials: {key: DidaApiTestID",
        1,
    );
    assert_ne!(capped, text);
    std::fs::write(&path, capped).expect("write");
    let r = stack.admin_call("POST", "/admin/config/reload").await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let hotels = shared_hotels(1);
    let before = crate::harness::searches(&stack, "dida");
    let started = Instant::now();
    let mut skipped = 0;
    for day in 0..8 {
        let a = stack
            .agent(
                "POST",
                "/v1/search",
                Some(&search_body(&[&hotels[0]], 30 + day)),
            )
            .await;
        assert_eq!(a.status, 200);
        let status = a.body["suppliers"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["code"] == "dida")
            .cloned()
            .unwrap_or_default();
        if status["status"] == "skipped" {
            assert_eq!(status["error"], "rate_capped", "{status}");
            skipped += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let sent = crate::harness::searches(&stack, "dida") - before;
    assert!(skipped > 0, "8 searches in {elapsed:.2}s exceed 2/s");
    assert_eq!(
        sent + skipped,
        8,
        "every search either reached Dida or was refused"
    );
    assert!(
        (sent as f64) <= 2.0 + 2.0 * elapsed + 0.5,
        "{sent} calls in {elapsed:.2}s over a cap of 2/s (burst 2)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_id_is_good_only_for_the_agent_that_booked() {
    let stack = Stack::start().await;
    let hotels = shared_hotels(1);
    let search = stack
        .agent("POST", "/v1/search", Some(&search_body(&[&hotels[0]], 30)))
        .await;
    let offer = offer_of_supplier(&search.body, "hotelbeds");
    let booked = stack
        .book(offer["offer_id"].as_str().expect("id"), "own-1")
        .await;
    assert_eq!(booked.status, 201, "{}", booked.raw);
    let id = booked.body["booking_id"]
        .as_str()
        .expect("booking id")
        .to_string();
    let before = stack.counters("hotelbeds");
    for (method, path) in [
        ("GET", format!("/v1/bookings/{id}")),
        ("POST", format!("/v1/bookings/{id}/cancel")),
    ] {
        let a = http(
            method,
            &format!("{}{path}", stack.edge),
            &[("authorization", "Bearer trial-key")],
            None,
        )
        .await;
        assert_eq!(a.status, 404, "another agent's {method} {path}: {}", a.raw);
    }
    assert_eq!(
        stack.counters("hotelbeds"),
        before,
        "nothing reached the supplier"
    );
    // The agent that booked still can.
    let own = stack
        .agent("GET", &format!("/v1/bookings/{id}"), None)
        .await;
    assert_eq!(own.status, 200, "{}", own.raw);
}
