//! The structured description of one supplier room that normalization produces and matching
//! compares: room class, bed configuration, view, occupancy, accessibility, smoking, size and
//! the features that make a room type a different product (balcony, kitchenette, bedrooms, ...).
//! Every value has a stable slug (`superior`, `double-or-twin`, `partial-sea`) used in JSON and
//! in `room_key`s, and a human label used in display names.

use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// One room as a supplier named it: what [`super::compare`] and [`super::group_rooms`] take.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RoomInput {
    /// The supplier's protocol code (`hotelbeds`, `expedia-rapid`, `ota-soap`, `derbysoft`,
    /// `dida`); selects the supplier's room-code table and enables the "one supplier, two codes"
    /// rule. `None` when unknown.
    pub supplier: Option<String>,
    /// The supplier's room name, in whatever language and style the supplier uses.
    pub name: String,
    /// The supplier's own room code, if it sent one.
    pub code: Option<String>,
}

impl RoomInput {
    /// A room input from its three parts.
    pub fn new(supplier: Option<&str>, name: &str, code: Option<&str>) -> RoomInput {
        RoomInput {
            supplier: supplier.map(str::to_string),
            name: name.to_string(),
            code: code.map(str::to_string),
        }
    }
}

/// Room class: the tier of an ordinary room (standard, superior, ...) or the kind of unit
/// (suite, studio, apartment, ...). Kinds outrank tiers when a name carries both
/// ("Deluxe Junior Suite" is a junior suite qualified by deluxe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomClass {
    Economy,
    Standard,
    Classic,
    Comfort,
    Superior,
    Deluxe,
    Luxury,
    Premium,
    Prestige,
    Privilege,
    Executive,
    Club,
    Grand,
    Royal,
    Presidential,
    Honeymoon,
    Dormitory,
    Family,
    Studio,
    Loft,
    JuniorSuite,
    Suite,
    Apartment,
    Cabin,
    Cottage,
    Chalet,
    Bungalow,
    Villa,
    Penthouse,
    /// A room assigned at check-in; never the same as a named room type.
    RunOfHouse,
}

impl RoomClass {
    /// 0 for tiers; higher for kinds of unit, the highest-ranked class of a name is its main class.
    pub fn rank(self) -> u8 {
        use RoomClass::*;
        match self {
            Dormitory => 1,
            Family => 2,
            Studio | Loft => 3,
            JuniorSuite => 4,
            Suite => 5,
            Apartment | Cabin | Cottage | Chalet | Bungalow => 6,
            Villa => 7,
            Penthouse => 8,
            RunOfHouse => 9,
            _ => 0,
        }
    }

    /// Stable slug, e.g. `junior-suite`.
    pub fn slug(self) -> &'static str {
        use RoomClass::*;
        match self {
            Economy => "economy",
            Standard => "standard",
            Classic => "classic",
            Comfort => "comfort",
            Superior => "superior",
            Deluxe => "deluxe",
            Luxury => "luxury",
            Premium => "premium",
            Prestige => "prestige",
            Privilege => "privilege",
            Executive => "executive",
            Club => "club",
            Grand => "grand",
            Royal => "royal",
            Presidential => "presidential",
            Honeymoon => "honeymoon",
            Dormitory => "dormitory",
            Family => "family",
            Studio => "studio",
            Loft => "loft",
            JuniorSuite => "junior-suite",
            Suite => "suite",
            Apartment => "apartment",
            Cabin => "cabin",
            Cottage => "cottage",
            Chalet => "chalet",
            Bungalow => "bungalow",
            Villa => "villa",
            Penthouse => "penthouse",
            RunOfHouse => "run-of-house",
        }
    }

    /// Human label, e.g. `Junior Suite`.
    pub fn label(self) -> &'static str {
        use RoomClass::*;
        match self {
            JuniorSuite => "Junior Suite",
            RunOfHouse => "Run of House",
            Economy => "Economy",
            Standard => "Standard",
            Classic => "Classic",
            Comfort => "Comfort",
            Superior => "Superior",
            Deluxe => "Deluxe",
            Luxury => "Luxury",
            Premium => "Premium",
            Prestige => "Prestige",
            Privilege => "Privilege",
            Executive => "Executive",
            Club => "Club",
            Grand => "Grand",
            Royal => "Royal",
            Presidential => "Presidential",
            Honeymoon => "Honeymoon",
            Dormitory => "Dormitory",
            Family => "Family",
            Studio => "Studio",
            Loft => "Loft",
            Suite => "Suite",
            Apartment => "Apartment",
            Cabin => "Cabin",
            Cottage => "Cottage",
            Chalet => "Chalet",
            Bungalow => "Bungalow",
            Villa => "Villa",
            Penthouse => "Penthouse",
        }
    }
}

