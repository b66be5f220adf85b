//! Per-agent request rate limits (issue #6): a GCRA (generic cell rate algorithm, the virtual
//! scheduling form of a token bucket) per key, so one agent's burst never touches another's quota.
//!
//! Each key keeps one number, its theoretical arrival time (TAT), updated with a compare-and-swap
//! under a shared read lock; a new key takes the write lock once. The table is bounded: when it is
//! full, keys whose bucket has refilled (TAT in the past, indistinguishable from a new key) are
//! pruned, and if none can be, the new key is refused rather than the table grown.
//!
//! The answer carries the values of the `RateLimit-Policy` and `RateLimit` fields of
//! draft-ietf-httpapi-ratelimit-headers (-10/-11: a structured-field list of items with `q`/`w`
//! and `r`/`t` parameters) and of `Retry-After` (RFC 9110 §10.2.3) for a refused request.
//! Time is a parameter, so tests run on virtual time.

use arigate_config::RateLimitConfig;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Name of the one quota policy in the header fields.
pub const POLICY_NAME: &str = "default";
/// Window the policy's quota is expressed over (`w`), in seconds.
const WINDOW_SECS: u64 = 60;
const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Whether a request may proceed, with what the header fields say about the agent's quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed(RateStatus),
    /// Answer 429 with [`RateDecision::headers`].
    Limited(RateStatus),
}

/// The quota state after one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStatus {
    pub policy: RateLimitConfig,
    /// Requests the agent may still make at once (`r`).
    pub remaining: u32,
    /// Seconds within which it can use no more than `remaining` (`t`, §4.1.2): until its quota
    /// next grows.
    pub reset_secs: u64,
    /// For a refused request: seconds until a retry fits (`Retry-After`, never before `t`).
    pub retry_after_secs: Option<u64>,
}

impl RateDecision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, RateDecision::Allowed(_))
    }

    pub fn status(&self) -> &RateStatus {
        match self {
            RateDecision::Allowed(s) | RateDecision::Limited(s) => s,
        }
    }

    /// `Retry-After` seconds, for a refused request only.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            RateDecision::Allowed(_) => None,
            RateDecision::Limited(s) => s.retry_after_secs,
        }
    }

    /// `RateLimit-Policy`, e.g. `"default";q=60;w=60`.
    pub fn policy_header(&self) -> String {
        let p = self.status().policy;
        format!("\"{POLICY_NAME}\";q={};w={WINDOW_SECS}", p.per_minute)
    }

    /// `RateLimit`, e.g. `"default";r=9;t=1`.
    pub fn ratelimit_header(&self) -> String {
        let s = self.status();
        format!("\"{POLICY_NAME}\";r={};t={}", s.remaining, s.reset_secs)
    }

    /// Every header field to add to the answer: both RateLimit fields, and `Retry-After` when
    /// the request was refused.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("ratelimit-policy", self.policy_header()),
            ("ratelimit", self.ratelimit_header()),
        ];
        if let Some(s) = self.retry_after_secs() {
            h.push(("retry-after", s.to_string()));
        }
        h
    }
}

struct Table {
    default: RateLimitConfig,
    policies: HashMap<String, RateLimitConfig>,
    /// Key → TAT in nanoseconds since `RateLimiter::epoch`.
    tats: HashMap<Box<str>, AtomicU64>,
}

/// Request rate limits keyed by agent id.
pub struct RateLimiter {
    epoch: Instant,
    max_keys: usize,
    table: RwLock<Table>,
}

fn ceil_secs(nanos: u64) -> u64 {
    nanos.div_ceil(NANOS_PER_SEC)
}

/// Nanoseconds between two admitted requests, and how far ahead of now the TAT may run.
fn spacing(p: RateLimitConfig) -> (u64, u64) {
    let interval = WINDOW_SECS * NANOS_PER_SEC / u64::from(p.per_minute.max(1));
    (interval, interval.saturating_mul(u64::from(p.burst.max(1))))
}

