//! Supplier request-rate quotas (`suppliers[].rate_limit_rps`): one notion, held where it can be.
//!
//! Every call a leg is about to send to a supplier (searches, refreshes, token fetches, re-checks,
//! bookings) takes one request from the supplier's rate, checked by
//! [`SupplierGuard::admit`](crate::protection::SupplierGuard::admit) after the cache, so hits
//! cost nothing.
//!
//! - **Single node** (no `cache.redis`): the node's own cap, a GCRA bucket of one second's burst
//!   (`SupplierRuntime::rate`).
//! - **Cluster** (with Redis): the rate holds for the sum of all nodes: a per-second counter in
//!   Redis (`INCR` + `PEXPIRE` on `{prefix}q:{supplier}:{unix second}`), so all nodes together
//!   send at most `rate_limit_rps` calls in any calendar second.
//! - **Cluster, Redis unavailable** (error, timeout, or its breaker open): each node falls back to
//!   a local cap of its *share*, `rate_limit_rps / nodes` (nodes as last seen alive by the cluster
//!   heartbeat, at least 1 call a second). Chosen over the full local cap so the supplier's
//!   contract still holds when every node loses Redis at once; the price is that a cluster
//!   whose nodes are unevenly loaded uses less than the whole rate while Redis is down. Every
//!   such decision is counted (`local_fallback`).
//!
//! A call over the rate is never sent: a search reports that supplier `skipped` with error
//! `rate_capped`, a transactional call answers 503 `rate_capped` with `Retry-After`.

use crate::app::SupplierRuntime;
use crate::cluster::Cluster;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Quota decisions since start (in `/admin/cache` → `quota`).
#[derive(Default)]
pub struct QuotaStats {
    pub allowed: AtomicU64,
    pub denied: AtomicU64,
    /// Decisions taken locally because Redis was unavailable.
    pub local_fallback: AtomicU64,
}

/// The node's quota keeper; long-lived (kept across reloads, which may change the rates).
pub struct SupplierQuotas {
    /// Supplier → (unix second, calls counted in it) for the fallback while Redis is away.
    windows: Mutex<HashMap<String, (u64, u32)>>,
    cluster: Option<Arc<Cluster>>,
    pub stats: QuotaStats,
}

impl SupplierQuotas {
    pub fn new(cluster: Option<Arc<Cluster>>) -> SupplierQuotas {
        SupplierQuotas {
            windows: Mutex::new(HashMap::new()),
            cluster,
            stats: QuotaStats::default(),
        }
    }

