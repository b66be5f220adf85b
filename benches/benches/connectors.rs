//! Each connector's translation of a realistic 100-hotel search: building the signed request, and
//! parsing the supplier's answer into unified offers. The answer bytes come from the simulator's own
//! handler (written from the protocol spec, not from the connector), for a search of 100 hotels.
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
