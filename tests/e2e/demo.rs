//! `arigate demo`, exactly as a newcomer runs it: the edge and five simulators in one process.

use crate::harness::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A demo process, killed on drop.
pub struct Demo(pub std::process::Child);

/// `arigate demo` on these ports.
pub fn demo_command(listen: std::net::SocketAddr, admin: std::net::SocketAddr) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_arigate"));
    c.args([
        "demo",
        "--listen",
        &listen.to_string(),
        "--admin-listen",
        &admin.to_string(),
    ]);
    c
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_serves_a_five_supplier_search_out_of_the_box() {
    let (listen, admin) = (free_addr(), free_addr());
    let _demo = Demo(
        demo_command(listen, admin)
            .env("RUST_LOG", "warn,pingora_cache::meta=error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("arigate demo starts"),
    );
    let until = Instant::now() + Duration::from_secs(30);
    while http_raw_ok(&format!("http://{admin}/readyz")).await != Some(200) {
        assert!(Instant::now() < until, "the demo did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let suppliers = http("GET", &format!("http://{admin}/admin/suppliers"), &[], None).await;
    let endpoints: Vec<(String, String)> = suppliers.body["suppliers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["code"].as_str().unwrap_or("").to_string(),
                s["endpoint"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(endpoints.len(), 5, "{}", suppliers.raw);

    let hotels = shared_hotels(2);
    let ids: Vec<&str> = hotels.iter().map(String::as_str).collect();
    let auth = format!("Bearer {API_KEY}");
    let s = http(
        "POST",
        &format!("http://{listen}/v1/search"),
        &[("authorization", &auth)],
        Some(&search_body(&ids, 21)),
    )
    .await;
    assert_eq!(s.status, 200, "{}", s.raw);
    assert_eq!(s.body["complete"], true, "{}", s.raw);
    for (code, endpoint) in &endpoints {
        let n = offers(&s.body)
            .iter()
            .filter(|(_, o)| o["supplier"] == code.as_str())
            .count();
        assert!(n > 0, "no offers from {code}");
        // The simulator, a separate HTTP server, saw exactly one search from the edge.
        let c = http("GET", &format!("{endpoint}/__sim/counters"), &[], None).await;
        let searches = ["search", "PriceSearch"]
            .iter()
            .filter_map(|k| c.body[k].as_u64())
            .sum::<u64>();
        assert_eq!(searches, 1, "{code}: {}", c.raw);
    }
}

async fn http_raw_ok(url: &str) -> Option<u16> {
    arigate_sim::server::http_request("GET", url, &[], Vec::new())
        .await
        .ok()
        .map(|(s, _, _)| s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_stops_the_edge_at_start_with_a_clear_error() {
    // Someone else holds the admin port: the edge must not run on without its admin listener.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let admin = taken.local_addr().expect("addr");
    let mut demo = Demo(
        demo_command(free_addr(), admin)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("arigate demo starts"),
    );
    let until = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = demo.0.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < until,
            "the edge kept running without its admin port"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success(), "{status}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut demo.0.stderr.take().expect("stderr"), &mut stderr)
        .expect("read stderr");
    assert!(
        stderr.contains("cannot bind admin_listen") && stderr.contains(&admin.to_string()),
        "{stderr}"
    );
    drop(taken);
}
