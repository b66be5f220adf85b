//! The span model: one row of `trace_events` (DESIGN §6) plus the look-up keys an operator needs
//! (supplier, booking id, hotel ids, agent) and a small attribute map. Call sites build spans with
//! [`Span::begin`] and the `with_*` methods, close them with [`Span::finish`], and hand them to a
//! [`crate::SpanSink`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// What a span records. The set is DESIGN §6's `event_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// An agent search (the root of a browse trace).
    Search,
    /// A search answered (fully or per leg) from cache.
    CacheHit,
    /// One call to one supplier (a search leg, content fetch…).
    SupplierQuery,
    /// Real-time availability re-check of an offer.
    CheckAvail,
    /// The booking request to the supplier.
    Book,
    /// Confirmation of a booking (commit of a hold, or reconciliation that settled it).
    Confirm,
    /// Real-time booking query at the supplier.
    QueryOrder,
    /// Cancellation at the supplier.
    Cancel,
    /// A supplier ARI push received on `/webhooks/{supplier}`.
    Webhook,
    /// A cache invalidation (webhook, re-check feedback, admin purge).
    Invalidate,
    /// Merging the legs of a search into one answer (room mapping, prices, offer tokens).
    Merge,
    /// A static content or listing request (hotel content, destinations).
    Content,
    /// Anything this build does not know (read back from a newer writer).
    #[serde(other)]
    Other,
}

impl EventType {
    /// Every known event type, in DESIGN §6 order.
    pub const ALL: [EventType; 12] = [
        EventType::Search,
        EventType::CacheHit,
        EventType::SupplierQuery,
        EventType::CheckAvail,
        EventType::Book,
        EventType::Confirm,
        EventType::QueryOrder,
        EventType::Cancel,
        EventType::Webhook,
        EventType::Invalidate,
        EventType::Merge,
        EventType::Content,
    ];

    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Search => "search",
            EventType::CacheHit => "cache_hit",
            EventType::SupplierQuery => "supplier_query",
            EventType::CheckAvail => "check_avail",
            EventType::Book => "book",
            EventType::Confirm => "confirm",
            EventType::QueryOrder => "query_order",
            EventType::Cancel => "cancel",
            EventType::Webhook => "webhook",
            EventType::Invalidate => "invalidate",
            EventType::Merge => "merge",
            EventType::Content => "content",
            EventType::Other => "other",
        }
    }

    /// Parses a column value; unknown values become [`EventType::Other`].
    pub fn parse_lenient(s: &str) -> EventType {
        EventType::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .unwrap_or(EventType::Other)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a span ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SpanStatus {
    /// The operation did what was asked (a sold-out answer is still a success).
    #[default]
    Success,
    /// The operation failed; `error_detail` says why.
    Error,
    /// The operation ran out of time (for a booking: outcome unknown until reconciled).
    Timeout,
}

impl SpanStatus {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanStatus::Success => "success",
            SpanStatus::Error => "error",
            SpanStatus::Timeout => "timeout",
        }
    }
}

impl FromStr for SpanStatus {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "success" => Ok(SpanStatus::Success),
            "error" => Ok(SpanStatus::Error),
            "timeout" => Ok(SpanStatus::Timeout),
            other => Err(UnknownValue(other.to_string())),
        }
    }
}

/// What `related_id` names (DESIGN §6 `related_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelatedType {
    /// A booking (order).
    Order,
    /// A supplier.
    Supplier,
    /// An agent.
    Agent,
    /// A hotel.
    Hotel,
}

impl RelatedType {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            RelatedType::Order => "order",
            RelatedType::Supplier => "supplier",
            RelatedType::Agent => "agent",
            RelatedType::Hotel => "hotel",
        }
    }
}

impl FromStr for RelatedType {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "order" => Ok(RelatedType::Order),
            "supplier" => Ok(RelatedType::Supplier),
            "agent" => Ok(RelatedType::Agent),
            "hotel" => Ok(RelatedType::Hotel),
            other => Err(UnknownValue(other.to_string())),
        }
    }
}

/// A column value this build does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value {0:?}")]
pub struct UnknownValue(pub String);

