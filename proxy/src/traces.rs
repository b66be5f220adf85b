//! Spans of every request (DESIGN §6), typed at their call sites and taken off the request path.
//!
//! An agent request gets a [`RequestTrace`] in `early_request_filter` (trace id from a valid W3C
//! `traceparent`, else a fresh one) whose root span is the gateway stage; handlers annotate it
//! and add children (merge, confirm, invalidate). Every supplier leg carries a [`LegTrace`] naming
//! its parent, and records a `supplier_query` (or `cache_hit`) span when it ends (a subrequest's
//! in its logging phase, a live leg's when its answer is translated). Spans go to the bounded [`SpanSink`]; a writer on its own thread batches them
//! into ClickHouse, or into the in-memory ring of the embedded default.

use arigate_config::TracesConfig;
use arigate_telemetry::{
    clickhouse_pipeline, ring_pipeline, AnswerLegs, ClickHouseStore, EventType, HitSpans,
    RelatedType, RingStore, RootTimes, SinkConfig, Span, SpanSink, SpanStatus, TraceStore,
};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

/// The trace pipeline of one edge process: where spans go and where the trace API reads them.
pub struct Traces {
    sink: SpanSink,
    pub store: Arc<dyn TraceStore>,
    service: Arc<str>,
    excerpt_bytes: usize,
    /// `memory` or `clickhouse`, for the admin API.
    pub backend: &'static str,
}

