//! Prometheus metrics (DESIGN §7), served as text on the admin listener's `GET /metrics`.
//!
//! One module owns every family; call sites emit typed events ([`Metrics::request`],
//! [`Metrics::supplier_call`], ...) and never spell a metric name. Label handles are resolved once:
//! per route (known routes in [`ROUTES`], statuses resolved on first use) and per supplier (per
//! operation and [`SupplierOutcome`]), so recording a request is a few atomic adds and no
//! allocation. Gauges that mirror state elsewhere (cache bytes, circuit state, calls in flight,
//! dropped spans) are sampled from the [`App`] when scraped ([`Metrics::observe`]).
//!
//! Known routes, cached routes and every supplier operation are initialised at zero, so every
//! family and its main series exist from the first scrape.

use crate::app::App;
use crate::cache::CacheStatus;
use arigate_connectors::{ErrorClass, SupplierError};
use arigate_filters::circuit::{CircuitState, Transition};
use parking_lot::{Mutex, RwLock};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Agent routes, as `api::Route::name` spells them, plus `unknown` for unroutable requests.
pub const ROUTES: [&str; 10] = [
    "search",
    "destinations",
    "hotels",
    "hotel",
    "availability",
    "book",
    "booking_query",
    "cancel",
    "webhook",
    "unknown",
];

/// Routes whose supplier legs go through the cache (search legs and hotel content legs).
pub const CACHED_ROUTES: [&str; 2] = ["search", "hotel"];

/// The families DESIGN §7 requires, with their Prometheus types.
pub const DESIGN_FAMILIES: [(&str, &str); 10] = [
    ("arigate_requests_total", "counter"),
    ("arigate_request_duration_seconds", "histogram"),
    ("arigate_cache_lookups_total", "counter"),
    ("arigate_cache_ttl_seconds", "histogram"),
    ("arigate_supplier_requests_total", "counter"),
    ("arigate_supplier_duration_seconds", "histogram"),
    ("arigate_supplier_circuit_open", "gauge"),
    ("arigate_invalidations_total", "counter"),
    ("arigate_spans_dropped_total", "counter"),
    ("arigate_config_reloads_total", "counter"),
];

/// The `reason` label of `arigate_redis_errors_total`.
pub const REDIS_ERRORS: [&str; 5] = [
    "failed",
    "timeout",
    "skipped",
    "write_dropped",
    "local_fallback",
];

/// Supplier operations, as `Call::op` spells them.
pub const OPERATIONS: [&str; 10] = [
    "token",
    "search",
    "content",
    "recheck",
    "prepare",
    "book",
    "retrieve",
    "find",
    "cancel_quote",
    "cancel",
];

/// Request and supplier latencies: 1 ms to 10 s, with edges at the 300 ms leg timeout, the
/// 500 ms supplier alert and the 1 s request alert.
const LATENCY_BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0,
];
/// Browse TTLs: 1 s to the 300 s cap, with an edge at 10 s (the seed's "TTL < 10 s" alert).
const TTL_BUCKETS: [f64; 11] = [
    1.0, 5.0, 10.0, 15.0, 30.0, 60.0, 90.0, 120.0, 180.0, 240.0, 300.0,
];

/// Most suppliers given their own label value; more are counted as `other`.
const MAX_SUPPLIERS: usize = 256;
/// Statuses 100..=599 have pre-resolved slots.
const STATUS_SLOTS: usize = 500;

/// How one supplier call ended (`outcome` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupplierOutcome {
    Ok,
    /// A classified supplier error (its snake_case class).
    Error(ErrorClass),
    /// Not sent: the supplier's circuit is open.
    CircuitOpen,
    /// Not sent: the supplier's concurrency cap was reached.
    ConcurrencyLimited,
    /// Not sent: the supplier's request-rate cap was reached.
    RateCapped,
}

const N_OUTCOMES: usize = 15;

impl SupplierOutcome {
    pub fn of<T>(result: &Result<T, SupplierError>) -> SupplierOutcome {
        match result {
            Ok(_) => SupplierOutcome::Ok,
            Err(e) => SupplierOutcome::Error(e.class),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SupplierOutcome::Ok => "ok",
            SupplierOutcome::Error(c) => c.as_str(),
            SupplierOutcome::CircuitOpen => "circuit_open",
            SupplierOutcome::ConcurrencyLimited => "concurrency_limited",
            SupplierOutcome::RateCapped => "rate_capped",
        }
    }

    fn index(self) -> usize {
        match self {
            SupplierOutcome::Ok => 0,
            SupplierOutcome::Error(c) => match c {
                ErrorClass::InvalidRequest => 1,
                ErrorClass::AuthFailed => 2,
                ErrorClass::RateLimited => 3,
                ErrorClass::NotFound => 4,
                ErrorClass::SoldOut => 5,
                ErrorClass::PriceChanged => 6,
                ErrorClass::RateExpired => 7,
                ErrorClass::SupplierTimeout => 8,
                ErrorClass::SupplierUnavailable => 9,
                ErrorClass::SupplierMalformed => 10,
                ErrorClass::BookingUnknown => 11,
            },
            SupplierOutcome::CircuitOpen => 12,
            SupplierOutcome::ConcurrencyLimited => 13,
            SupplierOutcome::RateCapped => 14,
        }
    }
}

/// What invalidated cache entries (`source` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidationSource {
    /// A supplier's signed ARI webhook.
    Webhook,
    /// A re-check or booking that found the cached offer wrong.
    Recheck,
    /// `POST /admin/cache/purge`.
    Admin,
}

