//! Supplier legs: one supplier call each, with the supplier as a Pingora upstream ([`HttpPeer`]).
//!
//! A **cacheable leg** (browse search, static content) runs as a Pingora subrequest of the agent's
//! request so that pingora-cache serves, stores and coalesces it. The parent (an agent request in
//! `request_filter`) spawns one subrequest per [`Call`], carrying a [`LegSpec`] in the subrequest
//! context. The subrequest runs the full proxy pipeline with the supplier as its upstream:
//! `request_filter` builds and signs the wire request with the connector, `upstream_request_filter` and `request_body_filter` replace the copied agent request
//! with it, and `upstream_response_body_filter` turns the supplier's bytes into a [`LegOutcome`]
//! (the unified JSON that pingora-cache can store for browse legs). The parent reads the
//! subrequest's response from its pipe under the leg's timeout.
//!
//! A **live leg** (re-check, book, booking query, cancel, token: never cached, DESIGN §1) has
//! nothing for the cache to do, so it does not pay for a second proxy pipeline, a task and a pipe
//! per call: [`run`] sends it through Pingora's upstream connector directly (the same `HttpPeer`,
//! connection pool and HTTP/1 client the proxy phases use), with the same [`LegState`] steps in
//! the same order: build and sign, admit at the supplier's guard, send, collect the bounded
//! answer, translate, close the span. A failure on a reused pooled connection is retried on a
//! fresh one for retry-safe calls only, as the proxy path decides in `error_while_proxy`.
//!
//! The subrequest API is marked unstable upstream; it is used only here, so a connector-pool
//! implementation could replace this module without touching the agent API.

use crate::app::{App, SupplierRuntime};
use crate::cache::CacheStatus;
use crate::protection::SupplierGuard;
use crate::traces::LegTrace;
use arigate_connectors::{
    wire, Call, CallContext, ErrorClass, Reply, SupplierError, WireRequest, WireResponse,
};
use arigate_telemetry::{EventType, Span, SpanStatus};
use bytes::Bytes;
use pingora_core::connectors::http::Connector;
use pingora_core::connectors::ConnectorOptions;
use pingora_core::protocols::http::client::HttpSession as ClientSession;
use pingora_core::protocols::http::HttpTask;
use pingora_core::server::configuration::ServerConf;
use pingora_core::upstreams::peer::{HttpPeer, Peer};
use pingora_error::{Error, ErrorType};
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_proxy::subrequest::Ctx as SubrequestCtx;
use pingora_proxy::{FailToProxy, Session};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Header on a leg's response carrying the supplier's own HTTP status.
const SUPPLIER_STATUS: &str = "x-arigate-supplier-status";
/// Error type for a supplier body over the configured cap.
const TOO_LARGE: &str = "supplier_response_too_large";

/// What one leg does: which supplier, which call, under which limits.
pub struct LegSpec {
    pub supplier: Arc<SupplierRuntime>,
    pub call: Call,
    pub timeout: Duration,
    pub bearer: Option<String>,
    pub customer_ip: String,
    pub max_response_bytes: usize,
    /// Set for browse and static legs that may be served from and stored in the cache.
    pub cache: Option<LegCache>,
    /// Where the leg's span goes in its agent request's trace.
    pub trace: Option<LegTrace>,
    /// How an uncached leg hands its translated answer to the parent.
    pub handoff: Handoff,
}

/// The translated answer of a leg that called its supplier, handed to the parent in memory: an
/// uncached leg sends no body at all, and a cacheable leg's JSON body is there for the cache to
/// store; the parent parses it only when the cache served it (a hit or a stale answer).
///
/// Each [`LegSpec`] has its own handoff and only its own subrequest's upstream phase fills it, so
/// it never carries another request's answer. The parent takes it only when the leg's head says
/// the body came from the supplier (`miss`, or no cache at all): should the cache have served a
/// body while an upstream call of the same subrequest also finished (a revalidation), the body
/// it served wins.
#[derive(Default)]
pub struct Handoff(parking_lot::Mutex<Option<LegOutcome>>);

