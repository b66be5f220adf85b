//! ClickHouse as the production trace store: schema management ([`ClickHouseStore::migrate`]),
//! retention, batched inserts for the sink's writer, and the [`TraceStore`] queries.
//!
//! Everything goes over the HTTP interface with the `clickhouse` crate in `RowBinary` with
//! validation and compression off: `RowBinary` input and output over HTTP exist since the first
//! public releases and are unchanged in current ones, while the crate's default
//! `RowBinaryWithNamesAndTypes` validation and its LZ4 framing need servers newer than Debian's
//! 18.16 (DESIGN §6). The schema uses only types and clauses 18.16 knows (`DateTime` plus a
//! millisecond column instead of `DateTime64`, `String` instead of `LowCardinality`, no codecs);
//! table `TTL` (ClickHouse ≥ 19.6) is added when the server supports it, and older servers get
//! the same retention from [`ClickHouseStore::enforce_retention`], which drops whole day
//! partitions.
//!
//! Tables (names configurable):
//! - `trace_events` — one row per span, `ORDER BY (trace_id, start_ms, span_id)`, partitioned by
//!   day: a trace is one primary-key range per day partition.
//! - `trace_events_index` — `(lookup_type, lookup_key) → trace_id` rows for bookings and hotels,
//!   `ReplacingMergeTree ORDER BY (lookup_type, lookup_key, trace_id)`, filled server-side by the
//!   materialized view `trace_events_index_mv` on every insert into `trace_events`; look-ups by
//!   booking or hotel read one key range here, then the few traces by primary key.
//!
//! For an operator at a `clickhouse-client` prompt (default names):
//! ```sql
//! -- one trace, in order
//! SELECT start_ms, event_type, supplier, status, duration_ms, error_detail
//! FROM arigate.trace_events WHERE trace_id = '…' ORDER BY start_ms;
//! -- every trace of a booking
//! SELECT DISTINCT trace_id FROM arigate.trace_events_index
//! WHERE lookup_type = 'booking' AND lookup_key = '…';
//! -- supplier error rate and p95 over the last hour
//! SELECT supplier, countIf(status != 'success') / count() AS err, quantile(0.95)(duration_ms) AS p95
//! FROM arigate.trace_events WHERE created_at > now() - 3600 AND event_type = 'supplier_query'
//! GROUP BY supplier ORDER BY err DESC;
//! ```

use std::time::Duration;

use async_trait::async_trait;
use clickhouse::{Client, Row};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};

use crate::span::{EventType, RelatedType, Span, SpanStatus, MAX_HOTELS_PER_SPAN};
use crate::store::{
    order_story, StoreError, TraceStore, MAX_SPANS_PER_QUERY, MAX_TRACES_PER_HOTEL_QUERY,
};

/// Where and how to reach ClickHouse, and how long to keep spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickHouseConfig {
    /// HTTP interface base URL, e.g. `http://127.0.0.1:8123`.
    pub url: String,
    /// User (`X-ClickHouse-User`); `None` for the server's default user.
    pub user: Option<String>,
    /// Password (`X-ClickHouse-Key`).
    pub password: Option<String>,
    /// Database, created by [`ClickHouseStore::migrate`].
    pub database: String,
    /// Span table; the index table and view take its name plus `_index` / `_index_mv`.
    pub table: String,
    /// Days spans are kept (TTL on ≥ 19.6, day-partition drops everywhere).
    pub retention_days: u32,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Timeout for one query or one batch insert.
    pub query_timeout: Duration,
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        ClickHouseConfig {
            url: "http://127.0.0.1:8123".to_string(),
            user: None,
            password: None,
            database: "arigate".to_string(),
            table: "trace_events".to_string(),
            retention_days: 14,
            connect_timeout: Duration::from_secs(2),
            query_timeout: Duration::from_secs(10),
        }
    }
}

/// A ClickHouse operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClickHouseError {
    /// A database or table name is not a plain identifier.
    #[error("invalid ClickHouse identifier {0:?}: use letters, digits and '_'")]
    InvalidIdentifier(String),
    /// Retention must keep at least one day.
    #[error("retention_days must be at least 1")]
    InvalidRetention,
    /// The server, network or query failed.
    #[error("ClickHouse: {0}")]
    Client(#[from] clickhouse::error::Error),
    /// No answer within the configured timeout.
    #[error("ClickHouse did not answer within {0:?}")]
    Timeout(Duration),
    /// The table exists with an older or foreign layout.
    #[error("ClickHouse table {table} lacks columns {missing:?}; migrate it by hand (ALTER TABLE … ADD COLUMN) or pick another table name")]
    SchemaMismatch {
        /// The table.
        table: String,
        /// Columns this build writes that the table lacks.
        missing: Vec<String>,
    },
    /// `SELECT version()` gave something unexpected.
    #[error("cannot parse ClickHouse version {0:?}")]
    Version(String),
}

