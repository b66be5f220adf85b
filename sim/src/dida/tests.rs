//! End-to-end tests of the `dida` simulator over HTTP on `127.0.0.1:0`.

use super::auth::{nonce_key, verify_oauth1};
use super::rates::reference_key;
use super::*;
use crate::server::http_request;
use crate::world::WorldHotel;
use crate::{SimHandle, SimOptions};
use chrono::{Duration, TimeZone, Utc};

const CREDS: &str = "DidaApiTestID";
const KEY: &str = "TestKey";

fn header() -> Value {
    json!({"ClientID": CREDS, "LicenseKey": KEY})
}

struct T {
    sim: SimHandle,
}

type Answer = (u16, Vec<(String, String)>, Value);

impl T {
    async fn start() -> T {
        T::with(SimAuth::Native).await
    }

    async fn with(auth: SimAuth) -> T {
        let options = SimOptions {
            auth,
            ..SimOptions::defaults("dida")
        };
        T {
            sim: crate::start(options, "127.0.0.1:0".parse().unwrap())
                .await
                .unwrap(),
        }
    }

    fn state(&self) -> &SimState {
        &self.sim.state
    }

    async fn raw(&self, path_and_query: &str, headers: &[(&str, &str)], body: &Value) -> Answer {
        let mut h = vec![("content-type", "application/json")];
        h.extend_from_slice(headers);
        let (s, hs, b) = http_request(
            "POST",
            &format!("{}{path_and_query}", self.sim.base_url()),
            &h,
            body.to_string().into_bytes(),
        )
        .await
        .unwrap();
        (s, hs, serde_json::from_slice(&b).unwrap_or(Value::Null))
    }

    async fn call(&self, path: &str, body: &Value, scenario: Option<&str>) -> (u16, Value) {
        let headers: Vec<(&str, &str)> = scenario
            .map(|s| ("x-sim-scenario", s))
            .into_iter()
            .collect();
        let (s, _, b) = self
            .raw(&format!("{path}?$format=json"), &headers, body)
            .await;
        (s, b)
    }

    async fn post(&self, path: &str, body: &Value) -> Value {
        let (status, b) = self.call(path, body, None).await;
        assert_eq!(status, 200, "{b}");
        b
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

fn error(code: &str, message: &str) -> Value {
    json!({"Success": false, "Error": {"Code": code, "Message": message}})
}

/// Asserts a 200 Success:false with this code whose message starts with `prefix`.
fn assert_code(got: &Value, code: &str, prefix: &str) {
    assert_eq!(got["Success"], false, "{got}");
    assert_eq!(got["Error"]["Code"], code, "{got}");
    let msg = got["Error"]["Message"].as_str().unwrap();
    assert!(
        msg.starts_with(prefix),
        "{msg} does not start with {prefix}"
    );
}

#[derive(Debug, Clone)]
struct Pick {
    hotel: u64,
    hotel_name: String,
    room: usize,
    rate_plan_id: String,
    room_type_id: u64,
    room_name: String,
    checkin: NaiveDate,
    checkout: NaiveDate,
    rooms: u32,
    /// EUR per night for one room.
    nightly: Vec<Decimal>,
    allotment: u32,
    time_zone: &'static str,
}

impl Pick {
    fn converted(&self, st: &SimState, currency: &str) -> Vec<Decimal> {
        self.nightly
            .iter()
            .map(|n| st.convert(*n, currency).unwrap())
            .collect()
    }

    fn search(&self, currency: &str) -> Value {
        json!({"Header": header(), "CheckInDate": self.checkin.to_string(),
               "CheckOutDate": self.checkout.to_string(), "Currency": currency, "Nationality": "FR",
               "HotelIDList": [self.hotel], "IsRealTime": {"Value": false},
               "RealTimeOccupancy": {"AdultCount": 2, "ChildCount": 0, "ChildAgeDetails": [],
                                     "RoomCount": self.rooms}})
    }

    fn confirm(&self, currency: &str) -> Value {
        json!({"Header": header(), "PreBook": true, "CheckInDate": self.checkin.to_string(),
               "CheckOutDate": self.checkout.to_string(), "NumOfRooms": self.rooms,
               "HotelID": self.hotel,
               "OccupancyDetails": [{"RoomNum": 1, "AdultCount": 2, "ChildCount": 0, "ChildAgeDetails": []}],
               "Currency": currency, "Nationality": "FR", "RatePlanID": self.rate_plan_id,
               "IsNeedOnRequest": false})
    }

    fn book(&self, reference: &str, client_ref: &str) -> Value {
        let guests: Vec<Value> = (1..=self.rooms)
            .map(|n| json!({"RoomNum": n, "GuestInfo": [{"Name": {"First": "Ada", "Last": format!("Lovelace{n}")}, "IsAdult": true}]}))
            .collect();
        json!({"Header": header(), "ReferenceNo": reference, "ClientReference": client_ref,
               "CheckInDate": self.checkin.to_string(), "CheckOutDate": self.checkout.to_string(),
               "NumOfRooms": self.rooms, "GuestList": guests,
               "Contact": {"Name": {"First": "Ada", "Last": "Lovelace"},
                           "Email": "bookings@agency.example", "Phone": "+33155501234"}})
    }
}

fn pick(
    st: &SimState,
    rate: usize,
    from_day: i64,
    nights: i64,
    rooms: u32,
    hotel_ok: impl Fn(&WorldHotel) -> bool,
) -> Pick {
    for off in from_day..300 {
        let checkin = st.today + Duration::days(off);
        let checkout = checkin + Duration::days(nights);
        for h in &st.catalog.hotels {
            let w = &st.world.hotels[h.world_idx];
            if !hotel_ok(w) {
                continue;
            }
            for r in 0..h.rooms.len() {
                if let Some(q) = st.quote(h, r, rate, checkin, checkout, rooms, 2, 0) {
                    return Pick {
                        hotel: h.code.parse().unwrap(),
                        hotel_name: h.name.clone(),
                        room: r,
                        rate_plan_id: rates::rate_plan_id(st, r, rate),
                        room_type_id: h.rooms[r].code.parse().unwrap(),
                        room_name: h.rooms[r].name.clone(),
                        checkin,
                        checkout,
                        rooms,
                        nightly: q.nightly,
                        allotment: q.allotment,
                        time_zone: w.dest().time_zone,
                    };
                }
            }
        }
    }
    panic!("no offer found");
}

fn any(_: &WorldHotel) -> bool {
    true
}

fn plan_of<'a>(got: &'a Value, p: &Pick) -> &'a Value {
    got["Success"]["PriceDetails"]["HotelList"][0]["RatePlanList"]
        .as_array()
        .unwrap_or_else(|| panic!("no rate plans in {got}"))
        .iter()
        .find(|r| r["RatePlanID"] == p.rate_plan_id.as_str())
        .unwrap_or_else(|| panic!("no rate plan {} in {got}", p.rate_plan_id))
}

