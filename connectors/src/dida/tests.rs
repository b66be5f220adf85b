//! Byte-level tests of the Dida connector against the examples of `dida.md`.

use super::*;
use chrono::NaiveDate;
use rstest::rstest;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/dida/",
            $name
        ))
        .as_slice()
    };
}

const RATE: &str = "1494507509528725623";
const SEARCH_TOKEN: &str = "dida1|1494507509528725623|FR|EUR|";
const CONFIRMED_TOKEN: &str = "dida1|1494507509528725623|FR|EUR|DIDA-RF-71a2c9";

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn eur(s: &str) -> Money {
    Money::new(dec(s), "EUR")
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn creds(mode: AuthMode) -> Credentials {
    match mode {
        AuthMode::Oauth1 => Credentials {
            key: "dida-consumer".into(),
            secret: "consumer-secret".into(),
            account: None,
            mode,
        },
        _ => Credentials {
            key: "DidaApiTestID".into(),
            secret: "TestKey".into(),
            account: None,
            mode,
        },
    }
}

fn connector() -> Dida {
    Dida::new(creds(AuthMode::Native))
}

fn cx() -> CallContext<'static> {
    CallContext {
        now: 1767225600,
        nonce: "n0nce42",
        base_url: "http://127.0.0.1:9105",
        bearer: None,
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
        hotels: vec!["500042".into(), "500077".into()],
        currency: "EUR".into(),
        nationality: "FR".into(),
    }
}

