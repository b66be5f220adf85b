//! Hotelbeds translation over raw bytes: the spec's worked examples and example bodies, every
//! error-table row, malformed bodies, and the recheck/book/cancel flows.

use std::str::FromStr;

use chrono::{NaiveDate, TimeZone, Utc};
use rstest::rstest;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::*;

const SEARCH_RS: &[u8] = include_bytes!("../../tests/fixtures/hotelbeds/search_rs.json");
const SEARCH_RS_NUMBERS: &[u8] =
    include_bytes!("../../tests/fixtures/hotelbeds/search_rs_numbers.json");
const CHECKRATES_RS: &[u8] = include_bytes!("../../tests/fixtures/hotelbeds/checkrates_rs.json");
const BOOKING_RS: &[u8] = include_bytes!("../../tests/fixtures/hotelbeds/booking_rs.json");
const CANCEL_RS: &[u8] = include_bytes!("../../tests/fixtures/hotelbeds/cancel_rs.json");
const CONTENT_RS: &[u8] = include_bytes!("../../tests/fixtures/hotelbeds/content_rs.json");

const KEY: &str = "4f8a2c1e9b7d4a03";
const SECRET: &str = "s3cr3tHB";
const NOW: i64 = 1767225600;
const BASE: &str = "http://127.0.0.1:9101";
const RATE_KEY: &str = "20270115|20270117|W|235|100042|DBL.SU|FLEX BB|BB||1~2~1|6|N@07~~1a2b3c";
const NEW_RATE_KEY: &str = "20270115|20270117|W|235|100042|DBL.SU|FLEX BB|BB||1~2~1|6|N@08~~9f8e7d";

fn connector(mode: AuthMode) -> Hotelbeds {
    Hotelbeds::new(Credentials {
        key: KEY.into(),
        secret: SECRET.into(),
        account: None,
        mode,
    })
}

fn hb() -> Hotelbeds {
    connector(AuthMode::Native)
}

fn cx() -> CallContext<'static> {
    CallContext {
        now: NOW,
        nonce: "n0nce42",
        base_url: BASE,
        bearer: None,
        customer_ip: "203.0.113.9",
    }
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn eur(s: &str) -> Money {
    Money::new(dec(s), "EUR")
}

fn stay() -> Stay {
    Stay {
        checkin: NaiveDate::from_ymd_opt(2027, 1, 15).unwrap(),
        checkout: NaiveDate::from_ymd_opt(2027, 1, 17).unwrap(),
    }
}

fn family() -> Vec<Occupancy> {
    vec![Occupancy {
        adults: 2,
        children_ages: vec![6],
    }]
}

fn query() -> SearchQuery {
    SearchQuery {
        stay: stay(),
        rooms: family(),
        hotels: vec!["100042".into(), "100077".into()],
        currency: "EUR".into(),
        nationality: "FR".into(),
    }
}

fn token(rate_key: &str, rate_type: &str) -> String {
    encode_token(&RateToken {
        rate_key: rate_key.into(),
        rate_type: rate_type.into(),
    })
}

fn offer_key(rate_type: &str) -> OfferKey {
    OfferKey {
        hotel: "100042".into(),
        room: "DBL.SU".into(),
        rate: "FLEX BB".into(),
        stay: stay(),
        rooms: family(),
        price: eur("231.40"),
        token: token(RATE_KEY, rate_type),
    }
}

fn book_input(names: &[(&str, &str)]) -> BookInput {
    BookInput {
        guests: names
            .iter()
            .map(|(f, l)| Guest {
                first_name: f.to_string(),
                last_name: l.to_string(),
            })
            .collect(),
        client_reference: "AGT-7Q2K9".into(),
        email: "bookings@agency.example".into(),
        phone: "+33 155501234".into(),
    }
}

fn booking_key() -> BookingKey {
    BookingKey {
        supplier_reference: "217-4409126".into(),
        client_reference: "AGT-7Q2K9".into(),
        token: String::new(),
    }
}

fn resp(status: u16, body: &[u8]) -> WireResponse {
    WireResponse::new(status, body.to_vec())
}

fn body_json(req: &WireRequest) -> Value {
    serde_json::from_slice(&req.body).unwrap()
}

fn all_calls() -> Vec<Call> {
    vec![
        Call::Search { query: query() },
        Call::Content {
            hotels: vec!["100042".into()],
        },
        Call::Recheck {
            offer: offer_key("RECHECK"),
        },
        Call::Prepare {
            offer: offer_key("RECHECK"),
            book: book_input(&[("Ada", "Lovelace")]),
        },
        Call::Book {
            offer: offer_key("BOOKABLE"),
            book: book_input(&[("Ada", "Lovelace")]),
            prepared: None,
        },
        Call::Retrieve {
            booking: booking_key(),
        },
        Call::Find {
            client_reference: "AGT-7Q2K9".into(),
            offer: offer_key("BOOKABLE"),
            email: "a@b.example".into(),
        },
        Call::Cancel {
            booking: booking_key(),
            confirm: None,
        },
    ]
}

// ---- auth ---------------------------------------------------------------------------------

#[test]
fn worked_signature_example_end_to_end() {
    let req = hb().build(&Call::Search { query: query() }, &cx()).unwrap();
    assert_eq!(req.get_header("Api-key"), Some(KEY));
    assert_eq!(
        req.get_header("X-Signature"),
        Some("53c1aa61f5061bedf45257d1659e07b7c72eb06f11fb682b262fca5c1b44af4a")
    );
    assert_eq!(req.get_header("Accept"), Some("application/json"));
    assert_eq!(req.get_header("Authorization"), None);
}

