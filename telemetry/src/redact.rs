//! Redaction and trimming of request/response excerpts before they are stored.
//!
//! Supplier traffic carries credentials in many shapes: HTTP headers (`Authorization`, Hotelbeds'
//! `Api-key` and `X-Signature`), JSON fields (`client_secret`, `access_token`, `password`), OTA
//! SOAP bodies (`<wsse:Password>` in WS-Security, `MessagePassword="…"` on `RequestorID`,
//! `<LicenseKey>`), OAuth 1.0a parameters (`oauth_signature="…"`), query strings and payment cards
//! (`CardNumber`, `SeriesCode`, bare card-like numbers). Excerpts are often cut mid-document, so
//! the rules are textual, not parsers: an unterminated secret value is redacted to the end.
//!
//! The rules run on the writer task, never on the request path; [`excerpt`] redacts first and
//! trims second, so a cut can never expose part of a secret.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex, RegexSet};

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";
/// What a card-like number is replaced with.
pub const CARD: &str = "[CARD]";
/// Appended where the sink cut an oversized excerpt on the request path.
pub const CUT_MARK: &str = "…[cut]";
/// Bytes past an excerpt's cut that redaction still reads, so a secret straddling the cut is
/// seen whole (names and values of credentials are far shorter); the rest is never scanned.
pub const REDACT_MARGIN: usize = 512;

/// Key fragments that make a field, header, element or parameter secret (case-insensitive).
const KEYS: &str = r"(?:password|passwd|pwd|passphrase|secret|api[-_]?key|authorization|signature|(?:access|refresh|id|auth|session|oauth|bearer|api|csrf)[-_]?token|license[-_]?key|private[-_]?key|cvv2?|cvc2?|card[-_]?(?:number|num|no)|security[-_]?code|series[-_]?code|cookie)";

fn name() -> String {
    format!(r"[\w.\-]*?{KEYS}[\w.\-]*")
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("redaction patterns are static and valid")
}

/// Cheap test: does the text mention anything a keyed rule could redact?
static PREFILTER: LazyLock<Regex> = LazyLock::new(|| re(&format!(r"(?i){KEYS}|bearer|basic|eyJ")));

/// The keyed rules in the order [`redact`] applies them, as one set: a single pass says which
/// rules match at all, so text that mentions a key runs only the rules that can change it (a
/// supplier request with an `Api-key` header line runs one rule, not nine passes of each).
static RULES: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        BEARER.as_str(),
        BASIC.as_str(),
        JWT.as_str(),
        JSON_STRING.as_str(),
        JSON_SCALAR.as_str(),
        JSON_ESCAPED.as_str(),
        XML_ELEMENT.as_str(),
        KEY_EQUALS.as_str(),
        HEADER_LINE.as_str(),
    ])
    .expect("redaction patterns are static and valid")
});

/// `"secret_key": "value"` (JSON string value, possibly unterminated).
static JSON_STRING: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r#"(?i)("{}"\s*:\s*)"(?:[^"\\]|\\.)*\\?(?:"|$)"#,
        name()
    ))
});

/// `"secret_key": 123` / `true` (JSON scalar).
static JSON_SCALAR: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r#"(?i)("{}"\s*:\s*)(?:-?[0-9][0-9.eE+\-]*|true|false)"#,
        name()
    ))
});

/// `\"secret_key\": \"value\"` (JSON embedded as an escaped string inside JSON).
static JSON_ESCAPED: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r#"(?i)(\\"{}\\"\s*:\s*)\\"(?:[^"\\]|\\[^"])*(?:\\"|\\?$)"#,
        name()
    ))
});

/// `<ns:Password attr="…">value</ns:Password>` or `<LicenseKey><![CDATA[value]]>`.
static XML_ELEMENT: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r#"(?is)(<(?:[\w.\-]+:)?{}(?:\s[^>]*)?>)(?:<!\[CDATA\[.*?(?:\]\]>|$)|[^<]*)"#,
        name()
    ))
});

