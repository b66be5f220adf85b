//! Opaque, signed `offer_id` and `booking_id` tokens (DESIGN §4). A token carries everything the
//! edge needs to route a transactional call without server-side state — the supplier code, the
//! supplier's own key, the trace id of the search (or booking) that produced it — and an HMAC so
//! agents cannot forge or alter one. The payload is readable by anyone holding a token (it is only
//! base64); nothing secret belongs in it.
//!
//! Format: `{prefix}_{b64(json)}.{b64(hmac_sha256(key, prefix + "_" + b64(json)))}` with `b64` the
//! URL-safe alphabet without padding (RFC 4648 §5), so a token can sit in a URL path unescaped.
//! Several keys verify (the current one and any previous ones, for rotation); only the current one
//! signs. Expiry is checked by the caller, who owns the clock ([`OfferClaims::expired`]).

use arigate_connectors::{BookingKey, OfferKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Prefix of offer tokens (`offer_id`).
pub const OFFER_PREFIX: &str = "of";
/// Prefix of booking tokens (`booking_id`).
pub const BOOKING_PREFIX: &str = "bk";
/// Longest token [`TokenSigner::verify`] accepts; longer input is [`TokenError::Malformed`]
/// before any decoding.
pub const MAX_TOKEN_LEN: usize = 4096;

/// Why a token was refused. None of the variants says which key was tried or what the payload
/// held, so the message is safe to return to agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token of this format: wrong shape, bad base64, too long, or a payload that does not
    /// decode into the expected claims.
    #[error("malformed token")]
    Malformed,
    /// Well formed, but no configured key produced its signature (forged, altered, or signed with
    /// a key that has been rotated out).
    #[error("token signature is not valid")]
    BadSignature,
    /// An authentic token of another kind (a `booking_id` where an `offer_id` was expected).
    #[error("token is of another kind")]
    WrongKind,
}

/// Signs and verifies tokens with HMAC-SHA256.
pub struct TokenSigner {
    /// `keys[0]` signs; every key verifies. Each is its HMAC state with the key already absorbed
    /// (cloned per token: no key schedule per signature or check). HMAC-SHA256 accepts keys of
    /// any length, so a key is `None` only in theory; `None` matches nothing, never everything.
    keys: Vec<Option<HmacSha256>>,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("keys", &format_args!("<{} redacted>", self.keys.len()))
            .finish()
    }
}

impl TokenSigner {
    /// `current` signs new tokens; `current` and every `previous` key verify, so tokens issued
    /// before a rotation stay valid until they expire. Key strength is the configuration's job
    /// (it requires long random secrets).
    pub fn new(current: &[u8], previous: &[Vec<u8>]) -> TokenSigner {
        let mut keys = Vec::with_capacity(1 + previous.len());
        keys.push(HmacSha256::new_from_slice(current).ok());
        keys.extend(previous.iter().map(|k| HmacSha256::new_from_slice(k).ok()));
        TokenSigner { keys }
    }