impl Handoff {
    fn put(&self, outcome: LegOutcome) {
        *self.0.lock() = Some(outcome);
    }

    fn take(&self) -> Option<LegOutcome> {
        self.0.lock().take()
    }
}

/// How a cacheable leg is cached.
#[derive(Debug, Clone)]
pub struct LegCache {
    pub ttl: Duration,
    /// The supplier's hotel codes the answer covers (for invalidation).
    pub hotels: Vec<String>,
    /// A refresh-ahead leg: it skips the entry it would hit and replaces it, if it wins the
    /// cluster-wide claim (see [`crate::cache::refresh`]).
    pub refresh: bool,
}

/// The `code` of the error a refresh leg ends with when another node refreshes (or refreshed).
pub const REFRESH_NOT_CLAIMED: &str = "arigate_refresh_not_claimed";

/// The cache key of `supplier`'s answer to `call` (hotel codes sorted by the caller).
pub fn cache_key(supplier: &str, call: &Call) -> String {
    format!(
        "leg:v1:{supplier}:{}",
        serde_json::to_string(call).unwrap_or_default()
    )
}

impl LegSpec {
    /// The cache key: supplier plus the canonical call.
    pub fn cache_key(&self) -> String {
        cache_key(self.supplier.code(), &self.call)
    }
}

/// A leg's answer as its subrequest returns it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegOutcome {
    Ok(Reply),
    Err(SupplierError),
}

/// A finished leg.
pub struct LegResult {
    pub reply: Result<Reply, SupplierError>,
    pub latency: Duration,
    pub cache: CacheStatus,
    /// Age of the data (0 unless served from cache).
    pub age: Duration,
    /// How much longer the answer may be served from cache.
    pub fresh_for: Option<Duration>,
}

impl LegResult {
    pub fn uncached(reply: Result<Reply, SupplierError>, latency: Duration) -> LegResult {
        LegResult {
            reply,
            latency,
            cache: CacheStatus::Bypass,
            age: Duration::ZERO,
            fresh_for: None,
        }
    }
}

/// Headers a leg's answer carries about the cache.
pub const CACHE_STATUS: &str = "x-arigate-cache";
pub const CACHE_AGE: &str = "x-arigate-age";
pub const CACHE_FRESH_FOR: &str = "x-arigate-fresh-for";

/// A spawned leg whose answer has not been read yet.
pub struct PendingLeg {
    handle: pingora_core::protocols::http::subrequest::server::SubrequestHandle,
    spec: Arc<LegSpec>,
    started: Instant,
}

/// Spawns `spec` as a subrequest of the agent's request.
pub fn spawn(session: &Session, spec: LegSpec) -> Result<PendingLeg, SupplierError> {
    let spawner = session.subrequest_spawner.as_ref().ok_or_else(|| {
        SupplierError::new(
            ErrorClass::SupplierUnavailable,
            "",
            "subrequests are not enabled",
        )
    })?;
    let spec = Arc::new(spec);
    let ctx = SubrequestCtx::builder()
        .user_ctx(Box::new(spec.clone()))
        .build();
    let (prepared, handle) = spawner.create_subrequest(session.as_downstream(), ctx);
    // Not aborted on timeout: the leg bounds itself (peer timeouts, `LegState::upstream_body`)
    // and ends through the proxy's error path, which releases its cache lock cleanly.
    tokio::spawn(prepared.run());
    Ok(PendingLeg {
        handle,
        spec,
        started: Instant::now(),
    })
}

/// Runs one leg to its end: a cacheable one as a subrequest, a live one straight through the
/// upstream connector (see the module doc).
pub async fn run(app: &App, session: &Session, spec: LegSpec) -> LegResult {
    if spec.cache.is_none() {
        return run_live(app, spec).await;
    }
    match spawn(session, spec) {
        Ok(p) => p.finish().await,
        Err(e) => LegResult::uncached(Err(e), Duration::ZERO),
    }
}

