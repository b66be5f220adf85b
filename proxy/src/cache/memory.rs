//! The in-process cache tier: a pingora-cache [`Storage`] with a byte budget and TTLs.
//!
//! Pingora's `MemCache` is documented as test-only and never expires; this tier drops an entry
//! once it is past its freshness (plus `keep_stale`), evicts least-recently-used entries to stay
//! within `budget` bytes (metadata, body and key all counted), and refuses bodies that `admit`
//! rejects (a leg whose supplier answered with an error is never stored). The Redis tier sits
//! behind it in [`super::tiered`].

use super::lock::LookedUp;
use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use pingora_cache::key::{CacheHashKey, CompactCacheKey};
use pingora_cache::storage::{HandleHit, HandleMiss, MissFinishType};
use pingora_cache::trace::SpanHandle;
use pingora_cache::{
    CacheKey, CacheMeta, HitHandler, MissHandler, PurgeOutcome, PurgeTarget, PurgeType, Storage,
};
use pingora_error::{Error, ErrorType, Result};
use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

struct Entry {
    meta: (Vec<u8>, Vec<u8>),
    body: Bytes,
    /// After this the entry is gone, not even stale.
    drop_at: SystemTime,
    size: usize,
    /// Position in the recency order.
    tick: u64,
    /// Which fill stored it (see [`Inner::fills`]).
    fill: u64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// tick → key, oldest first.
    recency: BTreeMap<u64, String>,
    used: usize,
    tick: u64,
    /// Entries stored so far; a lookup notes it in the key ([`LookedUp`]) for [`super::lock`].
    fills: u64,
}

impl Inner {
    fn remove(&mut self, key: &str) -> bool {
        match self.entries.remove(key) {
            Some(e) => {
                self.recency.remove(&e.tick);
                self.used -= e.size;
                true
            }
            None => false,
        }
    }

    fn touch(&mut self, key: &str) {
        self.tick += 1;
        let tick = self.tick;
        if let Some(e) = self.entries.get_mut(key) {
            self.recency.remove(&e.tick);
            e.tick = tick;
            self.recency.insert(tick, key.to_string());
        }
    }
}

/// Counters an operator can read.
#[derive(Default)]
pub struct MemoryStats {
    pub inserted: AtomicU64,
    pub evicted: AtomicU64,
    pub expired: AtomicU64,
    pub refused: AtomicU64,
}

pub struct MemoryTier {
    inner: Mutex<Inner>,
    budget: usize,
    keep_stale: Duration,
    admit: fn(&[u8]) -> bool,
    pub stats: MemoryStats,
}

impl MemoryTier {
    /// `budget` bytes in all; entries larger than a quarter of it are not stored.
    pub fn new(budget: usize, keep_stale: Duration, admit: fn(&[u8]) -> bool) -> MemoryTier {
        MemoryTier {
            inner: Mutex::new(Inner::default()),
            budget,
            keep_stale,
            admit,
            stats: MemoryStats::default(),
        }
    }

