//! One supplier's catalog: the hotels it sells under its own codes, its room codes and names in its
//! own naming style, its rate plans, and its live inventory (nightly price and allotment per date).

use crate::world::{mix, str_id, Bed, RoomClass, View, World, WorldHotel, WorldRoom, PROTOCOLS};
use chrono::{Datelike, NaiveDate, Weekday};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::HashMap;

/// A rate plan a supplier sells on every room.
#[derive(Debug, Clone, Serialize)]
pub struct RatePlan {
    pub code: String,
    pub name: String,
    /// `RO` room only or `BB` breakfast.
    pub board: &'static str,
    pub refundable: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CatalogRoom {
    /// Index into the world hotel's rooms.
    pub world_room: usize,
    pub code: String,
    pub name: String,
    pub max_occupancy: u8,
}

#[derive(Debug, Clone, Serialize)]
pub struct CatalogHotel {
    /// Index into [`World::hotels`].
    pub world_idx: usize,
    /// The unified id (what arigate's mapping file maps this supplier code to).
    pub unified_id: String,
    pub code: String,
    pub name: String,
    pub rooms: Vec<CatalogRoom>,
}

/// A supplier's whole catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub protocol: &'static str,
    pub seed: u64,
    pub hotels: Vec<CatalogHotel>,
    pub rate_plans: Vec<RatePlan>,
    by_code: HashMap<String, usize>,
}

/// A live quote for one room type, one rate plan, a stay and an occupancy, in EUR.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quote {
    /// Price per night for ONE room, taxes (10 %) included, EUR.
    pub nightly: Vec<Decimal>,
    /// Sum of `nightly`, for one room.
    pub per_room_total: Decimal,
    /// `per_room_total` × rooms.
    pub total: Decimal,
    /// Smallest allotment over the nights.
    pub allotment: u32,
}

impl Catalog {
    pub fn new(world: &World, protocol: &str) -> Option<Catalog> {
        let p = World::protocol_index(protocol)?;
        let protocol: &'static str = PROTOCOLS[p];
        let mut hotels = Vec::new();
        let mut used_codes: HashMap<String, u32> = HashMap::new();
        for h in world.hotels.iter().filter(|h| h.sellers[p]) {
            let code = unique(&mut used_codes, hotel_code(protocol, h));
            let rooms = h
                .rooms
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let (code, name) = room_code_and_name(protocol, h, i, r);
                    CatalogRoom {
                        world_room: i,
                        code,
                        name,
                        max_occupancy: r.max_occupancy,
                    }
                })
                .collect();
            hotels.push(CatalogHotel {
                world_idx: h.idx,
                unified_id: h.id.clone(),
                code,
                name: hotel_name(protocol, h),
                rooms,
            });
        }
        let by_code = hotels
            .iter()
            .enumerate()
            .map(|(i, h)| (h.code.clone(), i))
            .collect();
        Some(Catalog {
            protocol,
            seed: world.seed,
            hotels,
            rate_plans: rate_plans(protocol),
            by_code,
        })
    }

    pub fn hotel(&self, code: &str) -> Option<&CatalogHotel> {
        self.by_code.get(code).and_then(|i| self.hotels.get(*i))
    }

    pub fn rate_plan(&self, code: &str) -> Option<(usize, &RatePlan)> {
        self.rate_plans
            .iter()
            .enumerate()
            .find(|(_, r)| r.code == code)
    }

    /// Base nightly price (one room, taxes included, EUR) and allotment for a date, before overrides.
    /// `None` outside the 365-day window starting at `today`.
    #[allow(clippy::too_many_arguments)] // one inventory cell is addressed by all of these
    pub fn night(
        &self,
        world: &World,
        hotel: &CatalogHotel,
        room: usize,
        rate: usize,
        date: NaiveDate,
        today: NaiveDate,
        adults: u8,
        children: u8,
    ) -> Option<(Decimal, u32)> {
        let offset = (date - today).num_days();
        if !(0..365).contains(&offset) {
            return None;
        }
        let wroom: &WorldRoom = world.hotels.get(hotel.world_idx)?.rooms.get(room)?;
        let plan = self.rate_plans.get(rate)?;
        let p = str_id(self.protocol);
        let day = date.num_days_from_ce() as u64;
        let h = mix(&[self.seed, p, hotel.world_idx as u64, room as u64, day]);
        // Allotment is per room type (shared by rate plans); about one night in ten is sold out.
        let allotment = if h.is_multiple_of(10) {
            0
        } else {
            (1 + (h >> 8) % 9) as u32
        };
        let weekend = matches!(date.weekday(), Weekday::Fri | Weekday::Sat);
        let mut price = wroom.base_price;
        if weekend {
            price *= Decimal::new(115, 2);
        }
        // Each supplier differs a little for the same room: -3 % .. +3 %.
        let spread = (mix(&[self.seed, p, hotel.world_idx as u64, room as u64]) % 61) as i64 - 30;
        price *= Decimal::ONE + Decimal::new(spread, 3);
        if !plan.refundable {
            price *= Decimal::new(90, 2);
        }
        if plan.board == "BB" {
            price += Decimal::from(12u32 * adults as u32 + 6 * children as u32);
        }
        if adults > 2 {
            price += Decimal::from(25u32 * (adults as u32 - 2));
        }
        // Taxes: 10 % included.
        price = (price * Decimal::new(110, 2)).round_dp(2);
        Some((price, allotment))
    }
}

