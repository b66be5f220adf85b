//! The YAML schema operators write. Documented defaults live here; see `config/arigate.example.yaml`.

use crate::duration::HumanDuration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Agent API listener. Default `127.0.0.1:8080`.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Admin listener (metrics, health, supplier list). Default `127.0.0.1:9090`.
    #[serde(default = "default_admin_listen")]
    pub admin_listen: String,
    /// Bearer token the admin listener requires (`${ENV}`); mandatory when `admin_listen` is not a
    /// loopback address. `/healthz` and `/readyz` stay open for load balancers.
    #[serde(default)]
    pub admin_token: Option<String>,
    /// Worker threads of the edge. Default 2.
    #[serde(default = "default_threads")]
    pub threads: usize,
    /// How long in-flight requests may take to finish after SIGTERM or a graceful upgrade.
    /// Default: the longest booking timeout plus 2s.
    #[serde(default)]
    pub shutdown_grace: Option<HumanDuration>,
    /// Unix socket a graceful upgrade (`arigate run --upgrade`, then SIGQUIT to the old process)
    /// hands the listening sockets over. Default `/tmp/arigate-upgrade.sock`.
    #[serde(default = "default_upgrade_sock")]
    pub upgrade_sock: String,
    /// How often the config file (and its mapping file) is checked for changes; `0s` reloads only
    /// on `POST /admin/config/reload`. Default 1s.
    #[serde(default = "default_reload_poll")]
    pub reload_poll: HumanDuration,
    pub tokens: TokensFile,
    #[serde(default)]
    pub search: SearchFile,
    #[serde(default)]
    pub limits: LimitsFile,
    #[serde(default)]
    pub cache: CacheFile,
    #[serde(default)]
    pub traces: TracesFile,
    /// Circuit-breaker defaults for every supplier (each may override them).
    #[serde(default)]
    pub circuit: CircuitFile,
    pub currency: CurrencyFile,
    pub agents: Vec<AgentFile>,
    pub suppliers: Vec<SupplierFile>,
    /// Path of the hotel mapping file (relative to this file), or the mapping inline.
    pub mapping: MappingRef,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_admin_listen() -> String {
    "127.0.0.1:9090".into()
}
fn default_threads() -> usize {
    2
}
fn default_upgrade_sock() -> String {
    "/tmp/arigate-upgrade.sock".into()
}
fn default_reload_poll() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(1))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensFile {
    /// Secret that signs offer and booking ids (`${ENV}`), at least 32 characters.
    pub secret: String,
    /// Older secrets still accepted while rotating.
    #[serde(default)]
    pub previous_secrets: Vec<String>,
    /// How long an offer id may be re-checked or booked. Default 30m.
    #[serde(default = "default_offer_ttl")]
    pub offer_ttl: HumanDuration,
}

fn default_offer_ttl() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(1800))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchFile {
    /// Default per-supplier timeout of a search leg. Default 300ms.
    pub supplier_timeout: HumanDuration,
    /// Overall search deadline. Default 1s.
    pub deadline: HumanDuration,
    /// Most hotels in one search. Default 100.
    pub max_hotels: usize,
    /// Most rooms in one search. Default 8.
    pub max_rooms: usize,
    /// Longest stay. Default 30 nights.
    pub max_nights: i64,
}

