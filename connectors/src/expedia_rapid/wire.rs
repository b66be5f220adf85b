//! Expedia Rapid v3 wire types (`shared/protocols/expedia-rapid.md`): the book request body and
//! the parts of the responses we read. Unknown fields are ignored; what the mapping depends on
//! is required, so an error envelope never reads as an empty success.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::json_util::{Amount, Code, Coordinate, Entries};

// ---- requests -------------------------------------------------------------------------------

/// `POST` the `book` link (§Book). Payment is always `affiliate_collect` (§Simplifications).
#[derive(Debug, Serialize)]
pub(super) struct BookRq<'a> {
    pub affiliate_reference_id: &'a str,
    pub hold: bool,
    pub email: &'a str,
    pub phone: PhoneRq<'a>,
    pub rooms: Vec<BookRoomRq<'a>>,
    pub payments: [PaymentRq; 1],
}

/// `phone` of a book request: country calling code and national number, digits only.
#[derive(Debug, Serialize)]
pub(super) struct PhoneRq<'a> {
    pub country_code: &'a str,
    pub number: &'a str,
}

#[derive(Debug, Serialize)]
pub(super) struct BookRoomRq<'a> {
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub smoking: bool,
}

#[derive(Debug, Serialize)]
pub(super) struct PaymentRq {
    #[serde(rename = "type")]
    pub kind: &'static str,
}

// ---- responses ------------------------------------------------------------------------------

/// The error envelope `{"type","message","errors"?,"fields"?}` (§Errors).
#[derive(Debug, Deserialize)]
pub(super) struct ErrorRs {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
    #[serde(default)]
    pub fields: Vec<ErrorField>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ErrorItem {
    #[serde(rename = "type", default)]
    pub kind: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct ErrorField {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: Option<serde_json::Value>,
}

/// `links.<name> = {"method","href","expires"?}`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Links {
    #[serde(default)]
    pub price_check: Option<Link>,
    #[serde(default)]
    pub book: Option<Link>,
    #[serde(default)]
    pub retrieve: Option<Link>,
    #[serde(default)]
    pub cancel: Option<Link>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Link {
    pub href: String,
    #[serde(default)]
    pub expires: Option<String>,
}

/// One property of the search answer (a JSON array, `[]` when nothing is available).
#[derive(Debug, Deserialize)]
pub(super) struct Property {
    pub property_id: Code,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub rooms: Vec<Room>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Room {
    pub id: Code,
    #[serde(default)]
    pub room_name: String,
    #[serde(default)]
    pub rates: Vec<Rate>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Rate {
    pub id: Code,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub available_rooms: Option<u32>,
    #[serde(default)]
    pub refundable: bool,
    #[serde(default)]
    pub bed_groups: Entries<BedGroup>,
    #[serde(default)]
    pub cancel_penalties: Vec<CancelPenalty>,
    pub occupancy_pricing: BTreeMap<String, OccupancyPricing>,
    #[serde(default)]
    pub amenities: Entries<Amenity>,
}

#[derive(Debug, Deserialize)]
pub(super) struct BedGroup {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub links: Links,
}

#[derive(Debug, Deserialize)]
pub(super) struct CancelPenalty {
    pub currency: String,
    pub start: String,
    pub amount: Amount,
}

/// Pricing of one room of one occupancy (`occupancy_pricing["2-6"]`).
#[derive(Debug, Deserialize)]
pub(super) struct OccupancyPricing {
    pub totals: Totals,
}

#[derive(Debug, Deserialize)]
pub(super) struct Totals {
    pub inclusive: Charge,
    #[serde(default)]
    pub property_fees: Option<Charge>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Charge {
    pub request_currency: Value,
}

#[derive(Debug, Deserialize)]
pub(super) struct Value {
    pub value: Amount,
    pub currency: String,
}

/// A rate or property amenity: `{"id","name"}` in real Rapid, a bare name accepted too.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Amenity {
    Name(String),
    Object { name: String },
}

impl Amenity {
    pub fn name(&self) -> &str {
        match self {
            Amenity::Name(n) | Amenity::Object { name: n } => n,
        }
    }
}

/// The price check answer (§Recheck), always HTTP 200.
#[derive(Debug, Deserialize)]
pub(super) struct PriceCheckRs {
    pub status: String,
    #[serde(default)]
    pub occupancy_pricing: BTreeMap<String, OccupancyPricing>,
    #[serde(default)]
    pub links: Links,
}

/// The book answer (§Book, 201).
#[derive(Debug, Deserialize)]
pub(super) struct ItineraryCreatedRs {
    pub itinerary_id: Code,
    #[serde(default)]
    pub links: Links,
}

/// Retrieve answers one itinerary; find by reference may answer a list (§Endpoints).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Itineraries {
    Many(Vec<Itinerary>),
    One(Box<Itinerary>),
}

impl Itineraries {
    pub fn into_vec(self) -> Vec<Itinerary> {
        match self {
            Itineraries::Many(v) => v,
            Itineraries::One(i) => vec![*i],
        }
    }
}

/// §Retrieve. A just-created itinerary may carry only `itinerary_id` and `creation_date_time`.
#[derive(Debug, Deserialize)]
pub(super) struct Itinerary {
    pub itinerary_id: Code,
    #[serde(default)]
    pub property_id: Option<Code>,
    #[serde(default)]
    pub affiliate_reference_id: Option<String>,
    #[serde(default)]
    pub rooms: Vec<ItineraryRoom>,
    #[serde(default)]
    pub links: Links,
}

#[derive(Debug, Deserialize)]
pub(super) struct ItineraryRoom {
    #[serde(default)]
    pub checkin: Option<NaiveDate>,
    #[serde(default)]
    pub checkout: Option<NaiveDate>,
    pub status: String,
    #[serde(default)]
    pub rate: Option<ItineraryRate>,
    #[serde(default)]
    pub links: Links,
}

#[derive(Debug, Deserialize)]
pub(super) struct ItineraryRate {
    #[serde(default)]
    pub pricing: Option<OccupancyPricing>,
}

/// Content answer: real Rapid sends an object keyed by property id; an array is accepted too.
pub(super) type ContentRs = Entries<ContentProperty>;

#[derive(Debug, Deserialize)]
pub(super) struct ContentProperty {
    #[serde(default)]
    pub property_id: Option<Code>,
    pub name: String,
    #[serde(default)]
    pub address: Option<Address>,
    #[serde(default)]
    pub location: Option<Location>,
    #[serde(default)]
    pub amenities: Entries<Amenity>,
    #[serde(default)]
    pub rooms: Entries<ContentRoom>,
}

/// Real Rapid's `address` object; a one-line string is accepted too.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Address {
    Line(String),
    Parts {
        #[serde(default)]
        line_1: Option<String>,
        #[serde(default)]
        line_2: Option<String>,
        #[serde(default)]
        city: Option<String>,
        #[serde(default)]
        country_code: Option<String>,
    },
}

#[derive(Debug, Deserialize)]
pub(super) struct Location {
    #[serde(default)]
    pub coordinates: Option<Coordinates>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Coordinates {
    #[serde(default)]
    pub latitude: Option<Coordinate>,
    #[serde(default)]
    pub longitude: Option<Coordinate>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ContentRoom {
    #[serde(default)]
    pub id: Option<Code>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub occupancy: Option<RoomOccupancy>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RoomOccupancy {
    #[serde(default)]
    pub max_allowed: Option<MaxAllowed>,
}

#[derive(Debug, Deserialize)]
pub(super) struct MaxAllowed {
    #[serde(default)]
    pub total: Option<u8>,
}
