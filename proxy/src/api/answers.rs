//! Whole search answers, cached per agent and canonical search for as long as every supplier leg
//! in them stays fresh. A repeated search then costs a lookup and a small head in front of the
//! stored bytes (shared, not copied), not five leg subrequests, the merge, the room mapping and a
//! signature per offer.
//!
//! What keeps it honest:
//! - **Per agent and generation.** Keyed by the agent's id and everything in the search that
//!   changes the answer; each configuration generation has its own store (`App::answers`), so a
//!   reload (suppliers, agents' supplier lists, mapping, rates, keys) never serves an old answer.
//! - **Per request.** Each hit gets this request's trace id and the legs' ages in a small head
//!   written before the stored bytes, `cache_hit` spans naming the search that made the answer
//!   (`answer_of`) and lookup metrics like a search whose legs all hit. The hotels and their offer
//!   tokens are the stored bytes as they are (no copy): the tokens were signed once, for the
//!   search that made the answer, and stay valid for the answer's life; a booking of one traces
//!   back to that search, and the hit's own trace names it in `answer_of`.
//! - **Never fresher than its legs.** An answer lives until its least fresh leg would expire.
//! - **Invalidation on every hit.** A webhook, a failed re-check or an admin purge after the
//!   answer was made turns the hit into a miss (the same invalidation timestamps the legs obey,
//!   including those other nodes publish).
//! - **Only complete, fresh answers.** An answer with a failed, skipped, bypassed or stale leg is
//!   not kept.
//! - **Bounded** in bytes and entries (`cache.answers_max_bytes`, `cache.answers_max_entries`);
//!   the entries closest to expiry go first.

use arigate_connectors::{Occupancy, Stay};
use arigate_filters::cache_policy::Invalidations;
use arigate_telemetry::AnswerLegs;
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// One supplier's part of a cached answer.
#[derive(Debug, Clone)]
pub struct CachedLeg {
    pub code: String,
    /// The supplier's hotel codes the leg covered (invalidation tags).
    pub hotels: Vec<String>,
    /// The unified hotel ids the leg covered (its span's hotels).
    pub unified: Vec<String>,
    pub offers: usize,
    /// Age of the leg's data when the answer was made.
    pub age: Duration,
}

/// A rendered answer.
#[derive(Debug)]
pub struct Answer {
    /// The end of the answer object, `"hotels":[…]}`, exactly as first served: every hit
    /// sends these bytes as they are.
    pub tail: Bytes,
    pub legs: Vec<CachedLeg>,
    /// What every hit's `cache_hit` spans share (built once per answer); its `answer_of` is the
    /// trace id of the search that made the answer (its offer tokens name it).
    pub spans: Arc<AnswerLegs>,
    /// The root span's `offers` and `suppliers` attributes of a hit.
    pub offers_attr: String,
    pub suppliers_attr: String,
    /// Suppliers skipped for this search (no mapped hotel, unsupported query).
    pub skipped: Vec<String>,
    /// When the search that made it started: invalidations from then on make it stale.
    pub created: SystemTime,
    /// [`key_purges`] when the search that made it started.
    pub key_purges: u64,
    pub fresh_until: SystemTime,
    /// `as_of` of the answer (its oldest data), as served.
    pub as_of: String,
}

impl Answer {
    /// `"hotels":` + `hotels` (a rendered JSON array) + `}`: the tail of an answer, as served.
    pub fn tail_of(hotels: &[u8]) -> Vec<u8> {
        let mut t = Vec::with_capacity(hotels.len() + 10);
        t.extend_from_slice(b"\"hotels\":");
        t.extend_from_slice(hotels);
        t.push(b'}');
        t
    }

    fn cost(&self, key: &str) -> usize {
        self.tail.len()
            + key.len()
            + self.offers_attr.len()
            + self.suppliers_attr.len()
            + self.spans.answer_of.len()
            + self
                .spans
                .legs
                .iter()
                .map(|l| {
                    48 + l.supplier.len()
                        + l.offers.len()
                        + l.hotels.iter().map(|h| h.len() + 24).sum::<usize>()
                })
                .sum::<usize>()
            + 256
            + self
                .legs
                .iter()
                .map(|l| {
                    64 + l.code.len()
                        + l.hotels.iter().map(|h| h.len() + 24).sum::<usize>()
                        + l.unified.iter().map(|h| h.len() + 24).sum::<usize>()
                })
                .sum::<usize>()
    }

    fn stale(&self, invalidations: &Invalidations, key_purges: u64) -> bool {
        self.key_purges != key_purges
            || self
                .legs
                .iter()
                .any(|l| invalidations.is_stale(&l.code, &l.hotels, self.created))
    }

