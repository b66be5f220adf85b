//! Transactional routes, always live at the owning supplier (DESIGN §1): availability re-check,
//! book (Idempotency-Key; a timeout yields `unknown`, never a blind retry), booking query (which
//! reconciles an `unknown` booking by our client reference) and cancel.

use super::{money_json, ApiResponse};
use crate::app::{App, SupplierRuntime};
use crate::cluster::idempotency::{self, BookingGuard, Claim, Timing};
use crate::errors::ApiError;
use crate::supplier_calls::{call_supplier, CallOptions};
use crate::traces::RequestTrace;
use arigate_connectors::{
    BookInput, BookPrelude, BookingInfo, BookingKey, BookingStatus, Call, CancelPrelude,
    ErrorClass, Money, RecheckStatus, Reply, SupplierError,
};
use arigate_filters::agent_auth::Agent;
use arigate_filters::agent_input;
use arigate_filters::cache_policy::Tag;
use arigate_filters::idempotency::{fingerprint, StoredResponse};
use arigate_filters::tokens::{BookingClaims, OfferClaims, TokenError};
use arigate_telemetry::{EventType, RelatedType, Span, SpanStatus};
use pingora_proxy::Session;
use serde_json::{json, Value};
use sha2::Digest;
use std::sync::Arc;
use std::time::Duration;

/// Everything a transactional handler needs about the request.
pub struct Tx<'a> {
    pub app: &'a App,
    pub session: &'a Session,
    pub agent: &'a Agent,
    pub trace: &'a RequestTrace,
    pub customer_ip: String,
}

