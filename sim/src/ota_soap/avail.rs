//! Search and recheck: `OTA_HotelAvailRQ` → `OTA_HotelAvailRS` (spec "Search and recheck"), and the
//! live pricing and cancel penalties that booking shares.

use super::xml::{El, Element, OTA_NS};
use super::{
    amount, child, guests, money, required, stay, timestamp, units, Ctx, Message, OtaError, Outcome,
};
use crate::catalog::{CatalogHotel, RatePlan};
use crate::scenario::Scenario;
use crate::state::SimState;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use std::collections::HashSet;

/// Most hotel codes accepted in one search.
const MAX_HOTELS: usize = 200;

/// The request's one segment, if it has exactly one.
fn segment(rq: &Element) -> Result<&Element, OtaError> {
    match rq
        .all(OTA_NS, &["AvailRequestSegments", "AvailRequestSegment"])
        .as_slice()
    {
        [] => Err(OtaError::missing(
            "AvailRequestSegments/AvailRequestSegment",
        )),
        [one] => Ok(one),
        _ => Err(OtaError::invalid(
            "Only one AvailRequestSegment is supported",
        )),
    }
}

fn hotel_refs(segment: &Element) -> Vec<&Element> {
    segment.all(OTA_NS, &["HotelSearchCriteria", "Criterion", "HotelRef"])
}

/// Distinct hotel codes, in request order.
fn hotel_codes(segment: &Element) -> Vec<&str> {
    let mut seen = HashSet::new();
    hotel_refs(segment)
        .into_iter()
        .filter_map(|r| r.attr("HotelCode"))
        .filter(|c| seen.insert(*c))
        .collect()
}

fn room_filter(segment: &Element) -> HashSet<&str> {
    let candidates = segment.descendants(OTA_NS, "RoomTypeCandidate");
    let stays = segment.all(OTA_NS, &["RoomStayCandidates", "RoomStayCandidate"]);
    candidates
        .into_iter()
        .chain(stays)
        .filter_map(|c| c.attr("RoomTypeCode"))
        .collect()
}

fn rate_filter(segment: &Element) -> HashSet<&str> {
    segment
        .descendants(OTA_NS, "RatePlanCandidate")
        .into_iter()
        .filter_map(|c| c.attr("RatePlanCode"))
        .collect()
}

/// A recheck: one hotel, a room type and a rate plan (spec: "recheck has no dedicated message").
pub(super) fn is_recheck(rq: &Element) -> bool {
    segment(rq).is_ok_and(|s| {
        hotel_codes(s).len() == 1 && !room_filter(s).is_empty() && !rate_filter(s).is_empty()
    })
}

pub(super) fn answer(ctx: &Ctx, rq: &Element, message: Message) -> Result<Outcome, OtaError> {
    let state = ctx.state;
    let segment = segment(rq)?;
    let refs = hotel_refs(segment);
    if refs.is_empty() {
        return Err(OtaError::missing("HotelSearchCriteria/Criterion/HotelRef"));
    }
    for r in &refs {
        required(r, "HotelCode")?;
    }
    let codes = hotel_codes(segment);
    if codes.len() > MAX_HOTELS {
        return Err(OtaError::invalid(format!(
            "At most {MAX_HOTELS} hotels per request"
        )));
    }
    let (checkin, checkout) = stay(state, child(segment, &["StayDateRange"])?)?;
    let candidate = match segment
        .all(OTA_NS, &["RoomStayCandidates", "RoomStayCandidate"])
        .as_slice()
    {
        [] => return Err(OtaError::missing("RoomStayCandidates/RoomStayCandidate")),
        [one] => *one,
        _ => return Err(OtaError::invalid("Only one RoomStayCandidate is supported")),
    };
    let quantity = units(candidate, "Quantity")?;
    let (adults, children) = guests(child(candidate, &["GuestCounts"])?)?;
    let rooms = room_filter(segment);
    let rates = rate_filter(segment);
    let (known, unknown): (Vec<&str>, Vec<&str>) = codes
        .into_iter()
        .partition(|c| state.catalog.hotel(c).is_some());
    if known.is_empty() {
        return Err(OtaError::unknown_hotel(
            unknown.first().copied().unwrap_or(""),
        ));
    }

    let recheck = message == Message::Recheck;
    let sold_out = recheck && *ctx.scenario == Scenario::SoldOutAtRecheck;
    let price_up = if recheck { ctx.price_up() } else { None };
    let now = state.now();
    let mut stays = Vec::new();
    for hotel in known.iter().filter_map(|c| state.catalog.hotel(c)) {
        if sold_out {
            break;
        }
        for (r, room) in hotel.rooms.iter().enumerate() {
            if !rooms.is_empty() && !rooms.contains(&room.code.as_str()) {
                continue;
            }
            for (p, plan) in state.catalog.rate_plans.iter().enumerate() {
                if !rates.is_empty() && !rates.contains(&plan.code.as_str()) {
                    continue;
                }
                let stay = Stay {
                    checkin,
                    checkout,
                    rooms: quantity,
                    adults,
                    children,
                };
                let Some(offer) = offer(state, hotel, r, p, &stay, price_up) else {
                    continue;
                };
                stays.push(
                    El::new("RoomStay")
                        .child(
                            El::new("RoomTypes").child(
                                El::new("RoomType")
                                    .attr("RoomTypeCode", &room.code)
                                    .child(El::new("RoomDescription").attr("Name", &room.name)),
                            ),
                        )
                        .child(El::new("RatePlans").child(rate_plan(
                            plan,
                            checkin,
                            offer.first_night,
                            offer.total,
                            now,
                        )))
                        .child(
                            El::new("RoomRates").child(
                                El::new("RoomRate")
                                    .attr("RoomTypeCode", &room.code)
                                    .attr("RatePlanCode", &plan.code)
                                    .attr("NumberOfUnits", offer.allotment)
                                    .child(
                                        El::new("Rates").child(
                                            El::new("Rate")
                                                .attr("EffectiveDate", checkin)
                                                .attr("ExpireDate", checkout)
                                                .child(amount("Base", offer.total)),
                                        ),
                                    ),
                            ),
                        )
                        .child(amount("Total", offer.total))
                        .child(
                            El::new("BasicPropertyInfo")
                                .attr("HotelCode", &hotel.code)
                                .attr("HotelName", &hotel.name),
                        ),
                );
            }
        }
    }

    let mut warnings = Vec::new();
    if stays.is_empty() {
        warnings.push(
            El::new("Warning")
                .attr("Type", 3)
                .attr("Code", 322)
                .attr("ShortText", "No availability"),
        );
    }
    for code in unknown {
        warnings.push(
            El::new("Warning")
                .attr("Type", 3)
                .attr("Code", 392)
                .attr("ShortText", "Invalid hotel code")
                .text(format!("Invalid hotel code: {code}")),
        );
    }
    let mut body = Vec::new();
    if !warnings.is_empty() {
        body.push(El::new("Warnings").children(warnings));
    }
    if !stays.is_empty() {
        body.push(El::new("RoomStays").children(stays));
    }
    Ok(Outcome {
        body,
        ..Outcome::default()
    })
}