impl RateLimiter {
    /// `default` applies to keys without a policy of their own; at most `max_keys` keys are
    /// tracked at a time.
    pub fn new(
        default: RateLimitConfig,
        policies: HashMap<String, RateLimitConfig>,
        max_keys: usize,
        epoch: Instant,
    ) -> RateLimiter {
        RateLimiter {
            epoch,
            max_keys: max_keys.max(1),
            table: RwLock::new(Table {
                default,
                policies,
                tats: HashMap::new(),
            }),
        }
    }

    /// One limiter for the configured agents: `limits.rate_limit` by default, each agent's own
    /// where it has one.
    pub fn from_config(config: &arigate_config::Config, epoch: Instant) -> RateLimiter {
        let (default, policies) = Self::policies_of(config);
        RateLimiter::new(
            default,
            policies,
            (config.agents.len() * 2).max(1024),
            epoch,
        )
    }

    fn policies_of(
        config: &arigate_config::Config,
    ) -> (RateLimitConfig, HashMap<String, RateLimitConfig>) {
        let policies = config
            .agents
            .iter()
            .filter(|a| a.rate_limit != config.rate_limit)
            .map(|a| (a.id.clone(), a.rate_limit))
            .collect();
        (config.rate_limit, policies)
    }

    /// Applies a reloaded config's rates; every agent keeps what it has used so far.
    pub fn reconfigure(&self, config: &arigate_config::Config) {
        let (default, policies) = Self::policies_of(config);
        self.set_policies(default, policies);
    }

