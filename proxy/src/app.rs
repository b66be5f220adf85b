//! The edge's shared state: validated config, one runtime per supplier (connector, peer, OAuth2
//! token cache), signed-token keys, the idempotency store and the agent directory, and the
//! generations a hot reload swaps ([`Live`]).

use crate::cache::BrowseCache;
use crate::cluster::Cluster;
use crate::quota::SupplierQuotas;
use crate::traces::Traces;
use arigate_config::{Config, SupplierConfig};
use arigate_connectors::{connector_for, Connector};
use arigate_filters::agent_auth::{Agent, AgentDirectory};
use arigate_filters::cache_policy::TtlPolicy;
use arigate_filters::circuit::{CircuitBreaker, ConcurrencyLimit};
use arigate_filters::idempotency::IdempotencyStore;
use arigate_filters::rate_limit::RateLimiter;
use arigate_filters::tokens::TokenSigner;
use arigate_filters::webhook::WebhookVerifier;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// The running generation of [`App`], swapped atomically by a reload.
pub type Live = Arc<arc_swap::ArcSwap<App>>;

/// One configured supplier at run time.
pub struct SupplierRuntime {
    pub config: SupplierConfig,
    pub connector: Box<dyn Connector>,
    /// Cached OAuth2 bearer token and when it stops being usable.
    pub bearer: tokio::sync::Mutex<Option<(String, Instant)>>,
    /// Its circuit breaker (`crate::protection::SupplierGuard` runs it). Kept across reloads
    /// unless the supplier's `circuit:` settings change.
    pub breaker: Arc<CircuitBreaker>,
    /// Its cap of calls in flight (`max_concurrency`; counts them even when unlimited). Kept
    /// across reloads, so calls of older generations still count.
    pub concurrency: Arc<ConcurrencyLimit>,
    /// Its request-rate cap (`rate_limit_rps`), a GCRA bucket of one second's burst.
    pub rate: Option<RateLimiter>,
    /// Latency and outcome of its last calls, for `/admin/suppliers`. Kept across reloads.
    pub recent: Arc<crate::protection::RecentCalls>,
}

impl SupplierRuntime {
    pub fn code(&self) -> &str {
        &self.config.code
    }
}

/// Everything a request handler needs, shared by all requests. One `App` is one generation of
/// the configuration: a reload builds a new one (new suppliers, agents, keys, timeouts, TTL
/// knobs) around the same long-lived state (cache, idempotency keys, webhook replay memory,
/// traces) and swaps it in atomically; a request keeps the generation it started with.
pub struct App {
    pub config: Config,
    pub suppliers: Vec<Arc<SupplierRuntime>>,
    by_code: HashMap<String, usize>,
    pub tokens: TokenSigner,
    pub agents: AgentDirectory,
    /// Browse TTL knobs of this generation.
    pub ttl_policy: TtlPolicy,
    /// Static content TTL of this generation.
    pub static_ttl: std::time::Duration,
    /// Which reload produced this generation (0 = start).
    pub generation: u64,
    pub idempotency: Arc<IdempotencyStore>,
    pub webhooks: Arc<WebhookVerifier>,
    pub cache: Arc<BrowseCache>,
    pub traces: Arc<Traces>,
    /// Agent requests in flight (graceful shutdown waits for them).
    pub inflight: Arc<std::sync::atomic::AtomicUsize>,
    /// The shared Redis, when `cache.redis` is configured (kept across reloads; a change of
    /// `cache.redis` takes effect at the next start).
    pub cluster: Option<Arc<Cluster>>,
    /// Supplier request-rate quotas: cluster-wide with Redis (kept across reloads).
    pub quotas: Arc<SupplierQuotas>,
    /// Whole search answers per agent, of this generation only (a reload starts empty).
    pub answers: crate::api::answers::AnswerCache,
    /// Searches already validated, by their exact bytes, of this generation only.
    pub search_memo: crate::api::search_memo::SearchMemo,
    /// Addresses `/readyz` checks besides the edge's own listener (the demo's simulators).
    pub ready_checks: Vec<std::net::SocketAddr>,
    /// Per-agent request rates (`limits.rate_limit`, each agent's `rate_limit`); what agents
    /// have used is kept across reloads.
    pub rate_limits: Arc<RateLimiter>,
}

