//! The vocabulary room names are read with: English, Spanish, French, German, Italian and
//! Portuguese words and the usual supplier abbreviations (DBL, TWN, KNG, SUP, DLX, STD, JR STE,
//! SV, CV, OV, ...), each phrase mapped to what it says about a room. Phrases are written as
//! [`super::normalize::tokens`] produces them: lower case, accents folded, one space between
//! tokens. Longer phrases win over their parts ("bed and breakfast" is an offer word, not a bed).
//! Unknown single words of five letters or more are matched to a vocabulary word within a small
//! edit distance ("Superiour", "Delux", "Jardines"), only when exactly one word is that close.

use super::attributes::{BedGroup, BedSize, Feature, RoomClass, View, ViewKind, ViewModifier};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Square metres or square feet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SizeUnit {
    SqM,
    SqFt,
}

/// What one phrase says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tag {
    /// Structure words with no meaning for the room ("with", "type", "wifi").
    Stop,
    /// "room", "chambre", "Zimmer": no meaning alone; after a number it counts bedrooms.
    RoomNoun,
    /// Articles and prepositions that may sit inside a view or bed phrase ("vista al mar").
    Link,
    /// Marketing words, ignored ("Cozy", "Premium Experience"). Words that often name separate
    /// inventory ("Renovated", "New Wing") are deliberately not here.
    Marketing,
    /// Board and rate words, which belong to the offer ("Room Only", "Non-Refundable").
    Offer,
    Class(RoomClass),
    /// A bed size word, alone a room-type word ("Double Room", "Twin"); with a bed noun a bed.
    Bed(BedGroup),
    /// Two beds of one size said in one word pair ("Queen Queen", "QQ").
    BedPair(BedSize),
    /// A complete bed phrase ("grand lit", "full size bed").
    Beds(BedGroup),
    /// "bed", "cama", "lit", "Bett", "letto". European nouns: "two beds" means two single beds.
    BedNoun {
        plural: bool,
        european: bool,
    },
    Sofa,
    ViewTarget(ViewKind),
    ViewNoun,
    ViewMod(ViewModifier),
    /// A complete view ("SV", "interior").
    ViewFull(View),
    Feature(Feature),
    BedroomNoun,
    Accessible,
    Smoking(bool),
    /// "adults", "persons", "pax": after a number, an occupancy.
    OccNoun,
    /// A room-type word that states an occupancy ("Triple", "single use").
    Occupancy(u8),
    SizeUnit(SizeUnit),
    Number(u16),
    Or,
    And,
    Negation,
}

const fn bed(count: u8, size: BedSize) -> Tag {
    Tag::Bed(BedGroup { count, size })
}

const fn beds(count: u8, size: BedSize) -> Tag {
    Tag::Beds(BedGroup { count, size })
}

const fn class(c: RoomClass) -> Tag {
    Tag::Class(c)
}

const fn target(k: ViewKind) -> Tag {
    Tag::ViewTarget(k)
}

const fn view(kind: ViewKind, modifier: ViewModifier) -> Tag {
    Tag::ViewFull(View { kind, modifier })
}

const fn feature(f: Feature) -> Tag {
    Tag::Feature(f)
}

const NOUN: Tag = Tag::BedNoun {
    plural: false,
    european: false,
};
const NOUNS: Tag = Tag::BedNoun {
    plural: true,
    european: false,
};
const EU_NOUN: Tag = Tag::BedNoun {
    plural: false,
    european: true,
};
const EU_NOUNS: Tag = Tag::BedNoun {
    plural: true,
    european: true,
};

use BedSize::{Bunk, Double, King, Queen, Single};
use RoomClass as C;
use ViewKind as V;
use ViewModifier::{Front, Full, Partial};

