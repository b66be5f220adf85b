//! `ota-soap` simulator: OpenTravel 2003/05 messages over SOAP 1.1 (`shared/protocols/ota-soap.md`,
//! modelled on SynXis / HBSi), answered from the seeded catalog.
//!
//! One endpoint, `POST /ota`; the OTA message inside `soap-env:Body` decides what happens.
//! Counters (`/__sim/counters`): `search` and `recheck` (both `OTA_HotelAvailRQ`), `res_initiate`,
//! `res_commit`, `read`, `cancel`, `descriptive_info`, and `invalid` for bodies that are not a
//! known OTA message.
//!
//! Choices where the spec is silent (the spec wins wherever it speaks):
//! - Order of checks: XML well-formedness (SOAP Fault `Malformed XML request`), SOAP envelope and
//!   body, `wsse:Security` present (Fault `Missing security header`), a known OTA request root in the
//!   OTA namespace (Fault `Unsupported message …`), then credentials (Errors 497), then the message.
//!   A `SOAPAction` header, when sent, must name the root element (a trailing `/Name` or `#Name` is
//!   accepted); a mismatch is a Client Fault. A `Password` without `Type` is PasswordText, the
//!   WS-Security default. Username and password are compared after trimming whitespace.
//! - Responses echo `EchoToken`, `TimeStamp` and `Version` when the request has them.
//! - A recheck is an `OTA_HotelAvailRQ` for exactly one hotel that names a room type
//!   (`RoomTypeCandidate@RoomTypeCode` anywhere in the segment, or `RoomStayCandidate@RoomTypeCode`)
//!   and a rate plan (`RatePlanCandidate@RatePlanCode`). Those codes filter searches too.
//! - Search: one `AvailRequestSegment` and one `RoomStayCandidate` (Quantity 1–9); `GuestCounts` are
//!   per room; AgeQualifyingCode 10 (adult) and 8 (child, `Age` 0–17 when given) only, `Count`
//!   required; 1–9 adults and 0–6 children per room. At most 200 `HotelRef`s. When no hotel code is
//!   known → Error 392; when some are, the unknown ones are reported as `Warning Code="392"` beside
//!   the results. Unknown room or rate codes just filter everything out (Warning 322).
//! - Amounts: `Base` and `Total` cover the whole stay for all rooms; `AmountBeforeTax` is
//!   `AmountAfterTax / 1.1` rounded to cents. `price_up:<pct>` raises each night by pct (rounded to
//!   cents) in rechecks and in Initiate's live price, never in searches.
//! - Cancel penalties: refundable plans cost the first night (all rooms) from check-in − 2 days
//!   23:59Z; non-refundable plans cost the whole stay from the moment of quoting or booking, marked
//!   `NonRefundable="true"`. `MealsIncluded Breakfast="true"` appears on breakfast plans only.
//! - Book: the room stay needs `RoomType@RoomTypeCode` (`NumberOfUnits` 1–9, default 1),
//!   `RatePlan@RatePlanCode`, `GuestCounts`, `TimeSpan`, `Total@AmountAfterTax` (EUR when a currency
//!   is given) and `BasicPropertyInfo@HotelCode`, plus a `ResGuests` `PersonName` with a `Surname`.
//!   Unknown room or rate plan codes → 320. A repeated Type 16 ID with the same content (everything
//!   but EchoToken/TimeStamp) answers the reservation as it now is (Pending, Committed or Cancelled)
//!   without re-pricing; with other content → 320. When its hold expired uncommitted, a new Initiate
//!   for that ID re-prices and takes a new hold. Holds do not reduce allotment.
//! - Commit uses what the hold recorded; a Type 16 ID in the Commit, when present, must match it
//!   (else 320). Committing a committed hold again answers the same confirmation; a hold that is
//!   unknown, expired (10 minutes after Initiate) or cancelled → 436. `sold_out_at_book` affects
//!   Initiate only (a held room stays held); `commit_then_timeout` stores the booking as `Book`, then
//!   never answers.
//! - A hold that was never committed is not a reservation: Read and Cancel answer 245 for it.
//!   Responses carry only the current reference: Type 14 while pending, Type 10 once committed.
//! - Read accepts UniqueID Type 10 or 16; Cancel too. `CancelType` defaults to `Cancel`; `Quote`
//!   answers `Status="Pending"` with the penalty as of now and no Type 15 ID. Cancelling or quoting a
//!   cancelled booking → 95.
//! - Content: exactly one `HotelDescriptiveInfo`; services use OTA HAC codes (Wi-Fi 178, pool 71,
//!   spa 84, gym 35, parking 68, restaurant 76, bar 165, airport shuttle 41); the star rating is an
//!   `Award Provider="Local Star Rating"`.

