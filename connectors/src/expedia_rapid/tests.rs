//! Rapid translation over raw bytes: the spec's worked signature and example bodies, every
//! error-table row, malformed bodies, link following through price check, book, retrieve and
//! cancel, and the tokens that carry the links.

use std::str::FromStr;

use chrono::{NaiveDate, TimeZone, Utc};
use rstest::rstest;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::*;

const SEARCH_RS: &[u8] = include_bytes!("../../tests/fixtures/expedia_rapid/search_rs.json");
const PC_AVAILABLE: &[u8] =
    include_bytes!("../../tests/fixtures/expedia_rapid/price_check_available.json");
const PC_CHANGED: &[u8] =
    include_bytes!("../../tests/fixtures/expedia_rapid/price_check_changed.json");
const PC_SOLD_OUT: &[u8] =
    include_bytes!("../../tests/fixtures/expedia_rapid/price_check_sold_out.json");
const BOOK_RS: &[u8] = include_bytes!("../../tests/fixtures/expedia_rapid/book_rs.json");
const RETRIEVE_RS: &[u8] = include_bytes!("../../tests/fixtures/expedia_rapid/retrieve_rs.json");
const ERROR_401: &[u8] = include_bytes!("../../tests/fixtures/expedia_rapid/error_401.json");
const CONTENT_RS: &[u8] = include_bytes!("../../tests/fixtures/expedia_rapid/content_rs.json");

const KEY: &str = "rapidkey123";
const SECRET: &str = "rapidsecret";
const NOW: i64 = 1767225600;
const BASE: &str = "http://127.0.0.1:9102";
const IP: &str = "203.0.113.9";
const PRICE_CHECK: &str = "/v3/properties/300042/rooms/5301/rates/880101?token=Q1x9eF";
const BOOK: &str = "/v3/itineraries?token=B7ka2";
const RETRIEVE: &str = "/v3/itineraries/9100000042?token=R4t";
const CANCEL: &str = "/v3/itineraries/9100000042/rooms/77001?token=C9z";
const EMAIL: &str = "bookings@agency.example";

fn connector(mode: AuthMode) -> ExpediaRapid {
    ExpediaRapid::new(Credentials {
        key: KEY.into(),
        secret: SECRET.into(),
        account: None,
        mode,
    })
}

fn rapid() -> ExpediaRapid {
    connector(AuthMode::Native)
}

fn cx() -> CallContext<'static> {
    CallContext {
        now: NOW,
        nonce: "n0nce42",
        base_url: BASE,
        bearer: None,
        customer_ip: IP,
    }
}

fn eur(s: &str) -> Money {
    Money::new(Decimal::from_str(s).unwrap(), "EUR")
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
        hotels: vec!["300042".into(), "300077".into()],
        currency: "EUR".into(),
        nationality: "FR".into(),
    }
}

fn rate_token(price_check: Option<&str>, book: Option<&str>) -> String {
    encode_token(&RateToken {
        price_check: price_check.map(Into::into),
        book: book.map(Into::into),
    })
}

fn offer_key() -> OfferKey {
    OfferKey {
        hotel: "300042".into(),
        room: "5301".into(),
        rate: "880101".into(),
        stay: stay(),
        rooms: family(),
        price: eur("244.20"),
        token: rate_token(Some(PRICE_CHECK), None),
    }
}

fn rechecked_key() -> OfferKey {
    OfferKey {
        token: rate_token(Some(PRICE_CHECK), Some(BOOK)),
        ..offer_key()
    }
}

fn book_input() -> BookInput {
    BookInput {
        guests: vec![Guest {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
        }],
        client_reference: "AGT-7Q2K9".into(),
        email: EMAIL.into(),
        phone: "+33 155501234".into(),
    }
}

fn itinerary_token(retrieve: Option<&str>, cancel: &[&str], email: Option<&str>) -> String {
    encode_token(&ItineraryToken {
        retrieve: retrieve.map(Into::into),
        cancel: cancel.iter().map(|c| c.to_string()).collect(),
        email: email.map(Into::into),
    })
}

fn booking_key(token: String) -> BookingKey {
    BookingKey {
        supplier_reference: "9100000042".into(),
        client_reference: "AGT-7Q2K9".into(),
        token,
    }
}

fn booked_key() -> BookingKey {
    booking_key(itinerary_token(Some(RETRIEVE), &[], Some(EMAIL)))
}

fn retrieved_key() -> BookingKey {
    booking_key(itinerary_token(Some(RETRIEVE), &[CANCEL], Some(EMAIL)))
}

fn resp(status: u16, body: &[u8]) -> WireResponse {
    WireResponse::new(status, body.to_vec())
}

fn find_call() -> Call {
    Call::Find {
        client_reference: "AGT-7Q2K9".into(),
        offer: offer_key(),
        email: EMAIL.into(),
    }
}

fn all_calls() -> Vec<Call> {
    vec![
        Call::Search { query: query() },
        Call::Content {
            hotels: vec!["300042".into()],
        },
        Call::Recheck { offer: offer_key() },
        Call::Prepare {
            offer: offer_key(),
            book: book_input(),
        },
        Call::Book {
            offer: rechecked_key(),
            book: book_input(),
            prepared: None,
        },
        Call::Retrieve {
            booking: booked_key(),
        },
        find_call(),
        Call::Cancel {
            booking: retrieved_key(),
            confirm: None,
        },
    ]
}

// ---- auth and headers ---------------------------------------------------------------------

#[test]
fn worked_signature_example_end_to_end() {
    let req = rapid()
        .build(&Call::Search { query: query() }, &cx())
        .unwrap();
    assert_eq!(
        req.get_header("Authorization"),
        Some("EAN APIKey=rapidkey123,Signature=d68e7b5d9786940ec6e21ea71651cd4432d275ae021ed31e4bcfa27d830f750ee71f3982b953e381de79a4ebb5c380f5b68a29565df8703499c11a9d2a06ea03,timestamp=1767225600")
    );
    assert_eq!(req.get_header("Accept"), Some("application/json"));
}