#[rstest]
fn every_call_is_signed_and_accepts_json(#[values(0, 1, 2, 3, 4, 5, 6, 7)] i: usize) {
    let call = &all_calls()[i];
    let req = hb().build(call, &cx()).unwrap();
    assert_eq!(req.get_header("Api-key"), Some(KEY), "{}", call.op());
    assert_eq!(
        req.get_header("X-Signature").map(str::len),
        Some(64),
        "{}",
        call.op()
    );
    assert_eq!(
        req.get_header("Accept"),
        Some("application/json"),
        "{}",
        call.op()
    );
}

#[test]
fn basic_mode_replaces_the_native_headers() {
    let req = connector(AuthMode::Basic)
        .build(
            &Call::Retrieve {
                booking: booking_key(),
            },
            &cx(),
        )
        .unwrap();
    assert_eq!(
        req.get_header("Authorization"),
        Some(auth::basic(KEY, SECRET).as_str())
    );
    assert_eq!(
        req.get_header("Authorization"),
        Some("Basic NGY4YTJjMWU5YjdkNGEwMzpzM2NyM3RIQg==")
    );
    assert_eq!(req.get_header("X-Signature"), None);
    assert_eq!(req.get_header("Api-key"), None);
    assert_eq!(req.get_header("Accept"), Some("application/json"));
}

#[test]
fn oauth1_mode_signs_the_absolute_url_with_its_query() {
    let call = Call::Find {
        client_reference: "AGT-7Q2K9".into(),
        offer: offer_key("BOOKABLE"),
        email: String::new(),
    };
    let req = connector(AuthMode::Oauth1).build(&call, &cx()).unwrap();
    let url = format!("{BASE}/hotel-api/1.0/bookings?clientReference=AGT-7Q2K9&from=1&to=25");
    let expected = auth::oauth1_header("GET", &url, KEY, SECRET, "n0nce42", NOW);
    assert_eq!(req.get_header("Authorization"), Some(expected.as_str()));
    assert!(expected.starts_with("OAuth oauth_consumer_key=\"4f8a2c1e9b7d4a03\""));
    assert_eq!(req.get_header("X-Signature"), None);
}

// ---- requests -----------------------------------------------------------------------------

#[rstest]
#[case::search(0, Method::Post, "/hotel-api/1.0/hotels")]
#[case::content(
    1,
    Method::Get,
    "/hotel-content-api/1.0/hotels?codes=100042&fields=all&language=ENG"
)]
#[case::recheck(2, Method::Post, "/hotel-api/1.0/checkrates")]
#[case::prepare(3, Method::Post, "/hotel-api/1.0/checkrates")]
#[case::book(4, Method::Post, "/hotel-api/1.0/bookings")]
#[case::retrieve(5, Method::Get, "/hotel-api/1.0/bookings/217-4409126")]
#[case::find(
    6,
    Method::Get,
    "/hotel-api/1.0/bookings?clientReference=AGT-7Q2K9&from=1&to=25"
)]
#[case::cancel(
    7,
    Method::Delete,
    "/hotel-api/1.0/bookings/217-4409126?cancellationFlag=CANCELLATION"
)]
fn endpoints(#[case] i: usize, #[case] method: Method, #[case] path: &str) {
    let req = hb().build(&all_calls()[i], &cx()).unwrap();
    assert_eq!((req.method, req.path.as_str()), (method, path));
    let has_body = matches!(method, Method::Post);
    assert_eq!(!req.body.is_empty(), has_body);
    assert_eq!(req.get_header("Content-Type").is_some(), has_body);
}

#[test]
fn search_body_follows_the_spec() {
    let req = hb().build(&Call::Search { query: query() }, &cx()).unwrap();
    assert_eq!(
        body_json(&req),
        json!({"stay":{"checkIn":"2027-01-15","checkOut":"2027-01-17"},
               "occupancies":[{"rooms":1,"adults":2,"children":1,"paxes":[{"type":"CH","age":6}]}],
               "hotels":{"hotel":[100042,100077]},"currency":"EUR","language":"ENG"})
    );
}

#[test]
fn identical_rooms_share_one_occupancy_entry() {
    let mut q = query();
    q.rooms = vec![
        Occupancy {
            adults: 2,
            children_ages: vec![]
        };
        3
    ];
    let req = hb().build(&Call::Search { query: q }, &cx()).unwrap();
    assert_eq!(
        body_json(&req)["occupancies"],
        json!([{"rooms":3,"adults":2,"children":0}])
    );
}

#[test]
fn recheck_body_carries_the_rate_key() {
    let req = hb()
        .build(
            &Call::Recheck {
                offer: offer_key("RECHECK"),
            },
            &cx(),
        )
        .unwrap();
    assert_eq!(
        body_json(&req),
        json!({"rooms":[{"rateKey":RATE_KEY}],"language":"ENG"})
    );
}

#[test]
fn book_body_follows_the_spec() {
    let call = Call::Book {
        offer: offer_key("BOOKABLE"),
        book: book_input(&[
            ("Ada", "Lovelace"),
            ("Charles", "Babbage"),
            ("Ann", "Lovelace"),
        ]),
        prepared: None,
    };
    let req = hb().build(&call, &cx()).unwrap();
    assert_eq!(
        body_json(&req),
        json!({"holder":{"name":"Ada","surname":"Lovelace"},
               "rooms":[{"rateKey":RATE_KEY,"paxes":[
                   {"roomId":1,"type":"AD","name":"Ada","surname":"Lovelace"},
                   {"roomId":1,"type":"AD","name":"Charles","surname":"Babbage"},
                   {"roomId":1,"type":"CH","age":6,"name":"Ann","surname":"Lovelace"}]}],
               "clientReference":"AGT-7Q2K9","remark":"","tolerance":0})
    );
}