fn unique(used: &mut HashMap<String, u32>, code: String) -> String {
    let n = used.entry(code.clone()).or_insert(0);
    *n += 1;
    if *n == 1 {
        code
    } else {
        format!("{code}{}", n)
    }
}

/// A permutation of hotel indexes per protocol, so supplier codes do not line up trivially.
fn permuted(protocol: &str, idx: usize) -> u64 {
    let salt = str_id(protocol) % 97;
    (idx as u64 * 37 + salt) % 9973
}

fn hotel_code(protocol: &str, h: &WorldHotel) -> String {
    let n = permuted(protocol, h.idx);
    let d = h.dest();
    match protocol {
        "hotelbeds" => format!("{}", 100_000 + n),
        "expedia-rapid" => format!("{}", 300_000 + n),
        "ota-soap" => {
            let letters: String = h
                .name
                .chars()
                .filter(|c| c.is_ascii_alphabetic())
                .take(3)
                .collect::<String>()
                .to_ascii_uppercase();
            format!("{}{}{:02}", d.code, letters, n % 100)
        }
        "derbysoft" => format!("{}-{}-{:04}", d.country, d.code, n),
        _ => format!("{}", 500_000 + n),
    }
}

fn hotel_name(protocol: &str, h: &WorldHotel) -> String {
    let city = h.dest().city;
    match protocol {
        "ota-soap" => format!("{} {}", h.name.trim_end_matches(" Hotel"), city),
        "dida" => format!("{} {}", h.name, city),
        "hotelbeds" => h.name.to_uppercase(),
        _ => h.name.clone(),
    }
}

fn rate_plans(protocol: &str) -> Vec<RatePlan> {
    let plan = |code: &str, name: &str, board: &'static str, refundable: bool| RatePlan {
        code: code.to_string(),
        name: name.to_string(),
        board,
        refundable,
    };
    match protocol {
        "hotelbeds" => vec![
            plan("FLEX BB", "FLEXIBLE BED AND BREAKFAST", "BB", true),
            plan("NRF RO", "NON REFUNDABLE ROOM ONLY", "RO", false),
        ],
        "expedia-rapid" => vec![
            plan(
                "880101",
                "Breakfast included, free cancellation",
                "BB",
                true,
            ),
            plan("880102", "Room only, non-refundable", "RO", false),
        ],
        "ota-soap" => vec![
            plan("FLEXBB", "Flexible, breakfast included", "BB", true),
            plan("NRFRO", "Advance purchase, room only", "RO", false),
        ],
        "derbysoft" => vec![
            plan("BAR-BB", "Best Available, Breakfast", "BB", true),
            plan("ADV-RO", "Advance Saver, Room Only", "RO", false),
        ],
        _ => vec![
            plan("1494507509528725623", "Breakfast", "BB", true),
            plan(
                "1494507509528725624",
                "Room Only Non-Refundable",
                "RO",
                false,
            ),
        ],
    }
}

fn class_words(c: RoomClass) -> (&'static str, &'static str) {
    match c {
        RoomClass::Standard => ("Standard", "ST"),
        RoomClass::Superior => ("Superior", "SU"),
        RoomClass::Deluxe => ("Deluxe", "DX"),
        RoomClass::JuniorSuite => ("Junior Suite", "JS"),
        RoomClass::Suite => ("Suite", "SU2"),
    }
}

fn bed_words(b: Bed) -> (&'static str, &'static str, &'static str) {
    // (room word, bed phrase, code)
    match b {
        Bed::King => ("King", "1 King Bed", "KNG"),
        Bed::Queen => ("Queen", "1 Queen Bed", "QUE"),
        Bed::Double => ("Double", "1 Double Bed", "DBL"),
        Bed::Twin => ("Twin", "2 Twin Beds", "TWN"),
    }
}

