//! Fuzzing entries to the edge's own parsers of hostile input, shared by the cargo-fuzz targets in
//! `fuzz/` and the corpus replay in `filters/tests/fuzz_corpus.rs`: the `offer_id`/`booking_id`
//! token decoder ([`tokens`]), the webhook verifier ([`webhook`]) and the agent request bodies
//! ([`agent_input`]). Each returns the classified result, or a [`Violation`] when the answer breaks
//! what the edge relies on; a panic anywhere is a finding too.

use crate::agent_input::{self, InputError, SearchRules};
use crate::tokens::{BookingClaims, OfferClaims, TokenError, TokenSigner};
use crate::webhook::{self as wh, WebhookError, WebhookVerifier};
use arigate_config::{CurrencyTable, HotelMapping, MappedHotel, SearchConfig};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::time::Duration;

/// An answer that breaks what callers rely on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn violation<T>(message: impl Into<String>) -> Result<T, Violation> {
    Err(Violation(message.into()))
}

/// The key the token harness signs and verifies with.
pub const TOKEN_KEY: &[u8] = b"fuzz-token-key-0123456789abcdef0123456789";

/// How the token decoder classified one input.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenOutcome {
    Offer(Box<OfferClaims>),
    Booking(Box<BookingClaims>),
    Refused(TokenError),
}

/// Signs arbitrary payload bytes as a token of kind `prefix`, as [`TokenSigner::sign`] would sign
/// their JSON: the way past the signature check into the payload decoder.
pub fn sign_raw(key: &[u8], prefix: &str, payload: &[u8]) -> String {
    let signed = format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(payload));
    let tag = Hmac::<Sha256>::new_from_slice(key)
        .map(|mut mac| {
            mac.update(signed.as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        })
        .unwrap_or_default();
    format!("{signed}.{tag}")
}

/// One token input. First byte `r`: the rest is a token as an agent sent it, verified as an offer
/// and as a booking. `o` / `b`: the rest is a claims payload, signed here, then verified as an
/// offer / a booking. Another first byte: raw.
pub fn tokens(data: &[u8]) -> Result<TokenOutcome, Violation> {
    let signer = TokenSigner::new(
        TOKEN_KEY,
        &[b"fuzz-previous-key-0123456789abcdef01".to_vec()],
    );
    let (mode, rest) = match data.split_first() {
        Some((m, rest)) => (*m, rest),
        None => (b'r', data),
    };
    match mode {
        b'o' => {
            let token = sign_raw(TOKEN_KEY, "of", rest);
            signed(&signer, &token, |c: OfferClaims| {
                (signer.sign_offer(&c), TokenOutcome::Offer(Box::new(c)))
            })
        }
        b'b' => {
            let token = sign_raw(TOKEN_KEY, "bk", rest);
            signed(&signer, &token, |c: BookingClaims| {
                (signer.sign_booking(&c), TokenOutcome::Booking(Box::new(c)))
            })
        }
        _ => {
            let token = String::from_utf8_lossy(rest);
            let offer = signer.verify_offer(&token);
            let booking = signer.verify_booking(&token);
            match (offer, booking) {
                (Ok(c), Err(TokenError::WrongKind)) => Ok(TokenOutcome::Offer(Box::new(c))),
                (Err(TokenError::WrongKind), Ok(c)) => Ok(TokenOutcome::Booking(Box::new(c))),
                (Err(a), Err(b))
                    if a == b
                        || matches!(
                            (a, b),
                            (TokenError::WrongKind, _) | (_, TokenError::WrongKind)
                        ) =>
                {
                    Ok(TokenOutcome::Refused(a))
                }
                (a, b) => violation(format!(
                    "one token read as offer {:?} and as booking {:?}",
                    a.err(),
                    b.err()
                )),
            }
        }
    }
}

/// A token this harness signed: the signature holds, so only the payload can be refused, and
/// claims that decode re-sign into a token that decodes to the same claims.
fn signed<T, F>(signer: &TokenSigner, token: &str, resign: F) -> Result<TokenOutcome, Violation>
where
    T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    F: Fn(T) -> (String, TokenOutcome),
{
    let prefix = token.split('_').next().unwrap_or("");
    match signer.verify::<T>(prefix, token) {
        Ok(claims) => {
            let (again, outcome) = resign(claims);
            let back = signer.verify::<T>(prefix, &again);
            let same = match (&outcome, back) {
                (TokenOutcome::Offer(c), Ok(b)) => format!("{c:?}") == format!("{b:?}"),
                (TokenOutcome::Booking(c), Ok(b)) => format!("{c:?}") == format!("{b:?}"),
                _ => false,
            };
            if !same {
                return violation(format!("claims do not survive a re-sign: {outcome:?}"));
            }
            Ok(outcome)
        }
        Err(TokenError::Malformed) => Ok(TokenOutcome::Refused(TokenError::Malformed)),
        // Over-long payloads are refused before the signature is looked at.
        Err(e) => violation(format!("a validly signed token was refused as {e:?}")),
    }
}

