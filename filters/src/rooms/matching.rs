//! Matching: are two supplier rooms of one hotel the same room type? A wrong merge shows an
//! agent one room at another room's price, which is worse than showing the same room twice, so
//! every rule here keeps rooms apart when unsure:
//!
//! - one supplier, two different room codes → different (the supplier itself says so); one
//!   supplier, one code → the same room, whatever the rate words around its name.
//! - hard vetoes, each on the normalized attributes: class (with its qualifiers), bed
//!   configuration (a flexible "Double or Twin" is neither a fixed double nor a fixed twin), sofa
//!   bed, view (a stated view never matches an unstated one; "partial sea" is not "sea"),
//!   occupancy (stated, or implied by the beds), accessibility, smoking, features, size (more
//!   than 10 % apart), unrecognized words.
//! - a bed stated on one side only is a veto too: "Deluxe Room" may be the king or the twin.
//! - a name that states no class, beds or occupancy ("Room") matches nothing but itself.
//!
//! Board and refundability never take part: they belong to the offer, not the room.

use super::attributes::{RoomAttributes, RoomClass, RoomInput};
use super::normalize::normalize;
use serde::Serialize;
use std::fmt;

/// The outcome of comparing two rooms: the verdict, why, and what each name was read as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// True when both describe the same room type.
    pub same: bool,
    /// The rule that decided, in words ("bed configuration differs: double vs twin").
    pub reason: String,
    /// Attributes of the first room.
    pub a: RoomAttributes,
    /// Attributes of the second room.
    pub b: RoomAttributes,
}

/// Compares two supplier rooms of one hotel.
pub fn compare(a: &RoomInput, b: &RoomInput) -> Comparison {
    let a = normalize(a);
    let b = normalize(b);
    let v = verdict(&a, &b);
    Comparison {
        same: v.same,
        reason: v.reason,
        a,
        b,
    }
}

/// A decision and its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub same: bool,
    pub reason: String,
}

fn different(reason: String) -> Verdict {
    Verdict {
        same: false,
        reason,
    }
}

fn same_supplier(a: &RoomInput, b: &RoomInput) -> Option<String> {
    match (&a.supplier, &b.supplier) {
        (Some(x), Some(y)) if x.trim().eq_ignore_ascii_case(y.trim()) => Some(x.trim().to_string()),
        _ => None,
    }
}

fn list<T: fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("+")
    }
}

fn class_words(x: &RoomAttributes) -> String {
    let mut words: Vec<&str> = x.class_qualifiers.iter().map(|c| c.slug()).collect();
    words.push(x.class.slug());
    words.join(" ")
}