impl Default for SearchFile {
    fn default() -> Self {
        SearchFile {
            supplier_timeout: HumanDuration(std::time::Duration::from_millis(300)),
            deadline: HumanDuration(std::time::Duration::from_secs(1)),
            max_hotels: 100,
            max_rooms: 8,
            max_nights: 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsFile {
    /// Largest agent request body. Default 64 KiB.
    pub max_request_body_bytes: usize,
    /// Largest supplier response body, counted as it streams. Default 8 MiB.
    pub max_supplier_response_bytes: usize,
    /// Idempotency keys remembered (bounded). Default 100000.
    pub idempotency_entries: usize,
    /// How long an Idempotency-Key is remembered. Default 24h.
    pub idempotency_ttl: HumanDuration,
    /// Default per-agent request rate (each agent may override it). Default 60/min, burst 10.
    pub rate_limit: RateLimitFile,
    /// Most header fields in an agent request; more → 431. At most 256 (Pingora's parser
    /// answers a plain 400 beyond that). Default 100.
    pub max_header_count: usize,
    /// Most bytes of header fields (names, values, separators) in an agent request; more → 431.
    /// Default 16 KiB.
    pub max_header_bytes: usize,
    /// Longest request target (path and query); longer → 414. Default 4 KiB.
    pub max_uri_bytes: usize,
    /// Body caps per route class, counted as the body streams; more → 413. Unset classes use
    /// `max_request_body_bytes`, except `static` (GET routes), which defaults to 0.
    pub body_bytes: BodyCapsFile,
    /// A request's whole header must arrive within this of its first byte (of the connection,
    /// for the first request); slower clients are cut off (slowloris). Default 10s.
    pub header_read_timeout: HumanDuration,
    /// A request's whole body must arrive within this once its header is read; slower → 408 and
    /// the connection closes. Default 15s.
    pub body_read_timeout: HumanDuration,
    /// An answer that makes no progress into the client's socket for this long (a client that
    /// never reads) ends the connection. Default 15s.
    pub write_timeout: HumanDuration,
    /// An idle keep-alive connection is closed after this. Default 60s.
    pub keepalive_timeout: HumanDuration,
    /// Agent requests in flight at once; more are shed at once with 503 `overloaded` and
    /// `Retry-After` instead of queueing. Default 4096.
    pub max_inflight: usize,
}

/// Request body caps per route class (DESIGN §1), in bytes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodyCapsFile {
    /// Hotel content and listings (GET). Default 0.
    #[serde(default, rename = "static")]
    pub static_: Option<usize>,
    /// Search.
    #[serde(default)]
    pub browse: Option<usize>,
    /// Availability re-check, book, booking query, cancel.
    #[serde(default)]
    pub transactional: Option<usize>,
    /// Supplier webhooks.
    #[serde(default)]
    pub webhook: Option<usize>,
}

impl Default for LimitsFile {
    fn default() -> Self {
        LimitsFile {
            max_request_body_bytes: 64 * 1024,
            max_supplier_response_bytes: 8 * 1024 * 1024,
            idempotency_entries: 100_000,
            idempotency_ttl: HumanDuration(std::time::Duration::from_secs(24 * 3600)),
            rate_limit: RateLimitFile::default(),
            max_header_count: 100,
            max_header_bytes: 16 * 1024,
            max_uri_bytes: 4096,
            body_bytes: BodyCapsFile::default(),
            header_read_timeout: HumanDuration(std::time::Duration::from_secs(10)),
            body_read_timeout: HumanDuration(std::time::Duration::from_secs(15)),
            write_timeout: HumanDuration(std::time::Duration::from_secs(15)),
            keepalive_timeout: HumanDuration(std::time::Duration::from_secs(60)),
            max_inflight: 4096,
        }
    }
}

/// A request rate: `per_minute` sustained, up to `burst` at once. Unset fields fall back to
/// `limits.rate_limit`, then to 60/min and a burst of 10.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitFile {
    #[serde(default)]
    pub per_minute: Option<u32>,
    #[serde(default)]
    pub burst: Option<u32>,
}

/// A supplier circuit breaker. Unset fields fall back to the top-level `circuit:`, then to the
/// defaults documented here.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitFile {
    /// Consecutive failed calls that open the circuit (0: this trigger is off). Default 5.
    #[serde(default)]
    pub consecutive_failures: Option<u32>,
    /// Failed share of the calls in `window` that opens the circuit, in percent (0: off). Default 50.
    #[serde(default)]
    pub error_rate_percent: Option<f64>,
    /// Sliding window of the error rate. Default 30s.
    #[serde(default)]
    pub window: Option<HumanDuration>,
    /// Fewest calls in `window` before the error rate counts. Default 20.
    #[serde(default)]
    pub min_requests: Option<u32>,
    /// First open period before a probe; doubles on each failed probe. Default 5s.
    #[serde(default)]
    pub open_for: Option<HumanDuration>,
    /// Longest open period. Default 60s.
    #[serde(default)]
    pub max_open_for: Option<HumanDuration>,
    /// Probe calls let through while half-open; all must succeed to close. Default 1.
    #[serde(default)]
    pub half_open_probes: Option<u32>,
}