#[rstest]
#[case::search(0, Method::Get, "/v3/properties/availability?checkin=2027-01-15&checkout=2027-01-17&currency=EUR&country_code=FR&language=en-US&occupancy=2-6&property_id=300042&property_id=300077&rate_plan_count=4&sales_channel=agent_tool&sales_environment=hotel_only", false)]
#[case::content(
    1,
    Method::Get,
    "/v3/properties/content?property_id=300042&language=en-US",
    false
)]
#[case::recheck(2, Method::Get, PRICE_CHECK, true)]
#[case::prepare(3, Method::Get, PRICE_CHECK, true)]
#[case::book(4, Method::Post, BOOK, true)]
#[case::retrieve(5, Method::Get, RETRIEVE, true)]
#[case::find(
    6,
    Method::Get,
    "/v3/itineraries?affiliate_reference_id=AGT-7Q2K9&email=bookings%40agency.example",
    true
)]
#[case::cancel(7, Method::Delete, CANCEL, true)]
fn endpoints_and_customer_ip(
    #[case] i: usize,
    #[case] method: Method,
    #[case] path: &str,
    #[case] with_ip: bool,
) {
    let req = rapid().build(&all_calls()[i], &cx()).unwrap();
    assert_eq!((req.method, req.path.as_str()), (method, path));
    assert_eq!(req.get_header("Customer-Ip"), with_ip.then_some(IP));
    assert!(req
        .get_header("Authorization")
        .is_some_and(|a| a.starts_with("EAN APIKey=rapidkey123,Signature=")));
    assert_eq!(req.get_header("Accept"), Some("application/json"));
    assert_eq!(req.body.is_empty(), method != Method::Post);
}

#[rstest]
fn customer_ip_is_required_where_rapid_requires_it(#[values(4, 5, 6, 7)] i: usize) {
    let cx = CallContext {
        customer_ip: "",
        ..cx()
    };
    let err = rapid().build(&all_calls()[i], &cx).unwrap_err();
    assert_eq!(err.class, ErrorClass::InvalidRequest);
}

#[test]
fn occupancies_repeat_per_room() {
    let mut q = query();
    q.rooms = vec![
        Occupancy {
            adults: 2,
            children_ages: vec![9, 4],
        },
        Occupancy {
            adults: 1,
            children_ages: vec![],
        },
    ];
    let req = rapid().build(&Call::Search { query: q }, &cx()).unwrap();
    assert!(
        req.path.contains("&occupancy=2-9,4&occupancy=1&"),
        "{}",
        req.path
    );
}

#[test]
fn basic_mode_replaces_the_ean_header() {
    let req = connector(AuthMode::Basic)
        .build(&Call::Recheck { offer: offer_key() }, &cx())
        .unwrap();
    assert_eq!(
        req.get_header("Authorization"),
        Some("Basic cmFwaWRrZXkxMjM6cmFwaWRzZWNyZXQ=")
    );
    assert_eq!(
        req.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
            .count(),
        1
    );
}

#[test]
fn oauth1_mode_signs_the_followed_link() {
    let req = connector(AuthMode::Oauth1)
        .build(&Call::Recheck { offer: offer_key() }, &cx())
        .unwrap();
    let expected = auth::oauth1_header(
        "GET",
        &format!("{BASE}{PRICE_CHECK}"),
        KEY,
        SECRET,
        "n0nce42",
        NOW,
    );
    assert_eq!(req.get_header("Authorization"), Some(expected.as_str()));
    assert!(!expected.contains("EAN"));
}

#[test]
fn book_body_follows_the_spec() {
    let mut book = book_input();
    book.guests.push(Guest {
        first_name: "Charles".into(),
        last_name: "Babbage".into(),
    });
    let offer = OfferKey {
        rooms: vec![
            family()[0].clone(),
            Occupancy {
                adults: 1,
                children_ages: vec![],
            },
            family()[0].clone(),
        ],
        ..rechecked_key()
    };
    let req = rapid()
        .build(
            &Call::Book {
                offer,
                book,
                prepared: None,
            },
            &cx(),
        )
        .unwrap();
    assert_eq!(req.get_header("Content-Type"), Some("application/json"));
    assert_eq!(
        serde_json::from_slice::<Value>(&req.body).unwrap(),
        json!({"affiliate_reference_id":"AGT-7Q2K9","hold":false,"email":EMAIL,
               "phone":{"country_code":"33","number":"155501234"},
               "rooms":[{"given_name":"Ada","family_name":"Lovelace","smoking":false},
                        {"given_name":"Charles","family_name":"Babbage","smoking":false},
                        {"given_name":"Ada","family_name":"Lovelace","smoking":false}],
               "payments":[{"type":"affiliate_collect"}]})
    );
}

#[test]
fn book_posts_the_prepared_link() {
    let prepared = Prepared {
        handle: "/v3/itineraries?token=PREP1".into(),
        price: eur("244.20"),
        expires_at: None,
    };
    let req = rapid()
        .build(
            &Call::Book {
                offer: offer_key(),
                book: book_input(),
                prepared: Some(prepared),
            },
            &cx(),
        )
        .unwrap();
    assert_eq!(
        (req.method, req.path.as_str()),
        (Method::Post, "/v3/itineraries?token=PREP1")
    );
}

#[test]
fn absolute_links_are_followed_on_the_configured_host_only() {
    let offer = OfferKey {
        token: rate_token(
            Some("https://api.ean.com/v3/properties/1/rooms/2/rates/3?token=T"),
            None,
        ),
        ..offer_key()
    };
    let req = rapid().build(&Call::Recheck { offer }, &cx()).unwrap();
    assert_eq!(req.path, "/v3/properties/1/rooms/2/rates/3?token=T");
}

