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
    /// Worker threads of the edge. Default 2.
    #[serde(default = "default_threads")]
    pub threads: usize,
    pub tokens: TokensFile,
    #[serde(default)]
    pub search: SearchFile,
    #[serde(default)]
    pub limits: LimitsFile,
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
}

impl Default for LimitsFile {
    fn default() -> Self {
        LimitsFile {
            max_request_body_bytes: 64 * 1024,
            max_supplier_response_bytes: 8 * 1024 * 1024,
            idempotency_entries: 100_000,
            idempotency_ttl: HumanDuration(std::time::Duration::from_secs(24 * 3600)),
        }
    }
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
    /// Supplier code → that supplier's hotel code.
    pub codes: BTreeMap<String, String>,
}
