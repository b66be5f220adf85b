//! Scale-out (DESIGN §5, §8): two real edge processes, each with its own five simulators of the
//! same world, sharing one throwaway Redis. Proven with the simulators' counters and the
//! `X-Arigate-Cache` answers: a search cached through one node is a hit on the other, a webhook on
//! one node reaches the other within 100 ms, losing Redis fails nothing and its return restores
//! sharing, hot entries are refreshed ahead of expiry within the pull interval, and a supplier's
//! quota holds for both nodes together.

use crate::cache::{all_searches, search};
use crate::demo::{demo_command, Demo};
use crate::harness::*;
use arigate::cluster::testkit::TestRedis;
use arigate_sim::world::PROTOCOLS;
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Nodes on `redis`; a generous Redis timeout, so a loaded test machine does not make the nodes
/// fall back to local decisions (a killed Redis refuses connections at once anyway).
pub(crate) fn cluster_options(redis: &TestRedis, cache: &str) -> Options {
    Options {
        extra_yaml: Some(format!(
            "cache:\n  redis: {{url: \"{}\", timeout: 250ms}}\n{cache}",
            redis.url()
        )),
        ..Options::default()
    }
}

/// Two nodes on one Redis, each with its own simulators; returns once both follow the feed.
async fn two_nodes(opts: Options) -> (Stack, Stack) {
    let (a, b) = tokio::join!(Stack::start_with(opts.clone()), Stack::start_with(opts));
    for node in [&a, &b] {
        until(
            "the invalidation feed is up",
            Duration::from_secs(10),
            || async { stats(node).await["cluster"]["invalidation_feed"]["healthy"] == true },
        )
        .await;
    }
    (a, b)
}

/// Reloads `stack`'s config file (unchanged): a new App generation around the node's state.
async fn reload(stack: &Stack) {
    let r = stack.admin_call("POST", "/admin/config/reload").await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["result"], "ok", "{}", r.raw);
    assert!(r.body["generation"].as_u64() >= Some(1), "{}", r.raw);
}