/// `MessagePassword="…"`, `oauth_signature="…"`, `api_key=…&`, `Signature=…,` (XML attributes,
/// OAuth and EAN header parameters, query strings, forms).
static KEY_EQUALS: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r#"(?i)((?:^|[\s,;?&{{(])(?:[\w.\-]+:)?{}\s*=\s*)("[^"]*(?:"|$)|'[^']*(?:'|$)|\\"(?:[^"\\]|\\[^"])*(?:\\"|$)|[^\s&,;"'<>)]*)"#,
        name()
    ))
});

/// `Authorization: …`, `Api-key: …`, `X-Signature: …`, `Cookie: …` header lines, `password: …`
/// YAML-ish lines.
static HEADER_LINE: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"(?im)^([ \t]*{}[ \t]*:[ \t]*)(.*)$", name())));

/// `Bearer <token>` anywhere.
static BEARER: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)(?-u:\b)(bearer\s+)[A-Za-z0-9._~+/=\-]+"));

/// `Basic <base64>` anywhere (only when the token looks like base64, not "Basic breakfast").
static BASIC: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)(?-u:\b)(basic\s+)([A-Za-z0-9+/]{8,}={0,2})"));

/// JWTs (`eyJ….….…`) anywhere.
static JWT: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?-u:\b)eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*"));

/// 13–19 digits, contiguous or printed in card groups (4-4-4-4[-3], Amex 4-6-5, Diners 4-6-4):
/// card-like when Luhn-valid. Dates and times (`2026-07-01 12:30`) do not have card groups.
static CARD_LIKE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?-u:\b)(?:\d{13,19}|\d{4}(?:[ \-]\d{4}){2,3}(?:[ \-]\d{1,4})?|\d{4}[ \-]\d{6}[ \-]\d{4,5})(?-u:\b)",
    )
});

/// A run of 6+ digits right before a cut: could be the head of a card number.
static DIGITS_AT_CUT: LazyLock<Regex> = LazyLock::new(|| re(r"\d(?:[ \-]?\d){5,}$"));

/// Whether a header, field, element or parameter name is secret.
pub fn is_secret_name(name: &str) -> bool {
    static WHOLE: LazyLock<Regex> = LazyLock::new(|| re(&format!(r"(?i)^{}$", self::name())));
    WHOLE.is_match(name)
}

/// Removes secrets from `text` (see the module doc for the shapes covered).
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    if PREFILTER.is_match(text) {
        // A rule that matches nothing in the text is skipped; the others run in order on the
        // text as the earlier ones left it (their replacements hold no names or values).
        let hits = RULES.matches(text);
        let on = |i: usize| hits.matched(i);
        if on(0) {
            out = apply(out, &BEARER, |c| format!("{}{REDACTED}", &c[1]));
        }
        if on(1) {
            out = apply(out, &BASIC, |c| {
                if looks_like_base64(&c[2]) {
                    format!("{}{REDACTED}", &c[1])
                } else {
                    c[0].to_string()
                }
            });
        }
        if on(2) {
            out = apply(out, &JWT, |_| REDACTED.to_string());
        }
        if on(3) {
            out = apply(out, &JSON_STRING, |c| format!("{}\"{REDACTED}\"", &c[1]));
        }
        if on(4) {
            out = apply(out, &JSON_SCALAR, |c| format!("{}\"{REDACTED}\"", &c[1]));
        }
        if on(5) {
            out = apply(out, &JSON_ESCAPED, |c| {
                format!("{}\\\"{REDACTED}\\\"", &c[1])
            });
        }
        if on(6) {
            out = apply(out, &XML_ELEMENT, |c| format!("{}{REDACTED}", &c[1]));
        }
        if on(7) {
            out = apply(out, &KEY_EQUALS, |c| {
                let v = &c[2];
                let quoted = if v.starts_with('"') {
                    format!("\"{REDACTED}\"")
                } else if v.starts_with('\'') {
                    format!("'{REDACTED}'")
                } else if v.starts_with("\\\"") {
                    format!("\\\"{REDACTED}\\\"")
                } else {
                    REDACTED.to_string()
                };
                format!("{}{quoted}", &c[1])
            });
        }
        if on(8) {
            out = apply(out, &HEADER_LINE, |c| format!("{}{REDACTED}", &c[1]));
        }
    }
    if has_long_digit_run(&out) {
        out = apply(out, &CARD_LIKE, |c| {
            if luhn_valid(&c[0]) {
                CARD.to_string()
            } else {
                c[0].to_string()
            }
        });
    }
    if let Some(head) = out.strip_suffix(CUT_MARK) {
        if DIGITS_AT_CUT.is_match(head) {
            let masked = DIGITS_AT_CUT.replace(head, CARD);
            out = Cow::Owned(format!("{masked}{CUT_MARK}"));
        }
    }
    out
}