    /// Bytes held now (never above the budget).
    pub fn used(&self) -> usize {
        self.inner.lock().used
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry (admin purge of everything).
    pub fn clear(&self) -> usize {
        let mut inner = self.inner.lock();
        let n = inner.entries.len();
        *inner = Inner::default();
        n
    }

    /// Whether a body may be stored at all (the same rule holds for the Redis tier).
    pub(crate) fn admits(&self, body: &[u8]) -> bool {
        (self.admit)(body)
    }

    /// Removes the entry with this combined key (a purge another node announced).
    pub(crate) fn remove_combined(&self, combined: &str) -> bool {
        self.inner.lock().remove(combined)
    }

    /// Whether the entry of `key` was stored after this request last looked it up (and is still
    /// held): the request then need not call the supplier for it.
    pub(crate) fn filled_since_lookup(&self, key: &CacheKey) -> bool {
        let Some(seen) = key.extensions.get::<LookedUp>().map(LookedUp::get) else {
            return false;
        };
        let now = SystemTime::now();
        self.inner
            .lock()
            .entries
            .get(&key.combined())
            .is_some_and(|e| e.fill > seen && now < e.drop_at)
    }

    /// Serves a body found elsewhere (the Redis tier) as a hit.
    pub(crate) fn hit_handler(body: Bytes) -> HitHandler {
        Box::new(Hit { body: Some(body) })
    }

    pub(crate) fn insert(
        &self,
        key: String,
        meta: (Vec<u8>, Vec<u8>),
        body: Bytes,
        fresh_until: SystemTime,
    ) {
        let size = key.len() + meta.0.len() + meta.1.len() + body.len() + 64;
        if size > self.budget / 4 || !(self.admit)(&body) {
            self.stats.refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut inner = self.inner.lock();
        inner.remove(&key);
        while inner.used + size > self.budget {
            let Some((_, oldest)) = inner.recency.pop_first() else {
                break;
            };
            if let Some(e) = inner.entries.remove(&oldest) {
                inner.used -= e.size;
                self.stats.evicted.fetch_add(1, Ordering::Relaxed);
            }
        }
        inner.tick += 1;
        inner.fills += 1;
        let (tick, fill) = (inner.tick, inner.fills);
        inner.used += size;
        inner.recency.insert(tick, key.clone());
        inner.entries.insert(
            key,
            Entry {
                meta,
                body,
                drop_at: fresh_until + self.keep_stale,
                size,
                tick,
                fill,
            },
        );
        self.stats.inserted.fetch_add(1, Ordering::Relaxed);
    }
}

struct Hit {
    body: Option<Bytes>,
}

#[async_trait]
impl HandleHit for Hit {
    async fn read_body(&mut self) -> Result<Option<Bytes>> {
        Ok(self.body.take())
    }

    async fn finish(
        self: Box<Self>,
        _storage: &'static (dyn Storage + Sync),
        _key: &CacheKey,
        _trace: &SpanHandle,
    ) -> Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }

    fn as_any_mut(&mut self) -> &mut (dyn Any + Send + Sync) {
        self
    }
}

struct Miss {
    tier: &'static MemoryTier,
    key: String,
    meta: (Vec<u8>, Vec<u8>),
    fresh_until: SystemTime,
    body: Vec<u8>,
    too_large: bool,
}

#[async_trait]
impl HandleMiss for Miss {
    async fn write_body(&mut self, data: Bytes, _eof: bool) -> Result<()> {
        if self.body.len() + data.len() > self.tier.budget / 4 {
            self.too_large = true;
            self.body = Vec::new();
        }
        if !self.too_large {
            self.body.extend_from_slice(&data);
        }
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<MissFinishType> {
        let size = self.body.len();
        if self.too_large {
            self.tier.stats.refused.fetch_add(1, Ordering::Relaxed);
        } else {
            self.tier.insert(
                self.key,
                self.meta,
                Bytes::from(self.body),
                self.fresh_until,
            );
        }
        Ok(MissFinishType::Created(size))
    }
}

pub(crate) fn target_key(target: &PurgeTarget<'_>) -> String {
    match target {
        PurgeTarget::Active(k) => k.combined(),
        PurgeTarget::Exact(e) => e.key().combined(),
    }
}

#[async_trait]
impl Storage for MemoryTier {
    async fn lookup(
        &'static self,
        key: &CacheKey,
        _trace: &SpanHandle,
    ) -> Result<Option<(CacheMeta, HitHandler)>> {
        let k = key.combined();
        let (meta, body) = {
            let mut inner = self.inner.lock();
            if let Some(seen) = key.extensions.get::<LookedUp>() {
                seen.set(inner.fills);
            }
            let Some(e) = inner.entries.get(&k) else {
                return Ok(None);
            };
            if SystemTime::now() >= e.drop_at {
                inner.remove(&k);
                self.stats.expired.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
            let found = (e.meta.clone(), e.body.clone());
            inner.touch(&k);
            found
        };
        let meta = CacheMeta::deserialize(&meta.0, &meta.1)?;
        Ok(Some((meta, Box::new(Hit { body: Some(body) }))))
    }

    async fn get_miss_handler(
        &'static self,
        key: &CacheKey,
        meta: &CacheMeta,
        _trace: &SpanHandle,
    ) -> Result<MissHandler> {
        Ok(Box::new(Miss {
            tier: self,
            key: key.combined(),
            meta: meta.serialize()?,
            fresh_until: meta.fresh_until(),
            body: Vec::new(),
            too_large: false,
        }))
    }

    async fn purge(
        &'static self,
        target: PurgeTarget<'_>,
        _purge_type: PurgeType,
        _trace: &SpanHandle,
    ) -> Result<PurgeOutcome> {
        Ok(if self.inner.lock().remove(&target_key(&target)) {
            PurgeOutcome::Purged(None)
        } else {
            PurgeOutcome::NotFound
        })
    }

    async fn update_meta(
        &'static self,
        key: &CacheKey,
        meta: &CacheMeta,
        _trace: &SpanHandle,
    ) -> Result<bool> {
        let serialized = meta.serialize()?;
        let mut inner = self.inner.lock();
        match inner.entries.get_mut(&key.combined()) {
            Some(e) => {
                e.meta = serialized;
                e.drop_at = meta.fresh_until() + self.keep_stale;
                Ok(true)
            }
            None => Error::e_explain(
                ErrorType::Custom("cache_entry_missing"),
                "no entry to update",
            ),
        }
    }

    fn as_any(&self) -> &(dyn Any + Send + Sync + 'static) {
        self
    }
}

/// Purges one key (admin purge by key).
pub fn purge_key(tier: &MemoryTier, key: &CompactCacheKey) -> bool {
    tier.inner.lock().remove(&key.combined())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pingora_cache::trace::Span;
    use pingora_http::ResponseHeader;

    fn tier(budget: usize) -> &'static MemoryTier {
        Box::leak(Box::new(MemoryTier::new(budget, Duration::ZERO, |b| {
            !b.starts_with(b"{\"err\"")
        })))
    }

