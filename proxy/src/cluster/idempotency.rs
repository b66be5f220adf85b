//! Booking idempotency across the cluster (DESIGN §4, §8): with Redis, an `Idempotency-Key` is
//! claimed in Redis, so a retry of `POST /v1/bookings` on another node, or on this node after a
//! restart, gets the stored answer, and a concurrent duplicate on another node never reaches the
//! supplier a second time.
//!
//! Each request first goes through the node's own [`IdempotencyStore`] (a duplicate on this node
//! is answered from it: replay, 422, or 409 while the first runs, as without Redis). A new key is
//! then claimed in Redis with `SET {prefix}idem:{sha256(agent, key)} {in_flight, fingerprint,
//! attempt} NX PX claim_ttl`:
//!
//! - won: the booking runs; its answer is stored with `SET ... PX idempotency_ttl` (only while
//!   the claim is still this attempt's or gone); a booking that must not be remembered deletes
//!   the claim (again only its own);
//! - held by the same request elsewhere: this node polls the key (every [`POLL_EVERY`], for at
//!   most the supplier's booking timeout plus a margin) and replays the answer once stored; if the
//!   claim disappears (the first attempt gave up without effect) it claims again; if the bound
//!   passes it answers 409 as a local duplicate would;
//! - held with another body: 422; done: replay.
//!
//! Redis down or slow never fails a booking: the node falls back to its own store (counted in
//! `local_fallback`, `arigate_redis_errors_total{reason="local_fallback"}`).

use super::Cluster;
use arigate_filters::idempotency::{Begin, Guard, IdempotencyStore, StoredResponse};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a waiting duplicate looks at the claim.
pub const POLL_EVERY: Duration = Duration::from_millis(20);

/// Counters since start (in `/admin/cache` → `cluster.l2.redis.idempotency`).
#[derive(Default)]
pub struct IdempotencyStats {
    /// Keys claimed in Redis (the booking ran here).
    pub claimed: AtomicU64,
    /// Answers replayed from Redis (stored by another node or an earlier process).
    pub replayed: AtomicU64,
    /// Duplicates that waited for another node's booking to finish.
    pub waited: AtomicU64,
    /// Requests decided by the local store alone because Redis was unavailable.
    pub fallback: AtomicU64,
}

/// What Redis holds under a key.
#[derive(Serialize, Deserialize)]
struct Record {
    /// Hex SHA-256 of the canonical request body.
    fp: String,
    /// The claiming attempt (random per request).
    attempt: String,
    /// The stored answer, once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    /// Base64 of the answer's body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
}

impl Record {
    fn response(&self) -> Option<StoredResponse> {
        let body = base64::engine::general_purpose::STANDARD
            .decode(self.body.as_deref()?)
            .ok()?;
        Some(StoredResponse {
            status: self.status?,
            body: body.into(),
        })
    }
}

/// What to do with a booking request (see [`begin`]).
pub enum Claim {
    /// Run it, then [`BookingGuard::complete`] (or drop the guard to let the client retry).
    New(BookingGuard),
    Replay(StoredResponse),
    Mismatch,
    InFlight,
    Full,
}

/// The right to run one booking: the local entry, and the Redis claim when there is one.
pub struct BookingGuard {
    /// Taken by [`complete`](Self::complete); dropped unfinished, it forgets the local entry.
    local: Option<Guard>,
    shared: Option<SharedClaim>,
}

struct SharedClaim {
    cluster: Arc<Cluster>,
    key: String,
    record: Record,
    ttl: Duration,
    done: bool,
}

/// Stores `ARGV[2]` for `ARGV[3]` ms unless another attempt than `ARGV[1]` holds the key.
const COMPLETE: &str = r#"
local v = redis.call('GET', KEYS[1])
if (not v) or string.find(v, ARGV[1], 1, true) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"#;

/// Deletes the key if attempt `ARGV[1]` holds it.
const RELEASE: &str = r#"
local v = redis.call('GET', KEYS[1])
if v and string.find(v, ARGV[1], 1, true) and not string.find(v, '"status"', 1, true) then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

