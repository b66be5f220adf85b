//! Byte-level tests of the OTA/SOAP connector against the examples of `ota-soap.md`.

use super::*;
use rstest::rstest;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/ota_soap/",
            $name
        ))
        .as_slice()
    };
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn connector() -> OtaSoap {
    OtaSoap::new(Credentials {
        key: "arigate_user".into(),
        secret: "0ta-Pa55".into(),
        account: None,
        mode: AuthMode::Native,
    })
}

fn cx() -> CallContext<'static> {
    CallContext {
        now: 1795341600,
        nonce: "e-51",
        base_url: "http://127.0.0.1:9103",
        bearer: None,
        customer_ip: "203.0.113.9",
    }
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn stay() -> Stay {
    Stay {
        checkin: d("2027-01-15"),
        checkout: d("2027-01-17"),
    }
}

fn eur(s: &str) -> Money {
    Money::new(dec(s), "EUR")
}

fn query() -> SearchQuery {
    SearchQuery {
        stay: stay(),
        rooms: vec![Occupancy {
            adults: 2,
            children_ages: vec![6],
        }],
        hotels: vec!["LISHAR01".into(), "LISTAG07".into()],
        currency: "EUR".into(),
        nationality: "FR".into(),
    }
}

fn offer(price: &str) -> OfferKey {
    OfferKey {
        hotel: "LISHAR01".into(),
        room: "DSV".into(),
        rate: "FLEXBB".into(),
        stay: stay(),
        rooms: vec![Occupancy {
            adults: 2,
            children_ages: vec![],
        }],
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

fn booking_key() -> BookingKey {
    BookingKey {
        supplier_reference: "SX-88213".into(),
        client_reference: "AGT-7Q2K9".into(),
        token: String::new(),
    }
}

fn ok(body: &[u8]) -> WireResponse {
    WireResponse::new(200, body.to_vec())
}

fn envelope(inner: &str) -> Vec<u8> {
    format!(r#"<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body>{inner}</soap-env:Body></soap-env:Envelope>"#)
        .into_bytes()
}

fn error_rs(root: &str, kind: &str, code: &str) -> Vec<u8> {
    envelope(&format!(
        r#"<{root} xmlns="http://www.opentravel.org/OTA/2003/05" EchoToken="x" Version="2.0"><Errors><Error Type="{kind}" Code="{code}" ShortText="problem {code}">detail</Error></Errors></{root}>"#
    ))
}

fn body_of(req: &WireRequest) -> Element {
    xml::parse(&req.body).unwrap()
}

fn ota_request(req: &WireRequest) -> Element {
    let doc = body_of(req);
    assert!(doc.is_soap("Envelope"));
    let body = doc.children.iter().find(|c| c.is_soap("Body")).unwrap();
    body.first_element().unwrap().clone()
}

// ---------------------------------------------------------------------------------------------
// Requests

#[test]
fn search_request_has_security_header_action_and_candidates() {
    let req = connector()
        .build(&Call::Search { query: query() }, &cx())
        .unwrap();
    assert_eq!(req.method, Method::Post);
    assert_eq!(req.path, "/ota");
    assert_eq!(req.get_header("SOAPAction"), Some("\"OTA_HotelAvailRQ\""));
    assert_eq!(
        req.get_header("Content-Type"),
        Some("text/xml; charset=utf-8")
    );
    let doc = body_of(&req);
    let header = doc.children.iter().find(|c| c.is_soap("Header")).unwrap();
    let token = &header.children[0].children[0];
    assert_eq!(token.name, "UsernameToken");
    assert_eq!(token.children[0].text, "arigate_user");
    assert_eq!(token.children[1].text, "0ta-Pa55");
    assert!(token.children[1]
        .attr("Type")
        .unwrap()
        .ends_with("#PasswordText"));

    let rq = ota_request(&req);
    assert!(rq.is_ota("OTA_HotelAvailRQ"));
    assert_eq!(rq.ns.as_deref(), Some(xml::OTA_NS));
    assert_eq!(rq.attr("EchoToken"), Some("e-51"));
    assert_eq!(rq.attr("TimeStamp"), Some("2026-11-22T10:00:00Z"));
    assert_eq!(rq.attr("Version"), Some("2.0"));
    let seg = rq
        .path(&["AvailRequestSegments", "AvailRequestSegment"])
        .unwrap();
    let codes: Vec<_> = seg
        .descendants("HotelRef")
        .iter()
        .map(|h| h.attr("HotelCode").unwrap().to_string())
        .collect();
    assert_eq!(codes, ["LISHAR01", "LISTAG07"]);
    let range = seg.child("StayDateRange").unwrap();
    assert_eq!(
        (range.attr("Start"), range.attr("End")),
        (Some("2027-01-15"), Some("2027-01-17"))
    );
    let counts: Vec<_> = seg
        .descendants("GuestCount")
        .iter()
        .map(|g| {
            (
                g.attr("AgeQualifyingCode").unwrap(),
                g.attr("Age"),
                g.attr("Count").unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, [("10", None, "2"), ("8", Some("6"), "1")]);
    assert!(seg.child("RatePlanCandidates").is_none());
    assert!(seg.child("RoomTypeCandidates").is_none());
}

#[test]
fn recheck_request_names_one_hotel_room_and_rate() {
    let req = connector()
        .build(
            &Call::Recheck {
                offer: offer("242.00"),
            },
            &cx(),
        )
        .unwrap();
    let seg = ota_request(&req)
        .path(&["AvailRequestSegments", "AvailRequestSegment"])
        .unwrap()
        .clone();
    assert_eq!(seg.descendants("HotelRef").len(), 1);
    assert_eq!(
        seg.path(&["RoomTypeCandidates", "RoomTypeCandidate"])
            .unwrap()
            .attr("RoomTypeCode"),
        Some("DSV")
    );
    assert_eq!(
        seg.path(&["RatePlanCandidates", "RatePlanCandidate"])
            .unwrap()
            .attr("RatePlanCode"),
        Some("FLEXBB")
    );
}

#[test]
fn values_and_credentials_are_escaped() {
    let c = OtaSoap::new(Credentials {
        key: "u<1>".into(),
        secret: "p&\"w".into(),
        account: None,
        mode: AuthMode::Native,
    });
    let mut q = query();
    q.hotels = vec![r#"A&B"<C>"#.into()];
    let req = c
        .build(
            &Call::Search { query: q },
            &CallContext {
                nonce: "n&<",
                ..cx()
            },
        )
        .unwrap();
    let text = String::from_utf8(req.body.clone()).unwrap();
    assert!(
        text.contains(r#"HotelCode="A&amp;B&quot;&lt;C&gt;""#),
        "{text}"
    );
    assert!(text.contains("<wsse:Username>u&lt;1&gt;</wsse:Username>"));
    let rq = ota_request(&req);
    assert_eq!(rq.attr("EchoToken"), Some("n&<"));
    assert_eq!(
        rq.descendants("HotelRef")[0].attr("HotelCode"),
        Some(r#"A&B"<C>"#)
    );
}

#[test]
fn initiate_and_commit_requests() {
    let c = connector();
    let req = c
        .build(
            &Call::Prepare {
                offer: offer("242.00"),
                book: book_input(),
            },
            &cx(),
        )
        .unwrap();
    assert_eq!(req.get_header("SOAPAction"), Some("\"OTA_HotelResRQ\""));
    let rq = ota_request(&req);
    assert_eq!(rq.attr("ResStatus"), Some("Initiate"));
    let ids: Vec<_> = rq
        .children_named("UniqueID")
        .map(|u| (u.attr("Type").unwrap(), u.attr("ID").unwrap()))
        .collect();
    assert_eq!(ids, [("16", "AGT-7Q2K9")]);
    let room_stay = rq.descendants("RoomStay")[0];
    assert_eq!(
        room_stay
            .path(&["RoomTypes", "RoomType"])
            .unwrap()
            .attr("RoomTypeCode"),
        Some("DSV")
    );
    assert_eq!(
        room_stay
            .path(&["RoomTypes", "RoomType"])
            .unwrap()
            .attr("NumberOfUnits"),
        Some("1")
    );
    assert_eq!(
        room_stay
            .path(&["RatePlans", "RatePlan"])
            .unwrap()
            .attr("RatePlanCode"),
        Some("FLEXBB")
    );
    let total = room_stay.child("Total").unwrap();
    assert_eq!(
        (total.attr("AmountAfterTax"), total.attr("CurrencyCode")),
        (Some("242.00"), Some("EUR"))
    );
    assert_eq!(
        room_stay.child("TimeSpan").unwrap().attr("Start"),
        Some("2027-01-15")
    );
    assert_eq!(
        room_stay
            .child("BasicPropertyInfo")
            .unwrap()
            .attr("HotelCode"),
        Some("LISHAR01")
    );
    assert_eq!(rq.descendants("GivenName")[0].text, "Ada");
    assert_eq!(rq.descendants("Surname")[0].text, "Lovelace");

    let prepared = Prepared {
        handle: "SX-HOLD-3321".into(),
        price: eur("242.00"),
        expires_at: None,
    };
    let req = c
        .build(
            &Call::Book {
                offer: offer("242.00"),
                book: book_input(),
                prepared: Some(prepared),
            },
            &cx(),
        )
        .unwrap();
    let rq = ota_request(&req);
    assert_eq!(rq.attr("ResStatus"), Some("Commit"));
    let ids: Vec<_> = rq
        .children_named("UniqueID")
        .map(|u| (u.attr("Type").unwrap(), u.attr("ID").unwrap()))
        .collect();
    assert_eq!(ids, [("16", "AGT-7Q2K9"), ("14", "SX-HOLD-3321")]);
}

#[rstest]
#[case::retrieve(Call::Retrieve { booking: booking_key() }, "OTA_ReadRQ", "10", "SX-88213")]
#[case::find(Call::Find { client_reference: "AGT-7Q2K9".into(), offer: offer("242.00"), email: "x@y.z".into() }, "OTA_ReadRQ", "16", "AGT-7Q2K9")]
#[case::cancel(Call::Cancel { booking: booking_key(), confirm: None }, "OTA_CancelRQ", "10", "SX-88213")]
fn lookup_requests_carry_the_right_unique_id(
    #[case] call: Call,
    #[case] root: &str,
    #[case] kind: &str,
    #[case] id: &str,
) {
    let req = connector().build(&call, &cx()).unwrap();
    assert_eq!(
        req.get_header("SOAPAction"),
        Some(format!("\"{root}\"").as_str())
    );
    let rq = ota_request(&req);
    assert_eq!(rq.name, root);
    let ids = rq.descendants("UniqueID");
    assert_eq!(ids.len(), 1);
    assert_eq!(
        (ids[0].attr("Type"), ids[0].attr("ID")),
        (Some(kind), Some(id))
    );
    if root == "OTA_CancelRQ" {
        assert_eq!(rq.attr("CancelType"), Some("Cancel"));
    }
}

#[test]
fn content_request_asks_for_the_first_hotel() {
    let req = connector()
        .build(
            &Call::Content {
                hotels: vec!["LISHAR01".into(), "LISTAG07".into()],
            },
            &cx(),
        )
        .unwrap();
    let rq = ota_request(&req);
    let infos = rq.descendants("HotelDescriptiveInfo");
    assert_eq!(infos.len(), 1);
    assert_eq!(infos[0].attr("HotelCode"), Some("LISHAR01"));
}

#[rstest]
#[case::token(Call::Token)]
#[case::cancel_quote(Call::CancelQuote { booking: booking_key() })]
#[case::commit_without_hold(Call::Book { offer: offer("242.00"), book: book_input(), prepared: None })]
#[case::retrieve_without_reference(Call::Retrieve { booking: BookingKey { supplier_reference: String::new(), ..booking_key() } })]
#[case::no_hotels(Call::Content { hotels: vec![] })]
#[case::no_guests(Call::Prepare { offer: offer("242.00"), book: BookInput { guests: vec![], ..book_input() } })]
fn unusable_calls_are_invalid(#[case] call: Call) {
    assert_eq!(
        connector().build(&call, &cx()).unwrap_err().class,
        ErrorClass::InvalidRequest
    );
}

#[rstest]
#[case(AuthMode::Basic)]
#[case(AuthMode::Oauth1)]
fn only_native_auth(#[case] mode: AuthMode) {
    let c = OtaSoap::new(Credentials {
        key: "k".into(),
        secret: "s".into(),
        account: None,
        mode,
    });
    assert_eq!(
        c.build(&Call::Search { query: query() }, &cx())
            .unwrap_err()
            .class,
        ErrorClass::InvalidRequest
    );
}

// ---------------------------------------------------------------------------------------------
// Answers

fn expected_search() -> Vec<HotelOffers> {
    let price = eur("242.00");
    vec![HotelOffers {
        hotel_code: "LISHAR01".into(),
        hotel_name: "Harbour Lights Lisbon".into(),
        offers: vec![SupplierOffer {
            room_code: "DSV".into(),
            room_name: "Superior Double Room - Sea View".into(),
            rate_code: "FLEXBB".into(),
            rate_name: "Flexible, breakfast included".into(),
            board: Board::Breakfast,
            refundable: true,
            cancel_penalties: vec![Penalty {
                from: CancelTime::parse("2027-01-13T23:59:00Z").unwrap(),
                amount: eur("120.00"),
            }],
            price: price.clone(),
            taxes_included: true,
            pay_at_hotel: vec![],
            pay_at_hotel_listed: true,
            allotment: Some(3),
            key: OfferKey {
                hotel: "LISHAR01".into(),
                room: "DSV".into(),
                rate: "FLEXBB".into(),
                stay: stay(),
                rooms: query().rooms,
                price,
                token: String::new(),
            },
        }],
    }]
}

#[rstest]
#[case::spec_example(fixture!("avail_rs.xml"))]
#[case::other_prefixes(fixture!("avail_rs_prefixed.xml"))]
fn search_answer(#[case] body: &[u8]) {
    let reply = connector()
        .parse(&Call::Search { query: query() }, &ok(body))
        .unwrap();
    assert_eq!(
        reply,
        Reply::Search {
            hotels: expected_search()
        }
    );
}

#[test]
fn no_availability_is_an_empty_search() {
    let reply = connector()
        .parse(
            &Call::Search { query: query() },
            &ok(fixture!("avail_rs_no_availability.xml")),
        )
        .unwrap();
    assert_eq!(reply, Reply::Search { hotels: vec![] });
}

fn avail_with(plan: &str, meals: &str, timestamp: &str) -> Vec<u8> {
    envelope(&format!(
        r#"<OTA_HotelAvailRS xmlns="http://www.opentravel.org/OTA/2003/05" Version="2.0"{timestamp}><Success/><RoomStays><RoomStay>
        <RatePlans><RatePlan RatePlanCode="R">{plan}{meals}</RatePlan></RatePlans>
        <RoomRates><RoomRate RoomTypeCode="X" RatePlanCode="R"/></RoomRates>
        <Total AmountAfterTax="300.00" CurrencyCode="EUR"/><BasicPropertyInfo HotelCode="H"/></RoomStay></RoomStays></OTA_HotelAvailRS>"#
    ))
}

fn only_offer(body: &[u8]) -> SupplierOffer {
    match connector()
        .parse(&Call::Search { query: query() }, &ok(body))
        .unwrap()
    {
        Reply::Search { mut hotels } => hotels.remove(0).offers.remove(0),
        other => panic!("{other:?}"),
    }
}

#[rstest]
#[case::none("", Board::RoomOnly)]
#[case::breakfast(r#"<MealsIncluded Breakfast="true"/>"#, Board::Breakfast)]
#[case::half(r#"<MealsIncluded Breakfast="true" Dinner="true"/>"#, Board::HalfBoard)]
#[case::full(
    r#"<MealsIncluded Breakfast="1" Lunch="1" Dinner="1"/>"#,
    Board::FullBoard
)]
#[case::plan_code_wins(
    r#"<MealsIncluded Breakfast="true" MealPlanCodes="1"/>"#,
    Board::AllInclusive
)]
#[case::explicit_none(r#"<MealsIncluded Breakfast="false"/>"#, Board::RoomOnly)]
fn meal_plans(#[case] meals: &str, #[case] board: Board) {
    assert_eq!(only_offer(&avail_with("", meals, "")).board, board);
}

#[rstest]
#[case::no_penalties("", r#" TimeStamp="2026-11-22T10:00:00Z""#, true, vec![])]
#[case::deadline_in_future(
    r#"<CancelPenalties><CancelPenalty><Deadline AbsoluteDeadline="2027-01-13T23:59:00Z"/><AmountPercent Amount="150.00"/></CancelPenalty></CancelPenalties>"#,
    r#" TimeStamp="2026-11-22T10:00:00Z""#, true, vec![("2027-01-13T23:59:00Z", "150.00")])]
#[case::deadline_passed(
    r#"<CancelPenalties><CancelPenalty><Deadline AbsoluteDeadline="2026-11-01T00:00:00Z"/><AmountPercent Amount="300.00" CurrencyCode="EUR"/></CancelPenalty></CancelPenalties>"#,
    r#" TimeStamp="2026-11-22T10:00:00Z""#, false, vec![("2026-11-01T00:00:00Z", "300.00")])]
#[case::non_refundable_flag(
    r#"<CancelPenalties><CancelPenalty NonRefundable="true"/></CancelPenalties>"#, "", false, vec![])]
#[case::no_deadline_means_now(
    r#"<CancelPenalties><CancelPenalty><AmountPercent Amount="300.00"/></CancelPenalty></CancelPenalties>"#,
    r#" TimeStamp="2026-11-22T10:00:00Z""#, false, vec![("2026-11-22T10:00:00Z", "300.00")])]
#[case::no_deadline_no_clock(
    r#"<CancelPenalties><CancelPenalty><AmountPercent Amount="300.00"/></CancelPenalty></CancelPenalties>"#, "", false, vec![])]
#[case::percent_and_relative_deadline(
    r#"<CancelPenalties><CancelPenalty><Deadline OffsetTimeUnit="Day" OffsetUnitMultiplier="3" OffsetDropTime="BeforeArrival"/><AmountPercent Percent="50"/></CancelPenalty></CancelPenalties>"#,
    "", true, vec![("2027-01-12T00:00:00", "150.00")])]
#[case::nights(
    r#"<CancelPenalties><CancelPenalty><Deadline AbsoluteDeadline="2027-01-14"/><AmountPercent NmbrOfNights="1"/></CancelPenalty></CancelPenalties>"#,
    "", true, vec![("2027-01-14T00:00:00", "150.00")])]