fn sum(v: &[Decimal]) -> Decimal {
    v.iter().sum()
}

const SEARCH: &str = "/api/rate/PriceSearch";
const CONFIRM: &str = "/api/rate/PriceConfirm";
const BOOK: &str = "/api/booking/HotelBookingConfirm";
const FIND: &str = "/api/booking/HotelBookingSearch";
const CANCEL: &str = "/api/booking/HotelBookingCancel";
const DETAIL: &str = "/api/static/HotelDetail";

// ---- auth ----

const WORKED_BASE: &str = "POST&http%3A%2F%2F127.0.0.1%3A9105%2Fapi%2Frate%2FPriceSearch&%2524format%3Djson%26oauth_consumer_key%3Ddida-consumer%26oauth_nonce%3Dn0nce42%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1767225600%26oauth_version%3D1.0";

fn worked_params() -> Vec<(String, String)> {
    [
        ("$format", "json"),
        ("oauth_consumer_key", "dida-consumer"),
        ("oauth_nonce", "n0nce42"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "1767225600"),
        ("oauth_version", "1.0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

const WORKED_HEADER: &str = "OAuth oauth_consumer_key=\"dida-consumer\", oauth_nonce=\"n0nce42\", oauth_signature=\"5m9dC3XWhYe9F28biTPc8f%2B4RAU%3D\", oauth_signature_method=\"HMAC-SHA1\", oauth_timestamp=\"1767225600\", oauth_version=\"1.0\"";

#[test]
fn oauth1_matches_the_worked_example() {
    let base = oauth1_base_string(
        "POST",
        "http://127.0.0.1:9105/api/rate/PriceSearch",
        &worked_params(),
    );
    assert_eq!(base, WORKED_BASE);
    let sig = oauth1_signature(&base, "consumer-secret");
    assert_eq!(sig, "5m9dC3XWhYe9F28biTPc8f+4RAU=");
    assert_eq!(pct(&sig), "5m9dC3XWhYe9F28biTPc8f%2B4RAU%3D");
}

/// (method, host, path, query, Authorization, consumer key, secret, now, rejection)
type VerifyCase<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a [(String, String)],
    &'a str,
    &'a str,
    &'a str,
    i64,
    &'a str,
);

#[test]
fn oauth1_verifier_accepts_the_worked_example_and_nothing_else() {
    let query = vec![("$format".to_string(), "json".to_string())];
    let at = |s: i64| Utc.timestamp_opt(s, 0).unwrap();
    let verify =
        |method: &str,
         host: &str,
         path: &str,
         q: &[(String, String)],
         h: &str,
         key: &str,
         secret: &str,
         now: i64| { verify_oauth1(method, host, path, q, Some(h), key, secret, at(now)) };
    let ok = verify(
        "POST",
        "127.0.0.1:9105",
        "/api/rate/PriceSearch",
        &query,
        WORKED_HEADER,
        "dida-consumer",
        "consumer-secret",
        1767225600,
    );
    assert_eq!(ok.unwrap().nonce, "n0nce42");
    // ±300 s of skew are fine, 301 s are not.
    assert!(verify(
        "POST",
        "127.0.0.1:9105",
        "/api/rate/PriceSearch",
        &query,
        WORKED_HEADER,
        "dida-consumer",
        "consumer-secret",
        1767225900
    )
    .is_ok());
    assert!(verify(
        "POST",
        "127.0.0.1:9105",
        "/api/rate/PriceSearch",
        &query,
        WORKED_HEADER,
        "dida-consumer",
        "consumer-secret",
        1767225299
    )
    .is_err());
    let xml = vec![("$format".to_string(), "xml".to_string())];
    let plaintext = WORKED_HEADER.replace("HMAC-SHA1", "PLAINTEXT");
    let cases: [VerifyCase; 8] = [
        (
            "POST",
            "127.0.0.1:9105",
            "/api/rate/PriceSearch",
            &query,
            WORKED_HEADER,
            "dida-consumer",
            "consumer-secret",
            1767225901,
            "timestamp outside the accepted window",
        ),
        (
            "POST",
            "127.0.0.1:9105",
            "/api/rate/PriceSearch",
            &query,
            WORKED_HEADER,
            "dida-consumer",
            "other-secret",
            1767225600,
            "signature mismatch",
        ),
        (
            "POST",
            "127.0.0.1:9105",
            "/api/rate/PriceSearch",
            &query,
            WORKED_HEADER,
            "other-consumer",
            "consumer-secret",
            1767225600,
            "unknown consumer key",
        ),
        (
            "POST",
            "127.0.0.1:9106",
            "/api/rate/PriceSearch",
            &query,
            WORKED_HEADER,
            "dida-consumer",
            "consumer-secret",
            1767225600,
            "signature mismatch",
        ),
        (
            "GET",
            "127.0.0.1:9105",
            "/api/rate/PriceSearch",
            &query,
            WORKED_HEADER,
            "dida-consumer",
            "consumer-secret",
            1767225600,
            "signature mismatch",
        ),
        (
            "POST",
            "127.0.0.1:9105",
            "/api/rate/PriceConfirm",
            &query,
            WORKED_HEADER,
            "dida-consumer",
            "consumer-secret",
            1767225600,
            "signature mismatch",
        ),
        (
            "POST",
            "127.0.0.1:9105",
            "/api/rate/PriceSearch",
            &xml,
            WORKED_HEADER,
            "dida-consumer",
            "consumer-secret",
            1767225600,
            "signature mismatch",
        ),
        (
            "POST",
            "127.0.0.1:9105",
            "/api/rate/PriceSearch",
            &query,
            &plaintext,
            "dida-consumer",
            "consumer-secret",
            1767225600,
            "signature method must be HMAC-SHA1",
        ),
    ];
    for (method, host, path, q, h, key, secret, now, why) in cases {
        assert_eq!(
            verify(method, host, path, q, h, key, secret, now),
            Err(why),
            "{method} {host}{path} {key} {now}"
        );
    }
    assert!(verify_oauth1(
        "POST",
        "127.0.0.1:9105",
        "/api/rate/PriceSearch",
        &query,
        None,
        "dida-consumer",
        "consumer-secret",
        at(1767225600)
    )
    .is_err());
    assert!(verify_oauth1(
        "POST",
        "127.0.0.1:9105",
        "/api/rate/PriceSearch",
        &query,
        Some("Basic abc"),
        "dida-consumer",
        "consumer-secret",
        at(1767225600)
    )
    .is_err());
}

/// A signed `Authorization: OAuth …` header for a request to `path?$format=json` of `sim`.
fn oauth_header(sim: &SimHandle, path: &str, secret: &str, nonce: &str, ts: i64) -> String {
    let mut params = vec![("$format".to_string(), "json".to_string())];
    let ts = ts.to_string();
    for (k, v) in [
        ("oauth_consumer_key", CREDS),
        ("oauth_nonce", nonce),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", ts.as_str()),
        ("oauth_version", "1.0"),
    ] {
        params.push((k.to_string(), v.to_string()));
    }
    let base = oauth1_base_string("POST", &format!("http://{}{path}", sim.addr), &params);
    let sig = oauth1_signature(&base, secret);
    format!(
        "OAuth oauth_consumer_key=\"{CREDS}\", oauth_nonce=\"{}\", oauth_signature=\"{}\", oauth_signature_method=\"HMAC-SHA1\", oauth_timestamp=\"{ts}\", oauth_version=\"1.0\"",
        pct(nonce),
        pct(&sig)
    )
}

#[tokio::test]
async fn native_auth_reads_the_body_header() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let got = t.post(SEARCH, &p.search("EUR")).await;
    assert!(got["Success"].is_object(), "{got}");
    for creds in [
        json!({"ClientID": CREDS, "LicenseKey": "wrong"}),
        json!({"ClientID": "x", "LicenseKey": KEY}),
        Value::Null,
    ] {
        let mut body = p.search("EUR");
        body["Header"] = creds;
        assert_eq!(
            t.post(SEARCH, &body).await,
            error("4001", "Invalid ClientID or LicenseKey")
        );
    }
}

#[tokio::test]
async fn basic_auth_replaces_the_body_header() {
    let t = T::with(SimAuth::Basic).await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let mut body = p.search("EUR");
    body.as_object_mut().unwrap().remove("Header");
    let path = format!("{SEARCH}?$format=json");
    let (status, _, got) = t
        .raw(
            &path,
            &[("authorization", "Basic RGlkYUFwaVRlc3RJRDpUZXN0S2V5")],
            &body,
        )
        .await;
    assert_eq!(status, 200);
    assert!(got["Success"].is_object(), "{got}");
    // DidaApiTestID:wrong, then nothing at all.
    for auth in [Some("Basic RGlkYUFwaVRlc3RJRDp3cm9uZw=="), None] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let (status, hs, got) = t.raw(&path, &headers, &p.search("EUR")).await;
        assert_eq!(status, 401);
        assert!(
            hs.iter()
                .any(|(k, v)| k == "www-authenticate" && v == "Basic realm=\"dida\""),
            "{hs:?}"
        );
        assert_eq!(got, error("4001", "Invalid credentials"));
    }
}

