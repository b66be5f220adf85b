//! The `hotelbeds` simulator over HTTP, against `shared/protocols/hotelbeds.md`.

use super::availability::KEY_PREFIX;
use super::signature;
use crate::server::http_request;
use crate::{start, SimHandle, SimOptions};
use chrono::{Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;

type TestResult = anyhow::Result<()>;

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The error code prefix before the token suffix, and the message.
    fn error(&self) -> (String, String) {
        let v = self.json();
        let code = v["error"]["code"].as_str().unwrap_or("");
        let prefix = code.split('-').next().unwrap_or("").to_string();
        (
            prefix,
            v["error"]["message"].as_str().unwrap_or("").to_string(),
        )
    }
}

struct Hb {
    sim: SimHandle,
}

impl Hb {
    async fn start() -> anyhow::Result<Hb> {
        let sim = start(SimOptions::defaults("hotelbeds"), "127.0.0.1:0".parse()?).await?;
        Ok(Hb { sim })
    }

    fn day(&self, offset: i64) -> NaiveDate {
        self.sim.state.today + Duration::days(offset)
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        extra: &[(&str, &str)],
        signed_at: i64,
    ) -> anyhow::Result<Reply> {
        let o = &self.sim.state.options;
        let sig = signature(&o.key, &o.secret, signed_at);
        let mut headers = vec![
            ("Api-key", o.key.as_str()),
            ("X-Signature", sig.as_str()),
            ("Accept", "application/json"),
            ("Content-Type", "application/json"),
        ];
        headers.extend_from_slice(extra);
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let url = format!("{}{path}", self.sim.base_url());
        let (status, headers, body) = http_request(method, &url, &headers, bytes).await?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Reply> {
        self.send(method, path, body, &[], Utc::now().timestamp())
            .await
    }

    async fn with_scenario(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        scenario: &str,
    ) -> anyhow::Result<Reply> {
        self.send(
            method,
            path,
            body,
            &[("X-Sim-Scenario", scenario)],
            Utc::now().timestamp(),
        )
        .await
    }

    async fn admin(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.sim.base_url());
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let (_, _, body) = http_request(method, &url, &[], bytes).await?;
        Ok(serde_json::from_slice(&body)?)
    }

    fn codes(&self, n: usize) -> Vec<u64> {
        self.sim
            .state
            .catalog
            .hotels
            .iter()
            .take(n)
            .filter_map(|h| h.code.parse().ok())
            .collect()
    }

    fn search_body(&self, hotels: &[u64], from: i64, nights: i64) -> Value {
        json!({
            "stay": {"checkIn": self.day(from).to_string(), "checkOut": self.day(from + nights).to_string()},
            "occupancies": [{"rooms": 1, "adults": 2, "children": 1, "paxes": [{"type": "CH", "age": 6}]}],
            "hotels": {"hotel": hotels},
            "currency": "EUR", "language": "ENG",
        })
    }

    async fn search(&self, body: &Value) -> anyhow::Result<Value> {
        let r = self
            .call("POST", "/hotel-api/1.0/hotels", Some(body))
            .await?;
        anyhow::ensure!(r.status == 200, "search: {} {}", r.status, r.text());
        Ok(r.json())
    }

    /// All (hotel code, room code, rate) of a search response.
    fn rates(resp: &Value) -> Vec<(u64, String, Value)> {
        let mut out = Vec::new();
        for h in resp["hotels"]["hotels"].as_array().into_iter().flatten() {
            for room in h["rooms"].as_array().into_iter().flatten() {
                for rate in room["rates"].as_array().into_iter().flatten() {
                    out.push((
                        h["code"].as_u64().unwrap_or(0),
                        room["code"].as_str().unwrap_or("").to_string(),
                        rate.clone(),
                    ));
                }
            }
        }
        out
    }

    /// A rate of a 20-hotel search 40 days out matching `pred`.
    async fn find_rate(&self, pred: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        let resp = self
            .search(&self.search_body(&self.codes(20), 40, 2))
            .await?;
        Hb::rates(&resp)
            .into_iter()
            .map(|(_, _, r)| r)
            .find(|r| pred(r))
            .ok_or_else(|| anyhow::anyhow!("no matching rate"))
    }

    fn book_body(key: &str, client_reference: &str) -> Value {
        json!({
            "holder": {"name": "Ada", "surname": "Lovelace"},
            "rooms": [{"rateKey": key, "paxes": [
                {"roomId": 1, "type": "AD", "name": "Ada", "surname": "Lovelace"},
                {"roomId": 1, "type": "AD", "name": "Charles", "surname": "Babbage"},
                {"roomId": 1, "type": "CH", "age": 6, "name": "Ann", "surname": "Lovelace"}]}],
            "clientReference": client_reference, "remark": "", "tolerance": 0.00,
        })
    }

    async fn counters(&self) -> anyhow::Result<Value> {
        self.admin("GET", "/__sim/counters", None).await
    }
}

fn is_bookable_nor(r: &Value) -> bool {
    r["rateType"] == "BOOKABLE" && r["rateClass"] == "NOR"
}