fn ttl_policy(config: &Config) -> TtlPolicy {
    let c = &config.cache;
    TtlPolicy {
        max: c.browse_max_ttl.0,
        max_without_webhooks: c.browse_max_ttl_without_webhooks.0,
        no_cache_within: c.no_cache_within.0,
        checkin_hour_utc: c.checkin_hour_utc,
        weekend_factor: c.weekend_factor,
        holiday_factor: c.holiday_factor,
        holidays: c.holidays.clone(),
        ..TtlPolicy::default()
    }
}

impl App {
    pub fn new(config: Config) -> App {
        let c = &config.cache;
        let mut cache = BrowseCache::new(
            c.memory_bytes,
            ttl_policy(&config),
            c.static_ttl.0,
            c.hot_requests_per_minute,
            // Cache locks outlive any leg: legs are bounded by their timeouts, whatever a
            // reload later sets, by at most a minute.
            config
                .suppliers
                .iter()
                .map(|s| s.timeout.max(s.booking_timeout))
                .chain([config.search.deadline])
                .max()
                .unwrap_or_default(),
        )
        .with_refresh_ahead(&c.refresh_ahead);
        // With Redis configured the node joins the cluster; Redis being down at start is fine
        // (connections are made lazily and retried), only an unusable URL keeps it alone.
        let cluster = c.redis.as_ref().and_then(|r| match Cluster::start(r) {
            Ok(cluster) => Some(cluster),
            Err(e) => {
                tracing::error!(error = %e, "cannot use cache.redis; running as a single node");
                None
            }
        });
        if let Some(cluster) = &cluster {
            cache.join(cluster.clone());
        }
        let idempotency = IdempotencyStore::new(config.idempotency_entries, config.idempotency_ttl);
        App::build(
            config,
            0,
            cluster,
            Arc::new(idempotency),
            Arc::new(WebhookVerifier::new(300, 100_000)),
            Arc::new(cache),
            Arc::new(Traces::disabled()),
            Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            Vec::new(),
            None,
        )
    }

    /// The next generation: `config` around this generation's long-lived state.
    pub fn reloaded(&self, config: Config) -> App {
        App::build(
            config,
            self.generation + 1,
            self.cluster.clone(),
            self.idempotency.clone(),
            self.webhooks.clone(),
            self.cache.clone(),
            self.traces.clone(),
            self.inflight.clone(),
            self.ready_checks.clone(),
            Some(self),
        )
    }