impl BookingGuard {
    /// Stores `resp` for replay, here and (awaited, bounded) in Redis.
    pub async fn complete(mut self, resp: StoredResponse) {
        if let Some(shared) = self.shared.as_mut() {
            shared.done = true;
            let record = Record {
                status: Some(resp.status),
                body: Some(base64::engine::general_purpose::STANDARD.encode(&resp.body)),
                fp: shared.record.fp.clone(),
                attempt: shared.record.attempt.clone(),
            };
            let value = serde_json::to_string(&record).unwrap_or_default();
            let (key, attempt) = (shared.key.clone(), record.attempt.clone());
            let ms = shared.ttl.as_millis().max(1) as u64;
            let stored: Result<i64, _> = shared
                .cluster
                .run(move |mut conn| async move {
                    redis::Script::new(COMPLETE)
                        .key(key)
                        .arg(attempt)
                        .arg(value)
                        .arg(ms)
                        .invoke_async(&mut conn)
                        .await
                })
                .await;
            if stored.is_err() {
                tracing::warn!(
                    "could not store a booking answer in Redis; only this node can replay it"
                );
            }
        }
        if let Some(local) = self.local.take() {
            local.complete(resp);
        }
    }
}

impl Drop for SharedClaim {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let (key, attempt) = (self.key.clone(), self.record.attempt.clone());
        self.cluster.write(move |mut conn| async move {
            redis::Script::new(RELEASE)
                .key(key)
                .arg(attempt)
                .invoke_async::<i64>(&mut conn)
                .await
                .map(|_| ())
        });
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How long things last around one key.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// The longest a duplicate waits for another node's answer.
    pub wait: Duration,
    /// How long a claim outlives a node that dies while booking.
    pub claim_ttl: Duration,
    /// How long an answer is kept for replay.
    pub ttl: Duration,
}