#[tokio::test]
async fn oauth1_auth_verifies_signatures_and_rejects_replays() {
    let t = T::with(SimAuth::Oauth1).await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let path = format!("{SEARCH}?$format=json");
    let now = t.state().now().timestamp();
    let denied = error("4001", "OAuth signature invalid");
    let signed = oauth_header(&t.sim, SEARCH, KEY, "nonce-1", now);
    let (status, _, got) = t
        .raw(
            &path,
            &[("authorization", signed.as_str())],
            &p.search("EUR"),
        )
        .await;
    assert_eq!(status, 200, "{got}");
    assert!(got["Success"].is_object());
    // The same nonce again is a replay.
    let (status, hs, got) = t
        .raw(
            &path,
            &[("authorization", signed.as_str())],
            &p.search("EUR"),
        )
        .await;
    assert_eq!((status, got), (401, denied.clone()));
    assert!(hs
        .iter()
        .any(|(k, v)| k == "www-authenticate" && v == "OAuth realm=\"dida\""));
    let cases = [
        oauth_header(&t.sim, SEARCH, "wrong-secret", "nonce-2", now),
        oauth_header(&t.sim, SEARCH, KEY, "nonce-3", now - 301),
        oauth_header(&t.sim, CONFIRM, KEY, "nonce-4", now),
        String::new(),
    ];
    for h in cases {
        let headers: Vec<(&str, &str)> = if h.is_empty() {
            vec![]
        } else {
            vec![("authorization", h.as_str())]
        };
        let (status, _, got) = t.raw(&path, &headers, &p.search("EUR")).await;
        assert_eq!((status, got), (401, denied.clone()), "{h}");
    }
    // A nonce older than ten minutes may come back.
    t.state()
        .kv
        .lock()
        .get_mut(&nonce_key("nonce-1"))
        .unwrap()
        .0 -= Duration::minutes(10);
    let again = oauth_header(&t.sim, SEARCH, KEY, "nonce-1", now);
    let (status, _, _) = t
        .raw(
            &path,
            &[("authorization", again.as_str())],
            &p.search("EUR"),
        )
        .await;
    assert_eq!(status, 200);
    // The scenario auth_fail answers as OAuth does.
    let fresh = oauth_header(&t.sim, SEARCH, KEY, "nonce-5", now);
    let (status, _, got) = t
        .raw(
            &path,
            &[
                ("authorization", fresh.as_str()),
                ("x-sim-scenario", "auth_fail"),
            ],
            &p.search("EUR"),
        )
        .await;
    assert_eq!((status, got), (401, denied));
}