/// The vocabulary. Each phrase appears once (a unit test checks).
pub(crate) const LEXICON: &[(&str, Tag)] = &[
    // --- room nouns and structure words
    ("room", Tag::RoomNoun),
    ("rooms", Tag::RoomNoun),
    ("rm", Tag::RoomNoun),
    ("guestroom", Tag::RoomNoun),
    ("habitacion", Tag::RoomNoun),
    ("habitaciones", Tag::RoomNoun),
    ("hab", Tag::RoomNoun),
    ("chambre", Tag::RoomNoun),
    ("chambres", Tag::RoomNoun),
    ("zimmer", Tag::RoomNoun),
    ("camera", Tag::RoomNoun),
    ("camere", Tag::RoomNoun),
    ("stanza", Tag::RoomNoun),
    ("quarto", Tag::RoomNoun),
    ("quartos", Tag::RoomNoun),
    ("apartamentos", Tag::Class(C::Apartment)),
    ("with", Tag::Stop),
    ("w", Tag::Stop),
    ("con", Tag::Stop),
    ("avec", Tag::Stop),
    ("mit", Tag::Stop),
    ("com", Tag::Stop),
    ("in", Tag::Stop),
    ("en", Tag::Stop),
    ("at", Tag::Stop),
    ("y", Tag::Stop),
    ("et", Tag::Stop),
    ("und", Tag::Stop),
    ("e", Tag::Stop),
    ("for", Tag::Stop),
    ("para", Tag::Stop),
    ("pour", Tag::Stop),
    ("fur", Tag::Stop),
    ("per", Tag::Stop),
    ("type", Tag::Stop),
    ("category", Tag::Stop),
    ("categoria", Tag::Stop),
    ("unit", Tag::Stop),
    ("accommodation", Tag::Stop),
    ("max", Tag::Stop),
    ("maximum", Tag::Stop),
    ("up", Tag::Stop),
    ("sleeps", Tag::Stop),
    ("occupancy", Tag::Stop),
    ("plus", Tag::Stop),
    ("including", Tag::Stop),
    ("bedded", Tag::Stop),
    ("size", Tag::Stop),
    ("bath", Tag::Stop),
    ("bathroom", Tag::Stop),
    ("private bathroom", Tag::Stop),
    ("ensuite", Tag::Stop),
    ("en suite", Tag::Stop),
    ("shower", Tag::Stop),
    ("bathtub", Tag::Stop),
    ("tv", Tag::Stop),
    ("wifi", Tag::Stop),
    ("wi fi", Tag::Stop),
    ("free wifi", Tag::Stop),
    ("internet", Tag::Stop),
    ("air conditioning", Tag::Stop),
    ("minibar", Tag::Stop),
    ("parking", Tag::Stop),
    ("flat screen", Tag::Stop),
    ("flat screen tv", Tag::Stop),
    ("living room", Tag::Stop),
    ("living area", Tag::Stop),
    ("separate living room", Tag::Stop),
    ("separate living area", Tag::Stop),
    ("salon", Tag::Stop),
    ("bedroom", Tag::BedroomNoun),
    ("bedrooms", Tag::BedroomNoun),
    ("br", Tag::BedroomNoun),
    ("bdr", Tag::BedroomNoun),
    ("bdrm", Tag::BedroomNoun),
    ("dormitorio", Tag::BedroomNoun),
    ("dormitorios", Tag::BedroomNoun),
    ("schlafzimmer", Tag::BedroomNoun),
    ("or", Tag::Or),
    ("ou", Tag::Or),
    ("o", Tag::Or),
    ("oder", Tag::Or),
    ("and", Tag::And),
    ("no", Tag::Negation),
    ("non", Tag::Negation),
    ("not", Tag::Negation),
    ("without", Tag::Negation),
    ("sin", Tag::Negation),
    ("sans", Tag::Negation),
    ("ohne", Tag::Negation),
    ("senza", Tag::Negation),
    ("sem", Tag::Negation),
    // links (may sit inside "vista al mar", "cama de matrimonio", "2 x queen")
    ("of", Tag::Link),
    ("the", Tag::Link),
    ("a", Tag::Link),
    ("an", Tag::Link),
    ("to", Tag::Link),
    ("on", Tag::Link),
    ("al", Tag::Link),
    ("ao", Tag::Link),
    ("sur", Tag::Link),
    ("sul", Tag::Link),
    ("sulla", Tag::Link),
    ("auf", Tag::Link),
    ("aufs", Tag::Link),
    ("das", Tag::Link),
    ("den", Tag::Link),
    ("die", Tag::Link),
    ("zum", Tag::Link),
    ("zur", Tag::Link),
    ("de", Tag::Link),
    ("del", Tag::Link),
    ("della", Tag::Link),
    ("do", Tag::Link),
    ("da", Tag::Link),
    ("du", Tag::Link),
    ("des", Tag::Link),
    ("d", Tag::Link),
    ("l", Tag::Link),
    ("il", Tag::Link),
    ("lo", Tag::Link),
    ("le", Tag::Link),
    ("la", Tag::Link),
    ("les", Tag::Link),
    ("el", Tag::Link),
    ("em", Tag::Link),
    ("x", Tag::Link),
    // numbers in words
    ("one", Tag::Number(1)),
    ("two", Tag::Number(2)),
    ("three", Tag::Number(3)),
    ("four", Tag::Number(4)),
    ("five", Tag::Number(5)),
    ("six", Tag::Number(6)),
    ("uno", Tag::Number(1)),
    ("una", Tag::Number(1)),
    ("dos", Tag::Number(2)),
    ("tres", Tag::Number(3)),
    ("cuatro", Tag::Number(4)),
    ("un", Tag::Number(1)),
    ("une", Tag::Number(1)),
    ("deux", Tag::Number(2)),
    ("trois", Tag::Number(3)),
    ("quatre", Tag::Number(4)),
    ("ein", Tag::Number(1)),
    ("eine", Tag::Number(1)),
    ("zwei", Tag::Number(2)),
    ("drei", Tag::Number(3)),
    ("vier", Tag::Number(4)),
    ("due", Tag::Number(2)),
    ("tre", Tag::Number(3)),
    ("quattro", Tag::Number(4)),
    ("um", Tag::Number(1)),
    ("uma", Tag::Number(1)),
    ("dois", Tag::Number(2)),
    ("duas", Tag::Number(2)),
    ("quatro", Tag::Number(4)),
    // --- marketing words (ignored)
    ("cozy", Tag::Marketing),
    ("cosy", Tag::Marketing),
    ("charming", Tag::Marketing),
    ("lovely", Tag::Marketing),
    ("modern", Tag::Marketing),
    ("spacious", Tag::Marketing),
    ("elegant", Tag::Marketing),
    ("stylish", Tag::Marketing),
    ("bright", Tag::Marketing),
    ("comfortable", Tag::Marketing),
    ("beautiful", Tag::Marketing),
    ("stunning", Tag::Marketing),
    ("amazing", Tag::Marketing),
    ("chic", Tag::Marketing),
    ("contemporary", Tag::Marketing),
    ("luxurious", Tag::Marketing),
    ("nice", Tag::Marketing),
    ("great", Tag::Marketing),
    ("perfect", Tag::Marketing),
    ("quiet", Tag::Marketing),
    ("sunny", Tag::Marketing),
    ("experience", Tag::Marketing),
    ("premium experience", Tag::Marketing),
    ("accogliente", Tag::Marketing),
    ("acogedora", Tag::Marketing),
    ("acogedor", Tag::Marketing),
    ("confortable", Tag::Marketing),
    ("komfortabel", Tag::Marketing),
    ("gemutlich", Tag::Marketing),
    ("gemutliches", Tag::Marketing),
    ("charmant", Tag::Marketing),
    ("charmante", Tag::Marketing),
    ("moderne", Tag::Marketing),
    ("modernes", Tag::Marketing),
    ("moderna", Tag::Marketing),
    ("moderno", Tag::Marketing),
    ("elegante", Tag::Marketing),
    ("amplia", Tag::Marketing),
    ("amplio", Tag::Marketing),
    ("spacieuse", Tag::Marketing),
    ("spacieux", Tag::Marketing),
    ("geraumig", Tag::Marketing),
    ("geraumiges", Tag::Marketing),
    ("spaziosa", Tag::Marketing),
    ("spazioso", Tag::Marketing),
    ("espacoso", Tag::Marketing),
    ("espacosa", Tag::Marketing),
    ("aconchegante", Tag::Marketing),
    ("acolhedor", Tag::Marketing),
    ("luminosa", Tag::Marketing),
    ("luminoso", Tag::Marketing),
    ("lumineuse", Tag::Marketing),
    // --- offer words: board and rate (ignored; they belong to the offer)
    ("room only", Tag::Offer),
    ("only", Tag::Offer),
    ("ro", Tag::Offer),
    ("bed and breakfast", Tag::Offer),
    ("b and b", Tag::Offer),
    ("bb", Tag::Offer),
    ("breakfast", Tag::Offer),
    ("breakfast included", Tag::Offer),
    ("included", Tag::Offer),
    ("incl", Tag::Offer),
    ("half board", Tag::Offer),
    ("hb", Tag::Offer),
    ("full board", Tag::Offer),
    ("fb", Tag::Offer),
    ("all inclusive", Tag::Offer),
    ("non refundable", Tag::Offer),
    ("nonrefundable", Tag::Offer),
    ("non refundable rate", Tag::Offer),
    ("not refundable", Tag::Offer),
    ("refundable", Tag::Offer),
    ("nrf", Tag::Offer),
    ("nonref", Tag::Offer),
    ("free cancellation", Tag::Offer),
    ("cancellation", Tag::Offer),
    ("flexible", Tag::Offer),
    ("flexible rate", Tag::Offer),
    ("flex", Tag::Offer),
    ("advance purchase", Tag::Offer),
    ("saver", Tag::Offer),
    ("best available rate", Tag::Offer),
    ("rate", Tag::Offer),
    ("special offer", Tag::Offer),
    ("promo", Tag::Offer),
    ("promotion", Tag::Offer),
    ("package", Tag::Offer),
    ("member rate", Tag::Offer),
    ("desayuno", Tag::Offer),
    ("desayuno incluido", Tag::Offer),
    ("alojamiento y desayuno", Tag::Offer),
    ("solo alojamiento", Tag::Offer),
    ("media pension", Tag::Offer),
    ("pension completa", Tag::Offer),
    ("todo incluido", Tag::Offer),
    ("no reembolsable", Tag::Offer),
    ("petit dejeuner", Tag::Offer),
    ("petit dejeuner inclus", Tag::Offer),
    ("demi pension", Tag::Offer),
    ("pension complete", Tag::Offer),
    ("non remboursable", Tag::Offer),
    ("fruhstuck", Tag::Offer),
    ("inkl fruhstuck", Tag::Offer),
    ("halbpension", Tag::Offer),
    ("vollpension", Tag::Offer),
    ("nicht erstattbar", Tag::Offer),
    ("colazione", Tag::Offer),
    ("colazione inclusa", Tag::Offer),
    ("mezza pensione", Tag::Offer),
    ("pensione completa", Tag::Offer),
    ("non rimborsabile", Tag::Offer),
    ("pequeno almoco", Tag::Offer),
    ("cafe da manha", Tag::Offer),
    ("meia pensao", Tag::Offer),
    ("pensao completa", Tag::Offer),
    ("nao reembolsavel", Tag::Offer),
    // --- classes
    ("standard", class(C::Standard)),
    ("std", class(C::Standard)),
    ("stnd", class(C::Standard)),
    ("stdr", class(C::Standard)),
    ("standart", class(C::Standard)),
    ("estandar", class(C::Standard)),
    ("economy", class(C::Economy)),
    ("budget", class(C::Economy)),
    ("basic", class(C::Economy)),
    ("basica", class(C::Economy)),
    ("basico", class(C::Economy)),
    ("economica", class(C::Economy)),
    ("economico", class(C::Economy)),
    ("economique", class(C::Economy)),
    ("classic", class(C::Classic)),
    ("classique", class(C::Classic)),
    ("clasica", class(C::Classic)),
    ("clasico", class(C::Classic)),
    ("classica", class(C::Classic)),
    ("classico", class(C::Classic)),
    ("klassik", class(C::Classic)),
    ("comfort", class(C::Comfort)),
    ("confort", class(C::Comfort)),
    ("komfort", class(C::Comfort)),
    ("conforto", class(C::Comfort)),
    ("superior", class(C::Superior)),
    ("sup", class(C::Superior)),
    ("supr", class(C::Superior)),
    ("superieure", class(C::Superior)),
    ("superieur", class(C::Superior)),
    ("superiore", class(C::Superior)),
    ("deluxe", class(C::Deluxe)),
    ("dlx", class(C::Deluxe)),
    ("delux", class(C::Deluxe)),
    ("de luxe", class(C::Deluxe)),
    ("de lujo", class(C::Deluxe)),
    ("lujo", class(C::Deluxe)),
    ("luxe", class(C::Deluxe)),
    ("luxo", class(C::Deluxe)),
    ("lusso", class(C::Deluxe)),
    ("luxury", class(C::Luxury)),
    ("premium", class(C::Premium)),
    ("prestige", class(C::Prestige)),
    ("privilege", class(C::Privilege)),
    ("executive", class(C::Executive)),
    ("exec", class(C::Executive)),
    ("exe", class(C::Executive)),
    ("ejecutiva", class(C::Executive)),
    ("ejecutivo", class(C::Executive)),
    ("executif", class(C::Executive)),
    ("executive room", class(C::Executive)),
    ("esecutiva", class(C::Executive)),
    ("executivo", class(C::Executive)),
    ("executiva", class(C::Executive)),
    ("club", class(C::Club)),
    ("grand", class(C::Grand)),
    ("royal", class(C::Royal)),
    ("presidential", class(C::Presidential)),
    ("presidencial", class(C::Presidential)),
    ("presidentielle", class(C::Presidential)),
    ("honeymoon", class(C::Honeymoon)),
    ("family", class(C::Family)),
    ("fam", class(C::Family)),
    ("familiar", class(C::Family)),
    ("familiale", class(C::Family)),
    ("familien", class(C::Family)),
    ("familiare", class(C::Family)),
    ("famille", class(C::Family)),
    ("familia", class(C::Family)),
    ("studio", class(C::Studio)),
    ("stu", class(C::Studio)),
    ("estudio", class(C::Studio)),
    ("monolocale", class(C::Studio)),
    ("apartment", class(C::Apartment)),
    ("apt", class(C::Apartment)),
    ("appt", class(C::Apartment)),
    ("apto", class(C::Apartment)),
    ("apartamento", class(C::Apartment)),
    ("appartement", class(C::Apartment)),
    ("appartamento", class(C::Apartment)),
    ("wohnung", class(C::Apartment)),
    ("ferienwohnung", class(C::Apartment)),
    ("flat", class(C::Apartment)),
    ("junior suite", class(C::JuniorSuite)),
    ("jr suite", class(C::JuniorSuite)),
    ("jr ste", class(C::JuniorSuite)),
    ("jnr suite", class(C::JuniorSuite)),
    ("junior ste", class(C::JuniorSuite)),
    ("suite junior", class(C::JuniorSuite)),
    ("juniorsuite", class(C::JuniorSuite)),
    ("mini suite", class(C::JuniorSuite)),
    ("minisuite", class(C::JuniorSuite)),
    ("suite", class(C::Suite)),
    ("ste", class(C::Suite)),
    ("villa", class(C::Villa)),
    ("bungalow", class(C::Bungalow)),
    ("chalet", class(C::Chalet)),
    ("cottage", class(C::Cottage)),
    ("cabin", class(C::Cabin)),
    ("penthouse", class(C::Penthouse)),
    ("atico", class(C::Penthouse)),
    ("attico", class(C::Penthouse)),
    ("loft", class(C::Loft)),
    ("dormitory", class(C::Dormitory)),
    ("dorm", class(C::Dormitory)),
    ("run of house", class(C::RunOfHouse)),
    ("run of the house", class(C::RunOfHouse)),
    ("roh", class(C::RunOfHouse)),
    // --- beds: size words (room-type words alone, beds with a bed noun)
    ("single", bed(1, Single)),
    ("sgl", bed(1, Single)),
    ("sng", bed(1, Single)),
    ("individual", bed(1, Single)),
    ("individuales", bed(1, Single)),
    ("individuel", bed(1, Single)),
    ("individuelle", bed(1, Single)),
    ("simple", bed(1, Single)),
    ("simples", bed(1, Single)),
    ("einzel", bed(1, Single)),
    ("singola", bed(1, Single)),
    ("singolo", bed(1, Single)),
    ("singoli", bed(1, Single)),
    ("singole", bed(1, Single)),
    ("solteiro", bed(1, Single)),
    ("sencilla", bed(1, Single)),
    ("double", bed(1, Double)),
    ("dbl", bed(1, Double)),
    ("dble", bed(1, Double)),
    ("doble", bed(1, Double)),
    ("doppel", bed(1, Double)),
    ("doppia", bed(1, Double)),
    ("doppio", bed(1, Double)),
    ("duplo", bed(1, Double)),
    ("dupla", bed(1, Double)),
    ("casal", bed(1, Double)),
    ("matrimonial", bed(1, Double)),
    ("matrimoniale", bed(1, Double)),
    ("matrimonio", bed(1, Double)),
    ("queen", bed(1, Queen)),
    ("qn", bed(1, Queen)),
    ("que", bed(1, Queen)),
    ("qun", bed(1, Queen)),
    ("queensize", bed(1, Queen)),
    ("queen size", bed(1, Queen)),
    ("king", bed(1, King)),
    ("kng", bed(1, King)),
    ("kingsize", bed(1, King)),
    ("king size", bed(1, King)),
    ("california king", bed(1, King)),
    ("twin", bed(2, Single)),
    ("twn", bed(2, Single)),
    ("twin bedded", bed(2, Single)),
    ("jumeaux", bed(2, Single)),
    ("jumelles", bed(2, Single)),
    ("gemelas", bed(2, Single)),
    ("separadas", bed(2, Single)),
    ("separados", bed(2, Single)),
    ("separati", bed(2, Single)),
    ("separes", bed(2, Single)),
    ("separate", bed(2, Single)),
    ("zweibett", bed(2, Single)),
    ("bunk", bed(1, Bunk)),
    ("litera", bed(1, Bunk)),
    ("literas", bed(2, Bunk)),
    ("etagen", bed(1, Bunk)),
    ("superposes", bed(2, Bunk)),
    ("castello", bed(1, Bunk)),
    ("beliche", bed(1, Bunk)),
    ("double double", Tag::BedPair(Double)),
    ("dbl dbl", Tag::BedPair(Double)),
    ("queen queen", Tag::BedPair(Queen)),
    ("qq", Tag::BedPair(Queen)),
    ("grand lit", beds(1, Double)),
    ("full size bed", beds(1, Double)),
    ("full bed", beds(1, Double)),
    ("bed", NOUN),
    ("beds", NOUNS),
    ("cama", EU_NOUN),
    ("camas", EU_NOUNS),
    ("lit", EU_NOUN),
    ("lits", EU_NOUNS),
    ("bett", EU_NOUN),
    ("betten", EU_NOUNS),
    ("letto", EU_NOUN),
    ("letti", EU_NOUNS),
    ("sofa", Tag::Sofa),
    ("sofabed", Tag::Sofa),
    ("sofa bed", Tag::Sofa),
    ("sofa beds", Tag::Sofa),
    ("sofa cama", Tag::Sofa),
    ("sofacama", Tag::Sofa),
    ("canape", Tag::Sofa),
    ("canape lit", Tag::Sofa),
    ("divano letto", Tag::Sofa),
    ("schlafsofa", Tag::Sofa),
    ("schlafcouch", Tag::Sofa),
    ("sleeper sofa", Tag::Sofa),
    ("pull out sofa", Tag::Sofa),
    ("futon", Tag::Sofa),
    // --- views
    ("sea", target(V::Sea)),
    ("ocean", target(V::Sea)),
    ("oceano", target(V::Sea)),
    ("mar", target(V::Sea)),
    ("mer", target(V::Sea)),
    ("meer", target(V::Sea)),
    ("mare", target(V::Sea)),
    ("beach", target(V::Beach)),
    ("playa", target(V::Beach)),
    ("plage", target(V::Beach)),
    ("strand", target(V::Beach)),
    ("spiaggia", target(V::Beach)),
    ("praia", target(V::Beach)),
    ("lake", target(V::Lake)),
    ("lago", target(V::Lake)),
    ("lac", target(V::Lake)),
    ("see", target(V::Lake)),
    ("river", target(V::River)),
    ("rio", target(V::River)),
    ("riviere", target(V::River)),
    ("fleuve", target(V::River)),
    ("fluss", target(V::River)),
    ("fiume", target(V::River)),
    ("harbour", target(V::Harbour)),
    ("harbor", target(V::Harbour)),
    ("marina", target(V::Harbour)),
    ("puerto", target(V::Harbour)),
    ("hafen", target(V::Harbour)),
    ("city", target(V::City)),
    ("ciudad", target(V::City)),
    ("ville", target(V::City)),
    ("stadt", target(V::City)),
    ("citta", target(V::City)),
    ("cidade", target(V::City)),
    ("skyline", target(V::City)),
    ("garden", target(V::Garden)),
    ("gardens", target(V::Garden)),
    ("jardin", target(V::Garden)),
    ("garten", target(V::Garden)),
    ("giardino", target(V::Garden)),
    ("jardim", target(V::Garden)),
    ("park", target(V::Park)),
    ("parque", target(V::Park)),
    ("parc", target(V::Park)),
    ("parco", target(V::Park)),
    ("pool", target(V::Pool)),
    ("piscina", target(V::Pool)),
    ("piscine", target(V::Pool)),
    ("mountain", target(V::Mountain)),
    ("mountains", target(V::Mountain)),
    ("montana", target(V::Mountain)),
    ("montagne", target(V::Mountain)),
    ("berg", target(V::Mountain)),
    ("berge", target(V::Mountain)),
    ("montagna", target(V::Mountain)),
    ("montanha", target(V::Mountain)),
    ("golf", target(V::Golf)),
    ("courtyard", target(V::Courtyard)),
    ("patio", target(V::Courtyard)),
    ("innenhof", target(V::Courtyard)),
    ("hof", target(V::Courtyard)),
    ("cortile", target(V::Courtyard)),
    ("cour", target(V::Courtyard)),
    ("street", target(V::Street)),
    ("calle", target(V::Street)),
    ("rue", target(V::Street)),
    ("strasse", target(V::Street)),
    ("strada", target(V::Street)),
    ("rua", target(V::Street)),
    ("panoramic", target(V::Panoramic)),
    ("panorama", target(V::Panoramic)),
    ("panoramica", target(V::Panoramic)),
    ("panoramique", target(V::Panoramic)),
    ("panoramico", target(V::Panoramic)),
    ("view", Tag::ViewNoun),
    ("views", Tag::ViewNoun),
    ("vw", Tag::ViewNoun),
    ("vista", Tag::ViewNoun),
    ("vistas", Tag::ViewNoun),
    ("vue", Tag::ViewNoun),
    ("vues", Tag::ViewNoun),
    ("blick", Tag::ViewNoun),
    ("aussicht", Tag::ViewNoun),
    ("facing", Tag::ViewNoun),
    ("overlooking", Tag::ViewNoun),
    ("partial", Tag::ViewMod(Partial)),
    ("partially", Tag::ViewMod(Partial)),
    ("side", Tag::ViewMod(Partial)),
    ("lateral", Tag::ViewMod(Partial)),
    ("laterale", Tag::ViewMod(Partial)),
    ("parcial", Tag::ViewMod(Partial)),
    ("partielle", Tag::ViewMod(Partial)),
    ("partiel", Tag::ViewMod(Partial)),
    ("parziale", Tag::ViewMod(Partial)),
    ("seitlich", Tag::ViewMod(Partial)),
    ("seitlicher", Tag::ViewMod(Partial)),
    ("seitlichem", Tag::ViewMod(Partial)),
    ("seite", Tag::ViewMod(Partial)),
    ("cote", Tag::ViewMod(Partial)),
    ("lado", Tag::ViewMod(Partial)),
    ("front", Tag::ViewMod(Front)),
    ("frente", Tag::ViewMod(Front)),
    ("fronte", Tag::ViewMod(Front)),
    ("front de mer", view(V::Sea, Front)),
    ("sv", view(V::Sea, Full)),
    ("ov", view(V::Sea, Full)),
    ("cv", view(V::City, Full)),
    ("gv", view(V::Garden, Full)),
    ("pv", view(V::Pool, Full)),
    ("mv", view(V::Mountain, Full)),
    ("rv", view(V::River, Full)),
    ("psv", view(V::Sea, Partial)),
    ("pov", view(V::Sea, Partial)),
    ("interior", view(V::Interior, Full)),
    ("inside", view(V::Interior, Full)),
    ("exterior", view(V::Exterior, Full)),
    // --- features
    ("balcony", feature(Feature::Balcony)),
    ("balcon", feature(Feature::Balcony)),
    ("balkon", feature(Feature::Balcony)),
    ("balcone", feature(Feature::Balcony)),
    ("varanda", feature(Feature::Balcony)),
    ("terrace", feature(Feature::Terrace)),
    ("terraza", feature(Feature::Terrace)),
    ("terrasse", feature(Feature::Terrace)),
    ("terrazza", feature(Feature::Terrace)),
    ("terraco", feature(Feature::Terrace)),
    ("kitchenette", feature(Feature::Kitchenette)),
    ("kitchen", feature(Feature::Kitchenette)),
    ("cocina", feature(Feature::Kitchenette)),
    ("cocineta", feature(Feature::Kitchenette)),
    ("cuisine", feature(Feature::Kitchenette)),
    ("cuisinette", feature(Feature::Kitchenette)),
    ("kuche", feature(Feature::Kitchenette)),
    ("kochnische", feature(Feature::Kitchenette)),
    ("cucina", feature(Feature::Kitchenette)),
    ("angolo cottura", feature(Feature::Kitchenette)),
    ("cozinha", feature(Feature::Kitchenette)),
    ("jacuzzi", feature(Feature::Jacuzzi)),
    ("whirlpool", feature(Feature::Jacuzzi)),
    ("hot tub", feature(Feature::Jacuzzi)),
    ("spa bath", feature(Feature::Jacuzzi)),
    ("hidromasaje", feature(Feature::Jacuzzi)),
    ("private pool", feature(Feature::PrivatePool)),
    ("plunge pool", feature(Feature::PrivatePool)),
    ("piscina privada", feature(Feature::PrivatePool)),
    ("piscine privee", feature(Feature::PrivatePool)),
    ("piscina privata", feature(Feature::PrivatePool)),
    ("pool access", feature(Feature::PoolAccess)),
    ("swim up", feature(Feature::PoolAccess)),
    ("swimup", feature(Feature::PoolAccess)),
    ("connecting", feature(Feature::Connecting)),
    ("communicating", feature(Feature::Connecting)),
    ("interconnecting", feature(Feature::Connecting)),
    ("adjoining", feature(Feature::Connecting)),
    ("comunicantes", feature(Feature::Connecting)),
    ("communicantes", feature(Feature::Connecting)),
    ("comunicanti", feature(Feature::Connecting)),
    ("club access", feature(Feature::ClubAccess)),
    ("club lounge", feature(Feature::ClubAccess)),
    ("club lounge access", feature(Feature::ClubAccess)),
    ("lounge access", feature(Feature::ClubAccess)),
    ("executive lounge", feature(Feature::ClubAccess)),
    ("executive lounge access", feature(Feature::ClubAccess)),
    ("club level", feature(Feature::ClubAccess)),
    ("club floor", feature(Feature::ClubAccess)),
    ("executive floor", feature(Feature::ClubAccess)),
    ("high floor", feature(Feature::HighFloor)),
    ("upper floor", feature(Feature::HighFloor)),
    ("top floor", feature(Feature::HighFloor)),
    ("planta alta", feature(Feature::HighFloor)),
    ("piano alto", feature(Feature::HighFloor)),
    ("andar alto", feature(Feature::HighFloor)),
    ("etage eleve", feature(Feature::HighFloor)),
    ("ground floor", feature(Feature::GroundFloor)),
    ("planta baja", feature(Feature::GroundFloor)),
    ("rez de chaussee", feature(Feature::GroundFloor)),
    ("erdgeschoss", feature(Feature::GroundFloor)),
    ("piano terra", feature(Feature::GroundFloor)),
    ("duplex", feature(Feature::Duplex)),
    ("maisonette", feature(Feature::Duplex)),
    ("annex", feature(Feature::Annex)),
    ("annexe", feature(Feature::Annex)),
    ("anexo", feature(Feature::Annex)),
    ("dependance", feature(Feature::Annex)),
    ("shared bathroom", feature(Feature::SharedBathroom)),
    ("shared bath", feature(Feature::SharedBathroom)),
    ("shared facilities", feature(Feature::SharedBathroom)),
    ("bano compartido", feature(Feature::SharedBathroom)),
    ("salle de bain partagee", feature(Feature::SharedBathroom)),
    ("gemeinschaftsbad", feature(Feature::SharedBathroom)),
    ("bagno in comune", feature(Feature::SharedBathroom)),
    ("banheiro compartilhado", feature(Feature::SharedBathroom)),
    ("windowless", feature(Feature::NoWindow)),
    ("no window", feature(Feature::NoWindow)),
    ("without window", feature(Feature::NoWindow)),
    ("sin ventana", feature(Feature::NoWindow)),
    ("sans fenetre", feature(Feature::NoWindow)),
    ("ohne fenster", feature(Feature::NoWindow)),
    ("senza finestra", feature(Feature::NoWindow)),
    ("sem janela", feature(Feature::NoWindow)),
    ("pet friendly", feature(Feature::PetFriendly)),
    ("pets allowed", feature(Feature::PetFriendly)),
    ("extra bed", feature(Feature::ExtraBed)),
    ("rollaway", feature(Feature::ExtraBed)),
    ("rollaway bed", feature(Feature::ExtraBed)),
    ("cama supletoria", feature(Feature::ExtraBed)),
    ("cama extra", feature(Feature::ExtraBed)),
    ("lit supplementaire", feature(Feature::ExtraBed)),
    ("lit d appoint", feature(Feature::ExtraBed)),
    ("zustellbett", feature(Feature::ExtraBed)),
    ("letto aggiuntivo", feature(Feature::ExtraBed)),
    ("hearing accessible", feature(Feature::HearingAccessible)),
    ("hearing impaired", feature(Feature::HearingAccessible)),
    ("roll in shower", feature(Feature::RollInShower)),
    ("fireplace", feature(Feature::Fireplace)),
    ("chimenea", feature(Feature::Fireplace)),
    ("cheminee", feature(Feature::Fireplace)),
    ("kamin", feature(Feature::Fireplace)),
    // --- accessibility
    ("accessible", Tag::Accessible),
    ("accessibility", Tag::Accessible),
    ("mobility accessible", Tag::Accessible),
    ("wheelchair", Tag::Accessible),
    ("wheelchair accessible", Tag::Accessible),
    ("ada", Tag::Accessible),
    ("acc", Tag::Accessible),
    ("hcp", Tag::Accessible),
    ("handicap", Tag::Accessible),
    ("handicapped", Tag::Accessible),
    ("disabled", Tag::Accessible),
    ("disabled access", Tag::Accessible),
    ("reduced mobility", Tag::Accessible),
    ("pmr", Tag::Accessible),
    ("mobilite reduite", Tag::Accessible),
    ("movilidad reducida", Tag::Accessible),
    ("adaptada", Tag::Accessible),
    ("adaptado", Tag::Accessible),
    ("adapted", Tag::Accessible),
    ("accesible", Tag::Accessible),
    ("accessibile", Tag::Accessible),
    ("acessivel", Tag::Accessible),
    ("barrierefrei", Tag::Accessible),
    ("barrierefreies", Tag::Accessible),
    ("rollstuhlgerecht", Tag::Accessible),
    ("behindertengerecht", Tag::Accessible),
    ("disabili", Tag::Accessible),
    ("minusvalidos", Tag::Accessible),
    // --- smoking
    ("smoking", Tag::Smoking(true)),
    ("smoker", Tag::Smoking(true)),
    ("smk", Tag::Smoking(true)),
    ("fumadores", Tag::Smoking(true)),
    ("fumador", Tag::Smoking(true)),
    ("fumeur", Tag::Smoking(true)),
    ("fumeurs", Tag::Smoking(true)),
    ("raucher", Tag::Smoking(true)),
    ("fumatori", Tag::Smoking(true)),
    ("fumantes", Tag::Smoking(true)),
    ("fumante", Tag::Smoking(true)),
    ("nonsmoking", Tag::Smoking(false)),
    ("non smoking", Tag::Smoking(false)),
    ("no smoking", Tag::Smoking(false)),
    ("non smoker", Tag::Smoking(false)),
    ("smoke free", Tag::Smoking(false)),
    ("smokefree", Tag::Smoking(false)),
    ("ns", Tag::Smoking(false)),
    ("nsmk", Tag::Smoking(false)),
    ("nichtraucher", Tag::Smoking(false)),
    // --- occupancy
    ("adult", Tag::OccNoun),
    ("adults", Tag::OccNoun),
    ("person", Tag::OccNoun),
    ("persons", Tag::OccNoun),
    ("people", Tag::OccNoun),
    ("guest", Tag::OccNoun),
    ("guests", Tag::OccNoun),
    ("pax", Tag::OccNoun),
    ("pers", Tag::OccNoun),
    ("personne", Tag::OccNoun),
    ("personnes", Tag::OccNoun),
    ("persona", Tag::OccNoun),
    ("personas", Tag::OccNoun),
    ("personen", Tag::OccNoun),
    ("persone", Tag::OccNoun),
    ("pessoa", Tag::OccNoun),
    ("pessoas", Tag::OccNoun),
    ("adulto", Tag::OccNoun),
    ("adultos", Tag::OccNoun),
    ("adulte", Tag::OccNoun),
    ("adultes", Tag::OccNoun),
    ("erwachsene", Tag::OccNoun),
    ("erwachsenen", Tag::OccNoun),
    ("adulti", Tag::OccNoun),
    ("ospiti", Tag::OccNoun),
    ("huespedes", Tag::OccNoun),
    ("child", Tag::OccNoun),
    ("children", Tag::OccNoun),
    ("kid", Tag::OccNoun),
    ("kids", Tag::OccNoun),
    ("nino", Tag::OccNoun),
    ("ninos", Tag::OccNoun),
    ("enfant", Tag::OccNoun),
    ("enfants", Tag::OccNoun),
    ("kind", Tag::OccNoun),
    ("kinder", Tag::OccNoun),
    ("bambino", Tag::OccNoun),
    ("bambini", Tag::OccNoun),
    ("crianca", Tag::OccNoun),
    ("criancas", Tag::OccNoun),
    ("triple", Tag::Occupancy(3)),
    ("tpl", Tag::Occupancy(3)),
    ("trpl", Tag::Occupancy(3)),
    ("trp", Tag::Occupancy(3)),
    ("triplo", Tag::Occupancy(3)),
    ("tripla", Tag::Occupancy(3)),
    ("dreibett", Tag::Occupancy(3)),
    ("quad", Tag::Occupancy(4)),
    ("quadruple", Tag::Occupancy(4)),
    ("quadruplo", Tag::Occupancy(4)),
    ("quadrupla", Tag::Occupancy(4)),
    ("cuadruple", Tag::Occupancy(4)),
    ("vierbett", Tag::Occupancy(4)),
    ("single use", Tag::Occupancy(1)),
    ("sole use", Tag::Occupancy(1)),
    ("single occupancy", Tag::Occupancy(1)),
    ("uso individual", Tag::Occupancy(1)),
    ("uso single", Tag::Occupancy(1)),
    ("uso singola", Tag::Occupancy(1)),
    ("uso singolo", Tag::Occupancy(1)),
    ("usage single", Tag::Occupancy(1)),
    ("usage individuel", Tag::Occupancy(1)),
    ("einzelnutzung", Tag::Occupancy(1)),
    // --- sizes
    ("m2", Tag::SizeUnit(SizeUnit::SqM)),
    ("sqm", Tag::SizeUnit(SizeUnit::SqM)),
    ("sq m", Tag::SizeUnit(SizeUnit::SqM)),
    ("qm", Tag::SizeUnit(SizeUnit::SqM)),
    ("mq", Tag::SizeUnit(SizeUnit::SqM)),
    ("square meters", Tag::SizeUnit(SizeUnit::SqM)),
    ("square metres", Tag::SizeUnit(SizeUnit::SqM)),
    ("metros cuadrados", Tag::SizeUnit(SizeUnit::SqM)),
    ("sqft", Tag::SizeUnit(SizeUnit::SqFt)),
    ("sq ft", Tag::SizeUnit(SizeUnit::SqFt)),
    ("ft2", Tag::SizeUnit(SizeUnit::SqFt)),
    ("square feet", Tag::SizeUnit(SizeUnit::SqFt)),
];