impl InvalidationSource {
    pub const ALL: [InvalidationSource; 3] = [
        InvalidationSource::Webhook,
        InvalidationSource::Recheck,
        InvalidationSource::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InvalidationSource::Webhook => "webhook",
            InvalidationSource::Recheck => "recheck",
            InvalidationSource::Admin => "admin",
        }
    }
}

fn cache_index(s: CacheStatus) -> usize {
    match s {
        CacheStatus::Hit => 0,
        CacheStatus::Miss => 1,
        CacheStatus::Stale => 2,
        CacheStatus::Bypass => 3,
    }
}

const CACHE_RESULTS: [CacheStatus; 4] = [
    CacheStatus::Hit,
    CacheStatus::Miss,
    CacheStatus::Stale,
    CacheStatus::Bypass,
];

/// The `status` label of an HTTP status, without allocating.
fn status_label(code: u16, buf: &mut [u8; 3]) -> &str {
    if !(100..=999).contains(&code) {
        return "none";
    }
    buf[0] = b'0' + (code / 100) as u8;
    buf[1] = b'0' + (code / 10 % 10) as u8;
    buf[2] = b'0' + (code % 10) as u8;
    std::str::from_utf8(buf).unwrap_or("none")
}

struct RouteMetrics {
    name: &'static str,
    duration: Histogram,
    statuses: Box<[OnceLock<IntCounter>]>,
    cache: [OnceLock<IntCounter>; 4],
}

/// One supplier's pre-resolved series. Hold an `Arc` of it (see [`Metrics::supplier`]) to record
/// without the supplier lookup.
pub struct SupplierMetrics {
    code: String,
    requests_vec: IntCounterVec,
    requests: Box<[OnceLock<IntCounter>]>,
    durations: Box<[Histogram]>,
    circuit_open: IntGauge,
    in_flight: IntGauge,
    transitions: [IntCounter; 3],
}

fn op_index(op: &str) -> Option<usize> {
    OPERATIONS.iter().position(|o| *o == op)
}

impl SupplierMetrics {
    /// One call of `op` (a `Call::op` name) and how it ended; `elapsed` is observed for calls
    /// that were sent (not for circuit-open or concurrency-limited refusals).
    pub fn call(&self, op: &str, outcome: SupplierOutcome, elapsed: Duration) {
        let sent = !matches!(
            outcome,
            SupplierOutcome::CircuitOpen
                | SupplierOutcome::ConcurrencyLimited
                | SupplierOutcome::RateCapped
        );
        match op_index(op) {
            Some(i) => {
                self.requests[i * N_OUTCOMES + outcome.index()]
                    .get_or_init(|| {
                        self.requests_vec.with_label_values(&[
                            &self.code,
                            OPERATIONS[i],
                            outcome.as_str(),
                        ])
                    })
                    .inc();
                if sent {
                    self.durations[i].observe(elapsed.as_secs_f64());
                }
            }
            None => {
                self.requests_vec
                    .with_label_values(&[&self.code, op, outcome.as_str()])
                    .inc();
            }
        }
    }

    /// A circuit transition of this supplier (logged by the caller).
    pub fn circuit_transition(&self, t: &Transition) {
        let i = match t.to {
            CircuitState::Closed => 0,
            CircuitState::Open => 1,
            CircuitState::HalfOpen => 2,
        };
        self.transitions[i].inc();
        self.circuit_open
            .set(i64::from(t.to != CircuitState::Closed));
    }
}

/// Every metric family of arigate in one registry.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_duration: HistogramVec,
    cache_lookups: IntCounterVec,
    cache_ttl: Histogram,
    supplier_requests: IntCounterVec,
    supplier_duration: HistogramVec,
    circuit_open: IntGaugeVec,
    circuit_transitions: IntCounterVec,
    invalidations: [IntCounter; 3],
    spans_dropped: IntCounter,
    config_reloads: [IntCounter; 2],
    rate_limited: IntCounterVec,
    supplier_in_flight: IntGaugeVec,
    cache_bytes: IntGauge,
    /// Redis trouble by reason (`REDIS_ERRORS`), sampled from the cluster's counters.
    redis_errors: [IntCounter; 5],
    redis_up: IntGauge,
    /// Agent requests shed by `limits.max_inflight`.
    shed: IntCounter,
    /// Client connections cut by a `limits` timeout, by kind ([`ClientTimeout`]).
    client_timeouts: [IntCounter; 3],
    routes: Vec<RouteMetrics>,
    suppliers: RwLock<HashMap<String, Arc<SupplierMetrics>>>,
    /// One scrape samples at a time.
    sampling: Mutex<()>,
}

/// Raises `counter` to `total`, a monotonic count kept elsewhere.
fn catch_up(counter: &IntCounter, total: u64) {
    let shown = counter.get();
    if total > shown {
        counter.inc_by(total - shown);
    }
}