    /// Takes one call from `supplier`'s rate. `Err(retry_in)`: over it, do not send.
    pub async fn acquire(&self, supplier: &SupplierRuntime) -> Result<(), Duration> {
        let Some(limit) = supplier.config.rate_limit_rps else {
            return Ok(());
        };
        let code = supplier.code();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let second = now.as_secs();
        let to_next_second = Duration::from_secs(1)
            .saturating_sub(Duration::from_nanos(u64::from(now.subsec_nanos())));
        let verdict = match &self.cluster {
            None => local_cap(supplier),
            Some(c) => {
                let key = c.key(&format!("q:{code}:{second}"));
                let counted: Result<(u64,), _> = c
                    .run(move |mut conn| async move {
                        redis::pipe()
                            .incr(&key, 1u64)
                            .pexpire(&key, 2_000)
                            .ignore()
                            .query_async(&mut conn)
                            .await
                    })
                    .await;
                let allowed = match counted {
                    Ok((n,)) => n <= u64::from(limit),
                    Err(_) => {
                        self.stats.local_fallback.fetch_add(1, Ordering::Relaxed);
                        c.stats.local_fallback.fetch_add(1, Ordering::Relaxed);
                        let share = (limit / c.nodes().max(1) as u32).max(1);
                        self.local(code, second, share)
                    }
                };
                if allowed {
                    Ok(())
                } else {
                    Err(to_next_second)
                }
            }
        };
        let counter = match verdict {
            Ok(()) => &self.stats.allowed,
            Err(_) => &self.stats.denied,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        verdict
    }

    fn local(&self, supplier: &str, second: u64, limit: u32) -> bool {
        let mut windows = self.windows.lock();
        let w = windows.entry(supplier.to_string()).or_insert((second, 0));
        if w.0 != second {
            *w = (second, 0);
        }
        if w.1 >= limit {
            return false;
        }
        w.1 += 1;
        true
    }
}

/// The node's own cap of `supplier` (a GCRA bucket of one second's burst): `Err(retry_in)` when
/// it is used up for now.
pub fn local_cap(supplier: &SupplierRuntime) -> Result<(), Duration> {
    let Some(rate) = &supplier.rate else {
        return Ok(());
    };
    let (code, at) = (supplier.code(), Instant::now());
    if rate.check(code, at).is_allowed() {
        Ok(())
    } else {
        Err(rate.wait_time(code, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::App;
    use crate::cluster::testkit::TestRedis;

    /// An app with supplier `hb` at `rps` calls a second and `free` without a limit.
    fn app(rps: u32) -> App {
        let text = format!(
            "listen: 127.0.0.1:8080\ntokens: {{secret: \"{}\"}}\ncurrency: {{as_of: 2026-11-01, per_eur: {{EUR: \"1\"}}}}\nagents: []\nsuppliers:\n  - {{code: hb, protocol: hotelbeds, endpoint: \"http://127.0.0.1:1\", credentials: {{key: k, secret: s}}, rate_limit_rps: {rps}}}\n  - {{code: free, protocol: hotelbeds, endpoint: \"http://127.0.0.1:1\", credentials: {{key: k, secret: s}}}}\nmapping: {{hotels: []}}\n",
            "x".repeat(40),
        );
        App::new(
            arigate_config::load_str(&text, &|_| Err("no files".into()), &|_| None)
                .expect("valid config"),
        )
    }

    /// Waits for the start of a second, so a burst stays within one.
    async fn next_second() {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_millis())
            .unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(u64::from(1000 - ms) + 5)).await;
    }

    async fn burst(q: &SupplierQuotas, s: &SupplierRuntime, n: usize) -> usize {
        let mut allowed = 0;
        for _ in 0..n {
            if q.acquire(s).await.is_ok() {
                allowed += 1;
            }
        }
        allowed
    }

    #[tokio::test]
    async fn a_lone_node_keeps_its_local_cap_and_unlimited_suppliers_are_free() {
        let app = app(5);
        let (hb, free) = (&app.suppliers[0], &app.suppliers[1]);
        assert_eq!(burst(&app.quotas, hb, 20).await, 5, "a burst of one second");
        assert_eq!(burst(&app.quotas, free, 50).await, 50);
        let retry_in = app.quotas.acquire(hb).await.expect_err("over the cap");
        assert!(retry_in <= Duration::from_secs(1), "{retry_in:?}");
        assert_eq!(app.quotas.stats.denied.load(Ordering::Relaxed), 16);
        tokio::time::sleep(Duration::from_millis(450)).await;
        assert!(
            (1..=3).contains(&burst(&app.quotas, hb, 20).await),
            "the cap refills at 5 a second"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_nodes_share_one_rate_and_split_it_while_redis_is_down() {
        let mut redis = TestRedis::start();
        let cluster = || Cluster::start(&redis.settings("qt:")).expect("cluster");
        let (ca, cb) = (cluster(), cluster());
        let (a, b) = (
            SupplierQuotas::new(Some(ca.clone())),
            SupplierQuotas::new(Some(cb.clone())),
        );
        let app = app(10);
        let hb = &app.suppliers[0];
        next_second().await;
        let (x, y) = tokio::join!(burst(&a, hb, 15), burst(&b, hb, 15));
        assert_eq!(x + y, 10, "{x} + {y}");

        // Both heartbeats have seen two nodes; then Redis goes away: each node takes half.
        let until = Instant::now() + Duration::from_secs(5);
        while ca.nodes() < 2 || cb.nodes() < 2 {
            assert!(Instant::now() < until, "heartbeats did not count two nodes");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        redis.kill();
        next_second().await;
        let (x, y) = tokio::join!(burst(&a, hb, 15), burst(&b, hb, 15));
        assert_eq!((x, y), (5, 5));
        assert!(a.stats.local_fallback.load(Ordering::Relaxed) >= 15);
    }
}
