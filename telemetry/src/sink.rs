//! The span pipeline off the request path (DESIGN §2 logging phase, §6): [`SpanSink::record`]
//! puts a span in a bounded channel without waiting; one [`SpanWriter`] task redacts and trims
//! spans, batches them by rows and by time, and writes each batch to the store (ClickHouse, or the
//! in-memory ring of the embedded default).
//!
//! When the store is slow or down, requests are unaffected: the writer keeps draining the channel
//! into a bounded buffer and retries the failed batch with exponential backoff; past the bound
//! the oldest buffered spans are dropped, and when even the writer falls behind the channel fills
//! and `record` drops. Every dropped span is counted in one counter, exported by the proxy as
//! `arigate_spans_dropped_total` (DESIGN §7). Shutdown flushes what is buffered within a deadline.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::clickhouse::{ClickHouseStore, SpanRow};
use crate::hits::{HitSpans, Record};
use crate::redact::{cut_in_place, excerpt_in_place, is_secret_name, redact};
use crate::ring::RingStore;
use crate::span::{Span, MAX_HOTELS_PER_SPAN};

/// Tuning of the pipeline. The defaults suit one edge node writing to a shared ClickHouse:
/// at most about one insert per second per node unless a batch fills first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkConfig {
    /// Spans the channel between `record` and the writer holds.
    pub channel_capacity: usize,
    /// Rows per insert at most; a full batch is written at once.
    pub max_batch_rows: usize,
    /// Batches written at the same time (one per connection).
    pub max_concurrent_writes: usize,
    /// A partial batch is written when its oldest span has waited this long.
    pub flush_interval: Duration,
    /// Spans the writer holds while the store is failing (the batch in flight included); past
    /// it the oldest are dropped.
    pub max_buffered_spans: usize,
    /// Bytes kept of each request/response excerpt after redaction.
    pub excerpt_bytes: usize,
    /// First retry delay after a failed write; doubles up to `backoff_max`.
    pub backoff_min: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// How long shutdown may spend flushing.
    pub shutdown_deadline: Duration,
    /// How often expired day partitions are dropped (ClickHouse only; needed before 19.6, harmless after).
    pub retention_interval: Duration,
    /// After taking spans from the channel the writer waits this long before looking again, so
    /// a busy edge wakes it a few hundred times a second rather than once per span (each wake is
    /// a futex call and a context switch on the request path's cores). Zero: look again at once.
    pub coalesce: Duration,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            channel_capacity: 65_536,
            max_batch_rows: 10_000,
            max_concurrent_writes: 2,
            flush_interval: Duration::from_secs(1),
            max_buffered_spans: 200_000,
            excerpt_bytes: 2048,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            shutdown_deadline: Duration::from_secs(5),
            retention_interval: Duration::from_secs(3600),
            coalesce: Duration::from_millis(5),
        }
    }
}

impl SinkConfig {
    /// The in-place cut `record` applies so one span cannot hold an unbounded body: generous
    /// enough that redaction on the writer sees whole secrets.
    fn record_cut_bytes(&self) -> usize {
        self.excerpt_bytes.saturating_mul(8).max(16 * 1024)
    }
}

/// Counters of the pipeline, shared by the sink handles and the writer.
#[derive(Debug, Default)]
pub struct SinkStats {
    recorded: AtomicU64,
    taken: AtomicU64,
    dropped: Arc<AtomicU64>,
    written: AtomicU64,
    failed_writes: AtomicU64,
    buffered: AtomicU64,
}

/// A point-in-time copy of [`SinkStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SinkSnapshot {
    /// Spans accepted by `record`.
    pub recorded: u64,
    /// Spans dropped anywhere (channel full, buffer bound, shutdown deadline).
    pub dropped: u64,
    /// Spans written to the store.
    pub written: u64,
    /// Failed write attempts (each retried or dropped later).
    pub failed_writes: u64,
    /// Spans the writer holds now (buffer and batch in flight).
    pub buffered: u64,
    /// Spans waiting in the channel for the writer.
    pub queued: u64,
}

impl SinkStats {
    fn snapshot(&self) -> SinkSnapshot {
        SinkSnapshot {
            recorded: self.recorded.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
            failed_writes: self.failed_writes.load(Ordering::Relaxed),
            buffered: self.buffered.load(Ordering::Relaxed),
            queued: self
                .recorded
                .load(Ordering::Relaxed)
                .saturating_sub(self.taken.load(Ordering::Relaxed)),
        }
    }

