//! The hot pure functions of a search and a re-check, each alone:
//!
//! - `cache_key`: a leg's cache key (supplier + canonical call) and a whole answer's key;
//! - `ttl`: the adaptive browse TTL (seed formula) and the hotness it reads;
//! - `merge`: merging five suppliers' answers for three hotels (about 100 offers) into the agent's
//!   answer — prices, cancellation, room mapping, one signed `offer_id` per offer — and rendering it;
//! - `answer_hit`: a repeated search served from the answer cache (key, lookup, invalidation check);
//! - `tokens`: signing and verifying an `offer_id` with a Hotelbeds-sized rate key.
//!
//! The supplier answers come from the simulators' own handlers (see `arigate_benches::search_case`).
//! `cargo bench -p arigate-benches --bench hot_paths`

use arigate::api::answers::{self, Answer, AnswerCache, CachedLeg, Lookup};
use arigate::api::search::{merge, LegOffers};
use arigate::app::App;
use arigate::legs::LegSpec;
use arigate_benches::search_case;
use arigate_connectors::{Call, HotelOffers, Money, Occupancy, OfferKey, Reply, SearchQuery, Stay};
use arigate_filters::agent_input::ValidSearch;
use arigate_filters::cache_policy::{browse_ttl, Hotness, Invalidations, TtlPolicy};
use arigate_filters::tokens::{OfferClaims, TokenSigner};
use arigate_sim::world::{World, PROTOCOLS};
use criterion::{criterion_group, criterion_main, Criterion};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const HOTELS: [&str; 3] = ["ARG-LIS-0001", "ARG-LIS-0002", "ARG-LIS-0003"];

fn app() -> App {
    let sims: Vec<(String, String)> = PROTOCOLS
        .iter()
        .enumerate()
        .map(|(i, p)| (p.to_string(), format!("http://127.0.0.1:{}", 9101 + i)))
        .collect();
    let config = arigate::demo::demo_config(
        "127.0.0.1:8080".parse().expect("addr"),
        "127.0.0.1:9090".parse().expect("addr"),
        &sims,
        "a-bench-secret-of-at-least-32-characters",
    )
    .expect("demo config");
    App::new(config)
}

fn search(days_ahead: i64) -> ValidSearch {
    let checkin = chrono::Utc::now().date_naive() + chrono::Duration::days(days_ahead);
    ValidSearch {
        stay: Stay {
            checkin,
            checkout: checkin + chrono::Duration::days(2),
        },
        rooms: vec![Occupancy {
            adults: 2,
            children_ages: vec![],
        }],
        hotels: HOTELS.iter().map(|h| h.to_string()).collect(),
        currency: "EUR".into(),
        nationality: "GB".into(),
        suppliers: None,
    }
}

/// Each supplier's parsed answer for the three hotels.
fn legs(app: &App, world: &World) -> Vec<(&'static str, Vec<HotelOffers>)> {
    PROTOCOLS
        .iter()
        .map(|p| {
            let codes = HOTELS
                .iter()
                .filter_map(|id| app.config.mapping.hotel(id)?.codes.get(*p).cloned())
                .collect();
            let k = search_case(world, p, codes, 30);
            match k.connector.parse(&k.call, &k.response) {
                Ok(Reply::Search { hotels }) => (*p, hotels),
                other => panic!("{p}: {other:?}"),
            }
        })
        .collect()
}

fn claims() -> OfferClaims {
    let checkin = chrono::NaiveDate::from_ymd_opt(2027, 1, 15).expect("date");
    OfferClaims {
        supplier: "hotelbeds".into(),
        hotel_id: "ARG-LIS-0001".into(),
        key: OfferKey {
            hotel: "100042".into(),
            room: "DBL.ST".into(),
            rate: "NRF-BB".into(),
            stay: Stay {
                checkin,
                checkout: checkin + chrono::Duration::days(3),
            },
            rooms: vec![Occupancy {
                adults: 2,
                children_ages: vec![],
            }],
            price: Money::new(rust_decimal::Decimal::from_str("231.40").expect("dec"), "EUR"),
            token: r#"{"k":"20270115|20270118|W|1|100042|DBL.ST|ID_B2B_26|BB|NRF|1~2~0||N@07~~2013c","t":"BOOKABLE"}"#.into(),
        },
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        exp: chrono::Utc::now().timestamp() + 1800,
        currency: "EUR".into(),
        recheck_trace_id: None,
    }
}