#[tokio::test]
async fn the_json_format_query_is_required() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    for path in [SEARCH.to_string(), format!("{SEARCH}?$format=xml")] {
        let (status, _, got) = t.raw(&path, &[], &p.search("EUR")).await;
        assert_eq!(status, 200);
        assert_code(&got, "1001", "$format:");
    }
    let (_, _, got) = t
        .raw(&format!("{SEARCH}?%24format=json"), &[], &p.search("EUR"))
        .await;
    assert!(got["Success"].is_object());
}

// ---- search ----

#[tokio::test]
async fn price_search_answers_one_room_for_the_whole_stay() {
    let t = T::start().await;
    let st = t.state();
    let p = pick(st, 0, 30, 2, 2, any);
    let got = t.post(SEARCH, &p.search("EUR")).await;
    let details = &got["Success"]["PriceDetails"];
    assert_eq!(details["CheckInDate"], p.checkin.to_string());
    assert_eq!(details["CheckOutDate"], p.checkout.to_string());
    let hotel = &details["HotelList"][0];
    assert_eq!(hotel["HotelID"], p.hotel);
    assert_eq!(hotel["HotelName"], p.hotel_name.as_str());
    let wroom =
        &st.world.hotels[st.catalog.hotel(&p.hotel.to_string()).unwrap().world_idx].rooms[p.room];
    let bed = format!("{:?}", wroom.bed);
    let first = p.nightly[0];
    assert_eq!(
        *plan_of(&got, &p),
        json!({
            "RatePlanID": p.rate_plan_id, "RatePlanName": format!("{} - Breakfast", p.room_name),
            "RoomTypeID": p.room_type_id, "RoomName": p.room_name, "BedType": bed,
            "BreakfastType": 2, "TotalPrice": num(sum(&p.nightly)), "Currency": "EUR",
            "PriceList": [{"StayDate": p.checkin.to_string(), "Price": num(p.nightly[0])},
                          {"StayDate": (p.checkin + Duration::days(1)).to_string(), "Price": num(p.nightly[1])}],
            "InventoryCount": p.allotment, "IsOnRequest": false,
            "RatePlanCancellationPolicyList": [{
                "FromDate": format!("{}T00:00:00", p.checkin - Duration::days(2)), "Amount": num(first)}],
        })
    );
    // The room's first rate plan id is the spec's when the room is the hotel's first.
    let base: u64 = "1494507509528725623".parse().unwrap();
    assert_eq!(p.rate_plan_id, (base + 100 * p.room as u64).to_string());
    // Non-refundable: no breakfast, everything charged from today (hotel-local).
    let nrf = Pick {
        rate_plan_id: rates::rate_plan_id(st, p.room, 1),
        ..p.clone()
    };
    let plan = plan_of(&got, &nrf);
    assert_eq!(plan["BreakfastType"], 1);
    assert_eq!(
        plan["RatePlanName"],
        format!("{} - Room Only Non-Refundable", p.room_name)
    );
    let local_today = tz::local_now(p.time_zone, st.now()).date();
    assert_eq!(
        plan["RatePlanCancellationPolicyList"],
        json!([{"FromDate": format!("{local_today}T00:00:00"), "Amount": plan["TotalPrice"]}])
    );
    let lowest = hotel["RatePlanList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["TotalPrice"].as_f64().unwrap())
        .fold(f64::MAX, f64::min);
    assert_eq!(
        hotel["LowestPrice"],
        json!({"Value": lowest, "Currency": "EUR"})
    );
    // Other currencies are converted per night.
    let usd = p.converted(st, "USD");
    let got = t.post(SEARCH, &p.search("USD")).await;
    let plan = plan_of(&got, &p);
    assert_eq!(plan["Currency"], "USD");
    assert_eq!(plan["TotalPrice"], num(sum(&usd)));
    assert_eq!(plan["PriceList"][1]["Price"], num(usd[1]));
}

#[tokio::test]
async fn price_search_validates_fields_with_1001() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let today = t.state().today;
    let day = |n: i64| json!((today + Duration::days(n)).to_string());
    let many: Vec<u64> = (0..51).map(|i| 500_000 + i).collect();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/CheckInDate", day(-1), "CheckInDate: is in the past"),
        (
            "/CheckInDate",
            json!("15/01/2027"),
            "CheckInDate: must be a date",
        ),
        (
            "/CheckOutDate",
            json!(p.checkin.to_string()),
            "CheckOutDate: must be after",
        ),
        (
            "/CheckOutDate",
            json!((p.checkin + Duration::days(31)).to_string()),
            "CheckOutDate: stays are limited",
        ),
        ("/CheckInDate", day(365), "CheckInDate: is beyond"),
        ("/Currency", json!("JPY"), "Currency: is not supported"),
        ("/Currency", Value::Null, "Currency: is required"),
        ("/Nationality", json!("FRA"), "Nationality:"),
        ("/HotelIDList", json!(many), "HotelIDList: must hold 1..50"),
        ("/HotelIDList", json!([]), "HotelIDList: must hold 1..50"),
        (
            "/HotelIDList",
            json!(["500042"]),
            "HotelIDList[0]: must be an integer",
        ),
        (
            "/RealTimeOccupancy/AdultCount",
            json!(0),
            "RealTimeOccupancy.AdultCount: must be 1..8",
        ),
        (
            "/RealTimeOccupancy/AdultCount",
            json!("2"),
            "RealTimeOccupancy.AdultCount: must be a non-negative integer",
        ),
        (
            "/RealTimeOccupancy/ChildCount",
            json!(1),
            "RealTimeOccupancy.ChildAgeDetails: must give one age",
        ),
        (
            "/RealTimeOccupancy/RoomCount",
            json!(10),
            "RealTimeOccupancy.RoomCount: must be 1..9",
        ),
        (
            "/RealTimeOccupancy",
            json!([2]),
            "RealTimeOccupancy: must be an object",
        ),
        ("/IsRealTime", json!(false), "IsRealTime: must be an object"),
    ];
    for (pointer, value, prefix) in cases {
        let mut body = p.search("EUR");
        *body.pointer_mut(pointer).unwrap() = value.clone();
        let got = t.post(SEARCH, &body).await;
        assert_code(&got, "1001", prefix);
    }
    let mut body = p.search("EUR");
    body["HotelIDList"] = json!([1]);
    let got = t.post(SEARCH, &body).await;
    assert_eq!(got["Success"]["PriceDetails"]["HotelList"], json!([]));
    let (_, _, got) = t
        .raw(&format!("{SEARCH}?$format=json"), &[], &json!("[]"))
        .await;
    assert_code(&got, "1001", "body:");
}

