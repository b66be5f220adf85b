//! A supplier that answers badly — far too much, a trickle that never ends, garbage instead of
//! HTTP, a reset — ends as a classified supplier error or timeout within its deadline, while the
//! other suppliers' offers still arrive.

use crate::harness::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone, Copy, Debug)]
enum Misbehaviour {
    /// 200 with a 64 MiB JSON body, as fast as the socket takes it.
    Huge,
    /// 200 and headers, then one byte every 50 ms forever.
    Trickle,
    /// Bytes that are not HTTP.
    Garbage,
    /// Accept, then close without a word.
    Reset,
    /// 200 with a body deeply nested past any sane parser depth.
    DeepJson,
}

/// One supplier's part of a search answer (`suppliers[]` by code; null when absent).
fn supplier_part(body: &serde_json::Value, code: &str) -> serde_json::Value {
    body["suppliers"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["code"] == code))
        .cloned()
        .unwrap_or_default()
}

/// A loopback server that answers every request with `m`; stops with the test runtime.
async fn hostile(m: Misbehaviour) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await;
                match m {
                    Misbehaviour::Huge => {
                        let len = 64 << 20;
                        let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\r\n");
                        let _ = s.write_all(head.as_bytes()).await;
                        let chunk = vec![b' '; 1 << 16];
                        for _ in 0..(len / chunk.len()) {
                            if s.write_all(&chunk).await.is_err() {
                                return;
                            }
                        }
                    }
                    Misbehaviour::Trickle => {
                        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n").await;
                        for _ in 0..1200 {
                            if s.write_all(b"1\r\n \r\n").await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                    Misbehaviour::Garbage => {
                        let _ = s
                            .write_all(b"\x00\x01SSH-2.0-not-http\r\n\r\n\xff\xfe")
                            .await;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Misbehaviour::Reset => {}
                    Misbehaviour::DeepJson => {
                        let body = "[".repeat(200_000);
                        let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", body.len());
                        let _ = s.write_all(head.as_bytes()).await;
                        let _ = s.write_all(body.as_bytes()).await;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misbehaving_supplier_is_classified_within_its_deadline_and_the_others_answer() {
    for m in [
        Misbehaviour::Huge,
        Misbehaviour::Trickle,
        Misbehaviour::Garbage,
        Misbehaviour::Reset,
        Misbehaviour::DeepJson,
    ] {
        let url = hostile(m).await;
        let stack = Stack::start_with(Options {
            redirect: Some(("hotelbeds", url)),
            max_supplier_response_bytes: Some(1 << 20),
            ..Options::default()
        })
        .await;
        let ids = shared_hotels(3);
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let started = Instant::now();
        let s = stack
            .agent("POST", "/v1/search", Some(&search_body(&ids, 30)))
            .await;
        let elapsed = started.elapsed();
        assert_eq!(s.status, 200, "{m:?}: {}", s.raw);
        assert!(
            elapsed < Duration::from_millis(1000 + 100), // the 1 s deadline plus a little
            "{m:?}: took {elapsed:?}"
        );
        let status = |code: &str| supplier_part(&s.body, code);
        let hb = status("hotelbeds");
        assert!(
            ["error", "timeout"].contains(&hb["status"].as_str().unwrap_or("")),
            "{m:?}: {hb}"
        );
        for p in ["expedia-rapid", "ota-soap", "derbysoft", "dida"] {
            assert_eq!(status(p)["status"], "ok", "{m:?} {p}: {}", s.raw);
        }
        assert!(offers(&s.body)
            .iter()
            .all(|(_, o)| o["supplier"] != "hotelbeds"));
        assert_eq!(s.body["complete"], false);
        // The edge is still healthy afterwards.
        let again = stack.agent("GET", "/v1/destinations", None).await;
        assert_eq!(again.status, 200, "{m:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supplier_that_resets_the_connection_fails_fast_as_unavailable() {
    let stack = Stack::start().await;
    let hotel = shared_hotels(1).remove(0);
    let s = stack
        .agent(
            "POST",
            "/v1/search",
            Some(&search_body(&[hotel.as_str()], 30)),
        )
        .await;
    let (_, offer) = offers(&s.body)
        .into_iter()
        .find(|(_, o)| o["supplier"] == "hotelbeds")
        .expect("a hotelbeds offer");
    stack.set_scenario("hotelbeds", "reset", None).await;
    // A re-check: the reset is known at once, no waiting for the supplier's timeout.
    let started = Instant::now();
    let r = stack.recheck(&offer["offer_id"]).await;
    let took = started.elapsed();
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (502, Some("supplier_unavailable")),
        "{}",
        r.raw
    );
    // The re-check timeout is 10 s: well under it, with room for a loaded CI machine.
    assert!(took < Duration::from_secs(2), "re-check took {took:?}");
    // A search leg (through the proxy phases): an error well before the leg's 300 ms timeout.
    // The reset meets a pooled connection, so Pingora sends the leg once more on a fresh one —
    // whole, body included (it used to go without its body and wait for the timeout) — and the
    // second reset ends it.
    let before = stack.counters("hotelbeds");
    let started = Instant::now();
    let s = stack
        .agent(
            "POST",
            "/v1/search",
            Some(&search_body(&[hotel.as_str()], 31)),
        )
        .await;
    let took = started.elapsed();
    let hb = supplier_part(&s.body, "hotelbeds");
    assert_eq!(
        (hb["status"].as_str(), hb["error"].as_str()),
        (Some("error"), Some("supplier_unavailable")),
        "{hb}"
    );
    assert!(took < Duration::from_secs(2), "search took {took:?}");
    let searches =
        |c: &std::collections::BTreeMap<String, u64>| c.get("search").copied().unwrap_or(0);
    let sent = searches(&stack.counters("hotelbeds")) - searches(&before);
    assert!(
        (1..=2).contains(&sent),
        "{sent} searches reached the supplier"
    );
}
