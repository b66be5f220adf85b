//! The Pingora service: one `ProxyHttp` for agent requests and for the supplier legs they spawn.
//!
//! An agent request is routed, authenticated and answered in `request_filter`; it never has an
//! upstream of its own. A cacheable leg (a subrequest carrying a [`LegSpec`](crate::legs::LegSpec))
//! goes through every phase with its supplier as the upstream; a live leg is sent through the same
//! upstream connector without a subrequest (see [`crate::legs`]).

use crate::api::{self, booking, content, search, webhooks, ApiResponse, Route};
use crate::app::{App, Live};
use crate::cache::{tag_header, CacheStatus, TAGS_HEADER};
use crate::errors::ApiError;
use crate::legs::{leg_of, LegState, CACHE_AGE, CACHE_FRESH_FOR, CACHE_STATUS};
use crate::traces::{event_of, status_of, RequestTrace};
use arigate_connectors::Call;
use arigate_telemetry::RelatedType;
use async_trait::async_trait;
use bytes::Bytes;
use pingora_cache::{
    CacheKey, CacheMeta, CachePhase, ForcedFreshness, HitHandler, NoCacheReason, RespCacheable,
};
use pingora_core::upstreams::peer::HttpPeer;
use pingora_error::{Error, ErrorType};
use pingora_http::{RequestHeader, ResponseHeader};
use pingora_proxy::{FailToProxy, ProxyHttp, Session};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub struct Edge {
    pub live: Live,
}

/// Per-request state.
pub struct RequestCtx {
    pub trace_id: String,
    pub started: Instant,
    pub route: &'static str,
    pub status: u16,
    /// The agent request's trace (root span and ids); empty for legs.
    pub trace: RequestTrace,
    pub leg: Option<LegState>,
    /// Counts the agent request as in flight until the context drops.
    _inflight: Option<Inflight>,
    /// `RateLimit-Policy`/`RateLimit` fields every answer to an authenticated agent carries.
    rate_headers: Vec<(&'static str, String)>,
    /// Refused by `limits` before routing (431, 414, 503 overloaded); answered in `request_filter`.
    reject: Option<ApiError>,
}

/// One agent request in flight (graceful shutdown waits until none are).
pub struct Inflight(Arc<std::sync::atomic::AtomicUsize>);

impl Inflight {
    pub fn enter(counter: &Arc<std::sync::atomic::AtomicUsize>) -> Inflight {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Inflight(counter.clone())
    }

    /// Enters unless `max` requests are already in flight (then `None`: shed, not queued).
    pub fn try_enter(
        counter: &Arc<std::sync::atomic::AtomicUsize>,
        max: usize,
    ) -> Option<Inflight> {
        let before = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if before >= max {
            counter.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            return None;
        }
        Some(Inflight(counter.clone()))
    }
}

impl Drop for Inflight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The trace id of a valid W3C `traceparent`, else a fresh one.
pub fn trace_id_from(traceparent: Option<&str>) -> String {
    if let Some(tp) = traceparent {
        let parts: Vec<&str> = tp.trim().split('-').collect();
        if let [version, trace, span, _flags] = parts.as_slice() {
            let hex = |s: &str, n: usize| {
                s.len() == n
                    && s.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            };
            if hex(version, 2)
                && *version != "ff"
                && hex(trace, 32)
                && hex(span, 16)
                && trace.bytes().any(|b| b != b'0')
            {
                return trace.to_string();
            }
        }
    }
    // Thread-local CSPRNG: no getrandom system call per request (uuid's v4 makes one).
    arigate_telemetry::new_trace_id()
}

impl Edge {
    /// The running generation (for state shared by all generations: cache, traces).
    fn app(&self) -> arc_swap::Guard<Arc<App>> {
        self.live.load()
    }

