//! Faults under load (issue #9, item 5): several agents send mixed traffic (search 80 %, re-check
//! 15 %, book 5 %) while the simulators, at random, slow down, answer errors, reset connections,
//! send garbage or truncated bodies, hang, and ClickHouse is killed and restarted. Observed:
//! every 5xx is a documented supplier-failure answer (status and code from
//! `openapi/arigate-agent-v1.yaml`), no request outlives its deadline, no booking is made twice at
//! any supplier (the simulators' booking lists against the agents' Idempotency-Keys, retried), and
//! with the faults gone the edge recovers by itself: searches complete with all five suppliers and
//! every circuit closes. Redis (the shared cache and Idempotency-Key store) is killed and
//! restarted too, and the edge itself is restarted mid-run: bookings made before it, retried after
//! it with the same Idempotency-Key, are replayed, not booked again. `CHAOS_SEED` replays a run;
//! `CHAOS_SECS` sets the fault phase (default 45).

use crate::harness::{offers, search_body, shared_hotels, Options, Stack, API_KEY};
use arigate::api::booking::client_reference;
use arigate::cluster::testkit::TestRedis;
use arigate_sim::server::http_request;
use arigate_sim::world::PROTOCOLS;
use arigate_sim::SimState;
use arigate_telemetry::testkit::TestClickHouse;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DOC: &str = include_str!("../../openapi/arigate-agent-v1.yaml");
const CLIENTS: usize = 6;
/// Per-request bounds: the configured deadline or timeouts plus slack for a loaded 2-core machine.
const SEARCH_BOUND: Duration = Duration::from_millis(2500); // deadline 1s
const RECHECK_BOUND: Duration = Duration::from_millis(3500); // booking_timeout 2s, one call
/// prebook + book, 2 s each; a retry whose key another (or a restarted) node still holds in Redis
/// waits for that booking up to 2 × booking_timeout + 2 s = 6 s before its 409 (api/booking.rs).
const BOOK_BOUND: Duration = Duration::from_millis(7000);

/// A small xorshift generator: the test's only randomness, replayable from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The documented error codes of each (path, status) of the agent API, read from the OpenAPI
/// document: the backquoted codes in the description of each referenced response.
fn documented_codes() -> BTreeMap<(String, u16), BTreeSet<String>> {
    let doc: Value = serde_yaml_ng::from_str(DOC).expect("the OpenAPI document is YAML");
    let mut out = BTreeMap::new();
    for path in ["/v1/search", "/v1/availability", "/v1/bookings"] {
        let responses = doc["paths"][path]["post"]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("post {path} is documented"));
        for (status, r) in responses {
            let r = match r["$ref"].as_str() {
                Some(p) => doc
                    .pointer(p.trim_start_matches('#'))
                    .expect("$ref resolves"),
                None => r,
            };
            let text = r["description"].as_str().unwrap_or("");
            let codes: BTreeSet<String> = text
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|c| {
                    !c.is_empty() && c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_')
                })
                .map(str::to_string)
                .collect();
            out.insert((path.to_string(), status.parse().expect("status")), codes);
        }
    }
    out
}

/// What one agent request came back with.
#[derive(Debug, Clone)]
struct Seen {
    kind: &'static str,
    status: u16,
    code: String,
    at: Instant,
    elapsed: Duration,
    replayed: bool,
    raw: String,
}

/// One Idempotency-Key's story: the request and every answer the agent got for it.
#[derive(Debug, Default)]
struct BookingAttempts {
    supplier: String,
    body: Value,
    answers: Vec<(u16, Value)>,
    /// When the first 201 arrived.
    booked_at: Option<Instant>,
}

#[derive(Default)]
struct Observed {
    seen: Vec<Seen>,
    bookings: BTreeMap<String, BookingAttempts>,
    /// Search answers that contradict themselves (`complete`, the supplier list, the offers).
    inconsistent: Vec<String>,
}