#[test]
fn book_uses_the_prepared_rate_key() {
    let prepared = Prepared {
        handle: NEW_RATE_KEY.into(),
        price: eur("231.40"),
        expires_at: None,
    };
    let call = Call::Book {
        offer: offer_key("RECHECK"),
        book: book_input(&[("Ada", "Lovelace")]),
        prepared: Some(prepared),
    };
    let req = hb().build(&call, &cx()).unwrap();
    assert_eq!(body_json(&req)["rooms"][0]["rateKey"], json!(NEW_RATE_KEY));
}

#[test]
fn guests_are_spread_one_lead_per_room_first() {
    let rooms = vec![
        Occupancy {
            adults: 2,
            children_ages: vec![],
        },
        Occupancy {
            adults: 1,
            children_ages: vec![9],
        },
    ];
    let guests: Vec<Guest> = ["A", "B", "C"]
        .iter()
        .map(|n| Guest {
            first_name: n.to_string(),
            last_name: "X".into(),
        })
        .collect();
    let got: Vec<(usize, &str, Option<u8>, &str)> = paxes(&guests, &rooms)
        .unwrap()
        .iter()
        .map(|p| (p.room_id, p.kind, p.age, p.name))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "AD", None, "A"),
            (1, "AD", None, "C"),
            (2, "AD", None, "B")
        ]
    );
}

#[test]
fn a_room_without_a_named_guest_gets_the_holder() {
    let rooms = vec![
        Occupancy {
            adults: 2,
            children_ages: vec![]
        };
        2
    ];
    let guests = vec![Guest {
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
    }];
    let got: Vec<(usize, &str)> = paxes(&guests, &rooms)
        .unwrap()
        .iter()
        .map(|p| (p.room_id, p.name))
        .collect();
    assert_eq!(got, vec![(1, "Ada"), (2, "Ada")]);
}

#[test]
fn more_guests_than_places_is_our_error() {
    let call = Call::Book {
        offer: offer_key("BOOKABLE"),
        book: book_input(&[("A", "X"), ("B", "X"), ("C", "X"), ("D", "X")]),
        prepared: None,
    };
    assert_eq!(
        hb().build(&call, &cx()).unwrap_err().class,
        ErrorClass::InvalidRequest
    );
}

#[rstest]
#[case::token_call(Call::Token)]
#[case::cancel_quote(Call::CancelQuote { booking: booking_key() })]
#[case::no_reference(Call::Retrieve { booking: BookingKey { supplier_reference: String::new(), ..booking_key() } })]
#[case::no_guests(Call::Book { offer: offer_key("BOOKABLE"), book: book_input(&[]), prepared: None })]
#[case::non_numeric_hotel(Call::Content { hotels: vec!["ABC".into()] })]
#[case::no_hotels(Call::Content { hotels: vec![] })]
#[case::garbled_token(Call::Recheck { offer: OfferKey { token: "20270115|garbage".into(), ..offer_key("BOOKABLE") } })]
#[case::empty_token(Call::Recheck { offer: OfferKey { token: String::new(), ..offer_key("BOOKABLE") } })]
#[case::token_without_key(Call::Recheck { offer: OfferKey { token: r#"{"k":"","t":"BOOKABLE"}"#.into(), ..offer_key("BOOKABLE") } })]
#[case::truncated_token(Call::Book { offer: OfferKey { token: r#"{"k":"2027"#.into(), ..offer_key("BOOKABLE") }, book: book_input(&[("A", "B")]), prepared: None })]
fn calls_that_cannot_be_built(#[case] call: Call) {
    let err = hb().build(&call, &cx()).unwrap_err();
    assert_eq!(err.class, ErrorClass::InvalidRequest, "{err}");
    assert!(!err.message.contains(SECRET));
}

#[test]
fn mixed_occupancies_are_not_supported_nor_built() {
    let mut q = query();
    q.rooms = vec![
        Occupancy {
            adults: 2,
            children_ages: vec![],
        },
        Occupancy {
            adults: 1,
            children_ages: vec![],
        },
    ];
    assert!(!hb().supports(&q));
    assert_eq!(
        hb().build(&Call::Search { query: q }, &cx())
            .unwrap_err()
            .class,
        ErrorClass::InvalidRequest
    );
}

#[rstest]
#[case::spec_example(2, 2, true)]
#[case::thirty_nights(2, 30, true)]
#[case::thirty_one_nights(2, 31, false)]
#[case::two_thousand_hotels(2000, 2, true)]
#[case::too_many_hotels(2001, 2, false)]
#[case::no_hotels(0, 2, false)]
fn supports_limits(#[case] hotels: usize, #[case] nights: i64, #[case] expected: bool) {
    let mut q = query();
    q.hotels = (0..hotels).map(|i| (100000 + i).to_string()).collect();
    q.stay.checkout = q.stay.checkin + chrono::Duration::days(nights);
    assert_eq!(hb().supports(&q), expected);
}

#[test]
fn same_shape_ignores_child_age_order() {
    let mut q = query();
    q.rooms = vec![
        Occupancy {
            adults: 2,
            children_ages: vec![4, 9],
        },
        Occupancy {
            adults: 2,
            children_ages: vec![9, 4],
        },
    ];
    assert!(hb().supports(&q));
}

// ---- search -------------------------------------------------------------------------------