fn checkrates_body(key: &str) -> Value {
    json!({"rooms": [{"rateKey": key}], "language": "ENG"})
}

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .and_then(|s| Decimal::from_str(s).ok())
        .unwrap_or(Decimal::MIN)
}

#[test]
fn signature_matches_the_spec_worked_example() {
    assert_eq!(
        signature("4f8a2c1e9b7d4a03", "s3cr3tHB", 1767225600),
        "53c1aa61f5061bedf45257d1659e07b7c72eb06f11fb682b262fca5c1b44af4a"
    );
}

#[tokio::test]
async fn auth_accepts_fresh_signatures_and_rejects_wrong_or_stale_ones() -> TestResult {
    let hb = Hb::start().await?;
    let now = Utc::now().timestamp();
    let r = hb
        .send("GET", "/hotel-api/1.0/status", None, &[], now)
        .await?;
    assert_eq!((r.status, r.json()["status"].clone()), (200, json!("OK")));
    let r = hb
        .send("GET", "/hotel-api/1.0/status", None, &[], now - 200)
        .await?;
    assert_eq!(r.status, 200, "200 s of skew is accepted");
    for t in [now - 400, now + 400] {
        let r = hb
            .send("GET", "/hotel-api/1.0/status", None, &[], t)
            .await?;
        assert_eq!(
            (r.status, r.json()),
            (401, json!({"error": "Not Authorized"}))
        );
    }
    let url = format!("{}/hotel-api/1.0/status", hb.sim.base_url());
    let bad_sig = "0".repeat(64);
    let (status, _, body) = http_request(
        "GET",
        &url,
        &[("Api-key", "4f8a2c1e9b7d4a03"), ("X-Signature", &bad_sig)],
        vec![],
    )
    .await?;
    assert_eq!(
        (status, body),
        (401, br#"{"error":"Not Authorized"}"#.to_vec())
    );
    let sig = signature("otherkey", "s3cr3tHB", now);
    let (status, _, body) = http_request(
        "GET",
        &url,
        &[("api-key", "otherkey"), ("x-signature", &sig)],
        vec![],
    )
    .await?;
    assert_eq!((status, body), (403, b"Developer Inactive".to_vec()));
    let (status, _, _) = http_request("GET", &url, &[], vec![]).await?;
    assert_eq!(status, 403);
    Ok(())
}

#[tokio::test]
async fn search_returns_spec_shaped_offers_priced_from_the_catalog() -> TestResult {
    let hb = Hb::start().await?;
    let codes = hb.codes(6);
    let resp = hb.search(&hb.search_body(&codes, 40, 2)).await?;
    let hotels = resp["hotels"]["hotels"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!hotels.is_empty());
    assert_eq!(resp["hotels"]["total"], json!(hotels.len()));
    assert_eq!(resp["hotels"]["checkIn"], json!(hb.day(40).to_string()));
    assert!(resp["auditData"]["token"].is_string());
    let state = &hb.sim.state;
    for h in &hotels {
        let code = h["code"].as_u64().unwrap_or(0);
        assert!(codes.contains(&code));
        let hotel = state
            .catalog
            .hotel(&code.to_string())
            .expect("catalog hotel");
        let world = &state.world.hotels[hotel.world_idx];
        assert_eq!(h["name"], json!(hotel.name));
        assert_eq!(h["categoryCode"], json!(format!("{}EST", world.stars)));
        assert_eq!(h["destinationCode"], json!(world.dest().code));
        assert_eq!(h["currency"], "EUR");
        assert!(dec(&h["minRate"]) <= dec(&h["maxRate"]));
    }
    let rates = Hb::rates(&resp);
    assert!(rates.len() >= 6);
    for (code, room_code, rate) in &rates {
        let key = rate["rateKey"].as_str().unwrap_or("");
        let parts: Vec<&str> = key.split('|').collect();
        assert_eq!(parts.len(), 12, "{key}");
        assert_eq!(parts[0], hb.day(40).format("%Y%m%d").to_string());
        assert_eq!(parts[1], hb.day(42).format("%Y%m%d").to_string());
        assert_eq!(parts[2], "W");
        assert_eq!(parts[4], code.to_string());
        assert_eq!(parts[5], room_code);
        assert_eq!(parts[8], "");
        assert_eq!(parts[9], "1~2~1");
        assert_eq!(parts[10], "6");
        assert!(parts[11].starts_with("N@"));
        let hotel = state.catalog.hotel(&code.to_string()).expect("hotel");
        let room_idx = hotel
            .rooms
            .iter()
            .position(|r| r.code == *room_code)
            .expect("room");
        let (rate_idx, plan) = state.catalog.rate_plan(parts[6]).expect("plan");
        assert_eq!(parts[7], plan.board);
        let q = state
            .quote(hotel, room_idx, rate_idx, hb.day(40), hb.day(42), 1, 2, 1)
            .expect("quote");
        assert_eq!(dec(&rate["net"]), q.total);
        assert_eq!(rate["allotment"], json!(q.allotment));
        assert_eq!(
            rate["rateClass"],
            if plan.refundable { "NOR" } else { "NRF" }
        );
        assert!(rate["rateType"] == "BOOKABLE" || rate["rateType"] == "RECHECK");
        assert_eq!(rate["boardCode"], plan.board);
        assert_eq!(
            (rate["rooms"].clone(), rate["adults"].clone()),
            (json!(1), json!(2))
        );
        assert_eq!(
            (rate["children"].clone(), rate["childrenAges"].clone()),
            (json!(1), json!("6"))
        );
        assert!(dec(&rate["sellingRate"]) > q.total);
        let policy = &rate["cancellationPolicies"][0];
        if plan.refundable {
            assert_eq!(dec(&policy["amount"]), q.nightly[0]);
            assert_eq!(
                policy["from"],
                json!(format!("{}T23:59:00+00:00", hb.day(38)))
            );
        } else {
            assert_eq!(dec(&policy["amount"]), q.total);
        }
        if state.world.hotels[hotel.world_idx].stars >= 4 {
            assert_eq!(rate["taxes"]["allIncluded"], false);
            assert_eq!(rate["taxes"]["taxes"][0]["included"], false);
            assert_eq!(rate["taxes"]["taxes"][0]["amount"], "4.00");
        } else {
            assert_eq!(rate["taxes"]["allIncluded"], true);
        }
    }
    let recheck = rates
        .iter()
        .filter(|(_, _, r)| r["rateType"] == "RECHECK")
        .count();
    assert!(recheck * 100 / rates.len() <= 45, "about 20 % RECHECK");
    Ok(())
}

#[tokio::test]
async fn search_converts_currency_limits_rates_and_answers_empty() -> TestResult {
    let hb = Hb::start().await?;
    let codes = hb.codes(4);
    let mut body = hb.search_body(&codes, 60, 3);
    let eur = hb.search(&body).await?;
    body["currency"] = json!("USD");
    body["filter"] = json!({"maxRatesPerRoom": 1});
    let usd = hb.search(&body).await?;
    let state = &hb.sim.state;
    let eur_rates = Hb::rates(&eur);
    let usd_rates = Hb::rates(&usd);
    assert!(usd_rates.len() < eur_rates.len());
    for (code, room, rate) in &usd_rates {
        let same = eur_rates
            .iter()
            .find(|(c, r, x)| c == code && r == room && x["rateClass"] == rate["rateClass"])
            .expect("same rate in EUR");
        assert_eq!(
            Some(dec(&rate["net"])),
            state.convert(dec(&same.2["net"]), "USD")
        );
    }
    for h in usd["hotels"]["hotels"].as_array().into_iter().flatten() {
        assert_eq!(h["currency"], "USD");
        for room in h["rooms"].as_array().into_iter().flatten() {
            assert_eq!(room["rates"].as_array().map(Vec::len), Some(1));
        }
    }
    let none = hb.search(&hb.search_body(&[999_999], 60, 3)).await?;
    assert_eq!(none["hotels"], json!({"total": 0, "hotels": []}));
    Ok(())
}

#[tokio::test]
async fn invalid_searches_get_invalid_request() -> TestResult {
    let hb = Hb::start().await?;
    let ok = hb.search_body(&hb.codes(2), 30, 2);
    let with = |path: &[&str], v: Value| {
        let mut b = ok.clone();
        let mut cur = &mut b;
        for p in &path[..path.len() - 1] {
            cur = &mut cur[*p];
        }
        cur[path[path.len() - 1]] = v;
        b
    };
    let many: Vec<u64> = (0..2001).map(|i| 100_000 + i).collect();
    let cases = vec![
        (
            "past",
            with(&["stay", "checkIn"], json!(hb.day(-1).to_string())),
        ),
        ("bad date", with(&["stay", "checkIn"], json!("15/01/2027"))),
        ("date type", with(&["stay", "checkOut"], json!(20270117))),
        (
            "checkout = checkin",
            with(&["stay", "checkOut"], json!(hb.day(30).to_string())),
        ),
        (
            "31 nights",
            with(&["stay", "checkOut"], json!(hb.day(61).to_string())),
        ),
        (
            "beyond window",
            with(
                &["stay"],
                json!({"checkIn": hb.day(364).to_string(), "checkOut": hb.day(366).to_string()}),
            ),
        ),
        ("no stay", with(&["stay"], Value::Null)),
        ("too many hotels", with(&["hotels", "hotel"], json!(many))),
        ("string code", with(&["hotels", "hotel"], json!(["100042"]))),
        ("no hotels", with(&["hotels"], json!({"hotel": []}))),
        ("no occupancies", with(&["occupancies"], json!([]))),
        (
            "adults 0",
            with(
                &["occupancies"],
                json!([{"rooms": 1, "adults": 0, "children": 0}]),
            ),
        ),
        (
            "adults string",
            with(
                &["occupancies"],
                json!([{"rooms": 1, "adults": "2", "children": 0}]),
            ),
        ),
        (
            "child without age",
            with(
                &["occupancies"],
                json!([{"rooms": 1, "adults": 2, "children": 1}]),
            ),
        ),
        (
            "child age 18",
            with(
                &["occupancies"],
                json!([{"rooms": 1, "adults": 2, "children": 1, "paxes": [{"type": "CH", "age": 18}]}]),
            ),
        ),
        (
            "11 occupancies",
            with(
                &["occupancies"],
                json!(vec![json!({"rooms": 1, "adults": 1}); 11]),
            ),
        ),
        ("currency", with(&["currency"], json!("JPY"))),
        (
            "maxRatesPerRoom",
            with(&["filter"], json!({"maxRatesPerRoom": 0})),
        ),
    ];
    for (name, body) in cases {
        let r = hb
            .call("POST", "/hotel-api/1.0/hotels", Some(&body))
            .await?;
        assert_eq!(r.status, 400, "{name}: {}", r.text());
        assert_eq!(r.error().0, "INVALID_REQUEST", "{name}");
        let code = r.json()["error"]["code"].as_str().unwrap_or("").to_string();
        assert_eq!(code.len(), "INVALID_REQUEST-".len() + 4, "{name}: {code}");
    }
    for raw in ["", "not json", "[1,2]", "{\"stay\":"] {
        let url = format!("{}/hotel-api/1.0/hotels", hb.sim.base_url());
        let o = &hb.sim.state.options;
        let sig = signature(&o.key, &o.secret, Utc::now().timestamp());
        let (status, _, body) = http_request(
            "POST",
            &url,
            &[("Api-key", &o.key), ("X-Signature", &sig)],
            raw.as_bytes().to_vec(),
        )
        .await?;
        let v: Value = serde_json::from_slice(&body)?;
        assert_eq!(status, 400, "{raw:?}");
        assert!(v["error"]["code"]
            .as_str()
            .unwrap_or("")
            .starts_with("INVALID_REQUEST-"));
    }
    Ok(())
}

#[tokio::test]
async fn search_checkrates_book_retrieve_list_cancel() -> TestResult {
    let hb = Hb::start().await?;
    let rate = hb.find_rate(is_bookable_nor).await?;
    let key = rate["rateKey"].as_str().unwrap_or("");
    let r = hb
        .call(
            "POST",
            "/hotel-api/1.0/checkrates",
            Some(&checkrates_body(key)),
        )
        .await?;
    assert_eq!(r.status, 200, "{}", r.text());
    let hotel = r.json()["hotel"].clone();
    let checked = hotel["rooms"][0]["rates"][0].clone();
    assert_eq!(checked["rateType"], "BOOKABLE");
    assert_eq!(checked["net"], rate["net"]);
    assert_eq!(hotel["totalNet"], rate["net"]);
    assert_eq!(hotel["checkIn"], json!(hb.day(40).to_string()));
    let new_key = checked["rateKey"].as_str().unwrap_or("").to_string();
    assert_ne!(new_key, key);

    let r = hb
        .call(
            "POST",
            "/hotel-api/1.0/bookings",
            Some(&Hb::book_body(&new_key, "AGT-7Q2K9")),
        )
        .await?;
    assert_eq!(r.status, 200, "{}", r.text());
    let booking = r.json()["booking"].clone();
    let reference = booking["reference"].as_str().unwrap_or("").to_string();
    let (office, number) = reference.split_once('-').unwrap_or(("", ""));
    assert_eq!(office, "217");
    assert!(number.len() == 7 && number.chars().all(|c| c.is_ascii_digit()));
    assert_eq!(booking["status"], "CONFIRMED");
    assert_eq!(booking["clientReference"], "AGT-7Q2K9");
    assert_eq!(
        booking["holder"],
        json!({"name": "ADA", "surname": "LOVELACE"})
    );
    assert_eq!(booking["totalNet"], rate["net"]);
    assert_eq!(booking["pendingAmount"], rate["net"]);
    assert_eq!(booking["hotel"]["rooms"][0]["status"], "CONFIRMED");
    assert_eq!(booking["hotel"]["rooms"][0]["rates"][0]["rateClass"], "NOR");
    assert_eq!(
        booking["hotel"]["rooms"][0]["rates"][0]["cancellationPolicies"],
        rate["cancellationPolicies"]
    );

    let r = hb
        .call("GET", &format!("/hotel-api/1.0/bookings/{reference}"), None)
        .await?;
    assert_eq!(
        (r.status, r.json()["booking"].clone()),
        (200, booking.clone())
    );
    let r = hb
        .call(
            "GET",
            "/hotel-api/1.0/bookings?clientReference=AGT-7Q2K9&from=1&to=25",
            None,
        )
        .await?;
    assert_eq!(r.json()["bookings"]["total"], 1);
    assert_eq!(
        r.json()["bookings"]["bookings"][0]["reference"],
        json!(reference)
    );
    let r = hb
        .call(
            "GET",
            "/hotel-api/1.0/bookings?clientReference=NOPE&from=1&to=25",
            None,
        )
        .await?;
    assert_eq!(r.json()["bookings"]["total"], 0);

    let cancel = format!("/hotel-api/1.0/bookings/{reference}");
    let r = hb
        .call(
            "DELETE",
            &format!("{cancel}?cancellationFlag=SIMULATION"),
            None,
        )
        .await?;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["booking"]["status"], "CONFIRMED");
    assert_eq!(r.json()["booking"]["hotel"]["cancellationAmount"], "0.00");
    assert_eq!(hb.sim.state.bookings.lock()[0].status, "CONFIRMED");
    let r = hb
        .call(
            "DELETE",
            &format!("{cancel}?cancellationFlag=CANCELLATION"),
            None,
        )
        .await?;
    assert_eq!(r.status, 200);
    let cancelled = r.json()["booking"].clone();
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(cancelled["hotel"]["rooms"][0]["status"], "CANCELLED");
    assert_eq!(cancelled["hotel"]["cancellationAmount"], "0.00");
    assert!(cancelled["cancellationReference"]
        .as_str()
        .unwrap_or("")
        .starts_with("CX-"));
    let r = hb.call("GET", &cancel, None).await?;
    assert_eq!(r.json()["booking"]["status"], "CANCELLED");
    let r = hb
        .call(
            "DELETE",
            &format!("{cancel}?cancellationFlag=CANCELLATION"),
            None,
        )
        .await?;
    assert_eq!(r.status, 400);
    assert_eq!(r.error().0, "INVALID_DATA");
    assert!(r.error().1.contains("already cancelled"));
    let r = hb
        .call("GET", "/hotel-api/1.0/bookings/217-0000001", None)
        .await?;
    assert_eq!(r.status, 400);
    assert_eq!(r.error().0, "INVALID_DATA");
    assert!(r.error().1.contains("booking"));

    let admin = hb.admin("GET", "/__sim/bookings", None).await?;
    assert_eq!(admin[0]["reference"], json!(reference));
    assert_eq!(admin[0]["status"], "CANCELLED");
    assert_eq!(admin[0]["client_reference"], "AGT-7Q2K9");
    assert_eq!(
        hb.counters().await?,
        json!({"search": 1, "checkrates": 1, "book": 1, "retrieve": 3, "list": 2, "cancel": 3})
    );
    Ok(())
}

