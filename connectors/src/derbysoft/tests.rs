//! Byte-level tests of the DerbySoft connector against the examples of `derbysoft.md`.

use super::*;
use rstest::rstest;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/derbysoft/",
            $name
        ))
        .as_slice()
    };
}

const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhcmlnYXRlLWRpc3RyaWJ1dG9yIiwiaWF0IjoxNzY3MjI1NjAwLCJleHAiOjE3NjcyMjkyMDB9.hZeMwgm6S0U7AFdmDnH8Ce5b6X1EI350LOTw7oXAUmo";

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn eur(s: &str) -> Money {
    Money::new(dec(s), "EUR")
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn creds(mode: AuthMode) -> Credentials {
    Credentials {
        key: "arigate-distributor".into(),
        secret: "derby-secret".into(),
        account: None,
        mode,
    }
}

fn connector() -> Derbysoft {
    Derbysoft::new(creds(AuthMode::Native))
}

fn cx() -> CallContext<'static> {
    CallContext {
        now: 1767225600,
        nonce: "n0nce42",
        base_url: "http://127.0.0.1:9104",
        bearer: Some(JWT),
        customer_ip: "203.0.113.9",
    }
}

fn stay() -> Stay {
    Stay {
        checkin: d("2027-01-15"),
        checkout: d("2027-01-17"),
    }
}

fn rooms(n: usize, child: bool) -> Vec<Occupancy> {
    vec![
        Occupancy {
            adults: 2,
            children_ages: if child { vec![6] } else { vec![] }
        };
        n
    ]
}

fn query(n: usize) -> SearchQuery {
    SearchQuery {
        stay: stay(),
        rooms: rooms(n, true),
        hotels: vec!["PT-LIS-0042".into(), "PT-LIS-0077".into()],
        currency: "EUR".into(),
        nationality: "FR".into(),
    }
}

fn offer(price: &str) -> OfferKey {
    OfferKey {
        hotel: "PT-LIS-0042".into(),
        room: "SUP-DBL-SV".into(),
        rate: "BAR-BB".into(),
        stay: stay(),
        rooms: rooms(1, false),
        price: eur(price),
        token: String::new(),
    }
}

fn book_input() -> BookInput {
    BookInput {
        guests: vec![Guest {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
        }],
        client_reference: "AGT-7Q2K9".into(),
        email: "bookings@agency.example".into(),
        phone: "+33 155501234".into(),
    }
}

fn prepared() -> Prepared {
    Prepared {
        handle: "bt-7c1e4a".into(),
        price: eur("242.00"),
        expires_at: Some(t("2026-11-22T10:20:00Z")),
    }
}

fn booked_key() -> BookingKey {
    BookingKey {
        supplier_reference: "DRB-55120".into(),
        client_reference: "AGT-7Q2K9".into(),
        token: "dsr1:AGT-7Q2K9:DRB-55120:HTL-9931".into(),
    }
}

fn ok(body: &[u8]) -> WireResponse {
    WireResponse::new(200, body.to_vec())
}

fn json_of(req: &WireRequest) -> Value {
    serde_json::from_slice(&req.body).unwrap()
}

fn build(call: &Call) -> WireRequest {
    connector().build(call, &cx()).unwrap()
}

fn parse(call: &Call, resp: WireResponse) -> SupplierResult<Reply> {
    connector().parse(call, &resp)
}

// ---------------------------------------------------------------------------------------------
// Auth

