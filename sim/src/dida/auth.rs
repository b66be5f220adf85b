//! Dida auth (spec "Auth"): body `Header{ClientID,LicenseKey}` by default, else HTTP Basic or
//! two-legged OAuth 1.0a HMAC-SHA1 (RFC 5849 §3.4.1–3.4.2, no token, body not signed).

use super::{fail, Reply};
use crate::state::SimState;
use crate::{SimAuth, SimRequest, SimResponse};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use sha1::Sha1;

/// Accepted clock skew of `oauth_timestamp`, seconds.
const SKEW_SECS: i64 = 300;
/// How long a nonce is remembered, minutes.
const NONCE_MINUTES: i64 = 10;

/// RFC 3986 unreserved characters stay; everything else is `%XX` (RFC 5849 §3.6).
const RESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes as OAuth 1.0a requires.
pub fn pct(s: &str) -> String {
    utf8_percent_encode(s, RESERVED).to_string()
}

/// `METHOD & pct(base URL) & pct(normalized parameters)`; `params` are the query parameters and
/// the `oauth_*` parameters except `oauth_signature`, decoded.
pub fn oauth1_base_string(method: &str, base_url: &str, params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = params.iter().map(|(k, v)| (pct(k), pct(v))).collect();
    encoded.sort();
    let normalized = encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        pct(base_url),
        pct(&normalized)
    )
}

/// base64(HMAC-SHA1(pct(consumer secret) + "&", base string)), not yet percent-encoded.
pub fn oauth1_signature(base_string: &str, consumer_secret: &str) -> String {
    let key = format!("{}&", pct(consumer_secret));
    match Hmac::<Sha1>::new_from_slice(key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(base_string.as_bytes());
            STANDARD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// The parameters of an `Authorization: OAuth k="v", …` header, values percent-decoded.
fn parse_oauth_header(header: &str) -> Option<Vec<(String, String)>> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("oauth") {
        return None;
    }
    rest.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=')?;
            let v = v.trim().strip_prefix('"')?.strip_suffix('"')?;
            let v = percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .ok()?
                .into_owned();
            Some((k.trim().to_string(), v))
        })
        .collect()
}

/// A verified OAuth 1.0a request, before its nonce is checked for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Verified {
    pub nonce: String,
}

/// Verifies a two-legged OAuth 1.0a HMAC-SHA1 request signed by `consumer_key`/`consumer_secret`
/// (spec "OAuth 1.0a"). `host` is the `Host` header; the scheme is `http`.
#[allow(clippy::too_many_arguments)]
pub(super) fn verify_oauth1(
    method: &str,
    host: &str,
    path: &str,
    query: &[(String, String)],
    authorization: Option<&str>,
    consumer_key: &str,
    consumer_secret: &str,
    now: DateTime<Utc>,
) -> Result<Verified, &'static str> {
    let oauth = authorization
        .and_then(parse_oauth_header)
        .ok_or("missing OAuth Authorization header")?;
    let get = |name: &str| {
        oauth
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if get("oauth_consumer_key") != Some(consumer_key) {
        return Err("unknown consumer key");
    }
    if get("oauth_signature_method") != Some("HMAC-SHA1") {
        return Err("signature method must be HMAC-SHA1");
    }
    if get("oauth_version").is_some_and(|v| v != "1.0") {
        return Err("version must be 1.0");
    }
    let ts: i64 = get("oauth_timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or("bad timestamp")?;
    if (now.timestamp() - ts).abs() > SKEW_SECS {
        return Err("timestamp outside the accepted window");
    }
    let nonce = get("oauth_nonce")
        .filter(|n| !n.is_empty())
        .ok_or("missing nonce")?;
    let signature = get("oauth_signature").ok_or("missing signature")?;
    let mut params: Vec<(String, String)> = query.to_vec();
    params.extend(
        oauth
            .iter()
            .filter(|(k, _)| k.starts_with("oauth_") && k != "oauth_signature")
            .cloned(),
    );
    let base_url = format!("http://{}{}", host.to_ascii_lowercase(), path);
    let base = oauth1_base_string(method, &base_url, &params);
    let key = format!("{}&", pct(consumer_secret));
    let given = STANDARD.decode(signature).map_err(|_| "bad signature")?;
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).map_err(|_| "bad key")?;
    mac.update(base.as_bytes());
    mac.verify_slice(&given).map_err(|_| "signature mismatch")?;
    Ok(Verified {
        nonce: nonce.to_string(),
    })
}