/// Registers `c` and hands it back (registration of a fresh name in a fresh registry).
fn register<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    c: C,
) -> prometheus::Result<C> {
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

impl Metrics {
    pub fn new() -> prometheus::Result<Metrics> {
        let r = Registry::new();
        let latency = |name: &str, help: &str| {
            HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec())
        };
        let requests = register(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "arigate_requests_total",
                    "Agent requests answered, by route and HTTP status.",
                ),
                &["route", "status"],
            )?,
        )?;
        let request_duration = register(
            &r,
            HistogramVec::new(
                latency(
                    "arigate_request_duration_seconds",
                    "Time from receiving an agent request to its answer, by route.",
                ),
                &["route"],
            )?,
        )?;
        let cache_lookups = register(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "arigate_cache_lookups_total",
                    "Cache lookups of supplier legs, by agent route and result (hit, miss, stale, bypass).",
                ),
                &["route", "result"],
            )?,
        )?;
        let cache_ttl = register(
            &r,
            Histogram::with_opts(
                HistogramOpts::new(
                    "arigate_cache_ttl_seconds",
                    "TTL given to each browse answer stored in the cache.",
                )
                .buckets(TTL_BUCKETS.to_vec()),
            )?,
        )?;
        let supplier_requests = register(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "arigate_supplier_requests_total",
                    "Supplier calls, by supplier, operation and outcome (ok, an error class, circuit_open, concurrency_limited).",
                ),
                &["supplier", "operation", "outcome"],
            )?,
        )?;
        let supplier_duration = register(
            &r,
            HistogramVec::new(
                latency(
                    "arigate_supplier_duration_seconds",
                    "Duration of supplier calls that were sent, by supplier and operation.",
                ),
                &["supplier", "operation"],
            )?,
        )?;
        let circuit_open = register(
            &r,
            IntGaugeVec::new(
                Opts::new(
                    "arigate_supplier_circuit_open",
                    "1 while a supplier's circuit is open or half-open, else 0.",
                ),
                &["supplier"],
            )?,
        )?;
        let circuit_transitions = register(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "arigate_supplier_circuit_transitions_total",
                    "Circuit breaker state changes, by supplier and new state.",
                ),
                &["supplier", "to"],
            )?,
        )?;
        let invalidations_vec = register(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "arigate_invalidations_total",
                    "Cache invalidations (one per tag), by source (webhook, recheck, admin).",
                ),
                &["source"],
            )?,
        )?;
        let spans_dropped = register(
            &r,
            IntCounter::new(
                "arigate_spans_dropped_total",
                "Trace spans dropped because the sink was full or the store too slow.",
            )?,
        )?;
        let reloads_vec = register(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "arigate_config_reloads_total",
                    "Config reloads, by result (ok, invalid).",
                ),
                &["result"],
            )?,
        )?;
        let rate_limited = register(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "arigate_rate_limited_total",
                    "Agent requests refused with 429 by the agent's rate limit.",
                ),
                &["agent"],
            )?,
        )?;
        let shed = register(
            &r,
            IntCounter::new(
                "arigate_requests_shed_total",
                "Agent requests shed at once with 503 overloaded (limits.max_inflight reached).",
            )?,
        )?;
        let client_timeouts_vec = register(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "arigate_client_timeouts_total",
                    "Client connections cut by a limits timeout, by kind (header, body, write).",
                ),
                &["kind"],
            )?,
        )?;
        let client_timeouts =
            ClientTimeout::ALL.map(|k| client_timeouts_vec.with_label_values(&[k.as_str()]));
        let supplier_in_flight = register(
            &r,
            IntGaugeVec::new(
                Opts::new(
                    "arigate_supplier_inflight",
                    "Supplier calls in flight, by supplier.",
                ),
                &["supplier"],
            )?,
        )?;
        let cache_bytes = register(
            &r,
            IntGauge::new(
                "arigate_cache_bytes",
                "Bytes held by the in-process cache tier.",
            )?,
        )?;
        let redis_errors_vec = register(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "arigate_redis_errors_total",
                    "Redis operations that gave no answer (failed, timeout), were not tried \
                     (skipped: breaker open), writes dropped (write_dropped: queue full), and \
                     decisions taken locally because Redis was unavailable (local_fallback).",
                ),
                &["reason"],
            )?,
        )?;
        let redis_up = register(
            &r,
            IntGauge::new(
                "arigate_redis_up",
                "1 while the node's shared Redis answers (its breaker is closed); 0 while it does \
                 not, or when no Redis is configured.",
            )?,
        )?;
        let build_info = register(
            &r,
            IntGaugeVec::new(
                Opts::new("arigate_build_info", "Always 1; the version is a label."),
                &["version"],
            )?,
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);

        let routes = ROUTES
            .iter()
            .map(|name| {
                let m = RouteMetrics {
                    name,
                    duration: request_duration.with_label_values(&[name]),
                    statuses: (0..STATUS_SLOTS).map(|_| OnceLock::new()).collect(),
                    cache: Default::default(),
                };
                let _ = m.statuses[100].set(requests.with_label_values(&[name, "200"]));
                if CACHED_ROUTES.contains(name) {
                    for s in CACHE_RESULTS {
                        let _ = m.cache[cache_index(s)]
                            .set(cache_lookups.with_label_values(&[name, s.as_str()]));
                    }
                }
                m
            })
            .collect();
        let invalidations =
            InvalidationSource::ALL.map(|s| invalidations_vec.with_label_values(&[s.as_str()]));
        let config_reloads = ["ok", "invalid"].map(|res| reloads_vec.with_label_values(&[res]));
        let redis_errors = REDIS_ERRORS.map(|r| redis_errors_vec.with_label_values(&[r]));
        Ok(Metrics {
            registry: r,
            requests,
            request_duration,
            cache_lookups,
            cache_ttl,
            supplier_requests,
            supplier_duration,
            circuit_open,
            circuit_transitions,
            invalidations,
            spans_dropped,
            config_reloads,
            rate_limited,
            supplier_in_flight,
            cache_bytes,
            redis_errors,
            redis_up,
            shed,
            client_timeouts,
            routes,
            suppliers: RwLock::new(HashMap::new()),
            sampling: Mutex::new(()),
        })
    }

    fn route(&self, route: &str) -> Option<&RouteMetrics> {
        self.routes.iter().find(|r| r.name == route)
    }

    /// An agent request answered with `status` after `elapsed` (call once per agent request,
    /// in `logging`; not for supplier legs).
    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        let mut buf = [0u8; 3];
        match self.route(route) {
            Some(r) => {
                r.duration.observe(elapsed.as_secs_f64());
                match usize::from(status)
                    .checked_sub(100)
                    .and_then(|i| r.statuses.get(i))
                {
                    Some(slot) => slot
                        .get_or_init(|| {
                            self.requests
                                .with_label_values(&[r.name, status_label(status, &mut buf)])
                        })
                        .inc(),
                    None => self
                        .requests
                        .with_label_values(&[r.name, status_label(status, &mut buf)])
                        .inc(),
                }
            }
            None => {
                self.request_duration
                    .with_label_values(&[route])
                    .observe(elapsed.as_secs_f64());
                self.requests
                    .with_label_values(&[route, status_label(status, &mut buf)])
                    .inc();
            }
        }
    }

    /// How a cacheable supplier leg of `route` was served.
    pub fn cache_lookup(&self, route: &str, result: CacheStatus) {
        self.cache_lookups_n(route, result, 1);
    }

    /// `n` cache lookups at once, through the route's pre-resolved handle.
    pub fn cache_lookups_n(&self, route: &str, result: CacheStatus, n: u64) {
        match self.route(route) {
            Some(r) => r.cache[cache_index(result)]
                .get_or_init(|| {
                    self.cache_lookups
                        .with_label_values(&[r.name, result.as_str()])
                })
                .inc_by(n),
            None => self
                .cache_lookups
                .with_label_values(&[route, result.as_str()])
                .inc_by(n),
        }
    }

    /// The TTL given to a browse answer when it is stored.
    pub fn cache_ttl(&self, ttl: Duration) {
        self.cache_ttl.observe(ttl.as_secs_f64());
    }

    /// The series of supplier `code` (created on first use).
    pub fn supplier(&self, code: &str) -> Arc<SupplierMetrics> {
        if let Some(s) = self.suppliers.read().get(code) {
            return s.clone();
        }
        let mut map = self.suppliers.write();
        let code = if map.len() >= MAX_SUPPLIERS && !map.contains_key(code) {
            "other"
        } else {
            code
        };
        map.entry(code.to_string())
            .or_insert_with(|| Arc::new(self.new_supplier(code)))
            .clone()
    }

    fn new_supplier(&self, code: &str) -> SupplierMetrics {
        let requests: Box<[OnceLock<IntCounter>]> = (0..OPERATIONS.len() * N_OUTCOMES)
            .map(|_| OnceLock::new())
            .collect();
        for (i, op) in OPERATIONS.iter().enumerate() {
            let _ = requests[i * N_OUTCOMES].set(self.supplier_requests.with_label_values(&[
                code,
                op,
                SupplierOutcome::Ok.as_str(),
            ]));
        }
        let circuit_open = self.circuit_open.with_label_values(&[code]);
        circuit_open.set(0);
        SupplierMetrics {
            code: code.to_string(),
            requests_vec: self.supplier_requests.clone(),
            requests,
            durations: OPERATIONS
                .iter()
                .map(|op| self.supplier_duration.with_label_values(&[code, op]))
                .collect(),
            circuit_open,
            in_flight: self.supplier_in_flight.with_label_values(&[code]),
            transitions: [
                CircuitState::Closed,
                CircuitState::Open,
                CircuitState::HalfOpen,
            ]
            .map(|s| {
                self.circuit_transitions
                    .with_label_values(&[code, s.as_str()])
            }),
        }
    }

    /// One supplier call (see [`SupplierMetrics::call`]).
    pub fn supplier_call(
        &self,
        supplier: &str,
        op: &str,
        outcome: SupplierOutcome,
        elapsed: Duration,
    ) {
        if let Some(s) = self.suppliers.read().get(supplier) {
            return s.call(op, outcome, elapsed);
        }
        self.supplier(supplier).call(op, outcome, elapsed);
    }

    /// A circuit transition of `supplier`.
    pub fn circuit_transition(&self, supplier: &str, t: &Transition) {
        self.supplier(supplier).circuit_transition(t);
    }

    /// `n` cache tags invalidated by `source`.
    pub fn invalidations(&self, source: InvalidationSource, n: u64) {
        let i = match source {
            InvalidationSource::Webhook => 0,
            InvalidationSource::Recheck => 1,
            InvalidationSource::Admin => 2,
        };
        self.invalidations[i].inc_by(n);
    }

    /// Samples the reloader's counts of applied (`ok`) and rejected (`invalid`) reloads.
    pub fn observe_reloads(&self, ok: u64, invalid: u64) {
        let _one_at_a_time = self.sampling.lock();
        catch_up(&self.config_reloads[0], ok);
        catch_up(&self.config_reloads[1], invalid);
    }

    /// An agent request shed by the global concurrency limit.
    pub fn shed(&self) {
        self.shed.inc();
    }

    /// A client connection cut by a timeout.
    pub fn client_timeout(&self, kind: ClientTimeout) {
        self.client_timeouts[kind as usize].inc();
    }

    /// An agent request refused by its rate limit.
    pub fn rate_limited(&self, agent: &str) {
        self.rate_limited.with_label_values(&[agent]).inc();
    }

    /// Samples state kept elsewhere: cache bytes, each supplier's circuit and calls in flight,
    /// zero series for every configured supplier and agent, and the traces' dropped-span count.
    pub fn observe(&self, app: &App) {
        let _one_at_a_time = self.sampling.lock();
        catch_up(&self.spans_dropped, app.traces.dropped());
        self.cache_bytes
            .set(i64::try_from(app.cache.storage.used()).unwrap_or(i64::MAX));
        for s in &app.suppliers {
            let m = self.supplier(s.code());
            m.circuit_open
                .set(i64::from(s.breaker.state() != CircuitState::Closed));
            m.in_flight.set(i64::from(s.concurrency.in_flight()));
        }
        for a in &app.config.agents {
            self.rate_limited.with_label_values(&[&a.id]);
        }
        if let Some(c) = &app.cluster {
            let n = |v: &std::sync::atomic::AtomicU64| v.load(std::sync::atomic::Ordering::Relaxed);
            let (errors, timeouts) = (n(&c.stats.errors), n(&c.stats.timeouts));
            let totals = [
                errors.saturating_sub(timeouts),
                timeouts,
                n(&c.stats.skipped),
                n(&c.stats.writes_dropped),
                n(&c.stats.local_fallback),
            ];
            for (counter, total) in self.redis_errors.iter().zip(totals) {
                catch_up(counter, total);
            }
            self.redis_up.set(i64::from(!c.breaker_open()));
        }
    }

    /// Every family in the Prometheus text format, and its content type.
    pub fn render(&self) -> (Vec<u8>, String) {
        let encoder = TextEncoder::new();
        let mut out = Vec::new();
        if let Err(e) = encoder.encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "metrics encoding failed");
        }
        (out, encoder.format_type().to_string())
    }

    /// Names of the registered families (histograms without their `_bucket`/`_sum`/`_count`).
    pub fn family_names(&self) -> Vec<String> {
        self.registry
            .gather()
            .iter()
            .map(|f| f.get_name().to_string())
            .collect()
    }
}

