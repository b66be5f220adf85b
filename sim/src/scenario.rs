//! Simulator scenarios (`shared/protocols/README.md`, "Scenario header"): set per request with
//! `X-Sim-Scenario` or as a default through `POST /__sim/scenario`.

use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq)]
pub enum Scenario {
    Ok,
    /// Answer after this many milliseconds.
    Slow(u64),
    /// Never answer; hold the connection 120 s.
    Timeout,
    /// 500 with the protocol's error body.
    ServerError,
    /// 200 with a truncated body.
    MalformedBody,
    AuthFail,
    RateLimited,
    /// The re-check / quote returns a price higher by this percentage.
    PriceUp(Decimal),
    SoldOutAtRecheck,
    SoldOutAtBook,
    /// Store the booking, then never answer the book request.
    CommitThenTimeout,
    /// Abort the connection with a TCP reset instead of answering (nothing is processed).
    Reset,
    /// Process the request, then answer 200 with bytes that are no protocol at all.
    Garbage,
}

impl Scenario {
    pub fn parse(s: &str) -> Option<Scenario> {
        let s = s.trim();
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (s, None),
        };
        Some(match (name, arg) {
            ("ok", None) => Scenario::Ok,
            ("slow", Some(ms)) => Scenario::Slow(ms.parse().ok()?),
            ("timeout", None) => Scenario::Timeout,
            ("server_error", None) => Scenario::ServerError,
            ("malformed_body", None) => Scenario::MalformedBody,
            ("auth_fail", None) => Scenario::AuthFail,
            ("rate_limited", None) => Scenario::RateLimited,
            ("price_up", Some(pct)) => Scenario::PriceUp(pct.parse().ok()?),
            ("sold_out_at_recheck", None) => Scenario::SoldOutAtRecheck,
            ("sold_out_at_book", None) => Scenario::SoldOutAtBook,
            ("commit_then_timeout", None) => Scenario::CommitThenTimeout,
            ("reset", None) => Scenario::Reset,
            ("garbage", None) => Scenario::Garbage,
            _ => return None,
        })
    }
}

/// The operation names a scenario can be limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Search,
    Recheck,
    Book,
    Retrieve,
    Cancel,
    Content,
    /// Token endpoints and status pings: never subject to scenarios limited by operation.
    Other,
}

impl Op {
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "search" => Op::Search,
            "recheck" => Op::Recheck,
            "book" => Op::Book,
            "retrieve" => Op::Retrieve,
            "cancel" => Op::Cancel,
            "content" => Op::Content,
            _ => return None,
        })
    }
}

/// The default scenario with the operations it applies to (`None`: all).
#[derive(Debug, Clone, PartialEq)]
pub struct DefaultScenario {
    pub scenario: Scenario,
    pub operations: Option<Vec<Op>>,
}

impl DefaultScenario {
    pub fn applies_to(&self, op: Op) -> bool {
        match &self.operations {
            None => true,
            Some(ops) => ops.contains(&op),
        }
    }
}