/// One span. Serialized as JSON by the trace API (inside [`crate::SpanNode`]).
///
/// `request_data`/`response_data` may hold raw excerpts when recorded: the sink's writer redacts
/// secrets and trims them before they are stored anywhere (see [`crate::redact`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// The trace (32 lowercase hex, W3C trace-context style, or whatever the edge issued).
    pub trace_id: String,
    /// This span (16 lowercase hex unless given).
    pub span_id: String,
    /// The parent span in the same trace; `None` for a root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    /// What happened.
    pub event_type: EventType,
    /// Which service emitted it (`arigate-edge`, a node name…).
    pub service: String,
    /// What the span is about, DESIGN §6 `related_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related_type: Option<RelatedType>,
    /// The id of what it is about (`related_id`); empty when `related_type` is `None`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub related_id: String,
    /// The supplier code, for spans that involve one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier: Option<String>,
    /// The edge booking id, for spans of a booking's life (book, confirm, query, cancel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booking_id: Option<String>,
    /// Unified hotel ids the span concerns (a search lists several; at most
    /// [`MAX_HOTELS_PER_SPAN`] are stored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hotel_ids: Vec<String>,
    /// The agent that made the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Request excerpt (trimmed, secrets removed once stored).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub request_data: String,
    /// Response excerpt (trimmed, secrets removed once stored).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub response_data: String,
    /// Start, Unix milliseconds (wall clock).
    pub start_ms: u64,
    /// Duration in milliseconds.
    pub duration_ms: u32,
    /// How it ended.
    pub status: SpanStatus,
    /// Why it failed (empty on success).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error_detail: String,
    /// Small free-form attributes (HTTP status, cache key, attempt…), stored as a JSON object.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    #[serde(skip)]
    clock: Option<Instant>,
}

/// Hotel ids kept per span; a destination search over hundreds of hotels keeps the first ones.
pub const MAX_HOTELS_PER_SPAN: usize = 64;

/// The service name spans carry unless told otherwise.
pub const DEFAULT_SERVICE: &str = "arigate-edge";

impl Span {
    /// Starts a span now, with a fresh span id, in `trace_id` under `parent` (or as a root).
    pub fn begin(trace_id: impl Into<String>, parent: Option<&str>, event_type: EventType) -> Span {
        Span {
            trace_id: trace_id.into(),
            span_id: new_span_id(),
            parent_span_id: parent.map(str::to_string),
            event_type,
            service: DEFAULT_SERVICE.to_string(),
            related_type: None,
            related_id: String::new(),
            supplier: None,
            booking_id: None,
            hotel_ids: Vec::new(),
            agent_id: None,
            request_data: String::new(),
            response_data: String::new(),
            start_ms: now_ms(),
            duration_ms: 0,
            status: SpanStatus::Success,
            error_detail: String::new(),
            attributes: BTreeMap::new(),
            clock: Some(Instant::now()),
        }
    }

    /// Sets the span id (for spans whose id was handed out earlier, e.g. in a `traceparent`).
    pub fn with_span_id(mut self, span_id: impl Into<String>) -> Self {
        self.span_id = span_id.into();
        self
    }

    /// Sets the start time explicitly (Unix ms) and forgets the monotonic clock, so
    /// [`Span::finish`] keeps `duration_ms` as set by [`Span::with_duration_ms`].
    pub fn with_start_ms(mut self, start_ms: u64) -> Self {
        self.start_ms = start_ms;
        self.clock = None;
        self
    }

    /// Sets the duration explicitly.
    pub fn with_duration_ms(mut self, duration_ms: u32) -> Self {
        self.duration_ms = duration_ms;
        self
    }

    /// Sets the emitting service.
    pub fn with_service(mut self, service: impl Into<String>) -> Self {
        self.service = service.into();
        self
    }

    /// Sets `related_type`/`related_id`.
    pub fn with_related(mut self, kind: RelatedType, id: impl Into<String>) -> Self {
        self.related_type = Some(kind);
        self.related_id = id.into();
        self
    }

    /// Sets the supplier code.
    pub fn with_supplier(mut self, supplier: impl Into<String>) -> Self {
        self.supplier = Some(supplier.into());
        self
    }

    /// Sets the booking id (makes the span's trace part of that booking's story).
    pub fn with_booking(mut self, booking_id: impl Into<String>) -> Self {
        self.booking_id = Some(booking_id.into());
        self
    }

    /// Adds one hotel id.
    pub fn with_hotel(mut self, hotel_id: impl Into<String>) -> Self {
        self.hotel_ids.push(hotel_id.into());
        self
    }

    /// Adds several hotel ids.
    pub fn with_hotels<I, S>(mut self, hotel_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.hotel_ids.extend(hotel_ids.into_iter().map(Into::into));
        self
    }