    async fn agent_request(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<ApiResponse, ApiError> {
        // One generation of the configuration for the whole request, even across a reload.
        let app = self.live.load_full();
        let app = &*app;
        let req = session.req_header();
        let (method, path) = (req.method.as_str(), req.uri.path());
        ctx.trace.annotate(|s| {
            s.attributes.insert("method".into(), method.into());
            s.attributes
                .insert("path".into(), path.chars().take(200).collect());
        });
        api::check_target(req)?;
        let route = Route::resolve(method, path)?;
        ctx.route = route.name();
        ctx.trace
            .annotate(|s| s.event_type = event_of(route.name()));
        let limits = &app.config.request_limits;
        let max = limits.body_cap(crate::limits::class_of(&route));
        // A declared length over the class cap is refused before anything else is read.
        api::check_declared_length(session, max)?;
        if let Route::Webhook(supplier) = &route {
            let body = api::read_body(session, max, limits.body_read_timeout).await?;
            return webhooks::handle(app, session, supplier, &body, &ctx.trace);
        }
        let agent = api::authenticate(app, session)?;
        ctx.trace.annotate(|s| {
            s.agent_id = Some(agent.id.clone());
        });
        match crate::protection::admit_agent(app, &agent.id, &ctx.trace_id) {
            Ok(headers) => ctx.rate_headers = headers,
            Err(refused) => {
                ctx.trace
                    .annotate(|s| s.error_detail = "rate_limited".into());
                return Ok(refused);
            }
        }
        // The whole body (bounded in size and time) is read before any handler runs, so no
        // supplier ever sees a request whose body did not arrive complete.
        let body = api::read_body(session, max, limits.body_read_timeout).await?;
        let session: &Session = session;
        // Made only for the routes that call a supplier live (a search makes its own).
        let tx = || booking::Tx {
            app,
            session,
            agent,
            trace: &ctx.trace,
            customer_ip: api::client_ip(session),
        };
        match route {
            Route::Search => search::handle(app, session, agent, &body, &ctx.trace).await,
            Route::Destinations => Ok(content::destinations(app)),
            Route::HotelsInDestination => {
                content::hotels(app, api::query_param(session, "destination"))
            }
            Route::Hotel(id) => {
                ctx.trace.annotate(|s| {
                    s.hotel_ids.push(id.clone());
                    s.related_type = Some(RelatedType::Hotel);
                    s.related_id = id.clone();
                });
                content::hotel(app, session, agent, &id, &ctx.trace).await
            }
            Route::Availability => booking::availability(&tx(), &body).await,
            Route::Book => {
                let key = session
                    .req_header()
                    .headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok());
                booking::book(&tx(), key, &body).await
            }
            Route::BookingQuery(id) => booking::query(&tx(), &id).await,
            Route::Cancel(id) => booking::cancel(&tx(), &id).await,
            Route::Webhook(_) => Err(ApiError::not_found("no route")),
        }
    }
}

async fn respond(
    session: &mut Session,
    ctx: &mut RequestCtx,
    resp: ApiResponse,
) -> pingora_error::Result<()> {
    ctx.status = resp.status;
    // Every name is written as given (lowercase): no case map to fill per answer.
    let mut h = ResponseHeader::build_no_case(
        resp.status,
        Some(resp.headers.len() + ctx.rate_headers.len() + 6),
    )?;
    h.insert_header(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    )?;
    h.insert_header(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from(resp.body.len() + resp.tail.len()),
    )?;
    h.insert_header("x-trace-id", ctx.trace_id.as_str())?;
    // Every answer says whether it came from the cache; only browse and static ones can.
    if !resp.headers.iter().any(|(k, _)| *k == "x-arigate-cache") {
        h.insert_header("x-arigate-cache", "bypass")?;
    }
    for (k, v) in resp.headers {
        h.append_header(k, v)?;
    }
    for (k, v) in std::mem::take(&mut ctx.rate_headers) {
        if h.headers.get(k).is_none() {
            h.append_header(k, v)?;
        }
    }
    session.write_response_header(Box::new(h), false).await?;
    if resp.tail.is_empty() {
        return session
            .write_response_body(Some(Bytes::from(resp.body)), true)
            .await;
    }
    // A small per-request head (it shares the write buffer with the response head), then the
    // stored answer's bytes as they are: no copy of the answer per request.
    session
        .write_response_body(Some(Bytes::from(resp.body)), false)
        .await?;
    session.write_response_body(Some(resp.tail), true).await
}

#[async_trait]
impl ProxyHttp for Edge {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx {
            trace_id: String::new(),
            started: Instant::now(),
            route: "unknown",
            status: 0,
            trace: RequestTrace::none(),
            leg: None,
            _inflight: None,
            rate_headers: Vec::new(),
            reject: None,
        }
    }