#[test]
fn token_request_is_the_spec_basic_example() {
    let req = build(&Call::Token);
    assert_eq!(
        (req.method, req.path.as_str()),
        (Method::Post, "/oauth/token")
    );
    assert_eq!(
        req.get_header("Authorization"),
        Some("Basic YXJpZ2F0ZS1kaXN0cmlidXRvcjpkZXJieS1zZWNyZXQ=")
    );
    assert_eq!(
        req.get_header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(req.body, b"grant_type=client_credentials");
}

#[test]
fn token_answer() {
    let reply = parse(&Call::Token, ok(fixture!("token_rs.json"))).unwrap();
    assert_eq!(
        reply,
        Reply::Token {
            access_token: JWT.into(),
            expires_in: 3600
        }
    );
    let reply = parse(
        &Call::Token,
        ok(br#"{"access_token":"abc","token_type":"bearer"}"#),
    )
    .unwrap();
    assert_eq!(
        reply,
        Reply::Token {
            access_token: "abc".into(),
            expires_in: 3600
        }
    );
}

#[rstest]
#[case::unauthorised(401, r#"{"error":"Key not authorised"}"#, ErrorClass::AuthFailed)]
#[case::invalid_client(400, r#"{"error":"invalid_client"}"#, ErrorClass::AuthFailed)]
#[case::bad_grant(
    400,
    r#"{"error":"unsupported_grant_type"}"#,
    ErrorClass::InvalidRequest
)]
#[case::server(503, "", ErrorClass::SupplierUnavailable)]
#[case::no_token(
    200,
    r#"{"token_type":"Bearer","expires_in":3600}"#,
    ErrorClass::SupplierMalformed
)]
#[case::empty_token(
    200,
    r#"{"access_token":"","expires_in":3600}"#,
    ErrorClass::SupplierMalformed
)]
#[case::not_bearer(
    200,
    r#"{"access_token":"x","token_type":"mac"}"#,
    ErrorClass::SupplierMalformed
)]
#[case::negative_ttl(
    200,
    r#"{"access_token":"x","expires_in":-5}"#,
    ErrorClass::SupplierMalformed
)]
#[case::truncated(
    200,
    r#"{"access_token":"eyJhbGciOiJIUzI1Ni"#,
    ErrorClass::SupplierMalformed
)]
fn token_failures(#[case] status: u16, #[case] body: &str, #[case] class: ErrorClass) {
    assert_eq!(
        parse(&Call::Token, WireResponse::new(status, body))
            .unwrap_err()
            .class,
        class
    );
}

#[test]
fn bearer_only_in_native_mode() {
    assert!(connector().needs_bearer());
    assert!(!Derbysoft::new(creds(AuthMode::Basic)).needs_bearer());
    assert!(!Derbysoft::new(creds(AuthMode::Oauth1)).needs_bearer());
    assert_eq!(
        Derbysoft::new(creds(AuthMode::Basic))
            .build(&Call::Token, &cx())
            .unwrap_err()
            .class,
        ErrorClass::InvalidRequest
    );
}

#[test]
fn native_calls_carry_the_bearer_and_need_one() {
    let req = build(&Call::Search { query: query(1) });
    assert_eq!(
        req.get_header("Authorization"),
        Some(format!("Bearer {JWT}").as_str())
    );
    assert_eq!(
        req.get_header("Content-Type"),
        Some("application/json;charset=utf-8")
    );
    for bearer in [None, Some("")] {
        let err = connector()
            .build(
                &Call::Search { query: query(1) },
                &CallContext { bearer, ..cx() },
            )
            .unwrap_err();
        assert_eq!(err.class, ErrorClass::InvalidRequest);
    }
}

#[test]
fn basic_and_oauth1_modes() {
    let req = Derbysoft::new(creds(AuthMode::Basic))
        .build(
            &Call::Search { query: query(1) },
            &CallContext {
                bearer: None,
                ..cx()
            },
        )
        .unwrap();
    assert_eq!(
        req.get_header("Authorization"),
        Some("Basic YXJpZ2F0ZS1kaXN0cmlidXRvcjpkZXJieS1zZWNyZXQ=")
    );
    let req = Derbysoft::new(creds(AuthMode::Oauth1))
        .build(
            &Call::Recheck {
                offer: offer("242.00"),
            },
            &cx(),
        )
        .unwrap();
    let expected = auth::oauth1_header(
        "POST",
        "http://127.0.0.1:9104/bookingusb/v4/availability",
        "arigate-distributor",
        "derby-secret",
        "n0nce42",
        1767225600,
    );
    assert_eq!(req.get_header("Authorization"), Some(expected.as_str()));
}

#[test]
fn echo_header() {
    let body = json_of(&build(&Call::Content {
        hotels: vec!["PT-LIS-0042".into()],
    }));
    let header = &body["header"];
    assert_eq!(header["distributorId"], "ARIGATE");
    assert_eq!(header["version"], "v4");
    let token = header["token"].as_str().unwrap();
    assert_eq!(token, correlation_id("n0nce42"));
    let groups: Vec<usize> = token.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12]);
    assert_eq!(&token[14..15], "4");
    assert_ne!(token, correlation_id("n0nce43"));
    assert!(!token.contains(JWT));

    let c = Derbysoft::new(Credentials {
        account: Some("ACME".into()),
        ..creds(AuthMode::Native)
    });
    let body: Value = serde_json::from_slice(
        &c.build(
            &Call::Content {
                hotels: vec!["X".into()],
            },
            &cx(),
        )
        .unwrap()
        .body,
    )
    .unwrap();
    assert_eq!(body["header"]["distributorId"], "ACME");
}

#[test]
fn supports_one_occupancy_shape() {
    let c = connector();
    assert!(c.supports(&query(3)));
    let mut q = query(2);
    q.rooms[1].adults = 1;
    assert!(!c.supports(&q));
    q.rooms.clear();
    assert!(!c.supports(&q));
}

