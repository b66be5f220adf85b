//! One offer as agents compare it: every amount in the requested currency, taxes stated, charges
//! payable at the hotel counted into a comparison price, and the cancellation terms on the UTC
//! timeline with the hotel's time zone respected.
//!
//! Amounts keep full precision here (conversion included); [`round_minor`] rounds once, when an
//! amount is shown, to the currency's minor units.
//!
//! Hotel-local times (a supplier stating a deadline without an offset) are placed with the hotel's
//! IANA zone. A local time that occurs twice (clocks going back) or not at all (clocks going
//! forward) resolves to the earliest instant it can mean: a free-cancellation deadline is never
//! shown later than the hotel could enforce it. Without a known zone the earliest instant any zone
//! could mean is used (UTC+14).

use crate::model::{CancelTime, Money, SupplierOffer};
use chrono::{DateTime, Duration, NaiveDateTime, Offset, TimeZone, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

pub use chrono_tz::Tz;

/// ISO 4217 minor units of a currency (2 unless listed).
pub fn minor_units(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

/// `amount` rounded (half away from zero) to the currency's minor units.
pub fn round_minor(amount: Decimal, currency: &str) -> Decimal {
    amount.round_dp_with_strategy(
        minor_units(currency),
        RoundingStrategy::MidpointAwayFromZero,
    )
}

/// `amount` rounded to the currency's minor units, as the decimal string agents get ("231.40").
pub fn format_minor(amount: Decimal, currency: &str) -> String {
    let dp = minor_units(currency) as usize;
    format!("{:.dp$}", round_minor(amount, currency))
}

/// The earliest UTC instant a hotel-local wall-clock time can mean in `tz` (module docs).
pub fn hotel_local_to_utc(local: NaiveDateTime, tz: Option<Tz>) -> DateTime<Utc> {
    let Some(tz) = tz else {
        return (local - Duration::hours(14)).and_utc();
    };
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(a, b) => a.with_timezone(&Utc).min(b.with_timezone(&Utc)),
        chrono::LocalResult::None => {
            // In a gap: read the wall time with the offsets on either side of it and take the
            // earlier instant. Zones do not change offset twice within a day.
            let around = [local - Duration::days(1), local + Duration::days(1)];
            around
                .iter()
                .map(|t| {
                    let offset = tz.offset_from_utc_datetime(t).fix();
                    (local - Duration::seconds(i64::from(offset.local_minus_utc()))).and_utc()
                })
                .min()
                .unwrap_or_else(|| local.and_utc())
        }
    }
}

/// The instant a stated cancellation time means at a hotel in `tz`.
pub fn resolve(t: CancelTime, tz: Option<Tz>) -> DateTime<Utc> {
    match t {
        CancelTime::Instant(t) => t,
        CancelTime::HotelLocal(local) => hotel_local_to_utc(local, tz),
    }
}

/// A charge payable at the hotel, in the requested currency and as the supplier stated it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HotelFee {
    pub name: String,
    /// In the requested currency, full precision.
    pub amount: Decimal,
    /// As the supplier stated it (what the guest is asked for at the hotel).
    pub stated: Money,
}

/// From `from` on, cancelling costs `amount` (requested currency, full precision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelStep {
    pub from: DateTime<Utc>,
    pub amount: Decimal,
}

/// Cancellation terms in one shape for every supplier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancellation {
    /// Cancelling is free before this instant; `None` when there is no free period ahead
    /// (non-refundable, the free period is over, or the supplier gives no schedule).
    pub free_until: Option<DateTime<Utc>>,
    /// Penalties in time order.
    pub penalties: Vec<CancelStep>,
}

/// An offer's money and cancellation terms, normalized for agents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferTerms {
    /// Total for the stay and all rooms in the requested currency, full precision.
    pub price: Decimal,
    pub taxes_included: bool,
    pub pay_at_hotel: Vec<HotelFee>,
    pub pay_at_hotel_listed: bool,
    /// `price` plus everything payable at the hotel: the figure to compare suppliers by.
    pub comparison: Decimal,
    pub cancellation: Cancellation,
}

