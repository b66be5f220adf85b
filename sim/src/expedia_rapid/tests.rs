//! The `expedia-rapid` simulator over HTTP, against `shared/protocols/expedia-rapid.md`.

use super::{signature, TOKEN_PREFIX};
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
    fn kind(&self) -> String {
        self.json()["type"].as_str().unwrap_or("").to_string()
    }
    fn nested(&self) -> String {
        self.json()["errors"][0]["type"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

struct Rapid {
    sim: SimHandle,
}

const CUSTOMER_IP: (&str, &str) = ("Customer-Ip", "203.0.113.7");

impl Rapid {
    async fn start() -> anyhow::Result<Rapid> {
        let sim = start(
            SimOptions::defaults("expedia-rapid"),
            "127.0.0.1:0".parse()?,
        )
        .await?;
        Ok(Rapid { sim })
    }

    fn day(&self, offset: i64) -> NaiveDate {
        self.sim.state.today + Duration::days(offset)
    }

    fn auth(&self, t: i64) -> String {
        let o = &self.sim.state.options;
        format!(
            "EAN APIKey={},Signature={},timestamp={t}",
            o.key,
            signature(&o.key, &o.secret, t)
        )
    }

    async fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Reply> {
        let url = format!("{}{path}", self.sim.base_url());
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let (status, headers, body) = http_request(method, &url, headers, bytes).await?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// Signed, with `Customer-Ip`, plus `extra` headers.
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Reply> {
        let auth = self.auth(Utc::now().timestamp());
        let mut headers = vec![
            ("Authorization", auth.as_str()),
            ("Accept", "application/json"),
            ("Content-Type", "application/json"),
            CUSTOMER_IP,
        ];
        headers.extend_from_slice(extra);
        self.raw(method, path, body, &headers).await
    }

    async fn get(&self, path: &str) -> anyhow::Result<Reply> {
        self.send("GET", path, None, &[]).await
    }

    async fn admin(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        Ok(self.raw(method, path, body, &[]).await?.json())
    }

    fn codes(&self, n: usize) -> Vec<String> {
        self.sim
            .state
            .catalog
            .hotels
            .iter()
            .take(n)
            .map(|h| h.code.clone())
            .collect()
    }

    fn search_path(
        &self,
        ids: &[String],
        from: i64,
        nights: i64,
        occs: &[&str],
        currency: &str,
    ) -> String {
        let mut q = format!(
            "/v3/properties/availability?checkin={}&checkout={}&currency={currency}&country_code=FR&language=en-US",
            self.day(from),
            self.day(from + nights)
        );
        for o in occs {
            q.push_str(&format!("&occupancy={o}"));
        }
        for id in ids {
            q.push_str(&format!("&property_id={id}"));
        }
        q.push_str("&rate_plan_count=50&sales_channel=agent_tool&sales_environment=hotel_only");
        q
    }

    async fn search(&self, path: &str) -> anyhow::Result<Vec<Value>> {
        let r = self.get(path).await?;
        anyhow::ensure!(r.status == 200, "search: {} {}", r.status, r.text());
        Ok(r.json().as_array().cloned().unwrap_or_default())
    }

    /// (property, room, rate) of a 20-property search 40 days out, 2 nights, occupancy 2-6.
    async fn offers(&self) -> anyhow::Result<Vec<(Value, Value, Value)>> {
        let props = self
            .search(&self.search_path(&self.codes(20), 40, 2, &["2-6"], "EUR"))
            .await?;
        Ok(flatten(&props))
    }

    async fn refundable_offer(&self) -> anyhow::Result<Value> {
        self.offers()
            .await?
            .into_iter()
            .map(|(_, _, rate)| rate)
            .find(|r| r["refundable"] == true)
            .ok_or_else(|| anyhow::anyhow!("no refundable rate"))
    }

    async fn price_check(&self, rate: &Value, scenario: Option<&str>) -> anyhow::Result<Reply> {
        let href = price_check_href(rate);
        match scenario {
            Some(s) => {
                self.send("GET", &href, None, &[("X-Sim-Scenario", s)])
                    .await
            }
            None => self.get(&href).await,
        }
    }

    /// Price check then book; returns the book reply.
    async fn book(&self, rate: &Value, reference: &str) -> anyhow::Result<Reply> {
        let pc = self.price_check(rate, None).await?.json();
        let href = pc["links"]["book"]["href"]
            .as_str()
            .unwrap_or("")
            .to_string();
        self.send("POST", &href, Some(&book_body(reference, 1)), &[])
            .await
    }
}

fn flatten(props: &[Value]) -> Vec<(Value, Value, Value)> {
    let mut out = Vec::new();
    for p in props {
        for room in p["rooms"].as_array().into_iter().flatten() {
            for rate in room["rates"].as_array().into_iter().flatten() {
                out.push((p.clone(), room.clone(), rate.clone()));
            }
        }
    }
    out
}

fn bed_group(rate: &Value) -> Value {
    rate["bed_groups"]
        .as_object()
        .and_then(|m| m.values().next().cloned())
        .unwrap_or(Value::Null)
}

fn price_check_href(rate: &Value) -> String {
    bed_group(rate)["links"]["price_check"]["href"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn token_of(href: &str) -> String {
    href.split("token=").nth(1).unwrap_or("").to_string()
}

fn book_body(reference: &str, rooms: usize) -> Value {
    json!({
        "affiliate_reference_id": reference, "hold": false, "email": "bookings@agency.example",
        "phone": {"country_code": "33", "number": "155501234"},
        "rooms": vec![json!({"given_name": "Ada", "family_name": "Lovelace", "smoking": false}); rooms],
        "payments": [{"type": "affiliate_collect"}],
    })
}

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .and_then(|s| Decimal::from_str(s).ok())
        .unwrap_or(Decimal::MIN)
}

fn inclusive(pricing: &Value) -> Decimal {
    dec(&pricing["totals"]["inclusive"]["request_currency"]["value"])
}

#[test]
fn signature_matches_the_spec_worked_example() {
    assert_eq!(
        signature("rapidkey123", "rapidsecret", 1767225600),
        "d68e7b5d9786940ec6e21ea71651cd4432d275ae021ed31e4bcfa27d830f750ee71f3982b953e381de79a4ebb5c380f5b68a29565df8703499c11a9d2a06ea03"
    );
}

#[tokio::test]
async fn auth_is_case_and_order_insensitive_and_rejects_bad_or_stale_signatures() -> TestResult {
    let rapid = Rapid::start().await?;
    let path = "/v3/properties/content?property_id=1&language=en-US";
    let now = Utc::now().timestamp();
    let sig = signature("rapidkey123", "rapidsecret", now);
    let ok_headers = [
        rapid.auth(now),
        format!("ean timestamp={now}, signature={sig}, apikey=rapidkey123"),
        format!(
            "EAN Signature={},  APIKey=rapidkey123,timestamp={now}",
            sig.to_uppercase()
        ),
        rapid.auth(now - 250),
    ];
    for h in &ok_headers {
        let r = rapid
            .raw("GET", path, None, &[("Authorization", h)])
            .await?;
        assert_eq!((r.status, r.json()), (200, json!({})), "{h}");
    }
    let stale = now - 400;
    let bad = [
        (rapid.auth(stale), stale.to_string()),
        (
            format!(
                "EAN APIKey=rapidkey123,Signature={},timestamp={now}",
                "0".repeat(128)
            ),
            now.to_string(),
        ),
        (
            format!("EAN APIKey=otherkey,Signature={sig},timestamp={now}"),
            now.to_string(),
        ),
        (
            format!("Bearer APIKey=rapidkey123,Signature={sig},timestamp={now}"),
            String::new(),
        ),
        (
            format!("EAN APIKey=rapidkey123,Signature={sig}"),
            String::new(),
        ),
    ];
    for (h, echoed) in &bad {
        let r = rapid
            .raw("GET", path, None, &[("Authorization", h)])
            .await?;
        assert_eq!(r.status, 401, "{h}");
        let v = r.json();
        assert_eq!(v["type"], "request_unauthenticated");
        assert_eq!(
            v["fields"][0],
            json!({"name": "timestamp", "type": "header", "value": echoed})
        );
        assert_eq!(v["fields"][1]["name"], "servertimestamp");
        let server: i64 = v["fields"][1]["value"].as_str().unwrap_or("").parse()?;
        assert!((server - now).abs() < 5);
    }
    let r = rapid.raw("GET", path, None, &[]).await?;
    assert_eq!(r.status, 401);
    Ok(())
}

#[tokio::test]
async fn search_returns_spec_shaped_rates_priced_from_the_catalog() -> TestResult {
    let rapid = Rapid::start().await?;
    let ids = rapid.codes(6);
    let props = rapid
        .search(&rapid.search_path(&ids, 40, 2, &["2-6"], "EUR"))
        .await?;
    assert!(!props.is_empty());
    let state = &rapid.sim.state;
    let now = Utc::now();
    for p in &props {
        let pid = p["property_id"].as_str().unwrap_or("");
        assert!(ids.iter().any(|i| i == pid));
        assert_eq!(p["status"], "available");
    }
    let offers = flatten(&props);
    assert!(offers.len() >= 6);
    for (p, room, rate) in &offers {
        let pid = p["property_id"].as_str().unwrap_or("");
        let hotel = state.catalog.hotel(pid).expect("hotel");
        let room_idx = hotel
            .rooms
            .iter()
            .position(|r| room["id"] == r.code.as_str())
            .expect("room");
        assert_eq!(room["room_name"], json!(hotel.rooms[room_idx].name));
        let (rate_idx, plan) = state
            .catalog
            .rate_plan(rate["id"].as_str().unwrap_or(""))
            .expect("plan");
        let q = state
            .quote(
                hotel,
                room_idx,
                rate_idx,
                rapid.day(40),
                rapid.day(42),
                1,
                2,
                1,
            )
            .expect("quote");
        assert_eq!(rate["status"], "available");
        assert_eq!(rate["refundable"], plan.refundable);
        assert_eq!(rate["available_rooms"], json!(q.allotment));
        let bg = bed_group(rate);
        let link = &bg["links"]["price_check"];
        assert_eq!(link["method"], "GET");
        let href = link["href"].as_str().unwrap_or("");
        let prefix = format!(
            "/v3/properties/{pid}/rooms/{}/rates/{}?token=",
            hotel.rooms[room_idx].code, plan.code
        );
        assert!(href.starts_with(&prefix), "{href}");
        let expires = chrono::DateTime::parse_from_rfc3339(link["expires"].as_str().unwrap_or(""))?;
        let ttl = expires.with_timezone(&Utc) - now;
        assert!(ttl > Duration::minutes(29) && ttl <= Duration::minutes(31));
        let pricing = &rate["occupancy_pricing"]["2-6"];
        let nightly = pricing["nightly"].as_array().cloned().unwrap_or_default();
        assert_eq!(nightly.len(), 2);
        let mut base_sum = Decimal::ZERO;
        for (n, night) in nightly.iter().enumerate() {
            assert_eq!(night[0]["type"], "base_rate");
            assert_eq!(night[1]["type"], "tax_and_service_fee");
            let base = dec(&night[0]["value"]);
            assert_eq!(base, (q.nightly[n] / Decimal::new(110, 2)).round_dp(2));
            assert_eq!(base + dec(&night[1]["value"]), q.nightly[n]);
            base_sum += base;
        }
        assert_eq!(inclusive(pricing), q.total);
        assert_eq!(
            dec(&pricing["totals"]["exclusive"]["request_currency"]["value"]),
            base_sum
        );
        assert_eq!(
            pricing["totals"]["inclusive"]["request_currency"]["currency"],
            "EUR"
        );
        let pool = state.world.hotels[hotel.world_idx]
            .amenities
            .contains(&"POOL");
        let fees = &pricing["totals"]["property_fees"]["request_currency"]["value"];
        assert_eq!(fees.as_str(), pool.then_some("6.00"));
        let penalty = &rate["cancel_penalties"][0];
        if plan.refundable {
            assert_eq!(
                penalty["start"],
                json!(format!("{}T23:59:00.000+00:00", rapid.day(38)))
            );
            assert_eq!(dec(&penalty["amount"]), q.nightly[0]);
        } else {
            assert_eq!(dec(&penalty["amount"]), q.total);
        }
        assert_eq!(
            penalty["end"],
            json!(format!("{}T00:00:00.000+00:00", rapid.day(42)))
        );
    }
    Ok(())
}

#[tokio::test]
async fn search_prices_each_occupancy_converts_and_limits_rates() -> TestResult {
    let rapid = Rapid::start().await?;
    let ids = rapid.codes(6);
    let eur = flatten(
        &rapid
            .search(&rapid.search_path(&ids, 50, 3, &["2", "1-4"], "EUR"))
            .await?,
    );
    let path = rapid
        .search_path(&ids, 50, 3, &["2", "1-4"], "GBP")
        .replace("rate_plan_count=50", "rate_plan_count=1");
    let gbp = rapid.search(&path).await?;
    for p in &gbp {
        let rates: usize = p["rooms"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r["rates"].as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(rates, 1);
    }
    let state = &rapid.sim.state;
    for (p, room, rate) in flatten(&gbp) {
        let (_, _, same) = eur
            .iter()
            .find(|(q, r, x)| {
                q["property_id"] == p["property_id"]
                    && r["id"] == room["id"]
                    && x["id"] == rate["id"]
            })
            .expect("same rate in EUR");
        let mut keys: Vec<&String> = rate["occupancy_pricing"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        keys.sort();
        assert_eq!(keys, vec!["1-4", "2"]);
        for occ in ["2", "1-4"] {
            let mut expected = Decimal::ZERO;
            for night in same["occupancy_pricing"][occ]["nightly"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let incl = dec(&night[0]["value"]) + dec(&night[1]["value"]);
                expected += state.convert(incl, "GBP").unwrap_or_default();
            }
            assert_eq!(inclusive(&rate["occupancy_pricing"][occ]), expected);
            assert_eq!(
                rate["occupancy_pricing"][occ]["totals"]["inclusive"]["request_currency"]
                    ["currency"],
                "GBP"
            );
        }
    }
    let none = rapid
        .search(&rapid.search_path(&["999999".to_string()], 50, 3, &["2"], "EUR"))
        .await?;
    assert!(none.is_empty());
    let r = rapid
        .get(&rapid.search_path(&["999999".to_string()], 50, 3, &["2"], "EUR"))
        .await?;
    assert_eq!(r.text(), "[]");
    Ok(())
}

#[tokio::test]
async fn invalid_searches_get_nested_invalid_input() -> TestResult {
    let rapid = Rapid::start().await?;
    let ids = rapid.codes(2);
    let good = rapid.search_path(&ids, 30, 2, &["2"], "EUR");
    let d = |o: i64| rapid.day(o).to_string();
    let many_ids: Vec<String> = (0..251).map(|i| (300_000 + i).to_string()).collect();
    let cases: Vec<(String, &str)> = vec![
        (
            good.replace(&format!("checkin={}&", d(30)), ""),
            "checkin.required",
        ),
        (
            good.replace(&format!("checkin={}", d(30)), "checkin=2027/01/15"),
            "checkin.invalid_date_format",
        ),
        (
            good.replace(&format!("checkin={}", d(30)), &format!("checkin={}", d(-1))),
            "checkin.invalid_date_in_the_past",
        ),
        (
            good.replace(
                &format!("checkout={}", d(32)),
                &format!("checkout={}", d(30)),
            ),
            "checkout.invalid_checkout_before_checkin",
        ),
        (
            good.replace(
                &format!("checkout={}", d(32)),
                &format!("checkout={}", d(59)),
            ),
            "checkout.invalid_length_of_stay_too_long",
        ),
        (
            rapid.search_path(&ids, 364, 2, &["2"], "EUR"),
            "checkout.invalid_date_too_far_out",
        ),
        (
            rapid.search_path(&ids, 30, 2, &["2"], "JPY"),
            "currency.not_supported",
        ),
        (
            rapid.search_path(&ids, 30, 2, &["2"; 9], "EUR"),
            "number_of_occupancies.invalid_above_maximum",
        ),
        (
            rapid.search_path(&ids, 30, 2, &["0"], "EUR"),
            "occupancy.invalid",
        ),
        (
            rapid.search_path(&ids, 30, 2, &["2-18"], "EUR"),
            "occupancy.invalid",
        ),
        (
            rapid.search_path(&ids, 30, 2, &["two"], "EUR"),
            "occupancy.invalid",
        ),
        (
            rapid.search_path(&ids, 30, 2, &[], "EUR"),
            "occupancy.required",
        ),
        (
            rapid.search_path(&many_ids, 30, 2, &["2"], "EUR"),
            "property_id.invalid_above_maximum",
        ),
        (
            rapid.search_path(&["abc".to_string()], 30, 2, &["2"], "EUR"),
            "property_id.invalid",
        ),
        (
            good.replace("&sales_channel=agent_tool", ""),
            "sales_channel.required",
        ),
        (
            good.replace("sales_environment=hotel_only", "sales_environment=moon"),
            "sales_environment.invalid",
        ),
        (
            good.replace("rate_plan_count=50", "rate_plan_count=0"),
            "rate_plan_count.invalid",
        ),
        (
            good.replace("language=en-US", "language=english"),
            "language.not_supported",
        ),
        (
            good.replace("country_code=FR", "country_code=France"),
            "country_code.invalid",
        ),
    ];
    for (path, expected) in cases {
        let r = rapid.get(&path).await?;
        assert_eq!(r.status, 400, "{expected}: {}", r.text());
        assert_eq!(r.kind(), "invalid_input");
        let types: Vec<String> = r.json()["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["type"].as_str().map(str::to_string))
            .collect();
        assert!(
            types.iter().any(|t| t == expected),
            "{expected} not in {types:?}"
        );
    }
    let r = rapid.get("/v3/properties/availability").await?;
    assert_eq!(r.json()["errors"].as_array().map(Vec::len), Some(10));
    Ok(())
}

#[tokio::test]
async fn search_price_check_book_retrieve_find_cancel() -> TestResult {
    let rapid = Rapid::start().await?;
    let rate = rapid.refundable_offer().await?;
    let quoted = inclusive(&rate["occupancy_pricing"]["2-6"]);
    let pc = rapid.price_check(&rate, None).await?;
    assert_eq!(pc.status, 200);
    let pc = pc.json();
    assert_eq!(pc["status"], "available");
    assert_eq!(pc["occupancy_pricing"], rate["occupancy_pricing"]);
    assert_eq!(pc["links"]["book"]["method"], "POST");
    let book_href = pc["links"]["book"]["href"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(book_href.starts_with("/v3/itineraries?token="));

    let r = rapid
        .send("POST", &book_href, Some(&book_body("AGT-7Q2K9", 1)), &[])
        .await?;
    assert_eq!(r.status, 201, "{}", r.text());
    let booked = r.json();
    let id = booked["itinerary_id"].as_str().unwrap_or("").to_string();
    assert!(id.len() == 10 && id.starts_with("91"));
    let retrieve = booked["links"]["retrieve"]["href"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(retrieve.starts_with(&format!("/v3/itineraries/{id}?token=")));

    let it = rapid.get(&retrieve).await?;
    assert_eq!(it.status, 200);
    let it = it.json();
    assert_eq!(it["itinerary_id"], json!(id));
    assert_eq!(it["affiliate_reference_id"], "AGT-7Q2K9");
    let room = &it["rooms"][0];
    assert_eq!(room["status"], "booked");
    assert_eq!(room["checkin"], json!(rapid.day(40).to_string()));
    assert_eq!(
        (room["number_of_adults"].clone(), room["child_ages"].clone()),
        (json!(2), json!([6]))
    );
    assert!(room["confirmation_id"]["expedia"]
        .as_str()
        .unwrap_or("")
        .starts_with("EXP-"));
    assert!(room["confirmation_id"]["property"].is_string());
    assert_eq!(room["rate"]["id"], rate["id"]);
    assert_eq!(room["rate"]["refundable"], true);
    assert_eq!(inclusive(&room["rate"]["pricing"]), quoted);
    let cancel = room["links"]["cancel"]["href"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let room_id = room["id"].as_str().unwrap_or("").to_string();
    assert!(cancel.starts_with(&format!("/v3/itineraries/{id}/rooms/{room_id}?token=")));
    assert_eq!(room["links"]["cancel"]["method"], "DELETE");

    let found = rapid
        .get("/v3/itineraries?affiliate_reference_id=AGT-7Q2K9&email=Bookings%40agency.example")
        .await?;
    assert_eq!((found.status, found.json()), (200, it.clone()));
    let missing = rapid
        .get("/v3/itineraries?affiliate_reference_id=AGT-7Q2K9&email=other%40agency.example")
        .await?;
    assert_eq!(
        (missing.status, missing.kind()),
        (404, "resource_not_found".to_string())
    );
    let by_email = rapid
        .get(&format!(
            "/v3/itineraries/{id}?email=bookings%40agency.example"
        ))
        .await?;
    assert_eq!(by_email.json(), it);
    let r = rapid.get("/v3/itineraries/9199999999?token=x").await?;
    assert_eq!(
        (r.status, r.kind()),
        (404, "resource_not_found".to_string())
    );

    let r = rapid.send("DELETE", &cancel, None, &[]).await?;
    assert_eq!((r.status, r.body.len()), (204, 0));
    let after = rapid.get(&retrieve).await?.json();
    assert_eq!(after["rooms"][0]["status"], "canceled");
    assert!(after["rooms"][0]["links"].is_null());
    let again = rapid.send("DELETE", &cancel, None, &[]).await?;
    assert_eq!(
        (again.status, again.nested()),
        (400, "room.already_canceled".to_string())
    );
    let r = rapid
        .send(
            "DELETE",
            &format!("/v3/itineraries/{id}/rooms/1?token=x"),
            None,
            &[],
        )
        .await?;
    assert_eq!(r.status, 404);

    let admin = rapid.admin("GET", "/__sim/bookings", None).await?;
    assert_eq!(admin[0]["reference"], json!(id));
    assert_eq!(admin[0]["client_reference"], "AGT-7Q2K9");
    assert_eq!(admin[0]["status"], "canceled");
    assert_eq!(dec(&admin[0]["total"]), quoted);
    assert_eq!(
        rapid.admin("GET", "/__sim/counters", None).await?,
        json!({"search": 1, "price_check": 1, "book": 1, "retrieve": 4, "list": 2, "cancel": 3})
    );
    Ok(())
}

#[tokio::test]
async fn customer_ip_is_required_on_book_retrieve_and_cancel() -> TestResult {
    let rapid = Rapid::start().await?;
    let auth = rapid.auth(Utc::now().timestamp());
    for (method, path) in [
        ("POST", "/v3/itineraries?token=x"),
        ("GET", "/v3/itineraries/9100000001?token=x"),
        ("DELETE", "/v3/itineraries/9100000001/rooms/1?token=x"),
    ] {
        let r = rapid
            .raw(
                method,
                path,
                Some(&book_body("REF-1", 1)),
                &[("Authorization", &auth)],
            )
            .await?;
        assert_eq!(
            (r.status, r.kind(), r.nested()),
            (400, "invalid_input".into(), "customer_ip.required".into()),
            "{path}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn duplicate_affiliate_references_return_the_existing_itinerary() -> TestResult {
    let rapid = Rapid::start().await?;
    let offers = rapid.offers().await?;
    let first = rapid.book(&offers[0].2, "DUP-1").await?;
    assert_eq!(first.status, 201);
    let id = first.json()["itinerary_id"].clone();
    let again = rapid.book(&offers[1].2, "DUP-1").await?;
    assert_eq!(again.status, 409);
    assert_eq!(again.kind(), "duplicate_itinerary");
    assert_eq!(
        again.json()["fields"][0],
        json!({"name": "itinerary_id", "type": "body", "value": id})
    );
    assert_eq!(rapid.sim.state.bookings.lock().len(), 1);
    for bad in ["ab", "ABCDEFGHIJKLMNOPQRSTUVWXYZ123"] {
        let r = rapid.book(&offers[1].2, bad).await?;
        assert_eq!(
            (r.status, r.nested()),
            (400, "affiliate_reference_id.invalid".to_string()),
            "{bad}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn links_expire_after_30_minutes_and_cannot_be_altered_or_reused() -> TestResult {
    let rapid = Rapid::start().await?;
    let offers = rapid.offers().await?;
    let (rate, other) = (&offers[0].2, &offers[1].2);
    let href = price_check_href(rate);
    let age = |token: &str| {
        let mut kv = rapid.sim.state.kv.lock();
        if let Some(e) = kv.get_mut(&format!("{TOKEN_PREFIX}{token}")) {
            e.0 = Utc::now() - Duration::minutes(31);
        }
    };
    let altered = format!("{}x", href);
    let swapped = format!(
        "{}?token={}",
        href.split('?').next().unwrap_or(""),
        token_of(&price_check_href(other))
    );
    for path in [&altered, &swapped] {
        let r = rapid.get(path).await?;
        assert_eq!(
            (r.status, r.kind()),
            (410, "link_expired".to_string()),
            "{path}"
        );
    }
    let pc = rapid.price_check(rate, None).await?.json();
    let book_href = pc["links"]["book"]["href"]
        .as_str()
        .unwrap_or("")
        .to_string();
    age(&token_of(&href));
    let r = rapid.get(&href).await?;
    assert_eq!((r.status, r.kind()), (410, "link_expired".to_string()));
    // A price-check token is not a book token.
    let r = rapid
        .send(
            "POST",
            &format!(
                "/v3/itineraries?token={}",
                token_of(&price_check_href(other))
            ),
            Some(&book_body("TOK-1", 1)),
            &[],
        )
        .await?;
    assert_eq!((r.status, r.kind()), (410, "link_expired".to_string()));
    let r = rapid
        .send("POST", "/v3/itineraries", Some(&book_body("TOK-1", 1)), &[])
        .await?;
    assert_eq!((r.status, r.nested()), (400, "token.required".to_string()));
    let r = rapid
        .send("POST", &book_href, Some(&book_body("TOK-1", 1)), &[])
        .await?;
    assert_eq!(r.status, 201, "still fresh");
    let r = rapid
        .send("POST", &book_href, Some(&book_body("TOK-2", 1)), &[])
        .await?;
    assert_eq!(
        (r.status, r.kind()),
        (410, "link_expired".to_string()),
        "used"
    );
    let pc = rapid.price_check(other, None).await?.json();
    let book_href = pc["links"]["book"]["href"]
        .as_str()
        .unwrap_or("")
        .to_string();
    age(&token_of(&book_href));
    let r = rapid
        .send("POST", &book_href, Some(&book_body("TOK-3", 1)), &[])
        .await?;
    assert_eq!(
        (r.status, r.kind()),
        (410, "link_expired".to_string()),
        "expired"
    );
    Ok(())
}

#[tokio::test]
async fn price_up_shows_as_price_changed_and_price_mismatch() -> TestResult {
    let rapid = Rapid::start().await?;
    let rate = rapid.refundable_offer().await?;
    let quoted = inclusive(&rate["occupancy_pricing"]["2-6"]);
    let pc = rapid.price_check(&rate, Some("price_up:10")).await?.json();
    assert_eq!(pc["status"], "price_changed");
    let raised = inclusive(&pc["occupancy_pricing"]["2-6"]);
    assert!(
        raised > quoted * Decimal::new(109, 2) && raised < quoted * Decimal::new(111, 2),
        "{quoted} -> {raised}"
    );
    let up_href = pc["links"]["book"]["href"]
        .as_str()
        .unwrap_or("")
        .to_string();

    let plain = rapid.price_check(&rate, None).await?.json();
    assert_eq!(plain["status"], "available");
    let plain_href = plain["links"]["book"]["href"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let r = rapid
        .send(
            "POST",
            &plain_href,
            Some(&book_body("PU-1", 1)),
            &[("X-Sim-Scenario", "price_up:10")],
        )
        .await?;
    assert_eq!((r.status, r.kind()), (409, "price_mismatch".to_string()));
    let r = rapid
        .send(
            "POST",
            &up_href,
            Some(&book_body("PU-1", 1)),
            &[("X-Sim-Scenario", "price_up:10")],
        )
        .await?;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(rapid.sim.state.bookings.lock()[0].total, raised);
    Ok(())
}

#[tokio::test]
async fn sold_out_scenarios_and_sellouts() -> TestResult {
    let rapid = Rapid::start().await?;
    let offers = rapid.offers().await?;
    let (prop, room, rate) = &offers[0];
    let pc = rapid.price_check(rate, Some("sold_out_at_recheck")).await?;
    assert_eq!(pc.status, 200);
    let pc = pc.json();
    assert_eq!(pc["status"], "sold_out");
    assert!(pc["links"]["book"].is_null());
    let shop = pc["links"]["shop"]["href"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(shop.starts_with("/v3/properties/availability?token="));
    let again = rapid.search(&shop).await?;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["property_id"], prop["property_id"]);

    let r = rapid.book(rate, "SO-1").await?;
    assert_eq!(r.status, 201, "{}", r.text());
    let pc = rapid.price_check(&offers[1].2, None).await?.json();
    let href = pc["links"]["book"]["href"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let r = rapid
        .send(
            "POST",
            &href,
            Some(&book_body("SO-2", 1)),
            &[("X-Sim-Scenario", "sold_out_at_book")],
        )
        .await?;
    assert_eq!((r.status, r.kind()), (410, "rooms_unavailable".to_string()));
    assert_eq!(rapid.sim.state.bookings.lock().len(), 1);

    rapid
        .admin(
            "POST",
            "/__sim/sellout",
            Some(&json!({"hotel": prop["property_id"], "room": room["id"]})),
        )
        .await?;
    let pc = rapid.price_check(rate, None).await?.json();
    assert_eq!(pc["status"], "sold_out");
    Ok(())
}

#[tokio::test]
async fn commit_then_timeout_stores_the_itinerary_and_retrieve_is_short_for_2_s() -> TestResult {
    let rapid = Rapid::start().await?;
    let rate = rapid.refundable_offer().await?;
    let pc = rapid.price_check(&rate, None).await?.json();
    let url = format!(
        "{}{}",
        rapid.sim.base_url(),
        pc["links"]["book"]["href"].as_str().unwrap_or("")
    );
    let auth = rapid.auth(Utc::now().timestamp());
    let body = book_body("CTT-1", 1).to_string().into_bytes();
    let pending = tokio::spawn(async move {
        let headers = [
            ("Authorization", auth.as_str()),
            CUSTOMER_IP,
            ("X-Sim-Scenario", "commit_then_timeout"),
        ];
        http_request("POST", &url, &headers, body).await
    });
    let mut stored = false;
    for _ in 0..500 {
        if !rapid.sim.state.bookings.lock().is_empty() {
            stored = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(stored, "itinerary stored before the hang");
    assert!(!pending.is_finished());
    pending.abort();
    let find = "/v3/itineraries?affiliate_reference_id=CTT-1&email=bookings%40agency.example";
    let short = rapid.get(find).await?.json();
    let mut keys: Vec<&String> = short
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    keys.sort();
    assert_eq!(keys, vec!["creation_date_time", "itinerary_id"]);
    let id = short["itinerary_id"].as_str().unwrap_or("").to_string();
    let by_email = format!("/v3/itineraries/{id}?email=bookings%40agency.example");
    assert_eq!(rapid.get(&by_email).await?.json(), short);
    rapid.sim.state.bookings.lock()[0].created_at -= Duration::seconds(3);
    let full = rapid.get(&by_email).await?.json();
    assert_eq!(full["rooms"][0]["status"], "booked");
    assert_eq!(rapid.get(find).await?.json(), full);
    Ok(())
}

#[tokio::test]
async fn generic_failure_scenarios_use_the_protocol_shapes() -> TestResult {
    let rapid = Rapid::start().await?;
    let path = rapid.search_path(&rapid.codes(2), 30, 2, &["2"], "EUR");
    let r = rapid
        .send("GET", &path, None, &[("X-Sim-Scenario", "server_error")])
        .await?;
    assert_eq!(
        (r.status, r.kind()),
        (500, "unknown_internal_error".to_string())
    );
    let r = rapid
        .send("GET", &path, None, &[("X-Sim-Scenario", "auth_fail")])
        .await?;
    assert_eq!(
        (r.status, r.kind()),
        (401, "request_unauthenticated".to_string())
    );
    let r = rapid
        .send("GET", &path, None, &[("X-Sim-Scenario", "rate_limited")])
        .await?;
    assert_eq!((r.status, r.kind()), (429, "too_many_requests".to_string()));
    let remaining = r
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("rate-limit-minute-remaining"));
    assert_eq!(remaining.map(|(_, v)| v.as_str()), Some("0"));
    rapid
        .admin(
            "POST",
            "/__sim/scenario",
            Some(&json!({"scenario": "server_error", "operations": ["recheck"]})),
        )
        .await?;
    assert!(!rapid.search(&path).await?.is_empty());
    let rate = rapid.offers().await?.remove(0).2;
    let r = rapid.price_check(&rate, None).await?;
    assert_eq!(r.status, 500);
    let counters = rapid.admin("GET", "/__sim/counters", None).await?;
    assert_eq!(
        (counters["search"].clone(), counters["price_check"].clone()),
        (json!(5), json!(1))
    );
    Ok(())
}

#[tokio::test]
async fn content_is_keyed_by_property_id() -> TestResult {
    let rapid = Rapid::start().await?;
    let ids = rapid.codes(2);
    let r = rapid
        .get(&format!(
            "/v3/properties/content?property_id={}&property_id={}&property_id=1&language=en-US",
            ids[0], ids[1]
        ))
        .await?;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v.as_object().map(|m| m.len()), Some(2));
    let state = &rapid.sim.state;
    let hotel = state.catalog.hotel(&ids[0]).expect("hotel");
    let world = &state.world.hotels[hotel.world_idx];
    let c = &v[&ids[0]];
    assert_eq!(c["property_id"], json!(ids[0]));
    assert_eq!(c["name"], json!(hotel.name));
    assert_eq!(c["address"]["line_1"], json!(world.address));
    assert_eq!(c["address"]["city"], json!(world.dest().city));
    assert_eq!(c["address"]["country_code"], json!(world.dest().country));
    assert!(
        (c["location"]["coordinates"]["latitude"]
            .as_f64()
            .unwrap_or(0.0)
            - world.lat)
            .abs()
            < 1e-5
    );
    assert!(
        (c["location"]["coordinates"]["longitude"]
            .as_f64()
            .unwrap_or(0.0)
            - world.lon)
            .abs()
            < 1e-5
    );
    assert_eq!(
        c["amenities"].as_object().map(|m| m.len()),
        Some(world.amenities.len())
    );
    for a in c["amenities"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.iter())
    {
        assert_eq!(&a.1["id"], &json!(a.0));
        assert!(a.1["name"].is_string());
    }
    let room = &hotel.rooms[0];
    assert_eq!(
        c["rooms"][&room.code],
        json!({"id": room.code, "name": room.name, "occupancy": {"max_allowed": {"total": room.max_occupancy}}})
    );
    let r = rapid
        .get(&format!("/v3/properties/content?property_id={}", ids[0]))
        .await?;
    assert_eq!((r.status, r.kind()), (400, "invalid_input".to_string()));
    Ok(())
}

#[tokio::test]
async fn garbage_never_panics() -> TestResult {
    let rapid = Rapid::start().await?;
    let offers = rapid.offers().await?;
    let pc = rapid.price_check(&offers[0].2, None).await?.json();
    let href = pc["links"]["book"]["href"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let bodies = [
        json!(null),
        json!([1, 2]),
        json!({"affiliate_reference_id": 12345, "email": ["x"], "phone": "1", "rooms": {}, "payments": [{"type": "credit_card"}]}),
        json!({"affiliate_reference_id": "OK-REF", "email": "a@b.example", "phone": {"country_code": "33", "number": "155501234"},
               "rooms": [{"given_name": "", "family_name": 5}], "payments": [{"type": "affiliate_collect"}], "hold": true}),
    ];
    for body in &bodies {
        let r = rapid.send("POST", &href, Some(body), &[]).await?;
        assert_eq!(
            (r.status, r.kind()),
            (400, "invalid_input".to_string()),
            "{body}"
        );
    }
    let r = rapid
        .send("POST", &href, Some(&book_body("TWO-ROOMS", 2)), &[])
        .await?;
    assert_eq!(
        (r.status, r.nested()),
        (400, "rooms.number_of_rooms_mismatch".to_string())
    );
    let r = rapid
        .raw(
            "POST",
            &href,
            None,
            &[
                ("Authorization", &rapid.auth(Utc::now().timestamp())),
                CUSTOMER_IP,
            ],
        )
        .await?;
    assert_eq!(r.status, 400);
    for path in [
        "/v3/properties/1/rooms/2/rates/3",
        "/v3/properties/1/rooms/2/rates/3?token=%FF",
        "/v3/itineraries/%FF%FE",
        "/v3/itineraries?affiliate_reference_id=x",
        "/v3/properties/availability?token=nope",
        "/v3/properties/availability?occupancy=2-&occupancy=-&property_id=&checkin=&checkout=2027-99-99",
        "/v3/nothing",
    ] {
        let r = rapid.get(path).await?;
        assert!(matches!(r.status, 400 | 404 | 410), "{path}: {}", r.status);
        assert!(r.json()["type"].is_string() || r.json()["error"].is_string(), "{path}");
    }
    Ok(())
}