/// The process's metrics; `None` only if the registry could not be built (a programming error in
/// the names above, which the tests catch), in which case nothing is recorded.
pub fn global() -> Option<&'static Metrics> {
    static GLOBAL: OnceLock<Option<Metrics>> = OnceLock::new();
    GLOBAL
        .get_or_init(|| match Metrics::new() {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::error!(error = %e, "metrics registry could not be built");
                None
            }
        })
        .as_ref()
}

// Typed events on the process's metrics, for call sites on the request path.

/// See [`Metrics::request`].
pub fn request(route: &str, status: u16, elapsed: Duration) {
    if let Some(m) = global() {
        m.request(route, status, elapsed);
    }
}

/// See [`Metrics::cache_lookup`].
pub fn cache_lookup(route: &str, result: CacheStatus) {
    if let Some(m) = global() {
        m.cache_lookup(route, result);
    }
}

/// See [`Metrics::cache_lookups_n`].
pub fn cache_lookups(route: &str, result: CacheStatus, n: u64) {
    if let Some(m) = global() {
        m.cache_lookups_n(route, result, n);
    }
}

/// See [`Metrics::cache_ttl`].
pub fn cache_ttl(ttl: Duration) {
    if let Some(m) = global() {
        m.cache_ttl(ttl);
    }
}

