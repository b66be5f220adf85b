//! The unified model every connector translates to and from. Money is always a decimal with a currency.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// An amount of money. Serialized as `{"amount":"231.40","currency":"EUR"}` (decimal string).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub currency: String,
}

impl Money {
    pub fn new(amount: Decimal, currency: impl Into<String>) -> Self {
        Money {
            amount,
            currency: currency.into(),
        }
    }
}

/// The stay dates; `checkout` is strictly after `checkin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stay {
    pub checkin: NaiveDate,
    pub checkout: NaiveDate,
}

impl Stay {
    pub fn nights(&self) -> i64 {
        (self.checkout - self.checkin).num_days()
    }
}

/// Who sleeps in one room.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Occupancy {
    pub adults: u8,
    #[serde(default)]
    pub children_ages: Vec<u8>,
}

/// A search at one supplier: its own hotel codes, already validated by the edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchQuery {
    pub stay: Stay,
    /// One entry per room.
    pub rooms: Vec<Occupancy>,
    /// The supplier's own hotel codes.
    pub hotels: Vec<String>,
    /// The currency the agent asked for; suppliers may answer in another one.
    pub currency: String,
    /// ISO 3166 alpha-2 of the guests' nationality.
    pub nationality: String,
}

/// Meal plan of an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Board {
    #[serde(rename = "RO")]
    RoomOnly,
    #[serde(rename = "BB")]
    Breakfast,
    #[serde(rename = "HB")]
    HalfBoard,
    #[serde(rename = "FB")]
    FullBoard,
    #[serde(rename = "AI")]
    AllInclusive,
}

/// When a cancellation penalty starts, as the supplier states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelTime {
    /// An instant: the supplier gave an offset (or `Z`).
    Instant(DateTime<Utc>),
    /// A wall-clock time at the hotel, stated without an offset (Dida `FromDate`, DerbySoft
    /// `dealineTime` before arrival, OTA deadlines without a zone). The edge places it on the
    /// timeline with the hotel's time zone ([`crate::normalize`]); a connector has no zone database.
    HotelLocal(NaiveDateTime),
}

impl CancelTime {
    /// An RFC 3339 instant, or a date-time without an offset (`YYYY-MM-DDTHH:MM[:SS[.f]]`, a
    /// space for the `T`, or a bare date for midnight) as the hotel's wall clock.
    pub fn parse(s: &str) -> Option<CancelTime> {
        let s = s.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Some(CancelTime::Instant(t.with_timezone(&Utc)));
        }
        [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .map(CancelTime::HotelLocal)
    }

    /// The instant, reading a hotel-local time as UTC: only for a rough comparison with a clock
    /// inside a connector; the edge resolves hotel-local times properly.
    pub fn as_if_utc(&self) -> DateTime<Utc> {
        match self {
            CancelTime::Instant(t) => *t,
            CancelTime::HotelLocal(t) => t.and_utc(),
        }
    }
}

impl From<DateTime<Utc>> for CancelTime {
    fn from(t: DateTime<Utc>) -> Self {
        CancelTime::Instant(t)
    }
}

/// From `from` on, cancelling costs `amount`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Penalty {
    pub from: CancelTime,
    pub amount: Money,
}

/// A charge the guest pays at the hotel, not part of `price`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fee {
    pub name: String,
    pub amount: Money,
}

/// Everything a connector needs to re-check or book an offer later. Opaque to agents: the edge
/// signs it into the `offer_id`. `token` is the connector's own material (Hotelbeds rateKey,
/// Rapid price-check href, Dida RatePlanID / ReferenceNo, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferKey {
    pub hotel: String,
    pub room: String,
    pub rate: String,
    pub stay: Stay,
    pub rooms: Vec<Occupancy>,
    /// The price the agent was shown, in the supplier's currency.
    pub price: Money,
    pub token: String,
}

/// One bookable offer as a supplier returned it, normalized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierOffer {
    pub room_code: String,
    pub room_name: String,
    pub rate_code: String,
    pub rate_name: String,
    pub board: Board,
    pub refundable: bool,
    pub cancel_penalties: Vec<Penalty>,
    /// Total for the whole stay and all rooms, in the supplier's currency, everything the supplier
    /// collects included. Charges payable at the hotel are in `pay_at_hotel`, not here.
    pub price: Money,
    /// Whether `price` includes taxes. `true` when the supplier says so (taxes it does not
    /// collect are listed in `pay_at_hotel`); `false` only when the supplier quotes before tax
    /// and does not give the tax, so the real total is unknown.
    #[serde(default = "yes")]
    pub taxes_included: bool,
    pub pay_at_hotel: Vec<Fee>,
    /// Whether the supplier lists what is payable at the hotel. `false` when its protocol does not
    /// give such charges (Dida: "the hotel's tax exclusive fees are not given"): there may be some.
    #[serde(default = "yes")]
    pub pay_at_hotel_listed: bool,
    pub allotment: Option<u32>,
    pub key: OfferKey,
}

fn yes() -> bool {
    true
}

/// One hotel's offers in a supplier's search answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HotelOffers {
    /// The supplier's own hotel code.
    pub hotel_code: String,
    pub hotel_name: String,
    pub offers: Vec<SupplierOffer>,
}

