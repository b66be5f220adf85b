//! Refresh-ahead for hot data (seed 002, stage 3: browse-triggered refresh with a per-supplier
//! minimum pull interval).
//!
//! Design: pingora-cache's stale-while-revalidate does not fit. It refreshes only after expiry
//! (serving `stale`), and its background subrequest is a plain copy of the request that does not
//! carry a leg's supplier call. Instead the parent search, on a cache **hit** of a hot hotel whose
//! remaining freshness is below `before_expiry` of its TTL, spawns one more leg for the same call
//! marked `refresh` and does not wait for it. That leg skips the entry it would hit (`ForceMiss`),
//! and just before it would call the supplier (`proxy_upstream_filter`) it must **claim** the
//! refresh: a Redis `SET NX PX min_pull_interval` lock per entry, so one node of the cluster
//! refreshes and the others do not, and the same entry is never pulled more often than the
//! supplier's minimum pull interval. It then takes a token of the supplier's quota like any call
//! (denied: no refresh; the entry expires normally). Its answer replaces the entry in L1 and Redis,
//! so every node keeps hitting a fresh entry.
//!
//! Each node also spaces its own attempts per entry by the same interval ([`RefreshAhead::due`]),
//! so a hot entry costs Redis one `SET NX` per node per interval, and without Redis (or while it is
//! down) a node refreshes alone, still at most once per interval.

use crate::cluster::Cluster;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Entries whose last attempt a node remembers (bounded).
const TRACKED: usize = 10_000;

/// Refresh counters since start (exported as `arigate_cache_refresh_total{result}`).
#[derive(Default)]
pub struct RefreshStats {
    /// Refresh legs spawned after a hit near expiry.
    pub spawned: AtomicU64,
    /// Claims won: this node called the supplier.
    pub claimed: AtomicU64,
    /// Claims lost: another node refreshes (or refreshed within the interval).
    pub lost: AtomicU64,
    /// Claims decided without Redis (not configured is not counted; unavailable is).
    pub claimed_locally: AtomicU64,
}

pub struct RefreshAhead {
    enabled: bool,
    before_expiry: f64,
    min_hotness: f64,
    attempts: Mutex<HashMap<String, Instant>>,
    cluster: Option<Arc<Cluster>>,
    pub stats: RefreshStats,
}

impl RefreshAhead {
    pub fn new(enabled: bool, before_expiry: f64, min_hotness: f64) -> RefreshAhead {
        RefreshAhead {
            enabled,
            before_expiry,
            min_hotness,
            attempts: Mutex::new(HashMap::new()),
            cluster: None,
            stats: RefreshStats::default(),
        }
    }

    /// Claims go through this cluster's Redis from now on.
    pub fn join(&mut self, cluster: Arc<Cluster>) {
        self.cluster = Some(cluster);
    }