/// See [`Metrics::supplier_call`].
pub fn supplier_call(supplier: &str, op: &str, outcome: SupplierOutcome, elapsed: Duration) {
    if let Some(m) = global() {
        m.supplier_call(supplier, op, outcome, elapsed);
    }
}

/// See [`Metrics::circuit_transition`].
pub fn circuit_transition(supplier: &str, t: &Transition) {
    if let Some(m) = global() {
        m.circuit_transition(supplier, t);
    }
}

/// See [`Metrics::invalidations`].
pub fn invalidations(source: InvalidationSource, n: u64) {
    if let Some(m) = global() {
        m.invalidations(source, n);
    }
}

/// See [`Metrics::shed`].
pub fn shed() {
    if let Some(m) = global() {
        m.shed();
    }
}

/// See [`Metrics::client_timeout`].
pub fn client_timeout(kind: ClientTimeout) {
    if let Some(m) = global() {
        m.client_timeout(kind);
    }
}

/// Which `limits` timeout cut a client off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientTimeout {
    /// `header_read_timeout`: the request header was not complete in time (slowloris).
    Header = 0,
    /// `body_read_timeout`: the request body was not complete in time (answered 408).
    Body = 1,
    /// `write_timeout`: the client did not take the answer.
    Write = 2,
}

impl ClientTimeout {
    pub const ALL: [ClientTimeout; 3] = [
        ClientTimeout::Header,
        ClientTimeout::Body,
        ClientTimeout::Write,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClientTimeout::Header => "header",
            ClientTimeout::Body => "body",
            ClientTimeout::Write => "write",
        }
    }
}

