//! arigate's trace pipeline (DESIGN §6): the span model, redaction of excerpts, the bounded sink
//! that takes spans off the request path, the writer that batches them into ClickHouse (or the
//! in-memory ring of the embedded default), the query API behind `/api/traces/...`, span trees
//! and the HTML story of one booking.
//!
//! Wiring, in the proxy:
//! ```no_run
//! # async fn wire() -> Result<(), Box<dyn std::error::Error>> {
//! use arigate_telemetry::*;
//! let store = ClickHouseStore::new(ClickHouseConfig::default())?;
//! store.migrate().await?;                                   // `arigate migrate`, and at start
//! let (sink, writer) = clickhouse_pipeline(store.clone(), SinkConfig::default());
//! let handle = writer.spawn();
//! let dropped = sink.dropped_counter();                     // arigate_spans_dropped_total
//! sink.record(Span::begin("4bf92f3577b34da6a3ce929d0e0e4736", None, EventType::Search)
//!     .with_hotels(["H1"]).finished(SpanStatus::Success));
//! let spans = store.spans_by_trace("4bf92f3577b34da6a3ce929d0e0e4736").await?;
//! let tree = build_tree(spans);
//! # let _ = (dropped, tree);
//! handle.shutdown().await;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

pub mod clickhouse;
pub mod hits;
pub mod html;
pub mod redact;
pub mod ring;
pub mod sink;
pub mod span;
pub mod store;
pub mod testkit;
pub mod tree;

pub use crate::clickhouse::{
    ClickHouseConfig, ClickHouseError, ClickHouseStore, MigrationReport, ServerVersion,
};
pub use crate::hits::{AnswerLegs, HitLeg, HitSpans, Record, RootTimes};
pub use crate::html::render_booking_html;
pub use crate::ring::RingStore;
pub use crate::sink::{
    clickhouse_pipeline, ring_pipeline, sanitize, FlushReport, SinkConfig, SinkHandle,
    SinkSnapshot, SpanSink, SpanWriter,
};
pub use crate::span::{
    new_span_id, new_trace_id, now_ms, random_u64, EventType, RelatedType, Span, SpanStatus,
};
pub use crate::store::{StoreError, TraceStore};
pub use crate::tree::{build_tree, trees_by_trace, SpanNode, TraceTree};