#[tokio::test]
async fn non_refundable_cancellation_costs_the_full_net() -> TestResult {
    let hb = Hb::start().await?;
    let rate = hb
        .find_rate(|r| r["rateType"] == "BOOKABLE" && r["rateClass"] == "NRF")
        .await?;
    let key = rate["rateKey"].as_str().unwrap_or("");
    let r = hb
        .call(
            "POST",
            "/hotel-api/1.0/bookings",
            Some(&Hb::book_body(key, "NRF-1")),
        )
        .await?;
    let reference = r.json()["booking"]["reference"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let r = hb
        .call(
            "DELETE",
            &format!("/hotel-api/1.0/bookings/{reference}?cancellationFlag=CANCELLATION"),
            None,
        )
        .await?;
    assert_eq!(
        r.json()["booking"]["hotel"]["cancellationAmount"],
        rate["net"]
    );
    Ok(())
}

#[tokio::test]
async fn a_repeated_client_reference_returns_the_existing_booking() -> TestResult {
    let hb = Hb::start().await?;
    let resp = hb.search(&hb.search_body(&hb.codes(20), 40, 2)).await?;
    let bookable: Vec<String> = Hb::rates(&resp)
        .into_iter()
        .filter(|(_, _, r)| r["rateType"] == "BOOKABLE")
        .filter_map(|(_, _, r)| r["rateKey"].as_str().map(str::to_string))
        .collect();
    assert!(bookable.len() >= 2);
    let first = hb
        .call(
            "POST",
            "/hotel-api/1.0/bookings",
            Some(&Hb::book_body(&bookable[0], "DUP-1")),
        )
        .await?;
    let again = hb
        .call(
            "POST",
            "/hotel-api/1.0/bookings",
            Some(&Hb::book_body(&bookable[1], "DUP-1")),
        )
        .await?;
    assert_eq!((first.status, again.status), (200, 200));
    assert_eq!(first.json()["booking"], again.json()["booking"]);
    assert_eq!(hb.sim.state.bookings.lock().len(), 1);
    // The booked key is consumed; the unused one still books under another reference.
    let reused = hb
        .call(
            "POST",
            "/hotel-api/1.0/bookings",
            Some(&Hb::book_body(&bookable[0], "DUP-2")),
        )
        .await?;
    assert_eq!(reused.status, 400);
    assert_eq!(reused.error().0, "INVALID_DATA");
    assert!(reused.error().1.contains("rateKey"));
    let other = hb
        .call(
            "POST",
            "/hotel-api/1.0/bookings",
            Some(&Hb::book_body(&bookable[1], "DUP-2")),
        )
        .await?;
    assert_eq!(other.status, 200);
    assert_ne!(
        other.json()["booking"]["reference"],
        first.json()["booking"]["reference"]
    );
    let long = hb
        .call(
            "POST",
            "/hotel-api/1.0/bookings",
            Some(&Hb::book_body(&bookable[1], "ABCDEFGHIJKLMNOPQRSTU")),
        )
        .await?;
    assert_eq!(
        (long.status, long.error().0),
        (400, "INVALID_REQUEST".to_string())
    );
    Ok(())
}

#[tokio::test]
async fn recheck_rates_must_pass_through_checkrates() -> TestResult {
    let hb = Hb::start().await?;
    let rate = hb.find_rate(|r| r["rateType"] == "RECHECK").await?;
    let key = rate["rateKey"].as_str().unwrap_or("");
    let r = hb
        .call(
            "POST",
            "/hotel-api/1.0/bookings",
            Some(&Hb::book_body(key, "RC-1")),
        )
        .await?;
    assert_eq!(r.status, 500);
    assert_eq!(r.error().0, "PRODUCT_ERROR");
    assert_eq!(r.error().1, "Price changed");
    let r = hb
        .call(
            "POST",
            "/hotel-api/1.0/checkrates",
            Some(&checkrates_body(key)),
        )
        .await?;
    let checked = r.json()["hotel"]["rooms"][0]["rates"][0].clone();
    assert_eq!(checked["rateType"], "BOOKABLE");
    let r = hb
        .call(
            "POST",
            "/hotel-api/1.0/bookings",
            Some(&Hb::book_body(
                checked["rateKey"].as_str().unwrap_or(""),
                "RC-1",
            )),
        )
        .await?;
    assert_eq!(
        (r.status, r.json()["booking"]["status"].clone()),
        (200, json!("CONFIRMED"))
    );
    Ok(())
}

#[tokio::test]
async fn keys_expire_after_30_minutes_and_unknown_keys_are_invalid_data() -> TestResult {
    let hb = Hb::start().await?;
    let rate = hb.find_rate(is_bookable_nor).await?;
    let key = rate["rateKey"].as_str().unwrap_or("").to_string();
    {
        let mut kv = hb.sim.state.kv.lock();
        let entry = kv
            .get_mut(&format!("{KEY_PREFIX}{key}"))
            .expect("issued key");
        entry.0 = Utc::now() - Duration::minutes(31);
    }
    for (path, body) in [
        ("/hotel-api/1.0/checkrates", checkrates_body(&key)),
        ("/hotel-api/1.0/bookings", Hb::book_body(&key, "EXP-1")),
    ] {
        let r = hb.call("POST", path, Some(&body)).await?;
        assert_eq!(r.status, 400, "{path}");
        let (code, message) = r.error();
        assert_eq!(code, "INVALID_DATA");
        assert!(
            message.contains("rateKey") && message.contains("expired"),
            "{message}"
        );
    }
    let r = hb
        .call(
            "POST",
            "/hotel-api/1.0/checkrates",
            Some(&checkrates_body("20270115|x|N@1")),
        )
        .await?;
    assert_eq!((r.status, r.error().0), (400, "INVALID_DATA".to_string()));
    assert!(r.error().1.contains("rateKey"));
    let r = hb
        .call(
            "POST",
            "/hotel-api/1.0/checkrates",
            Some(&json!({"rooms": [{"rateKey": 5}]})),
        )
        .await?;
    assert_eq!(
        (r.status, r.error().0),
        (400, "INVALID_REQUEST".to_string())
    );
    Ok(())
}

#[tokio::test]
async fn price_up_raises_checkrates_and_book_prices() -> TestResult {
    let hb = Hb::start().await?;
    let rate = hb.find_rate(is_bookable_nor).await?;
    let key = rate["rateKey"].as_str().unwrap_or("");
    let parts: Vec<&str> = key.split('|').collect();
    let state = &hb.sim.state;
    let hotel = state.catalog.hotel(parts[4]).expect("hotel");
    let room = hotel
        .rooms
        .iter()
        .position(|r| r.code == parts[5])
        .expect("room");
    let (plan, _) = state.catalog.rate_plan(parts[6]).expect("plan");
    let q = state
        .quote(hotel, room, plan, hb.day(40), hb.day(42), 1, 2, 1)
        .expect("quote");
    let raised = (q.total * Decimal::new(110, 2)).round_dp(2);

    let r = hb
        .with_scenario(
            "POST",
            "/hotel-api/1.0/bookings",
            Some(&Hb::book_body(key, "PU-1")),
            "price_up:10",
        )
        .await?;
    assert_eq!((r.status, r.error().0), (500, "PRODUCT_ERROR".to_string()));
    assert_eq!(r.error().1, "Price changed");

    let r = hb
        .with_scenario(
            "POST",
            "/hotel-api/1.0/checkrates",
            Some(&checkrates_body(key)),
            "price_up:10",
        )
        .await?;
    let checked = r.json()["hotel"]["rooms"][0]["rates"][0].clone();
    assert_eq!(dec(&checked["net"]), raised);
    assert_eq!(dec(&r.json()["hotel"]["totalNet"]), raised);
    let r = hb
        .with_scenario(
            "POST",
            "/hotel-api/1.0/bookings",
            Some(&Hb::book_body(
                checked["rateKey"].as_str().unwrap_or(""),
                "PU-1",
            )),
            "price_up:10",
        )
        .await?;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(dec(&r.json()["booking"]["totalNet"]), raised);
    Ok(())
}

#[tokio::test]
async fn sold_out_scenarios_and_sellouts_are_product_errors() -> TestResult {
    let hb = Hb::start().await?;
    let rate = hb.find_rate(is_bookable_nor).await?;
    let key = rate["rateKey"].as_str().unwrap_or("");
    let r = hb
        .with_scenario(
            "POST",
            "/hotel-api/1.0/checkrates",
            Some(&checkrates_body(key)),
            "sold_out_at_recheck",
        )
        .await?;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.error(),
        ("PRODUCT_ERROR".to_string(), "No availability".to_string())
    );
    let r = hb
        .with_scenario(
            "POST",
            "/hotel-api/1.0/bookings",
            Some(&Hb::book_body(key, "SO-1")),
            "sold_out_at_book",
        )
        .await?;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.error(),
        ("PRODUCT_ERROR".to_string(), "No availability".to_string())
    );
    assert!(hb.sim.state.bookings.lock().is_empty());
    let parts: Vec<&str> = key.split('|').collect();
    hb.admin(
        "POST",
        "/__sim/sellout",
        Some(&json!({"hotel": parts[4], "room": parts[5]})),
    )
    .await?;
    let r = hb
        .call(
            "POST",
            "/hotel-api/1.0/checkrates",
            Some(&checkrates_body(key)),
        )
        .await?;
    assert_eq!(
        r.error(),
        ("PRODUCT_ERROR".to_string(), "No availability".to_string())
    );
    Ok(())
}