/// The sum of the samples of metric family `name` on `stack`'s `/metrics`.
async fn metric_sum(stack: &Stack, name: &str) -> f64 {
    let text = http("GET", &format!("{}/metrics", stack.admin), &[], None)
        .await
        .raw;
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn stats(stack: &Stack) -> Value {
    stack.admin_call("GET", "/admin/cache").await.body
}

async fn written(stack: &Stack) -> u64 {
    stats(stack).await["cluster"]["l2"]["written"]
        .as_u64()
        .unwrap_or(0)
}

fn cached(a: &Answer, supplier: &str) -> bool {
    a.body["suppliers"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| s["code"] == supplier && s["cached"] == true)
}

/// Fills through `a` and waits until Redis has all five legs.
async fn fill(a: &Stack, ids: &[String], days: i64) {
    let before = written(a).await;
    let first = search(a, ids, days).await;
    assert_eq!(
        first.header("x-arigate-cache"),
        Some("miss"),
        "{}",
        first.raw
    );
    until("five L2 writes", Duration::from_secs(5), || async {
        written(a).await >= before + 5
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_cached_on_one_node_is_a_hit_on_the_other_and_a_webhook_reaches_it_within_100ms() {
    let redis = TestRedis::start();
    let (a, b) = two_nodes(cluster_options(&redis, "")).await;
    let hotels = shared_hotels(2);
    let h = vec![hotels[0].clone()];
    fill(&a, &h, 30).await;
    let a_calls = all_searches(&a);
    assert!(a_calls.values().all(|n| *n == 1), "{a_calls:?}");
    // Config reloads on both nodes keep the shared tier and the invalidation feed below.
    reload(&a).await;
    reload(&b).await;

    let started = Instant::now();
    let on_b = search(&b, &h, 30).await;
    let l2_hit = started.elapsed();
    assert_eq!(on_b.header("x-arigate-cache"), Some("hit"), "{}", on_b.raw);
    assert!(PROTOCOLS.iter().all(|p| cached(&on_b, p)), "{}", on_b.raw);
    assert_eq!(on_b.body["complete"], true);
    assert!(
        all_searches(&b).values().all(|n| *n == 0),
        "node b asked its suppliers: {:?}",
        all_searches(&b)
    );
    assert_eq!(all_searches(&a), a_calls, "node a asked again");
    // Offers node b serves from node a's entries verify on node b (one token secret for the
    // cluster) and re-check live at node b's supplier. (Only suppliers whose simulated rate keys
    // are the same in every simulator instance: hotelbeds and expedia-rapid simulators issue
    // per-instance keys, where a real cluster has one supplier.)
    for supplier in ["ota-soap", "dida"] {
        let offer = offer_of_supplier(&on_b.body, supplier);
        let recheck = b.recheck(&offer["offer_id"]).await;
        assert_eq!(recheck.status, 200, "{}", recheck.raw);
    }
    let started = Instant::now();
    let l1_hit = search(&b, &h, 30).await;
    let l1 = started.elapsed();
    assert_eq!(l1_hit.header("x-arigate-cache"), Some("hit"));
    eprintln!("search answered from L2 (Redis) in {l2_hit:?}, then from L1 in {l1:?}");

    let heard_before = stats(&b).await["cluster"]["invalidation_feed"]["received"].as_u64();
    // A sells out at node a's hotelbeds, which pushes a webhook to node a only.
    let d = a
        .sim_webhook("hotelbeds", "ROOM_SOLD_OUT", &code_of(&h[0], "hotelbeds"))
        .await;
    assert_eq!(d.body["status"], 202, "{}", d.raw);
    let delivered = Instant::now();
    let received = until("node b hears of it", Duration::from_millis(100), || async {
        stats(&b).await["cluster"]["invalidation_feed"]["received"].as_u64() > heard_before
    })
    .await;
    // Node b's searches from then on miss hotelbeds: the first one that started after 100 ms at
    // the latest did.
    let mut first_miss = None;
    while first_miss.is_none() {
        let started = delivered.elapsed();
        assert!(
            started < Duration::from_millis(100),
            "no miss on node b within 100 ms"
        );
        if !cached(&search(&b, &h, 30).await, "hotelbeds") {
            first_miss = Some(started);
        }
    }
    eprintln!(
        "webhook accepted by node a → applied on node b after {received:?}, its next search (started at {:?}) missed",
        first_miss.unwrap_or_default()
    );
    assert_eq!(searches(&b, "hotelbeds"), 1, "node b asked hotelbeds again");
    // Only that supplier, only that hotel: the other hotel is still shared.
    let other = vec![hotels[1].clone()];
    fill(&a, &other, 30).await;
    let again = search(&b, &other, 30).await;
    assert_eq!(
        again.header("x-arigate-cache"),
        Some("hit"),
        "{}",
        again.raw
    );
    let b_stats = stats(&b).await;
    assert!(
        b_stats["cluster"]["invalidation_feed"]["received"].as_u64() >= Some(1),
        "{b_stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_redis_fails_nothing_and_its_return_restores_sharing() {
    let mut redis = TestRedis::start();
    // Without the feed, browse answers are trusted as long as a supplier's without webhooks: 4 s.
    let (a, b) = two_nodes(cluster_options(
        &redis,
        "  browse_max_ttl_without_webhooks: 4s",
    ))
    .await;
    let hotels = shared_hotels(4);
    let h1 = vec![hotels[0].clone()];
    let filled = Instant::now();
    fill(&a, &h1, 30).await;
    assert_eq!(
        search(&b, &h1, 30).await.header("x-arigate-cache"),
        Some("hit")
    );

    redis.kill();
    let started = Instant::now();
    for (node, day) in [(&a, 31), (&b, 32), (&a, 33), (&b, 34)] {
        let s = search(node, &[hotels[1].clone(), hotels[2].clone()], day).await;
        assert_eq!(s.body["complete"], true, "{}", s.raw);
        assert_eq!(s.header("x-arigate-cache"), Some("miss"), "{}", s.raw);
    }
    // What each node holds itself is still served while recent enough to trust without the feed,
    // then asked again: another node's webhook may have gone unheard.
    let held = search(&b, &h1, 30).await;
    assert!(
        filled.elapsed() < Duration::from_secs(4),
        "the test machine is too slow"
    );
    assert_eq!(held.header("x-arigate-cache"), Some("hit"), "{}", held.raw);
    eprintln!("five searches with Redis down took {:?}", started.elapsed());
    tokio::time::sleep(
        Duration::from_secs(4).saturating_sub(filled.elapsed()) + Duration::from_millis(200),
    )
    .await;
    let before = all_searches(&b);
    let distrusted = search(&b, &h1, 30).await;
    assert_eq!(
        distrusted.header("x-arigate-cache"),
        Some("miss"),
        "{}",
        distrusted.raw
    );
    assert!(
        PROTOCOLS
            .iter()
            .all(|p| all_searches(&b)[p] == before[p] + 1),
        "{:?} → {:?}",
        before,
        all_searches(&b)
    );
    let down = stats(&a).await;
    let l2 = &down["cluster"]["l2"];
    assert!(l2["unavailable"].as_u64() >= Some(1), "{down}");
    assert!(l2["redis"]["errors"].as_u64() >= Some(1), "{down}");
    // And in the metrics registry.
    assert!(metric_sum(&a, "arigate_redis_errors_total").await >= 1.0);

    redis.restart();
    for node in [&a, &b] {
        until("the feed is back", Duration::from_secs(15), || async {
            stats(node).await["cluster"]["invalidation_feed"]["healthy"] == true
        })
        .await;
    }
    let h4 = vec![hotels[3].clone()];
    let before = all_searches(&b);
    // The breaker may still be open for a moment after the feed is back: retry the fill briefly.
    until(
        "node a writes to Redis again",
        Duration::from_secs(10),
        || async {
            let w = written(&a).await;
            search(&a, &h4, 40).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            written(&a).await >= w + 5
        },
    )
    .await;
    let shared = search(&b, &h4, 40).await;
    assert_eq!(
        shared.header("x-arigate-cache"),
        Some("hit"),
        "{}",
        shared.raw
    );
    assert_eq!(all_searches(&b), before, "node b asked its suppliers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_entries_are_refreshed_ahead_and_never_expire_within_the_pull_interval() {
    let redis = TestRedis::start();
    let mut opts = cluster_options(
        &redis,
        // Refresh from 60 % of the TTL on: a refresh has 1.8 s to land, room for a loaded CI core.
        "  browse_max_ttl: 3s\n  hot_requests_per_minute: 6\n  refresh_ahead: {before_expiry: 0.6, min_hotness: 0.5}",
    );
    opts.supplier_timeout = "2s";
    opts.deadline = "3s";
    opts.supplier_yaml = vec![("*", "min_pull_interval: 1s\nrate_limit_rps: 5".to_string())];
    let (a, b) = two_nodes(opts).await;
    let h = vec![shared_hotels(1).remove(0)];
    fill(&a, &h, 30).await;

    // Steady traffic for 8 s (more than two 3 s TTLs), alternating nodes.
    let started = Instant::now();
    let run = Duration::from_secs(8);
    let mut n = 0;
    let mut not_hits = Vec::new();
    while started.elapsed() < run {
        let node = if n % 2 == 0 { &b } else { &a };
        let s = search(node, &h, 30).await;
        if s.header("x-arigate-cache") != Some("hit") {
            not_hits.push(format!("{:?}: {}", started.elapsed(), s.raw));
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(n > 30, "{n}");
    assert!(
        not_hits.is_empty(),
        "{} of {n} not hits: {:?}",
        not_hits.len(),
        not_hits.first()
    );
    // Every supplier was refreshed (else its entry would have expired after 3 s), by one node at a
    // time, never more than once per min_pull_interval (1 s): at most 1 + 8 + 1 calls in ~8 s.
    let elapsed = started.elapsed().as_secs_f64();
    for p in PROTOCOLS {
        let calls = searches(&a, p) + searches(&b, p);
        assert!(calls >= 3, "{p}: {calls} calls, no refresh-ahead");
        assert!(
            calls as f64 <= 2.0 + elapsed.ceil(),
            "{p}: {calls} calls in {elapsed:.1} s"
        );
        eprintln!("{p}: {calls} supplier calls for {n} searches in {elapsed:.1} s");
    }
    let (sa, sb) = (stats(&a).await, stats(&b).await);
    let claimed = |s: &Value| s["cluster"]["refresh"]["claimed"].as_u64().unwrap_or(0);
    assert!(claimed(&sa) + claimed(&sb) >= 10, "{sa}\n{sb}");
}

fn unix_second() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suppliers_quota_holds_for_both_nodes_together() {
    let redis = TestRedis::start();
    let mut opts = cluster_options(&redis, "");
    let limit = 4u64;
    opts.supplier_yaml = vec![("hotelbeds", format!("rate_limit_rps: {limit}"))];
    let (a, b) = two_nodes(opts).await;
    let hotels = shared_hotels(8);
    let total = |a: &Stack, b: &Stack| searches(a, "hotelbeds") + searches(b, "hotelbeds");

    // Both nodes search distinct (uncached) stays as fast as they can for 4 s; hotelbeds calls
    // are counted per calendar second at the simulators.
    let start_second = unix_second() + 1;
    let seconds = 4;
    let drive = |node: &Stack, offset: i64| {
        let edge = node.edge.clone();
        let hotels = hotels.clone();
        async move {
            let auth = format!("Bearer {API_KEY}");
            let mut out = Vec::new();
            let mut i = 0i64;
            while unix_second() < start_second + seconds {
                let ids = [hotels[((i / 40) % 8) as usize].as_str()];
                let body = search_body(&ids, 20 + offset + i % 40);
                out.push(
                    http(
                        "POST",
                        &format!("{edge}/v1/search"),
                        &[("authorization", &auth)],
                        Some(&body),
                    )
                    .await,
                );
                i += 1;
            }
            out
        }
    };
    while unix_second() < start_second {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut per_second = Vec::new();
    let counting = async {
        let mut last = total(&a, &b);
        let mut second = start_second;
        while per_second.len() < seconds as usize {
            while unix_second() <= second {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let now = total(&a, &b);
            per_second.push(now - last);
            last = now;
            second += 1;
        }
    };
    let (ra, rb, ()) = tokio::join!(drive(&a, 0), drive(&b, 40), counting);
    eprintln!("hotelbeds calls per second, both nodes: {per_second:?} (limit {limit})");
    assert!(
        per_second.iter().all(|n| *n <= limit + 1),
        "{per_second:?} over {limit}/s; node stats:\n{}\n{}",
        stats(&a).await,
        stats(&b).await
    );
    let answers: Vec<&Answer> = ra.iter().chain(rb.iter()).collect();
    let throttled = answers
        .iter()
        .filter(|s| {
            s.body["suppliers"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|x| {
                    x["code"] == "hotelbeds"
                        && x["status"] == "skipped"
                        && x["error"] == "rate_capped"
                })
        })
        .count();
    assert!(throttled > 0, "no search was throttled");
    for s in &answers {
        assert_eq!(s.status, 200, "{}", s.raw);
        let throttled = s.body["suppliers"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|x| x["status"] == "skipped" && x["error"] == "rate_capped");
        // A throttled supplier is missing from the answer, and the answer says so.
        assert_eq!(s.body["complete"], !throttled, "{}", s.raw);
    }
    let denied: u64 = [&a, &b]
        .iter()
        .map(|n| async move {
            let s = http("GET", &format!("{}/admin/cache", n.admin), &[], None).await;
            s.body["quota"]["denied"].as_u64().unwrap_or(0)
        })
        .collect::<futures::future::JoinAll<_>>()
        .await
        .into_iter()
        .sum();
    assert!(denied >= throttled as u64, "{denied} < {throttled}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transactional_call_over_quota_gets_a_clear_503_and_never_reaches_the_supplier() {
    let stack = Stack::start_with(Options {
        supplier_yaml: vec![("hotelbeds", "rate_limit_rps: 1".to_string())],
        ..Options::default()
    })
    .await;
    let s = search(&stack, &shared_hotels(1), 30).await;
    let offer = offer_of_supplier(&s.body, "hotelbeds");
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let r = stack.recheck(&offer["offer_id"]).await;
        if r.status == 503 {
            assert_eq!(r.body["error"]["code"], "rate_capped", "{}", r.raw);
            assert_eq!(r.header("retry-after"), Some("1"));
        } else {
            assert_eq!(r.status, 200, "{}", r.raw);
        }
        statuses.push(r.status);
    }
    let ok = statuses.iter().filter(|s| **s == 200).count() as u64;
    assert!(statuses.contains(&503), "{statuses:?}");
    assert_eq!(
        stack
            .counters("hotelbeds")
            .get("checkrates")
            .copied()
            .unwrap_or(0),
        ok,
        "a refused re-check reached the supplier"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_demo_nodes_on_one_redis_share_their_cache_and_offers() {
    let redis = TestRedis::start();
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let (listen, admin) = (free_addr(), free_addr());
        let child = demo_command(listen, admin)
            .args(["--redis", &redis.url()])
            .env("RUST_LOG", "warn,pingora_cache::meta=error")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("arigate demo starts");
        nodes.push((
            Demo(child),
            format!("http://{listen}"),
            format!("http://{admin}"),
        ));
    }
    for (_, _, admin) in &nodes {
        until(
            "the demo node is ready and follows the feed",
            Duration::from_secs(30),
            || async {
                let s = arigate_sim::server::http_request(
                    "GET",
                    &format!("{admin}/admin/cache"),
                    &[],
                    Vec::new(),
                )
                .await;
                matches!(s, Ok((200, _, body)) if serde_json::from_slice::<Value>(&body)
                .is_ok_and(|v| v["cluster"]["invalidation_feed"]["healthy"] == true))
            },
        )
        .await;
    }
    let auth = format!("Bearer {API_KEY}");
    let ids = shared_hotels(1);
    let body = search_body(&[ids[0].as_str()], 25);
    let search_on = |edge: &str| {
        let url = format!("{edge}/v1/search");
        let (auth, body) = (auth.clone(), body.clone());
        async move { http("POST", &url, &[("authorization", &auth)], Some(&body)).await }
    };
    let first = search_on(&nodes[0].1).await;
    assert_eq!(
        first.header("x-arigate-cache"),
        Some("miss"),
        "{}",
        first.raw
    );
    let admin0 = nodes[0].2.clone();
    until("node 1 wrote to Redis", Duration::from_secs(5), || async {
        let s = http("GET", &format!("{admin0}/admin/cache"), &[], None).await;
        s.body["cluster"]["l2"]["written"].as_u64() >= Some(5)
    })
    .await;
    let second = search_on(&nodes[1].1).await;
    assert_eq!(
        second.header("x-arigate-cache"),
        Some("hit"),
        "{}",
        second.raw
    );
    let s = http("GET", &format!("{}/admin/cache", nodes[1].2), &[], None).await;
    assert_eq!(s.body["cluster"]["l2"]["hits"], 5, "{}", s.raw);
    // An offer shown by node 2 is accepted by node 1 (the demo cluster shares its token secret).
    let offer = offer_of_supplier(&second.body, "ota-soap");
    let recheck = http(
        "POST",
        &format!("{}/v1/availability", nodes[0].1),
        &[("authorization", &auth)],
        Some(&json!({"offer_id": offer["offer_id"]})),
    )
    .await;
    assert_eq!(recheck.status, 200, "{}", recheck.raw);
}

/// Dida book requests both nodes' simulators received.
fn dida_bookings(nodes: &[&Stack]) -> u64 {
    nodes
        .iter()
        .map(|n| {
            n.counters("dida")
                .get("HotelBookingConfirm")
                .copied()
                .unwrap_or(0)
        })
        .sum()
}

/// A dida offer id for hotel `id` on `days` ahead, searched through `node`.
async fn dida_offer(node: &Stack, id: &str, days: i64) -> String {
    let s = search(node, &[id.to_string()], days).await;
    let offer = offer_of_supplier(&s.body, "dida");
    offer["offer_id"].as_str().expect("offer id").to_string()
}

fn idem(stats: &Value, field: &str) -> u64 {
    stats["cluster"]["l2"]["redis"]["idempotency"][field]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_retried_on_another_node_after_a_restart_or_concurrently_is_booked_once() {
    let mut redis = TestRedis::start();
    let (mut a, b) = two_nodes(cluster_options(&redis, "")).await;
    let hotels = shared_hotels(3);

    // A retry on the other node replays the first answer; the supplier saw one booking.
    let offer = dida_offer(&a, &hotels[0], 30).await;
    let first = a.book(&offer, "cluster-key-1").await;
    assert_eq!(first.status, 201, "{}", first.raw);
    let id = first.body["booking_id"].clone();
    let on_b = b.book(&offer, "cluster-key-1").await;
    assert_eq!(on_b.status, 201, "{}", on_b.raw);
    assert_eq!(on_b.header("idempotent-replayed"), Some("true"));
    assert_eq!(on_b.body["booking_id"], id);
    assert_eq!(dida_bookings(&[&a, &b]), 1);
    // The same key with another body is refused on the other node too.
    let other = dida_offer(&b, &hotels[1], 31).await;
    let reused = b.book(&other, "cluster-key-1").await;
    assert_eq!(reused.status, 422, "{}", reused.raw);
    assert!(idem(&stats(&b).await, "replayed") >= 1);

    // After a restart node a remembers nothing itself, and still answers from Redis.
    a.restart_edge().await;
    until(
        "the restarted node follows the feed",
        Duration::from_secs(10),
        || async { stats(&a).await["cluster"]["invalidation_feed"]["healthy"] == true },
    )
    .await;
    let again = a.book(&offer, "cluster-key-1").await;
    assert_eq!(again.status, 201, "{}", again.raw);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["booking_id"], id);
    assert_eq!(dida_bookings(&[&a, &b]), 1, "a restart booked again");

    // A duplicate sent to node b while node a's booking is still running waits for it.
    a.set_scenario("dida", "slow:1500", Some(&["book"])).await;
    let offer = dida_offer(&a, &hotels[2], 32).await;
    let started = Instant::now();
    let (on_a, on_b) = tokio::join!(a.book(&offer, "cluster-key-2"), async {
        until(
            "node a's booking reaches its supplier",
            Duration::from_secs(10),
            || async { dida_bookings(&[&a, &b]) == 2 },
        )
        .await;
        b.book(&offer, "cluster-key-2").await
    });
    eprintln!(
        "concurrent duplicate answered after {:?} (the booking took 1.5 s)",
        started.elapsed()
    );
    assert_eq!(on_a.status, 201, "{}", on_a.raw);
    assert_eq!(on_b.status, 201, "{}", on_b.raw);
    assert_eq!(on_b.header("idempotent-replayed"), Some("true"));
    assert_eq!(on_a.body["booking_id"], on_b.body["booking_id"]);
    assert_eq!(dida_bookings(&[&a, &b]), 2);
    assert!(idem(&stats(&b).await, "waited") >= 1);
    a.set_scenario("dida", "ok", None).await;

    // Redis gone: bookings go on, each node keeping its keys itself, and that is counted.
    let offer = dida_offer(&b, &hotels[0], 33).await;
    redis.kill();
    let booked = b.book(&offer, "cluster-key-3").await;
    assert_eq!(booked.status, 201, "{}", booked.raw);
    let replayed = b.book(&offer, "cluster-key-3").await;
    assert_eq!(replayed.status, 201, "{}", replayed.raw);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    assert_eq!(replayed.body["booking_id"], booked.body["booking_id"]);
    assert_eq!(dida_bookings(&[&a, &b]), 3);
    assert!(idem(&stats(&b).await, "fallback") >= 1);
    assert!(metric_sum(&b, "arigate_redis_errors_total{reason=\"local_fallback\"}").await >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_heard_by_another_node_defeats_this_nodes_answer_cache() {
    let redis = TestRedis::start();
    let (a, b) = two_nodes(cluster_options(&redis, "")).await;
    let h = vec![shared_hotels(1).remove(0)];
    fill(&a, &h, 30).await;
    search(&b, &h, 30).await;
    // Node b's next search is its own whole cached answer: no leg, no supplier.
    let whole = search(&b, &h, 30).await;
    assert!(
        crate::answers::from_answer_cache(&b, &whole).await,
        "{}",
        whole.raw
    );
    let b_calls = all_searches(&b);
    let heard_before = stats(&b).await["cluster"]["invalidation_feed"]["received"].as_u64();
    let d = a
        .sim_webhook("hotelbeds", "ROOM_SOLD_OUT", &code_of(&h[0], "hotelbeds"))
        .await;
    assert_eq!(d.body["status"], 202, "{}", d.raw);
    until("node b hears of it", Duration::from_secs(5), || async {
        stats(&b).await["cluster"]["invalidation_feed"]["received"].as_u64() > heard_before
    })
    .await;
    let after = search(&b, &h, 30).await;
    assert!(
        !crate::answers::from_answer_cache(&b, &after).await,
        "{}",
        after.raw
    );
    assert!(!cached(&after, "hotelbeds"), "{}", after.raw);
    let now = all_searches(&b);
    for p in PROTOCOLS {
        let want = b_calls[p] + u64::from(p == "hotelbeds");
        assert_eq!(now[p], want, "{p}: {now:?} after {b_calls:?}");
    }
}
