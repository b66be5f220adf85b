//! The admin listener (loopback by default): `/healthz`, `/readyz`, `/metrics` (Prometheus text),
//! `/admin/suppliers`, cache stats and purge, and the trace API ([`crate::trace_api`]).

use crate::app::{App, Live};
use arigate_filters::cache_policy::Tag;
use async_trait::async_trait;
use http::Response;
use pingora_core::apps::http_app::ServeHttp;
use pingora_core::protocols::http::ServerSession;
use serde::Deserialize;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub struct Admin {
    pub live: Live,
    pub reloader: Arc<crate::reload::Reloader>,
}

fn json_response(status: u16, body: serde_json::Value) -> Response<Vec<u8>> {
    crate::trace_api::respond(status, "application/json", body.to_string().into_bytes())
}

/// `GET /metrics`: every family in the Prometheus text format, gauges sampled now.
fn metrics_response(app: &App, reloads: &crate::reload::ReloadCounts) -> Response<Vec<u8>> {
    let Some(m) = crate::metrics::global() else {
        return json_response(
            503,
            json!({"error": {"code": "unavailable", "message": "metrics are unavailable"}}),
        );
    };
    m.observe(app);
    m.observe_reloads(
        reloads.ok.load(Ordering::Relaxed),
        reloads.invalid.load(Ordering::Relaxed),
    );
    let (body, content_type) = m.render();
    Response::builder()
        .status(200)
        .header("content-type", content_type)
        .header("content-length", body.len())
        .body(body)
        .unwrap_or_else(|_| Response::new(Vec::new()))
}

/// Compares without an early exit on the first differing byte.
fn same_secret(given: &str, expected: &str) -> bool {
    use sha2::Digest;
    let (a, b) = (sha2::Sha256::digest(given), sha2::Sha256::digest(expected));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

async fn listening(addr: std::net::SocketAddr) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_millis(300),
            tokio::net::TcpStream::connect(addr)
        )
        .await,
        Ok(Ok(_))
    )
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let path = session.req_header().uri.path().to_string();
        let app = self.live.load_full();
        let app = &app;
        if let Some(token) = &app.config.admin_token {
            let given = session
                .req_header()
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            if !matches!(path.as_str(), "/healthz" | "/readyz") && !same_secret(given, token) {
                return json_response(
                    401,
                    json!({"error": {"code": "unauthorized", "message": "the admin API wants Authorization: Bearer <admin_token>"}}),
                );
            }
        }
        let query = session.req_header().uri.query().map(str::to_string);
        let accept = session
            .req_header()
            .headers
            .get("accept")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Some(r) =
            crate::trace_api::route(app, &path, query.as_deref(), accept.as_deref()).await
        {
            return r;
        }
        match path.as_str() {
            "/healthz" => json_response(200, json!({"status": "ok"})),
            "/metrics" => metrics_response(app, &self.reloader.counts),
            "/readyz" => {
                let mut waiting = Vec::new();
                for addr in
                    std::iter::once(app.config.listen).chain(app.ready_checks.iter().copied())
                {
                    if !listening(addr).await {
                        waiting.push(addr.to_string());
                    }
                }
                if waiting.is_empty() {
                    json_response(200, json!({"status": "ready"}))
                } else {
                    json_response(503, json!({"status": "starting", "waiting_for": waiting}))
                }
            }
            "/admin/suppliers" => {
                let list: Vec<_> = app
                    .suppliers
                    .iter()
                    .map(|s| {
                        let c = &s.config;
                        let snap = s.breaker.snapshot(std::time::Instant::now());
                        json!({
                            "code": c.code,
                            "protocol": c.protocol.as_str(),
                            "endpoint": c.endpoint,
                            "enabled": c.enabled,
                            "auth": format!("{:?}", c.credentials.mode).to_lowercase(),
                            "timeout_ms": c.timeout.as_millis() as u64,
                            "booking_timeout_ms": c.booking_timeout.as_millis() as u64,
                            "webhooks": !c.webhook_secrets.is_empty(),
                            "circuit": {
                                "state": snap.state.to_string(),
                                "consecutive_failures": snap.consecutive_failures,
                                "window_requests": snap.window_requests,
                                "window_failures": snap.window_failures,
                                "opens": snap.opens,
                                "retry_in_ms": snap.retry_in.map(|d| d.as_millis() as u64),
                            },
                            "in_flight": s.concurrency.in_flight(),
                            "recent": s.recent.summary(),
                            "min_pull_interval_ms": c.min_pull_interval.as_millis() as u64,
                            "rate_limit_rps": c.rate_limit_rps,
                        })
                    })
                    .collect();
                json_response(200, json!({"suppliers": list}))
            }
            "/admin/config" => {
                json_response(200, crate::reload::redacted_view(app, &self.reloader))
            }
            "/admin/config/reload" if session.req_header().method == http::Method::POST => {
                match self.reloader.reload("admin") {
                    Ok(r) if r.result == "ok" => json_response(200, json!(r)),
                    Ok(r) => json_response(422, json!(r)),
                    Err(e) => json_response(
                        409,
                        json!({"error": {"code": "no_config_file", "message": e}}),
                    ),
                }
            }
            "/admin/cache/purge" if session.req_header().method == http::Method::POST => {
                let mut body = Vec::new();
                while let Ok(Some(chunk)) = session.read_request_body().await {
                    if body.len() + chunk.len() > 64 * 1024 {
                        return json_response(
                            413,
                            json!({"error": {"code": "payload_too_large", "message": "purge requests are small"}}),
                        );
                    }
                    body.extend_from_slice(&chunk);
                }
                match serde_json::from_slice::<PurgeRequest>(&body) {
                    Ok(req) => purge(app, req),
                    Err(e) => json_response(
                        400,
                        json!({"error": {"code": "invalid_request", "message": format!("purge body: {e}")}}),
                    ),
                }
            }
            "/admin/cache" => {
                let s = &app.cache.storage.stats;
                let l = &app.cache.lookups;
                json_response(
                    200,
                    json!({
                        "entries": app.cache.storage.len(),
                        "bytes": app.cache.storage.used(),
                        "budget_bytes": app.config.cache.memory_bytes,
                        "inserted": s.inserted.load(Ordering::Relaxed),
                        "evicted": s.evicted.load(Ordering::Relaxed),
                        "expired": s.expired.load(Ordering::Relaxed),
                        "refused": s.refused.load(Ordering::Relaxed),
                        "lookups": {"hit": l.hit.load(Ordering::Relaxed), "miss": l.miss.load(Ordering::Relaxed), "stale": l.stale.load(Ordering::Relaxed), "bypass": l.bypass.load(Ordering::Relaxed)},
                        "invalidation_tags": app.cache.invalidations.len(),
                        "cluster": app.cache.cluster_json(),
                        "quota": {
                            "allowed": app.quotas.stats.allowed.load(Ordering::Relaxed),
                            "denied": app.quotas.stats.denied.load(Ordering::Relaxed),
                            "local_fallback": app.quotas.stats.local_fallback.load(Ordering::Relaxed),
                        },
                    }),
                )
            }
            _ => json_response(
                404,
                json!({"error": {"code": "not_found", "message": format!("no admin route {path}")}}),
            ),
        }
    }
}

