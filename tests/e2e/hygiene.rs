//! HTTP hygiene over raw sockets (issue #9 item 2): smuggling attempts never get a second
//! request processed (observed at the simulators and by counting answers); hop-by-hop headers do
//! not cross the edge; `X-Forwarded-For` is never trusted; odd paths get one routing decision;
//! CONNECT and absolute-form targets never reach a supplier.

use crate::harness::*;
use crate::rawhttp::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(4);

/// An authenticated search that calls the suppliers when it is processed (a date no other
/// request uses, so never a cache hit): the request a smuggler wants to sneak through.
fn smuggled(days: i64) -> Vec<u8> {
    let hotel = shared_hotels(1).remove(0);
    let body = search_body(&[hotel.as_str()], days).to_string();
    request(
        "POST",
        "/v1/search",
        &[("authorization", &format!("Bearer {API_KEY}"))],
        body.as_bytes(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smuggling_attempts_never_get_a_second_request_processed() {
    let stack = Stack::start().await;
    // Control: the smuggled request on its own is processed and reaches the suppliers.
    let before = stack.total_requests();
    let ex = exchange(&stack.edge, &smuggled(50), WAIT).await;
    assert_eq!(
        ex.responses().first().map(|r| r.status),
        Some(200),
        "{}",
        ex.text()
    );
    assert!(stack.total_requests() > before);

    let inner = smuggled(51);
    let n = inner.len();
    let inner_s = String::from_utf8_lossy(&inner).into_owned();
    let big: String = "x".repeat(100_000);
    let cases: Vec<(&str, String)> = vec![
        (
            "CL+TE (TE wins, connection closes)",
            format!("POST /v1/search HTTP/1.1\r\nhost: e\r\ncontent-length: {}\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n{inner_s}", n + 5),
        ),
        (
            "TE+CL",
            format!("POST /v1/search HTTP/1.1\r\nhost: e\r\ntransfer-encoding: chunked\r\ncontent-length: 4\r\n\r\n0\r\n\r\n{inner_s}"),
        ),
        (
            "two different Content-Lengths",
            format!("POST /v1/search HTTP/1.1\r\nhost: e\r\ncontent-length: 0\r\ncontent-length: {n}\r\n\r\n{inner_s}"),
        ),
        (
            "Content-Length list",
            format!("POST /v1/search HTTP/1.1\r\nhost: e\r\ncontent-length: 0, {n}\r\n\r\n{inner_s}"),
        ),
        (
            "signed Content-Length",
            format!("POST /v1/search HTTP/1.1\r\nhost: e\r\ncontent-length: +{n}\r\n\r\n{inner_s}"),
        ),
        (
            "hex Content-Length",
            format!("POST /v1/search HTTP/1.1\r\nhost: e\r\ncontent-length: 0x{n:x}\r\n\r\n{inner_s}"),
        ),
        (
            "obfuscated TE: xchunked",
            format!("POST /v1/search HTTP/1.1\r\nhost: e\r\ntransfer-encoding: xchunked\r\ncontent-length: {n}\r\n\r\n{inner_s}"),
        ),
        (
            "obfuscated TE: chunked, identity",
            format!("POST /v1/search HTTP/1.1\r\nhost: e\r\ntransfer-encoding: chunked, identity\r\n\r\n0\r\n\r\n{inner_s}"),
        ),
        (
            "obfuscated TE: space before colon",
            format!("POST /v1/search HTTP/1.1\r\nhost: e\r\ntransfer-encoding : chunked\r\ncontent-length: {n}\r\n\r\n{inner_s}"),
        ),
        (
            "obfuscated TE: folded line",
            format!("POST /v1/search HTTP/1.1\r\nhost: e\r\ntransfer-encoding:\r\n chunked\r\ncontent-length: {n}\r\n\r\n{inner_s}"),
        ),
        (
            "two TE fields",
            format!("POST /v1/search HTTP/1.1\r\nhost: e\r\ntransfer-encoding: chunked\r\ntransfer-encoding: identity\r\n\r\n0\r\n\r\n{inner_s}"),
        ),
        (
            "HTTP/1.0 with TE",
            format!("POST /v1/search HTTP/1.0\r\nhost: e\r\nconnection: keep-alive\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n{inner_s}"),
        ),
        (
            "pipelined after a 401 (body unread)",
            format!("POST /v1/search HTTP/1.1\r\nhost: e\r\ncontent-length: {n}\r\n\r\n{inner_s}"),
        ),
        (
            "pipelined after a 401 (GET with a body)",
            format!("GET /v1/destinations HTTP/1.1\r\nhost: e\r\ncontent-length: {n}\r\n\r\n{inner_s}"),
        ),
        (
            "pipelined after a 413",
            format!("POST /v1/availability HTTP/1.1\r\nhost: e\r\nauthorization: Bearer {API_KEY}\r\ncontent-length: 100000\r\n\r\n{inner_s}{big}"),
        ),
        (
            "pipelined after a 431",
            format!("GET /v1/destinations HTTP/1.1\r\nhost: e\r\nx-big: {}\r\n\r\n{inner_s}", "y".repeat(20_000)),
        ),
        (
            "pipelined after a 404",
            format!("GET /nowhere HTTP/1.1\r\nhost: e\r\ncontent-length: {n}\r\n\r\n{inner_s}"),
        ),
    ];
    for (name, raw) in cases {
        let before = stack.total_requests();
        let ex = exchange(&stack.edge, raw.as_bytes(), WAIT).await;
        let rs = ex.responses();
        assert!(
            ex.closed,
            "{name}: the connection is closed after the refusal: {}",
            ex.text()
        );
        assert!(rs.len() <= 1, "{name}: {} answers: {}", rs.len(), ex.text());
        if let Some(r) = rs.first() {
            assert!(
                (400..500).contains(&r.status),
                "{name}: {} {}",
                r.status,
                ex.text()
            );
        }
        assert_eq!(
            stack.total_requests(),
            before,
            "{name}: the smuggled request reached a supplier"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_headers_and_forwarded_for_are_not_trusted() {
    let stack = Stack::start().await;
    // Hop-by-hop and proxy headers on a request change nothing and come back on no answer.
    let ex = exchange(
        &stack.edge,
        &request(
            "GET",
            "/v1/destinations",
            &[
                ("authorization", &format!("Bearer {API_KEY}")),
                ("connection", "keep-alive, x-drop-me, te, close"),
                ("x-drop-me", "1"),
                ("keep-alive", "timeout=999"),
                ("te", "trailers"),
                ("trailer", "x-later"),
                ("upgrade", "h2c"),
                ("proxy-authorization", "Basic Zm9vOmJhcg=="),
                ("proxy-connection", "keep-alive"),
            ],
            b"",
        ),
        WAIT,
    )
    .await;
    let r = ex.responses().first().cloned().expect("an answer");
    assert_eq!(r.status, 200, "{}", ex.text());
    for h in [
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "x-drop-me",
        "transfer-encoding",
    ] {
        assert!(r.header(h).is_none(), "{h} in the answer: {}", ex.text());
    }
    assert!(ex.closed, "Connection: close is honoured");

    // X-Forwarded-For never authenticates ...
    for xff in ["127.0.0.1", "10.0.0.1, 127.0.0.1"] {
        let a = http(
            "GET",
            &format!("{}/v1/destinations", stack.edge),
            &[
                ("x-forwarded-for", xff),
                ("x-real-ip", xff),
                ("forwarded", "for=127.0.0.1"),
            ],
            None,
        )
        .await;
        assert_eq!(a.status, 401, "{xff}: {}", a.raw);
    }
    // ... and never buys a fresh rate limit: the trial agent's burst is 10 whatever the header.
    let mut statuses = Vec::new();
    for i in 0..12 {
        let a = http(
            "GET",
            &format!("{}/v1/destinations", stack.edge),
            &[
                ("authorization", "Bearer trial-key"),
                ("x-forwarded-for", &format!("203.0.113.{i}")),
                ("x-real-ip", &format!("198.51.100.{i}")),
            ],
            None,
        )
        .await;
        statuses.push(a.status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        2,
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_paths_get_one_routing_decision_and_foreign_targets_no_upstream() {
    let stack = Stack::start().await;
    let a = format!("Bearer {API_KEY}");
    let sims: Vec<String> = stack.sims.iter().map(|s| addr_of(&s.base_url())).collect();
    let before = stack.total_requests();
    // (target, expected status); none may be answered as a route.
    let cases: Vec<(String, u16)> = vec![
        ("/v1/../v1/destinations".into(), 400),
        ("/v1/./destinations".into(), 400),
        ("//v1/destinations".into(), 400),
        ("/v1//destinations".into(), 400),
        ("/v1/%2e%2e/v1/destinations".into(), 400),
        ("/v1/%2E/destinations".into(), 400),
        ("/v1%2fdestinations".into(), 400),
        ("/v1%2Fdestinations".into(), 400),
        ("/v1/destinations%00".into(), 400),
        ("/v1/destinations.".into(), 404),
        ("/v1/destinations/".into(), 404),
        ("/V1/destinations".into(), 404),
        ("/v1/destinations%20".into(), 404),
        ("/webhooks/../v1/destinations".into(), 400),
        ("/admin".into(), 404),
        ("/metrics".into(), 404),
        ("/__sim/counters".into(), 404),
        ("/__leg/hotelbeds/search".into(), 404),
        ("*".into(), 400),
        // Absolute form whose authority is this edge (`host: edge`): parsed, then refused.
        ("http://edge/v1/destinations".into(), 400),
    ];
    for (target, status) in cases {
        let ex = exchange(
            &stack.edge,
            &request(
                "GET",
                &target,
                &[("authorization", &a), ("connection", "close")],
                b"",
            ),
            WAIT,
        )
        .await;
        let r = ex
            .responses()
            .first()
            .cloned()
            .unwrap_or_else(|| panic!("{target}: no answer: {}", ex.text()));
        assert_eq!(r.status, status, "{target}: {}", ex.text());
        assert!(
            !r.code().is_empty(),
            "{target}: a JSON error: {}",
            ex.text()
        );
    }
    // Absolute form naming another authority than Host: Pingora's parser refuses it (plain 400).
    let mut foreign = vec!["http://evil.example/v1/destinations".to_string()];
    foreign.extend(sims.iter().map(|s| format!("http://{s}/__sim/counters")));
    for target in foreign {
        let ex = exchange(
            &stack.edge,
            &request(
                "GET",
                &target,
                &[("authorization", &a), ("connection", "close")],
                b"",
            ),
            WAIT,
        )
        .await;
        let st = ex.responses().first().map(|r| r.status);
        assert_eq!(st, Some(400), "{target}: {}", ex.text());
    }
    // Backslashes are not legal in a request line; the parser escapes them and the edge refuses.
    let ex = exchange(
        &stack.edge,
        format!("GET /v1\\destinations HTTP/1.1\r\nhost: e\r\nauthorization: {a}\r\nconnection: close\r\n\r\n").as_bytes(),
        WAIT,
    )
    .await;
    let st = ex.responses().first().map(|r| r.status);
    assert!(matches!(st, Some(400) | Some(404)), "{}", ex.text());

    // CONNECT to a supplier is refused and the connection closed.
    for s in &sims {
        let mut c = connect(&stack.edge).await;
        c.write_all(format!("CONNECT {s} HTTP/1.1\r\nhost: {s}\r\nauthorization: {a}\r\n\r\nGET /__sim/counters HTTP/1.1\r\nhost: {s}\r\n\r\n").as_bytes())
            .await
            .expect("send");
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(WAIT, c.read_to_end(&mut buf)).await;
        let rs = parse_responses(&buf);
        assert_eq!(rs.len(), 1, "{}", String::from_utf8_lossy(&buf));
        assert_eq!(rs[0].status, 405);
    }
    assert_eq!(
        stack.total_requests(),
        before,
        "a foreign target reached a supplier"
    );
    // The canonical path still routes.
    assert_eq!(
        stack.agent("GET", "/v1/destinations", None).await.status,
        200
    );
}

/// A recording tap in front of a simulator: keeps every request head it forwards and adds
/// hop-by-hop (and Connection-listed) headers to every answer it passes back.
async fn tap(upstream: String, seen: std::sync::Arc<parking_lot::Mutex<Vec<String>>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                // One request per connection: head, then Content-Length bytes of body.
                let mut req = Vec::new();
                let mut buf = vec![0u8; 65536];
                let head_end = loop {
                    let Ok(Ok(n)) = tokio::time::timeout(WAIT, client.read(&mut buf)).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    req.extend_from_slice(&buf[..n]);
                    if let Some(p) = req.windows(4).position(|w| w == b"\r\n\r\n") {
                        break p + 4;
                    }
                };
                let head = String::from_utf8_lossy(&req[..head_end]).into_owned();
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.trim()
                            .eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                while req.len() < head_end + len {
                    let Ok(Ok(n)) = tokio::time::timeout(WAIT, client.read(&mut buf)).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    req.extend_from_slice(&buf[..n]);
                }
                seen.lock().push(head.clone());
                // Forward with `Connection: close` so the answer ends at EOF.
                let mut fwd = head
                    .replacen("\r\n", "\r\nconnection: close\r\n", 1)
                    .into_bytes();
                fwd.extend_from_slice(&req[head_end..]);
                let Ok(mut up) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                if up.write_all(&fwd).await.is_err() {
                    return;
                }
                let mut answer = Vec::new();
                let _ = tokio::time::timeout(WAIT, up.read_to_end(&mut answer)).await;
                let Some(line_end) = answer.windows(2).position(|w| w == b"\r\n") else {
                    return;
                };
                let mut out = answer[..line_end + 2].to_vec();
                out.extend_from_slice(
                    b"Connection: close, X-Supplier-Hop\r\nX-Supplier-Hop: secret\r\nKeep-Alive: timeout=99\r\nProxy-Authenticate: Basic realm=\"s\"\r\nProxy-Connection: keep-alive\r\nTrailer: X-Late\r\nTE: trailers\r\n",
                );
                let rest = String::from_utf8_lossy(&answer[line_end + 2..]).into_owned();
                // The supplier's own Connection field gives way to ours.
                let rest: String = rest
                    .split_inclusive("\r\n")
                    .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                    .collect();
                out.extend_from_slice(rest.as_bytes());
                let _ = client.write_all(&out).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_by_hop_headers_cross_the_edge_in_neither_direction() {
    use crate::harness::Options;
    // The edge's hotelbeds endpoint is the tap, in front of a Hotelbeds simulator of its own.
    let sim = arigate_sim::start(
        arigate_sim::SimOptions::defaults("hotelbeds"),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("simulator");
    let seen = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    let url = tap(addr_of(&sim.base_url()), seen.clone()).await;
    let stack = Stack::start_with(Options {
        redirect: Some(("hotelbeds", url)),
        supplier_timeout: "2s",
        deadline: "3s",
        ..Options::default()
    })
    .await;
    let hotel = shared_hotels(1).remove(0);
    let body = search_body(&[hotel.as_str()], 52).to_string();
    let ex = exchange(
        &stack.edge,
        &request(
            "POST",
            "/v1/search",
            &[
                ("authorization", &format!("Bearer {API_KEY}")),
                ("connection", "x-agent-hop"),
                ("x-agent-hop", "agent-secret"),
                ("keep-alive", "timeout=5"),
                ("te", "trailers"),
                ("trailer", "x-later"),
                ("proxy-authorization", "Basic YWdlbnQ6c2VjcmV0"),
                ("x-forwarded-for", "6.6.6.6"),
                ("forwarded", "for=6.6.6.6"),
                ("via", "1.1 agent-proxy"),
            ],
            body.as_bytes(),
        ),
        WAIT,
    )
    .await;
    let r = ex.responses().first().cloned().expect("an answer");
    assert_eq!(r.status, 200, "{}", ex.text());
    let hb = r.json()["suppliers"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["code"] == "hotelbeds").cloned())
        .unwrap_or_default();
    assert_eq!(
        hb["status"], "ok",
        "hotelbeds answered through the tap: {hb}"
    );
    // Nothing of the supplier's hop-by-hop headers reaches the agent.
    for h in [
        "x-supplier-hop",
        "keep-alive",
        "proxy-authenticate",
        "proxy-connection",
        "trailer",
        "te",
    ] {
        assert!(
            r.header(h).is_none(),
            "{h} reached the agent: {}",
            ex.text()
        );
    }
    // Nothing of the agent's reaches the supplier: not its hop-by-hop headers, not its key,
    // not its claimed addresses.
    let heads = seen.lock().clone();
    assert!(!heads.is_empty(), "the tap saw the supplier calls");
    for head in &heads {
        let lower = head.to_ascii_lowercase();
        for needle in [
            "x-agent-hop",
            "agent-secret",
            "demo-key",
            "proxy-authorization",
            "6.6.6.6",
            "agent-proxy",
            "\r\nte:",
            "\r\ntrailer:",
            "\r\nkeep-alive:",
        ] {
            assert!(
                !lower.contains(needle),
                "{needle} reached the supplier:\n{head}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_all_answered_in_order() {
    let stack = Stack::start().await;
    let auth = format!("authorization: Bearer {API_KEY}\r\n");
    // Three requests in one write: two GETs and a POST with a body, each answered in order.
    let hotel = shared_hotels(1).remove(0);
    let search = search_body(&[hotel.as_str()], 30).to_string();
    let raw = format!(
        "GET /v1/destinations HTTP/1.1\r\nhost: e\r\n{auth}\r\n\
         GET /v1/nowhere HTTP/1.1\r\nhost: e\r\n{auth}\r\n\
         POST /v1/search HTTP/1.1\r\nhost: e\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\n\r\n{search}",
        search.len()
    );
    let ex = exchange(&stack.edge, raw.as_bytes(), Duration::from_secs(3)).await;
    let rs = ex.responses();
    assert_eq!(
        rs.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 404, 200],
        "{}",
        ex.text()
    );
    assert!(rs[0].json()["destinations"].is_array(), "{}", ex.text());
    assert_eq!(rs[1].code(), "not_found");
    assert!(rs[2].json()["suppliers"].is_array(), "{}", ex.text());
    let ids: std::collections::HashSet<_> =
        rs.iter().filter_map(|r| r.header("x-trace-id")).collect();
    assert_eq!(ids.len(), 3, "each answer has its own trace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_framing_error_is_answered_once_and_closes_the_connection() {
    let stack = Stack::start().await;
    let auth = format!("authorization: Bearer {API_KEY}\r\n");
    let next = format!("GET /v1/destinations HTTP/1.1\r\nhost: e\r\n{auth}\r\n");
    // RFC 9112 §6.3, §7.1: after a chunked body it cannot frame, the edge answers once and reads
    // nothing more (the bytes after it are never a request).
    let cases = [
        ("bad hex chunk size", "zz\r\nabc\r\n0\r\n\r\n".to_string()),
        (
            "chunk size past 2^64",
            "1ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n".to_string(),
        ),
        (
            "100 kB chunk extension",
            format!("3;{}\r\nabc\r\n0\r\n\r\n", "x".repeat(100_000)),
        ),
    ];
    for (name, body) in cases {
        let before = stack.total_requests();
        let raw = format!(
            "POST /v1/search HTTP/1.1\r\nhost: e\r\n{auth}content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n{body}{next}"
        );
        let ex = exchange(&stack.edge, raw.as_bytes(), WAIT).await;
        let rs = ex.responses();
        assert_eq!(
            rs.iter().map(|r| r.status).collect::<Vec<_>>(),
            [400],
            "{name}: {}",
            ex.text()
        );
        assert!(ex.closed, "{name}: the connection is closed: {}", ex.text());
        assert_eq!(
            rs[0]
                .header("connection")
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("close"),
            "{name}: {}",
            ex.text()
        );
        assert_eq!(rs[0].code(), "invalid_request");
        assert_eq!(stack.total_requests(), before, "{name}: reached a supplier");
    }
}
