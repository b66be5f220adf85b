//! The `ota-soap` simulator over HTTP, against `shared/protocols/ota-soap.md`.

use super::reservation::hold_key;
use super::xml::{parse, Element, OTA_NS, SOAP_NS};
use crate::server::http_request;
use crate::state::SimState;
use crate::{start, SimHandle, SimOptions};
use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;
use serde_json::{json, Value};

type TestResult = anyhow::Result<()>;

const PASSWORD_TEXT: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";
const PASSWORD_DIGEST: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";

fn security(user: &str, password: &str, kind: Option<&str>) -> String {
    let kind = kind.map(|k| format!(" Type=\"{k}\"")).unwrap_or_default();
    format!(
        r#"<soap-env:Header><wsse:Security soap-env:mustUnderstand="1" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken><wsse:Username>{user}</wsse:Username><wsse:Password{kind}>{password}</wsse:Password></wsse:UsernameToken></wsse:Security></soap-env:Header>"#
    )
}

fn good_security() -> String {
    security("arigate_user", "0ta-Pa55", Some(PASSWORD_TEXT))
}

fn envelope(header: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/">{header}<soap-env:Body>{body}</soap-env:Body></soap-env:Envelope>"#
    )
}

const ADULTS_2: &str =
    r#"<GuestCounts><GuestCount AgeQualifyingCode="10" Count="2"/></GuestCounts>"#;

fn avail_rq(
    hotels: &[&str],
    start: NaiveDate,
    end: NaiveDate,
    quantity: u32,
    extra: &str,
) -> String {
    let refs: String = hotels
        .iter()
        .map(|h| format!(r#"<HotelRef HotelCode="{h}"/>"#))
        .collect();
    format!(
        r#"<OTA_HotelAvailRQ xmlns="http://www.opentravel.org/OTA/2003/05" EchoToken="e-51" TimeStamp="2026-11-22T10:00:00Z" Version="2.0" AvailRatesOnly="true"><AvailRequestSegments><AvailRequestSegment AvailReqType="Room"><HotelSearchCriteria><Criterion>{refs}</Criterion></HotelSearchCriteria><StayDateRange Start="{start}" End="{end}"/><RoomStayCandidates><RoomStayCandidate Quantity="{quantity}">{ADULTS_2}</RoomStayCandidate></RoomStayCandidates>{extra}</AvailRequestSegment></AvailRequestSegments></OTA_HotelAvailRQ>"#
    )
}

fn recheck_rq(hotel: &str, room: &str, rate: &str, start: NaiveDate, end: NaiveDate) -> String {
    let extra = format!(
        r#"<RoomTypeCandidates><RoomTypeCandidate RoomTypeCode="{room}"/></RoomTypeCandidates><RatePlanCandidates><RatePlanCandidate RatePlanCode="{rate}"/></RatePlanCandidates>"#
    );
    avail_rq(&[hotel], start, end, 1, &extra)
}

/// What an Initiate (or, with a hold id, a Commit) books.
#[derive(Clone)]
struct Booking {
    reference: String,
    hotel: String,
    room: String,
    rate: String,
    start: NaiveDate,
    end: NaiveDate,
    units: u32,
    total: String,
}

impl Booking {
    fn message(&self, status: &str, hold: Option<&str>) -> String {
        let hold = hold
            .map(|h| format!(r#"<UniqueID Type="14" ID="{h}"/>"#))
            .unwrap_or_default();
        format!(
            r#"<OTA_HotelResRQ xmlns="http://www.opentravel.org/OTA/2003/05" EchoToken="b-7" TimeStamp="2026-11-22T10:05:00Z" Version="2.0" ResStatus="{status}"><UniqueID Type="16" ID="{}"/>{hold}<HotelReservations><HotelReservation><RoomStays><RoomStay><RoomTypes><RoomType RoomTypeCode="{}" NumberOfUnits="{}"/></RoomTypes><RatePlans><RatePlan RatePlanCode="{}"/></RatePlans>{ADULTS_2}<TimeSpan Start="{}" End="{}"/><Total AmountAfterTax="{}" CurrencyCode="EUR"/><BasicPropertyInfo HotelCode="{}"/></RoomStay></RoomStays><ResGuests><ResGuest><Profiles><ProfileInfo><Profile><Customer><PersonName><GivenName>Ada</GivenName><Surname>Lovelace</Surname></PersonName></Customer></Profile></ProfileInfo></Profiles></ResGuest></ResGuests></HotelReservation></HotelReservations></OTA_HotelResRQ>"#,
            self.reference,
            self.room,
            self.units,
            self.rate,
            self.start,
            self.end,
            self.total,
            self.hotel
        )
    }
    fn initiate(&self) -> String {
        self.message("Initiate", None)
    }
    fn commit(&self, hold: &str) -> String {
        self.message("Commit", Some(hold))
    }
}

fn read_rq(kind: u8, id: &str) -> String {
    format!(
        r#"<OTA_ReadRQ xmlns="http://www.opentravel.org/OTA/2003/05" EchoToken="r-2" Version="2.0"><ReadRequests><ReadRequest><UniqueID Type="{kind}" ID="{id}"/></ReadRequest></ReadRequests></OTA_ReadRQ>"#
    )
}

fn cancel_rq(kind: u8, id: &str, cancel_type: &str) -> String {
    format!(
        r#"<OTA_CancelRQ xmlns="http://www.opentravel.org/OTA/2003/05" EchoToken="c-4" Version="2.0" CancelType="{cancel_type}"><UniqueID Type="{kind}" ID="{id}"/></OTA_CancelRQ>"#
    )
}

fn content_rq(code: &str) -> String {
    format!(
        r#"<OTA_HotelDescriptiveInfoRQ xmlns="http://www.opentravel.org/OTA/2003/05" EchoToken="d-1" Version="2.0"><HotelDescriptiveInfos><HotelDescriptiveInfo HotelCode="{code}"/></HotelDescriptiveInfos></OTA_HotelDescriptiveInfoRQ>"#
    )
}

struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The element inside `soap-env:Body`.
    fn rs(&self) -> Element {
        let doc = parse(&self.body).unwrap_or_else(|e| panic!("{e:?}: {}", self.text()));
        assert!(doc.is(SOAP_NS, "Envelope"), "{}", self.text());
        doc.path(SOAP_NS, &["Body"])
            .and_then(Element::first_element)
            .cloned()
            .unwrap_or_else(|| panic!("no body element: {}", self.text()))
    }

    /// (faultcode, faultstring) of a SOAP Fault, HTTP 500.
    fn fault(&self) -> (String, String) {
        assert_eq!(self.status, 500, "{}", self.text());
        let rs = self.rs();
        assert!(rs.is(SOAP_NS, "Fault"), "{}", self.text());
        let part = |n: &str| {
            rs.children
                .iter()
                .find(|c| c.name == n && c.ns.is_none())
                .map(|c| c.text().to_string())
                .unwrap_or_default()
        };
        (part("faultcode"), part("faultstring"))
    }

    /// (Type, Code, text) of the one OTA error, HTTP 200.
    fn error(&self) -> (String, String, String) {
        assert_eq!(self.status, 200, "{}", self.text());
        let rs = self.rs();
        assert!(rs.child(OTA_NS, "Success").is_none(), "{}", self.text());
        let errors = rs.all(OTA_NS, &["Errors", "Error"]);
        assert_eq!(errors.len(), 1, "{}", self.text());
        let e = errors[0];
        (
            e.attr("Type").unwrap_or("").to_string(),
            e.attr("Code").unwrap_or("").to_string(),
            e.text().to_string(),
        )
    }

    /// The response root of a successful answer.
    fn ok(&self) -> Element {
        assert_eq!(self.status, 200, "{}", self.text());
        let rs = self.rs();
        assert!(rs.child(OTA_NS, "Success").is_some(), "{}", self.text());
        assert!(rs.child(OTA_NS, "Errors").is_none(), "{}", self.text());
        rs
    }
}

fn at<'a>(e: &'a Element, path: &[&str]) -> &'a Element {
    e.path(OTA_NS, path)
        .unwrap_or_else(|| panic!("no {path:?} in {e:?}"))
}

fn attr<'a>(e: &'a Element, path: &[&str], name: &str) -> &'a str {
    at(e, path)
        .attr(name)
        .unwrap_or_else(|| panic!("no {path:?}@{name}"))
}

