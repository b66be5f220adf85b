//! Validation of the YAML schema into the internal [`Config`].

use crate::schema::*;
use arigate_connectors::{AuthMode, Credentials, Protocol};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Every problem found, each with the path it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for p in &self.problems {
            writeln!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    fn one(p: impl Into<String>) -> ConfigError {
        ConfigError {
            problems: vec![p.into()],
        }
    }
}

/// The validated configuration the edge runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    /// Required on every admin route but health checks, when set.
    pub admin_token: Option<String>,
    pub threads: usize,
    /// In-flight requests may finish within this after SIGTERM or an upgrade.
    pub shutdown_grace: Duration,
    pub upgrade_sock: String,
    /// Zero: reload only when asked.
    pub reload_poll: Duration,
    pub tokens: TokenConfig,
    pub search: SearchConfig,
    pub max_request_body_bytes: usize,
    pub max_supplier_response_bytes: usize,
    pub idempotency_entries: usize,
    pub idempotency_ttl: Duration,
    pub currency: CurrencyTable,
    pub cache: CacheFile,
    pub traces: TracesConfig,
    pub agents: Vec<AgentConfig>,
    pub suppliers: Vec<SupplierConfig>,
    pub mapping: Arc<HotelMapping>,
    /// `limits.rate_limit`: the rate of agents without their own.
    pub rate_limit: RateLimitConfig,
    /// The top-level `circuit:` (each supplier's own is in [`SupplierConfig::circuit`]).
    pub circuit: CircuitConfig,
    /// Agent request limits and client timeouts (`limits:`).
    pub request_limits: RequestLimits,
}

/// Caps and timeouts on what agents send (and how slowly), from `limits:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLimits {
    pub max_header_count: usize,
    pub max_header_bytes: usize,
    pub max_uri_bytes: usize,
    /// Body caps indexed by [`RouteClass`].
    pub body_bytes: [usize; 4],
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub write_timeout: Duration,
    pub keepalive_timeout: Duration,
    pub max_inflight: usize,
}

/// Route classes (DESIGN §1) as far as request limits are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    Static = 0,
    Browse = 1,
    Transactional = 2,
    Webhook = 3,
}

impl RequestLimits {
    /// The body cap of a route class.
    pub fn body_cap(&self, class: RouteClass) -> usize {
        self.body_bytes[class as usize]
    }
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits::from_file(&LimitsFile::default())
    }
}

impl RequestLimits {
    fn from_file(l: &LimitsFile) -> RequestLimits {
        let b = &l.body_bytes;
        let default = l.max_request_body_bytes;
        RequestLimits {
            max_header_count: l.max_header_count,
            max_header_bytes: l.max_header_bytes,
            max_uri_bytes: l.max_uri_bytes,
            body_bytes: [
                b.static_.unwrap_or(0),
                b.browse.unwrap_or(default),
                b.transactional.unwrap_or(default),
                b.webhook.unwrap_or(default),
            ],
            header_read_timeout: l.header_read_timeout.0,
            body_read_timeout: l.body_read_timeout.0,
            write_timeout: l.write_timeout.0,
            keepalive_timeout: l.keepalive_timeout.0,
            max_inflight: l.max_inflight,
        }
    }
}

/// A request rate: `per_minute` sustained, at most `burst` at once (both at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub per_minute: u32,
    pub burst: u32,
}

impl Default for RateLimitConfig {
    /// 60 per minute (seed 001), bursts of 10.
    fn default() -> Self {
        RateLimitConfig {
            per_minute: 60,
            burst: 10,
        }
    }
}

/// When a supplier's circuit opens and how it recovers (see `arigate_filters::circuit`).
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitConfig {
    /// Consecutive failures that open the circuit; 0 turns this trigger off.
    pub consecutive_failures: u32,
    /// Failed share (0..=1) of the calls in `window` that opens the circuit; 0 turns it off.
    pub error_rate: f64,
    pub window: Duration,
    /// Fewest calls in `window` before `error_rate` applies (at least 1).
    pub min_requests: u32,
    /// First open period; doubled after each failed probe up to `max_open_for`.
    pub open_for: Duration,
    pub max_open_for: Duration,
    /// Probes let through while half-open; all must succeed to close (at least 1).
    pub half_open_probes: u32,
}

impl Default for CircuitConfig {
    fn default() -> Self {
        CircuitConfig {
            consecutive_failures: 5,
            error_rate: 0.5,
            window: Duration::from_secs(30),
            min_requests: 20,
            open_for: Duration::from_secs(5),
            max_open_for: Duration::from_secs(60),
            half_open_probes: 1,
        }
    }
}

#[derive(Clone)]
pub struct TokenConfig {
    pub secret: Vec<u8>,
    pub previous: Vec<Vec<u8>>,
    pub offer_ttl: Duration,
}

impl std::fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenConfig")
            .field("secret", &"<redacted>")
            .field("offer_ttl", &self.offer_ttl)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct SearchConfig {
    pub supplier_timeout: Duration,
    pub deadline: Duration,
    pub max_hotels: usize,
    pub max_rooms: usize,
    pub max_nights: i64,
}

/// The trace pipeline, validated; `clickhouse` has its password substituted.
#[derive(Clone)]
pub struct TracesConfig {
    pub enabled: bool,
    pub service: String,
    pub memory_spans: usize,
    pub queue_spans: usize,
    pub buffer_spans: usize,
    pub batch_rows: usize,
    pub flush_interval: Duration,
    pub excerpt_bytes: usize,
    pub clickhouse: Option<ClickHouseConfig>,
}

/// Where spans go in production.
#[derive(Clone)]
pub struct ClickHouseConfig {
    pub url: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub database: String,
    pub table: String,
    pub retention_days: u32,
    pub query_timeout: Duration,
}

impl std::fmt::Debug for TracesConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracesConfig")
            .field("enabled", &self.enabled)
            .field("service", &self.service)
            .field("memory_spans", &self.memory_spans)
            .field("queue_spans", &self.queue_spans)
            .field(
                "clickhouse",
                &self
                    .clickhouse
                    .as_ref()
                    .map(|c| (&c.url, &c.database, &c.table)),
            )
            .finish_non_exhaustive()
    }
}

/// Units per 1 EUR.
#[derive(Debug, Clone)]
pub struct CurrencyTable {
    pub as_of: chrono::NaiveDate,
    pub per_eur: BTreeMap<String, Decimal>,
}

