//! Supplier protection (issue #6): a circuit breaker and a concurrency cap per supplier.
//!
//! [`CircuitBreaker`]: closed → open after `consecutive_failures` failed calls in a row, or when
//! the failed share of the calls in a sliding `window` reaches `error_rate` with at least
//! `min_requests` calls in it. Open → half-open once the open period has passed (`open_for`,
//! doubled after each failed probe up to `max_open_for`). Half-open lets `half_open_probes` calls
//! through; when all succeed the circuit closes, when one fails it opens again.
//!
//! The closed path is lock-free (two atomic loads to admit); recording an outcome takes a short
//! uncontended mutex. Each state change bumps a generation, so an outcome of a call admitted
//! before the change is ignored and never counts as a probe. Transitions are returned to the
//! caller, which logs and meters them. Time is a parameter, so tests run on virtual time.
//!
//! [`ConcurrencyLimit`]: a counting permit with a non-blocking `try_acquire` that fails fast
//! when the supplier already has its maximum of calls in flight; the permit releases on drop.

use arigate_config::CircuitConfig;
use arigate_connectors::ErrorClass;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
        }
    }

    fn from_u8(v: u8) -> CircuitState {
        match v {
            OPEN => CircuitState::Open,
            HALF_OPEN => CircuitState::HalfOpen,
            _ => CircuitState::Closed,
        }
    }
}

impl std::fmt::Display for CircuitState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

/// What one call says about the supplier's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    Success,
    Failure,
}

impl CallOutcome {
    /// A supplier that answers, even with "sold out" or "not found", is healthy; timeouts,
    /// unavailability, unreadable answers, its own throttling and unknown booking outcomes are not.
    pub fn of<T>(result: &Result<T, arigate_connectors::SupplierError>) -> CallOutcome {
        match result {
            Ok(_) => CallOutcome::Success,
            Err(e) => CallOutcome::of_class(e.class),
        }
    }

    pub fn of_class(class: ErrorClass) -> CallOutcome {
        match class {
            ErrorClass::SupplierTimeout
            | ErrorClass::SupplierUnavailable
            | ErrorClass::SupplierMalformed
            | ErrorClass::RateLimited
            | ErrorClass::BookingUnknown => CallOutcome::Failure,
            ErrorClass::InvalidRequest
            | ErrorClass::AuthFailed
            | ErrorClass::NotFound
            | ErrorClass::SoldOut
            | ErrorClass::PriceChanged
            | ErrorClass::RateExpired => CallOutcome::Success,
        }
    }
}

/// Why the circuit changed state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TransitionReason {
    ConsecutiveFailures(u32),
    ErrorRate {
        failures: u32,
        requests: u32,
    },
    /// The open period passed; probes may go through.
    OpenPeriodOver,
    ProbesSucceeded,
    ProbeFailed,
}

impl std::fmt::Display for TransitionReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransitionReason::ConsecutiveFailures(n) => write!(f, "{n} consecutive failures"),
            TransitionReason::ErrorRate { failures, requests } => {
                write!(f, "{failures} of the last {requests} calls failed")
            }
            TransitionReason::OpenPeriodOver => f.write_str("open period over"),
            TransitionReason::ProbesSucceeded => f.write_str("probes succeeded"),
            TransitionReason::ProbeFailed => f.write_str("probe failed"),
        }
    }
}

/// One state change, for the caller to log (`tracing`) and meter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    pub from: CircuitState,
    pub to: CircuitState,
    pub reason: TransitionReason,
    /// For a transition to open: how long it stays open.
    pub open_for: Option<Duration>,
}

/// Why a call was not let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    pub state: CircuitState,
    /// When the next probe may go through (zero while half-open probes are in flight).
    pub retry_in: Duration,
}

/// The answer to [`CircuitBreaker::admit`].
#[derive(Debug)]
pub struct Admission<'a> {
    pub permit: Result<Permit<'a>, Rejected>,
    /// Set when admitting moved the circuit from open to half-open.
    pub transition: Option<Transition>,
}

/// A call let through. Report how it went with [`Permit::record`]; a probe dropped without a
/// verdict (its caller was cancelled) frees its probe slot for another call.
#[derive(Debug)]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    ticket: Ticket,
}

