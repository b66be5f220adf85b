//! `Idempotency-Key` for `POST /v1/bookings` (DESIGN §4, after the IETF httpapi
//! "Idempotency-Key" header draft): the first request with a key runs and its response is stored;
//! the same key with the same body gets that stored response back; the same key with a different
//! body is refused (422); a duplicate arriving while the first is still running is refused (409).
//! A missing key (400) is the caller's to reject.
//!
//! Keys are scoped per agent and held in memory, bounded by entry count, and forgotten `ttl` after
//! their response was stored (lazily, on the next call). The operations map one-to-one onto a
//! shared store so a Redis implementation can replace this one: [`IdempotencyStore::begin`] is
//! `SET key {in-flight, fingerprint, attempt} NX` (or `GET` on conflict), [`Guard::complete`] is
//! `SET key {done, fingerprint, response} PX ttl`, and dropping a [`Guard`] is a delete guarded by
//! the attempt id.

use bytes::Bytes;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest `Idempotency-Key` [`is_valid_key`] accepts.
pub const MAX_KEY_LEN: usize = 255;

/// A source of "now", injectable so tests control time.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// A response kept for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Bytes,
}

/// What to do with a request carrying an `Idempotency-Key`.
#[derive(Debug)]
pub enum Begin {
    /// First time: run the request, then [`Guard::complete`] with the response to keep (or drop
    /// the guard to let the client retry).
    New(Guard),
    /// Already done with the same body: answer with this response, do not run the request again.
    Replay(StoredResponse),
    /// The key was used with another body (in flight or done): 422.
    Mismatch,
    /// The same request is still running: 409.
    InFlight,
    /// The store is full of requests still running; nothing can be evicted: 503 with `Retry-After`.
    Full,
}

/// SHA-256 of the request body bytes as given. Prefer [`fingerprint_json`] for JSON bodies, so
/// that a retry re-serialized with other whitespace or key order still matches.
pub fn fingerprint(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

/// SHA-256 of the canonical form of a JSON body: object keys sorted, no insignificant whitespace,
/// strings with serde_json's escaping. A body that is not JSON is fingerprinted as raw bytes.
pub fn fingerprint_json(body: &[u8]) -> [u8; 32] {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => fingerprint_value(&v),
        Err(_) => fingerprint(body),
    }
}

/// SHA-256 of the canonical form of an already parsed JSON value (see [`fingerprint_json`]);
/// independent of whether serde_json's `preserve_order` feature is on.
pub fn fingerprint_value(value: &serde_json::Value) -> [u8; 32] {
    let mut out = Vec::new();
    canonical(value, &mut out);
    fingerprint(&out)
}

fn canonical(value: &serde_json::Value, out: &mut Vec<u8>) {
    use serde_json::Value;
    match value {
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(Value::String(k.clone()).to_string().as_bytes());
                out.push(b':');
                canonical(v, out);
            }
            out.push(b'}');
        }
        scalar => out.extend_from_slice(scalar.to_string().as_bytes()),
    }
}

/// Whether `key` is acceptable as an `Idempotency-Key`: 1 to [`MAX_KEY_LEN`] visible ASCII
/// characters. The caller answers 400 otherwise; this bounds what the store holds per entry.
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN && key.bytes().all(|b| b.is_ascii_graphic())
}

/// Bounded in-memory idempotency store, shared by all requests of one edge node.
pub struct IdempotencyStore {
    inner: Arc<Inner>,
}

struct Inner {
    max_entries: usize,
    ttl: Duration,
    clock: Clock,
    state: Mutex<State>,
}

/// (agent id, Idempotency-Key)
type Key = (String, String);

#[derive(Default)]
struct State {
    entries: HashMap<Key, Entry>,
    /// Completed entries by completion time: the expiry and eviction order.
    completed: BTreeMap<(Instant, u64), Key>,
    next_attempt: u64,
}

struct Entry {
    fingerprint: [u8; 32],
    /// Tells this entry apart from an earlier or later one under the same key.
    attempt: u64,
    done: Option<(StoredResponse, Instant)>,
}

impl State {
    /// Forgets completed entries at least `ttl` old.
    fn expire(&mut self, now: Instant, ttl: Duration) {
        while let Some((&(at, attempt), _)) = self.completed.first_key_value() {
            if now.saturating_duration_since(at) < ttl {
                break;
            }
            self.pop_oldest_completed(at, attempt);
        }
    }

    fn pop_oldest_completed(&mut self, at: Instant, attempt: u64) {
        if let Some(key) = self.completed.remove(&(at, attempt)) {
            if self.entries.get(&key).is_some_and(|e| e.attempt == attempt) {
                self.entries.remove(&key);
            }
        }
    }

