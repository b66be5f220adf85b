//! The browse and static cache (DESIGN §1, §5): supplier legs of searches and hotel content go
//! through pingora-cache, one entry per (supplier, canonical leg request); transactional calls and
//! searches within 3 h of check-in never do. Policy (TTL, hotness, invalidations) lives in
//! `arigate_filters::cache_policy`; storage is [`tiered::TieredStorage`]: the node's
//! [`memory::MemoryTier`] in front of Redis when the node is part of a cluster. Invalidations
//! reach every node through [`feed`]; hot entries are refreshed ahead of expiry by [`refresh`].

pub mod feed;
pub mod lock;
pub mod memory;
pub mod refresh;
pub mod tiered;

use crate::cluster::Cluster;
use arigate_config::schema::RefreshAheadFile;
use arigate_filters::cache_policy::{Hotness, Invalidations, Tag, TtlPolicy};
use feed::Feed;
use lock::FillLock;
use memory::MemoryTier;
use pingora_cache::lock::CacheKeyLockImpl;
use pingora_cache::CacheMeta;
use refresh::RefreshAhead;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tiered::{TieredStorage, L2};

/// The id under which every tier stores the entry of cache key `key` (pingora's combined hash).
pub fn entry_id(key: &str) -> String {
    use pingora_cache::key::CacheHashKey;
    pingora_cache::CacheKey::new(key.to_string(), "").combined()
}

/// Header of a cached leg head naming what its answer is about: `["supplier", "hotel code", ...]`.
/// Stored with the entry, so the Redis tier can check invalidations before sharing it.
pub const TAGS_HEADER: &str = "x-arigate-tags";

/// The [`TAGS_HEADER`] value for a supplier's answer about these hotel codes (`None` if a code
/// cannot be a header value).
pub fn tag_header(supplier: &str, hotels: &[String]) -> Option<String> {
    let mut v = vec![supplier];
    v.extend(hotels.iter().map(String::as_str));
    let s = serde_json::to_string(&v).ok()?;
    s.bytes().all(|b| (0x20..0x7f).contains(&b)).then_some(s)
}

/// The supplier and hotel codes a cached entry is about, from its [`TAGS_HEADER`].
pub fn tags_of(meta: &CacheMeta) -> Option<(String, Vec<String>)> {
    let raw = meta.headers().get(TAGS_HEADER)?.to_str().ok()?;
    let mut v: Vec<String> = serde_json::from_str(raw).ok()?;
    if v.is_empty() {
        return None;
    }
    let supplier = v.remove(0);
    Some((supplier, v))
}

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
        self.count_n(s, 1);
    }

    /// Counts `n` lookups that ended as `s` (a whole-answer hit counts one per leg).
    pub fn count_n(&self, s: CacheStatus, n: u64) {
        let c = match s {
            CacheStatus::Hit => &self.hit,
            CacheStatus::Miss => &self.miss,
            CacheStatus::Stale => &self.stale,
            CacheStatus::Bypass => &self.bypass,
        };
        c.fetch_add(n, Ordering::Relaxed);
    }
}