/// The `state.kv` key remembering an OAuth nonce.
pub(super) fn nonce_key(nonce: &str) -> String {
    format!("dida/oauth-nonce/{nonce}")
}

pub(super) fn native_denied() -> SimResponse {
    fail("4001", "Invalid ClientID or LicenseKey")
}

pub(super) fn basic_denied() -> SimResponse {
    SimResponse::json(
        401,
        &json!({"Success": false, "Error": {"Code": "4001", "Message": "Invalid credentials"}}),
    )
    .with_header("WWW-Authenticate", "Basic realm=\"dida\"")
}

pub(super) fn oauth_denied() -> SimResponse {
    SimResponse::json(
        401,
        &json!({"Success": false, "Error": {"Code": "4001", "Message": "OAuth signature invalid"}}),
    )
    .with_header("WWW-Authenticate", "OAuth realm=\"dida\"")
}

/// Basic or OAuth 1.0a, when the simulator was started with one; native mode passes.
pub(super) fn check_transport(state: &SimState, req: &SimRequest) -> Reply<()> {
    match state.options.auth {
        SimAuth::Native => Ok(()),
        SimAuth::Basic => {
            let ok = req
                .header("authorization")
                .and_then(|h| h.trim().split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
                .and_then(|(_, c)| STANDARD.decode(c.trim()).ok())
                .and_then(|b| String::from_utf8(b).ok())
                .is_some_and(|c| {
                    c.split_once(':')
                        == Some((state.options.key.as_str(), state.options.secret.as_str()))
                });
            if ok {
                Ok(())
            } else {
                Err(basic_denied())
            }
        }
        SimAuth::Oauth1 => {
            let now = state.now();
            let verified = verify_oauth1(
                &req.method,
                req.header("host").unwrap_or_default(),
                &req.path,
                &req.query,
                req.header("authorization"),
                &state.options.key,
                &state.options.secret,
                now,
            )
            .map_err(|why| {
                tracing::debug!(why, "dida: OAuth 1.0a request rejected");
                oauth_denied()
            })?;
            remember_nonce(state, &verified.nonce, now)
        }
    }
}

/// Rejects a nonce seen in the last 10 minutes, else remembers it.
fn remember_nonce(state: &SimState, nonce: &str, now: DateTime<Utc>) -> Reply<()> {
    let window = Duration::minutes(NONCE_MINUTES);
    let key = nonce_key(nonce);
    let mut kv = state.kv.lock();
    if kv.get(&key).is_some_and(|(t, _)| now - *t < window) {
        return Err(oauth_denied());
    }
    if state.next_seq().is_multiple_of(512) {
        kv.retain(|k, (t, _)| !k.starts_with("dida/oauth-nonce/") || now - *t < window);
    }
    kv.insert(key, (now, Value::Null));
    Ok(())
}

/// Body `Header{ClientID,LicenseKey}` in native mode.
pub(super) fn check_native(state: &SimState, body: &Value) -> Reply<()> {
    let header = body.get("Header");
    let id = header
        .and_then(|h| h.get("ClientID"))
        .and_then(Value::as_str);
    let key = header
        .and_then(|h| h.get("LicenseKey"))
        .and_then(Value::as_str);
    if id == Some(state.options.key.as_str()) && key == Some(state.options.secret.as_str()) {
        Ok(())
    } else {
        Err(native_denied())
    }
}
