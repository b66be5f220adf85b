//! Browse-cache policy (DESIGN §1, §5): which requests may be cached, for how long, and which
//! cached answers an ARI change has made stale.
//!
//! - [`browse_ttl`] is the seed formula: `60 s × time_factor × (1 − 0.6 × hotness) × season`,
//!   capped at 300 s, 60 s for suppliers without webhooks, and no caching within 3 h of check-in.
//! - [`Hotness`] measures each hotel's recent request rate (exponentially decayed), bounded.
//! - [`Invalidations`] records, per supplier and per (supplier, hotel), when data was last
//!   invalidated (webhook, failed re-check, admin purge). A cached answer created before the latest
//!   invalidation of any hotel it covers is treated as a miss. Timestamps rather than deletions keep
//!   this correct for entries written concurrently and, shared through Redis later, across nodes.

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// Knobs of the adaptive TTL.
#[derive(Debug, Clone, PartialEq)]
pub struct TtlPolicy {
    /// The base of the formula (60 s).
    pub base: Duration,
    /// The cap (300 s).
    pub max: Duration,
    /// The cap for suppliers that do not push ARI webhooks (60 s).
    pub max_without_webhooks: Duration,
    /// No caching when check-in is closer than this (3 h).
    pub no_cache_within: Duration,
    /// Hour (UTC) a stay is taken to start on its check-in date.
    pub checkin_hour_utc: u32,
    /// Season factor for Friday and Saturday check-ins (< 1 shortens the TTL).
    pub weekend_factor: f64,
    /// Season factor for configured holiday check-ins.
    pub holiday_factor: f64,
    pub holidays: Vec<NaiveDate>,
}

impl Default for TtlPolicy {
    fn default() -> Self {
        TtlPolicy {
            base: Duration::from_secs(60),
            max: Duration::from_secs(300),
            max_without_webhooks: Duration::from_secs(60),
            no_cache_within: Duration::from_secs(3 * 3600),
            checkin_hour_utc: 14,
            weekend_factor: 1.0,
            holiday_factor: 1.0,
            holidays: Vec::new(),
        }
    }
}

/// The time factor by days until check-in (seed table).
pub fn time_factor(days_until_checkin: f64) -> f64 {
    match days_until_checkin {
        d if d < 1.0 => 0.5,
        d if d < 3.0 => 1.0,
        d if d < 7.0 => 2.0,
        d if d < 14.0 => 3.0,
        _ => 5.0,
    }
}

impl TtlPolicy {
    /// When a stay on `checkin` starts, for the purpose of "how soon".
    pub fn checkin_instant(&self, checkin: NaiveDate) -> DateTime<Utc> {
        checkin
            .and_hms_opt(self.checkin_hour_utc.min(23), 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_else(|| checkin.and_time(chrono::NaiveTime::MIN).and_utc())
    }

    /// The season factor of a check-in date.
    pub fn season(&self, checkin: NaiveDate) -> f64 {
        if self.holidays.contains(&checkin) {
            self.holiday_factor
        } else if matches!(checkin.weekday(), Weekday::Fri | Weekday::Sat) {
            self.weekend_factor
        } else {
            1.0
        }
    }
}

/// How long a browse answer for a stay starting `checkin` may be served, or `None` when it must
/// not be cached at all (check-in too close). `hotness` is in [0, 1].
pub fn browse_ttl(
    policy: &TtlPolicy,
    checkin: NaiveDate,
    now: DateTime<Utc>,
    hotness: f64,
    supplier_has_webhooks: bool,
) -> Option<Duration> {
    let until = policy.checkin_instant(checkin) - now;
    let until = until.to_std().ok()?;
    if until < policy.no_cache_within {
        return None;
    }
    let days = until.as_secs_f64() / 86_400.0;
    let hotness = hotness.clamp(0.0, 1.0);
    let secs = policy.base.as_secs_f64()
        * time_factor(days)
        * (1.0 - 0.6 * hotness)
        * policy.season(checkin);
    let cap = if supplier_has_webhooks {
        policy.max
    } else {
        policy.max.min(policy.max_without_webhooks)
    };
    let ttl = Duration::from_secs_f64(secs.max(0.0)).min(cap);
    (!ttl.is_zero()).then_some(ttl)
}

/// Per-hotel request rate, decayed exponentially; `hotness` is the rate over `hot_rate`, capped at 1.
pub struct Hotness {
    inner: Mutex<HashMap<String, (f64, SystemTime)>>,
    /// Requests per minute at which a hotel counts as hottest.
    hot_per_minute: f64,
    half_life: Duration,
    capacity: usize,
}

impl Hotness {
    pub fn new(hot_per_minute: f64, capacity: usize) -> Hotness {
        Hotness {
            inner: Mutex::new(HashMap::new()),
            hot_per_minute: hot_per_minute.max(1e-9),
            half_life: Duration::from_secs(60),
            capacity: capacity.max(1),
        }
    }