/// Splits a set of class words into the main class and its qualifiers (sorted, deduplicated).
/// `Standard` is dropped as a qualifier of a kind of unit ("Standard Studio" is a studio).
pub(crate) fn main_class(classes: &[RoomClass]) -> Option<(RoomClass, Vec<RoomClass>)> {
    let main = classes.iter().copied().max_by_key(|c| (c.rank(), *c))?;
    let mut rest: Vec<RoomClass> = classes
        .iter()
        .copied()
        .filter(|c| *c != main && !(main.rank() > 0 && *c == RoomClass::Standard))
        .collect();
    rest.sort();
    rest.dedup();
    Some((main, rest))
}

/// Size of one bed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BedSize {
    Single,
    Double,
    Queen,
    King,
    Bunk,
    /// A bed whose size the name does not give ("2 beds").
    Any,
}

impl BedSize {
    fn word(self) -> &'static str {
        match self {
            BedSize::Single => "single",
            BedSize::Double => "double",
            BedSize::Queen => "queen",
            BedSize::King => "king",
            BedSize::Bunk => "bunk",
            BedSize::Any => "bed",
        }
    }

    /// People one bed of this size sleeps by default.
    fn sleeps(self) -> Option<u8> {
        match self {
            BedSize::Single => Some(1),
            BedSize::Double | BedSize::Queen | BedSize::King | BedSize::Bunk => Some(2),
            BedSize::Any => None,
        }
    }
}

/// `count` beds of one size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BedGroup {
    pub count: u8,
    pub size: BedSize,
}

/// The beds of a room: one or more alternative arrangements. More than one option is a flexible
/// room ("Double or Twin": the hotel decides, or the guest asks), which is not the same product
/// as either fixed arrangement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bedding {
    /// Alternatives, each a set of bed groups; canonical order, no duplicates.
    pub options: Vec<Vec<BedGroup>>,
}

impl Bedding {
    /// A canonical bedding from raw options: equal sizes inside an option are summed, groups and
    /// options sorted and deduplicated. `None` when no option has a bed.
    pub fn new(options: Vec<Vec<BedGroup>>) -> Option<Bedding> {
        let mut out: Vec<Vec<BedGroup>> = Vec::new();
        for option in options {
            let mut groups: Vec<BedGroup> = Vec::new();
            for g in option.into_iter().filter(|g| g.count > 0) {
                match groups.iter_mut().find(|x| x.size == g.size) {
                    Some(x) => x.count = x.count.saturating_add(g.count),
                    None => groups.push(g),
                }
            }
            groups.sort();
            if !groups.is_empty() {
                out.push(groups);
            }
        }
        out.sort_by_key(|o| arrangement_slug(o));
        out.dedup();
        if out.is_empty() {
            None
        } else {
            Some(Bedding { options: out })
        }
    }

    /// One fixed arrangement of `count` beds of `size`.
    pub fn fixed(count: u8, size: BedSize) -> Bedding {
        Bedding {
            options: vec![vec![BedGroup { count, size }]],
        }
    }

    /// True when the guest gets one of several arrangements.
    pub fn is_flexible(&self) -> bool {
        self.options.len() > 1
    }

    /// Stable slug: `double`, `twin`, `2-queens`, `double-or-twin`, `double-and-single`.
    pub fn slug(&self) -> String {
        self.options
            .iter()
            .map(|o| arrangement_slug(o))
            .collect::<Vec<_>>()
            .join("-or-")
    }

    /// People the beds sleep by default (the smallest over the options); `None` if unknown.
    pub fn sleeps(&self) -> Option<u8> {
        self.options
            .iter()
            .map(|o| {
                o.iter().try_fold(0u8, |acc, g| {
                    g.size
                        .sleeps()
                        .map(|s| acc.saturating_add(s.saturating_mul(g.count)))
                })
            })
            .try_fold(u8::MAX, |acc, s| s.map(|s| acc.min(s)))
    }