#[test]
fn retrieve_without_a_link_finds_by_reference() {
    let key = booking_key(itinerary_token(None, &[], Some(EMAIL)));
    let req = rapid()
        .build(&Call::Retrieve { booking: key }, &cx())
        .unwrap();
    assert_eq!(
        req.path,
        "/v3/itineraries?affiliate_reference_id=AGT-7Q2K9&email=bookings%40agency.example"
    );
}

#[rstest]
#[case::token_call(Call::Token)]
#[case::cancel_quote(Call::CancelQuote { booking: booked_key() })]
#[case::garbled_offer_token(Call::Recheck { offer: OfferKey { token: "/v3/properties/1?token=x".into(), ..offer_key() } })]
#[case::empty_offer_token(Call::Recheck { offer: OfferKey { token: String::new(), ..offer_key() } })]
#[case::no_price_check(Call::Prepare { offer: OfferKey { token: "{}".into(), ..offer_key() }, book: book_input() })]
#[case::hostile_link(Call::Recheck { offer: OfferKey { token: rate_token(Some("//evil.example/x"), None), ..offer_key() } })]
#[case::header_injection(Call::Recheck { offer: OfferKey { token: rate_token(Some("/v3/x\r\nHost: evil"), None), ..offer_key() } })]
#[case::book_without_link(Call::Book { offer: offer_key(), book: book_input(), prepared: None })]
#[case::book_without_guests(Call::Book { offer: rechecked_key(), book: BookInput { guests: vec![], ..book_input() }, prepared: None })]
#[case::garbled_booking_token(Call::Retrieve { booking: booking_key("{\"r\":".into()) })]
#[case::nothing_to_retrieve(Call::Retrieve { booking: booking_key(itinerary_token(None, &[], None)) })]
#[case::nothing_to_cancel(Call::Cancel { booking: booked_key(), confirm: None })]
#[case::find_without_email(Call::Find { client_reference: "AGT-7Q2K9".into(), offer: offer_key(), email: String::new() })]
#[case::non_numeric_property(Call::Content { hotels: vec!["30&0042".into()] })]
fn calls_that_cannot_be_built(#[case] call: Call) {
    let err = rapid().build(&call, &cx()).unwrap_err();
    assert_eq!(err.class, ErrorClass::InvalidRequest, "{err}");
}

#[rstest]
#[case::spec_example(1, 2, 2, true)]
#[case::eight_rooms(8, 2, 2, true)]
#[case::nine_rooms(9, 2, 2, false)]
#[case::no_rooms(0, 2, 2, false)]
#[case::two_fifty_properties(1, 250, 2, true)]
#[case::too_many_properties(1, 251, 2, false)]
#[case::twenty_eight_nights(1, 2, 28, true)]
#[case::twenty_nine_nights(1, 2, 29, false)]
fn supports_limits(
    #[case] rooms: usize,
    #[case] hotels: usize,
    #[case] nights: i64,
    #[case] expected: bool,
) {
    let mut q = query();
    q.rooms = vec![
        Occupancy {
            adults: 2,
            children_ages: vec![]
        };
        rooms
    ];
    q.hotels = (0..hotels).map(|i| (300000 + i).to_string()).collect();
    q.stay.checkout = q.stay.checkin + chrono::Duration::days(nights);
    assert_eq!(rapid().supports(&q), expected);
}

// ---- search -------------------------------------------------------------------------------

fn spec_offer() -> SupplierOffer {
    SupplierOffer {
        room_code: "5301".into(),
        room_name: "Superior Room, 1 King Bed, Sea View".into(),
        rate_code: "880101".into(),
        rate_name: "1 King Bed".into(),
        board: Board::RoomOnly,
        refundable: true,
        cancel_penalties: vec![Penalty {
            from: CancelTime::Instant(Utc.with_ymd_and_hms(2027, 1, 13, 0, 0, 0).unwrap()),
            amount: eur("120.00"),
        }],
        price: eur("244.20"),
        taxes_included: true,
        pay_at_hotel: vec![Fee {
            name: "Property fees".into(),
            amount: eur("6.00"),
        }],
        pay_at_hotel_listed: true,
        allotment: Some(4),
        key: offer_key(),
    }
}

#[test]
fn search_example_maps_exactly() {
    let reply = rapid()
        .parse(&Call::Search { query: query() }, &resp(200, SEARCH_RS))
        .unwrap();
    assert_eq!(
        reply,
        Reply::Search {
            hotels: vec![HotelOffers {
                hotel_code: "300042".into(),
                hotel_name: String::new(),
                offers: vec![spec_offer()]
            }]
        }
    );
}

#[test]
fn nothing_available_is_an_empty_array() {
    assert_eq!(
        rapid()
            .parse(&Call::Search { query: query() }, &resp(200, b"[]"))
            .unwrap(),
        Reply::Search { hotels: vec![] }
    );
}

fn rate(extra: Value) -> Value {
    let mut rate = json!({"id":"1","status":"available","refundable":false,
        "bed_groups":{"a":{"description":"2 Queen Beds","links":{"price_check":{"method":"GET","href":"/v3/pc?token=A"}}},
                      "b":{"description":"1 King Bed","links":{"price_check":{"method":"GET","href":"/v3/pc?token=B"}}},
                      "c":{"description":"no link"}},
        "occupancy_pricing":{
            "2":{"totals":{"inclusive":{"request_currency":{"value":"100.00","currency":"EUR"}}}},
            "1-4,9":{"totals":{"inclusive":{"request_currency":{"value":"80.50","currency":"EUR"}},
                               "property_fees":{"request_currency":{"value":"3.00","currency":"EUR"}}}}}});
    if let (Some(r), Some(e)) = (rate.as_object_mut(), extra.as_object()) {
        r.extend(e.clone());
    }
    rate
}