fn spec_offer() -> SupplierOffer {
    SupplierOffer {
        room_code: "DBL.SU".into(),
        room_name: "DOUBLE SUPERIOR SEA VIEW".into(),
        rate_code: "FLEX BB".into(),
        rate_name: "BED AND BREAKFAST".into(),
        board: Board::Breakfast,
        refundable: true,
        cancel_penalties: vec![Penalty {
            from: CancelTime::Instant(Utc.with_ymd_and_hms(2027, 1, 13, 23, 59, 0).unwrap()),
            amount: eur("115.70"),
        }],
        price: eur("231.40"),
        taxes_included: true,
        pay_at_hotel: vec![Fee {
            name: "Tax".into(),
            amount: eur("8.00"),
        }],
        pay_at_hotel_listed: true,
        allotment: Some(5),
        key: OfferKey {
            hotel: "100042".into(),
            room: "DBL.SU".into(),
            rate: "FLEX BB".into(),
            stay: stay(),
            rooms: family(),
            price: eur("231.40"),
            token: token(RATE_KEY, "BOOKABLE"),
        },
    }
}

#[rstest]
#[case::strings(SEARCH_RS)]
#[case::numbers(SEARCH_RS_NUMBERS)]
fn search_example_maps_exactly(#[case] body: &[u8]) {
    let reply = hb()
        .parse(&Call::Search { query: query() }, &resp(200, body))
        .unwrap();
    let Reply::Search { hotels } = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(
        hotels,
        vec![HotelOffers {
            hotel_code: "100042".into(),
            hotel_name: "Harbour Lights Hotel".into(),
            offers: vec![spec_offer()]
        }]
    );
}

#[test]
fn numbers_keep_their_decimal_value() {
    let reply = hb()
        .parse(
            &Call::Search { query: query() },
            &resp(200, SEARCH_RS_NUMBERS),
        )
        .unwrap();
    let Reply::Search { hotels } = reply else {
        panic!("{reply:?}")
    };
    let offer = &hotels[0].offers[0];
    assert_eq!(offer.price.amount.to_string(), "231.4");
    assert_eq!(offer.pay_at_hotel[0].amount.amount.to_string(), "8");
    assert_eq!(offer.cancel_penalties[0].amount.amount, dec("115.70"));
}

#[test]
fn no_availability_is_an_empty_answer() {
    let body = br#"{"auditData":{},"hotels":{"total":0,"hotels":[]}}"#;
    assert_eq!(
        hb().parse(&Call::Search { query: query() }, &resp(200, body))
            .unwrap(),
        Reply::Search { hotels: vec![] }
    );
    let body = br#"{"auditData":{},"hotels":{"total":0}}"#;
    assert_eq!(
        hb().parse(&Call::Search { query: query() }, &resp(200, body))
            .unwrap(),
        Reply::Search { hotels: vec![] }
    );
}

fn one_rate(rate: Value) -> Vec<u8> {
    json!({"hotels":{"total":1,"hotels":[{"code":1,"name":"H","currency":"EUR",
        "rooms":[{"code":"DBL.ST","name":"DOUBLE","rates":[rate]}]}]}})
    .to_string()
    .into_bytes()
}

fn parse_one_rate(rate: Value) -> SupplierResult<Vec<SupplierOffer>> {
    match hb().parse(
        &Call::Search { query: query() },
        &resp(200, &one_rate(rate)),
    )? {
        Reply::Search { hotels } => Ok(hotels.into_iter().flat_map(|h| h.offers).collect()),
        other => panic!("{other:?}"),
    }
}

#[rstest]
#[case::room_only("RO", Some(Board::RoomOnly))]
#[case::self_catering("SC", Some(Board::RoomOnly))]
#[case::breakfast("BB", Some(Board::Breakfast))]
#[case::half_board("HB", Some(Board::HalfBoard))]
#[case::full_board("FB", Some(Board::FullBoard))]
#[case::all_inclusive("AI", Some(Board::AllInclusive))]
#[case::unknown_board_is_left_out("XX", None)]
fn boards(#[case] code: &str, #[case] expected: Option<Board>) {
    let offers = parse_one_rate(json!({"rateKey":"k","rateClass":"NRF","rateType":"BOOKABLE","net":"10.00","boardCode":code})).unwrap();
    assert_eq!(offers.first().map(|o| o.board), expected);
}

#[rstest]
#[case::refundable("NOR", true)]
#[case::non_refundable("NRF", false)]
#[case::unknown_class_is_not_claimed_refundable("SPE", false)]
fn refundability(#[case] class: &str, #[case] expected: bool) {
    let offers = parse_one_rate(
        json!({"rateKey":"k","rateClass":class,"rateType":"BOOKABLE","net":"10","boardCode":"RO"}),
    )
    .unwrap();
    assert_eq!(offers[0].refundable, expected);
}

#[test]
fn included_taxes_are_not_fees_and_rate_names_fall_back() {
    let offers = parse_one_rate(json!({"rateKey":"opaque","rateClass":"NRF","rateType":"RECHECK","net":"99.99","boardCode":"RO",
        "taxes":{"allIncluded":false,"taxes":[{"included":true,"amount":"5.00","currency":"EUR"},
                                             {"included":false,"amount":"2.50","currency":"USD","type":"CITY TAX"}]}}))
    .unwrap();
    let o = &offers[0];
    assert_eq!(o.price, eur("99.99"));
    assert_eq!(
        o.pay_at_hotel,
        vec![Fee {
            name: "CITY TAX".into(),
            amount: Money::new(dec("2.50"), "USD")
        }]
    );
    assert_eq!(
        (o.rate_code.as_str(), o.rate_name.as_str()),
        ("NRF-RO", "NRF-RO")
    );
    assert_eq!(o.allotment, None);
    assert_eq!(o.key.token, token("opaque", "RECHECK"));
}