// ---- the whole flow ----

#[tokio::test]
async fn full_flow_search_confirm_book_find_and_two_step_cancel() {
    let t = T::start().await;
    let st = t.state();
    let p = pick(st, 0, 40, 3, 2, any);
    let gbp = p.converted(st, "GBP");
    let per_room = sum(&gbp);
    let found = t.post(SEARCH, &p.search("GBP")).await;
    assert_eq!(plan_of(&found, &p)["TotalPrice"], num(per_room));

    let confirmed = t.post(CONFIRM, &p.confirm("GBP")).await;
    let plan = plan_of(&confirmed, &p);
    let all_rooms = per_room * Decimal::from(2);
    assert_eq!(plan["TotalPrice"], num(all_rooms));
    assert_eq!(
        plan["PriceList"][0]["Price"],
        num(gbp[0] * Decimal::from(2))
    );
    assert_eq!(
        plan["RatePlanCancellationPolicyList"][0]["Amount"],
        num(gbp[0] * Decimal::from(2))
    );
    let reference = confirmed["Success"]["ReferenceNo"].as_str().unwrap();
    assert!(reference.starts_with("DIDA-RF-"));

    let booked = t.post(BOOK, &p.book(reference, "AGT-7Q2K9")).await;
    let details = booked["Success"]["BookingDetails"].clone();
    let id = details["BookingID"].as_str().unwrap().to_string();
    assert!(id.starts_with("DD-"));
    assert_eq!(details["ClientReference"], "AGT-7Q2K9");
    assert_eq!(details["Status"], 2);
    assert_eq!(details["TotalPrice"], num(all_rooms));
    assert_eq!(details["Currency"], "GBP");
    assert_eq!(details["HotelID"], p.hotel);
    assert_eq!(details["NumOfRooms"], 2);
    assert!(details["HotelConfirmationNo"]
        .as_str()
        .unwrap()
        .contains('-'));

    for by in [
        json!({"BookingID": id}),
        json!({"ClientReference": "AGT-7Q2K9"}),
    ] {
        let got = t
            .post(FIND, &json!({"Header": header(), "SearchBy": by}))
            .await;
        assert_eq!(got["Success"]["BookingDetailsList"], json!([details]));
    }

    let quote = t
        .post(
            CANCEL,
            &json!({"Header": header(), "BookingID": id, "ConfirmID": ""}),
        )
        .await;
    let confirm_id = quote["Success"]["ConfirmID"].as_str().unwrap();
    assert!(confirm_id.starts_with("CF-"));
    assert_eq!(
        quote["Success"]["Penalty"],
        json!({"Value": 0.0, "Currency": "GBP"})
    );
    let still = t
        .post(
            FIND,
            &json!({"Header": header(), "SearchBy": {"BookingID": id}}),
        )
        .await;
    assert_eq!(still["Success"]["BookingDetailsList"][0]["Status"], 2);

    let done = t
        .post(
            CANCEL,
            &json!({"Header": header(), "BookingID": id, "ConfirmID": confirm_id}),
        )
        .await;
    assert_eq!(
        done,
        json!({"Success": {"BookingID": id, "Status": 3, "Penalty": {"Value": 0.0, "Currency": "GBP"}}})
    );
    let after = t
        .post(
            FIND,
            &json!({"Header": header(), "SearchBy": {"ClientReference": "AGT-7Q2K9"}}),
        )
        .await;
    assert_eq!(after["Success"]["BookingDetailsList"][0]["Status"], 3);
    // Cancelling again answers the final state.
    let again = t
        .post(
            CANCEL,
            &json!({"Header": header(), "BookingID": id, "ConfirmID": ""}),
        )
        .await;
    assert_eq!(again, done);

    let bookings = t.admin("GET", "/__sim/bookings", Value::Null).await;
    assert_eq!(bookings.as_array().unwrap().len(), 1);
    assert_eq!(bookings[0]["status"], "3");
    assert_eq!(bookings[0]["reference"], id.as_str());
    assert_eq!(
        bookings[0]["guests"],
        json!(["Ada Lovelace1", "Ada Lovelace2"])
    );
    let counters = t.admin("GET", "/__sim/counters", Value::Null).await;
    assert_eq!(
        counters,
        json!({"PriceSearch": 1, "PriceConfirm": 1, "HotelBookingConfirm": 1, "HotelBookingSearch": 4,
               "HotelBookingCancel": 3})
    );
}

