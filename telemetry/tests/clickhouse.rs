//! The trace pipeline against a real ClickHouse (a throwaway server per test, see
//! `arigate_telemetry::testkit`): migrations, the sink's writes and the three look-ups, span trees,
//! an outage in the middle of traffic, retention, and redaction end to end.

use std::collections::HashSet;
use std::future::Future;
use std::time::{Duration, Instant};

use arigate_telemetry::testkit::TestClickHouse;
use arigate_telemetry::*;

/// Polls `check` until it holds or `within` passes (the server is external: nothing to await).
async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        if Instant::now() >= deadline {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Runs SQL over the plain HTTP interface and returns the body (TSV), for raw checks.
fn http_sql(ch: &TestClickHouse, sql: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", ch.http_port())).expect("connect");
    let req = format!(
        "POST / HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{sql}",
        sql.len()
    );
    s.write_all(req.as_bytes()).expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let (head, body) = out.split_once("\r\n\r\n").expect("http response");
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{sql}: {out}"
    );
    body.to_string()
}

fn config(ch: &TestClickHouse, database: &str) -> ClickHouseConfig {
    ClickHouseConfig {
        url: ch.url(),
        database: database.to_string(),
        query_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_millis(500),
        ..ClickHouseConfig::default()
    }
}

fn fast_sink() -> SinkConfig {
    SinkConfig {
        flush_interval: Duration::from_millis(50),
        max_batch_rows: 500,
        backoff_min: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        ..SinkConfig::default()
    }
}