/// The upstream connector (and connection pool) of live legs, built from the server's
/// configuration at start-up ([`init_connector`]) or with Pingora's defaults.
static LIVE_CONNECTOR: OnceLock<Connector> = OnceLock::new();

/// Builds the live legs' connector with the server's upstream options (pool size, CA file);
/// later calls change nothing.
pub fn init_connector(conf: &ServerConf) {
    let _ = LIVE_CONNECTOR.set(Connector::new(Some(ConnectorOptions::from_server_conf(
        conf,
    ))));
}

fn live_connector() -> &'static Connector {
    LIVE_CONNECTOR.get_or_init(|| Connector::new(None))
}

/// How many times a retry-safe live call is sent when each try fails on a reused connection (a
/// pooled connection the supplier closed while it was idle).
const LIVE_TRIES: usize = 3;

/// Informational (1xx) heads a live leg skips before the answer's head.
const MAX_INFORMATIONAL: usize = 4;

/// Runs a live leg within its timeout (admission included) and records its span and its end at
/// the supplier's guard, however it ended.
async fn run_live(app: &App, spec: LegSpec) -> LegResult {
    let timeout = spec.timeout;
    let mut leg = LegState::new(Arc::new(spec), app.traces.excerpt_limit());
    let reply = match tokio::time::timeout(timeout, leg.call_live(app)).await {
        Ok(r) => r,
        Err(_) => Err(no_answer_within(timeout)),
    };
    leg.outcome = Some(reply.as_ref().map(|_| ()).map_err(Clone::clone));
    leg.finish_call(None);
    if let Some(span) = leg.finish_span(None) {
        app.traces.record(span);
    }
    LegResult::uncached(reply, leg.started.elapsed())
}

impl PendingLeg {
    /// Reads the leg's answer; gives up (and cancels the subrequest) when the leg's timeout passes.
    pub async fn finish(mut self) -> LegResult {
        let deadline = tokio::time::Instant::from_std(self.started + self.spec.timeout);
        let mut info = CacheInfo::default();
        let reply = match tokio::time::timeout_at(
            deadline,
            read_answer(&mut self.handle, &self.spec, &mut info),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(no_answer_within(self.spec.timeout)),
        };
        LegResult {
            reply,
            latency: self.started.elapsed(),
            cache: info.status,
            age: info.age,
            fresh_for: info.fresh_for,
        }
    }
}

/// The error of a leg that had no answer within its timeout.
fn no_answer_within(timeout: Duration) -> SupplierError {
    SupplierError::new(
        ErrorClass::SupplierTimeout,
        "",
        format!("no answer within {} ms", timeout.as_millis()),
    )
}

/// What a leg's answer head said about the cache.
struct CacheInfo {
    status: CacheStatus,
    age: Duration,
    fresh_for: Option<Duration>,
}

impl Default for CacheInfo {
    fn default() -> Self {
        CacheInfo {
            status: CacheStatus::Bypass,
            age: Duration::ZERO,
            fresh_for: None,
        }
    }
}