#[case::zero_amount_is_no_penalty(
    r#"<CancelPenalties><CancelPenalty><Deadline AbsoluteDeadline="2027-01-10T00:00:00"/><AmountPercent Amount="0"/></CancelPenalty></CancelPenalties>"#,
    "", true, vec![])]
fn cancel_penalties(
    #[case] plan: &str,
    #[case] ts: &str,
    #[case] refundable: bool,
    #[case] expected: Vec<(&str, &str)>,
) {
    let o = only_offer(&avail_with(plan, "", ts));
    assert_eq!(o.refundable, refundable);
    let expected: Vec<Penalty> = expected
        .into_iter()
        .map(|(f, a)| Penalty {
            from: CancelTime::parse(f).unwrap(),
            amount: eur(a),
        })
        .collect();
    assert_eq!(o.cancel_penalties, expected);
    assert_eq!(o.room_name, "X");
    assert_eq!(o.rate_name, "R");
    assert_eq!(o.allotment, None);
}

#[test]
fn implied_decimal_places() {
    let body = String::from_utf8(avail_with("", "", "")).unwrap().replace(
        r#"<Total AmountAfterTax="300.00" CurrencyCode="EUR"/>"#,
        r#"<Total AmountAfterTax="30050" DecimalPlaces="2" CurrencyCode="EUR"/>"#,
    );
    assert_eq!(only_offer(body.as_bytes()).price, eur("300.50"));
}

