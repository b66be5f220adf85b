//! End-to-end tests of the `derbysoft` simulator over HTTP on `127.0.0.1:0`.

use super::reservation::token_key;
use super::shopping::before_tax;
use super::*;
use crate::server::http_request;
use crate::{SimHandle, SimOptions};
use chrono::Duration;
use std::io::Write;

const BASIC: &str = "Basic YXJpZ2F0ZS1kaXN0cmlidXRvcjpkZXJieS1zZWNyZXQ=";
const WORKED_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhcmlnYXRlLWRpc3RyaWJ1dG9yIiwiaWF0IjoxNzY3MjI1NjAwLCJleHAiOjE3NjcyMjkyMDB9.hZeMwgm6S0U7AFdmDnH8Ce5b6X1EI350LOTw7oXAUmo";

fn hdr() -> Value {
    json!({"distributorId": "ARIGATE", "version": "v4", "token": "0d6f1c9e-1b55-4c3e-9a61-2f1f0c8a7b10"})
}

async fn issue(sim: &SimHandle) -> (u16, Value) {
    let (s, _, b) = http_request(
        "POST",
        &format!("{}/oauth/token", sim.base_url()),
        &[
            ("authorization", BASIC),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        b"grant_type=client_credentials".to_vec(),
    )
    .await
    .unwrap();
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

struct T {
    sim: SimHandle,
    bearer: String,
}

impl T {
    async fn start() -> T {
        T::with(SimOptions::defaults("derbysoft")).await
    }

    async fn with(options: SimOptions) -> T {
        let sim = crate::start(options, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let (status, body) = issue(&sim).await;
        assert_eq!(status, 200, "{body}");
        let bearer = body["access_token"].as_str().unwrap().to_string();
        T { sim, bearer }
    }

    fn state(&self) -> &SimState {
        &self.sim.state
    }

    async fn raw(&self, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, Value) {
        let (s, _, b) = http_request(
            "POST",
            &format!("{}{path}", self.sim.base_url()),
            headers,
            body,
        )
        .await
        .unwrap();
        (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
    }

    async fn call(&self, path: &str, body: &Value, scenario: Option<&str>) -> (u16, Value) {
        let auth = format!("Bearer {}", self.bearer);
        let mut headers = vec![
            ("authorization", auth.as_str()),
            ("content-type", "application/json;charset=utf-8"),
        ];
        if let Some(s) = scenario {
            headers.push(("x-sim-scenario", s));
        }
        self.raw(path, &headers, body.to_string().into_bytes())
            .await
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call(path, body, None).await
    }

    async fn admin(&self, method: &str, path: &str, body: Value) -> Value {
        let (_, _, b) = http_request(
            method,
            &format!("{}{path}", self.sim.base_url()),
            &[],
            if body.is_null() {
                Vec::new()
            } else {
                body.to_string().into_bytes()
            },
        )
        .await
        .unwrap();
        serde_json::from_slice(&b).unwrap()
    }
}

/// A bookable offer of the catalog, found by scanning the inventory.
#[derive(Debug, Clone)]
struct Pick {
    hotel: String,
    room_id: String,
    room_name: String,
    rate_id: String,
    checkin: NaiveDate,
    checkout: NaiveDate,
    rooms: u32,
    /// USD per night for one room.
    nightly: Vec<Decimal>,
    allotment: u32,
}

impl Pick {
    fn total(&self) -> String {
        money(self.nightly.iter().sum::<Decimal>() * Decimal::from(self.rooms))
    }

    fn stay(&self) -> Value {
        json!({"checkin": self.checkin.to_string(), "checkout": self.checkout.to_string()})
    }

    fn criteria(&self) -> Value {
        json!({"roomCount": self.rooms, "adultCount": 2, "childCount": 0})
    }

    fn search(&self) -> Value {
        json!({"header": hdr(), "hotels": [{"hotelId": self.hotel}], "stayRange": self.stay(),
               "roomCriteria": self.criteria()})
    }

    fn availability(&self) -> Value {
        json!({"header": hdr(), "hotelId": self.hotel, "stayRange": self.stay(),
               "roomCriteria": self.criteria()})
    }

    fn prebook(&self, total: &str) -> Value {
        json!({"header": hdr(), "hotelId": self.hotel, "stayRange": self.stay(),
               "roomCriteria": self.criteria(),
               "roomRates": [{"roomId": self.room_id, "rateId": self.rate_id}],
               "total": {"amountAfterTax": total, "currency": "USD"}})
    }

    fn book(&self, dist: &str, token: &str) -> Value {
        json!({"header": hdr(), "reservationIds": {"distributorResId": dist}, "hotelId": self.hotel,
               "stayRange": self.stay(), "roomCriteria": self.criteria(),
               "contactPerson": {"firstName": "Ada", "lastName": "Lovelace", "email": "bookings@agency.example"},
               "guests": [{"firstName": "Ada", "lastName": "Lovelace", "type": "Adult", "index": 1}],
               "roomRates": [{"roomId": self.room_id, "rateId": self.rate_id}],
               "total": {"amountAfterTax": self.total(), "currency": "USD"}, "bookingToken": token})
    }
}

/// The first offer of plan `rate` for `nights` nights and `rooms` rooms of two adults, checking in
/// `from_day` days from today or later, in a hotel passing `hotel_ok`.
fn pick(
    state: &SimState,
    rate: usize,
    from_day: i64,
    nights: i64,
    rooms: u32,
    hotel_ok: impl Fn(&crate::world::WorldHotel) -> bool,
) -> Pick {
    for off in from_day..300 {
        let checkin = state.today + Duration::days(off);
        let checkout = checkin + Duration::days(nights);
        for h in &state.catalog.hotels {
            if !hotel_ok(&state.world.hotels[h.world_idx]) {
                continue;
            }
            for r in 0..h.rooms.len() {
                if let Some(q) = state.quote(h, r, rate, checkin, checkout, rooms, 2, 0) {
                    return Pick {
                        hotel: h.code.clone(),
                        room_id: h.rooms[r].code.clone(),
                        room_name: h.rooms[r].name.clone(),
                        rate_id: state.catalog.rate_plans[rate].code.clone(),
                        checkin,
                        checkout,
                        rooms,
                        nightly: q
                            .nightly
                            .iter()
                            .map(|n| state.convert(*n, "USD").unwrap())
                            .collect(),
                        allotment: q.allotment,
                    };
                }
            }
        }
    }
    panic!("no offer found");
}

fn any(_: &crate::world::WorldHotel) -> bool {
    true
}

fn rate_of<'a>(rates: &'a Value, p: &Pick) -> &'a Value {
    rates
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["roomId"] == p.room_id.as_str() && r["rateId"] == p.rate_id.as_str())
        .unwrap_or_else(|| panic!("no rate {}/{} in {rates}", p.room_id, p.rate_id))
}

fn strings(v: &[Decimal]) -> Vec<String> {
    v.iter().map(|d| money(*d)).collect()
}

const SEARCH: &str = "/shoppingengine/v4/shopping/multihotels";
const AVAIL: &str = "/bookingusb/v4/availability";
const PREBOOK: &str = "/bookingusb/v4/reservation/prebook";
const BOOK: &str = "/bookingusb/v4/reservation/book";
const DETAIL: &str = "/bookingusb/v4/reservation/detail";
const CANCEL: &str = "/bookingusb/v4/reservation/cancel";
const CONTENT: &str = "/shoppingengine/v4/hotels/content";

// ---- auth ----

#[test]
fn jwt_matches_the_worked_example() {
    assert_eq!(
        mint_jwt(SIGNING_KEY, "arigate-distributor", 1767225600, 1767229200),
        WORKED_TOKEN
    );
    let sub = "arigate-distributor";
    assert!(verify_jwt(WORKED_TOKEN, SIGNING_KEY, sub, 1767225600));
    assert!(verify_jwt(WORKED_TOKEN, SIGNING_KEY, sub, 1767229199));
    let cases: [(&str, &str, &str, i64); 6] = [
        (WORKED_TOKEN, SIGNING_KEY, sub, 1767229200),
        (WORKED_TOKEN, "another-key", sub, 1767225600),
        (WORKED_TOKEN, SIGNING_KEY, "someone-else", 1767225600),
        ("not.a.jwt", SIGNING_KEY, sub, 1767225600),
        ("", SIGNING_KEY, sub, 1767225600),
        (
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhcmlnYXRlLWRpc3RyaWJ1dG9yIiwiaWF0IjoxNzY3MjI1NjAwLCJleHAiOjE3NjcyMjkyMDB9.",
            SIGNING_KEY,
            sub,
            1767225600,
        ),
    ];
    for (token, key, sub, now) in cases {
        assert!(
            !verify_jwt(token, key, sub, now),
            "{token} {key} {sub} {now}"
        );
    }
    let tampered = WORKED_TOKEN.replace("eyJzdWIi", "eyJzdWJi");
    assert!(!verify_jwt(&tampered, SIGNING_KEY, sub, 1767225600));
}

#[tokio::test]
async fn token_endpoint_issues_bearer_jwts() {
    let mut o = SimOptions::defaults("derbysoft");
    o.token_ttl = 900;
    let sim = crate::start(o, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (status, body) = issue(&sim).await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "shop.all reservation.all");
    let token = body["access_token"].as_str().unwrap();
    let now = sim.state.now().timestamp();
    assert!(verify_jwt(token, SIGNING_KEY, "arigate-distributor", now));
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], "arigate-distributor");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert_eq!(sim.state.counters().get("token"), Some(&1));
}