#[tokio::test]
async fn migrate_twice_is_idempotent_and_retention_drops_old_days() {
    let ch = TestClickHouse::start();
    let store = ClickHouseStore::new(config(&ch, "arigate_mig")).unwrap();
    let first = store.migrate().await.unwrap();
    let second = store.migrate().await.unwrap();
    assert_eq!(first.version, second.version);
    assert_eq!(first.ttl, first.version.supports_table_ttl());
    let tables = http_sql(
        &ch,
        "SELECT name FROM system.tables WHERE database = 'arigate_mig' ORDER BY name",
    );
    assert_eq!(
        tables.lines().collect::<Vec<_>>(),
        [
            "trace_events",
            "trace_events_index",
            "trace_events_index_mv"
        ]
    );

    // A span from 40 days ago and one from now: retention (14 days) drops the old day only,
    // in the span table and the index alike.
    let (sink, writer) = clickhouse_pipeline(store.clone(), fast_sink());
    let handle = writer.spawn();
    let old = now_ms() - 40 * 86_400_000;
    sink.record(
        Span::begin("old-trace", None, EventType::Book)
            .with_start_ms(old)
            .with_booking("B-old")
            .finished(SpanStatus::Success),
    );
    sink.record(
        Span::begin("new-trace", None, EventType::Book)
            .with_booking("B-new")
            .finished(SpanStatus::Success),
    );
    let report = handle.shutdown().await;
    assert_eq!(report.written, 2);
    assert_eq!(store.spans_by_trace("old-trace").await.unwrap().len(), 1);
    let dropped = store.enforce_retention().await.unwrap();
    assert_eq!(dropped, 2, "one day partition in each table");
    assert!(store.spans_by_trace("old-trace").await.unwrap().is_empty());
    assert!(store
        .traces_by_booking("B-old", &[])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.traces_by_booking("B-new", &[]).await.unwrap().len(),
        1
    );
    // Migrating over existing data changes nothing.
    store.migrate().await.unwrap();
    assert_eq!(store.spans_by_trace("new-trace").await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_wrong_table_layout_is_reported_not_written_to() {
    let ch = TestClickHouse::start();
    http_sql(&ch, "CREATE DATABASE legacy");
    http_sql(
        &ch,
        "CREATE TABLE legacy.trace_events (created_at DateTime, trace_id String) ENGINE = MergeTree ORDER BY trace_id",
    );
    let store = ClickHouseStore::new(config(&ch, "legacy")).unwrap();
    match store.migrate().await {
        Err(ClickHouseError::SchemaMismatch { missing, .. }) => {
            assert!(missing.contains(&"span_id".to_string()))
        }
        other => panic!("expected a schema mismatch, got {other:?}"),
    }
}

/// The story of one booking: a search fanning out to two suppliers, a re-check, the booking with
/// a confirmation under it, and a later query.
fn booking_story(booking: &str) -> (String, Vec<Span>) {
    let search = new_trace_id();
    let book = new_trace_id();
    let query = new_trace_id();
    let t0 = now_ms() - 600_000;
    let root = Span::begin(&search, None, EventType::Search)
        .with_start_ms(t0)
        .with_duration_ms(480)
        .with_agent("agency-7")
        .with_hotels(["HTL-MAD-1", "HTL-MAD-2"])
        .finished(SpanStatus::Success);
    let leg1 = Span::begin(&search, Some(&root.span_id), EventType::SupplierQuery)
        .with_start_ms(t0 + 3)
        .with_duration_ms(300)
        .with_supplier("hotelbeds")
        .with_hotels(["HTL-MAD-1", "HTL-MAD-2"])
        .with_related(RelatedType::Supplier, "hotelbeds")
        .finished(SpanStatus::Success);
    let leg2 = Span::begin(&search, Some(&root.span_id), EventType::SupplierQuery)
        .with_start_ms(t0 + 4)
        .with_duration_ms(450)
        .with_supplier("dida")
        .with_hotels(["HTL-MAD-1"])
        .failed(SpanStatus::Timeout, "leg deadline 450 ms");
    let avail = Span::begin(&book, None, EventType::CheckAvail)
        .with_start_ms(t0 + 120_000)
        .with_duration_ms(200)
        .with_supplier("hotelbeds")
        .with_hotel("HTL-MAD-1")
        .finished(SpanStatus::Success);
    let booked = Span::begin(&book, None, EventType::Book)
        .with_start_ms(t0 + 121_000)
        .with_duration_ms(1800)
        .with_supplier("hotelbeds")
        .with_booking(booking)
        .with_hotel("HTL-MAD-1")
        .with_related(RelatedType::Order, booking)
        .with_attr("supplier_reference", "1-3456789")
        .finished(SpanStatus::Success);
    let confirm = Span::begin(&book, Some(&booked.span_id), EventType::Confirm)
        .with_start_ms(t0 + 122_000)
        .with_duration_ms(700)
        .with_supplier("hotelbeds")
        .with_booking(booking)
        .finished(SpanStatus::Success);
    let queried = Span::begin(&query, None, EventType::QueryOrder)
        .with_start_ms(t0 + 400_000)
        .with_duration_ms(150)
        .with_supplier("hotelbeds")
        .with_booking(booking)
        .finished(SpanStatus::Success);
    (
        search,
        vec![root, leg1, leg2, avail, booked, confirm, queried],
    )
}

#[tokio::test]
async fn spans_through_the_sink_are_found_by_trace_booking_and_hotel() {
    let ch = TestClickHouse::start();
    let (user, password) = ch.password_user();
    let store = ClickHouseStore::new(ClickHouseConfig {
        user: Some(user.to_string()),
        password: Some(password.to_string()),
        ..config(&ch, "arigate_q")
    })
    .unwrap();
    store.migrate().await.unwrap();
    let (sink, writer) = clickhouse_pipeline(store.clone(), fast_sink());
    let handle = writer.spawn();

    let (search, spans) = booking_story("BK-1");
    let (_, other) = booking_story("BK-2");
    let n = spans.len() + other.len();
    for s in spans.iter().chain(other.iter()).cloned() {
        sink.record(s);
    }
    eventually("all spans written", Duration::from_secs(10), || {
        let w = sink.stats().written;
        async move { w == n as u64 }
    })
    .await;

    // By trace: the search with both legs nested under the root, earliest leg first.
    let by_trace = store.spans_by_trace(&search).await.unwrap();
    assert_eq!(by_trace.len(), 3);
    let tree = build_tree(by_trace);
    assert_eq!(tree.len(), 1);
    assert_eq!(tree[0].span.event_type, EventType::Search);
    let legs: Vec<_> = tree[0]
        .children
        .iter()
        .map(|c| (c.span.supplier.clone().unwrap(), c.span.status))
        .collect();
    assert_eq!(
        legs,
        [
            ("hotelbeds".to_string(), SpanStatus::Success),
            ("dida".to_string(), SpanStatus::Timeout)
        ]
    );
    assert_eq!(tree[0].span.agent_id.as_deref(), Some("agency-7"));

    // By booking: book + confirm + query traces, plus the search the offer came from.
    let story = store
        .traces_by_booking("BK-1", &[search.as_str()])
        .await
        .unwrap();
    assert_eq!(story.len(), 7, "{story:#?}");
    let stored: HashSet<_> = story.iter().map(|s| s.span_id.clone()).collect();
    assert_eq!(stored, spans.iter().map(|s| s.span_id.clone()).collect());
    let trees = trees_by_trace(story);
    assert_eq!(trees.len(), 3);
    assert_eq!(trees[0].trace_id, search, "the search comes first");
    let book_tree = &trees[1].roots;
    assert_eq!(book_tree.len(), 2, "check_avail and book are both roots");
    assert_eq!(book_tree[1].children[0].span.event_type, EventType::Confirm);
    assert_eq!(
        book_tree[1]
            .span
            .attributes
            .get("supplier_reference")
            .map(String::as_str),
        Some("1-3456789")
    );
    assert_eq!(book_tree[1].span.related_type, Some(RelatedType::Order));
    let without_search = store.traces_by_booking("BK-1", &[]).await.unwrap();
    assert_eq!(without_search.len(), 4);
    assert!(store
        .traces_by_booking("BK-404", &[])
        .await
        .unwrap()
        .is_empty());

    // The page renders the story.
    let html = render_booking_html(
        "BK-1",
        &trees.into_iter().map(|t| t.roots).collect::<Vec<_>>(),
    );
    assert!(html.contains("leg deadline 450 ms"));

    // By hotel: both stories mention HTL-MAD-1 in their search and book traces: 4 traces; the
    // limit keeps the most recent.
    let h = store.traces_by_hotel("HTL-MAD-1", 10).await.unwrap();
    let traces: HashSet<_> = h.iter().map(|s| s.trace_id.clone()).collect();
    assert_eq!(traces.len(), 4);
    let h2 = store.traces_by_hotel("HTL-MAD-2", 10).await.unwrap();
    assert_eq!(h2.len(), 6, "two search traces of three spans");
    let one = store.traces_by_hotel("HTL-MAD-1", 1).await.unwrap();
    assert_eq!(
        one.iter()
            .map(|s| s.trace_id.clone())
            .collect::<HashSet<_>>()
            .len(),
        1
    );

    let report = handle.shutdown().await;
    assert_eq!(report.dropped, 0);
}

/// Waits until the channel has room, so a phase that must not drop does not outrun the writer.
async fn paced(sink: &SpanSink) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.stats().queued >= 100 {
        assert!(Instant::now() < deadline, "the writer stopped draining");
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_outage_drops_past_the_bound_and_recovers_after_restart() {
    let mut ch = TestClickHouse::start();
    let store = ClickHouseStore::new(ClickHouseConfig {
        query_timeout: Duration::from_secs(2),
        ..config(&ch, "arigate_outage")
    })
    .unwrap();
    store.migrate().await.unwrap();
    let cfg = SinkConfig {
        channel_capacity: 200,
        max_batch_rows: 100,
        max_buffered_spans: 1000,
        flush_interval: Duration::from_millis(20),
        backoff_min: Duration::from_millis(20),
        backoff_max: Duration::from_millis(250),
        ..SinkConfig::default()
    };
    let (sink, writer) = clickhouse_pipeline(store.clone(), cfg);
    let handle = writer.spawn();
    let span = |phase: &str, i: usize| {
        Span::begin(
            format!("{phase}-{}", i % 50),
            None,
            EventType::SupplierQuery,
        )
        .with_span_id(format!("{phase}-{i}"))
        .with_supplier("hotelbeds")
        .with_response("{\"hotels\":{\"total\":0}}")
        .finished(SpanStatus::Success)
    };

    for i in 0..300 {
        paced(&sink).await;
        sink.record(span("before", i));
    }
    eventually("first spans written", Duration::from_secs(10), || {
        let s = sink.stats();
        async move { s.written == 300 }
    })
    .await;

    ch.stop();
    // While ClickHouse is down, recording never waits: 5000 spans in well under a second,
    // although nothing can be written.
    let t = Instant::now();
    for i in 0..5000 {
        sink.record(span("outage", i));
    }
    let spent = t.elapsed();
    assert!(
        spent < Duration::from_millis(500),
        "record blocked: {spent:?}"
    );
    eventually(
        "drops counted past the buffer bound",
        Duration::from_secs(10),
        || {
            let s = sink.stats();
            async move { s.queued == 0 && s.dropped >= 5000 - 1000 && s.failed_writes > 0 }
        },
    )
    .await;
    let during = sink.stats();
    assert!(during.buffered <= 1000, "{during:?}");
    assert_eq!(
        sink.dropped_counter()
            .load(std::sync::atomic::Ordering::Relaxed),
        during.dropped
    );

    ch.restart();
    for i in 0..300 {
        paced(&sink).await;
        sink.record(span("after", i));
    }
    eventually(
        "buffered and new spans written after restart",
        Duration::from_secs(20),
        || {
            let s = sink.stats();
            async move { s.buffered == 0 && s.written + s.dropped >= 5600 }
        },
    )
    .await;
    let report = handle.shutdown().await;

    let stored = http_sql(
        &ch,
        "SELECT span_id FROM arigate_outage.trace_events GROUP BY span_id",
    );
    let ids: HashSet<&str> = stored.lines().collect();
    let missing: Vec<usize> = (0..300)
        .filter(|i| !ids.contains(format!("after-{i}").as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "new spans flow again; missing {missing:?}, {report:?}, {} stored",
        ids.len()
    );
    assert!((0..300).all(|i| ids.contains(format!("before-{i}").as_str())));
    assert!(
        ids.iter().any(|id| id.starts_with("outage-")),
        "the buffered spans were kept and written"
    );
    // Every span is either stored or counted as dropped.
    assert_eq!(ids.len() as u64 + report.dropped, 5600, "{report:?}");
}

#[tokio::test]
async fn planted_secrets_never_reach_clickhouse() {
    let ch = TestClickHouse::start();
    let store = ClickHouseStore::new(config(&ch, "arigate_redact")).unwrap();
    store.migrate().await.unwrap();
    let (sink, writer) = clickhouse_pipeline(
        store.clone(),
        SinkConfig {
            excerpt_bytes: 600,
            ..fast_sink()
        },
    );
    let handle = writer.spawn();

    let secrets = [
        "PLANTED-apikey-7f3a",
        "PLANTED-sig-9b1c",
        "PLANTED-wsse-pw",
        "PLANTED-msgpw",
        "PLANTED-license",
        "PLANTED-client-secret",
        "PLANTED-access-token",
        "PLANTED-oauth-sig",
        "4111111111111111",
        "5500 0000 0000 0004",
        "PLANTED-bearer",
        "PLANTED-attr-secret",
    ];
    let hotelbeds = format!(
        "Api-key: {}\nX-Signature: {}\n\n{{\"stay\":{{\"checkIn\":\"2026-07-01\"}},\"paymentCard\":{{\"cardNumber\":\"{}\"}}}}",
        secrets[0], secrets[1], secrets[8]
    );
    let soap = format!(
        "<soap:Envelope><soap:Header><wsse:Security><wsse:UsernameToken><wsse:Username>u</wsse:Username>\
         <wsse:Password Type=\"PasswordText\">{}</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header>\
         <soap:Body><OTA_HotelAvailRQ><POS><Source><RequestorID ID=\"a\" MessagePassword=\"{}\"/></Source></POS>\
         <LicenseKey>{}</LicenseKey></OTA_HotelAvailRQ></soap:Body></soap:Envelope>",
        secrets[2], secrets[3], secrets[4]
    );
    let oauth = format!(
        "{{\"client_secret\":\"{}\",\"access_token\":\"{}\"}}\nAuthorization: OAuth oauth_consumer_key=\"k\", oauth_signature=\"{}\"",
        secrets[5], secrets[6], secrets[7]
    );
    // A large body with the secret near its end: the request-path cut and the excerpt trim both
    // happen, redaction must still win.
    let big = format!("{}{{\"password\":\"{}\"}}", "x".repeat(20_000), secrets[2]);
    let spans = vec![
        Span::begin("redact-1", None, EventType::SupplierQuery)
            .with_request(hotelbeds)
            .with_response(format!("card on file {}", secrets[9]))
            .finished(SpanStatus::Success),
        Span::begin("redact-1", None, EventType::Book)
            .with_request(soap)
            .failed(
                SpanStatus::Error,
                format!("upstream rejected Bearer {}", secrets[10]),
            ),
        Span::begin("redact-1", None, EventType::Search)
            .with_request(oauth)
            .with_attr("password", secrets[11])
            .with_attr("note", format!("token=Bearer {}", secrets[10]))
            .finished(SpanStatus::Success),
        Span::begin("redact-1", None, EventType::Search)
            .with_request(big)
            .finished(SpanStatus::Success),
    ];
    for s in spans {
        sink.record(s);
    }
    let report = handle.shutdown().await;
    assert_eq!(report.written, 4);

    let dump = http_sql(&ch, "SELECT * FROM arigate_redact.trace_events FORMAT TSV")
        + &http_sql(
            &ch,
            "SELECT * FROM arigate_redact.trace_events_index FORMAT TSV",
        );
    for s in secrets {
        assert!(
            !dump.contains(s),
            "secret {s:?} reached ClickHouse:\n{dump}"
        );
    }
    assert!(dump.contains("[REDACTED]") && dump.contains("[CARD]"));
    assert!(dump.contains("checkIn"), "harmless content is kept");
}

/// Throughput into ClickHouse on this machine. Run:
/// `cargo test --release -p arigate-telemetry --test clickhouse -- --ignored --nocapture throughput`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run explicitly with --ignored --nocapture"]
async fn throughput_spans_per_second() {
    let mut ch = TestClickHouse::start();
    let store = ClickHouseStore::new(config(&ch, "arigate_bench")).unwrap();
    store.migrate().await.unwrap();
    if std::env::var("ARIGATE_BENCH_NO_INDEX").is_ok() {
        http_sql(&ch, "DROP TABLE arigate_bench.trace_events_index_mv");
    }
    let batch: usize = std::env::var("ARIGATE_BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SinkConfig::default().max_batch_rows);
    let cfg = SinkConfig {
        max_batch_rows: batch,
        ..SinkConfig::default()
    };
    let (sink, writer) = clickhouse_pipeline(store.clone(), cfg.clone());
    let handle = writer.spawn();

    let total: u64 = std::env::var("ARIGATE_BENCH_SPANS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    // Realistic excerpts: a search request (~350 B) and a trimmed response (~900 B).
    let request = r#"{"stay":{"checkIn":"2026-07-01","checkOut":"2026-07-03"},"occupancies":[{"rooms":1,"adults":2,"children":0}],"hotels":{"hotel":[1067,2045,3122,4410,5120]},"filter":{"maxHotels":50},"language":"ENG","currency":"EUR","nationality":"ES","client_reference":"AGT-REF-000123"}"#;
    let response = format!(
        "{{\"hotels\":{{\"hotels\":[{}],\"checkIn\":\"2026-07-01\",\"total\":5}}}}",
        (0..5)
            .map(|i| format!("{{\"code\":{i},\"name\":\"Hotel {i}\",\"minRate\":\"{i}12.50\",\"currency\":\"EUR\",\"rooms\":[{{\"code\":\"DBL.ST\",\"rates\":[{{\"rateKey\":\"20260701|20260703|W|1|{i}|DBL.ST|ID_B2B_26|BB||1~2~0||N@06\"}}]}}]}}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let started = Instant::now();
    let give_up = started + Duration::from_secs(300);
    let mut sent = 0u64;
    while sent < total {
        // Stay at most two batches ahead of what is written: this measures sustained ingest,
        // not the drop path or a final flush.
        let s = sink.stats();
        if s.recorded.saturating_sub(s.written) > 2 * batch as u64 {
            assert!(
                Instant::now() < give_up,
                "benchmark stalled: {:?}",
                sink.stats()
            );
            if let Some(why) = ch.exited() {
                panic!("{why}");
            }
            tokio::task::yield_now().await;
            continue;
        }
        let trace = new_trace_id();
        for j in 0..8u64 {
            let span = Span::begin(&trace, None, EventType::SupplierQuery)
                .with_supplier(if j % 2 == 0 { "hotelbeds" } else { "dida" })
                .with_hotels(["HTL-MAD-1", "HTL-MAD-2"])
                .with_request(request)
                .with_response(response.clone())
                .with_attr("http_status", "200")
                .finished(SpanStatus::Success);
            sink.record(span);
        }
        sent += 8;
        if sent.is_multiple_of(4096) {
            tokio::task::yield_now().await;
        }
    }
    let report = handle.shutdown().await;
    let secs = started.elapsed().as_secs_f64();
    if let Some(why) = ch.exited() {
        panic!("{why}");
    }
    let stored: u64 = http_sql(&ch, "SELECT count() FROM arigate_bench.trace_events")
        .trim()
        .parse()
        .unwrap();
    let rate = stored as f64 / secs;
    println!(
        "throughput: {stored} spans stored in {secs:.2} s = {rate:.0} spans/s (dropped {}, ~{} B/span of excerpts)",
        report.dropped,
        request.len() + response.len()
    );
    assert_eq!(stored + report.dropped, total);
}
