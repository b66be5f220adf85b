//! `POST /webhooks/{supplier}`: supplier ARI pushes, verified on the raw bytes before parsing
//! (`shared/protocols/README.md`, "ARI webhooks").

use super::ApiResponse;
use crate::app::App;
use crate::errors::ApiError;
use crate::traces::RequestTrace;
use arigate_filters::cache_policy::Tag;
use arigate_filters::webhook::{parse_event, AriEventKind, WebhookError};
use arigate_telemetry::{EventType, RelatedType, SpanStatus};
use pingora_proxy::Session;
use serde_json::json;
use std::time::SystemTime;

pub fn handle(
    app: &App,
    session: &Session,
    supplier: &str,
    body: &[u8],
    trace: &RequestTrace,
) -> Result<ApiResponse, ApiError> {
    trace.annotate(|s| {
        s.supplier = Some(supplier.to_string());
        s.related_type = Some(RelatedType::Supplier);
        s.related_id = supplier.to_string();
        s.request_data = app.traces.excerpt(body);
    });
    let s = app
        .supplier(supplier)
        .ok_or_else(|| ApiError::not_found(format!("no supplier {supplier:?}")))?;
    if s.config.webhook_secrets.is_empty() {
        return Err(ApiError::new(
            403,
            "webhooks_disabled",
            "no webhook secret is configured for this supplier",
        ));
    }
    let header = |n: &str| {
        session
            .req_header()
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
    };
    app.webhooks
        .verify(
            &s.config.webhook_secrets,
            header("x-arigate-signature"),
            header("x-webhook-id"),
            body,
            chrono::Utc::now().timestamp(),
        )
        .map_err(|e| match e {
            WebhookError::Replayed => ApiError::new(
                409,
                "webhook_replayed",
                "this X-Webhook-Id was already processed",
            ),
            // A 401 names its scheme (RFC 9110 §11.6.1): here the signed-webhook one.
            other => ApiError::new(
                401,
                "webhook_rejected",
                format!("webhook rejected: {other}"),
            )
            .with_challenge("Signature realm=\"arigate-webhooks\""),
        })?;
    let event =
        parse_event(body).map_err(|e| ApiError::bad_request(format!("webhook body: {e}")))?;
    if event.supplier != s.config.code && event.supplier != s.config.protocol.as_str() {
        return Err(ApiError::bad_request("webhook names another supplier"));
    }
    // Sold out or repriced: this supplier's cached browse data for the hotel is stale at once.
    // New availability only adds offers; the reference data already cached stays true.
    let invalidated = matches!(
        event.kind,
        AriEventKind::RoomSoldOut | AriEventKind::PriceChanged
    );
    let unified = app
        .config
        .mapping
        .by_supplier_code(&s.config.code, &event.hotel)
        .map(|h| h.id.clone());
    trace.annotate(|sp| {
        sp.hotel_ids.extend(unified.iter().cloned());
        sp.attributes
            .insert("event_id".into(), event.event_id.clone());
        sp.attributes
            .insert("kind".into(), format!("{:?}", event.kind));
        sp.attributes
            .insert("supplier_hotel".into(), event.hotel.clone());
    });
    if invalidated {
        app.cache.invalidate(
            Tag::SupplierHotel(s.config.code.clone(), event.hotel.clone()),
            SystemTime::now(),
        );
        crate::metrics::invalidations(crate::metrics::InvalidationSource::Webhook, 1);
        let mut span = trace
            .child(EventType::Invalidate)
            .with_supplier(s.config.code.as_str())
            .with_hotels(unified.iter().cloned())
            .with_attr("source", "webhook")
            .with_attr(
                "tag",
                format!("supplier_hotel:{}:{}", s.config.code, event.hotel),
            );
        span.finish(SpanStatus::Success);
        app.traces.record(span);
    }
    tracing::info!(supplier, event_id = %event.event_id, hotel = %event.hotel, kind = ?event.kind, invalidated, "ARI webhook accepted");
    Ok(ApiResponse::json(
        202,
        &json!({"accepted": true, "event_id": event.event_id, "invalidated": invalidated}),
    ))
}