/// (request headers, form body, status, answer)
type TokenCase<'a> = (&'a [(&'a str, &'a str)], &'a [u8], u16, Value);

#[tokio::test]
async fn token_endpoint_rejects_bad_clients_and_grants() {
    let t = T::start().await;
    let wrong = "Basic YXJpZ2F0ZS1kaXN0cmlidXRvcjp3cm9uZw=="; // arigate-distributor:wrong
    let cases: [TokenCase; 5] = [
        (
            &[("authorization", wrong)],
            b"grant_type=client_credentials",
            401,
            json!({"error": "Key not authorised"}),
        ),
        (
            &[],
            b"grant_type=client_credentials",
            401,
            json!({"error": "Key not authorised"}),
        ),
        (
            &[("authorization", "Bearer abc")],
            b"grant_type=client_credentials",
            401,
            json!({"error": "Key not authorised"}),
        ),
        (
            &[("authorization", BASIC)],
            b"grant_type=password",
            400,
            json!({"error": "unsupported_grant_type"}),
        ),
        (
            &[("authorization", BASIC)],
            b"",
            400,
            json!({"error": "invalid_request"}),
        ),
    ];
    for (headers, body, status, want) in cases {
        let got = t.raw("/oauth/token", headers, body.to_vec()).await;
        assert_eq!(got, (status, want), "{headers:?}");
    }
}

