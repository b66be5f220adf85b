//! Room normalization: a supplier room name (and code) in, [`RoomAttributes`] out.
//!
//! The name is lower-cased, accents folded and split into tokens; German and English compounds
//! are split ("Doppelzimmer" → "doppel zimmer", "Meerblick" → "meer blick", "Oceanfront" →
//! "ocean front"). Each token run is then looked up in the [`super::lexicon`], longest phrase
//! first, with a singular and small-typo fallback. A few rules assemble the tags:
//!
//! - beds: an explicit bed phrase ("1 King Bed", "2 camas individuales", "lits jumeaux") beats
//!   room-type words ("Double Room"); "or" between beds makes a flexible room ("Double or Twin");
//!   without "or", a king, queen or twin word makes a "double" word mean the room, not the bed
//!   ("Double Room King", "Quarto Duplo Twin").
//! - views: a view target ("sea", "mar", "Meer") counts only with a view noun ("view", "vista",
//!   "Blick") or a view modifier ("front", "side") next to it; "Side Sea View" and "Partial Ocean
//!   View" are partial views, "Oceanfront" a front view. A target or a view noun alone ("Garden
//!   Suite", "Room with View") stays an unrecognized word, so it still keeps rooms apart; "No
//!   View", "sin vistas" state no view.
//! - occupancy: a number with "adults"/"persons"/"pax", room-type words ("Triple"), "single use".
//! - marketing ("Cozy") and offer words ("Room Only", "Non-Refundable") are ignored.
//!
//! The supplier's room code, read with its [`super::codes`] table, fills what the name leaves
//! out; where code and name disagree, the disagreement is recorded and matching refuses the room.

use super::attributes::{
    main_class, BedGroup, BedSize, Bedding, Feature, RoomAttributes, RoomClass, RoomInput, View,
    ViewModifier,
};
use super::codes::{self, CodeHints};
use super::lexicon::{self, SizeUnit, Tag, COMPOUND_SUFFIXES, MAX_PHRASE};

/// Parses one supplier room into its attributes.
pub fn normalize(input: &RoomInput) -> RoomAttributes {
    let items = tag(&tokens(&input.name));
    let mut attrs = extract(items, input);
    if let (Some(supplier), Some(code)) = (&input.supplier, &input.code) {
        if let Some(hints) = codes::parse(supplier, code) {
            apply_code(&mut attrs, &hints, code);
        }
    }
    attrs.compute_key();
    attrs
}

fn fold_char(c: char, out: &mut String) {
    let s = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'č' | 'ć' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'ñ' | 'ń' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
        'œ' => "oe",
        'ù' | 'ú' | 'û' | 'ü' | 'ů' => "u",
        'ý' | 'ÿ' => "y",
        'ß' => "ss",
        'š' => "s",
        'ž' => "z",
        'ł' => "l",
        '²' => "2",
        _ => {
            out.push(c);
            return;
        }
    };
    out.push_str(s);
}

/// Lower-cased, accent-folded tokens of a room name, compounds split. "&" and "+" become "and",
/// "/" becomes "or"; a number glued to a word is split from it ("25m2" → "25 m2").
pub(crate) fn tokens(text: &str) -> Vec<String> {
    let mut folded = String::with_capacity(text.len());
    for c in text.to_lowercase().chars() {
        fold_char(c, &mut folded);
    }
    let folded = folded.replace("w/", " with ");
    let mut raw: Vec<String> = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, raw: &mut Vec<String>| {
        if !cur.is_empty() {
            raw.push(std::mem::take(cur));
        }
    };
    for c in folded.chars() {
        match c {
            '&' | '+' => {
                flush(&mut cur, &mut raw);
                raw.push("and".to_string());
            }
            '/' | '|' => {
                flush(&mut cur, &mut raw);
                raw.push("or".to_string());
            }
            c if c.is_alphanumeric() => {
                if c.is_alphabetic() && cur.chars().last().is_some_and(|p| p.is_ascii_digit()) {
                    flush(&mut cur, &mut raw);
                }
                cur.push(c);
            }
            _ => flush(&mut cur, &mut raw),
        }
    }
    flush(&mut cur, &mut raw);
    raw.into_iter().flat_map(split_compound).collect()
}

