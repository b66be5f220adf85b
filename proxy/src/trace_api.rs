//! The trace API on the admin listener (never on the agent listener, never with an agent key):
//! `GET /api/traces/{trace_id}`, `/api/traces/by-order/{booking_id}` (JSON, or the HTML story of
//! the booking with `?format=html` or `Accept: text/html`) and `/api/traces/by-hotel/{hotel_id}`;
//! `GET /admin/traces` reports the pipeline's counters.

use crate::app::App;
use arigate_filters::tokens::BookingClaims;
use arigate_telemetry::{build_tree, render_booking_html, trees_by_trace, StoreError};
use http::Response;
use serde_json::json;

/// An admin answer (never cached by anything in between).
pub(crate) fn respond(status: u16, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("content-length", body.len())
        .header("cache-control", "no-store")
        .body(body)
        .unwrap_or_else(|_| Response::new(Vec::new()))
}

fn json_response(status: u16, v: serde_json::Value) -> Response<Vec<u8>> {
    respond(status, "application/json", v.to_string().into_bytes())
}

fn error(status: u16, code: &str, message: impl Into<String>) -> Response<Vec<u8>> {
    json_response(
        status,
        json!({"error": {"code": code, "message": message.into()}}),
    )
}

fn store_error(e: StoreError) -> Response<Vec<u8>> {
    match e {
        StoreError::Timeout => error(504, "trace_store_timeout", e.to_string()),
        StoreError::Unavailable(_) => error(503, "trace_store_unavailable", e.to_string()),
    }
}

/// Ids in paths are tokens, hex or unified hotel ids: anything else is refused before a query.
fn plain_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 4096
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

/// Answers a trace route, or `None` when `path` is not one.
pub async fn route(
    app: &App,
    path: &str,
    query: Option<&str>,
    accept: Option<&str>,
) -> Option<Response<Vec<u8>>> {
    if path == "/admin/traces" {
        let s = app.traces.stats();
        return Some(json_response(
            200,
            json!({
                "backend": app.traces.backend,
                "recorded": s.recorded,
                "written": s.written,
                "dropped": s.dropped,
                "failed_writes": s.failed_writes,
                "buffered": s.buffered,
                "queued": s.queued,
            }),
        ));
    }
    let rest = path.strip_prefix("/api/traces/")?;
    let param = |name: &str| {
        query.and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        })
    };
    let store = &app.traces.store;
    if let Some(booking_id) = rest.strip_prefix("by-order/") {
        if !plain_id(booking_id) {
            return Some(error(400, "invalid_booking_id", "not a booking id"));
        }
        // The booking id is a signed token naming the traces of its search and re-check.
        let claims: Option<BookingClaims> = app.tokens.verify("bk", booking_id).ok();
        let linked: Vec<&str> = claims
            .as_ref()
            .map(|c| {
                [
                    Some(c.search_trace_id.as_str()),
                    c.recheck_trace_id.as_deref(),
                    Some(c.trace_id.as_str()),
                ]
                .into_iter()
                .flatten()
                .collect()
            })
            .unwrap_or_default();
        let spans = match store.traces_by_booking(booking_id, &linked).await {
            Ok(s) => s,
            Err(e) => return Some(store_error(e)),
        };
        if spans.is_empty() {
            return Some(error(
                404,
                "not_found",
                "no spans for this booking (unknown id, or older than the retention)",
            ));
        }
        let traces = trees_by_trace(spans);
        let html = param("format").as_deref() == Some("html")
            || (param("format").is_none() && accept.is_some_and(|a| a.contains("text/html")));
        if html {
            let roots: Vec<_> = traces.iter().map(|t| t.roots.clone()).collect();
            let page = render_booking_html(booking_id, &roots);
            return Some(respond(200, "text/html; charset=utf-8", page.into_bytes()));
        }
        return Some(json_response(
            200,
            json!({
                "booking_id": booking_id,
                "supplier": claims.as_ref().map(|c| c.supplier.clone()),
                "hotel_id": claims.as_ref().map(|c| c.hotel_id.clone()),
                "supplier_reference": claims.as_ref().map(|c| c.key.supplier_reference.clone()),
                "span_count": traces.iter().map(|t| t.span_count).sum::<usize>(),
                "traces": traces,
            }),
        ));
    }
    if let Some(hotel_id) = rest.strip_prefix("by-hotel/") {
        if !plain_id(hotel_id) {
            return Some(error(400, "invalid_hotel_id", "not a hotel id"));
        }
        let limit = param("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(20);
        return Some(match store.traces_by_hotel(hotel_id, limit).await {
            Ok(spans) => {
                let traces = trees_by_trace(spans);
                json_response(
                    200,
                    json!({"hotel_id": hotel_id, "trace_count": traces.len(), "traces": traces}),
                )
            }
            Err(e) => store_error(e),
        });
    }
    let trace_id = rest;
    if !plain_id(trace_id) || trace_id.len() > 64 {
        return Some(error(400, "invalid_trace_id", "not a trace id"));
    }
    Some(match store.spans_by_trace(trace_id).await {
        Ok(spans) if spans.is_empty() => error(404, "not_found", "no spans for this trace"),
        Ok(spans) => {
            let count = spans.len();
            json_response(
                200,
                json!({"trace_id": trace_id, "span_count": count, "roots": build_tree(spans)}),
            )
        }
        Err(e) => store_error(e),
    })
}