fn recheck(body: &[u8], price: &str) -> RecheckOutcome {
    match connector()
        .parse(
            &Call::Recheck {
                offer: offer(price),
            },
            &ok(body),
        )
        .unwrap()
    {
        Reply::Recheck { outcome } => outcome,
        other => panic!("{other:?}"),
    }
}

#[test]
fn recheck_same_price_is_available() {
    let o = recheck(fixture!("avail_rs.xml"), "242.00");
    assert_eq!(o.status, RecheckStatus::Available);
    assert_eq!(o.price, Some(eur("242.00")));
    assert_eq!(o.key, Some(offer("242.00")));
    assert_eq!(o.expires_at, None);
}

#[test]
fn recheck_other_price_is_a_change_with_a_new_key() {
    let o = recheck(fixture!("avail_rs.xml"), "230.00");
    assert_eq!(o.status, RecheckStatus::PriceChanged);
    assert_eq!(o.price, Some(eur("242.00")));
    assert_eq!(o.key, Some(offer("242.00")));
}

#[rstest]
#[case::warning_322(fixture!("avail_rs_no_availability.xml").to_vec())]
#[case::error_322(error_rs("OTA_HotelAvailRS", "3", "322"))]
#[case::other_room_only(String::from_utf8(fixture!("avail_rs.xml").to_vec()).unwrap().replace("\"DSV\"", "\"DBL\"").into_bytes())]
fn recheck_sold_out(#[case] body: Vec<u8>) {
    let o = recheck(&body, "242.00");
    assert_eq!(
        o,
        RecheckOutcome {
            status: RecheckStatus::SoldOut,
            price: None,
            key: None,
            expires_at: None
        }
    );
}