/// `POST /admin/cache/purge`: by cache key, by tag (supplier, supplier + its hotel code, unified
/// hotel), or everything.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PurgeRequest {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    supplier: Option<String>,
    /// With `supplier`: that supplier's hotel code; alone: a unified hotel id.
    #[serde(default)]
    hotel: Option<String>,
    #[serde(default)]
    all: bool,
}

fn purge(app: &App, req: PurgeRequest) -> Response<Vec<u8>> {
    let now = SystemTime::now();
    let inv = &app.cache;
    let mut tags = Vec::new();
    let mut removed = 0usize;
    if req.all || req.key.is_some() {
        // Whole search answers are built from legs: drop them with any purged leg.
        crate::api::answers::note_key_purge();
        app.answers.clear();
    }
    if req.all {
        removed += app.cache.storage.clear();
        for s in &app.suppliers {
            inv.invalidate(Tag::Supplier(s.code().to_string()), now);
            tags.push(format!("supplier:{}", s.code()));
        }
    }
    if let Some(key) = &req.key {
        removed += usize::from(app.cache.purge_key(key));
    }
    match (&req.supplier, &req.hotel) {
        (Some(s), None) => {
            if app.supplier(s).is_none() {
                return json_response(
                    404,
                    json!({"error": {"code": "unknown_supplier", "message": format!("no supplier {s:?}")}}),
                );
            }
            inv.invalidate(Tag::Supplier(s.clone()), now);
            tags.push(format!("supplier:{s}"));
        }
        (Some(s), Some(h)) => {
            inv.invalidate(Tag::SupplierHotel(s.clone(), h.clone()), now);
            tags.push(format!("supplier_hotel:{s}:{h}"));
        }
        (None, Some(id)) => {
            let Some(hotel) = app.config.mapping.hotel(id) else {
                return json_response(
                    404,
                    json!({"error": {"code": "unknown_hotel", "message": format!("no hotel {id:?}")}}),
                );
            };
            for (s, code) in &hotel.codes {
                inv.invalidate(Tag::SupplierHotel(s.clone(), code.clone()), now);
                tags.push(format!("supplier_hotel:{s}:{code}"));
            }
        }
        (None, None) => {}
    }
    crate::metrics::invalidations(crate::metrics::InvalidationSource::Admin, tags.len() as u64);
    if !req.all && req.key.is_none() && tags.is_empty() {
        return json_response(
            400,
            json!({"error": {"code": "invalid_request", "message": "give key, supplier, hotel or all"}}),
        );
    }
    json_response(
        200,
        json!({"removed_entries": removed, "invalidated": tags}),
    )
}