impl Tx<'_> {
    fn offer(&self, offer_id: &str) -> Result<(OfferClaims, Arc<SupplierRuntime>), ApiError> {
        let claims: OfferClaims = self
            .app
            .tokens
            .verify_offer(offer_id)
            .map_err(|e| token_error("offer_id", e))?;
        self.trace.annotate(|s| {
            s.supplier = Some(claims.supplier.clone());
            s.hotel_ids.push(claims.hotel_id.clone());
            s.attributes
                .insert("search_trace_id".into(), claims.trace_id.clone());
            if let Some(r) = &claims.recheck_trace_id {
                s.attributes.insert("recheck_trace_id".into(), r.clone());
            }
        });
        if claims.expired(chrono::Utc::now().timestamp()) {
            return Err(ApiError::new(
                410,
                "offer_expired",
                "the offer has expired; search again",
            ));
        }
        let supplier = self.supplier(&claims.supplier)?;
        Ok((claims, supplier))
    }

    fn booking(&self, booking_id: &str) -> Result<(BookingClaims, Arc<SupplierRuntime>), ApiError> {
        let claims: BookingClaims = self
            .app
            .tokens
            .verify("bk", booking_id)
            .map_err(|e| token_error("booking_id", e))?;
        // Another agent's booking id is answered as unknown, not as forbidden: nothing leaks.
        if claims.agent.as_deref().is_some_and(|a| a != self.agent.id) {
            return Err(ApiError::not_found("no such booking for this API key"));
        }
        self.trace.annotate(|s| {
            s.booking_id = Some(booking_id.to_string());
            s.related_type = Some(RelatedType::Order);
            s.related_id = booking_id.to_string();
            s.supplier = Some(claims.supplier.clone());
            s.hotel_ids.push(claims.hotel_id.clone());
            s.attributes.insert(
                "supplier_reference".into(),
                claims.key.supplier_reference.clone(),
            );
        });
        let supplier = self.supplier(&claims.supplier)?;
        Ok((claims, supplier))
    }

    fn supplier(&self, code: &str) -> Result<Arc<SupplierRuntime>, ApiError> {
        let supplier = self.app.supplier(code).ok_or_else(|| {
            ApiError::new(
                404,
                "unknown_supplier",
                format!("supplier {code:?} is not configured"),
            )
        })?;
        if !self.app.agent_may_use(self.agent, supplier) {
            return Err(ApiError::new(
                403,
                "supplier_not_allowed",
                format!("this API key may not use supplier {code:?}"),
            ));
        }
        Ok(supplier.clone())
    }

    /// One live call about `hotel_id` (unified), its span under the request's root span.
    async fn call(
        &self,
        supplier: &Arc<SupplierRuntime>,
        call: Call,
        hotel_id: &str,
    ) -> Result<Reply, SupplierError> {
        self.call_under(&self.trace.span_id, supplier, call, hotel_id)
            .await
    }

    /// One live call whose span goes under `parent` (a span of this request's trace).
    async fn call_under(
        &self,
        parent: &str,
        supplier: &Arc<SupplierRuntime>,
        call: Call,
        hotel_id: &str,
    ) -> Result<Reply, SupplierError> {
        let opts = CallOptions {
            timeout: supplier.config.booking_timeout,
            customer_ip: &self.customer_ip,
            max_response_bytes: self.app.config.max_supplier_response_bytes,
            cache: None,
            trace: self.trace.leg_under(parent, vec![hotel_id.to_string()]),
        };
        call_supplier(self.app, self.session, supplier, call, opts)
            .await
            .reply
    }

    /// Feedback invalidation: a live answer contradicted the cached browse data of this hotel.
    fn invalidate(&self, supplier: &str, supplier_hotel: &str, hotel_id: &str, why: &str) {
        self.app.cache.invalidate(
            Tag::SupplierHotel(supplier.to_string(), supplier_hotel.to_string()),
            std::time::SystemTime::now(),
        );
        crate::metrics::invalidations(crate::metrics::InvalidationSource::Recheck, 1);
        let mut span = self
            .trace
            .child(EventType::Invalidate)
            .with_supplier(supplier)
            .with_hotel(hotel_id)
            .with_attr("source", "recheck")
            .with_attr("reason", why)
            .with_attr("tag", format!("supplier_hotel:{supplier}:{supplier_hotel}"));
        span.finish(SpanStatus::Success);
        self.app.traces.record(span);
    }

    /// A `confirm` span under the root: the step that settles a booking at the supplier.
    fn confirm_span(&self, supplier: &str, hotel_id: &str) -> Span {
        self.trace
            .child(EventType::Confirm)
            .with_supplier(supplier)
            .with_hotel(hotel_id)
    }

    /// Records a `confirm` span with the booking it settled.
    fn finish_confirm(&self, mut span: Span, booking_id: &str, info: &BookingInfo) {
        span = span
            .with_booking(booking_id)
            .with_related(RelatedType::Order, booking_id)
            .with_attr("status", status_word(info.status))
            .with_attr("supplier_reference", info.key.supplier_reference.as_str());
        match info.status {
            BookingStatus::Unknown => span.fail(
                SpanStatus::Timeout,
                "the supplier's answer did not settle the booking; reconcile by client reference",
            ),
            BookingStatus::Failed => {
                span.fail(SpanStatus::Error, "the supplier has no such booking")
            }
            _ => span.finish(SpanStatus::Success),
        }
        self.app.traces.record(span);
    }

    fn money(&self, m: &Money, currency: &str) -> Value {
        match self
            .app
            .config
            .currency
            .convert(m.amount, &m.currency, currency)
        {
            Some(a) => money_json(a, currency),
            None => money_json(m.amount, &m.currency),
        }
    }
}

fn token_error(field: &str, e: TokenError) -> ApiError {
    ApiError::new(
        400,
        &format!("invalid_{}", field.trim_end_matches("_id")),
        format!("{field} is not valid: {e}"),
    )
}

fn unexpected(what: &str) -> ApiError {
    ApiError::new(
        502,
        "supplier_malformed",
        format!("unexpected supplier reply to {what}"),
    )
}