/// Decides what to do with booking request (`scope`, `key`, `fingerprint`).
pub async fn begin(
    local: &IdempotencyStore,
    cluster: Option<&Arc<Cluster>>,
    scope: &str,
    key: &str,
    fingerprint: [u8; 32],
    timing: Timing,
) -> Claim {
    let Timing {
        wait,
        claim_ttl,
        ttl,
    } = timing;
    let local_guard = match local.begin(scope, key, fingerprint) {
        Begin::New(g) => g,
        Begin::Replay(r) => return Claim::Replay(r),
        Begin::Mismatch => return Claim::Mismatch,
        Begin::InFlight => return Claim::InFlight,
        Begin::Full => return Claim::Full,
    };
    let Some(cluster) = cluster else {
        return Claim::New(BookingGuard {
            local: Some(local_guard),
            shared: None,
        });
    };
    let redis_key = cluster.key(&format!(
        "idem:{}",
        hex(&Sha256::digest(format!("{scope}\n{key}").as_bytes()))
    ));
    let mine = Record {
        fp: hex(&fingerprint),
        attempt: uuid::Uuid::new_v4().simple().to_string(),
        status: None,
        body: None,
    };
    let claim = serde_json::to_string(&mine).unwrap_or_default();
    let deadline = Instant::now() + wait;
    let mut waited = false;
    loop {
        let (k, v) = (redis_key.clone(), claim.clone());
        let ms = claim_ttl.as_millis().max(1) as u64;
        let set: Result<Option<String>, _> = cluster
            .run(move |mut conn| async move {
                redis::cmd("SET")
                    .arg(k)
                    .arg(v)
                    .arg("NX")
                    .arg("PX")
                    .arg(ms)
                    .query_async(&mut conn)
                    .await
            })
            .await;
        match set {
            Ok(Some(_)) => {
                cluster.idempotency.claimed.fetch_add(1, Ordering::Relaxed);
                return Claim::New(BookingGuard {
                    local: Some(local_guard),
                    shared: Some(SharedClaim {
                        cluster: cluster.clone(),
                        key: redis_key,
                        record: mine,
                        ttl,
                        done: false,
                    }),
                });
            }
            Ok(None) => {}
            Err(_) => return fallback(cluster, local_guard),
        }
        // Someone holds the key: look at what they hold, until it is done, gone, or time is up.
        loop {
            let k = redis_key.clone();
            let got: Result<Option<String>, _> = cluster
                .run(move |mut conn| async move {
                    redis::cmd("GET").arg(k).query_async(&mut conn).await
                })
                .await;
            let held = match got {
                Ok(Some(raw)) => serde_json::from_str::<Record>(&raw).ok(),
                Ok(None) => break, // released or expired: claim again
                Err(_) => return fallback(cluster, local_guard),
            };
            let Some(held) = held else {
                // Unreadable: not ours to interpret; behave as a duplicate in progress.
                return Claim::InFlight;
            };
            if held.fp != mine.fp {
                return Claim::Mismatch;
            }
            if let Some(resp) = held.response() {
                cluster.idempotency.replayed.fetch_add(1, Ordering::Relaxed);
                // This node remembers it too (dropping `local_guard` would forget the key).
                local_guard.complete(resp.clone());
                return Claim::Replay(resp);
            }
            if Instant::now() + POLL_EVERY > deadline {
                return Claim::InFlight;
            }
            if !waited {
                waited = true;
                cluster.idempotency.waited.fetch_add(1, Ordering::Relaxed);
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        if Instant::now() > deadline {
            return Claim::InFlight;
        }
    }
}

fn fallback(cluster: &Cluster, local: Guard) -> Claim {
    cluster.idempotency.fallback.fetch_add(1, Ordering::Relaxed);
    cluster.stats.local_fallback.fetch_add(1, Ordering::Relaxed);
    tracing::warn!("Redis unavailable: this booking's Idempotency-Key is held by this node only");
    Claim::New(BookingGuard {
        local: Some(local),
        shared: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::testkit::TestRedis;

    const TIMING: Timing = Timing {
        wait: Duration::from_secs(3),
        claim_ttl: Duration::from_secs(30),
        ttl: Duration::from_secs(60),
    };

    fn response() -> StoredResponse {
        StoredResponse {
            status: 201,
            body: bytes::Bytes::from_static(b"{\"booking_id\":\"bk_1\"}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_node_claims_the_other_waits_and_replays_and_a_released_claim_is_free_again() {
        let redis = TestRedis::start();
        let cluster = || Cluster::start(&redis.settings("it:")).expect("cluster");
        let (ca, cb) = (cluster(), cluster());
        let (la, lb) = (
            IdempotencyStore::new(100, Duration::from_secs(60)),
            IdempotencyStore::new(100, Duration::from_secs(60)),
        );
        let Claim::New(guard) = begin(&la, Some(&ca), "ag", "k1", [1; 32], TIMING).await else {
            panic!("the first request claims the key");
        };
        let waiter = begin(&lb, Some(&cb), "ag", "k1", [1; 32], TIMING);
        let finisher = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            guard.complete(response()).await;
        };
        let (claim, ()) = tokio::join!(waiter, finisher);
        assert!(matches!(claim, Claim::Replay(r) if r == response()));
        assert_eq!(cb.idempotency.waited.load(Ordering::Relaxed), 1);
        // Another body under the same key; then node b answers from its own memory.
        assert!(matches!(
            begin(&lb, Some(&cb), "ag", "k1", [2; 32], TIMING).await,
            Claim::Mismatch
        ));
        assert!(matches!(lb.begin("ag", "k1", [1; 32]), Begin::Replay(_)));

        // A request dropped without an answer releases its claim: a retry elsewhere runs.
        let Claim::New(dropped) = begin(&la, Some(&ca), "ag", "k2", [3; 32], TIMING).await else {
            panic!("claimed");
        };
        drop(dropped);
        let until = Instant::now() + Duration::from_secs(3);
        loop {
            match begin(
                &lb,
                Some(&cb),
                "ag",
                "k2",
                [3; 32],
                Timing {
                    wait: Duration::ZERO,
                    ..TIMING
                },
            )
            .await
            {
                Claim::New(_) => break,
                Claim::InFlight if Instant::now() < until => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                _ => panic!("the released key was not free again"),
            }
        }
    }
}