#[tokio::test]
async fn requests_need_a_valid_unexpired_bearer() {
    let mut o = SimOptions::defaults("derbysoft");
    o.token_ttl = 1;
    let t = T::with(o).await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let now = t.state().now().timestamp();
    let expired = mint_jwt(SIGNING_KEY, "arigate-distributor", now - 100, now - 99);
    let foreign = mint_jwt("not-our-key", "arigate-distributor", now, now + 3600);
    let other_sub = mint_jwt(SIGNING_KEY, "another-distributor", now, now + 3600);
    let cases = [
        None,
        Some("Bearer garbage".to_string()),
        Some(format!("Bearer {expired}")),
        Some(format!("Bearer {foreign}")),
        Some(format!("Bearer {other_sub}")),
        Some(BASIC.to_string()),
    ];
    for auth in cases {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = auth.as_deref() {
            headers.push(("authorization", a));
        }
        let got = t
            .raw(SEARCH, &headers, p.search().to_string().into_bytes())
            .await;
        assert_eq!(
            got,
            (401, json!({"error": "Key not authorised"})),
            "{auth:?}"
        );
    }
    // A fresh token from the same 1-second sim still works when used at once.
    let fresh = mint_jwt(SIGNING_KEY, "arigate-distributor", now, now + 60);
    let auth = format!("Bearer {fresh}");
    let (status, _) = t
        .raw(
            SEARCH,
            &[("authorization", auth.as_str())],
            p.search().to_string().into_bytes(),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn gzip_request_bodies_are_accepted() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(p.search().to_string().as_bytes()).unwrap();
    let auth = format!("Bearer {}", t.bearer);
    let (status, body) = t
        .raw(
            SEARCH,
            &[
                ("authorization", auth.as_str()),
                ("content-type", "application/json;charset=utf-8"),
                ("content-encoding", "gzip"),
            ],
            gz.finish().unwrap(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["availHotels"][0]["hotelId"], p.hotel.as_str());
    assert_eq!(body["header"], hdr());
}

// ---- validation ----

#[tokio::test]
async fn the_echo_header_is_required_and_echoed() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let cases: [(Value, &str); 4] = [
        (Value::Null, "header: is required"),
        (json!("v4"), "header: must be an object"),
        (
            json!({"distributorId": "ARIGATE", "version": "v3", "token": "t"}),
            "header.version: must be v4",
        ),
        (
            json!({"distributorId": "ARIGATE", "token": "t"}),
            "header.version: is required",
        ),
    ];
    for (header, message) in cases {
        let mut body = p.search();
        body["header"] = header.clone();
        let (status, got) = t.post(SEARCH, &body).await;
        assert_eq!(status, 400);
        assert_eq!(got["errorCode"], "InvalidField");
        assert_eq!(got["errorMessage"], message);
        let echoed = if header.is_object() {
            header
        } else {
            json!({})
        };
        assert_eq!(got["header"], echoed);
    }
    let (status, got) = t.post(SEARCH, &p.search()).await;
    assert_eq!(status, 200);
    assert_eq!(got["header"], hdr());
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let today = t.state().today;
    let day = |n: i64| (today + Duration::days(n)).to_string();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/stayRange/checkin", json!(day(-1)), "stayRange.checkin"),
        (
            "/stayRange/checkin",
            json!("2027-02-30"),
            "stayRange.checkin",
        ),
        ("/stayRange/checkin", json!(20270115), "stayRange.checkin"),
        (
            "/stayRange/checkout",
            json!(p.checkin.to_string()),
            "stayRange.checkout",
        ),
        (
            "/stayRange/checkout",
            json!((p.checkin + Duration::days(31)).to_string()),
            "stayRange.checkout",
        ),
        (
            "/stayRange",
            json!({"checkin": day(360), "checkout": day(367)}),
            "stayRange.checkout",
        ),
        (
            "/stayRange",
            json!({"checkin": day(365), "checkout": day(366)}),
            "stayRange.checkin",
        ),
        (
            "/roomCriteria/roomCount",
            json!("1"),
            "roomCriteria.roomCount",
        ),
        (
            "/roomCriteria/roomCount",
            json!(0),
            "roomCriteria.roomCount",
        ),
        (
            "/roomCriteria/adultCount",
            json!(2.5),
            "roomCriteria.adultCount",
        ),
        (
            "/roomCriteria/childCount",
            json!(1),
            "roomCriteria.childAges",
        ),
        (
            "/hotels",
            json!([{"hotelId": "pt-lis-1"}]),
            "hotels[0].hotelId",
        ),
        ("/hotels", json!([{"hotelId": 42}]), "hotels[0].hotelId"),
        ("/hotels", json!([]), "hotels"),
        ("/hotels", json!("PT-LIS-0001"), "hotels"),
        ("/roomCriteria", Value::Null, "roomCriteria"),
    ];
    for (pointer, value, field) in cases {
        let mut body = p.search();
        *body.pointer_mut(pointer).unwrap() = value.clone();
        let (status, got) = t.post(SEARCH, &body).await;
        assert_eq!(status, 400, "{pointer}={value}: {got}");
        assert_eq!(got["errorCode"], "InvalidField");
        let msg = got["errorMessage"].as_str().unwrap();
        assert!(
            msg.starts_with(&format!("{field}:")),
            "{pointer}={value}: {msg}"
        );
    }
    let (status, got) = t
        .raw(
            SEARCH,
            &[("authorization", format!("Bearer {}", t.bearer).as_str())],
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(status, 400);
    assert!(got["errorMessage"]
        .as_str()
        .unwrap()
        .starts_with("body: invalid JSON"));
}

// ---- shopping ----

#[tokio::test]
async fn search_answers_cached_usd_rates_with_fees_and_policies() {
    let t = T::start().await;
    let st = t.state();
    let p = pick(st, 0, 30, 2, 1, |w| w.stars >= 4);
    let mut body = p.search();
    body["hotels"] =
        json!([{"hotelId": p.hotel}, {"hotelId": "ZZ-NONE-0001"}, {"hotelId": p.hotel}]);
    let (status, got) = t.post(SEARCH, &body).await;
    assert_eq!(status, 200, "{got}");
    let hotels = got["availHotels"].as_array().unwrap();
    assert_eq!(hotels.len(), 1);
    assert_eq!(hotels[0]["hotelId"], p.hotel.as_str());
    let rr = rate_of(&hotels[0]["roomRates"], &p);
    let before: Vec<Decimal> = p.nightly.iter().map(|n| before_tax(*n)).collect();
    assert_eq!(
        *rr,
        json!({
            "roomId": p.room_id, "roomName": p.room_name, "rateId": "BAR-BB",
            "rateName": "Best Available, Breakfast", "currency": "USD", "inventory": p.allotment,
            "mealPlan": "BB", "amountBeforeTax": strings(&before), "amountAfterTax": strings(&p.nightly),
            "fees": [{"name": "City Tax", "type": "Exclusive", "amount": "2.00", "amountType": "Fixed",
                      "chargeType": "PerPersonPerNight"}],
            "cancelPolicy": {"code": "2D_1N", "description": "free until 2 days before arrival",
              "cancelPenalties": [{"cancellable": true, "noShow": false,
                "cancelDeadline": {"offsetTimeDropType": "BeforeArrival", "offsetTimeUnit": "D",
                                   "offsetTimeValue": 2, "dealineTime": "23:59"},
                "penaltyCharge": {"chargeBase": "NightBase", "nights": 1}}]}
        })
    );
    // USD is 1.08 × the EUR inventory, per night; before tax is after / 1.1.
    let h = st.catalog.hotel(&p.hotel).unwrap();
    let room = h.rooms.iter().position(|r| r.code == p.room_id).unwrap();
    let eur = st
        .quote(h, room, 0, p.checkin, p.checkout, 1, 2, 0)
        .unwrap();
    assert_eq!(
        p.nightly[0],
        (eur.nightly[0] * Decimal::new(108, 2)).round_dp(2)
    );
    // The non-refundable plan of the same room shares its allotment.
    let nrf = Pick {
        rate_id: "ADV-RO".into(),
        ..p.clone()
    };
    let rr = rate_of(&hotels[0]["roomRates"], &nrf);
    assert_eq!(rr["mealPlan"], "RO");
    assert_eq!(rr["rateName"], "Advance Saver, Room Only");
    assert_eq!(rr["inventory"], p.allotment);
    assert_eq!(
        rr["cancelPolicy"]["cancelPenalties"],
        json!([{"cancellable": false, "noShow": false, "penaltyCharge": {"chargeBase": "FullStay"}}])
    );
    // Three-star hotels charge no city tax.
    let p3 = pick(st, 0, 30, 2, 1, |w| w.stars == 3);
    let (_, got) = t.post(SEARCH, &p3.search()).await;
    assert_eq!(
        rate_of(&got["availHotels"][0]["roomRates"], &p3)["fees"],
        json!([])
    );
}

#[tokio::test]
async fn sold_out_rooms_leave_search_and_availability() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    t.admin(
        "POST",
        "/__sim/sellout",
        json!({"hotel": p.hotel, "room": p.room_id, "date": p.checkin.to_string()}),
    )
    .await;
    let (_, got) = t.post(AVAIL, &p.availability()).await;
    let rates = got["roomRates"].as_array().unwrap();
    assert!(
        rates.iter().all(|r| r["roomId"] != p.room_id.as_str()),
        "{got}"
    );
    let (status, got) = t.post(PREBOOK, &p.prebook(&p.total())).await;
    assert_eq!(status, 409);
    assert_eq!(got["errorCode"], "RoomRateNotAvailable");
}