    fn drop_n(&self, n: usize) {
        if n > 0 {
            self.dropped.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

/// The request-path handle: cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub struct SpanSink {
    tx: Option<mpsc::Sender<Record>>,
    stats: Arc<SinkStats>,
    cut_bytes: usize,
}

impl SpanSink {
    /// A sink that discards everything without counting (tracing turned off).
    pub fn disabled() -> SpanSink {
        SpanSink {
            tx: None,
            stats: Arc::new(SinkStats::default()),
            cut_bytes: 0,
        }
    }

    /// Hands a finished span to the writer. Never waits and never grows memory beyond the
    /// channel bound: when the channel is full (or the writer has stopped) the span is dropped
    /// and counted. Oversized excerpts are cut in place first (no allocation).
    pub fn record(&self, mut span: Span) {
        if self.tx.is_none() {
            return;
        }
        cut_in_place(&mut span.request_data, self.cut_bytes);
        cut_in_place(&mut span.response_data, self.cut_bytes);
        cut_in_place(&mut span.error_detail, self.cut_bytes);
        self.send(Record::Span(span));
    }

    /// Hands the `cache_hit` spans of one hit to the writer as one value (see [`HitSpans`]):
    /// they are expanded where they are read or written, not here.
    pub fn record_hits(&self, hits: HitSpans) {
        if !hits.is_empty() {
            self.send(Record::Hits(hits));
        }
    }

    fn send(&self, record: Record) {
        let Some(tx) = &self.tx else {
            return;
        };
        let n = record.spans_len();
        match tx.try_send(record) {
            Ok(()) => {
                self.stats.recorded.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(_) => self.stats.drop_n(n),
        }
    }

    /// The dropped-spans counter, for the `arigate_spans_dropped_total` metric.
    pub fn dropped_counter(&self) -> Arc<AtomicU64> {
        self.stats.dropped.clone()
    }

    /// Spans dropped so far.
    pub fn dropped(&self) -> u64 {
        self.stats.dropped.load(Ordering::Relaxed)
    }

    /// All counters.
    pub fn stats(&self) -> SinkSnapshot {
        self.stats.snapshot()
    }
}

/// Where the writer puts batches.
#[derive(Debug, Clone)]
enum Destination {
    ClickHouse(Box<ClickHouseStore>),
    Ring(Arc<RingStore>),
}

type WriteFuture = Pin<Box<dyn Future<Output = WriteOutput> + Send>>;

impl Destination {
    /// Writes a batch of sanitized spans; a failed batch comes back for the retry.
    fn write(&self, batch: Vec<Record>) -> WriteFuture {
        match self {
            Destination::ClickHouse(store) => {
                let store = (**store).clone();
                Box::pin(async move {
                    // A hit's spans become rows here, in the batch, off the request path.
                    let rows: Vec<SpanRow> = batch
                        .into_iter()
                        .flat_map(Record::into_spans)
                        .map(SpanRow::from_span)
                        .collect();
                    match store.insert_rows(&rows).await {
                        Ok(()) => (Vec::new(), Ok(())),
                        // Rare: the rows go back to spans (attributes re-parsed) for the retry.
                        Err(e) => (
                            rows.into_iter()
                                .map(|r| Record::Span(r.into_span()))
                                .collect(),
                            Err(e.to_string()),
                        ),
                    }
                })
            }
            Destination::Ring(ring) => {
                // Stored as they are: no row encoding, no attribute JSON round trip, a hit's
                // spans kept as one value until they are read.
                ring.insert_records(batch);
                Box::pin(std::future::ready((Vec::new(), Ok(()))))
            }
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Destination::ClickHouse(_) => "clickhouse",
            Destination::Ring(_) => "memory",
        }
    }
}

/// What the writer did by the time it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushReport {
    /// Spans written over the writer's life.
    pub written: u64,
    /// Spans dropped over the pipeline's life (including those left unflushed at the deadline).
    pub dropped: u64,
    /// Spans still buffered when the shutdown deadline passed (counted in `dropped`).
    pub unflushed: u64,
}

/// The background task: redacts, batches and writes. Run it with [`SpanWriter::run`] (inside a
/// service of your own) or [`SpanWriter::spawn`].
pub struct SpanWriter {
    rx: mpsc::Receiver<Record>,
    dest: Destination,
    cfg: SinkConfig,
    stats: Arc<SinkStats>,
}

impl std::fmt::Debug for SpanWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanWriter")
            .field("dest", &self.dest.name())
            .finish_non_exhaustive()
    }
}