impl From<ClickHouseError> for StoreError {
    fn from(e: ClickHouseError) -> Self {
        match e {
            ClickHouseError::Timeout(_) => StoreError::Timeout,
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

/// The server's version, as `SELECT version()` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerVersion {
    /// Major (18, 19, … 24, 25).
    pub major: u32,
    /// Minor.
    pub minor: u32,
}

impl ServerVersion {
    /// Parses `18.16.1`, `24.8.4.13`, `25.3.1.2703-lts`.
    pub fn parse(s: &str) -> Option<ServerVersion> {
        let mut it = s.trim().split(['.', '-']);
        let major = it.next()?.parse().ok()?;
        let minor = it.next()?.parse().ok()?;
        Some(ServerVersion { major, minor })
    }

    /// Table-level `TTL` arrived in 19.6.
    pub fn supports_table_ttl(self) -> bool {
        self >= ServerVersion {
            major: 19,
            minor: 6,
        }
    }
}

/// What [`ClickHouseStore::migrate`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// The server version.
    pub version: ServerVersion,
    /// Whether retention is a table TTL (else partition drops by the writer).
    pub ttl: bool,
    /// Day partitions dropped for retention during this run.
    pub partitions_dropped: usize,
}

/// One `trace_events` row, as written and read in `RowBinary`.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub(crate) struct SpanRow {
    pub created_at: u32,
    pub start_ms: u64,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub event_type: String,
    pub service: String,
    pub related_type: String,
    pub related_id: String,
    pub supplier: Option<String>,
    pub booking_id: String,
    pub hotel_ids: Vec<String>,
    pub agent_id: String,
    pub request_data: String,
    pub response_data: String,
    pub duration_ms: u32,
    pub status: String,
    pub error_detail: String,
    pub attributes: String,
}

/// Column names and types, in table order; `SpanRow` has the same fields.
const COLUMNS: &[(&str, &str)] = &[
    ("created_at", "DateTime"),
    ("start_ms", "UInt64"),
    ("trace_id", "String"),
    ("span_id", "String"),
    ("parent_span_id", "String"),
    ("event_type", "String"),
    ("service", "String"),
    ("related_type", "String"),
    ("related_id", "String"),
    ("supplier", "Nullable(String)"),
    ("booking_id", "String"),
    ("hotel_ids", "Array(String)"),
    ("agent_id", "String"),
    ("request_data", "String"),
    ("response_data", "String"),
    ("duration_ms", "UInt32"),
    ("status", "String"),
    ("error_detail", "String"),
    ("attributes", "String"),
];

impl SpanRow {
    /// Converts a (already redacted) span into a row.
    pub(crate) fn from_span(s: Span) -> SpanRow {
        let mut hotel_ids = s.hotel_ids;
        hotel_ids.truncate(MAX_HOTELS_PER_SPAN);
        SpanRow {
            created_at: u32::try_from(s.start_ms / 1000).unwrap_or(u32::MAX),
            start_ms: s.start_ms,
            trace_id: s.trace_id,
            span_id: s.span_id,
            parent_span_id: s.parent_span_id.unwrap_or_default(),
            event_type: s.event_type.as_str().to_string(),
            service: s.service,
            related_type: s
                .related_type
                .map(|r| r.as_str().to_string())
                .unwrap_or_default(),
            related_id: s.related_id,
            supplier: s.supplier,
            booking_id: s.booking_id.unwrap_or_default(),
            hotel_ids,
            agent_id: s.agent_id.unwrap_or_default(),
            request_data: s.request_data,
            response_data: s.response_data,
            duration_ms: s.duration_ms,
            status: s.status.as_str().to_string(),
            error_detail: s.error_detail,
            attributes: if s.attributes.is_empty() {
                String::new()
            } else {
                serde_json::to_string(&s.attributes).unwrap_or_default()
            },
        }
    }