// ---------------------------------------------------------------------------------------------
// Requests

#[test]
fn search_request() {
    let req = build(&Call::Search { query: query(1) });
    assert_eq!(req.path, "/shoppingengine/v4/shopping/multihotels");
    let mut body = json_of(&req);
    body.as_object_mut().unwrap().remove("header");
    assert_eq!(
        body,
        json!({"hotels":[{"hotelId":"PT-LIS-0042"},{"hotelId":"PT-LIS-0077"}],
               "stayRange":{"checkin":"2027-01-15","checkout":"2027-01-17"},
               "roomCriteria":{"roomCount":1,"adultCount":2,"childCount":1,"childAges":[6]}})
    );
}

#[test]
fn recheck_and_prebook_requests() {
    let req = build(&Call::Recheck {
        offer: offer("242.00"),
    });
    assert_eq!(req.path, "/bookingusb/v4/availability");
    let body = json_of(&req);
    assert_eq!(body["hotelId"], "PT-LIS-0042");
    assert!(body.get("hotels").is_none());
    assert_eq!(
        body["roomCriteria"],
        json!({"roomCount":1,"adultCount":2,"childCount":0,"childAges":[]})
    );

    let req = build(&Call::Prepare {
        offer: offer("242.00"),
        book: book_input(),
    });
    assert_eq!(req.path, "/bookingusb/v4/reservation/prebook");
    let body = json_of(&req);
    assert_eq!(
        body["roomRates"],
        json!([{"roomId":"SUP-DBL-SV","rateId":"BAR-BB"}])
    );
    assert_eq!(
        body["total"],
        json!({"amountAfterTax":"242.00","currency":"EUR"})
    );
}

#[test]
fn book_request() {
    let req = build(&Call::Book {
        offer: offer("242.00"),
        book: book_input(),
        prepared: Some(prepared()),
    });
    assert_eq!(req.path, "/bookingusb/v4/reservation/book");
    let mut body = json_of(&req);
    body.as_object_mut().unwrap().remove("header");
    assert_eq!(
        body,
        json!({"reservationIds":{"distributorResId":"AGT-7Q2K9"},"hotelId":"PT-LIS-0042",
               "stayRange":{"checkin":"2027-01-15","checkout":"2027-01-17"},"roomCriteria":{"roomCount":1,"adultCount":2,"childCount":0,"childAges":[]},
               "contactPerson":{"firstName":"Ada","lastName":"Lovelace","email":"bookings@agency.example"},
               "guests":[{"firstName":"Ada","lastName":"Lovelace","type":"Adult","index":1}],
               "roomRates":[{"roomId":"SUP-DBL-SV","rateId":"BAR-BB"}],
               "total":{"amountAfterTax":"242.00","currency":"EUR"},"bookingToken":"bt-7c1e4a"})
    );
}

#[test]
fn guests_are_spread_over_rooms() {
    let list: Vec<Guest> = ["A", "B", "C", "D", "E"]
        .iter()
        .map(|n| Guest {
            first_name: (*n).into(),
            last_name: "X".into(),
        })
        .collect();
    let two_rooms = vec![
        Occupancy {
            adults: 1,
            children_ages: vec![9, 4]
        };
        2
    ];
    let got: Vec<(String, String, u64, Option<u64>)> = guests(&list, &two_rooms)
        .iter()
        .map(|g| {
            (
                g["firstName"].as_str().unwrap().into(),
                g["type"].as_str().unwrap().into(),
                g["index"].as_u64().unwrap(),
                g["age"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("A".into(), "Adult".into(), 1, None),
            ("B".into(), "Adult".into(), 2, None),
            ("C".into(), "Child".into(), 1, Some(9)),
            ("D".into(), "Child".into(), 2, Some(9)),
            ("E".into(), "Child".into(), 1, Some(4)),
        ]
    );
}

#[rstest]
#[case::retrieve(Call::Retrieve { booking: booked_key() }, "/bookingusb/v4/reservation/detail",
    json!({"distributorResId":"AGT-7Q2K9","derbyResId":"DRB-55120","supplierResId":"HTL-9931"}))]
#[case::retrieve_without_token(Call::Retrieve { booking: BookingKey { token: String::new(), ..booked_key() } }, "/bookingusb/v4/reservation/detail",
    json!({"distributorResId":"AGT-7Q2K9","derbyResId":"DRB-55120"}))]
#[case::find(Call::Find { client_reference: "AGT-7Q2K9".into(), offer: offer("242.00"), email: String::new() }, "/bookingusb/v4/reservation/detail",
    json!({"distributorResId":"AGT-7Q2K9"}))]