/// Splits "doppelzimmer", "meeresblick", "seaview" into known words; leaves the token alone
/// unless every part is a vocabulary word.
fn split_compound(token: String) -> Vec<String> {
    if lexicon::lookup(&token).is_some() {
        return vec![token];
    }
    for suffix in COMPOUND_SUFFIXES {
        let Some(prefix) = token.strip_suffix(suffix) else {
            continue;
        };
        // German linking letters: "Meer-es-blick", "Familie-n-zimmer".
        let candidates = [
            Some(prefix),
            prefix.strip_suffix("es"),
            prefix.strip_suffix('s'),
            prefix.strip_suffix('n'),
        ];
        for p in candidates.into_iter().flatten() {
            if p.len() < 2 {
                continue;
            }
            let mut left = split_compound(p.to_string());
            if left.iter().all(|w| lexicon::lookup(w).is_some()) {
                left.push((*suffix).to_string());
                return left;
            }
        }
    }
    vec![token]
}

/// One tagged phrase of a name.
#[derive(Debug, Clone)]
struct Item {
    /// `None` for an unknown word.
    tag: Option<Tag>,
    text: String,
    consumed: bool,
}

fn tag(tokens: &[String]) -> Vec<Item> {
    let mut items = Vec::new();
    let mut i = 0;
    'outer: while i < tokens.len() {
        for len in (1..=MAX_PHRASE.min(tokens.len() - i)).rev() {
            let phrase = tokens[i..i + len].join(" ");
            if let Some(t) = lexicon::lookup(&phrase) {
                items.push(Item {
                    tag: Some(t),
                    text: phrase,
                    consumed: false,
                });
                i += len;
                continue 'outer;
            }
        }
        let token = &tokens[i];
        let (tag, text) = if token.chars().all(|c| c.is_ascii_digit()) {
            (
                Some(Tag::Number(token.parse::<u16>().unwrap_or(u16::MAX))),
                token.clone(),
            )
        } else if let Some((word, t)) = lexicon::lookup_fuzzy(token) {
            (Some(t), word.to_string())
        } else {
            (None, token.clone())
        };
        items.push(Item {
            tag,
            text,
            consumed: false,
        });
        i += 1;
    }
    items
}

/// A bed event in name order.
#[derive(Debug, Clone, Copy)]
enum Bed {
    /// An explicit bed phrase.
    Strong(BedGroup),
    /// A room-type word.
    Weak(BedGroup),
    Or,
}

/// Index of the next item after `i` that is not a link word.
fn next(items: &[Item], i: usize) -> Option<usize> {
    (i + 1..items.len()).find(|&j| items[j].tag != Some(Tag::Link))
}

fn tag_at(items: &[Item], j: Option<usize>) -> Option<(usize, Tag)> {
    let j = j?;
    items.get(j).and_then(|it| it.tag.map(|t| (j, t)))
}

