//! The edge's shared state: validated config, one runtime per supplier (connector, peer, OAuth2
//! token cache), signed-token keys, the idempotency store and the agent directory.

use crate::cache::BrowseCache;
use crate::traces::Traces;
use arigate_config::{Config, SupplierConfig};
use arigate_connectors::{connector_for, Connector};
use arigate_filters::agent_auth::{Agent, AgentDirectory};
use arigate_filters::cache_policy::TtlPolicy;
use arigate_filters::idempotency::IdempotencyStore;
use arigate_filters::tokens::TokenSigner;
use arigate_filters::webhook::WebhookVerifier;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// One configured supplier at run time.
pub struct SupplierRuntime {
    pub config: SupplierConfig,
    pub connector: Box<dyn Connector>,
    /// Cached OAuth2 bearer token and when it stops being usable.
    pub bearer: tokio::sync::Mutex<Option<(String, Instant)>>,
}

impl SupplierRuntime {
    pub fn code(&self) -> &str {
        &self.config.code
    }
}

/// Everything a request handler needs, shared by all requests.
pub struct App {
    pub config: Config,
    pub suppliers: Vec<Arc<SupplierRuntime>>,
    by_code: HashMap<String, usize>,
    pub tokens: TokenSigner,
    pub idempotency: IdempotencyStore,
    pub agents: AgentDirectory,
    pub webhooks: WebhookVerifier,
    pub cache: BrowseCache,
    pub traces: Traces,
    /// Addresses `/readyz` checks besides the edge's own listener (the demo's simulators).
    pub ready_checks: Vec<std::net::SocketAddr>,
}

impl App {
    pub fn new(config: Config) -> App {
        let suppliers: Vec<Arc<SupplierRuntime>> = config
            .suppliers
            .iter()
            .map(|s| {
                Arc::new(SupplierRuntime {
                    connector: connector_for(s.protocol, s.credentials.clone()),
                    config: s.clone(),
                    bearer: tokio::sync::Mutex::new(None),
                })
            })
            .collect();
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
        let c = &config.cache;
        let cache = BrowseCache::new(
            c.memory_bytes,
            TtlPolicy {
                max: c.browse_max_ttl.0,
                max_without_webhooks: c.browse_max_ttl_without_webhooks.0,
                no_cache_within: c.no_cache_within.0,
                checkin_hour_utc: c.checkin_hour_utc,
                weekend_factor: c.weekend_factor,
                holiday_factor: c.holiday_factor,
                holidays: c.holidays.clone(),
                ..TtlPolicy::default()
            },
            c.static_ttl.0,
            c.hot_requests_per_minute,
            config
                .suppliers
                .iter()
                .map(|s| s.timeout.max(s.booking_timeout))
                .chain([config.search.deadline])
                .max()
                .unwrap_or_default(),
        );
        App {
            cache,
            traces: Traces::disabled(),
            tokens: TokenSigner::new(&config.tokens.secret, &config.tokens.previous),
            idempotency: IdempotencyStore::new(config.idempotency_entries, config.idempotency_ttl),
            webhooks: WebhookVerifier::new(300, 100_000),
            agents,
            suppliers,
            by_code,
            config,
            ready_checks: Vec::new(),
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