    /// Settings a reload cannot change in a running process (listeners, threads, memory
    /// budgets, the span pipeline): they take effect at the next start or upgrade.
    pub fn needs_restart(&self, next: &Config) -> Vec<&'static str> {
        let (a, b) = (&self.config, next);
        let mut out = Vec::new();
        if a.listen != b.listen {
            out.push("listen");
        }
        if a.admin_listen != b.admin_listen {
            out.push("admin_listen");
        }
        if a.threads != b.threads {
            out.push("threads");
        }
        if a.cache.memory_bytes != b.cache.memory_bytes {
            out.push("cache.memory_bytes");
        }
        if a.idempotency_entries != b.idempotency_entries || a.idempotency_ttl != b.idempotency_ttl
        {
            out.push("limits.idempotency_*");
        }
        if format!("{:?}", a.traces) != format!("{:?}", b.traces) {
            out.push("traces");
        }
        // The node's Redis connections, invalidation feed and refresh-ahead settings are made
        // once, at start; they are carried over unchanged.
        if format!("{:?}", a.cache.redis) != format!("{:?}", b.cache.redis) {
            out.push("cache.redis");
        }
        if format!("{:?}", a.cache.refresh_ahead) != format!("{:?}", b.cache.refresh_ahead) {
            out.push("cache.refresh_ahead");
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        config: Config,
        generation: u64,
        cluster: Option<Arc<Cluster>>,
        idempotency: Arc<IdempotencyStore>,
        webhooks: Arc<WebhookVerifier>,
        cache: Arc<BrowseCache>,
        traces: Arc<Traces>,
        inflight: Arc<std::sync::atomic::AtomicUsize>,
        ready_checks: Vec<std::net::SocketAddr>,
        previous: Option<&App>,
    ) -> App {
        let started = Instant::now();
        let suppliers: Vec<Arc<SupplierRuntime>> = config
            .suppliers
            .iter()
            .map(|s| {
                let before = previous.and_then(|p| p.supplier(&s.code));
                let breaker = match before {
                    Some(b) if b.config.circuit == s.circuit => b.breaker.clone(),
                    _ => Arc::new(CircuitBreaker::new(s.circuit.clone(), started)),
                };
                let concurrency = match before {
                    Some(b) => {
                        b.concurrency.set_max(s.max_concurrency);
                        b.concurrency.clone()
                    }
                    None => Arc::new(ConcurrencyLimit::new(s.max_concurrency)),
                };
                let recent = before.map_or_else(Default::default, |b| b.recent.clone());
                Arc::new(SupplierRuntime {
                    recent,
                    connector: connector_for(s.protocol, s.credentials.clone()),
                    config: s.clone(),
                    bearer: tokio::sync::Mutex::new(None),
                    breaker,
                    concurrency,
                    rate: s.rate_limit_rps.map(|rps| {
                        let policy = arigate_config::RateLimitConfig {
                            per_minute: rps.saturating_mul(60),
                            burst: rps,
                        };
                        RateLimiter::new(policy, HashMap::new(), 1, Instant::now())
                    }),
                })
            })
            .collect();
        let rate_limits = match previous {
            Some(p) => {
                p.rate_limits.reconfigure(&config);
                p.rate_limits.clone()
            }
            None => Arc::new(RateLimiter::from_config(&config, started)),
        };
        let by_code = suppliers
            .iter()
            .enumerate()
            .map(|(i, s)| (s.code().to_string(), i))
            .collect();
        let agents = AgentDirectory::new(
            config
                .agents
                .iter()
                .map(|a| {
                    (
                        a.key_sha256.clone(),
                        Agent {
                            id: a.id.clone(),
                            name: a.name.clone(),
                            email: a.email.clone(),
                            phone: a.phone.clone(),
                            suppliers: a.suppliers.clone(),
                        },
                    )
                })
                .collect(),
        );
        App {
            quotas: previous.map_or_else(
                || Arc::new(SupplierQuotas::new(cluster.clone())),
                |p| p.quotas.clone(),
            ),
            cluster,
            answers: crate::api::answers::AnswerCache::new(
                config.cache.answers_max_bytes,
                config.cache.answers_max_entries,
            ),
            search_memo: crate::api::search_memo::SearchMemo::for_config(&config),
            tokens: TokenSigner::new(&config.tokens.secret, &config.tokens.previous),
            ttl_policy: ttl_policy(&config),
            static_ttl: config.cache.static_ttl.0,
            generation,
            idempotency,
            webhooks,
            cache,
            traces,
            inflight,
            ready_checks,
            rate_limits,
            agents,
            suppliers,
            by_code,
            config,
        }
    }

    pub fn supplier(&self, code: &str) -> Option<&Arc<SupplierRuntime>> {
        self.by_code.get(code).and_then(|i| self.suppliers.get(*i))
    }

    /// Whether `agent` may use `supplier` (its allow-list, and the supplier is enabled).
    pub fn agent_may_use(&self, agent: &Agent, supplier: &SupplierRuntime) -> bool {
        supplier.config.enabled && agent.may_use(supplier.code())
    }
}