fn view_words(v: View) -> Option<(&'static str, &'static str)> {
    match v {
        View::None => None,
        View::Sea => Some(("Sea View", "SV")),
        View::City => Some(("City View", "CV")),
        View::Garden => Some(("Garden View", "GV")),
    }
}

/// The supplier's code and display name for a room, each in the supplier's own style.
pub fn room_code_and_name(
    protocol: &str,
    h: &WorldHotel,
    i: usize,
    r: &WorldRoom,
) -> (String, String) {
    let (class, class_code) = class_words(r.class);
    let (bed, bed_phrase, bed_code) = bed_words(r.bed);
    let view = view_words(r.view);
    let is_suite = matches!(r.class, RoomClass::JuniorSuite | RoomClass::Suite);
    match protocol {
        "hotelbeds" => {
            let mut name = format!("{} {}", bed.to_uppercase(), class.to_uppercase());
            if let Some((v, _)) = view {
                name.push(' ');
                name.push_str(&v.to_uppercase());
            }
            (format!("{bed_code}.{class_code}"), name)
        }
        "expedia-rapid" => {
            let head = if is_suite {
                class.to_string()
            } else {
                format!("{class} Room")
            };
            let mut name = format!("{head}, {bed_phrase}");
            if let Some((v, _)) = view {
                name.push_str(", ");
                name.push_str(v);
            }
            (format!("{}", 5300 + h.idx * 10 + i), name)
        }
        "ota-soap" => {
            let code = format!(
                "{}{}{}",
                &bed_code[..1],
                class_code.chars().next().unwrap_or('S'),
                view.map(|(_, c)| &c[..1]).unwrap_or("N")
            );
            let mut name = if is_suite {
                format!("{class} {bed}")
            } else {
                format!("{class} {bed} Room")
            };
            if let Some((v, _)) = view {
                name.push_str(" - ");
                name.push_str(v);
            }
            (format!("{code}{i}"), name)
        }
        "derbysoft" => {
            let mut code = format!(
                "{}-{}",
                &class.to_uppercase().replace(' ', "")[..3],
                bed_code
            );
            let mut name = format!("{class} {bed}");
            if let Some((v, c)) = view {
                code.push('-');
                code.push_str(c);
                name.push(' ');
                name.push_str(v);
            }
            (code, name)
        }
        _ => {
            let mut name = if is_suite {
                format!("{class} {bed}")
            } else {
                format!("{class} {bed} Room")
            };
            if let Some((v, _)) = view {
                name.push(' ');
                name.push_str(v);
            }
            (format!("{}", 88_000 + h.idx * 10 + i), name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_supplier_sells_at_least_200_hotels_with_unique_codes() {
        let world = World::new(42);
        for p in PROTOCOLS {
            let c = Catalog::new(&world, p).expect("known protocol");
            assert!(c.hotels.len() >= 200, "{p} sells {}", c.hotels.len());
            let codes: HashSet<_> = c.hotels.iter().map(|h| h.code.as_str()).collect();
            assert_eq!(codes.len(), c.hotels.len(), "{p} hotel codes collide");
            for h in &c.hotels {
                let rooms: HashSet<_> = h.rooms.iter().map(|r| r.code.as_str()).collect();
                assert_eq!(
                    rooms.len(),
                    h.rooms.len(),
                    "{p} room codes collide in {}",
                    h.code
                );
            }
        }
    }

    #[test]
    fn every_destination_has_hotels_all_five_sell_and_hotels_only_some_sell() {
        let world = World::new(42);
        for (d, dest) in crate::world::DESTINATIONS.iter().enumerate() {
            let hotels: Vec<_> = world.hotels.iter().filter(|h| h.destination == d).collect();
            assert!(
                hotels.iter().any(|h| h.sellers.iter().all(|s| *s)),
                "{}",
                dest.code
            );
            assert!(
                hotels.iter().any(|h| !h.sellers.iter().all(|s| *s)),
                "{}",
                dest.code
            );
        }
    }

    #[test]
    fn the_same_world_comes_from_the_same_seed_and_another_from_another() {
        let a = World::new(7);
        let b = World::new(7);
        let c = World::new(8);
        assert_eq!(a.hotels[5].name, b.hotels[5].name);
        assert_eq!(a.hotels[5].rooms.len(), b.hotels[5].rooms.len());
        assert!(a
            .hotels
            .iter()
            .zip(&c.hotels)
            .any(|(x, y)| x.name != y.name || x.sellers != y.sellers));
    }
}
