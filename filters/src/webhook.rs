//! Supplier ARI webhooks (`POST /webhooks/{supplier}`), per `shared/protocols/README.md`
//! "ARI webhooks": `X-Arigate-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`, each `v1` an HMAC-SHA256
//! keyed by one of the supplier's webhook secrets over the bytes `"<t>." + raw body`. One match
//! among all secrets × all `v1` values is enough (secret rotation on either side). The raw body is
//! authenticated before anything parses it; timestamps more than the tolerance away from now
//! (either way) are stale; each delivery is accepted once.
//!
//! Replay protection remembers each accepted delivery's `X-Webhook-Id` *and* its signature, for
//! twice the tolerance (longer than any timestamp stays fresh). The id header is not covered by
//! the signature, so remembering only ids would let a captured delivery be replayed under a new
//! id within the window; remembering the signature closes that. The memory is bounded: past
//! `replay_capacity` deliveries in the window, the oldest are forgotten first.

use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::{BTreeMap, HashMap};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Header carrying the timestamp and signatures.
pub const SIGNATURE_HEADER: &str = "x-arigate-signature";
/// Header carrying the delivery's event id.
pub const ID_HEADER: &str = "x-webhook-id";
/// Accepted distance between the signed timestamp and now, in seconds (spec: 300).
pub const DEFAULT_TOLERANCE_S: i64 = 300;
/// Longest signature header accepted.
pub const MAX_SIGNATURE_HEADER_LEN: usize = 2048;
/// Most `v1` values accepted in one header.
pub const MAX_SIGNATURES: usize = 8;
/// Longest `X-Webhook-Id` accepted.
pub const MAX_ID_LEN: usize = 256;

/// Why a delivery was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("missing X-Arigate-Signature")]
    MissingSignature,
    /// Not `t=<digits>,v1=<64 hex>[,v1=…]`, or too long.
    #[error("malformed X-Arigate-Signature")]
    MalformedSignature,
    /// Authentic, but signed more than the tolerance before or after now.
    #[error("signature timestamp outside the tolerance window")]
    Stale,
    /// No secret of this supplier produced any of the signatures (also when it has no secret).
    #[error("signature does not match")]
    BadSignature,
    /// Authentic and fresh, but this id or these exact signed bytes were already accepted.
    #[error("delivery already processed")]
    Replayed,
    /// Authentic, but without a usable `X-Webhook-Id`.
    #[error("missing X-Webhook-Id")]
    MissingId,
}

/// Lowercase hex HMAC-SHA256 of `"<t>." + body` keyed by `secret`: one `v1` value. For
/// suppliers' tooling and tests.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    hex::encode(mac(secret.as_bytes(), t.to_string().as_bytes(), body).unwrap_or_default())
}

fn mac(secret: &[u8], t: &[u8], body: &[u8]) -> Option<[u8; 32]> {
    let mut m = HmacSha256::new_from_slice(secret).ok()?;
    m.update(t);
    m.update(b".");
    m.update(body);
    Some(m.finalize().into_bytes().into())
}

/// The parsed signature header. `t` is kept as sent: the signed bytes are its text.
struct SignatureHeader<'a> {
    t_text: &'a str,
    t: i64,
    v1: Vec<[u8; 32]>,
}

fn parse_signature(header: &str) -> Result<SignatureHeader<'_>, WebhookError> {
    use WebhookError::MalformedSignature as Bad;
    if header.len() > MAX_SIGNATURE_HEADER_LEN {
        return Err(Bad);
    }
    let mut t = None;
    let mut v1 = Vec::new();
    for item in header.split(',') {
        let item = item.trim_matches([' ', '\t']);
        if item.is_empty() {
            continue;
        }
        let (name, value) = item.split_once('=').ok_or(Bad)?;
        match name {
            "t" => {
                if t.is_some()
                    || value.is_empty()
                    || value.len() > 15
                    || !value.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(Bad);
                }
                t = Some((value, value.parse::<i64>().map_err(|_| Bad)?));
            }
            "v1" => {
                let mut sig = [0u8; 32];
                hex::decode_to_slice(value, &mut sig).map_err(|_| Bad)?;
                if v1.len() == MAX_SIGNATURES {
                    return Err(Bad);
                }
                v1.push(sig);
            }
            // Other schemes (a future v2, a test-mode v0) are not ours to judge.
            _ => {}
        }
    }
    match t {
        Some((t_text, t)) if !v1.is_empty() => Ok(SignatureHeader { t_text, t, v1 }),
        _ => Err(Bad),
    }
}