async fn agent_post(
    edge: &str,
    path: &str,
    body: &Value,
    key: Option<&str>,
    kind: &'static str,
) -> (Seen, Value) {
    let auth = format!("Bearer {API_KEY}");
    let mut headers = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    if let Some(k) = key {
        headers.push(("idempotency-key", k));
    }
    let started = Instant::now();
    let mut replayed = false;
    let answer = tokio::time::timeout(
        Duration::from_secs(20),
        http_request(
            "POST",
            &format!("{edge}{path}"),
            &headers,
            body.to_string().into_bytes(),
        ),
    )
    .await;
    let elapsed = started.elapsed();
    let (status, raw) = match answer {
        Ok(Ok((status, headers, body))) => {
            replayed = headers
                .iter()
                .any(|(k, v)| k == "idempotent-replayed" && v == "true");
            let mut raw = String::from_utf8_lossy(&body).into_owned();
            // The completeness header travels with the body for the search checks.
            if let Some((_, v)) = headers.iter().find(|(k, _)| k == "x-arigate-complete") {
                if let Ok(mut b) = serde_json::from_str::<Value>(&raw) {
                    b["__complete_header"] = json!(v);
                    raw = b.to_string();
                }
            }
            (status, raw)
        }
        Ok(Err(e)) => (0, format!("transport error: {e}")),
        Err(_) => (0, "no answer within 20 s".to_string()),
    };
    let body: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
    let code = body["error"]["code"].as_str().unwrap_or("").to_string();
    (
        Seen {
            kind,
            status,
            code,
            at: started,
            elapsed,
            replayed,
            raw: raw.chars().take(300).collect(),
        },
        body,
    )
}