#[tokio::test]
async fn commit_then_timeout_stores_the_booking_and_never_answers() -> TestResult {
    let hb = Hb::start().await?;
    let rate = hb.find_rate(is_bookable_nor).await?;
    let key = rate["rateKey"].as_str().unwrap_or("").to_string();
    hb.admin(
        "POST",
        "/__sim/scenario",
        Some(&json!({"scenario": "commit_then_timeout", "operations": ["book"]})),
    )
    .await?;
    let url = format!("{}/hotel-api/1.0/bookings", hb.sim.base_url());
    let o = hb.sim.state.options.clone();
    let body = Hb::book_body(&key, "CTT-1").to_string().into_bytes();
    let pending = tokio::spawn(async move {
        let sig = signature(&o.key, &o.secret, Utc::now().timestamp());
        http_request(
            "POST",
            &url,
            &[("Api-key", &o.key), ("X-Signature", &sig)],
            body,
        )
        .await
    });
    let mut stored = false;
    for _ in 0..500 {
        if !hb.sim.state.bookings.lock().is_empty() {
            stored = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(stored, "booking stored before the hang");
    assert!(!pending.is_finished());
    pending.abort();
    let r = hb
        .call("GET", "/hotel-api/1.0/bookings?clientReference=CTT-1", None)
        .await?;
    assert_eq!(r.json()["bookings"]["total"], 1);
    assert_eq!(r.json()["bookings"]["bookings"][0]["status"], "CONFIRMED");
    Ok(())
}

#[tokio::test]
async fn generic_failure_scenarios_use_the_protocol_shapes() -> TestResult {
    let hb = Hb::start().await?;
    let body = hb.search_body(&hb.codes(2), 30, 2);
    let r = hb
        .with_scenario("POST", "/hotel-api/1.0/hotels", Some(&body), "server_error")
        .await?;
    assert_eq!((r.status, r.error().0), (500, "SYSTEM_ERROR".to_string()));
    let r = hb
        .with_scenario("POST", "/hotel-api/1.0/hotels", Some(&body), "auth_fail")
        .await?;
    assert_eq!(
        (r.status, r.json()),
        (401, json!({"error": "Not Authorized"}))
    );
    let r = hb
        .with_scenario("POST", "/hotel-api/1.0/hotels", Some(&body), "rate_limited")
        .await?;
    assert_eq!(
        (r.status, r.text()),
        (403, "Developer Over Qps".to_string())
    );
    assert_eq!(r.header("x-rate-limit-error"), Some("over_qps"));
    hb.admin(
        "POST",
        "/__sim/scenario",
        Some(&json!({"scenario": "server_error", "operations": ["book"]})),
    )
    .await?;
    assert_eq!(
        hb.search(&body).await?["hotels"]["total"]
            .as_u64()
            .map(|n| n > 0),
        Some(true)
    );
    let r = hb
        .call(
            "POST",
            "/hotel-api/1.0/bookings",
            Some(&Hb::book_body("x", "SE-1")),
        )
        .await?;
    assert_eq!((r.status, r.error().0), (500, "SYSTEM_ERROR".to_string()));
    hb.admin("DELETE", "/__sim/scenario", None).await?;
    let counters = hb.counters().await?;
    assert_eq!(
        (counters["search"].clone(), counters["book"].clone()),
        (json!(4), json!(1))
    );
    Ok(())
}

#[tokio::test]
async fn content_lists_hotels_and_details() -> TestResult {
    let hb = Hb::start().await?;
    let codes = hb.codes(2);
    let r = hb
        .call(
            "GET",
            &format!(
                "/hotel-content-api/1.0/hotels?codes={},{}&fields=all&language=ENG",
                codes[0], codes[1]
            ),
            None,
        )
        .await?;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["total"], 2);
    let state = &hb.sim.state;
    let hotel = state.catalog.hotel(&codes[0].to_string()).expect("hotel");
    let world = &state.world.hotels[hotel.world_idx];
    let h = &v["hotels"][0];
    assert_eq!(h["code"], json!(codes[0]));
    assert_eq!(h["name"]["content"], json!(hotel.name));
    assert_eq!(h["destinationCode"], json!(world.dest().code));
    assert_eq!(
        h["city"]["content"],
        json!(world.dest().city.to_uppercase())
    );
    assert_eq!(h["address"]["content"], json!(world.address));
    assert_eq!(h["categoryCode"], json!(format!("{}EST", world.stars)));
    assert!((h["coordinates"]["latitude"].as_f64().unwrap_or(0.0) - world.lat).abs() < 1e-5);
    assert_eq!(
        h["facilities"].as_array().map(Vec::len),
        Some(world.amenities.len())
    );
    assert_eq!(h["rooms"][0]["roomCode"], json!(hotel.rooms[0].code));
    assert_eq!(h["rooms"][0]["description"], json!(hotel.rooms[0].name));
    assert_eq!(h["rooms"][0]["maxPax"], json!(hotel.rooms[0].max_occupancy));
    let r = hb
        .call(
            "GET",
            &format!("/hotel-content-api/1.0/hotels/{}/details", codes[0]),
            None,
        )
        .await?;
    assert_eq!(r.json()["hotel"], v["hotels"][0]);
    let r = hb
        .call("GET", "/hotel-content-api/1.0/hotels/1/details", None)
        .await?;
    assert_eq!(r.status, 404);
    let r = hb
        .call("GET", "/hotel-content-api/1.0/hotels?codes=abc", None)
        .await?;
    assert_eq!(
        (r.status, r.error().0),
        (400, "INVALID_REQUEST".to_string())
    );
    assert_eq!(hb.counters().await?["content"], 4);
    Ok(())
}

#[tokio::test]
async fn responses_are_gzipped_when_accepted() -> TestResult {
    let hb = Hb::start().await?;
    let r = hb
        .send(
            "GET",
            "/hotel-api/1.0/status",
            None,
            &[("Accept-Encoding", "gzip, deflate")],
            Utc::now().timestamp(),
        )
        .await?;
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let mut out = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&r.body[..]), &mut out)?;
    let v: Value = serde_json::from_str(&out)?;
    assert_eq!(v["status"], "OK");
    Ok(())
}

