//! Calling a supplier: one [`Call`] as a leg, with the OAuth2 bearer a protocol needs (cached,
//! refreshed before expiry, and refreshed once on a 401 before repeating the call).

use crate::app::SupplierRuntime;
use crate::cache::CacheStatus;
use crate::legs::{self, LegCache, LegResult, LegSpec};
use crate::protection::{Refusal, SupplierGuard};
use crate::traces::LegTrace;
use arigate_connectors::{Call, ErrorClass, Reply, SupplierError};
use pingora_proxy::Session;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How one supplier call runs.
pub struct CallOptions<'a> {
    /// For the whole call, token fetches included.
    pub timeout: Duration,
    pub customer_ip: &'a str,
    pub max_response_bytes: usize,
    /// Browse and static calls only.
    pub cache: Option<LegCache>,
    /// Where the call's spans go.
    pub trace: Option<LegTrace>,
}

/// The supplier error code of a call refused because the supplier's circuit is open.
pub const CIRCUIT_OPEN: &str = "circuit_open";
/// The supplier error code of a call refused by the supplier's concurrency cap.
pub const CONCURRENCY_LIMITED: &str = "concurrency_limited";
/// The supplier error code of a call refused by the supplier's request-rate cap.
pub const RATE_CAPPED: &str = "rate_capped";

/// Runs `call` at `supplier` within `opts.timeout` (token fetches included), unless the
/// supplier's circuit is open or its concurrency cap is reached: then the call is refused at once
/// (class `rate_limited`: never sent, so never an unknown booking) and the supplier sees nothing.
pub async fn call_supplier(
    session: &Session,
    supplier: &Arc<SupplierRuntime>,
    call: Call,
    opts: CallOptions<'_>,
) -> LegResult {
    let guard = match SupplierGuard::enter(supplier, call.op()) {
        Ok(g) => g,
        Err(refusal) => {
            let (code, message) = match refusal {
                Refusal::CircuitOpen { retry_in } => (
                    CIRCUIT_OPEN,
                    format!(
                        "{} is failing; its circuit is open, calls resume in {} ms",
                        supplier.code(),
                        retry_in.as_millis()
                    ),
                ),
                Refusal::ConcurrencyLimited => (
                    CONCURRENCY_LIMITED,
                    format!("{} has its maximum of calls in flight", supplier.code()),
                ),
                Refusal::RateCapped { retry_in } => (
                    RATE_CAPPED,
                    format!(
                        "{} is at its configured request rate; the next call may go in {} ms",
                        supplier.code(),
                        retry_in.as_millis()
                    ),
                ),
            };
            return LegResult::uncached(
                Err(SupplierError::new(ErrorClass::RateLimited, code, message)),
                Duration::ZERO,
            );
        }
    };
    let result = call_admitted(session, supplier, call, opts).await;
    if matches!(result.cache, CacheStatus::Hit | CacheStatus::Stale) {
        guard.cached();
    } else {
        guard.finish(&result.reply, result.latency);
    }
    result
}

async fn call_admitted(
    session: &Session,
    supplier: &Arc<SupplierRuntime>,
    call: Call,
    opts: CallOptions<'_>,
) -> LegResult {
    let CallOptions {
        timeout,
        customer_ip,
        max_response_bytes,
        cache,
        trace,
    } = opts;
    let started = Instant::now();
    let deadline = started + timeout;
    let spec = |call: Call, bearer: Option<String>| LegSpec {
        trace: trace.clone(),
        supplier: supplier.clone(),
        cache: if matches!(call, Call::Token) {
            None
        } else {
            cache.clone()
        },
        call,
        timeout: deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1)),
        bearer,
        customer_ip: customer_ip.to_string(),
        max_response_bytes,
    };
    if !supplier.connector.needs_bearer() {
        return legs::run(session, spec(call, None)).await;
    }
    for attempt in 0..2 {
        let bearer = match bearer(session, supplier, attempt == 1, &spec).await {
            Ok(b) => b,
            Err(e) => return LegResult::uncached(Err(e), started.elapsed()),
        };
        let result = legs::run(session, spec(call.clone(), Some(bearer))).await;
        let retry =
            attempt == 0 && matches!(&result.reply, Err(e) if e.class == ErrorClass::AuthFailed);
        if !retry {
            return LegResult {
                latency: started.elapsed(),
                ..result
            };
        }
        tracing::info!(
            supplier = supplier.code(),
            "bearer token rejected; refreshing once"
        );
    }
    LegResult::uncached(
        Err(SupplierError::new(
            ErrorClass::AuthFailed,
            "",
            "bearer refresh did not help",
        )),
        started.elapsed(),
    )
}

/// A usable bearer token: the cached one unless `force` or it expires within a minute.
async fn bearer(
    session: &Session,
    supplier: &Arc<SupplierRuntime>,
    force: bool,
    spec: &(dyn Fn(Call, Option<String>) -> LegSpec + Sync),
) -> Result<String, SupplierError> {
    let mut cached = supplier.bearer.lock().await;
    if let Some((token, until)) = cached.as_ref() {
        if !force && Instant::now() < *until {
            return Ok(token.clone());
        }
    }
    match legs::run(session, spec(Call::Token, None)).await.reply {
        Ok(Reply::Token {
            access_token,
            expires_in,
        }) => {
            let margin = (expires_in / 10).min(60);
            *cached = Some((
                access_token.clone(),
                Instant::now() + Duration::from_secs(expires_in.saturating_sub(margin)),
            ));
            Ok(access_token)
        }
        Ok(_) => Err(SupplierError::malformed(
            "unexpected reply to a token request",
        )),
        Err(e) => Err(e),
    }
}