#[case::cancel(Call::Cancel { booking: booked_key(), confirm: None }, "/bookingusb/v4/reservation/cancel",
    json!({"distributorResId":"AGT-7Q2K9","derbyResId":"DRB-55120","supplierResId":"HTL-9931"}))]
fn reservation_lookups(#[case] call: Call, #[case] path: &str, #[case] ids: Value) {
    let req = build(&call);
    assert_eq!(req.path, path);
    assert_eq!(json_of(&req)["reservationIds"], ids);
}

#[rstest]
#[case::cancel_quote(Call::CancelQuote { booking: booked_key() })]
#[case::book_without_token(Call::Book { offer: offer("242.00"), book: book_input(), prepared: None })]
#[case::book_without_guest(Call::Book { offer: offer("242.00"), book: BookInput { guests: vec![], ..book_input() }, prepared: Some(prepared()) })]
#[case::mixed_rooms(Call::Recheck { offer: OfferKey { rooms: vec![Occupancy { adults: 1, children_ages: vec![] }, Occupancy { adults: 2, children_ages: vec![] }], ..offer("1") } })]
#[case::garbled_token(Call::Cancel { booking: BookingKey { token: "dsr1:only-two:parts".into(), ..booked_key() }, confirm: None })]
#[case::foreign_token(Call::Retrieve { booking: BookingKey { token: "rapid:https://x".into(), ..booked_key() } })]
#[case::bad_escape_token(Call::Retrieve { booking: BookingKey { token: "dsr1:%FF%FE:a:b".into(), ..booked_key() } })]
#[case::too_many_parts(Call::Retrieve { booking: BookingKey { token: "dsr1:a:b:c:d".into(), ..booked_key() } })]
#[case::no_ids(Call::Retrieve { booking: BookingKey { supplier_reference: String::new(), client_reference: String::new(), token: String::new() } })]
fn unusable_calls_are_invalid(#[case] call: Call) {
    assert_eq!(
        connector().build(&call, &cx()).unwrap_err().class,
        ErrorClass::InvalidRequest
    );
}

#[rstest]
#[case(&["AGT-7Q2K9", "DRB-55120", "HTL-9931"])]
#[case(&["a:b", "c%d", "ü é"])]
#[case(&["", "DRB-1", ""])]
fn token_round_trip(#[case] parts: &[&str; 3]) {
    let opt = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
    let ids = ResIds {
        distributor_res_id: opt(parts[0]),
        derby_res_id: opt(parts[1]),
        supplier_res_id: opt(parts[2]),
    };
    assert_eq!(ResIds::decode(&ids.encode()), Some(ids));
}

// ---------------------------------------------------------------------------------------------
// Answers

fn spec_offer(n: usize) -> SupplierOffer {
    let k = Decimal::from(n as u64);
    let price = Money::new(dec("242.00") * k, "EUR");
    SupplierOffer {
        room_code: "SUP-DBL-SV".into(),
        room_name: "Superior Double Sea View".into(),
        rate_code: "BAR-BB".into(),
        rate_name: "Best Available, Breakfast".into(),
        board: Board::Breakfast,
        refundable: true,
        cancel_penalties: vec![Penalty {
            from: CancelTime::parse("2027-01-13T23:59:00").unwrap(),
            amount: Money::new(dec("121.00") * k, "EUR"),
        }],
        price: price.clone(),
        // City Tax 2.00 per person per night: 3 persons × 2 nights × n rooms.
        taxes_included: true,
        pay_at_hotel: vec![Fee {
            name: "City Tax".into(),
            amount: Money::new(dec("12.00") * k, "EUR"),
        }],
        pay_at_hotel_listed: true,
        allotment: Some(6),
        key: OfferKey {
            hotel: "PT-LIS-0042".into(),
            room: "SUP-DBL-SV".into(),
            rate: "BAR-BB".into(),
            stay: stay(),
            rooms: rooms(n, true),
            price,
            token: String::new(),
        },
    }
}

#[rstest]
#[case(1)]
#[case(2)]
fn search_answer(#[case] n: usize) {
    let reply = parse(
        &Call::Search { query: query(n) },
        ok(fixture!("shopping_rs.json")),
    )
    .unwrap();
    let expected = vec![HotelOffers {
        hotel_code: "PT-LIS-0042".into(),
        hotel_name: String::new(),
        offers: vec![spec_offer(n)],
    }];
    assert_eq!(reply, Reply::Search { hotels: expected });
    let Reply::Search { hotels } = reply else {
        panic!()
    };
    assert_eq!(
        hotels[0].offers[0].price.amount.to_string(),
        if n == 1 { "242.00" } else { "484.00" }
    );
}

