//! Traces (DESIGN §6, issue #5): every request's spans reach a real ClickHouse (a throwaway
//! `clickhouse-server` started here), the by-order report tells a booking's whole story, and
//! ClickHouse going away never slows or fails agent requests.

use crate::harness::{http, offers, search_body, shared_hotels, Answer, Options, Stack, API_KEY};
use arigate_telemetry::testkit::TestClickHouse;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

fn traces_yaml(ch: &TestClickHouse, extra: &str) -> String {
    format!(
        "traces:\n  flush_interval: 100ms\n{extra}  clickhouse:\n    url: {}\n    database: e2e\n",
        ch.url()
    )
}

/// Every span of a span tree (as the trace API nests them), depth-first.
fn flatten<'a>(node: &'a Value, out: &mut Vec<&'a Value>) {
    out.push(node);
    for c in node["children"].as_array().into_iter().flatten() {
        flatten(c, out);
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

fn attr<'a>(v: &'a Value, k: &str) -> &'a str {
    v["attributes"][k].as_str().unwrap_or("")
}

/// A search sent under the W3C trace context `trace`.
async fn traced_search(stack: &Stack, trace: &str, ids: &[&str], days: i64) -> Answer {
    let auth = format!("Bearer {API_KEY}");
    let traceparent = format!("00-{trace}-00f067aa0ba902b7-01");
    http(
        "POST",
        &format!("{}/v1/search", stack.edge),
        &[("authorization", &auth), ("traceparent", &traceparent)],
        Some(&search_body(ids, days)),
    )
    .await
}

