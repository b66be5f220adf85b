//! The simulated world: one deterministic set of real hotels (unified ids) from a seed, and each
//! supplier's catalog of the hotels it sells under its own codes and room names.
//!
//! Every destination holds hotels that all five suppliers sell and hotels only some do; the same
//! room is named differently by each supplier (room mapping has real work to do).

use rust_decimal::Decimal;
use serde::Serialize;

/// The five simulated protocols, by the ids of `shared/protocols/README.md`.
pub const PROTOCOLS: [&str; 5] = [
    "hotelbeds",
    "expedia-rapid",
    "ota-soap",
    "derbysoft",
    "dida",
];

/// splitmix64 over a sequence of inputs: the only source of "randomness" in the world.
pub fn mix(parts: &[u64]) -> u64 {
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
    for p in parts {
        h ^= p
            .wrapping_add(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(h << 6)
            .wrapping_add(h >> 2);
        h = h.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h = z ^ (z >> 31);
    }
    h
}

/// Stable numeric id of a string (protocol names, codes) for [`mix`].
pub fn str_id(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct Destination {
    pub code: &'static str,
    pub city: &'static str,
    pub country: &'static str,
    pub lat: f64,
    pub lon: f64,
    pub time_zone: &'static str,
    pub streets: [&'static str; 4],
}

pub const DESTINATIONS: [Destination; 8] = [
    Destination {
        code: "LIS",
        city: "Lisbon",
        country: "PT",
        lat: 38.7071,
        lon: -9.1355,
        time_zone: "Europe/Lisbon",
        streets: [
            "Rua do Cais",
            "Avenida da Liberdade",
            "Rua Augusta",
            "Largo do Chiado",
        ],
    },
    Destination {
        code: "BCN",
        city: "Barcelona",
        country: "ES",
        lat: 41.3874,
        lon: 2.1686,
        time_zone: "Europe/Madrid",
        streets: [
            "Passeig de Gracia",
            "La Rambla",
            "Carrer de Balmes",
            "Via Laietana",
        ],
    },
    Destination {
        code: "PAR",
        city: "Paris",
        country: "FR",
        lat: 48.8566,
        lon: 2.3522,
        time_zone: "Europe/Paris",
        streets: [
            "Rue de Rivoli",
            "Boulevard Haussmann",
            "Rue Saint-Honore",
            "Quai Voltaire",
        ],
    },
    Destination {
        code: "ROM",
        city: "Rome",
        country: "IT",
        lat: 41.9028,
        lon: 12.4964,
        time_zone: "Europe/Rome",
        streets: [
            "Via del Corso",
            "Via Veneto",
            "Via Nazionale",
            "Piazza Navona",
        ],
    },
    Destination {
        code: "BER",
        city: "Berlin",
        country: "DE",
        lat: 52.52,
        lon: 13.405,
        time_zone: "Europe/Berlin",
        streets: [
            "Unter den Linden",
            "Friedrichstrasse",
            "Kurfuerstendamm",
            "Alexanderplatz",
        ],
    },
    Destination {
        code: "AMS",
        city: "Amsterdam",
        country: "NL",
        lat: 52.3676,
        lon: 4.9041,
        time_zone: "Europe/Amsterdam",
        streets: ["Damrak", "Prinsengracht", "Herengracht", "Rokin"],
    },
    Destination {
        code: "LON",
        city: "London",
        country: "GB",
        lat: 51.5072,
        lon: -0.1276,
        time_zone: "Europe/London",
        streets: [
            "Strand",
            "Piccadilly",
            "Kensington High Street",
            "Bayswater Road",
        ],
    },
    Destination {
        code: "NYC",
        city: "New York",
        country: "US",
        lat: 40.7128,
        lon: -74.006,
        time_zone: "America/New_York",
        streets: [
            "Broadway",
            "Fifth Avenue",
            "Lexington Avenue",
            "West 44th Street",
        ],
    },
];

const NAME_FIRST: [&str; 16] = [
    "Harbour",
    "Grand",
    "Old Town",
    "Riverside",
    "Royal",
    "Garden",
    "Sunset",
    "Central",
    "Park",
    "Crown",
    "Silver",
    "Golden",
    "Market",
    "Opera",
    "Bridge",
    "Lighthouse",
];
const NAME_SECOND: [&str; 12] = [
    "Lights", "Plaza", "View", "Gate", "Court", "House", "Palace", "Terrace", "Square", "Bay",
    "Heights", "Quarter",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum RoomClass {
    Standard,
    Superior,
    Deluxe,
    JuniorSuite,
    Suite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Bed {
    King,
    Queen,
    Double,
    Twin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum View {
    None,
    Sea,
    City,
    Garden,
}

/// One real room type of a real hotel.
#[derive(Debug, Clone, Serialize)]
pub struct WorldRoom {
    pub class: RoomClass,
    pub bed: Bed,
    pub view: View,
    pub max_occupancy: u8,
    /// Nightly price for two adults, in EUR, before supplier and date factors.
    pub base_price: Decimal,
}

/// One real hotel.
#[derive(Debug, Clone, Serialize)]
pub struct WorldHotel {
    pub idx: usize,
    /// The unified id arigate's mapping uses, e.g. `ARG-LIS-0003`.
    pub id: String,
    pub name: String,
    pub destination: usize,
    pub address: String,
    pub lat: f64,
    pub lon: f64,
    pub stars: u8,
    pub amenities: Vec<&'static str>,
    pub rooms: Vec<WorldRoom>,
    /// Which of [`PROTOCOLS`] sell this hotel.
    pub sellers: [bool; 5],
}

impl WorldHotel {
    pub fn dest(&self) -> &'static Destination {
        &DESTINATIONS[self.destination % DESTINATIONS.len()]
    }
}

/// The whole simulated world for a seed.
#[derive(Debug, Clone)]
pub struct World {
    pub seed: u64,
    pub hotels: Vec<WorldHotel>,
}

/// Hotels per destination; the first [`SHARED_PER_DESTINATION`] of each are sold by all five suppliers.
pub const HOTELS_PER_DESTINATION: usize = 38;
pub const SHARED_PER_DESTINATION: usize = 16;

const AMENITIES: [&str; 8] = [
    "WIFI",
    "POOL",
    "SPA",
    "GYM",
    "PARKING",
    "RESTAURANT",
    "BAR",
    "AIRPORT_SHUTTLE",
];

impl World {
    pub fn new(seed: u64) -> World {
        let mut hotels = Vec::new();
        for (d, dest) in DESTINATIONS.iter().enumerate() {
            for k in 0..HOTELS_PER_DESTINATION {
                let idx = hotels.len();
                let r = |salt: u64| mix(&[seed, idx as u64, salt]);
                let name = format!(
                    "{} {} {}",
                    NAME_FIRST[(r(1) % NAME_FIRST.len() as u64) as usize],
                    NAME_SECOND[(r(2) % NAME_SECOND.len() as u64) as usize],
                    ["Hotel", "Hotel", "Suites", "Residence", "Inn"][(r(3) % 5) as usize]
                );
                let stars = 3 + (r(4) % 3) as u8;
                let sellers = if k < SHARED_PER_DESTINATION {
                    [true; 5]
                } else {
                    let mut s = [false; 5];
                    for (p, slot) in s.iter_mut().enumerate() {
                        *slot = r(10 + p as u64) % 100 < 55;
                    }
                    if !s.iter().any(|x| *x) {
                        s[(r(16) % 5) as usize] = true;
                    }
                    s
                };
                let amenities = AMENITIES
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| r(20 + *i as u64) % 2 == 0)
                    .map(|(_, a)| *a)
                    .collect();
                hotels.push(WorldHotel {
                    idx,
                    id: format!("ARG-{}-{:04}", dest.code, k + 1),
                    name,
                    destination: d,
                    address: format!("{} {}", dest.streets[(r(5) % 4) as usize], 1 + r(6) % 180),
                    lat: dest.lat + ((r(7) % 2000) as f64 - 1000.0) / 20000.0,
                    lon: dest.lon + ((r(8) % 2000) as f64 - 1000.0) / 20000.0,
                    stars,
                    amenities,
                    rooms: make_rooms(seed, idx as u64, stars),
                    sellers,
                });
            }
        }
        World { seed, hotels }
    }

    /// Index of a protocol id in [`PROTOCOLS`].
    pub fn protocol_index(protocol: &str) -> Option<usize> {
        PROTOCOLS.iter().position(|p| *p == protocol)
    }
}

fn make_rooms(seed: u64, hotel: u64, stars: u8) -> Vec<WorldRoom> {
    const CLASSES: [RoomClass; 5] = [
        RoomClass::Standard,
        RoomClass::Superior,
        RoomClass::Deluxe,
        RoomClass::JuniorSuite,
        RoomClass::Suite,
    ];
    const BEDS: [Bed; 4] = [Bed::Double, Bed::Twin, Bed::King, Bed::Queen];
    const VIEWS: [View; 4] = [View::None, View::Sea, View::City, View::Garden];
    let n = 3 + (mix(&[seed, hotel, 100]) % 3) as usize;
    let mut rooms: Vec<WorldRoom> = Vec::new();
    let mut salt = 0u64;
    while rooms.len() < n && salt < 64 {
        let base_salt = 200 + salt * 8;
        let r = |s: u64| mix(&[seed, hotel, base_salt + s]);
        let class = CLASSES[(r(1) % 5) as usize];
        let bed = BEDS[(r(2) % 4) as usize];
        salt += 1;
        // (class, bed) is unique within a hotel, so every supplier can give each room a distinct code.
        if rooms.iter().any(|x| x.class == class && x.bed == bed) {
            continue;
        }
        let view = VIEWS[(r(3) % 4) as usize];
        let class_factor = match class {
            RoomClass::Standard => 100,
            RoomClass::Superior => 120,
            RoomClass::Deluxe => 145,
            RoomClass::JuniorSuite => 185,
            RoomClass::Suite => 240,
        };
        let base = (60 + 25 * stars as u64) * class_factor / 100 + r(4) % 20;
        rooms.push(WorldRoom {
            class,
            bed,
            view,
            max_occupancy: if matches!(class, RoomClass::JuniorSuite | RoomClass::Suite) {
                4
            } else {
                3
            },
            base_price: Decimal::from(base),
        });
    }
    rooms
}

impl World {
    /// The hotel identity file arigate ships for this world (`config/demo-hotels.yaml` is seed 42):
    /// unified ids and each supplier's own code, supplier codes being the protocol ids.
    pub fn mapping_yaml(&self) -> String {
        let catalogs: Vec<crate::catalog::Catalog> = PROTOCOLS
            .iter()
            .filter_map(|p| crate::catalog::Catalog::new(self, p))
            .collect();
        let mut out = format!(
            "# Hotel identity: unified hotel ids and each supplier's own hotel code.\n# Generated by `arigate mapping --seed {}`; the simulators' world for that seed.\nhotels:\n",
            self.seed
        );
        for h in &self.hotels {
            out.push_str(&format!(
                "  - id: {}\n    name: \"{}\"\n    destination: {}\n    time_zone: {}\n    codes:\n",
                h.id,
                h.name,
                h.dest().code,
                h.dest().time_zone
            ));
            for c in &catalogs {
                if let Some(ch) = c.hotels.iter().find(|x| x.world_idx == h.idx) {
                    out.push_str(&format!("      {}: \"{}\"\n", c.protocol, ch.code));
                }
            }
        }
        out
    }
}