// ---- the whole flow ----

#[tokio::test]
async fn full_flow_search_recheck_prebook_book_detail_cancel() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 40, 3, 2, any);
    let (status, search) = t.post(SEARCH, &p.search()).await;
    assert_eq!(status, 200);
    let cached = rate_of(&search["availHotels"][0]["roomRates"], &p).clone();
    assert_eq!(cached["amountAfterTax"], json!(strings(&p.nightly)));

    let (status, live) = t.post(AVAIL, &p.availability()).await;
    assert_eq!(status, 200, "{live}");
    assert_eq!(live["hotelId"], p.hotel.as_str());
    assert_eq!(live["stayRange"], p.stay());
    assert_eq!(live["roomCriteria"]["roomCount"], 2);
    assert_eq!(*rate_of(&live["roomRates"], &p), cached);

    let total = p.total();
    let (status, pre) = t.post(PREBOOK, &p.prebook(&total)).await;
    assert_eq!(status, 200, "{pre}");
    assert_eq!(
        pre["total"],
        json!({"amountAfterTax": total, "currency": "USD"})
    );
    assert_eq!(pre["header"], hdr());
    let token = pre["bookingToken"].as_str().unwrap();
    assert!(token.starts_with("bt-"));
    let expire: chrono::DateTime<chrono::Utc> =
        pre["expireTime"].as_str().unwrap().parse().unwrap();
    let ttl = expire - t.state().now();
    assert!(
        ttl > Duration::minutes(14) && ttl <= Duration::minutes(15),
        "{ttl}"
    );

    let (status, booked) = t.post(BOOK, &p.book("AGT-7Q2K9", token)).await;
    assert_eq!(status, 200, "{booked}");
    assert_eq!(booked["status"], "Confirmed");
    let ids = booked["reservationIds"].clone();
    assert_eq!(ids["distributorResId"], "AGT-7Q2K9");
    let derby = ids["derbyResId"].as_str().unwrap();
    let supplier = ids["supplierResId"].as_str().unwrap();
    assert!(derby.starts_with("DRB-") && supplier.starts_with("HTL-"));
    assert_eq!(
        booked["total"],
        json!({"amountAfterTax": total, "currency": "USD"})
    );

    for by in [
        json!({"derbyResId": derby}),
        json!({"supplierResId": supplier}),
        ids.clone(),
    ] {
        let (status, d) = t
            .post(DETAIL, &json!({"header": hdr(), "reservationIds": by}))
            .await;
        assert_eq!(status, 200, "{d}");
        assert_eq!(d["status"], "Confirmed");
        assert_eq!(d["reservationIds"], ids);
        assert_eq!(d["hotelId"], p.hotel.as_str());
        assert_eq!(d["stayRange"], p.stay());
        assert_eq!(d["total"]["amountAfterTax"], total.as_str());
        assert_eq!(
            d["roomRates"][0]["amountAfterTax"],
            json!(strings(&p.nightly))
        );
        assert_eq!(d["guests"][0]["lastName"], "Lovelace");
    }
    // Ids of different reservations never match together.
    let (status, d) = t
        .post(DETAIL, &json!({"header": hdr(), "reservationIds": {"derbyResId": derby, "distributorResId": "OTHER"}}))
        .await;
    assert_eq!(
        (status, d["errorCode"].clone()),
        (404, json!("ReservationNotFound"))
    );

    let (status, c) = t
        .post(CANCEL, &json!({"header": hdr(), "reservationIds": ids}))
        .await;
    assert_eq!(status, 200, "{c}");
    assert!(c["cancellationId"].as_str().unwrap().starts_with("CXL-"));
    assert_eq!(c["penalty"], json!({"amount": "0.00", "currency": "USD"}));
    let (status, again) = t
        .post(CANCEL, &json!({"header": hdr(), "reservationIds": ids}))
        .await;
    assert_eq!(status, 409);
    assert_eq!(again["errorCode"], "ReservationAlreadyCancelled");
    let (_, d) = t
        .post(
            DETAIL,
            &json!({"header": hdr(), "reservationIds": {"distributorResId": "AGT-7Q2K9"}}),
        )
        .await;
    assert_eq!(d["status"], "Cancelled");
    assert_eq!(d["cancellationId"], c["cancellationId"]);

    let bookings = t.admin("GET", "/__sim/bookings", Value::Null).await;
    assert_eq!(bookings.as_array().unwrap().len(), 1);
    assert_eq!(bookings[0]["status"], "Cancelled");
    assert_eq!(bookings[0]["reference"], derby);
    assert_eq!(bookings[0]["client_reference"], "AGT-7Q2K9");
    assert_eq!(bookings[0]["currency"], "USD");
    assert_eq!(bookings[0]["total"], total.as_str());

    let counters = t.admin("GET", "/__sim/counters", Value::Null).await;
    assert_eq!(
        counters,
        json!({"token": 1, "search": 1, "availability": 1, "prebook": 1, "book": 1, "detail": 5,
               "cancel": 2})
    );
}