/// Redacts `text` in place and trims it to at most `limit` bytes like [`excerpt`], allocating
/// only when something is redacted.
pub fn excerpt_in_place(text: &mut String, limit: usize) {
    let len = text.len();
    // Only the kept bytes and a margin are redacted: a secret whose name starts before the cut
    // is seen whole within the margin (or runs to the end and is redacted to the end).
    cut_in_place(text, limit.saturating_add(REDACT_MARGIN));
    redact_and_trim(text, limit, len);
}

/// Redacts `text` (already cut to `limit` + [`REDACT_MARGIN`] from `len` bytes) and trims it to
/// `limit`, marking how many bytes of the original were left out.
fn redact_and_trim(text: &mut String, limit: usize, len: usize) {
    let precut = len > limit.saturating_add(REDACT_MARGIN);
    if let Cow::Owned(red) = redact(text) {
        *text = red;
    }
    if text.len() > limit {
        let cut = floor_char_boundary(text, limit);
        let left = if precut { len } else { text.len() } - cut;
        text.truncate(cut);
        text.push_str(&format!("…[+{left} bytes]"));
    }
}

/// Whether `text` holds 13 or more digits in a row (single spaces or dashes allowed between
/// them): the cheap gate before the card-number pattern.
fn has_long_digit_run(text: &str) -> bool {
    let mut run = 0u32;
    let mut prev_sep = false;
    for b in text.bytes() {
        if b.is_ascii_digit() {
            run += 1;
            prev_sep = false;
            if run >= 13 {
                return true;
            }
        } else if (b == b' ' || b == b'-') && run > 0 && !prev_sep {
            prev_sep = true;
        } else {
            run = 0;
            prev_sep = false;
        }
    }
    false
}

/// Redacts `text`, then trims it to at most `limit` bytes (on a character boundary), marking the
/// cut with the number of bytes left out.
pub fn excerpt(text: &str, limit: usize) -> String {
    let cap = limit.saturating_add(REDACT_MARGIN);
    // Copy only the head: one character past `cap` (at most 4 bytes) keeps it longer than `cap`
    // exactly when the text is, so `cut_in_place` cuts it as it would the whole text.
    let head = floor_char_boundary(text, cap.saturating_add(4));
    let mut out = text.get(..head).unwrap_or_default().to_string();
    cut_in_place(&mut out, cap);
    redact_and_trim(&mut out, limit, text.len());
    out
}

/// Cuts `text` in place to at most `limit` bytes and appends [`CUT_MARK`], without allocating
/// (the string's capacity already exceeds the cut). Used on the request path to bound memory.
pub fn cut_in_place(text: &mut String, limit: usize) {
    if text.len() <= limit {
        return;
    }
    let at = floor_char_boundary(text, limit.saturating_sub(CUT_MARK.len()));
    text.truncate(at);
    text.push_str(CUT_MARK);
}

/// Renders headers as `Name: value` lines with secret values replaced, for request excerpts.
pub fn headers_excerpt<'a, I>(headers: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut out = String::new();
    for (name, value) in headers {
        out.push_str(name);
        out.push_str(": ");
        if is_secret_name(name) || name.eq_ignore_ascii_case("x-signature") {
            out.push_str(REDACTED);
        } else {
            out.push_str(&redact(value));
        }
        out.push('\n');
    }
    out
}