/// §Search: `net` (not `sellingRate`, the suggested retail price) is what we pay; taxes marked
/// `"included":false` are payable at the hotel, named by their `subType` when given.
#[rstest]
#[case::all_included(json!({"allIncluded":true}), vec![], true)]
#[case::city_tax_at_hotel(json!({"allIncluded":false,"taxes":[{"included":false,"amount":"8.00","currency":"EUR","type":"TAX","subType":"CITY_TAX"}]}),
    vec![("CITY_TAX", "8.00", "EUR")], true)]
#[case::tax_without_currency_is_the_hotel_currency(json!({"allIncluded":false,"taxes":[{"included":false,"amount":"3"}]}),
    vec![("Tax", "3", "EUR")], true)]
#[case::no_taxes_object_lists_nothing(Value::Null, vec![], false)]
fn net_and_taxes_at_the_hotel(
    #[case] taxes: Value,
    #[case] fees: Vec<(&str, &str, &str)>,
    #[case] listed: bool,
) {
    let mut rate = json!({"rateKey":"k","rateClass":"NOR","rateType":"BOOKABLE","net":"231.40","sellingRate":"248.00","boardCode":"BB"});
    if !taxes.is_null() {
        rate["taxes"] = taxes;
    }
    let o = parse_one_rate(rate).unwrap().remove(0);
    assert_eq!(o.price, eur("231.40"));
    assert!(o.taxes_included);
    assert_eq!(o.pay_at_hotel_listed, listed);
    let expected: Vec<Fee> = fees
        .into_iter()
        .map(|(n, a, c)| Fee {
            name: n.into(),
            amount: Money::new(dec(a), c),
        })
        .collect();
    assert_eq!(o.pay_at_hotel, expected);
}

#[test]
fn policy_times_without_an_offset_are_the_hotels_clock() {
    let o = parse_one_rate(json!({"rateKey":"k","rateClass":"NOR","rateType":"BOOKABLE","net":"10","boardCode":"RO",
        "cancellationPolicies":[{"amount":"5.00","from":"2027-01-13T23:59:00"},{"amount":"10.00","from":"2027-01-14T23:59:00+01:00"}]}))
    .unwrap()
    .remove(0);
    assert_eq!(
        o.cancel_penalties
            .iter()
            .map(|p| p.from)
            .collect::<Vec<_>>(),
        [
            CancelTime::HotelLocal("2027-01-13T23:59:00".parse().unwrap()),
            CancelTime::Instant("2027-01-14T22:59:00Z".parse().unwrap()),
        ]
    );
}

// ---- malformed ----------------------------------------------------------------------------

#[rstest]
#[case::empty(b"".to_vec())]
#[case::truncated(SEARCH_RS[..SEARCH_RS.len() / 2].to_vec())]
#[case::not_json(b"<html>oops</html>".to_vec())]
#[case::empty_object(b"{}".to_vec())]
#[case::array(b"[]".to_vec())]
#[case::hotels_wrong_type(br#"{"hotels":"none"}"#.to_vec())]
#[case::net_bool(one_rate(json!({"rateKey":"k","net":true,"boardCode":"RO"})))]
#[case::net_word(one_rate(json!({"rateKey":"k","net":"cheap","boardCode":"RO"})))]
#[case::net_missing(one_rate(json!({"rateKey":"k","boardCode":"RO"})))]
#[case::net_negative(one_rate(json!({"rateKey":"k","net":"-1.00","boardCode":"RO"})))]
#[case::policy_date(one_rate(json!({"rateKey":"k","net":"1","boardCode":"RO","cancellationPolicies":[{"amount":"1","from":"next tuesday"}]})))]
#[case::tax_without_included(one_rate(json!({"rateKey":"k","net":"1","boardCode":"RO","taxes":{"taxes":[{"amount":"1"}]}})))]
#[case::allotment_negative(one_rate(json!({"rateKey":"k","net":"1","boardCode":"RO","allotment":-2})))]
#[case::hotel_without_currency(br#"{"hotels":{"hotels":[{"code":1,"rooms":[]}]}}"#.to_vec())]
fn malformed_search_bodies(#[case] body: Vec<u8>) {
    let err = hb()
        .parse(&Call::Search { query: query() }, &resp(200, &body))
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::SupplierMalformed, "{err}");
}

#[rstest]
fn truncated_bodies_are_malformed_for_every_call(#[values(0, 1, 2, 3, 4, 5, 6, 7)] i: usize) {
    let call = &all_calls()[i];
    let full = [
        SEARCH_RS,
        CONTENT_RS,
        CHECKRATES_RS,
        CHECKRATES_RS,
        BOOKING_RS,
        BOOKING_RS,
        BOOKING_RS,
        CANCEL_RS,
    ][i];
    let err = hb()
        .parse(call, &resp(200, &full[..full.len() - 5]))
        .unwrap_err();
    assert_eq!(
        err.class,
        ErrorClass::SupplierMalformed,
        "{}: {err}",
        call.op()
    );
}

// ---- errors -------------------------------------------------------------------------------

fn error_body(code: &str, message: &str) -> Vec<u8> {
    json!({"auditData":{"processTime":"3"},"error":{"code":code,"message":message}})
        .to_string()
        .into_bytes()
}