/// The browse and static cache (DESIGN §5). Transactional routes are never cached.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheFile {
    /// Byte budget of the in-process tier. Default 64 MiB.
    pub memory_bytes: usize,
    /// TTL of static content (hotel content). Default 6h.
    pub static_ttl: HumanDuration,
    /// Cap of the adaptive browse TTL (at most 300s). Default 300s.
    pub browse_max_ttl: HumanDuration,
    /// Cap for suppliers without webhook secrets. Default 60s.
    pub browse_max_ttl_without_webhooks: HumanDuration,
    /// Searches whose check-in is closer than this are never cached. Default 3h.
    pub no_cache_within: HumanDuration,
    /// Hour (UTC) a stay is taken to start on its check-in date. Default 14.
    pub checkin_hour_utc: u32,
    /// Requests per minute at which a hotel counts as hottest (TTL × 0.4). Default 60.
    pub hot_requests_per_minute: f64,
    /// Season factor for Friday/Saturday check-ins. Default 0.8.
    pub weekend_factor: f64,
    /// Season factor for holiday check-ins. Default 0.6.
    pub holiday_factor: f64,
    pub holidays: Vec<chrono::NaiveDate>,
    /// Refresh-ahead of hot entries (seed 002, stage 3).
    pub refresh_ahead: RefreshAheadFile,
    /// The shared L2 tier and cluster-wide invalidation (DESIGN §8). Absent: one node, no Redis.
    pub redis: Option<RedisFile>,
    /// Bytes of whole search answers kept (the answer cache in front of the legs; each
    /// configuration generation starts its own). 0 turns it off. Default 16 MiB.
    pub answers_max_bytes: usize,
    /// Whole search answers kept at most. Default 10000.
    pub answers_max_entries: usize,
}

/// Hot entries are refreshed shortly before they expire, by one node of the cluster, never more
/// often than the supplier's `min_pull_interval` and within its `rate_limit_rps`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RefreshAheadFile {
    /// Default true.
    pub enabled: bool,
    /// A hit whose remaining freshness is below this share of its TTL starts a refresh. Default 0.2.
    pub before_expiry: f64,
    /// Hotness (0 to 1, see `hot_requests_per_minute`) from which a hotel counts as hot. Default 0.5.
    pub min_hotness: f64,
}

impl Default for RefreshAheadFile {
    fn default() -> Self {
        RefreshAheadFile {
            enabled: true,
            before_expiry: 0.2,
            min_hotness: 0.5,
        }
    }
}

/// Redis shared by every edge node: L2 cache entries, invalidation timestamps and their pub/sub
/// channel, refresh-ahead locks and supplier quotas. Redis trouble never fails a request.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisFile {
    /// `redis://[:password@]host:port[/db]`; put a password in `${ENV}`.
    pub url: String,
    /// Multiplexed connections per node (each carries many concurrent commands). Default 2.
    #[serde(default = "default_redis_pool_size")]
    pub pool_size: usize,
    /// Prefix of every key and channel, so several clusters can share one Redis. Default `arigate:`.
    #[serde(default = "default_redis_key_prefix")]
    pub key_prefix: String,
    /// Bound of every Redis operation on the request path. Default 30ms.
    #[serde(default = "default_redis_timeout")]
    pub timeout: HumanDuration,
    /// Largest entry stored in Redis (larger ones stay in the node's memory). Default 1 MiB.
    #[serde(default = "default_redis_max_entry_bytes")]
    pub max_entry_bytes: usize,
    /// Background writes waiting for Redis (fills, invalidations); beyond it they are dropped and
    /// counted. Default 4096.
    #[serde(default = "default_redis_write_queue")]
    pub write_queue: usize,
}

