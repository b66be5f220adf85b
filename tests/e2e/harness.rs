//! Test harness: simulated suppliers in this process on `127.0.0.1:0`, the real `arigate` binary as
//! a child process, and plain HTTP between them. Everything stops when the test's values drop.

use arigate_sim::server::http_request;
use arigate_sim::world::PROTOCOLS;
use arigate_sim::{SimHandle, SimOptions};
use serde_json::{json, Value};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const API_KEY: &str = "demo-key";
/// The token secret the test edge signs offer and booking ids with.
pub const E2E_TOKEN_SECRET: &str = "e2e-token-secret-that-is-long-enough-1234";
const DEMO_CONFIG: &str = include_str!("../../config/arigate.demo.yaml");
pub const DEMO_MAPPING: &str = include_str!("../../config/demo-hotels.yaml");

/// A free loopback port (bound and released; the child binds it right after), never one this
/// test binary handed out before: between the release and the child's bind, another test's
/// `free_addr` could otherwise get the same port, and two stacks would share it (one edge's
/// listener fails to bind while the other's answers in its place).
pub fn free_addr() -> SocketAddr {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    loop {
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port");
        if GIVEN.lock().expect("port set").insert(addr.port()) {
            return addr;
        }
    }
}

fn temp_dir() -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("arigate-e2e-{}-{n}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    pub raw: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub async fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Answer {
    let raw_body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    http_raw(method, url, headers, raw_body).await
}

pub async fn http_raw(method: &str, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    let mut h: Vec<(&str, &str)> = headers.to_vec();
    if !body.is_empty()
        && !h
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        h.push(("content-type", "application/json"));
    }
    let (status, headers, body) = http_request(method, url, &h, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let raw = String::from_utf8_lossy(&body).into_owned();
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        raw,
    }
}

/// Five simulators plus an edge child process configured for them.
pub struct Stack {
    pub sims: Vec<SimHandle>,
    pub edge: String,
    pub admin: String,
    child: Child,
    _dir: PathBuf,
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

/// Knobs a test may turn in the edge's configuration.
#[derive(Clone)]
pub struct Options {
    pub supplier_timeout: &'static str,
    pub deadline: &'static str,
    pub booking_timeout: &'static str,
    /// Lines appended to the dida supplier (e.g. `auth: oauth1`), with the dida simulator's auth.
    pub dida_auth: Option<(&'static str, arigate_sim::SimAuth)>,
    /// Points one supplier at another URL (a hostile test server) instead of its simulator.
    pub redirect: Option<(&'static str, String)>,
    /// `limits.max_supplier_response_bytes`.
    pub max_supplier_response_bytes: Option<usize>,
    /// Top-level YAML appended to the config (e.g. a `cache:` section).
    pub extra_yaml: Option<String>,
    /// Fields added to suppliers: (protocol, or `*` for all; `key: value` lines).
    pub supplier_yaml: Vec<(&'static str, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            supplier_timeout: "300ms",
            deadline: "1s",
            booking_timeout: "3s",
            dida_auth: None,
            redirect: None,
            max_supplier_response_bytes: None,
            extra_yaml: None,
            supplier_yaml: Vec::new(),
        }
    }
}

impl Stack {
    pub async fn start() -> Stack {
        Stack::start_with(Options::default()).await
    }

    /// Starts simulators and an edge; retries with fresh ports when the edge lost a port race.
    pub async fn start_with(opts: Options) -> Stack {
        for attempt in 1..=3 {
            match Stack::try_start(opts.clone()).await {
                Ok(stack) => return stack,
                Err(e) if attempt < 3 => {
                    eprintln!("edge start attempt {attempt} failed ({e}); retrying")
                }
                Err(e) => panic!("arigate did not start: {e}"),
            }
        }
        unreachable!("the loop returns or panics")
    }