    fn meta(ttl: Duration) -> CacheMeta {
        let now = SystemTime::now();
        CacheMeta::new(
            now + ttl,
            now,
            0,
            0,
            ResponseHeader::build(200, None).expect("header"),
        )
    }

    async fn put(t: &'static MemoryTier, key: &CacheKey, body: &[u8], ttl: Duration) {
        let mut m = t
            .get_miss_handler(key, &meta(ttl), &Span::inactive().handle())
            .await
            .expect("miss handler");
        m.write_body(Bytes::copy_from_slice(body), true)
            .await
            .expect("write");
        m.finish().await.expect("finish");
    }

    async fn get(t: &'static MemoryTier, key: &CacheKey) -> Option<Vec<u8>> {
        let (_, mut hit) = t
            .lookup(key, &Span::inactive().handle())
            .await
            .expect("lookup")?;
        hit.read_body().await.expect("body").map(|b| b.to_vec())
    }

    #[tokio::test]
    async fn stores_serves_and_purges() {
        let t = tier(1 << 20);
        let k = CacheKey::new("leg:hotelbeds:1", "");
        put(t, &k, b"{\"ok\":1}", Duration::from_secs(60)).await;
        assert_eq!(get(t, &k).await.as_deref(), Some(&b"{\"ok\":1}"[..]));
        assert!(purge_key(t, &k.to_compact()));
        assert_eq!(get(t, &k).await, None);
    }

    #[tokio::test]
    async fn error_outcomes_are_never_stored() {
        let t = tier(1 << 20);
        let k = CacheKey::new("leg:dida:1", "");
        put(
            t,
            &k,
            b"{\"err\":{\"class\":\"supplier_malformed\"}}",
            Duration::from_secs(60),
        )
        .await;
        assert_eq!(get(t, &k).await, None);
        assert_eq!(t.stats.refused.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn entries_past_their_ttl_are_gone() {
        let t = tier(1 << 20);
        let k = CacheKey::new("leg:ota:1", "");
        // Fresh until a moment ago: expired on arrival, so never served.
        put(t, &k, b"{\"ok\":2}", Duration::ZERO).await;
        assert_eq!(get(t, &k).await, None);
        assert_eq!(t.len(), 0);
    }

    #[tokio::test]
    async fn memory_stays_within_the_budget_under_far_more_inserts_than_it_holds() {
        let budget = 256 * 1024;
        let t = tier(budget);
        let body = vec![b'x'; 4000];
        for i in 0..5_000 {
            put(
                t,
                &CacheKey::new(format!("leg:hb:{i}"), ""),
                &body,
                Duration::from_secs(300),
            )
            .await;
            assert!(
                t.used() <= budget,
                "over budget at insert {i}: {}",
                t.used()
            );
        }
        // About budget / entry size entries are kept; the newest survive, the oldest went.
        assert!(t.len() > 40 && t.len() < 70, "{}", t.len());
        assert!(get(t, &CacheKey::new("leg:hb:4999", "")).await.is_some());
        assert!(get(t, &CacheKey::new("leg:hb:0", "")).await.is_none());
        assert!(t.stats.evicted.load(Ordering::Relaxed) > 4_900);
    }

    #[tokio::test]
    async fn recently_read_entries_outlive_unread_ones() {
        let t = tier(64 * 1024);
        let body = vec![b'y'; 8000];
        let a = CacheKey::new("a", "");
        put(t, &a, &body, Duration::from_secs(300)).await;
        for i in 0..5 {
            put(
                t,
                &CacheKey::new(format!("b{i}"), ""),
                &body,
                Duration::from_secs(300),
            )
            .await;
            assert!(get(t, &a).await.is_some(), "a evicted while in use");
        }
    }
}