impl CurrencyTable {
    /// Converts without rounding (round once, at the end). `None` for an unknown currency.
    pub fn convert(&self, amount: Decimal, from: &str, to: &str) -> Option<Decimal> {
        if from == to {
            return Some(amount);
        }
        let f = self.per_eur.get(from)?;
        let t = self.per_eur.get(to)?;
        Some(amount / f * t)
    }

    pub fn supports(&self, currency: &str) -> bool {
        self.per_eur.contains_key(currency)
    }
}

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub key_sha256: String,
    pub suppliers: Option<Vec<String>>,
    pub rate_limit: RateLimitConfig,
}

#[derive(Debug, Clone)]
pub struct SupplierConfig {
    pub code: String,
    pub protocol: Protocol,
    /// Base URL as configured, without trailing slash.
    pub endpoint: String,
    pub addr: SocketAddr,
    pub tls: bool,
    pub host: String,
    pub enabled: bool,
    pub timeout: Duration,
    pub booking_timeout: Duration,
    pub credentials: Credentials,
    pub webhook_secrets: Vec<String>,
    pub circuit: CircuitConfig,
    /// Most calls in flight to this supplier (`None`: unlimited).
    pub max_concurrency: Option<u32>,
    /// Refresh-ahead pulls one cached answer at most this often, across the cluster.
    pub min_pull_interval: Duration,
    /// Most calls a second to this supplier (`None`: unlimited); with Redis, for the cluster.
    pub rate_limit_rps: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct MappedHotel {
    pub id: String,
    pub name: String,
    pub destination: String,
    /// IANA time zone of the hotel, when the mapping gives one.
    pub time_zone: Option<chrono_tz::Tz>,
    /// Supplier code → supplier hotel code.
    pub codes: BTreeMap<String, String>,
}

/// Unified hotel ids ⇄ supplier hotel codes.
#[derive(Debug, Clone, Default)]
pub struct HotelMapping {
    pub hotels: Vec<MappedHotel>,
    by_id: HashMap<String, usize>,
    by_code: HashMap<(String, String), usize>,
}

impl HotelMapping {
    pub fn new(hotels: Vec<MappedHotel>) -> HotelMapping {
        let by_id = hotels
            .iter()
            .enumerate()
            .map(|(i, h)| (h.id.clone(), i))
            .collect();
        let by_code = hotels
            .iter()
            .enumerate()
            .flat_map(|(i, h)| {
                h.codes
                    .iter()
                    .map(move |(s, c)| ((s.clone(), c.clone()), i))
            })
            .collect();
        HotelMapping {
            hotels,
            by_id,
            by_code,
        }
    }

    pub fn hotel(&self, id: &str) -> Option<&MappedHotel> {
        self.by_id.get(id).and_then(|i| self.hotels.get(*i))
    }

    /// The unified hotel a supplier's code belongs to.
    pub fn by_supplier_code(&self, supplier: &str, code: &str) -> Option<&MappedHotel> {
        self.by_code
            .get(&(supplier.to_string(), code.to_string()))
            .and_then(|i| self.hotels.get(*i))
    }

    pub fn in_destination<'a>(
        &'a self,
        destination: &'a str,
    ) -> impl Iterator<Item = &'a MappedHotel> + 'a {
        self.hotels
            .iter()
            .filter(move |h| h.destination == destination)
    }

    /// Destination codes with their hotel counts, sorted.
    pub fn destinations(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for h in &self.hotels {
            *out.entry(h.destination.clone()).or_insert(0) += 1;
        }
        out
    }
}

/// Loads and validates a config file; `${NAME}` references are resolved with `env`.
pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::one(format!("{}: {e}", path.display())))?;
    let base_dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let files = move |rel: &str| {
        std::fs::read_to_string(base_dir.join(rel))
            .map_err(|e| format!("{}: {e}", base_dir.join(rel).display()))
    };
    load_str(&text, &files, env)
}

/// Validates config text; files it names (the mapping) are read with `files`.
pub fn load_str(
    text: &str,
    files: &dyn Fn(&str) -> Result<String, String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    let file: FileConfig = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        ConfigError::one(if path == "." {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        })
    })?;
    Validator {
        env,
        problems: Vec::new(),
    }
    .run(file, files)
}

struct Validator<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<String>,
}

