//! Searches already validated, by the exact bytes an agent sent. A search is a pure function of
//! the configuration (one memo per generation: a reload starts empty), the body and the UTC day
//! (checkin may not be before it); an agent repeating a search sends the same bytes, so the
//! answer's key is found without parsing JSON, checking dates or building the key again.
//!
//! Bounded: a fixed number of slots, one entry each (a new search takes its slot's place), bodies
//! of at most [`MAX_BODY`] bytes; each slot has its own lock, so agents never wait on each other.
//! Only valid searches are kept: an invalid one is checked again and gets its error again.

use super::answers;
use arigate_config::Config;
use arigate_filters::agent_input::{self, InputError, SearchRules, ValidSearch};
use chrono::NaiveDate;
use parking_lot::Mutex;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The largest body kept (a search of a few dozen hotels); a larger one is checked every time.
pub const MAX_BODY: usize = 2048;

/// The most slots, whatever `cache.answers_max_entries` says: at most ~3 KiB each.
pub const MAX_SLOTS: usize = 4096;

/// One validated search and what its answer lookup needs.
pub struct Memo {
    agent: String,
    day: NaiveDate,
    body: Box<[u8]>,
    pub search: ValidSearch,
    /// [`answers::key`] of the search for this agent.
    pub answer_key: String,
    /// The root span's `stay` attribute (`checkin..checkout`).
    pub stay_attr: String,
    /// The root span's `rooms` attribute.
    pub rooms_attr: String,
}

impl Memo {
    fn new(agent: &str, day: NaiveDate, body: &[u8], search: ValidSearch) -> Memo {
        Memo {
            answer_key: answers::key(
                agent,
                &search.stay,
                &search.rooms,
                &search.hotels,
                &search.currency,
                &search.nationality,
                search.suppliers.as_deref(),
            ),
            stay_attr: format!("{}..{}", search.stay.checkin, search.stay.checkout),
            rooms_attr: search.rooms.len().to_string(),
            agent: agent.to_string(),
            day,
            body: body.into(),
            search,
        }
    }

    fn is(&self, agent: &str, day: NaiveDate, body: &[u8]) -> bool {
        self.day == day && *self.body == *body && self.agent == agent
    }
}

/// The bounded memo of one configuration generation.
pub struct SearchMemo {
    slots: Box<[Mutex<Option<Arc<Memo>>>]>,
}

impl SearchMemo {
    /// `slots` entries at most ([`MAX_SLOTS`] at most); 0 keeps nothing.
    pub fn new(slots: usize) -> SearchMemo {
        SearchMemo {
            slots: (0..slots.min(MAX_SLOTS))
                .map(|_| Mutex::new(None))
                .collect(),
        }
    }

    /// The memo sized for a configuration: one slot per kept answer, up to [`MAX_SLOTS`].
    pub fn for_config(config: &Config) -> SearchMemo {
        SearchMemo::new(config.cache.answers_max_entries)
    }

    /// `body` of `agent` checked against `config` on `today`: the memo's entry when the same
    /// agent sent the same bytes on the same day, else checked now (and kept when valid).
    pub fn search(
        &self,
        config: &Config,
        agent: &str,
        body: &[u8],
        today: NaiveDate,
    ) -> Result<Arc<Memo>, InputError> {
        let slot = self.slot(agent, today, body);
        if let Some(slot) = slot {
            if let Some(m) = slot.lock().as_ref().filter(|m| m.is(agent, today, body)) {
                return Ok(m.clone());
            }
        }
        let search = agent_input::search(&SearchRules::new(config), body, today)?;
        let memo = Arc::new(Memo::new(agent, today, body, search));
        if let Some(slot) = slot {
            *slot.lock() = Some(memo.clone());
        }
        Ok(memo)
    }

    fn slot(&self, agent: &str, day: NaiveDate, body: &[u8]) -> Option<&Mutex<Option<Arc<Memo>>>> {
        if self.slots.is_empty() || body.len() > MAX_BODY {
            return None;
        }
        let mut h = std::hash::DefaultHasher::new();
        agent.hash(&mut h);
        day.hash(&mut h);
        body.hash(&mut h);
        self.slots.get(h.finish() as usize % self.slots.len())
    }