impl RedisFile {
    /// The URL with any password replaced, for logs and admin output.
    pub fn redacted_url(&self) -> String {
        match (self.url.find("://"), self.url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}://***@{}", &self.url[..scheme], &self.url[at + 1..])
            }
            _ => self.url.clone(),
        }
    }
}

impl std::fmt::Debug for RedisFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisFile")
            .field("url", &self.redacted_url())
            .field("pool_size", &self.pool_size)
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn default_redis_pool_size() -> usize {
    2
}
fn default_redis_key_prefix() -> String {
    "arigate:".into()
}
fn default_redis_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_millis(30))
}
fn default_redis_max_entry_bytes() -> usize {
    1024 * 1024
}
fn default_redis_write_queue() -> usize {
    4096
}

impl Default for CacheFile {
    fn default() -> Self {
        CacheFile {
            memory_bytes: 64 * 1024 * 1024,
            static_ttl: HumanDuration(std::time::Duration::from_secs(6 * 3600)),
            browse_max_ttl: HumanDuration(std::time::Duration::from_secs(300)),
            browse_max_ttl_without_webhooks: HumanDuration(std::time::Duration::from_secs(60)),
            no_cache_within: HumanDuration(std::time::Duration::from_secs(3 * 3600)),
            checkin_hour_utc: 14,
            hot_requests_per_minute: 60.0,
            weekend_factor: 0.8,
            holiday_factor: 0.6,
            holidays: Vec::new(),
            refresh_ahead: RefreshAheadFile::default(),
            redis: None,
            answers_max_bytes: 16 * 1024 * 1024,
            answers_max_entries: 10_000,
        }
    }
}

/// Spans of every request (DESIGN §6): kept in memory by default, streamed to ClickHouse when
/// `clickhouse` is set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracesFile {
    /// Record spans at all. Default true.
    pub enabled: bool,
    /// The `service` column of every span (a node name, say). Default `arigate-edge`.
    pub service: String,
    /// Spans kept in memory when no ClickHouse is configured (oldest evicted). Default 50000.
    pub memory_spans: usize,
    /// Spans waiting between the request path and the writer; past it new spans are dropped
    /// and counted. Default 65536.
    pub queue_spans: usize,
    /// Spans the writer holds while the store fails; past it the oldest are dropped. Default 200000.
    pub buffer_spans: usize,
    /// Rows per insert at most. Default 10000.
    pub batch_rows: usize,
    /// A partial batch is written when its oldest span has waited this long. Default 1s.
    pub flush_interval: HumanDuration,
    /// Bytes kept of each request/response excerpt, after secrets are removed. Default 2048.
    pub excerpt_bytes: usize,
    pub clickhouse: Option<ClickHouseFile>,
}

impl Default for TracesFile {
    fn default() -> Self {
        TracesFile {
            enabled: true,
            service: "arigate-edge".into(),
            memory_spans: 50_000,
            queue_spans: 65_536,
            buffer_spans: 200_000,
            batch_rows: 10_000,
            flush_interval: HumanDuration(std::time::Duration::from_secs(1)),
            excerpt_bytes: 2048,
            clickhouse: None,
        }
    }
}

