//! Agent limits and supplier protection on the request path (issue #6), glued to metrics and logs.
//!
//! [`admit_agent`] runs once per authenticated agent request: the agent's rate limit, answered
//! with 429 and the RateLimit header fields when exceeded. [`SupplierGuard::enter`] runs before
//! each supplier call: the supplier's concurrency cap, then its circuit breaker; a refused call
//! never reaches the supplier. [`SupplierGuard::finish`] reports how the call went. Both meter
//! what they decide and log every circuit transition.

use crate::api::ApiResponse;
use crate::app::{App, SupplierRuntime};
use crate::errors::ApiError;
use crate::metrics::{self, SupplierOutcome};
use arigate_connectors::SupplierError;
use arigate_filters::circuit::{CallOutcome, CircuitState, ConcurrencyPermit, Permit, Transition};
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

/// One admitted supplier call; finish it with [`SupplierGuard::finish`]. Dropped unfinished (the
/// caller was cancelled), it frees its concurrency slot and, if it was a probe, its probe slot.
pub struct SupplierGuard<'a> {
    supplier: &'a SupplierRuntime,
    op: &'static str,
    permit: Permit<'a>,
    _slot: ConcurrencyPermit<'a>,
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

impl<'a> SupplierGuard<'a> {
    /// Asks to call `supplier` for `op` (a `Call::op` name) now.
    pub fn enter(supplier: &'a SupplierRuntime, op: &'static str) -> Result<Self, Refusal> {
        let code = supplier.code();
        if let Some(rate) = &supplier.rate {
            let d = rate.check(code, Instant::now());
            if !d.is_allowed() {
                metrics::supplier_call(code, op, SupplierOutcome::RateCapped, Duration::ZERO);
                return Err(Refusal::RateCapped {
                    retry_in: rate.wait_time(code, Instant::now()),
                });
            }
        }
        let Some(slot) = supplier.concurrency.try_acquire() else {
            metrics::supplier_call(
                code,
                op,
                SupplierOutcome::ConcurrencyLimited,
                Duration::ZERO,
            );
            return Err(Refusal::ConcurrencyLimited);
        };
        let admission = supplier.breaker.admit(Instant::now());
        if let Some(t) = &admission.transition {
            report(code, t);
        }
        match admission.permit {
            Ok(permit) => Ok(SupplierGuard {
                supplier,
                op,
                permit,
                _slot: slot,
            }),
            Err(rejected) => {
                metrics::supplier_call(code, op, SupplierOutcome::CircuitOpen, Duration::ZERO);
                Err(Refusal::CircuitOpen {
                    retry_in: rejected.retry_in,
                })
            }
        }
    }

    /// Whether this call is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.permit.is_probe()
    }

    /// The answer came from the cache: the supplier was not called, nothing is counted (a probe
    /// slot is freed for a call that reaches the supplier).
    pub fn cached(self) {}

    /// Reports the result of a call that reached the supplier, and how long it took.
    pub fn finish<T>(self, result: &Result<T, SupplierError>, elapsed: Duration) {
        let code = self.supplier.code();
        metrics::supplier_call(code, self.op, SupplierOutcome::of(result), elapsed);
        if let Some(t) = self.permit.record(CallOutcome::of(result), Instant::now()) {
            report(code, &t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arigate_connectors::ErrorClass;

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
            g.finish(&timeout(), Duration::from_millis(300));
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
            g.finish(&sold_out, Duration::from_millis(20));
        }
        assert_eq!(other.breaker.state(), CircuitState::Closed);
    }

    #[test]
    fn a_reload_keeps_breakers_calls_in_flight_and_agent_usage() {
        let app = crate::demo::test_app();
        let (tripped, busy) = (&app.suppliers[0], &app.suppliers[1]);
        for _ in 0..tripped.breaker.config().consecutive_failures {
            let g = SupplierGuard::enter(tripped, "search").expect("closed");
            g.finish(&timeout(), Duration::from_millis(300));
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
        a.finish(&Ok::<(), SupplierError>(()), Duration::from_millis(5));
        let c = SupplierGuard::enter(s, "search").expect("a finished call frees its slot");
        c.cached();
        assert_eq!(s.concurrency.in_flight(), 1, "and so does a cached one");
    }
}