#[tokio::test]
async fn book_is_idempotent_by_distributor_res_id() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let (_, pre) = t.post(PREBOOK, &p.prebook(&p.total())).await;
    let token = pre["bookingToken"].as_str().unwrap();
    let (s1, first) = t.post(BOOK, &p.book("AGT-IDEM", token)).await;
    let (s2, second) = t.post(BOOK, &p.book("AGT-IDEM", token)).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(first, second);
    // Even a bare repeat (used token, nothing else) finds the reservation.
    let bare = json!({"header": hdr(), "reservationIds": {"distributorResId": "AGT-IDEM"}});
    let (s3, third) = t.post(BOOK, &bare).await;
    assert_eq!((s3, third), (200, first.clone()));
    assert_eq!(t.state().bookings.lock().len(), 1);
    // A new distributorResId cannot reuse the token.
    let (status, got) = t.post(BOOK, &p.book("AGT-OTHER", token)).await;
    assert_eq!(status, 410);
    assert_eq!(got["errorCode"], "BookingTokenExpired");
}

#[tokio::test]
async fn prebook_checks_total_currency_hotel_and_room() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let (status, got) = t.post(PREBOOK, &p.prebook("1.00")).await;
    assert_eq!(status, 409);
    assert_eq!(got["errorCode"], "PriceChanged");
    assert_eq!(
        got["errorMessage"],
        format!(
            "total.amountAfterTax 1.00 differs from the live total {} USD",
            p.total()
        )
    );
    let mut eur = p.prebook(&p.total());
    eur["total"]["currency"] = json!("EUR");
    let (status, got) = t.post(PREBOOK, &eur).await;
    assert_eq!(
        (status, got["errorMessage"].as_str().unwrap()),
        (
            400,
            "total.currency: must be USD, the currency of the rates"
        )
    );
    let mut two = p.prebook(&p.total());
    two["roomRates"] = json!([{"roomId": p.room_id, "rateId": p.rate_id}, {"roomId": p.room_id, "rateId": p.rate_id}]);
    let (status, got) = t.post(PREBOOK, &two).await;
    assert_eq!(
        (status, got["errorCode"].clone()),
        (400, json!("InvalidField"))
    );
    let unknown_hotel = Pick {
        hotel: "ZZ-NONE-0001".into(),
        ..p.clone()
    };
    let (status, got) = t.post(PREBOOK, &unknown_hotel.prebook(&p.total())).await;
    assert_eq!(
        (status, got["errorCode"].clone()),
        (404, json!("HotelNotFound"))
    );
    let unknown_room = Pick {
        room_id: "NOPE-KNG".into(),
        ..p.clone()
    };
    let (status, got) = t.post(PREBOOK, &unknown_room.prebook(&p.total())).await;
    assert_eq!(
        (status, got["errorCode"].clone()),
        (409, json!("RoomRateNotAvailable"))
    );
    let (status, got) = t.post(PREBOOK, &p.prebook(&p.total())).await;
    assert_eq!(status, 200, "{got}");
    // Numbers are accepted for the amount too.
    let num: f64 = p.total().parse().unwrap();
    let mut numeric = p.prebook(&p.total());
    numeric["total"]["amountAfterTax"] = json!(num);
    assert_eq!(t.post(PREBOOK, &numeric).await.0, 200);
}

