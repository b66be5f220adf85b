//! Bad requests get a clear JSON 4xx and reach no supplier (counted at the simulators).

use crate::harness::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_rejected_with_a_json_error_and_reaches_no_supplier() {
    let stack = Stack::start().await;
    let hotel = shared_hotels(1).remove(0);
    let today = chrono::Utc::now().date_naive();
    let d = |n: i64| (today + chrono::Duration::days(n)).to_string();
    let good = search_body(&[hotel.as_str()], 30);
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let auth = format!("Bearer {API_KEY}");
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "malformed JSON",
            b"{\"checkin\": ".to_vec(),
            400,
            "invalid_request",
        ),
        ("not JSON", b"hello".to_vec(), 400, "invalid_request"),
        (
            "unknown field",
            with("sneaky", json!(1)).to_string().into_bytes(),
            400,
            "invalid_request",
        ),
        (
            "missing field",
            json!({"checkin": d(30)}).to_string().into_bytes(),
            400,
            "invalid_request",
        ),
        (
            "wrong type",
            with("occupancy", json!("two")).to_string().into_bytes(),
            400,
            "invalid_request",
        ),
        (
            "checkout before checkin",
            with("checkout", json!(d(29))).to_string().into_bytes(),
            400,
            "invalid_request",
        ),
        (
            "checkout equals checkin",
            with("checkout", json!(d(30))).to_string().into_bytes(),
            400,
            "invalid_request",
        ),
        (
            "checkin in the past",
            with("checkin", json!(d(-2))).to_string().into_bytes(),
            400,
            "invalid_request",
        ),
        (
            "31 nights",
            with("checkout", json!(d(61))).to_string().into_bytes(),
            400,
            "invalid_request",
        ),
        (
            "bad date",
            with("checkin", json!("2027-02-30"))
                .to_string()
                .into_bytes(),
            400,
            "invalid_request",
        ),
        (
            "9 rooms",
            with("occupancy", json!(vec![json!({"adults": 1}); 9]))
                .to_string()
                .into_bytes(),
            400,
            "invalid_request",
        ),
        (
            "0 adults",
            with("occupancy", json!([{"adults": 0}]))
                .to_string()
                .into_bytes(),
            400,
            "invalid_request",
        ),
        (
            "101 hotels",
            with("hotels", json!(vec![hotel.clone(); 101]))
                .to_string()
                .into_bytes(),
            400,
            "invalid_request",
        ),
        (
            "unknown hotel",
            with("hotels", json!(["ARG-NOPE-0001"]))
                .to_string()
                .into_bytes(),
            404,
            "unknown_hotel",
        ),
        (
            "unknown currency",
            with("currency", json!("XXX")).to_string().into_bytes(),
            400,
            "invalid_request",
        ),
        (
            "unknown supplier",
            with("suppliers", json!(["nobody"]))
                .to_string()
                .into_bytes(),
            400,
            "invalid_request",
        ),
        ("too large", vec![b' '; 70_000], 413, "payload_too_large"),
    ];
    for (name, body, status, code) in cases {
        let r = http_raw(
            "POST",
            &format!("{}/v1/search", stack.edge),
            &[("authorization", &auth)],
            body,
        )
        .await;
        assert_eq!(r.status, status, "{name}: {}", r.raw);
        assert_eq!(r.body["error"]["code"], code, "{name}: {}", r.raw);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{name}"
        );
        assert_eq!(
            r.body["error"]["trace_id"].as_str(),
            r.header("x-trace-id"),
            "{name}"
        );
    }
    assert_eq!(stack.total_requests(), 0, "a bad search reached a supplier");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_wrong_or_forged_credentials_and_tokens_are_refused_before_any_supplier() {
    let stack = Stack::start().await;
    let hotel = shared_hotels(1).remove(0);
    let body = search_body(&[hotel.as_str()], 30);
    let url = format!("{}/v1/search", stack.edge);
    let r = http("POST", &url, &[], Some(&body)).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (401, Some("unauthorized")),
        "{}",
        r.raw
    );
    let r = http(
        "POST",
        &url,
        &[("authorization", "Bearer wrong-key")],
        Some(&body),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.raw);
    let r = http(
        "POST",
        &url,
        &[("authorization", "Basic ZGVtbzpkZW1v")],
        Some(&body),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.raw);

    // A genuine offer, then forged, altered and truncated versions of it.
    let s = stack.agent("POST", "/v1/search", Some(&body)).await;
    let (_, offer) = offers(&s.body).into_iter().next().expect("an offer");
    let before = stack.total_requests();
    let genuine = offer["offer_id"].as_str().unwrap_or("").to_string();
    let (payload, mac) = genuine.split_once('.').expect("payload.mac");
    let mut altered_mac = mac.to_string();
    altered_mac.replace_range(0..1, if mac.starts_with('A') { "B" } else { "A" });
    let forged_payload = {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let raw = b64
            .decode(payload.trim_start_matches("of_"))
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&raw).replacen("ARG-", "ARH-", 1);
        assert!(text.contains("ARH-"), "the payload names its hotel: {text}");
        format!("of_{}.{mac}", b64.encode(text))
    };
    for (name, token) in [
        ("altered signature", format!("{payload}.{altered_mac}")),
        ("forged payload", forged_payload),
        ("truncated", genuine[..genuine.len() / 2].to_string()),
        ("garbage", "of_???".to_string()),
        ("booking token as offer", genuine.replacen("of_", "bk_", 1)),
        ("huge", "of_".to_string() + &"A".repeat(10_000)),
    ] {
        let r = stack.recheck(&token).await;
        assert_eq!(r.status, 400, "{name}: {}", r.raw);
        assert_eq!(
            r.body["error"]["code"], "invalid_offer",
            "{name}: {}",
            r.raw
        );
        let r = stack
            .agent(
                "GET",
                &format!("/v1/bookings/{}", token.replacen("of_", "bk_", 1)),
                None,
            )
            .await;
        // A token too long for a request target is refused by its length (limits.max_uri_bytes).
        let (status, code) = if token.len() > 4000 {
            (414, "uri_too_long")
        } else {
            (400, "invalid_booking")
        };
        assert_eq!(r.status, status, "{name}: {}", r.raw);
        assert_eq!(r.body["error"]["code"], code, "{name}: {}", r.raw);
    }
    let r = stack
        .agent("POST", "/v1/bookings/bk_nope/cancel", None)
        .await;
    assert_eq!(r.status, 400, "{}", r.raw);
    assert_eq!(
        stack.total_requests(),
        before,
        "a forged token reached a supplier"
    );
    let r = stack.agent("GET", "/v1/nothing-here", None).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_offer_is_gone_and_reaches_no_supplier() {
    use arigate_filters::tokens::{OfferClaims, TokenSigner};
    let stack = Stack::start().await;
    let hotel = shared_hotels(1).remove(0);
    let s = stack
        .agent(
            "POST",
            "/v1/search",
            Some(&search_body(&[hotel.as_str()], 30)),
        )
        .await;
    let (_, offer) = offers(&s.body).into_iter().next().expect("an offer");
    // The same claims, validly signed with the edge's key, but expired a second ago.
    let signer = TokenSigner::new(E2E_TOKEN_SECRET.as_bytes(), &[]);
    let mut claims: OfferClaims = signer
        .verify_offer(offer["offer_id"].as_str().unwrap_or(""))
        .expect("genuine offer");
    let past = chrono::Utc::now().timestamp() - 1;
    // Expired in its per-response context, and as a plain token.
    let with_context = format!(
        "{}{}",
        signer.sign_offer(&claims),
        signer.offer_context(&claims.trace_id, &claims.trace_id, past)
    );
    claims.exp = past;
    let plain = signer.sign_offer(&claims);
    let before = stack.total_requests();
    for (i, expired) in [with_context, plain].iter().enumerate() {
        let r = stack.recheck(&expired).await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (410, Some("offer_expired")),
            "{}",
            r.raw
        );
        let r = stack.book(expired, &format!("expired-{i}")).await;
        assert_eq!(r.status, 410, "{}", r.raw);
    }
    assert_eq!(stack.total_requests(), before);
}