fn parse_rate(rooms: Vec<Occupancy>, rate: Value) -> SupplierResult<Vec<SupplierOffer>> {
    let body = json!([{"property_id":"300042","status":"available","rooms":[{"id":"9","room_name":"Room","rates":[rate]}]}]);
    let q = SearchQuery { rooms, ..query() };
    match rapid().parse(
        &Call::Search { query: q },
        &resp(200, body.to_string().as_bytes()),
    )? {
        Reply::Search { hotels } => Ok(hotels.into_iter().flat_map(|h| h.offers).collect()),
        other => panic!("{other:?}"),
    }
}

/// §Search response: `totals.inclusive` includes taxes and service fees; `property_fees` are paid
/// at the property (none given or zero: nothing to pay there).
#[rstest]
#[case::fees(Some("6.00"), vec![eur("6.00")])]
#[case::zero_fees(Some("0.00"), vec![])]
#[case::no_fees(None, vec![])]
fn inclusive_totals_and_property_fees(#[case] fee: Option<&str>, #[case] expected: Vec<Money>) {
    let mut totals = json!({"inclusive":{"request_currency":{"value":"244.20","currency":"EUR"}},
                            "exclusive":{"request_currency":{"value":"220.00","currency":"EUR"}}});
    if let Some(f) = fee {
        totals["property_fees"] = json!({"request_currency":{"value":f,"currency":"EUR"}});
    }
    let r = rate(json!({"occupancy_pricing":{"2":{"totals":totals}}}));
    let rooms = vec![Occupancy {
        adults: 2,
        children_ages: vec![],
    }];
    let o = parse_rate(rooms, r).unwrap().remove(0);
    assert_eq!(o.price, eur("244.20"));
    assert!(o.taxes_included && o.pay_at_hotel_listed);
    let got: Vec<Money> = o.pay_at_hotel.into_iter().map(|f| f.amount).collect();
    assert_eq!(got, expected);
}

#[test]
fn multi_room_prices_add_up_per_occupancy_and_each_bed_group_is_an_offer() {
    let rooms = vec![
        Occupancy {
            adults: 2,
            children_ages: vec![],
        },
        Occupancy {
            adults: 1,
            children_ages: vec![9, 4],
        },
        Occupancy {
            adults: 2,
            children_ages: vec![],
        },
    ];
    let offers = parse_rate(rooms, rate(json!({}))).unwrap();
    let got: Vec<(&str, &str, Money, Vec<Fee>)> = offers
        .iter()
        .map(|o| {
            (
                o.rate_name.as_str(),
                o.key.token.as_str(),
                o.price.clone(),
                o.pay_at_hotel.clone(),
            )
        })
        .collect();
    let fees = vec![Fee {
        name: "Property fees".into(),
        amount: eur("3.00"),
    }];
    assert_eq!(
        got,
        vec![
            (
                "2 Queen Beds",
                r#"{"pc":"/v3/pc?token=A"}"#,
                eur("280.50"),
                fees.clone()
            ),
            (
                "1 King Bed",
                r#"{"pc":"/v3/pc?token=B"}"#,
                eur("280.50"),
                fees
            ),
        ]
    );
    assert!(!offers[0].refundable);
    assert_eq!(offers[0].allotment, None);
}

#[rstest]
#[case::none(json!({}), Board::RoomOnly)]
#[case::breakfast_map(json!({"amenities":{"2104":{"id":"2104","name":"Free breakfast"}}}), Board::Breakfast)]
#[case::breakfast_list(json!({"amenities":[{"id":"1","name":"Breakfast buffet"}]}), Board::Breakfast)]
#[case::half_board(json!({"amenities":["Half board"]}), Board::HalfBoard)]
#[case::full_board(json!({"amenities":["Full Board"]}), Board::FullBoard)]
#[case::all_inclusive(json!({"amenities":["All Inclusive"]}), Board::AllInclusive)]
#[case::other_amenity(json!({"amenities":{"1":{"id":"1","name":"Free WiFi"}}}), Board::RoomOnly)]
fn board_from_rate_amenities(#[case] extra: Value, #[case] expected: Board) {
    let offers = parse_rate(
        vec![Occupancy {
            adults: 2,
            children_ages: vec![],
        }],
        rate(extra),
    )
    .unwrap();
    assert_eq!(offers[0].board, expected);
}

#[test]
fn unavailable_rates_and_properties_are_left_out() {
    let offers = parse_rate(
        vec![Occupancy {
            adults: 2,
            children_ages: vec![],
        }],
        rate(json!({"status":"sold_out"})),
    )
    .unwrap();
    assert!(offers.is_empty());
    let body = br#"[{"property_id":"1","status":"partially_unavailable","rooms":[]}]"#;
    assert_eq!(
        rapid()
            .parse(&Call::Search { query: query() }, &resp(200, body))
            .unwrap(),
        Reply::Search { hotels: vec![] }
    );
}

// ---- malformed ----------------------------------------------------------------------------

fn one_rate_body(rate: Value) -> Vec<u8> {
    json!([{"property_id":"300042","rooms":[{"id":"9","rates":[rate]}]}])
        .to_string()
        .into_bytes()
}