/// Normalizes one offer into the requested currency with `convert(amount, from)` (full
/// precision, `None` for a currency it cannot convert). `None` when any amount cannot be converted: an offer whose total
/// is unknown cannot be compared honestly. `tz` is the hotel's zone (module docs); `now` decides
/// whether the free period is still ahead.
pub fn offer_terms(
    offer: &SupplierOffer,
    convert: &dyn Fn(Decimal, &str) -> Option<Decimal>,
    tz: Option<Tz>,
    now: DateTime<Utc>,
) -> Option<OfferTerms> {
    let price = convert(offer.price.amount, &offer.price.currency)?;
    let pay_at_hotel = offer
        .pay_at_hotel
        .iter()
        .map(|f| {
            Some(HotelFee {
                name: f.name.clone(),
                amount: convert(f.amount.amount, &f.amount.currency)?,
                stated: f.amount.clone(),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let comparison = price + pay_at_hotel.iter().map(|f| f.amount).sum::<Decimal>();
    let mut penalties = offer
        .cancel_penalties
        .iter()
        .map(|p| {
            Some(CancelStep {
                from: resolve(p.from, tz),
                amount: convert(p.amount.amount, &p.amount.currency)?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    penalties.sort_by_key(|p| p.from);
    let free_until = if offer.refundable {
        penalties
            .iter()
            .find(|p| !p.amount.is_zero())
            .map(|p| p.from)
            .filter(|t| *t > now)
    } else {
        None
    };
    Some(OfferTerms {
        price,
        taxes_included: offer.taxes_included,
        pay_at_hotel,
        pay_at_hotel_listed: offer.pay_at_hotel_listed,
        comparison,
        cancellation: Cancellation {
            free_until,
            penalties,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Board, Fee, OfferKey, Penalty, Stay};
    use std::str::FromStr;

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").expect("local time")
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("RFC 3339")
    }

    fn tz(name: &str) -> Option<Tz> {
        Some(Tz::from_str(name).expect("IANA zone"))
    }

    fn d(s: &str) -> Decimal {
        s.parse().expect("decimal")
    }

    #[test]
    fn hotel_local_times_take_the_zone_and_its_summer_time() {
        let cases = [
            (
                "2027-01-13T00:00:00",
                "Europe/Lisbon",
                "2027-01-13T00:00:00Z",
            ),
            (
                "2027-07-13T00:00:00",
                "Europe/Lisbon",
                "2027-07-12T23:00:00Z",
            ),
            (
                "2027-01-13T23:59:00",
                "Europe/Paris",
                "2027-01-13T22:59:00Z",
            ),
            (
                "2027-07-13T23:59:00",
                "Europe/Paris",
                "2027-07-13T21:59:00Z",
            ),
            (
                "2027-01-13T23:59:00",
                "America/New_York",
                "2027-01-14T04:59:00Z",
            ),
            (
                "2027-07-13T23:59:00",
                "America/New_York",
                "2027-07-14T03:59:00Z",
            ),
        ];
        for (l, zone, want) in cases {
            assert_eq!(
                hotel_local_to_utc(local(l), tz(zone)),
                utc(want),
                "{l} in {zone}"
            );
        }
    }

    #[test]
    fn a_time_that_happens_twice_resolves_to_the_first() {
        // 2027-10-31 Europe/Berlin: 03:00 CEST becomes 02:00 CET; 02:30 happens at 00:30Z and 01:30Z.
        assert_eq!(
            hotel_local_to_utc(local("2027-10-31T02:30:00"), tz("Europe/Berlin")),
            utc("2027-10-31T00:30:00Z")
        );
        // 2027-11-07 New York: 02:00 EDT becomes 01:00 EST; 01:30 happens at 05:30Z and 06:30Z.
        assert_eq!(
            hotel_local_to_utc(local("2027-11-07T01:30:00"), tz("America/New_York")),
            utc("2027-11-07T05:30:00Z")
        );
    }

    #[test]
    fn a_time_in_the_spring_gap_resolves_to_the_earliest_reading() {
        // 2027-03-14 New York: 02:00 EST jumps to 03:00 EDT; 02:30 read as EDT is 06:30Z, as
        // EST 07:30Z. The earlier is shown.
        assert_eq!(
            hotel_local_to_utc(local("2027-03-14T02:30:00"), tz("America/New_York")),
            utc("2027-03-14T06:30:00Z")
        );
        // 2027-03-28 Europe/Lisbon: 01:00 WET jumps to 02:00 WEST; 01:15 → 00:15Z (WEST reading).
        assert_eq!(
            hotel_local_to_utc(local("2027-03-28T01:15:00"), tz("Europe/Lisbon")),
            utc("2027-03-28T00:15:00Z")
        );
        // Right after the gap is an ordinary time again.
        assert_eq!(
            hotel_local_to_utc(local("2027-03-14T03:00:00"), tz("America/New_York")),
            utc("2027-03-14T07:00:00Z")
        );
    }

    #[test]
    fn without_a_zone_the_earliest_instant_any_zone_could_mean_is_used() {
        assert_eq!(
            hotel_local_to_utc(local("2027-01-13T00:00:00"), None),
            utc("2027-01-12T10:00:00Z")
        );
        let instant = CancelTime::Instant(utc("2027-01-13T23:59:00Z"));
        assert_eq!(resolve(instant, None), utc("2027-01-13T23:59:00Z"));
    }

    #[test]
    fn rounding_follows_the_currency_minor_units_half_away_from_zero() {
        assert_eq!(format_minor(d("231.405"), "EUR"), "231.41");
        assert_eq!(format_minor(d("231.4"), "EUR"), "231.40");
        assert_eq!(format_minor(d("231.5"), "JPY"), "232");
        assert_eq!(format_minor(d("1.2345"), "KWD"), "1.235");
        assert_eq!(format_minor(d("-0.005"), "USD"), "-0.01");
    }

    fn offer(
        price: Money,
        fees: Vec<Fee>,
        penalties: Vec<Penalty>,
        refundable: bool,
    ) -> SupplierOffer {
        let stay = Stay {
            checkin: "2027-01-15".parse().expect("date"),
            checkout: "2027-01-17".parse().expect("date"),
        };
        SupplierOffer {
            room_code: "R".into(),
            room_name: "Room".into(),
            rate_code: "X".into(),
            rate_name: "X".into(),
            board: Board::RoomOnly,
            refundable,
            cancel_penalties: penalties,
            price: price.clone(),
            taxes_included: true,
            pay_at_hotel: fees,
            pay_at_hotel_listed: true,
            allotment: None,
            key: OfferKey {
                hotel: "H".into(),
                room: "R".into(),
                rate: "X".into(),
                stay,
                rooms: vec![],
                price,
                token: String::new(),
            },
        }
    }

    /// Units per EUR: USD 1.08, GBP 0.85 (the demo table), full precision.
    fn convert_to(to: &'static str) -> impl Fn(Decimal, &str) -> Option<Decimal> {
        move |amount, from| {
            let per_eur = |c: &str| match c {
                "EUR" => Some(Decimal::ONE),
                "USD" => Some(d("1.08")),
                "GBP" => Some(d("0.85")),
                _ => None,
            };
            Some(amount / per_eur(from)? * per_eur(to)?)
        }
    }

    #[test]
    fn the_comparison_price_adds_hotel_fees_converted_at_full_precision() {
        let o = offer(
            Money::new(d("242.00"), "USD"),
            vec![Fee {
                name: "City Tax".into(),
                amount: Money::new(d("8.00"), "USD"),
            }],
            vec![],
            false,
        );
        let t = offer_terms(&o, &convert_to("EUR"), None, utc("2027-01-01T00:00:00Z"))
            .expect("convertible");
        // 242 / 1.08 = 224.074…, 8 / 1.08 = 7.407…; the comparison is 250 / 1.08 exactly,
        // rounded once.
        assert_eq!(format_minor(t.price, "EUR"), "224.07");
        assert_eq!(format_minor(t.pay_at_hotel[0].amount, "EUR"), "7.41");
        assert_eq!(t.pay_at_hotel[0].stated, Money::new(d("8.00"), "USD"));
        assert_eq!(t.comparison, d("250") / d("1.08"));
        assert_eq!(format_minor(t.comparison, "EUR"), "231.48");
        // Same currency: nothing converted, nothing lost.
        let same = offer_terms(&o, &convert_to("USD"), None, utc("2027-01-01T00:00:00Z"))
            .expect("convertible");
        assert_eq!(same.comparison, d("250.00"));
        // Rounding the parts first would lose a cent here: 0.004 + 0.004 → 0.00 + 0.00.
        let tiny = offer(
            Money::new(d("100.004"), "EUR"),
            vec![Fee {
                name: "Fee".into(),
                amount: Money::new(d("0.004"), "EUR"),
            }],
            vec![],
            false,
        );
        let t = offer_terms(&tiny, &convert_to("EUR"), None, utc("2027-01-01T00:00:00Z"))
            .expect("convertible");
        assert_eq!(format_minor(t.comparison, "EUR"), "100.01");
    }

    #[test]
    fn an_offer_with_an_amount_in_an_unknown_currency_is_not_compared() {
        let fee = Fee {
            name: "Resort fee".into(),
            amount: Money::new(d("5"), "XYZ"),
        };
        let o = offer(Money::new(d("100"), "EUR"), vec![fee], vec![], false);
        assert_eq!(
            offer_terms(&o, &convert_to("EUR"), None, utc("2027-01-01T00:00:00Z")),
            None
        );
    }

    #[test]
    fn free_until_is_the_first_paid_penalty_in_the_hotel_zone_while_it_is_ahead() {
        let penalties = vec![
            Penalty {
                from: CancelTime::HotelLocal(local("2027-01-14T00:00:00")),
                amount: Money::new(d("242.00"), "EUR"),
            },
            Penalty {
                from: CancelTime::HotelLocal(local("2027-01-13T00:00:00")),
                amount: Money::new(d("121.00"), "EUR"),
            },
        ];
        let o = offer(Money::new(d("242.00"), "EUR"), vec![], penalties, true);
        let ny = tz("America/New_York");
        let t = offer_terms(&o, &convert_to("GBP"), ny, utc("2027-01-01T00:00:00Z"))
            .expect("convertible");
        assert_eq!(t.cancellation.free_until, Some(utc("2027-01-13T05:00:00Z")));
        let froms: Vec<_> = t.cancellation.penalties.iter().map(|p| p.from).collect();
        assert_eq!(
            froms,
            [utc("2027-01-13T05:00:00Z"), utc("2027-01-14T05:00:00Z")]
        );
        assert_eq!(t.cancellation.penalties[0].amount, d("121.00") * d("0.85"));
        // Once the deadline has passed there is no free period left.
        let late = offer_terms(&o, &convert_to("EUR"), ny, utc("2027-01-13T05:00:00Z"))
            .expect("convertible");
        assert_eq!(late.cancellation.free_until, None);
        assert_eq!(late.cancellation.penalties.len(), 2);
        // A non-refundable offer has none either, whatever its schedule says.
        let nrf = offer(
            Money::new(d("242.00"), "EUR"),
            vec![],
            o.cancel_penalties.clone(),
            false,
        );
        let t = offer_terms(&nrf, &convert_to("EUR"), ny, utc("2027-01-01T00:00:00Z"))
            .expect("convertible");
        assert_eq!(t.cancellation.free_until, None);
    }
}