#[test]
fn initiate_answer_gives_the_hold() {
    let reply = connector()
        .parse(
            &Call::Prepare {
                offer: offer("242.00"),
                book: book_input(),
            },
            &ok(fixture!("res_initiate_rs.xml")),
        )
        .unwrap();
    assert_eq!(
        reply,
        Reply::Prepared {
            prepared: Prepared {
                handle: "SX-HOLD-3321".into(),
                price: eur("242.00"),
                expires_at: None
            }
        }
    );
}

#[test]
fn a_repeated_initiate_of_a_committed_reservation_is_read_not_committed_again() {
    let c = connector();
    // The simulator (and OTA) answer a repeated Type 16 reference with the reservation as it
    // stands: here already committed, with its confirmation and no hold.
    let reply = c
        .parse(
            &Call::Prepare {
                offer: offer("242.00"),
                book: book_input(),
            },
            &ok(fixture!("res_commit_rs.xml")),
        )
        .unwrap();
    let Reply::Prepared { prepared } = reply else {
        panic!("not prepared: {reply:?}");
    };
    let book = Call::Book {
        offer: offer("242.00"),
        book: book_input(),
        prepared: Some(prepared),
    };
    let req = c.build(&book, &cx()).unwrap();
    assert_eq!(req.get_header("SOAPAction"), Some("\"OTA_ReadRQ\""));
    let rq = body_of(&req);
    let ids: Vec<_> = rq
        .descendants("UniqueID")
        .iter()
        .map(|u| (u.attr("Type").unwrap(), u.attr("ID").unwrap()))
        .collect();
    assert_eq!(ids, [("10", "SX-88213")]);
    assert_eq!(
        c.parse(&book, &ok(fixture!("res_commit_rs.xml"))).unwrap(),
        Reply::Booking {
            booking: Some(expected_booking(BookingStatus::Confirmed))
        }
    );
}