#[tokio::test]
async fn booking_tokens_expire_after_15_minutes() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let (_, pre) = t.post(PREBOOK, &p.prebook(&p.total())).await;
    let token = pre["bookingToken"].as_str().unwrap();
    {
        let mut kv = t.state().kv.lock();
        let entry = kv.get_mut(&token_key(token)).unwrap();
        entry.0 -= Duration::minutes(15) + Duration::seconds(1);
    }
    let (status, got) = t.post(BOOK, &p.book("AGT-LATE", token)).await;
    assert_eq!(status, 410);
    assert_eq!(got["errorCode"], "BookingTokenExpired");
    assert_eq!(got["header"], hdr());
    let (_, pre) = t.post(PREBOOK, &p.prebook(&p.total())).await;
    let token = pre["bookingToken"].as_str().unwrap();
    {
        let mut kv = t.state().kv.lock();
        kv.get_mut(&token_key(token)).unwrap().0 -= Duration::minutes(14);
    }
    assert_eq!(t.post(BOOK, &p.book("AGT-INTIME", token)).await.0, 200);
    assert!(t
        .state()
        .bookings
        .lock()
        .iter()
        .all(|b| b.client_reference != "AGT-LATE"));
}

#[tokio::test]
async fn book_must_match_its_prebook_and_the_live_price() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let (_, pre) = t.post(PREBOOK, &p.prebook(&p.total())).await;
    let token = pre["bookingToken"].as_str().unwrap();
    let longer = Pick {
        checkout: p.checkout + Duration::days(1),
        ..p.clone()
    };
    let (status, got) = t.post(BOOK, &longer.book("AGT-M1", token)).await;
    assert_eq!(status, 400);
    assert_eq!(
        got["errorMessage"],
        "stayRange: does not match the prebook of bookingToken"
    );
    let mut cheaper = p.book("AGT-M2", token);
    cheaper["total"]["amountAfterTax"] = json!("1.00");
    let (status, got) = t.post(BOOK, &cheaper).await;
    assert_eq!(
        (status, got["errorCode"].clone()),
        (409, json!("PriceChanged"))
    );
    let mut no_guest = p.book("AGT-M3", token);
    no_guest["guests"] = json!([{"firstName": "Kid", "lastName": "Lovelace", "type": "Child"}]);
    let (status, got) = t.post(BOOK, &no_guest).await;
    assert_eq!(
        (status, got["errorMessage"].as_str().unwrap()),
        (400, "guests: must include an adult")
    );
    // A reprice after prebook is caught at book; the token survives failed attempts.
    t.admin(
        "POST",
        "/__sim/reprice",
        json!({"hotel": p.hotel, "room": p.room_id, "pct": 5}),
    )
    .await;
    let (status, got) = t.post(BOOK, &p.book("AGT-M4", token)).await;
    assert_eq!(
        (status, got["errorCode"].clone()),
        (409, json!("PriceChanged"))
    );
    assert!(t.state().kv_get(&token_key(token)).is_some());
    assert!(t.state().bookings.lock().is_empty());
}

// ---- scenarios ----

