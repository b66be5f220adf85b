//! Agent limits and supplier protection on the request path (issue #6), glued to metrics and logs.
//!
//! [`admit_agent`] runs once per authenticated agent request: the agent's rate limit, answered
//! with 429 and the RateLimit header fields when exceeded. [`SupplierGuard::admit`] runs in each
//! supplier leg once the cache decided the supplier must be asked (a cached leg is served even
//! while the supplier's circuit is open): the supplier's rate, its concurrency cap, then its
//! circuit breaker; a refused call never reaches the supplier. [`SupplierGuard::finish`] reports
//! how the call went. Both meter what they decide and log every circuit transition.

use crate::api::ApiResponse;
use crate::app::{App, SupplierRuntime};
use crate::errors::ApiError;
use crate::metrics::{self, SupplierOutcome};
use crate::quota::SupplierQuotas;
use arigate_connectors::{ErrorClass, SupplierError};
use arigate_filters::circuit::{
    CallOutcome, CircuitState, OwnedConcurrencyPermit, OwnedPermit, Transition,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counts one request of `agent`. `Ok`: the RateLimit header fields to add to its answer.
/// `Err`: the 429 to answer instead (with `Retry-After` and the RateLimit fields).
pub fn admit_agent(
    app: &App,
    agent: &str,
    trace_id: &str,
) -> Result<Vec<(&'static str, String)>, ApiResponse> {
    let decision = app.rate_limits.check(agent, Instant::now());
    if decision.is_allowed() {
        return Ok(decision.headers());
    }
    metrics::rate_limited(agent);
    let wait = decision.retry_after_secs().unwrap_or(1);
    let err = ApiError::new(
        429,
        "rate_limited",
        format!(
            "more than {} requests a minute (bursts of {}); retry in {wait} s",
            decision.status().policy.per_minute,
            decision.status().policy.burst
        ),
    );
    Err(ApiResponse {
        tail: bytes::Bytes::new(),
        status: 429,
        body: err.body(trace_id),
        headers: decision.headers(),
    })
}

/// Why a supplier call was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The supplier's circuit is open (or half-open with its probes in flight).
    CircuitOpen { retry_in: Duration },
    /// The supplier already has `max_concurrency` calls in flight.
    ConcurrencyLimited,
    /// The supplier's `rate_limit_rps` is used up for now.
    RateCapped { retry_in: Duration },
}

impl Refusal {
    /// The `outcome` label / search status of the refused call.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::CircuitOpen { .. } => "circuit_open",
            Refusal::ConcurrencyLimited => "concurrency_limited",
            Refusal::RateCapped { .. } => "rate_capped",
        }
    }
}

impl Refusal {
    /// The error a refused call ends with: class `rate_limited` (never sent, so never an unknown
    /// booking) and the refusal as its code.
    pub fn error(self, supplier: &str) -> SupplierError {
        let message = match self {
            Refusal::CircuitOpen { retry_in } => format!(
                "{supplier} is failing; its circuit is open, calls resume in {} ms",
                retry_in.as_millis()
            ),
            Refusal::ConcurrencyLimited => {
                format!("{supplier} has its maximum of calls in flight")
            }
            Refusal::RateCapped { retry_in } => format!(
                "{supplier} is at its configured request rate; the next call may go in {} ms",
                retry_in.as_millis()
            ),
        };
        SupplierError::new(ErrorClass::RateLimited, self.as_str(), message)
    }
}

/// One admitted supplier call; finish it with [`SupplierGuard::finish`]. Dropped unfinished (the
/// caller was cancelled), it frees its concurrency slot and, if it was a probe, its probe slot.
/// Owned, so a leg can hold it from `proxy_upstream_filter` to its logging phase.
pub struct SupplierGuard {
    supplier: Arc<SupplierRuntime>,
    op: &'static str,
    permit: OwnedPermit,
    _slot: OwnedConcurrencyPermit,
    started: Instant,
}

/// Logs and meters one circuit transition.
fn report(supplier: &str, t: &Transition) {
    let open_for_ms = t.open_for.map(|d| d.as_millis() as u64);
    if t.to == CircuitState::Open {
        tracing::warn!(supplier, from = %t.from, to = %t.to, reason = %t.reason, open_for_ms, "supplier circuit opened");
    } else {
        tracing::info!(supplier, from = %t.from, to = %t.to, reason = %t.reason, "supplier circuit changed");
    }
    metrics::circuit_transition(supplier, t);
}

impl SupplierGuard {
    /// Asks to call `supplier` for `op` (a `Call::op` name) now, with the node's own rate cap.
    pub fn enter(supplier: &Arc<SupplierRuntime>, op: &'static str) -> Result<Self, Refusal> {
        if let Err(retry_in) = crate::quota::local_cap(supplier) {
            return Err(refused(supplier, op, Refusal::RateCapped { retry_in }));
        }
        SupplierGuard::enter_unrated(supplier, op)
    }