#[tokio::test]
async fn client_reference_makes_booking_idempotent_and_references_single_use() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let reference = t.post(CONFIRM, &p.confirm("EUR")).await["Success"]["ReferenceNo"]
        .as_str()
        .unwrap()
        .to_string();
    let first = t.post(BOOK, &p.book(&reference, "AGT-IDEM")).await;
    let second = t.post(BOOK, &p.book(&reference, "AGT-IDEM")).await;
    assert_eq!(first, second);
    assert_eq!(first["Success"]["BookingDetails"]["Status"], 2);
    assert_eq!(t.state().bookings.lock().len(), 1);
    let other = t.post(BOOK, &p.book(&reference, "AGT-OTHER")).await;
    assert_eq!(other, error("3003", "ReferenceNo expired or already used"));
}

#[tokio::test]
async fn reference_numbers_expire_after_30_minutes() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let age = |reference: &str, by: Duration| {
        t.state()
            .kv
            .lock()
            .get_mut(&reference_key(reference))
            .unwrap()
            .0 -= by;
    };
    let old = t.post(CONFIRM, &p.confirm("EUR")).await["Success"]["ReferenceNo"]
        .as_str()
        .unwrap()
        .to_string();
    age(&old, Duration::minutes(30) + Duration::seconds(1));
    assert_eq!(
        t.post(BOOK, &p.book(&old, "AGT-OLD")).await,
        error("3003", "ReferenceNo expired or already used")
    );
    let recent = t.post(CONFIRM, &p.confirm("EUR")).await["Success"]["ReferenceNo"]
        .as_str()
        .unwrap()
        .to_string();
    age(&recent, Duration::minutes(29));
    assert_eq!(
        t.post(BOOK, &p.book(&recent, "AGT-NEW")).await["Success"]["BookingDetails"]["Status"],
        2
    );
    // Without PreBook there is no ReferenceNo.
    let mut plain = p.confirm("EUR");
    plain["PreBook"] = json!(false);
    let got = t.post(CONFIRM, &plain).await;
    assert!(got["Success"]["PriceDetails"].is_object());
    assert!(got["Success"].get("ReferenceNo").is_none());
}

#[tokio::test]
async fn booking_must_match_its_price_confirm() {
    let t = T::start().await;
    let st = t.state();
    let p = pick(st, 0, 30, 2, 1, any);
    let reference = t.post(CONFIRM, &p.confirm("EUR")).await["Success"]["ReferenceNo"]
        .as_str()
        .unwrap()
        .to_string();
    let longer = Pick {
        checkout: p.checkout + Duration::days(1),
        ..p.clone()
    };
    let mismatch = error(
        "2001",
        "CheckInDate, CheckOutDate and NumOfRooms must match the PriceConfirm",
    );
    assert_eq!(
        t.post(BOOK, &longer.book(&reference, "AGT-M1")).await,
        mismatch
    );
    let two = Pick {
        rooms: 2,
        ..p.clone()
    };
    assert_eq!(
        t.post(BOOK, &two.book(&reference, "AGT-M2")).await,
        mismatch
    );
    let mut no_adult = p.book(&reference, "AGT-M3");
    no_adult["GuestList"][0]["GuestInfo"][0]["IsAdult"] = json!(false);
    assert_code(
        &t.post(BOOK, &no_adult).await,
        "1001",
        "GuestList[0].GuestInfo: every room needs an adult",
    );
    let mut missing_room = p.book(&reference, "AGT-M4");
    missing_room["GuestList"] = json!([]);
    assert_code(
        &t.post(BOOK, &missing_room).await,
        "1001",
        "GuestList: every room",
    );
    // A reprice after PriceConfirm is a price change at booking.
    t.admin(
        "POST",
        "/__sim/reprice",
        json!({"hotel": p.hotel.to_string(), "pct": 5}),
    )
    .await;
    assert_code(
        &t.post(BOOK, &p.book(&reference, "AGT-M5")).await,
        "2009",
        "Price changed",
    );
    assert!(st.bookings.lock().is_empty());
    // Unknown hotels and rate plans are request errors.
    let mut body = p.confirm("EUR");
    body["HotelID"] = json!(1);
    assert_code(
        &t.post(CONFIRM, &body).await,
        "1001",
        "HotelID: unknown hotel",
    );
    body = p.confirm("EUR");
    body["RatePlanID"] = json!("1494507509528725699");
    assert_code(&t.post(CONFIRM, &body).await, "1001", "RatePlanID:");
    body = p.confirm("EUR");
    body["OccupancyDetails"] =
        json!([{"RoomNum": 1, "AdultCount": 2}, {"RoomNum": 2, "AdultCount": 1}]);
    body["NumOfRooms"] = json!(2);
    assert_code(
        &t.post(CONFIRM, &body).await,
        "1001",
        "OccupancyDetails: every room must have the same occupancy",
    );
}