    /// Signs `payload` as a token of kind `prefix` (`"of"` for offers, `"bk"` for bookings; ASCII
    /// letters and digits only). The payload is serialized as compact JSON. A payload that cannot
    /// be serialized as JSON (a map with non-string keys) yields a token that never verifies.
    pub fn sign<T: Serialize>(&self, prefix: &str, payload: &T) -> String {
        let json = serde_json::to_vec(payload).unwrap_or_default();
        let signed = format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(json));
        let tag = self
            .keys
            .first()
            .and_then(Option::clone)
            .map(|mut mac| {
                mac.update(signed.as_bytes());
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
            })
            .unwrap_or_default();
        format!("{signed}.{tag}")
    }

    /// Checks the shape, then the signature against every key (constant-time comparison), then
    /// that the token is of kind `prefix`, and only then decodes the payload. Never panics, whatever
    /// the input.
    pub fn verify<T: DeserializeOwned>(&self, prefix: &str, token: &str) -> Result<T, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let (signed, tag) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let (kind, body) = signed.split_once('_').ok_or(TokenError::Malformed)?;
        if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_alphanumeric()) || body.is_empty() {
            return Err(TokenError::Malformed);
        }
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TokenError::Malformed)?;
        if tag.len() != 32 {
            return Err(TokenError::Malformed);
        }
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| TokenError::Malformed)?;
        let authentic = self.keys.iter().flatten().cloned().any(|mut mac| {
            mac.update(signed.as_bytes());
            mac.verify_slice(&tag).is_ok()
        });
        if !authentic {
            return Err(TokenError::BadSignature);
        }
        if kind != prefix {
            return Err(TokenError::WrongKind);
        }
        serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)
    }

    /// [`sign`](Self::sign) with [`OFFER_PREFIX`].
    pub fn sign_offer(&self, claims: &OfferClaims) -> String {
        self.sign(OFFER_PREFIX, claims)
    }

    /// Verifies an `offer_id`, plain ([`sign_offer`](Self::sign_offer)) or with a per-response
    /// context ([`offer_context`](Self::offer_context)); expiry is still the caller's to check.
    /// With a context, the claims' `trace_id` and `exp` are the context's, and the context must
    /// name the trace the offer was made in (so it cannot be moved onto another answer's offers).
    pub fn verify_offer(&self, token: &str) -> Result<OfferClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let mut dots = token.match_indices('.').map(|(i, _)| i);
        let (Some(_), Some(second)) = (dots.next(), dots.next()) else {
            return self.verify(OFFER_PREFIX, token);
        };
        let (base, context) = token.split_at(second);
        // Shape first (malformed before any signature check), then both signatures.
        let context = Context::parse(&context[1..])?;
        let mut claims: OfferClaims = self.verify(OFFER_PREFIX, base)?;
        let (answer, trace_id, exp) = self.verify_context(&context)?;
        if answer != claims.trace_id {
            return Err(TokenError::BadSignature);
        }
        claims.trace_id = trace_id;
        claims.exp = exp;
        Ok(claims)
    }

    /// The per-response part of offer tokens: `.{b64(trace_id \n exp \n answer)}.{tag}`, appended
    /// to offer tokens signed with `trace_id = answer`. One signature per response instead of one
    /// per offer: a cached answer's offers get this request's trace id and a fresh expiry.
    pub fn offer_context(&self, answer: &str, trace_id: &str, exp: i64) -> String {
        let body = URL_SAFE_NO_PAD.encode(format!("{trace_id}\n{exp}\n{answer}"));
        let tag = self
            .keys
            .first()
            .map(|k| URL_SAFE_NO_PAD.encode(context_tag(k, &body)))
            .unwrap_or_default();
        format!(".{body}.{tag}")
    }

    /// `(answer, trace_id, exp)` of a context if any key signed it.
    fn verify_context(&self, context: &Context<'_>) -> Result<(String, String, i64), TokenError> {
        let authentic = self.keys.iter().any(|k| {
            let want = context_tag(k, context.body);
            // Constant time: no early exit on the first differing byte.
            want.iter()
                .zip(&context.tag)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
        });
        if !authentic {
            return Err(TokenError::BadSignature);
        }
        Ok((
            context.answer.clone(),
            context.trace_id.clone(),
            context.exp,
        ))
    }

    /// [`sign`](Self::sign) with [`BOOKING_PREFIX`].
    pub fn sign_booking(&self, claims: &BookingClaims) -> String {
        self.sign(BOOKING_PREFIX, claims)
    }

    /// [`verify`](Self::verify) with [`BOOKING_PREFIX`].
    pub fn verify_booking(&self, token: &str) -> Result<BookingClaims, TokenError> {
        self.verify(BOOKING_PREFIX, token)
    }
}

/// An offer context `{body}.{tag}` taken apart, signature not yet checked.
struct Context<'a> {
    body: &'a str,
    tag: Vec<u8>,
    answer: String,
    trace_id: String,
    exp: i64,
}

