//! Sans-IO supplier connectors.
//!
//! Each module under this crate translates between the unified model ([`model`]) and one supplier
//! wire protocol (`shared/protocols/<id>.md`): it builds the supplier request for a [`Call`],
//! signs it, and reads the supplier's answer into a [`Reply`] or a classified [`SupplierError`].
//! Nothing here opens a socket or reads a clock: the proxy passes time and nonces in
//! [`CallContext`] and runs every call as a Pingora upstream request.
#![forbid(unsafe_code)]

pub mod auth;
pub mod derbysoft;
pub mod dida;
pub mod error;
pub mod expedia_rapid;
pub mod fuzz;
pub mod hotelbeds;
mod json_util;
pub mod model;
pub mod normalize;
pub mod ota_soap;
#[cfg(test)]
mod testkit;
pub mod wire;

pub use error::{ErrorClass, SupplierError, SupplierResult};
pub use model::*;
pub use wire::{Method, WireRequest, WireResponse};

use serde::{Deserialize, Serialize};

/// The five wire protocols (`shared/protocols/README.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    Hotelbeds,
    ExpediaRapid,
    OtaSoap,
    Derbysoft,
    Dida,
}

impl Protocol {
    pub const ALL: [Protocol; 5] = [
        Protocol::Hotelbeds,
        Protocol::ExpediaRapid,
        Protocol::OtaSoap,
        Protocol::Derbysoft,
        Protocol::Dida,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Hotelbeds => "hotelbeds",
            Protocol::ExpediaRapid => "expedia-rapid",
            Protocol::OtaSoap => "ota-soap",
            Protocol::Derbysoft => "derbysoft",
            Protocol::Dida => "dida",
        }
    }

    pub fn parse(s: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How requests are authenticated. `Native` is the protocol's own scheme; any JSON protocol may
/// instead be configured with HTTP Basic or two-legged OAuth 1.0a HMAC-SHA1 (RFC 5849).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    #[default]
    Native,
    Basic,
    Oauth1,
}

/// A supplier's credentials, already resolved from `${ENV}` references. Each protocol reads them
/// in its own terms: Hotelbeds/Rapid api key + secret, OTA username + password, DerbySoft
/// client id + secret, Dida ClientID + LicenseKey. Basic uses key:secret; OAuth 1.0a uses them as
/// consumer key and consumer secret. `account` is DerbySoft's `distributorId`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub key: String,
    pub secret: String,
    pub account: Option<String>,
    pub mode: AuthMode,
}

impl std::fmt::Debug for Credentials {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("key", &self.key)
            .field("secret", &"<redacted>")
            .field("account", &self.account)
            .field("mode", &self.mode)
            .finish()
    }
}

/// Per-call inputs a pure function cannot make itself.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    /// Unix seconds now (signatures, timestamps).
    pub now: i64,
    /// A fresh random nonce (OAuth 1.0a, correlation ids).
    pub nonce: &'a str,
    /// The supplier's base URL without trailing slash, e.g. `http://127.0.0.1:9105` (OAuth 1.0a signs it).
    pub base_url: &'a str,
    /// A cached OAuth2 bearer token, for protocols that need one.
    pub bearer: Option<&'a str>,
    /// The end customer's IP address (Rapid requires `Customer-Ip`).
    pub customer_ip: &'a str,
}

/// What must happen before the book call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookPrelude {
    /// Book directly.
    None,
    /// Send [`Call::Prepare`] first and pass its result to [`Call::Book`].
    Prepare,
}

/// What must happen before the cancel call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelPrelude {
    /// Cancel directly.
    None,
    /// Retrieve first; the retrieved booking's key (with the cancel link) is what to cancel.
    Retrieve,
    /// Ask for a quote first ([`Call::CancelQuote`]) and confirm it ([`Call::Cancel`] with `confirm`).
    Quote,
}

/// One supplier protocol, as pure translation.
pub trait Connector: Send + Sync {
    fn protocol(&self) -> Protocol;

    /// Builds the supplier request for `call`, signed. Runs in the upstream request phase.
    /// An `Err` means the call cannot be expressed in this protocol (the call is not sent).
    fn build(&self, call: &Call, cx: &CallContext<'_>) -> SupplierResult<WireRequest>;

    /// Reads the supplier's answer to `call`. Runs once the whole response body has arrived.
    /// Every failure, including an HTTP or protocol error body, becomes a classified error.
    fn parse(&self, call: &Call, resp: &WireResponse) -> SupplierResult<Reply>;

    /// Whether `build` needs [`CallContext::bearer`] (then the proxy obtains one with [`Call::Token`]).
    fn needs_bearer(&self) -> bool {
        false
    }

    /// Whether this supplier can answer `query` at all (e.g. one occupancy shape for all rooms).
    fn supports(&self, query: &SearchQuery) -> bool {
        let _ = query;
        true
    }

    /// What the book flow sends before [`Call::Book`] for this offer.
    fn book_prelude(&self, offer: &OfferKey) -> BookPrelude;

    /// What the cancel flow sends before [`Call::Cancel`].
    fn cancel_prelude(&self) -> CancelPrelude {
        CancelPrelude::None
    }

    /// Whether the price of the offer with this key includes taxes, as its supplier quoted it
    /// (see `SupplierOffer::taxes_included`): what re-check answers report.
    fn taxes_included(&self, offer: &OfferKey) -> bool {
        let _ = offer;
        true
    }
}

/// Builds the connector for a protocol; every error it returns is [`SupplierError::sanitized`].
pub fn connector_for(protocol: Protocol, credentials: Credentials) -> Box<dyn Connector> {
    let inner: Box<dyn Connector> = match protocol {
        Protocol::Hotelbeds => Box::new(hotelbeds::Hotelbeds::new(credentials.clone())),
        Protocol::ExpediaRapid => Box::new(expedia_rapid::ExpediaRapid::new(credentials.clone())),
        Protocol::OtaSoap => Box::new(ota_soap::OtaSoap::new(credentials.clone())),
        Protocol::Derbysoft => Box::new(derbysoft::Derbysoft::new(credentials.clone())),
        Protocol::Dida => Box::new(dida::Dida::new(credentials.clone())),
    };
    Box::new(Sanitizing { inner, credentials })
}

/// A connector whose errors are safe to show (found by fuzzing: suppliers' error codes and
/// parser messages carried control characters, unbounded supplier text and echoed credentials).
/// Delegates every trait method, overridden or not.
struct Sanitizing {
    inner: Box<dyn Connector>,
    credentials: Credentials,
}

impl Connector for Sanitizing {
    fn protocol(&self) -> Protocol {
        self.inner.protocol()
    }

    fn build(&self, call: &Call, cx: &CallContext<'_>) -> SupplierResult<WireRequest> {
        self.inner
            .build(call, cx)
            .map_err(|e| e.sanitized(&self.credentials))
    }

    fn parse(&self, call: &Call, resp: &WireResponse) -> SupplierResult<Reply> {
        self.inner
            .parse(call, resp)
            .map_err(|e| e.sanitized(&self.credentials))
    }

    fn needs_bearer(&self) -> bool {
        self.inner.needs_bearer()
    }

    fn supports(&self, query: &SearchQuery) -> bool {
        self.inner.supports(query)
    }

    fn book_prelude(&self, offer: &OfferKey) -> BookPrelude {
        self.inner.book_prelude(offer)
    }

    fn cancel_prelude(&self) -> CancelPrelude {
        self.inner.cancel_prelude()
    }

    fn taxes_included(&self, offer: &OfferKey) -> bool {
        self.inner.taxes_included(offer)
    }
}
