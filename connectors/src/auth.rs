//! Request authentication shared by the connectors: SHA-256/SHA-512 request signatures
//! (Hotelbeds, Rapid), HTTP Basic (RFC 7617), two-legged OAuth 1.0a HMAC-SHA1 (RFC 5849) and
//! WS-Security UsernameToken. Each function is pure; time and nonces come from the caller.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Digest;

/// Lowercase hex SHA-256 of `key + secret + ts` (Hotelbeds `X-Signature`).
pub fn sha256_signature(key: &str, secret: &str, ts: i64) -> String {
    hex::encode(sha2::Sha256::digest(
        format!("{key}{secret}{ts}").as_bytes(),
    ))
}

/// Lowercase hex SHA-512 of `key + secret + ts` (Rapid `EAN` signature).
pub fn sha512_signature(key: &str, secret: &str, ts: i64) -> String {
    hex::encode(sha2::Sha512::digest(
        format!("{key}{secret}{ts}").as_bytes(),
    ))
}

/// `Basic base64(user:password)`.
pub fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

const RFC3986_RESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// RFC 3986 percent-encoding, keeping only unreserved characters (RFC 5849 §3.6).
pub fn pct(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, RFC3986_RESERVED).to_string()
}

/// The OAuth 1.0a signature base string (RFC 5849 §3.4.1) for a request whose body is not
/// form-encoded. `url` is the absolute URL, query included; query parameters are signed.
pub fn oauth1_base_string(method: &str, url: &str, oauth_params: &[(&str, &str)]) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut params: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (pct(&percent_decode(k)), pct(&percent_decode(v)))
        })
        .collect();
    params.extend(oauth_params.iter().map(|(k, v)| (pct(k), pct(v))));
    params.sort();
    let normalized = params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        pct(base),
        pct(&normalized)
    )
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// base64(HMAC-SHA1(pct(consumer_secret) + "&", base string)), not yet percent-encoded.
pub fn oauth1_signature(consumer_secret: &str, base_string: &str) -> String {
    let key = format!("{}&", pct(consumer_secret));
    // HMAC accepts keys of any length; new_from_slice cannot fail for HMAC.
    let mut mac = match Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(base_string.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The full `Authorization: OAuth ...` header value for a two-legged request.
pub fn oauth1_header(
    method: &str,
    url: &str,
    consumer_key: &str,
    consumer_secret: &str,
    nonce: &str,
    ts: i64,
) -> String {
    let ts = ts.to_string();
    let params = [
        ("oauth_consumer_key", consumer_key),
        ("oauth_nonce", nonce),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", ts.as_str()),
        ("oauth_version", "1.0"),
    ];
    let sig = oauth1_signature(consumer_secret, &oauth1_base_string(method, url, &params));
    format!(
        "OAuth oauth_consumer_key=\"{}\", oauth_nonce=\"{}\", oauth_signature=\"{}\", oauth_signature_method=\"HMAC-SHA1\", oauth_timestamp=\"{}\", oauth_version=\"1.0\"",
        pct(consumer_key),
        pct(nonce),
        pct(&sig),
        ts
    )
}

/// Escapes text for an XML element or attribute value.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A WS-Security `Security` header with a PasswordText UsernameToken (OASIS WSS 1.0 UsernameToken Profile).
pub fn wsse_username_token(username: &str, password: &str) -> String {
    format!(
        concat!(
            r#"<wsse:Security soap-env:mustUnderstand="1" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">"#,
            r#"<wsse:UsernameToken><wsse:Username>{}</wsse:Username>"#,
            r#"<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">{}</wsse:Password>"#,
            r#"</wsse:UsernameToken></wsse:Security>"#
        ),
        xml_escape(username),
        xml_escape(password)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hotelbeds_worked_example() {
        assert_eq!(
            sha256_signature("4f8a2c1e9b7d4a03", "s3cr3tHB", 1767225600),
            "53c1aa61f5061bedf45257d1659e07b7c72eb06f11fb682b262fca5c1b44af4a"
        );
    }

    #[test]
    fn rapid_worked_example() {
        assert_eq!(
            sha512_signature("rapidkey123", "rapidsecret", 1767225600),
            "d68e7b5d9786940ec6e21ea71651cd4432d275ae021ed31e4bcfa27d830f750ee71f3982b953e381de79a4ebb5c380f5b68a29565df8703499c11a9d2a06ea03"
        );
    }

    #[test]
    fn basic_worked_examples() {
        assert_eq!(
            basic("DidaApiTestID", "TestKey"),
            "Basic RGlkYUFwaVRlc3RJRDpUZXN0S2V5"
        );
        assert_eq!(
            basic("arigate-distributor", "derby-secret"),
            "Basic YXJpZ2F0ZS1kaXN0cmlidXRvcjpkZXJieS1zZWNyZXQ="
        );
    }

    #[test]
    fn oauth1_worked_example() {
        let url = "http://127.0.0.1:9105/api/rate/PriceSearch?$format=json";
        let params = [
            ("oauth_consumer_key", "dida-consumer"),
            ("oauth_nonce", "n0nce42"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "1767225600"),
            ("oauth_version", "1.0"),
        ];
        let base = oauth1_base_string("POST", url, &params);
        assert_eq!(base, "POST&http%3A%2F%2F127.0.0.1%3A9105%2Fapi%2Frate%2FPriceSearch&%2524format%3Djson%26oauth_consumer_key%3Ddida-consumer%26oauth_nonce%3Dn0nce42%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1767225600%26oauth_version%3D1.0");
        assert_eq!(
            oauth1_signature("consumer-secret", &base),
            "5m9dC3XWhYe9F28biTPc8f+4RAU="
        );
        let header = oauth1_header(
            "POST",
            url,
            "dida-consumer",
            "consumer-secret",
            "n0nce42",
            1767225600,
        );
        assert!(
            header.contains(r#"oauth_signature="5m9dC3XWhYe9F28biTPc8f%2B4RAU%3D""#),
            "{header}"
        );
    }

    #[test]
    fn wsse_escapes_credentials() {
        let h = wsse_username_token("a<b", "p&w");
        assert!(h.contains("<wsse:Username>a&lt;b</wsse:Username>"));
        assert!(h.contains(">p&amp;w</wsse:Password>"));
    }
}