#[test]
fn initiate_hold_expiry_follows_the_echoed_timestamp() {
    let body = String::from_utf8(fixture!("res_initiate_rs.xml").to_vec())
        .unwrap()
        .replace(
            r#"EchoToken="b-7""#,
            r#"EchoToken="b-7" TimeStamp="2026-11-22T10:05:00Z""#,
        );
    let Reply::Prepared { prepared } = connector()
        .parse(
            &Call::Prepare {
                offer: offer("242.00"),
                book: book_input(),
            },
            &ok(body.as_bytes()),
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(prepared.expires_at, Some(t("2026-11-22T10:15:00Z")));
}

#[test]
fn initiate_with_another_total_is_a_price_change() {
    let err = connector()
        .parse(
            &Call::Prepare {
                offer: offer("200.00"),
                book: book_input(),
            },
            &ok(fixture!("res_initiate_rs.xml")),
        )
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::PriceChanged);
}

fn expected_booking(status: BookingStatus) -> BookingInfo {
    BookingInfo {
        key: booking_key(),
        status,
        price: Some(eur("242.00")),
        hotel_code: Some("LISHAR01".into()),
        stay: Some(stay()),
        penalty: None,
        cancellation_reference: None,
    }
}

#[test]
fn commit_answer_is_a_confirmed_booking() {
    let prepared = Prepared {
        handle: "SX-HOLD-3321".into(),
        price: eur("242.00"),
        expires_at: None,
    };
    let call = Call::Book {
        offer: offer("242.00"),
        book: book_input(),
        prepared: Some(prepared),
    };
    let reply = connector()
        .parse(&call, &ok(fixture!("res_commit_rs.xml")))
        .unwrap();
    assert_eq!(
        reply,
        Reply::Booking {
            booking: Some(expected_booking(BookingStatus::Confirmed))
        }
    );
}