/// Stops a spawned writer.
#[derive(Debug)]
pub struct SinkHandle {
    stop: oneshot::Sender<()>,
    join: tokio::task::JoinHandle<FlushReport>,
}

impl SinkHandle {
    /// Signals shutdown and waits for the final flush (bounded by `shutdown_deadline`).
    pub async fn shutdown(self) -> FlushReport {
        let _ = self.stop.send(());
        self.join.await.unwrap_or(FlushReport {
            written: 0,
            dropped: 0,
            unflushed: 0,
        })
    }
}

/// A pipeline writing to ClickHouse. Call [`ClickHouseStore::migrate`] first.
pub fn clickhouse_pipeline(store: ClickHouseStore, cfg: SinkConfig) -> (SpanSink, SpanWriter) {
    pipeline(Destination::ClickHouse(Box::new(store)), cfg)
}

/// A pipeline writing to an in-memory ring (the embedded default).
pub fn ring_pipeline(ring: Arc<RingStore>, cfg: SinkConfig) -> (SpanSink, SpanWriter) {
    pipeline(Destination::Ring(ring), cfg)
}

fn pipeline(dest: Destination, cfg: SinkConfig) -> (SpanSink, SpanWriter) {
    let cfg = SinkConfig {
        channel_capacity: cfg.channel_capacity.max(1),
        max_batch_rows: cfg.max_batch_rows.max(1),
        max_concurrent_writes: cfg.max_concurrent_writes.max(1),
        max_buffered_spans: cfg.max_buffered_spans.max(cfg.max_batch_rows.max(1)),
        ..cfg
    };
    let (tx, rx) = mpsc::channel(cfg.channel_capacity);
    let stats = Arc::new(SinkStats::default());
    (
        SpanSink {
            tx: Some(tx),
            stats: stats.clone(),
            cut_bytes: cfg.record_cut_bytes(),
        },
        SpanWriter {
            rx,
            dest,
            cfg,
            stats,
        },
    )
}

/// What the writer does to every span before it is stored: redacts and trims its free text
/// (excerpts to `excerpt_bytes`), bounds its look-up keys and attributes. Public for benches.
pub fn sanitize(mut span: Span, excerpt_bytes: usize) -> Span {
    excerpt_in_place(&mut span.request_data, excerpt_bytes);
    excerpt_in_place(&mut span.response_data, excerpt_bytes);
    excerpt_in_place(&mut span.error_detail, 1024);
    span.hotel_ids.truncate(MAX_HOTELS_PER_SPAN);
    span.attributes.retain(|k, _| !secret_attribute(k));
    let mut kept = 0;
    span.attributes.retain(|_, _| {
        kept += 1;
        kept <= 32
    });
    for v in span.attributes.values_mut() {
        excerpt_in_place(v, 256);
    }
    if let Cow::Owned(red) = redact(&span.related_id) {
        span.related_id = red;
    }
    span
}

/// [`is_secret_name`] for attribute names, remembered: they are a small set of names written by
/// code, so the pattern runs once per name, not once per span (bounded: past the bound the
/// pattern just runs each time).
fn secret_attribute(name: &str) -> bool {
    const MAX_NAMES: usize = 4096;
    thread_local! {
        static KNOWN: std::cell::RefCell<HashMap<String, bool>> = std::cell::RefCell::new(HashMap::new());
    }
    KNOWN.with(|known| {
        if let Some(secret) = known.borrow().get(name) {
            return *secret;
        }
        let secret = is_secret_name(name);
        let mut known = known.borrow_mut();
        if known.len() < MAX_NAMES {
            known.insert(name.to_string(), secret);
        }
        secret
    })
}

type WriteOutput = (Vec<Record>, Result<(), String>);

/// The writer's moving parts: buffered rows, writes in flight and the retry schedule.
struct WriteState {
    buf: Buffer,
    tasks: JoinSet<WriteOutput>,
    sizes: HashMap<tokio::task::Id, usize>,
    retry_at: Option<Instant>,
    backoff: Duration,
    failing_since: Option<(Instant, u64)>,
}

struct Buffer {
    rows: VecDeque<Record>,
    inflight: usize,
    oldest: Option<Instant>,
}