fn apply<'t>(
    text: Cow<'t, str>,
    re: &Regex,
    rep: impl FnMut(&Captures<'_>) -> String,
) -> Cow<'t, str> {
    match text {
        Cow::Borrowed(s) => re.replace_all(s, rep),
        Cow::Owned(s) => match re.replace_all(&s, rep) {
            Cow::Borrowed(_) => Cow::Owned(s),
            Cow::Owned(n) => Cow::Owned(n),
        },
    }
}

fn looks_like_base64(token: &str) -> bool {
    token
        .bytes()
        .any(|b| b.is_ascii_digit() || b"+/=".contains(&b))
        || token.bytes().skip(1).any(|b| b.is_ascii_uppercase())
}

fn luhn_valid(candidate: &str) -> bool {
    let digits: Vec<u32> = candidate.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let dd = d * 2;
                if dd > 9 {
                    dd - 9
                } else {
                    dd
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn floor_char_boundary(s: &str, mut at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const HOTELBEDS_HEADERS: &str = "POST /hotel-api/1.0/hotels HTTP/1.1\r\n\
Api-key: 4a9b2c7d1e0f3a5b6c8d9e0f1a2b3c4d\r\n\
X-Signature: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\r\n\
Accept: application/json\r\n\r\n\
{\"stay\":{\"checkIn\":\"2026-07-01\",\"checkOut\":\"2026-07-03\"},\"occupancies\":[{\"rooms\":1,\"adults\":2,\"children\":0}],\"hotels\":{\"hotel\":[1067,2045]}}";

    const OTA_SOAP: &str = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">
  <soap:Header>
    <wsse:Security soap:mustUnderstand="1">
      <wsse:UsernameToken>
        <wsse:Username>ARIGATE_USER</wsse:Username>
        <wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">Tr0ub4dor&amp;3</wsse:Password>
        <wsse:Nonce>bm9uY2UtMTIz</wsse:Nonce>
      </wsse:UsernameToken>
    </wsse:Security>
  </soap:Header>
  <soap:Body>
    <OTA_HotelResRQ xmlns="http://www.opentravel.org/OTA/2003/05" EchoToken="e-77" Version="1.003">
      <POS><Source><RequestorID ID="AGT-1" MessagePassword="hunter2-otapw" Type="22"/></Source></POS>
      <HotelReservations><HotelReservation><ResGlobalInfo><Guarantee><GuaranteesAccepted><GuaranteeAccepted>
        <PaymentCard CardCode="VI" CardNumber="4111111111111111" SeriesCode="737" ExpireDate="1230"><CardHolderName>ANA LOPEZ</CardHolderName></PaymentCard>
      </GuaranteeAccepted></GuaranteesAccepted></Guarantee></ResGlobalInfo></HotelReservation></HotelReservations>
      <LicenseKey><![CDATA[LK-9a8b7c6d5e4f]]></LicenseKey>
    </OTA_HotelResRQ>
  </soap:Body>
</soap:Envelope>"#;

    const DERBYSOFT_TOKEN: &str = r#"{"grant_type":"client_credentials","client_id":"arigate","client_secret":"dbs-cs-5f4dcc3b5aa765d61d8327deb882cf99"}"#;

    const DERBYSOFT_TOKEN_RESPONSE: &str = r#"{
  "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhcmlnYXRlIn0.c2lnbmF0dXJlLWhlcmU",
  "token_type": "Bearer",
  "expires_in": 3600,
  "refresh_token": "rt-0a1b2c3d4e5f"
}"#;

    const DIDA_OAUTH: &str = r#"Authorization: OAuth oauth_consumer_key="dida-ck", oauth_nonce="n1", oauth_signature="tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D", oauth_signature_method="HMAC-SHA1", oauth_timestamp="1700000000", oauth_version="1.0"
Content-Type: application/json

{"Header":{"ClientID":"arigate","LicenseKey":"DIDA-LIC-42"},"CheckInDate":"2026-07-01"}"#;

    const RAPID: &str = "GET /v3/properties/availability?checkin=2026-07-01&checkout=2026-07-03&apikey=rapid-key-123&signature=abcdef0123 HTTP/1.1\n\
Authorization: EAN APIKey=rapid-key-123,Signature=5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8,timestamp=1700000000\n";

    const BOOKING_JSON: &str = r#"{"holder":{"name":"Ana","surname":"Lopez"},"paymentData":{"paymentCard":{"cardType":"VI","cardNumber":"4111 1111 1111 1111","expiryDate":"1230","cardCVC":"737"},"contactData":{"email":"ana@example.com","phoneNumber":"+34600000000"}},"clientReference":"AGT-REF-1","remark":"card on file 5500-0000-0000-0004 please"}"#;

    #[rstest]
    #[case::hotelbeds_headers(HOTELBEDS_HEADERS, &["4a9b2c7d1e0f3a5b6c8d9e0f1a2b3c4d", "9f86d081884c7d659a2feaa0c55ad015"], &["checkIn", "2026-07-01", "1067"])]
    #[case::ota_soap(OTA_SOAP, &["Tr0ub4dor", "hunter2-otapw", "4111111111111111", "737", "LK-9a8b7c6d5e4f"], &["ARIGATE_USER", "AGT-1", "ANA LOPEZ", "e-77", "bm9uY2UtMTIz"])]
    #[case::derbysoft_token(DERBYSOFT_TOKEN, &["dbs-cs-5f4dcc3b5aa765d61d8327deb882cf99"], &["client_credentials", "\"client_id\":\"arigate\""])]
    #[case::derbysoft_token_response(DERBYSOFT_TOKEN_RESPONSE, &["eyJhbGciOiJIUzI1NiJ9", "c2lnbmF0dXJlLWhlcmU", "rt-0a1b2c3d4e5f"], &["expires_in", "3600"])]
    #[case::dida_oauth(DIDA_OAUTH, &["tR3%2BTy81", "DIDA-LIC-42"], &["CheckInDate", "ClientID"])]
    #[case::rapid(RAPID, &["rapid-key-123", "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8", "abcdef0123"], &["checkin=2026-07-01"])]
    #[case::booking_json(BOOKING_JSON, &["4111 1111 1111 1111", "737", "5500-0000-0000-0004"], &["Lopez", "AGT-REF-1", "+34600000000", "1230"])]
    fn supplier_shaped_bodies(#[case] body: &str, #[case] secrets: &[&str], #[case] kept: &[&str]) {
        let out = redact(body);
        for s in secrets {
            assert!(!out.contains(s), "secret {s:?} survived in:\n{out}");
        }
        for k in kept {
            assert!(out.contains(k), "harmless {k:?} was lost in:\n{out}");
        }
        assert!(out.contains(REDACTED) || out.contains(CARD));
    }

    #[rstest]
    #[case::json_unterminated(r#"{"password":"abc"#, "abc")]
    #[case::json_unterminated_escape(r#"{"password":"ab\"#, "ab")]
    #[case::json_scalar(r#"{"pin":1,"cvv":123}"#, "123")]
    #[case::escaped_json(r#"{"raw":"{\"client_secret\":\"s3cr3t-val\"}"}"#, "s3cr3t-val")]
    #[case::xml_unterminated("<Password>abc", "abc")]
    #[case::xml_attr_single_quote("<RequestorID MessagePassword='pw-in-quotes'/>", "pw-in-quotes")]
    #[case::escaped_xml_attr(r#"{"soap":"<RequestorID MessagePassword=\"pw-esc\"/>"}"#, "pw-esc")]
    #[case::query_string("https://x/y?a=1&access_token=tok-123&b=2", "tok-123")]
    #[case::bearer_anywhere("proxy said: Bearer abc.def-123 was rejected", "abc.def-123")]
    #[case::basic("Authorization=Basic dXNlcjpwYXNz", "dXNlcjpwYXNz")]
    #[case::basic_inline("sent Basic dXNlcjpwYXNz to upstream", "dXNlcjpwYXNz")]
    #[case::yaml_line("  client_secret: topsecret\n", "topsecret")]
    #[case::cut_card("card 4111 1111 11…[cut]", "4111 1111 11")]
    fn edge_shapes(#[case] input: &str, #[case] secret: &str) {
        let out = redact(input);
        assert!(!out.contains(secret), "{secret:?} survived: {out}");
    }

    #[rstest]
    #[case::breakfast(r#"{"board":"Basic breakfast"}"#)]
    #[case::rate_key(
        r#"{"rateKey":"20260701|20260703|W|1|1067|DBL.ST|ID_B2B_26|BB||1~2~0||N@06"}"#
    )]
    #[case::timestamps_not_luhn(r#"{"ts":1700000000001}"#)]
    #[case::dates("2026-07-01 2026-07-03 12:30:00")]
    #[case::echo_token(r#"<OTA_PingRQ EchoToken="abc"/>"#)]
    fn harmless_text_is_untouched(#[case] input: &str) {
        assert_eq!(redact(input), input);
    }

    #[test]
    fn excerpt_redacts_before_trimming() {
        let body = format!("{}{{\"password\":\"{}\"}}", "x".repeat(20), "p".repeat(100));
        let out = excerpt(&body, 40);
        assert!(!out.contains("ppp"));
        assert!(out.len() <= 40 + 24, "{out}");
        let short = excerpt("héllo wörld", 2);
        assert!(short.starts_with('h'));
        assert!(short.contains("bytes]"));
    }

    #[test]
    fn only_the_kept_bytes_and_a_margin_are_redacted() {
        // A secret value straddling the margin's end is redacted to the end of what is read.
        let body = format!(
            "{}{{\"password\":\"{}\"}}{}",
            "x".repeat(90),
            "p".repeat(2000),
            "y".repeat(10_000)
        );
        let out = excerpt(&body, 100);
        assert!(!out.contains("pp"), "{out}");
        assert!(out.starts_with(&"x".repeat(90)));
        let left = body.len() - 100;
        assert!(out.ends_with(&format!("…[+{left} bytes]")), "{out}");
        // A card number across the limit is masked, not half shown.
        let card = format!(
            "{} 4111 1111 1111 1111 {}",
            "a".repeat(95),
            "b".repeat(5000)
        );
        let out = excerpt(&card, 100);
        assert!(!out.contains("4111"), "{out}");
        // Far past the kept bytes nothing is read: a long body costs what its head costs.
        let long = format!("{}{}", "z".repeat(4096), "q".repeat(1 << 20));
        assert_eq!(
            excerpt(&long, 64),
            format!("{}…[+{} bytes]", "z".repeat(64), long.len() - 64)
        );
    }

    #[test]
    fn cut_in_place_does_not_reallocate() {
        let mut s = "é".repeat(1000);
        let cap = s.capacity();
        cut_in_place(&mut s, 101);
        assert!(s.len() <= 101);
        assert!(s.ends_with(CUT_MARK));
        assert_eq!(s.capacity(), cap);
    }

    #[test]
    fn headers_excerpt_hides_secret_values() {
        let out = headers_excerpt([
            ("Api-key", "k-1"),
            ("X-Signature", "sig"),
            ("Accept", "application/json"),
            ("X-Forwarded", "Bearer t-9"),
        ]);
        assert!(!out.contains("k-1") && !out.contains("sig\n") && !out.contains("t-9"));
        assert!(out.contains("Accept: application/json"));
    }

    #[test]
    fn excerpt_in_place_matches_excerpt() {
        let long_secret = format!("{}\"api_key\":\"{}\"", "a".repeat(580), "k".repeat(900));
        let long_plain = "é".repeat(3000);
        for (input, limit) in [
            (r#"{"password":"x","a":1}"#, 100),
            ("plain text here", 5),
            ("card 4111111111111111 ok", 100),
            ("héllo wörld", 2),
            (&long_secret, 100),
            (&long_plain, 700),
        ] {
            let mut s = input.to_string();
            excerpt_in_place(&mut s, limit);
            assert_eq!(s, excerpt(input, limit));
        }
        assert!(has_long_digit_run("x 4111 1111 1111 1 y"));
        assert!(!has_long_digit_run("12345678 abc 123456789012"));
        assert!(has_long_digit_run("1700000000000"));
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid("4111111111111111"));
        assert!(luhn_valid("5500-0000-0000-0004"));
        assert!(!luhn_valid("4111111111111112"));
        assert!(!luhn_valid("411111111111"));
    }
}