    async fn try_start(opts: Options) -> Result<Stack, String> {
        let listen = free_addr();
        let admin = free_addr();
        let mut sims = Vec::new();
        for p in PROTOCOLS {
            let mut o = SimOptions::defaults(p);
            o.webhook_url = Some(format!("http://{listen}/webhooks/{p}"));
            if p == "dida" {
                if let Some((_, auth)) = opts.dida_auth {
                    o.auth = auth;
                }
            }
            sims.push(
                arigate_sim::start(o, "127.0.0.1:0".parse().expect("addr"))
                    .await
                    .expect("simulator starts"),
            );
        }
        let mut config = DEMO_CONFIG
            .replace("${DEMO_LISTEN}", &listen.to_string())
            .replace("${DEMO_ADMIN_LISTEN}", &admin.to_string())
            .replace("${DEMO_TOKEN_SECRET}", E2E_TOKEN_SECRET)
            .replace(
                "supplier_timeout: 300ms",
                &format!("supplier_timeout: {}", opts.supplier_timeout),
            )
            .replace("deadline: 1s", &format!("deadline: {}", opts.deadline));
        for s in &sims {
            let protocol = &s.state.options.protocol;
            let var = format!(
                "${{DEMO_{}_URL}}",
                protocol.to_uppercase().replace('-', "_")
            );
            let url = match &opts.redirect {
                Some((p, url)) if p == protocol => url.clone(),
                _ => s.base_url(),
            };
            let mut fields = format!("{url}\n    booking_timeout: {}", opts.booking_timeout);
            for (p, yaml) in &opts.supplier_yaml {
                if *p == "*" || p == protocol {
                    for line in yaml.lines() {
                        fields.push_str(&format!("\n    {line}"));
                    }
                }
            }
            config = config.replace(&var, &fields);
        }
        if let Some(extra) = &opts.extra_yaml {
            config.push('\n');
            config.push_str(extra);
            config.push('\n');
        }
        if let Some(max) = opts.max_supplier_response_bytes {
            config.push_str(&format!("limits:\n  max_supplier_response_bytes: {max}\n"));
        }
        if let Some((auth, _)) = opts.dida_auth {
            config = config.replace(
                "    credentials: {key: DidaApiTestID",
                &format!("    auth: {auth}\n    credentials: {{key: DidaApiTestID"),
            );
        }
        let dir = temp_dir();
        std::fs::write(dir.join("arigate.yaml"), config).expect("write config");
        std::fs::write(dir.join("demo-hotels.yaml"), DEMO_MAPPING).expect("write mapping");
        let child = Command::new(env!("CARGO_BIN_EXE_arigate"))
            .args(["run", "--config"])
            .arg(dir.join("arigate.yaml"))
            .env("RUST_LOG", "warn,pingora_cache::meta=error")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("arigate starts");
        let mut stack = Stack {
            sims,
            edge: format!("http://{listen}"),
            admin: format!("http://{admin}"),
            child,
            _dir: dir,
        };
        stack.wait_ready().await?;
        Ok(stack)
    }

    /// Polls `/readyz` (bounded) until the edge answers 200; fails at once if the edge exited.
    pub async fn wait_ready(&mut self) -> Result<(), String> {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _, _)) =
                http_request("GET", &format!("{}/readyz", self.admin), &[], Vec::new()).await
            {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("the edge exited with {status}"));
            }
            if Instant::now() >= until {
                return Err("not ready within 30 s".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the edge process and starts a new one on the same config, ports and simulators.
    pub async fn restart_edge(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = Command::new(env!("CARGO_BIN_EXE_arigate"))
            .args(["run", "--config"])
            .arg(self.config_path())
            .env("RUST_LOG", "warn,pingora_cache::meta=error")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("arigate starts again");
        if let Err(e) = self.wait_ready().await {
            panic!("the restarted edge is not ready: {e}");
        }
    }

    /// The config file the edge runs with (hot reload watches it).
    pub fn config_path(&self) -> PathBuf {
        self._dir.join("arigate.yaml")
    }

    /// Sends a signal (`TERM`, `QUIT`, `INT`) to the edge process.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args(["-s", sig, &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -s {sig} failed");
    }

    /// Waits (bounded) for the edge process to exit; its exit status, or `None` if still running.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let until = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn sim(&self, protocol: &str) -> &SimHandle {
        self.sims
            .iter()
            .find(|s| s.state.options.protocol == protocol)
            .expect("known protocol")
    }

    /// Requests each simulator counted so far, by endpoint.
    pub fn counters(&self, protocol: &str) -> std::collections::BTreeMap<String, u64> {
        self.sim(protocol).state.counters()
    }

    pub fn total_requests(&self) -> u64 {
        self.sims
            .iter()
            .map(|s| s.state.counters().values().sum::<u64>())
            .sum()
    }

    pub async fn set_scenario(&self, protocol: &str, scenario: &str, operations: Option<&[&str]>) {
        let mut body = json!({"scenario": scenario});
        if let Some(ops) = operations {
            body["operations"] = json!(ops);
        }
        let a = http(
            "POST",
            &format!("{}/__sim/scenario", self.sim(protocol).base_url()),
            &[],
            Some(&body),
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.raw);
    }

