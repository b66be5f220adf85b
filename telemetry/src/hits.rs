//! The `cache_hit` spans of a request served whole from a stored answer, recorded as one small
//! value ([`HitSpans`]) instead of one [`Span`] per supplier leg. What they share — the legs,
//! their hotels and offer counts, the answer they came from — is built once per stored answer
//! ([`AnswerLegs`]) and shared by every hit; a hit adds only its trace, parent, start and one
//! random number its span ids derive from. They become ordinary spans where spans are read or
//! written (the ring's queries, ClickHouse rows), never on the request path: the trace API, the
//! story of a booking and ClickHouse see the same `cache_hit` spans as before.
//!
//! The request's own root span travels in the same value once the answer has a root template
//! ([`AnswerLegs::root`]): the root span of its first hit, as stored (sanitized). Every later hit
//! has the same route, agent, hotels and attributes (they are all part of the answer's key or of
//! the answer), so it adds only its start and duration ([`RootTimes`]); its ids are the trace's.

use std::sync::{Arc, OnceLock};

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
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerLegs {
    /// Trace id of the search that made the answer (`answer_of`).
    pub answer_of: String,
    /// The `operation` attribute (`search`).
    pub operation: &'static str,
    pub legs: Vec<HitLeg>,
    /// The root span of the answer's first hit, sanitized: what every later hit's root span
    /// is, but for its trace id, span id, start and duration. Set once.
    pub root: OnceLock<Span>,
}

impl AnswerLegs {
    /// The legs of an answer made by trace `answer_of`, with no root template yet.
    pub fn new(answer_of: impl Into<String>, operation: &'static str, legs: Vec<HitLeg>) -> Self {
        AnswerLegs {
            answer_of: answer_of.into(),
            operation,
            legs,
            root: OnceLock::new(),
        }
    }
}

/// When a hit's root span started and how long it took (the rest is [`AnswerLegs::root`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RootTimes {
    pub start_ms: u64,
    pub duration_ms: u32,
}

/// The `cache_hit` spans of one request: one per leg of `legs`, children of `parent_span_id`;
/// with `root`, the request's root span too (span id `parent_span_id`, from `legs.root`).
#[derive(Debug, Clone, PartialEq)]
pub struct HitSpans {
    pub trace_id: Arc<str>,
    pub parent_span_id: Arc<str>,
    pub service: Arc<str>,
    pub start_ms: u64,
    /// Span ids derive from it: leg `i` gets [`span_id_of`]`(seed, i)`.
    pub seed: u64,
    pub legs: Arc<AnswerLegs>,
    /// The root span's times, when it is `legs.root` (which is then set).
    pub root: Option<RootTimes>,
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
        self.legs.legs.len() + usize::from(self.root_template().is_some())
    }

    /// Whether it stands for no span.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The root span's template, when this value carries the root.
    fn root_template(&self) -> Option<&Span> {
        self.root.and(self.legs.root.get())
    }

    /// Unified hotel ids of the root span it carries (none without one).
    pub fn root_hotels(&self) -> &[String] {
        self.root_template().map_or(&[], |t| t.hotel_ids.as_slice())
    }

    /// The request's root span, when this value carries it.
    pub fn root_span(&self) -> Option<Span> {
        let (times, template) = (self.root?, self.legs.root.get()?);
        let mut s = template.clone();
        s.trace_id = self.trace_id.to_string();
        s.span_id = self.parent_span_id.to_string();
        s.parent_span_id = None;
        s.service = self.service.to_string();
        s.start_ms = times.start_ms;
        s.duration_ms = times.duration_ms;
        Some(s)
    }

    /// The spans, as they would have been recorded one by one (the root first, when carried).
    pub fn spans(&self) -> impl Iterator<Item = Span> + '_ {
        let legs = self.legs.legs.iter().enumerate().map(move |(i, leg)| {
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
        });
        self.root_span().into_iter().chain(legs)
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
            root: None,
            legs: Arc::new(AnswerLegs::new(
                "a".repeat(32),
                "search",
                vec![
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
            )),
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
    fn carries_the_root_span_once_the_answer_has_its_template() {
        let mut h = hits();
        h.root = Some(RootTimes {
            start_ms: 1_700_000_000_123,
            duration_ms: 7,
        });
        // No template yet: the value stands for its legs only.
        assert_eq!(h.len(), 2);
        assert!(h.root_span().is_none() && h.root_hotels().is_empty());
        let template = Span::begin("0".repeat(32), None, EventType::Search)
            .with_span_id("1".repeat(16))
            .with_hotels(["ARG-LIS-0001".to_string(), "ARG-LIS-0002".to_string()])
            .with_attr("cache", "hit")
            .with_start_ms(1)
            .with_duration_ms(99);
        h.legs.root.set(template.clone()).unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(h.root_hotels(), template.hotel_ids.as_slice());
        let spans: Vec<Span> = h.spans().collect();
        let root = &spans[0];
        assert_eq!(root.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            root.span_id, "00f067aa0ba902b7",
            "the legs' parent is the root"
        );
        assert_eq!(root.parent_span_id, None);
        assert_eq!((root.start_ms, root.duration_ms), (1_700_000_000_123, 7));
        assert_eq!(root.service, "arigate-edge");
        assert_eq!(root.event_type, EventType::Search);
        assert_eq!(root.attributes, template.attributes);
        assert_eq!(root.hotel_ids, template.hotel_ids);
        assert!(spans[1..]
            .iter()
            .all(|s| s.parent_span_id.as_deref() == Some("00f067aa0ba902b7")));
        // Without times of its own, a hit carries no root even when the answer has a template.
        h.root = None;
        assert_eq!(h.spans().count(), 2);
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