    /// Age at `now` of the oldest data the answer shows.
    pub fn data_age(&self, now: SystemTime) -> Duration {
        let oldest = self.legs.iter().map(|l| l.age).max().unwrap_or_default();
        oldest + now.duration_since(self.created).unwrap_or_default()
    }
}

/// Purges by cache key since start, on this node or (through the invalidation feed) another: a
/// key names one leg entry, not the answers built from it, so any such purge makes every answer
/// made before it stale.
static KEY_PURGES: AtomicU64 = AtomicU64::new(0);

/// Counts a purge by cache key (admin purge here, or another node's through the feed).
pub fn note_key_purge() {
    KEY_PURGES.fetch_add(1, Ordering::SeqCst);
}

/// Purges by cache key so far.
pub fn key_purges() -> u64 {
    KEY_PURGES.load(Ordering::SeqCst)
}

/// What a lookup found.
pub enum Lookup {
    Hit(Arc<Answer>),
    Miss,
}

struct Inner {
    map: HashMap<String, (Arc<Answer>, usize)>,
    bytes: usize,
}

/// The bounded store of rendered answers.
pub struct AnswerCache {
    inner: Mutex<Inner>,
    max_bytes: usize,
    max_entries: usize,
}

impl AnswerCache {
    /// Keeps at most `max_bytes` of answers and `max_entries` of them (either 0 turns it off).
    pub fn new(max_bytes: usize, max_entries: usize) -> AnswerCache {
        AnswerCache {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                bytes: 0,
            }),
            max_bytes,
            max_entries,
        }
    }

    /// The answer for `key` if it is still fresh at `now`, nothing it shows was invalidated and
    /// no purge by key happened since it was made (`key_purges`: [`key_purges`] now).
    pub fn get(
        &self,
        key: &str,
        now: SystemTime,
        invalidations: &Invalidations,
        key_purges: u64,
    ) -> Lookup {
        let found = {
            let inner = self.inner.lock();
            inner.map.get(key).map(|(a, _)| a.clone())
        };
        let Some(answer) = found else {
            return Lookup::Miss;
        };
        if now >= answer.fresh_until || answer.stale(invalidations, key_purges) {
            self.remove(key, &answer);
            return Lookup::Miss;
        }
        Lookup::Hit(answer)
    }

    /// Keeps `answer` under `key` unless it is too big for the budget or already expired.
    pub fn put(&self, key: String, answer: Answer, now: SystemTime) {
        let cost = answer.cost(&key);
        if self.max_bytes == 0
            || self.max_entries == 0
            || cost > self.max_bytes / 8
            || answer.fresh_until <= now
        {
            return;
        }
        let mut inner = self.inner.lock();
        if let Some((_, old)) = inner.map.remove(&key) {
            inner.bytes -= old;
        }
        inner.bytes += cost;
        inner.map.insert(key, (Arc::new(answer), cost));
        if inner.bytes > self.max_bytes || inner.map.len() > self.max_entries {
            evict(
                &mut inner,
                self.max_bytes - self.max_bytes / 10,
                self.max_entries - self.max_entries / 10,
                now,
            );
        }
    }

    /// Drops `key` if it still holds `answer` (not a newer one put meanwhile).
    fn remove(&self, key: &str, answer: &Arc<Answer>) {
        let mut inner = self.inner.lock();
        let same = inner
            .map
            .get(key)
            .is_some_and(|(a, _)| Arc::ptr_eq(a, answer));
        if same {
            if let Some((_, cost)) = inner.map.remove(key) {
                inner.bytes -= cost;
            }
        }
    }

    /// Forgets every answer (an admin purge by cache key cannot tell which answers used it).
    pub fn clear(&self) -> usize {
        let mut inner = self.inner.lock();
        let n = inner.map.len();
        inner.map.clear();
        inner.bytes = 0;
        n
    }

    /// Entries and bytes held.
    pub fn stats(&self) -> (usize, usize) {
        let inner = self.inner.lock();
        (inner.map.len(), inner.bytes)
    }
}

/// Drops expired entries, then the ones closest to expiry, until at most `bytes` and `entries`
/// are held.
fn evict(inner: &mut Inner, bytes: usize, entries: usize, now: SystemTime) {
    let mut freed = 0;
    inner.map.retain(|_, (a, cost)| {
        let keep = a.fresh_until > now;
        if !keep {
            freed += *cost;
        }
        keep
    });
    inner.bytes -= freed;
    if inner.bytes <= bytes && inner.map.len() <= entries {
        return;
    }
    let mut by_expiry: Vec<(SystemTime, String)> = inner
        .map
        .iter()
        .map(|(k, (a, _))| (a.fresh_until, k.clone()))
        .collect();
    by_expiry.sort();
    for (_, k) in by_expiry {
        if inner.bytes <= bytes && inner.map.len() <= entries {
            break;
        }
        if let Some((_, cost)) = inner.map.remove(&k) {
            inner.bytes -= cost;
        }
    }
}