/// The decision on two normalized rooms.
pub(crate) fn verdict(a: &RoomAttributes, b: &RoomAttributes) -> Verdict {
    let supplier = same_supplier(&a.input, &b.input);
    if supplier.is_some() && a.input.code == b.input.code && a.input.name == b.input.name {
        return Verdict {
            same: true,
            reason: "identical supplier, code and name".to_string(),
        };
    }
    let mut same_code = false;
    if let (Some(s), Some(ca), Some(cb)) = (&supplier, &a.input.code, &b.input.code) {
        if ca.trim() != cb.trim() {
            return different(format!(
                "{s} sells these as distinct room codes ({ca}, {cb})"
            ));
        }
        same_code = true;
    }
    for (side, x) in [("a", a), ("b", b)] {
        if let Some(c) = x.conflicts.first() {
            return different(format!("{side}: supplier code and name disagree ({c})"));
        }
        if !same_code && !x.is_informative() {
            return different(format!(
                "{side}: the name states no class, beds or occupancy, too little to match"
            ));
        }
    }
    let roh = RoomClass::RunOfHouse;
    if !same_code && (a.class == roh || b.class == roh) {
        return different("run of house: the room is assigned at check-in".to_string());
    }
    if a.class != b.class || a.class_qualifiers != b.class_qualifiers {
        return different(format!(
            "room class differs: {} vs {}",
            class_words(a),
            class_words(b)
        ));
    }
    match (&a.bed, &b.bed) {
        (Some(x), Some(y)) if x != y => {
            let why = if x.is_flexible() != y.is_flexible() {
                " (a flexible bed choice is not a fixed arrangement)"
            } else {
                ""
            };
            return different(format!("bed configuration differs: {x} vs {y}{why}"));
        }
        (Some(x), None) => {
            return different(format!("bed configuration stated only for a ({x})"));
        }
        (None, Some(y)) => {
            return different(format!("bed configuration stated only for b ({y})"));
        }
        _ => {}
    }
    if a.sofa_bed != b.sofa_bed {
        return different("sofa bed on one side only".to_string());
    }
    if a.views != b.views {
        return different(format!(
            "view differs: {} vs {}",
            list(&a.views),
            list(&b.views)
        ));
    }
    if let (Some(x), Some(y)) = (a.effective_occupancy(), b.effective_occupancy()) {
        if x != y {
            return different(format!("occupancy differs: {x} vs {y}"));
        }
    }
    if a.accessible != b.accessible {
        return different("accessible room on one side only".to_string());
    }
    if (a.smoking == Some(true)) != (b.smoking == Some(true)) {
        return different("smoking room on one side only".to_string());
    }
    if a.features != b.features {
        return different(format!(
            "features differ: {} vs {}",
            list(&a.features),
            list(&b.features)
        ));
    }
    if let (Some(x), Some(y)) = (a.size_m2, b.size_m2) {
        let (lo, hi) = (x.min(y), x.max(y));
        if u32::from(hi - lo) * 10 > u32::from(hi) {
            return different(format!("size differs: {x} m² vs {y} m²"));
        }
    }
    if !same_code && a.other_words != b.other_words {
        return different(format!(
            "unrecognized words differ: {} vs {}",
            if a.other_words.is_empty() {
                "none".to_string()
            } else {
                a.other_words.join(" ")
            },
            if b.other_words.is_empty() {
                "none".to_string()
            } else {
                b.other_words.join(" ")
            }
        ));
    }
    let reason = if same_code {
        format!(
            "same supplier room code; attributes agree ({})",
            a.key.as_str()
        )
    } else {
        format!("same class, beds, view and features ({})", a.key)
    };
    Verdict { same: true, reason }
}

