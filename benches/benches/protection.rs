//! Per-request cost of metering and protecting a request: the metrics one agent search records
//! (its request, five supplier legs, five cache lookups, one TTL), the agent's rate-limit check,
//! one supplier's circuit-breaker admit + record and concurrency permit, and a `/metrics` scrape.
//!
//! `cargo bench -p arigate-benches --bench protection`

use arigate::cache::CacheStatus;
use arigate::metrics::{Metrics, SupplierOutcome};
use arigate_config::{CircuitConfig, RateLimitConfig};
use arigate_filters::circuit::{CallOutcome, CircuitBreaker, ConcurrencyLimit};
use arigate_filters::rate_limit::RateLimiter;
use criterion::{criterion_group, criterion_main, Criterion};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

const SUPPLIERS: [&str; 5] = [
    "hotelbeds",
    "expedia-rapid",
    "ota-soap",
    "derbysoft",
    "dida",
];

fn bench(c: &mut Criterion) {
    let m = Metrics::new().expect("metrics");
    let handles: Vec<_> = SUPPLIERS.iter().map(|s| m.supplier(s)).collect();

    c.bench_function("metrics/request", |b| {
        b.iter(|| {
            m.request(
                black_box("search"),
                black_box(200),
                Duration::from_millis(42),
            )
        })
    });
    c.bench_function("metrics/supplier_call_by_code", |b| {
        b.iter(|| {
            m.supplier_call(
                black_box("dida"),
                black_box("search"),
                SupplierOutcome::Ok,
                Duration::from_millis(120),
            )
        })
    });
    c.bench_function("metrics/one_search_request", |b| {
        b.iter(|| {
            for h in &handles {
                m.cache_lookup(black_box("search"), CacheStatus::Miss);
                h.call(
                    black_box("search"),
                    SupplierOutcome::Ok,
                    Duration::from_millis(120),
                );
            }
            m.cache_ttl(Duration::from_secs(90));
            m.request(
                black_box("search"),
                black_box(200),
                Duration::from_millis(180),
            );
        })
    });
    c.bench_function("metrics/render_scrape", |b| {
        b.iter(|| black_box(m.render()))
    });

    let t0 = Instant::now();
    let limiter = RateLimiter::new(
        RateLimitConfig {
            per_minute: u32::MAX / 2,
            burst: 100_000,
        },
        HashMap::new(),
        1024,
        t0,
    );
    c.bench_function("rate_limit/check", |b| {
        b.iter(|| black_box(limiter.check(black_box("acme-travel"), Instant::now())))
    });

    let breaker = CircuitBreaker::new(CircuitConfig::default(), t0);
    let cap = ConcurrencyLimit::new(Some(64));
    c.bench_function("circuit/admit_record_permit", |b| {
        b.iter(|| {
            let now = Instant::now();
            let permit = cap.try_acquire();
            let admitted = breaker.admit(now).permit.expect("closed");
            black_box(admitted.record(CallOutcome::Success, now));
            drop(permit);
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