#[test]
fn read_answers() {
    let c = connector();
    let reply = c
        .parse(
            &Call::Retrieve {
                booking: booking_key(),
            },
            &ok(fixture!("read_rs_cancelled.xml")),
        )
        .unwrap();
    assert_eq!(
        reply,
        Reply::Booking {
            booking: Some(expected_booking(BookingStatus::Cancelled))
        }
    );
    let find = Call::Find {
        client_reference: "AGT-7Q2K9".into(),
        offer: offer("242.00"),
        email: String::new(),
    };
    let reply = c.parse(&find, &ok(fixture!("res_commit_rs.xml"))).unwrap();
    assert_eq!(
        reply,
        Reply::Booking {
            booking: Some(expected_booking(BookingStatus::Confirmed))
        }
    );
}

#[test]
fn booking_not_found() {
    let c = connector();
    let body = error_rs("OTA_HotelResRS", "3", "245");
    let find = Call::Find {
        client_reference: "AGT-7Q2K9".into(),
        offer: offer("242.00"),
        email: String::new(),
    };
    assert_eq!(
        c.parse(&find, &ok(&body)).unwrap(),
        Reply::Booking { booking: None }
    );
    let err = c
        .parse(
            &Call::Retrieve {
                booking: booking_key(),
            },
            &ok(&body),
        )
        .unwrap_err();
    assert_eq!(
        (err.class, err.code.as_str(), err.message.as_str()),
        (ErrorClass::NotFound, "245", "problem 245")
    );
}

#[test]
fn cancel_answer() {
    let reply = connector()
        .parse(
            &Call::Cancel {
                booking: booking_key(),
                confirm: None,
            },
            &ok(fixture!("cancel_rs.xml")),
        )
        .unwrap();
    assert_eq!(
        reply,
        Reply::Booking {
            booking: Some(BookingInfo {
                key: booking_key(),
                status: BookingStatus::Cancelled,
                price: None,
                hotel_code: None,
                stay: None,
                penalty: Some(eur("0.00")),
                cancellation_reference: Some("SX-CX-5510".into()),
            })
        }
    );
}