/// Verifies deliveries and remembers the accepted ones. One per edge node, shared by all suppliers
/// (ids are namespaced by nothing: suppliers' event ids are expected to be globally unique, as the
/// signature is).
pub struct WebhookVerifier {
    tolerance_s: i64,
    capacity: usize,
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    ids: HashMap<String, u64>,
    macs: HashMap<[u8; 32], u64>,
    /// (forget at, seq) → what to forget.
    order: BTreeMap<(i64, u64), (String, [u8; 32])>,
    seq: u64,
}

impl Seen {
    fn forget(&mut self, key: (i64, u64)) {
        if let Some((id, mac)) = self.order.remove(&key) {
            if self.ids.get(&id) == Some(&key.1) {
                self.ids.remove(&id);
            }
            if self.macs.get(&mac) == Some(&key.1) {
                self.macs.remove(&mac);
            }
        }
    }

    fn expire(&mut self, now: i64) {
        while let Some((&key, _)) = self.order.first_key_value() {
            // Kept through `forget_at` inclusive: a timestamp is fresh through t + tolerance.
            if key.0 >= now {
                break;
            }
            self.forget(key);
        }
    }
}

impl std::fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("tolerance_s", &self.tolerance_s)
            .field("capacity", &self.capacity)
            .field("seen", &self.seen.lock().order.len())
            .finish()
    }
}

impl Default for WebhookVerifier {
    /// [`DEFAULT_TOLERANCE_S`], 100 000 deliveries remembered.
    fn default() -> Self {
        WebhookVerifier::new(DEFAULT_TOLERANCE_S, 100_000)
    }
}

impl WebhookVerifier {
    /// `tolerance_s`: accepted |now − t| (negative counts as 0). `replay_capacity`: deliveries
    /// remembered (at least 1); size it above the peak deliveries per 2 × tolerance.
    pub fn new(tolerance_s: i64, replay_capacity: usize) -> Self {
        WebhookVerifier {
            tolerance_s: tolerance_s.max(0),
            capacity: replay_capacity.max(1),
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Checks one delivery, in this order: signature header present and well formed; some
    /// non-empty secret of the supplier signed `"<t>." + body` (constant-time comparison); `t`
    /// within the tolerance of `now` (unix seconds); `X-Webhook-Id` present; neither the id nor
    /// the signature seen before. Returns `Ok(())` only for an authentic, fresh, first-seen
    /// delivery, and then remembers it. Parse the body only after this.
    pub fn verify(
        &self,
        secrets: &[String],
        signature_header: Option<&str>,
        webhook_id: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), WebhookError> {
        let header = signature_header.ok_or(WebhookError::MissingSignature)?;
        let sig = parse_signature(header)?;

        let mut matched: Option<[u8; 32]> = None;
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            let Some(expected) = mac(secret.as_bytes(), sig.t_text.as_bytes(), body) else {
                continue;
            };
            for candidate in &sig.v1 {
                let equal: bool = expected.ct_eq(candidate).into();
                if equal && matched.is_none() {
                    matched = Some(expected);
                }
            }
        }
        let mac = matched.ok_or(WebhookError::BadSignature)?;

        if now.abs_diff(sig.t) > self.tolerance_s.unsigned_abs() {
            return Err(WebhookError::Stale);
        }
        let id = webhook_id
            .map(|s| s.trim_matches([' ', '\t']))
            .filter(|s| !s.is_empty() && s.len() <= MAX_ID_LEN)
            .ok_or(WebhookError::MissingId)?;

        let mut seen = self.seen.lock();
        seen.expire(now);
        if seen.ids.contains_key(id) || seen.macs.contains_key(&mac) {
            return Err(WebhookError::Replayed);
        }
        while seen.order.len() >= self.capacity {
            let Some((&oldest, _)) = seen.order.first_key_value() else {
                break;
            };
            seen.forget(oldest);
        }
        seen.seq += 1;
        let seq = seen.seq;
        let forget_at = now.saturating_add(self.tolerance_s.saturating_mul(2));
        seen.ids.insert(id.to_owned(), seq);
        seen.macs.insert(mac, seq);
        seen.order.insert((forget_at, seq), (id.to_owned(), mac));
        Ok(())
    }

    /// Deliveries currently remembered (including any past their time, until the next verify).
    pub fn remembered(&self) -> usize {
        self.seen.lock().order.len()
    }
}

/// What happened to the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AriEventKind {
    RoomSoldOut,
    PriceChanged,
    NewAvailability,
}