#[tokio::test]
async fn price_up_raises_live_availability_and_prebook_only() {
    let t = T::start().await;
    let st = t.state();
    let p = pick(st, 0, 30, 2, 1, any);
    let h = st.catalog.hotel(&p.hotel).unwrap();
    let room = h.rooms.iter().position(|r| r.code == p.room_id).unwrap();
    let eur = st
        .quote(h, room, 0, p.checkin, p.checkout, 1, 2, 0)
        .unwrap();
    let raised: Vec<Decimal> = eur
        .nightly
        .iter()
        .map(|n| {
            st.convert((*n * Decimal::new(110, 2)).round_dp(2), "USD")
                .unwrap()
        })
        .collect();
    let up = Some("price_up:10");
    let (_, shop) = t.call(SEARCH, &p.search(), up).await;
    assert_eq!(
        rate_of(&shop["availHotels"][0]["roomRates"], &p)["amountAfterTax"],
        json!(strings(&p.nightly))
    );
    let (_, live) = t.call(AVAIL, &p.availability(), up).await;
    assert_eq!(
        rate_of(&live["roomRates"], &p)["amountAfterTax"],
        json!(strings(&raised))
    );
    assert_ne!(raised, p.nightly);
    let (status, got) = t.call(PREBOOK, &p.prebook(&p.total()), up).await;
    assert_eq!(
        (status, got["errorCode"].clone()),
        (409, json!("PriceChanged"))
    );
    let raised_total = money(raised.iter().sum::<Decimal>());
    let (status, pre) = t.call(PREBOOK, &p.prebook(&raised_total), up).await;
    assert_eq!(status, 200, "{pre}");
    let mut book = p.book("AGT-UP", pre["bookingToken"].as_str().unwrap());
    book["total"]["amountAfterTax"] = json!(raised_total);
    let (status, got) = t.call(BOOK, &book, up).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["total"]["amountAfterTax"], raised_total.as_str());
}

#[tokio::test]
async fn sold_out_at_recheck_empties_live_availability() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    t.admin(
        "POST",
        "/__sim/scenario",
        json!({"scenario": "sold_out_at_recheck", "operations": ["recheck"]}),
    )
    .await;
    let (status, shop) = t.post(SEARCH, &p.search()).await;
    assert_eq!(status, 200);
    assert!(!shop["availHotels"][0]["roomRates"]
        .as_array()
        .unwrap()
        .is_empty());
    let (status, live) = t.post(AVAIL, &p.availability()).await;
    assert_eq!(status, 200);
    assert_eq!(live["roomRates"], json!([]));
}

#[tokio::test]
async fn sold_out_at_book_fails_prebook_and_book() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let (status, got) = t
        .call(PREBOOK, &p.prebook(&p.total()), Some("sold_out_at_book"))
        .await;
    assert_eq!(
        (status, got["errorCode"].clone()),
        (409, json!("RoomRateNotAvailable"))
    );
    let (_, pre) = t.post(PREBOOK, &p.prebook(&p.total())).await;
    let token = pre["bookingToken"].as_str().unwrap();
    let (status, got) = t
        .call(BOOK, &p.book("AGT-SOLD", token), Some("sold_out_at_book"))
        .await;
    assert_eq!(
        (status, got["errorCode"].clone()),
        (409, json!("RoomRateNotAvailable"))
    );
    assert!(t.state().bookings.lock().is_empty());
}