mod avail;
mod content;
mod reservation;
#[cfg(test)]
mod tests;
pub mod xml;

use crate::scenario::{Op, Scenario};
use crate::state::SimState;
use crate::{ErrorKind, Route, SimRequest, SimResponse, Supplier};
use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use rust_decimal::Decimal;
use xml::{El, Element, ParseError, OTA_NS, PASSWORD_TEXT, SOAP_NS, WSSE_NS};

pub struct OtaSoap;

/// The one endpoint (spec: "One endpoint `POST /ota`").
const PATH: &str = "/ota";
/// Longest stay accepted, in nights.
const MAX_NIGHTS: i64 = 30;

/// The OTA requests the simulator answers, by root element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Message {
    Search,
    Recheck,
    ResInitiate,
    ResCommit,
    Read,
    Cancel,
    DescriptiveInfo,
}

impl Message {
    fn of(root: &Element) -> Option<Message> {
        if root.ns.as_deref() != Some(OTA_NS) {
            return None;
        }
        Some(match root.name.as_str() {
            "OTA_HotelAvailRQ" if avail::is_recheck(root) => Message::Recheck,
            "OTA_HotelAvailRQ" => Message::Search,
            "OTA_HotelResRQ" if root.attr("ResStatus") == Some("Commit") => Message::ResCommit,
            "OTA_HotelResRQ" => Message::ResInitiate,
            "OTA_ReadRQ" => Message::Read,
            "OTA_CancelRQ" => Message::Cancel,
            "OTA_HotelDescriptiveInfoRQ" => Message::DescriptiveInfo,
            _ => return None,
        })
    }

    fn route(self) -> Route {
        let (endpoint, op) = match self {
            Message::Search => ("search", Op::Search),
            Message::Recheck => ("recheck", Op::Recheck),
            Message::ResInitiate => ("res_initiate", Op::Book),
            Message::ResCommit => ("res_commit", Op::Book),
            Message::Read => ("read", Op::Retrieve),
            Message::Cancel => ("cancel", Op::Cancel),
            Message::DescriptiveInfo => ("descriptive_info", Op::Content),
        };
        Route::new(endpoint, op)
    }

    fn from_endpoint(endpoint: &str) -> Option<Message> {
        Some(match endpoint {
            "search" => Message::Search,
            "recheck" => Message::Recheck,
            "res_initiate" => Message::ResInitiate,
            "res_commit" => Message::ResCommit,
            "read" => Message::Read,
            "cancel" => Message::Cancel,
            "descriptive_info" => Message::DescriptiveInfo,
            _ => return None,
        })
    }

    /// The response root element (a read answers with a reservation, spec "Retrieve").
    fn response_name(self) -> &'static str {
        match self {
            Message::Search | Message::Recheck => "OTA_HotelAvailRS",
            Message::ResInitiate | Message::ResCommit | Message::Read => "OTA_HotelResRS",
            Message::Cancel => "OTA_CancelRS",
            Message::DescriptiveInfo => "OTA_HotelDescriptiveInfoRS",
        }
    }
}

/// The request envelope's parts, once parsed.
struct Envelope {
    root: Element,
}