// ---- scenarios ----

#[tokio::test]
async fn price_up_raises_the_price_confirm_only() {
    let t = T::start().await;
    let st = t.state();
    let p = pick(st, 0, 30, 2, 1, any);
    let raised: Vec<Decimal> = p
        .nightly
        .iter()
        .map(|n| (*n * Decimal::new(110, 2)).round_dp(2))
        .collect();
    let up = Some("price_up:10");
    let (_, found) = t.call(SEARCH, &p.search("EUR"), up).await;
    assert_eq!(plan_of(&found, &p)["TotalPrice"], num(sum(&p.nightly)));
    let (_, confirmed) = t.call(CONFIRM, &p.confirm("EUR"), up).await;
    assert_eq!(plan_of(&confirmed, &p)["TotalPrice"], num(sum(&raised)));
    let reference = confirmed["Success"]["ReferenceNo"].as_str().unwrap();
    let (_, booked) = t.call(BOOK, &p.book(reference, "AGT-UP"), up).await;
    assert_eq!(
        booked["Success"]["BookingDetails"]["TotalPrice"],
        num(sum(&raised))
    );
}

#[tokio::test]
async fn sold_out_scenarios_answer_2010() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let (_, got) = t
        .call(CONFIRM, &p.confirm("EUR"), Some("sold_out_at_recheck"))
        .await;
    assert_eq!(got, error("2010", "No availability"));
    let reference = t.post(CONFIRM, &p.confirm("EUR")).await["Success"]["ReferenceNo"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, got) = t
        .call(
            BOOK,
            &p.book(&reference, "AGT-SOLD"),
            Some("sold_out_at_book"),
        )
        .await;
    assert_eq!(got, error("2010", "No availability"));
    assert!(t.state().bookings.lock().is_empty());
    // A real sell-out after PriceConfirm, too.
    t.admin(
        "POST",
        "/__sim/sellout",
        json!({"hotel": p.hotel.to_string()}),
    )
    .await;
    assert_eq!(
        t.post(BOOK, &p.book(&reference, "AGT-SOLD")).await,
        error("2010", "No availability")
    );
    assert_eq!(
        t.post(CONFIRM, &p.confirm("EUR")).await,
        error("2010", "No availability")
    );
}

#[tokio::test]
async fn commit_then_timeout_stores_the_booking_and_never_answers() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    t.admin(
        "POST",
        "/__sim/scenario",
        json!({"scenario": "commit_then_timeout", "operations": ["book"]}),
    )
    .await;
    let reference = t.post(CONFIRM, &p.confirm("EUR")).await["Success"]["ReferenceNo"]
        .as_str()
        .unwrap()
        .to_string();
    let hung = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        t.call(BOOK, &p.book(&reference, "AGT-HANG"), None),
    )
    .await;
    assert!(hung.is_err(), "the book request must not be answered");
    let got = t
        .post(
            FIND,
            &json!({"Header": header(), "SearchBy": {"ClientReference": "AGT-HANG"}}),
        )
        .await;
    assert_eq!(got["Success"]["BookingDetailsList"][0]["Status"], 2);
}

#[tokio::test]
async fn failure_scenarios_answer_with_dida_errors() {
    let t = T::start().await;
    let p = pick(t.state(), 0, 30, 2, 1, any);
    let cases = [
        ("server_error", 500, error("9999", "Internal error")),
        ("rate_limited", 200, error("4029", "Request rate exceeded")),
        (
            "auth_fail",
            200,
            error("4001", "Invalid ClientID or LicenseKey"),
        ),
    ];
    for (scenario, status, body) in cases {
        assert_eq!(
            t.call(SEARCH, &p.search("EUR"), Some(scenario)).await,
            (status, body),
            "{scenario}"
        );
    }
    let basic = T::with(SimAuth::Basic).await;
    let (status, hs, _) = basic
        .raw(
            &format!("{SEARCH}?$format=json"),
            &[
                ("authorization", "Basic RGlkYUFwaVRlc3RJRDpUZXN0S2V5"),
                ("x-sim-scenario", "auth_fail"),
            ],
            &p.search("EUR"),
        )
        .await;
    assert_eq!(status, 401);
    assert!(hs.iter().any(|(k, _)| k == "www-authenticate"));
}

// ---- cancellation penalties, content, unknowns ----

