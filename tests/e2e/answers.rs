//! Whole search answers cached per agent (`proxy/src/api/answers.rs`): a repeated search is served
//! whole — the same offers and tokens, with this request's trace id and `cache_hit` spans naming
//! the search that made the answer — with no supplier call, and every invalidation the legs obey (webhook, failed
//! re-check, admin purge) defeats it. Proven with simulator counters, re-checks and spans.

use crate::harness::*;
use arigate_sim::world::PROTOCOLS;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn all_searches(stack: &Stack) -> BTreeMap<&'static str, u64> {
    PROTOCOLS.iter().map(|p| (*p, searches(stack, p))).collect()
}

async fn search(stack: &Stack, ids: &[String]) -> Answer {
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let a = stack
        .agent("POST", "/v1/search", Some(&search_body(&ids, 30)))
        .await;
    assert_eq!(a.status, 200, "{}", a.raw);
    a
}

/// Every span object in a trace answer, however nested.
fn spans(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(m) => {
            if m.contains_key("event_type") && m.contains_key("span_id") {
                out.push(v.clone());
            }
            m.values().for_each(|x| spans(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| spans(x, out)),
        _ => {}
    }
}

/// The spans of `trace_id` once the root is recorded (bounded wait).
async fn trace_spans(stack: &Stack, trace_id: &str) -> Vec<Value> {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let a = http(
            "GET",
            &format!("{}/api/traces/{trace_id}", stack.admin),
            &[],
            None,
        )
        .await;
        let mut out = Vec::new();
        spans(&a.body, &mut out);
        if a.status == 200 && out.iter().any(|s| s["parent_span_id"].is_null()) {
            return out;
        }
        assert!(Instant::now() < until, "trace {trace_id}: {}", a.raw);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether `a` was served from the answer cache: its trace's `cache_hit` spans, one per supplier
/// leg, name the search that made the answer.
pub async fn from_answer_cache(stack: &Stack, a: &Answer) -> bool {
    let id = a.body["trace_id"].as_str().unwrap_or("");
    let s = trace_spans(stack, id).await;
    let hits = s
        .iter()
        .filter(|s| s["event_type"] == "cache_hit" && s["attributes"]["answer_of"].is_string())
        .count();
    hits > 0 && !s.iter().any(|s| s["event_type"] == "supplier_query")
}

/// An offer id without its per-response context (the signed offer itself).
fn base(offer_id: &str) -> String {
    offer_id
        .splitn(3, '.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".")
}

fn bases(a: &Answer) -> Vec<String> {
    offers(&a.body)
        .iter()
        .map(|(_, o)| base(o["offer_id"].as_str().unwrap_or("")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_search_is_served_whole_with_its_own_trace_and_bookable_offers() {
    let stack = Stack::start().await;
    let ids = shared_hotels(3);
    let first = search(&stack, &ids).await;
    assert_eq!(first.header("x-arigate-cache"), Some("miss"));
    let calls = all_searches(&stack);

    let again = search(&stack, &ids).await;
    assert_eq!(again.header("x-arigate-cache"), Some("hit"));
    assert_eq!(again.header("x-arigate-complete"), Some("true"));
    assert_eq!(again.body["cache"], "hit");
    assert_eq!(again.body["complete"], true);
    assert_eq!(
        all_searches(&stack),
        calls,
        "a whole-answer hit reached a supplier"
    );
    assert!(from_answer_cache(&stack, &again).await, "{}", again.raw);
    assert!(!from_answer_cache(&stack, &first).await);
    // Its own trace id; the first answer's offers and data time.
    assert_ne!(again.body["trace_id"], first.body["trace_id"]);
    assert_eq!(again.header("x-trace-id"), again.body["trace_id"].as_str());
    assert_eq!(again.body["as_of"], first.body["as_of"]);
    assert_eq!(bases(&again), bases(&first));
    assert!(!bases(&again).is_empty());
    // The cache_hit spans cover every supplier that answered, with the hotels asked.
    let hit_spans = trace_spans(&stack, again.body["trace_id"].as_str().unwrap_or("")).await;
    let mut covered: Vec<String> = hit_spans
        .iter()
        .filter(|s| s["event_type"] == "cache_hit")
        .map(|s| s["supplier"].as_str().unwrap_or("").to_string())
        .collect();
    covered.sort();
    let mut answered: Vec<String> = again.body["suppliers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["status"] == "ok")
        .map(|s| s["code"].as_str().unwrap_or("").to_string())
        .collect();
    answered.sort();
    assert_eq!(covered, answered);

    // Offers served from the answer cache are real and trace back to their search: each
    // supplier re-checks its own, the re-check names the search that made the answer (its
    // tokens are signed once per stored answer), and the hit's own trace names that search
    // in `answer_of`, so the request that showed the offer is found from the booking's story.
    let served = offers(&again.body);
    for p in PROTOCOLS {
        let Some((_, offer)) = served.iter().find(|(_, o)| o["supplier"] == p) else {
            continue;
        };
        let before = stack.counters(p);
        let check = stack.recheck(&offer["offer_id"]).await;
        assert_eq!(check.status, 200, "{p}: {}", check.raw);
        assert_ne!(
            stack.counters(p),
            before,
            "{p}: the re-check reached the supplier"
        );
        let trace = check.header("x-trace-id").unwrap_or("").to_string();
        let root = trace_spans(&stack, &trace)
            .await
            .into_iter()
            .find(|s| s["parent_span_id"].is_null())
            .unwrap_or_default();
        assert_eq!(
            root["attributes"]["search_trace_id"], first.body["trace_id"],
            "{p}: {root}"
        );
    }
    let hit_root = hit_spans
        .iter()
        .find(|s| s["parent_span_id"].is_null())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        hit_root["attributes"]["answer_of"], first.body["trace_id"],
        "{hit_root}"
    );
    assert!(hit_spans
        .iter()
        .filter(|s| s["event_type"] == "cache_hit")
        .all(|s| s["attributes"]["answer_of"] == first.body["trace_id"]
            && s["parent_span_id"] == hit_root["span_id"]));
    // A context moved onto another answer's offer is refused before any supplier call.
    let (_, o) = &served[0];
    let id = o["offer_id"].as_str().unwrap_or("");
    let ctx = &id[base(id).len()..];
    let other = search(&stack, &shared_hotels(4)[3..]).await;
    let (_, foreign) = &offers(&other.body)[0];
    let moved = format!("{}{ctx}", base(foreign["offer_id"].as_str().unwrap_or("")));
    let total = stack.total_requests();
    let r = stack.recheck(&moved).await;
    assert!(
        r.status == 400 || r.status == 401 || r.status == 403,
        "{}",
        r.raw
    );
    assert_eq!(stack.total_requests(), total);
}

/// A span without what differs per request (ids, times).
fn without_ids(span: &Value) -> Value {
    let mut s = span.clone();
    if let Some(m) = s.as_object_mut() {
        for k in ["trace_id", "span_id", "start_ms", "duration_ms", "children"] {
            m.remove(k);
        }
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hit_has_the_same_full_root_span_found_by_trace_and_hotel() {
    // The first hit records its root span in full; later hits record the answer's copy of it
    // with their own ids and times (telemetry/src/hits.rs). What the trace API shows must not
    // tell them apart.
    let stack = Stack::start().await;
    let ids = shared_hotels(2);
    let first = search(&stack, &ids).await;
    let hits = [
        search(&stack, &ids).await,
        search(&stack, &ids).await,
        search(&stack, &ids).await,
    ];
    let mut roots = Vec::new();
    for h in &hits {
        assert_eq!(h.header("x-arigate-cache"), Some("hit"), "{}", h.raw);
        let trace = h.body["trace_id"].as_str().unwrap_or("").to_string();
        let spans = trace_spans(&stack, &trace).await;
        let root = spans
            .iter()
            .find(|s| s["parent_span_id"].is_null())
            .cloned()
            .unwrap_or_default();
        assert_eq!(root["trace_id"], trace.as_str(), "{root}");
        assert_eq!(root["event_type"], "search");
        assert_eq!(root["attributes"]["cache"], "hit");
        assert_eq!(root["attributes"]["answer_of"], first.body["trace_id"]);
        assert_eq!(root["attributes"]["http_status"], "200");
        assert!(root["agent_id"].is_string(), "{root}");
        let hotels: Vec<&str> = root["hotel_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(hotels, ids.iter().map(String::as_str).collect::<Vec<_>>());
        let legs = spans
            .iter()
            .filter(|s| s["event_type"] == "cache_hit")
            .collect::<Vec<_>>();
        assert!(!legs.is_empty());
        assert!(legs.iter().all(|s| s["parent_span_id"] == root["span_id"]));
        // Each trace is found by each hotel it concerns.
        for hotel in &ids {
            let by_hotel = http(
                "GET",
                &format!("{}/api/traces/by-hotel/{hotel}", stack.admin),
                &[],
                None,
            )
            .await;
            assert_eq!(by_hotel.status, 200);
            assert!(
                by_hotel.body["traces"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|t| t["trace_id"] == trace.as_str()),
                "{hotel}: {}",
                by_hotel.raw
            );
        }
        roots.push(root);
    }
    let ids_of: Vec<&Value> = roots.iter().map(|r| &r["span_id"]).collect();
    assert!(ids_of[0] != ids_of[1] && ids_of[1] != ids_of[2]);
    assert_eq!(without_ids(&roots[0]), without_ids(&roots[1]));
    assert_eq!(without_ids(&roots[1]), without_ids(&roots[2]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_defeats_the_answer_cache_for_that_supplier_and_hotel() {
    let stack = Stack::start().await;
    let ids = vec![shared_hotels(1).remove(0)];
    search(&stack, &ids).await;
    let hit = search(&stack, &ids).await;
    assert!(from_answer_cache(&stack, &hit).await);
    let before = all_searches(&stack);

    let d = http(
        "POST",
        &format!("{}/__sim/webhook", stack.sim("hotelbeds").base_url()),
        &[],
        Some(&json!({"type": "ROOM_SOLD_OUT", "hotel": code_of(&ids[0], "hotelbeds")})),
    )
    .await;
    assert_eq!(d.body["status"], 202, "{}", d.raw);

    let after_hook = search(&stack, &ids).await;
    assert!(
        !from_answer_cache(&stack, &after_hook).await,
        "{}",
        after_hook.raw
    );
    let after = all_searches(&stack);
    for p in PROTOCOLS {
        let want = before[p] + u64::from(p == "hotelbeds");
        assert_eq!(after[p], want, "{p}: {after:?} after {before:?}");
    }
    // The new answer is cached again.
    let again = search(&stack, &ids).await;
    assert!(from_answer_cache(&stack, &again).await);
    assert_eq!(all_searches(&stack), after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_recheck_of_a_cached_answers_offer_defeats_the_answer_cache() {
    let stack = Stack::start().await;
    let ids = vec![shared_hotels(1).remove(0)];
    search(&stack, &ids).await;
    let hit = search(&stack, &ids).await;
    assert!(from_answer_cache(&stack, &hit).await);
    let offer = offer_of_supplier(&hit.body, "ota-soap");
    stack
        .set_scenario("ota-soap", "sold_out_at_recheck", Some(&["recheck"]))
        .await;
    let r = stack.recheck(&offer["offer_id"]).await;
    assert_eq!(r.body["status"], "sold_out", "{}", r.raw);
    let before = all_searches(&stack);
    let again = search(&stack, &ids).await;
    assert!(!from_answer_cache(&stack, &again).await, "{}", again.raw);
    let after = all_searches(&stack);
    for p in PROTOCOLS {
        let want = before[p] + u64::from(p == "ota-soap");
        assert_eq!(after[p], want, "{p}: {after:?} after {before:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_purge_defeats_the_answer_cache() {
    let stack = Stack::start().await;
    let ids = vec![shared_hotels(1).remove(0)];
    let purge = |body: Value| {
        let url = format!("{}/admin/cache/purge", stack.admin);
        async move { http("POST", &url, &[], Some(&body)).await }
    };
    // (purge, suppliers that must be asked again)
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({"hotel": ids[0]}), PROTOCOLS.to_vec()),
        (json!({"supplier": "derbysoft"}), vec!["derbysoft"]),
        (
            json!({"supplier": "dida", "hotel": code_of(&ids[0], "dida")}),
            vec!["dida"],
        ),
        (json!({"all": true}), PROTOCOLS.to_vec()),
    ];
    search(&stack, &ids).await;
    for (body, asked) in cases {
        let hit = search(&stack, &ids).await;
        assert!(from_answer_cache(&stack, &hit).await, "before {body}");
        let before = all_searches(&stack);
        let p = purge(body.clone()).await;
        assert_eq!(p.status, 200, "{}", p.raw);
        let again = search(&stack, &ids).await;
        assert!(!from_answer_cache(&stack, &again).await, "after {body}");
        let after = all_searches(&stack);
        for s in PROTOCOLS {
            let want = before[s] + u64::from(asked.contains(&s));
            assert_eq!(after[s], want, "{body}: {s}: {after:?} after {before:?}");
        }
    }
}