impl AriEventKind {
    /// The wire name (`ROOM_SOLD_OUT`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            AriEventKind::RoomSoldOut => "ROOM_SOLD_OUT",
            AriEventKind::PriceChanged => "PRICE_CHANGED",
            AriEventKind::NewAvailability => "NEW_AVAILABILITY",
        }
    }
}

/// One ARI webhook body. Codes are the supplier's own (hotel, room, rate); map them before use.
/// Unknown fields are ignored so suppliers can add some.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AriEvent {
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: AriEventKind,
    pub supplier: String,
    /// The supplier's hotel code.
    pub hotel: String,
    /// The supplier's room code; `None` means every room of the hotel.
    #[serde(default)]
    pub room: Option<String>,
    /// The supplier's rate code; `None` means every rate.
    #[serde(default)]
    pub rate: Option<String>,
    /// Affected stay nights; empty means all dates.
    #[serde(default)]
    pub dates: Vec<NaiveDate>,
    /// RFC 3339, as the supplier sent it.
    pub occurred_at: String,
}

/// Parses a body that [`WebhookVerifier::verify`] has accepted. Requires a non-empty `event_id`
/// and `hotel`; the error says what is wrong, for a 400.
pub fn parse_event(body: &[u8]) -> Result<AriEvent, String> {
    let event: AriEvent = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if event.event_id.is_empty() {
        return Err("event_id must not be empty".into());
    }
    if event.hotel.is_empty() {
        return Err("hotel must not be empty".into());
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// The spec's worked example.
    const BODY: &str = r#"{"event_id":"evt-0001","type":"ROOM_SOLD_OUT","supplier":"hotelbeds","hotel":"100042","room":"DBL.ST","rate":null,"dates":["2027-01-15"],"occurred_at":"2027-01-01T00:00:00Z"}"#;
    const SECRET: &str = "whsec_demo";
    const T: i64 = 1_767_225_600;
    const V1: &str = "1dce26f81379c929834bb7b3dab0907d01b791b86e0df3b7787ed6a946538799";

    fn secrets(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    fn header(t: i64, sigs: &[String]) -> String {
        let mut h = format!("t={t}");
        for s in sigs {
            h.push_str(&format!(",v1={s}"));
        }
        h
    }

    fn verifier() -> WebhookVerifier {
        WebhookVerifier::new(DEFAULT_TOLERANCE_S, 1000)
    }

    #[test]
    fn worked_example_verifies() {
        assert_eq!(signature(SECRET, T, BODY.as_bytes()), V1);
        let h = format!("t={T},v1={V1}");
        let v = verifier();
        assert_eq!(
            v.verify(
                &secrets(&[SECRET]),
                Some(&h),
                Some("evt-0001"),
                BODY.as_bytes(),
                T
            ),
            Ok(())
        );
        assert_eq!(v.remembered(), 1);
    }

    #[rstest]
    #[case::oldest_fresh(T + 300, Ok(()))]
    #[case::newest_fresh(T - 300, Ok(()))]
    #[case::stale(T + 301, Err(WebhookError::Stale))]
    #[case::much_later(T + 86_400, Err(WebhookError::Stale))]
    #[case::future_beyond_tolerance(T - 301, Err(WebhookError::Stale))]
    #[case::epoch(0, Err(WebhookError::Stale))]
    #[case::far_future_now(i64::MAX, Err(WebhookError::Stale))]
    #[case::far_past_now(i64::MIN, Err(WebhookError::Stale))]
    fn freshness(#[case] now: i64, #[case] expected: Result<(), WebhookError>) {
        let h = format!("t={T},v1={V1}");
        assert_eq!(
            verifier().verify(
                &secrets(&[SECRET]),
                Some(&h),
                Some("evt-0001"),
                BODY.as_bytes(),
                now
            ),
            expected
        );
    }

    #[rstest]
    #[case::missing(None, Err(WebhookError::MissingSignature))]
    #[case::empty(Some(""), Err(WebhookError::MalformedSignature))]
    #[case::garbage(Some("garbage"), Err(WebhookError::MalformedSignature))]
    #[case::no_t(Some(&*format!("v1={V1}")), Err(WebhookError::MalformedSignature))]
    #[case::no_v1(Some(&*format!("t={T}")), Err(WebhookError::MalformedSignature))]
    #[case::t_not_number(Some(&*format!("t=yesterday,v1={V1}")), Err(WebhookError::MalformedSignature))]
    #[case::t_signed(Some(&*format!("t=+{T},v1={V1}")), Err(WebhookError::MalformedSignature))]
    #[case::t_twice(Some(&*format!("t={T},t={T},v1={V1}")), Err(WebhookError::MalformedSignature))]
    #[case::t_huge(Some(&*format!("t=99999999999999999999,v1={V1}")), Err(WebhookError::MalformedSignature))]
    #[case::v1_short(Some(&*format!("t={T},v1={}", &V1[..62])), Err(WebhookError::MalformedSignature))]
    #[case::v1_not_hex(Some(&*format!("t={T},v1={}zz", &V1[..62])), Err(WebhookError::MalformedSignature))]
    #[case::v1_empty(Some(&*format!("t={T},v1=,v1={V1}")), Err(WebhookError::MalformedSignature))]
    #[case::too_many_v1(Some(&*header(T, &vec![V1.to_string(); MAX_SIGNATURES + 1])), Err(WebhookError::MalformedSignature))]
    #[case::too_long(Some(&*format!("t={T},v1={V1},x={}", "a".repeat(MAX_SIGNATURE_HEADER_LEN))), Err(WebhookError::MalformedSignature))]
    #[case::multibyte(Some("t=1767225600,v1=é"), Err(WebhookError::MalformedSignature))]
    #[case::spaces_and_order(Some(&*format!(" v1={V1} , t={T} ")), Ok(()))]
    #[case::uppercase_hex(Some(&*format!("t={T},v1={}", V1.to_uppercase())), Ok(()))]
    #[case::unknown_scheme_ignored(Some(&*format!("t={T},v0=abc,v1={V1}")), Ok(()))]
    #[case::max_v1(Some(&*header(T, &vec![V1.to_string(); MAX_SIGNATURES])), Ok(()))]
    #[case::trailing_comma(Some(&*format!("t={T},v1={V1},")), Ok(()))]
    fn signature_header(#[case] h: Option<&str>, #[case] expected: Result<(), WebhookError>) {
        assert_eq!(
            verifier().verify(&secrets(&[SECRET]), h, Some("evt-0001"), BODY.as_bytes(), T),
            expected
        );
    }

    #[rstest]
    #[case::forged_with_other_secret(&["whsec_demo"], signature("whsec_attacker", T, BODY.as_bytes()), BODY.to_string())]
    #[case::reserialized_with_spaces(&["whsec_demo"], V1.to_string(), BODY.replace(",\"", ", \""))]
    #[case::pretty_printed(&["whsec_demo"], V1.to_string(), serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(BODY).unwrap()).unwrap())]
    #[case::trailing_newline(&["whsec_demo"], V1.to_string(), format!("{BODY}\n"))]
    #[case::altered_hotel(&["whsec_demo"], V1.to_string(), BODY.replace("100042", "100043"))]
    #[case::no_secrets(&[], V1.to_string(), BODY.to_string())]
    #[case::empty_secret_is_never_a_key(&[""], signature("", T, BODY.as_bytes()), BODY.to_string())]
    #[case::secret_of_another_supplier(&["whsec_other"], V1.to_string(), BODY.to_string())]
    fn bad_signature(#[case] keys: &[&str], #[case] v1: String, #[case] body: String) {
        let h = header(T, &[v1]);
        assert_eq!(
            verifier().verify(
                &secrets(keys),
                Some(&h),
                Some("evt-0001"),
                body.as_bytes(),
                T
            ),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn timestamp_is_signed() {
        let h = header(T + 1, &[V1.to_string()]);
        assert_eq!(
            verifier().verify(
                &secrets(&[SECRET]),
                Some(&h),
                Some("evt-0001"),
                BODY.as_bytes(),
                T
            ),
            Err(WebhookError::BadSignature)
        );
    }

    #[rstest]
    #[case::second_of_our_secrets(&["whsec_new", "whsec_demo"], vec![V1.to_string()])]
    #[case::first_of_our_secrets(&["whsec_demo", "whsec_old"], vec![V1.to_string()])]
    #[case::second_v1_matches(&["whsec_demo"], vec![signature("whsec_next", T, BODY.as_bytes()), V1.to_string()])]
    #[case::both_rotating(&["whsec_old", "whsec_demo"], vec![signature("whsec_next", T, BODY.as_bytes()), V1.to_string()])]
    fn rotation(#[case] keys: &[&str], #[case] v1: Vec<String>) {
        let h = header(T, &v1);
        assert_eq!(
            verifier().verify(
                &secrets(keys),
                Some(&h),
                Some("evt-0001"),
                BODY.as_bytes(),
                T
            ),
            Ok(())
        );
    }

    #[rstest]
    #[case::absent(None)]
    #[case::empty(Some(""))]
    #[case::blank(Some("  "))]
    #[case::too_long(Some(&*"e".repeat(MAX_ID_LEN + 1)))]
    fn missing_id(#[case] id: Option<&str>) {
        let h = format!("t={T},v1={V1}");
        let v = verifier();
        assert_eq!(
            v.verify(&secrets(&[SECRET]), Some(&h), id, BODY.as_bytes(), T),
            Err(WebhookError::MissingId)
        );
        assert_eq!(v.remembered(), 0);
    }

    #[test]
    fn replays_are_refused() {
        let v = verifier();
        let keys = secrets(&[SECRET]);
        let h = format!("t={T},v1={V1}");
        assert_eq!(
            v.verify(&keys, Some(&h), Some("evt-0001"), BODY.as_bytes(), T),
            Ok(())
        );
        // The same delivery again, later in the window.
        assert_eq!(
            v.verify(&keys, Some(&h), Some("evt-0001"), BODY.as_bytes(), T + 60),
            Err(WebhookError::Replayed)
        );
        // The captured bytes under a made-up id (the id header is not signed).
        assert_eq!(
            v.verify(&keys, Some(&h), Some("evt-9999"), BODY.as_bytes(), T + 60),
            Err(WebhookError::Replayed)
        );
        // The supplier re-sending the same event, freshly signed.
        let resent = header(T + 30, &[signature(SECRET, T + 30, BODY.as_bytes())]);
        assert_eq!(
            v.verify(
                &keys,
                Some(&resent),
                Some("evt-0001"),
                BODY.as_bytes(),
                T + 60
            ),
            Err(WebhookError::Replayed)
        );
        // Another event is fine.
        let other = BODY.replace("evt-0001", "evt-0002");
        let h2 = header(T + 30, &[signature(SECRET, T + 30, other.as_bytes())]);
        assert_eq!(
            v.verify(&keys, Some(&h2), Some("evt-0002"), other.as_bytes(), T + 60),
            Ok(())
        );
        assert_eq!(v.remembered(), 2);
    }

    #[test]
    fn refused_deliveries_are_not_remembered() {
        let v = verifier();
        let keys = secrets(&[SECRET]);
        let forged = header(T, &[signature("whsec_attacker", T, BODY.as_bytes())]);
        assert_eq!(
            v.verify(&keys, Some(&forged), Some("evt-0001"), BODY.as_bytes(), T),
            Err(WebhookError::BadSignature)
        );
        let h = format!("t={T},v1={V1}");
        assert_eq!(
            v.verify(&keys, Some(&h), Some("evt-0001"), BODY.as_bytes(), T + 400),
            Err(WebhookError::Stale)
        );
        assert_eq!(v.remembered(), 0);
        assert_eq!(
            v.verify(&keys, Some(&h), Some("evt-0001"), BODY.as_bytes(), T),
            Ok(())
        );
    }

    #[test]
    fn memory_outlives_freshness_then_is_forgotten() {
        let v = verifier();
        let keys = secrets(&[SECRET]);
        let h = format!("t={T},v1={V1}");
        assert_eq!(
            v.verify(&keys, Some(&h), Some("evt-0001"), BODY.as_bytes(), T - 300),
            Ok(())
        );
        // Still fresh at T + 300, and still remembered.
        assert_eq!(
            v.verify(&keys, Some(&h), Some("evt-0001"), BODY.as_bytes(), T + 300),
            Err(WebhookError::Replayed)
        );
        // Past 2 × tolerance from acceptance the entry goes, by which time the bytes are stale.
        let later = header(T + 400, &[signature(SECRET, T + 400, b"{}")]);
        assert_eq!(
            v.verify(&keys, Some(&later), Some("evt-0002"), b"{}", T + 300 + 1),
            Ok(())
        );
        assert_eq!(v.remembered(), 1, "evt-0001 forgotten");
        assert_eq!(
            v.verify(&keys, Some(&h), Some("evt-0001"), BODY.as_bytes(), T + 301),
            Err(WebhookError::Stale)
        );
    }

    #[test]
    fn memory_is_bounded() {
        let v = WebhookVerifier::new(DEFAULT_TOLERANCE_S, 4);
        let keys = secrets(&[SECRET]);
        for i in 0..40 {
            let body = BODY.replace("evt-0001", &format!("evt-{i:04}"));
            let h = header(T, &[signature(SECRET, T, body.as_bytes())]);
            assert_eq!(
                v.verify(
                    &keys,
                    Some(&h),
                    Some(&format!("evt-{i:04}")),
                    body.as_bytes(),
                    T
                ),
                Ok(())
            );
            assert!(v.remembered() <= 4);
        }
        let newest = BODY.replace("evt-0001", "evt-0039");
        let h = header(T, &[signature(SECRET, T, newest.as_bytes())]);
        assert_eq!(
            v.verify(&keys, Some(&h), Some("evt-0039"), newest.as_bytes(), T),
            Err(WebhookError::Replayed)
        );
    }

    #[test]
    fn parse_worked_example() {
        let e = parse_event(BODY.as_bytes()).unwrap();
        assert_eq!(
            e,
            AriEvent {
                event_id: "evt-0001".into(),
                kind: AriEventKind::RoomSoldOut,
                supplier: "hotelbeds".into(),
                hotel: "100042".into(),
                room: Some("DBL.ST".into()),
                rate: None,
                dates: vec![NaiveDate::from_ymd_opt(2027, 1, 15).unwrap()],
                occurred_at: "2027-01-01T00:00:00Z".into(),
            }
        );
    }

    #[rstest]
    #[case::sold_out("ROOM_SOLD_OUT", AriEventKind::RoomSoldOut)]
    #[case::price("PRICE_CHANGED", AriEventKind::PriceChanged)]
    #[case::new("NEW_AVAILABILITY", AriEventKind::NewAvailability)]
    fn kinds(#[case] wire: &str, #[case] kind: AriEventKind) {
        let body = BODY.replace("ROOM_SOLD_OUT", wire);
        assert_eq!(parse_event(body.as_bytes()).unwrap().kind, kind);
        assert_eq!(kind.as_str(), wire);
    }

    #[test]
    fn simulator_shape_parses() {
        // What the simulators send: no dates, no room or rate, an extra field.
        let body = br#"{"event_id":"evt-0007","type":"PRICE_CHANGED","supplier":"dida","hotel":"D-77","room":null,"rate":null,"dates":[],"occurred_at":"2027-01-01T00:00:00Z","extra":1}"#;
        let e = parse_event(body).unwrap();
        assert_eq!((e.room, e.rate, e.dates.len()), (None, None, 0));
    }

    #[rstest]
    #[case::not_json("nope", "expected")]
    #[case::unknown_type(&BODY.replace("ROOM_SOLD_OUT", "ROOM_ON_FIRE"), "unknown variant")]
    #[case::lowercase_type(&BODY.replace("ROOM_SOLD_OUT", "room_sold_out"), "unknown variant")]
    #[case::bad_date(&BODY.replace("2027-01-15", "2027-02-30"), "input is out of range")]
    #[case::missing_hotel(&BODY.replace(r#""hotel":"100042","#, ""), "missing field `hotel`")]
    #[case::empty_hotel(&BODY.replace("100042", ""), "hotel must not be empty")]
    #[case::empty_id(&BODY.replace("evt-0001", ""), "event_id must not be empty")]
    fn parse_errors(#[case] body: &str, #[case] message: &str) {
        let err = parse_event(body.as_bytes()).unwrap_err();
        assert!(err.contains(message), "{err}");
    }
}