    /// Replaces the policies; every key keeps what it has used so far.
    pub fn set_policies(
        &self,
        default: RateLimitConfig,
        policies: HashMap<String, RateLimitConfig>,
    ) {
        let mut t = self.table.write();
        t.default = default;
        t.policies = policies;
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.table.read().tats.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The policy that applies to `key`.
    pub fn policy(&self, key: &str) -> RateLimitConfig {
        let t = self.table.read();
        t.policies.get(key).copied().unwrap_or(t.default)
    }

    /// Counts one request of `key` at `now`. A refused request uses no quota.
    pub fn check(&self, key: &str, now: Instant) -> RateDecision {
        let now_ns = u64::try_from(now.saturating_duration_since(self.epoch).as_nanos())
            .unwrap_or(u64::MAX / 2);
        {
            let t = self.table.read();
            let policy = t.policies.get(key).copied().unwrap_or(t.default);
            if let Some(tat) = t.tats.get(key) {
                return Self::gcra(tat, policy, now_ns);
            }
        }
        let mut t = self.table.write();
        let policy = t.policies.get(key).copied().unwrap_or(t.default);
        if !t.tats.contains_key(key) {
            if t.tats.len() >= self.max_keys {
                t.tats.retain(|_, tat| tat.load(Ordering::Relaxed) > now_ns);
            }
            if t.tats.len() >= self.max_keys {
                // Every tracked key is mid-burst: refuse rather than grow.
                return RateDecision::Limited(RateStatus {
                    policy,
                    remaining: 0,
                    reset_secs: 1,
                    retry_after_secs: Some(1),
                });
            }
            t.tats.insert(key.into(), AtomicU64::new(0));
        }
        match t.tats.get(key) {
            Some(tat) => Self::gcra(tat, policy, now_ns),
            None => RateDecision::Limited(RateStatus {
                policy,
                remaining: 0,
                reset_secs: 1,
                retry_after_secs: Some(1),
            }),
        }
    }

    fn gcra(tat: &AtomicU64, policy: RateLimitConfig, now_ns: u64) -> RateDecision {
        let (interval, tolerance) = spacing(policy);
        let mut current = tat.load(Ordering::Acquire);
        loop {
            let next = current.max(now_ns).saturating_add(interval);
            let backlog = next - now_ns;
            if backlog > tolerance {
                let wait = ceil_secs(backlog - tolerance).max(1);
                return RateDecision::Limited(RateStatus {
                    policy,
                    remaining: 0,
                    reset_secs: wait,
                    retry_after_secs: Some(wait),
                });
            }
            match tat.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    let spare = tolerance - backlog;
                    let remaining = u32::try_from(spare / interval).unwrap_or(u32::MAX);
                    return RateDecision::Allowed(RateStatus {
                        policy,
                        remaining,
                        reset_secs: ceil_secs(interval - spare % interval),
                        retry_after_secs: None,
                    });
                }
                Err(seen) => current = seen,
            }
        }
    }

    /// How long `key` must wait before its next request fits, without counting one.
    pub fn wait_time(&self, key: &str, now: Instant) -> Duration {
        let now_ns = u64::try_from(now.saturating_duration_since(self.epoch).as_nanos())
            .unwrap_or(u64::MAX / 2);
        let t = self.table.read();
        let policy = t.policies.get(key).copied().unwrap_or(t.default);
        let (interval, tolerance) = spacing(policy);
        let tat = t.tats.get(key).map_or(0, |tat| tat.load(Ordering::Acquire));
        let backlog = tat.max(now_ns).saturating_add(interval) - now_ns;
        Duration::from_nanos(backlog.saturating_sub(tolerance))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32, burst: u32) -> (RateLimiter, Instant) {
        let t0 = Instant::now();
        (
            RateLimiter::new(
                RateLimitConfig { per_minute, burst },
                HashMap::new(),
                100,
                t0,
            ),
            t0,
        )
    }

    fn allowed(l: &RateLimiter, key: &str, at: Instant, n: usize) -> usize {
        (0..n).filter(|_| l.check(key, at).is_allowed()).count()
    }

    #[test]
    fn a_burst_is_allowed_then_one_request_per_interval() {
        let (l, t0) = limiter(60, 10);
        assert_eq!(allowed(&l, "a", t0, 25), 10, "the burst, then refusals");
        let refused = l.check("a", t0);
        assert_eq!(refused.retry_after_secs(), Some(1));
        // 60/min refills one request a second.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(allowed(&l, "a", t1, 5), 1);
        let t5 = t0 + Duration::from_millis(5_500);
        assert_eq!(allowed(&l, "a", t5, 10), 4, "seconds 2..=5 refilled four");
        // After a full quiet refill the whole burst is back.
        let later = t0 + Duration::from_secs(60);
        assert_eq!(allowed(&l, "a", later, 20), 10);
    }

    #[test]
    fn over_a_minute_the_sustained_rate_holds() {
        let (l, t0) = limiter(60, 10);
        let mut ok = 0;
        // An agent hammering 20 requests a second for a minute.
        for tick in 0..(60 * 20) {
            if l.check("a", t0 + Duration::from_millis(tick * 50))
                .is_allowed()
            {
                ok += 1;
            }
        }
        // burst + one per second for the remaining 59.95 s.
        assert!((68..=70).contains(&ok), "{ok}");
    }

    #[test]
    fn one_agents_burst_never_affects_another() {
        let (l, t0) = limiter(60, 5);
        assert_eq!(allowed(&l, "greedy", t0, 1000), 5);
        assert!(!l.check("greedy", t0).is_allowed());
        // The other agent has its full burst at the same instant.
        assert_eq!(allowed(&l, "quiet", t0, 5), 5);
        let d = l.check("quiet", t0);
        assert!(!d.is_allowed(), "and is limited at its own quota only");
    }

    #[test]
    fn per_agent_policies_override_the_default() {
        let t0 = Instant::now();
        let l = RateLimiter::new(
            RateLimitConfig {
                per_minute: 60,
                burst: 2,
            },
            HashMap::from([(
                "big".to_string(),
                RateLimitConfig {
                    per_minute: 600,
                    burst: 20,
                },
            )]),
            100,
            t0,
        );
        assert_eq!(allowed(&l, "small", t0, 50), 2);
        assert_eq!(allowed(&l, "big", t0, 50), 20);
        // 600/min refills one every 100 ms.
        assert_eq!(allowed(&l, "big", t0 + Duration::from_millis(1000), 50), 10);
        let d = l.check("big", t0);
        assert_eq!(d.policy_header(), "\"default\";q=600;w=60");
    }

    #[test]
    fn headers_follow_the_ietf_draft() {
        let (l, t0) = limiter(60, 3);
        let first = l.check("a", t0);
        assert_eq!(
            first.headers(),
            vec![
                ("ratelimit-policy", "\"default\";q=60;w=60".to_string()),
                ("ratelimit", "\"default\";r=2;t=1".to_string()),
            ]
        );
        l.check("a", t0);
        l.check("a", t0);
        let refused = l.check("a", t0 + Duration::from_millis(200));
        assert!(!refused.is_allowed());
        // A retry after Retry-After fits; one earlier would not.
        assert_eq!(
            refused.headers(),
            vec![
                ("ratelimit-policy", "\"default\";q=60;w=60".to_string()),
                ("ratelimit", "\"default\";r=0;t=1".to_string()),
                ("retry-after", "1".to_string()),
            ]
        );
        assert!(!l.check("a", t0 + Duration::from_millis(900)).is_allowed());
        assert!(l.check("a", t0 + Duration::from_millis(1000)).is_allowed());
    }

    #[test]
    fn retry_after_rounds_up_and_never_undershoots() {
        // 7 per minute: one every 8.57 s.
        let (l, t0) = limiter(7, 1);
        assert!(l.check("a", t0).is_allowed());
        let refused = l.check("a", t0 + Duration::from_secs(1));
        let wait = refused.retry_after_secs().expect("refused");
        assert_eq!(wait, 8, "7.57 s rounds up");
        assert!(l
            .check("a", t0 + Duration::from_secs(1 + wait))
            .is_allowed());
        // The request at 9 s took the one slot: the next fits one interval later.
        assert_eq!(
            l.wait_time("a", t0 + Duration::from_secs(1 + wait)),
            Duration::from_nanos(60_000_000_000 / 7),
        );
    }

    #[test]
    fn refused_requests_use_no_quota() {
        let (l, t0) = limiter(60, 1);
        assert!(l.check("a", t0).is_allowed());
        for i in 0..100 {
            assert!(!l.check("a", t0 + Duration::from_millis(i * 9)).is_allowed());
        }
        assert!(l.check("a", t0 + Duration::from_secs(1)).is_allowed());
    }

    #[test]
    fn the_table_is_bounded_and_idle_keys_make_room() {
        let t0 = Instant::now();
        let l = RateLimiter::new(
            RateLimitConfig {
                per_minute: 60,
                burst: 1,
            },
            HashMap::new(),
            2,
            t0,
        );
        assert!(l.check("a", t0).is_allowed());
        assert!(l.check("b", t0).is_allowed());
        assert!(!l.check("c", t0).is_allowed(), "full of mid-burst keys");
        assert_eq!(l.len(), 2);
        // A second later a and b have refilled and are pruned for c.
        assert!(l.check("c", t0 + Duration::from_secs(2)).is_allowed());
        assert!(l.len() <= 2);
    }

    #[test]
    fn reconfigure_changes_rates_and_keeps_usage() {
        let (l, t0) = limiter(60, 2);
        assert_eq!(allowed(&l, "a", t0, 10), 2);
        l.set_policies(
            RateLimitConfig {
                per_minute: 60,
                burst: 2,
            },
            HashMap::from([(
                "a".to_string(),
                RateLimitConfig {
                    per_minute: 60,
                    burst: 5,
                },
            )]),
        );
        // Used 2 of the new 5.
        assert_eq!(allowed(&l, "a", t0, 10), 3);
    }

    #[test]
    fn concurrent_checks_never_exceed_the_burst() {
        let (l, t0) = limiter(1, 50);
        let l = std::sync::Arc::new(l);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || allowed(&l, "a", t0, 100))
            })
            .collect();
        let total: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
        assert_eq!(total, 50);
    }
}