#[rstest]
#[case::empty(b"".to_vec())]
#[case::truncated(SEARCH_RS[..SEARCH_RS.len() - 3].to_vec())]
#[case::object(b"{}".to_vec())]
#[case::html(b"<html></html>".to_vec())]
#[case::error_envelope_with_200(ERROR_401.to_vec())]
#[case::pricing_missing(one_rate_body(json!({"id":"1"})))]
#[case::no_pricing_for_the_occupancy(one_rate_body(rate(json!({"occupancy_pricing":{"3":{"totals":{"inclusive":{"request_currency":{"value":"1","currency":"EUR"}}}}}}))))]
#[case::amount_word(one_rate_body(rate(json!({"occupancy_pricing":{"2-6":{"totals":{"inclusive":{"request_currency":{"value":"lots","currency":"EUR"}}}}}}))))]
#[case::amount_negative(one_rate_body(rate(json!({"occupancy_pricing":{"2-6":{"totals":{"inclusive":{"request_currency":{"value":"-2","currency":"EUR"}}}}}}))))]
#[case::penalty_date(one_rate_body(rate(json!({"cancel_penalties":[{"currency":"EUR","start":"soon","amount":"1"}]}))))]
#[case::penalty_without_amount(one_rate_body(rate(json!({"cancel_penalties":[{"currency":"EUR","start":"2027-01-13T00:00:00Z"}]}))))]
#[case::refundable_string(one_rate_body(rate(json!({"refundable":"yes"}))))]
fn malformed_search_bodies(#[case] body: Vec<u8>) {
    let err = rapid()
        .parse(&Call::Search { query: query() }, &resp(200, &body))
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::SupplierMalformed, "{err}");
}

#[rstest]
fn truncated_bodies_are_malformed_for_every_call(#[values(0, 1, 2, 3, 4, 5, 6)] i: usize) {
    let call = &all_calls()[i];
    let full = [
        SEARCH_RS,
        CONTENT_RS,
        PC_AVAILABLE,
        PC_AVAILABLE,
        BOOK_RS,
        RETRIEVE_RS,
        RETRIEVE_RS,
    ][i];
    let err = rapid()
        .parse(call, &resp(200, &full[..full.len() - 4]))
        .unwrap_err();
    assert_eq!(
        err.class,
        ErrorClass::SupplierMalformed,
        "{}: {err}",
        call.op()
    );
}

#[rstest]
#[case::unknown_status(br#"{"status":"maybe","links":{}}"#.as_slice())]
#[case::available_without_book_link(br#"{"status":"available","occupancy_pricing":{"2-6":{"totals":{"inclusive":{"request_currency":{"value":"244.20","currency":"EUR"}}}}}}"#.as_slice())]
#[case::available_without_pricing(br#"{"status":"available","links":{"book":{"href":"/v3/itineraries?token=B"}}}"#.as_slice())]
#[case::bad_expiry(br#"{"status":"available","occupancy_pricing":{"2-6":{"totals":{"inclusive":{"request_currency":{"value":"244.20","currency":"EUR"}}}}},"links":{"book":{"href":"/b","expires":"later"}}}"#.as_slice())]
fn malformed_price_checks(#[case] body: &[u8]) {
    let err = rapid()
        .parse(&Call::Recheck { offer: offer_key() }, &resp(200, body))
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::SupplierMalformed, "{err}");
}

// ---- errors -------------------------------------------------------------------------------

fn envelope(kind: &str, message: &str) -> Vec<u8> {
    json!({"type":kind,"message":message})
        .to_string()
        .into_bytes()
}

#[rstest]
#[case::invalid_input(
    400,
    envelope(
        "invalid_input",
        "An invalid request was sent in, please check the nested errors for details."
    ),
    ErrorClass::InvalidRequest
)]
#[case::invalid_input_nested(400, br#"{"type":"invalid_input","message":"x","errors":[{"type":"number_of_occupancies.invalid_above_maximum","message":"y"}]}"#.to_vec(), ErrorClass::InvalidRequest)]
#[case::invalid_link(400, br#"{"type":"invalid_input","message":"x","errors":[{"type":"link.invalid","message":"y"}]}"#.to_vec(), ErrorClass::RateExpired)]
#[case::unauthenticated(401, ERROR_401.to_vec(), ErrorClass::AuthFailed)]
#[case::unauthenticated_no_body(401, b"".to_vec(), ErrorClass::AuthFailed)]
#[case::forbidden(403, envelope("forbidden", "no"), ErrorClass::AuthFailed)]
#[case::not_found(404, envelope("resource_not_found", "gone"), ErrorClass::NotFound)]
#[case::price_mismatch(
    409,
    envelope("price_mismatch", "price changed"),
    ErrorClass::PriceChanged
)]
#[case::rooms_unavailable(410, envelope("rooms_unavailable", "sold"), ErrorClass::SoldOut)]
#[case::link_expired(410, envelope("link_expired", "expired"), ErrorClass::RateExpired)]
#[case::too_many_requests(
    429,
    envelope("too_many_requests", "slow down"),
    ErrorClass::RateLimited
)]
#[case::internal(
    500,
    envelope("unknown_internal_error", "oops"),
    ErrorClass::SupplierUnavailable
)]
#[case::unavailable(
    503,
    envelope("service_unavailable", "later"),
    ErrorClass::SupplierUnavailable
)]
#[case::gateway_html(502, b"<html>bad gateway</html>".to_vec(), ErrorClass::SupplierUnavailable)]
#[case::conflict_other(409, envelope("something_else", "x"), ErrorClass::InvalidRequest)]
#[case::bad_request_unreadable(400, b"nope".to_vec(), ErrorClass::SupplierMalformed)]
#[case::gone_unreadable(410, b"".to_vec(), ErrorClass::SupplierMalformed)]
fn error_table(#[case] status: u16, #[case] body: Vec<u8>, #[case] class: ErrorClass) {
    for call in all_calls() {
        let err = rapid().parse(&call, &resp(status, &body));
        if matches!(call, Call::Find { .. }) && status == 404 {
            assert_eq!(err, Ok(Reply::Booking { booking: None }));
            continue;
        }
        let err = err.unwrap_err();
        assert_eq!(err.class, class, "{}: {err}", call.op());
    }
}