    /// Whether a hit on entry `key` (combined cache key) of a hotel this hot, this old and fresh
    /// for this much longer should start a refresh from this node now. Records the attempt.
    pub fn due(
        &self,
        key: &str,
        hotness: f64,
        age: Duration,
        fresh_for: Duration,
        min_interval: Duration,
    ) -> bool {
        let ttl = age + fresh_for;
        if !self.enabled
            || hotness < self.min_hotness
            || ttl.is_zero()
            || fresh_for.as_secs_f64() > ttl.as_secs_f64() * self.before_expiry
        {
            return false;
        }
        let now = Instant::now();
        let mut attempts = self.attempts.lock();
        if attempts
            .get(key)
            .is_some_and(|t| now.duration_since(*t) < min_interval)
        {
            return false;
        }
        if attempts.len() >= TRACKED && !attempts.contains_key(key) {
            attempts.retain(|_, t| now.duration_since(*t) < min_interval);
            if attempts.len() >= TRACKED {
                attempts.clear();
            }
        }
        attempts.insert(key.to_string(), now);
        self.stats.spawned.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Takes the cluster-wide right to refresh entry `key` for `min_interval`. Without Redis, or
    /// while it is unavailable, this node's own spacing ([`due`](Self::due)) decides.
    pub async fn claim(&self, key: &str, min_interval: Duration) -> bool {
        let Some(c) = &self.cluster else {
            self.stats.claimed.fetch_add(1, Ordering::Relaxed);
            return true;
        };
        let lock = c.key(&format!("r:{key}"));
        let node = c.node_id.clone();
        let px = min_interval.as_millis().max(1) as u64;
        let won: Result<Option<String>, _> = c
            .run(move |mut conn| async move {
                redis::cmd("SET")
                    .arg(lock)
                    .arg(node)
                    .arg("NX")
                    .arg("PX")
                    .arg(px)
                    .query_async(&mut conn)
                    .await
            })
            .await;
        match won {
            Ok(Some(_)) => {
                self.stats.claimed.fetch_add(1, Ordering::Relaxed);
                true
            }
            Ok(None) => {
                self.stats.lost.fetch_add(1, Ordering::Relaxed);
                false
            }
            Err(_) => {
                self.stats.claimed_locally.fetch_add(1, Ordering::Relaxed);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::testkit::TestRedis;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[rstest::rstest]
    #[case::hot_and_near_expiry(0.9, 50, 10, true)]
    #[case::cold(0.2, 50, 10, false)]
    #[case::far_from_expiry(0.9, 10, 50, false)]
    #[case::exactly_at_the_share(0.9, 48, 12, true)]
    #[case::already_expired(0.9, 60, 0, true)]
    fn only_hot_entries_near_expiry_are_due(
        #[case] hotness: f64,
        #[case] age: u64,
        #[case] fresh_for: u64,
        #[case] due: bool,
    ) {
        let r = RefreshAhead::new(true, 0.2, 0.5);
        assert_eq!(r.due("k", hotness, S(age), S(fresh_for), S(10)), due);
    }

    #[test]
    fn a_node_attempts_each_entry_at_most_once_per_interval_and_disabled_never() {
        let r = RefreshAhead::new(true, 0.5, 0.0);
        assert!(r.due("k", 1.0, S(9), S(1), Duration::from_millis(50)));
        assert!(!r.due("k", 1.0, S(9), S(1), Duration::from_millis(50)));
        assert!(r.due("other", 1.0, S(9), S(1), Duration::from_millis(50)));
        std::thread::sleep(Duration::from_millis(60));
        assert!(r.due("k", 1.0, S(9), S(1), Duration::from_millis(50)));
        let off = RefreshAhead::new(false, 0.5, 0.0);
        assert!(!off.due("k", 1.0, S(9), S(1), S(1)));
    }

    #[test]
    fn the_attempt_memory_is_bounded() {
        let r = RefreshAhead::new(true, 0.5, 0.0);
        for i in 0..3 * TRACKED {
            r.due(&format!("k{i}"), 1.0, S(9), S(1), S(60));
        }
        assert!(r.attempts.lock().len() <= TRACKED);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_node_of_the_cluster_wins_each_interval() {
        let redis = TestRedis::start();
        let node = || {
            let mut r = RefreshAhead::new(true, 0.2, 0.5);
            r.join(Cluster::start(&redis.settings("rf:")).expect("cluster"));
            r
        };
        let (a, b) = (node(), node());
        let interval = Duration::from_millis(300);
        assert!(a.claim("e1", interval).await);
        assert!(!b.claim("e1", interval).await);
        assert!(
            !a.claim("e1", interval).await,
            "not even the winner, within the interval"
        );
        assert!(
            b.claim("e2", interval).await,
            "another entry is another lock"
        );
        tokio::time::sleep(interval + Duration::from_millis(50)).await;
        assert!(
            b.claim("e1", interval).await,
            "free again after the interval"
        );
        assert_eq!(b.stats.lost.load(Ordering::Relaxed), 1);
    }
}