/// (RoomTypeCode, RatePlanCode) of each RoomStay.
fn stay_codes(rs: &Element) -> Vec<(String, String)> {
    rs.all(OTA_NS, &["RoomStays", "RoomStay"])
        .iter()
        .map(|s| {
            (
                attr(s, &["RoomRates", "RoomRate"], "RoomTypeCode").to_string(),
                attr(s, &["RoomRates", "RoomRate"], "RatePlanCode").to_string(),
            )
        })
        .collect()
}

fn find_stay_of<'a>(rs: &'a Element, room: &str, rate: &str) -> &'a Element {
    rs.all(OTA_NS, &["RoomStays", "RoomStay"])
        .into_iter()
        .find(|s| {
            attr(s, &["RoomRates", "RoomRate"], "RoomTypeCode") == room
                && attr(s, &["RoomRates", "RoomRate"], "RatePlanCode") == rate
        })
        .unwrap_or_else(|| panic!("no RoomStay for {room}/{rate}"))
}

fn money(d: Decimal) -> String {
    format!("{:.2}", d.round_dp(2))
}

struct Ota {
    sim: SimHandle,
}

/// A stay with both rate plans available for 2 rooms of 2 adults, 2 nights.
struct Found {
    hotel: String,
    room: usize,
    room_code: String,
    start: NaiveDate,
    end: NaiveDate,
}

impl Ota {
    async fn start() -> anyhow::Result<Ota> {
        let sim = start(SimOptions::defaults("ota-soap"), "127.0.0.1:0".parse()?).await?;
        Ok(Ota { sim })
    }

    fn state(&self) -> &SimState {
        &self.sim.state
    }

    fn day(&self, offset: i64) -> NaiveDate {
        self.state().today + Duration::days(offset)
    }

    async fn raw(&self, body: &[u8], headers: &[(&str, &str)]) -> anyhow::Result<Reply> {
        let url = format!("{}/ota", self.sim.base_url());
        let mut all = vec![("Content-Type", "text/xml; charset=utf-8")];
        all.extend_from_slice(headers);
        let (status, _, body) = http_request("POST", &url, &all, body.to_vec()).await?;
        Ok(Reply { status, body })
    }

    /// One OTA request in an authenticated envelope.
    async fn call(&self, rq: &str) -> anyhow::Result<Reply> {
        self.call_with(rq, &[]).await
    }

    async fn call_with(&self, rq: &str, headers: &[(&str, &str)]) -> anyhow::Result<Reply> {
        self.raw(envelope(&good_security(), rq).as_bytes(), headers)
            .await
    }

    async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.sim.base_url());
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let (status, _, body) = http_request(method, &url, &[], bytes).await?;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        Ok(serde_json::from_slice(&body)?)
    }

    fn quote(&self, f: &Found, rate: usize, rooms: u32) -> crate::catalog::Quote {
        let hotel = self.state().catalog.hotel(&f.hotel).expect("hotel");
        self.state()
            .quote(hotel, f.room, rate, f.start, f.end, rooms, 2, 0)
            .expect("available")
    }

    fn find(&self, from: i64) -> Found {
        let state = self.state();
        for offset in from..from + 200 {
            let (start, end) = (self.day(offset), self.day(offset + 2));
            for hotel in &state.catalog.hotels {
                for (r, room) in hotel.rooms.iter().enumerate() {
                    let ok = |rate| state.quote(hotel, r, rate, start, end, 2, 2, 0).is_some();
                    if ok(0) && ok(1) {
                        return Found {
                            hotel: hotel.code.clone(),
                            room: r,
                            room_code: room.code.clone(),
                            start,
                            end,
                        };
                    }
                }
            }
        }
        panic!("no availability anywhere");
    }

    fn booking(&self, f: &Found, reference: &str, rate: &str, total: &str) -> Booking {
        Booking {
            reference: reference.to_string(),
            hotel: f.hotel.clone(),
            room: f.room_code.clone(),
            rate: rate.to_string(),
            start: f.start,
            end: f.end,
            units: 1,
            total: total.to_string(),
        }
    }

    /// Initiate then Commit; the confirmation number.
    async fn book(&self, b: &Booking) -> anyhow::Result<String> {
        let pending = self.call(&b.initiate()).await?.ok();
        let hold = attr(
            &pending,
            &[
                "HotelReservations",
                "HotelReservation",
                "ResGlobalInfo",
                "HotelReservationIDs",
                "HotelReservationID",
            ],
            "ResID_Value",
        )
        .to_string();
        let committed = self.call(&b.commit(&hold)).await?.ok();
        Ok(attr(
            &committed,
            &[
                "HotelReservations",
                "HotelReservation",
                "ResGlobalInfo",
                "HotelReservationIDs",
                "HotelReservationID",
            ],
            "ResID_Value",
        )
        .to_string())
    }
}

const RES_ID: [&str; 5] = [
    "HotelReservations",
    "HotelReservation",
    "ResGlobalInfo",
    "HotelReservationIDs",
    "HotelReservationID",
];
const RES: [&str; 2] = ["HotelReservations", "HotelReservation"];

