//! In-process CPU of a search leg served from the cache versus one translated from the supplier's
//! answer (the supplier's own latency, 50–300 ms on real suppliers, is not part of either).
//!
//! - hit: storage lookup of the stored leg answer and the parent reading it;
//! - miss: the connector translating the supplier's 100-hotel answer, the answer stored, and the
//!   parent reading it.
//!
//! `cargo bench -p arigate-benches --bench cache`

use arigate::cache::memory::MemoryTier;
use arigate::legs::LegOutcome;
use arigate_benches::case;
use arigate_sim::world::World;
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use pingora_cache::trace::Span;
use pingora_cache::{CacheKey, CacheMeta, Storage};
use pingora_http::ResponseHeader;
use std::time::{Duration, SystemTime};

fn meta() -> CacheMeta {
    let now = SystemTime::now();
    let header = ResponseHeader::build(200, None).expect("header");
    CacheMeta::new(now + Duration::from_secs(300), now, 0, 0, header)
}

async fn store(tier: &'static MemoryTier, key: &CacheKey, body: Vec<u8>) {
    let span = Span::inactive().handle();
    let mut miss = tier
        .get_miss_handler(key, &meta(), &span)
        .await
        .expect("miss handler");
    miss.write_body(Bytes::from(body), true)
        .await
        .expect("write");
    miss.finish().await.expect("finish");
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let world = World::new(42);
    let k = case(&world, "hotelbeds");
    let tier: &'static MemoryTier =
        Box::leak(Box::new(MemoryTier::new(256 << 20, Duration::ZERO, |_| {
            true
        })));
    let reply = k
        .connector
        .parse(&k.call, &k.response)
        .expect("the bench answer parses");
    let stored = serde_json::to_vec(&LegOutcome::Ok(reply)).expect("serializable");
    let key = CacheKey::new("leg:v1:hotelbeds:bench", "");
    rt.block_on(store(tier, &key, stored));
    let span = Span::inactive().handle();

    let mut g = c.benchmark_group("search_leg_100_hotels");
    g.bench_function("hit", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (_, mut hit) = tier
                    .lookup(&key, &span)
                    .await
                    .expect("lookup")
                    .expect("stored");
                let body = hit.read_body().await.expect("body").expect("a body");
                serde_json::from_slice::<LegOutcome>(&body).expect("leg answer")
            })
        })
    });
    g.bench_function("miss", |b| {
        b.iter(|| {
            let reply = k.connector.parse(&k.call, &k.response).expect("parse");
            let body = serde_json::to_vec(&LegOutcome::Ok(reply)).expect("serialize");
            rt.block_on(store(tier, &key, body.clone()));
            serde_json::from_slice::<LegOutcome>(&body).expect("leg answer")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