#[test]
fn error_messages_keep_type_and_lose_credentials() {
    let body = envelope("invalid_input", &format!("APIKey={KEY} secret={SECRET}"));
    let err = rapid()
        .parse(&Call::Search { query: query() }, &resp(400, &body))
        .unwrap_err();
    assert_eq!(err.code, "invalid_input");
    assert_eq!(err.message, "APIKey=<redacted> secret=<redacted>");
    let err = rapid()
        .parse(&Call::Search { query: query() }, &resp(401, ERROR_401))
        .unwrap_err();
    assert_eq!(
        err.message,
        "Data required to authenticate your request is missing or inaccurate."
    );
}

// ---- price check --------------------------------------------------------------------------

#[test]
fn recheck_available_keeps_the_book_link() {
    let reply = rapid()
        .parse(
            &Call::Recheck { offer: offer_key() },
            &resp(200, PC_AVAILABLE),
        )
        .unwrap();
    let expected = RecheckOutcome {
        status: RecheckStatus::Available,
        price: Some(eur("244.20")),
        key: Some(rechecked_key()),
        expires_at: Some(Utc.with_ymd_and_hms(2026, 11, 22, 10, 35, 0).unwrap()),
    };
    assert_eq!(reply, Reply::Recheck { outcome: expected });
    assert_eq!(rapid().book_prelude(&rechecked_key()), BookPrelude::None);
}

#[test]
fn recheck_price_changed_carries_the_new_price_and_link() {
    let reply = rapid()
        .parse(
            &Call::Recheck { offer: offer_key() },
            &resp(200, PC_CHANGED),
        )
        .unwrap();
    let Reply::Recheck { outcome } = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(outcome.status, RecheckStatus::PriceChanged);
    assert_eq!(outcome.price, Some(eur("268.62")));
    let key = outcome.key.unwrap();
    assert_eq!(key.price, eur("268.62"));
    assert_eq!(
        key.token,
        rate_token(Some(PRICE_CHECK), Some("/v3/itineraries?token=B8zz9"))
    );
}

#[test]
fn recheck_sold_out() {
    let reply = rapid()
        .parse(
            &Call::Recheck { offer: offer_key() },
            &resp(200, PC_SOLD_OUT),
        )
        .unwrap();
    assert_eq!(
        reply,
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
fn recheck_available_at_another_price_is_a_change() {
    let offer = OfferKey {
        price: eur("230.00"),
        ..offer_key()
    };
    let reply = rapid()
        .parse(&Call::Recheck { offer }, &resp(200, PC_AVAILABLE))
        .unwrap();
    let Reply::Recheck { outcome } = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(
        (outcome.status, outcome.price),
        (RecheckStatus::PriceChanged, Some(eur("244.20")))
    );
}

#[test]
fn prepare_hands_the_book_link_to_book() {
    let reply = rapid()
        .parse(
            &Call::Prepare {
                offer: offer_key(),
                book: book_input(),
            },
            &resp(200, PC_AVAILABLE),
        )
        .unwrap();
    let expected = Prepared {
        handle: BOOK.into(),
        price: eur("244.20"),
        expires_at: Some(Utc.with_ymd_and_hms(2026, 11, 22, 10, 35, 0).unwrap()),
    };
    assert_eq!(reply, Reply::Prepared { prepared: expected });
}

#[rstest]
#[case::price_changed(200, PC_CHANGED, ErrorClass::PriceChanged)]
#[case::sold_out(200, PC_SOLD_OUT, ErrorClass::SoldOut)]
#[case::link_expired(410, br#"{"type":"link_expired","message":"expired"}"#.as_slice(), ErrorClass::RateExpired)]
fn prepare_failures(#[case] status: u16, #[case] body: &[u8], #[case] class: ErrorClass) {
    let err = rapid()
        .parse(
            &Call::Prepare {
                offer: offer_key(),
                book: book_input(),
            },
            &resp(status, body),
        )
        .unwrap_err();
    assert_eq!(err.class, class);
}

#[test]
fn book_prelude_and_cancel_prelude() {
    assert_eq!(rapid().book_prelude(&offer_key()), BookPrelude::Prepare);
    assert_eq!(
        rapid().book_prelude(&OfferKey {
            token: "junk".into(),
            ..offer_key()
        }),
        BookPrelude::Prepare
    );
    assert_eq!(rapid().cancel_prelude(), CancelPrelude::Retrieve);
}

// ---- book, retrieve, find, cancel ---------------------------------------------------------

fn booked_info() -> BookingInfo {
    BookingInfo {
        key: booked_key(),
        status: BookingStatus::Confirmed,
        price: Some(eur("244.20")),
        hotel_code: Some("300042".into()),
        stay: Some(stay()),
        penalty: None,
        cancellation_reference: None,
    }
}

#[test]
fn book_created_is_confirmed_with_the_retrieve_link() {
    let call = Call::Book {
        offer: rechecked_key(),
        book: book_input(),
        prepared: None,
    };
    assert_eq!(
        rapid().parse(&call, &resp(201, BOOK_RS)).unwrap(),
        Reply::Booking {
            booking: Some(booked_info())
        }
    );
}

#[test]
fn book_price_is_the_prepared_one() {
    let prepared = Prepared {
        handle: BOOK.into(),
        price: eur("250.00"),
        expires_at: None,
    };
    let call = Call::Book {
        offer: offer_key(),
        book: book_input(),
        prepared: Some(prepared),
    };
    let Reply::Booking { booking: Some(b) } = rapid().parse(&call, &resp(201, BOOK_RS)).unwrap()
    else {
        panic!()
    };
    assert_eq!(b.price, Some(eur("250.00")));
}

#[rstest]
#[case::string_id(br#"{"type":"duplicate_itinerary","message":"dup","fields":[{"name":"itinerary_id","type":"body","value":"9100000042"}]}"#.as_slice(), Ok("9100000042"))]
#[case::number_id(br#"{"type":"duplicate_itinerary","message":"dup","fields":[{"name":"itinerary_id","value":9100000042}]}"#.as_slice(), Ok("9100000042"))]
#[case::no_id(br#"{"type":"duplicate_itinerary","message":"dup"}"#.as_slice(), Err(ErrorClass::BookingUnknown))]
fn duplicate_itinerary_is_our_earlier_booking(
    #[case] body: &[u8],
    #[case] expected: Result<&str, ErrorClass>,
) {
    let call = Call::Book {
        offer: rechecked_key(),
        book: book_input(),
        prepared: None,
    };
    match (rapid().parse(&call, &resp(409, body)), expected) {
        (Ok(Reply::Booking { booking: Some(b) }), Ok(id)) => {
            assert_eq!(b.key.supplier_reference, id);
            assert_eq!(b.status, BookingStatus::Confirmed);
            assert_eq!(b.key.token, itinerary_token(None, &[], Some(EMAIL)));
        }
        (Err(e), Err(class)) => assert_eq!(e.class, class),
        (got, expected) => panic!("{got:?} vs {expected:?}"),
    }
}

fn retrieved_info() -> BookingInfo {
    BookingInfo {
        key: retrieved_key(),
        ..booked_info()
    }
}

#[test]
fn retrieve_example_maps_exactly_and_lists_the_cancel_link() {
    let reply = rapid()
        .parse(
            &Call::Retrieve {
                booking: booked_key(),
            },
            &resp(200, RETRIEVE_RS),
        )
        .unwrap();
    assert_eq!(
        reply,
        Reply::Booking {
            booking: Some(retrieved_info())
        }
    );
}

#[test]
fn a_just_created_itinerary_is_pending() {
    let body = br#"{"itinerary_id":"9100000042","creation_date_time":"2026-11-22T10:05:00.000Z"}"#;
    let reply = rapid()
        .parse(
            &Call::Retrieve {
                booking: booked_key(),
            },
            &resp(200, body),
        )
        .unwrap();
    let expected = BookingInfo {
        status: BookingStatus::Pending,
        price: None,
        hotel_code: None,
        stay: None,
        ..booked_info()
    };
    assert_eq!(
        reply,
        Reply::Booking {
            booking: Some(expected)
        }
    );
}

fn with_room_statuses(statuses: &[&str]) -> Vec<u8> {
    let base: Value = serde_json::from_slice(RETRIEVE_RS).unwrap();
    let room = base["rooms"][0].clone();
    let rooms: Vec<Value> = statuses
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut r = room.clone();
            r["status"] = json!(s);
            r["links"]["cancel"]["href"] =
                json!(format!("/v3/itineraries/9100000042/rooms/{i}?token=C"));
            r
        })
        .collect();
    let mut it = base;
    it["rooms"] = json!(rooms);
    it.to_string().into_bytes()
}