async fn read_answer(
    handle: &mut pingora_core::protocols::http::subrequest::server::SubrequestHandle,
    spec: &LegSpec,
    info: &mut CacheInfo,
) -> Result<Reply, SupplierError> {
    let mut supplier_status: Option<u16> = None;
    let mut body: Vec<u8> = Vec::new();
    while let Some(task) = handle.rx.recv().await {
        match task {
            HttpTask::Header(h, end) => {
                let header = |n: &str| h.headers.get(n).and_then(|v| v.to_str().ok());
                supplier_status = header(SUPPLIER_STATUS).and_then(|v| v.parse().ok());
                info.status = header(CACHE_STATUS).map_or(CacheStatus::Bypass, CacheStatus::parse);
                info.age = header(CACHE_AGE).and_then(seconds).unwrap_or_default();
                info.fresh_for = header(CACHE_FRESH_FOR).and_then(seconds);
                if end {
                    break;
                }
            }
            HttpTask::Body(chunk, end) => {
                if let Some(b) = chunk {
                    if body.len() + b.len() > spec.max_response_bytes.max(1 << 20) * 2 {
                        return Err(SupplierError::malformed("leg answer over the size cap"));
                    }
                    body.extend_from_slice(&b);
                }
                if end {
                    break;
                }
            }
            HttpTask::Done => break,
            HttpTask::Failed(e) => return Err(classify(&e)),
            _ => {}
        }
    }
    // Taken in every case, so an answer the parent does not use is not kept with the spec.
    let handed = spec.handoff.take();
    if let Some(outcome) = handed.filter(|_| handoff_applies(spec, info.status)) {
        return match outcome {
            LegOutcome::Ok(r) => Ok(r),
            LegOutcome::Err(e) => Err(e),
        };
    }
    if !body.is_empty() {
        return match serde_json::from_slice::<LegOutcome>(&body) {
            Ok(LegOutcome::Ok(r)) => Ok(r),
            Ok(LegOutcome::Err(e)) => Err(e),
            Err(e) => Err(SupplierError::malformed(format!(
                "leg answer unreadable: {e}"
            ))),
        };
    }
    if let Some(status) = supplier_status {
        // A bodiless supplier answer (204, 202): the response body filter never ran.
        return spec
            .supplier
            .connector
            .parse(&spec.call, &WireResponse::new(status, Vec::new()));
    }
    match handle.subreq_proxy_error.try_recv() {
        Ok(e) => Err(classify(&e)),
        Err(_) => Err(SupplierError::new(
            ErrorClass::SupplierUnavailable,
            "",
            "supplier leg ended without an answer",
        )),
    }
}

/// Whether the parent may take a leg's handed-over answer for the body the leg's head announced:
/// an uncached leg's always (it has no other), a cacheable leg's only when that body came from the
/// supplier call that produced it.
fn handoff_applies(spec: &LegSpec, status: CacheStatus) -> bool {
    spec.cache.is_none() || status == CacheStatus::Miss
}

/// A duration header written as seconds with a fraction (`12.345`).
fn seconds(v: &str) -> Option<Duration> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Maps a proxy error (connect, read, write, timeout) to a unified error class.
pub fn classify(e: &Error) -> SupplierError {
    let class = match e.etype() {
        ErrorType::ConnectTimedout | ErrorType::ReadTimedout | ErrorType::WriteTimedout => {
            ErrorClass::SupplierTimeout
        }
        ErrorType::Custom(TOO_LARGE) => ErrorClass::SupplierMalformed,
        ErrorType::InvalidHTTPHeader | ErrorType::H1Error | ErrorType::InvalidH2 => {
            ErrorClass::SupplierMalformed
        }
        _ => ErrorClass::SupplierUnavailable,
    };
    SupplierError::new(class, "", e.etype().as_str())
}

/// Per-subrequest state of a leg while it runs through the proxy phases.
pub struct LegState {
    pub spec: Arc<LegSpec>,
    wire: Option<WireRequest>,
    body_sent: bool,
    supplier_status: u16,
    gzip: bool,
    buf: Vec<u8>,
    started: Instant,
    /// The leg's span, recorded in the logging phase.
    span: Option<Span>,
    /// How the leg ended, once known: `Ok` or the classified supplier error.
    outcome: Option<Result<(), SupplierError>>,
    /// When the leg's answer was ready (its span ends there, not at the subrequest's teardown).
    ended: Option<Instant>,
    excerpt_limit: usize,
    /// The supplier's admission of this call, once the leg goes upstream.
    guard: Option<SupplierGuard>,
}

/// The leg this (sub)request is, if it is one.
pub fn leg_of(session: &Session) -> Option<Arc<LegSpec>> {
    session
        .subrequest_ctx
        .as_ref()?
        .user_ctx()?
        .downcast_ref::<Arc<LegSpec>>()
        .cloned()
}

