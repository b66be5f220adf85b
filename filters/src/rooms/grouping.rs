//! Grouping for the search merge: one hotel's offers from every supplier in, one row per room
//! type out, each with a stable `room_key` (DESIGN §4: `hotels[].rooms[].room_key`).
//!
//! Rooms are visited in a canonical order (by attribute key, supplier, code, name) so the result
//! does not depend on the order suppliers answered in. A room joins the first group whose every
//! member it matches ([`super::compare`]'s rules) — complete linkage, so a group never holds two
//! rooms that were judged different — or starts a new group.
//!
//! The `room_key` is the attribute slug of the group (`superior-double-sea`), the same in every
//! search and from every supplier for the same real room. Only when two groups of one hotel end
//! up with the same slug (one supplier selling two codes under one description) does the second
//! get a disambiguator: `~` and six hex digits of a hash of its first member's supplier, code and
//! name, which stays the same as long as that member is in the answer.

use super::attributes::{RoomAttributes, RoomInput};
use super::matching::verdict;
use super::normalize::normalize;
use serde::Serialize;
use std::cmp::Ordering;

/// One room type of a hotel and the inputs that are it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomGroup {
    /// Stable key derived from the normalized attributes, e.g. `superior-double-sea`.
    pub room_key: String,
    /// Clean display name, e.g. "Superior Double Room, Sea View".
    pub name: String,
    /// Indexes into the input slice, ascending.
    pub members: Vec<usize>,
}

fn canonical(attrs: &[RoomAttributes], x: usize, y: usize) -> Ordering {
    let k = |i: usize| {
        let a = &attrs[i];
        (
            a.key.as_str(),
            a.input
                .supplier
                .as_deref()
                .map(str::to_ascii_lowercase)
                .unwrap_or_default(),
            a.input.code.as_deref().unwrap_or_default(),
            a.input.name.as_str(),
            a.input.supplier.as_deref().unwrap_or_default(),
        )
    };
    k(x).cmp(&k(y))
}