impl Envelope {
    fn parse(body: &[u8]) -> Result<Envelope, SimResponse> {
        let root = xml::parse(body).map_err(|e| match e {
            ParseError::TooDeep | ParseError::TooManyElements => {
                fault("Client", "Request too large or too deeply nested")
            }
            _ => fault("Client", "Malformed XML request"),
        })?;
        if !root.is(SOAP_NS, "Envelope") {
            return Err(fault("Client", "Not a SOAP 1.1 envelope"));
        }
        Ok(Envelope { root })
    }

    fn security(&self) -> Option<&Element> {
        self.root
            .path(SOAP_NS, &["Header"])?
            .child(WSSE_NS, "Security")
    }

    /// The OTA request: the first element inside `soap-env:Body`.
    fn message(&self) -> Option<&Element> {
        self.root.path(SOAP_NS, &["Body"])?.first_element()
    }
}

/// What a response echoes and which root element it has.
struct Reply {
    name: &'static str,
    echo: Vec<(String, String)>,
}

impl Reply {
    fn new(message: Message, request: Option<&Element>) -> Reply {
        let echo = request
            .map(|r| {
                ["EchoToken", "TimeStamp", "Version"]
                    .iter()
                    .filter_map(|k| r.attr(k).map(|v| (k.to_string(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        Reply {
            name: message.response_name(),
            echo,
        }
    }

    fn root(&self) -> El {
        El::new(self.name).attr("xmlns", OTA_NS).attrs(&self.echo)
    }

    /// `<Success/>` then `body`, with extra root attributes.
    fn success(&self, outcome: Outcome) -> SimResponse {
        let mut root = self.root();
        for (k, v) in outcome.attrs {
            root = root.attr(k, v);
        }
        let root = root.child(El::new("Success")).children(outcome.body);
        let resp = SimResponse::xml(200, xml::envelope(&root));
        if outcome.hang {
            resp.hang()
        } else {
            resp
        }
    }

    /// Business errors are HTTP 200 with `<Errors>` (spec "Errors").
    fn error(&self, e: &OtaError) -> SimResponse {
        let error = El::new("Error")
            .attr("Type", e.kind)
            .attr("Code", e.code)
            .attr("ShortText", e.short)
            .text(e.text.clone());
        let root = self.root().child(El::new("Errors").child(error));
        SimResponse::xml(200, xml::envelope(&root))
    }
}

/// A successful answer: root attributes and the elements after `<Success/>`.
#[derive(Default)]
struct Outcome {
    attrs: Vec<(&'static str, String)>,
    body: Vec<El>,
    /// `commit_then_timeout`: never send it.
    hang: bool,
}

/// An OTA business error (spec "Errors"): `Type`, `Code`, `ShortText` and a message.
#[derive(Debug, Clone, PartialEq)]
struct OtaError {
    kind: u8,
    code: u16,
    short: &'static str,
    text: String,
}

impl OtaError {
    fn new(kind: u8, code: u16, short: &'static str, text: impl Into<String>) -> OtaError {
        OtaError {
            kind,
            code,
            short,
            text: text.into(),
        }
    }
    fn invalid(text: impl Into<String>) -> OtaError {
        OtaError::new(3, 320, "Invalid value", text)
    }
    fn missing(what: &str) -> OtaError {
        OtaError::new(
            10,
            321,
            "Required field missing",
            format!("Required field missing: {what}"),
        )
    }
    fn unknown_hotel(code: &str) -> OtaError {
        OtaError::new(
            3,
            392,
            "Invalid hotel code",
            format!("Invalid hotel code: {code}"),
        )
    }
    fn not_found(id: &str) -> OtaError {
        OtaError::new(
            3,
            245,
            "Booking not found",
            format!("No reservation found for {id}"),
        )
    }
    fn sold_out() -> OtaError {
        OtaError::new(
            3,
            322,
            "No availability",
            "The requested room is no longer available",
        )
    }
    fn auth() -> OtaError {
        OtaError::new(
            4,
            497,
            "Authorization error",
            "Invalid username or password",
        )
    }
}

fn fault(code: &str, message: &str) -> SimResponse {
    SimResponse::xml(500, xml::envelope(&xml::fault(code, message)))
}

impl Supplier for OtaSoap {
    fn route(&self, req: &SimRequest) -> Option<Route> {
        if req.method != "POST" || req.path != PATH {
            return None;
        }
        let message = Envelope::parse(&req.body)
            .ok()
            .and_then(|env| env.message().and_then(Message::of));
        Some(message.map_or_else(|| Route::new("invalid", Op::Other), Message::route))
    }

    fn handle(
        &self,
        state: &SimState,
        _route: &Route,
        req: &SimRequest,
        scenario: &Scenario,
    ) -> SimResponse {
        let env = match Envelope::parse(&req.body) {
            Ok(env) => env,
            Err(resp) => return resp,
        };
        let Some(security) = env.security() else {
            return fault("Client", "Missing security header");
        };
        let Some(request) = env.message() else {
            return fault("Client", "Missing OTA request in soap-env:Body");
        };
        let Some(message) = Message::of(request) else {
            return fault("Client", &format!("Unsupported message {}", request.name));
        };
        if let Some(action) = req.header("soapaction") {
            let action = action.trim().trim_matches('"');
            let named = |sep: char| action.rsplit(sep).next() == Some(request.name.as_str());
            if !action.is_empty() && !named('/') && !named('#') {
                return fault("Client", "SOAPAction does not match the message");
            }
        }
        let reply = Reply::new(message, Some(request));
        if !authorized(state, security) {
            return reply.error(&OtaError::auth());
        }
        let ctx = Ctx { state, scenario };
        let outcome = match message {
            Message::Search | Message::Recheck => avail::answer(&ctx, request, message),
            Message::ResInitiate => reservation::initiate(&ctx, request),
            Message::ResCommit => reservation::commit(&ctx, request),
            Message::Read => reservation::read(&ctx, request),
            Message::Cancel => reservation::cancel(&ctx, request),
            Message::DescriptiveInfo => content::answer(&ctx, request),
        };
        match outcome {
            Ok(outcome) => reply.success(outcome),
            Err(e) => reply.error(&e),
        }
    }

    fn error_response(
        &self,
        state: &SimState,
        route: &Route,
        req: &SimRequest,
        kind: ErrorKind,
    ) -> SimResponse {
        if kind == ErrorKind::ServerError {
            return fault("Server", "Internal server error");
        }
        let Some(message) = Message::from_endpoint(&route.endpoint) else {
            // Not an OTA message: the answer it would get anyway (a Client Fault).
            return self.handle(state, route, req, &Scenario::Ok);
        };
        let env = Envelope::parse(&req.body).ok();
        let reply = Reply::new(message, env.as_ref().and_then(Envelope::message));
        match kind {
            ErrorKind::AuthFail => reply.error(&OtaError::auth()),
            _ => reply.error(&OtaError::new(
                12,
                450,
                "Unable to process",
                "Over capacity, try again later",
            )),
        }
    }
}

/// WS-Security UsernameToken with a PasswordText password (spec "Auth").
fn authorized(state: &SimState, security: &Element) -> bool {
    let Some(token) = security.child(WSSE_NS, "UsernameToken") else {
        return false;
    };
    let (Some(user), Some(password)) = (
        token.child(WSSE_NS, "Username"),
        token.child(WSSE_NS, "Password"),
    ) else {
        return false;
    };
    let text_type = password.attr("Type").is_none_or(|t| t == PASSWORD_TEXT);
    text_type && user.text() == state.options.key && password.text() == state.options.secret
}

/// What every message handler gets.
struct Ctx<'a> {
    state: &'a SimState,
    scenario: &'a Scenario,
}

impl Ctx<'_> {
    fn price_up(&self) -> Option<Decimal> {
        match self.scenario {
            Scenario::PriceUp(pct) => Some(*pct),
            _ => None,
        }
    }
}

/// A required attribute.
fn required<'a>(e: &'a Element, attr: &str) -> Result<&'a str, OtaError> {
    e.attr(attr)
        .ok_or_else(|| OtaError::missing(&format!("{}@{attr}", e.name)))
}

/// A required child element (OTA namespace).
fn child<'a>(e: &'a Element, path: &[&str]) -> Result<&'a Element, OtaError> {
    e.path(OTA_NS, path)
        .ok_or_else(|| OtaError::missing(&path.join("/")))
}

/// A stay from `Start`/`End` (`StayDateRange`, `TimeSpan`): not in the past, at least one night,
/// at most [`MAX_NIGHTS`].
fn stay(state: &SimState, e: &Element) -> Result<(NaiveDate, NaiveDate), OtaError> {
    let date = |attr: &str| -> Result<NaiveDate, OtaError> {
        let v = required(e, attr)?;
        NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map_err(|_| OtaError::invalid(format!("{}@{attr} must be YYYY-MM-DD: {v}", e.name)))
    };
    let (start, end) = (date("Start")?, date("End")?);
    if start < state.now().date_naive() {
        return Err(OtaError::invalid(format!(
            "Start date {start} is in the past"
        )));
    }
    if end <= start {
        return Err(OtaError::invalid(format!(
            "End date {end} must be after start date {start}"
        )));
    }
    if (end - start).num_days() > MAX_NIGHTS {
        return Err(OtaError::invalid(format!(
            "Stay of {} nights exceeds the maximum of {MAX_NIGHTS}",
            (end - start).num_days()
        )));
    }
    Ok((start, end))
}

/// Adults and children per room from `GuestCounts` (10 = adult, 8 = child).
fn guests(counts: &Element) -> Result<(u8, u8), OtaError> {
    let (mut adults, mut children) = (0u32, 0u32);
    let list = counts.all(OTA_NS, &["GuestCount"]);
    if list.is_empty() {
        return Err(OtaError::missing("GuestCounts/GuestCount"));
    }
    for g in list {
        let count: u32 = required(g, "Count")?
            .parse()
            .ok()
            .filter(|c| *c <= 9)
            .ok_or_else(|| OtaError::invalid("GuestCount@Count must be an integer 0-9"))?;
        match required(g, "AgeQualifyingCode")? {
            "10" => adults += count,
            "8" => {
                if let Some(age) = g.attr("Age") {
                    if !age.parse::<u8>().is_ok_and(|a| a <= 17) {
                        return Err(OtaError::invalid(format!("Child age must be 0-17: {age}")));
                    }
                }
                children += count;
            }
            other => {
                return Err(OtaError::invalid(format!(
                    "AgeQualifyingCode must be 10 (adult) or 8 (child): {other}"
                )))
            }
        }
    }
    if !(1..=9).contains(&adults) {
        return Err(OtaError::invalid(
            "Between 1 and 9 adults per room are required",
        ));
    }
    if children > 6 {
        return Err(OtaError::invalid("At most 6 children per room"));
    }
    Ok((adults as u8, children as u8))
}

/// A room count attribute (`Quantity`, `NumberOfUnits`): 1–9, default 1.
fn units(e: &Element, attr: &str) -> Result<u32, OtaError> {
    match e.attr(attr) {
        None => Ok(1),
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=9).contains(n))
            .ok_or_else(|| OtaError::invalid(format!("{}@{attr} must be 1-9: {v}", e.name))),
    }
}

/// Amounts on the wire: two decimals.
fn money(d: Decimal) -> String {
    format!("{:.2}", d.round_dp(2))
}

/// Taxes are 10 % and included: the amount before them.
fn before_tax(after: Decimal) -> Decimal {
    (after / Decimal::new(11, 1)).round_dp(2)
}

fn timestamp(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Refundable plans: free until check-in − 2 days 23:59Z.
fn free_cancel_deadline(checkin: NaiveDate) -> chrono::DateTime<Utc> {
    let day = checkin - chrono::Duration::days(2);
    Utc.from_utc_datetime(&day.and_time(NaiveTime::from_hms_opt(23, 59, 0).unwrap_or_default()))
}

/// `Total` / `Base` element attributes for a whole-stay amount in EUR.
fn amount(name: &str, after: Decimal) -> El {
    El::new(name)
        .attr("AmountBeforeTax", money(before_tax(after)))
        .attr("AmountAfterTax", money(after))
        .attr("CurrencyCode", "EUR")
}
