//! Helpers shared by the JSON REST connectors (`hotelbeds`, `expedia_rapid`): request
//! authentication by [`AuthMode`], decoding bodies into classified errors, exact decimal amounts
//! from strings or numbers, tolerant JSON shapes, the connectors' own opaque tokens, and keeping
//! supplier messages short and free of credentials.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::{auth, AuthMode, CallContext, Credentials, SupplierError, SupplierResult, WireRequest};

/// Adds `Authorization` for Basic or OAuth 1.0a (`README.md`, "Auth is configurable per
/// supplier"); with [`AuthMode::Native`] the protocol's own `native` signer runs instead. OAuth
/// 1.0a signs `cx.base_url + path`, query included (RFC 5849 §3.4.1).
pub(crate) fn authorize(
    req: WireRequest,
    credentials: &Credentials,
    cx: &CallContext<'_>,
    native: impl FnOnce(WireRequest) -> WireRequest,
) -> WireRequest {
    match credentials.mode {
        AuthMode::Native => native(req),
        AuthMode::Basic => req.header(
            "Authorization",
            auth::basic(&credentials.key, &credentials.secret),
        ),
        AuthMode::Oauth1 => {
            let url = format!("{}{}", cx.base_url, req.path);
            let value = auth::oauth1_header(
                req.method.as_str(),
                &url,
                &credentials.key,
                &credentials.secret,
                cx.nonce,
                cx.now,
            );
            req.header("Authorization", value)
        }
    }
}

/// Decodes a JSON body; anything unreadable is [`crate::ErrorClass::SupplierMalformed`].
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8], what: &str) -> SupplierResult<T> {
    serde_json::from_slice(body).map_err(|e| SupplierError::malformed(format!("{what}: {e}")))
}

/// Serializes a request body. Our own types always serialize; the error arm is unreachable in
/// practice but kept typed rather than panicking.
pub(crate) fn encode<T: Serialize>(body: &T) -> SupplierResult<Vec<u8>> {
    serde_json::to_vec(body).map_err(|e| SupplierError::invalid(format!("request body: {e}")))
}

/// Encodes one of our opaque tokens (offer or booking material) as compact JSON.
pub(crate) fn encode_token<T: Serialize>(token: &T) -> String {
    serde_json::to_string(token).unwrap_or_default()
}

/// Reads back a token written by [`encode_token`]; a garbled one is our own invalid request.
pub(crate) fn decode_token<T: DeserializeOwned>(token: &str, what: &str) -> SupplierResult<T> {
    serde_json::from_str(token)
        .map_err(|_| SupplierError::invalid(format!("the {what} token is not valid")))
}