/// The canonical key of a search for one agent: everything that changes the answer. Hotel order
/// is kept (the answer lists hotels in the order asked); the supplier filter is sorted.
pub fn key(
    agent_id: &str,
    stay: &Stay,
    rooms: &[Occupancy],
    hotels: &[String],
    currency: &str,
    nationality: &str,
    suppliers: Option<&[String]>,
) -> String {
    let mut k = String::with_capacity(64 + hotels.len() * 16);
    // Agent ids cannot contain '\n' (they come from YAML keys of one line); fields are separated by it.
    let _ = write!(
        k,
        "{agent_id}\n{}\n{}\n{currency}\n{nationality}\n",
        stay.checkin, stay.checkout
    );
    for r in rooms {
        let _ = write!(k, "{}", r.adults);
        for a in &r.children_ages {
            let _ = write!(k, ",{a}");
        }
        k.push(';');
    }
    k.push('\n');
    for h in hotels {
        k.push_str(h);
        k.push(';');
    }
    k.push('\n');
    if let Some(s) = suppliers {
        let mut s: Vec<&str> = s.iter().map(String::as_str).collect();
        s.sort_unstable();
        s.dedup();
        k.push_str(&s.join(";"));
    } else {
        k.push('*');
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use arigate_filters::cache_policy::Tag;
    use chrono::NaiveDate;

    fn stay() -> Stay {
        Stay {
            checkin: NaiveDate::from_ymd_opt(2027, 1, 15).unwrap(),
            checkout: NaiveDate::from_ymd_opt(2027, 1, 17).unwrap(),
        }
    }

    fn rooms(adults: u8, children: &[u8]) -> Vec<Occupancy> {
        vec![Occupancy {
            adults,
            children_ages: children.to_vec(),
        }]
    }

    fn answer(now: SystemTime, ttl: u64, bytes: usize) -> Answer {
        Answer {
            tail: Bytes::from(vec![b'x'; bytes]),
            spans: Arc::new(AnswerLegs::new("t", "search", vec![])),
            offers_attr: "3".into(),
            suppliers_attr: "hotelbeds=ok".into(),
            legs: vec![CachedLeg {
                code: "hotelbeds".into(),
                hotels: vec!["100042".into()],
                unified: vec!["ARI-1".into()],
                offers: 3,
                age: Duration::ZERO,
            }],
            skipped: vec![],
            created: now,
            key_purges: 0,
            fresh_until: now + Duration::from_secs(ttl),
            as_of: "2027-01-01T00:00:00.000Z".into(),
        }
    }

    fn inv() -> Invalidations {
        Invalidations::new(Duration::from_secs(600), 1000)
    }

    #[test]
    fn key_separates_what_changes_the_answer() {
        let h = vec!["A".to_string(), "B".to_string()];
        let base = key("agent", &stay(), &rooms(2, &[]), &h, "EUR", "GB", None);
        let variants = [
            key("other", &stay(), &rooms(2, &[]), &h, "EUR", "GB", None),
            key("agent", &stay(), &rooms(2, &[5]), &h, "EUR", "GB", None),
            key("agent", &stay(), &rooms(1, &[]), &h, "EUR", "GB", None),
            key("agent", &stay(), &rooms(2, &[]), &h, "USD", "GB", None),
            key("agent", &stay(), &rooms(2, &[]), &h, "EUR", "FR", None),
            key(
                "agent",
                &stay(),
                &rooms(2, &[]),
                &["B".to_string(), "A".to_string()],
                "EUR",
                "GB",
                None,
            ),
            key(
                "agent",
                &stay(),
                &rooms(2, &[]),
                &h,
                "EUR",
                "GB",
                Some(&["dida".to_string()]),
            ),
        ];
        for v in &variants {
            assert_ne!(&base, v);
        }
        let a = key(
            "agent",
            &stay(),
            &rooms(2, &[]),
            &h,
            "EUR",
            "GB",
            Some(&["dida".into(), "hotelbeds".into()]),
        );
        let b = key(
            "agent",
            &stay(),
            &rooms(2, &[]),
            &h,
            "EUR",
            "GB",
            Some(&["hotelbeds".into(), "dida".into(), "dida".into()]),
        );
        assert_eq!(a, b, "the supplier filter is a set");
    }

    #[test]
    fn hit_until_fresh_until_then_miss() {
        let cache = AnswerCache::new(1 << 20, 1000);
        let now = SystemTime::now();
        cache.put("k".into(), answer(now, 60, 100), now);
        assert!(matches!(cache.get("k", now, &inv(), 0), Lookup::Hit(_)));
        let later = now + Duration::from_secs(59);
        assert!(matches!(cache.get("k", later, &inv(), 0), Lookup::Hit(_)));
        let expired = now + Duration::from_secs(60);
        assert!(matches!(cache.get("k", expired, &inv(), 0), Lookup::Miss));
        assert_eq!(cache.stats().0, 0, "an expired entry is dropped");
    }

    #[test]
    fn invalidation_after_creation_is_a_miss_before_is_not() {
        let cache = AnswerCache::new(1 << 20, 1000);
        let now = SystemTime::now();
        let inv = inv();
        inv.invalidate(
            Tag::SupplierHotel("hotelbeds".into(), "100042".into()),
            now - Duration::from_secs(1),
        );
        cache.put("k".into(), answer(now, 60, 100), now);
        assert!(matches!(cache.get("k", now, &inv, 0), Lookup::Hit(_)));
        inv.invalidate(Tag::SupplierHotel("dida".into(), "100042".into()), now);
        assert!(
            matches!(cache.get("k", now, &inv, 0), Lookup::Hit(_)),
            "another supplier's hotel"
        );
        inv.invalidate(
            Tag::SupplierHotel("hotelbeds".into(), "100042".into()),
            now + Duration::from_millis(1),
        );
        assert!(matches!(cache.get("k", now, &inv, 0), Lookup::Miss));
        cache.put("k".into(), answer(now, 60, 100), now);
        inv.invalidate(
            Tag::Supplier("hotelbeds".into()),
            now + Duration::from_secs(2),
        );
        assert!(matches!(cache.get("k", now, &inv, 0), Lookup::Miss));
    }

    #[test]
    fn bounded_in_bytes_dropping_the_soonest_to_expire() {
        let cache = AnswerCache::new(100_000, 1000);
        let now = SystemTime::now();
        for i in 0..50u64 {
            cache.put(format!("k{i}"), answer(now, 10 + i, 5_000), now);
            assert!(cache.stats().1 <= 100_000, "{:?}", cache.stats());
        }
        assert!(matches!(cache.get("k49", now, &inv(), 0), Lookup::Hit(_)));
        assert!(matches!(cache.get("k0", now, &inv(), 0), Lookup::Miss));
        // Too big for the budget, expired already: not kept.
        cache.put("big".into(), answer(now, 60, 50_000), now);
        cache.put("old".into(), answer(now, 0, 10), now);
        assert!(matches!(cache.get("big", now, &inv(), 0), Lookup::Miss));
        assert!(matches!(cache.get("old", now, &inv(), 0), Lookup::Miss));
        assert!(cache.clear() > 0);
        assert_eq!(cache.stats(), (0, 0));
    }

    #[test]
    fn disabled_with_no_budget() {
        let cache = AnswerCache::new(0, 1000);
        let now = SystemTime::now();
        cache.put("k".into(), answer(now, 60, 10), now);
        assert!(matches!(cache.get("k", now, &inv(), 0), Lookup::Miss));
    }

    #[test]
    fn bounded_in_entries() {
        let cache = AnswerCache::new(1 << 20, 10);
        let now = SystemTime::now();
        for i in 0..30u64 {
            cache.put(format!("k{i}"), answer(now, 10 + i, 10), now);
            assert!(cache.stats().0 <= 10, "{:?}", cache.stats());
        }
        assert!(matches!(cache.get("k29", now, &inv(), 0), Lookup::Hit(_)));
        assert!(matches!(cache.get("k0", now, &inv(), 0), Lookup::Miss));
        let off = AnswerCache::new(1 << 20, 0);
        off.put("k".into(), answer(now, 60, 10), now);
        assert!(matches!(off.get("k", now, &inv(), 0), Lookup::Miss));
    }

    #[test]
    fn a_purge_by_key_anywhere_makes_earlier_answers_stale() {
        let cache = AnswerCache::new(1 << 20, 100);
        let now = SystemTime::now();
        cache.put("k".into(), answer(now, 60, 10), now);
        assert!(matches!(cache.get("k", now, &inv(), 0), Lookup::Hit(_)));
        assert!(matches!(cache.get("k", now, &inv(), 1), Lookup::Miss));
        let before = key_purges();
        note_key_purge();
        assert!(key_purges() > before);
    }
}
