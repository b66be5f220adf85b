//! Cluster-wide invalidation (DESIGN §5): a webhook, failed re-check or admin purge received by any
//! node takes effect on every node within milliseconds.
//!
//! Two mechanisms, so that neither a lost message nor a disconnected node serves data invalidated
//! meanwhile:
//! - **Shared timestamps.** Each invalidation is stored in a Redis sorted set (`{prefix}inv`,
//!   member = tag, score = time in ms, `ZADD GT` keeps the latest) that lives as long as any cached
//!   answer could.
//! - **Pub/sub.** It is also published on `{prefix}events`; every node subscribes and applies what
//!   others publish to its own [`Invalidations`] (cached answers are checked against them on every
//!   hit, L1 and L2). Purges by key travel the same way.
//!
//! On every (re)connection a node subscribes first, then pulls every stored timestamp and pushes
//! its own (a restarted, empty Redis learns them back); only then is the feed healthy. While
//! connected it pings the subscription every second, pushes its invalidations of the last seconds
//! again (one whose publication was dropped with a full write queue is stored late, not lost) and
//! pulls the recent ones (a lost message is caught up). While the feed is not healthy, other nodes' invalidations may be missing, so cached
//! answers are trusted only as long as a supplier without webhooks would be
//! ([`super::BrowseCache::trusted_age`]).

use super::memory::MemoryTier;
use crate::cluster::{unix_ms, Cluster};
use arigate_filters::cache_policy::{Invalidations, Tag};
use futures::StreamExt;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often the subscription is pinged and recent timestamps pulled.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// How far back a poll looks before the newest timestamp it saw (clock skew, late writers).
const POLL_OVERLAP_MS: u64 = 5_000;
/// Tags pushed per round trip.
const PUSH_CHUNK: usize = 500;

/// Feed counters since start (exported as `arigate_invalidations_*`).
#[derive(Default)]
pub struct FeedStats {
    /// Invalidations and purges this node published.
    pub published: AtomicU64,
    /// Messages from other nodes applied.
    pub received: AtomicU64,
    /// Tags applied from the shared timestamps (reconnect syncs and polls).
    pub pulled: AtomicU64,
    /// Subscriptions established (the first one and every reconnect).
    pub connects: AtomicU64,
    /// Subscriptions lost.
    pub disconnects: AtomicU64,
    /// Unix ms of the last successful sync or poll.
    pub last_sync_ms: AtomicU64,
}

pub struct Feed {
    cluster: Arc<Cluster>,
    invalidations: Arc<Invalidations>,
    l1: &'static MemoryTier,
    /// How long invalidations are kept (the longest a cached answer lives, plus a margin).
    horizon: Duration,
    healthy: AtomicBool,
    /// Newest timestamp pulled from Redis (ms), where the next poll starts.
    newest_ms: AtomicU64,
    /// Own invalidations at or after this time (ms) are pushed again on the next tick.
    push_from_ms: AtomicU64,
    pub stats: FeedStats,
}

/// Invalidation time in ms, rounded up: an answer made within that millisecond counts as older.
fn ceil_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos().div_ceil(1_000_000) as u64)
        .unwrap_or(0)
}

pub fn encode_tag(tag: &Tag) -> String {
    match tag {
        Tag::Supplier(s) => json!(["s", s]),
        Tag::SupplierHotel(s, h) => json!(["h", s, h]),
    }
    .to_string()
}

pub fn decode_tag(s: &str) -> Option<Tag> {
    let v: Vec<String> = serde_json::from_str(s).ok()?;
    match v.as_slice() {
        [k, s] if k == "s" => Some(Tag::Supplier(s.clone())),
        [k, s, h] if k == "h" => Some(Tag::SupplierHotel(s.clone(), h.clone())),
        _ => None,
    }
}

impl Feed {
    pub fn new(
        cluster: Arc<Cluster>,
        invalidations: Arc<Invalidations>,
        l1: &'static MemoryTier,
        horizon: Duration,
    ) -> Arc<Feed> {
        Arc::new(Feed {
            cluster,
            invalidations,
            l1,
            horizon,
            healthy: AtomicBool::new(false),
            newest_ms: AtomicU64::new(0),
            push_from_ms: AtomicU64::new(0),
            stats: FeedStats::default(),
        })
    }