#[rstest]
#[case::invalid_request(
    400,
    error_body("INVALID_REQUEST", "checkOut must be after checkIn"),
    ErrorClass::InvalidRequest
)]
#[case::invalid_request_suffixed(
    400,
    error_body("INVALID_REQUEST-7f3a", "Missing stay"),
    ErrorClass::InvalidRequest
)]
#[case::rate_key_expired(
    400,
    error_body("INVALID_DATA", "The rateKey has expired"),
    ErrorClass::RateExpired
)]
#[case::rate_key_unknown(
    400,
    error_body("INVALID_DATA-a1", "Unknown rateKey 2027..."),
    ErrorClass::RateExpired
)]
#[case::booking_unknown(
    400,
    error_body("INVALID_DATA", "The booking 217-1 does not exist"),
    ErrorClass::NotFound
)]
#[case::invalid_data_other(
    400,
    error_body("INVALID_DATA", "Holder name too long"),
    ErrorClass::InvalidRequest
)]
#[case::price_changed(
    500,
    error_body("PRODUCT_ERROR", "Price changed"),
    ErrorClass::PriceChanged
)]
#[case::price_changed_suffixed(
    500,
    error_body("PRODUCT_ERROR-99b", "Price changed for rate"),
    ErrorClass::PriceChanged
)]
#[case::no_availability(
    500,
    error_body("PRODUCT_ERROR", "No availability"),
    ErrorClass::SoldOut
)]
#[case::system_error(
    500,
    error_body("SYSTEM_ERROR", "Internal error"),
    ErrorClass::SupplierUnavailable
)]
#[case::product_error_other(
    500,
    error_body("PRODUCT_ERROR", "Contract closed"),
    ErrorClass::SupplierUnavailable
)]
#[case::unknown_code_4xx(400, error_body("WHATEVER", "x"), ErrorClass::InvalidRequest)]
#[case::not_authorized(401, br#"{"error":"Not Authorized"}"#.to_vec(), ErrorClass::AuthFailed)]
#[case::developer_inactive(403, b"Developer Inactive".to_vec(), ErrorClass::AuthFailed)]
#[case::developer_over_qps(403, b"Developer Over Qps".to_vec(), ErrorClass::RateLimited)]
#[case::over_qps_html(403, b"<h1>Developer Over Qps</h1>\n".to_vec(), ErrorClass::RateLimited)]
#[case::not_found(404, b"".to_vec(), ErrorClass::NotFound)]
#[case::too_many_requests(429, b"".to_vec(), ErrorClass::RateLimited)]
#[case::bad_gateway_html(502, b"<html>Bad Gateway</html>".to_vec(), ErrorClass::SupplierUnavailable)]
#[case::service_unavailable(503, b"".to_vec(), ErrorClass::SupplierUnavailable)]
#[case::bad_request_unreadable(400, b"nope".to_vec(), ErrorClass::SupplierMalformed)]
#[case::redirect(302, b"".to_vec(), ErrorClass::SupplierMalformed)]
#[case::error_body_with_200(
    200,
    error_body("PRODUCT_ERROR", "No availability"),
    ErrorClass::SoldOut
)]
fn error_table(#[case] status: u16, #[case] body: Vec<u8>, #[case] class: ErrorClass) {
    for call in [
        Call::Search { query: query() },
        Call::Book {
            offer: offer_key("BOOKABLE"),
            book: book_input(&[("A", "B")]),
            prepared: None,
        },
    ] {
        let err = hb().parse(&call, &resp(status, &body)).unwrap_err();
        assert_eq!(err.class, class, "{}: {err}", call.op());
    }
}

#[test]
fn over_qps_header_alone_is_rate_limited() {
    let mut r = resp(403, b"Forbidden");
    r.headers
        .push(("x-rate-limit-error".into(), "over_qps".into()));
    assert_eq!(
        hb().parse(&Call::Search { query: query() }, &r)
            .unwrap_err()
            .class,
        ErrorClass::RateLimited
    );
}

#[test]
fn error_code_and_message_are_kept_without_credentials() {
    let body = error_body(
        "INVALID_REQUEST-7f3a",
        &format!("bad Api-key {KEY} / {SECRET}"),
    );
    let err = hb()
        .parse(&Call::Search { query: query() }, &resp(400, &body))
        .unwrap_err();
    assert_eq!(err.code, "INVALID_REQUEST-7f3a");
    assert_eq!(err.message, "bad Api-key <redacted> / <redacted>");
    let err = hb()
        .parse(
            &Call::Search { query: query() },
            &resp(403, format!("Developer Inactive {KEY}").as_bytes()),
        )
        .unwrap_err();
    assert!(!err.to_string().contains(KEY), "{err}");
}

// ---- recheck and prepare ------------------------------------------------------------------