    pub async fn agent(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let auth = format!("Bearer {API_KEY}");
        http(
            method,
            &format!("{}{path}", self.edge),
            &[("authorization", &auth)],
            body,
        )
        .await
    }

    /// A request without headers or body to the admin listener, e.g. `("GET", "/admin/cache")`.
    pub async fn admin_call(&self, method: &str, path: &str) -> Answer {
        http(method, &format!("{}{path}", self.admin), &[], None).await
    }

    /// `POST /v1/availability` for an offer id (as found in a search answer, or any JSON value
    /// a test sends in its place).
    pub async fn recheck(&self, offer_id: impl serde::Serialize) -> Answer {
        self.agent(
            "POST",
            "/v1/availability",
            Some(&json!({ "offer_id": offer_id })),
        )
        .await
    }

    /// Makes a simulator apply an ARI change and deliver its signed webhook to this edge.
    pub async fn sim_webhook(&self, protocol: &str, kind: &str, hotel_code: &str) -> Answer {
        http(
            "POST",
            &format!("{}/__sim/webhook", self.sim(protocol).base_url()),
            &[],
            Some(&json!({"type": kind, "hotel": hotel_code})),
        )
        .await
    }

    pub async fn book(&self, offer_id: &str, idempotency_key: &str) -> Answer {
        let auth = format!("Bearer {API_KEY}");
        let body = json!({"offer_id": offer_id, "guests": [{"first_name": "Ada", "last_name": "Lovelace"}, {"first_name": "Charles", "last_name": "Babbage"}], "client_reference": "TRIP-1"});
        http(
            "POST",
            &format!("{}/v1/bookings", self.edge),
            &[
                ("authorization", &auth),
                ("idempotency-key", idempotency_key),
            ],
            Some(&body),
        )
        .await
    }
}

/// A search body for a date `days` ahead, two nights, two adults.
pub fn search_body(hotels: &[&str], days: i64) -> Value {
    let checkin = chrono::Utc::now().date_naive() + chrono::Duration::days(days);
    let checkout = checkin + chrono::Duration::days(2);
    json!({"checkin": checkin.to_string(), "checkout": checkout.to_string(), "hotels": hotels, "occupancy": [{"adults": 2}], "currency": "EUR"})
}

/// Unified ids of hotels every supplier sells (from the shipped mapping).
pub fn shared_hotels(n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut id = String::new();
    let mut codes = 0;
    for line in DEMO_MAPPING.lines() {
        if let Some(rest) = line.trim().strip_prefix("- id: ") {
            if codes == 5 && !id.is_empty() {
                out.push(id.clone());
            }
            id = rest.to_string();
            codes = 0;
        } else if line.starts_with("      ") && line.contains(": \"") {
            codes += 1;
        }
        if out.len() == n {
            break;
        }
    }
    out
}

/// The offers in a search answer, each with its hotel id.
pub fn offers(search: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for h in search["hotels"].as_array().into_iter().flatten() {
        for r in h["rooms"].as_array().into_iter().flatten() {
            for o in r["offers"].as_array().into_iter().flatten() {
                out.push((h["hotel_id"].as_str().unwrap_or("").to_string(), o.clone()));
            }
        }
    }
    out
}

/// The first offer of `supplier` in a search answer; panics (failing the test) without one.
pub fn offer_of_supplier(search: &Value, supplier: &str) -> Value {
    offers(search)
        .into_iter()
        .map(|(_, o)| o)
        .find(|o| o["supplier"] == supplier)
        .unwrap_or_else(|| panic!("no {supplier} offer in {search}"))
}

/// A supplier's own code for a unified hotel (from the shipped mapping).
pub fn code_of(hotel_id: &str, supplier: &str) -> String {
    let mut current = false;
    for line in DEMO_MAPPING.lines() {
        if let Some(id) = line.trim().strip_prefix("- id: ") {
            current = id == hotel_id;
        } else if current {
            if let Some(code) = line.trim().strip_prefix(&format!("{supplier}: ")) {
                return code.trim_matches('"').to_string();
            }
        }
    }
    panic!("{hotel_id} has no {supplier} code")
}

/// How many searches a simulator has answered.
pub fn searches(stack: &Stack, protocol: &str) -> u64 {
    let c = stack.counters(protocol);
    c.get("search")
        .or(c.get("PriceSearch"))
        .copied()
        .unwrap_or(0)
}

/// Polls `f` until it holds; panics after `limit`. Returns how long it took.
pub async fn until<F, Fut>(what: &str, limit: Duration, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !f().await {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    started.elapsed()
}