fn describe_input(f: &mut fmt::Formatter<'_>, label: &str, x: &RoomAttributes) -> fmt::Result {
    write!(f, "{label} {:?}", x.input.name)?;
    let mut extra = Vec::new();
    if let Some(s) = &x.input.supplier {
        extra.push(format!("supplier {s}"));
    }
    if let Some(c) = &x.input.code {
        extra.push(format!("code {c}"));
    }
    if !extra.is_empty() {
        write!(f, " ({})", extra.join(", "))?;
    }
    writeln!(f)?;
    writeln!(f, "{x}")
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe_input(f, "A", &self.a)?;
        describe_input(f, "B", &self.b)?;
        write!(
            f,
            "=> {}: {}",
            if self.same { "SAME" } else { "DIFFERENT" },
            self.reason
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn room(s: &str) -> RoomInput {
        // "supplier|name|code" or a bare name.
        let parts: Vec<&str> = s.split('|').collect();
        match parts.as_slice() {
            [sup, name, code] => RoomInput::new(
                Some(sup).filter(|x| !x.is_empty()).copied(),
                name,
                Some(code).filter(|x| !x.is_empty()).copied(),
            ),
            _ => RoomInput::new(None, s, None),
        }
    }

    #[rstest]
    // flexible vs fixed beds
    #[case("Double or Twin Room", "Twin Room", false, "bed configuration")]
    #[case("Double or Twin Room", "Double Room", false, "bed configuration")]
    #[case("Double or Twin Room", "Twin/Double Room", true, "same")]
    #[case("DBL/TWN Standard", "Standard Double or Twin", true, "same")]
    // beds
    #[case(
        "Deluxe Room, 2 Queen Beds",
        "Deluxe Queen Room",
        false,
        "bed configuration"
    )]
    #[case("Deluxe Room, 2 Queen Beds", "Deluxe Queen Queen", true, "same")]
    #[case("Superior Twin", "Superior Room, 2 Single Beds", true, "same")]
    #[case("Deluxe King", "Deluxe Double", false, "bed configuration")]
    #[case("Deluxe Room", "Deluxe King Room", false, "stated only")]
    // views
    #[case(
        "Superior Double Sea View",
        "Superior Double Side Sea View",
        false,
        "view differs"
    )]
    #[case(
        "Superior Double Room, Partial Sea View",
        "Superior Double Side Sea View",
        true,
        "same"
    )]
    #[case("Superior Double Sea View", "Superior Double", false, "view differs")]
    #[case("Superior Double Ocean View", "Superior Double Sea View", true, "same")]
    // non-English names
    #[case(
        "Habitación Doble Superior vista mar",
        "Chambre Double Supérieure Vue Mer",
        true,
        "same"
    )]
    #[case(
        "Doppelzimmer Superior Meerblick",
        "Camera Matrimoniale Superior Vista Mare",
        true,
        "same"
    )]
    #[case(
        "Quarto Duplo Superior Vista Mar",
        "Superior Room, 1 Double Bed, Sea View",
        true,
        "same"
    )]
    #[case(
        "Habitación Doble Superior vista mar",
        "Habitación Doble Superior vista lateral al mar",
        false,
        "view differs"
    )]
    #[case("Zweibettzimmer Superior", "Doppelzimmer Superior", false, "bed")]
    // missing attributes
    #[case("Double Room", "Standard Double Room", true, "same")]
    #[case("Room", "Room", false, "too little")]
    #[case("Junior Suite", "Junior Suite", true, "same")]
    #[case("Junior Suite", "Suite", false, "class")]
    // occupancy, accessibility, smoking
    #[case("Double Room Single Use", "Double Room", false, "occupancy")]
    #[case("Double Room for 2 Adults", "Double Room", true, "same")]
    #[case("Accessible Double Room", "Double Room", false, "accessible")]
    #[case("Double Room Non-Smoking", "Double Room", true, "same")]
    #[case("Smoking Double Room", "Double Room", false, "smoking")]
    // offer words, marketing
    #[case(
        "Cozy Double Room - Room Only",
        "Double Room (Breakfast)",
        true,
        "same"
    )]
    // supplier codes
    #[case(
        "hotelbeds|DOUBLE STANDARD|DBL.ST",
        "hotelbeds|DOUBLE STANDARD|DBL.ST-1",
        false,
        "distinct room codes"
    )]
    #[case(
        "expedia-rapid|Room, 1 King Bed|5300",
        "expedia-rapid|Room, 1 King Bed - Non-refundable|5300",
        true,
        "same supplier room code"
    )]
    #[case(
        "derbysoft|Deluxe Twin Sea View|SUP-DBL-SV",
        "Deluxe Twin Sea View",
        false,
        "disagree"
    )]
    fn rooms_compare(#[case] a: &str, #[case] b: &str, #[case] same: bool, #[case] reason: &str) {
        let c = compare(&room(a), &room(b));
        assert_eq!(c.same, same, "{c}");
        assert!(c.reason.contains(reason), "{c}");
        let back = compare(&room(b), &room(a));
        assert_eq!(back.same, same, "comparison is symmetric: {back}");
    }

    #[test]
    fn the_json_shape_has_same_reason_and_both_attribute_sets() {
        let c = compare(
            &RoomInput::new(
                Some("hotelbeds"),
                "DOUBLE SUPERIOR SEA VIEW",
                Some("DBL.SU"),
            ),
            &RoomInput::new(
                Some("derbysoft"),
                "Superior Double Sea View",
                Some("SUP-DBL-SV"),
            ),
        );
        let v = serde_json::to_value(&c).expect("serializes");
        assert_eq!(v["same"], serde_json::json!(true));
        assert!(v["reason"].is_string());
        assert_eq!(v["a"]["bed"], "double");
        assert_eq!(v["b"]["views"][0], "sea");
        assert_eq!(v["a"]["class"], "superior");
        assert_eq!(v["a"]["input"]["code"], "DBL.SU");
    }

    #[test]
    fn the_display_names_both_rooms_and_the_verdict() {
        let c = compare(&room("Double or Twin Room"), &room("Twin Room"));
        let text = c.to_string();
        assert!(text.contains("A \"Double or Twin Room\""), "{text}");
        assert!(text.contains("double-or-twin"), "{text}");
        assert!(
            text.ends_with(&format!("=> DIFFERENT: {}", c.reason)),
            "{text}"
        );
    }
}
