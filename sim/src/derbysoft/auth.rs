//! OAuth2 client credentials → HS256 JWT bearer tokens (spec "Auth"; RFC 6749 §4.4, RFC 7519).

use super::{Fail, Reply};
use crate::state::SimState;
use crate::{SimRequest, SimResponse};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// The key the simulator signs its access tokens with.
pub const SIGNING_KEY: &str = "derby-signing-key";

/// base64url of `{"alg":"HS256","typ":"JWT"}`, the only JWT header the simulator issues or accepts.
const JWT_HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

fn hmac(key: &[u8]) -> Option<Hmac<Sha256>> {
    Hmac::<Sha256>::new_from_slice(key).ok()
}

/// An HS256 JWT with claims `sub`, `iat`, `exp`, in that order (spec worked example).
pub fn mint_jwt(key: &str, sub: &str, iat: i64, exp: i64) -> String {
    // Built by hand so the claims keep the worked example's order; `Value` escapes `sub`.
    let sub = Value::String(sub.to_string());
    let payload = format!("{{\"sub\":{sub},\"iat\":{iat},\"exp\":{exp}}}");
    let signing_input = format!("{JWT_HEADER}.{}", URL_SAFE_NO_PAD.encode(payload));
    let signature = match hmac(key.as_bytes()) {
        Some(mut mac) => {
            mac.update(signing_input.as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        }
        None => String::new(),
    };
    format!("{signing_input}.{signature}")
}

/// Whether `token` is one of ours: our header, a valid signature under `key`, subject `sub` and
/// `exp` after `now` (unix seconds).
pub fn verify_jwt(token: &str, key: &str, sub: &str, now: i64) -> bool {
    let mut parts = token.split('.');
    let (Some(head), Some(payload), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if head != JWT_HEADER {
        return false;
    }
    let Ok(sig) = URL_SAFE_NO_PAD.decode(sig) else {
        return false;
    };
    let Some(mut mac) = hmac(key.as_bytes()) else {
        return false;
    };
    mac.update(head.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    if mac.verify_slice(&sig).is_err() {
        return false;
    }
    let Some(claims) = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
    else {
        return false;
    };
    claims.get("sub").and_then(Value::as_str) == Some(sub)
        && claims
            .get("exp")
            .and_then(Value::as_i64)
            .is_some_and(|exp| exp > now)
}

/// `POST /oauth/token`: Basic client credentials and `grant_type=client_credentials` → a JWT.
pub(super) fn token(state: &SimState, req: &SimRequest) -> SimResponse {
    if !basic_matches(
        req.header("authorization"),
        &state.options.key,
        &state.options.secret,
    ) {
        return super::unauthorised();
    }
    let grant = url::form_urlencoded::parse(&req.body)
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.into_owned());
    match grant.as_deref() {
        Some("client_credentials") => {}
        Some(_) => {
            return SimResponse::json(400, &json!({"error": "unsupported_grant_type"}));
        }
        None => return SimResponse::json(400, &json!({"error": "invalid_request"})),
    }
    let ttl = i64::try_from(state.options.token_ttl).unwrap_or(i64::MAX / 2);
    let iat = state.now().timestamp();
    let access_token = mint_jwt(
        SIGNING_KEY,
        &state.options.key,
        iat,
        iat.saturating_add(ttl),
    );
    SimResponse::json(
        200,
        &json!({"access_token": access_token, "token_type": "Bearer", "expires_in": ttl,
                "scope": "shop.all reservation.all"}),
    )
}

fn basic_matches(header: Option<&str>, id: &str, secret: &str) -> bool {
    let Some((scheme, creds)) = header.and_then(|h| h.trim().split_once(' ')) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Some(decoded) = STANDARD
        .decode(creds.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
    else {
        return false;
    };
    decoded.split_once(':') == Some((id, secret))
}

/// Every request but `/oauth/token` carries `Authorization: Bearer <token we issued>`.
pub(super) fn check_bearer(state: &SimState, req: &SimRequest) -> Reply<()> {
    let token = req
        .header("authorization")
        .and_then(|h| h.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    match token {
        Some(t) if verify_jwt(t, SIGNING_KEY, &state.options.key, state.now().timestamp()) => {
            Ok(())
        }
        _ => Err(Fail::Unauthorised),
    }
}
