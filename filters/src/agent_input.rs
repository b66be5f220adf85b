//! The agent's request bodies (DESIGN §4), read and checked before anything else happens:
//! `POST /v1/search`, `POST /v1/availability` and `POST /v1/bookings` (with its `Idempotency-Key`).
//! Pure and session-free, so the handlers, the tests and the fuzz targets all run the same code.
//! Every refusal is an [`InputError`] carrying the agent-facing status, code and message.

use arigate_config::{Config, CurrencyTable, HotelMapping, SearchConfig};
use arigate_connectors::{Guest, Occupancy, Stay};
use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

/// A refused request body: what the agent is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl InputError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> InputError {
        InputError {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad(message: impl Into<String>) -> InputError {
        InputError::new(400, "invalid_request", message)
    }
}

/// Parses a JSON body strictly (unknown fields are errors), with the parser's message.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, InputError> {
    if body.is_empty() {
        return Err(InputError::bad("a JSON body is required"));
    }
    serde_json::from_slice(body).map_err(|e| InputError::bad(format!("malformed JSON body: {e}")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchRequest {
    checkin: String,
    checkout: String,
    #[serde(default)]
    hotels: Option<Vec<String>>,
    #[serde(default)]
    destination: Option<String>,
    occupancy: Vec<OccupancyRequest>,
    currency: String,
    #[serde(default)]
    nationality: Option<String>,
    #[serde(default)]
    suppliers: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OccupancyRequest {
    adults: u8,
    #[serde(default)]
    children_ages: Vec<u8>,
}

/// What a search is checked against: the configured limits, hotels, currencies and suppliers.
pub struct SearchRules<'a> {
    pub limits: &'a SearchConfig,
    pub mapping: &'a HotelMapping,
    pub currency: &'a CurrencyTable,
    /// The configured supplier codes.
    pub suppliers: Vec<&'a str>,
}

impl<'a> SearchRules<'a> {
    /// The rules of a running configuration.
    pub fn new(config: &'a Config) -> SearchRules<'a> {
        SearchRules {
            limits: &config.search,
            mapping: &config.mapping,
            currency: &config.currency,
            suppliers: config.suppliers.iter().map(|s| s.code.as_str()).collect(),
        }
    }
}

/// A search that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidSearch {
    pub stay: Stay,
    pub rooms: Vec<Occupancy>,
    /// Unified hotel ids, in the order answered.
    pub hotels: Vec<String>,
    pub currency: String,
    pub nationality: String,
    pub suppliers: Option<Vec<String>>,
}

/// Reads and checks a `POST /v1/search` body against the contract and the configured limits.
/// `today` is passed in (checkin may not be before it).
pub fn search(
    rules: &SearchRules<'_>,
    body: &[u8],
    today: NaiveDate,
) -> Result<ValidSearch, InputError> {
    let req: SearchRequest = parse_json(body)?;
    fn bad(message: impl Into<String>) -> InputError {
        InputError::bad(message)
    }
    let date = |field: &str, s: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| bad(format!("{field} must be a date YYYY-MM-DD, got {s:?}")))
    };
    let checkin = date("checkin", &req.checkin)?;
    let checkout = date("checkout", &req.checkout)?;
    if checkout <= checkin {
        return Err(bad("checkout must be after checkin"));
    }
    if checkin < today {
        return Err(bad("checkin is in the past"));
    }
    let limits = rules.limits;
    let nights = (checkout - checkin).num_days();
    if nights > limits.max_nights {
        return Err(bad(format!(
            "stays are limited to {} nights, got {nights}",
            limits.max_nights
        )));
    }
    if req.occupancy.is_empty() || req.occupancy.len() > limits.max_rooms {
        return Err(bad(format!(
            "occupancy must list 1 to {} rooms",
            limits.max_rooms
        )));
    }
    for (i, o) in req.occupancy.iter().enumerate() {
        if o.adults == 0 || o.adults > 8 {
            return Err(bad(format!("occupancy[{i}].adults must be 1 to 8")));
        }
        if o.children_ages.len() > 6 || o.children_ages.iter().any(|a| *a > 17) {
            return Err(bad(format!(
                "occupancy[{i}].children_ages: at most 6 children aged 0 to 17"
            )));
        }
    }
    let mapping = rules.mapping;
    let hotels: Vec<String> = match (&req.hotels, &req.destination) {
        (Some(h), None) => {
            if h.is_empty() || h.len() > limits.max_hotels {
                return Err(bad(format!(
                    "hotels must list 1 to {} hotel ids",
                    limits.max_hotels
                )));
            }
            for id in h {
                if mapping.hotel(id).is_none() {
                    return Err(InputError::new(
                        404,
                        "unknown_hotel",
                        format!("unknown hotel id {id:?}"),
                    ));
                }
            }
            let mut seen = std::collections::HashSet::new();
            h.iter()
                .filter(|id| seen.insert(id.as_str()))
                .cloned()
                .collect()
        }
        (None, Some(d)) => {
            let ids: Vec<String> = mapping
                .in_destination(d)
                .map(|h| h.id.clone())
                .take(limits.max_hotels)
                .collect();
            if ids.is_empty() {
                return Err(InputError::new(
                    404,
                    "unknown_destination",
                    format!("unknown destination {d:?}"),
                ));
            }
            ids
        }
        _ => return Err(bad("give exactly one of hotels or destination")),
    };
    if !rules.currency.supports(&req.currency) {
        return Err(bad(format!("currency {:?} is not supported", req.currency)));
    }
    let nationality = req.nationality.unwrap_or_else(|| "GB".to_string());
    if nationality.len() != 2 || !nationality.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(bad("nationality must be an ISO 3166 alpha-2 code"));
    }
    if let Some(s) = &req.suppliers {
        if let Some(unknown) = s.iter().find(|c| !rules.suppliers.contains(&c.as_str())) {
            return Err(bad(format!("unknown supplier {unknown:?}")));
        }
    }
    Ok(ValidSearch {
        stay: Stay { checkin, checkout },
        rooms: req
            .occupancy
            .into_iter()
            .map(|o| Occupancy {
                adults: o.adults,
                children_ages: o.children_ages,
            })
            .collect(),
        hotels,
        currency: req.currency,
        nationality,
        suppliers: req.suppliers,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AvailabilityRequest {
    offer_id: String,
}

/// Reads a `POST /v1/availability` body: the `offer_id` to re-check (verified by the caller).
pub fn availability(body: &[u8]) -> Result<String, InputError> {
    let req: AvailabilityRequest = parse_json(body)?;
    Ok(req.offer_id)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BookRequest {
    offer_id: String,
    guests: Vec<GuestRequest>,
    #[serde(default)]
    client_reference: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GuestRequest {
    first_name: String,
    last_name: String,
}

/// A booking request that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidBook {
    /// The `Idempotency-Key`: 1 to 255 visible ASCII characters.
    pub idempotency_key: String,
    /// The body as parsed: its fingerprint tells a retry from a different request.
    pub canonical: Value,
    pub offer_id: String,
    /// Names trimmed.
    pub guests: Vec<Guest>,
    pub client_reference: Option<String>,
}

/// Reads and checks a `POST /v1/bookings` request: the `Idempotency-Key` header first, then the body.
pub fn book(idempotency_key: Option<&str>, body: &[u8]) -> Result<ValidBook, InputError> {
    let key = idempotency_key.ok_or_else(|| {
        InputError::new(
            400,
            "idempotency_key_required",
            "the Idempotency-Key header is required",
        )
    })?;
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err(InputError::new(
            400,
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        ));
    }
    let canonical: Value = parse_json(body)?;
    let req: BookRequest = serde_json::from_value(canonical.clone())
        .map_err(|e| InputError::bad(format!("malformed booking request: {e}")))?;
    if req.guests.is_empty() || req.guests.len() > 20 {
        return Err(InputError::bad("guests must list 1 to 20 people"));
    }
    for (i, g) in req.guests.iter().enumerate() {
        for (field, v) in [("first_name", &g.first_name), ("last_name", &g.last_name)] {
            if v.trim().is_empty() || v.chars().count() > 64 || v.chars().any(|c| c.is_control()) {
                return Err(InputError::bad(format!(
                    "guests[{i}].{field} must be 1 to 64 printable characters"
                )));
            }
        }
    }
    if req
        .client_reference
        .as_ref()
        .is_some_and(|r| r.chars().count() > 64)
    {
        return Err(InputError::bad(
            "client_reference is limited to 64 characters",
        ));
    }
    Ok(ValidBook {
        idempotency_key: key.to_string(),
        canonical,
        offer_id: req.offer_id,
        guests: req
            .guests
            .into_iter()
            .map(|g| Guest {
                first_name: g.first_name.trim().into(),
                last_name: g.last_name.trim().into(),
            })
            .collect(),
        client_reference: req.client_reference,
    })
}