/// One agent: mixed traffic until `until`.
async fn client(
    n: usize,
    seed: u64,
    edge: String,
    hotels: Arc<Vec<String>>,
    pool: Arc<Mutex<Vec<String>>>,
    obs: Arc<Mutex<Observed>>,
    until: Instant,
) {
    let mut rng = Rng(seed | 1);
    let mut booked = 0;
    while Instant::now() < until {
        let dice = rng.below(100);
        let offer = {
            let p = pool.lock().expect("pool");
            (!p.is_empty()).then(|| p[rng.below(p.len() as u64) as usize].clone())
        };
        match (dice, offer) {
            (0..=79, _) | (_, None) => {
                let k = 1 + rng.below(3) as usize;
                let start = rng.below(hotels.len() as u64) as usize;
                let ids: Vec<&str> = (0..k)
                    .map(|i| hotels[(start + i) % hotels.len()].as_str())
                    .collect();
                let days = 20 + rng.below(40) as i64;
                let (seen, body) = agent_post(
                    &edge,
                    "/v1/search",
                    &search_body(&ids, days),
                    None,
                    "search",
                )
                .await;
                if seen.status == 200 {
                    if let Some(why) = search_inconsistency(&body) {
                        obs.lock().expect("obs").inconsistent.push(why);
                    }
                    let found: Vec<String> = offers(&body)
                        .into_iter()
                        .filter_map(|(_, o)| o["offer_id"].as_str().map(str::to_string))
                        .collect();
                    let mut p = pool.lock().expect("pool");
                    for o in found.into_iter().take(4) {
                        if p.len() < 400 {
                            p.push(o);
                        } else {
                            let at = rng.below(p.len() as u64) as usize;
                            p[at] = o;
                        }
                    }
                }
                let refused = seen.status == 0;
                obs.lock().expect("obs").seen.push(seen);
                if refused {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            (80..=94, Some(offer)) => {
                let (seen, _) = agent_post(
                    &edge,
                    "/v1/availability",
                    &json!({"offer_id": offer}),
                    None,
                    "recheck",
                )
                .await;
                let refused = seen.status == 0;
                obs.lock().expect("obs").seen.push(seen);
                if refused {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            (_, Some(offer)) => {
                booked += 1;
                let key = format!("chaos-{seed:x}-{n}-{booked}");
                book_with_retries(&edge, &offer, &key, &obs).await;
            }
        }
    }
}

/// Why a search answer contradicts itself, if it does: every supplier is listed once (all sell
/// the shared hotels), `complete` (body and header) is true exactly when none failed, and every
/// offer comes from a supplier that answered.
fn search_inconsistency(body: &Value) -> Option<String> {
    let legs = body["suppliers"].as_array()?;
    let codes: BTreeSet<&str> = legs.iter().filter_map(|l| l["code"].as_str()).collect();
    let all: BTreeSet<&str> = PROTOCOLS.iter().copied().collect();
    if codes != all || legs.len() != all.len() {
        return Some(format!("suppliers listed {codes:?}: {}", body["suppliers"]));
    }
    let failed = legs.iter().any(|l| l["status"] != "ok");
    let complete = body["complete"].as_bool();
    if complete != Some(!failed) || body["__complete_header"] != json!((!failed).to_string()) {
        return Some(format!(
            "complete {:?} (header {}) with suppliers {}",
            complete, body["__complete_header"], body["suppliers"]
        ));
    }
    let answered: BTreeSet<&str> = legs
        .iter()
        .filter(|l| l["status"] == "ok")
        .filter_map(|l| l["code"].as_str())
        .collect();
    for (_, o) in offers(body) {
        let s = o["supplier"].as_str().unwrap_or("");
        if !answered.contains(s) {
            return Some(format!(
                "an offer of {s}, which did not answer: {}",
                body["suppliers"]
            ));
        }
    }
    None
}

/// Books like a careful agent: a transient failure (5xx, a transport error, a booking in
/// progress) is retried with the same Idempotency-Key; a success is asked once more (it must be
/// replayed, not booked again).
async fn book_with_retries(edge: &str, offer: &str, key: &str, obs: &Arc<Mutex<Observed>>) {
    let body = json!({"offer_id": offer, "guests": [{"first_name": "Ada", "last_name": "Lovelace"}], "client_reference": key});
    for attempt in 0..5 {
        let (seen, answer) = agent_post(edge, "/v1/bookings", &body, Some(key), "book").await;
        let status = seen.status;
        let retry = status == 0 || status >= 500 || seen.code == "request_in_progress";
        {
            let mut o = obs.lock().expect("obs");
            o.seen.push(seen);
            let entry = o.bookings.entry(key.to_string()).or_default();
            entry.body = body.clone();
            if let Some(s) = answer["supplier"].as_str() {
                entry.supplier = s.to_string();
            }
            if status == 201 && entry.booked_at.is_none() {
                entry.booked_at = Some(Instant::now());
            }
            entry.answers.push((status, answer));
        }
        if status == 201 {
            let (again, replay) = agent_post(edge, "/v1/bookings", &body, Some(key), "book").await;
            let mut o = obs.lock().expect("obs");
            o.seen.push(again.clone());
            o.bookings
                .entry(key.to_string())
                .or_default()
                .answers
                .push((again.status, replay));
            return;
        }
        if !retry {
            return;
        }
        tokio::time::sleep(Duration::from_millis(150 * (attempt + 1))).await;
    }
}

/// When each outage began and ended, and the bookings retried after the edge restart (key,
/// replayed as the same booking, the answer).
#[derive(Default)]
struct Events {
    redis_down: Option<Instant>,
    redis_up: Option<Instant>,
    ch_down: Option<Instant>,
    ch_up: Option<Instant>,
    edge_down: Option<Instant>,
    edge_up: Option<Instant>,
    retried: Vec<(String, bool, String)>,
    /// Keys stored before the Redis outage, retried after the edge restart: (key, replayed).
    lost_keys: Vec<(String, bool)>,
}

/// A simulator as the fault injector sees it (apart from the stack, which restarts its edge).
struct SimRef {
    protocol: &'static str,
    url: String,
    state: Arc<SimState>,
}

fn sim_refs(stack: &Stack) -> Vec<SimRef> {
    PROTOCOLS
        .iter()
        .map(|p| SimRef {
            protocol: p,
            url: stack.sim(p).base_url(),
            state: stack.sim(p).state.clone(),
        })
        .collect()
}

/// Requests a simulator received that faults apply to (token endpoints excluded).
fn faultable(sim: &SimRef) -> u64 {
    sim.state
        .counters()
        .iter()
        .filter(|(k, _)| !k.to_ascii_lowercase().contains("token"))
        .map(|(_, v)| v)
        .sum()
}

async fn sim_admin(sim: &SimRef, method: &str, body: Option<Value>) {
    let url = format!("{}/__sim/scenario", sim.url);
    let raw = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let (status, _, b) = http_request(method, &url, &[("content-type", "application/json")], raw)
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&b));
}

/// Injects faults until `until`: every 300–900 ms one simulator gets a new default scenario (a
/// fault on all or one of its operations, or none). Returns the requests each fault met.
async fn inject(sims: &[SimRef], seed: u64, until: Instant) -> BTreeMap<String, u64> {
    let mut rng = Rng(seed.rotate_left(17) | 1);
    let mut current: HashMap<&str, (String, u64)> = HashMap::new();
    let mut met: BTreeMap<String, u64> = BTreeMap::new();
    let faults = [
        "server_error",
        "reset",
        "garbage",
        "malformed_body",
        "timeout",
        "rate_limited",
        "auth_fail",
    ];
    let ops = ["search", "recheck", "book"];
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(300 + rng.below(600))).await;
        let sim = &sims[rng.below(sims.len() as u64) as usize];
        let p = sim.protocol;
        let now = faultable(sim);
        if let Some((name, since)) = current.remove(p) {
            *met.entry(name).or_default() += now.saturating_sub(since);
        }
        let dice = rng.below(100);
        if dice < 35 {
            sim_admin(sim, "DELETE", None).await;
            continue;
        }
        let scenario = if dice < 55 {
            format!("slow:{}", 100 + rng.below(1400))
        } else {
            faults[rng.below(faults.len() as u64) as usize].to_string()
        };
        let only = (rng.below(2) == 0).then(|| ops[rng.below(3) as usize]);
        let mut body = json!({"scenario": scenario});
        if let Some(op) = only {
            body["operations"] = json!([op]);
        }
        sim_admin(sim, "POST", Some(body)).await;
        let name = scenario.split(':').next().unwrap_or("").to_string();
        current.insert(p, (name, faultable(sim)));
    }
    for sim in sims {
        if let Some((name, since)) = current.remove(sim.protocol) {
            *met.entry(name).or_default() += faultable(sim).saturating_sub(since);
        }
        sim_admin(sim, "DELETE", None).await;
    }
    met
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_under_load_never_leak_an_undocumented_5xx_or_a_double_booking() {
    let seed: u64 = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
        });
    let fault_secs: u64 = std::env::var("CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(45);
    eprintln!("chaos: seed {seed} (CHAOS_SEED={seed} replays the random choices), {fault_secs} s of faults");
    let codes = documented_codes();
    let ch = tokio::task::spawn_blocking(TestClickHouse::start)
        .await
        .expect("ClickHouse starts");
    let redis = tokio::task::spawn_blocking(TestRedis::start)
        .await
        .expect("Redis starts");
    let mut stack = Stack::start_with(Options {
        supplier_timeout: "300ms",
        deadline: "1s",
        booking_timeout: "2s",
        // Short open periods, so that recovery after the faults is bounded.
        extra_yaml: Some(format!(
            "circuit:\n  open_for: 1s\n  max_open_for: 4s\ntraces:\n  flush_interval: 200ms\n  clickhouse:\n    url: {}\n    database: chaos\ncache:\n  redis: {{url: \"{}\", timeout: 250ms}}\n",
            ch.url(),
            redis.url()
        )),
        ..Options::default()
    })
    .await;
    let hotels = Arc::new(shared_hotels(8));
    assert!(
        hotels.len() >= 4,
        "the mapping has hotels every supplier sells"
    );

    // Offers to start from, fetched before any fault.
    let pool = Arc::new(Mutex::new(Vec::new()));
    let ids: Vec<&str> = hotels.iter().take(3).map(String::as_str).collect();
    let (seen, body) = agent_post(
        &stack.edge,
        "/v1/search",
        &search_body(&ids, 30),
        None,
        "search",
    )
    .await;
    assert_eq!(seen.status, 200, "{}", seen.raw);
    pool.lock().expect("pool").extend(
        offers(&body)
            .into_iter()
            .filter_map(|(_, o)| o["offer_id"].as_str().map(str::to_string)),
    );
    assert!(
        !pool.lock().expect("pool").is_empty(),
        "offers before the faults"
    );

    let obs = Arc::new(Mutex::new(Observed::default()));
    let started = Instant::now();
    let until = started + Duration::from_secs(fault_secs);
    let mut clients = Vec::new();
    for n in 0..CLIENTS {
        clients.push(tokio::spawn(client(
            n,
            seed.wrapping_add(n as u64 * 0x9E37_79B9),
            stack.edge.clone(),
            hotels.clone(),
            pool.clone(),
            obs.clone(),
            until,
        )));
    }
    // Outages, at fixed points of the fault phase: Redis dies (and comes back empty), ClickHouse
    // dies, the edge is killed and started again (then bookings made before it are retried with
    // their keys), ClickHouse comes back.
    let sims = sim_refs(&stack);
    let at = |part: u64| started + Duration::from_millis(fault_secs * 1000 * part / 100);
    let edge = stack.edge.clone();
    let events = async {
        let mut ev = Events::default();
        let mut redis = redis;
        let mut ch = ch;
        tokio::time::sleep_until(at(12).into()).await;
        ev.redis_down = Some(Instant::now());
        redis = tokio::task::spawn_blocking(move || {
            redis.kill();
            redis
        })
        .await
        .expect("kill Redis");
        tokio::time::sleep_until(at(28).into()).await;
        redis = tokio::task::spawn_blocking(move || {
            redis.restart();
            redis
        })
        .await
        .expect("restart Redis");
        // Back for the edge once its invalidation feed follows Redis again and its breaker is
        // closed: keys claimed from then on are in Redis.
        let cache_url = format!("{}/admin/cache", stack.admin);
        let back_by = Instant::now() + Duration::from_secs(15);
        loop {
            let c = crate::harness::http("GET", &cache_url, &[], None)
                .await
                .body;
            if c["cluster"]["invalidation_feed"]["healthy"] == true
                && c["cluster"]["l2"]["redis"]["breaker_open"] == false
            {
                break;
            }
            assert!(
                Instant::now() < back_by,
                "the edge did not find Redis again within 15 s: {c}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ev.redis_up = Some(Instant::now());
        tokio::time::sleep_until(at(33).into()).await;
        ev.ch_down = Some(Instant::now());
        ch = tokio::task::spawn_blocking(move || {
            ch.stop();
            ch
        })
        .await
        .expect("stop ClickHouse");
        tokio::time::sleep_until(at(45).into()).await;
        ev.edge_down = Some(Instant::now());
        stack.restart_edge().await;
        ev.edge_up = Some(Instant::now());
        // Bookings answered after Redis came back (their keys are in Redis) and before the
        // restart are asked again: each must be replayed. Bookings from before the Redis outage
        // lost their keys with it (a Redis without persistence restarts empty): they are asked
        // again too, and then only the suppliers' own idempotency (our client reference) stands
        // between them and a second booking — checked with all the others below.
        let (kept, lost): (Vec<_>, Vec<_>) = {
            let o = obs.lock().expect("obs");
            let (down, up, edge_down) = (
                ev.redis_down.unwrap_or(started),
                ev.redis_up.unwrap_or(started) + Duration::from_secs(1),
                ev.edge_down.unwrap_or(started),
            );
            o.bookings
                .iter()
                .filter_map(|(k, b)| {
                    let t = b.booked_at?;
                    let first = b.answers.iter().find(|(s, _)| *s == 201)?;
                    let item = (
                        format!("{k} (booked at {:?})", t.duration_since(started)),
                        k.clone(),
                        b.body.clone(),
                        first.1["booking_id"].clone(),
                    );
                    if t > up && t < edge_down {
                        Some((true, item))
                    } else if t < down {
                        Some((false, item))
                    } else {
                        None
                    }
                })
                .partition(|(kept, _)| *kept)
        };
        let kept: Vec<_> = kept.into_iter().take(8).collect();
        let lost: Vec<_> = lost.into_iter().take(4).collect();
        for (kept, (label, key, body, booking_id)) in kept.into_iter().chain(lost) {
            let (seen, answer) = agent_post(&edge, "/v1/bookings", &body, Some(&key), "book").await;
            let same = seen.status == 201 && seen.replayed && answer["booking_id"] == booking_id;
            if kept {
                ev.retried.push((label, same, seen.raw.clone()));
            } else {
                ev.lost_keys.push((key.clone(), same));
            }
            let mut o = obs.lock().expect("obs");
            o.seen.push(seen.clone());
            o.bookings
                .entry(key)
                .or_default()
                .answers
                .push((seen.status, answer));
        }
        tokio::time::sleep_until(at(66).into()).await;
        ch = tokio::task::spawn_blocking(move || {
            ch.restart();
            ch
        })
        .await
        .expect("restart ClickHouse");
        ev.ch_up = Some(Instant::now());
        (ev, ch, redis)
    };
    let (met, (ev, ch, redis)) = tokio::join!(inject(&sims, seed, until), events);
    for c in clients {
        c.await.expect("client task");
    }
    let fault_phase = started.elapsed();

    // Recovery, with every fault cleared: a search nobody made before completes with all five
    // suppliers, and every circuit closes, within 30 s.
    let recovered_in;
    let mut tries = 0;
    loop {
        tries += 1;
        let (s, body) = agent_post(
            &stack.edge,
            "/v1/search",
            &search_body(&ids, 200 + tries),
            None,
            "search",
        )
        .await;
        let ok: Vec<&str> = body["suppliers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|l| l["status"] == "ok")
            .filter_map(|l| l["code"].as_str())
            .collect();
        let circuits = stack.admin_call("GET", "/admin/suppliers").await;
        let closed = circuits.body["suppliers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["circuit"]["state"] == "closed")
            .count();
        if s.status == 200 && body["complete"] == true && ok.len() == 5 && closed == 5 {
            recovered_in = started.elapsed() - fault_phase;
            break;
        }
        assert!(
            started.elapsed() - fault_phase < Duration::from_secs(30),
            "no recovery within 30 s of the faults ending: search {} {}; circuits {}",
            s.status,
            body["suppliers"],
            circuits.raw
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Spans reach the restarted ClickHouse again.
    let traces_before = stack.admin_call("GET", "/admin/traces").await.body;
    let written_before = traces_before["written"].as_u64().unwrap_or(0);
    let (s, _) = agent_post(
        &stack.edge,
        "/v1/search",
        &search_body(&ids, 250),
        None,
        "search",
    )
    .await;
    assert_eq!(s.status, 200);
    let flow_until = Instant::now() + Duration::from_secs(30);
    let cache_stats = stack.admin_call("GET", "/admin/cache").await.body;
    eprintln!(
        "chaos: Redis as the restarted edge saw it: {}",
        cache_stats["cluster"]["l2"]["redis"]
    );
    let traces_after = loop {
        let t = stack.admin_call("GET", "/admin/traces").await.body;
        if t["written"].as_u64().unwrap_or(0) > written_before {
            break t;
        }
        assert!(
            Instant::now() < flow_until,
            "no span written after ClickHouse came back: {t}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let obs = std::mem::take(&mut *obs.lock().expect("obs"));
    // The counts, for the record.
    let mut by_status: BTreeMap<(&str, u16, &str), u64> = BTreeMap::new();
    for s in &obs.seen {
        *by_status
            .entry((s.kind, s.status, s.code.as_str()))
            .or_default() += 1;
    }
    let rel = |t: Option<Instant>| t.map(|t| t.duration_since(started)).unwrap_or_default();
    eprintln!("chaos: {} agent requests in {fault_phase:?} ({CLIENTS} clients); recovered {recovered_in:?} after the faults ended ({tries} searches)", obs.seen.len());
    eprintln!(
        "chaos: Redis down {:?}..{:?}, ClickHouse down {:?}..{:?}, edge down {:?}..{:?}",
        rel(ev.redis_down),
        rel(ev.redis_up),
        rel(ev.ch_down),
        rel(ev.ch_up),
        rel(ev.edge_down),
        rel(ev.edge_up)
    );
    for ((kind, status, code), n) in &by_status {
        eprintln!("chaos:   {kind:7} {status} {code:22} {n}");
    }
    eprintln!("chaos: supplier requests met by each fault: {met:?}");
    eprintln!("chaos: spans after the restart: {traces_after}");

    // 1. Every answer came, and every 5xx is a documented supplier-failure answer.
    let mut wrong = Vec::new();
    for s in &obs.seen {
        let path = match s.kind {
            "search" => "/v1/search",
            "recheck" => "/v1/availability",
            _ => "/v1/bookings",
        };
        let during_restart = match (ev.edge_down, ev.edge_up) {
            (Some(down), Some(up)) => s.at <= up && s.at + s.elapsed >= down,
            _ => false,
        };
        if s.status == 0 && during_restart {
            // The edge was not there: refused or cut, as expected.
        } else if s.status == 0 {
            wrong.push(format!("{} got no HTTP answer: {}", s.kind, s.raw));
        } else if s.status >= 500 {
            match codes.get(&(path.to_string(), s.status)) {
                None => wrong.push(format!(
                    "{path} answered an undocumented {}: {}",
                    s.status, s.raw
                )),
                Some(c) if !c.contains(&s.code) => wrong.push(format!(
                    "{path} answered {} with undocumented code {:?} (documented: {c:?}): {}",
                    s.status, s.code, s.raw
                )),
                Some(_) => {}
            }
        }
    }
    wrong.extend(obs.inconsistent.iter().cloned());
    // 2. No request outlived its deadline.
    for s in &obs.seen {
        let bound = match s.kind {
            "search" => SEARCH_BOUND,
            "recheck" => RECHECK_BOUND,
            _ => BOOK_BOUND,
        };
        if s.elapsed > bound {
            wrong.push(format!(
                "{} took {:?} (bound {bound:?}): {} {}",
                s.kind, s.elapsed, s.status, s.raw
            ));
        }
    }
    // 3. No booking made twice. Each Idempotency-Key names one supplier-side client reference.
    let by_ref: HashMap<String, &String> = obs
        .bookings
        .keys()
        .map(|k| (client_reference("demo", k), k))
        .collect();
    let mut held = 0;
    for p in PROTOCOLS {
        let url = format!("{}/__sim/bookings", stack.sim(p).base_url());
        let list = crate::harness::http("GET", &url, &[], None).await.body;
        let mut per_ref: HashMap<String, Vec<String>> = HashMap::new();
        for b in list.as_array().expect("a booking list") {
            let cref = b["client_reference"].as_str().unwrap_or("").to_string();
            per_ref
                .entry(cref)
                .or_default()
                .push(b["reference"].as_str().unwrap_or("").to_string());
        }
        for (cref, refs) in &per_ref {
            held += refs.len();
            if refs.len() > 1 {
                wrong.push(format!(
                    "{p} holds {} bookings for client reference {cref}: {refs:?}",
                    refs.len()
                ));
            }
            if !by_ref.contains_key(cref) {
                wrong.push(format!("{p} holds a booking no agent asked for: {cref}"));
            }
        }
        // Every confirmed booking an agent was told of is the one the supplier holds.
        for (key, attempts) in &obs.bookings {
            if attempts.supplier != p {
                continue;
            }
            let cref = client_reference("demo", key);
            for (status, a) in &attempts.answers {
                if *status == 201 && a["status"] == "confirmed" {
                    let sref = a["supplier_reference"].as_str().unwrap_or("");
                    let ok = per_ref
                        .get(&cref)
                        .is_some_and(|r| r.iter().any(|x| x == sref));
                    if !ok {
                        wrong.push(format!(
                            "{key}: confirmed {sref} is not among {p}'s bookings for {cref}"
                        ));
                    }
                }
            }
        }
    }
    // A key's successes all name one supplier booking (a retry was replayed or, its key lost
    // with Redis, found the supplier's booking again; never a second one).
    let mut confirmed = 0;
    let mut unknown = 0;
    for (key, attempts) in &obs.bookings {
        let refs: BTreeSet<&str> = attempts
            .answers
            .iter()
            .filter(|(s, _)| *s == 201)
            .filter_map(|(_, a)| a["supplier_reference"].as_str())
            .filter(|r| !r.is_empty())
            .collect();
        if refs.len() > 1 {
            wrong.push(format!(
                "{key} got {} different supplier bookings: {refs:?}",
                refs.len()
            ));
        }
        if let Some((_, a)) = attempts.answers.iter().find(|(s, _)| *s == 201) {
            match a["status"].as_str() {
                Some("unknown") => unknown += 1,
                _ => confirmed += 1,
            }
        }
    }
    eprintln!(
        "chaos: {} booking keys, {confirmed} booked, {unknown} unknown (never retried blindly), {held} bookings held by the simulators",
        obs.bookings.len()
    );
    let searches = obs.seen.iter().filter(|s| s.kind == "search").count();
    let books = obs.seen.iter().filter(|s| s.kind == "book").count();
    assert!(
        searches > 50 && books > 0,
        "too little traffic to mean anything: {searches} searches, {books} bookings"
    );
    assert!(met.values().sum::<u64>() > 0, "no fault met a request");
    // 4. Bookings made before the edge restart, retried after it: the same booking, replayed.
    eprintln!(
        "chaos: {} bookings retried after the edge restart (keys in Redis: all must replay); {} of {} whose keys died with Redis replayed (the rest were sent again, and the simulators still hold one booking each)",
        ev.retried.len(),
        ev.lost_keys.iter().filter(|(_, same)| *same).count(),
        ev.lost_keys.len()
    );
    assert!(
        !ev.retried.is_empty(),
        "no booking before the edge restart to retry"
    );
    for (key, same, raw) in &ev.retried {
        if !same {
            wrong.push(format!(
                "{key} retried after the edge restart was not replayed as the same booking: {raw}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} violations:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    drop((ch, redis));
}
