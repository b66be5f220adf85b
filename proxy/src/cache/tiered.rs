//! The two cache tiers behind one pingora-cache [`Storage`] (DESIGN §5): L1 is this node's
//! [`MemoryTier`], L2 is Redis shared by every node.
//!
//! - Lookup: L1 first; on an L1 miss, Redis (bounded by the cluster timeout). An L2 entry is the
//!   serialized pingora [`CacheMeta`] (created, fresh-until, stale windows, the leg's head with its
//!   invalidation tags) plus the body, so every node honours its TTL, age and invalidations; an L2
//!   hit fills L1.
//! - Fill: the body goes to L1 at once and to Redis through the cluster's bounded write queue
//!   (never on the request path), with a Redis TTL of fresh + stale window.
//! - Redis down, slow or flushed: lookups are L1 misses and fills stay in L1; nothing fails.
//!
//! Without Redis the storage is exactly the memory tier.

use super::memory::{target_key, MemoryTier};
use super::tags_of;
use crate::cluster::{Cluster, Unavailable};
use arigate_filters::cache_policy::Invalidations;
use async_trait::async_trait;
use bytes::Bytes;
use pingora_cache::key::CacheHashKey;
use pingora_cache::storage::{HandleMiss, MissFinishType};
use pingora_cache::trace::SpanHandle;
use pingora_cache::{
    CacheKey, CacheMeta, HitHandler, MissHandler, PurgeOutcome, PurgeTarget, PurgeType, Storage,
};
use pingora_error::Result;
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// L2 counters since start (exported as `arigate_cache_l2_lookups_total{result}` and
/// `arigate_cache_l2_writes_total`).
#[derive(Default)]
pub struct L2Stats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    /// Lookups answered without Redis (error, timeout or breaker open).
    pub unavailable: AtomicU64,
    /// Entries found but already invalidated (deleted from Redis).
    pub invalidated: AtomicU64,
    /// Entries Redis held in a shape this node cannot read (deleted).
    pub unreadable: AtomicU64,
    /// Fills queued for Redis.
    pub writes: AtomicU64,
    /// Fills Redis confirmed.
    pub written: AtomicU64,
    /// Fills kept out of Redis: larger than `max_entry_bytes`.
    pub too_large: AtomicU64,
}

/// The Redis tier.
pub struct L2 {
    cluster: Arc<Cluster>,
    invalidations: Arc<Invalidations>,
    pub stats: L2Stats,
}

/// L1 in front of an optional L2.
pub struct TieredStorage {
    pub l1: &'static MemoryTier,
    pub l2: Option<L2>,
}

const MAGIC: &[u8; 4] = b"AGL2";

/// A serialized [`CacheMeta`]: (internal, header).
pub type MetaParts = (Vec<u8>, Vec<u8>);
const VERSION: u8 = 1;

/// The Redis value of an entry: magic, version, then meta (internal, header) and body.
pub fn encode(meta: &MetaParts, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(13 + meta.0.len() + meta.1.len() + body.len());
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    for part in [&meta.0, &meta.1] {
        out.extend_from_slice(&(part.len() as u32).to_be_bytes());
        out.extend_from_slice(part);
    }
    out.extend_from_slice(body);
    out
}

/// The parts of an encoded entry, or `None` for anything else (another version, truncated).
pub fn decode(raw: &[u8]) -> Option<(MetaParts, &[u8])> {
    let rest = raw.strip_prefix(MAGIC)?.strip_prefix(&[VERSION])?;
    let mut parts = Vec::with_capacity(2);
    let mut rest = rest;
    for _ in 0..2 {
        let (len, tail) = rest.split_first_chunk::<4>()?;
        let len = u32::from_be_bytes(*len) as usize;
        if tail.len() < len {
            return None;
        }
        let (part, tail) = tail.split_at(len);
        parts.push(part.to_vec());
        rest = tail;
    }
    let header = parts.pop()?;
    let internal = parts.pop()?;
    Some(((internal, header), rest))
}

/// How long Redis keeps an entry: its freshness left plus its longest stale window.
fn redis_ttl(meta: &CacheMeta, now: SystemTime) -> Duration {
    let fresh = meta.fresh_until().duration_since(now).unwrap_or_default();
    let stale = meta
        .stale_while_revalidate_sec()
        .max(meta.stale_if_error_sec());
    fresh + Duration::from_secs(stale.into())
}

impl L2 {
    pub fn new(cluster: Arc<Cluster>, invalidations: Arc<Invalidations>) -> L2 {
        L2 {
            cluster,
            invalidations,
            stats: L2Stats::default(),
        }
    }

    fn redis_key(&self, combined: &str) -> String {
        self.cluster.key(&format!("e:{combined}"))
    }