impl Context<'_> {
    fn parse(context: &str) -> Result<Context<'_>, TokenError> {
        let (body, tag) = context.split_once('.').ok_or(TokenError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TokenError::Malformed)?;
        if tag.len() != CONTEXT_TAG_LEN {
            return Err(TokenError::Malformed);
        }
        let text = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| TokenError::Malformed)?;
        let text = String::from_utf8(text).map_err(|_| TokenError::Malformed)?;
        // The answer and the expiry never hold a newline; the trace id is what remains.
        let mut parts = text.rsplitn(3, '\n');
        let answer = parts.next().ok_or(TokenError::Malformed)?.to_string();
        let exp = parts
            .next()
            .and_then(|e| e.parse::<i64>().ok())
            .ok_or(TokenError::Malformed)?;
        let trace_id = parts.next().ok_or(TokenError::Malformed)?.to_string();
        Ok(Context {
            body,
            tag,
            answer,
            trace_id,
            exp,
        })
    }
}

/// Bytes of a context tag: HMAC-SHA256 truncated to 128 bits (RFC 2104 §5).
const CONTEXT_TAG_LEN: usize = 16;

/// The tag of an offer context: domain-separated from whole tokens by its `ofc_` prefix.
fn context_tag(key: &Option<HmacSha256>, body: &str) -> [u8; CONTEXT_TAG_LEN] {
    let mut out = [0u8; CONTEXT_TAG_LEN];
    if let Some(mut mac) = key.clone() {
        mac.update(b"ofc_");
        mac.update(body.as_bytes());
        let full = mac.finalize().into_bytes();
        out.copy_from_slice(&full[..CONTEXT_TAG_LEN]);
    }
    out
}

/// What an `offer_id` carries: where to re-check or book the offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferClaims {
    /// Supplier code as configured (`/webhooks/{code}`, metrics label).
    #[serde(rename = "s")]
    pub supplier: String,
    /// Unified hotel id.
    #[serde(rename = "h")]
    pub hotel_id: String,
    /// The connector's key to the offer.
    #[serde(rename = "k", with = "compact_offer_key")]
    pub key: OfferKey,
    /// Trace id of the search that produced the offer.
    #[serde(rename = "t")]
    pub trace_id: String,
    /// Unix seconds; the offer is expired from this instant on.
    #[serde(rename = "e")]
    pub exp: i64,
    /// The currency the agent searched in (prices are shown converted to it).
    #[serde(rename = "c", default)]
    pub currency: String,
    /// Trace id of the re-check that confirmed the offer, once re-checked: a booking of it
    /// links back to both the search and the re-check.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub recheck_trace_id: Option<String>,
}

impl OfferClaims {
    /// True from `exp` on (`now` in unix seconds).
    pub fn expired(&self, now: i64) -> bool {
        now >= self.exp
    }
}

/// What a `booking_id` carries: where to query or cancel the booking, and the trace ids that tie
/// it to the search and the book call (`/api/traces/by-order/{booking_id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingClaims {
    /// Supplier code as configured.
    #[serde(rename = "s")]
    pub supplier: String,
    /// Unified hotel id.
    #[serde(rename = "h")]
    pub hotel_id: String,
    /// The connector's key to the booking.
    #[serde(rename = "k", with = "compact_booking_key")]
    pub key: BookingKey,
    /// Trace id of the book call.
    #[serde(rename = "t")]
    pub trace_id: String,
    /// Trace id of the search that produced the booked offer.
    #[serde(rename = "q")]
    pub search_trace_id: String,
    /// Unix seconds when the booking was made.
    #[serde(rename = "n")]
    pub created: i64,
    /// The currency the agent searched in.
    #[serde(rename = "c", default)]
    pub currency: String,
    /// The booked offer, kept while the supplier reference is unknown (a book call that timed
    /// out) so the edge can find the booking by client reference later.
    #[serde(
        rename = "o",
        default,
        skip_serializing_if = "Option::is_none",
        with = "compact_opt_offer_key"
    )]
    pub offer: Option<OfferKey>,
    /// Trace id of the re-check of the booked offer, if it was re-checked.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub recheck_trace_id: Option<String>,
    /// The agent that booked: only it may query or cancel the booking.
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