fn bench(c: &mut Criterion) {
    let world = World::new(42);
    let app = app();
    let s = search(30);
    let legs = legs(&app, &world);
    let inputs: Vec<LegOffers> = legs
        .iter()
        .map(|(code, hotels)| LegOffers { code, hotels })
        .collect();
    let now = chrono::Utc::now();
    let exp = now.timestamp() + 1800;

    let mut g = c.benchmark_group("cache_key");
    let supplier = app.suppliers.first().expect("a supplier").clone();
    let spec = LegSpec {
        supplier: Arc::clone(&supplier),
        call: Call::Search {
            query: SearchQuery {
                stay: s.stay,
                rooms: s.rooms.clone(),
                hotels: vec!["100012".into(), "100027".into(), "100031".into()],
                currency: "EUR".into(),
                nationality: "GB".into(),
            },
        },
        timeout: Duration::from_millis(300),
        bearer: None,
        customer_ip: "127.0.0.1".into(),
        max_response_bytes: 8 << 20,
        cache: None,
        trace: None,
        handoff: Default::default(),
    };
    g.bench_function("leg", |b| b.iter(|| spec.cache_key()));
    g.bench_function("answer", |b| {
        b.iter(|| {
            answers::key(
                "demo",
                &s.stay,
                &s.rooms,
                &s.hotels,
                &s.currency,
                &s.nationality,
                s.suppliers.as_deref(),
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("ttl");
    let policy = TtlPolicy::default();
    g.bench_function("browse_ttl", |b| {
        b.iter(|| browse_ttl(&policy, s.stay.checkin, now, 0.3, true))
    });
    let hotness = Hotness::new(30.0, 100_000);
    let t = SystemTime::now();
    for id in HOTELS {
        hotness.record(id, t);
    }
    g.bench_function("hotness", |b| b.iter(|| hotness.hotness(HOTELS[0], t)));
    g.finish();

    let merged = merge(
        &app,
        &s,
        &inputs,
        "4bf92f3577b34da6a3ce929d0e0e4736",
        now,
        exp,
    );
    let offers: usize = merged.offers_per_leg.iter().sum();
    assert!(offers >= 50, "only {offers} offers to merge");
    let rendered = merged.render();
    eprintln!(
        "merge: {offers} offers from {} suppliers, {} bytes rendered",
        legs.len(),
        rendered.len()
    );
    let mut g = c.benchmark_group("merge_3_hotels_5_suppliers");
    g.sample_size(30);
    g.bench_function("merge", |b| {
        b.iter(|| {
            merge(
                &app,
                &s,
                &inputs,
                "4bf92f3577b34da6a3ce929d0e0e4736",
                now,
                exp,
            )
        })
    });
    g.bench_function("merge_and_render", |b| {
        b.iter(|| {
            let m = merge(
                &app,
                &s,
                &inputs,
                "4bf92f3577b34da6a3ce929d0e0e4736",
                now,
                exp,
            );
            m.render()
        })
    });
    g.finish();

    let cache = AnswerCache::new(64 << 20, 10_000);
    let invalidations = Invalidations::new(Duration::from_secs(600), 100_000);
    let created = SystemTime::now();
    let key = |s: &ValidSearch| {
        answers::key(
            "demo",
            &s.stay,
            &s.rooms,
            &s.hotels,
            &s.currency,
            &s.nationality,
            s.suppliers.as_deref(),
        )
    };
    let tail = bytes::Bytes::from(Answer::tail_of(&rendered));
    let _ = (exp, offers);
    cache.put(
        key(&s),
        Answer {
            tail,
            spans: std::sync::Arc::new(arigate_telemetry::AnswerLegs::new(
                "4bf92f3577b34da6a3ce929d0e0e4736",
                "search",
                Vec::new(),
            )),
            offers_attr: offers.to_string(),
            suppliers_attr: String::new(),
            legs: PROTOCOLS
                .iter()
                .zip(&merged.offers_per_leg)
                .map(|(p, n)| CachedLeg {
                    code: p.to_string(),
                    hotels: vec!["100012".into(), "100027".into(), "100031".into()],
                    unified: HOTELS.iter().map(|h| h.to_string()).collect(),
                    offers: *n,
                    age: Duration::ZERO,
                })
                .collect(),
            skipped: Vec::new(),
            created,
            key_purges: 0,
            fresh_until: created + Duration::from_secs(300),
            as_of: "2026-11-22T10:00:00.000Z".into(),
        },
        created,
    );
    invalidations.invalidate(
        arigate_filters::cache_policy::Tag::SupplierHotel("dida".into(), "1".into()),
        created - Duration::from_secs(5),
    );
    let mut g = c.benchmark_group("answer_hit");
    g.bench_function("key_and_lookup", |b| {
        b.iter(
            || match cache.get(&key(&s), SystemTime::now(), &invalidations, 0) {
                Lookup::Hit(a) => a.tail.len(),
                Lookup::Miss => panic!("the answer is cached"),
            },
        )
    });
    // What a hit costs beyond the lookup: the body is the stored bytes, shared (no copy).
    g.bench_function("body", |b| {
        b.iter(
            || match cache.get(&key(&s), SystemTime::now(), &invalidations, 0) {
                Lookup::Hit(a) => a.tail.clone().len(),
                Lookup::Miss => panic!("the answer is cached"),
            },
        )
    });
    g.finish();

    let signer = TokenSigner::new(b"a-bench-secret-of-at-least-32-characters", &[]);
    let claims = claims();
    let token = signer.sign_offer(&claims);
    eprintln!("offer_id: {} bytes", token.len());
    let mut g = c.benchmark_group("tokens");
    g.bench_function("sign_offer", |b| b.iter(|| signer.sign_offer(&claims)));
    g.bench_function("verify_offer", |b| {
        b.iter(|| signer.verify_offer(&token).expect("valid"))
    });
    let with_context = format!("{token}{}", signer.offer_context(&claims.trace_id, "t2", 1));
    g.bench_function("verify_offer_with_context", |b| {
        b.iter(|| signer.verify_offer(&with_context).expect("valid"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