#[test]
fn content_answer() {
    let reply = connector()
        .parse(
            &Call::Content {
                hotels: vec!["LISHAR01".into()],
            },
            &ok(fixture!("descriptive_info_rs.xml")),
        )
        .unwrap();
    assert_eq!(
        reply,
        Reply::Content {
            hotels: vec![HotelContent {
                code: "LISHAR01".into(),
                name: "Harbour Lights Lisbon".into(),
                address: Some("Rua do Cais 12".into()),
                city: Some("Lisbon".into()),
                country: Some("PT".into()),
                latitude: Some(38.7071),
                longitude: Some(-9.1355),
                time_zone: None,
                amenities: vec!["Free Wi-Fi".into()],
                rooms: vec![RoomContent {
                    code: "DSV".into(),
                    name: "Superior Double Room - Sea View".into(),
                    max_occupancy: Some(3)
                }],
            }]
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Errors

fn prepare_call() -> Call {
    Call::Prepare {
        offer: offer("242.00"),
        book: book_input(),
    }
}

#[rstest]
#[case::invalid_value("3", "320", ErrorClass::InvalidRequest)]
#[case::required_missing("10", "321", ErrorClass::InvalidRequest)]
#[case::auth("4", "497", ErrorClass::AuthFailed)]
#[case::over_capacity("12", "450", ErrorClass::RateLimited)]
#[case::hotel("3", "392", ErrorClass::NotFound)]
#[case::booking("3", "245", ErrorClass::NotFound)]
#[case::no_availability("3", "322", ErrorClass::SoldOut)]
#[case::price("3", "189", ErrorClass::PriceChanged)]
#[case::hold_expired("3", "436", ErrorClass::RateExpired)]
#[case::already_cancelled("3", "95", ErrorClass::InvalidRequest)]
#[case::system("12", "448", ErrorClass::SupplierUnavailable)]
#[case::unknown_auth_type("4", "999", ErrorClass::AuthFailed)]
#[case::unknown_processing_type("12", "999", ErrorClass::SupplierUnavailable)]
#[case::unknown_business_rule("3", "999", ErrorClass::InvalidRequest)]
fn error_table(#[case] kind: &str, #[case] code: &str, #[case] class: ErrorClass) {
    let err = connector()
        .parse(
            &prepare_call(),
            &ok(&error_rs("OTA_HotelResRS", kind, code)),
        )
        .unwrap_err();
    assert_eq!((err.class, err.code.as_str()), (class, code));
}

#[rstest]
#[case::client(500, fixture!("fault_client.xml"), ErrorClass::InvalidRequest)]
#[case::server(500, fixture!("fault_server.xml"), ErrorClass::SupplierUnavailable)]
#[case::server_on_200(200, fixture!("fault_server.xml"), ErrorClass::SupplierUnavailable)]
#[case::gateway_html(
    502,
    b"<html><body>Bad gateway</body></html>",
    ErrorClass::SupplierUnavailable
)]
#[case::empty_503(503, b"", ErrorClass::SupplierUnavailable)]
#[case::unauthorised_text(401, b"denied", ErrorClass::AuthFailed)]
#[case::truncated(200, &fixture!("avail_rs.xml")[..600], ErrorClass::SupplierMalformed)]
#[case::not_xml(200, b"{\"ok\":true}", ErrorClass::SupplierMalformed)]
#[case::empty_200(200, b"", ErrorClass::SupplierMalformed)]
#[case::doctype(200, br#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body/></soap-env:Envelope>"#, ErrorClass::SupplierMalformed)]
#[case::entity(200, br#"<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body><OTA_HotelAvailRS xmlns="http://www.opentravel.org/OTA/2003/05" EchoToken="&x;"/></soap-env:Body></soap-env:Envelope>"#, ErrorClass::SupplierMalformed)]
#[case::empty_body_element(200, br#"<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body/></soap-env:Envelope>"#, ErrorClass::SupplierMalformed)]
#[case::foreign_namespace(200, br#"<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body><OTA_HotelAvailRS xmlns="urn:other"/></soap-env:Body></soap-env:Envelope>"#, ErrorClass::SupplierMalformed)]
#[case::wrong_message(200, fixture!("cancel_rs.xml"), ErrorClass::SupplierMalformed)]
fn transport_and_body_failures(
    #[case] status: u16,
    #[case] body: &[u8],
    #[case] class: ErrorClass,
) {
    let err = connector()
        .parse(
            &Call::Search { query: query() },
            &WireResponse::new(status, body.to_vec()),
        )
        .unwrap_err();
    assert_eq!(err.class, class, "{err}");
}

#[rstest]
#[case::no_currency(r#"<Total AmountAfterTax="300.00"/>"#)]
#[case::no_amount(r#"<Total CurrencyCode="EUR"/>"#)]
#[case::tax_in_another_currency(r#"<Total AmountBeforeTax="300.00" CurrencyCode="EUR"><Taxes Amount="30.00" CurrencyCode="USD"/></Total>"#)]
#[case::negative(r#"<Total AmountAfterTax="-1.00" CurrencyCode="EUR"/>"#)]
#[case::not_a_number(r#"<Total AmountAfterTax="3OO" CurrencyCode="EUR"/>"#)]
fn schema_violations_are_malformed(#[case] total: &str) {
    let body = String::from_utf8(avail_with("", "", "")).unwrap().replace(
        r#"<Total AmountAfterTax="300.00" CurrencyCode="EUR"/>"#,
        total,
    );
    let err = connector()
        .parse(&Call::Search { query: query() }, &ok(body.as_bytes()))
        .unwrap_err();
    assert_eq!(err.class, ErrorClass::SupplierMalformed);
}

#[test]
fn commit_without_confirmation_number_is_malformed() {
    let body = String::from_utf8(fixture!("res_commit_rs.xml").to_vec())
        .unwrap()
        .replace(
            r#"<HotelReservationID ResID_Type="10" ResID_Value="SX-88213"/>"#,
            "",
        );
    let prepared = Prepared {
        handle: "SX-HOLD-3321".into(),
        price: eur("242.00"),
        expires_at: None,
    };
    let call = Call::Book {
        offer: offer("242.00"),
        book: book_input(),
        prepared: Some(prepared),
    };
    assert_eq!(
        connector()
            .parse(&call, &ok(body.as_bytes()))
            .unwrap_err()
            .class,
        ErrorClass::SupplierMalformed
    );
}

#[test]
fn every_prefix_of_every_fixture_is_a_classified_error() {
    let c = connector();
    let calls = [
        Call::Search { query: query() },
        Call::Recheck {
            offer: offer("242.00"),
        },
        prepare_call(),
        Call::Retrieve {
            booking: booking_key(),
        },
        Call::Cancel {
            booking: booking_key(),
            confirm: None,
        },
        Call::Content {
            hotels: vec!["LISHAR01".into()],
        },
    ];
    crate::testkit::assert_truncations_classified(
        &c,
        &calls,
        &[
            ("avail_rs.xml", fixture!("avail_rs.xml")),
            ("res_commit_rs.xml", fixture!("res_commit_rs.xml")),
            ("cancel_rs.xml", fixture!("cancel_rs.xml")),
            (
                "descriptive_info_rs.xml",
                fixture!("descriptive_info_rs.xml"),
            ),
        ],
        ErrorClass::BookingUnknown,
    );
}

/// "Search and recheck": `AmountAfterTax` includes taxes. A supplier that quotes before tax and
/// gives the taxes is priced with them; one that gives no tax is marked as such and booked at
/// the figure it quoted.
#[rstest]
#[case::after_tax(
    r#"<Total AmountBeforeTax="272.73" AmountAfterTax="300.00" CurrencyCode="EUR"/>"#,
    "300.00",
    true
)]
#[case::before_tax_with_taxes(r#"<Total AmountBeforeTax="272.73" CurrencyCode="EUR"><Taxes Amount="27.27" CurrencyCode="EUR"/></Total>"#, "300.00", true)]
#[case::before_tax_only(
    r#"<Total AmountBeforeTax="272.73" CurrencyCode="EUR"/>"#,
    "272.73",
    false
)]
fn taxes(#[case] total: &str, #[case] price: &str, #[case] included: bool) {
    let body = String::from_utf8(avail_with("", "", "")).unwrap().replace(
        r#"<Total AmountAfterTax="300.00" CurrencyCode="EUR"/>"#,
        total,
    );
    let o = only_offer(body.as_bytes());
    assert_eq!(o.price, eur(price));
    assert_eq!(o.taxes_included, included);
    assert!(o.pay_at_hotel.is_empty() && o.pay_at_hotel_listed);
    let req = connector()
        .build(
            &Call::Prepare {
                offer: o.key.clone(),
                book: book_input(),
            },
            &cx(),
        )
        .unwrap();
    let rq = ota_request(&req);
    let sent = rq.descendants("RoomStay")[0].child("Total").unwrap();
    let attr = if included {
        "AmountAfterTax"
    } else {
        "AmountBeforeTax"
    };
    assert_eq!(sent.attr(attr), Some(price), "{attr}");

    // A re-check of the offer reports the basis of the live answer (through the connector's
    // `taxes_included`, which the edge's re-check answer shows), not the search's.
    let c = crate::connector_for(Protocol::OtaSoap, connector().credentials.clone());
    assert_eq!(c.taxes_included(&o.key), included);
    let searched_after_tax = OfferKey {
        token: String::new(),
        ..o.key.clone()
    };
    let reply = c
        .parse(
            &Call::Recheck {
                offer: searched_after_tax,
            },
            &ok(body.as_bytes()),
        )
        .unwrap();
    let Reply::Recheck { outcome } = reply else {
        panic!("not a re-check: {reply:?}");
    };
    assert_eq!(outcome.price, Some(eur(price)));
    let live = outcome.key.expect("a live key");
    assert_eq!(c.taxes_included(&live), included);
}