#[test]
fn empty_search() {
    let reply = parse(
        &Call::Search { query: query(1) },
        ok(br#"{"header":{},"availHotels":[]}"#),
    )
    .unwrap();
    assert_eq!(reply, Reply::Search { hotels: vec![] });
}

fn rate_with(fees: &str, policy: &str) -> Vec<u8> {
    format!(
        r#"{{"availHotels":[{{"hotelId":"H","roomRates":[{{"roomId":"R","rateId":"P","currency":"EUR","mealPlan":"RO",
        "amountBeforeTax":["100.00","80.00"],"amountAfterTax":["110.00","90.00"],"fees":[{fees}]{policy}}}]}}]}}"#
    )
    .into_bytes()
}

fn only_offer(body: &[u8], n: usize) -> SupplierOffer {
    match parse(&Call::Search { query: query(n) }, ok(body)).unwrap() {
        Reply::Search { mut hotels } => hotels.remove(0).offers.remove(0),
        other => panic!("{other:?}"),
    }
}

/// 2 rooms of 2 adults + 1 child, 2 nights.
#[rstest]
#[case::per_person_per_night("PerPersonPerNight", "Fixed", "2.00", "24.00")]
#[case::per_person_per_stay("PerPersonPerStay", "Fixed", "2.00", "12.00")]
#[case::per_night("PerNight", "Fixed", "5.00", "20.00")]
#[case::per_room_per_night("PerRoomPerNight", "Fixed", "5.00", "20.00")]
#[case::per_stay("PerStay", "Fixed", "7.50", "15.00")]
#[case::per_room("PerRoom", "Fixed", "7.50", "15.00")]
#[case::per_booking("PerBooking", "Fixed", "7.50", "7.50")]
#[case::percent_of_before_tax("PerStay", "Percent", "10", "36.00")]
#[case::percent_keeps_full_precision("PerStay", "Percent", "3.333", "11.9988")]
fn exclusive_fee_expansion(
    #[case] charge: &str,
    #[case] kind: &str,
    #[case] amount: &str,
    #[case] expected: &str,
) {
    let fee = format!(
        r#"{{"name":"Resort Fee","type":"Exclusive","amount":"{amount}","amountType":"{kind}","chargeType":"{charge}"}}"#
    );
    let o = only_offer(&rate_with(&fee, ""), 2);
    assert_eq!(
        o.pay_at_hotel,
        vec![Fee {
            name: "Resort Fee".into(),
            amount: eur(expected)
        }]
    );
    assert_eq!(o.price, eur("400.00"));
}

#[test]
fn inclusive_fees_are_not_paid_at_the_hotel() {
    let fee = r#"{"name":"VAT","type":"Inclusive","amount":"10.00","amountType":"Fixed","chargeType":"PerStay"}"#;
    let o = only_offer(&rate_with(fee, ""), 1);
    assert_eq!(o.pay_at_hotel, vec![]);
    // "Search": `amountAfterTax` includes taxes; exclusive fees are listed (here: none).
    assert!(o.taxes_included && o.pay_at_hotel_listed);
    assert_eq!(o.price, eur("200.00"));
}

fn policy(penalties: &str) -> String {
    format!(r#","cancelPolicy":{{"code":"X","cancelPenalties":[{penalties}]}}"#)
}

fn deadline(unit: &str, value: i64, time: &str) -> String {
    format!(
        r#""cancelDeadline":{{"offsetTimeDropType":"BeforeArrival","offsetTimeUnit":"{unit}","offsetTimeValue":{value}{time}}}"#
    )
}

/// 2 rooms; nights cost 110.00 and 90.00 per room.
#[rstest]
#[case::no_policy(String::new(), false, vec![])]
#[case::non_refundable(policy(r#"{"cancellable":false,"noShow":false}"#), false, vec![])]
#[case::first_night(policy(&format!(r#"{{"cancellable":true,{},"penaltyCharge":{{"chargeBase":"NightBase","nights":1}}}}"#, deadline("D", 2, r#","dealineTime":"23:59""#))),
    true, vec![("2027-01-13T23:59:00", "220.00")])]
#[case::nights_capped_at_stay(policy(&format!(r#"{{"cancellable":true,{},"penaltyCharge":{{"chargeBase":"NightBase","nights":5}}}}"#, deadline("D", 1, ""))),
    true, vec![("2027-01-14T00:00:00", "400.00")])]