/// What a permit needs to report back to its breaker.
#[derive(Debug)]
struct Ticket {
    generation: u64,
    probe: bool,
    recorded: bool,
}

impl Ticket {
    fn record(
        &mut self,
        b: &CircuitBreaker,
        outcome: CallOutcome,
        now: Instant,
    ) -> Option<Transition> {
        self.recorded = true;
        b.record(self.generation, self.probe, outcome, now)
    }

    /// A probe dropped without a verdict frees its probe slot.
    fn release(&self, b: &CircuitBreaker) {
        if self.probe && !self.recorded {
            b.abandon_probe(self.generation);
        }
    }
}

impl Permit<'_> {
    /// Whether this call is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.ticket.probe
    }

    /// Counts the call's outcome; returns the transition it caused, if any.
    pub fn record(mut self, outcome: CallOutcome, now: Instant) -> Option<Transition> {
        self.ticket.record(self.breaker, outcome, now)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.ticket.release(self.breaker);
    }
}

/// [`Permit`] for a call that outlives a borrow of its breaker (a leg holds it across its proxy
/// phases); see [`CircuitBreaker::admit_owned`].
#[derive(Debug)]
pub struct OwnedPermit {
    breaker: Arc<CircuitBreaker>,
    ticket: Ticket,
}

impl OwnedPermit {
    /// Whether this call is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.ticket.probe
    }

    /// Counts the call's outcome; returns the transition it caused, if any.
    pub fn record(mut self, outcome: CallOutcome, now: Instant) -> Option<Transition> {
        self.ticket.record(&self.breaker, outcome, now)
    }
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        self.ticket.release(&self.breaker);
    }
}

/// Calls and failures in a sliding window of ten buckets.
#[derive(Debug, Clone)]
struct Window {
    bucket_ns: u64,
    buckets: [(u64, u32, u32); 10],
}

impl Window {
    fn new(window: Duration) -> Window {
        let ns = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
        Window {
            bucket_ns: (ns / 10).max(1),
            buckets: [(u64::MAX, 0, 0); 10],
        }
    }

    fn add(&mut self, now_ns: u64, failed: bool) {
        let idx = now_ns / self.bucket_ns;
        let b = &mut self.buckets[(idx % 10) as usize];
        if b.0 != idx {
            *b = (idx, 0, 0);
        }
        b.1 += 1;
        b.2 += u32::from(failed);
    }

    /// (calls, failures) in the window ending now.
    fn totals(&self, now_ns: u64) -> (u32, u32) {
        let idx = now_ns / self.bucket_ns;
        self.buckets
            .iter()
            .filter(|b| b.0 != u64::MAX && b.0 <= idx && idx - b.0 < 10)
            .fold((0, 0), |(c, f), b| (c + b.1, f + b.2))
    }

    fn clear(&mut self) {
        self.buckets = [(u64::MAX, 0, 0); 10];
    }
}

#[derive(Debug)]
struct Inner {
    consecutive_failures: u32,
    window: Window,
    /// Opens since the circuit was last closed (the backoff exponent).
    opens: u32,
    probes_in_flight: u32,
    probe_successes: u32,
}

/// What the admin API shows about one breaker.
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitSnapshot {
    pub state: CircuitState,
    pub consecutive_failures: u32,
    pub window_requests: u32,
    pub window_failures: u32,
    /// Opens since it was last closed.
    pub opens: u32,
    /// While open: how long until a probe may go through.
    pub retry_in: Option<Duration>,
}