    /// The one-word room label when the bedding has one ("Double", "Twin", "King").
    pub fn room_word(&self) -> Option<&'static str> {
        match self.options.as_slice() {
            [only] => match only.as_slice() {
                [BedGroup { count: 1, size }] => match size {
                    BedSize::Single => Some("Single"),
                    BedSize::Double => Some("Double"),
                    BedSize::Queen => Some("Queen"),
                    BedSize::King => Some("King"),
                    _ => None,
                },
                [BedGroup {
                    count: 2,
                    size: BedSize::Single,
                }] => Some("Twin"),
                _ => None,
            },
            [a, b] => match (a.as_slice(), b.as_slice()) {
                (
                    [BedGroup {
                        count: 1,
                        size: BedSize::Double,
                    }],
                    [BedGroup {
                        count: 2,
                        size: BedSize::Single,
                    }],
                ) => Some("Double or Twin"),
                _ => None,
            },
            _ => None,
        }
    }

    /// Human phrase: "1 King Bed", "2 Twin Beds", "1 King Bed or 2 Queen Beds".
    pub fn phrase(&self) -> String {
        self.options
            .iter()
            .map(|o| {
                o.iter()
                    .map(|g| {
                        let size = match (g.size, g.count) {
                            (BedSize::Single, 2) => "Twin",
                            (BedSize::Any, _) => "",
                            (s, _) => title_word(s.word()),
                        };
                        let noun = if g.count == 1 { "Bed" } else { "Beds" };
                        if size.is_empty() {
                            format!("{} {noun}", g.count)
                        } else {
                            format!("{} {size} {noun}", g.count)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" and ")
            })
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

fn title_word(w: &'static str) -> &'static str {
    match w {
        "single" => "Single",
        "double" => "Double",
        "queen" => "Queen",
        "king" => "King",
        "bunk" => "Bunk",
        _ => "",
    }
}

fn arrangement_slug(groups: &[BedGroup]) -> String {
    groups
        .iter()
        .map(|g| match (g.count, g.size) {
            (2, BedSize::Single) => "twin".to_string(),
            (1, s) => s.word().to_string(),
            (n, s) => format!("{n}-{}s", s.word()),
        })
        .collect::<Vec<_>>()
        .join("-and-")
}

impl fmt::Display for Bedding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.slug())
    }
}

impl Serialize for Bedding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What a view looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ViewKind {
    Sea,
    Beach,
    Lake,
    River,
    Harbour,
    City,
    Garden,
    Park,
    Pool,
    Mountain,
    Golf,
    Courtyard,
    Street,
    Panoramic,
    /// An inward-facing room ("interior" in Spanish hotels).
    Interior,
    /// An outward-facing room ("exterior").
    Exterior,
}

impl ViewKind {
    fn slug(self) -> &'static str {
        match self {
            ViewKind::Sea => "sea",
            ViewKind::Beach => "beach",
            ViewKind::Lake => "lake",
            ViewKind::River => "river",
            ViewKind::Harbour => "harbour",
            ViewKind::City => "city",
            ViewKind::Garden => "garden",
            ViewKind::Park => "park",
            ViewKind::Pool => "pool",
            ViewKind::Mountain => "mountain",
            ViewKind::Golf => "golf",
            ViewKind::Courtyard => "courtyard",
            ViewKind::Street => "street",
            ViewKind::Panoramic => "panoramic",
            ViewKind::Interior => "interior",
            ViewKind::Exterior => "exterior",
        }
    }
}

/// How much of the view the room gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ViewModifier {
    /// "Sea View".
    Full,
    /// "Side Sea View", "Partial Ocean View", "Vista lateral al mar": a different view class.
    Partial,
    /// "Oceanfront", "Frente al mar": directly on the water, a different view class.
    Front,
}

/// One view of a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct View {
    pub kind: ViewKind,
    pub modifier: ViewModifier,
}

impl View {
    /// A full view of `kind`.
    pub fn full(kind: ViewKind) -> View {
        View {
            kind,
            modifier: ViewModifier::Full,
        }
    }

    /// Stable slug: `sea`, `partial-sea`, `sea-front`.
    pub fn slug(&self) -> String {
        match self.modifier {
            ViewModifier::Full => self.kind.slug().to_string(),
            ViewModifier::Partial => format!("partial-{}", self.kind.slug()),
            ViewModifier::Front => format!("{}-front", self.kind.slug()),
        }
    }

    /// Human label: "Sea View", "Partial Sea View", "Sea Front", "Interior".
    pub fn label(&self) -> String {
        let kind = capitalize(self.kind.slug());
        match (self.kind, self.modifier) {
            (ViewKind::Interior | ViewKind::Exterior, _) => kind,
            (_, ViewModifier::Full) => format!("{kind} View"),
            (_, ViewModifier::Partial) => format!("Partial {kind} View"),
            (_, ViewModifier::Front) => format!("{kind} Front"),
        }
    }
}

impl fmt::Display for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.slug())
    }
}

