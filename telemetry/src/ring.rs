//! The embedded default trace store: the most recent spans in memory, bounded by span count,
//! oldest evicted first, indexed by trace id, booking id and hotel id so the trace API answers
//! without ClickHouse (DESIGN §8).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::RwLock;

use crate::hits::{HitSpans, Record};
use crate::span::Span;
use crate::store::{order_story, StoreError, TraceStore, MAX_TRACES_PER_HOTEL_QUERY};

/// A bounded in-memory span store. Cheap to share (`Arc`), safe to write from the sink's task
/// while the API reads.
#[derive(Debug)]
pub struct RingStore {
    capacity: usize,
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Entries, oldest first; `spans[i]` has sequence number `base + i`.
    spans: VecDeque<Entry>,
    base: u64,
    /// Spans the entries stand for (the bound is in spans).
    held: usize,
    /// Trace id → sequence numbers of its spans. The key is shared (one allocation per trace)
    /// with the trace ids the other indexes hold.
    by_trace: HashMap<Arc<str>, VecDeque<u64>>,
    /// Booking id → (seq, trace id) of spans mentioning it, in insertion order.
    by_booking: KeyIndex,
    /// Hotel id → (seq, trace id) of spans mentioning it, in insertion order.
    by_hotel: KeyIndex,
    evicted: u64,
}

type KeyIndex = HashMap<Arc<str>, VecDeque<(u64, Arc<str>)>>;

/// One stored span, or the `cache_hit` spans of one hit kept as one value until read. A hit is
/// indexed by its trace, and by hotel only for the root span it carries: the request's root
/// span, in the same trace, names every hotel the hits do, so a look-up by hotel finds the trace.
#[derive(Debug)]
enum Entry {
    Span(Arc<Span>),
    Hits(Arc<HitSpans>),
}

impl Entry {
    fn weight(&self) -> usize {
        match self {
            Entry::Span(_) => 1,
            Entry::Hits(h) => h.len().max(1),
        }
    }

    fn trace_id(&self) -> &str {
        match self {
            Entry::Span(s) => &s.trace_id,
            Entry::Hits(h) => &h.trace_id,
        }
    }