#[case::hours(policy(&format!(r#"{{"cancellable":true,{},"penaltyCharge":{{"chargeBase":"FullStay"}}}}"#, deadline("H", 36, r#","deadlineTime":"12:00""#))),
    true, vec![("2027-01-14T00:00:00", "400.00")])]
#[case::percent_and_amount(policy(&format!(
        r#"{{"cancellable":true,{},"penaltyCharge":{{"chargeBase":"Percent","percent":"25"}}}},{{"cancellable":true,{},"penaltyCharge":{{"chargeBase":"Amount","amount":"30.00"}}}}"#,
        deadline("D", 3, ""), deadline("D", 7, ""))),
    true, vec![("2027-01-08T00:00:00", "60.00"), ("2027-01-12T00:00:00", "100.00")])]
#[case::after_booking(policy(r#"{"cancellable":true,"cancelDeadline":{"offsetTimeDropType":"AfterBooking","offsetTimeUnit":"H","offsetTimeValue":24},"penaltyCharge":{"chargeBase":"FullStay"}}"#),
    false, vec![])]
#[case::no_show_ignored(policy(&format!(
        r#"{{"cancellable":true,{},"penaltyCharge":{{"chargeBase":"NightBase","nights":1}}}},{{"cancellable":false,"noShow":true}}"#, deadline("D", 2, ""))),
    true, vec![("2027-01-13T00:00:00", "220.00")])]
fn cancel_policies(
    #[case] policy: String,
    #[case] refundable: bool,
    #[case] expected: Vec<(&str, &str)>,
) {
    let o = only_offer(&rate_with("", &policy), 2);
    assert_eq!(o.refundable, refundable);
    let expected: Vec<Penalty> = expected
        .into_iter()
        .map(|(f, a)| Penalty {
            from: CancelTime::parse(f).unwrap(),
            amount: eur(a),
        })
        .collect();
    assert_eq!(o.cancel_penalties, expected);
}

#[rstest]
#[case::ai("AI", Board::AllInclusive)]
#[case::hb("HB", Board::HalfBoard)]
#[case::fb("fb", Board::FullBoard)]
#[case::unknown("XYZ", Board::RoomOnly)]
fn meal_plans(#[case] code: &str, #[case] b: Board) {
    assert_eq!(board(Some(code)), b);
}

fn recheck(body: &[u8], price: &str) -> RecheckOutcome {
    match parse(
        &Call::Recheck {
            offer: offer(price),
        },
        ok(body),
    )
    .unwrap()
    {
        Reply::Recheck { outcome } => outcome,
        other => panic!("{other:?}"),
    }
}

#[test]
fn recheck_outcomes() {
    let same = recheck(fixture!("availability_rs.json"), "242.00");
    assert_eq!(same.status, RecheckStatus::Available);
    assert_eq!(same.price, Some(eur("242.00")));
    assert_eq!(same.key, Some(offer("242.00")));

    let changed = recheck(fixture!("availability_rs.json"), "220.00");
    assert_eq!(changed.status, RecheckStatus::PriceChanged);
    assert_eq!(changed.price, Some(eur("242.00")));
    assert_eq!(changed.key, Some(offer("242.00")));

    let gone = String::from_utf8(fixture!("availability_rs.json").to_vec())
        .unwrap()
        .replace("BAR-BB", "BAR-XX");
    assert_eq!(
        recheck(gone.as_bytes(), "242.00").status,
        RecheckStatus::SoldOut
    );
    let not_available = WireResponse::new(
        409,
        r#"{"header":{},"errorCode":"RoomRateNotAvailable","errorMessage":"no inventory"}"#,
    );
    assert_eq!(
        parse(
            &Call::Recheck {
                offer: offer("242.00")
            },
            not_available
        )
        .unwrap(),
        Reply::Recheck {
            outcome: RecheckOutcome {
                status: RecheckStatus::SoldOut,
                price: None,
                key: None,
                expires_at: None
            }
        }
    );
}

#[test]
fn prebook_answer() {
    let reply = parse(
        &Call::Prepare {
            offer: offer("242.00"),
            book: book_input(),
        },
        ok(fixture!("prebook_rs.json")),
    )
    .unwrap();
    assert_eq!(
        reply,
        Reply::Prepared {
            prepared: prepared()
        }
    );
    let err = parse(
        &Call::Prepare {
            offer: offer("240.00"),
            book: book_input(),
        },
        ok(fixture!("prebook_rs.json")),
    )
    .unwrap_err();
    assert_eq!(err.class, ErrorClass::PriceChanged);
}