impl Validator<'_> {
    fn problem(&mut self, path: &str, msg: impl std::fmt::Display) {
        self.problems.push(format!("{path}: {msg}"));
    }

    /// Substitutes every `${NAME}` in a value (secrets, addresses, endpoints).
    fn secret(&mut self, path: &str, raw: &str) -> String {
        let mut out = String::new();
        let mut rest = raw;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                self.problem(path, "unterminated ${...} reference");
                return String::new();
            };
            let name = &after[..end];
            match (self.env)(name) {
                Some(v) => out.push_str(&v),
                None => self.problem(path, format!("environment variable {name} is not set")),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn addr(&mut self, path: &str, s: &str) -> Option<SocketAddr> {
        match s.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.problem(path, format!("{s:?} is not an ip:port address"));
                None
            }
        }
    }

    fn run(
        mut self,
        f: FileConfig,
        files: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<Config, ConfigError> {
        let listen = self.secret("listen", &f.listen);
        let listen = self.addr("listen", &listen);
        let admin_listen = self.secret("admin_listen", &f.admin_listen);
        let admin_listen = self.addr("admin_listen", &admin_listen);
        let admin_token = f
            .admin_token
            .as_ref()
            .map(|t| self.secret("admin_token", t));
        if admin_token.as_ref().is_some_and(|t| t.len() < 16) {
            self.problem("admin_token", "must be at least 16 characters");
        }
        if admin_listen.is_some_and(|a| !a.ip().is_loopback()) && admin_token.is_none() {
            self.problem(
                "admin_token",
                "admin_listen is not a loopback address: set admin_token (config, reload, purge and traces must not be open)",
            );
        }
        if f.threads == 0 || f.threads > 256 {
            self.problem("threads", "must be between 1 and 256");
        }
        let secret = self.secret("tokens.secret", &f.tokens.secret);
        if secret.len() < 32 && !self.problems.iter().any(|p| p.starts_with("tokens.secret")) {
            self.problem("tokens.secret", "must be at least 32 characters");
        }
        let previous = f
            .tokens
            .previous_secrets
            .iter()
            .enumerate()
            .map(|(i, s)| {
                self.secret(&format!("tokens.previous_secrets[{i}]"), s)
                    .into_bytes()
            })
            .collect();
        let s = &f.search;
        if s.supplier_timeout.0.is_zero() || s.deadline.0.is_zero() {
            self.problem("search", "timeouts must be positive");
        }
        if s.supplier_timeout.0 > s.deadline.0 {
            self.problem("search.supplier_timeout", "must not exceed search.deadline");
        }
        if s.max_hotels == 0 || s.max_rooms == 0 || s.max_nights <= 0 {
            self.problem(
                "search",
                "max_hotels, max_rooms and max_nights must be positive",
            );
        }
        let l = &f.limits;
        if l.max_request_body_bytes == 0
            || l.max_supplier_response_bytes == 0
            || l.idempotency_entries == 0
        {
            self.problem("limits", "bounds must be positive");
        }
        if !(1..=256).contains(&l.max_header_count) {
            self.problem(
                "limits.max_header_count",
                "must be 1 to 256 (Pingora's parser refuses more)",
            );
        }
        if !(1024..=1024 * 1024).contains(&l.max_header_bytes) {
            self.problem("limits.max_header_bytes", "must be 1 KiB to 1 MiB");
        }
        if !(256..=64 * 1024).contains(&l.max_uri_bytes) {
            self.problem("limits.max_uri_bytes", "must be 256 B to 64 KiB");
        }
        for (name, d) in [
            ("header_read_timeout", l.header_read_timeout),
            ("body_read_timeout", l.body_read_timeout),
            ("write_timeout", l.write_timeout),
            ("keepalive_timeout", l.keepalive_timeout),
        ] {
            if d.0.is_zero() || d.0 > Duration::from_secs(3600) {
                self.problem(&format!("limits.{name}"), "must be positive and at most 1h");
            }
        }
        if l.max_inflight == 0 {
            self.problem("limits.max_inflight", "must be positive");
        }
        let request_limits = RequestLimits::from_file(l);
        let rate_limit = self.rate_limit(
            "limits.rate_limit",
            &l.rate_limit,
            RateLimitConfig::default(),
        );
        let circuit = self.circuit("circuit", &f.circuit, &CircuitConfig::default());
        let c = &f.cache;
        if c.browse_max_ttl.0 > std::time::Duration::from_secs(300) {
            self.problem(
                "cache.browse_max_ttl",
                "browse answers may be cached for at most 300s (DESIGN §1)",
            );
        }
        if c.memory_bytes < 64 * 1024 {
            self.problem("cache.memory_bytes", "must be at least 64 KiB");
        }
        if c.checkin_hour_utc > 23 {
            self.problem("cache.checkin_hour_utc", "must be 0 to 23");
        }
        for (name, v) in [
            ("weekend_factor", c.weekend_factor),
            ("holiday_factor", c.holiday_factor),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                self.problem(&format!("cache.{name}"), "must be in (0, 1]");
            }
        }
        if c.hot_requests_per_minute.is_nan() || c.hot_requests_per_minute <= 0.0 {
            self.problem("cache.hot_requests_per_minute", "must be positive");
        }
        let mut cache = c.clone();
        self.cache_cluster(&mut cache);
        let mut per_eur = BTreeMap::new();
        for (cur, rate) in &f.currency.per_eur {
            let path = format!("currency.per_eur.{cur}");
            if cur.len() != 3 || !cur.chars().all(|c| c.is_ascii_uppercase()) {
                self.problem(
                    &path,
                    "currency codes are three upper-case letters (ISO 4217)",
                );
            }
            match rate.parse::<Decimal>() {
                Ok(r) if r > Decimal::ZERO => {
                    per_eur.insert(cur.clone(), r);
                }
                _ => self.problem(&path, format!("{rate:?} is not a positive decimal")),
            }
        }
        if !per_eur.contains_key("EUR") {
            self.problem("currency.per_eur", "must contain EUR (the base, 1)");
        }
        let mut agents = Vec::new();
        let mut agent_ids = HashSet::new();
        for (i, a) in f.agents.iter().enumerate() {
            let path = format!("agents[{i}]");
            if !agent_ids.insert(a.id.clone()) {
                self.problem(
                    &format!("{path}.id"),
                    format!("duplicate agent id {:?}", a.id),
                );
            }
            if a.key_sha256.len() != 64
                || !a
                    .key_sha256
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            {
                self.problem(
                    &format!("{path}.key_sha256"),
                    "must be 64 lowercase hex characters (sha256 of the key)",
                );
            }
            if !a.email.contains('@') {
                self.problem(&format!("{path}.email"), "must be an e-mail address");
            }
            let phone_ok = a
                .phone
                .strip_prefix('+')
                .and_then(|p| p.split_once(' '))
                .is_some_and(|(cc, n)| {
                    (1..=4).contains(&cc.len())
                        && (4..=15).contains(&n.len())
                        && cc.bytes().chain(n.bytes()).all(|b| b.is_ascii_digit())
                });
            if !phone_ok {
                self.problem(
                    &format!("{path}.phone"),
                    "must read +<country code> <number>, digits only (e.g. +33 155501234)",
                );
            }
            agents.push(AgentConfig {
                id: a.id.clone(),
                name: if a.name.is_empty() {
                    a.id.clone()
                } else {
                    a.name.clone()
                },
                email: a.email.clone(),
                phone: a.phone.clone(),
                key_sha256: a.key_sha256.clone(),
                suppliers: a.suppliers.clone(),
                rate_limit: match &a.rate_limit {
                    Some(r) => self.rate_limit(&format!("{path}.rate_limit"), r, rate_limit),
                    None => rate_limit,
                },
            });
        }
        let mut suppliers = Vec::new();
        let mut codes = HashSet::new();
        for (i, sf) in f.suppliers.iter().enumerate() {
            if let Some(mut sc) = self.supplier(&format!("suppliers[{i}]"), sf, &f.search) {
                if let Some(own) = &sf.circuit {
                    sc.circuit = self.circuit(&format!("suppliers[{i}].circuit"), own, &circuit);
                } else {
                    sc.circuit = circuit.clone();
                }
                if !codes.insert(sc.code.clone()) {
                    self.problem(
                        &format!("suppliers[{i}].code"),
                        format!("duplicate supplier code {:?}", sc.code),
                    );
                }
                suppliers.push(sc);
            }
        }
        for (i, a) in agents.iter().enumerate() {
            for s in a.suppliers.iter().flatten() {
                if !codes.contains(s) {
                    self.problem(
                        &format!("agents[{i}].suppliers"),
                        format!("unknown supplier {s:?}"),
                    );
                }
            }
        }
        let mapping = match &f.mapping {
            MappingRef::Inline(m) => Some(m.clone()),
            MappingRef::Path(p) => {
                let full = p.clone();
                match files(p) {
                    Err(e) => {
                        self.problem("mapping", e);
                        None
                    }
                    Ok(text) => {
                        let de = serde_yaml_ng::Deserializer::from_str(&text);
                        match serde_path_to_error::deserialize::<_, MappingFile>(de) {
                            Ok(m) => Some(m),
                            Err(e) => {
                                self.problem(
                                    &format!("mapping ({full}) {}", e.path()),
                                    e.into_inner(),
                                );
                                None
                            }
                        }
                    }
                }
            }
        };
        let mapping = mapping.map(|m| self.mapping(m, &codes));
        let traces = self.traces(&f.traces);
        if !self.problems.is_empty() {
            return Err(ConfigError {
                problems: self.problems,
            });
        }
        match (listen, admin_listen, mapping) {
            (Some(listen), Some(admin_listen), Some(mapping)) => Ok(Config {
                listen,
                admin_listen,
                admin_token,
                threads: f.threads,
                shutdown_grace: f.shutdown_grace.map(|d| d.0).unwrap_or_else(|| {
                    suppliers
                        .iter()
                        .map(|s: &SupplierConfig| s.booking_timeout)
                        .max()
                        .unwrap_or(Duration::from_secs(10))
                        + Duration::from_secs(2)
                }),
                upgrade_sock: f.upgrade_sock.clone(),
                reload_poll: f.reload_poll.0,
                tokens: TokenConfig {
                    secret: secret.into_bytes(),
                    previous,
                    offer_ttl: f.tokens.offer_ttl.0,
                },
                search: SearchConfig {
                    supplier_timeout: s.supplier_timeout.0,
                    deadline: s.deadline.0,
                    max_hotels: s.max_hotels,
                    max_rooms: s.max_rooms,
                    max_nights: s.max_nights,
                },
                max_request_body_bytes: l.max_request_body_bytes,
                max_supplier_response_bytes: l.max_supplier_response_bytes,
                idempotency_entries: l.idempotency_entries,
                idempotency_ttl: l.idempotency_ttl.0,
                cache,
                traces,
                currency: CurrencyTable {
                    as_of: f.currency.as_of,
                    per_eur,
                },
                agents,
                suppliers,
                mapping: Arc::new(mapping),
                rate_limit,
                circuit,
                request_limits,
            }),
            _ => Err(ConfigError::one("invalid configuration")),
        }
    }

    fn traces(&mut self, t: &TracesFile) -> TracesConfig {
        let mut bounded = |name: &str, v: usize, max: usize| {
            if v == 0 || v > max {
                self.problem(
                    &format!("traces.{name}"),
                    format!("must be between 1 and {max}"),
                );
            }
        };
        bounded("memory_spans", t.memory_spans, 10_000_000);
        bounded("queue_spans", t.queue_spans, 10_000_000);
        bounded("buffer_spans", t.buffer_spans, 10_000_000);
        bounded("batch_rows", t.batch_rows, 1_000_000);
        bounded("excerpt_bytes", t.excerpt_bytes, 1 << 20);
        if t.flush_interval.0.is_zero() {
            self.problem("traces.flush_interval", "must be more than zero");
        }
        let clickhouse = t.clickhouse.as_ref().map(|c| {
            let url = self.secret("traces.clickhouse.url", &c.url);
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                self.problem(
                    "traces.clickhouse.url",
                    "must be an http:// or https:// URL",
                );
            }
            for (name, v) in [("database", &c.database), ("table", &c.table)] {
                if v.is_empty() || !v.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                    self.problem(
                        &format!("traces.clickhouse.{name}"),
                        "use letters, digits and '_'",
                    );
                }
            }
            if c.retention_days == 0 {
                self.problem(
                    "traces.clickhouse.retention_days",
                    "must keep at least 1 day",
                );
            }
            ClickHouseConfig {
                url,
                user: c
                    .user
                    .as_ref()
                    .map(|u| self.secret("traces.clickhouse.user", u)),
                password: c
                    .password
                    .as_ref()
                    .map(|p| self.secret("traces.clickhouse.password", p)),
                database: c.database.clone(),
                table: c.table.clone(),
                retention_days: c.retention_days,
                query_timeout: c.query_timeout.0,
            }
        });
        TracesConfig {
            enabled: t.enabled,
            service: t.service.clone(),
            memory_spans: t.memory_spans,
            queue_spans: t.queue_spans,
            buffer_spans: t.buffer_spans,
            batch_rows: t.batch_rows,
            flush_interval: t.flush_interval.0,
            excerpt_bytes: t.excerpt_bytes,
            clickhouse,
        }
    }

    /// Refresh-ahead and Redis settings; substitutes `${ENV}` in the Redis URL.
    fn cache_cluster(&mut self, c: &mut CacheFile) {
        let r = &c.refresh_ahead;
        if !(r.before_expiry > 0.0 && r.before_expiry < 1.0) {
            self.problem("cache.refresh_ahead.before_expiry", "must be in (0, 1)");
        }
        if !(0.0..=1.0).contains(&r.min_hotness) {
            self.problem("cache.refresh_ahead.min_hotness", "must be in [0, 1]");
        }
        let Some(redis) = c.redis.as_mut() else {
            return;
        };
        redis.url = self.secret("cache.redis.url", &redis.url);
        let rest = redis.url.strip_prefix("redis://");
        if redis.url.starts_with("rediss://") {
            self.problem(
                "cache.redis.url",
                "TLS to Redis is not built in: use redis:// on a private network or a local TLS tunnel",
            );
        } else if rest.is_none_or(|r| {
            let host = r.rsplit_once('@').map_or(r, |(_, h)| h);
            host.split('/').next().unwrap_or("").is_empty()
        }) {
            self.problem(
                "cache.redis.url",
                "must read redis://[:password@]host:port[/db]",
            );
        }
        if !(1..=64).contains(&redis.pool_size) {
            self.problem("cache.redis.pool_size", "must be 1 to 64");
        }
        if redis.key_prefix.is_empty() || redis.key_prefix.chars().any(|ch| ch.is_whitespace()) {
            self.problem(
                "cache.redis.key_prefix",
                "must be non-empty, without spaces",
            );
        }
        if redis.timeout.0.is_zero() || redis.timeout.0 > Duration::from_secs(1) {
            self.problem(
                "cache.redis.timeout",
                "must be positive and at most 1s (it bounds the request path)",
            );
        }
        if redis.max_entry_bytes < 1024 {
            self.problem("cache.redis.max_entry_bytes", "must be at least 1024");
        }
        if redis.write_queue < 16 {
            self.problem("cache.redis.write_queue", "must be at least 16");
        }
    }

    fn supplier(
        &mut self,
        path: &str,
        f: &SupplierFile,
        search: &SearchFile,
    ) -> Option<SupplierConfig> {
        let before = self.problems.len();
        if f.code.is_empty()
            || !f
                .code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            self.problem(&format!("{path}.code"), "must be non-empty [a-z0-9_-]");
        }
        let protocol = Protocol::parse(&f.protocol);
        if protocol.is_none() {
            self.problem(
                &format!("{path}.protocol"),
                format!(
                    "unknown protocol {:?} (hotelbeds, expedia-rapid, ota-soap, derbysoft, dida)",
                    f.protocol
                ),
            );
        }
        let mode = match f.auth.as_deref() {
            None | Some("native") => AuthMode::Native,
            Some("basic") => AuthMode::Basic,
            Some("oauth1") => AuthMode::Oauth1,
            Some(other) => {
                self.problem(
                    &format!("{path}.auth"),
                    format!("unknown auth {other:?} (native, basic, oauth1)"),
                );
                AuthMode::Native
            }
        };
        if protocol == Some(Protocol::OtaSoap) && mode != AuthMode::Native {
            self.problem(
                &format!("{path}.auth"),
                "ota-soap supports only native WS-Security auth",
            );
        }
        let endpoint = self
            .secret(&format!("{path}.endpoint"), &f.endpoint)
            .trim_end_matches('/')
            .to_string();
        let (tls, hostport) = if let Some(rest) = endpoint.strip_prefix("http://") {
            (false, rest)
        } else if let Some(rest) = endpoint.strip_prefix("https://") {
            (true, rest)
        } else {
            self.problem(
                &format!("{path}.endpoint"),
                "must start with http:// or https://",
            );
            (false, "")
        };
        if hostport.contains('/') {
            self.problem(
                &format!("{path}.endpoint"),
                "must be scheme://host:port without a path",
            );
        }
        let with_port = if hostport
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            hostport.to_string()
        } else {
            format!("{hostport}:{}", if tls { 443 } else { 80 })
        };
        let host = with_port
            .rsplit_once(':')
            .map(|(h, _)| h.to_string())
            .unwrap_or_default();
        // Resolved once here, never on the request path (HttpPeer::new would resolve blocking).
        let addr = if hostport.is_empty() {
            None
        } else {
            match with_port.to_socket_addrs().map(|mut a| a.next()) {
                Ok(Some(a)) => Some(a),
                _ => {
                    self.problem(
                        &format!("{path}.endpoint"),
                        format!("cannot resolve {with_port:?}"),
                    );
                    None
                }
            }
        };
        let key = self.secret(&format!("{path}.credentials.key"), &f.credentials.key);
        let secret = self.secret(&format!("{path}.credentials.secret"), &f.credentials.secret);
        let account = f
            .credentials
            .account
            .as_ref()
            .map(|a| self.secret(&format!("{path}.credentials.account"), a));
        let webhook_secrets = f
            .webhook_secrets
            .iter()
            .enumerate()
            .map(|(i, s)| self.secret(&format!("{path}.webhook_secrets[{i}]"), s))
            .collect();
        let timeout = f.timeout.map(|t| t.0).unwrap_or(search.supplier_timeout.0);
        if timeout.is_zero() || f.booking_timeout.0.is_zero() {
            self.problem(&format!("{path}.timeout"), "timeouts must be positive");
        }
        if f.rate_limit_rps.is_some_and(|r| r == 0 || r > 100_000) {
            self.problem(&format!("{path}.rate_limit_rps"), "must be 1 to 100000");
        }
        if f.max_concurrency == Some(0) {
            self.problem(
                &format!("{path}.max_concurrency"),
                "must be at least 1 (leave it out for no cap)",
            );
        }
        if self.problems.len() > before {
            return None;
        }
        Some(SupplierConfig {
            code: f.code.clone(),
            protocol: protocol?,
            endpoint,
            addr: addr?,
            tls,
            host,
            enabled: f.enabled,
            timeout,
            booking_timeout: f.booking_timeout.0,
            credentials: Credentials {
                key,
                secret,
                account,
                mode,
            },
            webhook_secrets,
            circuit: CircuitConfig::default(),
            max_concurrency: f.max_concurrency,
            min_pull_interval: f.min_pull_interval.0,
            rate_limit_rps: f.rate_limit_rps,
        })
    }

    /// `f` over `base`, checked.
    fn rate_limit(
        &mut self,
        path: &str,
        f: &RateLimitFile,
        base: RateLimitConfig,
    ) -> RateLimitConfig {
        let r = RateLimitConfig {
            per_minute: f.per_minute.unwrap_or(base.per_minute),
            burst: f.burst.unwrap_or(base.burst),
        };
        if !(1..=6_000_000).contains(&r.per_minute) {
            self.problem(&format!("{path}.per_minute"), "must be 1 to 6000000");
        }
        if !(1..=1_000_000).contains(&r.burst) {
            self.problem(&format!("{path}.burst"), "must be 1 to 1000000");
        }
        r
    }

    /// `f` over `base`, checked.
    fn circuit(&mut self, path: &str, f: &CircuitFile, base: &CircuitConfig) -> CircuitConfig {
        let percent = f.error_rate_percent.unwrap_or(base.error_rate * 100.0);
        let c = CircuitConfig {
            consecutive_failures: f.consecutive_failures.unwrap_or(base.consecutive_failures),
            error_rate: percent / 100.0,
            window: f.window.map_or(base.window, |d| d.0),
            min_requests: f.min_requests.unwrap_or(base.min_requests),
            open_for: f.open_for.map_or(base.open_for, |d| d.0),
            max_open_for: f.max_open_for.map_or(base.max_open_for, |d| d.0),
            half_open_probes: f.half_open_probes.unwrap_or(base.half_open_probes),
        };
        if !(0.0..=100.0).contains(&percent) {
            self.problem(&format!("{path}.error_rate_percent"), "must be 0 to 100");
        }
        if c.window < Duration::from_secs(1) || c.window > Duration::from_secs(3600) {
            self.problem(&format!("{path}.window"), "must be 1s to 1h");
        }
        if c.min_requests == 0 {
            self.problem(&format!("{path}.min_requests"), "must be at least 1");
        }
        if c.open_for.is_zero() {
            self.problem(&format!("{path}.open_for"), "must be positive");
        }
        if c.max_open_for < c.open_for {
            self.problem(
                &format!("{path}.max_open_for"),
                "must not be below open_for",
            );
        }
        if !(1..=1000).contains(&c.half_open_probes) {
            self.problem(&format!("{path}.half_open_probes"), "must be 1 to 1000");
        }
        c
    }

    fn mapping(&mut self, m: MappingFile, codes: &HashSet<String>) -> HotelMapping {
        let mut ids = HashSet::new();
        let mut seen_codes = HashSet::new();
        for (i, h) in m.hotels.iter().enumerate() {
            if !ids.insert(h.id.clone()) {
                self.problem(
                    &format!("mapping.hotels[{i}].id"),
                    format!("duplicate hotel id {:?}", h.id),
                );
            }
            for (s, c) in &h.codes {
                if !codes.contains(s) {
                    // Mapping files may list suppliers not configured here; they are ignored.
                    continue;
                }
                if !seen_codes.insert((s.clone(), c.clone())) {
                    self.problem(
                        &format!("mapping.hotels[{i}].codes.{s}"),
                        format!("code {c:?} is mapped twice"),
                    );
                }
            }
        }
        let mut zones = Vec::with_capacity(m.hotels.len());
        for (i, h) in m.hotels.iter().enumerate() {
            let tz = h.time_zone.as_deref().map(str::parse::<chrono_tz::Tz>);
            if let Some(Err(_)) = tz {
                self.problem(
                    &format!("mapping.hotels[{i}].time_zone"),
                    format!(
                        "{:?} is not an IANA time zone",
                        h.time_zone.as_deref().unwrap_or("")
                    ),
                );
            }
            zones.push(tz.and_then(Result::ok));
        }
        HotelMapping::new(
            m.hotels
                .into_iter()
                .zip(zones)
                .map(|(h, time_zone)| MappedHotel {
                    id: h.id,
                    name: h.name,
                    destination: h.destination,
                    time_zone,
                    codes: h
                        .codes
                        .into_iter()
                        .filter(|(s, _)| codes.contains(s))
                        .collect(),
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPPING: &str = "hotels:\n  - id: H1\n    name: One\n    destination: LIS\n    codes: {hb: \"100\", other: \"x\"}\n";

    fn base() -> String {
        r#"
listen: 127.0.0.1:8080
admin_listen: 127.0.0.1:9090
tokens: {secret: "${TOKEN}"}
currency: {as_of: 2026-11-01, per_eur: {EUR: "1", USD: "1.08"}}
agents:
  - {id: a, email: a@x.example, phone: "+33 155501234", key_sha256: c48a01f49fd0f2cc404bc3cbbc80e91457a3d41bb429a695243de4c61794155c}
suppliers:
  - code: hb
    protocol: hotelbeds
    endpoint: http://127.0.0.1:9101
    credentials: {key: "${HB_KEY}", secret: "${HB_SECRET}"}
mapping: hotels.yaml
"#
        .to_string()
    }

    fn env(k: &str) -> Option<String> {
        match k {
            "TOKEN" => Some("t".repeat(40)),
            "HB_KEY" => Some("key".into()),
            "HB_SECRET" => Some("s3cr3t".into()),
            _ => None,
        }
    }

    fn load(text: &str) -> Result<Config, ConfigError> {
        let files = |name: &str| {
            if name == "hotels.yaml" {
                Ok(MAPPING.to_string())
            } else {
                Err(format!("{name}: no such file"))
            }
        };
        load_str(text, &files, &env)
    }

    #[test]
    fn a_valid_file_becomes_a_config_with_secrets_substituted() {
        let c = load(&base()).expect("valid");
        assert_eq!(c.suppliers[0].credentials.secret, "s3cr3t");
        assert_eq!(c.suppliers[0].timeout, Duration::from_millis(300));
        assert_eq!(c.search.deadline, Duration::from_secs(1));
        assert_eq!(
            c.mapping
                .by_supplier_code("hb", "100")
                .map(|h| h.id.as_str()),
            Some("H1")
        );
        // Codes of suppliers not configured here are dropped.
        assert_eq!(c.mapping.hotel("H1").map(|h| h.codes.len()), Some(1));
        assert!(!format!("{:?}", c.suppliers[0].credentials).contains("s3cr3t"));
    }

    #[test]
    fn hotel_time_zones_are_iana_names() {
        let with_zone = |zone: &'static str| {
            move |_: &str| {
                Ok(MAPPING.replace("    codes:", &format!("    time_zone: {zone}\n    codes:")))
            }
        };
        let c = load_str(&base(), &with_zone("Europe/Lisbon"), &env).expect("valid");
        assert_eq!(
            c.mapping.hotel("H1").and_then(|h| h.time_zone),
            Some(chrono_tz::Tz::Europe__Lisbon)
        );
        let err = load_str(&base(), &with_zone("Europe/Atlantis"), &env)
            .expect_err("invalid")
            .to_string();
        assert!(err.contains("mapping.hotels[0].time_zone"), "{err}");
        let c = load(&base()).expect("valid");
        assert_eq!(c.mapping.hotel("H1").and_then(|h| h.time_zone), None);
    }

    #[rstest::rstest]
    #[case(
        "listen: 127.0.0.1:8080",
        "listen: nowhere",
        "listen: \"nowhere\" is not an ip:port address"
    )]
    #[case(
        "    protocol: hotelbeds",
        "    protocol: amadeus",
        "suppliers[0].protocol: unknown protocol"
    )]
    #[case(
        "\"${HB_SECRET}\"",
        "\"${MISSING_SECRET}\"",
        "suppliers[0].credentials.secret: environment variable MISSING_SECRET is not set"
    )]
    #[case(
        "mapping: hotels.yaml",
        "mapping: nope.yaml",
        "mapping: nope.yaml: no such file"
    )]
    #[case(
        "key_sha256: c48a",
        "key_sha256: C48A",
        "agents[0].key_sha256: must be 64 lowercase hex"
    )]
    #[case(
        "http://127.0.0.1:9101",
        "ftp://127.0.0.1:9101",
        "suppliers[0].endpoint: must start with http:// or https://"
    )]
    #[case("USD: \"1.08\"", "USD: \"-1\"", "currency.per_eur.USD")]
    #[case(
        "+33 155501234",
        "0155501234",
        "agents[0].phone: must read +<country code> <number>"
    )]
    #[case(
        "mapping: hotels.yaml",
        "mapping: hotels.yaml\nsurprise: 1",
        "unknown field `surprise`"
    )]
    #[case(
        "    endpoint: http://127.0.0.1:9101",
        "    endpoint: http://127.0.0.1:9101\n    timeout: soon",
        "suppliers[0].timeout"
    )]
    #[case(
        "mapping: hotels.yaml",
        "mapping: hotels.yaml\ntraces: {clickhouse: {url: \"tcp://ch:9000\"}}",
        "traces.clickhouse.url: must be an http:// or https:// URL"
    )]
    #[case(
        "mapping: hotels.yaml",
        "mapping: hotels.yaml\ntraces: {clickhouse: {url: \"http://ch:8123\", table: \"spans; DROP\"}}",
        "traces.clickhouse.table: use letters, digits and '_'"
    )]
    #[case(
        "mapping: hotels.yaml",
        "mapping: hotels.yaml\ntraces: {queue_spans: 0}",
        "traces.queue_spans: must be between 1 and"
    )]
    #[case(
        "mapping: hotels.yaml",
        "mapping: hotels.yaml\ntraces: {clickhouse: {url: \"http://ch:8123\", password: \"${CH_PW}\"}}",
        "traces.clickhouse.password: environment variable CH_PW is not set"
    )]
    #[case(
        "admin_listen: 127.0.0.1:9090",
        "admin_listen: 0.0.0.0:9090",
        "admin_token: admin_listen is not a loopback address"
    )]
    fn problems_name_their_path(#[case] from: &str, #[case] to: &str, #[case] expected: &str) {
        let text = base().replacen(from, to, 1);
        assert_ne!(text, base(), "the case must change the file");
        let err = load(&text).expect_err("invalid").to_string();
        assert!(err.contains(expected), "{err}");
        assert!(!err.contains("s3cr3t"), "a secret leaked into: {err}");
    }

    #[test]
    fn traces_default_to_memory_and_take_clickhouse_secrets_from_env() {
        let c = load(&base()).expect("valid");
        assert!(c.traces.enabled && c.traces.clickhouse.is_none());
        let text = base().replacen(
            "mapping: hotels.yaml",
            "mapping: hotels.yaml\ntraces: {clickhouse: {url: \"http://ch:8123\", password: \"${HB_SECRET}\"}}",
            1,
        );
        let c = load(&text).expect("valid");
        let ch = c.traces.clickhouse.as_ref().expect("clickhouse");
        assert_eq!(ch.password.as_deref(), Some("s3cr3t"));
        assert_eq!(
            (ch.database.as_str(), ch.table.as_str(), ch.retention_days),
            ("arigate", "trace_events", 14)
        );
        assert!(!format!("{:?}", c.traces).contains("s3cr3t"));
    }

    #[test]
    fn body_caps_per_route_class_default_to_the_request_body_limit() {
        let c = load(&base()).expect("valid");
        let l = &c.request_limits;
        assert_eq!(l.body_cap(RouteClass::Static), 0);
        assert_eq!(l.body_cap(RouteClass::Browse), 64 * 1024);
        assert_eq!(l.body_cap(RouteClass::Webhook), 64 * 1024);
        let text = base().replacen(
            "mapping: hotels.yaml",
            "mapping: hotels.yaml\nlimits: {max_request_body_bytes: 1000, body_bytes: {transactional: 500, static: 10}, write_timeout: 2s}",
            1,
        );
        let l = load(&text).expect("valid").request_limits;
        assert_eq!(l.body_bytes, [10, 1000, 500, 1000]);
        assert_eq!(l.write_timeout, Duration::from_secs(2));
    }

    #[test]
    fn rate_limits_and_circuits_inherit_then_override() {
        let c = load(&base()).expect("valid");
        assert_eq!(c.rate_limit, RateLimitConfig::default());
        assert_eq!(c.agents[0].rate_limit, RateLimitConfig::default());
        assert_eq!(c.suppliers[0].circuit, CircuitConfig::default());
        assert_eq!(c.suppliers[0].max_concurrency, None);

        let text = base()
            .replacen(
                "mapping: hotels.yaml",
                "mapping: hotels.yaml\nlimits: {rate_limit: {per_minute: 120}}\ncircuit: {consecutive_failures: 3, open_for: 2s}",
                1,
            )
            .replacen(
                "key_sha256: c48a",
                "rate_limit: {burst: 30}, key_sha256: c48a",
                1,
            )
            .replacen(
                "    credentials: {key",
                "    max_concurrency: 8\n    circuit: {error_rate_percent: 20, window: 10s}\n    credentials: {key",
                1,
            );
        let c = load(&text).expect("valid");
        assert_eq!(
            c.rate_limit,
            RateLimitConfig {
                per_minute: 120,
                burst: 10
            }
        );
        // The agent's own burst over the global rate.
        assert_eq!(
            c.agents[0].rate_limit,
            RateLimitConfig {
                per_minute: 120,
                burst: 30
            }
        );
        let sc = &c.suppliers[0];
        assert_eq!(sc.max_concurrency, Some(8));
        assert_eq!(
            sc.circuit.consecutive_failures, 3,
            "from the top-level circuit"
        );
        assert_eq!(sc.circuit.open_for, Duration::from_secs(2));
        assert_eq!(sc.circuit.window, Duration::from_secs(10), "its own");
        assert!((sc.circuit.error_rate - 0.2).abs() < 1e-9);
        assert_eq!(sc.circuit.min_requests, 20, "the built-in default");
    }

    #[rstest::rstest]
    #[case(
        "limits: {rate_limit: {per_minute: 0}}",
        "limits.rate_limit.per_minute: must be 1 to 6000000"
    )]
    #[case(
        "limits: {rate_limit: {burst: 0}}",
        "limits.rate_limit.burst: must be 1 to 1000000"
    )]
    #[case("limits: {rate_limit: {per_second: 5}}", "unknown field `per_second`")]
    #[case(
        "limits: {max_header_count: 300}",
        "limits.max_header_count: must be 1 to 256"
    )]
    #[case(
        "limits: {max_header_bytes: 10}",
        "limits.max_header_bytes: must be 1 KiB to 1 MiB"
    )]
    #[case(
        "limits: {max_uri_bytes: 1000000}",
        "limits.max_uri_bytes: must be 256 B to 64 KiB"
    )]
    #[case(
        "limits: {header_read_timeout: 0s}",
        "limits.header_read_timeout: must be positive"
    )]
    #[case("limits: {max_inflight: 0}", "limits.max_inflight: must be positive")]
    #[case("limits: {body_bytes: {search: 5}}", "unknown field `search`")]
    #[case(
        "circuit: {error_rate_percent: 150}",
        "circuit.error_rate_percent: must be 0 to 100"
    )]
    #[case("circuit: {window: 0s}", "circuit.window: must be 1s to 1h")]
    #[case(
        "circuit: {min_requests: 0}",
        "circuit.min_requests: must be at least 1"
    )]
    #[case("circuit: {open_for: 0ms}", "circuit.open_for: must be positive")]
    #[case(
        "circuit: {open_for: 2m, max_open_for: 1m}",
        "circuit.max_open_for: must not be below open_for"
    )]
    #[case(
        "circuit: {half_open_probes: 0}",
        "circuit.half_open_probes: must be 1 to 1000"
    )]
    fn limit_problems_name_their_path(#[case] extra: &str, #[case] expected: &str) {
        let text = base().replacen(
            "mapping: hotels.yaml",
            &format!("mapping: hotels.yaml\n{extra}"),
            1,
        );
        let err = load(&text).expect_err("invalid").to_string();
        assert!(err.contains(expected), "{err}");
    }

    #[rstest::rstest]
    #[case(
        "    max_concurrency: 0\n",
        "suppliers[0].max_concurrency: must be at least 1"
    )]
    #[case(
        "    circuit: {max_open_for: 1s}\n",
        "suppliers[0].circuit.max_open_for: must not be below open_for"
    )]
    #[case("    circuit: {probes: 2}\n", "unknown field `probes`")]
    fn supplier_limit_problems_name_their_path(#[case] extra: &str, #[case] expected: &str) {
        let text = base().replacen(
            "    credentials: {key",
            &format!("{extra}    credentials: {{key"),
            1,
        );
        let err = load(&text).expect_err("invalid").to_string();
        assert!(err.contains(expected), "{err}");
    }

    #[test]
    fn an_agent_rate_limit_is_checked_at_its_path() {
        let text = base().replacen(
            "key_sha256: c48a",
            "rate_limit: {per_minute: 0}, key_sha256: c48a",
            1,
        );
        let err = load(&text).expect_err("invalid").to_string();
        assert!(
            err.contains("agents[0].rate_limit.per_minute: must be 1 to 6000000"),
            "{err}"
        );
    }

    #[test]
    fn redis_settings_are_checked_and_their_password_comes_from_the_environment() {
        let with = |yaml: &str| {
            base().replacen(
                "mapping: hotels.yaml",
                &format!("mapping: hotels.yaml\n{yaml}"),
                1,
            )
        };
        let c = load(&with(
            "cache:\n  redis: {url: \"redis://:${HB_SECRET}@127.0.0.1:6379/0\"}",
        ))
        .expect("valid");
        let r = c.cache.redis.as_ref().expect("redis");
        assert_eq!(r.url, "redis://:s3cr3t@127.0.0.1:6379/0");
        assert_eq!((r.pool_size, r.key_prefix.as_str()), (2, "arigate:"));
        assert_eq!(r.timeout.0, Duration::from_millis(30));
        assert!(
            !format!("{c:?}").contains("s3cr3t"),
            "the Redis password leaked"
        );
        assert_eq!(r.redacted_url(), "redis://***@127.0.0.1:6379/0");
        for (yaml, expected) in [
            (
                "cache:\n  redis: {url: \"rediss://h:6380\"}",
                "cache.redis.url: TLS",
            ),
            (
                "cache:\n  redis: {url: \"http://h:6379\"}",
                "cache.redis.url: must read",
            ),
            (
                "cache:\n  redis: {url: \"redis://\"}",
                "cache.redis.url: must read",
            ),
            (
                "cache:\n  redis: {url: \"redis://h\", timeout: 5s}",
                "cache.redis.timeout",
            ),
            (
                "cache:\n  redis: {url: \"redis://h\", pool_size: 0}",
                "cache.redis.pool_size",
            ),
            (
                "cache:\n  refresh_ahead: {before_expiry: 1.5}",
                "cache.refresh_ahead.before_expiry",
            ),
        ] {
            let err = load(&with(yaml)).expect_err(yaml).to_string();
            assert!(err.contains(expected), "{yaml}: {err}");
        }
    }

    #[test]
    fn supplier_pull_interval_and_quota_have_defaults_and_bounds() {
        let c = load(&base()).expect("valid");
        assert_eq!(c.suppliers[0].min_pull_interval, Duration::from_secs(10));
        assert_eq!(c.suppliers[0].rate_limit_rps, None);
        let text = base().replacen(
            "    endpoint: http://127.0.0.1:9101",
            "    endpoint: http://127.0.0.1:9101\n    min_pull_interval: 2s\n    rate_limit_rps: 5",
            1,
        );
        let c = load(&text).expect("valid");
        assert_eq!(c.suppliers[0].min_pull_interval, Duration::from_secs(2));
        assert_eq!(c.suppliers[0].rate_limit_rps, Some(5));
        let err = load(&text.replace("rate_limit_rps: 5", "rate_limit_rps: 0"))
            .expect_err("zero rps")
            .to_string();
        assert!(err.contains("suppliers[0].rate_limit_rps"), "{err}");
    }

    #[test]
    fn currency_conversion_does_not_round() {
        let c = load(&base()).expect("valid");
        let usd = c.currency.convert(Decimal::new(10000, 2), "EUR", "USD");
        assert_eq!(usd, Some(Decimal::new(10800, 2)));
        let back = c
            .currency
            .convert(Decimal::new(1, 0), "USD", "EUR")
            .expect("known");
        assert!(back.scale() > 2, "{back}");
        assert_eq!(c.currency.convert(Decimal::ONE, "EUR", "JPY"), None);
    }
}