#[tokio::test]
async fn commit_then_timeout_stores_the_booking_and_never_answers() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let (_, pre) = t.post(PREBOOK, &p.prebook(&p.total())).await;
    let token = pre["bookingToken"].as_str().unwrap();
    let hung = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        t.call(
            BOOK,
            &p.book("AGT-HANG", token),
            Some("commit_then_timeout"),
        ),
    )
    .await;
    assert!(hung.is_err(), "the book request must not be answered");
    let (status, d) = t
        .post(
            DETAIL,
            &json!({"header": hdr(), "reservationIds": {"distributorResId": "AGT-HANG"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(d["status"], "Confirmed");
    let (status, again) = t.post(BOOK, &p.book("AGT-HANG", token)).await;
    assert_eq!(status, 200);
    assert_eq!(again["reservationIds"], d["reservationIds"]);
}

#[tokio::test]
async fn failure_scenarios_answer_with_derbysoft_errors() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let cases = [
        (
            "server_error",
            500,
            json!({"header": hdr(), "errorCode": "InternalError", "errorMessage": "internal error"}),
        ),
        (
            "rate_limited",
            429,
            json!({"header": hdr(), "errorCode": "TooManyRequests", "errorMessage": "too many requests"}),
        ),
        ("auth_fail", 401, json!({"error": "Key not authorised"})),
    ];
    for (scenario, status, body) in cases {
        assert_eq!(
            t.call(SEARCH, &p.search(), Some(scenario)).await,
            (status, body),
            "{scenario}"
        );
    }
}

// ---- cancellation penalties, content, unknowns ----

#[tokio::test]
async fn cancellation_penalties_follow_the_policy() {
    let t = T::start().await;
    let st = t.state();
    // Non-refundable: the total.
    let nrf = pick(st, 1, 30, 2, 1, any);
    let (_, pre) = t.post(PREBOOK, &nrf.prebook(&nrf.total())).await;
    t.post(
        BOOK,
        &nrf.book("AGT-NRF", pre["bookingToken"].as_str().unwrap()),
    )
    .await;
    let (_, c) = t
        .post(
            CANCEL,
            &json!({"header": hdr(), "reservationIds": {"distributorResId": "AGT-NRF"}}),
        )
        .await;
    assert_eq!(
        c["penalty"],
        json!({"amount": nrf.total(), "currency": "USD"})
    );
    // Refundable, arriving tomorrow: past the deadline, so the first night of every room.
    // (A European hotel: its local date is never behind the UTC date.)
    let late = pick(st, 0, 1, 2, 2, |w| {
        w.dest().time_zone.starts_with("Europe/")
    });
    assert_eq!(late.checkin, st.today + Duration::days(1));
    let (_, pre) = t.post(PREBOOK, &late.prebook(&late.total())).await;
    let (status, _) = t
        .post(
            BOOK,
            &late.book("AGT-LATE", pre["bookingToken"].as_str().unwrap()),
        )
        .await;
    assert_eq!(status, 200);
    let (_, c) = t
        .post(
            CANCEL,
            &json!({"header": hdr(), "reservationIds": {"distributorResId": "AGT-LATE"}}),
        )
        .await;
    assert_eq!(
        c["penalty"],
        json!({"amount": money(late.nightly[0] * Decimal::from(2)), "currency": "USD"})
    );
}

#[tokio::test]
async fn content_describes_hotels_from_the_world() {
    let t = T::start().await;
    let st = t.state();
    let h = &st.catalog.hotels[3];
    let w = &st.world.hotels[h.world_idx];
    let (status, got) = t
        .post(
            CONTENT,
            &json!({"header": hdr(), "hotelIds": [h.code, "ZZ-NONE-0001"]}),
        )
        .await;
    assert_eq!(status, 200, "{got}");
    let hotels = got["hotels"].as_array().unwrap();
    assert_eq!(hotels.len(), 1);
    let c = &hotels[0];
    assert_eq!(c["hotelId"], h.code.as_str());
    assert_eq!(c["name"], w.name.as_str());
    assert_eq!(
        c["address"],
        json!({"line": w.address, "city": w.dest().city, "countryCode": w.dest().country})
    );
    assert_eq!(
        c["position"],
        json!({"latitude": w.lat, "longitude": w.lon})
    );
    assert_eq!(c["amenities"], json!(w.amenities));
    assert_eq!(c["rooms"].as_array().unwrap().len(), h.rooms.len());
    assert_eq!(
        c["rooms"][0],
        json!({"roomId": h.rooms[0].code, "roomName": h.rooms[0].name, "maxOccupancy": h.rooms[0].max_occupancy})
    );
    assert_eq!(st.counters().get("content"), Some(&1));
}

#[tokio::test]
async fn unknown_reservations_hotels_and_paths() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let (status, got) = t
        .post(
            DETAIL,
            &json!({"header": hdr(), "reservationIds": {"derbyResId": "DRB-0"}}),
        )
        .await;
    assert_eq!(
        (status, got["errorCode"].clone()),
        (404, json!("ReservationNotFound"))
    );
    let (status, got) = t
        .post(CANCEL, &json!({"header": hdr(), "reservationIds": {}}))
        .await;
    assert_eq!(
        (status, got["errorCode"].clone()),
        (400, json!("InvalidField"))
    );
    let mut body = p.availability();
    body["hotelId"] = json!("ZZ-NONE-0001");
    let (status, got) = t.post(AVAIL, &body).await;
    assert_eq!(
        (status, got["errorCode"].clone()),
        (404, json!("HotelNotFound"))
    );
    let (status, _, _) = http_request(
        "GET",
        &format!("{}{SEARCH}", t.sim.base_url()),
        &[],
        Vec::new(),
    )
    .await
    .unwrap();
    assert_eq!(status, 404);
    assert_eq!(t.state().counters().get("unknown"), Some(&1));
}

/// Every JSON pointer of a value (objects and arrays included), depth first.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{at}/{k}");
                out.push(p.clone());
                pointers(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(x, p, out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn odd_values_anywhere_get_protocol_errors_never_panics() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let ids =
        json!({"header": hdr(), "reservationIds": {"distributorResId": "X", "derbyResId": "Y"}});
    let bodies = [
        (SEARCH, p.search()),
        (AVAIL, p.availability()),
        (PREBOOK, p.prebook(&p.total())),
        (BOOK, p.book("AGT-ODD", "bt-none")),
        (DETAIL, ids.clone()),
        (CANCEL, ids),
        (CONTENT, json!({"header": hdr(), "hotelIds": [p.hotel]})),
    ];
    let odd = [
        Value::Null,
        json!(true),
        json!(-1),
        json!(1e300),
        json!("\u{0}x"),
        json!([]),
        json!({}),
        serde_json::from_str::<Value>("18446744073709551616").unwrap(),
        json!("99999999999999999999999999999999.99"),
    ];
    for (path, valid) in bodies {
        let mut at = Vec::new();
        pointers(&valid, String::new(), &mut at);
        for pointer in at {
            for value in &odd {
                let mut body = valid.clone();
                *body.pointer_mut(&pointer).unwrap() = value.clone();
                let (status, got) = t.post(path, &body).await;
                assert!(
                    matches!(status, 200 | 400 | 404 | 409 | 410),
                    "{path} {pointer}={value}: {status} {got}"
                );
                assert!(got.is_object(), "{path} {pointer}={value}: {got}");
            }
        }
    }
}