    /// Evicts the oldest completed entry; false when every entry is in flight.
    fn evict_one(&mut self) -> bool {
        match self.completed.first_key_value() {
            Some((&(at, attempt), _)) => {
                self.pop_oldest_completed(at, attempt);
                true
            }
            None => false,
        }
    }
}

impl std::fmt::Debug for IdempotencyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyStore")
            .field("max_entries", &self.inner.max_entries)
            .field("ttl", &self.inner.ttl)
            .field("entries", &self.inner.state.lock().entries.len())
            .finish()
    }
}

impl IdempotencyStore {
    /// At most `max_entries` keys (at least 1), each remembered `ttl` after its response was
    /// stored. Uses the system monotonic clock.
    pub fn new(max_entries: usize, ttl: Duration) -> Self {
        Self::new_with_clock(max_entries, ttl, Arc::new(Instant::now))
    }

    /// As [`new`](Self::new), reading time from `clock`.
    pub fn new_with_clock(max_entries: usize, ttl: Duration, clock: Clock) -> Self {
        IdempotencyStore {
            inner: Arc::new(Inner {
                max_entries: max_entries.max(1),
                ttl,
                clock,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Called when a request with an `Idempotency-Key` arrives, before any work. `scope` is the
    /// agent id (keys of different agents never collide); `fingerprint` identifies the request
    /// body ([`fingerprint_json`]). A different fingerprint is [`Begin::Mismatch`] whether the first
    /// request is still running or done. A new key may evict the oldest completed entry when the
    /// store is full, never one in flight; if all are in flight the answer is [`Begin::Full`].
    pub fn begin(&self, scope: &str, key: &str, fingerprint: [u8; 32]) -> Begin {
        let now = (self.inner.clock)();
        let mut st = self.inner.state.lock();
        st.expire(now, self.inner.ttl);
        let k = (scope.to_owned(), key.to_owned());
        if let Some(e) = st.entries.get(&k) {
            return match &e.done {
                _ if e.fingerprint != fingerprint => Begin::Mismatch,
                Some((resp, _)) => Begin::Replay(resp.clone()),
                None => Begin::InFlight,
            };
        }
        if st.entries.len() >= self.inner.max_entries && !st.evict_one() {
            return Begin::Full;
        }
        st.next_attempt += 1;
        let attempt = st.next_attempt;
        st.entries.insert(
            k.clone(),
            Entry {
                fingerprint,
                attempt,
                done: None,
            },
        );
        Begin::New(Guard {
            inner: Arc::clone(&self.inner),
            key: k,
            attempt,
            finished: false,
        })
    }

    /// Entries held (in flight and completed), after forgetting the expired ones.
    pub fn len(&self) -> usize {
        let now = (self.inner.clock)();
        let mut st = self.inner.state.lock();
        st.expire(now, self.inner.ttl);
        st.entries.len()
    }

    /// True when [`len`](Self::len) is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The right to run the request of a [`Begin::New`]. Complete it with the response that later
/// duplicates must see — success, or a definitive failure, or an outcome-unknown booking (so a
/// retry never books twice). Dropping it without completing forgets the key, so the client may
/// retry: do that only when the request had no effect at the supplier.
pub struct Guard {
    inner: Arc<Inner>,
    key: Key,
    attempt: u64,
    finished: bool,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("scope", &self.key.0)
            .field("key", &self.key.1)
            .field("attempt", &self.attempt)
            .finish()
    }
}

impl Guard {
    /// The agent id the key belongs to.
    pub fn scope(&self) -> &str {
        &self.key.0
    }

    /// The `Idempotency-Key`.
    pub fn key(&self) -> &str {
        &self.key.1
    }

    /// Stores `resp` for replay; the entry expires `ttl` from now.
    pub fn complete(mut self, resp: StoredResponse) {
        self.finished = true;
        let now = (self.inner.clock)();
        let mut st = self.inner.state.lock();
        let Some(e) = st.entries.get_mut(&self.key) else {
            return;
        };
        if e.attempt != self.attempt || e.done.is_some() {
            return;
        }
        e.done = Some((resp, now));
        st.completed.insert((now, self.attempt), self.key.clone());
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut st = self.inner.state.lock();
        if st
            .entries
            .get(&self.key)
            .is_some_and(|e| e.attempt == self.attempt && e.done.is_none())
        {
            st.entries.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::sync::Barrier;

    const TTL: Duration = Duration::from_secs(3600);

    /// Time that moves only when told to.
    #[derive(Clone)]
    struct ManualClock {
        base: Instant,
        offset: Arc<Mutex<Duration>>,
    }

    impl ManualClock {
        fn new() -> Self {
            ManualClock {
                base: Instant::now(),
                offset: Arc::new(Mutex::new(Duration::ZERO)),
            }
        }
        fn advance(&self, d: Duration) {
            *self.offset.lock() += d;
        }
        fn clock(&self) -> Clock {
            let c = self.clone();
            Arc::new(move || c.base + *c.offset.lock())
        }
    }

    fn store(max: usize) -> (IdempotencyStore, ManualClock) {
        let clock = ManualClock::new();
        (
            IdempotencyStore::new_with_clock(max, TTL, clock.clock()),
            clock,
        )
    }

    fn resp(status: u16, body: &'static str) -> StoredResponse {
        StoredResponse {
            status,
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    fn new_guard(b: Begin) -> Guard {
        match b {
            Begin::New(g) => g,
            other => panic!("expected New, got {other:?}"),
        }
    }

    const A: [u8; 32] = [1; 32];
    const B: [u8; 32] = [2; 32];

    #[test]
    fn same_key_same_body_replays_the_stored_response() {
        let (s, _) = store(10);
        new_guard(s.begin("agent-1", "k1", A)).complete(resp(201, r#"{"booking_id":"bk_1"}"#));
        for _ in 0..3 {
            match s.begin("agent-1", "k1", A) {
                Begin::Replay(r) => assert_eq!(r, resp(201, r#"{"booking_id":"bk_1"}"#)),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn same_key_different_body_is_a_mismatch_in_flight_or_done() {
        let (s, _) = store(10);
        let g = new_guard(s.begin("agent-1", "k1", A));
        assert!(matches!(s.begin("agent-1", "k1", B), Begin::Mismatch));
        g.complete(resp(201, "x"));
        assert!(matches!(s.begin("agent-1", "k1", B), Begin::Mismatch));
        assert!(matches!(s.begin("agent-1", "k1", A), Begin::Replay(_)));
    }

    #[test]
    fn concurrent_duplicate_is_in_flight_until_completed() {
        let (s, _) = store(10);
        let g = new_guard(s.begin("agent-1", "k1", A));
        assert!(matches!(s.begin("agent-1", "k1", A), Begin::InFlight));
        assert!(matches!(s.begin("agent-1", "k1", A), Begin::InFlight));
        g.complete(resp(201, "x"));
        assert!(matches!(s.begin("agent-1", "k1", A), Begin::Replay(_)));
    }

    #[test]
    fn keys_are_scoped_per_agent() {
        let (s, _) = store(10);
        let _g = new_guard(s.begin("agent-1", "k1", A));
        let _h = new_guard(s.begin("agent-2", "k1", B));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn drop_without_complete_allows_a_retry() {
        let (s, _) = store(10);
        drop(new_guard(s.begin("agent-1", "k1", A)));
        assert_eq!(s.len(), 0);
        let g = new_guard(s.begin("agent-1", "k1", B));
        assert_eq!((g.scope(), g.key()), ("agent-1", "k1"));
        g.complete(resp(409, "sold out"));
        assert!(matches!(s.begin("agent-1", "k1", B), Begin::Replay(r) if r.status == 409));
    }

    #[rstest]
    #[case::just_before(TTL - Duration::from_millis(1), true)]
    #[case::at_ttl(TTL, false)]
    #[case::long_after(TTL * 10, false)]
    fn completed_entries_expire_ttl_after_completion(
        #[case] after: Duration,
        #[case] replayed: bool,
    ) {
        let (s, clock) = store(10);
        let g = new_guard(s.begin("agent-1", "k1", A));
        clock.advance(Duration::from_secs(30)); // a slow supplier: TTL counts from completion
        g.complete(resp(201, "x"));
        clock.advance(after);
        assert_eq!(s.len(), usize::from(replayed));
        match s.begin("agent-1", "k1", B) {
            Begin::Mismatch => assert!(replayed),
            Begin::New(_) => assert!(!replayed),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn in_flight_entries_do_not_expire() {
        let (s, clock) = store(10);
        let g = new_guard(s.begin("agent-1", "k1", A));
        clock.advance(TTL * 10);
        assert!(matches!(s.begin("agent-1", "k1", A), Begin::InFlight));
        g.complete(resp(201, "x"));
        assert!(matches!(s.begin("agent-1", "k1", A), Begin::Replay(_)));
    }

    #[test]
    fn bound_holds_under_ten_times_capacity() {
        let (s, clock) = store(50);
        for i in 0..500 {
            new_guard(s.begin("agent-1", &format!("k{i}"), A)).complete(resp(201, "x"));
            clock.advance(Duration::from_millis(1));
            assert!(s.len() <= 50, "len {} after {i}", s.len());
        }
        assert_eq!(s.len(), 50);
        for i in 450..500 {
            assert!(
                matches!(s.begin("agent-1", &format!("k{i}"), A), Begin::Replay(_)),
                "k{i}"
            );
        }
        assert!(
            matches!(s.begin("agent-1", "k449", B), Begin::New(_)),
            "oldest were evicted"
        );
    }

    #[test]
    fn full_evicts_the_oldest_completed_and_never_one_in_flight() {
        let (s, clock) = store(3);
        let g_old = new_guard(s.begin("a", "old", A));
        let g_mid = new_guard(s.begin("a", "mid", A));
        let in_flight = new_guard(s.begin("a", "running", A));
        // "mid" completes first, so it is the oldest completed entry.
        g_mid.complete(resp(201, "mid"));
        clock.advance(Duration::from_secs(1));
        g_old.complete(resp(201, "old"));

        let _n1 = new_guard(s.begin("a", "n1", A));
        assert_eq!(s.len(), 3);
        assert!(
            matches!(s.begin("a", "old", A), Begin::Replay(r) if r.body == "old"),
            "mid was evicted, not old"
        );
        assert!(matches!(s.begin("a", "running", A), Begin::InFlight));

        let _n2 = new_guard(s.begin("a", "n2", A));
        assert!(
            matches!(s.begin("a", "n3", A), Begin::Full),
            "all in flight now"
        );
        assert!(
            matches!(s.begin("a", "old", A), Begin::Full),
            "old was evicted for n2"
        );
        assert!(matches!(s.begin("a", "running", A), Begin::InFlight));
        drop(in_flight);
        assert!(matches!(s.begin("a", "n3", A), Begin::New(_)));
    }

    #[test]
    fn exactly_one_of_many_concurrent_duplicates_runs() {
        let (s, _) = store(10);
        let threads = 8;
        let begun = Barrier::new(threads);
        let outcomes: Vec<&'static str> = std::thread::scope(|sc| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    sc.spawn(|| {
                        let b = s.begin("agent-1", "k1", A);
                        begun.wait(); // hold any guard until every thread has begun
                        match b {
                            Begin::New(_) => "new",
                            Begin::InFlight => "in_flight",
                            _ => "other",
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            outcomes.iter().filter(|o| **o == "new").count(),
            1,
            "{outcomes:?}"
        );
        assert_eq!(
            outcomes.iter().filter(|o| **o == "in_flight").count(),
            threads - 1
        );
        assert_eq!(s.len(), 0, "the winner dropped its guard");
    }

    #[rstest]
    #[case::whitespace(br#"{"offer_id":"of_1","guests":[{"first_name":"A","last_name":"B"}]}"#, b"{ \"offer_id\" : \"of_1\",\n \"guests\": [ {\"first_name\":\"A\", \"last_name\":\"B\"} ] }\n", true)]
    #[case::key_order(br#"{"a":1,"b":{"c":2,"d":3}}"#, br#"{"b":{"d":3,"c":2},"a":1}"#, true)]
    #[case::escapes(br#"{"n":"Jos\u00e9"}"#, r#"{"n":"José"}"#.as_bytes(), true)]
    #[case::value(br#"{"a":1}"#, br#"{"a":2}"#, false)]
    #[case::array_order(br#"[1,2]"#, br#"[2,1]"#, false)]
    #[case::string_vs_number(br#"{"a":"1"}"#, br#"{"a":1}"#, false)]
    #[case::not_json_same(b"not json", b"not json", true)]
    #[case::not_json_spaces(b"not json", b"not  json", false)]
    fn json_fingerprints(#[case] a: &[u8], #[case] b: &[u8], #[case] same: bool) {
        assert_eq!(fingerprint_json(a) == fingerprint_json(b), same);
    }

    #[test]
    fn fingerprint_is_sha256() {
        assert_eq!(
            hex::encode(fingerprint(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[rstest]
    #[case::uuid("8e03978e-40d5-43e8-bc93-6894a57f9324", true)]
    #[case::one_char("k", true)]
    #[case::max_len(&"k".repeat(MAX_KEY_LEN), true)]
    #[case::empty("", false)]
    #[case::too_long(&"k".repeat(MAX_KEY_LEN + 1), false)]
    #[case::space("a b", false)]
    #[case::control("a\tb", false)]
    #[case::non_ascii("clé", false)]
    fn key_validity(#[case] key: &str, #[case] valid: bool) {
        assert_eq!(is_valid_key(key), valid);
    }
}