/// Polls `url` on the admin listener until `done` holds (bounded).
async fn poll(url: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let a = http("GET", url, &[], None).await;
        if a.status == 200 && done(&a.body) {
            return a.body;
        }
        assert!(
            Instant::now() < until,
            "{what}: not there within 30 s; last answer {} {}",
            a.status,
            a.raw.chars().take(2000).collect::<String>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_of_a_booking_from_clickhouse() {
    let ch = tokio::task::spawn_blocking(TestClickHouse::start)
        .await
        .expect("ClickHouse starts");
    let stack = Stack::start_with(Options {
        extra_yaml: Some(traces_yaml(&ch, "")),
        ..Options::default()
    })
    .await;
    let hotels = shared_hotels(2);
    let ids: Vec<&str> = hotels.iter().map(String::as_str).collect();
    let before: BTreeMap<&str, u64> = arigate_sim::world::PROTOCOLS
        .iter()
        .map(|p| (*p, crate::harness::searches(&stack, p)))
        .collect();

    // A search under the agent's own W3C trace context keeps that trace id.
    let search_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let search = traced_search(&stack, search_trace, &ids, 40).await;
    assert_eq!(search.status, 200, "{}", search.raw);
    assert_eq!(search.header("x-trace-id"), Some(search_trace));
    assert_eq!(search.body["trace_id"], search_trace);
    let answered: Vec<String> = search.body["suppliers"]
        .as_array()
        .expect("suppliers")
        .iter()
        .filter(|l| l["status"] == "ok")
        .map(|l| s(l, "code").to_string())
        .collect();
    assert_eq!(answered.len(), 5, "{}", search.body["suppliers"]);

    // Book with a supplier that prepares first (OTA Initiate, then Commit).
    let (hotel, offer) = offers(&search.body)
        .into_iter()
        .find(|(_, o)| o["supplier"] == "ota-soap")
        .expect("an ota-soap offer");
    let recheck = stack.recheck(&offer["offer_id"]).await;
    assert_eq!(recheck.status, 200, "{}", recheck.raw);
    let recheck_trace = recheck
        .header("x-trace-id")
        .expect("X-Trace-Id")
        .to_string();
    let booked = stack.book(s(&recheck.body, "offer_id"), "story-1").await;
    assert_eq!(booked.status, 201, "{}", booked.raw);
    let booking_id = s(&booked.body, "booking_id").to_string();
    let book_trace = booked.header("x-trace-id").expect("X-Trace-Id").to_string();
    let query = stack
        .agent("GET", &format!("/v1/bookings/{booking_id}"), None)
        .await;
    assert_eq!(query.status, 200, "{}", query.raw);
    let cancel = stack
        .agent("POST", &format!("/v1/bookings/{booking_id}/cancel"), None)
        .await;
    assert_eq!(cancel.status, 200, "{}", cancel.raw);

    let report_url = format!("{}/api/traces/by-order/{booking_id}", stack.admin);
    let report = poll(&report_url, "the booking's story", |r| {
        let roots: Vec<&str> = r["traces"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|t| t["roots"].as_array().into_iter().flatten())
            .map(|root| s(root, "event_type"))
            .collect();
        ["search", "check_avail", "book", "query_order", "cancel"]
            .iter()
            .all(|e| roots.contains(e))
    })
    .await;

    let traces = report["traces"].as_array().expect("traces");
    assert_eq!(traces.len(), 5, "search, re-check, book, query, cancel");
    let mut by_event: HashMap<String, &Value> = HashMap::new();
    for t in traces {
        let roots = t["roots"].as_array().expect("roots");
        assert_eq!(roots.len(), 1, "one root per trace: {t}");
        let root = &roots[0];
        // Correctly nested and linked: every span is in its root's trace, under a span of it.
        let mut all = Vec::new();
        flatten(root, &mut all);
        assert_eq!(t["span_count"].as_u64(), Some(all.len() as u64));
        let ids: Vec<&str> = all.iter().map(|n| s(n, "span_id")).collect();
        for n in &all {
            assert_eq!(s(n, "trace_id"), s(t, "trace_id"));
            if s(n, "span_id") != s(root, "span_id") {
                assert!(ids.contains(&s(n, "parent_span_id")), "orphan span {n}");
            }
        }
        by_event.insert(s(root, "event_type").to_string(), root);
    }
    let children = |root: &Value, event: &str, op: &str| -> Vec<Value> {
        root["children"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| {
                s(c, "event_type") == event && (op.is_empty() || attr(c, "operation") == op)
            })
            .cloned()
            .collect()
    };

    let search_root = by_event["search"];
    assert_eq!(s(search_root, "trace_id"), search_trace);
    assert_eq!(s(search_root, "status"), "success");
    assert_eq!(s(search_root, "agent_id"), "demo");
    // One leg span per supplier, and exactly as many as the simulators counted.
    let legs = children(search_root, "supplier_query", "search");
    let mut leg_suppliers: Vec<String> =
        legs.iter().map(|l| s(l, "supplier").to_string()).collect();
    leg_suppliers.sort();
    let mut expected = answered.clone();
    expected.sort();
    assert_eq!(leg_suppliers, expected);
    let counted: u64 = arigate_sim::world::PROTOCOLS
        .iter()
        .map(|p| crate::harness::searches(&stack, p) - before[p])
        .sum();
    assert_eq!(counted, legs.len() as u64);
    for l in &legs {
        assert_eq!(s(l, "status"), "success");
        assert_eq!(attr(l, "cache"), "miss");
        assert!(
            s(l, "request_data").starts_with("POST ") || s(l, "request_data").starts_with("GET ")
        );
        assert!(!s(l, "response_data").is_empty());
    }
    assert_eq!(children(search_root, "merge", "").len(), 1);

    let check = by_event["check_avail"];
    assert_eq!(s(check, "trace_id"), recheck_trace);
    assert_eq!(attr(check, "search_trace_id"), search_trace);
    let recheck_legs = children(check, "supplier_query", "recheck");
    assert_eq!(recheck_legs.len(), 1);
    assert_eq!(s(&recheck_legs[0], "supplier"), "ota-soap");
    assert_eq!(stack.counters("ota-soap").get("recheck"), Some(&1));

    let book = by_event["book"];
    assert_eq!(s(book, "trace_id"), book_trace);
    assert_eq!(s(book, "booking_id"), booking_id);
    assert_eq!(book["hotel_ids"], json!([hotel]));
    assert_eq!(children(book, "supplier_query", "prepare").len(), 1);
    let confirms = children(book, "confirm", "");
    assert_eq!(confirms.len(), 1, "{book}");
    assert_eq!(s(&confirms[0], "booking_id"), booking_id);
    assert_eq!(attr(&confirms[0], "status"), s(&booked.body, "status"));
    let book_legs = children(&confirms[0], "supplier_query", "book");
    assert_eq!(
        book_legs.len(),
        1,
        "the book call nests under its confirm span"
    );
    let c = stack.counters("ota-soap");
    assert_eq!(
        (c.get("res_initiate"), c.get("res_commit")),
        (Some(&1), Some(&1)),
        "the story shows every call the supplier saw: {c:?}"
    );

    assert_eq!(s(by_event["query_order"], "booking_id"), booking_id);
    assert_eq!(s(by_event["cancel"], "booking_id"), booking_id);
    assert_eq!(
        children(by_event["cancel"], "supplier_query", "cancel").len(),
        1
    );

    // No secret of the configuration, the agent or the guest's card reaches the store.
    let raw = report.to_string();
    for secret in [
        "s3cr3tHB",
        "rapidsecret",
        "0ta-Pa55",
        "derby-secret",
        "TestKey",
        API_KEY,
        crate::harness::E2E_TOKEN_SECRET,
    ] {
        assert!(
            !raw.contains(secret),
            "{secret} leaked into the trace store"
        );
    }
    assert!(
        raw.contains("[REDACTED]"),
        "the OTA password was redacted, not absent"
    );

    // The same story as a page an ops person reads, and the other look-ups.
    let page =
        crate::harness::http_raw("GET", &format!("{report_url}?format=html"), &[], Vec::new())
            .await;
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap_or("")
        .starts_with("text/html"));
    for word in [
        "search",
        "check avail",
        "book",
        "confirm",
        "cancel",
        "ota-soap",
    ] {
        assert!(page.raw.contains(word), "the page mentions {word}");
    }
    let by_trace = http(
        "GET",
        &format!("{}/api/traces/{search_trace}", stack.admin),
        &[],
        None,
    )
    .await;
    assert_eq!(by_trace.status, 200);
    assert_eq!(
        by_trace.body["span_count"].as_u64(),
        Some({
            let mut all = Vec::new();
            flatten(search_root, &mut all);
            all.len() as u64
        })
    );
    let by_hotel = http(
        "GET",
        &format!("{}/api/traces/by-hotel/{hotel}", stack.admin),
        &[],
        None,
    )
    .await;
    assert_eq!(by_hotel.status, 200);
    let hotel_traces: Vec<&str> = by_hotel.body["traces"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| s(t, "trace_id"))
        .collect();
    assert!(hotel_traces.contains(&search_trace) && hotel_traces.contains(&book_trace.as_str()));

    // The trace API is not on the agent listener, whatever key is shown.
    let agent_side = stack
        .agent("GET", &format!("/api/traces/{search_trace}"), None)
        .await;
    assert_eq!(agent_side.status, 404);
}

/// Median of request latencies.
fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn timed_searches(stack: &Stack, ids: &[&str], n: usize) -> Vec<Duration> {
    let body = search_body(ids, 41);
    let mut out = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let a = stack.agent("POST", "/v1/search", Some(&body)).await;
        out.push(t.elapsed());
        assert_eq!(a.status, 200, "{}", a.raw);
        assert_eq!(a.body["complete"], true);
    }
    out
}