/// One supplier's circuit breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    config: CircuitConfig,
    epoch: Instant,
    state: AtomicU8,
    generation: AtomicU64,
    /// While open: nanoseconds since `epoch` at which probes may start.
    open_until: AtomicU64,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// A closed breaker; `epoch` is any instant not after the first `now` it will be given.
    pub fn new(config: CircuitConfig, epoch: Instant) -> CircuitBreaker {
        CircuitBreaker {
            inner: Mutex::new(Inner {
                consecutive_failures: 0,
                window: Window::new(config.window),
                opens: 0,
                probes_in_flight: 0,
                probe_successes: 0,
            }),
            config,
            epoch,
            state: AtomicU8::new(CLOSED),
            generation: AtomicU64::new(0),
            open_until: AtomicU64::new(0),
        }
    }

    pub fn config(&self) -> &CircuitConfig {
        &self.config
    }

    fn ns(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX / 2)
    }

    /// The state as last changed (an open circuit whose period is over stays `Open` until the
    /// next call is admitted as a probe).
    pub fn state(&self) -> CircuitState {
        CircuitState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// [`admit`](Self::admit) with a permit that holds the breaker by `Arc`.
    pub fn admit_owned(
        self: &Arc<Self>,
        now: Instant,
    ) -> (Result<OwnedPermit, Rejected>, Option<Transition>) {
        let Admission { permit, transition } = self.admit(now);
        let permit = permit.map(|mut p| {
            let ticket = Ticket {
                recorded: false,
                ..p.ticket
            };
            // The borrowed permit hands its slot over: its drop must not free it.
            p.ticket.recorded = true;
            OwnedPermit {
                breaker: self.clone(),
                ticket,
            }
        });
        (permit, transition)
    }

    /// Asks to make one call at `now`. Runs before every supplier call.
    pub fn admit(&self, now: Instant) -> Admission<'_> {
        let state = self.state.load(Ordering::Acquire);
        let now_ns = self.ns(now);
        if state == CLOSED {
            return self.admitted(self.generation.load(Ordering::Acquire), false, None);
        }
        if state == OPEN {
            let until = self.open_until.load(Ordering::Acquire);
            if now_ns < until {
                return Admission {
                    permit: Err(Rejected {
                        state: CircuitState::Open,
                        retry_in: Duration::from_nanos(until - now_ns),
                    }),
                    transition: None,
                };
            }
        }
        let mut inner = self.inner.lock();
        let mut transition = None;
        match self.state.load(Ordering::Acquire) {
            CLOSED => {
                return self.admitted(self.generation.load(Ordering::Acquire), false, None);
            }
            OPEN => {
                let until = self.open_until.load(Ordering::Acquire);
                if now_ns < until {
                    return Admission {
                        permit: Err(Rejected {
                            state: CircuitState::Open,
                            retry_in: Duration::from_nanos(until - now_ns),
                        }),
                        transition: None,
                    };
                }
                inner.probes_in_flight = 0;
                inner.probe_successes = 0;
                self.set_state(HALF_OPEN);
                transition = Some(Transition {
                    from: CircuitState::Open,
                    to: CircuitState::HalfOpen,
                    reason: TransitionReason::OpenPeriodOver,
                    open_for: None,
                });
            }
            _ => {}
        }
        if inner.probes_in_flight + inner.probe_successes < self.config.half_open_probes {
            inner.probes_in_flight += 1;
            self.admitted(self.generation.load(Ordering::Acquire), true, transition)
        } else {
            Admission {
                permit: Err(Rejected {
                    state: CircuitState::HalfOpen,
                    retry_in: Duration::ZERO,
                }),
                transition,
            }
        }
    }

    fn admitted(
        &self,
        generation: u64,
        probe: bool,
        transition: Option<Transition>,
    ) -> Admission<'_> {
        Admission {
            permit: Ok(Permit {
                breaker: self,
                ticket: Ticket {
                    generation,
                    probe,
                    recorded: false,
                },
            }),
            transition,
        }
    }

    /// Moves to `state` in a new generation (callers hold `inner`).
    fn set_state(&self, state: u8) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.state.store(state, Ordering::Release);
    }

    fn open(&self, inner: &mut Inner, now_ns: u64) -> Duration {
        let factor = 1u32.checked_shl(inner.opens.min(31)).unwrap_or(u32::MAX);
        let open_for = self
            .config
            .open_for
            .saturating_mul(factor)
            .min(self.config.max_open_for);
        inner.opens = inner.opens.saturating_add(1);
        inner.consecutive_failures = 0;
        inner.window.clear();
        inner.probes_in_flight = 0;
        inner.probe_successes = 0;
        let ns = u64::try_from(open_for.as_nanos()).unwrap_or(u64::MAX / 4);
        self.open_until
            .store(now_ns.saturating_add(ns), Ordering::Release);
        self.set_state(OPEN);
        open_for
    }

    fn record(
        &self,
        generation: u64,
        probe: bool,
        outcome: CallOutcome,
        now: Instant,
    ) -> Option<Transition> {
        let now_ns = self.ns(now);
        let failed = outcome == CallOutcome::Failure;
        let mut inner = self.inner.lock();
        if generation != self.generation.load(Ordering::Acquire) {
            return None;
        }
        match (self.state.load(Ordering::Acquire), probe) {
            (CLOSED, false) => {
                inner.window.add(now_ns, failed);
                if !failed {
                    inner.consecutive_failures = 0;
                    return None;
                }
                inner.consecutive_failures += 1;
                let c = &self.config;
                let reason = if c.consecutive_failures > 0
                    && inner.consecutive_failures >= c.consecutive_failures
                {
                    TransitionReason::ConsecutiveFailures(inner.consecutive_failures)
                } else {
                    let (requests, failures) = inner.window.totals(now_ns);
                    if c.error_rate > 0.0
                        && requests >= c.min_requests
                        && f64::from(failures) >= c.error_rate * f64::from(requests)
                    {
                        TransitionReason::ErrorRate { failures, requests }
                    } else {
                        return None;
                    }
                };
                let open_for = self.open(&mut inner, now_ns);
                Some(Transition {
                    from: CircuitState::Closed,
                    to: CircuitState::Open,
                    reason,
                    open_for: Some(open_for),
                })
            }
            (HALF_OPEN, true) => {
                inner.probes_in_flight = inner.probes_in_flight.saturating_sub(1);
                if failed {
                    let open_for = self.open(&mut inner, now_ns);
                    return Some(Transition {
                        from: CircuitState::HalfOpen,
                        to: CircuitState::Open,
                        reason: TransitionReason::ProbeFailed,
                        open_for: Some(open_for),
                    });
                }
                inner.probe_successes += 1;
                if inner.probe_successes < self.config.half_open_probes {
                    return None;
                }
                inner.opens = 0;
                inner.consecutive_failures = 0;
                inner.window.clear();
                inner.probes_in_flight = 0;
                inner.probe_successes = 0;
                self.set_state(CLOSED);
                Some(Transition {
                    from: CircuitState::HalfOpen,
                    to: CircuitState::Closed,
                    reason: TransitionReason::ProbesSucceeded,
                    open_for: None,
                })
            }
            _ => None,
        }
    }

    fn abandon_probe(&self, generation: u64) {
        let mut inner = self.inner.lock();
        if generation == self.generation.load(Ordering::Acquire)
            && self.state.load(Ordering::Acquire) == HALF_OPEN
        {
            inner.probes_in_flight = inner.probes_in_flight.saturating_sub(1);
        }
    }

    pub fn snapshot(&self, now: Instant) -> CircuitSnapshot {
        let now_ns = self.ns(now);
        let inner = self.inner.lock();
        let state = self.state();
        let (window_requests, window_failures) = inner.window.totals(now_ns);
        CircuitSnapshot {
            state,
            consecutive_failures: inner.consecutive_failures,
            window_requests,
            window_failures,
            opens: inner.opens,
            retry_in: (state == CircuitState::Open).then(|| {
                Duration::from_nanos(
                    self.open_until
                        .load(Ordering::Acquire)
                        .saturating_sub(now_ns),
                )
            }),
        }
    }
}