    /// Sets the agent id.
    pub fn with_agent(mut self, agent_id: impl Into<String>) -> Self {
        self.agent_id = Some(agent_id.into());
        self
    }

    /// Sets the request excerpt (raw is fine: the writer redacts and trims).
    pub fn with_request(mut self, data: impl Into<String>) -> Self {
        self.request_data = data.into();
        self
    }

    /// Sets the response excerpt (raw is fine: the writer redacts and trims).
    pub fn with_response(mut self, data: impl Into<String>) -> Self {
        self.response_data = data.into();
        self
    }

    /// Adds an attribute.
    pub fn with_attr(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// Ends the span with `status`: the duration is measured from [`Span::begin`] unless the start
    /// was set explicitly.
    pub fn finish(&mut self, status: SpanStatus) {
        self.status = status;
        if let Some(clock) = self.clock.take() {
            self.duration_ms = u32::try_from(clock.elapsed().as_millis()).unwrap_or(u32::MAX);
        }
    }

    /// Ends the span as failed with `detail`.
    pub fn fail(&mut self, status: SpanStatus, detail: impl Into<String>) {
        self.error_detail = detail.into();
        self.finish(status);
    }

    /// [`Span::finish`] by value, for builder chains.
    pub fn finished(mut self, status: SpanStatus) -> Self {
        self.finish(status);
        self
    }

    /// [`Span::fail`] by value, for builder chains.
    pub fn failed(mut self, status: SpanStatus, detail: impl Into<String>) -> Self {
        self.fail(status, detail);
        self
    }

    /// End, Unix ms.
    pub fn end_ms(&self) -> u64 {
        self.start_ms.saturating_add(u64::from(self.duration_ms))
    }

    /// Rough heap size, for budgets.
    pub fn approx_bytes(&self) -> usize {
        self.trace_id.len()
            + self.span_id.len()
            + self.parent_span_id.as_ref().map_or(0, String::len)
            + self.service.len()
            + self.related_id.len()
            + self.supplier.as_ref().map_or(0, String::len)
            + self.booking_id.as_ref().map_or(0, String::len)
            + self.hotel_ids.iter().map(String::len).sum::<usize>()
            + self.agent_id.as_ref().map_or(0, String::len)
            + self.request_data.len()
            + self.response_data.len()
            + self.error_detail.len()
            + self
                .attributes
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    }
}

/// A fresh random span id: 16 lowercase hex digits (W3C `parent-id` shape).
pub fn new_span_id() -> String {
    let mut id: u64 = rand::random();
    if id == 0 {
        id = 1;
    }
    format!("{id:016x}")
}

/// A random number from the thread-local CSPRNG (no system call), e.g. to derive span ids from.
pub fn random_u64() -> u64 {
    rand::random()
}

/// A fresh random trace id: 32 lowercase hex digits (W3C `trace-id` shape).
pub fn new_trace_id() -> String {
    let id: u128 = rand::random::<u128>().max(1);
    format!("{id:032x}")
}

/// Wall-clock now, Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_round_trip_through_their_column_value() {
        for e in EventType::ALL {
            assert_eq!(EventType::parse_lenient(e.as_str()), e);
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!("\"{}\"", e.as_str()));
        }
        assert_eq!(EventType::parse_lenient("teleport"), EventType::Other);
        let other: EventType = serde_json::from_str("\"teleport\"").unwrap();
        assert_eq!(other, EventType::Other);
    }

    #[test]
    fn builder_and_finish() {
        let mut s = Span::begin("t1", Some("p1"), EventType::Book)
            .with_supplier("hotelbeds")
            .with_booking("B1")
            .with_hotel("H1")
            .with_related(RelatedType::Order, "B1")
            .with_attr("http_status", "201");
        s.fail(SpanStatus::Timeout, "supplier did not answer in 30 s");
        assert_eq!(s.status, SpanStatus::Timeout);
        assert_eq!(s.parent_span_id.as_deref(), Some("p1"));
        assert_eq!(s.span_id.len(), 16);
        assert!(s.duration_ms < 1000);
        let fixed = Span::begin("t", None, EventType::Search)
            .with_start_ms(1_000)
            .with_duration_ms(250)
            .finished(SpanStatus::Success);
        assert_eq!(fixed.duration_ms, 250);
        assert_eq!(fixed.end_ms(), 1_250);
        assert_eq!(new_trace_id().len(), 32);
    }
}
