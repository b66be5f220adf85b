//! arigate configuration.
//!
//! The external schema ([`schema`]) is what operators write in YAML: `deny_unknown_fields`,
//! human durations (`300ms`, `1s`, `30m`), `${ENV}` references for secrets. [`load`] parses it and
//! validates it into [`Config`], an internal type that cannot be invalid: endpoints resolved to
//! socket addresses, secrets substituted, the hotel mapping loaded and cross-checked. Every error
//! names its path (`suppliers[2].credentials.secret: ...`).
#![forbid(unsafe_code)]

pub mod duration;
pub mod schema;
mod validate;

pub use validate::{
    load, load_str, AgentConfig, CircuitConfig, ClickHouseConfig, Config, ConfigError,
    CurrencyTable, HotelMapping, MappedHotel, RateLimitConfig, RequestLimits, RouteClass,
    SearchConfig, SupplierConfig, TokenConfig, TracesConfig,
};