/// The time the webhook harness runs at.
pub const WEBHOOK_NOW: i64 = 1_767_225_600;
/// The secrets the webhook harness's supplier has (rotation: two).
pub const WEBHOOK_SECRETS: [&str; 2] = ["whsec_fuzz_current", "whsec_fuzz_previous"];

/// How the webhook verifier classified one delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookOutcome {
    /// Verified; the body parsed into an event (`Ok`) or was refused (`Err`, a 400).
    Accepted(Result<wh::AriEvent, String>),
    Refused(WebhookError),
}

/// One delivery: line 1 the `X-Arigate-Signature` header (absent when empty), line 2 the
/// `X-Webhook-Id` (absent when empty), the rest the body. A header line `auto <offset>` is replaced
/// by a valid signature with the first secret at `now - offset` seconds (offset digits, default
/// 0): the way past the signature into the freshness, replay and body checks.
pub fn webhook(data: &[u8]) -> Result<WebhookOutcome, Violation> {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let header = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let id = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let body = parts.next().unwrap_or_default();
    let secrets: Vec<String> = WEBHOOK_SECRETS.iter().map(|s| s.to_string()).collect();
    let verifier = WebhookVerifier::new(wh::DEFAULT_TOLERANCE_S, 16);
    let (header, auto_t) = match header.strip_prefix("auto") {
        Some(offset) => {
            let offset: i64 = offset.trim().parse().unwrap_or(0);
            let t = WEBHOOK_NOW.saturating_sub(offset).max(0);
            (
                format!("t={t},v1={}", wh::signature(WEBHOOK_SECRETS[0], t, body)),
                Some(t),
            )
        }
        None => (header, None),
    };
    let header_opt = (!header.is_empty()).then_some(header.as_str());
    let id_opt = (!id.is_empty()).then_some(id.as_str());
    let first = verifier.verify(&secrets, header_opt, id_opt, body, WEBHOOK_NOW);
    if let Some(t) = auto_t {
        let trimmed = id.trim_matches([' ', '\t']);
        let fresh = WEBHOOK_NOW.abs_diff(t) <= wh::DEFAULT_TOLERANCE_S.unsigned_abs();
        let usable_id = !trimmed.is_empty() && trimmed.len() <= wh::MAX_ID_LEN;
        let want = match (fresh, usable_id) {
            // The header takes at most 15 digits of timestamp.
            _ if t.to_string().len() > 15 => Err(WebhookError::MalformedSignature),
            (false, _) => Err(WebhookError::Stale),
            (true, false) => Err(WebhookError::MissingId),
            (true, true) => Ok(()),
        };
        if first != want {
            return violation(format!(
                "a delivery signed at {t} with id {id:?} gave {first:?}, expected {want:?}"
            ));
        }
    }
    match first {
        Ok(()) => {
            let again = verifier.verify(&secrets, header_opt, id_opt, body, WEBHOOK_NOW);
            if again != Err(WebhookError::Replayed) {
                return violation(format!("a repeated delivery gave {again:?}"));
            }
            Ok(WebhookOutcome::Accepted(wh::parse_event(body)))
        }
        Err(e) => Ok(WebhookOutcome::Refused(e)),
    }
}

/// The configuration the agent input harness checks against.
pub struct AgentInputFixture {
    pub limits: SearchConfig,
    pub mapping: HotelMapping,
    pub currency: CurrencyTable,
    pub today: NaiveDate,
}

impl Default for AgentInputFixture {
    /// Three hotels in two destinations, EUR and USD, the default limits, today 2026-11-01.
    fn default() -> Self {
        let hotel = |id: &str, dest: &str| MappedHotel {
            id: id.into(),
            name: format!("Hotel {id}"),
            destination: dest.into(),
            time_zone: None,
            codes: BTreeMap::from([("hotelbeds".to_string(), id.to_string())]),
        };
        AgentInputFixture {
            limits: SearchConfig {
                supplier_timeout: Duration::from_millis(300),
                deadline: Duration::from_secs(1),
                max_hotels: 100,
                max_rooms: 8,
                max_nights: 30,
            },
            mapping: HotelMapping::new(vec![
                hotel("ARG-LIS-0001", "LIS"),
                hotel("ARG-LIS-0002", "LIS"),
                hotel("ARG-PAR-0001", "PAR"),
            ]),
            currency: CurrencyTable {
                as_of: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default(),
                per_eur: BTreeMap::from([
                    ("EUR".to_string(), Decimal::ONE),
                    ("USD".to_string(), Decimal::new(108, 2)),
                ]),
            },
            today: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default(),
        }
    }
}