    /// Converts a stored row back into a span (unknown enum values are kept leniently).
    pub(crate) fn into_span(self) -> Span {
        let non_empty = |s: String| if s.is_empty() { None } else { Some(s) };
        let mut span = Span::begin(
            self.trace_id,
            None,
            EventType::parse_lenient(&self.event_type),
        )
        .with_span_id(self.span_id)
        .with_start_ms(self.start_ms)
        .with_duration_ms(self.duration_ms)
        .with_service(self.service);
        span.parent_span_id = non_empty(self.parent_span_id);
        span.related_type = self.related_type.parse::<RelatedType>().ok();
        span.related_id = self.related_id;
        span.supplier = self.supplier;
        span.booking_id = non_empty(self.booking_id);
        span.hotel_ids = self.hotel_ids;
        span.agent_id = non_empty(self.agent_id);
        span.request_data = self.request_data;
        span.response_data = self.response_data;
        span.status = self.status.parse().unwrap_or(SpanStatus::Error);
        span.error_detail = self.error_detail;
        span.attributes = serde_json::from_str(&self.attributes).unwrap_or_default();
        span
    }
}

#[derive(Debug, Row, Deserialize)]
struct TraceHit {
    trace_id: String,
    #[allow(dead_code)]
    last_ms: u64,
}

/// The ClickHouse-backed trace store: migrations, retention, inserts and queries.
#[derive(Clone)]
pub struct ClickHouseStore {
    client: Client,
    cfg: ClickHouseConfig,
    events: String,
    index: String,
    view: String,
}

impl std::fmt::Debug for ClickHouseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseStore")
            .field("url", &self.cfg.url)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

fn check_ident(name: &str) -> Result<(), ClickHouseError> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64;
    if ok {
        Ok(())
    } else {
        Err(ClickHouseError::InvalidIdentifier(name.to_string()))
    }
}

/// A ClickHouse string literal.
fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

impl ClickHouseStore {
    /// A store for `cfg`. Validates names; does not connect (the first query does).
    pub fn new(cfg: ClickHouseConfig) -> Result<ClickHouseStore, ClickHouseError> {
        check_ident(&cfg.database)?;
        check_ident(&cfg.table)?;
        if cfg.retention_days == 0 {
            return Err(ClickHouseError::InvalidRetention);
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(cfg.connect_timeout));
        connector.set_nodelay(true);
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(2))
            .build(connector);
        let mut client = Client::with_http_client(http)
            .with_url(cfg.url.clone())
            .with_validation(false)
            .with_compression(clickhouse::Compression::None);
        if let Some(u) = &cfg.user {
            client = client.with_user(u.clone());
        }
        if let Some(p) = &cfg.password {
            client = client.with_password(p.clone());
        }
        let q = |t: &str| format!("`{}`.`{t}`", cfg.database);
        Ok(ClickHouseStore {
            events: q(&cfg.table),
            index: q(&format!("{}_index", cfg.table)),
            view: q(&format!("{}_index_mv", cfg.table)),
            client,
            cfg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClickHouseConfig {
        &self.cfg
    }

    async fn timed<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, clickhouse::error::Error>>,
    ) -> Result<T, ClickHouseError> {
        match tokio::time::timeout(self.cfg.query_timeout, fut).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(ClickHouseError::Timeout(self.cfg.query_timeout)),
        }
    }

    async fn execute(&self, sql: &str) -> Result<(), ClickHouseError> {
        self.timed(self.client.query(sql).execute()).await
    }

    /// `SELECT version()`.
    pub async fn server_version(&self) -> Result<ServerVersion, ClickHouseError> {
        let v: String = self
            .timed(self.client.query("SELECT version()").fetch_one())
            .await?;
        ServerVersion::parse(&v).ok_or(ClickHouseError::Version(v))
    }

    /// Whether the server answers.
    pub async fn ping(&self) -> bool {
        self.execute("SELECT 1").await.is_ok()
    }