impl LegState {
    /// `excerpt_limit`: bytes of the wire request and response copied into the leg's span.
    pub fn new(spec: Arc<LegSpec>, excerpt_limit: usize) -> LegState {
        let span = spec
            .trace
            .as_ref()
            .map(|t| t.begin(spec.supplier.code(), spec.call.op()));
        LegState {
            spec,
            wire: None,
            body_sent: false,
            supplier_status: 0,
            gzip: false,
            buf: Vec::new(),
            started: Instant::now(),
            span,
            outcome: None,
            ended: None,
            excerpt_limit,
            guard: None,
        }
    }

    /// Notes how the cache served this leg: a hit is a `cache_hit` span, a miss stays a
    /// `supplier_query`.
    pub fn note_cache(&mut self, status: CacheStatus) {
        if let Some(span) = self.span.as_mut() {
            if matches!(status, CacheStatus::Hit | CacheStatus::Stale) {
                span.event_type = EventType::CacheHit;
                self.ended = Some(Instant::now());
            }
            span.attributes
                .insert("cache".into(), status.as_str().into());
        }
    }

    /// Closes the leg's span with how the leg ended (`e`: the proxy error, if any).
    pub fn finish_span(&mut self, e: Option<&Error>) -> Option<Span> {
        let mut span = self.span.take()?;
        let outcome = match (self.outcome.take(), e) {
            (Some(o), _) => o,
            (None, Some(e)) => Err(classify(e)),
            (None, None) => Ok(()),
        };
        if self.supplier_status != 0 {
            span.attributes
                .insert("supplier_status".into(), self.supplier_status.to_string());
        }
        let ended = self.ended.unwrap_or_else(Instant::now);
        let took = ended.saturating_duration_since(self.started);
        match outcome {
            Ok(()) => span.finish(SpanStatus::Success),
            Err(err) => {
                let status = if err.class == ErrorClass::SupplierTimeout {
                    SpanStatus::Timeout
                } else {
                    SpanStatus::Error
                };
                span.attributes
                    .insert("error_class".into(), err.class.to_string());
                if !err.code.is_empty() {
                    span.attributes
                        .insert("supplier_code".into(), err.code.clone());
                }
                span.fail(status, format!("{}: {}", err.class, err.message));
            }
        }
        span.duration_ms = u32::try_from(took.as_millis()).unwrap_or(u32::MAX);
        Some(span)
    }

    fn excerpt(&self, data: &[u8]) -> String {
        crate::traces::excerpt(data, self.excerpt_limit)
    }

    pub fn call(&self) -> &Call {
        &self.spec.call
    }