/// [`OfferKey`] as a JSON array rather than an object: half the size once base64-encoded.
/// The destructuring is exhaustive on purpose, so a field added to the model fails to compile
/// here instead of silently vanishing from tokens.
mod compact_offer_key {
    use arigate_connectors::{Money, Occupancy, OfferKey, Stay};
    use chrono::NaiveDate;
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::str::FromStr;

    #[derive(Serialize)]
    pub(super) struct Ref<'a>(
        &'a str,
        &'a str,
        &'a str,
        NaiveDate,
        NaiveDate,
        Vec<(u8, &'a [u8])>,
        String,
        &'a str,
        &'a str,
    );

    #[derive(Deserialize)]
    pub(super) struct Owned(
        String,
        String,
        String,
        NaiveDate,
        NaiveDate,
        Vec<(u8, Vec<u8>)>,
        String,
        String,
        String,
    );

    pub(super) fn to_ref(key: &OfferKey) -> Ref<'_> {
        let OfferKey {
            hotel,
            room,
            rate,
            stay,
            rooms,
            price,
            token,
        } = key;
        let Stay { checkin, checkout } = *stay;
        let Money { amount, currency } = price;
        let rooms = rooms
            .iter()
            .map(|o| {
                let Occupancy {
                    adults,
                    children_ages,
                } = o;
                (*adults, children_ages.as_slice())
            })
            .collect();
        Ref(
            hotel,
            room,
            rate,
            checkin,
            checkout,
            rooms,
            amount.to_string(),
            currency,
            token,
        )
    }

    pub(super) fn from_owned<E: serde::de::Error>(o: Owned) -> Result<OfferKey, E> {
        let Owned(hotel, room, rate, checkin, checkout, rooms, amount, currency, token) = o;
        let amount = Decimal::from_str(&amount).map_err(E::custom)?;
        Ok(OfferKey {
            hotel,
            room,
            rate,
            stay: Stay { checkin, checkout },
            rooms: rooms
                .into_iter()
                .map(|(adults, children_ages)| Occupancy {
                    adults,
                    children_ages,
                })
                .collect(),
            price: Money { amount, currency },
            token,
        })
    }

    pub fn serialize<S: Serializer>(key: &OfferKey, s: S) -> Result<S::Ok, S::Error> {
        to_ref(key).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OfferKey, D::Error> {
        from_owned(Owned::deserialize(d)?)
    }
}