    /// Starts the subscriber on the cluster's runtime.
    pub fn start(self: &Arc<Self>) {
        let feed = self.clone();
        self.cluster.spawn(async move { feed.run().await });
    }

    /// Whether this node is subscribed and has caught up with the shared timestamps.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    fn channel(&self) -> String {
        self.cluster.key("events")
    }

    /// Stores and announces an invalidation this node applied (never waits for Redis).
    pub fn publish(&self, tag: &Tag, at: SystemTime) {
        let member = encode_tag(tag);
        let at_ms = ceil_ms(at);
        let payload = json!({"n": self.cluster.node_id, "tag": member, "at": at_ms}).to_string();
        let (zset, chan) = (self.cluster.key("inv"), self.channel());
        let keep_ms = self.horizon.as_millis() as u64;
        self.stats.published.fetch_add(1, Ordering::Relaxed);
        self.cluster.write(move |mut c| async move {
            redis::pipe()
                .cmd("ZADD")
                .arg(&zset)
                .arg("GT")
                .arg(at_ms)
                .arg(&member)
                .ignore()
                .cmd("PEXPIRE")
                .arg(&zset)
                .arg(keep_ms)
                .ignore()
                .cmd("PUBLISH")
                .arg(&chan)
                .arg(payload)
                .ignore()
                .query_async(&mut c)
                .await
        });
    }

    /// Announces that the entry with this combined key was purged here.
    pub fn publish_purge(&self, combined: &str) {
        self.stats.published.fetch_add(1, Ordering::Relaxed);
        self.announce(json!({"n": self.cluster.node_id, "key": combined}));
    }

    /// Publishes a message on the channel (never waits for Redis).
    fn announce(&self, message: Value) {
        let (chan, payload) = (self.channel(), message.to_string());
        self.cluster.write(move |mut c| async move {
            redis::cmd("PUBLISH")
                .arg(chan)
                .arg(payload)
                .query_async(&mut c)
                .await
        });
    }

    /// Applies a message from another node.
    fn on_message(self: &Arc<Self>, payload: &[u8]) {
        let Ok(v) = serde_json::from_slice::<Value>(payload) else {
            return;
        };
        if v["n"].as_str() == Some(self.cluster.node_id.as_str()) {
            return;
        }
        if let (Some(tag), Some(at)) = (v["tag"].as_str().and_then(decode_tag), v["at"].as_u64()) {
            self.invalidations
                .invalidate(tag, UNIX_EPOCH + Duration::from_millis(at));
        } else if let Some(key) = v["key"].as_str() {
            self.l1.remove_combined(key);
            // Answers built from that entry go with it.
            crate::api::answers::note_key_purge();
        } else if v["sync"].as_bool() == Some(true) {
            // Another node pushed what it learnt while Redis was away: take all of it.
            let feed = self.clone();
            self.cluster.spawn(async move {
                let _ = feed.pull(0).await;
            });
        } else {
            return;
        }
        self.stats.received.fetch_add(1, Ordering::Relaxed);
    }

    /// Applies every stored timestamp newer than `from_ms`.
    async fn pull(&self, from_ms: u64) -> Result<(), ()> {
        let zset = self.cluster.key("inv");
        let oldest = unix_ms(SystemTime::now()).saturating_sub(self.horizon.as_millis() as u64);
        let from = from_ms.max(oldest);
        let found: Vec<(String, u64)> = self
            .cluster
            .run_within(self.cluster.background_timeout, move |mut c| async move {
                redis::cmd("ZRANGEBYSCORE")
                    .arg(&zset)
                    .arg(from)
                    .arg("+inf")
                    .arg("WITHSCORES")
                    .query_async(&mut c)
                    .await
            })
            .await
            .map_err(|_| ())?;
        for (member, at) in found {
            if let Some(tag) = decode_tag(&member) {
                self.invalidations
                    .invalidate(tag, UNIX_EPOCH + Duration::from_millis(at));
                self.stats.pulled.fetch_add(1, Ordering::Relaxed);
            }
            self.newest_ms.fetch_max(at, Ordering::Relaxed);
        }
        self.stats
            .last_sync_ms
            .store(unix_ms(SystemTime::now()), Ordering::Relaxed);
        Ok(())
    }

    /// Stores this node's invalidations made since `from_ms` (all within the horizon for 0: a
    /// Redis that restarted empty learns them back); true when there were any.
    async fn push(&self, from_ms: u64) -> Result<bool, ()> {
        let started = unix_ms(SystemTime::now());
        let from = from_ms.max(started.saturating_sub(self.horizon.as_millis() as u64));
        let mine: Vec<(String, u64)> = self
            .invalidations
            .entries_since(UNIX_EPOCH + Duration::from_millis(from))
            .into_iter()
            .map(|(tag, at)| (encode_tag(&tag), ceil_ms(at)))
            .collect();
        let keep_ms = self.horizon.as_millis() as u64;
        for chunk in mine.chunks(PUSH_CHUNK) {
            let zset = self.cluster.key("inv");
            let chunk = chunk.to_vec();
            self.cluster
                .run_within(self.cluster.background_timeout, move |mut c| async move {
                    let mut p = redis::pipe();
                    for (member, at) in &chunk {
                        p.cmd("ZADD")
                            .arg(&zset)
                            .arg("GT")
                            .arg(*at)
                            .arg(member)
                            .ignore();
                    }
                    p.cmd("PEXPIRE").arg(&zset).arg(keep_ms).ignore();
                    p.query_async::<()>(&mut c).await
                })
                .await
                .map_err(|_| ())?;
        }
        // Overlap: an invalidation recorded while this push ran is pushed again next time.
        self.push_from_ms
            .store(started.saturating_sub(POLL_OVERLAP_MS), Ordering::Relaxed);
        Ok(!mine.is_empty())
    }

    /// Drops timestamps older than the horizon.
    async fn prune(&self) {
        let zset = self.cluster.key("inv");
        let oldest = unix_ms(SystemTime::now()).saturating_sub(self.horizon.as_millis() as u64);
        let _ = self
            .cluster
            .run_within(self.cluster.background_timeout, move |mut c| async move {
                redis::cmd("ZREMRANGEBYSCORE")
                    .arg(zset)
                    .arg(0)
                    .arg(oldest)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await;
    }

    /// Subscribes, catches up and follows the channel until the connection is lost; forever.
    async fn run(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.follow().await {
                Ok(()) => backoff = Duration::from_millis(50),
                Err(e) => tracing::debug!(error = %e, "invalidation feed not connected"),
            }
            if self.healthy.swap(false, Ordering::Relaxed) {
                self.stats.disconnects.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "invalidation feed lost; trusting cached answers only briefly until it is back"
                );
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    /// One connection's life: `Ok` once it was established and then ended.
    async fn follow(self: &Arc<Self>) -> Result<(), String> {
        let limit = self.cluster.background_timeout.max(Duration::from_secs(1));
        let mut pubsub = tokio::time::timeout(limit, self.cluster.client().get_async_pubsub())
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| e.to_string())?;
        tokio::time::timeout(limit, pubsub.subscribe(self.channel()))
            .await
            .map_err(|_| "subscribe timed out".to_string())?
            .map_err(|e| e.to_string())?;
        let (mut sink, mut stream) = pubsub.split();
        // Subscribed first, then caught up: nothing published in between is missed.
        self.pull(0).await.map_err(|_| "pull failed".to_string())?;
        if self.push(0).await.map_err(|_| "push failed".to_string())? {
            self.announce(json!({"n": self.cluster.node_id, "sync": true}));
        }
        self.healthy.store(true, Ordering::Relaxed);
        self.stats.connects.fetch_add(1, Ordering::Relaxed);
        let mut tick = tokio::time::interval(POLL_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        let mut ticks = 0u64;
        loop {
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(m) => self.on_message(m.get_payload_bytes()),
                    None => return Ok(()),
                },
                _ = tick.tick() => {
                    let alive = tokio::time::timeout(limit, sink.ping::<redis::Value>()).await;
                    if !matches!(alive, Ok(Ok(_))) {
                        return Ok(());
                    }
                    let _ = self.push(self.push_from_ms.load(Ordering::Relaxed)).await;
                    let from = self.newest_ms.load(Ordering::Relaxed).saturating_sub(POLL_OVERLAP_MS);
                    let _ = self.pull(from).await;
                    ticks += 1;
                    if ticks.is_multiple_of(60) {
                        self.prune().await;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::testkit::TestRedis;
    use std::time::Instant;

    #[rstest::rstest]
    #[case(Tag::Supplier("hotelbeds".into()))]
    #[case(Tag::SupplierHotel("dida".into(), "H\"1,2;3".into()))]
    fn tags_round_trip(#[case] tag: Tag) {
        assert_eq!(decode_tag(&encode_tag(&tag)), Some(tag));
    }

    #[rstest::rstest]
    #[case("")]
    #[case("[\"x\",\"a\"]")]
    #[case("[\"h\",\"only-supplier\"]")]
    #[case("{}")]
    fn foreign_tags_are_ignored(#[case] raw: &str) {
        assert_eq!(decode_tag(raw), None);
    }

    struct Node {
        feed: Arc<Feed>,
        inv: Arc<Invalidations>,
    }

    fn node(redis: &TestRedis, prefix: &str) -> Node {
        let cluster = Cluster::start(&redis.settings(prefix)).expect("cluster");
        let inv = Arc::new(Invalidations::new(Duration::from_secs(600), 1000));
        let l1: &'static MemoryTier =
            Box::leak(Box::new(MemoryTier::new(1 << 20, Duration::ZERO, |_| true)));
        let feed = Feed::new(cluster, inv.clone(), l1, Duration::from_secs(600));
        feed.start();
        Node { feed, inv }
    }

    async fn until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) -> Duration {
        let started = Instant::now();
        while !f() {
            assert!(started.elapsed() < limit, "{what} not within {limit:?}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        started.elapsed()
    }

    fn hotel(n: &str) -> Vec<String> {
        vec![n.to_string()]
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_invalidation_reaches_the_other_node_at_once_and_a_late_node_from_redis() {
        let mut redis = TestRedis::start();
        let (a, b) = (node(&redis, "f:"), node(&redis, "f:"));
        until("both feeds up", Duration::from_secs(5), || {
            a.feed.healthy() && b.feed.healthy()
        })
        .await;
        let before = SystemTime::now() - Duration::from_secs(1);
        let tag = Tag::SupplierHotel("hotelbeds".into(), "100".into());
        a.inv.invalidate(tag.clone(), SystemTime::now());
        a.feed.publish(&tag, SystemTime::now());
        let took = until("b sees it", Duration::from_millis(100), || {
            b.inv.is_stale("hotelbeds", &hotel("100"), before)
        })
        .await;
        eprintln!("pub/sub propagation: {took:?}");
        assert!(!b.inv.is_stale("hotelbeds", &hotel("200"), before));

        // An invalidation whose publication was lost (here: never made) is stored by the next
        // push and pulled by the other node's next poll.
        let quiet = Tag::SupplierHotel("ota-soap".into(), "7".into());
        b.inv.invalidate(quiet, SystemTime::now());
        let took = until(
            "a learns the unpublished one",
            Duration::from_secs(5),
            || a.inv.is_stale("ota-soap", &hotel("7"), before),
        )
        .await;
        eprintln!("push + poll catch-up: {took:?}");

        // A node that was not there (or not connected) learns it from the stored timestamps.
        let c = node(&redis, "f:");
        until("c catches up", Duration::from_secs(5), || {
            c.inv.is_stale("hotelbeds", &hotel("100"), before)
        })
        .await;

        // Redis restarts empty while b invalidates on its own: once back, b pushes what it knows,
        // and a, which never heard the message, learns it.
        redis.kill();
        until("a notices", Duration::from_secs(5), || !a.feed.healthy()).await;
        let tag2 = Tag::Supplier("dida".into());
        b.inv.invalidate(tag2.clone(), SystemTime::now());
        b.feed.publish(&tag2, SystemTime::now());
        assert!(!a.inv.is_stale("dida", &hotel("1"), before));
        redis.restart();
        until(
            "a learns the invalidation made while Redis was away",
            Duration::from_secs(10),
            || a.inv.is_stale("dida", &hotel("1"), before),
        )
        .await;
        until("feeds back", Duration::from_secs(5), || {
            a.feed.healthy() && b.feed.healthy()
        })
        .await;
        assert!(a.feed.stats.connects.load(Ordering::Relaxed) >= 2);
    }
}
