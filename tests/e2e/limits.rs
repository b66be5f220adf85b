//! Request limits over raw sockets (issue #9 item 1): oversized heads, targets and bodies get a
//! JSON 431/414/413 and reach no supplier; a body that does not arrive whole never books;
//! slowloris headers, slow bodies, idle keep-alive and clients that never read are cut off on
//! time; excess load is shed at once with 503 + Retry-After.

use crate::harness::*;
use crate::rawhttp::*;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// Small limits so each one is easy to cross.
const LIMITS: &str = "limits:
  max_header_count: 20
  max_header_bytes: 2048
  max_uri_bytes: 512
  body_bytes: {transactional: 2048, browse: 8192}
  header_read_timeout: 1s
  body_read_timeout: 1s
  write_timeout: 1s
  keepalive_timeout: 1s
  max_inflight: 3
";

async fn stack() -> Stack {
    Stack::start_with(Options {
        extra_yaml: Some(LIMITS.into()),
        ..Options::default()
    })
    .await
}

/// Bookings the simulators hold.
fn bookings(stack: &Stack) -> usize {
    stack
        .sims
        .iter()
        .map(|s| s.state.bookings.lock().len())
        .sum()
}

fn auth() -> String {
    format!("Bearer {API_KEY}")
}

/// An offer from a fresh search (for booking attempts).
async fn an_offer(stack: &Stack) -> String {
    let hotel = shared_hotels(1).remove(0);
    let s = stack
        .agent(
            "POST",
            "/v1/search",
            Some(&search_body(&[hotel.as_str()], 40)),
        )
        .await;
    let (_, offer) = offers(&s.body).into_iter().next().expect("an offer");
    offer["offer_id"].as_str().expect("offer id").to_string()
}

fn booking_body(offer: &str) -> Vec<u8> {
    json!({"offer_id": offer, "guests": [{"first_name": "Ada", "last_name": "Lovelace"}], "client_reference": "RAW-1"})
        .to_string()
        .into_bytes()
}