    /// Asks to send `op` to `supplier` now: after the cache decided the supplier must be asked.
    /// Its rate first (cluster-wide with Redis, see [`crate::quota`]), then its concurrency cap,
    /// then its circuit breaker.
    pub async fn admit(
        quotas: &SupplierQuotas,
        supplier: &Arc<SupplierRuntime>,
        op: &'static str,
    ) -> Result<Self, Refusal> {
        if let Err(retry_in) = quotas.acquire(supplier).await {
            return Err(refused(supplier, op, Refusal::RateCapped { retry_in }));
        }
        SupplierGuard::enter_unrated(supplier, op)
    }

    fn enter_unrated(supplier: &Arc<SupplierRuntime>, op: &'static str) -> Result<Self, Refusal> {
        let Some(slot) = supplier.concurrency.try_acquire_owned() else {
            return Err(refused(supplier, op, Refusal::ConcurrencyLimited));
        };
        let (permit, transition) = supplier.breaker.admit_owned(Instant::now());
        if let Some(t) = &transition {
            report(supplier.code(), t);
        }
        match permit {
            Ok(permit) => Ok(SupplierGuard {
                supplier: supplier.clone(),
                op,
                permit,
                _slot: slot,
                started: Instant::now(),
            }),
            Err(rejected) => Err(refused(
                supplier,
                op,
                Refusal::CircuitOpen {
                    retry_in: rejected.retry_in,
                },
            )),
        }
    }

    /// Whether this call is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.permit.is_probe()
    }

    /// Reports the result of a call that reached the supplier, whose answer was ready at `ended`.
    pub fn finish<T>(self, result: &Result<T, SupplierError>, ended: Instant) {
        let elapsed = ended.saturating_duration_since(self.started);
        let code = self.supplier.code();
        metrics::supplier_call(code, self.op, SupplierOutcome::of(result), elapsed);
        self.supplier.recent.record(elapsed, result.is_ok());
        if let Some(t) = self.permit.record(CallOutcome::of(result), Instant::now()) {
            report(code, &t);
        }
    }
}

/// The last [`RecentCalls::CAPACITY`] calls that reached a supplier: how long each took and
/// whether it failed. A fixed ring behind a short lock (no await inside), read only by
/// `/admin/suppliers`, so an SRE sees a supplier's latency now without querying Prometheus.
pub struct RecentCalls {
    ring: parking_lot::Mutex<Ring>,
}

struct Ring {
    /// Microseconds (saturating at u32::MAX, about 71 minutes) and success, oldest overwritten.
    calls: Box<[(u32, bool); RecentCalls::CAPACITY]>,
    next: usize,
    len: usize,
}

/// What [`RecentCalls::summary`] reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecentSummary {
    pub calls: usize,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub error_rate: Option<f64>,
}

impl Default for RecentCalls {
    fn default() -> Self {
        RecentCalls {
            ring: parking_lot::Mutex::new(Ring {
                calls: Box::new([(0, false); RecentCalls::CAPACITY]),
                next: 0,
                len: 0,
            }),
        }
    }
}

impl RecentCalls {
    pub const CAPACITY: usize = 256;

    pub fn record(&self, took: Duration, ok: bool) {
        let micros = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        let mut ring = self.ring.lock();
        let at = ring.next;
        ring.calls[at] = (micros, ok);
        ring.next = (at + 1) % Self::CAPACITY;
        ring.len = (ring.len + 1).min(Self::CAPACITY);
    }

    /// p50/p99 latency (nearest rank) and error rate over the calls in the ring.
    pub fn summary(&self) -> RecentSummary {
        let (mut micros, failures) = {
            let ring = self.ring.lock();
            let calls = &ring.calls[..ring.len];
            let failures = calls.iter().filter(|(_, ok)| !ok).count();
            (calls.iter().map(|(m, _)| *m).collect::<Vec<_>>(), failures)
        };
        micros.sort_unstable();
        let n = micros.len();
        let rank = |q: f64| {
            let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
            f64::from(micros[i]) / 1000.0
        };
        RecentSummary {
            calls: n,
            p50_ms: (n > 0).then(|| rank(0.50)),
            p99_ms: (n > 0).then(|| rank(0.99)),
            error_rate: (n > 0).then(|| failures as f64 / n as f64),
        }
    }
}