fn booking(status: BookingStatus) -> BookingInfo {
    BookingInfo {
        key: booked_key(),
        status,
        price: Some(eur("242.00")),
        hotel_code: Some("PT-LIS-0042".into()),
        stay: Some(stay()),
        penalty: None,
        cancellation_reference: None,
    }
}

#[test]
fn book_answer() {
    let call = Call::Book {
        offer: offer("242.00"),
        book: book_input(),
        prepared: Some(prepared()),
    };
    assert_eq!(
        parse(&call, ok(fixture!("book_rs.json"))).unwrap(),
        Reply::Booking {
            booking: Some(booking(BookingStatus::Confirmed))
        }
    );
}

#[test]
fn detail_answers() {
    let reply = parse(
        &Call::Retrieve {
            booking: booked_key(),
        },
        ok(fixture!("detail_rs.json")),
    )
    .unwrap();
    assert_eq!(
        reply,
        Reply::Booking {
            booking: Some(booking(BookingStatus::Cancelled))
        }
    );
    let nested = format!(
        r#"{{"header":{{}},"reservation":{}}}"#,
        String::from_utf8(fixture!("detail_rs.json").to_vec()).unwrap()
    );
    let find = Call::Find {
        client_reference: "AGT-7Q2K9".into(),
        offer: offer("242.00"),
        email: String::new(),
    };
    assert_eq!(
        parse(&find, ok(nested.as_bytes())).unwrap(),
        Reply::Booking {
            booking: Some(booking(BookingStatus::Cancelled))
        }
    );

    let missing = || {
        WireResponse::new(
            404,
            r#"{"header":{},"errorCode":"ReservationNotFound","errorMessage":"unknown"}"#,
        )
    };
    assert_eq!(
        parse(&find, missing()).unwrap(),
        Reply::Booking { booking: None }
    );
    assert_eq!(
        parse(
            &Call::Retrieve {
                booking: booked_key()
            },
            missing()
        )
        .unwrap_err()
        .class,
        ErrorClass::NotFound
    );
}

#[test]
fn cancel_answer() {
    let reply = parse(
        &Call::Cancel {
            booking: booked_key(),
            confirm: None,
        },
        ok(fixture!("cancel_rs.json")),
    )
    .unwrap();
    assert_eq!(
        reply,
        Reply::Booking {
            booking: Some(BookingInfo {
                key: booked_key(),
                status: BookingStatus::Cancelled,
                price: None,
                hotel_code: None,
                stay: None,
                penalty: Some(eur("0.00")),
                cancellation_reference: Some("CXL-3310".into()),
            })
        }
    );
}