fn offer(price: &str, token: &str) -> OfferKey {
    OfferKey {
        hotel: "500042".into(),
        room: "88001".into(),
        rate: RATE.into(),
        stay: stay(),
        rooms: rooms(1, false),
        price: eur(price),
        token: token.into(),
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

fn booking_key() -> BookingKey {
    BookingKey {
        supplier_reference: "DD-90021".into(),
        client_reference: "AGT-7Q2K9".into(),
        token: String::new(),
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

fn error_body(code: &str) -> Vec<u8> {
    format!(r#"{{"Success":false,"Error":{{"Code":"{code}","Message":"problem {code}"}}}}"#)
        .into_bytes()
}

// ---------------------------------------------------------------------------------------------
// Auth and requests

#[test]
fn search_request_is_the_spec_example() {
    let req = build(&Call::Search { query: query(1) });
    assert_eq!(
        (req.method, req.path.as_str()),
        (Method::Post, "/api/rate/PriceSearch?$format=json")
    );
    assert_eq!(req.get_header("Content-Type"), Some("application/json"));
    assert_eq!(req.get_header("Authorization"), None);
    assert_eq!(
        json_of(&req),
        json!({"Header":{"ClientID":"DidaApiTestID","LicenseKey":"TestKey"},
               "CheckInDate":"2027-01-15","CheckOutDate":"2027-01-17","Currency":"EUR","Nationality":"FR",
               "HotelIDList":[500042,500077],"IsRealTime":{"Value":false},
               "RealTimeOccupancy":{"AdultCount":2,"ChildCount":1,"ChildAgeDetails":[6],"RoomCount":1}})
    );
}

#[test]
fn basic_mode_moves_credentials_to_the_header() {
    let req = Dida::new(creds(AuthMode::Basic))
        .build(&Call::Search { query: query(1) }, &cx())
        .unwrap();
    assert_eq!(
        req.get_header("Authorization"),
        Some("Basic RGlkYUFwaVRlc3RJRDpUZXN0S2V5")
    );
    let body = json_of(&req);
    assert!(body.get("Header").is_none());
    assert!(!String::from_utf8(req.body).unwrap().contains("TestKey"));
}

#[test]
fn oauth1_mode_reproduces_the_worked_example() {
    let req = Dida::new(creds(AuthMode::Oauth1))
        .build(&Call::Search { query: query(1) }, &cx())
        .unwrap();
    assert_eq!(
        req.get_header("Authorization"),
        Some(
            r#"OAuth oauth_consumer_key="dida-consumer", oauth_nonce="n0nce42", oauth_signature="5m9dC3XWhYe9F28biTPc8f%2B4RAU%3D", oauth_signature_method="HMAC-SHA1", oauth_timestamp="1767225600", oauth_version="1.0""#
        )
    );
    assert!(json_of(&req).get("Header").is_none());
}

#[test]
fn supports() {
    let c = connector();
    assert!(c.supports(&query(3)));
    let mut q = query(2);
    q.rooms[0].children_ages.clear();
    assert!(!c.supports(&q), "mixed occupancy");
    let mut q = query(1);
    q.hotels = (0..51).map(|i| (500000 + i).to_string()).collect();
    assert!(!c.supports(&q), "51 hotels");
    q.hotels.truncate(50);
    assert!(c.supports(&q));
    q.hotels.push("PT-LIS-1".into());
    q.hotels.remove(0);
    assert!(!c.supports(&q), "non-numeric id");
}

#[test]
fn price_confirm_request() {
    let req = build(&Call::Recheck {
        offer: offer("236.0", SEARCH_TOKEN),
    });
    assert_eq!(req.path, "/api/rate/PriceConfirm?$format=json");
    assert_eq!(
        json_of(&req),
        json!({"Header":{"ClientID":"DidaApiTestID","LicenseKey":"TestKey"},"PreBook":true,"CheckInDate":"2027-01-15","CheckOutDate":"2027-01-17",
               "NumOfRooms":1,"HotelID":500042,"OccupancyDetails":[{"RoomNum":1,"AdultCount":2,"ChildCount":0,"ChildAgeDetails":[]}],
               "Currency":"EUR","Nationality":"FR","RatePlanID":RATE,"IsNeedOnRequest":false})
    );
    let prepare = build(&Call::Prepare {
        offer: offer("236.0", SEARCH_TOKEN),
        book: book_input(),
    });
    assert_eq!(
        (prepare.path.as_str(), json_of(&prepare)),
        (req.path.as_str(), json_of(&req))
    );
}

#[test]
fn book_request_is_the_spec_example() {
    let prepared = Prepared {
        handle: "DIDA-RF-71a2c9".into(),
        price: eur("236.0"),
        expires_at: None,
    };
    let req = build(&Call::Book {
        offer: offer("236.0", SEARCH_TOKEN),
        book: book_input(),
        prepared: Some(prepared),
    });
    assert_eq!(req.path, "/api/booking/HotelBookingConfirm?$format=json");
    assert_eq!(
        json_of(&req),
        json!({"Header":{"ClientID":"DidaApiTestID","LicenseKey":"TestKey"},"ReferenceNo":"DIDA-RF-71a2c9","ClientReference":"AGT-7Q2K9",
               "CheckInDate":"2027-01-15","CheckOutDate":"2027-01-17","NumOfRooms":1,
               "GuestList":[{"RoomNum":1,"GuestInfo":[{"Name":{"First":"Ada","Last":"Lovelace"},"IsAdult":true}]}],
               "Contact":{"Name":{"First":"Ada","Last":"Lovelace"},"Email":"bookings@agency.example","Phone":"+33155501234"}})
    );
    let from_recheck = build(&Call::Book {
        offer: offer("236.0", CONFIRMED_TOKEN),
        book: book_input(),
        prepared: None,
    });
    assert_eq!(json_of(&from_recheck)["ReferenceNo"], "DIDA-RF-71a2c9");
}

#[test]
fn guests_fill_every_room() {
    let two = vec![
        Occupancy {
            adults: 1,
            children_ages: vec![5]
        };
        2
    ];
    let list: Vec<Guest> = ["A", "B", "C"]
        .iter()
        .map(|n| Guest {
            first_name: (*n).into(),
            last_name: "X".into(),
        })
        .collect();
    assert_eq!(
        Value::Array(guest_list(&list, &two)),
        json!([
            {"RoomNum":1,"GuestInfo":[{"Name":{"First":"A","Last":"X"},"IsAdult":true},{"Name":{"First":"C","Last":"X"},"IsAdult":false,"Age":5}]},
            {"RoomNum":2,"GuestInfo":[{"Name":{"First":"B","Last":"X"},"IsAdult":true}]}
        ])
    );
    let lead_only = &list[..1];
    assert_eq!(
        Value::Array(guest_list(lead_only, &two)),
        json!([
            {"RoomNum":1,"GuestInfo":[{"Name":{"First":"A","Last":"X"},"IsAdult":true}]},
            {"RoomNum":2,"GuestInfo":[{"Name":{"First":"A","Last":"X"},"IsAdult":true}]}
        ])
    );
}

#[rstest]
#[case::retrieve(Call::Retrieve { booking: booking_key() }, "/api/booking/HotelBookingSearch?$format=json", json!({"SearchBy":{"BookingID":"DD-90021"}}))]
#[case::find(Call::Find { client_reference: "AGT-7Q2K9".into(), offer: offer("236.0", SEARCH_TOKEN), email: String::new() },
    "/api/booking/HotelBookingSearch?$format=json", json!({"SearchBy":{"ClientReference":"AGT-7Q2K9"}}))]
#[case::quote(Call::CancelQuote { booking: booking_key() }, "/api/booking/HotelBookingCancel?$format=json", json!({"BookingID":"DD-90021","ConfirmID":""}))]
#[case::cancel(Call::Cancel { booking: booking_key(), confirm: Some("CF-22".into()) }, "/api/booking/HotelBookingCancel?$format=json",
    json!({"BookingID":"DD-90021","ConfirmID":"CF-22"}))]
#[case::content(Call::Content { hotels: vec!["500042".into()] }, "/api/static/HotelDetail?$format=json", json!({"HotelIDList":[500042]}))]
fn other_requests(#[case] call: Call, #[case] path: &str, #[case] mut expected: Value) {
    let req = build(&call);
    assert_eq!(req.path, path);
    expected["Header"] = json!({"ClientID":"DidaApiTestID","LicenseKey":"TestKey"});
    assert_eq!(json_of(&req), expected);
}

#[rstest]
#[case::token(Call::Token)]
#[case::cancel_without_quote(Call::Cancel { booking: booking_key(), confirm: None })]
#[case::book_without_reference(Call::Book { offer: offer("236.0", SEARCH_TOKEN), book: book_input(), prepared: None })]
#[case::non_numeric_hotel(Call::Content { hotels: vec!["PT-LIS-0042".into()] })]
#[case::empty_token(Call::Recheck { offer: offer("236.0", "") })]
#[case::foreign_token(Call::Recheck { offer: offer("236.0", "dsr1:a:b:c") })]
#[case::short_token(Call::Prepare { offer: offer("236.0", "dida1|1494507509528725623|FR"), book: book_input() })]
#[case::long_token(Call::Prepare { offer: offer("236.0", "dida1|1494507509528725623|FR|EUR||x"), book: book_input() })]
#[case::other_rate_token(Call::Recheck { offer: offer("236.0", "dida1|999|FR|EUR|") })]
#[case::bad_escape(Call::Recheck { offer: offer("236.0", "dida1|1494507509528725623|%FF|EUR|") })]
#[case::garbled_book(Call::Book { offer: offer("236.0", "\u{0}|||||"), book: book_input(), prepared: None })]
fn unusable_calls_are_invalid(#[case] call: Call) {
    assert_eq!(
        connector().build(&call, &cx()).unwrap_err().class,
        ErrorClass::InvalidRequest
    );
}

#[rstest]
#[case(SEARCH_TOKEN, BookPrelude::Prepare)]
#[case(CONFIRMED_TOKEN, BookPrelude::None)]
#[case("garbage", BookPrelude::Prepare)]
#[case("", BookPrelude::Prepare)]
fn book_prelude(#[case] token: &str, #[case] expected: BookPrelude) {
    assert_eq!(connector().book_prelude(&offer("236.0", token)), expected);
    assert_eq!(connector().cancel_prelude(), CancelPrelude::Quote);
}

#[rstest]
#[case("1494507509528725623", "FR", "EUR", None)]
#[case("a|b", "F R", "€", Some("ref|%x"))]
fn token_round_trip(
    #[case] rate: &str,
    #[case] nat: &str,
    #[case] cur: &str,
    #[case] reference: Option<&str>,
) {
    let tok = OfferToken {
        rate_plan: rate.into(),
        nationality: nat.into(),
        currency: cur.into(),
        reference: reference.map(Into::into),
    };
    assert_eq!(OfferToken::decode(&tok.encode()), Some(tok));
}

// ---------------------------------------------------------------------------------------------
// Answers

fn spec_offer(n: usize) -> SupplierOffer {
    let k = Decimal::from(n as u64);
    let price = Money::new(dec("236.0") * k, "EUR");
    SupplierOffer {
        room_code: "88001".into(),
        room_name: "Superior Double Room Sea View".into(),
        rate_code: RATE.into(),
        rate_name: "Superior Double Room Sea View - Breakfast".into(),
        board: Board::Breakfast,
        refundable: true,
        cancel_penalties: vec![Penalty {
            from: CancelTime::parse("2027-01-13T00:00:00").unwrap(),
            amount: Money::new(dec("118.0") * k, "EUR"),
        }],
        price: price.clone(),
        taxes_included: true,
        pay_at_hotel: vec![],
        pay_at_hotel_listed: false,
        allotment: Some(4),
        key: OfferKey {
            hotel: "500042".into(),
            room: "88001".into(),
            rate: RATE.into(),
            stay: stay(),
            rooms: rooms(n, true),
            price,
            token: SEARCH_TOKEN.into(),
        },
    }
}

#[rstest]
#[case(1)]
#[case(3)]
fn search_answer(#[case] n: usize) {
    let reply = parse(
        &Call::Search { query: query(n) },
        ok(fixture!("price_search_rs.json")),
    )
    .unwrap();
    let expected = vec![HotelOffers {
        hotel_code: "500042".into(),
        hotel_name: "Harbour Lights Hotel Lisbon".into(),
        offers: vec![spec_offer(n)],
    }];
    assert_eq!(reply, Reply::Search { hotels: expected });
    let Reply::Search { hotels } = reply else {
        panic!()
    };
    assert_eq!(
        hotels[0].offers[0].price.amount.to_string(),
        if n == 1 { "236.0" } else { "708.0" }
    );
}

#[test]
fn no_availability_and_on_request_plans() {
    let empty = br#"{"Success":{"PriceDetails":{"CheckInDate":"2027-01-15","CheckOutDate":"2027-01-17","HotelList":[]}}}"#;
    assert_eq!(
        parse(&Call::Search { query: query(1) }, ok(empty)).unwrap(),
        Reply::Search { hotels: vec![] }
    );
    let on_request = String::from_utf8(fixture!("price_search_rs.json").to_vec())
        .unwrap()
        .replace(r#""IsOnRequest":false"#, r#""IsOnRequest":true"#);
    assert_eq!(
        parse(&Call::Search { query: query(1) }, ok(on_request.as_bytes())).unwrap(),
        Reply::Search { hotels: vec![] }
    );
}

fn plan_with(policies: &str, breakfast: u8) -> Vec<u8> {
    format!(
        r#"{{"Success":{{"PriceDetails":{{"HotelList":[{{"HotelID":"500042","RatePlanList":[{{"RatePlanID":77,"RoomTypeID":"9","BreakfastType":{breakfast},
        "TotalPrice":200.10,"Currency":"USD","RatePlanCancellationPolicyList":[{policies}]}}]}}]}}}}}}"#
    )
    .into_bytes()
}