/// Suffixes German and English compounds are split at ("doppelzimmer", "meerblick", "seaview").
pub(crate) const COMPOUND_SUFFIXES: &[&str] = &[
    "zimmer", "blick", "betten", "bett", "suite", "seite", "view", "front", "side", "facing",
];

/// Longest phrase in the vocabulary, in tokens.
pub(crate) const MAX_PHRASE: usize = 4;

struct Index {
    phrases: HashMap<&'static str, Tag>,
    /// Single words fuzzy matching may land on: meaningful words of five letters or more.
    fuzzy: Vec<(&'static str, Tag)>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut phrases = HashMap::new();
        for (p, t) in LEXICON {
            phrases.entry(*p).or_insert(*t);
        }
        let fuzzy = LEXICON
            .iter()
            .filter(|(p, t)| {
                p.len() >= 5
                    && !p.contains(' ')
                    && !matches!(
                        t,
                        Tag::Stop
                            | Tag::RoomNoun
                            | Tag::Link
                            | Tag::Offer
                            | Tag::Marketing
                            | Tag::Number(_)
                    )
            })
            .copied()
            .collect();
        Index { phrases, fuzzy }
    })
}

/// The tag of an exact phrase.
pub(crate) fn lookup(phrase: &str) -> Option<Tag> {
    index().phrases.get(phrase).copied()
}