#[tokio::test]
async fn search_answers_one_room_stay_per_available_room_and_plan_with_whole_stay_amounts(
) -> TestResult {
    let ota = Ota::start().await?;
    let f = ota.find(30);
    let hotel = ota.state().catalog.hotel(&f.hotel).expect("hotel").clone();
    let reply = ota
        .call_with(
            &avail_rq(&[&f.hotel], f.start, f.end, 2, ""),
            &[("SOAPAction", "\"OTA_HotelAvailRQ\"")],
        )
        .await?;
    let rs = reply.ok();
    assert!(rs.is(OTA_NS, "OTA_HotelAvailRS"));
    assert_eq!(rs.attr("EchoToken"), Some("e-51"));
    assert_eq!(rs.attr("TimeStamp"), Some("2026-11-22T10:00:00Z"));
    assert_eq!(rs.attr("Version"), Some("2.0"));
    assert!(rs.child(OTA_NS, "Warnings").is_none());

    // Exactly the (room, plan) pairs the inventory has for 2 rooms of 2 adults.
    let mut expected = Vec::new();
    for (r, room) in hotel.rooms.iter().enumerate() {
        for (p, plan) in ota.state().catalog.rate_plans.iter().enumerate() {
            if ota
                .state()
                .quote(&hotel, r, p, f.start, f.end, 2, 2, 0)
                .is_some()
            {
                expected.push((room.code.clone(), plan.code.clone()));
            }
        }
    }
    assert_eq!(stay_codes(&rs), expected);

    let flex = ota.quote(&f, 0, 2);
    let stay = find_stay_of(&rs, &f.room_code, "FLEXBB");
    let room_name = &hotel.rooms[f.room].name;
    assert_eq!(
        attr(stay, &["RoomTypes", "RoomType"], "RoomTypeCode"),
        f.room_code
    );
    assert_eq!(
        attr(stay, &["RoomTypes", "RoomType", "RoomDescription"], "Name"),
        room_name
    );
    let plan = at(stay, &["RatePlans", "RatePlan"]);
    assert_eq!(
        plan.attr("RatePlanName"),
        Some("Flexible, breakfast included")
    );
    let deadline = format!("{}T23:59:00Z", f.start - Duration::days(2));
    assert_eq!(
        attr(
            plan,
            &["CancelPenalties", "CancelPenalty", "Deadline"],
            "AbsoluteDeadline"
        ),
        deadline
    );
    let penalty = at(plan, &["CancelPenalties", "CancelPenalty", "AmountPercent"]);
    assert_eq!(
        penalty.attr("Amount"),
        Some(money(flex.nightly[0] * Decimal::from(2)).as_str())
    );
    assert_eq!(penalty.attr("CurrencyCode"), Some("EUR"));
    assert_eq!(attr(plan, &["MealsIncluded"], "Breakfast"), "true");
    let rate = at(stay, &["RoomRates", "RoomRate"]);
    assert_eq!(
        rate.attr("NumberOfUnits"),
        Some(flex.allotment.to_string().as_str())
    );
    assert_eq!(
        attr(rate, &["Rates", "Rate"], "EffectiveDate"),
        f.start.to_string()
    );
    assert_eq!(
        attr(rate, &["Rates", "Rate"], "ExpireDate"),
        f.end.to_string()
    );
    let total = money(flex.total);
    let before = money(flex.total / Decimal::new(11, 1));
    for amount in [at(rate, &["Rates", "Rate", "Base"]), at(stay, &["Total"])] {
        assert_eq!(amount.attr("AmountAfterTax"), Some(total.as_str()));
        assert_eq!(amount.attr("AmountBeforeTax"), Some(before.as_str()));
        assert_eq!(amount.attr("CurrencyCode"), Some("EUR"));
    }
    assert_eq!(
        flex.total,
        (flex.nightly[0] + flex.nightly[1]) * Decimal::from(2)
    );
    assert_eq!(attr(stay, &["BasicPropertyInfo"], "HotelCode"), f.hotel);
    assert_eq!(attr(stay, &["BasicPropertyInfo"], "HotelName"), hotel.name);

    // Non-refundable, room only: the whole stay from now, no meals.
    let nrf = ota.quote(&f, 1, 2);
    let stay = find_stay_of(&rs, &f.room_code, "NRFRO");
    let plan = at(stay, &["RatePlans", "RatePlan"]);
    assert!(plan.child(OTA_NS, "MealsIncluded").is_none());
    assert_eq!(
        attr(plan, &["CancelPenalties", "CancelPenalty"], "NonRefundable"),
        "true"
    );
    assert_eq!(
        attr(
            plan,
            &["CancelPenalties", "CancelPenalty", "AmountPercent"],
            "Amount"
        ),
        money(nrf.total)
    );
    let deadline = attr(
        plan,
        &["CancelPenalties", "CancelPenalty", "Deadline"],
        "AbsoluteDeadline",
    );
    assert!(
        deadline.starts_with(&ota.state().now().date_naive().to_string()),
        "{deadline}"
    );
    assert_eq!(attr(stay, &["Total"], "AmountAfterTax"), money(nrf.total));
    assert_eq!(ota.state().counters().get("search"), Some(&1));
    Ok(())
}

#[tokio::test]
async fn nothing_available_is_a_success_with_warning_322_and_no_room_stays() -> TestResult {
    let ota = Ota::start().await?;
    let f = ota.find(40);
    ota.admin("POST", "/__sim/sellout", Some(json!({"hotel": f.hotel})))
        .await?;
    for rq in [
        avail_rq(&[&f.hotel], f.start, f.end, 1, ""),
        // An unknown room code filters everything out.
        recheck_rq(&f.hotel, "XXX9", "FLEXBB", f.start, f.end),
    ] {
        let rs = ota.call(&rq).await?.ok();
        let warnings = rs.all(OTA_NS, &["Warnings", "Warning"]);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].attr("Type"), Some("3"));
        assert_eq!(warnings[0].attr("Code"), Some("322"));
        assert_eq!(warnings[0].attr("ShortText"), Some("No availability"));
        assert!(rs.child(OTA_NS, "RoomStays").is_none());
    }
    Ok(())
}

#[tokio::test]
async fn unknown_hotels_are_392_alone_and_a_warning_beside_known_ones() -> TestResult {
    let ota = Ota::start().await?;
    let f = ota.find(30);
    let reply = ota
        .call(&avail_rq(&["NOPE01"], f.start, f.end, 1, ""))
        .await?;
    assert_eq!(
        reply.error(),
        (
            "3".into(),
            "392".into(),
            "Invalid hotel code: NOPE01".into()
        )
    );
    let rs = ota
        .call(&avail_rq(&[&f.hotel, "NOPE01"], f.start, f.end, 1, ""))
        .await?
        .ok();
    let warnings = rs.all(OTA_NS, &["Warnings", "Warning"]);
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].attr("Code"), Some("392"));
    assert_eq!(warnings[0].text(), "Invalid hotel code: NOPE01");
    assert!(!stay_codes(&rs).is_empty());
    Ok(())
}