fn only_offer(body: &[u8]) -> SupplierOffer {
    match parse(&Call::Search { query: query(2) }, ok(body)).unwrap() {
        Reply::Search { mut hotels } => hotels.remove(0).offers.remove(0),
        other => panic!("{other:?}"),
    }
}

/// 2 rooms at 200.10 each.
#[rstest]
#[case::free("", true, vec![])]
#[case::first_night(r#"{"FromDate":"2027-01-13T00:00:00","Amount":100.05}"#, true, vec![("2027-01-13T00:00:00", "200.10")])]
#[case::full_from_the_start(r#"{"FromDate":"2026-11-22T00:00:00","Amount":200.10}"#, false, vec![("2026-11-22T00:00:00", "400.20")])]
#[case::zero_then_full(r#"{"FromDate":"2027-01-20T00:00:00","Amount":200.10},{"FromDate":"2027-01-01T00:00:00+01:00","Amount":0}"#, false,
    vec![("2027-01-20T00:00:00", "400.20")])]
#[case::tiered(r#"{"FromDate":"2027-01-14","Amount":200.10},{"FromDate":"2027-01-10T12:30:00","Amount":50}"#, true,
    vec![("2027-01-10T12:30:00", "100"), ("2027-01-14T00:00:00", "400.20")])]