    fn push_spans(&self, out: &mut Vec<Span>) {
        match self {
            Entry::Span(s) => out.push((**s).clone()),
            Entry::Hits(h) => out.extend(h.spans()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Booking,
    Hotel,
}

impl Inner {
    fn index(&self, key: Key) -> &KeyIndex {
        match key {
            Key::Booking => &self.by_booking,
            Key::Hotel => &self.by_hotel,
        }
    }
}

/// Appends `(seq, trace)` under `key`, allocating the key only the first time it is seen.
fn index_push(index: &mut KeyIndex, key: &str, seq: u64, trace: &Arc<str>) {
    match index.get_mut(key) {
        Some(list) => list.push_back((seq, trace.clone())),
        None => {
            index.insert(Arc::from(key), VecDeque::from([(seq, trace.clone())]));
        }
    }
}

/// Drops entries up to `seq` under `key` (the evicted span's), and the key once empty.
fn index_evict(index: &mut KeyIndex, key: &str, seq: u64) {
    if let Some(list) = index.get_mut(key) {
        while list.front().is_some_and(|(s, _)| *s <= seq) {
            list.pop_front();
        }
        if list.is_empty() {
            index.remove(key);
        }
    }
}

impl RingStore {
    /// A store keeping at most `capacity` spans (at least 1).
    pub fn new(capacity: usize) -> RingStore {
        RingStore {
            capacity: capacity.max(1),
            inner: RwLock::new(Inner::default()),
        }
    }

    /// The span bound.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Spans held now.
    pub fn len(&self) -> usize {
        self.inner.read().held
    }

    /// Whether no span is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Spans evicted so far to stay within the bound.
    pub fn evicted(&self) -> u64 {
        self.inner.read().evicted
    }

    /// Adds spans, evicting the oldest beyond the bound. Spans are stored as given: the sink
    /// redacts them before they get here.
    pub fn insert_batch(&self, spans: impl IntoIterator<Item = Span>) {
        let mut inner = self.inner.write();
        for span in spans {
            inner.push(Entry::Span(Arc::new(span)), self.capacity);
        }
    }

    /// [`insert_batch`](Self::insert_batch) of what the sink carries: a hit's spans stay one
    /// entry until a query reads them.
    pub fn insert_records(&self, records: impl IntoIterator<Item = Record>) {
        let mut inner = self.inner.write();
        for r in records {
            let entry = match r {
                Record::Span(s) => Entry::Span(Arc::new(s)),
                Record::Hits(h) => Entry::Hits(Arc::new(h)),
            };
            inner.push(entry, self.capacity);
        }
    }

    fn trace_spans(inner: &Inner, trace_id: &str) -> Vec<Span> {
        let mut out = Vec::new();
        if let Some(seqs) = inner.by_trace.get(trace_id) {
            for e in seqs.iter().filter_map(|seq| inner.get(*seq)) {
                e.push_spans(&mut out);
            }
        }
        out
    }

    /// Traces mentioning the key, most recent first, at most `limit`.
    fn traces_for(inner: &Inner, key: Key, id: &str, limit: usize) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        if let Some(list) = inner.index(key).get(id) {
            for (_, trace) in list.iter().rev() {
                if out.len() >= limit {
                    break;
                }
                if seen.insert(trace.as_ref()) {
                    out.push(trace.to_string());
                }
            }
        }
        out
    }

    /// Synchronous [`TraceStore::spans_by_trace`].
    pub fn spans_by_trace_now(&self, trace_id: &str) -> Vec<Span> {
        order_story(Self::trace_spans(&self.inner.read(), trace_id))
    }

    /// Synchronous [`TraceStore::traces_by_booking`].
    pub fn traces_by_booking_now(&self, booking_id: &str, linked: &[&str]) -> Vec<Span> {
        let inner = self.inner.read();
        let mut traces = Self::traces_for(&inner, Key::Booking, booking_id, usize::MAX);
        for t in linked {
            if !t.is_empty() && !traces.iter().any(|x| x == t) {
                traces.push(t.to_string());
            }
        }
        let spans = traces
            .iter()
            .flat_map(|t| Self::trace_spans(&inner, t))
            .collect();
        order_story(spans)
    }

    /// Synchronous [`TraceStore::traces_by_hotel`].
    pub fn traces_by_hotel_now(&self, hotel_id: &str, limit: usize) -> Vec<Span> {
        let inner = self.inner.read();
        let traces = Self::traces_for(
            &inner,
            Key::Hotel,
            hotel_id,
            limit.min(MAX_TRACES_PER_HOTEL_QUERY),
        );
        let spans = traces
            .iter()
            .flat_map(|t| Self::trace_spans(&inner, t))
            .collect();
        order_story(spans)
    }
}

impl Inner {
    fn get(&self, seq: u64) -> Option<&Entry> {
        let i = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        self.spans.get(i)
    }

    fn push(&mut self, entry: Entry, capacity: usize) {
        let weight = entry.weight();
        while !self.spans.is_empty() && self.held + weight > capacity {
            self.evict_oldest();
        }
        let seq = self.base + self.spans.len() as u64;
        let trace: Arc<str> = match self.by_trace.get_key_value(entry.trace_id()) {
            Some((k, _)) => k.clone(),
            None => Arc::from(entry.trace_id()),
        };
        match self.by_trace.get_mut(&trace) {
            Some(list) => list.push_back(seq),
            None => {
                self.by_trace.insert(trace.clone(), VecDeque::from([seq]));
            }
        }
        match &entry {
            Entry::Span(span) => {
                if let Some(b) = &span.booking_id {
                    index_push(&mut self.by_booking, b, seq, &trace);
                }
                for h in &span.hotel_ids {
                    index_push(&mut self.by_hotel, h, seq, &trace);
                }
            }
            Entry::Hits(hits) => {
                for h in hits.root_hotels() {
                    index_push(&mut self.by_hotel, h, seq, &trace);
                }
            }
        }
        self.held += weight;
        self.spans.push_back(entry);
    }

    fn evict_oldest(&mut self) {
        let Some(old) = self.spans.pop_front() else {
            return;
        };
        let seq = self.base;
        self.base += 1;
        let weight = old.weight();
        self.held -= weight;
        self.evicted += weight as u64;
        if let Some(list) = self.by_trace.get_mut(old.trace_id()) {
            if list.front() == Some(&seq) {
                list.pop_front();
            }
            if list.is_empty() {
                self.by_trace.remove(old.trace_id());
            }
        }
        match &old {
            Entry::Span(old) => {
                if let Some(b) = &old.booking_id {
                    index_evict(&mut self.by_booking, b, seq);
                }
                for h in &old.hotel_ids {
                    index_evict(&mut self.by_hotel, h, seq);
                }
            }
            Entry::Hits(old) => {
                for h in old.root_hotels() {
                    index_evict(&mut self.by_hotel, h, seq);
                }
            }
        }
    }
}

#[async_trait]
impl TraceStore for RingStore {
    async fn spans_by_trace(&self, trace_id: &str) -> Result<Vec<Span>, StoreError> {
        Ok(self.spans_by_trace_now(trace_id))
    }

    async fn traces_by_booking(
        &self,
        booking_id: &str,
        linked: &[&str],
    ) -> Result<Vec<Span>, StoreError> {
        Ok(self.traces_by_booking_now(booking_id, linked))
    }

    async fn traces_by_hotel(&self, hotel_id: &str, limit: usize) -> Result<Vec<Span>, StoreError> {
        Ok(self.traces_by_hotel_now(hotel_id, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::{EventType, SpanStatus};

    fn span(trace: &str, id: &str, start: u64) -> Span {
        Span::begin(trace, None, EventType::Search)
            .with_span_id(id)
            .with_start_ms(start)
            .finished(SpanStatus::Success)
    }

    #[tokio::test]
    async fn queries_by_trace_booking_and_hotel() {
        let ring = RingStore::new(100);
        ring.insert_batch([
            span("search-t", "s1", 10).with_hotels(["H1", "H2"]),
            span("search-t", "s2", 11).with_hotel("H1"),
            span("book-t", "b1", 50).with_booking("B1").with_hotel("H1"),
            span("query-t", "q1", 90).with_booking("B1"),
            span("other-t", "o1", 95).with_hotel("H2"),
        ]);
        let t = ring.spans_by_trace("search-t").await.unwrap();
        assert_eq!(
            t.iter().map(|s| s.span_id.as_str()).collect::<Vec<_>>(),
            ["s1", "s2"]
        );

        let story = ring.traces_by_booking("B1", &["search-t"]).await.unwrap();
        let ids: Vec<&str> = story.iter().map(|s| s.span_id.as_str()).collect();
        assert_eq!(ids, ["s1", "s2", "b1", "q1"]);

        let h1 = ring.traces_by_hotel("H1", 1).await.unwrap();
        assert_eq!(
            h1.iter().map(|s| s.trace_id.as_str()).collect::<Vec<_>>(),
            ["book-t"]
        );
        let h1 = ring.traces_by_hotel("H1", 10).await.unwrap();
        assert_eq!(h1.len(), 3);
        assert!(ring.traces_by_hotel("nope", 10).await.unwrap().is_empty());
    }

    #[test]
    fn a_hit_is_one_entry_read_back_as_its_spans_and_counted_as_them() {
        use crate::hits::{AnswerLegs, HitLeg, HitSpans};
        let legs = Arc::new(AnswerLegs::new(
            "maker",
            "search",
            ["hotelbeds", "dida", "derbysoft"]
                .iter()
                .map(|s| HitLeg {
                    supplier: s.to_string(),
                    hotels: vec!["H1".into()],
                    offers: "2".into(),
                })
                .collect(),
        ));
        let hit = |trace: &str| {
            Record::Hits(HitSpans {
                trace_id: Arc::from(trace),
                parent_span_id: Arc::from("root"),
                service: Arc::from("arigate-edge"),
                start_ms: 7,
                seed: 9,
                legs: legs.clone(),
                root: None,
            })
        };
        let ring = RingStore::new(8);
        ring.insert_records([
            Record::Span(span("t1", "root", 7).with_hotel("H1")),
            hit("t1"),
        ]);
        assert_eq!(ring.len(), 4);
        let t1 = ring.spans_by_trace_now("t1");
        assert_eq!(t1.len(), 4);
        assert_eq!(
            t1.iter()
                .filter(|s| s.event_type == EventType::CacheHit
                    && s.parent_span_id.as_deref() == Some("root"))
                .count(),
            3
        );
        assert_eq!(ring.traces_by_hotel_now("H1", 10).len(), 4);
        // The bound counts spans: two more hits (6 spans) push out the first trace whole.
        ring.insert_records([hit("t2"), hit("t3")]);
        assert!(ring.len() <= 8, "{}", ring.len());
        assert!(ring.spans_by_trace_now("t1").is_empty());
        assert_eq!(ring.spans_by_trace_now("t3").len(), 3);
        assert_eq!(ring.evicted(), 4);
    }

    #[test]
    fn a_hit_carrying_its_root_is_found_by_trace_and_hotel_until_evicted() {
        use crate::hits::{AnswerLegs, HitLeg, HitSpans, RootTimes};
        let legs = Arc::new(AnswerLegs::new(
            "maker",
            "search",
            vec![HitLeg {
                supplier: "dida".into(),
                hotels: vec!["H1".into()],
                offers: "2".into(),
            }],
        ));
        legs.root
            .set(
                span("maker", "first-hit-root", 1)
                    .with_hotel("H1")
                    .with_hotel("H2"),
            )
            .unwrap();
        let hit = |trace: &str| {
            Record::Hits(HitSpans {
                trace_id: Arc::from(trace),
                parent_span_id: Arc::from(format!("root-{trace}")),
                service: Arc::from("arigate-edge"),
                start_ms: 7,
                seed: 9,
                legs: legs.clone(),
                root: Some(RootTimes {
                    start_ms: 5,
                    duration_ms: 3,
                }),
            })
        };
        let ring = RingStore::new(4);
        ring.insert_records([hit("t1")]);
        assert_eq!(ring.len(), 2, "the root and one cache_hit span");
        let t1 = ring.spans_by_trace_now("t1");
        let root = t1.iter().find(|s| s.parent_span_id.is_none()).unwrap();
        assert_eq!(
            (root.span_id.as_str(), root.trace_id.as_str()),
            ("root-t1", "t1")
        );
        assert_eq!((root.start_ms, root.duration_ms), (5, 3));
        assert_eq!(t1[1].parent_span_id.as_deref(), Some("root-t1"));
        // Found by either hotel of the root, though no separate root span was stored.
        assert_eq!(ring.traces_by_hotel_now("H2", 10).len(), 2);
        ring.insert_records([hit("t2"), hit("t3")]);
        assert!(ring.spans_by_trace_now("t1").is_empty());
        let by_h2 = ring.traces_by_hotel_now("H2", 10);
        assert!(
            by_h2.iter().all(|s| s.trace_id != "t1"),
            "the evicted hit left the index"
        );
        assert_eq!(by_h2.len(), 4);
        assert_eq!(ring.inner.read().by_hotel.len(), 2);
    }

    #[test]
    fn evicts_oldest_and_cleans_indexes() {
        let ring = RingStore::new(3);
        for i in 0..10u64 {
            ring.insert_batch([span(&format!("t{i}"), "s", i)
                .with_booking(format!("B{i}"))
                .with_hotel("H")]);
        }
        assert_eq!(ring.len(), 3);
        assert_eq!(ring.evicted(), 7);
        assert!(ring.spans_by_trace_now("t0").is_empty());
        assert!(ring.traces_by_booking_now("B6", &[]).is_empty());
        assert_eq!(ring.traces_by_booking_now("B9", &[]).len(), 1);
        let inner = ring.inner.read();
        assert_eq!(inner.by_trace.len(), 3);
        assert_eq!(inner.by_booking.len(), 3); // B7, B8, B9
        assert_eq!(inner.by_hotel.len(), 1);
        assert_eq!(inner.by_hotel["H"].len(), 3);
        // Spans of one trace share its id: one allocation per trace, not per index entry.
        let t9 = inner.by_trace.keys().find(|k| k.as_ref() == "t9").unwrap();
        assert!(Arc::ptr_eq(t9, &inner.by_hotel["H"].back().unwrap().1));
    }
}
