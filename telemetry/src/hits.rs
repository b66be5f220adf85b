//! The `cache_hit` spans of a request served whole from a stored answer, recorded as one small
//! value ([`HitSpans`]) instead of one [`Span`] per supplier leg. What they share — the legs,
//! their hotels and offer counts, the answer they came from — is built once per stored answer
//! ([`AnswerLegs`]) and shared by every hit; a hit adds only its trace, parent, start and one
//! random number its span ids derive from. They become ordinary spans where spans are read or
//! written (the ring's queries, ClickHouse rows), never on the request path: the trace API, the
//! story of a booking and ClickHouse see the same `cache_hit` spans as before.

use std::sync::Arc;

use crate::span::{EventType, RelatedType, Span, SpanStatus};

/// One supplier leg of a stored answer, as its `cache_hit` span names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitLeg {
    pub supplier: String,
    /// Unified hotel ids the leg covered.
    pub hotels: Vec<String>,
    /// Offers the leg contributed, as the `offers` attribute.
    pub offers: String,
}

/// What every hit of one stored answer shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerLegs {
    /// Trace id of the search that made the answer (`answer_of`).
    pub answer_of: String,
    /// The `operation` attribute (`search`).
    pub operation: &'static str,
    pub legs: Vec<HitLeg>,
}

/// The `cache_hit` spans of one request: one per leg of `legs`, children of `parent_span_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitSpans {
    pub trace_id: Arc<str>,
    pub parent_span_id: Arc<str>,
    pub service: Arc<str>,
    pub start_ms: u64,
    /// Span ids derive from it: leg `i` gets [`span_id_of`]`(seed, i)`.
    pub seed: u64,
    pub legs: Arc<AnswerLegs>,
}

/// Span id of leg `i` of a hit seeded with `seed`: 16 lowercase hex digits, never all zero.
pub fn span_id_of(seed: u64, i: usize) -> String {
    // splitmix64: distinct seeds and legs give well spread, distinct ids.
    let mut z = seed.wrapping_add((i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    format!("{:016x}", z.max(1))
}

impl HitSpans {
    /// How many spans this value stands for.
    pub fn len(&self) -> usize {
        self.legs.legs.len()
    }

    /// Whether it stands for no span.
    pub fn is_empty(&self) -> bool {
        self.legs.legs.is_empty()
    }

    /// The spans, as they would have been recorded one by one.
    pub fn spans(&self) -> impl Iterator<Item = Span> + '_ {
        self.legs.legs.iter().enumerate().map(move |(i, leg)| {
            let mut s = Span::begin(
                &*self.trace_id,
                Some(&self.parent_span_id),
                EventType::CacheHit,
            )
            .with_span_id(span_id_of(self.seed, i))
            .with_service(&*self.service)
            .with_start_ms(self.start_ms)
            .with_duration_ms(0)
            .with_supplier(leg.supplier.as_str())
            .with_related(RelatedType::Supplier, leg.supplier.as_str())
            .with_hotels(leg.hotels.iter().cloned())
            .with_attr("operation", self.legs.operation)
            .with_attr("cache", "hit")
            .with_attr("answer_of", self.legs.answer_of.as_str())
            .with_attr("offers", leg.offers.as_str());
            s.finish(SpanStatus::Success);
            s
        })
    }
}

/// What the span pipeline carries: one span, or the `cache_hit` spans of one hit.
// Most records are spans: boxing them to shrink the rare hit variant would add an allocation
// to every span recorded.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Span(Span),
    Hits(HitSpans),
}

impl Record {
    /// Spans it stands for.
    pub fn spans_len(&self) -> usize {
        match self {
            Record::Span(_) => 1,
            Record::Hits(h) => h.len(),
        }
    }

    /// Into spans.
    pub fn into_spans(self) -> Vec<Span> {
        match self {
            Record::Span(s) => vec![s],
            Record::Hits(h) => h.spans().collect(),
        }
    }
}

impl From<Span> for Record {
    fn from(s: Span) -> Record {
        Record::Span(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits() -> HitSpans {
        HitSpans {
            trace_id: Arc::from("4bf92f3577b34da6a3ce929d0e0e4736"),
            parent_span_id: Arc::from("00f067aa0ba902b7"),
            service: Arc::from("arigate-edge"),
            start_ms: 1_700_000_000_000,
            seed: 42,
            legs: Arc::new(AnswerLegs {
                answer_of: "a".repeat(32),
                operation: "search",
                legs: vec![
                    HitLeg {
                        supplier: "hotelbeds".into(),
                        hotels: vec!["ARG-LIS-0001".into()],
                        offers: "3".into(),
                    },
                    HitLeg {
                        supplier: "dida".into(),
                        hotels: vec!["ARG-LIS-0001".into(), "ARG-LIS-0002".into()],
                        offers: "5".into(),
                    },
                ],
            }),
        }
    }

    #[test]
    fn expands_into_one_cache_hit_span_per_leg_under_the_request() {
        let h = hits();
        let spans: Vec<Span> = h.spans().collect();
        assert_eq!(spans.len(), 2);
        for (s, leg) in spans.iter().zip(&h.legs.legs) {
            assert_eq!(s.event_type, EventType::CacheHit);
            assert_eq!(s.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_eq!(s.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
            assert_eq!(s.supplier.as_deref(), Some(leg.supplier.as_str()));
            assert_eq!(s.related_type, Some(RelatedType::Supplier));
            assert_eq!(s.hotel_ids, leg.hotels);
            assert_eq!(s.attributes["answer_of"], "a".repeat(32));
            assert_eq!(s.attributes["offers"], leg.offers);
            assert_eq!(s.attributes["cache"], "hit");
            assert_eq!(s.start_ms, 1_700_000_000_000);
            assert_eq!(s.service, "arigate-edge");
            assert_eq!(s.span_id.len(), 16);
        }
        assert_ne!(spans[0].span_id, spans[1].span_id);
        // The same value expands the same way every time it is read.
        let again: Vec<Span> = h.spans().collect();
        assert_eq!(spans, again);
    }

    #[test]
    fn span_ids_differ_across_seeds_and_legs() {
        let mut seen = std::collections::HashSet::new();
        for seed in 0..200u64 {
            for i in 0..8 {
                assert!(seen.insert(span_id_of(seed, i)), "{seed} {i}");
            }
        }
    }
}