impl Serialize for View {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A feature that makes a room type a different product from the same class and beds without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    Balcony,
    Terrace,
    Kitchenette,
    Jacuzzi,
    PrivatePool,
    PoolAccess,
    Connecting,
    ClubAccess,
    HighFloor,
    GroundFloor,
    Duplex,
    Annex,
    SharedBathroom,
    NoWindow,
    PetFriendly,
    ExtraBed,
    HearingAccessible,
    RollInShower,
    Fireplace,
    /// A unit with this many bedrooms ("Two-Bedroom Apartment").
    Bedrooms(u8),
}

impl Feature {
    /// Stable slug, e.g. `balcony`, `2-bedrooms`.
    pub fn slug(&self) -> String {
        let s = match self {
            Feature::Balcony => "balcony",
            Feature::Terrace => "terrace",
            Feature::Kitchenette => "kitchenette",
            Feature::Jacuzzi => "jacuzzi",
            Feature::PrivatePool => "private-pool",
            Feature::PoolAccess => "pool-access",
            Feature::Connecting => "connecting",
            Feature::ClubAccess => "club-access",
            Feature::HighFloor => "high-floor",
            Feature::GroundFloor => "ground-floor",
            Feature::Duplex => "duplex",
            Feature::Annex => "annex",
            Feature::SharedBathroom => "shared-bathroom",
            Feature::NoWindow => "no-window",
            Feature::PetFriendly => "pet-friendly",
            Feature::ExtraBed => "extra-bed",
            Feature::HearingAccessible => "hearing-accessible",
            Feature::RollInShower => "roll-in-shower",
            Feature::Fireplace => "fireplace",
            Feature::Bedrooms(1) => "1-bedroom",
            Feature::Bedrooms(n) => return format!("{n}-bedrooms"),
        };
        s.to_string()
    }

    /// Human label, e.g. `Balcony`, `2 Bedrooms`.
    pub fn label(&self) -> String {
        match self {
            Feature::Bedrooms(1) => "1 Bedroom".to_string(),
            Feature::Bedrooms(n) => format!("{n} Bedrooms"),
            other => other
                .slug()
                .split('-')
                .map(capitalize)
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.slug())
    }
}