/// `POST /v1/availability`
pub async fn availability(tx: &Tx<'_>, body: &[u8]) -> Result<ApiResponse, ApiError> {
    let offer_id = agent_input::availability(body)?;
    let (claims, supplier) = tx.offer(&offer_id)?;
    let outcome = match tx
        .call(
            &supplier,
            Call::Recheck {
                offer: claims.key.clone(),
            },
            &claims.hotel_id,
        )
        .await
    {
        Ok(Reply::Recheck { outcome }) => outcome,
        Ok(_) => return Err(unexpected("a re-check")),
        Err(e) => return Err(e.into()),
    };
    if matches!(
        outcome.status,
        RecheckStatus::SoldOut | RecheckStatus::PriceChanged
    ) {
        // The browse entries that showed this offer are now wrong: the next search asks again.
        tx.invalidate(
            &claims.supplier,
            &claims.key.hotel,
            &claims.hotel_id,
            &format!("{:?}", outcome.status),
        );
    }
    let status = match outcome.status {
        RecheckStatus::Available => "available",
        RecheckStatus::PriceChanged => "price_changed",
        RecheckStatus::SoldOut => "sold_out",
    };
    tx.trace.annotate(|s| {
        s.attributes.insert("outcome".into(), status.into());
    });
    let mut out = json!({"status": status, "offer_id": offer_id, "supplier": claims.supplier});
    let key = outcome.key.clone().unwrap_or_else(|| claims.key.clone());
    if let Some(price) = &outcome.price {
        let mut p = tx.money(price, &claims.currency);
        p["taxes_included"] = json!(supplier.connector.taxes_included(&key));
        out["price"] = p;
    }
    if outcome.status != RecheckStatus::SoldOut {
        // A fresh offer id that also names this re-check, so the booking's story includes it.
        let fresh = OfferClaims {
            key,
            exp: chrono::Utc::now().timestamp() + tx.app.config.tokens.offer_ttl.as_secs() as i64,
            recheck_trace_id: Some(tx.trace.trace_id.clone()),
            ..claims.clone()
        };
        out["offer_id"] = json!(tx.app.tokens.sign("of", &fresh));
    }
    if let Some(exp) = outcome.expires_at {
        out["expires_at"] = json!(exp.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    Ok(ApiResponse::json(200, &out).header("cache-control", "no-store"))
}

/// The supplier-side idempotency key: the same for the same agent and Idempotency-Key, so a
/// repeated attempt is recognised by the supplier too. 16 characters `[A-Z0-9]`.
pub fn client_reference(agent: &str, idempotency_key: &str) -> String {
    let digest = sha2::Sha256::digest(format!("{agent}\n{idempotency_key}").as_bytes());
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::from("AG");
    for b in digest.iter().take(14) {
        out.push(ALPHABET[(*b as usize) % ALPHABET.len()] as char);
    }
    out
}

/// `POST /v1/bookings`
pub async fn book(
    tx: &Tx<'_>,
    idempotency_key: Option<&str>,
    body: &[u8],
) -> Result<ApiResponse, ApiError> {
    let req = agent_input::book(idempotency_key, body)?;
    let key = req.idempotency_key.as_str();
    let (claims, supplier) = tx.offer(&req.offer_id)?;

    // With Redis the key is claimed cluster-wide: a duplicate on another node waits for this
    // booking's answer (a prebook and a book, each within the booking timeout) and replays it.
    let wait = (supplier.config.booking_timeout * 2 + Duration::from_secs(2))
        .min(Duration::from_secs(120));
    let timing = Timing {
        wait,
        claim_ttl: wait + Duration::from_secs(30),
        ttl: tx.app.config.idempotency_ttl,
    };
    let guard = match idempotency::begin(
        &tx.app.idempotency,
        tx.app.cluster.as_ref(),
        &tx.agent.id,
        key,
        fingerprint(req.canonical.to_string().as_bytes()),
        timing,
    )
    .await
    {
        Claim::New(g) => g,
        Claim::Replay(stored) => {
            return Ok(ApiResponse {
                tail: bytes::Bytes::new(),
                status: stored.status,
                body: stored.body.to_vec(),
                headers: vec![
                    ("idempotent-replayed", "true".into()),
                    ("cache-control", "no-store".into()),
                ],
            })
        }
        Claim::Mismatch => {
            return Err(ApiError::new(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request body",
            ))
        }
        Claim::InFlight => {
            return Err(ApiError::new(
                409,
                "request_in_progress",
                "a request with this Idempotency-Key is in progress",
            ))
        }
        Claim::Full => {
            let mut e = ApiError::new(503, "overloaded", "too many bookings in progress");
            e.retry_after = Some(1);
            return Err(e);
        }
    };

    let client_ref = client_reference(&tx.agent.id, key);
    let input = BookInput {
        guests: req.guests.clone(),
        client_reference: client_ref.clone(),
        email: tx.agent.email.clone(),
        phone: tx.agent.phone.clone(),
    };
    let prepared = match supplier.connector.book_prelude(&claims.key) {
        BookPrelude::None => None,
        BookPrelude::Prepare => match tx
            .call(
                &supplier,
                Call::Prepare {
                    offer: claims.key.clone(),
                    book: input.clone(),
                },
                &claims.hotel_id,
            )
            .await
        {
            Ok(Reply::Prepared { prepared }) => Some(prepared),
            Ok(_) => return Err(unexpected("a prebook")),
            // Nothing was booked: a definitive answer is remembered, a transient one may be retried.
            Err(e) => {
                if matches!(e.class, ErrorClass::SoldOut | ErrorClass::PriceChanged) {
                    tx.invalidate(
                        &claims.supplier,
                        &claims.key.hotel,
                        &claims.hotel_id,
                        e.class.as_str(),
                    );
                }
                return Err(remember_error(guard, e).await);
            }
        },
    };
    let mut confirm = tx.confirm_span(&claims.supplier, &claims.hotel_id);
    let info = match tx
        .call_under(
            &confirm.span_id.clone(),
            &supplier,
            Call::Book {
                offer: claims.key.clone(),
                book: input,
                prepared,
            },
            &claims.hotel_id,
        )
        .await
    {
        Ok(Reply::Booking {
            booking: Some(info),
        }) => info,
        // A book call that answered something other than a booking may still have booked: its
        // outcome is unknown like a timeout's, and the key stays taken so a retry replays.
        Ok(_) => {
            tracing::warn!(
                supplier = supplier.code(),
                "book answered without a booking; outcome unknown, reconcile by client reference"
            );
            unknown_booking(&client_ref)
        }
        Err(e) if outcome_unknown(e.class) => {
            tracing::warn!(supplier = supplier.code(), class = %e.class, "book outcome unknown; reconcile by client reference");
            unknown_booking(&client_ref)
        }
        Err(e) => {
            if matches!(e.class, ErrorClass::SoldOut | ErrorClass::PriceChanged) {
                tx.invalidate(
                    &claims.supplier,
                    &claims.key.hotel,
                    &claims.hotel_id,
                    e.class.as_str(),
                );
            }
            confirm.fail(SpanStatus::Error, format!("{}: {}", e.class, e.message));
            tx.app.traces.record(confirm);
            return Err(remember_error(guard, e).await);
        }
    };
    let booking_claims = BookingClaims {
        supplier: claims.supplier.clone(),
        hotel_id: claims.hotel_id.clone(),
        key: info.key.clone(),
        trace_id: tx.trace.trace_id.clone(),
        search_trace_id: claims.trace_id.clone(),
        created: chrono::Utc::now().timestamp(),
        currency: claims.currency.clone(),
        offer: Some(claims.key.clone()),
        recheck_trace_id: claims.recheck_trace_id.clone(),
        agent: Some(tx.agent.id.clone()),
    };
    let booking_id = tx.app.tokens.sign("bk", &booking_claims);
    tx.trace.annotate(|s| {
        s.booking_id = Some(booking_id.clone());
        s.related_type = Some(RelatedType::Order);
        s.related_id = booking_id.clone();
        s.attributes
            .insert("status".into(), status_word(info.status).into());
    });
    tx.finish_confirm(confirm, &booking_id, &info);
    let mut out = booking_json(tx, &booking_id, &booking_claims, &info);
    if let Some(r) = &req.client_reference {
        out["client_reference"] = json!(r);
    }
    out["supplier_client_reference"] = json!(client_ref);
    let resp = ApiResponse::json(201, &out).header("cache-control", "no-store");
    guard
        .complete(StoredResponse {
            status: 201,
            body: bytes::Bytes::from(resp.body.clone()),
        })
        .await;
    Ok(resp)
}

/// A booking whose state at the supplier is not known yet: a later query settles it by our
/// client reference.
fn unknown_booking(client_ref: &str) -> BookingInfo {
    BookingInfo {
        key: BookingKey {
            supplier_reference: String::new(),
            client_reference: client_ref.to_string(),
            token: String::new(),
        },
        status: BookingStatus::Unknown,
        price: None,
        hotel_code: None,
        stay: None,
        penalty: None,
        cancellation_reference: None,
    }
}

/// A book call whose effect at the supplier cannot be known from its failure.
fn outcome_unknown(class: ErrorClass) -> bool {
    matches!(
        class,
        ErrorClass::SupplierTimeout
            | ErrorClass::SupplierUnavailable
            | ErrorClass::SupplierMalformed
            | ErrorClass::BookingUnknown
    )
}

/// Stores definitive failures for replay; transient ones release the key so the agent may retry.
async fn remember_error(guard: BookingGuard, e: SupplierError) -> ApiError {
    let err = ApiError::from(e.clone());
    let definitive = matches!(
        e.class,
        ErrorClass::SoldOut
            | ErrorClass::PriceChanged
            | ErrorClass::RateExpired
            | ErrorClass::NotFound
    );
    if definitive {
        guard
            .complete(StoredResponse {
                status: err.status,
                body: bytes::Bytes::from(err.body("")),
            })
            .await;
    }
    err
}

fn status_word(s: BookingStatus) -> &'static str {
    match s {
        BookingStatus::Confirmed => "confirmed",
        BookingStatus::OnRequest => "on_request",
        BookingStatus::Pending => "pending",
        BookingStatus::Cancelled => "cancelled",
        BookingStatus::Failed => "failed",
        BookingStatus::Unknown => "unknown",
    }
}

fn booking_json(
    tx: &Tx<'_>,
    booking_id: &str,
    claims: &BookingClaims,
    info: &BookingInfo,
) -> Value {
    let mut out = json!({
        "booking_id": booking_id,
        "supplier": claims.supplier,
        "hotel_id": claims.hotel_id,
        "supplier_reference": info.key.supplier_reference,
        "status": status_word(info.status),
        "price": info.price.as_ref().map(|p| tx.money(p, &claims.currency)),
        "search_trace_id": claims.search_trace_id,
    });
    if let Some(stay) = info.stay {
        out["checkin"] = json!(stay.checkin.to_string());
        out["checkout"] = json!(stay.checkout.to_string());
    }
    if let Some(p) = &info.penalty {
        out["penalty"] = tx.money(p, &claims.currency);
    }
    if let Some(c) = &info.cancellation_reference {
        out["cancellation_reference"] = json!(c);
    }
    out
}

/// The booking as the supplier knows it now; an unknown one is looked up by our client reference.
async fn current(
    tx: &Tx<'_>,
    claims: &BookingClaims,
    supplier: &Arc<SupplierRuntime>,
) -> Result<BookingInfo, ApiError> {
    if claims.key.supplier_reference.is_empty() {
        let Some(offer) = claims.offer.clone() else {
            return Err(ApiError::new(
                502,
                "booking_unknown",
                "the booking has no supplier reference to look up",
            ));
        };
        return match tx
            .call(
                supplier,
                Call::Find {
                    client_reference: claims.key.client_reference.clone(),
                    offer,
                    email: tx.agent.email.clone(),
                },
                &claims.hotel_id,
            )
            .await
        {
            Ok(Reply::Booking {
                booking: Some(info),
            }) => Ok(info),
            // The supplier has no such booking: the book never took effect.
            Ok(Reply::Booking { booking: None }) => Ok(BookingInfo {
                key: claims.key.clone(),
                status: BookingStatus::Failed,
                price: None,
                hotel_code: None,
                stay: None,
                penalty: None,
                cancellation_reference: None,
            }),
            Ok(_) => Err(unexpected("a booking lookup")),
            Err(e) => Err(e.into()),
        };
    }
    match tx
        .call(
            supplier,
            Call::Retrieve {
                booking: claims.key.clone(),
            },
            &claims.hotel_id,
        )
        .await
    {
        Ok(Reply::Booking {
            booking: Some(info),
        }) => Ok(info),
        Ok(Reply::Booking { booking: None }) => {
            Err(ApiError::not_found("the supplier has no such booking"))
        }
        Ok(_) => Err(unexpected("a booking query")),
        Err(e) => Err(e.into()),
    }
}

/// `GET /v1/bookings/{id}`
pub async fn query(tx: &Tx<'_>, booking_id: &str) -> Result<ApiResponse, ApiError> {
    let (claims, supplier) = tx.booking(booking_id)?;
    // A booking whose book call ended unknown is settled here, by the supplier's own record.
    let confirm = claims
        .key
        .supplier_reference
        .is_empty()
        .then(|| tx.confirm_span(&claims.supplier, &claims.hotel_id));
    let info = current(tx, &claims, &supplier).await?;
    if let Some(c) = confirm {
        tx.finish_confirm(c.with_attr("reconciliation", "true"), booking_id, &info);
    }
    Ok(
        ApiResponse::json(200, &booking_json(tx, booking_id, &claims, &info))
            .header("cache-control", "no-store"),
    )
}

/// `POST /v1/bookings/{id}/cancel`
pub async fn cancel(tx: &Tx<'_>, booking_id: &str) -> Result<ApiResponse, ApiError> {
    let (claims, supplier) = tx.booking(booking_id)?;
    let mut key = claims.key.clone();
    let needs_lookup = key.supplier_reference.is_empty()
        || supplier.connector.cancel_prelude() == CancelPrelude::Retrieve;
    if needs_lookup {
        let info = current(tx, &claims, &supplier).await?;
        if info.status == BookingStatus::Failed {
            return Err(ApiError::new(
                409,
                "not_booked",
                "the supplier has no such booking to cancel",
            ));
        }
        key = info.key;
    }
    let info = match cancel_at_supplier(tx, &supplier, key, &claims.hotel_id).await {
        Ok(info) => info,
        // Suppliers refuse to cancel a booking twice (a retried cancel): when their own record
        // says it is cancelled, that is the answer.
        Err(e) => match current(tx, &claims, &supplier).await {
            Ok(info) if info.status == BookingStatus::Cancelled => info,
            _ => return Err(e),
        },
    };
    Ok(
        ApiResponse::json(200, &booking_json(tx, booking_id, &claims, &info))
            .header("cache-control", "no-store"),
    )
}

/// The cancel call, after a cancellation quote where the supplier wants one.
async fn cancel_at_supplier(
    tx: &Tx<'_>,
    supplier: &Arc<SupplierRuntime>,
    key: BookingKey,
    hotel_id: &str,
) -> Result<BookingInfo, ApiError> {
    let confirm = if supplier.connector.cancel_prelude() == CancelPrelude::Quote {
        match tx
            .call(
                supplier,
                Call::CancelQuote {
                    booking: key.clone(),
                },
                hotel_id,
            )
            .await
        {
            Ok(Reply::CancelQuote { quote }) => Some(quote.confirm),
            Ok(_) => return Err(unexpected("a cancellation quote")),
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    match tx
        .call(
            supplier,
            Call::Cancel {
                booking: key,
                confirm,
            },
            hotel_id,
        )
        .await
    {
        Ok(Reply::Booking {
            booking: Some(info),
        }) => Ok(info),
        Ok(_) => Err(unexpected("a cancellation")),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_reference_is_stable_short_and_distinct() {
        let a = client_reference("demo", "key-1");
        assert_eq!(a, client_reference("demo", "key-1"));
        assert_ne!(a, client_reference("demo", "key-2"));
        assert_ne!(a, client_reference("other", "key-1"));
        assert_eq!(a.len(), 16);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    }
}
