//! Calling a supplier: one [`Call`] as a leg, with the OAuth2 bearer a protocol needs (cached,
//! refreshed before expiry, and refreshed once on a 401 before repeating the call).

use crate::app::{App, SupplierRuntime};
use crate::legs::{self, LegCache, LegResult, LegSpec};
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

/// Runs `call` at `supplier` within `opts.timeout` (token fetches included). Each leg it runs is
/// served from the cache when it can; otherwise the supplier's guard decides in the leg
/// ([`crate::protection::SupplierGuard::admit`]): while the supplier's circuit is open or its
/// rate or concurrency cap is reached the call is refused at once (class `rate_limited` with one
/// of the codes above: never sent, so never an unknown booking) and the supplier sees nothing.
pub async fn call_supplier(
    app: &App,
    session: &Session,
    supplier: &Arc<SupplierRuntime>,
    call: Call,
    opts: CallOptions<'_>,
) -> LegResult {
    call_admitted(app, session, supplier, call, opts).await
}

async fn call_admitted(
    app: &App,
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
        handoff: Default::default(),
    };
    if !supplier.connector.needs_bearer() {
        return legs::run(app, session, spec(call, None)).await;
    }
    for attempt in 0..2 {
        let bearer = match bearer(app, session, supplier, attempt == 1, &spec).await {
            Ok(b) => b,
            Err(e) => return LegResult::uncached(Err(e), started.elapsed()),
        };
        let result = legs::run(app, session, spec(call.clone(), Some(bearer))).await;
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

/// Starts a refresh-ahead leg for `call` and lets it run on its own: the agent's answer does not
/// wait for it (see [`crate::cache::refresh`]). A supplier that needs a bearer token is refreshed
/// only while its cached token is valid: a refresh never fetches one.
pub fn spawn_refresh(
    session: &Session,
    supplier: &Arc<SupplierRuntime>,
    call: Call,
    customer_ip: &str,
    max_response_bytes: usize,
    cache: LegCache,
) {
    let bearer = if supplier.connector.needs_bearer() {
        let Ok(cached) = supplier.bearer.try_lock() else {
            return;
        };
        match cached.as_ref() {
            Some((token, until)) if Instant::now() < *until => Some(token.clone()),
            _ => return,
        }
    } else {
        None
    };
    let spec = LegSpec {
        supplier: supplier.clone(),
        call,
        timeout: supplier.config.timeout,
        bearer,
        customer_ip: customer_ip.to_string(),
        max_response_bytes,
        cache: Some(LegCache {
            refresh: true,
            ..cache
        }),
        trace: None,
        handoff: Default::default(),
    };
    if let Ok(pending) = legs::spawn(session, spec) {
        let code = supplier.code().to_string();
        tokio::spawn(async move {
            let done = pending.finish().await;
            tracing::debug!(supplier = %code, ok = done.reply.is_ok(), cache = done.cache.as_str(), "refresh-ahead leg finished");
        });
    }
}

/// A usable bearer token: the cached one unless `force` or it expires within a minute.
async fn bearer(
    app: &App,
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
    match legs::run(app, session, spec(Call::Token, None)).await.reply {
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