    async fn early_request_filter(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> pingora_error::Result<()> {
        match leg_of(session) {
            Some(spec) => ctx.leg = Some(LegState::new(spec, self.app().traces.excerpt_limit())),
            None => {
                // RFC 9112 §9.3.2: requests pipelined on a keep-alive connection are answered
                // one after the other, in order, each through every phase and limit (Pingora
                // keeps the bytes of the next one it read early and starts it when this one is
                // done). A refusal still closes the connection and reads nothing more.
                if let pingora_core::protocols::http::ServerSession::H1(h1) =
                    session.as_downstream_mut()
                {
                    h1.set_pipelining_enabled(true);
                }
                let tp = session
                    .req_header()
                    .headers
                    .get("traceparent")
                    .and_then(|v| v.to_str().ok());
                ctx.trace_id = trace_id_from(tp);
                ctx.trace = RequestTrace::new(ctx.trace_id.clone());
                if let Some(g) = crate::limits::guard_of(session) {
                    g.header_done();
                }
                let app = self.app();
                let limits = &app.config.request_limits;
                ctx._inflight = Inflight::try_enter(&app.inflight, limits.max_inflight);
                if ctx._inflight.is_none() {
                    ctx.reject = Some(crate::limits::overloaded(limits.max_inflight));
                } else if let Err(e) = crate::limits::check_head(session.req_header(), limits) {
                    ctx.reject = Some(e);
                }
            }
        }
        Ok(())
    }

    fn allow_spawning_subrequest(&self, session: &Session, _ctx: &RequestCtx) -> bool {
        session.subrequest_ctx.is_none()
    }

    async fn request_filter(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> pingora_error::Result<bool> {
        if let Some(leg) = ctx.leg.as_mut() {
            return leg.request_filter(session).await;
        }
        let result = match ctx.reject.take() {
            Some(e) => Err(e),
            None => self.agent_request(session, ctx).await,
        };
        // A request whose body was not read to its end (refused early) closes its connection
        // after the answer: nothing it sent is drained or read as a next request.
        if !session.is_body_done() {
            session.set_keepalive(None);
        }
        let resp = match result {
            Ok(r) => r,
            Err(e) => {
                if e.closes_connection() {
                    session.set_keepalive(None);
                }
                ctx.trace.annotate(|s| {
                    s.error_detail = format!("{}: {}", e.code, e.message);
                });
                let mut r = ApiResponse {
                    tail: bytes::Bytes::new(),
                    status: e.status,
                    body: e.body(&ctx.trace_id),
                    headers: Vec::new(),
                };
                if let Some(s) = e.retry_after {
                    r.headers.push(("retry-after", s.to_string()));
                }
                if let Some(c) = e.challenge {
                    r.headers.push(("www-authenticate", c.to_string()));
                }
                r
            }
        };
        respond(session, ctx, resp).await?;
        Ok(true)
    }

    /// Browse and static legs (and only they) go through the cache.
    fn request_cache_filter(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> pingora_error::Result<()> {
        if ctx.leg.as_ref().is_some_and(|l| l.spec.cache.is_some()) {
            let app = self.app();
            let c = &app.cache;
            session
                .cache
                .enable(c.tiers, None, None, Some(c.lock), None);
        }
        Ok(())
    }

    fn cache_key_callback(
        &self,
        _session: &Session,
        ctx: &mut RequestCtx,
    ) -> pingora_error::Result<CacheKey> {
        match &ctx.leg {
            Some(leg) => Ok(crate::cache::lock::leg_key(leg.spec.cache_key())),
            None => Error::e_explain(ErrorType::InternalError, "agent requests are not cached"),
        }
    }

    /// A cached answer older than the latest invalidation of any hotel it covers is a miss, and
    /// so is one older than the node may trust while the cluster's invalidation feed is down.
    /// A refresh-ahead leg never takes the hit: it is there to replace it.
    async fn cache_hit_filter(
        &self,
        _session: &mut Session,
        meta: &CacheMeta,
        _hit_handler: &mut HitHandler,
        _is_fresh: bool,
        ctx: &mut RequestCtx,
    ) -> pingora_error::Result<Option<ForcedFreshness>> {
        let Some(leg) = &ctx.leg else { return Ok(None) };
        let Some(cache) = &leg.spec.cache else {
            return Ok(None);
        };
        if cache.refresh {
            return Ok(Some(ForcedFreshness::ForceMiss));
        }
        let app = self.app();
        // Static content is not ARI: only browse answers are distrusted while the feed is down.
        let browse = matches!(leg.spec.call, Call::Search { .. });
        let stale = app.cache.invalidations.is_stale(
            leg.spec.supplier.code(),
            &cache.hotels,
            meta.created(),
        ) || (browse && !app.cache.trusted_age(meta.age()));
        Ok(stale.then_some(ForcedFreshness::ForceMiss))
    }

    /// Only a supplier's successful answer is cacheable, for the TTL the parent decided.
    fn response_cache_filter(
        &self,
        _session: &Session,
        resp: &ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> pingora_error::Result<RespCacheable> {
        if let Some(leg) = &ctx.leg {
            if let (Some(cache), true) =
                (&leg.spec.cache, (200..300).contains(&leg.supplier_status()))
            {
                let now = SystemTime::now();
                crate::metrics::cache_ttl(cache.ttl);
                // The stored head names supplier and hotels, so every tier can check invalidations.
                let mut head = resp.clone();
                if let Some(tags) = tag_header(leg.spec.supplier.code(), &cache.hotels) {
                    head.insert_header(TAGS_HEADER, tags)?;
                }
                return Ok(RespCacheable::Cacheable(CacheMeta::new(
                    now + cache.ttl,
                    now,
                    0,
                    0,
                    head,
                )));
            }
        }
        Ok(RespCacheable::Uncacheable(NoCacheReason::OriginNotCache))
    }

    /// Tells the parent how a cacheable leg was served, and how old and how fresh its data is.
    async fn response_filter(
        &self,
        session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> pingora_error::Result<()> {
        let Some(leg) = ctx.leg.as_mut() else {
            return Ok(());
        };
        if leg.spec.cache.is_none() {
            return Ok(());
        }
        let status = match session.cache.phase() {
            CachePhase::Hit => CacheStatus::Hit,
            CachePhase::Stale | CachePhase::StaleUpdating => CacheStatus::Stale,
            CachePhase::Miss | CachePhase::Expired => CacheStatus::Miss,
            _ => CacheStatus::Bypass,
        };
        self.app().cache.lookups.count(status);
        crate::metrics::cache_lookup(leg.route(), status);
        leg.note_cache(status);
        resp.insert_header(CACHE_STATUS, status.as_str())?;
        if let Some(meta) = session.cache.maybe_cache_meta() {
            let fresh_for = meta
                .fresh_until()
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            resp.insert_header(CACHE_FRESH_FOR, format!("{:.3}", fresh_for.as_secs_f64()))?;
            if status != CacheStatus::Miss {
                resp.insert_header(CACHE_AGE, format!("{:.3}", meta.age().as_secs_f64()))?;
            }
        }
        Ok(())
    }

    /// After the cache, before the supplier: refresh claims and supplier quotas.
    async fn proxy_upstream_filter(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> pingora_error::Result<bool> {
        match ctx.leg.as_mut() {
            Some(leg) => leg.admit(session, &self.app()).await,
            None => Ok(true),
        }
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> pingora_error::Result<Box<HttpPeer>> {
        match &ctx.leg {
            Some(leg) => Ok(leg.peer()),
            None => Error::e_explain(ErrorType::InternalError, "agent requests have no upstream"),
        }
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream_request: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> pingora_error::Result<()> {
        match ctx.leg.as_mut() {
            Some(leg) => {
                // Once per attempt: a retry on a fresh connection sends the whole request again.
                leg.begin_attempt();
                leg.upstream_request(upstream_request)
            }
            None => Ok(()),
        }
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> pingora_error::Result<()> {
        if let Some(leg) = ctx.leg.as_mut() {
            leg.request_body(body);
        }
        Ok(())
    }

    async fn upstream_response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> pingora_error::Result<()> {
        match ctx.leg.as_mut() {
            Some(leg) => leg.upstream_response(upstream_response),
            None => Ok(()),
        }
    }

    fn upstream_response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> pingora_error::Result<Option<Duration>> {
        if let Some(leg) = ctx.leg.as_mut() {
            leg.upstream_body(body, end_of_stream)?;
        }
        Ok(None)
    }

    /// Book, prepare and cancel calls are never retried blindly; other legs only on a reused connection.
    fn error_while_proxy(
        &self,
        peer: &HttpPeer,
        _session: &mut Session,
        e: Box<Error>,
        ctx: &mut RequestCtx,
        client_reused: bool,
    ) -> Box<Error> {
        let mut e = e.more_context(format!("Peer: {peer}"));
        match &ctx.leg {
            Some(leg) if leg.call().retry_safe() => e.retry.decide_reuse(client_reused),
            _ => e.set_retry(false),
        }
        e
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        if let Some(leg) = ctx.leg.as_mut() {
            return leg.fail(session, e).await;
        }
        if session.response_written().is_some() {
            // The answer was under way when the connection failed (say, the client stopped
            // reading past `limits.write_timeout`): there is nothing more to say on it.
            return FailToProxy {
                error_code: 0,
                can_reuse_downstream: false,
            };
        }
        let err = ApiError::new(500, "internal", "the edge could not complete the request");
        let _ = respond(
            session,
            ctx,
            ApiResponse {
                tail: bytes::Bytes::new(),
                status: 500,
                body: err.body(&ctx.trace_id),
                headers: Vec::new(),
            },
        )
        .await;
        FailToProxy {
            error_code: 500,
            can_reuse_downstream: false,
        }
    }

    /// A leg abandoned by its search (the deadline passed, or enough suppliers answered) ends
    /// with a read error on the subrequest's own downstream side. That is the design working,
    /// already recorded in the leg's span and metrics, so it is not logged as an error; every
    /// other failure still is.
    fn suppress_error_log(&self, _session: &Session, ctx: &RequestCtx, e: &Error) -> bool {
        let abandoned = ctx.leg.is_some()
            && e.esource() == &pingora_error::ErrorSource::Downstream
            && matches!(
                e.etype(),
                ErrorType::ReadError | ErrorType::ConnectionClosed
            );
        if abandoned {
            tracing::debug!(error = %e, "supplier leg abandoned by its search");
        }
        abandoned
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut RequestCtx) {
        if let Some(leg) = ctx.leg.as_mut() {
            leg.finish_call(e);
            if let Some(span) = leg.finish_span(e) {
                self.app().traces.record(span);
            }
            return;
        }
        if let Some(g) = crate::limits::guard_of(session) {
            g.request_done();
        }
        let status = if ctx.status == 0 { 499 } else { ctx.status };
        crate::metrics::request(ctx.route, status, ctx.started.elapsed());
        let hit = ctx.trace.take_hit();
        if let Some(mut root) = ctx.trace.take_root() {
            root.attributes
                .insert("http_status".into(), status.to_string());
            root.attributes.insert("route".into(), ctx.route.into());
            let detail = std::mem::take(&mut root.error_detail);
            match status_of(status) {
                arigate_telemetry::SpanStatus::Success => {
                    root.finish(arigate_telemetry::SpanStatus::Success)
                }
                other => root.fail(
                    other,
                    if detail.is_empty() {
                        format!("HTTP {status}")
                    } else {
                        detail
                    },
                ),
            }
            self.app().traces.record_request(&ctx.trace, root, hit);
        }
        {
            tracing::debug!(trace_id = %ctx.trace_id, route = ctx.route, status = ctx.status, elapsed_ms = ctx.started.elapsed().as_millis() as u64, error = ?e.map(|e| e.etype().as_str()), "request");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_is_honoured_only_when_valid() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(trace_id_from(Some(tp)), "4bf92f3577b34da6a3ce929d0e0e4736");
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        ] {
            let id = trace_id_from(Some(bad));
            assert_ne!(id, "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_eq!(id.len(), 32);
        }
    }
}