    /// The `CREATE` statements for this configuration and server version, in order.
    pub fn ddl(&self, version: ServerVersion) -> Vec<String> {
        let ttl = if version.supports_table_ttl() {
            format!("TTL created_at + INTERVAL {} DAY ", self.cfg.retention_days)
        } else {
            String::new()
        };
        let cols = COLUMNS
            .iter()
            .map(|(n, t)| format!("    {n} {t}"))
            .collect::<Vec<_>>()
            .join(",\n");
        vec![
            format!("CREATE DATABASE IF NOT EXISTS `{}`", self.cfg.database),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (\n{cols}\n) ENGINE = MergeTree \
                 PARTITION BY toYYYYMMDD(created_at) ORDER BY (trace_id, start_ms, span_id) \
                 {ttl}SETTINGS index_granularity = 1024",
                self.events
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {} (\n    created_at DateTime,\n    lookup_type String,\n    \
                 lookup_key String,\n    trace_id String,\n    start_ms UInt64\n) ENGINE = ReplacingMergeTree \
                 PARTITION BY toYYYYMMDD(created_at) ORDER BY (lookup_type, lookup_key, trace_id) \
                 {ttl}SETTINGS index_granularity = 1024",
                self.index
            ),
            format!(
                "CREATE MATERIALIZED VIEW IF NOT EXISTS {} TO {} AS SELECT created_at, lookup_type, \
                 lookup_key, trace_id, start_ms FROM {} ARRAY JOIN \
                 arrayConcat(if(booking_id = '', emptyArrayString(), [booking_id]), hotel_ids) AS lookup_key, \
                 arrayConcat(if(booking_id = '', emptyArrayString(), ['booking']), arrayMap(h -> 'hotel', hotel_ids)) AS lookup_type",
                self.view, self.index, self.events
            ),
        ]
    }

    /// Creates the database, tables and view when missing (idempotent), checks an existing span
    /// table has every column this build writes, and applies retention once. The binary runs it
    /// as `arigate migrate` and at start.
    pub async fn migrate(&self) -> Result<MigrationReport, ClickHouseError> {
        let version = self.server_version().await?;
        let mut ddl = self.ddl(version);
        let view = ddl.pop();
        for stmt in ddl {
            self.execute(&stmt).await?;
        }
        let have: Vec<String> = self
            .timed(
                self.client
                    .query("SELECT name FROM system.columns WHERE database = ? AND table = ?")
                    .bind(&self.cfg.database)
                    .bind(&self.cfg.table)
                    .fetch_all(),
            )
            .await?;
        let missing: Vec<String> = COLUMNS
            .iter()
            .filter(|(n, _)| !have.iter().any(|h| h == n))
            .map(|(n, _)| (*n).to_string())
            .collect();
        if !missing.is_empty() {
            return Err(ClickHouseError::SchemaMismatch {
                table: self.events.clone(),
                missing,
            });
        }
        if let Some(view) = view {
            self.execute(&view).await?;
        }
        let ttl = version.supports_table_ttl();
        if !ttl {
            tracing::info!(
                version = %format!("{}.{}", version.major, version.minor),
                retention_days = self.cfg.retention_days,
                "ClickHouse before 19.6 has no table TTL: retention by dropping day partitions"
            );
        }
        let partitions_dropped = self.enforce_retention().await?;
        Ok(MigrationReport {
            version,
            ttl,
            partitions_dropped,
        })
    }

    /// Drops day partitions older than the retention from both tables; returns how many. Works on
    /// every version (partitions are `toYYYYMMDD(created_at)` in the server's time zone); the
    /// writer calls it periodically on servers without table TTL.
    pub async fn enforce_retention(&self) -> Result<usize, ClickHouseError> {
        let cutoff: u32 = self
            .timed(
                self.client
                    .query("SELECT toYYYYMMDD(today() - ?)")
                    .bind(self.cfg.retention_days)
                    .fetch_one(),
            )
            .await?;
        let mut dropped = 0;
        let index_table = format!("{}_index", self.cfg.table);
        for (table, qualified) in [
            (self.cfg.table.as_str(), &self.events),
            (index_table.as_str(), &self.index),
        ] {
            let parts: Vec<String> = self
                .timed(
                    self.client
                        .query(
                            "SELECT DISTINCT partition FROM system.parts \
                             WHERE database = ? AND table = ? AND active",
                        )
                        .bind(&self.cfg.database)
                        .bind(table)
                        .fetch_all(),
                )
                .await?;
            for p in parts {
                let Ok(day) = p.trim_matches('\'').parse::<u32>() else {
                    continue;
                };
                if day < cutoff {
                    self.execute(&format!("ALTER TABLE {qualified} DROP PARTITION {day}"))
                        .await?;
                    dropped += 1;
                }
            }
        }
        if dropped > 0 {
            tracing::info!(dropped, cutoff, "dropped expired trace partitions");
        }
        Ok(dropped)
    }

    /// Inserts one batch (one `INSERT … FORMAT RowBinary`); all or nothing from the caller's view,
    /// retried whole by the writer.
    pub(crate) async fn insert_rows(&self, rows: &[SpanRow]) -> Result<(), ClickHouseError> {
        let t = self.cfg.query_timeout;
        let fut = async {
            let mut ins = self
                .client
                .insert_unescaped::<SpanRow>(&self.events)
                .await?
                .with_timeouts(Some(t), Some(t));
            for r in rows {
                ins.write(r).await?;
            }
            ins.end().await
        };
        self.timed(fut).await
    }

    async fn spans_in(&self, traces: &[String]) -> Result<Vec<Span>, ClickHouseError> {
        if traces.is_empty() {
            return Ok(Vec::new());
        }
        let list = traces.iter().map(|t| lit(t)).collect::<Vec<_>>().join(",");
        let sql = format!(
            "SELECT ?fields FROM {} WHERE trace_id IN ({list}) ORDER BY start_ms, span_id LIMIT {}",
            self.events, MAX_SPANS_PER_QUERY
        );
        let rows: Vec<SpanRow> = self.timed(self.client.query(&sql).fetch_all()).await?;
        Ok(rows.into_iter().map(SpanRow::into_span).collect())
    }

    async fn traces_for(
        &self,
        lookup_type: &str,
        key: &str,
        limit: usize,
    ) -> Result<Vec<String>, ClickHouseError> {
        let sql = format!(
            "SELECT trace_id, max(start_ms) AS last_ms FROM {} WHERE lookup_type = ? AND lookup_key = ? \
             GROUP BY trace_id ORDER BY last_ms DESC LIMIT {limit}",
            self.index
        );
        let hits: Vec<TraceHit> = self
            .timed(
                self.client
                    .query(&sql)
                    .bind(lookup_type)
                    .bind(key)
                    .fetch_all(),
            )
            .await?;
        Ok(hits.into_iter().map(|h| h.trace_id).collect())
    }
}