/// See [`Metrics::rate_limited`].
pub fn rate_limited(agent: &str) {
    if let Some(m) = global() {
        m.rate_limited(agent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arigate_filters::circuit::{CallOutcome, TransitionReason};
    use std::collections::BTreeMap;

    /// `name{labels} value` samples of a text exposition.
    fn samples(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (series, value) = l.rsplit_once(' ').expect("sample line");
                let (name, labels) = match series.split_once('{') {
                    Some((n, rest)) => (n, rest.trim_end_matches('}')),
                    None => (series, ""),
                };
                let labels = labels
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once('=').expect("label");
                        (k.to_string(), v.trim_matches('"').to_string())
                    })
                    .collect();
                (name.to_string(), labels, value.parse().expect("value"))
            })
            .collect()
    }

    fn value(m: &Metrics, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let text = String::from_utf8(m.render().0).expect("utf-8");
        samples(&text)
            .into_iter()
            .find(|(n, l, _)| {
                n == name
                    && l.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, v)| v)
    }

    #[test]
    fn every_design_family_is_exported_from_the_start() {
        let m = Metrics::new().expect("metrics");
        m.supplier("hotelbeds");
        let text = String::from_utf8(m.render().0).expect("utf-8");
        for (name, kind) in DESIGN_FAMILIES {
            assert!(
                text.contains(&format!("# TYPE {name} {kind}\n")),
                "{name} ({kind}) missing from:\n{text}"
            );
            assert!(
                samples(&text).iter().any(|(n, _, _)| n.starts_with(name)),
                "{name} has no series yet"
            );
        }
        assert_eq!(
            value(
                &m,
                "arigate_requests_total",
                &[("route", "search"), ("status", "200")]
            ),
            Some(0.0)
        );
        assert_eq!(
            value(
                &m,
                "arigate_cache_lookups_total",
                &[("route", "hotel"), ("result", "stale")]
            ),
            Some(0.0)
        );
        assert_eq!(
            value(
                &m,
                "arigate_supplier_requests_total",
                &[
                    ("supplier", "hotelbeds"),
                    ("operation", "book"),
                    ("outcome", "ok")
                ]
            ),
            Some(0.0)
        );
        assert_eq!(
            value(&m, "arigate_config_reloads_total", &[("result", "invalid")]),
            Some(0.0)
        );
        assert_eq!(
            value(
                &m,
                "arigate_build_info",
                &[("version", env!("CARGO_PKG_VERSION"))]
            ),
            Some(1.0)
        );
        // Routes that never cache have no cache series.
        assert_eq!(
            value(
                &m,
                "arigate_cache_lookups_total",
                &[("route", "book"), ("result", "hit")]
            ),
            None
        );
    }

    #[test]
    fn a_request_counts_its_route_and_status_and_times_it() {
        let m = Metrics::new().expect("metrics");
        m.request("search", 200, Duration::from_millis(40));
        m.request("search", 200, Duration::from_millis(700));
        m.request("search", 429, Duration::from_millis(1));
        m.request("book", 502, Duration::from_secs(3));
        let count = |route, status| {
            value(
                &m,
                "arigate_requests_total",
                &[("route", route), ("status", status)],
            )
        };
        assert_eq!(count("search", "200"), Some(2.0));
        assert_eq!(count("search", "429"), Some(1.0));
        assert_eq!(count("book", "502"), Some(1.0));
        let bucket = |route, le| {
            value(
                &m,
                "arigate_request_duration_seconds_bucket",
                &[("route", route), ("le", le)],
            )
        };
        assert_eq!(bucket("search", "0.05"), Some(2.0), "40 ms and 1 ms");
        assert_eq!(bucket("search", "0.5"), Some(2.0));
        assert_eq!(bucket("search", "0.75"), Some(3.0));
        assert_eq!(bucket("book", "2.5"), Some(0.0));
        assert_eq!(bucket("book", "5"), Some(1.0));
        let sum = value(
            &m,
            "arigate_request_duration_seconds_sum",
            &[("route", "search")],
        )
        .expect("sum");
        assert!((sum - 0.741).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn unlisted_routes_and_odd_statuses_still_count() {
        let m = Metrics::new().expect("metrics");
        m.request("future_route", 201, Duration::from_millis(5));
        m.request("search", 0, Duration::from_millis(5));
        m.request("search", 999, Duration::from_millis(5));
        assert_eq!(
            value(
                &m,
                "arigate_requests_total",
                &[("route", "future_route"), ("status", "201")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &m,
                "arigate_requests_total",
                &[("route", "search"), ("status", "none")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &m,
                "arigate_requests_total",
                &[("route", "search"), ("status", "999")]
            ),
            Some(1.0)
        );
    }

    #[rstest::rstest]
    #[case(200, "200")]
    #[case(429, "429")]
    #[case(100, "100")]
    #[case(599, "599")]
    #[case(0, "none")]
    #[case(99, "none")]
    #[case(1000, "none")]
    fn status_labels(#[case] code: u16, #[case] label: &str) {
        let mut buf = [0u8; 3];
        assert_eq!(status_label(code, &mut buf), label);
    }

    #[test]
    fn supplier_calls_count_by_outcome_and_time_only_sent_calls() {
        let m = Metrics::new().expect("metrics");
        let hb = m.supplier("hotelbeds");
        hb.call("search", SupplierOutcome::Ok, Duration::from_millis(120));
        hb.call(
            "search",
            SupplierOutcome::Error(ErrorClass::SupplierTimeout),
            Duration::from_millis(300),
        );
        m.supplier_call(
            "hotelbeds",
            "search",
            SupplierOutcome::CircuitOpen,
            Duration::ZERO,
        );
        m.supplier_call("dida", "book", SupplierOutcome::Ok, Duration::from_secs(2));
        let calls = |s, op, outcome| {
            value(
                &m,
                "arigate_supplier_requests_total",
                &[("supplier", s), ("operation", op), ("outcome", outcome)],
            )
        };
        assert_eq!(calls("hotelbeds", "search", "ok"), Some(1.0));
        assert_eq!(calls("hotelbeds", "search", "supplier_timeout"), Some(1.0));
        assert_eq!(calls("hotelbeds", "search", "circuit_open"), Some(1.0));
        assert_eq!(calls("dida", "book", "ok"), Some(1.0));
        assert_eq!(
            value(
                &m,
                "arigate_supplier_duration_seconds_count",
                &[("supplier", "hotelbeds"), ("operation", "search")]
            ),
            Some(2.0),
            "the refused call is not timed"
        );
        assert_eq!(
            value(
                &m,
                "arigate_supplier_duration_seconds_bucket",
                &[
                    ("supplier", "hotelbeds"),
                    ("operation", "search"),
                    ("le", "0.2")
                ]
            ),
            Some(1.0)
        );
    }

    #[test]
    fn every_outcome_has_its_own_slot() {
        let mut all = vec![
            SupplierOutcome::Ok,
            SupplierOutcome::CircuitOpen,
            SupplierOutcome::ConcurrencyLimited,
            SupplierOutcome::RateCapped,
        ];
        all.extend(
            [
                ErrorClass::InvalidRequest,
                ErrorClass::AuthFailed,
                ErrorClass::RateLimited,
                ErrorClass::NotFound,
                ErrorClass::SoldOut,
                ErrorClass::PriceChanged,
                ErrorClass::RateExpired,
                ErrorClass::SupplierTimeout,
                ErrorClass::SupplierUnavailable,
                ErrorClass::SupplierMalformed,
                ErrorClass::BookingUnknown,
            ]
            .map(SupplierOutcome::Error),
        );
        let mut seen: Vec<usize> = all.iter().map(|o| o.index()).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..N_OUTCOMES).collect::<Vec<_>>());
    }

    #[test]
    fn circuit_transitions_set_the_gauge_and_count() {
        let m = Metrics::new().expect("metrics");
        let open = Transition {
            from: CircuitState::Closed,
            to: CircuitState::Open,
            reason: TransitionReason::ConsecutiveFailures(5),
            open_for: Some(Duration::from_secs(5)),
        };
        m.circuit_transition("dida", &open);
        assert_eq!(
            value(&m, "arigate_supplier_circuit_open", &[("supplier", "dida")]),
            Some(1.0)
        );
        m.circuit_transition(
            "dida",
            &Transition {
                from: CircuitState::HalfOpen,
                to: CircuitState::Closed,
                reason: TransitionReason::ProbesSucceeded,
                open_for: None,
            },
        );
        assert_eq!(
            value(&m, "arigate_supplier_circuit_open", &[("supplier", "dida")]),
            Some(0.0)
        );
        assert_eq!(
            value(
                &m,
                "arigate_supplier_circuit_transitions_total",
                &[("supplier", "dida"), ("to", "open")]
            ),
            Some(1.0)
        );
    }

    #[test]
    fn cache_invalidation_reload_and_limit_events_count() {
        let m = Metrics::new().expect("metrics");
        m.cache_lookup("search", CacheStatus::Hit);
        m.cache_lookup("search", CacheStatus::Hit);
        m.cache_lookup("hotel", CacheStatus::Miss);
        m.cache_ttl(Duration::from_secs(8));
        m.cache_ttl(Duration::from_secs(120));
        m.invalidations(InvalidationSource::Webhook, 3);
        m.invalidations(InvalidationSource::Admin, 1);
        m.observe_reloads(1, 1);
        m.observe_reloads(1, 2);
        m.rate_limited("acme");
        catch_up(&m.spans_dropped, 7);
        catch_up(&m.spans_dropped, 9);
        catch_up(&m.spans_dropped, 3);
        let v = |name, labels: &[(&str, &str)]| value(&m, name, labels);
        assert_eq!(
            v(
                "arigate_cache_lookups_total",
                &[("route", "search"), ("result", "hit")]
            ),
            Some(2.0)
        );
        assert_eq!(
            v(
                "arigate_cache_lookups_total",
                &[("route", "hotel"), ("result", "miss")]
            ),
            Some(1.0)
        );
        assert_eq!(
            v("arigate_cache_ttl_seconds_bucket", &[("le", "10")]),
            Some(1.0)
        );
        assert_eq!(v("arigate_cache_ttl_seconds_count", &[]), Some(2.0));
        assert_eq!(
            v("arigate_invalidations_total", &[("source", "webhook")]),
            Some(3.0)
        );
        assert_eq!(
            v("arigate_invalidations_total", &[("source", "recheck")]),
            Some(0.0)
        );
        assert_eq!(
            v("arigate_config_reloads_total", &[("result", "ok")]),
            Some(1.0)
        );
        assert_eq!(
            v("arigate_config_reloads_total", &[("result", "invalid")]),
            Some(2.0)
        );
        assert_eq!(
            v("arigate_rate_limited_total", &[("agent", "acme")]),
            Some(1.0)
        );
        assert_eq!(
            v("arigate_spans_dropped_total", &[]),
            Some(9.0),
            "follows the total"
        );
    }

    #[test]
    fn a_scrape_samples_circuits_calls_in_flight_and_agents() {
        let m = Metrics::new().expect("metrics");
        let app = crate::demo::test_app();
        let tripped = &app.suppliers[0];
        let now = std::time::Instant::now();
        for _ in 0..tripped.breaker.config().consecutive_failures {
            let permit = tripped.breaker.admit(now).permit.expect("closed");
            permit.record(CallOutcome::Failure, now);
        }
        let busy = &app.suppliers[1];
        let _held = (
            busy.concurrency.try_acquire(),
            busy.concurrency.try_acquire(),
        );
        m.observe(&app);
        let v = |name, labels: &[(&str, &str)]| value(&m, name, labels);
        assert_eq!(
            v(
                "arigate_supplier_circuit_open",
                &[("supplier", tripped.code())]
            ),
            Some(1.0)
        );
        assert_eq!(
            v(
                "arigate_supplier_circuit_open",
                &[("supplier", busy.code())]
            ),
            Some(0.0)
        );
        assert_eq!(
            v("arigate_supplier_inflight", &[("supplier", busy.code())]),
            Some(2.0)
        );
        for s in &app.suppliers {
            assert_eq!(
                v(
                    "arigate_supplier_requests_total",
                    &[
                        ("supplier", s.code()),
                        ("operation", "search"),
                        ("outcome", "ok")
                    ]
                ),
                Some(0.0),
                "{}",
                s.code()
            );
        }
        for a in &app.config.agents {
            assert_eq!(
                v("arigate_rate_limited_total", &[("agent", &a.id)]),
                Some(0.0)
            );
        }
        assert_eq!(v("arigate_spans_dropped_total", &[]), Some(0.0));
        assert!(v("arigate_cache_bytes", &[]).is_some());
    }

    /// `arigate_*` names in `text`, each with the label names of its `{...}` selector (if any).
    fn metric_refs(text: &str) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find("arigate_") {
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            let name = tail[..end].to_string();
            let mut labels = Vec::new();
            if let Some(sel) = tail[end..].strip_prefix('{') {
                let sel = &sel[..sel.find('}').unwrap_or(sel.len())];
                for matcher in sel.split(',').filter(|m| !m.trim().is_empty()) {
                    let key = matcher.split(['=', '!']).next().unwrap_or_default().trim();
                    labels.push(key.to_string());
                }
            }
            out.push((name, labels));
            rest = &tail[end..];
        }
        out
    }

    /// Every string under a key named `key`, anywhere in `v`.
    fn strings_under(v: &serde_json::Value, key: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match v {
                        serde_json::Value::String(s) if k == key => out.push(s.clone()),
                        _ => strings_under(v, key, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| strings_under(v, key, out)),
            _ => {}
        }
    }

    /// Label names each exported series of each family name carries (histograms also under
    /// their `_bucket`, `_sum` and `_count` names).
    fn exported(m: &Metrics) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in m.registry.gather() {
            let labels: Vec<String> = f
                .get_metric()
                .iter()
                .flat_map(|s| s.get_label().iter().map(|l| l.get_name().to_string()))
                .collect();
            let name = f.get_name().to_string();
            if f.get_field_type() == prometheus::proto::MetricType::HISTOGRAM {
                let mut with_le = labels.clone();
                with_le.push("le".into());
                out.insert(format!("{name}_bucket"), with_le);
                out.insert(format!("{name}_sum"), labels.clone());
                out.insert(format!("{name}_count"), labels.clone());
            }
            out.insert(name, labels);
        }
        out
    }

    const DASHBOARD: &str = include_str!("../../ops/grafana/arigate-dashboard.json");
    const ALERTS: &str = include_str!("../../ops/prometheus/alerts.yml");
    const ALERT_TESTS: &str = include_str!("../../ops/prometheus/alerts_test.yml");

    #[test]
    fn ops_files_name_only_exported_metrics_and_labels() {
        let m = Metrics::new().expect("metrics");
        m.supplier("dida");
        m.rate_limited("acme");
        let exported = exported(&m);
        let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).expect("dashboard JSON");
        let mut exprs = Vec::new();
        strings_under(&dashboard, "expr", &mut exprs);
        strings_under(&dashboard, "definition", &mut exprs);
        assert!(
            exprs.len() > 20,
            "the dashboard has its queries: {}",
            exprs.len()
        );
        let alerts: serde_json::Value = serde_yaml_ng::from_str(ALERTS).expect("alerts YAML");
        let mut alert_exprs = Vec::new();
        strings_under(&alerts, "expr", &mut alert_exprs);
        assert_eq!(alert_exprs.len(), 11);
        let tests: serde_json::Value =
            serde_yaml_ng::from_str(ALERT_TESTS).expect("alert tests YAML");
        let mut series = Vec::new();
        strings_under(&tests, "series", &mut series);
        let mut problems = Vec::new();
        for (file, texts) in [
            ("arigate-dashboard.json", &exprs),
            ("alerts.yml", &alert_exprs),
            ("alerts_test.yml", &series),
        ] {
            for text in texts {
                for (name, labels) in metric_refs(text) {
                    match exported.get(&name) {
                        None => problems.push(format!("{file}: unknown metric {name} in {text}")),
                        Some(known) => {
                            for l in labels.iter().filter(|l| !known.contains(l)) {
                                problems.push(format!("{file}: {name} has no label {l:?}"));
                            }
                        }
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        // The dashboard shows every family of DESIGN §7.
        let all = exprs.join("\n");
        for (family, _) in DESIGN_FAMILIES {
            assert!(all.contains(family), "no dashboard panel shows {family}");
        }
    }

    #[test]
    fn metric_refs_read_names_and_selector_labels() {
        assert_eq!(
            metric_refs(
                r#"sum(rate(arigate_requests_total{status=~"5..", route!="x"}[5m])) / arigate_x"#
            ),
            vec![
                (
                    "arigate_requests_total".to_string(),
                    vec!["status".to_string(), "route".to_string()]
                ),
                ("arigate_x".to_string(), vec![]),
            ]
        );
        let m = Metrics::new().expect("metrics");
        m.supplier("dida");
        let e = exported(&m);
        assert!(e.contains_key("arigate_supplier_duration_seconds_bucket"));
        assert!(!e.contains_key("arigate_requests_total_bucket"));
        assert!(e["arigate_request_duration_seconds_bucket"].contains(&"le".to_string()));
    }

    #[test]
    fn the_process_metrics_build() {
        assert!(global().is_some());
        request("search", 200, Duration::from_millis(1));
    }
}