impl Traces {
    /// Builds the pipeline and starts its writer (and, for ClickHouse, the schema migration,
    /// retried in the background until it succeeds) on a thread of its own.
    pub fn start(cfg: &TracesConfig) -> std::io::Result<Traces> {
        let sink_cfg = SinkConfig {
            channel_capacity: cfg.queue_spans,
            max_batch_rows: cfg.batch_rows,
            flush_interval: cfg.flush_interval,
            max_buffered_spans: cfg.buffer_spans,
            excerpt_bytes: cfg.excerpt_bytes,
            // Spans wait for the flush interval anyway: waking the writer at most every 50 ms
            // keeps it off the request cores' backs at any request rate.
            coalesce: (cfg.flush_interval / 4).min(Duration::from_millis(50)),
            ..SinkConfig::default()
        };
        if !cfg.enabled {
            return Ok(Traces::disabled());
        }
        let (sink, writer, store, backend): (_, _, Arc<dyn TraceStore>, _) = match &cfg.clickhouse {
            Some(ch) => {
                let store = ClickHouseStore::new(clickhouse_config(ch))
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                let (sink, writer) = clickhouse_pipeline(store.clone(), sink_cfg);
                let migrate = store.clone();
                let writer = async move {
                    tokio::spawn(migrate_until_done(migrate));
                    writer.run(std::future::pending()).await;
                };
                (sink, boxed(writer), Arc::new(store), "clickhouse")
            }
            None => {
                let ring = Arc::new(RingStore::new(cfg.memory_spans));
                let (sink, writer) = ring_pipeline(ring.clone(), sink_cfg);
                let writer = async move {
                    writer.run(std::future::pending()).await;
                };
                (sink, boxed(writer), ring, "memory")
            }
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("arigate-spans".into())
            .spawn(move || rt.block_on(writer))?;
        Ok(Traces {
            sink,
            store,
            service: Arc::from(cfg.service.as_str()),
            excerpt_bytes: cfg.excerpt_bytes,
            backend,
        })
    }

    /// Records nothing; the trace API finds nothing.
    pub fn disabled() -> Traces {
        Traces {
            sink: SpanSink::disabled(),
            store: Arc::new(RingStore::new(1)),
            service: Arc::from(arigate_telemetry::span::DEFAULT_SERVICE),
            excerpt_bytes: 0,
            backend: "disabled",
        }
    }

    /// Hands a finished span to the writer; never waits (a full queue drops and counts it).
    pub fn record(&self, span: Span) {
        self.sink.record(span.with_service(&*self.service));
    }

    /// Hands the `cache_hit` spans of a request served from a stored answer to the writer as one
    /// value: one per leg of the answer, children of `trace`'s root, started when the answer was
    /// found. With `root`, the request's root span too: the answer's root template with these
    /// times (see [`HitSpans`]).
    pub fn record_hits(&self, trace: &RequestTrace, hit: Hit, root: Option<RootTimes>) {
        if trace.trace_id.is_empty() {
            return;
        }
        self.sink.record_hits(HitSpans {
            trace_id: Arc::from(trace.trace_id.as_str()),
            parent_span_id: Arc::from(trace.span_id.as_str()),
            service: self.service.clone(),
            start_ms: hit.start_ms,
            seed: arigate_telemetry::random_u64(),
            legs: hit.legs,
            root,
        });
    }

    /// Records the finished root span of a request, with the `cache_hit` spans of the stored
    /// answer it was served from (`hit`). A later hit whose root was left as the start made it
    /// (`Hit::templated`) records its root as the answer's template plus its own times: no
    /// attribute of it is built, copied or redacted per request. The answer's first successful
    /// hit records its root in full, and that root, as stored, becomes the template.
    pub fn record_request(&self, trace: &RequestTrace, root: Span, hit: Option<Hit>) {
        let Some(hit) = hit else {
            return self.record(root);
        };
        let ok = root.status == SpanStatus::Success;
        if hit.templated && ok && hit.legs.root.get().is_some() {
            let times = RootTimes {
                start_ms: root.start_ms,
                duration_ms: root.duration_ms,
            };
            return self.record_hits(trace, hit, Some(times));
        }
        if ok && !hit.templated {
            hit.legs
                .root
                .get_or_init(|| arigate_telemetry::sanitize(root.clone(), self.excerpt_bytes));
        }
        self.record(root);
        self.record_hits(trace, hit, None);
    }

    /// Spans dropped so far (`arigate_spans_dropped_total`).
    pub fn dropped(&self) -> u64 {
        self.sink.dropped()
    }

    /// Counters of the pipeline, for the admin API.
    pub fn stats(&self) -> arigate_telemetry::SinkSnapshot {
        self.sink.stats()
    }

    /// How many bytes of a request or response to copy into a span: the kept bytes and the
    /// margin redaction reads past them, so the writer sees whole secrets before it trims to
    /// `excerpt_bytes`.
    pub fn excerpt_limit(&self) -> usize {
        self.excerpt_bytes
            .saturating_add(arigate_telemetry::redact::REDACT_MARGIN)
    }

    /// The first bytes of `data` as text, for a span excerpt.
    pub fn excerpt(&self, data: &[u8]) -> String {
        excerpt(data, self.excerpt_limit())
    }
}

/// The first `limit` bytes of `data` as text (the writer redacts and trims them later).
pub fn excerpt(data: &[u8], limit: usize) -> String {
    let cut = data.len().min(limit);
    String::from_utf8_lossy(data.get(..cut).unwrap_or_default()).into_owned()
}

fn boxed(
    f: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(f)
}

fn clickhouse_config(c: &arigate_config::ClickHouseConfig) -> arigate_telemetry::ClickHouseConfig {
    arigate_telemetry::ClickHouseConfig {
        url: c.url.clone(),
        user: c.user.clone(),
        password: c.password.clone(),
        database: c.database.clone(),
        table: c.table.clone(),
        retention_days: c.retention_days,
        query_timeout: c.query_timeout,
        ..arigate_telemetry::ClickHouseConfig::default()
    }
}

/// Creates the database and table, retrying with backoff while ClickHouse is unreachable.
async fn migrate_until_done(store: ClickHouseStore) {
    let mut delay = Duration::from_millis(200);
    loop {
        match store.migrate().await {
            Ok(report) => {
                tracing::info!(?report, "trace store ready");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "trace store not ready; spans are buffered meanwhile");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// `arigate migrate`: creates the trace database and table now and reports what it did.
pub async fn migrate(cfg: &TracesConfig) -> Result<String, String> {
    let Some(ch) = &cfg.clickhouse else {
        return Err("traces.clickhouse is not configured: spans stay in memory".into());
    };
    let store = ClickHouseStore::new(clickhouse_config(ch)).map_err(|e| e.to_string())?;
    let report = store.migrate().await.map_err(|e| e.to_string())?;
    Ok(format!("{report:?}"))
}

/// The trace of one agent request: its ids and the root span (the gateway stage) that handlers
/// annotate while they work. Recorded in the logging phase.
pub struct RequestTrace {
    pub trace_id: String,
    pub span_id: String,
    root: Mutex<Option<Span>>,
    hit: Mutex<Option<Hit>>,
}

/// A request answered whole from a stored answer: its `cache_hit` spans, recorded with the root.
pub struct Hit {
    pub legs: Arc<AnswerLegs>,
    /// When the answer was found (the `cache_hit` spans' start).
    pub start_ms: u64,
    /// The handler left the root span as the start made it (route, agent): the answer's root
    /// template stands for everything else (see [`RequestTrace::is_like`]).
    pub templated: bool,
}

impl RequestTrace {
    pub fn new(trace_id: String) -> RequestTrace {
        let root = Span::begin(trace_id.as_str(), None, EventType::Other);
        RequestTrace {
            span_id: root.span_id.clone(),
            trace_id,
            root: Mutex::new(Some(root)),
            hit: Mutex::new(None),
        }
    }

    /// An empty trace (supplier legs have their own [`LegTrace`]).
    pub fn none() -> RequestTrace {
        RequestTrace {
            trace_id: String::new(),
            span_id: String::new(),
            root: Mutex::new(None),
            hit: Mutex::new(None),
        }
    }

    /// Changes the root span (its event type once the route is known, its booking, hotels…).
    pub fn annotate(&self, f: impl FnOnce(&mut Span)) {
        if let Some(s) = self.root.lock().as_mut() {
            f(s);
        }
    }

    /// A child span of the root, started now.
    pub fn child(&self, event: EventType) -> Span {
        Span::begin(self.trace_id.as_str(), Some(&self.span_id), event)
    }

    /// What a supplier leg under the root needs to record its span.
    pub fn leg(&self, hotels: Vec<String>) -> Option<LegTrace> {
        self.leg_under(&self.span_id, hotels)
    }

    /// What a supplier leg under another span of this trace needs.
    pub fn leg_under(&self, parent: &str, hotels: Vec<String>) -> Option<LegTrace> {
        (!self.trace_id.is_empty()).then(|| LegTrace {
            trace_id: self.trace_id.clone(),
            parent: parent.to_string(),
            hotels,
        })
    }

    /// Takes the root span to record it (once).
    pub fn take_root(&self) -> Option<Span> {
        self.root.lock().take()
    }

    /// Whether the root span so far says what `template`, the root of an earlier hit of the same
    /// answer, said at the same point: the same route (event, method, path) and agent. All the
    /// rest a hit's handler adds comes from the answer and its key, so it is the template's too.
    pub fn is_like(&self, template: &Span) -> bool {
        self.root.lock().as_ref().is_some_and(|r| {
            r.event_type == template.event_type
                && r.agent_id == template.agent_id
                && r.attributes.get("method") == template.attributes.get("method")
                && r.attributes.get("path") == template.attributes.get("path")
        })
    }

    /// Marks the request as served from a stored answer (see [`Traces::record_request`]).
    pub fn set_hit(&self, legs: &Arc<AnswerLegs>, templated: bool) {
        *self.hit.lock() = Some(Hit {
            legs: legs.clone(),
            start_ms: arigate_telemetry::now_ms(),
            templated,
        });
    }

    /// Takes what [`set_hit`](Self::set_hit) left (once).
    pub fn take_hit(&self) -> Option<Hit> {
        self.hit.lock().take()
    }
}

/// Links a leg's span to its parent.
#[derive(Debug, Clone)]
pub struct LegTrace {
    pub trace_id: String,
    pub parent: String,
    /// Unified hotel ids the call concerns (for the by-hotel view).
    pub hotels: Vec<String>,
}

impl LegTrace {
    /// The leg's span, started now.
    pub fn begin(&self, supplier: &str, operation: &'static str) -> Span {
        Span::begin(
            self.trace_id.as_str(),
            Some(&self.parent),
            EventType::SupplierQuery,
        )
        .with_supplier(supplier)
        .with_related(RelatedType::Supplier, supplier)
        .with_hotels(self.hotels.iter().cloned())
        .with_attr("operation", operation)
    }
}

/// The span status an HTTP status of the agent API stands for.
pub fn status_of(http_status: u16) -> SpanStatus {
    match http_status {
        504 => SpanStatus::Timeout,
        s if s >= 400 => SpanStatus::Error,
        _ => SpanStatus::Success,
    }
}

/// The root span's event type for an agent route.
pub fn event_of(route: &str) -> EventType {
    match route {
        "search" => EventType::Search,
        "availability" => EventType::CheckAvail,
        "book" => EventType::Book,
        "booking_query" => EventType::QueryOrder,
        "cancel" => EventType::Cancel,
        "webhook" => EventType::Webhook,
        "destinations" | "hotels" | "hotel" => EventType::Content,
        _ => EventType::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arigate_telemetry::HitLeg;

    fn traces() -> Traces {
        Traces::start(&TracesConfig {
            enabled: true,
            service: "arigate-edge".into(),
            memory_spans: 1000,
            queue_spans: 1000,
            buffer_spans: 1000,
            batch_rows: 100,
            flush_interval: Duration::from_millis(10),
            excerpt_bytes: 512,
            clickhouse: None,
        })
        .expect("the span writer starts")
    }

    /// A root span as the start and the route leave it: route and agent only.
    fn request(agent: &str) -> RequestTrace {
        let t = RequestTrace::new(arigate_telemetry::new_trace_id());
        t.annotate(|s| {
            s.event_type = EventType::Search;
            s.agent_id = Some(agent.into());
            s.attributes.insert("method".into(), "POST".into());
            s.attributes.insert("path".into(), "/v1/search".into());
        });
        t
    }

    async fn stored(traces: &Traces, trace_id: &str, n: usize) -> Vec<Span> {
        for _ in 0..500 {
            let spans = traces.store.spans_by_trace(trace_id).await.unwrap();
            if spans.len() >= n {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{trace_id}: fewer than {n} spans stored");
    }

    #[tokio::test]
    async fn later_hits_record_the_first_hits_root_with_their_own_ids_and_times() {
        let traces = traces();
        let legs = Arc::new(AnswerLegs::new(
            "maker",
            "search",
            vec![HitLeg {
                supplier: "dida".into(),
                hotels: vec!["ARG-LIS-0001".into()],
                offers: "2".into(),
            }],
        ));
        // The first hit annotates its root in full; it becomes the answer's template.
        let first = request("agent-a");
        first.annotate(|s| {
            s.hotel_ids.push("ARG-LIS-0001".into());
            s.attributes.insert("cache".into(), "hit".into());
            s.attributes.insert("answer_of".into(), "maker".into());
        });
        assert!(!first.is_like(&Span::begin("t", None, EventType::CacheHit)));
        first.set_hit(&legs, false);
        let root = first.take_root().unwrap().finished(SpanStatus::Success);
        traces.record_request(&first, root, first.take_hit());
        let template = legs.root.get().expect("the first hit made the template");
        assert_eq!(template.attributes["answer_of"], "maker");

        // A later hit of the same route and agent adds nothing to its root.
        let later = request("agent-a");
        assert!(later.is_like(template));
        assert!(!request("agent-b").is_like(template), "another agent");
        later.set_hit(&legs, true);
        let root = later.take_root().unwrap().finished(SpanStatus::Success);
        let (start, took) = (root.start_ms, root.duration_ms);
        traces.record_request(&later, root, later.take_hit());

        let spans = stored(&traces, &later.trace_id, 2).await;
        assert_eq!(spans.len(), 2, "{spans:?}");
        let root = spans.iter().find(|s| s.parent_span_id.is_none()).unwrap();
        assert_eq!(root.span_id, later.span_id);
        assert_eq!(root.trace_id, later.trace_id);
        assert_eq!((root.start_ms, root.duration_ms), (start, took));
        assert_eq!(root.hotel_ids, ["ARG-LIS-0001"]);
        assert_eq!(root.attributes, template.attributes);
        let leg = spans.iter().find(|s| s.parent_span_id.is_some()).unwrap();
        assert_eq!(leg.parent_span_id.as_deref(), Some(later.span_id.as_str()));
        assert_eq!(leg.event_type, EventType::CacheHit);
        // The first hit's own root was stored as it was, with its own leg.
        assert_eq!(stored(&traces, &first.trace_id, 2).await.len(), 2);
    }
}
