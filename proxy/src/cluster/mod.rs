//! The Redis that several edge nodes share (DESIGN §5, §8): the L2 cache tier, invalidation
//! timestamps and their pub/sub channel, refresh-ahead locks and cluster-wide supplier quotas.
//!
//! Redis is an accelerator, never a dependency of an answer. Every operation runs on a small
//! runtime of its own over a few multiplexed, self-reconnecting connections, and the request path
//! waits for it at most `timeout`. After a few failures in a row the [`Breaker`] opens and Redis is
//! not asked at all for a moment (a request pays no timeout while Redis is down), then it is tried
//! again. Writes nobody waits for (cache fills, invalidation fan-out) go through a bounded queue;
//! when it is full they are dropped and counted. Every failure is counted in [`ClusterStats`].

pub mod idempotency;
pub mod testkit;

use arigate_config::schema::RedisFile;
use futures::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, Semaphore};

/// Consecutive failures that open the breaker.
const BREAKER_THRESHOLD: u32 = 3;
/// How long an open breaker keeps requests away from Redis before trying again.
const BREAKER_OPEN_FOR: Duration = Duration::from_millis(500);
/// Background writes in flight at once.
const WRITE_CONCURRENCY: usize = 64;
/// How often a node says it is alive (for the quota fallback's node count).
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// A node silent for this long no longer counts.
const NODE_EXPIRY: Duration = Duration::from_secs(5);

/// Redis counters since start, in `/admin/cache` → `cluster.l2.redis` and sampled into
/// `arigate_redis_errors_total{reason}` by [`crate::metrics`]: `failed` (errors − timeouts),
/// `timeout`, `skipped` (breaker open), `write_dropped`, `local_fallback`.
#[derive(Default)]
pub struct ClusterStats {
    /// Operations that got an answer.
    pub ok: AtomicU64,
    /// Operations that failed, timeouts included.
    pub errors: AtomicU64,
    /// Of `errors`, those that ran out of time.
    pub timeouts: AtomicU64,
    /// Operations not attempted because the breaker was open.
    pub skipped: AtomicU64,
    /// Background writes accepted into the queue.
    pub writes_queued: AtomicU64,
    /// Background writes dropped because the queue was full.
    pub writes_dropped: AtomicU64,
    /// Times the breaker opened.
    pub breaker_opened: AtomicU64,
    /// Decisions a node took alone because Redis was unavailable (supplier quotas, booking
    /// idempotency).
    pub local_fallback: AtomicU64,
}

/// Why Redis gave no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// The breaker is open: Redis failed just now and is left alone for a moment.
    Skipped,
    /// No answer within the timeout.
    Timeout,
    /// Redis answered with an error, or the connection failed.
    Failed,
}

/// Opens after [`BREAKER_THRESHOLD`] consecutive failures, for [`BREAKER_OPEN_FOR`]; the first
/// operation after that is a probe whose success closes it.
pub struct Breaker {
    base: Instant,
    failures: AtomicU32,
    open_until_ms: AtomicU64,
    /// Whether Redis answered since the breaker last opened (so an outage is logged once).
    healthy: AtomicBool,
}

impl Breaker {
    fn new() -> Breaker {
        Breaker {
            base: Instant::now(),
            failures: AtomicU32::new(0),
            open_until_ms: AtomicU64::new(0),
            healthy: AtomicBool::new(true),
        }
    }

    fn now_ms(&self) -> u64 {
        self.base.elapsed().as_millis() as u64
    }

    pub fn is_open(&self) -> bool {
        self.now_ms() < self.open_until_ms.load(Ordering::Relaxed)
    }

    /// Records a success; true when it ends an outage.
    fn success(&self) -> bool {
        self.failures.store(0, Ordering::Relaxed);
        !self.healthy.swap(true, Ordering::Relaxed)
    }

    /// Records a failure; `Some(first)` when it opened the breaker, `first` for the first time
    /// since Redis last answered.
    fn failure(&self) -> Option<bool> {
        let n = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= BREAKER_THRESHOLD {
            let until = self.now_ms() + BREAKER_OPEN_FOR.as_millis() as u64;
            self.open_until_ms.store(until, Ordering::Relaxed);
            return Some(self.healthy.swap(false, Ordering::Relaxed));
        }
        None
    }
}

type Job = Box<dyn FnOnce(ConnectionManager) -> BoxFuture<'static, redis::RedisResult<()>> + Send>;

