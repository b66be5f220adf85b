//! What one request's spans cost, on the request path and on the span writer's thread:
//!
//! - `build`: the spans of a browse hit as the edge builds them (a root with its attributes and
//!   six `cache_hit` children naming their hotels);
//! - `sanitize_leg/{protocol}`: the writer's redaction and trimming of one supplier leg span whose
//!   request and response excerpts were copied at `excerpt_limit` (4 KiB kept, as the load tests
//!   run), for each protocol's search answer;
//! - `ring_insert`: storing a browse hit's seven spans in a full in-memory ring (each insert
//!   evicts the oldest span and updates the trace, booking and hotel indexes).
//!
//! `cargo bench -p arigate-benches --bench spans`

use arigate_benches::case;
use arigate_sim::world::{World, PROTOCOLS};
use arigate_telemetry::redact::REDACT_MARGIN;
use arigate_telemetry::sink::sanitize;
use arigate_telemetry::{EventType, RelatedType, RingStore, Span, SpanStatus};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

const EXCERPT_BYTES: usize = 4096;
const HOTELS: [&str; 3] = ["ARG-LIS-0001", "ARG-LIS-0002", "ARG-LIS-0003"];
const SUPPLIERS: [&str; 6] = [
    "hotelbeds",
    "expedia-rapid",
    "ota-soap",
    "derbysoft",
    "dida",
    "x",
];

/// A browse hit's spans: the root search span and one `cache_hit` per supplier leg.
fn browse_hit(trace: &str) -> Vec<Span> {
    let root = Span::begin(trace, None, EventType::Search)
        .with_agent("demo")
        .with_hotels(HOTELS)
        .with_request(r#"{"checkin":"2026-12-20","checkout":"2026-12-22","hotels":["ARG-LIS-0001","ARG-LIS-0002","ARG-LIS-0003"],"occupancy":[{"adults":2}],"currency":"EUR"}"#)
        .with_attr("complete", "true")
        .with_attr("cache", "hit")
        .with_attr("offers", "102")
        .with_attr("suppliers", "hotelbeds=ok,expedia-rapid=ok,ota-soap=ok,derbysoft=ok,dida=ok")
        .finished(SpanStatus::Success);
    let mut spans = vec![root.clone()];
    for s in SUPPLIERS {
        spans.push(
            Span::begin(trace, Some(root.span_id.as_str()), EventType::CacheHit)
                .with_supplier(s)
                .with_related(RelatedType::Supplier, s)
                .with_hotels(HOTELS)
                .with_attr("operation", "search")
                .with_attr("cache", "hit")
                .with_attr("offers", "22")
                .finished(SpanStatus::Success),
        );
    }
    spans
}

fn bench(c: &mut Criterion) {
    c.bench_function("spans/build", |b| {
        b.iter(|| browse_hit("0af7651916cd43dd8448eb211c80319c"))
    });

    // A supplier leg's excerpts as the edge copies them: the kept bytes plus the margin
    // redaction reads (the head of each simulator's own answer to a search, after a request
    // head with the supplier's credentials in it).
    let world = World::new(42);
    let limit = EXCERPT_BYTES + REDACT_MARGIN;
    for protocol in PROTOCOLS {
        let case = case(&world, protocol);
        let body = String::from_utf8_lossy(case.response.body.as_ref()).into_owned();
        let excerpt = body
            .get(..body.len().min(limit))
            .unwrap_or(&body)
            .to_string();
        let leg = Span::begin("t", None, EventType::SupplierQuery)
            .with_supplier(protocol)
            .with_request(format!(
                "POST /search\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln\nApi-key: 4f8a2c1e9b7d4a03\nX-Signature: 0123abcd\n\n{excerpt}"
            ))
            .with_response(excerpt)
            .with_hotels(HOTELS)
            .with_attr("status", "200")
            .finished(SpanStatus::Success);
        c.bench_function(&format!("spans/sanitize_leg/{protocol}"), |b| {
            b.iter_batched(
                || leg.clone(),
                |s| sanitize(s, EXCERPT_BYTES),
                BatchSize::SmallInput,
            )
        });
    }

    let ring = RingStore::new(10_000);
    for i in 0..2_000 {
        ring.insert_batch(browse_hit(&format!("warm{i:028}")));
    }
    let mut n = 0u64;
    c.bench_function("spans/ring_insert", |b| {
        b.iter_batched(
            || {
                n += 1;
                browse_hit(&format!("{n:032x}"))
            },
            |spans| ring.insert_batch(spans),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
