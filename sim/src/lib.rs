//! Simulated hotel suppliers, written from `shared/protocols/`, never from the connectors.
//!
//! Each protocol module implements [`Supplier`]: routing a request to an endpoint name and
//! operation, and answering it synchronously from [`SimState`]. The server in [`server`] adds what
//! every simulator shares: request counters, scenarios (delays, hangs, truncated bodies), the
//! `/__sim/` admin API and signed ARI webhooks.
#![forbid(unsafe_code)]

pub mod catalog;
pub mod derbysoft;
pub mod dida;
pub mod expedia_rapid;
pub mod hotelbeds;
pub mod ota_soap;
pub mod scenario;
pub mod server;
pub mod state;
pub mod world;

pub use scenario::{Op, Scenario};
pub use server::{start, SimHandle};
pub use state::SimState;

/// How a simulator authenticates clients (`--auth`; only `dida` honours basic and oauth1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SimAuth {
    #[default]
    Native,
    Basic,
    Oauth1,
}

/// Start-up options of one simulator.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// One of [`world::PROTOCOLS`].
    pub protocol: String,
    pub seed: u64,
    /// Where `POST /__sim/webhook` delivers signed ARI webhooks.
    pub webhook_url: Option<String>,
    pub webhook_secret: String,
    /// The credentials the simulator accepts (api key / username / client id / ClientID).
    pub key: String,
    /// The matching secret (signature secret / password / client secret / LicenseKey).
    pub secret: String,
    pub auth: SimAuth,
    /// DerbySoft access-token lifetime in seconds.
    pub token_ttl: u64,
}

impl SimOptions {
    /// Defaults from the specs' worked examples, so a connector configured from the same examples works.
    pub fn defaults(protocol: &str) -> SimOptions {
        let (key, secret) = match protocol {
            "hotelbeds" => ("4f8a2c1e9b7d4a03", "s3cr3tHB"),
            "expedia-rapid" => ("rapidkey123", "rapidsecret"),
            "ota-soap" => ("arigate_user", "0ta-Pa55"),
            "derbysoft" => ("arigate-distributor", "derby-secret"),
            _ => ("DidaApiTestID", "TestKey"),
        };
        SimOptions {
            protocol: protocol.to_string(),
            seed: 42,
            webhook_url: None,
            webhook_secret: format!("whsec_{}_demo", protocol.replace('-', "_")),
            key: key.to_string(),
            secret: secret.to_string(),
            auth: SimAuth::Native,
            token_ttl: 3600,
        }
    }
}

/// A request as a protocol handler sees it: body already read (and gunzipped), query split.
#[derive(Debug, Clone)]
pub struct SimRequest {
    pub method: String,
    pub path: String,
    /// Decoded query parameters in order (repeated names kept).
    pub query: Vec<(String, String)>,
    /// Raw query string (signatures need it).
    pub raw_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SimRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn query_all(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// What happens after the handler answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum After {
    #[default]
    Respond,
    /// Never answer (hold the connection 120 s): `commit_then_timeout` after storing the booking.
    Hang,
}

#[derive(Debug, Clone, Default)]
pub struct SimResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub after: After,
}

impl SimResponse {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> SimResponse {
        SimResponse {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            after: After::Respond,
        }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> SimResponse {
        SimResponse::new(status, "application/json", value.to_string())
    }

    pub fn xml(status: u16, body: impl Into<Vec<u8>>) -> SimResponse {
        SimResponse::new(status, "text/xml; charset=utf-8", body)
    }

    pub fn with_header(mut self, name: &str, value: &str) -> SimResponse {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn hang(mut self) -> SimResponse {
        self.after = After::Hang;
        self
    }
}

/// Which endpoint a request hit: `endpoint` names its counter, `op` decides which scenarios apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub endpoint: String,
    pub op: Op,
}

impl Route {
    pub fn new(endpoint: &str, op: Op) -> Route {
        Route {
            endpoint: endpoint.to_string(),
            op,
        }
    }
}

/// Failures that `server_error`, `auth_fail` and `rate_limited` make a simulator answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    ServerError,
    AuthFail,
    RateLimited,
}

/// One simulated supplier protocol.
pub trait Supplier: Send + Sync + 'static {
    /// Which endpoint this request is for; `None` answers 404 (and is counted as `unknown`).
    fn route(&self, req: &SimRequest) -> Option<Route>;

    /// Answers one request. Called after delay scenarios; must itself apply `auth_fail` semantics
    /// via strict auth checks, and the ARI scenarios (`price_up`, `sold_out_at_*`, `commit_then_timeout`).
    fn handle(
        &self,
        state: &SimState,
        route: &Route,
        req: &SimRequest,
        scenario: &Scenario,
    ) -> SimResponse;

    /// The protocol's own answer for a generic failure scenario.
    fn error_response(
        &self,
        state: &SimState,
        route: &Route,
        req: &SimRequest,
        kind: ErrorKind,
    ) -> SimResponse;
}

/// The protocol implementation for a protocol id.
pub fn supplier_for(protocol: &str) -> Option<Box<dyn Supplier>> {
    Some(match protocol {
        "hotelbeds" => Box::new(hotelbeds::Hotelbeds),
        "expedia-rapid" => Box::new(expedia_rapid::ExpediaRapid),
        "ota-soap" => Box::new(ota_soap::OtaSoap),
        "derbysoft" => Box::new(derbysoft::Derbysoft),
        "dida" => Box::new(dida::Dida),
        _ => return None,
    })
}