#[tokio::test]
async fn garbage_never_panics() -> TestResult {
    let hb = Hb::start().await?;
    let bodies = [
        json!(null),
        json!({"stay": 5, "occupancies": "x", "hotels": {"hotel": [-1, 1.5]}}),
        json!({"rooms": [{"rateKey": "a|b|c", "paxes": [{"type": "XX"}]}], "holder": {}, "clientReference": 12}),
        json!({"rooms": [{"rateKey": "", "paxes": [{"type": "CH", "name": "a", "surname": "b", "age": -3}]}],
               "holder": {"name": "a", "surname": "b"}, "clientReference": "x", "tolerance": "lots"}),
        json!({"stay": {"checkIn": "2027-02-30", "checkOut": "9999-99-99"}}),
    ];
    for path in [
        "/hotel-api/1.0/hotels",
        "/hotel-api/1.0/checkrates",
        "/hotel-api/1.0/bookings",
    ] {
        for body in &bodies {
            let r = hb.call("POST", path, Some(body)).await?;
            assert_eq!(r.status, 400, "{path} {body}: {}", r.text());
            assert!(r.json()["error"]["code"].is_string());
        }
    }
    for path in [
        "/hotel-api/1.0/bookings?from=x",
        "/hotel-api/1.0/bookings?from=5&to=1",
        "/hotel-api/1.0/bookings/%FF%FE",
    ] {
        let r = hb.call("GET", path, None).await?;
        assert_eq!(r.status, 400, "{path}");
    }
    let r = hb
        .call(
            "DELETE",
            "/hotel-api/1.0/bookings/1?cancellationFlag=MAYBE",
            None,
        )
        .await?;
    assert_eq!(
        (r.status, r.error().0),
        (400, "INVALID_REQUEST".to_string())
    );
    let r = hb.call("GET", "/hotel-api/1.0/nothing", None).await?;
    assert_eq!(r.status, 404);
    Ok(())
}

#[tokio::test]
async fn the_key_store_forgets_expired_and_then_oldest_keys() -> TestResult {
    let hb = Hb::start().await?;
    let state = &hb.sim.state;
    let old = Utc::now() - Duration::minutes(31);
    {
        let mut kv = state.kv.lock();
        for i in 0..60_000 {
            kv.insert(format!("{KEY_PREFIX}old{i}"), (old, Value::Null));
        }
        for i in 0..210_000 {
            let t = Utc::now() - Duration::seconds(i % 1000);
            kv.insert(format!("{KEY_PREFIX}live{i}"), (t, Value::Null));
        }
        kv.insert("other:thing".into(), (old, Value::Null));
    }
    for _ in 0..16 {
        super::availability::prune(state);
    }
    let kv = state.kv.lock();
    assert!(kv.contains_key("other:thing"));
    assert!(!kv.keys().any(|k| k.contains(":old")));
    assert!(
        kv.len() <= 100_001 + 1000 && kv.len() > 50_000,
        "{}",
        kv.len()
    );
    Ok(())
}