#[tokio::test]
async fn invalid_searches_are_320_or_321() -> TestResult {
    let ota = Ota::start().await?;
    let f = ota.find(30);
    let h = f.hotel.as_str();
    let (s, e) = (f.start, f.end);
    let segment = |inner: &str| {
        format!(
            r#"<OTA_HotelAvailRQ xmlns="http://www.opentravel.org/OTA/2003/05" EchoToken="v"><AvailRequestSegments><AvailRequestSegment>{inner}</AvailRequestSegment></AvailRequestSegments></OTA_HotelAvailRQ>"#
        )
    };
    let criteria = format!(
        r#"<HotelSearchCriteria><Criterion><HotelRef HotelCode="{h}"/></Criterion></HotelSearchCriteria>"#
    );
    let candidate = |counts: &str, qty: &str| {
        format!(
            r#"<RoomStayCandidates><RoomStayCandidate Quantity="{qty}"><GuestCounts>{counts}</GuestCounts></RoomStayCandidate></RoomStayCandidates>"#
        )
    };
    let adults2 = r#"<GuestCount AgeQualifyingCode="10" Count="2"/>"#;
    let dates = |a: &str, b: &str| format!(r#"<StayDateRange Start="{a}" End="{b}"/>"#);
    let ok_dates = dates(&s.to_string(), &e.to_string());
    let cases: Vec<(String, &str, &str)> = vec![
        (
            avail_rq(&[h], ota.day(-1), ota.day(1), 1, ""),
            "320",
            "in the past",
        ),
        (avail_rq(&[h], s, s, 1, ""), "320", "must be after"),
        (avail_rq(&[h], e, s, 1, ""), "320", "must be after"),
        (
            avail_rq(&[h], s, s + Duration::days(31), 1, ""),
            "320",
            "exceeds the maximum of 30",
        ),
        (avail_rq(&[h], s, e, 0, ""), "320", "Quantity"),
        (avail_rq(&[h], s, e, 10, ""), "320", "Quantity"),
        (
            segment(&format!(
                "{criteria}{}{}",
                dates("2027-13-01", "2027-13-03"),
                candidate(adults2, "1")
            )),
            "320",
            "YYYY-MM-DD",
        ),
        (
            segment(&format!("{criteria}{}", candidate(adults2, "1"))),
            "321",
            "StayDateRange",
        ),
        (
            segment(&format!(
                "{criteria}{}{}",
                r#"<StayDateRange Start="2030-01-01"/>"#,
                candidate(adults2, "1")
            )),
            "321",
            "StayDateRange@End",
        ),
        (
            segment(&format!("{criteria}{ok_dates}")),
            "321",
            "RoomStayCandidate",
        ),
        (
            segment(&format!("{ok_dates}{}", candidate(adults2, "1"))),
            "321",
            "HotelRef",
        ),
        (
            segment(&format!(
                "{criteria}{ok_dates}{}",
                r#"<RoomStayCandidates><RoomStayCandidate/></RoomStayCandidates>"#
            )),
            "321",
            "GuestCounts",
        ),
        (
            segment(&format!(
                "{criteria}{ok_dates}{}",
                candidate(r#"<GuestCount AgeQualifyingCode="10"/>"#, "1")
            )),
            "321",
            "Count",
        ),
        (
            segment(&format!(
                "{criteria}{ok_dates}{}",
                candidate(r#"<GuestCount AgeQualifyingCode="8" Count="1"/>"#, "1")
            )),
            "320",
            "adults",
        ),
        (
            segment(&format!(
                "{criteria}{ok_dates}{}",
                candidate(r#"<GuestCount AgeQualifyingCode="99" Count="1"/>"#, "1")
            )),
            "320",
            "AgeQualifyingCode",
        ),
        (
            segment(&format!(
                "{criteria}{ok_dates}{}",
                candidate(
                    &format!(r#"{adults2}<GuestCount AgeQualifyingCode="8" Age="40" Count="1"/>"#),
                    "1"
                )
            )),
            "320",
            "age",
        ),
        (
            segment(&format!(
                "{criteria}{ok_dates}{}",
                candidate(r#"<GuestCount AgeQualifyingCode="10" Count="two"/>"#, "1")
            )),
            "320",
            "Count",
        ),
        (
            segment(&format!(
                r#"<HotelSearchCriteria><Criterion><HotelRef/></Criterion></HotelSearchCriteria>{ok_dates}{}"#,
                candidate(adults2, "1")
            )),
            "321",
            "HotelCode",
        ),
        (
            r#"<OTA_HotelAvailRQ xmlns="http://www.opentravel.org/OTA/2003/05"/>"#.to_string(),
            "321",
            "AvailRequestSegment",
        ),
    ];
    for (rq, code, text) in cases {
        let (kind, got, message) = ota.call(&rq).await?.error();
        assert_eq!(got, code, "{rq}: {message}");
        assert_eq!(kind, if code == "321" { "10" } else { "3" }, "{rq}");
        assert!(message.contains(text), "{rq}: {message}");
    }
    Ok(())
}

#[tokio::test]
async fn ws_security_is_checked_missing_header_faults_and_bad_credentials_are_497() -> TestResult {
    let ota = Ota::start().await?;
    let f = ota.find(30);
    let rq = avail_rq(&[&f.hotel], f.start, f.end, 1, "");
    let missing = ota.raw(envelope("", &rq).as_bytes(), &[]).await?;
    assert_eq!(
        missing.fault(),
        ("soap-env:Client".into(), "Missing security header".into())
    );
    let empty_header = ota
        .raw(envelope("<soap-env:Header/>", &rq).as_bytes(), &[])
        .await?;
    assert_eq!(empty_header.fault().1, "Missing security header");

    let no_token = r#"<soap-env:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"/></soap-env:Header>"#;
    for header in [
        security("arigate_user", "wrong", Some(PASSWORD_TEXT)),
        security("someone_else", "0ta-Pa55", Some(PASSWORD_TEXT)),
        security("arigate_user", "0ta-Pa55", Some(PASSWORD_DIGEST)),
        security("arigate_user", "", Some(PASSWORD_TEXT)),
        no_token.to_string(),
    ] {
        let reply = ota.raw(envelope(&header, &rq).as_bytes(), &[]).await?;
        let (kind, code, _) = reply.error();
        assert_eq!((kind.as_str(), code.as_str()), ("4", "497"), "{header}");
        let rs = reply.rs();
        assert!(rs.is(OTA_NS, "OTA_HotelAvailRS"));
        assert_eq!(rs.attr("EchoToken"), Some("e-51"));
    }
    // The WS-Security default Type is PasswordText.
    let untyped = security("arigate_user", "0ta-Pa55", None);
    ota.raw(envelope(&untyped, &rq).as_bytes(), &[]).await?.ok();
    ota.call(&rq).await?.ok();
    Ok(())
}

#[tokio::test]
async fn prefixes_are_free_and_only_namespaces_count() -> TestResult {
    let ota = Ota::start().await?;
    let f = ota.find(30);
    let prefixed = format!(
        r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Header><sec:Security xmlns:sec="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><sec:UsernameToken><sec:Username>arigate_user</sec:Username><sec:Password Type="{PASSWORD_TEXT}">0ta-Pa55</sec:Password></sec:UsernameToken></sec:Security></S:Header><S:Body><ns1:OTA_HotelAvailRQ xmlns:ns1="http://www.opentravel.org/OTA/2003/05" EchoToken="p-1"><ns1:AvailRequestSegments><ns1:AvailRequestSegment><ns1:HotelSearchCriteria><ns1:Criterion><ns1:HotelRef HotelCode="{}"/></ns1:Criterion></ns1:HotelSearchCriteria><ns1:StayDateRange Start="{}" End="{}"/><ns1:RoomStayCandidates><ns1:RoomStayCandidate Quantity="1"><ns1:GuestCounts><ns1:GuestCount AgeQualifyingCode="10" Count="2"/></ns1:GuestCounts></ns1:RoomStayCandidate></ns1:RoomStayCandidates></ns1:AvailRequestSegment></ns1:AvailRequestSegments></ns1:OTA_HotelAvailRQ></S:Body></S:Envelope>"#,
        f.hotel, f.start, f.end
    );
    let a = ota.raw(prefixed.as_bytes(), &[]).await?.ok();
    let b = ota
        .call(&avail_rq(&[&f.hotel], f.start, f.end, 1, ""))
        .await?
        .ok();
    assert_eq!(a.attr("EchoToken"), Some("p-1"));
    assert!(!stay_codes(&a).is_empty());
    assert_eq!(stay_codes(&a), stay_codes(&b));
    let totals = |rs: &Element| -> Vec<String> {
        rs.all(OTA_NS, &["RoomStays", "RoomStay", "Total"])
            .iter()
            .map(|t| t.attr("AmountAfterTax").unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(totals(&a), totals(&b));

    // The right names in the wrong namespace are not OTA.
    let foreign = avail_rq(&[&f.hotel], f.start, f.end, 1, "")
        .replace("http://www.opentravel.org/OTA/2003/05", "urn:not-ota");
    let reply = ota.call(&foreign).await?;
    assert_eq!(
        reply.fault(),
        (
            "soap-env:Client".into(),
            "Unsupported message OTA_HotelAvailRQ".into()
        )
    );
    let wrong_soap = envelope(
        &good_security(),
        &avail_rq(&[&f.hotel], f.start, f.end, 1, ""),
    )
    .replace(
        "http://schemas.xmlsoap.org/soap/envelope/",
        "http://www.w3.org/2003/05/soap-envelope",
    );
    assert_eq!(
        ota.raw(wrong_soap.as_bytes(), &[]).await?.fault().1,
        "Not a SOAP 1.1 envelope"
    );
    let c = ota.state().counters();
    assert_eq!(
        (c.get("search"), c.get("invalid")),
        (Some(&2), Some(&2)),
        "{c:?}"
    );
    Ok(())
}

#[tokio::test]
async fn hostile_and_broken_xml_gets_a_client_fault_quickly() -> TestResult {
    let ota = Ota::start().await?;
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"><!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;"><!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;"><!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;"><!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;"><!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>"#.to_string()
        + &envelope(&good_security(), r#"<OTA_ReadRQ xmlns="http://www.opentravel.org/OTA/2003/05" EchoToken="&lol9;"/>"#);
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE e [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>"#
        .to_string()
        + &envelope(&good_security(), &read_rq(10, "&xxe;"));
    let undeclared = envelope(&good_security(), &read_rq(10, "&xxe;"));
    let valid = envelope(&good_security(), &read_rq(10, "SX-1"));
    let truncated = valid[..valid.len() / 2].to_string();
    let deep = envelope(
        &good_security(),
        &("<a>".repeat(5000) + &"</a>".repeat(5000)),
    );
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (laughs.into_bytes(), "Malformed XML request"),
        (xxe.into_bytes(), "Malformed XML request"),
        (undeclared.into_bytes(), "Malformed XML request"),
        (truncated.into_bytes(), "Malformed XML request"),
        (b"".to_vec(), "Malformed XML request"),
        (b"not xml at all".to_vec(), "Malformed XML request"),
        (b"{\"json\": true}".to_vec(), "Malformed XML request"),
        (vec![0xff, 0xfe, 0x3c, 0x00], "Malformed XML request"),
        (deep.into_bytes(), "Request too large or too deeply nested"),
        (
            b"<OTA_ReadRQ xmlns=\"http://www.opentravel.org/OTA/2003/05\"/>".to_vec(),
            "Not a SOAP 1.1 envelope",
        ),
        (
            envelope(&good_security(), "").into_bytes(),
            "Missing OTA request in soap-env:Body",
        ),
        (
            envelope(
                &good_security(),
                "<OTA_PingRQ xmlns=\"http://www.opentravel.org/OTA/2003/05\"/>",
            )
            .into_bytes(),
            "Unsupported message OTA_PingRQ",
        ),
    ];
    let n = cases.len() as u64;
    for (body, message) in cases {
        let reply =
            tokio::time::timeout(std::time::Duration::from_secs(5), ota.raw(&body, &[])).await??;
        assert_eq!(
            reply.fault(),
            ("soap-env:Client".into(), message.into()),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
    assert_eq!(ota.state().counters().get("invalid"), Some(&n));
    Ok(())
}

#[tokio::test]
async fn a_soap_action_naming_another_message_is_a_client_fault() -> TestResult {
    let ota = Ota::start().await?;
    let rq = read_rq(10, "SX-1");
    let reply = ota
        .call_with(&rq, &[("SOAPAction", "\"OTA_CancelRQ\"")])
        .await?;
    assert_eq!(reply.fault().1, "SOAPAction does not match the message");
    for action in [
        "\"OTA_ReadRQ\"",
        "OTA_ReadRQ",
        "http://www.opentravel.org/OTA/2003/05/OTA_ReadRQ",
        "\"\"",
    ] {
        let reply = ota.call_with(&rq, &[("SOAPAction", action)]).await?;
        assert_eq!(reply.error().1, "245", "{action}");
    }
    Ok(())
}

#[tokio::test]
async fn search_recheck_initiate_commit_read_cancel() -> TestResult {
    let ota = Ota::start().await?;
    let f = ota.find(30);
    let search = ota
        .call(&avail_rq(&[&f.hotel], f.start, f.end, 1, ""))
        .await?
        .ok();
    let total = attr(
        find_stay_of(&search, &f.room_code, "FLEXBB"),
        &["Total"],
        "AmountAfterTax",
    )
    .to_string();
    let quote = ota.quote(&f, 0, 1);
    assert_eq!(total, money(quote.total));

    let recheck = ota
        .call(&recheck_rq(
            &f.hotel,
            &f.room_code,
            "FLEXBB",
            f.start,
            f.end,
        ))
        .await?
        .ok();
    assert_eq!(
        stay_codes(&recheck),
        vec![(f.room_code.clone(), "FLEXBB".to_string())]
    );
    assert_eq!(
        attr(
            &recheck,
            &["RoomStays", "RoomStay", "Total"],
            "AmountAfterTax"
        ),
        total
    );

    let b = ota.booking(&f, "AGT-7Q2K9", "FLEXBB", &total);
    let pending = ota.call(&b.initiate()).await?.ok();
    assert!(pending.is(OTA_NS, "OTA_HotelResRS"));
    assert_eq!(pending.attr("EchoToken"), Some("b-7"));
    assert_eq!(pending.attr("ResResponseType"), Some("Pending"));
    assert_eq!(attr(&pending, &RES, "ResStatus"), "Pending");
    let uid = at(
        &pending,
        &["HotelReservations", "HotelReservation", "UniqueID"],
    );
    assert_eq!(
        (uid.attr("Type"), uid.attr("ID")),
        (Some("16"), Some("AGT-7Q2K9"))
    );
    assert_eq!(attr(&pending, &RES_ID, "ResID_Type"), "14");
    let hold = attr(&pending, &RES_ID, "ResID_Value").to_string();
    assert!(hold.starts_with("SX-HOLD-"), "{hold}");
    assert_eq!(
        attr(
            &pending,
            &[
                "HotelReservations",
                "HotelReservation",
                "ResGlobalInfo",
                "Total"
            ],
            "AmountAfterTax"
        ),
        total
    );
    let sim = ota.admin("GET", "/__sim/bookings", None).await?;
    assert_eq!(sim[0]["status"], "Pending");
    assert_eq!(sim[0]["client_reference"], "AGT-7Q2K9");

    let committed = ota.call(&b.commit(&hold)).await?.ok();
    assert_eq!(committed.attr("ResResponseType"), Some("Committed"));
    assert_eq!(attr(&committed, &RES, "ResStatus"), "Book");
    assert_eq!(attr(&committed, &RES_ID, "ResID_Type"), "10");
    let confirmation = attr(&committed, &RES_ID, "ResID_Value").to_string();
    assert!(
        confirmation
            .strip_prefix("SX-")
            .is_some_and(|n| n.parse::<u64>().is_ok()),
        "{confirmation}"
    );
    let sim = ota.admin("GET", "/__sim/bookings", None).await?;
    assert_eq!(sim.as_array().map(Vec::len), Some(1));
    assert_eq!(sim[0]["status"], "Book");
    assert_eq!(sim[0]["reference"], confirmation.as_str());
    assert_eq!(
        sim[0]["total"]
            .as_str()
            .and_then(|t| t.parse::<Decimal>().ok()),
        Some(quote.total)
    );
    assert_eq!(sim[0]["guests"], json!(["Ada Lovelace"]));

    for (kind, id) in [(10, confirmation.as_str()), (16, "AGT-7Q2K9")] {
        let read = ota.call(&read_rq(kind, id)).await?.ok();
        assert!(read.is(OTA_NS, "OTA_HotelResRS"));
        assert_eq!(read.attr("EchoToken"), Some("r-2"));
        assert_eq!(attr(&read, &RES, "ResStatus"), "Book");
        assert_eq!(attr(&read, &RES_ID, "ResID_Value"), confirmation);
        let stay = at(
            &read,
            &[
                "HotelReservations",
                "HotelReservation",
                "RoomStays",
                "RoomStay",
            ],
        );
        assert_eq!(
            attr(stay, &["RoomTypes", "RoomType"], "RoomTypeCode"),
            f.room_code
        );
        assert_eq!(
            attr(stay, &["RatePlans", "RatePlan"], "RatePlanCode"),
            "FLEXBB"
        );
        assert_eq!(attr(stay, &["TimeSpan"], "Start"), f.start.to_string());
        assert_eq!(attr(stay, &["TimeSpan"], "End"), f.end.to_string());
        assert_eq!(attr(stay, &["Total"], "AmountAfterTax"), total);
        assert_eq!(attr(stay, &["BasicPropertyInfo"], "HotelCode"), f.hotel);
        let name = at(
            &read,
            &[
                "HotelReservations",
                "HotelReservation",
                "ResGuests",
                "ResGuest",
                "Profiles",
                "ProfileInfo",
                "Profile",
                "Customer",
                "PersonName",
            ],
        );
        assert_eq!(at(name, &["Surname"]).text(), "Lovelace");
    }

    let cancelled = ota
        .call(&cancel_rq(10, &confirmation, "Cancel"))
        .await?
        .ok();
    assert!(cancelled.is(OTA_NS, "OTA_CancelRS"));
    assert_eq!(cancelled.attr("EchoToken"), Some("c-4"));
    assert_eq!(cancelled.attr("Status"), Some("Cancelled"));
    let cx = at(&cancelled, &["CancelInfoRS", "UniqueID"]);
    assert_eq!(cx.attr("Type"), Some("15"));
    assert!(cx.attr("ID").is_some_and(|id| id.starts_with("SX-CX-")));
    let amount = at(
        &cancelled,
        &["CancelInfoRS", "CancelRules", "CancelRule", "Amount"],
    );
    assert_eq!(
        (amount.attr("Amount"), amount.attr("CurrencyCode")),
        (Some("0.00"), Some("EUR"))
    );
    let sim = ota.admin("GET", "/__sim/bookings", None).await?;
    assert_eq!(sim[0]["status"], "Cancelled");

    let read = ota.call(&read_rq(16, "AGT-7Q2K9")).await?.ok();
    assert_eq!(read.attr("ResResponseType"), Some("Cancelled"));
    assert_eq!(attr(&read, &RES, "ResStatus"), "Cancelled");
    let again = ota.call(&cancel_rq(10, &confirmation, "Cancel")).await?;
    let (kind, code, text) = again.error();
    assert_eq!((kind.as_str(), code.as_str()), ("3", "95"));
    assert!(text.contains(&confirmation), "{text}");

    let counters = ota.admin("GET", "/__sim/counters", None).await?;
    assert_eq!(
        counters,
        json!({"search": 1, "recheck": 1, "res_initiate": 1, "res_commit": 1, "read": 3, "cancel": 2})
    );
    Ok(())
}

#[tokio::test]
async fn a_repeated_requester_reference_is_idempotent_and_cannot_be_reused() -> TestResult {
    let ota = Ota::start().await?;
    let f = ota.find(30);
    let total = money(ota.quote(&f, 0, 1).total);
    let b = ota.booking(&f, "AGT-IDEM", "FLEXBB", &total);
    let first = ota.call(&b.initiate()).await?.ok();
    let second = ota.call(&b.initiate()).await?.ok();
    let hold = attr(&first, &RES_ID, "ResID_Value").to_string();
    assert_eq!(attr(&second, &RES_ID, "ResID_Value"), hold);
    assert_eq!(ota.state().bookings.lock().len(), 1);

    let mut other = b.clone();
    other.end = f.start + Duration::days(1);
    let (_, code, text) = ota.call(&other.initiate()).await?.error();
    assert_eq!(code, "320");
    assert!(text.contains("AGT-IDEM"), "{text}");

    // After the commit a repeat answers the booked reservation; a repeated commit too.
    let committed = ota.call(&b.commit(&hold)).await?.ok();
    let confirmation = attr(&committed, &RES_ID, "ResID_Value").to_string();
    let repeat = ota.call(&b.initiate()).await?.ok();
    assert_eq!(repeat.attr("ResResponseType"), Some("Committed"));
    assert_eq!(attr(&repeat, &RES_ID, "ResID_Value"), confirmation);
    let recommit = ota.call(&b.commit(&hold)).await?.ok();
    assert_eq!(attr(&recommit, &RES_ID, "ResID_Value"), confirmation);
    assert_eq!(ota.state().bookings.lock().len(), 1);

    // A commit naming another requester reference is refused.
    let mut stranger = b.clone();
    stranger.reference = "AGT-OTHER".into();
    assert_eq!(ota.call(&stranger.commit(&hold)).await?.error().1, "320");
    Ok(())
}

#[tokio::test]
async fn initiate_with_a_stale_total_is_189_with_both_totals() -> TestResult {
    let ota = Ota::start().await?;
    let f = ota.find(30);
    let live = money(ota.quote(&f, 0, 1).total);
    let b = ota.booking(&f, "AGT-189", "FLEXBB", "1.00");
    let (kind, code, text) = ota.call(&b.initiate()).await?.error();
    assert_eq!((kind.as_str(), code.as_str()), ("3", "189"));
    assert_eq!(
        text,
        format!("Price has changed: requested total 1.00 EUR, current total {live} EUR")
    );
    assert!(ota.state().bookings.lock().is_empty());
    Ok(())
}

#[tokio::test]
async fn invalid_bookings_are_rejected_before_anything_is_held() -> TestResult {
    let ota = Ota::start().await?;
    let f = ota.find(30);
    let total = money(ota.quote(&f, 0, 1).total);
    let b = ota.booking(&f, "AGT-V", "FLEXBB", &total);
    let rq = b.initiate();
    let cases: Vec<(String, &str)> = vec![
        (rq.replace(r#"<UniqueID Type="16" ID="AGT-V"/>"#, ""), "321"),
        (rq.replace(r#" ResStatus="Initiate""#, ""), "321"),
        (
            rq.replace(r#"ResStatus="Initiate""#, r#"ResStatus="Modify""#),
            "320",
        ),
        (rq.replace(&f.hotel, "NOPE01"), "392"),
        (
            rq.replace(
                &format!("RoomTypeCode=\"{}\"", f.room_code),
                "RoomTypeCode=\"ZZZ9\"",
            ),
            "320",
        ),
        (
            rq.replace("RatePlanCode=\"FLEXBB\"", "RatePlanCode=\"NOPE\""),
            "320",
        ),
        (
            rq.replace("CurrencyCode=\"EUR\"", "CurrencyCode=\"USD\""),
            "320",
        ),
        (
            rq.replace(
                &format!("AmountAfterTax=\"{total}\""),
                "AmountAfterTax=\"lots\"",
            ),
            "320",
        ),
        (
            rq.replace(
                &format!("<Total AmountAfterTax=\"{total}\" CurrencyCode=\"EUR\"/>"),
                "",
            ),
            "321",
        ),
        (rq.replace("<Surname>Lovelace</Surname>", ""), "321"),
        (
            rq.replace(
                &format!("End=\"{}\"", f.end),
                &format!("End=\"{}\"", f.start),
            ),
            "320",
        ),
        (
            rq.replace("NumberOfUnits=\"1\"", "NumberOfUnits=\"0\""),
            "320",
        ),
        (
            rq.replace("<GuestCounts>", "<GuestCountz>")
                .replace("</GuestCounts>", "</GuestCountz>"),
            "321",
        ),
    ];
    for (rq, code) in cases {
        assert_eq!(ota.call(&rq).await?.error().1, code, "{rq}");
    }
    assert!(ota.state().bookings.lock().is_empty());
    Ok(())
}

#[tokio::test]
async fn an_expired_or_unknown_hold_cannot_be_committed() -> TestResult {
    let ota = Ota::start().await?;
    let f = ota.find(30);
    let total = money(ota.quote(&f, 0, 1).total);
    let b = ota.booking(&f, "AGT-EXP", "FLEXBB", &total);
    let pending = ota.call(&b.initiate()).await?.ok();
    let hold = attr(&pending, &RES_ID, "ResID_Value").to_string();
    {
        let mut kv = ota.state().kv.lock();
        let entry = kv.get_mut(&hold_key(&hold)).expect("hold stored");
        entry.0 -= Duration::minutes(11);
    }
    let (kind, code, text) = ota.call(&b.commit(&hold)).await?.error();
    assert_eq!((kind.as_str(), code.as_str()), ("3", "436"));
    assert!(text.contains(&hold), "{text}");
    assert_eq!(ota.call(&b.commit("SX-HOLD-1")).await?.error().1, "436");
    // Not a reservation: read and cancel do not know it.
    assert_eq!(ota.call(&read_rq(16, "AGT-EXP")).await?.error().1, "245");
    assert_eq!(
        ota.call(&cancel_rq(16, "AGT-EXP", "Cancel"))
            .await?
            .error()
            .1,
        "245"
    );

    // Initiating again takes a new hold, which commits.
    let again = ota.call(&b.initiate()).await?.ok();
    let new_hold = attr(&again, &RES_ID, "ResID_Value").to_string();
    assert_ne!(new_hold, hold);
    assert_eq!(ota.call(&b.commit(&hold)).await?.error().1, "436");
    let committed = ota.call(&b.commit(&new_hold)).await?.ok();
    assert_eq!(attr(&committed, &RES, "ResStatus"), "Book");
    assert_eq!(ota.state().bookings.lock().len(), 1);
    // A hold just under ten minutes old still commits.
    let b2 = Booking {
        reference: "AGT-FRESH".into(),
        ..b.clone()
    };
    let pending = ota.call(&b2.initiate()).await?.ok();
    let hold2 = attr(&pending, &RES_ID, "ResID_Value").to_string();
    if let Some(entry) = ota.state().kv.lock().get_mut(&hold_key(&hold2)) {
        entry.0 -= Duration::minutes(9);
    }
    ota.call(&b2.commit(&hold2)).await?.ok();
    Ok(())
}

#[tokio::test]
async fn reads_and_cancels_of_unknown_references_are_245() -> TestResult {
    let ota = Ota::start().await?;
    for rq in [
        read_rq(10, "SX-00000"),
        read_rq(16, "AGT-NONE"),
        cancel_rq(10, "SX-00000", "Cancel"),
        cancel_rq(16, "AGT-NONE", "Quote"),
    ] {
        let (kind, code, _) = ota.call(&rq).await?.error();
        assert_eq!((kind.as_str(), code.as_str()), ("3", "245"), "{rq}");
    }
    assert_eq!(ota.call(&read_rq(14, "SX-HOLD-1")).await?.error().1, "320");
    assert_eq!(
        ota.call(&cancel_rq(10, "X", "Modify")).await?.error().1,
        "320"
    );
    Ok(())
}

#[tokio::test]
async fn cancel_penalties_follow_the_plan_and_quote_leaves_the_booking() -> TestResult {
    let ota = Ota::start().await?;
    // Non-refundable: the whole stay, from booking.
    let f = ota.find(30);
    let nrf = ota.quote(&f, 1, 1).total;
    let b = ota.booking(&f, "AGT-NRF", "NRFRO", &money(nrf));
    let confirmation = ota.book(&b).await?;
    let quote = ota.call(&cancel_rq(10, &confirmation, "Quote")).await?.ok();
    assert_eq!(quote.attr("Status"), Some("Pending"));
    assert!(quote.path(OTA_NS, &["CancelInfoRS", "UniqueID"]).is_none());
    assert_eq!(
        attr(
            &quote,
            &["CancelInfoRS", "CancelRules", "CancelRule", "Amount"],
            "Amount"
        ),
        money(nrf)
    );
    assert_eq!(ota.state().bookings.lock()[0].status, "Book");
    let cancelled = ota.call(&cancel_rq(16, "AGT-NRF", "Cancel")).await?.ok();
    assert_eq!(
        attr(
            &cancelled,
            &["CancelInfoRS", "CancelRules", "CancelRule", "Amount"],
            "Amount"
        ),
        money(nrf)
    );
    assert_eq!(
        ota.call(&cancel_rq(16, "AGT-NRF", "Quote"))
            .await?
            .error()
            .1,
        "95"
    );

    // Refundable inside the deadline (check-in tomorrow): the first night.
    let near = ota.find(1);
    assert_eq!(near.start, ota.day(1));
    let q = ota.quote(&near, 0, 1);
    let b = ota.booking(&near, "AGT-NEAR", "FLEXBB", &money(q.total));
    let confirmation = ota.book(&b).await?;
    let cancelled = ota
        .call(&cancel_rq(10, &confirmation, "Cancel"))
        .await?
        .ok();
    assert_eq!(
        attr(
            &cancelled,
            &["CancelInfoRS", "CancelRules", "CancelRule", "Amount"],
            "Amount"
        ),
        money(q.nightly[0])
    );
    Ok(())
}

#[tokio::test]
async fn price_up_raises_the_recheck_and_initiate_then_sees_189() -> TestResult {
    let ota = Ota::start().await?;
    let f = ota.find(30);
    let quote = ota.quote(&f, 0, 1);
    let raised: Decimal = quote
        .nightly
        .iter()
        .map(|n| (n * Decimal::new(110, 2)).round_dp(2))
        .sum();
    let scenario = [("X-Sim-Scenario", "price_up:10")];
    let recheck_rq = recheck_rq(&f.hotel, &f.room_code, "FLEXBB", f.start, f.end);
    let recheck = ota.call_with(&recheck_rq, &scenario).await?.ok();
    assert_eq!(
        attr(
            &recheck,
            &["RoomStays", "RoomStay", "Total"],
            "AmountAfterTax"
        ),
        money(raised)
    );
    assert_eq!(
        attr(
            &recheck,
            &[
                "RoomStays",
                "RoomStay",
                "RatePlans",
                "RatePlan",
                "CancelPenalties",
                "CancelPenalty",
                "AmountPercent"
            ],
            "Amount"
        ),
        money((quote.nightly[0] * Decimal::new(110, 2)).round_dp(2))
    );
    // Searches are not affected.
    let search = ota
        .call_with(&avail_rq(&[&f.hotel], f.start, f.end, 1, ""), &scenario)
        .await?
        .ok();
    assert_eq!(
        attr(
            find_stay_of(&search, &f.room_code, "FLEXBB"),
            &["Total"],
            "AmountAfterTax"
        ),
        money(quote.total)
    );
    let old = ota.booking(&f, "AGT-UP", "FLEXBB", &money(quote.total));
    let (_, code, text) = ota.call_with(&old.initiate(), &scenario).await?.error();
    assert_eq!(code, "189");
    assert!(
        text.contains(&money(quote.total)) && text.contains(&money(raised)),
        "{text}"
    );
    let new = ota.booking(&f, "AGT-UP", "FLEXBB", &money(raised));
    ota.call_with(&new.initiate(), &scenario).await?.ok();
    Ok(())
}

#[tokio::test]
async fn sold_out_scenarios_hit_recheck_and_initiate_only() -> TestResult {
    let ota = Ota::start().await?;
    let f = ota.find(30);
    ota.admin(
        "POST",
        "/__sim/scenario",
        Some(json!({"scenario": "sold_out_at_recheck", "operations": ["recheck"]})),
    )
    .await?;
    let rs = ota
        .call(&recheck_rq(
            &f.hotel,
            &f.room_code,
            "FLEXBB",
            f.start,
            f.end,
        ))
        .await?
        .ok();
    assert_eq!(attr(&rs, &["Warnings", "Warning"], "Code"), "322");
    assert!(rs.child(OTA_NS, "RoomStays").is_none());
    let search = ota
        .call(&avail_rq(&[&f.hotel], f.start, f.end, 1, ""))
        .await?
        .ok();
    assert!(!stay_codes(&search).is_empty());

    ota.admin("DELETE", "/__sim/scenario", None).await?;
    let total = money(ota.quote(&f, 0, 1).total);
    let b = ota.booking(&f, "AGT-SOLD", "FLEXBB", &total);
    let scenario = [("X-Sim-Scenario", "sold_out_at_book")];
    let (kind, code, _) = ota.call_with(&b.initiate(), &scenario).await?.error();
    assert_eq!((kind.as_str(), code.as_str()), ("3", "322"));
    assert!(ota.state().bookings.lock().is_empty());
    // A real sell-out answers the same.
    ota.admin(
        "POST",
        "/__sim/sellout",
        Some(json!({"hotel": f.hotel, "room": f.room_code})),
    )
    .await?;
    assert_eq!(ota.call(&b.initiate()).await?.error().1, "322");
    Ok(())
}

#[tokio::test]
async fn commit_then_timeout_books_and_never_answers() -> TestResult {
    let ota = Ota::start().await?;
    let f = ota.find(30);
    let total = money(ota.quote(&f, 0, 1).total);
    let b = ota.booking(&f, "AGT-HANG", "FLEXBB", &total);
    let scenario = [("X-Sim-Scenario", "commit_then_timeout")];
    let pending = ota.call_with(&b.initiate(), &scenario).await?.ok();
    let hold = attr(&pending, &RES_ID, "ResID_Value").to_string();
    let commit = envelope(&good_security(), &b.commit(&hold));
    let hung = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        ota.raw(commit.as_bytes(), &scenario),
    )
    .await;
    assert!(hung.is_err(), "the commit was answered");
    assert_eq!(ota.state().bookings.lock()[0].status, "Book");
    let read = ota.call(&read_rq(16, "AGT-HANG")).await?.ok();
    assert_eq!(attr(&read, &RES, "ResStatus"), "Book");
    assert_eq!(attr(&read, &RES_ID, "ResID_Type"), "10");
    Ok(())
}

#[tokio::test]
async fn generic_failure_scenarios_answer_in_the_protocol_shape() -> TestResult {
    let ota = Ota::start().await?;
    let rq = read_rq(10, "SX-1");
    let server = ota
        .call_with(&rq, &[("X-Sim-Scenario", "server_error")])
        .await?;
    assert_eq!(server.fault().0, "soap-env:Server");
    let auth = ota
        .call_with(&rq, &[("X-Sim-Scenario", "auth_fail")])
        .await?;
    assert_eq!(
        auth.error(),
        (
            "4".into(),
            "497".into(),
            "Invalid username or password".into()
        )
    );
    assert!(auth.rs().is(OTA_NS, "OTA_HotelResRS"));
    assert_eq!(auth.rs().attr("EchoToken"), Some("r-2"));
    let limited = ota
        .call_with(&rq, &[("X-Sim-Scenario", "rate_limited")])
        .await?;
    assert_eq!(limited.error().0, "12");
    assert_eq!(limited.error().1, "450");
    // A default limited to cancels leaves reads alone.
    ota.admin(
        "POST",
        "/__sim/scenario",
        Some(json!({"scenario": "server_error", "operations": ["cancel"]})),
    )
    .await?;
    assert_eq!(ota.call(&rq).await?.error().1, "245");
    assert_eq!(
        ota.call(&cancel_rq(10, "SX-1", "Cancel")).await?.fault().0,
        "soap-env:Server"
    );
    let truncated = ota
        .call_with(&rq, &[("X-Sim-Scenario", "malformed_body")])
        .await?;
    assert_eq!(truncated.status, 200);
    assert!(parse(&truncated.body).is_err());
    Ok(())
}

#[tokio::test]
async fn descriptive_info_describes_the_hotel_from_the_world() -> TestResult {
    let ota = Ota::start().await?;
    let hotel = ota.state().catalog.hotels[0].clone();
    let world = ota.state().world.hotels[hotel.world_idx].clone();
    let rs = ota.call(&content_rq(&hotel.code)).await?.ok();
    assert!(rs.is(OTA_NS, "OTA_HotelDescriptiveInfoRS"));
    assert_eq!(rs.attr("EchoToken"), Some("d-1"));
    let c = at(
        &rs,
        &["HotelDescriptiveContents", "HotelDescriptiveContent"],
    );
    assert_eq!(c.attr("HotelCode"), Some(hotel.code.as_str()));
    assert_eq!(c.attr("HotelName"), Some(hotel.name.as_str()));
    let lat: f64 = attr(c, &["HotelInfo", "Position"], "Latitude").parse()?;
    let lon: f64 = attr(c, &["HotelInfo", "Position"], "Longitude").parse()?;
    assert!((lat - world.lat).abs() < 1e-4 && (lon - world.lon).abs() < 1e-4);
    let services = c.all(OTA_NS, &["HotelInfo", "Services", "Service"]);
    assert_eq!(services.len(), world.amenities.len());
    if let Some(i) = world.amenities.iter().position(|a| *a == "WIFI") {
        assert_eq!(services[i].attr("Code"), Some("178"));
        assert_eq!(at(services[i], &["DescriptiveText"]).text(), "Free Wi-Fi");
    }
    let rooms = c.all(OTA_NS, &["FacilityInfo", "GuestRooms", "GuestRoom"]);
    assert_eq!(rooms.len(), hotel.rooms.len());
    for (el, room) in rooms.iter().zip(&hotel.rooms) {
        assert_eq!(el.attr("Code"), Some(room.code.as_str()));
        assert_eq!(el.attr("RoomTypeName"), Some(room.name.as_str()));
        assert_eq!(
            el.attr("MaxOccupancy"),
            Some(room.max_occupancy.to_string().as_str())
        );
    }
    let address = at(c, &["ContactInfos", "ContactInfo", "Addresses", "Address"]);
    assert_eq!(at(address, &["AddressLine"]).text(), world.address);
    assert_eq!(at(address, &["CityName"]).text(), world.dest().city);
    assert_eq!(
        attr(address, &["CountryName"], "Code"),
        world.dest().country
    );
    assert_eq!(
        attr(c, &["AffiliationInfo", "Awards", "Award"], "Rating"),
        world.stars.to_string()
    );

    assert_eq!(ota.call(&content_rq("NOPE01")).await?.error().1, "392");
    let two = content_rq(&hotel.code).replace(
        "</HotelDescriptiveInfos>",
        &format!(
            r#"<HotelDescriptiveInfo HotelCode="{}"/></HotelDescriptiveInfos>"#,
            hotel.code
        ),
    );
    assert_eq!(ota.call(&two).await?.error().1, "320");
    assert_eq!(ota.state().counters().get("descriptive_info"), Some(&3));
    Ok(())
}

#[tokio::test]
async fn every_truncation_of_every_message_gets_an_answer() -> TestResult {
    let ota = Ota::start().await?;
    let f = ota.find(30);
    let b = ota.booking(&f, "AGT-CUT", "FLEXBB", "100.00");
    let messages = [
        avail_rq(&[&f.hotel], f.start, f.end, 1, ""),
        b.initiate(),
        b.commit("SX-HOLD-1"),
        read_rq(10, "SX-1"),
        cancel_rq(16, "AGT-CUT", "Quote"),
        content_rq(&f.hotel),
    ];
    for m in messages {
        let whole = envelope(&good_security(), &m);
        for cut in (0..whole.len()).step_by(37) {
            let body = &whole.as_bytes()[..cut];
            let reply = ota.raw(body, &[]).await?;
            assert!(
                [200, 500].contains(&reply.status) && parse(&reply.body).is_ok(),
                "{} → {}",
                String::from_utf8_lossy(body),
                reply.text()
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn extreme_values_are_answered_not_panicked_on() -> TestResult {
    let ota = Ota::start().await?;
    let f = ota.find(30);
    let huge = [("X-Sim-Scenario", "price_up:79228162514264337593543950335")];
    let recheck = recheck_rq(&f.hotel, &f.room_code, "FLEXBB", f.start, f.end);
    let rs = ota.call_with(&recheck, &huge).await?.ok();
    assert_eq!(attr(&rs, &["Warnings", "Warning"], "Code"), "322");

    let same: Vec<&str> = vec![f.hotel.as_str(); 19_000];
    let started = std::time::Instant::now();
    let rs = ota
        .call(&avail_rq(&same, f.start, f.end, 1, ""))
        .await?
        .ok();
    assert!(!stay_codes(&rs).is_empty());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    let many: Vec<String> = (0..201).map(|i| format!("X{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let (_, code, text) = ota
        .call(&avail_rq(&many, f.start, f.end, 1, ""))
        .await?
        .error();
    assert_eq!(code, "320");
    assert!(text.contains("At most 200 hotels"), "{text}");

    let b = ota.booking(&f, "AGT-BIG", "FLEXBB", "79228162514264337593543950335");
    assert_eq!(ota.call(&b.initiate()).await?.error().1, "189");
    let long = "x".repeat(65);
    let rq = b.initiate().replace("Lovelace", &long);
    assert_eq!(ota.call(&rq).await?.error().1, "320");
    Ok(())
}