impl SpanWriter {
    /// Spawns the writer on the current Tokio runtime.
    pub fn spawn(self) -> SinkHandle {
        let (stop, stopped) = oneshot::channel::<()>();
        let join = tokio::spawn(self.run(async move {
            // A dropped handle is not a shutdown: the writer then runs until every sink is gone.
            if stopped.await.is_err() {
                std::future::pending::<()>().await;
            }
        }));
        SinkHandle { stop, join }
    }

    /// Runs until `shutdown` resolves (or every sink handle is dropped), then flushes for at most
    /// `shutdown_deadline` and reports.
    pub async fn run(mut self, shutdown: impl Future<Output = ()> + Send) -> FlushReport {
        let cfg = self.cfg.clone();
        let mut shutdown = std::pin::pin!(shutdown);
        let mut st = WriteState {
            buf: Buffer {
                rows: VecDeque::new(),
                inflight: 0,
                oldest: None,
            },
            tasks: JoinSet::new(),
            sizes: HashMap::new(),
            retry_at: None,
            backoff: cfg.backoff_min,
            failing_since: None,
        };
        let mut incoming: Vec<Record> = Vec::with_capacity(cfg.max_batch_rows.min(4096));
        let mut retention =
            tokio::time::interval(cfg.retention_interval.max(Duration::from_secs(1)));
        retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        retention.tick().await;

        loop {
            let mut received = false;
            let wake = if st.tasks.len() < cfg.max_concurrent_writes {
                next_wake(&st.buf, &cfg, st.retry_at)
            } else {
                None
            };
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                Some(done) = st.tasks.join_next_with_id(), if !st.tasks.is_empty() => {
                    self.finished(&mut st, done);
                }
                n = self.rx.recv_many(&mut incoming, cfg.max_batch_rows) => {
                    if n == 0 {
                        break;
                    }
                    self.accept(&mut st.buf, &mut incoming);
                    received = true;
                }
                _ = retention.tick(), if matches!(self.dest, Destination::ClickHouse(_)) => {
                    if let Destination::ClickHouse(store) = &self.dest {
                        let store = (**store).clone();
                        tokio::spawn(async move {
                            if let Err(e) = store.enforce_retention().await {
                                tracing::debug!(error = %e, "trace retention sweep failed; next sweep will retry");
                            }
                        });
                    }
                }
                _ = sleep_until_opt(wake) => {}
            }
            while st.tasks.len() < cfg.max_concurrent_writes && due(&st.buf, &cfg, st.retry_at) {
                self.start_batch(&mut st);
            }
            if received && !cfg.coalesce.is_zero() {
                tokio::time::sleep(cfg.coalesce).await;
            }
        }