/// FNV-1a, 64 bit: a small stable hash for key disambiguators (not for security).
fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Groups one hotel's rooms into room types. Every input lands in exactly one group; groups
/// are sorted by `room_key`; the keys do not depend on the input order.
pub fn group_rooms(rooms: &[RoomInput]) -> Vec<RoomGroup> {
    let attrs: Vec<RoomAttributes> = rooms.iter().map(normalize).collect();
    let mut order: Vec<usize> = (0..rooms.len()).collect();
    order.sort_by(|&x, &y| canonical(&attrs, x, y));

    let mut groups: Vec<Vec<usize>> = Vec::new();
    for &i in &order {
        let home = groups
            .iter()
            .position(|g| g.iter().all(|&j| verdict(&attrs[i], &attrs[j]).same));
        match home {
            Some(g) => groups[g].push(i),
            None => groups.push(vec![i]),
        }
    }

    // Each group's first member in canonical order names it and gives its key.
    let mut named: Vec<(String, usize, Vec<usize>)> = groups
        .into_iter()
        .filter_map(|g| {
            let first = *g.first()?;
            Some((attrs[first].key.clone(), first, g))
        })
        .collect();
    named.sort_by(|x, y| x.0.cmp(&y.0).then(canonical(&attrs, x.1, y.1)));

    let mut out: Vec<RoomGroup> = Vec::with_capacity(named.len());
    let mut used: std::collections::HashSet<String> = std::collections::HashSet::new();
    for (key, first, mut members) in named {
        let mut room_key = key.clone();
        if used.contains(&room_key) {
            let a = &attrs[first].input;
            let id = format!(
                "{}|{}|{}",
                a.supplier
                    .as_deref()
                    .map(str::to_ascii_lowercase)
                    .unwrap_or_default(),
                a.code.as_deref().unwrap_or_default(),
                a.name
            );
            room_key = format!("{key}~{:06x}", fnv1a(&id) & 0xff_ffff);
            let mut n = 2;
            while used.contains(&room_key) {
                room_key = format!("{key}~{:06x}-{n}", fnv1a(&id) & 0xff_ffff);
                n += 1;
            }
        }
        used.insert(room_key.clone());
        members.sort_unstable();
        out.push(RoomGroup {
            room_key,
            name: attrs[first].display_name(),
            members,
        });
    }
    out.sort_by(|x, y| x.room_key.cmp(&y.room_key));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hotel() -> Vec<RoomInput> {
        let r = |s: &str, n: &str, c: &str| RoomInput::new(Some(s), n, Some(c));
        vec![
            // world room 0: superior queen, garden view — five suppliers, two rate plans each
            r("hotelbeds", "QUEEN SUPERIOR GARDEN VIEW", "QUE.SU"),
            r("hotelbeds", "QUEEN SUPERIOR GARDEN VIEW", "QUE.SU"),
            r(
                "expedia-rapid",
                "Superior Room, 1 Queen Bed, Garden View",
                "5300",
            ),
            r("ota-soap", "Superior Queen Room - Garden View", "QSG0"),
            r("derbysoft", "Superior Queen Garden View", "SUP-QUE-GV"),
            r("dida", "Superior Queen Room Garden View", "88000"),
            // world room 1: superior double, garden view
            r("hotelbeds", "DOUBLE SUPERIOR GARDEN VIEW", "DBL.SU"),
            r(
                "expedia-rapid",
                "Superior Room, 1 Double Bed, Garden View",
                "5301",
            ),
            r("derbysoft", "Superior Double Garden View", "SUP-DBL-GV"),
            // world room 2: suite king, no view
            r("hotelbeds", "KING SUITE", "KNG.SU2"),
            r("ota-soap", "Suite King", "KSN2"),
            r("dida", "Suite King", "88002"),
            // world room 3: standard twin, sea view
            r("hotelbeds", "TWIN STANDARD SEA VIEW", "TWN.ST"),
            r(
                "expedia-rapid",
                "Standard Room, 2 Twin Beds, Sea View",
                "5303",
            ),
            r("dida", "Standard Twin Room Sea View", "88003"),
            // a real-world style name of room 3
            RoomInput::new(
                None,
                "Habitación Estándar dos camas individuales vista al mar",
                None,
            ),
        ]
    }

    #[test]
    fn the_same_world_room_becomes_one_group_per_room() {
        let groups = group_rooms(&hotel());
        let keys: Vec<&str> = groups.iter().map(|g| g.room_key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "standard-twin-sea",
                "suite-king",
                "superior-double-garden",
                "superior-queen-garden"
            ]
        );
        let sizes: Vec<usize> = groups.iter().map(|g| g.members.len()).collect();
        assert_eq!(sizes, [4, 3, 3, 6]);
        assert_eq!(groups[0].name, "Standard Twin Room, Sea View");
        assert_eq!(groups[1].name, "Suite, 1 King Bed");
        let mut all: Vec<usize> = groups.iter().flat_map(|g| g.members.clone()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..hotel().len()).collect::<Vec<_>>());
    }

    #[test]
    fn keys_do_not_depend_on_input_order() {
        let rooms = hotel();
        let base = group_rooms(&rooms);
        let by_input = |groups: &[RoomGroup], rooms: &[RoomInput]| {
            let mut v: Vec<(RoomInput, String)> = groups
                .iter()
                .flat_map(|g| {
                    g.members
                        .iter()
                        .map(|&i| (rooms[i].clone(), g.room_key.clone()))
                })
                .collect();
            v.sort_by(|a, b| format!("{:?}", a).cmp(&format!("{:?}", b)));
            v
        };
        let want = by_input(&base, &rooms);
        for shift in 1..rooms.len() {
            let mut rotated = rooms.clone();
            rotated.rotate_left(shift);
            rotated.swap(0, rooms.len() / 2);
            assert_eq!(by_input(&group_rooms(&rotated), &rotated), want);
        }
        let mut reversed = rooms.clone();
        reversed.reverse();
        assert_eq!(by_input(&group_rooms(&reversed), &reversed), want);
    }

    #[test]
    fn a_group_never_holds_two_rooms_judged_different() {
        let rooms = vec![
            RoomInput::new(Some("hotelbeds"), "DOUBLE STANDARD", Some("DBL.ST")),
            RoomInput::new(Some("hotelbeds"), "DOUBLE STANDARD", Some("DBL.ST-1")),
            RoomInput::new(Some("dida"), "Standard Double Room", Some("88001")),
        ];
        let groups = group_rooms(&rooms);
        assert_eq!(groups.len(), 2);
        for g in &groups {
            for &i in &g.members {
                for &j in &g.members {
                    assert!(super::super::compare(&rooms[i], &rooms[j]).same);
                }
            }
        }
        let keys: Vec<&str> = groups.iter().map(|g| g.room_key.as_str()).collect();
        assert_eq!(keys[0], "standard-double");
        assert!(keys[1].starts_with("standard-double~"), "{keys:?}");
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert!(group_rooms(&[]).is_empty());
    }
}