#[rstest]
#[case::booked(&["booked"], BookingStatus::Confirmed, 1)]
#[case::canceled(&["canceled"], BookingStatus::Cancelled, 0)]
#[case::pending(&["pending"], BookingStatus::Pending, 1)]
#[case::one_of_two_canceled(&["canceled", "booked"], BookingStatus::Confirmed, 1)]
#[case::all_canceled(&["canceled", "canceled"], BookingStatus::Cancelled, 0)]
#[case::pending_and_booked(&["booked", "pending"], BookingStatus::Pending, 2)]
#[case::unknown_word(&["on_hold"], BookingStatus::Unknown, 1)]
fn itinerary_status_from_rooms(
    #[case] statuses: &[&str],
    #[case] expected: BookingStatus,
    #[case] cancel_links: usize,
) {
    let reply = rapid()
        .parse(
            &Call::Retrieve {
                booking: booked_key(),
            },
            &resp(200, &with_room_statuses(statuses)),
        )
        .unwrap();
    let Reply::Booking { booking: Some(b) } = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(b.status, expected);
    let token: ItineraryToken = decode_token(&b.key.token, "booking").unwrap();
    assert_eq!(token.cancel.len(), cancel_links);
    assert_eq!(
        b.price,
        Some(eur(&(Decimal::from_str("244.20").unwrap()
            * Decimal::from(statuses.len()))
        .to_string()))
    );
}

#[test]
fn find_reads_a_list_or_one_itinerary() {
    let expected = BookingInfo {
        key: booking_key(itinerary_token(None, &[CANCEL], Some(EMAIL))),
        ..retrieved_info()
    };
    let one = rapid()
        .parse(&find_call(), &resp(200, RETRIEVE_RS))
        .unwrap();
    assert_eq!(
        one,
        Reply::Booking {
            booking: Some(expected.clone())
        }
    );
    let list = format!("[{}]", String::from_utf8_lossy(RETRIEVE_RS));
    let many = rapid()
        .parse(&find_call(), &resp(200, list.as_bytes()))
        .unwrap();
    assert_eq!(
        many,
        Reply::Booking {
            booking: Some(expected)
        }
    );
}

#[rstest]
#[case::empty_list(200, b"[]".as_slice())]
#[case::other_reference(200, br#"[{"itinerary_id":"1","affiliate_reference_id":"SOMEONE-ELSE"}]"#.as_slice())]
#[case::not_found(404, br#"{"type":"resource_not_found","message":"none"}"#.as_slice())]
fn find_nothing(#[case] status: u16, #[case] body: &[u8]) {
    assert_eq!(
        rapid().parse(&find_call(), &resp(status, body)).unwrap(),
        Reply::Booking { booking: None }
    );
}

#[test]
fn retrieve_of_another_itinerary_is_not_found() {
    let key = BookingKey {
        supplier_reference: "1".into(),
        ..booked_key()
    };
    let err = rapid()
        .parse(&Call::Retrieve { booking: key }, &resp(200, RETRIEVE_RS))
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::NotFound);
}