/// What is asked for: dates and occupancy (per room) of `rooms` identical rooms.
pub(super) struct Stay {
    pub checkin: NaiveDate,
    pub checkout: NaiveDate,
    pub rooms: u32,
    pub adults: u8,
    pub children: u8,
}

/// A live price, EUR, taxes included.
pub(super) struct Offer {
    /// Whole stay, all rooms.
    pub total: Decimal,
    /// The first night, all rooms (the refundable plans' penalty).
    pub first_night: Decimal,
    pub allotment: u32,
}

/// The live price of one (room, rate plan) for a stay; `price_up` raises every night by pct.
pub(super) fn offer(
    state: &SimState,
    hotel: &CatalogHotel,
    room: usize,
    rate: usize,
    stay: &Stay,
    price_up: Option<Decimal>,
) -> Option<Offer> {
    let quote = state.quote(
        hotel,
        room,
        rate,
        stay.checkin,
        stay.checkout,
        stay.rooms,
        stay.adults,
        stay.children,
    )?;
    // Checked: a scenario's pct is request data.
    let factor = Decimal::ONE.checked_add(price_up.unwrap_or_default() / Decimal::from(100))?;
    let rooms = Decimal::from(stay.rooms);
    let mut per_room = Decimal::ZERO;
    let mut first = None;
    for night in &quote.nightly {
        let night = night.checked_mul(factor)?.round_dp(2);
        first.get_or_insert(night);
        per_room = per_room.checked_add(night)?;
    }
    Some(Offer {
        total: per_room.checked_mul(rooms)?,
        first_night: first?.checked_mul(rooms)?,
        allotment: quote.allotment,
    })
}

/// When a cancellation starts to cost, and what it costs then.
pub(super) fn penalty(
    plan: &RatePlan,
    checkin: NaiveDate,
    first_night: Decimal,
    total: Decimal,
    priced_at: DateTime<Utc>,
) -> (DateTime<Utc>, Decimal) {
    if plan.refundable {
        (super::free_cancel_deadline(checkin), first_night)
    } else {
        (priced_at, total)
    }
}

/// A `RatePlan` with its cancel penalty and meals.
pub(super) fn rate_plan(
    plan: &RatePlan,
    checkin: NaiveDate,
    first_night: Decimal,
    total: Decimal,
    priced_at: DateTime<Utc>,
) -> El {
    let (deadline, cost) = penalty(plan, checkin, first_night, total, priced_at);
    let mut penalty = El::new("CancelPenalty");
    if !plan.refundable {
        penalty = penalty.attr("NonRefundable", "true");
    }
    let penalty = penalty
        .child(El::new("Deadline").attr("AbsoluteDeadline", timestamp(deadline)))
        .child(
            El::new("AmountPercent")
                .attr("Amount", money(cost))
                .attr("CurrencyCode", "EUR"),
        );
    let mut el = El::new("RatePlan")
        .attr("RatePlanCode", &plan.code)
        .attr("RatePlanName", &plan.name)
        .child(El::new("CancelPenalties").child(penalty));
    if plan.board == "BB" {
        el = el.child(El::new("MealsIncluded").attr("Breakfast", "true"));
    }
    el
}