/// At most `max` calls in flight; beyond that, [`ConcurrencyLimit::try_acquire`] fails at once.
#[derive(Debug)]
pub struct ConcurrencyLimit {
    max: AtomicU32,
    in_flight: AtomicU32,
}

/// One call in flight; released on drop.
#[derive(Debug)]
pub struct ConcurrencyPermit<'a> {
    limit: &'a ConcurrencyLimit,
}

/// [`ConcurrencyPermit`] for tasks that outlive a borrow.
#[derive(Debug)]
pub struct OwnedConcurrencyPermit {
    limit: Arc<ConcurrencyLimit>,
}

impl ConcurrencyLimit {
    /// `None`: unlimited (still counts calls in flight for the metrics).
    pub fn new(max: Option<u32>) -> ConcurrencyLimit {
        ConcurrencyLimit {
            max: AtomicU32::new(max.unwrap_or(u32::MAX)),
            in_flight: AtomicU32::new(0),
        }
    }

    pub fn max(&self) -> Option<u32> {
        let max = self.max.load(Ordering::Acquire);
        (max != u32::MAX).then_some(max)
    }

    /// Changes the cap (a reload); calls in flight keep their permits, new ones see the new cap.
    pub fn set_max(&self, max: Option<u32>) {
        self.max.store(max.unwrap_or(u32::MAX), Ordering::Release);
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Acquire)
    }

    fn take(&self) -> bool {
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max.load(Ordering::Acquire)).then_some(n + 1)
            })
            .is_ok()
    }

    /// A permit, or `None` when `max` calls are already in flight.
    pub fn try_acquire(&self) -> Option<ConcurrencyPermit<'_>> {
        self.take().then(|| ConcurrencyPermit { limit: self })
    }

    pub fn try_acquire_owned(self: &Arc<Self>) -> Option<OwnedConcurrencyPermit> {
        self.take().then(|| OwnedConcurrencyPermit {
            limit: self.clone(),
        })
    }
}

