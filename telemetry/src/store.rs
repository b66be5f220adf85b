//! The trace query API the proxy's `/api/traces/...` routes wrap, with two implementations:
//! [`crate::RingStore`] (embedded demo, in memory) and [`crate::ClickHouseStore`] (production).

use async_trait::async_trait;

use crate::span::Span;

/// Most spans one query returns; a trace or a booking story larger than this is cut (earliest
/// spans kept).
pub const MAX_SPANS_PER_QUERY: usize = 20_000;

/// Most traces a by-hotel query returns, whatever `limit` asks.
pub const MAX_TRACES_PER_HOTEL_QUERY: usize = 200;

/// A query failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store is unreachable or answered with an error (ClickHouse down, bad credentials…).
    #[error("trace store unavailable: {0}")]
    Unavailable(String),
    /// The query did not finish in time.
    #[error("trace store query timed out")]
    Timeout,
}

/// Read access to stored spans. Every method returns flat spans (earliest first within a trace);
/// nest them with [`crate::build_tree`] or [`crate::trees_by_trace`].
#[async_trait]
pub trait TraceStore: Send + Sync {
    /// All spans of one trace, ordered by start time. Empty when the trace is unknown.
    async fn spans_by_trace(&self, trace_id: &str) -> Result<Vec<Span>, StoreError>;

    /// The full story of a booking: every span of every trace that mentions `booking_id`
    /// (book, confirm, query, cancel, reconciliation), plus every span of the `linked` traces —
    /// the search that produced the offer and the re-check that confirmed it, whose ids the
    /// booking token carries. Ordered by trace start, then span start.
    async fn traces_by_booking(
        &self,
        booking_id: &str,
        linked: &[&str],
    ) -> Result<Vec<Span>, StoreError>;

    /// Spans of the `limit` most recent traces mentioning `hotel_id` (capped at
    /// [`MAX_TRACES_PER_HOTEL_QUERY`]). Ordered by trace start, then span start.
    async fn traces_by_hotel(&self, hotel_id: &str, limit: usize) -> Result<Vec<Span>, StoreError>;
}

/// Orders spans by (trace start, trace id, span start, span id) and drops duplicate span ids.
pub(crate) fn order_story(mut spans: Vec<Span>) -> Vec<Span> {
    use std::collections::{HashMap, HashSet};
    let mut seen = HashSet::new();
    spans.retain(|s| seen.insert((s.trace_id.clone(), s.span_id.clone())));
    let mut first: HashMap<String, u64> = HashMap::new();
    for s in &spans {
        let e = first.entry(s.trace_id.clone()).or_insert(s.start_ms);
        *e = (*e).min(s.start_ms);
    }
    spans.sort_by(|a, b| {
        let ka = (
            first.get(&a.trace_id).copied().unwrap_or(0),
            &a.trace_id,
            a.start_ms,
            &a.span_id,
        );
        let kb = (
            first.get(&b.trace_id).copied().unwrap_or(0),
            &b.trace_id,
            b.start_ms,
            &b.span_id,
        );
        ka.cmp(&kb)
    });
    spans.truncate(MAX_SPANS_PER_QUERY);
    spans
}