        // Shutdown: take what is queued, then flush until empty or the deadline.
        let deadline = Instant::now() + cfg.shutdown_deadline;
        self.rx.close();
        while let Ok(span) = self.rx.try_recv() {
            incoming.push(span);
        }
        self.accept(&mut st.buf, &mut incoming);
        loop {
            while st.tasks.len() < cfg.max_concurrent_writes
                && !st.buf.rows.is_empty()
                && st.retry_at.is_none_or(|at| Instant::now() >= at)
            {
                self.start_batch(&mut st);
            }
            if st.tasks.is_empty() {
                match st.retry_at {
                    _ if st.buf.rows.is_empty() => break,
                    Some(at) if at < deadline => {
                        tokio::time::sleep_until(at).await;
                        continue;
                    }
                    _ => break,
                }
            }
            match tokio::time::timeout_at(deadline, st.tasks.join_next_with_id()).await {
                Ok(Some(done)) => self.finished(&mut st, done),
                Ok(None) => {}
                Err(_) => break,
            }
        }
        st.tasks.abort_all();
        let unflushed = (st.buf.rows.len() + st.buf.inflight) as u64;
        self.stats.drop_n(unflushed as usize);
        st.buf.rows.clear();
        st.buf.inflight = 0;
        self.publish(&st.buf);
        if unflushed > 0 {
            tracing::warn!(
                unflushed,
                "spans not flushed before the shutdown deadline were dropped"
            );
        }
        let snap = self.stats.snapshot();
        FlushReport {
            written: snap.written,
            dropped: snap.dropped,
            unflushed,
        }
    }

    /// A write finished: on failure its batch goes back to the front of the buffer and the next
    /// attempt waits for the backoff.
    fn finished(
        &self,
        st: &mut WriteState,
        done: Result<(tokio::task::Id, WriteOutput), tokio::task::JoinError>,
    ) {
        let id = match &done {
            Ok((id, _)) => *id,
            Err(e) => e.id(),
        };
        let size = st.sizes.remove(&id).unwrap_or(0);
        st.buf.inflight = st.buf.inflight.saturating_sub(size);
        let (batch, res) = match done {
            Ok((_, out)) => out,
            Err(e) => {
                // The write task panicked or was cancelled: its rows are gone.
                tracing::error!(error = %e, "span write task failed");
                self.stats.drop_n(size);
                (Vec::new(), Err("write task failed".to_string()))
            }
        };
        match res {
            Ok(()) => {
                if let Some((since, failures)) = st.failing_since.take() {
                    tracing::info!(
                        dest = self.dest.name(),
                        failures,
                        down_for_ms = since.elapsed().as_millis() as u64,
                        "span store is back; writing again"
                    );
                }
                st.backoff = self.cfg.backoff_min;
                st.retry_at = None;
            }
            Err(e) => {
                self.stats.failed_writes.fetch_add(1, Ordering::Relaxed);
                let failures = st.failing_since.map_or(1, |(_, n)| n + 1);
                if failures == 1 || failures.is_power_of_two() {
                    tracing::warn!(
                        dest = self.dest.name(),
                        error = %e,
                        failures,
                        buffered = st.buf.rows.len() + batch.len(),
                        retry_in_ms = st.backoff.as_millis() as u64,
                        "span batch write failed; keeping it to retry"
                    );
                }
                st.failing_since = Some((
                    st.failing_since.map_or_else(Instant::now, |(s, _)| s),
                    failures,
                ));
                for row in batch.into_iter().rev() {
                    st.buf.rows.push_front(row);
                }
                if !st.buf.rows.is_empty() {
                    st.buf.oldest.get_or_insert_with(Instant::now);
                }
                // Keep the bound: rows requeued behind a full buffer push out the oldest.
                let over = (st.buf.rows.len() + st.buf.inflight)
                    .saturating_sub(self.cfg.max_buffered_spans);
                let n = over.min(st.buf.rows.len());
                st.buf.rows.drain(..n);
                self.stats.drop_n(n);
                st.retry_at = Some(Instant::now() + st.backoff);
                st.backoff = (st.backoff * 2).min(self.cfg.backoff_max);
            }
        }
        self.publish(&st.buf);
    }

    fn accept(&self, buf: &mut Buffer, incoming: &mut Vec<Record>) {
        let taken: usize = incoming.iter().map(Record::spans_len).sum();
        self.stats.taken.fetch_add(taken as u64, Ordering::Relaxed);
        for record in incoming.drain(..) {
            buf.rows.push_back(match record {
                Record::Span(span) => Record::Span(sanitize(span, self.cfg.excerpt_bytes)),
                // Made by code from a stored answer: supplier codes, mapped hotel ids, counts.
                hits @ Record::Hits(_) => hits,
            });
        }
        if !buf.rows.is_empty() {
            buf.oldest.get_or_insert_with(Instant::now);
        }
        let over = (buf.rows.len() + buf.inflight).saturating_sub(self.cfg.max_buffered_spans);
        if over > 0 {
            let n = over.min(buf.rows.len());
            buf.rows.drain(..n);
            self.stats.drop_n(n);
        }
        self.publish(buf);
    }

    fn start_batch(&self, st: &mut WriteState) {
        let buf = &mut st.buf;
        let n = buf.rows.len().min(self.cfg.max_batch_rows);
        let batch: Vec<Record> = buf.rows.drain(..n).collect();
        let spans: usize = batch.iter().map(Record::spans_len).sum();
        buf.inflight += n;
        buf.oldest = if buf.rows.is_empty() {
            None
        } else {
            Some(Instant::now())
        };
        let stats = self.stats.clone();
        let fut = self.dest.write(batch);
        let handle = st.tasks.spawn(async move {
            let (batch, res) = fut.await;
            if res.is_ok() {
                stats.written.fetch_add(spans as u64, Ordering::Relaxed);
            }
            (batch, res)
        });
        st.sizes.insert(handle.id(), n);
    }

    fn publish(&self, buf: &Buffer) {
        self.stats
            .buffered
            .store((buf.rows.len() + buf.inflight) as u64, Ordering::Relaxed);
    }
}

fn due(buf: &Buffer, cfg: &SinkConfig, retry_at: Option<Instant>) -> bool {
    if buf.rows.is_empty() {
        return false;
    }
    let now = Instant::now();
    if retry_at.is_some_and(|at| now < at) {
        return false;
    }
    buf.rows.len() >= cfg.max_batch_rows
        || retry_at.is_some()
        || buf.oldest.is_some_and(|t| now >= t + cfg.flush_interval)
}