/// One answer on a connection the edge then closes.
async fn refused(stack: &Stack, raw: &[u8]) -> RawResponse {
    let ex = exchange(&stack.edge, raw, Duration::from_secs(5)).await;
    let rs = ex.responses();
    assert_eq!(rs.len(), 1, "one answer: {}", ex.text());
    assert!(ex.closed, "the edge closes after refusing: {}", ex.text());
    rs[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_heads_targets_and_bodies_are_refused_and_reach_no_supplier() {
    let stack = stack().await;
    let a = auth();
    let before = stack.total_requests();

    // 21 header fields (the cap is 20).
    let many: Vec<(String, String)> = (0..21).map(|i| (format!("x-f{i}"), "1".into())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = refused(&stack, &request("GET", "/v1/destinations", &many, b"")).await;
    assert_eq!((r.status, r.code().as_str()), (431, "headers_too_large"));
    assert!(r.header("x-trace-id").is_some());
    // 3000 bytes of one header field (the cap is 2048).
    let big = "v".repeat(3000);
    let r = refused(
        &stack,
        &request("GET", "/v1/destinations", &[("x-big", &big)], b""),
    )
    .await;
    assert_eq!((r.status, r.code().as_str()), (431, "headers_too_large"));
    // Beyond Pingora's own parser bound (256 fields) the parser refuses with a 400.
    let lots: Vec<(String, String)> = (0..300).map(|i| (format!("x-f{i}"), "1".into())).collect();
    let lots: Vec<(&str, &str)> = lots.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let ex = exchange(
        &stack.edge,
        &request("GET", "/v1/destinations", &lots, b""),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(ex.responses().first().map(|r| r.status), Some(400));
    // A 600-byte target (the cap is 512).
    let long = format!("/v1/hotels/{}", "A".repeat(600));
    let r = refused(
        &stack,
        &request("GET", &long, &[("authorization", &a)], b""),
    )
    .await;
    assert_eq!((r.status, r.code().as_str()), (414, "uri_too_long"));
    // A static (GET) route takes no body.
    let r = refused(
        &stack,
        &request(
            "GET",
            "/v1/destinations",
            &[("authorization", &a)],
            b"0123456789",
        ),
    )
    .await;
    assert_eq!((r.status, r.code().as_str()), (413, "payload_too_large"));
    assert_eq!(
        stack.total_requests(),
        before,
        "a refused request reached a supplier"
    );

    // Body caps per route class: 6000 bytes is fine for a search (browse, 8192) and too much
    // for a re-check (transactional, 2048).
    let hotel = shared_hotels(1).remove(0);
    let mut padded = search_body(&[hotel.as_str()], 41).to_string().into_bytes();
    padded.resize(6000, b' ');
    let ex = exchange(
        &stack.edge,
        &request(
            "POST",
            "/v1/search",
            &[("authorization", &a), ("connection", "close")],
            &padded,
        ),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(
        ex.responses().first().map(|r| r.status),
        Some(200),
        "{}",
        ex.text()
    );
    let offer = an_offer(&stack).await;
    let mut padded = json!({"offer_id": offer}).to_string().into_bytes();
    padded.resize(6000, b' ');
    let before = stack.total_requests();
    let r = refused(
        &stack,
        &request(
            "POST",
            "/v1/availability",
            &[("authorization", &a)],
            &padded,
        ),
    )
    .await;
    assert_eq!((r.status, r.code().as_str()), (413, "payload_too_large"));

    // Over the cap, declared: refused before the body is even sent.
    let mut s = connect(&stack.edge).await;
    let started = Instant::now();
    s.write_all(
        format!("POST /v1/bookings HTTP/1.1\r\nhost: e\r\nauthorization: {a}\r\nidempotency-key: big-1\r\ncontent-length: 100000\r\n\r\n")
            .as_bytes(),
    )
    .await
    .expect("send");
    let ex = read_until_close(&mut s, started, Duration::from_secs(5)).await;
    assert_eq!(
        ex.responses().first().map(|r| r.status),
        Some(413),
        "{}",
        ex.text()
    );

    // Over the cap, chunked without Content-Length: counted as it streams.
    let mut chunked = format!("POST /v1/bookings HTTP/1.1\r\nhost: e\r\nauthorization: {a}\r\nidempotency-key: big-2\r\ntransfer-encoding: chunked\r\n\r\n").into_bytes();
    let mut body = booking_body(&offer);
    body.resize(5000, b' ');
    for c in body.chunks(1000) {
        chunked.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        chunked.extend_from_slice(c);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let r = refused(&stack, &chunked).await;
    assert_eq!((r.status, r.code().as_str()), (413, "payload_too_large"));
    assert_eq!(
        stack.total_requests(),
        before,
        "an oversized body reached a supplier"
    );
    assert_eq!(bookings(&stack), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_body_that_does_not_arrive_whole_never_books() {
    let stack = stack().await;
    let a = auth();
    let offer = an_offer(&stack).await;
    let body = booking_body(&offer);
    let before = stack.total_requests();

    // Chunked: the whole JSON arrives, the final chunk never does → 408 once the body deadline
    // passes, and nothing is booked.
    let mut raw = format!("POST /v1/bookings HTTP/1.1\r\nhost: e\r\nauthorization: {a}\r\nidempotency-key: part-1\r\ntransfer-encoding: chunked\r\n\r\n").into_bytes();
    raw.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
    raw.extend_from_slice(&body);
    raw.extend_from_slice(b"\r\n");
    let ex = exchange(&stack.edge, &raw, Duration::from_secs(5)).await;
    let rs = ex.responses();
    assert_eq!(
        rs.first().map(|r| (r.status, r.code())),
        Some((408, "request_timeout".into())),
        "{}",
        ex.text()
    );
    assert!(ex.closed);
    let after = ex.closed_after.expect("closed");
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_secs(3),
        "{after:?}"
    );

    // Content-Length: a byte short, then the client goes away.
    let mut raw = format!("POST /v1/bookings HTTP/1.1\r\nhost: e\r\nauthorization: {a}\r\nidempotency-key: part-2\r\ncontent-length: {}\r\n\r\n", body.len() + 1).into_bytes();
    raw.extend_from_slice(&body);
    let mut s = connect(&stack.edge).await;
    s.write_all(&raw).await.expect("send");
    s.shutdown().await.expect("half-close");
    let ex = read_until_close(&mut s, Instant::now(), Duration::from_secs(5)).await;
    assert!(ex.closed);
    // Trickled: each byte in time for a per-read timeout, the whole too slow for the deadline.
    let head = format!("POST /v1/bookings HTTP/1.1\r\nhost: e\r\nauthorization: {a}\r\nidempotency-key: part-3\r\ncontent-length: {}\r\n\r\n", body.len());
    let mut s = connect(&stack.edge).await;
    let started = Instant::now();
    s.write_all(head.as_bytes()).await.expect("send");
    for b in body.iter().take(30) {
        if s.write_all(&[*b]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ex = read_until_close(&mut s, started, Duration::from_secs(5)).await;
    assert_eq!(
        ex.responses().first().map(|r| r.status),
        Some(408),
        "{}",
        ex.text()
    );

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        stack.total_requests(),
        before,
        "a partial body reached a supplier"
    );
    assert_eq!(bookings(&stack), 0, "a partial body booked");

    // The same body, whole, books (the counters above can move).
    let ex = exchange(
        &stack.edge,
        &request(
            "POST",
            "/v1/bookings",
            &[
                ("authorization", &a),
                ("idempotency-key", "whole-1"),
                ("connection", "close"),
            ],
            &body,
        ),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        ex.responses().first().map(|r| r.status),
        Some(201),
        "{}",
        ex.text()
    );
    assert_eq!(bookings(&stack), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_are_cut_off_on_time() {
    let stack = stack().await;
    let cut_before = metric(
        &stack.admin,
        "arigate_client_timeouts_total{kind=\"header\"}",
    )
    .await;

    // Slowloris: a header field every 200 ms (each read well inside any per-read timeout).
    let mut s = connect(&stack.edge).await;
    let started = Instant::now();
    s.write_all(b"GET /v1/destinations HTTP/1.1\r\nhost: e\r\n")
        .await
        .expect("send");
    let mut i = 0;
    while started.elapsed() < Duration::from_secs(4) {
        if s.write_all(format!("x-slow-{i}: 1\r\n").as_bytes())
            .await
            .is_err()
        {
            break;
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ex = read_until_close(&mut s, started, Duration::from_secs(5)).await;
    let after = ex.closed_after.expect("the slow header is cut off");
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_millis(2500),
        "cut after {after:?}"
    );
    // It is told why (408, JSON) before the connection closes.
    assert_eq!(ex.responses().len(), 1, "{}", ex.text());
    assert!(
        ex.text().starts_with("HTTP/1.1 408") && ex.text().contains("\"request_timeout\""),
        "{}",
        ex.text()
    );
    // The edge kept serving meanwhile and counts the cut.
    assert_eq!(
        stack.agent("GET", "/v1/destinations", None).await.status,
        200
    );
    assert!(
        metric(
            &stack.admin,
            "arigate_client_timeouts_total{kind=\"header\"}"
        )
        .await
            > cut_before
    );

    // A connection that never sends a byte.
    let mut s = connect(&stack.edge).await;
    let ex = read_until_close(&mut s, Instant::now(), Duration::from_secs(5)).await;
    let after = ex.closed_after.expect("a silent connection is closed");
    assert!(after < Duration::from_millis(2500), "{after:?}");

    // Keep-alive: two requests on one connection, then idle until closed.
    let mut s = connect(&stack.edge).await;
    let a = auth();
    let req = request("GET", "/v1/destinations", &[("authorization", &a)], b"");
    s.write_all(&req).await.expect("send");
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.write_all(&req)
        .await
        .expect("the connection is still open after 500 ms idle");
    let started = Instant::now();
    let ex = read_until_close(&mut s, started, Duration::from_secs(5)).await;
    assert_eq!(ex.responses().len(), 2, "{}", ex.text());
    let after = ex
        .closed_after
        .expect("an idle keep-alive connection is closed");
    assert!(
        after >= Duration::from_millis(800) && after < Duration::from_millis(2500),
        "idle close after {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_its_answer_is_cut_off() {
    // Time for the suppliers to price every demo hotel in one search, so the answer is larger
    // than the socket buffers between the edge and the client (4 MiB of send buffer here).
    let stack = Stack::start_with(Options {
        supplier_timeout: "8s",
        deadline: "10s\n  max_hotels: 400",
        extra_yaml: Some(LIMITS.into()),
        ..Options::default()
    })
    .await;
    let before = metric(
        &stack.admin,
        "arigate_client_timeouts_total{kind=\"write\"}",
    )
    .await;
    let ids: Vec<&str> = DEMO_MAPPING
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- id: "))
        .collect();
    let body = search_body(&ids, 42).to_string().into_bytes();
    let a = auth();
    // The answer's full size, read normally.
    let full = exchange(
        &stack.edge,
        &request(
            "POST",
            "/v1/search",
            &[("authorization", &a), ("connection", "close")],
            &body,
        ),
        Duration::from_secs(10),
    )
    .await;
    let full_len = full.bytes.len();
    assert_eq!(full.responses().first().map(|r| r.status), Some(200));
    assert!(
        full_len > 200_000,
        "a large answer: {full_len} bytes: {:?}",
        full.responses().first().map(|r| r.json())
    );

    // Again on a connection with a tiny receive window that is not read for longer than the
    // write timeout.
    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    sock.set_recv_buffer_size(4096).expect("rcvbuf");
    let mut s = sock
        .connect(addr_of(&stack.edge).parse().expect("addr"))
        .await
        .expect("connect");
    s.write_all(&request(
        "POST",
        "/v1/search",
        &[("authorization", &a)],
        &body,
    ))
    .await
    .expect("send");
    // Not reading until the edge reports the cut (bounded), however long the search took.
    let until = Instant::now() + Duration::from_secs(30);
    let mut m = before;
    while m <= before && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(200)).await;
        m = metric(
            &stack.admin,
            "arigate_client_timeouts_total{kind=\"write\"}",
        )
        .await;
    }
    assert!(m > before, "no write timeout within 30 s");
    let ex = read_until_close(&mut s, Instant::now(), Duration::from_secs(10)).await;
    assert!(ex.closed, "the edge gave up on the connection");
    let r = parse_head_len(&ex.bytes);
    assert!(
        ex.bytes.len() < full_len * 9 / 10
            && r.is_some_and(|(head, len)| ex.bytes.len() < head + len),
        "the edge stopped writing: {} of {full_len} bytes",
        ex.bytes.len()
    );
}

/// The length of a response head and its Content-Length.
fn parse_head_len(b: &[u8]) -> Option<(usize, usize)> {
    let end = b.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&b[..end]).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))?
        .trim()
        .parse()
        .ok()?;
    Some((end, len))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excess_load_is_shed_at_once_with_503_and_retry_after() {
    let stack = stack().await;
    let a = auth();
    let shed_before = metric(&stack.admin, "arigate_requests_shed_total").await;
    // Three requests in flight (max_inflight: 3), each waiting for a body that is not coming.
    let mut held = Vec::new();
    for i in 0..3 {
        let mut s = connect(&stack.edge).await;
        s.write_all(format!("POST /v1/search HTTP/1.1\r\nhost: e\r\nauthorization: {a}\r\nx-n: {i}\r\ncontent-length: 100\r\n\r\n").as_bytes())
            .await
            .expect("send");
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    let before = stack.total_requests();
    let started = Instant::now();
    let ex = exchange(
        &stack.edge,
        &request("GET", "/v1/destinations", &[("authorization", &a)], b""),
        Duration::from_secs(3),
    )
    .await;
    let r = ex.responses().first().cloned().expect("an answer");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "shed at once, not queued"
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (503, "overloaded"),
        "{}",
        ex.text()
    );
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(
        r.json()["error"]["trace_id"].as_str(),
        r.header("x-trace-id")
    );
    assert_eq!(stack.total_requests(), before);
    assert_eq!(
        metric(&stack.admin, "arigate_requests_shed_total").await,
        shed_before + 1.0
    );
    // The held requests end (408 at the body deadline) and free their slots.
    drop(held);
    until("a slot is free again", Duration::from_secs(10), || async {
        stack.agent("GET", "/v1/destinations", None).await.status == 200
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_doubled_host_is_refused_and_a_401_names_its_scheme() {
    let stack = Stack::start().await;
    let a = auth();
    let before = stack.total_requests();
    // RFC 9112 §3.2: an HTTP/1.1 request without Host, or with two, is answered 400: the edge's
    // JSON error for a missing one; Pingora's own parser refuses two before the edge sees them.
    let raw = format!("GET /v1/destinations HTTP/1.1\r\nauthorization: {a}\r\n\r\n");
    let ex = exchange(&stack.edge, raw.as_bytes(), Duration::from_secs(2)).await;
    let rs = ex.responses();
    assert_eq!(rs.len(), 1, "{}", ex.text());
    assert_eq!(
        (rs[0].status, rs[0].code()),
        (400, "invalid_request".to_string()),
        "{}",
        ex.text()
    );
    assert!(rs[0].header("x-trace-id").is_some());
    let raw = format!(
        "GET /v1/destinations HTTP/1.1\r\nhost: edge\r\nhost: other\r\nauthorization: {a}\r\n\r\n"
    );
    let ex = exchange(&stack.edge, raw.as_bytes(), Duration::from_secs(2)).await;
    let rs = ex.responses();
    assert_eq!(
        rs.iter().map(|r| r.status).collect::<Vec<_>>(),
        [400],
        "{}",
        ex.text()
    );
    // The same request with one Host is served; HTTP/1.0 needs none.
    for raw in [
        format!("GET /v1/destinations HTTP/1.1\r\nhost: edge\r\nauthorization: {a}\r\n\r\n"),
        format!("GET /v1/destinations HTTP/1.0\r\nauthorization: {a}\r\n\r\n"),
    ] {
        let ex = exchange(&stack.edge, raw.as_bytes(), Duration::from_secs(2)).await;
        let rs = ex.responses();
        assert_eq!(rs.first().map(|r| r.status), Some(200), "{}", ex.text());
    }
    assert_eq!(stack.total_requests(), before, "no supplier was asked");

    // RFC 9110 §11.6.1 / RFC 6750 §3: every 401 carries a Bearer challenge saying what was wrong.
    for (header, want) in [
        (None, "Bearer realm=\"arigate\""),
        (
            Some("Basic ZGVtbzpkZW1v"),
            "Bearer realm=\"arigate\", error=\"invalid_request\"",
        ),
        (
            Some("Bearer wrong-key"),
            "Bearer realm=\"arigate\", error=\"invalid_token\"",
        ),
    ] {
        let headers: Vec<(&str, &str)> = header.map(|h| ("authorization", h)).into_iter().collect();
        let raw = request("GET", "/v1/destinations", &headers, b"");
        let ex = exchange(&stack.edge, &raw, Duration::from_secs(2)).await;
        let rs = ex.responses();
        assert_eq!(rs.first().map(|r| r.status), Some(401), "{}", ex.text());
        assert_eq!(
            rs[0].header("www-authenticate"),
            Some(want),
            "{}",
            ex.text()
        );
    }
}