#[tokio::test]
async fn cancellation_penalties_follow_the_policy() {
    let t = T::start().await;
    let st = t.state();
    let nrf = pick(st, 1, 30, 2, 1, any);
    let reference = t.post(CONFIRM, &nrf.confirm("EUR")).await["Success"]["ReferenceNo"]
        .as_str()
        .unwrap()
        .to_string();
    let id = t.post(BOOK, &nrf.book(&reference, "AGT-NRF")).await["Success"]["BookingDetails"]
        ["BookingID"]
        .as_str()
        .unwrap()
        .to_string();
    let quote = t
        .post(CANCEL, &json!({"Header": header(), "BookingID": id}))
        .await;
    assert_eq!(
        quote["Success"]["Penalty"],
        json!({"Value": num(sum(&nrf.nightly)), "Currency": "EUR"})
    );
    // Refundable, arriving tomorrow (a European hotel, never behind UTC): the first night per room.
    let late = pick(st, 0, 1, 2, 2, |w| {
        w.dest().time_zone.starts_with("Europe/")
    });
    assert_eq!(late.checkin, st.today + Duration::days(1));
    let reference = t.post(CONFIRM, &late.confirm("EUR")).await["Success"]["ReferenceNo"]
        .as_str()
        .unwrap()
        .to_string();
    let id = t.post(BOOK, &late.book(&reference, "AGT-LATE")).await["Success"]["BookingDetails"]
        ["BookingID"]
        .as_str()
        .unwrap()
        .to_string();
    let quote = t
        .post(
            CANCEL,
            &json!({"Header": header(), "BookingID": id, "ConfirmID": ""}),
        )
        .await;
    let expected = json!({"Value": num(late.nightly[0] * Decimal::from(2)), "Currency": "EUR"});
    assert_eq!(quote["Success"]["Penalty"], expected);
    // A ConfirmID of another booking does not cancel this one.
    let other = t
        .post(
            CANCEL,
            &json!({"Header": header(), "BookingID": id, "ConfirmID": "CF-0"}),
        )
        .await;
    assert_code(&other, "1001", "ConfirmID:");
    let done = t.post(CANCEL, &json!({"Header": header(), "BookingID": id, "ConfirmID": quote["Success"]["ConfirmID"]})).await;
    assert_eq!(done["Success"]["Penalty"], expected);
}

#[tokio::test]
async fn hotel_detail_gives_content_and_time_zone() {
    let t = T::start().await;
    let st = t.state();
    let h = &st.catalog.hotels[5];
    let w = &st.world.hotels[h.world_idx];
    let id: u64 = h.code.parse().unwrap();
    let got = t
        .post(DETAIL, &json!({"Header": header(), "HotelIDList": [id, 1]}))
        .await;
    let list = got["Success"]["HotelList"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    let d = &list[0];
    assert_eq!(d["HotelID"], id);
    assert_eq!(d["Name"], h.name.as_str());
    assert_eq!(d["Address"], w.address.as_str());
    assert_eq!(d["City"], w.dest().city);
    assert_eq!(d["CountryCode"], w.dest().country);
    assert_eq!(d["TimeZone"], w.dest().time_zone);
    assert_eq!(d["Latitude"], w.lat);
    assert_eq!(d["Longitude"], w.lon);
    assert_eq!(d["Facilities"].as_array().unwrap().len(), w.amenities.len());
    assert_eq!(
        d["RoomTypeList"][0],
        json!({"RoomTypeID": h.rooms[0].code.parse::<u64>().unwrap(), "RoomName": h.rooms[0].name, "MaxOccupancy": h.rooms[0].max_occupancy})
    );
    assert_eq!(st.counters().get("HotelDetail"), Some(&1));
}

#[tokio::test]
async fn unknown_bookings_answer_3001() {
    let t = T::start().await;
    let not_found = error("3001", "Booking not found");
    assert_eq!(
        t.post(
            FIND,
            &json!({"Header": header(), "SearchBy": {"BookingID": "DD-1"}})
        )
        .await,
        not_found
    );
    assert_eq!(
        t.post(
            CANCEL,
            &json!({"Header": header(), "BookingID": "DD-1", "ConfirmID": ""})
        )
        .await,
        not_found
    );
    assert_code(
        &t.post(FIND, &json!({"Header": header(), "SearchBy": {}}))
            .await,
        "1001",
        "SearchBy:",
    );
    let (status, _, _) = http_request(
        "GET",
        &format!("{}{FIND}?$format=json", t.sim.base_url()),
        &[],
        Vec::new(),
    )
    .await
    .unwrap();
    assert_eq!(status, 404);
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
    let p = pick(t.state(), 0, 30, 2, 2, any);
    let reference = t.post(CONFIRM, &p.confirm("EUR")).await["Success"]["ReferenceNo"]
        .as_str()
        .unwrap()
        .to_string();
    let bodies = [
        (SEARCH, p.search("EUR")),
        (CONFIRM, p.confirm("EUR")),
        (BOOK, p.book(&reference, "AGT-ODD")),
        (
            FIND,
            json!({"Header": header(), "SearchBy": {"BookingID": "DD-1", "ClientReference": "X"}}),
        ),
        (
            CANCEL,
            json!({"Header": header(), "BookingID": "DD-1", "ConfirmID": "CF-1"}),
        ),
        (
            DETAIL,
            json!({"Header": header(), "HotelIDList": [p.hotel]}),
        ),
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
        json!(0),
    ];
    for (path, valid) in bodies {
        let mut at = Vec::new();
        pointers(&valid, String::new(), &mut at);
        for pointer in at {
            for value in &odd {
                let mut body = valid.clone();
                *body.pointer_mut(&pointer).unwrap() = value.clone();
                let (status, got) = t.call(path, &body, None).await;
                assert_eq!(status, 200, "{path} {pointer}={value}: {got}");
                assert!(
                    got.get("Success").is_some(),
                    "{path} {pointer}={value}: {got}"
                );
            }
        }
    }
}
