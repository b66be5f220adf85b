//! Room mapping: one room, one row. Suppliers name the same room differently — "DOUBLE SUPERIOR
//! SEA VIEW" (`DBL.SU`), "Superior Room, 1 Double Bed, Sea View", "Habitación Doble Superior vista
//! mar" — and the search answer must show it once, with every supplier's offers under one
//! `room_key` (DESIGN §4). This module reads supplier room names and codes into structured
//! attributes ([`normalize`]), decides whether two rooms of a hotel are the same room type
//! ([`compare`]) and groups a hotel's rooms for the search merge ([`group_rooms`]).
//!
//! A wrong merge is worse than a missed one, so matching keeps rooms apart when unsure; see
//! [`matching`] for the vetoes and [`grouping`] for how keys are derived. Board and refundability
//! belong to the offer and play no part. Plain rules and a multilingual vocabulary (`lexicon.rs`),
//! no model; measured against the labelled pairs in `filters/tests/data/room_pairs.tsv`.

mod attributes;
mod codes;
pub mod grouping;
mod lexicon;
pub mod matching;
mod normalize;

pub use attributes::{
    BedGroup, BedSize, Bedding, Feature, RoomAttributes, RoomClass, RoomInput, View, ViewKind,
    ViewModifier,
};
pub use grouping::{group_rooms, RoomGroup};
pub use matching::{compare, Comparison};
pub use normalize::normalize;