    /// Entries held now (takes every slot's lock: for tests).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.lock().is_some()).count()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        crate::demo::test_app().config
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
    }

    fn body(checkin: &str, checkout: &str) -> Vec<u8> {
        format!(
            r#"{{"checkin":"{checkin}","checkout":"{checkout}","occupancy":[{{"adults":2}}],"hotels":["ARG-LIS-0001"],"currency":"EUR","nationality":"PT"}}"#
        )
        .into_bytes()
    }

    #[test]
    fn the_same_bytes_of_the_same_agent_on_the_same_day_are_checked_once() {
        let (config, memo) = (config(), SearchMemo::new(64));
        let b = body("2027-01-10", "2027-01-12");
        let first = memo.search(&config, "agent-a", &b, today()).unwrap();
        let again = memo.search(&config, "agent-a", &b, today()).unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second lookup is the kept entry"
        );
        assert_eq!(memo.len(), 1);
        // What is kept is what a fresh check gives.
        let fresh = agent_input::search(&SearchRules::new(&config), &b, today()).unwrap();
        assert_eq!(first.search, fresh);
        assert_eq!(first.stay_attr, "2027-01-10..2027-01-12");
        assert_eq!(first.rooms_attr, "1");
        assert_eq!(
            first.answer_key,
            answers::key(
                "agent-a",
                &fresh.stay,
                &fresh.rooms,
                &fresh.hotels,
                &fresh.currency,
                &fresh.nationality,
                fresh.suppliers.as_deref()
            )
        );
    }

    #[test]
    fn another_agent_day_or_body_is_checked_on_its_own() {
        let (config, memo) = (config(), SearchMemo::new(64));
        let b = body("2027-01-10", "2027-01-12");
        let a = memo.search(&config, "agent-a", &b, today()).unwrap();
        let other_agent = memo.search(&config, "agent-b", &b, today()).unwrap();
        assert!(!Arc::ptr_eq(&a, &other_agent));
        assert_ne!(a.answer_key, other_agent.answer_key, "keys are per agent");
        let next_day = today().succ_opt().unwrap();
        let later = memo.search(&config, "agent-a", &b, next_day).unwrap();
        assert!(!Arc::ptr_eq(&a, &later));
        let other = body("2027-01-10", "2027-01-13");
        let c = memo.search(&config, "agent-a", &other, today()).unwrap();
        assert_eq!(c.stay_attr, "2027-01-10..2027-01-13");
    }

    #[test]
    fn a_search_valid_yesterday_is_checked_again_today() {
        let (config, memo) = (config(), SearchMemo::new(64));
        let b = body("2027-01-10", "2027-01-12");
        let day_before = NaiveDate::from_ymd_opt(2027, 1, 10).unwrap();
        memo.search(&config, "agent-a", &b, day_before).unwrap();
        let after = NaiveDate::from_ymd_opt(2027, 1, 11).unwrap();
        let e = memo.search(&config, "agent-a", &b, after).err();
        assert!(e.is_some(), "checkin before today is refused, memo or not");
    }

    #[test]
    fn invalid_searches_are_not_kept_and_fail_every_time() {
        let (config, memo) = (config(), SearchMemo::new(64));
        let b = body("2027-01-12", "2027-01-10");
        for _ in 0..2 {
            let e = memo.search(&config, "agent-a", &b, today()).err().unwrap();
            assert!(e.message.contains("checkout"), "{}", e.message);
        }
        assert!(memo.is_empty());
    }

    #[test]
    fn bounded_by_its_slots_and_body_size() {
        let (config, memo) = (config(), SearchMemo::new(4));
        for d in 10..30 {
            let b = body(&format!("2027-01-{d}"), &format!("2027-01-{}", d + 1));
            memo.search(&config, "agent-a", &b, today()).unwrap();
        }
        assert!(memo.len() <= 4, "{} entries in 4 slots", memo.len());
        assert_eq!(SearchMemo::new(1_000_000).slots.len(), MAX_SLOTS);

        let mut big = body("2027-01-10", "2027-01-12");
        let pad = " ".repeat(MAX_BODY);
        big.splice(1..1, pad.bytes());
        let empty = SearchMemo::new(4);
        let a = empty.search(&config, "agent-a", &big, today()).unwrap();
        let b = empty.search(&config, "agent-a", &big, today()).unwrap();
        assert!(
            !Arc::ptr_eq(&a, &b),
            "a body over {MAX_BODY} bytes is not kept"
        );
        assert!(empty.is_empty());

        let off = SearchMemo::new(0);
        off.search(
            &config,
            "agent-a",
            &body("2027-01-10", "2027-01-12"),
            today(),
        )
        .unwrap();
        assert!(off.is_empty());
    }
}