impl Drop for ConcurrencyPermit<'_> {
    fn drop(&mut self) {
        self.limit.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Drop for OwnedConcurrencyPermit {
    fn drop(&mut self) {
        self.limit.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CallOutcome::{Failure, Success};

    fn config() -> CircuitConfig {
        CircuitConfig {
            consecutive_failures: 3,
            error_rate: 0.5,
            window: Duration::from_secs(10),
            min_requests: 10,
            open_for: Duration::from_secs(5),
            max_open_for: Duration::from_secs(30),
            half_open_probes: 1,
        }
    }

    /// A breaker on [`config`] as `edit` changes it, and its epoch.
    fn breaker(edit: impl FnOnce(&mut CircuitConfig)) -> (CircuitBreaker, Instant) {
        let mut c = config();
        edit(&mut c);
        let t0 = Instant::now();
        (CircuitBreaker::new(c, t0), t0)
    }

    /// Admits and records one call at `at`.
    fn call(b: &CircuitBreaker, at: Instant, outcome: CallOutcome) -> Option<Transition> {
        let a = b.admit(at);
        let permit = a.permit.expect("admitted");
        permit.record(outcome, at)
    }

    /// `n` failed calls at `at`.
    fn fail(b: &CircuitBreaker, at: Instant, n: u32) {
        for _ in 0..n {
            call(b, at, Failure);
        }
    }

    fn secs(t0: Instant, s: u64) -> Instant {
        t0 + Duration::from_secs(s)
    }

    #[test]
    fn consecutive_failures_open_the_circuit() {
        let (b, t0) = breaker(|_| {});
        assert_eq!(call(&b, t0, Failure), None);
        assert_eq!(call(&b, t0, Failure), None);
        let t = call(&b, t0, Failure).expect("opens");
        assert_eq!(
            (t.from, t.to, t.reason),
            (
                CircuitState::Closed,
                CircuitState::Open,
                TransitionReason::ConsecutiveFailures(3)
            )
        );
        assert_eq!(t.open_for, Some(Duration::from_secs(5)));
        let r = b.admit(secs(t0, 1)).permit.expect_err("open");
        assert_eq!(r.state, CircuitState::Open);
        assert_eq!(r.retry_in, Duration::from_secs(4));
    }

    #[test]
    fn a_success_resets_the_consecutive_count() {
        let (b, t0) = breaker(|c| c.error_rate = 0.0);
        for _ in 0..5 {
            assert_eq!(call(&b, t0, Failure), None);
            assert_eq!(call(&b, t0, Failure), None);
            assert_eq!(call(&b, t0, Success), None);
        }
        assert_eq!(b.state(), CircuitState::Closed);
        assert_eq!(call(&b, t0, Failure), None);
        assert_eq!(call(&b, t0, Failure), None);
        assert!(call(&b, t0, Failure).is_some(), "three in a row");
    }

    #[test]
    fn error_rate_opens_only_with_enough_requests() {
        let (b, t0) = breaker(|c| c.consecutive_failures = 0);
        // 4 failures of 8: 50 %, but under min_requests.
        for _ in 0..4 {
            assert_eq!(call(&b, t0, Success), None);
            assert_eq!(call(&b, t0, Failure), None);
        }
        assert_eq!(call(&b, t0, Success), None);
        // The 10th call, a failure: 5 of 10.
        let t = call(&b, t0, Failure).expect("opens");
        assert_eq!(
            t.reason,
            TransitionReason::ErrorRate {
                failures: 5,
                requests: 10
            }
        );
    }

    #[test]
    fn error_rate_below_the_threshold_keeps_it_closed() {
        let (b, t0) = breaker(|c| c.consecutive_failures = 0);
        for i in 0..100 {
            let outcome = if i % 3 == 0 { Failure } else { Success };
            assert_eq!(call(&b, t0, outcome), None, "call {i}");
        }
        assert_eq!(b.snapshot(t0).window_failures, 34);
    }

    #[test]
    fn old_calls_leave_the_window() {
        let (b, t0) = breaker(|c| c.consecutive_failures = 0);
        fail(&b, t0, 9);
        // 11 s later those nine failures are out of the 10 s window.
        let later = secs(t0, 11);
        assert_eq!(call(&b, later, Failure), None);
        let s = b.snapshot(later);
        assert_eq!((s.window_requests, s.window_failures), (1, 1));
        assert_eq!(s.state, CircuitState::Closed);
    }

    #[test]
    fn half_open_probe_success_closes() {
        let (b, t0) = breaker(|_| {});
        fail(&b, t0, 3);
        assert!(b.admit(secs(t0, 4)).permit.is_err());
        let at = secs(t0, 5);
        let a = b.admit(at);
        assert_eq!(
            a.transition.map(|t| (t.from, t.to)),
            Some((CircuitState::Open, CircuitState::HalfOpen))
        );
        let probe = a.permit.expect("probe");
        assert!(probe.is_probe());
        // Only one probe at a time.
        let other = b.admit(at).permit.expect_err("probe slot taken");
        assert_eq!(other.state, CircuitState::HalfOpen);
        let t = probe.record(Success, at).expect("closes");
        assert_eq!(
            (t.to, t.reason),
            (CircuitState::Closed, TransitionReason::ProbesSucceeded)
        );
        assert_eq!(b.state(), CircuitState::Closed);
        assert!(b.admit(at).permit.is_ok());
    }

    #[test]
    fn a_failed_probe_reopens_with_a_longer_backoff_up_to_the_cap() {
        let (b, t0) = breaker(|_| {});
        fail(&b, t0, 3);
        let mut at = t0;
        // 5 s, then 10, 20, and 30 (the cap), 30.
        for expected in [10, 20, 30, 30] {
            let before = b.snapshot(at).retry_in.expect("open");
            at += before;
            let t = call(&b, at, Failure).expect("reopens");
            assert_eq!(t.reason, TransitionReason::ProbeFailed);
            assert_eq!(t.open_for, Some(Duration::from_secs(expected)));
            assert!(b
                .admit(at + Duration::from_secs(expected - 1))
                .permit
                .is_err());
        }
        // Recovery resets the backoff.
        at += Duration::from_secs(30);
        assert_eq!(
            call(&b, at, Success).map(|t| t.to),
            Some(CircuitState::Closed)
        );
        fail(&b, at, 3);
        assert_eq!(b.snapshot(at).retry_in, Some(Duration::from_secs(5)));
    }

    #[test]
    fn several_probes_must_all_succeed() {
        let (b, t0) = breaker(|c| c.half_open_probes = 2);
        fail(&b, t0, 3);
        let at = secs(t0, 5);
        let p1 = b.admit(at).permit.expect("probe 1");
        let p2 = b.admit(at).permit.expect("probe 2");
        assert!(b.admit(at).permit.is_err(), "a third is refused");
        assert_eq!(p1.record(Success, at), None, "one of two is not enough");
        assert!(b.admit(at).permit.is_err(), "a used probe slot stays used");
        assert_eq!(
            p2.record(Success, at).map(|t| t.to),
            Some(CircuitState::Closed)
        );
    }

    #[test]
    fn an_abandoned_probe_frees_its_slot() {
        let (b, t0) = breaker(|_| {});
        fail(&b, t0, 3);
        let at = secs(t0, 6);
        drop(b.admit(at).permit.expect("probe"));
        assert_eq!(b.state(), CircuitState::HalfOpen);
        let p = b.admit(at).permit.expect("the slot is free again");
        assert_eq!(
            p.record(Success, at).map(|t| t.to),
            Some(CircuitState::Closed)
        );
    }

    #[test]
    fn outcomes_from_before_a_transition_are_ignored() {
        let (b, t0) = breaker(|_| {});
        // A slow call admitted while closed...
        let slow = b.admit(t0).permit.expect("closed");
        fail(&b, t0, 3);
        let at = secs(t0, 5);
        let probe = b.admit(at).permit.expect("probe");
        // ...finishing during half-open neither closes nor reopens the circuit.
        assert_eq!(slow.record(Success, at), None);
        assert_eq!(b.state(), CircuitState::HalfOpen);
        assert_eq!(
            probe.record(Success, at).map(|t| t.to),
            Some(CircuitState::Closed)
        );
        // Nor does a closed-era failure count after it closed again.
        let stale = b.admit(t0).permit.expect("closed");
        fail(&b, at, 3);
        let at2 = secs(t0, 20);
        assert!(call(&b, at2, Success).is_some(), "probe closes");
        assert_eq!(stale.record(Failure, at2), None);
        assert_eq!(b.snapshot(at2).consecutive_failures, 0);
    }

    #[test]
    fn supplier_errors_are_classified_for_health() {
        use arigate_connectors::SupplierError;
        let ok: Result<(), SupplierError> = Ok(());
        assert_eq!(CallOutcome::of(&ok), Success);
        for (class, outcome) in [
            (ErrorClass::SupplierTimeout, Failure),
            (ErrorClass::SupplierUnavailable, Failure),
            (ErrorClass::SupplierMalformed, Failure),
            (ErrorClass::RateLimited, Failure),
            (ErrorClass::SoldOut, Success),
            (ErrorClass::NotFound, Success),
            (ErrorClass::PriceChanged, Success),
        ] {
            let r: Result<(), _> = Err(SupplierError::new(class, "", ""));
            assert_eq!(CallOutcome::of(&r), outcome, "{class}");
        }
    }

    #[test]
    fn concurrent_outcomes_open_exactly_once() {
        let t0 = Instant::now();
        let mut c = config();
        c.consecutive_failures = 50;
        let b = Arc::new(CircuitBreaker::new(c, t0));
        let opened: u32 = (0..4)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || {
                    let mut n = 0;
                    for _ in 0..100 {
                        if let Ok(p) = b.admit(t0).permit {
                            n += u32::from(p.record(Failure, t0).is_some());
                        }
                    }
                    n
                })
            })
            .map(|h| h.join().expect("thread"))
            .sum();
        assert_eq!(opened, 1);
        assert_eq!(b.state(), CircuitState::Open);
    }

    #[test]
    fn the_concurrency_cap_fails_fast_and_releases_on_drop() {
        let limit = ConcurrencyLimit::new(Some(2));
        let a = limit.try_acquire().expect("1");
        let b = limit.try_acquire().expect("2");
        assert!(limit.try_acquire().is_none());
        assert_eq!(limit.in_flight(), 2);
        drop(a);
        let c = limit.try_acquire().expect("freed");
        drop((b, c));
        assert_eq!(limit.in_flight(), 0);

        let shared = Arc::new(ConcurrencyLimit::new(Some(1)));
        let owned = shared.try_acquire_owned().expect("owned");
        assert!(shared.try_acquire().is_none());
        drop(owned);
        assert!(shared.try_acquire().is_some());

        // A lower cap applies to new calls; those in flight keep their permits.
        let limit = ConcurrencyLimit::new(Some(3));
        let held: Vec<_> = (0..3).filter_map(|_| limit.try_acquire()).collect();
        limit.set_max(Some(1));
        assert!(limit.try_acquire().is_none());
        drop(held);
        let one = limit.try_acquire().expect("under the new cap");
        assert!(limit.try_acquire().is_none());
        drop(one);
        limit.set_max(None);
        assert_eq!(limit.max(), None);

        let unlimited = ConcurrencyLimit::new(None);
        let held: Vec<_> = (0..1000).filter_map(|_| unlimited.try_acquire()).collect();
        assert_eq!((held.len(), unlimited.in_flight()), (1000, 1000));
        assert_eq!(unlimited.max(), None);
    }
}