#[rstest]
#[case::cancelled(204, BookingStatus::Cancelled)]
#[case::outcome_unknown(202, BookingStatus::Unknown)]
fn cancel_answers(#[case] status: u16, #[case] expected: BookingStatus) {
    let reply = rapid()
        .parse(
            &Call::Cancel {
                booking: retrieved_key(),
                confirm: None,
            },
            &resp(status, b""),
        )
        .unwrap();
    let Reply::Booking { booking: Some(b) } = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(b.status, expected);
    assert_eq!(b.key.supplier_reference, "9100000042");
    assert_eq!(
        (b.price, b.penalty, b.cancellation_reference),
        (None, None, None)
    );
}

#[test]
fn cancelling_one_of_two_rooms_leaves_the_other() {
    let key = booking_key(itinerary_token(
        Some(RETRIEVE),
        &[CANCEL, "/v3/itineraries/9100000042/rooms/77002?token=D"],
        Some(EMAIL),
    ));
    let call = Call::Cancel {
        booking: key,
        confirm: None,
    };
    assert_eq!(rapid().build(&call, &cx()).unwrap().path, CANCEL);
    let Reply::Booking { booking: Some(b) } = rapid().parse(&call, &resp(204, b"")).unwrap() else {
        panic!()
    };
    assert_eq!(b.status, BookingStatus::Confirmed);
    let left: ItineraryToken = decode_token(&b.key.token, "booking").unwrap();
    assert_eq!(
        left.cancel,
        vec!["/v3/itineraries/9100000042/rooms/77002?token=D".to_string()]
    );
}

#[rstest]
#[case::not_found(404, ErrorClass::NotFound)]
#[case::link_expired(410, ErrorClass::RateExpired)]
#[case::unavailable(503, ErrorClass::SupplierUnavailable)]
fn cancel_errors(#[case] status: u16, #[case] class: ErrorClass) {
    let body = envelope(if status == 410 { "link_expired" } else { "x" }, "m");
    let err = rapid()
        .parse(
            &Call::Cancel {
                booking: retrieved_key(),
                confirm: None,
            },
            &resp(status, &body),
        )
        .unwrap_err();
    assert_eq!(err.class, class);
}

// ---- content ------------------------------------------------------------------------------

#[test]
fn content_keyed_by_property_id() {
    let reply = rapid()
        .parse(
            &Call::Content {
                hotels: vec!["300042".into()],
            },
            &resp(200, CONTENT_RS),
        )
        .unwrap();
    let expected = HotelContent {
        code: "300042".into(),
        name: "Harbour Lights Hotel".into(),
        address: Some("Rua do Cais 12".into()),
        city: Some("Lisbon".into()),
        country: Some("PT".into()),
        latitude: Some(38.7071),
        longitude: Some(-9.1355),
        time_zone: None,
        amenities: vec!["Free WiFi".into(), "Spa".into()],
        rooms: vec![RoomContent {
            code: "5301".into(),
            name: "Superior Room, 1 King Bed, Sea View".into(),
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

#[test]
fn content_as_an_array_with_plain_fields() {
    let body = br#"[{"property_id":"7","name":"Tiny Inn","address":"1 Main St","amenities":["Pool"],"rooms":[{"id":"1","name":"Double"}]}]"#;
    let Reply::Content { hotels } = rapid()
        .parse(
            &Call::Content {
                hotels: vec!["7".into()],
            },
            &resp(200, body),
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (hotels[0].code.as_str(), hotels[0].address.as_deref()),
        ("7", Some("1 Main St"))
    );
    assert_eq!(hotels[0].amenities, vec!["Pool".to_string()]);
    assert_eq!(hotels[0].rooms[0].max_occupancy, None);
}

// ---- tokens -------------------------------------------------------------------------------

#[test]
fn tokens_round_trip_compactly() {
    assert_eq!(
        rate_token(Some(PRICE_CHECK), Some(BOOK)),
        format!(r#"{{"pc":"{PRICE_CHECK}","bk":"{BOOK}"}}"#)
    );
    assert_eq!(
        RateToken::read(&rechecked_key()).unwrap().book.as_deref(),
        Some(BOOK)
    );
    let t = ItineraryToken {
        retrieve: Some(RETRIEVE.into()),
        cancel: vec![CANCEL.into()],
        email: Some(EMAIL.into()),
    };
    let s = encode_token(&t);
    assert_eq!(
        s,
        format!(r#"{{"r":"{RETRIEVE}","c":["{CANCEL}"],"e":"{EMAIL}"}}"#)
    );
    assert_eq!(ItineraryToken::read(&booking_key(s)).unwrap(), t);
}

#[rstest]
#[case::garbage("not json")]
#[case::wrong_shape("[1,2]")]
#[case::cancel_not_a_list(r#"{"c":"x"}"#)]
fn garbled_booking_tokens_are_errors_not_panics(#[case] token: &str) {
    let call = Call::Cancel {
        booking: booking_key(token.into()),
        confirm: None,
    };
    assert_eq!(
        rapid().build(&call, &cx()).unwrap_err().class,
        ErrorClass::InvalidRequest
    );
    assert_eq!(
        rapid().parse(&call, &resp(204, b"")).unwrap_err().class,
        ErrorClass::InvalidRequest
    );
}

#[rstest]
#[case::no_plus("33 155501234", true)]
#[case::no_space("+33155501234", false)]
#[case::letters("+33 15550ABCD", false)]
#[case::short("+33 123", false)]
#[case::empty("", false)]
fn the_agency_phone_must_split_into_country_code_and_number(#[case] phone: &str, #[case] ok: bool) {
    let book = BookInput {
        phone: phone.into(),
        ..book_input()
    };
    let r = rapid().build(
        &Call::Book {
            offer: rechecked_key(),
            book,
            prepared: None,
        },
        &cx(),
    );
    assert_eq!(r.is_ok(), ok, "{phone}: {r:?}");
    if let Err(e) = r {
        assert_eq!(e.class, ErrorClass::InvalidRequest);
    }
}