/// Outcome of a real-time re-check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecheckStatus {
    Available,
    PriceChanged,
    SoldOut,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecheckOutcome {
    pub status: RecheckStatus,
    /// The live price (absent when sold out).
    pub price: Option<Money>,
    /// The key to book from now on (may differ from the one re-checked; absent when sold out).
    pub key: Option<OfferKey>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guest {
    pub first_name: String,
    pub last_name: String,
}

/// What the edge sends to book: the guests, and the client reference the edge derived from the
/// agent's Idempotency-Key (the supplier-side idempotency key, at most 20 characters, `[A-Z0-9-]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookInput {
    pub guests: Vec<Guest>,
    pub client_reference: String,
    /// The agency's contact e-mail, for suppliers that require one.
    pub email: String,
    /// The agency's contact phone as `+<country code> <number>` (digits only), for suppliers that
    /// require one (Rapid `phone`, Dida `Contact.Phone`).
    pub phone: String,
}

/// Result of a prepare step (prebook, OTA Initiate, Dida PriceConfirm, Rapid price check).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepared {
    /// Supplier material the book call needs (booking token, hold id, ReferenceNo, book href).
    pub handle: String,
    pub price: Money,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    Confirmed,
    OnRequest,
    Pending,
    Cancelled,
    Failed,
    Unknown,
}

/// How to find a booking at its supplier again. Opaque to agents: the edge signs it into `booking_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingKey {
    /// The supplier's booking reference (empty while unknown).
    pub supplier_reference: String,
    pub client_reference: String,
    /// The connector's own material (Rapid retrieve token, DerbySoft ids, ...).
    pub token: String,
}

/// A booking as its supplier reports it (book, retrieve, find, cancel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingInfo {
    pub key: BookingKey,
    pub status: BookingStatus,
    pub price: Option<Money>,
    pub hotel_code: Option<String>,
    pub stay: Option<Stay>,
    /// Cancellation penalty charged (after a cancel).
    pub penalty: Option<Money>,
    pub cancellation_reference: Option<String>,
}

/// A cancellation quote (first step of a two-step cancel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelQuote {
    pub confirm: String,
    pub penalty: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomContent {
    pub code: String,
    pub name: String,
    pub max_occupancy: Option<u8>,
}

/// Static hotel content from a supplier's content endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HotelContent {
    pub code: String,
    pub name: String,
    pub address: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub time_zone: Option<String>,
    pub amenities: Vec<String>,
    pub rooms: Vec<RoomContent>,
}

/// One supplier HTTP exchange, in unified terms. The proxy runs each call as one upstream request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum Call {
    /// OAuth2 client-credentials token (DerbySoft).
    Token,
    Search {
        query: SearchQuery,
    },
    Content {
        hotels: Vec<String>,
    },
    Recheck {
        offer: OfferKey,
    },
    /// Prebook / OTA Initiate / Dida PriceConfirm / Rapid price check before book.
    Prepare {
        offer: OfferKey,
        book: BookInput,
    },
    Book {
        offer: OfferKey,
        book: BookInput,
        prepared: Option<Prepared>,
    },
    Retrieve {
        booking: BookingKey,
    },
    /// Find a booking by our client reference (reconciliation after a book timeout).
    Find {
        client_reference: String,
        offer: OfferKey,
        email: String,
    },
    CancelQuote {
        booking: BookingKey,
    },
    Cancel {
        booking: BookingKey,
        confirm: Option<String>,
    },
}

impl Call {
    /// Short operation name for spans, metrics and simulator scenario operations.
    pub fn op(&self) -> &'static str {
        match self {
            Call::Token => "token",
            Call::Search { .. } => "search",
            Call::Content { .. } => "content",
            Call::Recheck { .. } => "recheck",
            Call::Prepare { .. } => "prepare",
            Call::Book { .. } => "book",
            Call::Retrieve { .. } => "retrieve",
            Call::Find { .. } => "find",
            Call::CancelQuote { .. } => "cancel_quote",
            Call::Cancel { .. } => "cancel",
        }
    }

    /// Whether sending this call twice has the effect of sending it once.
    pub fn idempotent(&self) -> bool {
        !matches!(
            self,
            Call::Prepare { .. }
                | Call::Book { .. }
                | Call::Cancel { .. }
                | Call::CancelQuote { .. }
        )
    }

    /// Whether the proxy may retry this call after a transport failure. Book is never retried
    /// blindly; it is reconciled through [`Call::Find`].
    pub fn retry_safe(&self) -> bool {
        self.idempotent()
    }
}

/// A connector's reading of the supplier's answer to a [`Call`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Token {
        access_token: String,
        expires_in: u64,
    },
    Search {
        hotels: Vec<HotelOffers>,
    },
    Content {
        hotels: Vec<HotelContent>,
    },
    Recheck {
        outcome: RecheckOutcome,
    },
    Prepared {
        prepared: Prepared,
    },
    /// Book, retrieve, find (None when nothing matches), cancel.
    Booking {
        booking: Option<BookingInfo>,
    },
    CancelQuote {
        quote: CancelQuote,
    },
}