    fn decayed(&self, value: f64, since: SystemTime, now: SystemTime) -> f64 {
        let dt = now.duration_since(since).unwrap_or_default().as_secs_f64();
        value * 0.5f64.powf(dt / self.half_life.as_secs_f64())
    }

    /// Counts one request for `hotel` at `now`.
    pub fn record(&self, hotel: &str, now: SystemTime) {
        let mut map = self.inner.lock();
        // A hotel seen before: no allocation, no scan.
        if let Some(entry) = map.get_mut(hotel) {
            entry.0 = self.decayed(entry.0, entry.1, now) + 1.0;
            entry.1 = now;
            return;
        }
        if map.len() >= self.capacity {
            // Forget the coldest of a few entries (the map's order is arbitrary, so this is a
            // random sample): bounded work per new hotel, however large the table.
            if let Some(coldest) = map
                .iter()
                .take(Self::EVICTION_SAMPLE)
                .map(|(k, (v, t))| (k, self.decayed(*v, *t, now)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(k, _)| k.clone())
            {
                map.remove(&coldest);
            }
        }
        map.insert(hotel.to_string(), (1.0, now));
    }

    /// Entries looked at to pick one to forget when the table is full.
    const EVICTION_SAMPLE: usize = 16;

    /// The hotel's hotness in [0, 1] at `now`.
    pub fn hotness(&self, hotel: &str, now: SystemTime) -> f64 {
        let map = self.inner.lock();
        let Some((v, t)) = map.get(hotel) else {
            return 0.0;
        };
        // A decayed count with half-life h approximates rate × h / ln 2.
        let per_minute = self.decayed(*v, *t, now) * std::f64::consts::LN_2
            / self.half_life.as_secs_f64()
            * 60.0;
        (per_minute / self.hot_per_minute).min(1.0)
    }
}

/// What an invalidation is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Tag {
    /// Everything of one supplier.
    Supplier(String),
    /// One supplier's data for one of its hotel codes.
    SupplierHotel(String, String),
}

/// Latest invalidation time per tag; bounded, entries older than `horizon` are forgotten (nothing
/// cached can be older than the longest TTL).
pub struct Invalidations {
    inner: Mutex<HashMap<Tag, SystemTime>>,
    /// The latest invalidation time of any tag (ns since the epoch; 0: none yet), read without
    /// the lock: an answer made after it cannot be stale, which is every look-up in between
    /// invalidations.
    latest_ns: std::sync::atomic::AtomicU64,
    horizon: Duration,
    capacity: usize,
}

fn epoch_ns(t: SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl Invalidations {
    pub fn new(horizon: Duration, capacity: usize) -> Invalidations {
        Invalidations {
            inner: Mutex::new(HashMap::new()),
            latest_ns: std::sync::atomic::AtomicU64::new(0),
            horizon,
            capacity: capacity.max(16),
        }
    }

    /// Marks everything under `tag` as stale from `at` on.
    pub fn invalidate(&self, tag: Tag, at: SystemTime) {
        let mut map = self.inner.lock();
        self.latest_ns
            .fetch_max(epoch_ns(at), std::sync::atomic::Ordering::SeqCst);
        if map.len() >= self.capacity {
            let horizon = self.horizon;
            map.retain(|_, t| at.duration_since(*t).map_or(true, |age| age < horizon));
            if map.len() >= self.capacity {
                // Still full of recent invalidations: widen to a supplier-wide one, never forget it.
                if let Tag::SupplierHotel(s, _) = &tag {
                    let s = s.clone();
                    map.retain(|k, _| !matches!(k, Tag::SupplierHotel(x, _) if *x == s));
                    map.insert(Tag::Supplier(s), at);
                    return;
                }
            }
        }
        let slot = map.entry(tag).or_insert(at);
        if *slot < at {
            *slot = at;
        }
    }

    /// Whether an answer of `supplier` for `hotels`, created at `created`, was invalidated since.
    pub fn is_stale(&self, supplier: &str, hotels: &[String], created: SystemTime) -> bool {
        let latest = self.latest_ns.load(std::sync::atomic::Ordering::SeqCst);
        if latest == 0 || latest < epoch_ns(created) {
            return false;
        }
        let map = self.inner.lock();
        if map.is_empty() {
            return false;
        }
        let after = |t: Option<&SystemTime>| t.is_some_and(|t| *t >= created);
        after(map.get(&Tag::Supplier(supplier.to_string())))
            || hotels
                .iter()
                .any(|h| after(map.get(&Tag::SupplierHotel(supplier.to_string(), h.clone()))))
    }

    pub fn len(&self) -> usize {
        self.inner.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The invalidations recorded at or after `since` (to share them with other nodes).
    pub fn entries_since(&self, since: SystemTime) -> Vec<(Tag, SystemTime)> {
        self.inner
            .lock()
            .iter()
            .filter(|(_, at)| **at >= since)
            .map(|(t, at)| (t.clone(), *at))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        // A Wednesday noon.
        DateTime::parse_from_rfc3339("2027-01-13T12:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .expect("date")
    }

    /// The table: (days until check-in, normal TTL, hottest-hotel TTL).
    #[rstest::rstest]
    #[case::under_one_day(0.5, 30, 12)]
    #[case::one_to_three_days(2.0, 60, 24)]
    #[case::three_to_seven_days(5.0, 120, 48)]
    #[case::seven_to_fourteen_days(10.0, 180, 72)]
    #[case::over_fourteen_days(30.0, 300, 120)]
    fn the_seed_table(#[case] days: f64, #[case] normal: u64, #[case] hottest: u64) {
        let policy = TtlPolicy {
            checkin_hour_utc: 12,
            ..TtlPolicy::default()
        };
        // A check-in `days` ahead at the policy's check-in hour (weekday season factor 1).
        let n = now() - chrono::Duration::milliseconds((days.fract() * 86_400_000.0) as i64);
        let checkin = (now() + chrono::Duration::days(days.trunc() as i64)).date_naive();
        let d = |h: f64| {
            browse_ttl(&policy, checkin, n, h, true).map(|d| d.as_secs_f64().round() as u64)
        };
        assert_eq!(d(0.0), Some(normal));
        assert_eq!(d(1.0), Some(hottest));
    }

    #[test]
    fn nothing_is_cached_within_three_hours_of_check_in() {
        let policy = TtlPolicy {
            checkin_hour_utc: 14,
            ..TtlPolicy::default()
        };
        let checkin = now().date_naive();
        // 12:00 now, check-in 14:00 today: 2 h away.
        assert_eq!(browse_ttl(&policy, checkin, now(), 0.0, true), None);
        // 10:00: 4 h away, cached (< 1 day).
        assert_eq!(
            browse_ttl(
                &policy,
                checkin,
                now() - chrono::Duration::hours(2),
                0.0,
                true
            ),
            Some(Duration::from_secs(30))
        );
        // A past check-in is never cached either.
        assert_eq!(
            browse_ttl(
                &policy,
                checkin - chrono::Duration::days(1),
                now(),
                0.0,
                true
            ),
            None
        );
    }

    #[test]
    fn suppliers_without_webhooks_are_capped_at_a_minute_and_seasons_shorten() {
        let policy = TtlPolicy {
            weekend_factor: 0.5,
            holiday_factor: 0.25,
            holidays: vec![NaiveDate::from_ymd_opt(2027, 3, 3).expect("date")],
            ..TtlPolicy::default()
        };
        let far_wednesday = NaiveDate::from_ymd_opt(2027, 3, 10).expect("date");
        let far_friday = NaiveDate::from_ymd_opt(2027, 3, 12).expect("date");
        let holiday = NaiveDate::from_ymd_opt(2027, 3, 3).expect("date");
        assert_eq!(
            browse_ttl(&policy, far_wednesday, now(), 0.0, false),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            browse_ttl(&policy, far_wednesday, now(), 0.0, true),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            browse_ttl(&policy, far_friday, now(), 0.0, true),
            Some(Duration::from_secs(150))
        );
        assert_eq!(
            browse_ttl(&policy, holiday, now(), 0.0, true),
            Some(Duration::from_secs(75))
        );
    }

    #[test]
    fn hotness_follows_the_request_rate_and_decays() {
        let h = Hotness::new(60.0, 100);
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(h.hotness("A", t0), 0.0);
        // 120 requests over the last minute: hottest.
        for i in 0..120 {
            h.record("A", t0 + Duration::from_millis(i * 500));
        }
        let t1 = t0 + Duration::from_secs(60);
        assert!(h.hotness("A", t1) > 0.99, "{}", h.hotness("A", t1));
        // 10 requests a minute: lukewarm.
        for i in 0..10 {
            h.record("B", t0 + Duration::from_secs(i * 6));
        }
        let b = h.hotness("B", t1);
        assert!(b > 0.05 && b < 0.4, "{b}");
        // An hour later, both are cold.
        assert!(h.hotness("A", t1 + Duration::from_secs(3600)) < 0.01);
    }

    #[test]
    fn hotness_stays_within_its_bound() {
        let h = Hotness::new(60.0, 50);
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(10);
        for i in 0..10_000 {
            h.record(&format!("H{i}"), t);
        }
        assert!(h.inner.lock().len() <= 50);
    }

    #[test]
    fn an_invalidation_stales_only_what_was_created_before_it_and_only_its_hotels() {
        let inv = Invalidations::new(Duration::from_secs(600), 1000);
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let hotels = |h: &[&str]| h.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        inv.invalidate(Tag::SupplierHotel("hb".into(), "100".into()), t);
        assert!(inv.is_stale("hb", &hotels(&["100"]), t - Duration::from_secs(1)));
        assert!(inv.is_stale("hb", &hotels(&["200", "100"]), t - Duration::from_secs(1)));
        assert!(
            !inv.is_stale("hb", &hotels(&["100"]), t + Duration::from_secs(1)),
            "written after the change"
        );
        assert!(
            !inv.is_stale("hb", &hotels(&["200"]), t - Duration::from_secs(1)),
            "another hotel"
        );
        assert!(
            !inv.is_stale("dida", &hotels(&["100"]), t - Duration::from_secs(1)),
            "another supplier"
        );
        inv.invalidate(Tag::Supplier("dida".into()), t);
        assert!(inv.is_stale("dida", &hotels(&["7"]), t - Duration::from_secs(1)));
    }

    #[test]
    fn recent_entries_can_be_listed() {
        let inv = Invalidations::new(Duration::from_secs(600), 1000);
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        inv.invalidate(Tag::Supplier("a".into()), t);
        inv.invalidate(Tag::Supplier("b".into()), t + Duration::from_secs(5));
        assert_eq!(inv.entries_since(t).len(), 2);
        assert_eq!(
            inv.entries_since(t + Duration::from_secs(1)),
            vec![(Tag::Supplier("b".into()), t + Duration::from_secs(5))]
        );
    }

    #[test]
    fn a_full_registry_widens_rather_than_forgets() {
        let inv = Invalidations::new(Duration::from_secs(600), 16);
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        for i in 0..100 {
            inv.invalidate(Tag::SupplierHotel("hb".into(), format!("{i}")), t);
        }
        assert!(inv.len() <= 17);
        for i in 0..100 {
            assert!(
                inv.is_stale("hb", &[format!("{i}")], t - Duration::from_secs(1)),
                "{i} forgotten"
            );
        }
    }
}