/// The ClickHouse trace store (HTTP interface). arigate creates the database and table on start.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickHouseFile {
    /// HTTP interface, e.g. `http://127.0.0.1:8123`.
    pub url: String,
    #[serde(default)]
    pub user: Option<String>,
    /// `${ENV}` reference.
    #[serde(default)]
    pub password: Option<String>,
    /// Default `arigate`.
    #[serde(default = "default_ch_database")]
    pub database: String,
    /// Default `trace_events`.
    #[serde(default = "default_ch_table")]
    pub table: String,
    /// Days spans are kept. Default 14.
    #[serde(default = "default_ch_retention")]
    pub retention_days: u32,
    /// Timeout of one insert or query. Default 10s.
    #[serde(default = "default_ch_timeout")]
    pub query_timeout: HumanDuration,
}

fn default_ch_database() -> String {
    "arigate".into()
}
fn default_ch_table() -> String {
    "trace_events".into()
}
fn default_ch_retention() -> u32 {
    14
}
fn default_ch_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurrencyFile {
    /// The date the table was taken (shown to agents as the conversion date).
    pub as_of: chrono::NaiveDate,
    /// Units of each currency per 1 EUR, as decimal strings, e.g. `USD: "1.08"`.
    pub per_eur: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentFile {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// Contact e-mail given to suppliers that require one.
    pub email: String,
    /// Contact phone given to suppliers that require one, as `+<country code> <number>`.
    pub phone: String,
    /// Lowercase hex SHA-256 of the API key (`arigate hash-key KEY` prints it).
    pub key_sha256: String,
    /// Suppliers this agent may use (default: all).
    #[serde(default)]
    pub suppliers: Option<Vec<String>>,
    /// This agent's request rate (default: `limits.rate_limit`).
    #[serde(default)]
    pub rate_limit: Option<RateLimitFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplierFile {
    /// Short code used in offers, metrics and webhooks (`/webhooks/{code}`).
    pub code: String,
    /// One of hotelbeds, expedia-rapid, ota-soap, derbysoft, dida.
    pub protocol: String,
    /// Base URL, `http://host:port` or `https://host:port`.
    pub endpoint: String,
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Search leg timeout (default: search.supplier_timeout).
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
    /// Timeout of re-check, book, query and cancel calls. Default 10s.
    #[serde(default = "default_booking_timeout")]
    pub booking_timeout: HumanDuration,
    pub credentials: CredentialsFile,
    /// native (the protocol's own), basic or oauth1.
    #[serde(default)]
    pub auth: Option<String>,
    /// Secrets that sign this supplier's webhooks (several while rotating).
    #[serde(default)]
    pub webhook_secrets: Vec<String>,
    /// Overrides of the top-level `circuit:` for this supplier.
    #[serde(default)]
    pub circuit: Option<CircuitFile>,
    /// Most calls in flight to this supplier; more fail fast (default: unlimited).
    #[serde(default)]
    pub max_concurrency: Option<u32>,
    /// Refresh-ahead pulls one cached answer of this supplier at most this often, across the
    /// cluster (seed 002's minimum pull interval). Default 10s.
    #[serde(default = "default_min_pull_interval")]
    pub min_pull_interval: HumanDuration,
    /// Most calls a second to this supplier (its contract's rate, every kind of call); more fail
    /// fast without being sent (default: unlimited). With `cache.redis` the rate holds for the
    /// sum of all nodes; while Redis is unavailable each node keeps to its share.
    #[serde(default)]
    pub rate_limit_rps: Option<u32>,
}

fn default_min_pull_interval() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}

fn default_true() -> bool {
    true
}
fn default_booking_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsFile {
    pub key: String,
    pub secret: String,
    #[serde(default)]
    pub account: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MappingRef {
    Path(String),
    Inline(MappingFile),
}

/// The hotel identity file: unified hotel ids and each supplier's own code (GIATA-multicode style).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    pub hotels: Vec<MappingHotel>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingHotel {
    pub id: String,
    pub name: String,
    pub destination: String,
    /// The hotel's IANA time zone (`Europe/Lisbon`): places cancellation deadlines that suppliers
    /// state in hotel-local time. Without it such deadlines are shown at the earliest instant they
    /// could mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Supplier code → that supplier's hotel code.
    pub codes: BTreeMap<String, String>,
}