fn next_wake(buf: &Buffer, cfg: &SinkConfig, retry_at: Option<Instant>) -> Option<Instant> {
    if buf.rows.is_empty() {
        return None;
    }
    let flush = buf.oldest.map(|t| t + cfg.flush_interval);
    match (flush, retry_at) {
        (Some(f), Some(r)) => Some(f.max(r)),
        (f, r) => r.or(f),
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::{EventType, SpanStatus};
    use crate::TraceStore;

    fn span(i: u64) -> Span {
        Span::begin(format!("t{i}"), None, EventType::Search)
            .with_start_ms(1_700_000_000_000 + i)
            .with_hotel("H1")
            .with_request(format!("{{\"password\":\"pw-{i}\",\"q\":{i}}}"))
            .finished(SpanStatus::Success)
    }

    #[tokio::test(start_paused = true)]
    async fn ring_pipeline_batches_by_time_and_redacts() {
        let ring = Arc::new(RingStore::new(1000));
        let cfg = SinkConfig {
            flush_interval: Duration::from_millis(200),
            max_batch_rows: 100,
            ..SinkConfig::default()
        };
        let (sink, writer) = ring_pipeline(ring.clone(), cfg);
        let handle = writer.spawn();
        for i in 0..10 {
            sink.record(span(i));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            ring.len(),
            0,
            "a partial batch waits for the flush interval"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(ring.len(), 10);
        let got = ring.spans_by_trace("t3").await.unwrap();
        assert_eq!(got.len(), 1);
        assert!(!got[0].request_data.contains("pw-3"));
        assert!(got[0].request_data.contains("\"q\":3"));
        let report = handle.shutdown().await;
        assert_eq!(report.written, 10);
        assert_eq!(report.dropped, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn full_batch_is_written_at_once_and_shutdown_flushes() {
        let ring = Arc::new(RingStore::new(1000));
        let cfg = SinkConfig {
            flush_interval: Duration::from_secs(3600),
            max_batch_rows: 5,
            ..SinkConfig::default()
        };
        let (sink, writer) = ring_pipeline(ring.clone(), cfg);
        let handle = writer.spawn();
        for i in 0..7 {
            sink.record(span(i));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(ring.len(), 5);
        let report = handle.shutdown().await;
        assert_eq!(ring.len(), 7);
        assert_eq!(report.unflushed, 0);
    }

    #[tokio::test]
    async fn channel_bound_drops_and_counts_without_waiting() {
        let ring = Arc::new(RingStore::new(1000));
        let cfg = SinkConfig {
            channel_capacity: 8,
            ..SinkConfig::default()
        };
        let (sink, writer) = ring_pipeline(ring, cfg);
        // The writer is not running: the channel fills and record drops.
        for i in 0..20 {
            sink.record(span(i));
        }
        assert_eq!(sink.dropped(), 12);
        assert_eq!(sink.dropped_counter().load(Ordering::Relaxed), 12);
        assert_eq!(sink.stats().recorded, 8);
        drop(writer);
        sink.record(span(99));
        assert_eq!(sink.dropped(), 13, "a stopped writer counts as a drop too");
        SpanSink::disabled().record(span(1));
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_handle_keeps_writing_until_the_sinks_are_gone() {
        let ring = Arc::new(RingStore::new(100));
        let cfg = SinkConfig {
            flush_interval: Duration::from_millis(10),
            ..SinkConfig::default()
        };
        let (sink, writer) = ring_pipeline(ring.clone(), cfg);
        drop(writer.spawn());
        sink.record(span(1));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(ring.len(), 1);
        sink.record(span(2));
        drop(sink);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            ring.len(),
            2,
            "the last spans are flushed when the sinks go"
        );
    }

    #[test]
    fn sanitize_bounds_attributes_and_hides_secret_ones() {
        let mut s = span(1)
            .with_attr("client_secret", "x")
            .with_attr("note", "Bearer abc123");
        for i in 0..40 {
            s = s.with_attr(format!("k{i:02}"), "v".repeat(1000));
        }
        let s = sanitize(s, 64);
        assert!(!s.attributes.contains_key("client_secret"));
        assert!(s.attributes.len() <= 32);
        assert!(s.attributes.values().all(|v| v.len() < 300));
        assert!(s.request_data.len() < 64 + 24);
    }
}
