//! The cache lock legs coalesce behind: pingora-cache's [`CacheLock`] plus the re-check it lacks.
//!
//! pingora-cache looks a key up and, on a miss, takes the key's lock afterwards; the writer
//! stores its fill and then releases (and removes) the lock. A leg whose lookup missed just before
//! a writer stored its fill, and which asks for the lock just after that writer released it, finds
//! no lock, becomes a second writer and calls the supplier again for an answer already in the
//! cache. The gap is two statements wide on a single node and a Redis round trip with L2 behind
//! L1, and under a stampede of identical cold searches a lookup lands in it often enough.
//! [`FillLock`] closes it: a lookup notes in the key ([`LookedUp`]) how many fills the memory
//! tier had stored by then, and a would-be writer whose key has since been filled is told the
//! fill is done instead, so it looks up again and reads it (its own hit filter still decides).

use super::memory::MemoryTier;
use pingora_cache::lock::{CacheKeyLock, CacheLock, LockStatus, Locked, ReadLock, WritePermit};
use pingora_cache::trace::Span;
use pingora_cache::CacheKey;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Set in a leg's [`CacheKey`] extensions: how many fills the memory tier had stored when this
/// request last looked the key up (`u64::MAX` before any lookup: nothing counts as since).
#[derive(Debug)]
pub struct LookedUp(AtomicU64);

impl LookedUp {
    pub(crate) fn set(&self, fills: u64) {
        self.0.store(fills, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Default for LookedUp {
    fn default() -> Self {
        LookedUp(AtomicU64::new(u64::MAX))
    }
}

/// A copy is its own note (a cloned key is another request's).
impl Clone for LookedUp {
    fn clone(&self) -> Self {
        LookedUp(AtomicU64::new(self.get()))
    }
}

/// The cache key of a leg: `key`, with the note its lookups leave for [`FillLock`].
pub fn leg_key(key: String) -> CacheKey {
    let mut k = CacheKey::new(key, "");
    k.extensions.insert(LookedUp::default());
    k
}

/// pingora-cache's lock, re-checking the memory tier before it makes anyone a writer.
pub struct FillLock {
    inner: CacheLock,
    tier: &'static MemoryTier,
}

impl FillLock {
    /// `age_timeout`: how long a writer may hold a key before readers stop waiting for it.
    pub fn new(age_timeout: Duration, tier: &'static MemoryTier) -> FillLock {
        FillLock {
            inner: CacheLock::new(age_timeout),
            tier,
        }
    }
}

/// A read lock whose writer is already done: its holder looks the key up again at once.
fn already_done() -> ReadLock {
    let (mut permit, stub) = WritePermit::new(Duration::ZERO, false, Default::default());
    permit.unlock(LockStatus::Done);
    stub.read_lock()
}

impl CacheKeyLock for FillLock {
    fn lock(&self, key: &CacheKey, stale_writer: bool) -> Locked {
        match self.inner.lock(key, stale_writer) {
            // The race (module doc): checked while holding the permit, so no other leg of this
            // node stores a supplier's answer for the key between this check and this call.
            Locked::Write(permit) if self.tier.filled_since_lookup(key) => {
                self.inner.release(key, permit, LockStatus::Done);
                Locked::Read(already_done())
            }
            locked => locked,
        }
    }

    fn release(&self, key: &CacheKey, permit: WritePermit, reason: LockStatus) {
        self.inner.release(key, permit, reason)
    }

    fn trace_lock_wait(&self, span: &mut Span, read_lock: &ReadLock, lock_status: LockStatus) {
        self.inner.trace_lock_wait(span, read_lock, lock_status)
    }

    fn custom_lock_status(&self, custom_no_cache: &'static str) -> LockStatus {
        self.inner.custom_lock_status(custom_no_cache)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use pingora_cache::trace::Span;
    use pingora_cache::{CacheMeta, Storage};
    use pingora_http::ResponseHeader;
    use std::time::SystemTime;

    fn tier() -> &'static MemoryTier {
        Box::leak(Box::new(MemoryTier::new(1 << 20, Duration::ZERO, |_| true)))
    }

    async fn fill(t: &'static MemoryTier, key: &CacheKey) {
        let now = SystemTime::now();
        let meta = CacheMeta::new(
            now + Duration::from_secs(60),
            now,
            0,
            0,
            ResponseHeader::build(200, None).expect("header"),
        );
        let mut m = t
            .get_miss_handler(key, &meta, &Span::inactive().handle())
            .await
            .expect("miss handler");
        m.write_body(Bytes::from_static(b"{\"ok\":1}"), true)
            .await
            .expect("write");
        m.finish().await.expect("finish");
    }

    /// Whether `key` locks as a writer (whose permit is then released as done).
    fn writes(lock: &FillLock, key: &CacheKey) -> bool {
        match lock.lock(key, false) {
            Locked::Write(permit) => {
                lock.release(key, permit, LockStatus::Done);
                true
            }
            Locked::Read(_) => false,
        }
    }

    async fn misses(t: &'static MemoryTier, key: &CacheKey) -> bool {
        let found = t.lookup(key, &Span::inactive().handle()).await;
        found.expect("lookup").is_none()
    }

    #[tokio::test]
    async fn a_miss_that_a_fill_overtook_is_told_the_fill_is_done_not_made_a_writer() {
        let t = tier();
        let lock = FillLock::new(Duration::from_secs(5), t);
        let (writer, late) = (leg_key("leg:v1:x:1".into()), leg_key("leg:v1:x:1".into()));
        assert!(misses(t, &writer).await);
        let Locked::Write(permit) = lock.lock(&writer, false) else {
            panic!("the first miss writes");
        };
        // The late leg looks up before the fill is stored, and asks for the lock after release.
        assert!(misses(t, &late).await);
        fill(t, &writer).await;
        lock.release(&writer, permit, LockStatus::Done);
        match lock.lock(&late, false) {
            Locked::Read(r) => assert_eq!(r.lock_status(), LockStatus::Done),
            Locked::Write(_) => panic!("a second writer for a key already filled"),
        }
        // It looks up again and finds the fill; had it seen the entry and passed it over (a
        // refresh, an invalidation), it would write: the check is about what it saw.
        assert!(!misses(t, &late).await);
        assert!(writes(&lock, &late));
    }

    #[tokio::test]
    async fn a_key_nobody_looked_up_locks_as_pingora_does() {
        let t = tier();
        let lock = FillLock::new(Duration::from_secs(5), t);
        let key = CacheKey::new("leg:v1:x:2", "");
        fill(t, &key).await;
        assert!(writes(&lock, &key));
    }
}