/// How the agent input rules classified one request.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentInputOutcome {
    Search(Box<agent_input::ValidSearch>),
    Availability(String),
    Book(Box<agent_input::ValidBook>),
    Refused(InputError),
}

/// One agent request: line 1 is `search`, `availability`, `book` (no `Idempotency-Key`) or
/// `book <key>`; the rest is the body. Accepted requests must satisfy what the handlers rely on;
/// refusals must be 4xx with a code and a message.
pub fn agent_input(
    fixture: &AgentInputFixture,
    data: &[u8],
) -> Result<AgentInputOutcome, Violation> {
    let (line, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[data.len()..]),
    };
    let line = String::from_utf8_lossy(line);
    let (route, arg) = match line.split_once(' ') {
        Some((r, a)) => (r, Some(a)),
        None => (line.as_ref(), None),
    };
    let result = match route {
        "availability" => agent_input::availability(body).map(AgentInputOutcome::Availability),
        "book" => agent_input::book(arg, body).map(|b| AgentInputOutcome::Book(Box::new(b))),
        _ => {
            let rules = SearchRules {
                limits: &fixture.limits,
                mapping: &fixture.mapping,
                currency: &fixture.currency,
                suppliers: vec!["hotelbeds", "dida"],
            };
            agent_input::search(&rules, body, fixture.today)
                .map(|s| AgentInputOutcome::Search(Box::new(s)))
        }
    };
    match result {
        Ok(AgentInputOutcome::Search(s)) => {
            check_search(fixture, &s).map(|()| AgentInputOutcome::Search(s))
        }
        Ok(AgentInputOutcome::Book(b)) => check_book(&b).map(|()| AgentInputOutcome::Book(b)),
        Ok(other) => Ok(other),
        Err(e) => {
            if !(400..500).contains(&e.status) || e.code.is_empty() || e.message.is_empty() {
                return violation(format!("refusal without a 4xx, code and message: {e:?}"));
            }
            Ok(AgentInputOutcome::Refused(e))
        }
    }
}

fn check_search(f: &AgentInputFixture, s: &agent_input::ValidSearch) -> Result<(), Violation> {
    let nights = s.stay.nights();
    let mut unique = s.hotels.clone();
    unique.sort();
    unique.dedup();
    let problem = if s.stay.checkin < f.today || nights < 1 || nights > f.limits.max_nights {
        "stay outside the limits"
    } else if s.rooms.is_empty() || s.rooms.len() > f.limits.max_rooms {
        "room count outside the limits"
    } else if s.rooms.iter().any(|r| {
        r.adults == 0
            || r.adults > 8
            || r.children_ages.len() > 6
            || r.children_ages.iter().any(|a| *a > 17)
    }) {
        "occupancy outside the limits"
    } else if s.hotels.is_empty()
        || s.hotels.len() > f.limits.max_hotels
        || unique.len() != s.hotels.len()
        || s.hotels.iter().any(|h| f.mapping.hotel(h).is_none())
    {
        "hotels not 1..max unique known ids"
    } else if !f.currency.supports(&s.currency) {
        "unsupported currency"
    } else if s.nationality.len() != 2 || !s.nationality.bytes().all(|b| b.is_ascii_uppercase()) {
        "nationality not alpha-2"
    } else {
        return Ok(());
    };
    violation(format!("accepted search with {problem}: {s:?}"))
}

fn check_book(b: &agent_input::ValidBook) -> Result<(), Violation> {
    let key_ok = !b.idempotency_key.is_empty()
        && b.idempotency_key.len() <= 255
        && b.idempotency_key.bytes().all(|c| (0x21..0x7f).contains(&c));
    let names_ok = b.guests.iter().all(|g| {
        [&g.first_name, &g.last_name].iter().all(|n| {
            !n.is_empty()
                && n.trim() == n.as_str()
                && n.chars().count() <= 64
                && !n.chars().any(char::is_control)
        })
    });
    if key_ok && names_ok && (1..=20).contains(&b.guests.len()) {
        Ok(())
    } else {
        violation(format!("accepted booking breaks the rules: {b:?}"))
    }
}
