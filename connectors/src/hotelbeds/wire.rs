//! Hotelbeds wire types (`shared/protocols/hotelbeds.md`), as serde structs: request bodies we
//! send and the parts of the responses we read. Unknown fields are ignored, as real Hotelbeds
//! adds fields freely; fields the mapping depends on are required, so an error body or a
//! truncated document never reads as an empty success.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::json_util::{Amount, Code, Coordinate};

// ---- requests -------------------------------------------------------------------------------

/// `POST /hotel-api/1.0/hotels` (Search).
#[derive(Debug, Serialize)]
pub(super) struct AvailabilityRq<'a> {
    pub stay: StayRq,
    pub occupancies: Vec<OccupancyRq>,
    pub hotels: HotelsRq,
    pub currency: &'a str,
    pub language: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StayRq {
    pub check_in: NaiveDate,
    pub check_out: NaiveDate,
}

#[derive(Debug, Serialize)]
pub(super) struct OccupancyRq {
    pub rooms: usize,
    pub adults: u8,
    pub children: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paxes: Vec<ChildPaxRq>,
}

#[derive(Debug, Serialize)]
pub(super) struct ChildPaxRq {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub age: u8,
}

#[derive(Debug, Serialize)]
pub(super) struct HotelsRq {
    pub hotel: Vec<u64>,
}

/// `POST /hotel-api/1.0/checkrates` (Recheck, Prepare).
#[derive(Debug, Serialize)]
pub(super) struct CheckRatesRq<'a> {
    pub rooms: [RateKeyRq<'a>; 1],
    pub language: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RateKeyRq<'a> {
    pub rate_key: &'a str,
}

/// `POST /hotel-api/1.0/bookings` (Book).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BookingRq<'a> {
    pub holder: HolderRq<'a>,
    pub rooms: [BookRoomRq<'a>; 1],
    pub client_reference: &'a str,
    pub remark: &'a str,
    pub tolerance: u8,
}

#[derive(Debug, Serialize)]
pub(super) struct HolderRq<'a> {
    pub name: &'a str,
    pub surname: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BookRoomRq<'a> {
    pub rate_key: &'a str,
    pub paxes: Vec<PaxRq<'a>>,
}

#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PaxRq<'a> {
    pub room_id: usize,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<u8>,
    pub name: &'a str,
    pub surname: &'a str,
}

// ---- responses ------------------------------------------------------------------------------

/// Every error body: `{"auditData":{…},"error":{"code","message"}}` (§Errors).
#[derive(Debug, Deserialize)]
pub(super) struct ErrorRs {
    pub error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
pub(super) struct ErrorDetail {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// Search response (§Search). `hotels.hotels` may be absent when `total` is 0.
#[derive(Debug, Deserialize)]
pub(super) struct AvailabilityRs {
    pub hotels: AvailabilityHotels,
}

#[derive(Debug, Deserialize)]
pub(super) struct AvailabilityHotels {
    #[serde(default)]
    pub hotels: Vec<Hotel>,
}

/// A hotel in a search or checkrates answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Hotel {
    pub code: Code,
    #[serde(default)]
    pub name: String,
    pub currency: String,
    #[serde(default)]
    pub rooms: Vec<Room>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Room {
    pub code: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub rates: Vec<Rate>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Rate {
    pub rate_key: String,
    #[serde(default)]
    pub rate_class: String,
    #[serde(default)]
    pub rate_type: String,
    pub net: Amount,
    #[serde(default)]
    pub allotment: Option<u32>,
    pub board_code: String,
    #[serde(default)]
    pub board_name: Option<String>,
    #[serde(default)]
    pub cancellation_policies: Vec<CancellationPolicy>,
    #[serde(default)]
    pub taxes: Option<Taxes>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CancellationPolicy {
    pub amount: Amount,
    pub from: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct Taxes {
    #[serde(default)]
    pub taxes: Vec<Tax>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Tax {
    pub included: bool,
    pub amount: Amount,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(rename = "subType", default)]
    pub sub_type: Option<String>,
}

/// Checkrates response (§Recheck).
#[derive(Debug, Deserialize)]
pub(super) struct CheckRatesRs {
    pub hotel: Hotel,
}

/// Book, retrieve and cancel responses (§Book, §Cancel).
#[derive(Debug, Deserialize)]
pub(super) struct BookingRs {
    pub booking: Booking,
}

/// List response: `{"bookings":{"bookings":[…],"total":n}}`.
#[derive(Debug, Deserialize)]
pub(super) struct BookingListRs {
    pub bookings: BookingList,
}

#[derive(Debug, Deserialize)]
pub(super) struct BookingList {
    #[serde(default)]
    pub bookings: Vec<Booking>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Booking {
    pub reference: String,
    #[serde(default)]
    pub client_reference: Option<String>,
    pub status: String,
    #[serde(default)]
    pub hotel: Option<BookingHotel>,
    #[serde(default)]
    pub total_net: Option<Amount>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub cancellation_reference: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BookingHotel {
    #[serde(default)]
    pub code: Option<Code>,
    #[serde(default)]
    pub check_in: Option<NaiveDate>,
    #[serde(default)]
    pub check_out: Option<NaiveDate>,
    #[serde(default)]
    pub total_net: Option<Amount>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub cancellation_amount: Option<Amount>,
    #[serde(default)]
    pub cancellation_reference: Option<String>,
}

/// Content API hotels (§Content).
#[derive(Debug, Deserialize)]
pub(super) struct ContentRs {
    pub hotels: Vec<ContentHotel>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ContentHotel {
    pub code: Code,
    pub name: Text,
    #[serde(default)]
    pub coordinates: Option<Coordinates>,
    #[serde(default)]
    pub address: Option<Text>,
    #[serde(default)]
    pub city: Option<Text>,
    #[serde(default)]
    pub country_code: Option<String>,
    #[serde(default)]
    pub facilities: Vec<Facility>,
    #[serde(default)]
    pub rooms: Vec<ContentRoom>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Coordinates {
    #[serde(default)]
    pub latitude: Option<Coordinate>,
    #[serde(default)]
    pub longitude: Option<Coordinate>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Facility {
    #[serde(default)]
    pub description: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ContentRoom {
    pub room_code: String,
    #[serde(default)]
    pub description: Option<Text>,
    #[serde(default)]
    pub max_pax: Option<u8>,
}

/// Content text: `{"content":"…"}` in the spec, a bare string in some real answers.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Text {
    Plain(String),
    Content { content: String },
}

impl Text {
    pub fn into_string(self) -> String {
        match self {
            Text::Plain(s) | Text::Content { content: s } => s,
        }
    }
}