fn cancellation_policies(
    #[case] policies: &str,
    #[case] refundable: bool,
    #[case] expected: Vec<(&str, &str)>,
) {
    let o = only_offer(&plan_with(policies, 1));
    assert_eq!(o.refundable, refundable);
    let expected: Vec<Penalty> = expected
        .into_iter()
        .map(|(f, a)| Penalty {
            from: CancelTime::parse(f).unwrap(),
            amount: Money::new(dec(a), "USD"),
        })
        .collect();
    assert_eq!(o.cancel_penalties, expected);
    assert_eq!(o.price, Money::new(dec("400.20"), "USD"));
    assert_eq!(o.board, Board::RoomOnly);
    assert_eq!(
        (
            o.rate_code.as_str(),
            o.room_code.as_str(),
            o.rate_name.as_str(),
            o.room_name.as_str()
        ),
        ("77", "9", "77", "9")
    );
    assert_eq!(o.key.token, "dida1|77|FR|EUR|");
}

fn recheck(body: &[u8], price: &str) -> RecheckOutcome {
    match parse(
        &Call::Recheck {
            offer: offer(price, SEARCH_TOKEN),
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
    let same = recheck(fixture!("price_confirm_rs.json"), "236.00");
    assert_eq!(same.status, RecheckStatus::Available);
    assert_eq!(same.price, Some(eur("236.0")));
    assert_eq!(same.key, Some(offer("236.0", CONFIRMED_TOKEN)));
    assert_eq!(same.expires_at, None);
    assert_eq!(
        connector().book_prelude(same.key.as_ref().unwrap()),
        BookPrelude::None
    );

    let changed = recheck(fixture!("price_confirm_rs.json"), "230.0");
    assert_eq!(changed.status, RecheckStatus::PriceChanged);
    assert_eq!(changed.key, Some(offer("236.0", CONFIRMED_TOKEN)));

    let sold_out = RecheckOutcome {
        status: RecheckStatus::SoldOut,
        price: None,
        key: None,
        expires_at: None,
    };
    assert_eq!(recheck(&error_body("2010"), "236.0"), sold_out);
    let other_plan = String::from_utf8(fixture!("price_confirm_rs.json").to_vec())
        .unwrap()
        .replace(RATE, "42");
    assert_eq!(recheck(other_plan.as_bytes(), "236.0"), sold_out);
}

#[test]
fn multi_room_confirm_total_is_for_all_rooms() {
    let key = OfferKey {
        rooms: rooms(2, false),
        ..offer("472.0", SEARCH_TOKEN)
    };
    let body = String::from_utf8(fixture!("price_confirm_rs.json").to_vec())
        .unwrap()
        .replace(r#""TotalPrice":236.0"#, r#""TotalPrice":472.0"#);
    let Reply::Recheck { outcome } =
        parse(&Call::Recheck { offer: key }, ok(body.as_bytes())).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (outcome.status, outcome.price),
        (RecheckStatus::Available, Some(eur("472.0")))
    );
}

#[test]
fn prepare_answers() {
    let call = |price: &str| Call::Prepare {
        offer: offer(price, SEARCH_TOKEN),
        book: book_input(),
    };
    assert_eq!(
        parse(&call("236.0"), ok(fixture!("price_confirm_rs.json"))).unwrap(),
        Reply::Prepared {
            prepared: Prepared {
                handle: "DIDA-RF-71a2c9".into(),
                price: eur("236.0"),
                expires_at: None
            }
        }
    );
    let err = parse(&call("230.0"), ok(fixture!("price_confirm_rs.json"))).unwrap_err();
    assert_eq!(
        (err.class, err.code.as_str()),
        (ErrorClass::PriceChanged, "2009")
    );
    assert_eq!(
        parse(&call("236.0"), ok(&error_body("2010")))
            .unwrap_err()
            .class,
        ErrorClass::SoldOut
    );
    let no_reference = String::from_utf8(fixture!("price_confirm_rs.json").to_vec())
        .unwrap()
        .replace(r#","ReferenceNo":"DIDA-RF-71a2c9""#, "");
    assert_eq!(
        parse(&call("236.0"), ok(no_reference.as_bytes()))
            .unwrap_err()
            .class,
        ErrorClass::SupplierMalformed
    );
}

fn book_call() -> Call {
    Call::Book {
        offer: offer("236.0", CONFIRMED_TOKEN),
        book: book_input(),
        prepared: None,
    }
}

#[rstest]
#[case(0, BookingStatus::Pending)]
#[case(1, BookingStatus::Pending)]
#[case(2, BookingStatus::Confirmed)]
#[case(3, BookingStatus::Cancelled)]
#[case(4, BookingStatus::Failed)]
#[case(5, BookingStatus::Pending)]
#[case(6, BookingStatus::OnRequest)]
#[case(17, BookingStatus::Pending)]
fn book_statuses(#[case] code: u8, #[case] expected: BookingStatus) {
    let body = String::from_utf8(fixture!("book_rs.json").to_vec())
        .unwrap()
        .replace(r#""Status":2"#, &format!(r#""Status":{code}"#));
    let Reply::Booking {
        booking: Some(info),
    } = parse(&book_call(), ok(body.as_bytes())).unwrap()
    else {
        panic!()
    };
    assert_eq!(info.status, expected);
}

#[test]
fn book_answer() {
    assert_eq!(
        parse(&book_call(), ok(fixture!("book_rs.json"))).unwrap(),
        Reply::Booking {
            booking: Some(BookingInfo {
                key: booking_key(),
                status: BookingStatus::Confirmed,
                price: Some(eur("236.0")),
                hotel_code: Some("500042".into()),
                stay: Some(stay()),
                penalty: None,
                cancellation_reference: None,
            })
        }
    );
    let err = parse(&book_call(), ok(br#"{"Success":{}}"#)).unwrap_err();
    assert_eq!(err.class, ErrorClass::BookingUnknown);
}

fn found_booking() -> BookingInfo {
    BookingInfo {
        key: booking_key(),
        status: BookingStatus::Cancelled,
        price: Some(eur("236.0")),
        hotel_code: Some("500042".into()),
        stay: Some(stay()),
        penalty: None,
        cancellation_reference: None,
    }
}

#[test]
fn booking_search_answers() {
    let retrieve = Call::Retrieve {
        booking: booking_key(),
    };
    let find = Call::Find {
        client_reference: "AGT-7Q2K9".into(),
        offer: offer("236.0", SEARCH_TOKEN),
        email: String::new(),
    };
    assert_eq!(
        parse(&retrieve, ok(fixture!("booking_search_rs.json"))).unwrap(),
        Reply::Booking {
            booking: Some(found_booking())
        }
    );
    assert_eq!(
        parse(&find, ok(fixture!("booking_search_rs.json"))).unwrap(),
        Reply::Booking {
            booking: Some(found_booking())
        }
    );

    let empty = br#"{"Success":{"BookingDetailsList":[]}}"#;
    assert_eq!(
        parse(&find, ok(empty)).unwrap(),
        Reply::Booking { booking: None }
    );
    assert_eq!(
        parse(&find, ok(&error_body("3001"))).unwrap(),
        Reply::Booking { booking: None }
    );
    assert_eq!(
        parse(&retrieve, ok(empty)).unwrap_err().class,
        ErrorClass::NotFound
    );
    assert_eq!(
        parse(&retrieve, ok(&error_body("3001"))).unwrap_err().class,
        ErrorClass::NotFound
    );
}

#[test]
fn two_step_cancel() {
    assert_eq!(
        parse(
            &Call::CancelQuote {
                booking: booking_key()
            },
            ok(fixture!("cancel_quote_rs.json"))
        )
        .unwrap(),
        Reply::CancelQuote {
            quote: CancelQuote {
                confirm: "CF-22".into(),
                penalty: eur("0.0")
            }
        }
    );
    assert_eq!(
        parse(
            &Call::Cancel {
                booking: booking_key(),
                confirm: Some("CF-22".into())
            },
            ok(fixture!("cancel_rs.json"))
        )
        .unwrap(),
        Reply::Booking {
            booking: Some(BookingInfo {
                key: booking_key(),
                status: BookingStatus::Cancelled,
                price: None,
                hotel_code: None,
                stay: None,
                penalty: Some(eur("0.0")),
                cancellation_reference: Some("CF-22".into()),
            })
        }
    );
    let err = parse(
        &Call::CancelQuote {
            booking: booking_key(),
        },
        ok(br#"{"Success":{"Penalty":{"Value":0.0,"Currency":"EUR"}}}"#),
    )
    .unwrap_err();
    assert_eq!(err.class, ErrorClass::SupplierMalformed);
}

#[test]
fn content_answer_carries_the_time_zone() {
    assert_eq!(
        parse(
            &Call::Content {
                hotels: vec!["500042".into()]
            },
            ok(fixture!("hotel_detail_rs.json"))
        )
        .unwrap(),
        Reply::Content {
            hotels: vec![HotelContent {
                code: "500042".into(),
                name: "Harbour Lights Hotel Lisbon".into(),
                address: Some("Rua do Cais 12".into()),
                city: Some("Lisbon".into()),
                country: Some("PT".into()),
                latitude: Some(38.7071),
                longitude: Some(-9.1355),
                time_zone: Some("Europe/Lisbon".into()),
                amenities: vec!["Wi-Fi".into()],
                rooms: vec![RoomContent {
                    code: "88001".into(),
                    name: "Superior Double Room Sea View".into(),
                    max_occupancy: Some(3)
                }],
            }]
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Errors

#[rstest]
#[case::invalid_field("1001", ErrorClass::InvalidRequest)]
#[case::other_1xxx("1042", ErrorClass::InvalidRequest)]
#[case::mismatch("2001", ErrorClass::InvalidRequest)]
#[case::credentials("4001", ErrorClass::AuthFailed)]
#[case::rate("4029", ErrorClass::RateLimited)]
#[case::not_found("3001", ErrorClass::NotFound)]
#[case::sold_out("2010", ErrorClass::SoldOut)]
#[case::price("2009", ErrorClass::PriceChanged)]
#[case::expired("3003", ErrorClass::RateExpired)]
#[case::internal("9999", ErrorClass::SupplierUnavailable)]
#[case::other_9xxx("9001", ErrorClass::SupplierUnavailable)]
fn error_table(#[case] code: &str, #[case] class: ErrorClass) {
    let err = parse(&book_call(), ok(&error_body(code))).unwrap_err();
    assert_eq!(
        (err.class, err.code.as_str(), err.message.clone()),
        (class, code, format!("problem {code}"))
    );
}

#[test]
fn numeric_error_codes() {
    let err = parse(
        &book_call(),
        ok(br#"{"Success":false,"Error":{"Code":2009,"Message":"x"}}"#),
    )
    .unwrap_err();
    assert_eq!(
        (err.class, err.code.as_str()),
        (ErrorClass::PriceChanged, "2009")
    );
}

#[rstest]
#[case::basic_401(401, r#"Unauthorized"#, ErrorClass::AuthFailed)]
#[case::oauth_401(
    401,
    r#"{"Success":false,"Error":{"Code":"4001","Message":"OAuth signature invalid"}}"#,
    ErrorClass::AuthFailed
)]
#[case::http_429(429, "", ErrorClass::RateLimited)]
#[case::http_500(
    500,
    r#"{"Success":false,"Error":{"Code":"9999","Message":"boom"}}"#,
    ErrorClass::SupplierUnavailable
)]
#[case::http_502_html(502, "<html/>", ErrorClass::SupplierUnavailable)]
#[case::http_400_code(
    400,
    r#"{"Success":false,"Error":{"Code":"1001","Message":"CheckInDate"}}"#,
    ErrorClass::InvalidRequest
)]
#[case::truncated(200, r#"{"Success":{"PriceDetails":{"CheckInDate":"2027-01-15","HotelList":[{"HotelID":500042,"Rate"#, ErrorClass::SupplierMalformed)]
#[case::empty(200, "", ErrorClass::SupplierMalformed)]
#[case::success_false_without_error(200, r#"{"Success":false}"#, ErrorClass::SupplierMalformed)]
#[case::error_without_code(
    200,
    r#"{"Success":false,"Error":{"Message":"x"}}"#,
    ErrorClass::SupplierMalformed
)]
#[case::no_success(200, r#"{"Result":{}}"#, ErrorClass::SupplierMalformed)]
#[case::price_as_text(200, r#"{"Success":{"PriceDetails":{"HotelList":[{"HotelID":1,"RatePlanList":[{"RatePlanID":"1","RoomTypeID":1,"TotalPrice":"abc","Currency":"EUR"}]}]}}}"#, ErrorClass::SupplierMalformed)]
#[case::negative_price(200, r#"{"Success":{"PriceDetails":{"HotelList":[{"HotelID":1,"RatePlanList":[{"RatePlanID":"1","RoomTypeID":1,"TotalPrice":-1.0,"Currency":"EUR"}]}]}}}"#, ErrorClass::SupplierMalformed)]
#[case::bad_from_date(200, &String::from_utf8(plan_with(r#"{"FromDate":"13/01/2027","Amount":1}"#, 2)).unwrap(), ErrorClass::SupplierMalformed)]
#[case::hotel_id_float(
    200,
    r#"{"Success":{"PriceDetails":{"HotelList":[{"HotelID":1.5,"RatePlanList":[]}]}}}"#,
    ErrorClass::SupplierMalformed
)]
fn transport_and_body_failures(#[case] status: u16, #[case] body: &str, #[case] class: ErrorClass) {
    let err = parse(
        &Call::Search { query: query(1) },
        WireResponse::new(status, body),
    )
    .unwrap_err();
    assert_eq!(err.class, class, "{err}");
}

#[test]
fn numbers_are_read_exactly() {
    let body = String::from_utf8(plan_with("", 2))
        .unwrap()
        .replace("200.10", "0.1");
    let o = only_offer(body.as_bytes());
    assert_eq!(o.price.amount, dec("0.2"));
    assert_eq!(o.board, Board::Breakfast);
}

#[test]
fn every_prefix_of_every_fixture_is_a_classified_error() {
    let c = connector();
    let calls = [
        Call::Search { query: query(1) },
        Call::Recheck {
            offer: offer("236.0", SEARCH_TOKEN),
        },
        Call::Prepare {
            offer: offer("236.0", SEARCH_TOKEN),
            book: book_input(),
        },
        book_call(),
        Call::Retrieve {
            booking: booking_key(),
        },
        Call::CancelQuote {
            booking: booking_key(),
        },
        Call::Content {
            hotels: vec!["500042".into()],
        },
    ];
    crate::testkit::assert_truncations_classified(
        &c,
        &calls,
        &[
            ("price_search_rs.json", fixture!("price_search_rs.json")),
            ("price_confirm_rs.json", fixture!("price_confirm_rs.json")),
            ("booking_search_rs.json", fixture!("booking_search_rs.json")),
            ("hotel_detail_rs.json", fixture!("hotel_detail_rs.json")),
        ],
        ErrorClass::SupplierMalformed,
    );
}

/// The one-pass read of a plain search answer gives what reading it through a `Value` gives, and
/// anything less plain (an `Error` object, a `Success` that is not an object, a document that is
/// not an object) is left to the classifying path, with the same result as before.
#[test]
fn plain_search_answers_read_in_one_pass_mean_the_same() {
    let call = Call::Search { query: query(2) };
    let Call::Search { query: q } = &call else {
        unreachable!()
    };
    let body = fixture!("price_search_rs.json");
    let resp = ok(body);
    let fast = plain_success::<PriceSearchRs>(&resp).expect("a plain answer");
    let slow: PriceSearchRs = from(success(&resp).unwrap()).unwrap();
    assert_eq!(search_reply(q, fast), search_reply(q, slow));
    assert!(matches!(parse(&call, ok(body)), Ok(Reply::Search { hotels }) if !hotels.is_empty()));

    let text = String::from_utf8(body.to_vec()).unwrap();
    let with_error = text.replacen('{', r#"{"Error":{"Code":"2001","Message":"no"},"#, 1);
    let not_object = r#"{"Success":[{"PriceDetails":null}]}"#.to_string();
    let array = format!("[{text}]");
    let duplicate = text.replacen('{', r#"{"Success":false,"#, 1);
    for odd in [with_error, not_object, array, duplicate] {
        let resp = ok(odd.as_bytes());
        assert!(plain_success::<PriceSearchRs>(&resp).is_none(), "{odd:.60}");
        // What parsing was before the one-pass read: through a `Value`, always.
        let before = match success(&resp) {
            Ok(s) => from(s).and_then(|rs| search_reply(q, rs)),
            Err(e) => on_error(&call, e),
        };
        assert_eq!(
            format!("{:?}", parse(&call, resp)),
            format!("{before:?}"),
            "{odd:.60}"
        );
    }
}