    /// The agent route a cacheable leg serves (the `route` label of cache metrics).
    pub fn route(&self) -> &'static str {
        match self.spec.call {
            Call::Content { .. } => "hotel",
            _ => "search",
        }
    }

    /// The supplier's HTTP status of the answer being proxied (0 before it arrived).
    pub fn supplier_status(&self) -> u16 {
        self.supplier_status
    }

    /// Builds and signs the supplier request (request phase). On failure the leg answers at once.
    pub async fn request_filter(&mut self, session: &mut Session) -> pingora_error::Result<bool> {
        match self.build() {
            Ok(()) => Ok(false),
            Err(e) => {
                write_outcome(session, &LegOutcome::Err(e)).await?;
                Ok(true)
            }
        }
    }

    /// Builds and signs the supplier request with the connector; a failure is the leg's outcome.
    fn build(&mut self) -> Result<(), SupplierError> {
        // 32 random hex digits from the thread-local CSPRNG (no system call per leg).
        let nonce = arigate_telemetry::new_trace_id();
        let cx = CallContext {
            now: chrono::Utc::now().timestamp(),
            nonce: &nonce,
            base_url: &self.spec.supplier.config.endpoint,
            bearer: self.spec.bearer.as_deref(),
            customer_ip: &self.spec.customer_ip,
        };
        match self.spec.supplier.connector.build(&self.spec.call, &cx) {
            Ok(w) => {
                if self.span.is_some() {
                    let excerpt = format!(
                        "{} {}\n{}",
                        w.method.as_str(),
                        w.path,
                        self.excerpt(&w.body)
                    );
                    if let Some(span) = self.span.as_mut() {
                        span.request_data = excerpt;
                    }
                }
                self.wire = Some(w);
                Ok(())
            }
            Err(e) => {
                self.outcome = Some(Err(e.clone()));
                Err(e)
            }
        }
    }

    /// Runs after the cache decided the supplier must be asked, just before connecting: a
    /// refresh leg must win its cluster-wide claim, then the supplier's guard must admit the call
    /// (its rate, cluster-wide with Redis; its concurrency cap; its circuit). A cached leg never
    /// gets here, so it is served whatever the guard would say. `Ok(false)`: the leg answered
    /// without calling the supplier.
    pub async fn admit(&mut self, session: &mut Session, app: &App) -> pingora_error::Result<bool> {
        if self.guard.is_some() {
            return Ok(true);
        }
        let spec = self.spec.clone();
        if spec.cache.as_ref().is_some_and(|c| c.refresh) {
            let key = crate::cache::entry_id(&spec.cache_key());
            if !app
                .cache
                .refresh
                .claim(&key, spec.supplier.config.min_pull_interval)
                .await
            {
                let e = SupplierError::new(
                    ErrorClass::RateLimited,
                    REFRESH_NOT_CLAIMED,
                    "another node refreshes this entry",
                );
                return self.answer_without_call(session, e).await;
            }
        }
        match SupplierGuard::admit(&app.quotas, &spec.supplier, spec.call.op()).await {
            Ok(guard) => {
                self.guard = Some(guard);
                Ok(true)
            }
            Err(refusal) => {
                let e = refusal.error(spec.supplier.code());
                self.answer_without_call(session, e).await
            }
        }
    }

    async fn answer_without_call(
        &mut self,
        session: &mut Session,
        e: SupplierError,
    ) -> pingora_error::Result<bool> {
        self.outcome = Some(Err(e.clone()));
        self.ended = Some(Instant::now());
        write_outcome(session, &LegOutcome::Err(e)).await?;
        Ok(false)
    }

    /// Reports to the supplier's guard how a call it admitted ended (logging phase; `e`: the
    /// proxy error, if any).
    pub fn finish_call(&mut self, e: Option<&Error>) {
        let Some(guard) = self.guard.take() else {
            return;
        };
        let outcome = match (&self.outcome, e) {
            (Some(o), _) => o.clone(),
            (None, Some(e)) => Err(classify(e)),
            (None, None) => Ok(()),
        };
        guard.finish(&outcome, self.ended.unwrap_or_else(Instant::now));
    }

    /// The supplier as the upstream, with the leg's timeouts.
    pub fn peer(&self) -> Box<HttpPeer> {
        let cfg = &self.spec.supplier.config;
        let mut peer = HttpPeer::new(cfg.addr, cfg.tls, cfg.host.clone());
        let t = self.spec.timeout;
        peer.options.connection_timeout = Some(t.min(Duration::from_secs(2)));
        peer.options.total_connection_timeout = Some(t.min(Duration::from_secs(3)));
        peer.options.read_timeout = Some(t);
        peer.options.write_timeout = Some(t);
        peer.options.idle_timeout = Some(Duration::from_secs(60));
        Box::new(peer)
    }

    /// Replaces the copied agent request head with the supplier's: no agent header is forwarded.
    pub fn upstream_request(&self, req: &mut RequestHeader) -> pingora_error::Result<()> {
        let Some(w) = &self.wire else {
            return Error::e_explain(ErrorType::InternalError, "leg without a wire request");
        };
        let names: Vec<_> = req.headers.keys().cloned().collect();
        for n in names {
            req.remove_header(&n);
        }
        req.set_method(
            http::Method::from_bytes(w.method.as_str().as_bytes())
                .map_err(|_| Error::new(ErrorType::InternalError))?,
        );
        let uri: http::Uri = w.path.parse().map_err(|_| {
            Error::explain(ErrorType::InternalError, "connector built an invalid path")
        })?;
        req.set_uri(uri);
        let cfg = &self.spec.supplier.config;
        req.insert_header("host", format!("{}:{}", cfg.host, cfg.addr.port()))?;
        for (k, v) in &w.headers {
            req.append_header(k.clone(), v.as_str())?;
        }
        req.insert_header("content-length", w.body.len().to_string())?;
        Ok(())
    }

    /// A new upstream attempt of a subrequest leg (the first, or Pingora's retry after a reused
    /// connection failed): its body goes out again and nothing of an earlier answer is kept.
    pub fn begin_attempt(&mut self) {
        self.body_sent = false;
        self.buf.clear();
        self.supplier_status = 0;
    }

    /// Sends the supplier body in place of the (empty) subrequest body.
    pub fn request_body(&mut self, body: &mut Option<Bytes>) {
        if self.body_sent {
            *body = None;
            return;
        }
        self.body_sent = true;
        *body = match &self.wire {
            Some(w) if !w.body.is_empty() => Some(Bytes::from(w.body.clone())),
            _ => None,
        };
    }

    /// Records the supplier's status and turns the head into the leg's JSON head.
    pub fn upstream_response(&mut self, resp: &mut ResponseHeader) -> pingora_error::Result<()> {
        self.note_response(resp);
        let names: Vec<_> = resp.headers.keys().cloned().collect();
        for n in names {
            resp.remove_header(&n);
        }
        resp.set_status(200)?;
        resp.insert_header("content-type", "application/json")?;
        resp.insert_header(SUPPLIER_STATUS, self.supplier_status.to_string())?;
        Ok(())
    }

    /// Notes the supplier's status and whether its body is gzipped.
    fn note_response(&mut self, resp: &ResponseHeader) {
        self.supplier_status = resp.status.as_u16();
        self.gzip = resp
            .headers
            .get("content-encoding")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    }

    /// Collects the supplier body (bounded) and, at its end, emits the translated outcome.
    pub fn upstream_body(
        &mut self,
        body: &mut Option<Bytes>,
        end: bool,
    ) -> pingora_error::Result<()> {
        // A supplier that trickles bytes never trips the per-read timeout; the leg's own does.
        if !end && self.started.elapsed() > self.spec.timeout {
            return Error::e_explain(
                ErrorType::ReadTimedout,
                "supplier answer slower than the leg timeout",
            );
        }
        if let Some(b) = body.take() {
            self.collect(b)?;
        }
        if end {
            let outcome = self.translate();
            if self.spec.cache.is_some() {
                // The bytes the cache stores; the parent takes the answer as it is (see `Handoff`).
                *body = Some(Bytes::from(
                    serde_json::to_vec(&outcome).unwrap_or_default(),
                ));
            }
            self.spec.handoff.put(outcome);
        }
        Ok(())
    }

    /// Appends a chunk of the supplier's body, within the configured cap.
    fn collect(&mut self, b: Bytes) -> pingora_error::Result<()> {
        if self.buf.len() + b.len() > self.spec.max_response_bytes {
            return Error::e_explain(
                ErrorType::Custom(TOO_LARGE),
                "supplier response over the configured cap",
            );
        }
        self.buf.extend_from_slice(&b);
        Ok(())
    }

    fn translate(&mut self) -> LegOutcome {
        let outcome = self.translate_raw();
        self.ended = Some(Instant::now());
        self.outcome = Some(match &outcome {
            LegOutcome::Ok(_) => Ok(()),
            LegOutcome::Err(e) => Err(e.clone()),
        });
        outcome
    }

    fn translate_raw(&mut self) -> LegOutcome {
        let raw = std::mem::take(&mut self.buf);
        if self.span.is_some() {
            let excerpt = self.excerpt(&raw);
            if let Some(span) = self.span.as_mut() {
                span.response_data = excerpt;
            }
        }
        let raw = if self.gzip {
            match wire::gunzip_bounded(&raw, self.spec.max_response_bytes) {
                Ok(b) => b,
                Err(e) => return LegOutcome::Err(e),
            }
        } else {
            raw
        };
        let resp = WireResponse::new(self.supplier_status, raw);
        match self.spec.supplier.connector.parse(&self.spec.call, &resp) {
            Ok(r) => LegOutcome::Ok(r),
            Err(e) => LegOutcome::Err(e),
        }
    }

    /// A live leg's call: build and sign, admit, send and read, translate.
    async fn call_live(&mut self, app: &App) -> Result<Reply, SupplierError> {
        self.build()?;
        let spec = self.spec.clone();
        let guard = SupplierGuard::admit(&app.quotas, &spec.supplier, spec.call.op())
            .await
            .map_err(|refusal| refusal.error(spec.supplier.code()))?;
        self.guard = Some(guard);
        let peer = self.peer();
        let mut tries = 0;
        loop {
            tries += 1;
            let (session, reused) = live_connector()
                .get_http_session(&*peer)
                .await
                .map_err(|e| classify(&e))?;
            match self.exchange(session, &peer).await {
                Ok(()) => break,
                Err(e) if reused && spec.call.retry_safe() && tries < LIVE_TRIES => {
                    tracing::debug!(supplier = spec.supplier.code(), error = %e, "reused supplier connection failed; sending again");
                }
                Err(e) => return Err(classify(&e)),
            }
        }
        match self.translate() {
            LegOutcome::Ok(r) => Ok(r),
            LegOutcome::Err(e) => Err(e),
        }
    }

    /// Sends the wire request on `session` and collects the answer (bounded); gives the
    /// connection back to the pool when the answer ended cleanly.
    async fn exchange(
        &mut self,
        mut session: ClientSession,
        peer: &HttpPeer,
    ) -> pingora_error::Result<()> {
        self.buf.clear();
        self.supplier_status = 0;
        session.set_read_timeout(peer.options.read_timeout);
        session.set_write_timeout(peer.options.write_timeout);
        let mut req = RequestHeader::build("GET", b"/", Some(8))?;
        self.upstream_request(&mut req)?;
        session.write_request_header(Box::new(req)).await?;
        if let Some(body) = self.wire.as_ref().map(|w| Bytes::from(w.body.clone())) {
            if !body.is_empty() {
                session.write_request_body(body, true).await?;
            }
        }
        session.finish_request_body().await?;
        let mut informational = 0;
        loop {
            session.read_response_header().await?;
            let Some(head) = session.response_header() else {
                return Error::e_explain(ErrorType::InvalidHTTPHeader, "no response head");
            };
            let status = head.status.as_u16();
            if !(100..200).contains(&status) || status == 101 {
                self.note_response(head);
                break;
            }
            informational += 1;
            if informational > MAX_INFORMATIONAL {
                return Error::e_explain(
                    ErrorType::InvalidHTTPHeader,
                    "too many informational answers",
                );
            }
        }
        while !session.response_done() {
            match session.read_response_body().await? {
                Some(b) => self.collect(b)?,
                None => break,
            }
        }
        live_connector()
            .release_http_session(session, peer, peer.idle_timeout())
            .await;
        Ok(())
    }

    /// A failed leg answers with a classified error if it still can.
    pub async fn fail(&mut self, session: &mut Session, e: &Error) -> FailToProxy {
        let err = classify(e);
        if self.outcome.is_none() {
            self.outcome = Some(Err(err.clone()));
            self.ended = Some(Instant::now());
        }
        if session.response_written().is_none() {
            let _ = write_outcome(session, &LegOutcome::Err(err)).await;
        }
        FailToProxy {
            error_code: 502,
            can_reuse_downstream: false,
        }
    }
}

async fn write_outcome(session: &mut Session, outcome: &LegOutcome) -> pingora_error::Result<()> {
    let body = serde_json::to_vec(outcome).unwrap_or_default();
    let mut h = ResponseHeader::build(200, Some(2))?;
    h.insert_header("content-type", "application/json")?;
    h.insert_header("content-length", body.len().to_string())?;
    session.write_response_header(Box::new(h), false).await?;
    session
        .write_response_body(Some(Bytes::from(body)), true)
        .await
}
