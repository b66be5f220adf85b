//! A running simulator's mutable state: counters, default scenario, ARI overrides (sell-outs,
//! repricing), bookings, and a small key-value store for protocol material (issued rate keys,
//! tokens, holds) with issue times.

use crate::catalog::{Catalog, CatalogHotel, Quote};
use crate::scenario::DefaultScenario;
use crate::world::World;
use crate::SimOptions;
use chrono::{DateTime, NaiveDate, Utc};
use parking_lot::Mutex;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

/// Allotment 0 for matching inventory.
#[derive(Debug, Clone, Serialize)]
pub struct Sellout {
    pub hotel: String,
    pub room: Option<String>,
    pub date: Option<NaiveDate>,
}

/// Prices of matching inventory change by `pct`.
#[derive(Debug, Clone, Serialize)]
pub struct Reprice {
    pub hotel: String,
    pub room: Option<String>,
    pub pct: Decimal,
}

/// A booking the simulator holds, in protocol-neutral terms; `extra` holds protocol fields.
#[derive(Debug, Clone, Serialize)]
pub struct SimBooking {
    pub reference: String,
    pub client_reference: String,
    /// Protocol's own status word (e.g. `CONFIRMED`, `Cancelled`, `2`).
    pub status: String,
    pub hotel: String,
    pub room: String,
    pub rate: String,
    pub checkin: NaiveDate,
    pub checkout: NaiveDate,
    pub total: Decimal,
    pub currency: String,
    pub guests: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub extra: serde_json::Value,
}

pub struct SimState {
    pub options: SimOptions,
    pub world: World,
    pub catalog: Catalog,
    /// First day of the 365-day inventory window.
    pub today: NaiveDate,
    counters: Mutex<BTreeMap<String, u64>>,
    pub default_scenario: Mutex<Option<DefaultScenario>>,
    pub sellouts: Mutex<Vec<Sellout>>,
    pub reprices: Mutex<Vec<Reprice>>,
    pub bookings: Mutex<Vec<SimBooking>>,
    /// Protocol material by key: (issued at, value).
    pub kv: Mutex<HashMap<String, (DateTime<Utc>, serde_json::Value)>>,
    seq: AtomicU64,
}

impl SimState {
    pub fn new(options: SimOptions, catalog: Catalog, world: World) -> SimState {
        SimState {
            options,
            world,
            catalog,
            today: Utc::now().date_naive(),
            counters: Mutex::new(BTreeMap::new()),
            default_scenario: Mutex::new(None),
            sellouts: Mutex::new(Vec::new()),
            reprices: Mutex::new(Vec::new()),
            bookings: Mutex::new(Vec::new()),
            kv: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(1),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// A fresh number, unique within this simulator (references, nonces, event ids).
    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    pub fn count(&self, endpoint: &str) {
        *self
            .counters
            .lock()
            .entry(endpoint.to_string())
            .or_insert(0) += 1;
    }

    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.counters.lock().clone()
    }

    /// Live quote for `rooms` identical rooms of (hotel, room index, rate index) over the stay, in EUR,
    /// with sell-outs and repricing applied. `None` when any night is unavailable (allotment < rooms,
    /// outside the window, or over the room's max occupancy).
    #[allow(clippy::too_many_arguments)] // one inventory query is addressed by all of these
    pub fn quote(
        &self,
        hotel: &CatalogHotel,
        room: usize,
        rate: usize,
        checkin: NaiveDate,
        checkout: NaiveDate,
        rooms: u32,
        adults: u8,
        children: u8,
    ) -> Option<Quote> {
        let croom = hotel.rooms.get(room)?;
        if (adults + children) > croom.max_occupancy
            || adults == 0
            || checkout <= checkin
            || rooms == 0
        {
            return None;
        }
        let sellouts = self.sellouts.lock().clone();
        let reprices = self.reprices.lock().clone();
        let mut nightly = Vec::new();
        let mut allotment = u32::MAX;
        let mut date = checkin;
        while date < checkout {
            let (mut price, mut allot) = self.catalog.night(
                &self.world,
                hotel,
                room,
                rate,
                date,
                self.today,
                adults,
                children,
            )?;
            let matches_room = |r: &Option<String>| r.as_deref().is_none_or(|r| r == croom.code);
            if sellouts.iter().any(|s| {
                s.hotel == hotel.code && matches_room(&s.room) && s.date.is_none_or(|d| d == date)
            }) {
                allot = 0;
            }
            for r in reprices
                .iter()
                .filter(|r| r.hotel == hotel.code && matches_room(&r.room))
            {
                price = (price * (Decimal::ONE + r.pct / Decimal::from(100))).round_dp(2);
            }
            allotment = allotment.min(allot);
            nightly.push(price);
            date = date.succ_opt()?;
        }
        if allotment < rooms {
            return None;
        }
        let per_room_total: Decimal = nightly.iter().sum();
        Some(Quote {
            nightly,
            per_room_total,
            total: per_room_total * Decimal::from(rooms),
            allotment,
        })
    }

    /// Converts an EUR amount with the simulators' fixed table (EUR, USD, GBP); `None` for others.
    pub fn convert(&self, eur: Decimal, currency: &str) -> Option<Decimal> {
        let rate = match currency {
            "EUR" => Decimal::ONE,
            "USD" => Decimal::new(108, 2),
            "GBP" => Decimal::new(85, 2),
            _ => return None,
        };
        Some((eur * rate).round_dp(2))
    }

    pub fn kv_put(&self, key: impl Into<String>, value: serde_json::Value) {
        self.kv.lock().insert(key.into(), (self.now(), value));
    }

    pub fn kv_get(&self, key: &str) -> Option<(DateTime<Utc>, serde_json::Value)> {
        self.kv.lock().get(key).cloned()
    }

    pub fn kv_remove(&self, key: &str) -> Option<(DateTime<Utc>, serde_json::Value)> {
        self.kv.lock().remove(key)
    }
}