impl Serialize for Feature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Everything normalization understood about one room name (and code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomAttributes {
    /// The input these attributes were parsed from.
    pub input: RoomInput,
    /// Main class; `Standard` when the name states none (see `class_stated`).
    pub class: RoomClass,
    /// Whether the name or code stated a class; the base room is often sold as just "Double Room".
    pub class_stated: bool,
    /// Further class words: "Deluxe Junior Suite" has class `junior_suite`, qualifier `deluxe`.
    pub class_qualifiers: Vec<RoomClass>,
    /// Bed configuration, `None` when not stated.
    pub bed: Option<Bedding>,
    /// A sofa bed in addition to the beds.
    pub sofa_bed: bool,
    /// Views, empty when none is stated (which matches "no view").
    pub views: Vec<View>,
    /// Occupancy the name states ("3 Adults", "Triple", "single use"), `None` when not stated.
    pub occupancy: Option<u8>,
    /// Adapted for guests with reduced mobility.
    pub accessible: bool,
    /// `Some(true)` smoking, `Some(false)` stated non-smoking, `None` not stated (non-smoking).
    pub smoking: Option<bool>,
    /// Size in square metres, when given.
    pub size_m2: Option<u16>,
    /// Product-defining features, sorted.
    pub features: Vec<Feature>,
    /// Words not understood; they take part in matching, as they may name a different room
    /// ("Tower", "Garden Wing").
    pub other_words: Vec<String>,
    /// Words understood and deliberately ignored: marketing ("Cozy") and offer words (board,
    /// refundability), which belong to the offer, not the room.
    pub ignored_words: Vec<String>,
    /// Disagreements between the supplier's code and name; a room with any is never merged.
    pub conflicts: Vec<String>,
    /// Stable slug of the attributes that matching compares, e.g. `superior-double-sea`.
    pub key: String,
}

impl RoomAttributes {
    /// The occupancy to compare: stated, or the default the beds imply.
    pub fn effective_occupancy(&self) -> Option<u8> {
        self.occupancy
            .or_else(|| self.bed.as_ref().and_then(Bedding::sleeps))
    }

    /// True when the occupancy is stated and differs from what the beds imply.
    pub fn occupancy_is_notable(&self) -> bool {
        match (self.occupancy, self.bed.as_ref().and_then(Bedding::sleeps)) {
            (Some(o), Some(d)) => o != d,
            (Some(_), None) => true,
            _ => false,
        }
    }

    /// Whether the name says enough to be matched at all: a class, a bed configuration or a
    /// room-type occupancy ("Triple").
    pub fn is_informative(&self) -> bool {
        self.class_stated || self.bed.is_some() || self.occupancy.is_some()
    }

    /// Recomputes [`RoomAttributes::key`] from the other fields.
    pub(crate) fn compute_key(&mut self) {
        let mut parts: Vec<String> = self
            .class_qualifiers
            .iter()
            .map(|c| c.slug().to_string())
            .collect();
        parts.push(self.class.slug().to_string());
        if let Some(b) = &self.bed {
            parts.push(b.slug());
        }
        if self.sofa_bed {
            parts.push("sofa-bed".to_string());
        }
        parts.extend(self.views.iter().map(View::slug));
        parts.extend(self.features.iter().map(Feature::slug));
        if self.occupancy_is_notable() {
            if let Some(o) = self.occupancy {
                parts.push(format!("for-{o}"));
            }
        }
        if self.accessible {
            parts.push("accessible".to_string());
        }
        if self.smoking == Some(true) {
            parts.push("smoking".to_string());
        }
        for w in &self.other_words {
            let w: String = w.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            if !w.is_empty() {
                parts.push(w);
            }
        }
        self.key = parts.join("-");
    }

    /// A clean display name, e.g. "Superior Double Room, Sea View" or "Junior Suite, 1 King Bed".
    pub fn display_name(&self) -> String {
        let mut head: Vec<&str> = self.class_qualifiers.iter().map(|c| c.label()).collect();
        head.push(self.class.label());
        let mut tail: Vec<String> = Vec::new();
        if self.class.rank() == 0 {
            match self.bed.as_ref().map(|b| (b.room_word(), b)) {
                Some((Some(word), _)) => head.push(word),
                Some((None, b)) => tail.push(b.phrase()),
                None => {}
            }
            head.push("Room");
        } else {
            if self.class == RoomClass::Family {
                head.push("Room");
            }
            if let Some(b) = &self.bed {
                tail.push(b.phrase());
            }
        }
        if self.sofa_bed {
            tail.push("Sofa Bed".to_string());
        }
        tail.extend(self.views.iter().map(View::label));
        tail.extend(self.features.iter().map(Feature::label));
        if self.occupancy_is_notable() {
            if let Some(o) = self.occupancy {
                tail.push(format!("for {o}"));
            }
        }
        if self.accessible {
            tail.push("Accessible".to_string());
        }
        if self.smoking == Some(true) {
            tail.push("Smoking".to_string());
        }
        tail.extend(self.other_words.iter().map(|w| capitalize(w)));
        let mut name = head.join(" ");
        for t in tail {
            name.push_str(", ");
            name.push_str(&t);
        }
        name
    }
}

pub(crate) fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

impl fmt::Display for RoomAttributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let none = "-".to_string();
        let class = {
            let mut c: Vec<&str> = self.class_qualifiers.iter().map(|c| c.slug()).collect();
            c.push(self.class.slug());
            let c = c.join(" ");
            if self.class_stated {
                c
            } else {
                format!("{c} (implied)")
            }
        };
        let views = if self.views.is_empty() {
            "none stated".to_string()
        } else {
            self.views
                .iter()
                .map(View::slug)
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(f, "  class      {class}")?;
        writeln!(
            f,
            "  bed        {}{}",
            self.bed.as_ref().map(Bedding::slug).unwrap_or(none.clone()),
            if self.sofa_bed { " + sofa bed" } else { "" }
        )?;
        writeln!(f, "  view       {views}")?;
        writeln!(
            f,
            "  occupancy  {}",
            self.occupancy
                .map(|o| o.to_string())
                .unwrap_or(none.clone())
        )?;
        writeln!(
            f,
            "  accessible {}",
            if self.accessible { "yes" } else { "no" }
        )?;
        writeln!(
            f,
            "  smoking    {}",
            match self.smoking {
                Some(true) => "yes",
                Some(false) => "no",
                None => "not stated",
            }
        )?;
        if let Some(s) = self.size_m2 {
            writeln!(f, "  size       {s} m²")?;
        }
        if !self.features.is_empty() {
            let list: Vec<String> = self.features.iter().map(Feature::slug).collect();
            writeln!(f, "  features   {}", list.join(", "))?;
        }
        if !self.other_words.is_empty() {
            writeln!(f, "  other      {}", self.other_words.join(" "))?;
        }
        if !self.ignored_words.is_empty() {
            writeln!(f, "  ignored    {}", self.ignored_words.join(", "))?;
        }
        for c in &self.conflicts {
            writeln!(f, "  conflict   {c}")?;
        }
        write!(f, "  key        {}", self.key)
    }
}