    fn delete(&self, combined: &str) {
        let key = self.redis_key(combined);
        self.cluster.write(move |mut c| async move {
            redis::cmd("DEL").arg(key).query_async(&mut c).await
        });
    }

    /// An L1 miss asks Redis; a usable entry there fills L1 and is served.
    async fn lookup(
        &self,
        l1: &'static MemoryTier,
        key: &CacheKey,
    ) -> Option<(CacheMeta, HitHandler)> {
        let combined = key.combined();
        let rkey = self.redis_key(&combined);
        let found: Result<Option<Vec<u8>>, Unavailable> = self
            .cluster
            .run(move |mut c| async move { redis::cmd("GET").arg(rkey).query_async(&mut c).await })
            .await;
        let raw = match found {
            Ok(Some(raw)) => raw,
            Ok(None) => {
                self.stats.misses.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            Err(_) => {
                self.stats.unavailable.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        };
        let Some((meta_parts, body)) = decode(&raw) else {
            self.stats.unreadable.fetch_add(1, Ordering::Relaxed);
            self.delete(&combined);
            return None;
        };
        let Ok(meta) = CacheMeta::deserialize(&meta_parts.0, &meta_parts.1) else {
            self.stats.unreadable.fetch_add(1, Ordering::Relaxed);
            self.delete(&combined);
            return None;
        };
        // L1 serves fresh entries only; so does L2 (Redis may outlive freshness by the stale window).
        if !meta.is_fresh(SystemTime::now()) {
            self.stats.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        if let Some((supplier, hotels)) = tags_of(&meta) {
            if self
                .invalidations
                .is_stale(&supplier, &hotels, meta.created())
            {
                self.stats.invalidated.fetch_add(1, Ordering::Relaxed);
                self.delete(&combined);
                return None;
            }
        }
        let body = Bytes::copy_from_slice(body);
        l1.insert(combined, meta_parts, body.clone(), meta.fresh_until());
        self.stats.hits.fetch_add(1, Ordering::Relaxed);
        Some((meta, MemoryTier::hit_handler(body)))
    }
}

/// A fill: L1's own miss handler, plus a copy of the body for Redis (up to `max_entry_bytes`).
struct TieredMiss {
    inner: MissHandler,
    l1: &'static MemoryTier,
    l2: &'static L2,
    combined: String,
    meta: MetaParts,
    ttl: Duration,
    body: Vec<u8>,
    too_large: bool,
}

#[async_trait]
impl HandleMiss for TieredMiss {
    async fn write_body(&mut self, data: Bytes, eof: bool) -> Result<()> {
        if !self.too_large {
            if self.body.len() + data.len() > self.l2.cluster.max_entry_bytes {
                self.too_large = true;
                self.body = Vec::new();
            } else {
                self.body.extend_from_slice(&data);
            }
        }
        self.inner.write_body(data, eof).await
    }

    async fn finish(self: Box<Self>) -> Result<MissFinishType> {
        let this = *self;
        let done = this.inner.finish().await?;
        if this.too_large {
            this.l2.stats.too_large.fetch_add(1, Ordering::Relaxed);
        } else if this.l1.admits(&this.body) && !this.ttl.is_zero() {
            let key = this.l2.redis_key(&this.combined);
            let value = encode(&this.meta, &this.body);
            let px = this.ttl.as_millis().max(1) as u64;
            let l2 = this.l2;
            if l2.cluster.write(move |mut c| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("PX")
                    .arg(px)
                    .query_async::<()>(&mut c)
                    .await?;
                l2.stats.written.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }) {
                this.l2.stats.writes.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(done)
    }
}

#[async_trait]
impl Storage for TieredStorage {
    async fn lookup(
        &'static self,
        key: &CacheKey,
        trace: &SpanHandle,
    ) -> Result<Option<(CacheMeta, HitHandler)>> {
        if let Some(hit) = self.l1.lookup(key, trace).await? {
            return Ok(Some(hit));
        }
        match &self.l2 {
            Some(l2) => Ok(l2.lookup(self.l1, key).await),
            None => Ok(None),
        }
    }

    async fn get_miss_handler(
        &'static self,
        key: &CacheKey,
        meta: &CacheMeta,
        trace: &SpanHandle,
    ) -> Result<MissHandler> {
        let inner = self.l1.get_miss_handler(key, meta, trace).await?;
        let Some(l2) = &self.l2 else {
            return Ok(inner);
        };
        Ok(Box::new(TieredMiss {
            inner,
            l1: self.l1,
            l2,
            combined: key.combined(),
            meta: meta.serialize()?,
            ttl: redis_ttl(meta, SystemTime::now()),
            body: Vec::new(),
            too_large: false,
        }))
    }

    async fn purge(
        &'static self,
        target: PurgeTarget<'_>,
        purge_type: PurgeType,
        trace: &SpanHandle,
    ) -> Result<PurgeOutcome> {
        if let Some(l2) = &self.l2 {
            l2.delete(&target_key(&target));
        }
        self.l1.purge(target, purge_type, trace).await
    }

    /// Updates L1 only: supplier legs are never revalidated (no 304), so this runs for nothing
    /// that another node would need to see.
    async fn update_meta(
        &'static self,
        key: &CacheKey,
        meta: &CacheMeta,
        trace: &SpanHandle,
    ) -> Result<bool> {
        self.l1.update_meta(key, meta, trace).await
    }

    fn as_any(&self) -> &(dyn Any + Send + Sync + 'static) {
        self
    }
}

impl L2 {
    /// Redis counters of the node (for `GET /admin/cache`).
    pub fn cluster_json(&self) -> serde_json::Value {
        let c = &self.cluster;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let s = &c.stats;
        serde_json::json!({
            "node_id": c.node_id, "nodes": c.nodes(), "breaker_open": c.breaker_open(),
            "ok": n(&s.ok), "errors": n(&s.errors), "timeouts": n(&s.timeouts), "skipped": n(&s.skipped),
            "writes_queued": n(&s.writes_queued), "writes_dropped": n(&s.writes_dropped),
            "breaker_opened": n(&s.breaker_opened), "local_fallback": n(&s.local_fallback),
            "idempotency": {
                "claimed": n(&c.idempotency.claimed), "replayed": n(&c.idempotency.replayed),
                "waited": n(&c.idempotency.waited), "fallback": n(&c.idempotency.fallback),
            },
        })
    }
}

impl TieredStorage {
    /// Deletes one entry from Redis (an admin purge by key).
    pub fn delete_shared(&self, combined: &str) {
        if let Some(l2) = &self.l2 {
            l2.delete(combined);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::tag_header;
    use crate::cluster::testkit::TestRedis;
    use arigate_filters::cache_policy::Tag;
    use pingora_cache::trace::Span;
    use pingora_http::ResponseHeader;
    use std::time::Instant;

    #[rstest::rstest]
    #[case::empty(b"".to_vec())]
    #[case::other_magic(b"XXXX\x01\0\0\0\0\0\0\0\0".to_vec())]
    #[case::other_version(b"AGL2\x02\0\0\0\0\0\0\0\0".to_vec())]
    #[case::truncated_length(b"AGL2\x01\0\0".to_vec())]
    #[case::length_past_the_end(b"AGL2\x01\0\0\0\x09abc".to_vec())]
    #[case::second_part_missing(b"AGL2\x01\0\0\0\x01a".to_vec())]
    fn unreadable_values_decode_to_nothing(#[case] raw: Vec<u8>) {
        assert!(decode(&raw).is_none());
    }

    #[test]
    fn entries_round_trip() {
        let meta = (b"internal".to_vec(), b"header".to_vec());
        let raw = encode(&meta, b"{\"ok\":1}");
        let (m, body) = decode(&raw).expect("decodes");
        assert_eq!(m, meta);
        assert_eq!(body, b"{\"ok\":1}");
        let empty = encode(&(Vec::new(), Vec::new()), b"");
        let (m, body) = decode(&empty).expect("empty parts");
        assert_eq!((m.0.len(), m.1.len(), body.len()), (0, 0, 0));
    }

    fn node(redis: &TestRedis, prefix: &str) -> &'static TieredStorage {
        let cluster = Cluster::start(&redis.settings(prefix)).expect("cluster");
        let l1: &'static MemoryTier =
            Box::leak(Box::new(MemoryTier::new(1 << 20, Duration::ZERO, |b| {
                !b.starts_with(b"{\"err\"")
            })));
        let inv = Arc::new(Invalidations::new(Duration::from_secs(600), 1000));
        Box::leak(Box::new(TieredStorage {
            l1,
            l2: Some(L2::new(cluster, inv)),
        }))
    }

    fn meta(ttl: Duration, supplier: &str, hotels: &[&str]) -> CacheMeta {
        let now = SystemTime::now();
        let mut h = ResponseHeader::build(200, None).expect("header");
        let hotels: Vec<String> = hotels.iter().map(|s| s.to_string()).collect();
        if let Some(v) = tag_header(supplier, &hotels) {
            h.insert_header(super::super::TAGS_HEADER, v).expect("tags");
        }
        CacheMeta::new(now + ttl, now, 0, 0, h)
    }

    async fn fill(t: &'static TieredStorage, key: &CacheKey, m: &CacheMeta, body: &[u8]) {
        let span = Span::inactive().handle();
        let mut miss = t.get_miss_handler(key, m, &span).await.expect("miss");
        miss.write_body(Bytes::copy_from_slice(body), true)
            .await
            .expect("write");
        miss.finish().await.expect("finish");
    }

    async fn read(t: &'static TieredStorage, key: &CacheKey) -> Option<(CacheMeta, Vec<u8>)> {
        let (m, mut hit) = t
            .lookup(key, &Span::inactive().handle())
            .await
            .expect("lookup")?;
        let body = hit.read_body().await.expect("body").map(|b| b.to_vec());
        Some((m, body.unwrap_or_default()))
    }

    async fn until_written(t: &TieredStorage, n: u64) {
        let l2 = t.l2.as_ref().expect("l2");
        let until = Instant::now() + Duration::from_secs(5);
        while l2.stats.written.load(Ordering::Relaxed) < n {
            assert!(Instant::now() < until, "the L2 write did not land");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_entry_filled_on_one_node_is_a_hit_on_another_with_its_age_and_ttl() {
        let redis = TestRedis::start();
        let (a, b) = (node(&redis, "n:"), node(&redis, "n:"));
        let key = CacheKey::new("leg:v1:hotelbeds:search-1", "");
        let m = meta(Duration::from_secs(60), "hotelbeds", &["100"]);
        fill(a, &key, &m, b"{\"ok\":1}").await;
        until_written(a, 1).await;
        let (got, body) = read(b, &key).await.expect("an L2 hit on node b");
        assert_eq!(body, b"{\"ok\":1}");
        assert_eq!(got.created(), m.created(), "age travels with the entry");
        assert_eq!(got.fresh_until(), m.fresh_until(), "so does the TTL");
        let l2b = b.l2.as_ref().expect("l2");
        assert_eq!(l2b.stats.hits.load(Ordering::Relaxed), 1);
        // Now in b's L1: the next read does not ask Redis.
        let asked = l2b.cluster.stats.ok.load(Ordering::Relaxed);
        assert!(read(b, &key).await.is_some());
        assert_eq!(l2b.cluster.stats.ok.load(Ordering::Relaxed), asked);
        // Redis keeps it no longer than its freshness.
        let rkey = l2b.redis_key(&key.combined());
        let pttl: i64 = l2b
            .cluster
            .run(move |mut c| async move { redis::cmd("PTTL").arg(rkey).query_async(&mut c).await })
            .await
            .expect("pttl");
        assert!(pttl > 55_000 && pttl <= 60_000, "{pttl}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn error_bodies_oversized_and_invalidated_entries_are_not_shared() {
        let redis = TestRedis::start();
        let (a, b) = (node(&redis, "m:"), node(&redis, "m:"));
        let err = CacheKey::new("leg:v1:dida:err", "");
        fill(
            a,
            &err,
            &meta(Duration::from_secs(60), "dida", &["1"]),
            b"{\"err\":{}}",
        )
        .await;
        let big = CacheKey::new("leg:v1:dida:big", "");
        fill(
            a,
            &big,
            &meta(Duration::from_secs(60), "dida", &["2"]),
            &vec![b'x'; 100_000],
        )
        .await;
        let old = CacheKey::new("leg:v1:dida:old", "");
        fill(
            a,
            &old,
            &meta(Duration::from_secs(60), "dida", &["3"]),
            b"{\"ok\":3}",
        )
        .await;
        until_written(a, 1).await;
        assert!(read(b, &err).await.is_none());
        assert!(read(b, &big).await.is_none());
        let l2a = a.l2.as_ref().expect("l2");
        assert_eq!(l2a.stats.too_large.load(Ordering::Relaxed), 1);
        // Node b learns that dida's hotel 3 changed after the entry was made: not served.
        let l2b = b.l2.as_ref().expect("l2");
        l2b.invalidations.invalidate(
            Tag::SupplierHotel("dida".into(), "3".into()),
            SystemTime::now(),
        );
        assert!(read(b, &old).await.is_none());
        assert_eq!(l2b.stats.invalidated.load(Ordering::Relaxed), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_redis_down_lookups_miss_fast_and_fills_stay_local() {
        let mut redis = TestRedis::start();
        let a = node(&redis, "d:");
        redis.kill();
        let key = CacheKey::new("leg:v1:hb:down", "");
        let started = Instant::now();
        for _ in 0..20 {
            assert!(read(a, &CacheKey::new("leg:v1:hb:absent", ""))
                .await
                .is_none());
        }
        // Each lookup waits at most the timeout (50 ms), and the breaker soon skips Redis.
        assert!(
            started.elapsed() < Duration::from_millis(600),
            "{:?}",
            started.elapsed()
        );
        fill(
            a,
            &key,
            &meta(Duration::from_secs(60), "hb", &["1"]),
            b"{\"ok\":9}",
        )
        .await;
        assert_eq!(
            read(a, &key).await.map(|(_, b)| b),
            Some(b"{\"ok\":9}".to_vec())
        );
        let l2 = a.l2.as_ref().expect("l2");
        assert_eq!(l2.stats.unavailable.load(Ordering::Relaxed), 20);
    }
}