/// Marks view phrases: runs of view words, links and conjunctions that hold a target and a view
/// noun or modifier. Returns the views found.
fn views(items: &mut [Item]) -> Vec<View> {
    let in_run = |t: Option<Tag>| {
        matches!(
            t,
            Some(
                Tag::ViewTarget(_)
                    | Tag::ViewNoun
                    | Tag::ViewMod(_)
                    | Tag::Link
                    | Tag::And
                    | Tag::Or
            )
        )
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < items.len() {
        if !in_run(items[i].tag) {
            i += 1;
            continue;
        }
        let start = i;
        while i < items.len() && in_run(items[i].tag) {
            i += 1;
        }
        let run = start..i;
        let mut targets = Vec::new();
        let mut noun = false;
        let mut modifier = ViewModifier::Full;
        let mut has_mod = false;
        for it in &items[run.clone()] {
            match it.tag {
                Some(Tag::ViewTarget(k)) => targets.push(k),
                Some(Tag::ViewNoun) => noun = true,
                Some(Tag::ViewMod(m)) => {
                    has_mod = true;
                    if m == ViewModifier::Front || modifier == ViewModifier::Full {
                        modifier = m;
                    }
                }
                _ => {}
            }
        }
        let complete = !targets.is_empty() && (noun || has_mod);
        if complete {
            for it in &mut items[run] {
                if matches!(
                    it.tag,
                    Some(Tag::ViewNoun | Tag::ViewMod(_) | Tag::ViewTarget(_))
                ) {
                    it.consumed = true;
                }
            }
        }
        if complete {
            out.extend(targets.into_iter().map(|kind| View { kind, modifier }));
        }
    }
    out
}

fn extract(mut items: Vec<Item>, input: &RoomInput) -> RoomAttributes {
    let mut view_list = views(&mut items);
    let mut classes: Vec<RoomClass> = Vec::new();
    let mut beds: Vec<Bed> = Vec::new();
    let mut sofa_bed = false;
    let mut features: Vec<Feature> = Vec::new();
    let mut accessible = false;
    let mut smoking: Option<bool> = None;
    let mut occ_counted: Option<u16> = None;
    let mut occ_word: Option<u8> = None;
    let mut size: Option<f64> = None;
    let mut other: Vec<String> = Vec::new();
    let mut ignored: Vec<String> = Vec::new();

    let mut i = 0;
    while i < items.len() {
        if items[i].consumed {
            i += 1;
            continue;
        }
        let Some(t) = items[i].tag else {
            other.push(items[i].text.clone());
            i += 1;
            continue;
        };
        let mut skip_to = i + 1;
        match t {
            Tag::Number(n) => {
                let count = u8::try_from(n).unwrap_or(u8::MAX);
                match tag_at(&items, next(&items, i)) {
                    Some((j, Tag::Bed(g))) => {
                        skip_to = j + 1;
                        if let Some((k, Tag::BedNoun { .. })) = tag_at(&items, next(&items, j)) {
                            skip_to = k + 1;
                        }
                        beds.push(Bed::Strong(BedGroup {
                            count,
                            size: g.size,
                        }));
                    }
                    Some((j, Tag::BedNoun { european, .. })) => {
                        skip_to = j + 1;
                        let size = match tag_at(&items, next(&items, j)) {
                            Some((k, Tag::Bed(g))) => {
                                skip_to = k + 1;
                                g.size
                            }
                            _ if european && count >= 2 => BedSize::Single,
                            _ => BedSize::Any,
                        };
                        beds.push(Bed::Strong(BedGroup { count, size }));
                    }
                    Some((j, Tag::Sofa)) => {
                        skip_to = j + 1;
                        sofa_bed = true;
                    }
                    Some((j, Tag::OccNoun)) => {
                        skip_to = j + 1;
                        occ_counted = Some(occ_counted.unwrap_or(0).saturating_add(n));
                    }
                    Some((j, Tag::SizeUnit(unit))) => {
                        skip_to = j + 1;
                        size = Some(match unit {
                            SizeUnit::SqM => f64::from(n),
                            SizeUnit::SqFt => f64::from(n) * 0.092_903,
                        });
                    }
                    Some((j, Tag::BedroomNoun | Tag::RoomNoun)) if (1..=9).contains(&n) => {
                        skip_to = j + 1;
                        features.push(Feature::Bedrooms(count));
                    }
                    _ => {}
                }
            }
            Tag::Bed(g) => match tag_at(&items, next(&items, i)) {
                Some((j, Tag::BedNoun { plural, .. })) => {
                    skip_to = j + 1;
                    let count = if plural && g.count == 1 { 2 } else { g.count };
                    beds.push(Bed::Strong(BedGroup {
                        count,
                        size: g.size,
                    }));
                }
                _ => beds.push(Bed::Weak(g)),
            },
            Tag::BedNoun { plural, .. } => {
                if let Some((j, Tag::Bed(g))) = tag_at(&items, next(&items, i)) {
                    skip_to = j + 1;
                    let count = if plural { g.count.max(2) } else { g.count };
                    beds.push(Bed::Strong(BedGroup {
                        count,
                        size: g.size,
                    }));
                }
            }
            Tag::BedPair(size) => beds.push(Bed::Strong(BedGroup { count: 2, size })),
            Tag::Beds(g) => beds.push(Bed::Strong(g)),
            Tag::Or => beds.push(Bed::Or),
            Tag::Sofa => sofa_bed = true,
            Tag::Class(c) => classes.push(c),
            Tag::ViewFull(v) => view_list.push(v),
            Tag::Feature(f) => features.push(f),
            Tag::Accessible => accessible = true,
            Tag::Smoking(s) => smoking = Some(s),
            Tag::Occupancy(n) => occ_word = Some(n),
            Tag::Negation => {
                if let Some((j, tag)) = tag_at(&items, next(&items, i)) {
                    match tag {
                        Tag::Smoking(true) => {
                            smoking = Some(false);
                            skip_to = j + 1;
                        }
                        Tag::ViewNoun => skip_to = j + 1,
                        _ => {}
                    }
                }
            }
            Tag::Marketing | Tag::Offer => ignored.push(items[i].text.clone()),
            // View words outside a complete view phrase: "Garden Suite", "Room with View",
            // "Back Side". Kept as words, so they still tell rooms apart.
            Tag::ViewTarget(_) | Tag::ViewNoun | Tag::ViewMod(_) => {
                other.push(items[i].text.clone())
            }
            Tag::Stop
            | Tag::RoomNoun
            | Tag::Link
            | Tag::BedroomNoun
            | Tag::OccNoun
            | Tag::SizeUnit(_)
            | Tag::And => {}
        }
        i = skip_to;
    }

    let (bed, single_word) = resolve_beds(&beds);
    let occupancy = match occ_counted {
        Some(n) => Some(u8::try_from(n).unwrap_or(u8::MAX)),
        None => occ_word.or(if single_word { Some(1) } else { None }),
    };
    let (class, class_qualifiers, class_stated) = match main_class(&classes) {
        Some((main, rest)) => (main, rest, true),
        None => (RoomClass::Standard, Vec::new(), false),
    };
    view_list.sort();
    view_list.dedup();
    features.sort();
    features.dedup();
    other.sort();
    other.dedup();
    let mut ignored_words = Vec::new();
    for w in ignored {
        if !ignored_words.contains(&w) {
            ignored_words.push(w);
        }
    }
    RoomAttributes {
        input: input.clone(),
        class,
        class_stated,
        class_qualifiers,
        bed,
        sofa_bed,
        views: view_list,
        occupancy,
        accessible,
        smoking,
        size_m2: size.map(|s| s.round().clamp(0.0, f64::from(u16::MAX)) as u16),
        features,
        other_words: other,
        ignored_words,
        conflicts: Vec::new(),
        key: String::new(),
    }
}

/// Bedding from bed events, and whether a "single" room word stood beside explicit beds
/// ("Single Room, 1 Double Bed": a double bed sold for one).
fn resolve_beds(events: &[Bed]) -> (Option<Bedding>, bool) {
    let has_strong = events.iter().any(|e| matches!(e, Bed::Strong(_)));
    if has_strong {
        let mut options: Vec<Vec<BedGroup>> = Vec::new();
        let mut cur: Vec<BedGroup> = Vec::new();
        let mut saw_or = false;
        let mut single_word = false;
        for e in events {
            match e {
                Bed::Strong(g) => {
                    if saw_or && !cur.is_empty() {
                        options.push(std::mem::take(&mut cur));
                    }
                    saw_or = false;
                    cur.push(*g);
                }
                Bed::Or => saw_or = true,
                Bed::Weak(g) => {
                    if g.size == BedSize::Single && g.count == 1 {
                        single_word = true;
                    }
                }
            }
        }
        options.push(cur);
        return (Bedding::new(options), single_word);
    }
    let weak: Vec<BedGroup> = events
        .iter()
        .filter_map(|e| match e {
            Bed::Weak(g) => Some(*g),
            _ => None,
        })
        .collect();
    // Without "or", a "double" word beside a more specific bed word names the room, not the
    // bed: "Double Room King", "Quarto Duplo Twin", "Camera Doppia Twin".
    let any_or = events.iter().any(|e| matches!(e, Bed::Or));
    let specific = weak
        .iter()
        .any(|g| matches!(g.size, BedSize::King | BedSize::Queen) || g.count == 2);
    let mut options: Vec<Vec<BedGroup>> = Vec::new();
    for g in weak {
        if specific && !any_or && g.size == BedSize::Double && g.count == 1 {
            continue;
        }
        options.push(vec![g]);
    }
    (Bedding::new(options), false)
}

fn describe_class(class: RoomClass, qualifiers: &[RoomClass]) -> String {
    let mut words: Vec<&str> = qualifiers.iter().map(|c| c.slug()).collect();
    words.push(class.slug());
    words.join(" ")
}

/// True when a name's beds fit a code's: equal, or a double-room code with one queen or king bed.
fn bed_fits(name: &Bedding, code: &Bedding, code_is_room_type: bool) -> bool {
    if name == code {
        return true;
    }
    code_is_room_type
        && *code == Bedding::fixed(1, BedSize::Double)
        && matches!(
            name.options.as_slice(),
            [only] if matches!(only.as_slice(), [BedGroup { count: 1, size: BedSize::Queen | BedSize::King }])
        )
}

fn apply_code(attrs: &mut RoomAttributes, hints: &CodeHints, code: &str) {
    if let Some((main, rest)) = main_class(&hints.classes) {
        if attrs.class_stated {
            let fits = main == attrs.class
                && rest
                    .iter()
                    .all(|q| attrs.class_qualifiers.contains(q) || *q == RoomClass::Standard);
            if !fits {
                attrs.conflicts.push(format!(
                    "code {code} says class {}, the name says {}",
                    describe_class(main, &rest),
                    describe_class(attrs.class, &attrs.class_qualifiers)
                ));
            }
        } else {
            attrs.class = main;
            attrs.class_qualifiers = rest;
            attrs.class_stated = true;
        }
    }
    if !hints.class_any_of.is_empty()
        && attrs.class_stated
        && !hints.class_any_of.contains(&attrs.class)
    {
        attrs.conflicts.push(format!(
            "code {code} says class is one of {}, the name says {}",
            hints
                .class_any_of
                .iter()
                .map(|c| c.slug())
                .collect::<Vec<_>>()
                .join("/"),
            attrs.class.slug()
        ));
    }
    match (&attrs.bed, &hints.bed) {
        (None, Some(b)) => attrs.bed = Some(b.clone()),
        (Some(n), Some(c)) if !bed_fits(n, c, hints.bed_is_room_type) => {
            attrs.conflicts.push(format!(
                "code {code} says bed {}, the name says {}",
                c.slug(),
                n.slug()
            ));
        }
        _ => {}
    }
    if let Some(v) = &hints.views {
        if attrs.views.is_empty() {
            attrs.views = v.clone();
        } else if attrs.views != *v {
            let code_says = if v.is_empty() {
                "no view".to_string()
            } else {
                v.iter().map(View::slug).collect::<Vec<_>>().join("+")
            };
            attrs.conflicts.push(format!(
                "code {code} says view {code_says}, the name says {}",
                attrs
                    .views
                    .iter()
                    .map(View::slug)
                    .collect::<Vec<_>>()
                    .join("+")
            ));
        }
    }
    if let Some(o) = hints.occupancy {
        match attrs.occupancy {
            None => attrs.occupancy = Some(o),
            Some(x) if x != o => attrs
                .conflicts
                .push(format!("code {code} says occupancy {o}, the name says {x}")),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn key(name: &str) -> String {
        normalize(&RoomInput::new(None, name, None)).key
    }

    #[rstest]
    #[case("Doppelzimmer", &["doppel", "zimmer"])]
    #[case("Meeresblick", &["meer", "blick"])]
    #[case("Zweibettzimmer", &["zweibett", "zimmer"])]
    #[case("Oceanfront", &["ocean", "front"])]
    #[case("Habitación Doble", &["habitacion", "doble"])]
    #[case("DBL/TWN", &["dbl", "or", "twn"])]
    #[case("25m²", &["25", "m2"])]
    #[case("Towerview", &["towerview"])]
    fn tokens_fold_and_split(#[case] name: &str, #[case] want: &[&str]) {
        assert_eq!(tokens(name), want);
    }

    #[rstest]
    // the five simulated suppliers' styles
    #[case("DOUBLE SUPERIOR SEA VIEW", "superior-double-sea")]
    #[case("Superior Room, 1 Double Bed, Sea View", "superior-double-sea")]
    #[case("Superior Double Room - Sea View", "superior-double-sea")]
    #[case("Superior Double Sea View", "superior-double-sea")]
    #[case("Superior Double Room Sea View", "superior-double-sea")]
    #[case("Standard Room, 2 Twin Beds", "standard-twin")]
    #[case("Junior Suite, 1 Queen Bed, Garden View", "junior-suite-queen-garden")]
    // languages
    #[case("Habitación Doble Superior vista mar", "superior-double-sea")]
    #[case("Chambre Double Supérieure Vue Mer", "superior-double-sea")]
    #[case("Doppelzimmer Superior Meerblick", "superior-double-sea")]
    #[case("Camera Matrimoniale Superior Vista Mare", "superior-double-sea")]
    #[case("Quarto Duplo Superior Vista Mar", "superior-double-sea")]
    #[case("Chambre avec lits jumeaux", "standard-twin")]
    #[case("Habitación con dos camas individuales", "standard-twin")]
    #[case("Zweibettzimmer mit seitlichem Meerblick", "standard-twin-partial-sea")]
    // abbreviations and word orders
    #[case("SUP DBL SV", "superior-double-sea")]
    #[case("DLX KNG OV", "deluxe-king-sea")]
    #[case("JR STE KING CV", "junior-suite-king-city")]
    #[case("Sea View Double Superior", "superior-double-sea")]
    // marketing and offer words
    #[case("Cozy Double Room", "standard-double")]
    #[case("Deluxe King Premium Experience", "deluxe-king")]
    #[case(
        "Superior Double Room - Breakfast Included, Non-Refundable",
        "superior-double"
    )]
    // beds
    #[case("Double or Twin Room", "standard-double-or-twin")]
    #[case("Twin/Double Superior", "superior-double-or-twin")]
    #[case("Deluxe Room, 2 Queen Beds", "deluxe-2-queens")]
    #[case("Queen Room", "standard-queen")]
    #[case("Double Room with King Bed", "standard-king")]
    #[case("Deluxe Room, 1 King Bed and 1 Sofa Bed", "deluxe-king-sofa-bed")]
    #[case("Room, 1 King Bed or 2 Queen Beds", "standard-2-queens-or-king")]
    // views
    #[case("Superior Double Side Sea View", "superior-double-partial-sea")]
    #[case("Deluxe King Oceanfront", "deluxe-king-sea-front")]
    #[case("Garden Suite", "suite-garden")]
    // occupancy, accessibility, smoking, size
    #[case("Double Room Single Use", "standard-double-for-1")]
    #[case("Triple Room", "standard-for-3")]
    #[case("Accessible King Room, Non-Smoking", "standard-king-accessible")]
    #[case("Smoking Double", "standard-double-smoking")]
    #[case("Two-Bedroom Apartment", "apartment-2-bedrooms")]
    #[case("Superiour Dobule Room", "superior-double")]
    fn names_normalize_to_keys(#[case] name: &str, #[case] want: &str) {
        assert_eq!(key(name), want, "{name}");
    }

    #[test]
    fn size_is_read_in_square_metres_or_feet() {
        let a = normalize(&RoomInput::new(None, "Deluxe Double Room 32 m²", None));
        assert_eq!(a.size_m2, Some(32));
        let b = normalize(&RoomInput::new(None, "Deluxe King, 400 sq ft", None));
        assert_eq!(b.size_m2, Some(37));
    }

    #[test]
    fn a_missing_class_is_implied_standard_and_says_so() {
        let a = normalize(&RoomInput::new(None, "Double Room", None));
        assert_eq!(a.class, RoomClass::Standard);
        assert!(!a.class_stated);
    }

    #[test]
    fn the_code_fills_what_the_name_leaves_out() {
        let a = normalize(&RoomInput::new(Some("hotelbeds"), "ROOM", Some("TWN.SU")));
        assert_eq!(a.key, "superior-twin");
        assert!(a.class_stated);
        assert!(a.conflicts.is_empty());
    }

    #[test]
    fn code_and_name_disagreeing_is_a_conflict() {
        let a = normalize(&RoomInput::new(
            Some("derbysoft"),
            "Deluxe Twin Sea View",
            Some("SUP-DBL-SV"),
        ));
        assert_eq!(a.conflicts.len(), 2, "{:?}", a.conflicts);
    }

    #[test]
    fn a_double_room_code_accepts_a_king_bed_name() {
        let a = normalize(&RoomInput::new(
            Some("hotelbeds"),
            "Double Room, 1 King Bed",
            Some("DBL.ST"),
        ));
        assert!(a.conflicts.is_empty(), "{:?}", a.conflicts);
        assert_eq!(a.key, "standard-king");
    }
}