/// Meters a refused call.
fn refused(supplier: &SupplierRuntime, op: &'static str, r: Refusal) -> Refusal {
    let outcome = match r {
        Refusal::CircuitOpen { .. } => SupplierOutcome::CircuitOpen,
        Refusal::ConcurrencyLimited => SupplierOutcome::ConcurrencyLimited,
        Refusal::RateCapped { .. } => SupplierOutcome::RateCapped,
    };
    metrics::supplier_call(supplier.code(), op, outcome, Duration::ZERO);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_calls_keep_the_last_ring_and_rank_their_latency() {
        let recent = RecentCalls::default();
        assert_eq!(recent.summary().p50_ms, None);
        // 300 slow failures, then 256 calls of 1..=256 ms with every fourth failing: the ring
        // holds only the last 256.
        for _ in 0..300 {
            recent.record(Duration::from_secs(9), false);
        }
        for ms in 1..=256u64 {
            recent.record(Duration::from_millis(ms), ms % 4 != 0);
        }
        let s = recent.summary();
        assert_eq!(s.calls, 256);
        assert_eq!(s.p50_ms, Some(128.0));
        assert_eq!(s.p99_ms, Some(254.0));
        assert_eq!(s.error_rate, Some(0.25));
    }

    fn timeout() -> Result<(), SupplierError> {
        Err(SupplierError::new(ErrorClass::SupplierTimeout, "", "slow"))
    }

    #[test]
    fn an_agent_over_its_rate_gets_a_429_with_the_header_fields() {
        let app = crate::demo::test_app();
        let agent = app.config.agents[1].id.clone();
        let burst = app.config.agents[1].rate_limit.burst;
        for _ in 0..burst {
            let h = admit_agent(&app, &agent, "t1")
                .unwrap_or_else(|r| panic!("refused within the burst: {}", r.status));
            assert!(h.iter().any(|(k, _)| *k == "ratelimit"));
        }
        let refused = admit_agent(&app, &agent, "t1").expect_err("over the burst");
        assert_eq!(refused.status, 429);
        let header = |name| {
            refused
                .headers
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        };
        assert!(header("retry-after").is_some());
        assert_eq!(
            header("ratelimit-policy"),
            Some(format!(
                "\"default\";q={};w=60",
                app.config.agents[1].rate_limit.per_minute
            ))
        );
        let body: serde_json::Value = serde_json::from_slice(&refused.body).expect("json");
        assert_eq!(body["error"]["code"], "rate_limited");
        assert_eq!(body["error"]["trace_id"], "t1");
        // Another agent is unaffected.
        assert!(admit_agent(&app, "someone-else", "t2").is_ok());
    }

    #[test]
    fn failing_calls_open_the_circuit_and_refuse_further_calls() {
        let app = crate::demo::test_app();
        let s = &app.suppliers[0];
        for _ in 0..s.breaker.config().consecutive_failures {
            let g = SupplierGuard::enter(s, "search").expect("closed");
            g.finish(&timeout(), Instant::now());
        }
        assert_eq!(s.breaker.state(), CircuitState::Open);
        match SupplierGuard::enter(s, "search") {
            Err(Refusal::CircuitOpen { retry_in }) => {
                assert!(retry_in <= s.breaker.config().open_for)
            }
            other => panic!("expected circuit_open, got {:?}", other.map(|_| ())),
        }
        assert_eq!(s.concurrency.in_flight(), 0, "refused calls hold no slot");
        // Sold-out answers are health, not failure.
        let other = &app.suppliers[1];
        for _ in 0..20 {
            let g = SupplierGuard::enter(other, "recheck").expect("closed");
            let sold_out: Result<(), _> = Err(SupplierError::new(ErrorClass::SoldOut, "", "gone"));
            g.finish(&sold_out, Instant::now());
        }
        assert_eq!(other.breaker.state(), CircuitState::Closed);
    }

    #[test]
    fn a_reload_keeps_breakers_calls_in_flight_and_agent_usage() {
        let app = crate::demo::test_app();
        let (tripped, busy) = (&app.suppliers[0], &app.suppliers[1]);
        for _ in 0..tripped.breaker.config().consecutive_failures {
            let g = SupplierGuard::enter(tripped, "search").expect("closed");
            g.finish(&timeout(), Instant::now());
        }
        let _held = SupplierGuard::enter(busy, "search").expect("admitted");
        let agent = app.config.agents[1].id.clone();
        for _ in 0..app.config.agents[1].rate_limit.burst {
            assert!(admit_agent(&app, &agent, "t").is_ok());
        }

        let mut config = app.config.clone();
        config.suppliers[1].max_concurrency = Some(1);
        let next = app.reloaded(config.clone());
        assert_eq!(next.suppliers[0].breaker.state(), CircuitState::Open);
        assert_eq!(next.suppliers[1].concurrency.in_flight(), 1);
        assert_eq!(
            SupplierGuard::enter(&next.suppliers[1], "search").err(),
            Some(Refusal::ConcurrencyLimited),
            "the new cap counts the older generation's call"
        );
        assert!(
            admit_agent(&next, &agent, "t").is_err(),
            "usage carries over"
        );

        // New circuit settings start a new, closed breaker.
        config.suppliers[0].circuit.consecutive_failures += 1;
        let third = next.reloaded(config);
        assert_eq!(third.suppliers[0].breaker.state(), CircuitState::Closed);
    }

    #[test]
    fn the_concurrency_cap_refuses_beyond_its_maximum() {
        let mut config = crate::demo::test_app().config.clone();
        config.suppliers[0].max_concurrency = Some(2);
        let app = App::new(config);
        let s = &app.suppliers[0];
        let a = SupplierGuard::enter(s, "search").expect("1");
        let _b = SupplierGuard::enter(s, "search").expect("2");
        assert_eq!(
            SupplierGuard::enter(s, "search").err(),
            Some(Refusal::ConcurrencyLimited)
        );
        a.finish(&Ok::<(), SupplierError>(()), Instant::now());
        let c = SupplierGuard::enter(s, "search").expect("a finished call frees its slot");
        drop(c);
        assert_eq!(s.concurrency.in_flight(), 1, "and so does a dropped one");
    }
}