#[test]
fn content_answer() {
    let reply = parse(
        &Call::Content {
            hotels: vec!["PT-LIS-0042".into()],
        },
        ok(fixture!("content_rs.json")),
    )
    .unwrap();
    assert_eq!(
        reply,
        Reply::Content {
            hotels: vec![HotelContent {
                code: "PT-LIS-0042".into(),
                name: "Harbour Lights Lisbon".into(),
                address: Some("Rua do Cais 12".into()),
                city: Some("Lisbon".into()),
                country: Some("PT".into()),
                latitude: Some(38.7071),
                longitude: Some(-9.1355),
                time_zone: None,
                amenities: vec!["WIFI".into(), "POOL".into()],
                rooms: vec![RoomContent {
                    code: "SUP-DBL-SV".into(),
                    name: "Superior Double Sea View".into(),
                    max_occupancy: Some(3)
                }],
            }]
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Errors

#[rstest]
#[case::invalid_field(400, "InvalidField", ErrorClass::InvalidRequest)]
#[case::too_many(429, "TooManyRequests", ErrorClass::RateLimited)]
#[case::reservation(404, "ReservationNotFound", ErrorClass::NotFound)]
#[case::hotel(404, "HotelNotFound", ErrorClass::NotFound)]
#[case::sold_out(409, "RoomRateNotAvailable", ErrorClass::SoldOut)]
#[case::price(409, "PriceChanged", ErrorClass::PriceChanged)]
#[case::expired(410, "BookingTokenExpired", ErrorClass::RateExpired)]
#[case::internal(500, "InternalError", ErrorClass::SupplierUnavailable)]
#[case::already_cancelled(409, "ReservationAlreadyCancelled", ErrorClass::InvalidRequest)]
#[case::unknown_code_by_status(410, "Gone", ErrorClass::RateExpired)]
#[case::unknown_5xx(502, "Whatever", ErrorClass::SupplierUnavailable)]
fn error_table(#[case] status: u16, #[case] code: &str, #[case] class: ErrorClass) {
    let body = format!(
        r#"{{"header":{{"distributorId":"ARIGATE","version":"v4","token":"x"}},"errorCode":"{code}","errorMessage":"field stayRange.checkin"}}"#
    );
    let call = Call::Book {
        offer: offer("242.00"),
        book: book_input(),
        prepared: Some(prepared()),
    };
    let err = parse(&call, WireResponse::new(status, body)).unwrap_err();
    assert_eq!((err.class, err.code.as_str()), (class, code));
    assert_eq!(err.message, "field stayRange.checkin");
}

#[rstest]
#[case::plain_401(401, r#"{"error":"Key not authorised"}"#, ErrorClass::AuthFailed)]
#[case::empty_401(401, "", ErrorClass::AuthFailed)]
#[case::html_503(503, "<html>down</html>", ErrorClass::SupplierUnavailable)]
#[case::empty_500(500, "", ErrorClass::SupplierUnavailable)]
#[case::error_code_on_200(
    200,
    r#"{"errorCode":"PriceChanged","errorMessage":"x"}"#,
    ErrorClass::PriceChanged
)]
#[case::truncated(200, r#"{"header":{"distributorId":"ARIGATE"},"availHotels":[{"hotelId":"PT-LIS-0042","roomRates":[{"roomId":"SUP"#, ErrorClass::SupplierMalformed)]
#[case::empty_200(200, "", ErrorClass::SupplierMalformed)]
#[case::wrong_type(
    200,
    r#"{"availHotels":[{"hotelId":42}]}"#,
    ErrorClass::SupplierMalformed
)]
#[case::amount_not_decimal(200, r#"{"availHotels":[{"hotelId":"H","roomRates":[{"roomId":"R","rateId":"P","currency":"EUR","amountAfterTax":["1x","2"]}]}]}"#, ErrorClass::SupplierMalformed)]
#[case::negative_amount(200, r#"{"availHotels":[{"hotelId":"H","roomRates":[{"roomId":"R","rateId":"P","currency":"EUR","amountAfterTax":["-1.00","2"]}]}]}"#, ErrorClass::SupplierMalformed)]
#[case::nights_mismatch(200, r#"{"availHotels":[{"hotelId":"H","roomRates":[{"roomId":"R","rateId":"P","currency":"EUR","amountAfterTax":["121.00"]}]}]}"#, ErrorClass::SupplierMalformed)]
#[case::unknown_charge_type(200, &String::from_utf8(rate_with(r#"{"type":"Exclusive","amount":"1","amountType":"Fixed","chargeType":"PerFullMoon"}"#, "")).unwrap(), ErrorClass::SupplierMalformed)]
fn transport_and_body_failures(#[case] status: u16, #[case] body: &str, #[case] class: ErrorClass) {
    let err = parse(
        &Call::Search { query: query(1) },
        WireResponse::new(status, body),
    )
    .unwrap_err();
    assert_eq!(err.class, class, "{err}");
}

#[test]
fn confirmed_book_without_derby_id_is_malformed() {
    let call = Call::Book {
        offer: offer("242.00"),
        book: book_input(),
        prepared: Some(prepared()),
    };
    let err = parse(
        &call,
        ok(br#"{"reservationIds":{"distributorResId":"AGT-7Q2K9"},"status":"Confirmed"}"#),
    )
    .unwrap_err();
    assert_eq!(err.class, ErrorClass::SupplierMalformed);
}

#[test]
fn numeric_amounts_are_exact() {
    let body = br#"{"availHotels":[{"hotelId":"H","roomRates":[{"roomId":"R","rateId":"P","currency":"EUR","amountAfterTax":[100.1,100.2]}]}]}"#;
    assert_eq!(only_offer(body, 1).price, eur("200.3"));
}

#[test]
fn every_prefix_of_every_fixture_is_a_classified_error() {
    let c = connector();
    let calls = [
        Call::Token,
        Call::Search { query: query(1) },
        Call::Recheck {
            offer: offer("242.00"),
        },
        Call::Prepare {
            offer: offer("242.00"),
            book: book_input(),
        },
        Call::Book {
            offer: offer("242.00"),
            book: book_input(),
            prepared: Some(prepared()),
        },
        Call::Retrieve {
            booking: booked_key(),
        },
        Call::Cancel {
            booking: booked_key(),
            confirm: None,
        },
        Call::Content {
            hotels: vec!["PT-LIS-0042".into()],
        },
    ];
    crate::testkit::assert_truncations_classified(
        &c,
        &calls,
        &[
            ("shopping_rs.json", fixture!("shopping_rs.json")),
            ("detail_rs.json", fixture!("detail_rs.json")),
            ("content_rs.json", fixture!("content_rs.json")),
        ],
        ErrorClass::SupplierMalformed,
    );
}