pub struct BrowseCache {
    /// This node's memory tier (L1).
    pub storage: &'static MemoryTier,
    /// What legs are cached in: L1, and Redis behind it in a cluster.
    pub tiers: &'static TieredStorage,
    pub lock: &'static CacheKeyLockImpl,
    pub policy: TtlPolicy,
    pub static_ttl: Duration,
    pub hotness: Hotness,
    pub invalidations: Arc<Invalidations>,
    pub lookups: Lookups,
    pub refresh: RefreshAhead,
    /// Cluster-wide invalidation, when the node shares Redis.
    pub feed: Option<Arc<Feed>>,
    /// How long invalidations are remembered (the longest any answer is cached, plus a margin).
    horizon: Duration,
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
        let storage: &'static MemoryTier = Box::leak(Box::new(MemoryTier::new(
            budget_bytes,
            Duration::ZERO,
            admit,
        )));
        let lock: Box<CacheKeyLockImpl> =
            Box::new(FillLock::new(longest_leg + Duration::from_secs(1), storage));
        let horizon = longest + Duration::from_secs(60);
        BrowseCache {
            storage,
            tiers: Box::leak(Box::new(TieredStorage {
                l1: storage,
                l2: None,
            })),
            lock: Box::leak(lock),
            policy,
            static_ttl,
            hotness: Hotness::new(hot_per_minute, 100_000),
            invalidations: Arc::new(Invalidations::new(horizon, 100_000)),
            lookups: Lookups::default(),
            refresh: RefreshAhead::new(false, 0.2, 0.5),
            feed: None,
            horizon,
        }
    }

    /// Refresh-ahead as configured.
    pub fn with_refresh_ahead(mut self, r: &RefreshAheadFile) -> BrowseCache {
        self.refresh = RefreshAhead::new(r.enabled, r.before_expiry, r.min_hotness);
        self
    }

    /// Makes this node part of a cluster: Redis behind L1, invalidations shared, refreshes claimed
    /// cluster-wide.
    pub fn join(&mut self, cluster: Arc<Cluster>) {
        self.tiers = Box::leak(Box::new(TieredStorage {
            l1: self.storage,
            l2: Some(L2::new(cluster.clone(), self.invalidations.clone())),
        }));
        let feed = Feed::new(
            cluster.clone(),
            self.invalidations.clone(),
            self.storage,
            self.horizon,
        );
        feed.start();
        self.feed = Some(feed);
        self.refresh.join(cluster);
    }

    /// Invalidates everything under `tag` from `at` on: here at once, on every other node through
    /// Redis (webhooks, failed re-checks, admin purges).
    pub fn invalidate(&self, tag: Tag, at: SystemTime) {
        if let Some(feed) = &self.feed {
            feed.publish(&tag, at);
        }
        self.invalidations.invalidate(tag, at);
    }

    /// Removes one entry (by its cache key) here, from Redis and from the other nodes.
    pub fn purge_key(&self, key: &str) -> bool {
        let combined = entry_id(key);
        self.tiers.delete_shared(&combined);
        if let Some(feed) = &self.feed {
            feed.publish_purge(&combined);
        }
        self.storage.remove_combined(&combined)
    }

    /// Whether a cached answer this old may be served. In a cluster whose invalidation feed is
    /// down, another node's webhook may have gone unheard: answers are then trusted only as long
    /// as those of a supplier without webhooks (`browse_max_ttl_without_webhooks`).
    pub fn trusted_age(&self, age: Duration) -> bool {
        match &self.feed {
            Some(feed) if !feed.healthy() => age <= self.policy.max_without_webhooks,
            _ => true,
        }
    }

    /// The cluster half of `GET /admin/cache` (null fields on a single node).
    pub fn cluster_json(&self) -> serde_json::Value {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let r = &self.refresh.stats;
        let refresh = json!({"spawned": n(&r.spawned), "claimed": n(&r.claimed), "lost": n(&r.lost), "claimed_locally": n(&r.claimed_locally)});
        let (Some(l2), Some(feed)) = (&self.tiers.l2, &self.feed) else {
            return json!({"l2": null, "invalidation_feed": null, "refresh": refresh});
        };
        let (s, f) = (&l2.stats, &feed.stats);
        json!({
            "l2": {
                "hits": n(&s.hits), "misses": n(&s.misses), "unavailable": n(&s.unavailable),
                "invalidated": n(&s.invalidated), "unreadable": n(&s.unreadable),
                "writes": n(&s.writes), "written": n(&s.written), "too_large": n(&s.too_large),
                "redis": l2.cluster_json(),
            },
            "invalidation_feed": {
                "healthy": feed.healthy(), "published": n(&f.published), "received": n(&f.received),
                "pulled": n(&f.pulled), "connects": n(&f.connects), "disconnects": n(&f.disconnects),
                "last_sync_ms": n(&f.last_sync_ms),
            },
            "refresh": refresh,
        })
    }
}