fn checkrates_with_net(net: &str) -> Vec<u8> {
    String::from_utf8(CHECKRATES_RS.to_vec())
        .unwrap()
        .replace(r#""net":"231.40""#, &format!(r#""net":"{net}""#))
        .into_bytes()
}

#[test]
fn recheck_same_price_is_available_with_the_returned_key() {
    let offer = offer_key("RECHECK");
    let reply = hb()
        .parse(
            &Call::Recheck {
                offer: offer.clone(),
            },
            &resp(200, CHECKRATES_RS),
        )
        .unwrap();
    let expected = RecheckOutcome {
        status: RecheckStatus::Available,
        price: Some(eur("231.40")),
        key: Some(OfferKey {
            token: token(NEW_RATE_KEY, "BOOKABLE"),
            ..offer
        }),
        expires_at: None,
    };
    assert_eq!(reply, Reply::Recheck { outcome: expected });
}

#[test]
fn recheck_higher_price_is_price_changed_and_bookable() {
    let offer = offer_key("RECHECK");
    let reply = hb()
        .parse(
            &Call::Recheck {
                offer: offer.clone(),
            },
            &resp(200, &checkrates_with_net("254.54")),
        )
        .unwrap();
    let Reply::Recheck { outcome } = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(outcome.status, RecheckStatus::PriceChanged);
    assert_eq!(outcome.price, Some(eur("254.54")));
    let key = outcome.key.unwrap();
    assert_eq!(key.price, eur("254.54"));
    assert_eq!(key.token, token(NEW_RATE_KEY, "BOOKABLE"));
    assert_eq!(hb().book_prelude(&key), BookPrelude::None);
}

#[rstest]
#[case::no_availability(
    500,
    error_body("PRODUCT_ERROR", "No availability"),
    Ok(RecheckStatus::SoldOut)
)]
#[case::no_rates(200, br#"{"hotel":{"code":100042,"currency":"EUR","rooms":[]}}"#.to_vec(), Ok(RecheckStatus::SoldOut))]
#[case::price_changed_error(
    500,
    error_body("PRODUCT_ERROR", "Price changed"),
    Err(ErrorClass::PriceChanged)
)]
#[case::expired_key(
    400,
    error_body("INVALID_DATA", "rateKey expired"),
    Err(ErrorClass::RateExpired)
)]
#[case::system_error(
    500,
    error_body("SYSTEM_ERROR", "boom"),
    Err(ErrorClass::SupplierUnavailable)
)]
fn recheck_answers(
    #[case] status: u16,
    #[case] body: Vec<u8>,
    #[case] expected: Result<RecheckStatus, ErrorClass>,
) {
    let got = hb().parse(
        &Call::Recheck {
            offer: offer_key("RECHECK"),
        },
        &resp(status, &body),
    );
    match (got, expected) {
        (Ok(Reply::Recheck { outcome }), Ok(status)) => {
            assert_eq!(
                outcome,
                RecheckOutcome {
                    status,
                    price: None,
                    key: None,
                    expires_at: None
                }
            )
        }
        (Err(e), Err(class)) => assert_eq!(e.class, class),
        (got, expected) => panic!("{got:?} vs {expected:?}"),
    }
}

#[test]
fn book_prelude_follows_the_rate_type() {
    assert_eq!(
        hb().book_prelude(&offer_key("RECHECK")),
        BookPrelude::Prepare
    );
    assert_eq!(hb().book_prelude(&offer_key("BOOKABLE")), BookPrelude::None);
    assert_eq!(
        hb().book_prelude(&OfferKey {
            token: "garbage".into(),
            ..offer_key("BOOKABLE")
        }),
        BookPrelude::Prepare
    );
    assert_eq!(hb().cancel_prelude(), CancelPrelude::None);
}

#[test]
fn prepare_hands_the_new_rate_key_to_book() {
    let call = Call::Prepare {
        offer: offer_key("RECHECK"),
        book: book_input(&[("Ada", "Lovelace")]),
    };
    let reply = hb().parse(&call, &resp(200, CHECKRATES_RS)).unwrap();
    assert_eq!(
        reply,
        Reply::Prepared {
            prepared: Prepared {
                handle: NEW_RATE_KEY.into(),
                price: eur("231.40"),
                expires_at: None
            }
        }
    );
}

#[rstest]
#[case::price_up(200, checkrates_with_net("254.54"), ErrorClass::PriceChanged)]
#[case::price_down(200, checkrates_with_net("200.00"), ErrorClass::PriceChanged)]
#[case::sold_out(
    500,
    error_body("PRODUCT_ERROR", "No availability"),
    ErrorClass::SoldOut
)]
#[case::no_rates(200, br#"{"hotel":{"code":100042,"currency":"EUR","rooms":[]}}"#.to_vec(), ErrorClass::SoldOut)]
fn prepare_failures(#[case] status: u16, #[case] body: Vec<u8>, #[case] class: ErrorClass) {
    let call = Call::Prepare {
        offer: offer_key("RECHECK"),
        book: book_input(&[("Ada", "Lovelace")]),
    };
    assert_eq!(
        hb().parse(&call, &resp(status, &body)).unwrap_err().class,
        class
    );
}

// ---- bookings -----------------------------------------------------------------------------

fn spec_booking(status: BookingStatus) -> BookingInfo {
    BookingInfo {
        key: booking_key(),
        status,
        price: Some(eur("231.40")),
        hotel_code: Some("100042".into()),
        stay: Some(stay()),
        penalty: None,
        cancellation_reference: None,
    }
}

#[test]
fn book_example_maps_exactly() {
    let call = Call::Book {
        offer: offer_key("BOOKABLE"),
        book: book_input(&[("Ada", "Lovelace")]),
        prepared: None,
    };
    let reply = hb().parse(&call, &resp(200, BOOKING_RS)).unwrap();
    assert_eq!(
        reply,
        Reply::Booking {
            booking: Some(spec_booking(BookingStatus::Confirmed))
        }
    );
}

#[test]
fn retrieve_reads_the_same_object() {
    let reply = hb()
        .parse(
            &Call::Retrieve {
                booking: booking_key(),
            },
            &resp(200, BOOKING_RS),
        )
        .unwrap();
    assert_eq!(
        reply,
        Reply::Booking {
            booking: Some(spec_booking(BookingStatus::Confirmed))
        }
    );
}

#[test]
fn cancel_reports_penalty_and_reference() {
    let reply = hb()
        .parse(
            &Call::Cancel {
                booking: booking_key(),
                confirm: None,
            },
            &resp(200, CANCEL_RS),
        )
        .unwrap();
    let expected = BookingInfo {
        penalty: Some(eur("115.70")),
        cancellation_reference: Some("CX-88123".into()),
        ..spec_booking(BookingStatus::Cancelled)
    };
    assert_eq!(
        reply,
        Reply::Booking {
            booking: Some(expected)
        }
    );
}