async fn traces_stats(stack: &Stack) -> Value {
    stack.admin_call("GET", "/admin/traces").await.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_down_never_touches_agents_and_spans_flow_again_after() {
    let mut ch = tokio::task::spawn_blocking(TestClickHouse::start)
        .await
        .expect("ClickHouse starts");
    // Small bounds so that a short outage overflows them.
    let stack = Stack::start_with(Options {
        extra_yaml: Some(traces_yaml(
            &ch,
            "  queue_spans: 64\n  buffer_spans: 64\n  batch_rows: 32\n",
        )),
        ..Options::default()
    })
    .await;
    let hotels = shared_hotels(2);
    let ids: Vec<&str> = hotels.iter().map(String::as_str).collect();
    timed_searches(&stack, &ids, 3).await; // fills the cache: the rest are hits
    let up = median(timed_searches(&stack, &ids, 30).await);
    poll(
        &format!("{}/admin/traces", stack.admin),
        "spans written",
        |s| s["written"].as_u64().unwrap_or(0) > 0 && s["buffered"] == 0,
    )
    .await;
    let dropped_before = traces_stats(&stack).await["dropped"].as_u64().unwrap_or(0);

    let ch = tokio::task::spawn_blocking(move || {
        ch.stop();
        ch
    })
    .await
    .expect("stop");
    let down = median(timed_searches(&stack, &ids, 60).await);
    let stats = traces_stats(&stack).await;
    let dropped = stats["dropped"].as_u64().unwrap_or(0);
    eprintln!(
        "median search latency: ClickHouse up {up:?}, down {down:?}; spans dropped {dropped}"
    );
    assert!(
        dropped > dropped_before,
        "60 searches of ~8 spans overflow a 64-span buffer: {stats}"
    );
    assert!(
        down <= up * 3 + Duration::from_millis(15),
        "latency with ClickHouse down ({down:?}) is not that with it up ({up:?})"
    );
    // While it is down the trace API says so instead of hanging.
    let unavailable = http(
        "GET",
        &format!("{}/api/traces/{}", stack.admin, "0".repeat(32)),
        &[],
        None,
    )
    .await;
    assert_eq!(unavailable.status, 503, "{}", unavailable.raw);

    let mut ch = ch;
    let ch = tokio::task::spawn_blocking(move || {
        ch.restart();
        ch
    })
    .await
    .expect("restart");
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let a = traced_search(&stack, trace, &ids, 41).await;
    assert_eq!(a.status, 200);
    let found = poll(
        &format!("{}/api/traces/{trace}", stack.admin),
        "a trace recorded after the restart",
        |b| b["span_count"].as_u64().unwrap_or(0) >= 2,
    )
    .await;
    assert_eq!(found["roots"][0]["event_type"], "search");
    drop(ch);
}