/// `Option<OfferKey>` in the compact form of [`compact_offer_key`].
mod compact_opt_offer_key {
    use super::compact_offer_key::{from_owned, to_ref, Owned};
    use arigate_connectors::OfferKey;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(key: &Option<OfferKey>, s: S) -> Result<S::Ok, S::Error> {
        key.as_ref().map(to_ref).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OfferKey>, D::Error> {
        Option::<Owned>::deserialize(d)?.map(from_owned).transpose()
    }
}

/// [`BookingKey`] as a three-element JSON array.
mod compact_booking_key {
    use arigate_connectors::BookingKey;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(key: &BookingKey, s: S) -> Result<S::Ok, S::Error> {
        let BookingKey {
            supplier_reference,
            client_reference,
            token,
        } = key;
        (supplier_reference, client_reference, token).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BookingKey, D::Error> {
        let (supplier_reference, client_reference, token) = Deserialize::deserialize(d)?;
        Ok(BookingKey {
            supplier_reference,
            client_reference,
            token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arigate_connectors::{Money, Occupancy, Stay};
    use chrono::NaiveDate;
    use rstest::rstest;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    const KEY: &[u8] = b"current-secret-0123456789abcdef0123456789";
    const OLD: &[u8] = b"previous-secret-0123456789abcdef012345678";

    fn signer() -> TokenSigner {
        TokenSigner::new(KEY, &[])
    }

    fn offer_key(token: &str) -> OfferKey {
        OfferKey {
            hotel: "100042".into(),
            room: "DBL.ST".into(),
            rate: "NRF-BB".into(),
            stay: Stay {
                checkin: NaiveDate::from_ymd_opt(2027, 1, 15).unwrap(),
                checkout: NaiveDate::from_ymd_opt(2027, 1, 18).unwrap(),
            },
            rooms: vec![
                Occupancy {
                    adults: 2,
                    children_ages: vec![4, 9],
                },
                Occupancy {
                    adults: 1,
                    children_ages: vec![],
                },
            ],
            price: Money::new(Decimal::from_str("231.40").unwrap(), "EUR"),
            token: token.into(),
        }
    }

    fn offer(token: &str) -> OfferClaims {
        OfferClaims {
            supplier: "hotelbeds".into(),
            hotel_id: "AG-000123".into(),
            key: offer_key(token),
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            exp: 1_767_227_400,
            currency: "EUR".into(),
            recheck_trace_id: None,
        }
    }

    fn booking(offer: Option<OfferKey>) -> BookingClaims {
        BookingClaims {
            supplier: "expedia".into(),
            hotel_id: "AG-000123".into(),
            key: BookingKey {
                supplier_reference: "217-4409126".into(),
                client_reference: "AGT-7Q2K9".into(),
                token: "retrieve/itin?token=a&b".into(),
            },
            trace_id: "b00c".into(),
            search_trace_id: "5ea4c".into(),
            created: 1_767_225_600,
            currency: "USD".into(),
            offer,
            recheck_trace_id: None,
            agent: Some("demo".into()),
        }
    }

    /// A Hotelbeds-like rateKey: long, with `|`, `~` and `.` in it.
    const RATE_KEY: &str = "20270115|20270118|W|1|100042|DBL.ST|ID_B2B_26|BB|NRF|1~2~2|4~9|N@07~~2013c~-1428193394~N~~~NOR~D1B5A1E4A7C44F3A171478061700AABEUS0000001000100010a20fa5";

    #[rstest]
    #[case::plain("x")]
    #[case::empty("")]
    #[case::hotelbeds_rate_key(RATE_KEY)]
    #[case::unicode("Zimmer mit Frühstück – 朝食付き")]
    #[case::json_in_token(r#"{"k":"2027","t":"BOOKABLE"}"#)]
    fn offer_round_trip(#[case] token: &str) {
        let claims = offer(token);
        let t = signer().sign("of", &claims);
        assert_eq!(signer().verify::<OfferClaims>("of", &t).unwrap(), claims);
        assert_eq!(signer().verify_offer(&t).unwrap(), claims);
    }

    #[test]
    fn offer_context_sets_trace_and_expiry_and_stays_with_its_answer() {
        let s = signer();
        let mut claims = offer(RATE_KEY);
        claims.trace_id = "answer-1".into();
        let base = s.sign_offer(&claims);
        let t = format!("{base}{}", s.offer_context("answer-1", "served-2", 42));
        let got = s.verify_offer(&t).unwrap();
        assert_eq!(got.trace_id, "served-2");
        assert_eq!(got.exp, 42);
        assert_eq!(got.key, claims.key);
        // Another answer's context does not fit.
        let moved = format!("{base}{}", s.offer_context("answer-9", "served-2", 99));
        assert_eq!(s.verify_offer(&moved), Err(TokenError::BadSignature));
        // An altered context does not verify, nor one signed by another key.
        let ctx = s.offer_context("answer-1", "served-2", 42);
        let altered = format!("{base}{}", ctx.replacen('.', ".A", 1));
        assert!(s.verify_offer(&altered).is_err());
        let forged = TokenSigner::new(b"attacker", &[]).offer_context("answer-1", "x", i64::MAX);
        assert_eq!(
            s.verify_offer(&format!("{base}{forged}")),
            Err(TokenError::BadSignature)
        );
        // A rotated-in key still verifies contexts of the previous one.
        let rotated = TokenSigner::new(b"next-key-next-key-next-key-next!", &[KEY.to_vec()]);
        assert_eq!(rotated.verify_offer(&t).unwrap().trace_id, "served-2");
        // Garbage after the base is refused, never a panic.
        for bad in [
            ".",
            "..",
            ".x.y",
            ".AAAA.AAAA",
            ".AAAA.AAAAAAAAAAAAAAAAAAAAAA.",
        ] {
            assert!(s.verify_offer(&format!("{base}{bad}")).is_err(), "{bad}");
        }
    }

    #[rstest]
    #[case::with_offer(Some(offer_key(RATE_KEY)))]
    #[case::without_offer(None)]
    fn booking_round_trip(#[case] offer: Option<OfferKey>) {
        let claims = booking(offer);
        let t = signer().sign_booking(&claims);
        assert!(t.starts_with("bk_"));
        assert_eq!(signer().verify::<BookingClaims>("bk", &t).unwrap(), claims);
    }

    #[test]
    fn token_is_url_safe_with_one_dot_and_a_43_char_tag() {
        let t = signer().sign_offer(&offer(RATE_KEY));
        assert!(t.starts_with("of_"));
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "{t}"
        );
        let (_, tag) = t.split_once('.').unwrap();
        assert!(!tag.contains('.'));
        assert_eq!(tag.len(), 43, "32 bytes, base64 without padding");
    }

    #[test]
    fn payload_is_compact_json() {
        let t = signer().sign_offer(&offer("tok"));
        let body = t.strip_prefix("of_").unwrap().split_once('.').unwrap().0;
        let json = String::from_utf8(URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap();
        assert_eq!(
            json,
            r#"{"s":"hotelbeds","h":"AG-000123","k":["100042","DBL.ST","NRF-BB","2027-01-15","2027-01-18",[[2,[4,9]],[1,[]]],"231.40","EUR","tok"],"t":"4bf92f3577b34da6a3ce929d0e0e4736","e":1767227400,"c":"EUR"}"#
        );
        let with_rate_key = signer().sign_offer(&offer(RATE_KEY));
        assert!(with_rate_key.len() < 520, "{} bytes", with_rate_key.len());
    }

    #[test]
    fn previous_keys_verify_but_do_not_sign() {
        let old = TokenSigner::new(OLD, &[]);
        let rotated = TokenSigner::new(KEY, &[OLD.to_vec()]);
        let claims = offer("x");

        let issued_before = old.sign_offer(&claims);
        assert_eq!(rotated.verify_offer(&issued_before).unwrap(), claims);

        let issued_after = rotated.sign_offer(&claims);
        assert_eq!(signer().verify_offer(&issued_after).unwrap(), claims);
        assert_eq!(
            old.verify_offer(&issued_after),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn another_key_is_a_bad_signature() {
        let t = TokenSigner::new(b"attacker", &[]).sign_offer(&offer("x"));
        assert_eq!(signer().verify_offer(&t), Err(TokenError::BadSignature));
    }

    #[test]
    fn altered_payload_with_original_tag_is_a_bad_signature() {
        let t = signer().sign_offer(&offer("x"));
        let (_, tag) = t.split_once('.').unwrap();
        let mut forged = offer("x");
        forged.supplier = "dida".into();
        forged.exp += 86_400;
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            signer().verify_offer(&format!("of_{body}.{tag}")),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn relabelled_kind_is_a_bad_signature_and_genuine_other_kind_is_wrong_kind() {
        let bk = signer().sign_booking(&booking(None));
        assert_eq!(signer().verify_offer(&bk), Err(TokenError::WrongKind));
        let relabelled = format!("of{}", bk.strip_prefix("bk").unwrap());
        assert_eq!(
            signer().verify_booking(&relabelled),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            signer().verify_offer(&relabelled),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn authentic_token_with_other_claims_is_malformed() {
        let t = signer().sign("of", &"just a string");
        assert_eq!(signer().verify_offer(&t), Err(TokenError::Malformed));
        assert_eq!(
            signer().verify::<String>("of", &t).unwrap(),
            "just a string"
        );
    }

    #[rstest]
    #[case::empty("")]
    #[case::prefix_only("of")]
    #[case::no_body("of_")]
    #[case::no_tag("of_eyJzIjoxfQ")]
    #[case::empty_tag("of_eyJzIjoxfQ.")]
    #[case::empty_body("of_.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    #[case::no_kind("_eyJzIjoxfQ.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    #[case::kind_with_symbols("o-f_eyJzIjoxfQ.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    #[case::short_tag("of_eyJzIjoxfQ.AAAA")]
    #[case::padded_tag("of_eyJzIjoxfQ.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    #[case::two_dots("of_eyJzIjoxfQ.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.x")]
    #[case::standard_alphabet("of_eyJz+/IjoxfQ.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    #[case::padded_body("of_eyJzIjoxfQ==.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    #[case::multibyte("of_é.é")]
    #[case::whitespace(" of_eyJzIjoxfQ .AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    fn malformed(#[case] token: &str) {
        assert_eq!(signer().verify_offer(token), Err(TokenError::Malformed));
    }

    #[test]
    fn over_length_cap_is_malformed_even_if_authentic() {
        let small = signer().sign_offer(&offer(""));
        let fits = "x".repeat((MAX_TOKEN_LEN - small.len()) * 3 / 4 - 4);
        let at_cap = signer().sign_offer(&offer(&fits));
        assert!(at_cap.len() <= MAX_TOKEN_LEN, "{}", at_cap.len());
        assert!(signer().verify_offer(&at_cap).is_ok());

        let big = signer().sign_offer(&offer(&"x".repeat(MAX_TOKEN_LEN)));
        assert!(big.len() > MAX_TOKEN_LEN);
        assert_eq!(signer().verify_offer(&big), Err(TokenError::Malformed));
    }

    #[rstest]
    #[case::long_before(1_767_000_000, false)]
    #[case::last_second(1_767_227_399, false)]
    #[case::at_exp(1_767_227_400, true)]
    #[case::after(1_767_227_401, true)]
    fn expiry(#[case] now: i64, #[case] expired: bool) {
        assert_eq!(offer("x").expired(now), expired);
    }

    #[test]
    fn single_character_edits_never_verify_and_never_panic() {
        let t = signer().sign_offer(&offer("x"));
        let alphabet = ['A', 'z', '0', '-', '_', '.', 'é', '\0'];
        for i in 0..t.len() {
            for c in alphabet {
                let mut edited = t.clone();
                edited.replace_range(i..=i, c.encode_utf8(&mut [0; 4]));
                if edited != t {
                    assert!(signer().verify_offer(&edited).is_err(), "{edited}");
                }
            }
            let mut deleted = t.clone();
            deleted.remove(i);
            assert!(signer().verify_offer(&deleted).is_err(), "{deleted}");
        }
    }

    #[test]
    fn arbitrary_input_never_panics() {
        // A small deterministic generator over bytes that matter to the parser.
        let pieces = [
            "of",
            "bk",
            "_",
            ".",
            "=",
            "A",
            "é",
            "eyJzIjoxfQ",
            "-",
            "\u{0}",
            "💥",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..5_000 {
            let mut s = String::new();
            for _ in 0..(seed % 12) {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                s.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            seed = seed.wrapping_add(1);
            assert!(signer().verify_offer(&s).is_err(), "{s:?}");
        }
    }

    #[test]
    fn debug_does_not_print_keys() {
        let dbg = format!("{:?}", TokenSigner::new(KEY, &[OLD.to_vec()]));
        assert!(!dbg.contains("secret"), "{dbg}");
        assert!(dbg.contains("<2 redacted>"), "{dbg}");
    }
}