#[async_trait]
impl TraceStore for ClickHouseStore {
    async fn spans_by_trace(&self, trace_id: &str) -> Result<Vec<Span>, StoreError> {
        Ok(order_story(self.spans_in(&[trace_id.to_string()]).await?))
    }

    async fn traces_by_booking(
        &self,
        booking_id: &str,
        linked: &[&str],
    ) -> Result<Vec<Span>, StoreError> {
        let mut traces = self.traces_for("booking", booking_id, 1000).await?;
        for t in linked {
            if !t.is_empty() && !traces.iter().any(|x| x == t) {
                traces.push(t.to_string());
            }
        }
        Ok(order_story(self.spans_in(&traces).await?))
    }

    async fn traces_by_hotel(&self, hotel_id: &str, limit: usize) -> Result<Vec<Span>, StoreError> {
        let limit = limit.clamp(1, MAX_TRACES_PER_HOTEL_QUERY);
        let traces = self.traces_for("hotel", hotel_id, limit).await?;
        Ok(order_story(self.spans_in(&traces).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        let v = |s| ServerVersion::parse(s).unwrap();
        assert!(!v("18.16.1").supports_table_ttl());
        assert!(!v("19.5.3.8").supports_table_ttl());
        assert!(v("19.6.2.11").supports_table_ttl());
        assert!(v("24.8.4.13").supports_table_ttl());
        assert!(v("25.3.1.2703-lts").supports_table_ttl());
        assert!(ServerVersion::parse("garbage").is_none());
    }

    #[test]
    fn identifiers_and_literals() {
        let bad = ClickHouseConfig {
            table: "spans; DROP TABLE x".into(),
            ..ClickHouseConfig::default()
        };
        assert!(matches!(
            ClickHouseStore::new(bad),
            Err(ClickHouseError::InvalidIdentifier(_))
        ));
        assert_eq!(lit(r"a'b\c"), r"'a\'b\\c'");
    }

    #[tokio::test]
    async fn ddl_has_ttl_only_where_supported() {
        let store = ClickHouseStore::new(ClickHouseConfig::default()).unwrap();
        let old = store
            .ddl(ServerVersion {
                major: 18,
                minor: 16,
            })
            .join("\n");
        let new = store
            .ddl(ServerVersion {
                major: 24,
                minor: 8,
            })
            .join("\n");
        assert!(!old.contains("TTL"));
        assert!(new.contains("TTL created_at + INTERVAL 14 DAY"));
        for ddl in [&old, &new] {
            assert!(!ddl.contains("DateTime64") && !ddl.contains("LowCardinality"));
        }
    }

    #[test]
    fn row_round_trip() {
        let span = Span::begin("t", Some("p"), EventType::Book)
            .with_span_id("s")
            .with_start_ms(1_700_000_000_123)
            .with_duration_ms(42)
            .with_supplier("dida")
            .with_booking("B")
            .with_hotels(["H1", "H2"])
            .with_agent("A")
            .with_related(RelatedType::Order, "B")
            .with_attr("http_status", "201")
            .failed(SpanStatus::Timeout, "slow");
        let row = SpanRow::from_span(span.clone());
        assert_eq!(row.created_at, 1_700_000_000);
        assert_eq!(row.into_span(), span);
    }
}
