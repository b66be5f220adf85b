//! Replays the fuzz corpora of the token decoder, the webhook verifier and the agent input rules
//! (`fuzz/corpus/{tokens,webhook,agent_input}/`) and every crash or regression input
//! (`fuzz/regressions/<target>/`) through the entries the fuzz targets use
//! ([`arigate_filters::fuzz`]): no panic, no violation, and every kind of outcome represented,
//! so the corpus reaches past the first check of each parser.
//!
//! `regenerate_seed_corpus` (ignored) rewrites the `seed-*` files.

// Test code: a failed read or write is the test failing.
#![allow(clippy::unwrap_used)]

use arigate_connectors::{BookingKey, Money, Occupancy, OfferKey, Stay};
use arigate_filters::fuzz::{
    agent_input, sign_raw, tokens, webhook, AgentInputFixture, AgentInputOutcome, TokenOutcome,
    WebhookOutcome, TOKEN_KEY, WEBHOOK_SECRETS,
};
use arigate_filters::tokens::{BookingClaims, OfferClaims, TokenSigner};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Every corpus and regression input of `target`, with its file name.
fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(dir).join(target)) else {
            continue;
        };
        for e in entries.filter_map(|e| e.ok()) {
            if e.path().is_file() {
                let name = format!("{dir}/{target}/{}", e.file_name().to_string_lossy());
                out.push((name, std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out.sort();
    assert!(out.len() >= 5, "{target}: only {} inputs", out.len());
    out
}

#[test]
fn token_inputs_are_classified() {
    let mut kinds = BTreeSet::new();
    for (name, data) in inputs("tokens") {
        let outcome = tokens(&data).unwrap_or_else(|v| panic!("{name}: {v}"));
        kinds.insert(match outcome {
            TokenOutcome::Offer(_) => "offer",
            TokenOutcome::Booking(_) => "booking",
            TokenOutcome::Refused(_) => "refused",
        });
    }
    assert_eq!(kinds, BTreeSet::from(["booking", "offer", "refused"]));
}

#[test]
fn webhook_inputs_are_classified() {
    let mut kinds = BTreeSet::new();
    for (name, data) in inputs("webhook") {
        let outcome = webhook(&data).unwrap_or_else(|v| panic!("{name}: {v}"));
        kinds.insert(match outcome {
            WebhookOutcome::Accepted(Ok(_)) => "event",
            WebhookOutcome::Accepted(Err(_)) => "bad body",
            WebhookOutcome::Refused(_) => "refused",
        });
    }
    assert_eq!(kinds, BTreeSet::from(["bad body", "event", "refused"]));
}

#[test]
fn agent_inputs_are_classified() {
    let fixture = AgentInputFixture::default();
    let mut kinds = BTreeSet::new();
    for (name, data) in inputs("agent_input") {
        let outcome = agent_input(&fixture, &data).unwrap_or_else(|v| panic!("{name}: {v}"));
        kinds.insert(match outcome {
            AgentInputOutcome::Search(_) => "search",
            AgentInputOutcome::Availability(_) => "availability",
            AgentInputOutcome::Book(_) => "book",
            AgentInputOutcome::Refused(_) => "refused",
        });
    }
    assert_eq!(
        kinds,
        BTreeSet::from(["availability", "book", "refused", "search"])
    );
}

// ---- seed recording -------------------------------------------------------------------------

fn offer_key() -> OfferKey {
    OfferKey {
        hotel: "100042".into(),
        room: "DBL.ST".into(),
        rate: "NRF-BB".into(),
        stay: Stay {
            checkin: chrono::NaiveDate::from_ymd_opt(2027, 1, 15).unwrap(),
            checkout: chrono::NaiveDate::from_ymd_opt(2027, 1, 18).unwrap(),
        },
        rooms: vec![Occupancy {
            adults: 2,
            children_ages: vec![4, 9],
        }],
        price: Money::new("231.40".parse().unwrap(), "EUR"),
        token: r#"{"k":"20270115|20270118|W|235|100042|DBL.ST|NRF BB|BB||1~2~2|4~9|N@07~~1a","t":"BOOKABLE"}"#.into(),
    }
}

fn write(target: &str, name: &str, data: &[u8]) {
    let dir = fuzz_dir().join("corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("seed-{name}")), data).unwrap();
}

#[test]
#[ignore = "rewrites the seed-* files of the filters' fuzz corpora"]
fn regenerate_seed_corpus() {
    let signer = TokenSigner::new(TOKEN_KEY, &[]);
    let offer = OfferClaims {
        supplier: "hotelbeds".into(),
        hotel_id: "ARG-LIS-0001".into(),
        key: offer_key(),
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        exp: 1_767_227_400,
        currency: "USD".into(),
        recheck_trace_id: Some("5f0c".into()),
    };
    let booking = |o: Option<OfferKey>| BookingClaims {
        supplier: "dida".into(),
        hotel_id: "ARG-LIS-0001".into(),
        key: BookingKey {
            supplier_reference: if o.is_some() {
                String::new()
            } else {
                "DIDA-2027-00042".into()
            },
            client_reference: "AGT7Q2K9ABCDEFGH".into(),
            token: "dsr1:a:b:c".into(),
        },
        trace_id: "b00c".into(),
        search_trace_id: "5ea4c".into(),
        created: 1_767_225_600,
        currency: "EUR".into(),
        offer: o,
        recheck_trace_id: None,
        agent: None,
    };
    let raw = |t: String| [b"r".as_slice(), t.as_bytes()].concat();
    write("tokens", "offer-token", &raw(signer.sign_offer(&offer)));
    write(
        "tokens",
        "booking-token",
        &raw(signer.sign_booking(&booking(None))),
    );
    write(
        "tokens",
        "forged",
        &raw(sign_raw(
            b"another-key-0123456789abcdef0123456789",
            "of",
            br#"{"s":"x"}"#,
        )),
    );
    write("tokens", "garbage", b"rof_!!.??");
    write(
        "tokens",
        "offer-payload",
        &[b"o".as_slice(), &serde_json::to_vec(&offer).unwrap()].concat(),
    );
    write(
        "tokens",
        "booking-payload",
        &[
            b"b".as_slice(),
            &serde_json::to_vec(&booking(None)).unwrap(),
        ]
        .concat(),
    );
    write(
        "tokens",
        "unknown-booking-payload",
        &[
            b"b".as_slice(),
            &serde_json::to_vec(&booking(Some(offer_key()))).unwrap(),
        ]
        .concat(),
    );
    write("tokens", "payload-bad-decimal", br#"o{"s":"hb","h":"H","k":["1","R","T","2027-01-15","2027-01-18",[[2,[]]],"1e999","EUR","t"],"t":"x","e":1}"#);

    let event = br#"{"event_id":"evt-0001","type":"ROOM_SOLD_OUT","supplier":"hotelbeds","hotel":"100042","room":"DBL.ST","rate":null,"dates":["2027-01-15"],"occurred_at":"2027-01-01T00:00:00Z"}"#;
    let delivery = |header: &str, id: &str, body: &[u8]| {
        [format!("{header}\n{id}\n").as_bytes(), body].concat()
    };
    write(
        "webhook",
        "signed-event",
        &delivery("auto", "evt-0001", event),
    );
    write("webhook", "signed-new-availability", &delivery("auto 120", "evt-0002", br#"{"event_id":"evt-0002","type":"NEW_AVAILABILITY","supplier":"dida","hotel":"500042","occurred_at":"2027-01-01T00:00:00Z"}"#));
    write(
        "webhook",
        "signed-stale",
        &delivery("auto 301", "evt-0003", event),
    );
    write("webhook", "signed-no-id", &delivery("auto", "", event));
    write(
        "webhook",
        "signed-bad-body",
        &delivery(
            "auto",
            "evt-0004",
            br#"{"event_id":"","type":"PRICE_CHANGED"}"#,
        ),
    );
    let t = arigate_filters::fuzz::WEBHOOK_NOW;
    let other = arigate_filters::webhook::signature(WEBHOOK_SECRETS[1], t, event);
    write(
        "webhook",
        "rotated-secret",
        &delivery(&format!("t={t},v1={}", other), "evt-0005", event),
    );
    write(
        "webhook",
        "wrong-secret",
        &delivery(
            &format!(
                "t={t},v1={}",
                arigate_filters::webhook::signature("whsec_demo", t, event)
            ),
            "evt-0006",
            event,
        ),
    );
    write(
        "webhook",
        "malformed-header",
        &delivery("t=abc,v1=zz", "evt-0007", event),
    );
    write("webhook", "no-header", &delivery("", "evt-0008", event));

    let search = serde_json::json!({"checkin": "2026-12-01", "checkout": "2026-12-03", "hotels": ["ARG-LIS-0001", "ARG-LIS-0002"], "occupancy": [{"adults": 2, "children_ages": [5]}], "currency": "EUR"});
    write(
        "agent_input",
        "search-hotels",
        format!("search\n{search}").as_bytes(),
    );
    write("agent_input", "search-destination", br#"search
{"checkin":"2026-12-01","checkout":"2026-12-02","destination":"LIS","occupancy":[{"adults":1}],"currency":"USD","nationality":"FR","suppliers":["dida"]}"#);
    write("agent_input", "search-both", br#"search
{"checkin":"2026-12-01","checkout":"2026-12-02","destination":"LIS","hotels":["ARG-LIS-0001"],"occupancy":[{"adults":1}],"currency":"USD"}"#);
    write("agent_input", "search-past", br#"search
{"checkin":"2020-12-01","checkout":"2020-12-02","destination":"LIS","occupancy":[{"adults":1}],"currency":"EUR"}"#);
    write("agent_input", "search-unknown-field", br#"search
{"checkin":"2026-12-01","checkout":"2026-12-02","destination":"LIS","occupancy":[{"adults":1}],"currency":"EUR","x":1}"#);
    write(
        "agent_input",
        "availability",
        br#"availability
{"offer_id":"of_eyJzIjoiaGIifQ.AAAA"}"#,
    );
    write("agent_input", "book", br#"book key-0001
{"offer_id":"of_x.y","guests":[{"first_name":" Ada ","last_name":"Lovelace"}],"client_reference":"PO-1"}"#);
    write(
        "agent_input",
        "book-without-key",
        br#"book
{"offer_id":"of_x.y","guests":[{"first_name":"Ada","last_name":"Lovelace"}]}"#,
    );
    write(
        "agent_input",
        "book-no-guests",
        br#"book key-0002
{"offer_id":"of_x.y","guests":[]}"#,
    );
}