#[rstest]
#[case::already_cancelled(
    error_body("INVALID_DATA", "Booking 217-4409126 is already cancelled"),
    Ok(BookingStatus::Cancelled)
)]
#[case::unknown_booking(
    error_body("INVALID_DATA", "booking not found"),
    Err(ErrorClass::NotFound)
)]
fn cancel_errors(#[case] body: Vec<u8>, #[case] expected: Result<BookingStatus, ErrorClass>) {
    let got = hb().parse(
        &Call::Cancel {
            booking: booking_key(),
            confirm: None,
        },
        &resp(400, &body),
    );
    match (got, expected) {
        (Ok(Reply::Booking { booking: Some(b) }), Ok(status)) => {
            assert_eq!(b.status, status);
            assert_eq!(b.key, booking_key());
        }
        (Err(e), Err(class)) => assert_eq!(e.class, class),
        (got, expected) => panic!("{got:?} vs {expected:?}"),
    }
}

#[rstest]
#[case::confirmed("CONFIRMED", BookingStatus::Confirmed)]
#[case::cancelled("CANCELLED", BookingStatus::Cancelled)]
#[case::pending("PENDING", BookingStatus::Pending)]
#[case::preconfirmed("PRECONFIRMED", BookingStatus::Pending)]
#[case::on_request("ON_REQUEST", BookingStatus::OnRequest)]
#[case::unknown("MODIFIED", BookingStatus::Unknown)]
fn booking_statuses(#[case] word: &str, #[case] expected: BookingStatus) {
    let body = json!({"booking":{"reference":"R-1","status":word}}).to_string();
    let reply = hb()
        .parse(
            &Call::Retrieve {
                booking: booking_key(),
            },
            &resp(200, body.as_bytes()),
        )
        .unwrap();
    let Reply::Booking { booking: Some(b) } = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(b.status, expected);
    assert_eq!((b.price, b.stay, b.hotel_code), (None, None, None));
}

fn find_call() -> Call {
    Call::Find {
        client_reference: "AGT-7Q2K9".into(),
        offer: offer_key("BOOKABLE"),
        email: String::new(),
    }
}

#[test]
fn find_returns_the_listed_booking() {
    let booking: Value = serde_json::from_slice::<Value>(BOOKING_RS).unwrap()["booking"].clone();
    let body = json!({"bookings":{"bookings":[booking],"total":1}}).to_string();
    let reply = hb()
        .parse(&find_call(), &resp(200, body.as_bytes()))
        .unwrap();
    assert_eq!(
        reply,
        Reply::Booking {
            booking: Some(spec_booking(BookingStatus::Confirmed))
        }
    );
}

#[rstest]
#[case::empty(br#"{"bookings":{"bookings":[],"total":0}}"#.as_slice())]
#[case::no_list(br#"{"bookings":{"total":0}}"#.as_slice())]
#[case::other_reference(br#"{"bookings":{"bookings":[{"reference":"1-2","clientReference":"OTHER","status":"CONFIRMED"}],"total":1}}"#.as_slice())]
fn find_nothing(#[case] body: &[u8]) {
    assert_eq!(
        hb().parse(&find_call(), &resp(200, body)).unwrap(),
        Reply::Booking { booking: None }
    );
}

#[rstest]
#[case::no_reference(br#"{"booking":{"reference":"","status":"CONFIRMED"}}"#.as_slice())]
#[case::amount_without_currency(br#"{"booking":{"reference":"R","status":"CONFIRMED","totalNet":"1.00"}}"#.as_slice())]
#[case::status_missing(br#"{"booking":{"reference":"R"}}"#.as_slice())]
fn malformed_bookings(#[case] body: &[u8]) {
    let err = hb()
        .parse(
            &Call::Retrieve {
                booking: booking_key(),
            },
            &resp(200, body),
        )
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::SupplierMalformed);
}

// ---- content ------------------------------------------------------------------------------

#[test]
fn content_example_maps_exactly() {
    let reply = hb()
        .parse(
            &Call::Content {
                hotels: vec!["100042".into()],
            },
            &resp(200, CONTENT_RS),
        )
        .unwrap();
    let expected = HotelContent {
        code: "100042".into(),
        name: "Harbour Lights Hotel".into(),
        address: Some("Rua do Cais 12".into()),
        city: Some("LISBON".into()),
        country: None,
        latitude: Some(38.7071),
        longitude: Some(-9.1355),
        time_zone: None,
        amenities: vec!["Wi-fi".into()],
        rooms: vec![RoomContent {
            code: "DBL.SU".into(),
            name: "DOUBLE SUPERIOR SEA VIEW".into(),
            max_occupancy: Some(3),
        }],
    };
    assert_eq!(
        reply,
        Reply::Content {
            hotels: vec![expected]
        }
    );
}

// ---- tokens -------------------------------------------------------------------------------

#[test]
fn rate_token_round_trips_and_stays_compact() {
    let t = RateToken {
        rate_key: RATE_KEY.into(),
        rate_type: "RECHECK".into(),
    };
    let s = encode_token(&t);
    assert_eq!(s, format!(r#"{{"k":"{RATE_KEY}","t":"RECHECK"}}"#));
    assert_eq!(
        RateToken::read(&OfferKey {
            token: s,
            ..offer_key("BOOKABLE")
        })
        .unwrap(),
        t
    );
}