/// A node's handle on the shared Redis.
pub struct Cluster {
    pool: Vec<ConnectionManager>,
    next: AtomicUsize,
    client: redis::Client,
    runtime: tokio::runtime::Handle,
    prefix: String,
    /// Bound of each operation on the request path.
    pub timeout: Duration,
    /// Bound of each background operation (nobody waits for it).
    pub background_timeout: Duration,
    /// This node's id in the cluster (random per process).
    pub node_id: String,
    pub max_entry_bytes: usize,
    breaker: Breaker,
    jobs: mpsc::Sender<Job>,
    /// Nodes seen alive recently (at least 1: this one); kept while Redis is down.
    nodes: AtomicUsize,
    pub stats: ClusterStats,
    /// Booking idempotency through Redis ([`idempotency`]).
    pub idempotency: idempotency::IdempotencyStats,
    url_for_logs: String,
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Cluster {
    /// Sets up the connections (lazily: a node starts even while Redis is down) on a runtime of
    /// their own, and starts the background writer and the heartbeat.
    pub fn start(settings: &RedisFile) -> anyhow::Result<Arc<Cluster>> {
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|e| anyhow::anyhow!("cache.redis.url: {e}"))?;
        // The runtime lives as long as the process: the storage that uses it is `'static` too.
        let runtime: &'static tokio::runtime::Runtime = Box::leak(Box::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("arigate-redis")
                .enable_all()
                .build()?,
        ));
        let timeout = settings.timeout.0;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500).max(timeout)))
            .set_response_timeout(Some(Duration::from_secs(1).max(timeout * 4)))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(200));
        let pool = {
            let _in_runtime = runtime.enter();
            (0..settings.pool_size.max(1))
                .map(|_| ConnectionManager::new_lazy_with_config(client.clone(), config.clone()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("redis connection: {e}"))?
        };
        let (tx, rx) = mpsc::channel(settings.write_queue.max(16));
        let cluster = Arc::new(Cluster {
            pool,
            next: AtomicUsize::new(0),
            client,
            runtime: runtime.handle().clone(),
            prefix: settings.key_prefix.clone(),
            timeout,
            background_timeout: (timeout * 10).max(Duration::from_millis(250)),
            node_id: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
            max_entry_bytes: settings.max_entry_bytes,
            breaker: Breaker::new(),
            jobs: tx,
            nodes: AtomicUsize::new(1),
            stats: ClusterStats::default(),
            idempotency: Default::default(),
            url_for_logs: settings.redacted_url(),
        });
        // Connect every pooled connection now rather than on a request's first use.
        for conn in &cluster.pool {
            let mut conn = conn.clone();
            runtime.spawn(async move {
                let _ = redis::cmd("PING").query_async::<String>(&mut conn).await;
            });
        }
        runtime.spawn(writer(Arc::downgrade(&cluster), rx));
        runtime.spawn(heartbeat(Arc::downgrade(&cluster)));
        tracing::info!(redis = %cluster.url_for_logs, node = %cluster.node_id, "sharing cache and quotas through Redis");
        Ok(cluster)
    }

    /// A key or channel name under this cluster's prefix.
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// Spawns a task on the Redis runtime.
    pub fn spawn<F>(&self, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.runtime.spawn(f);
    }

    fn conn(&self) -> ConnectionManager {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.pool.len().max(1);
        // `pool` is never empty (`start` makes at least one).
        self.pool[i].clone()
    }

    /// Whether Redis is being left alone right now.
    pub fn breaker_open(&self) -> bool {
        self.breaker.is_open()
    }

    /// Nodes seen alive in the last few seconds (1 until the first heartbeat answered).
    pub fn nodes(&self) -> usize {
        self.nodes.load(Ordering::Relaxed).max(1)
    }

    /// Runs `op` against Redis and waits for it at most `timeout` (request path).
    pub async fn run<T, F, Fut>(&self, op: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>> + Send + 'static,
        T: Send + 'static,
    {
        self.run_within(self.timeout, op).await
    }

    /// Like [`run`](Self::run) with another bound (background tasks).
    pub async fn run_within<T, F, Fut>(&self, limit: Duration, op: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>> + Send + 'static,
        T: Send + 'static,
    {
        if self.breaker.is_open() {
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
            return Err(Unavailable::Skipped);
        }
        // On the Redis runtime: the connections' tasks live there, whatever runtime asks.
        let task = self.runtime.spawn(op(self.conn()));
        let outcome = match tokio::time::timeout(limit, task).await {
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(e))) => {
                tracing::debug!(error = %e, "redis operation failed");
                Err(Unavailable::Failed)
            }
            Ok(Err(_)) => Err(Unavailable::Failed),
            Err(_) => Err(Unavailable::Timeout),
        };
        self.record(&outcome);
        outcome
    }

    fn record<T>(&self, outcome: &Result<T, Unavailable>) {
        match outcome {
            Ok(_) => {
                self.stats.ok.fetch_add(1, Ordering::Relaxed);
                if self.breaker.success() {
                    tracing::info!(redis = %self.url_for_logs, "Redis answers again");
                }
            }
            Err(e) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                if *e == Unavailable::Timeout {
                    self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(first) = self.breaker.failure() {
                    self.stats.breaker_opened.fetch_add(1, Ordering::Relaxed);
                    if first {
                        tracing::warn!(redis = %self.url_for_logs, "Redis is failing; this node serves from its own memory and suppliers until it is back");
                    }
                }
            }
        }
    }

    /// Queues a write nobody waits for; false (and counted) when the queue is full.
    pub fn write<F, Fut>(&self, op: F) -> bool
    where
        F: FnOnce(ConnectionManager) -> Fut + Send + 'static,
        Fut: Future<Output = redis::RedisResult<()>> + Send + 'static,
    {
        let job: Job = Box::new(move |c| Box::pin(op(c)));
        match self.jobs.try_send(job) {
            Ok(()) => {
                self.stats.writes_queued.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(_) => {
                self.stats.writes_dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

/// Drains the write queue, a bounded number of writes in flight.
async fn writer(cluster: std::sync::Weak<Cluster>, mut rx: mpsc::Receiver<Job>) {
    let permits = Arc::new(Semaphore::new(WRITE_CONCURRENCY));
    while let Some(job) = rx.recv().await {
        let Some(c) = cluster.upgrade() else { return };
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        tokio::spawn(async move {
            let limit = c.background_timeout;
            let _ = c.run_within(limit, job).await;
            drop(permit);
        });
    }
}

/// Says every second that this node is alive, and learns how many are.
async fn heartbeat(cluster: std::sync::Weak<Cluster>) {
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(c) = cluster.upgrade() else { return };
        let key = c.key("nodes");
        let id = c.node_id.clone();
        let now = unix_ms(SystemTime::now());
        let oldest = now.saturating_sub(NODE_EXPIRY.as_millis() as u64);
        let alive = c
            .run_within(c.background_timeout, move |mut conn| async move {
                let (n,): (usize,) = redis::pipe()
                    .zadd(&key, &id, now)
                    .ignore()
                    .zrembyscore(&key, 0, oldest)
                    .ignore()
                    .pexpire(&key, NODE_EXPIRY.as_millis() as i64 * 2)
                    .ignore()
                    .zcard(&key)
                    .query_async(&mut conn)
                    .await?;
                Ok(n)
            })
            .await;
        if let Ok(n) = alive {
            c.nodes.store(n.max(1), Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testkit::TestRedis;
    use super::*;

    async fn get(c: &Cluster, key: &str) -> Result<Option<String>, Unavailable> {
        let key = c.key(key);
        c.run(
            move |mut conn| async move { redis::cmd("GET").arg(key).query_async(&mut conn).await },
        )
        .await
    }

    async fn set(c: &Cluster, key: &str, v: &str) -> Result<(), Unavailable> {
        let (key, v) = (c.key(key), v.to_string());
        c.run(move |mut conn| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(v)
                .query_async(&mut conn)
                .await
        })
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn operations_are_bounded_counted_and_recover_after_a_restart() {
        let mut redis = TestRedis::start();
        let c = Cluster::start(&redis.settings("t:")).expect("cluster");
        assert_eq!(set(&c, "k", "v").await, Ok(()));
        assert_eq!(get(&c, "k").await, Ok(Some("v".into())));

        redis.kill();
        // Down: each attempt fails within its bound; after a few the breaker skips Redis at once.
        let started = Instant::now();
        let mut outcomes = Vec::new();
        for _ in 0..10 {
            outcomes.push(get(&c, "k").await);
        }
        assert!(
            started.elapsed() < Duration::from_millis(10 * 60),
            "{:?}",
            started.elapsed()
        );
        assert!(outcomes.iter().all(|o| o.is_err()), "{outcomes:?}");
        assert!(
            outcomes.contains(&Err(Unavailable::Skipped)),
            "{outcomes:?}"
        );
        assert!(c.stats.errors.load(Ordering::Relaxed) >= BREAKER_THRESHOLD as u64);
        assert!(c.stats.breaker_opened.load(Ordering::Relaxed) >= 1);

        // Back (flushed, as a restarted Redis without persistence is): the node reconnects alone.
        redis.restart();
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if set(&c, "k2", "w").await.is_ok() {
                break;
            }
            assert!(Instant::now() < until, "no reconnect after Redis came back");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(get(&c, "k2").await, Ok(Some("w".into())));
        assert_eq!(get(&c, "k").await, Ok(None), "a restarted Redis is empty");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_write_queue_is_bounded() {
        // Writes slower than they arrive: the queue (64) and the writes in flight stay bounded.
        let nobody = format!("redis://127.0.0.1:{}", testkit::free_port());
        let c = Cluster::start(&testkit::settings(&nobody, "w:")).expect("cluster");
        let mut accepted = 0;
        for _ in 0..10_000 {
            if c.write(|_| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                Ok(())
            }) {
                accepted += 1;
            }
        }
        assert!(accepted <= 64 + WRITE_CONCURRENCY + 1, "{accepted}");
        assert_eq!(
            c.stats.writes_dropped.load(Ordering::Relaxed),
            10_000 - accepted as u64
        );
    }
}