/// The tag of a single unknown word: its singular ("queens", "suites"), else the one vocabulary
/// word within edit distance 1 (5–7 letters) or 2 (8 letters and more). Returns the word matched.
pub(crate) fn lookup_fuzzy(word: &str) -> Option<(&'static str, Tag)> {
    if let Some(stem) = word.strip_suffix('s') {
        if let Some((p, t)) = index().phrases.get_key_value(stem) {
            return Some((p, *t));
        }
    }
    let n = word.chars().count();
    if n < 5 || !word.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let limit = if n >= 8 { 2 } else { 1 };
    let mut best: Option<(usize, &'static str, Tag)> = None;
    let mut tie = false;
    for (p, t) in &index().fuzzy {
        if p.len().abs_diff(n) > limit {
            continue;
        }
        let d = edit_distance(word, p);
        if d > limit {
            continue;
        }
        match best {
            Some((bd, _, bt)) if d == bd => {
                if bt != *t {
                    tie = true;
                }
            }
            Some((bd, _, _)) if d > bd => {}
            _ => {
                best = Some((d, p, *t));
                tie = false;
            }
        }
    }
    match best {
        Some((_, p, t)) if !tie => Some((p, t)),
        _ => None,
    }
}

/// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_phrase_appears_once_and_fits_the_phrase_window() {
        let mut seen = HashSet::new();
        for (p, _) in LEXICON {
            assert!(seen.insert(*p), "duplicate phrase {p:?}");
            assert!(p.split(' ').count() <= MAX_PHRASE, "{p:?} is too long");
            assert_eq!(p.trim(), *p);
            assert!(
                p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == ' '),
                "{p:?} is not normalized"
            );
        }
    }

    #[test]
    fn fuzzy_matching_needs_one_close_word() {
        assert_eq!(lookup_fuzzy("superiour").map(|x| x.0), Some("superior"));
        assert_eq!(lookup_fuzzy("deulxe").map(|x| x.0), Some("deluxe"));
        assert_eq!(lookup_fuzzy("queens").map(|x| x.0), Some("queen"));
        assert_eq!(lookup_fuzzy("tower"), None);
        assert_eq!(lookup_fuzzy("wing"), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("ab", "ba"), 1);
    }
}
