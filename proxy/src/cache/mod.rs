//! The browse and static cache (DESIGN §1, §5): supplier legs of searches and hotel content go
//! through pingora-cache, one entry per (supplier, canonical leg request); transactional calls and
//! searches within 3 h of check-in never do. Policy (TTL, hotness, invalidations) lives in
//! `arigate_filters::cache_policy`; storage is [`memory::MemoryTier`].

pub mod memory;

use arigate_filters::cache_policy::{Hotness, Invalidations, TtlPolicy};
use memory::MemoryTier;
use pingora_cache::lock::{CacheKeyLockImpl, CacheLock};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How a leg's answer was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    Miss,
    Stale,
    Bypass,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::Miss => "miss",
            CacheStatus::Stale => "stale",
            CacheStatus::Bypass => "bypass",
        }
    }

    pub fn parse(s: &str) -> CacheStatus {
        match s {
            "hit" => CacheStatus::Hit,
            "stale" => CacheStatus::Stale,
            "miss" => CacheStatus::Miss,
            _ => CacheStatus::Bypass,
        }
    }
}

/// Lookup outcomes since start (exported as `arigate_cache_lookups_total`).
#[derive(Default)]
pub struct Lookups {
    pub hit: AtomicU64,
    pub miss: AtomicU64,
    pub stale: AtomicU64,
    pub bypass: AtomicU64,
}

impl Lookups {
    pub fn count(&self, s: CacheStatus) {
        let c = match s {
            CacheStatus::Hit => &self.hit,
            CacheStatus::Miss => &self.miss,
            CacheStatus::Stale => &self.stale,
            CacheStatus::Bypass => &self.bypass,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

pub struct BrowseCache {
    pub storage: &'static MemoryTier,
    pub lock: &'static CacheKeyLockImpl,
    pub policy: TtlPolicy,
    pub static_ttl: Duration,
    pub hotness: Hotness,
    pub invalidations: Invalidations,
    pub lookups: Lookups,
}

/// A leg answer that is a classified supplier error must not be cached.
fn admit(body: &[u8]) -> bool {
    !body.starts_with(b"{\"err\"")
}

impl BrowseCache {
    /// Storage and lock live as long as the process (pingora-cache wants `'static`).
    /// `longest_leg` is the longest a cache-filling leg may take: the lock outlives it, so a slow
    /// writer's lock never lapses into a second supplier call.
    pub fn new(
        budget_bytes: usize,
        policy: TtlPolicy,
        static_ttl: Duration,
        hot_per_minute: f64,
        longest_leg: Duration,
    ) -> BrowseCache {
        let longest = static_ttl.max(policy.max);
        let lock: Box<CacheKeyLockImpl> =
            CacheLock::new_boxed(longest_leg + Duration::from_secs(1));
        BrowseCache {
            storage: Box::leak(Box::new(MemoryTier::new(
                budget_bytes,
                Duration::ZERO,
                admit,
            ))),
            lock: Box::leak(lock),
            policy,
            static_ttl,
            hotness: Hotness::new(hot_per_minute, 100_000),
            invalidations: Invalidations::new(longest + Duration::from_secs(60), 100_000),
            lookups: Lookups::default(),
        }
    }
}