/// A money amount as a supplier sends it: a decimal string (`"231.40"`) or a JSON number.
///
/// Strings are parsed exactly. Numbers arrive through serde_json as `f64` (the workspace does not
/// enable `arbitrary_precision`); they are re-read from their shortest round-trip text, which
/// is the literal the supplier wrote for any amount of up to 15 significant digits, so no
/// binary-float error reaches the decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Amount(pub Decimal);

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AmountVisitor;
        impl Visitor<'_> for AmountVisitor {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal amount as a string or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Amount, E> {
                Decimal::from_str(v)
                    .map(Amount)
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Amount, E> {
                Ok(Amount(Decimal::from(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Amount, E> {
                Ok(Amount(Decimal::from(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Amount, E> {
                Decimal::from_str(&v.to_string())
                    .map(Amount)
                    .map_err(|_| E::invalid_value(de::Unexpected::Float(v), &self))
            }
        }
        d.deserialize_any(AmountVisitor)
    }
}

impl Amount {
    /// The amount, refusing negative values (no supplier price, fee or penalty is negative).
    pub(crate) fn non_negative(self, what: &str) -> SupplierResult<Decimal> {
        if self.0.is_sign_negative() && !self.0.is_zero() {
            return Err(SupplierError::malformed(format!("{what} is negative")));
        }
        Ok(self.0)
    }
}

/// An identifier a supplier sends as a string or as an integer (Hotelbeds hotel codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Code(pub String);

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CodeVisitor;
        impl Visitor<'_> for CodeVisitor {
            type Value = Code;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a code as a string or an integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Code, E> {
                Ok(Code(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Code, E> {
                Ok(Code(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Code, E> {
                Ok(Code(v.to_string()))
            }
        }
        d.deserialize_any(CodeVisitor)
    }
}

/// A coordinate as a number or a numeric string (geo is not money; `f64` is the model's type).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Coordinate(pub f64);

impl<'de> Deserialize<'de> for Coordinate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CoordinateVisitor;
        impl Visitor<'_> for CoordinateVisitor {
            type Value = Coordinate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a coordinate as a number or a string")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Coordinate, E> {
                Ok(Coordinate(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Coordinate, E> {
                Ok(Coordinate(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Coordinate, E> {
                Ok(Coordinate(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Coordinate, E> {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(Coordinate)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_any(CoordinateVisitor)
    }
}

/// A list a supplier sends either as a JSON array or as an object keyed by id (Rapid content,
/// bed groups, amenities). Each entry keeps its key when it came from an object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entries<T>(pub Vec<(Option<String>, T)>);

impl<T> Default for Entries<T> {
    fn default() -> Self {
        Entries(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entries<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for EntriesVisitor<T> {
            type Value = Entries<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array or an object keyed by id")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entries<T>, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element()? {
                    out.push((None, item));
                }
                Ok(Entries(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<T>, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, T>()? {
                    out.push((Some(k), v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_any(EntriesVisitor(PhantomData))
    }
}

/// An RFC 3339 instant in UTC; any other text is a schema violation.
pub(crate) fn instant(s: &str, what: &str) -> SupplierResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| SupplierError::malformed(format!("{what} is not an RFC 3339 instant: {s:?}")))
}

/// A cancellation time ([`crate::model::CancelTime::parse`]); anything else is a schema violation.
pub(crate) fn cancel_time(s: &str, what: &str) -> SupplierResult<crate::model::CancelTime> {
    crate::model::CancelTime::parse(s)
        .ok_or_else(|| SupplierError::malformed(format!("{what} is not a date-time: {s:?}")))
}

/// Percent-encodes a query or path value, keeping RFC 3986 unreserved characters only.
pub(crate) fn pct(s: &str) -> String {
    auth::pct(s)
}

/// Whether `s` is a non-empty run of ASCII digits (hotel and property ids travel unescaped).
pub(crate) fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Makes a supplier-supplied link safe to request on the configured base URL: an origin-form
/// `path?query`, or the path of an absolute `http(s)` URL (we never follow a link to another
/// host). Control characters, spaces and `//` authorities are refused.
pub(crate) fn origin_form(href: &str) -> SupplierResult<String> {
    let path = match href.split_once("://") {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            rest.find('/').map(|i| &rest[i..]).unwrap_or("/")
        }
        Some(_) => return Err(SupplierError::invalid("link has an unsupported scheme")),
        None => href,
    };
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && !path.bytes().any(|b| b.is_ascii_control() || b == b' ');
    if ok {
        Ok(path.to_string())
    } else {
        Err(SupplierError::invalid("link is not a usable path"))
    }
}

/// `text` with control characters as spaces and the credentials as `<redacted>`.
pub(crate) fn blank_and_redact(text: &str, credentials: &Credentials) -> String {
    let mut s: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    for secret in [&credentials.secret, &credentials.key] {
        if secret.len() >= 4 {
            s = s.replace(secret.as_str(), "<redacted>");
        }
    }
    s
}

/// A supplier's error text fit for an agent-visible message: the credentials and anything that
/// looks like a signature or bearer token (a run of 32+ letters and digits) redacted,
/// control characters dropped, at most 200 characters.
pub(crate) fn clean_message(text: &str, credentials: &Credentials) -> String {
    let s = blank_and_redact(text, credentials);
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '+' {
            run.push(c);
        } else {
            flush_run(&mut out, &mut run);
            out.push(c);
        }
    }
    flush_run(&mut out, &mut run);
    let out = out.trim();
    match out.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &out[..i]),
        None => out.to_string(),
    }
}

fn flush_run(out: &mut String, run: &mut String) {
    if run.len() >= 32 {
        out.push_str("<redacted>");
    } else {
        out.push_str(run);
    }
    run.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::string(r#""231.40""#, "231.40")]
    #[case::integer("231", "231")]
    #[case::float("231.4", "231.4")]
    #[case::float_two_places("115.70", "115.7")]
    #[case::tiny_float("0.01", "0.01")]
    #[case::large_float("123456789012.34", "123456789012.34")]
    #[case::negative_string(r#""-5.00""#, "-5.00")]
    fn amounts_from_strings_and_numbers(#[case] json: &str, #[case] expected: &str) {
        let a: Amount = serde_json::from_str(json).unwrap();
        assert_eq!(a.0, Decimal::from_str(expected).unwrap());
    }

    #[rstest]
    #[case::word(r#""abc""#)]
    #[case::empty(r#""""#)]
    #[case::null("null")]
    #[case::bool("true")]
    #[case::object("{}")]
    fn amounts_refuse_non_numbers(#[case] json: &str) {
        assert!(serde_json::from_str::<Amount>(json).is_err());
    }

    #[test]
    fn negative_amounts_are_malformed() {
        let err = Amount(Decimal::from(-1)).non_negative("net").unwrap_err();
        assert_eq!(err.class, crate::ErrorClass::SupplierMalformed);
        assert_eq!(
            Amount(Decimal::ZERO).non_negative("net").unwrap(),
            Decimal::ZERO
        );
    }

    #[rstest]
    #[case::relative("/v3/itineraries?token=B7ka2", Ok("/v3/itineraries?token=B7ka2"))]
    #[case::absolute(
        "https://api.ean.com/v3/itineraries?token=B7",
        Ok("/v3/itineraries?token=B7")
    )]
    #[case::authority_only("https://api.ean.com", Ok("/"))]
    #[case::protocol_relative("//evil.example/x", Err(()))]
    #[case::no_slash("v3/itineraries", Err(()))]
    #[case::space("/v3/a b", Err(()))]
    #[case::newline("/v3/a\r\nX-Injected: 1", Err(()))]
    #[case::other_scheme("ftp://host/x", Err(()))]
    fn links_become_origin_form(#[case] href: &str, #[case] expected: Result<&str, ()>) {
        assert_eq!(
            origin_form(href).map_err(|_| ()),
            expected.map(str::to_string)
        );
    }

    #[test]
    fn messages_lose_credentials_and_signatures() {
        let creds = Credentials {
            key: "rapidkey123".into(),
            secret: "rapidsecret".into(),
            account: None,
            mode: AuthMode::Native,
        };
        let sig = "d68e7b5d9786940ec6e21ea71651cd4432d275ae021ed31e4bcfa27d830f750e";
        let m = clean_message(
            &format!("bad key rapidkey123 secret rapidsecret sig={sig}\n"),
            &creds,
        );
        assert_eq!(m, "bad key <redacted> secret <redacted> sig=<redacted>");
        assert_eq!(
            clean_message(&"ab ".repeat(100), &creds).chars().count(),
            201
        );
    }

    #[test]
    fn entries_from_array_or_object() {
        let a: Entries<u8> = serde_json::from_str("[1,2]").unwrap();
        assert_eq!(a.0, vec![(None, 1), (None, 2)]);
        let o: Entries<u8> = serde_json::from_str(r#"{"a":1,"b":2}"#).unwrap();
        assert_eq!(o.0, vec![(Some("a".into()), 1), (Some("b".into()), 2)]);
    }
}
