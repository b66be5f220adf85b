//! Each connector's translation of a realistic 100-hotel search: building the signed request, and
//! parsing the supplier's answer into unified offers. The answer bytes come from the simulator's own
//! handler (written from the protocol spec, not from the connector), for a search of 100 hotels.
//!
//! Also the pass-through's translation: a re-check of the answer's first offer, built and signed,
//! and the simulator's answer to it parsed (the connector work of one `POST /v1/availability`).
//!
//! `cargo bench -p arigate-benches --bench connectors`

use arigate_benches::{case, cx, Case};
use arigate_sim::world::{World, PROTOCOLS};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let world = World::new(42);
    let cases: Vec<Case> = PROTOCOLS.iter().map(|p| case(&world, p)).collect();
    let mut g = c.benchmark_group("search_100_hotels");
    for k in &cases {
        g.throughput(Throughput::Bytes(k.response.body.len() as u64));
        g.bench_with_input(BenchmarkId::new("build", k.protocol), k, |b, k| {
            b.iter(|| k.connector.build(&k.call, &cx(k.bearer.as_deref())))
        });
        g.bench_with_input(BenchmarkId::new("parse", k.protocol), k, |b, k| {
            b.iter(|| k.connector.parse(&k.call, &k.response))
        });
    }
    g.finish();
    let mut g = c.benchmark_group("recheck");
    for k in &cases {
        let (call, response) = &k.recheck;
        g.bench_with_input(BenchmarkId::new("build", k.protocol), k, |b, k| {
            b.iter(|| k.connector.build(call, &cx(k.bearer.as_deref())))
        });
        g.bench_with_input(BenchmarkId::new("parse", k.protocol), k, |b, k| {
            b.iter(|| k.connector.parse(call, response))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
