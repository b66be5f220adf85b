//! Supplier room-code tables: what a supplier's own room code says about the room, for the
//! suppliers whose codes are structured. Numeric codes (Expedia Rapid property room ids, Dida
//! room type ids) carry nothing and are not read.
//!
//! - `hotelbeds`: `{TYPE}.{CHARACTERISTIC}[-...]`, e.g. `DBL.SU`, `TWN.ST`, `KNG.DX`, `QUE.JS`,
//!   `DBT.ST` (double or twin), `JSU.ST`. The type is a room-type word (`DBL` a double room, whose
//!   bed may be a queen or king); in the simulator `SU2` is the suite characteristic.
//! - `derbysoft`: `{CLASS}-{BED}[-{VIEW}]`, e.g. `SUP-DBL-SV`, `JUN-QUE-GV`, `STA-TWN`.
//! - `ota-soap`: the simulator's `{bed}{class}{view}{n}`, e.g. `DSV0` (double, class S = standard,
//!   superior or suite, sea view), `KJN3` (king, junior suite, no view).
//!
//! A code is read only when every part of it is recognized; anything else is ignored rather than
//! half understood.

use super::attributes::{BedSize, Bedding, RoomClass, View, ViewKind, ViewModifier};

/// What a room code says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CodeHints {
    /// Class words the code states.
    pub classes: Vec<RoomClass>,
    /// When non-empty, the class is one of these (an ambiguous class letter).
    pub class_any_of: Vec<RoomClass>,
    pub bed: Option<Bedding>,
    /// True when the bed is a room-type word (`DBL`: a double room, possibly a queen or king bed).
    pub bed_is_room_type: bool,
    /// `Some(vec![])` when the code states "no view".
    pub views: Option<Vec<View>>,
    pub occupancy: Option<u8>,
}

/// The supplier's code scheme, from its protocol code.
fn scheme(supplier: &str) -> Option<&'static str> {
    match supplier.trim().to_ascii_lowercase().as_str() {
        "hotelbeds" | "hb" => Some("hotelbeds"),
        "derbysoft" => Some("derbysoft"),
        "ota-soap" | "ota_soap" | "ota" => Some("ota-soap"),
        _ => None,
    }
}

/// Reads `code` with `supplier`'s table; `None` for suppliers without structured codes and for
/// codes that do not fit the supplier's scheme.
pub(crate) fn parse(supplier: &str, code: &str) -> Option<CodeHints> {
    let code = code.trim().to_ascii_uppercase();
    match scheme(supplier)? {
        "hotelbeds" => hotelbeds(&code),
        "derbysoft" => derbysoft(&code),
        _ => ota_soap(&code),
    }
}

fn twin() -> Bedding {
    Bedding::fixed(2, BedSize::Single)
}

fn view_code(s: &str) -> Option<View> {
    let full = View::full;
    Some(match s {
        "SV" | "OV" | "VM" => full(ViewKind::Sea),
        "CV" | "VC" => full(ViewKind::City),
        "GV" | "VJ" => full(ViewKind::Garden),
        "PV" | "VP" => full(ViewKind::Pool),
        "MV" => full(ViewKind::Mountain),
        "RV" => full(ViewKind::River),
        "PSV" | "POV" => View {
            kind: ViewKind::Sea,
            modifier: ViewModifier::Partial,
        },
        _ => return None,
    })
}

fn hotelbeds(code: &str) -> Option<CodeHints> {
    let (ty, rest) = code.split_once('.')?;
    let mut h = CodeHints::default();
    match ty {
        "DBL" => {
            h.bed = Some(Bedding::fixed(1, BedSize::Double));
            h.bed_is_room_type = true;
        }
        "DUS" => {
            h.bed = Some(Bedding::fixed(1, BedSize::Double));
            h.bed_is_room_type = true;
            h.occupancy = Some(1);
        }
        "TWN" => h.bed = Some(twin()),
        "DBT" => {
            h.bed = Bedding::new(vec![
                vec![super::attributes::BedGroup {
                    count: 1,
                    size: BedSize::Double,
                }],
                vec![super::attributes::BedGroup {
                    count: 2,
                    size: BedSize::Single,
                }],
            ])
        }
        "SGL" => h.bed = Some(Bedding::fixed(1, BedSize::Single)),
        "KNG" => h.bed = Some(Bedding::fixed(1, BedSize::King)),
        "QUE" | "QUN" => h.bed = Some(Bedding::fixed(1, BedSize::Queen)),
        "TPL" => h.occupancy = Some(3),
        "QUA" | "QUD" => h.occupancy = Some(4),
        "JSU" => h.classes.push(RoomClass::JuniorSuite),
        "SUI" | "STE" => h.classes.push(RoomClass::Suite),
        "STU" => h.classes.push(RoomClass::Studio),
        "APT" => h.classes.push(RoomClass::Apartment),
        "FAM" => h.classes.push(RoomClass::Family),
        "BUN" => h.classes.push(RoomClass::Bungalow),
        "VIL" => h.classes.push(RoomClass::Villa),
        "ROO" => {}
        _ => return None,
    }
    let mut parts = rest.split('-');
    let characteristic = parts.next().unwrap_or_default();
    let class = match characteristic {
        "ST" => Some(RoomClass::Standard),
        "SU" => Some(RoomClass::Superior),
        "DX" => Some(RoomClass::Deluxe),
        "JS" => Some(RoomClass::JuniorSuite),
        "SU2" => Some(RoomClass::Suite),
        "EX" | "EJ" => Some(RoomClass::Executive),
        "PR" => Some(RoomClass::Premium),
        "EC" => Some(RoomClass::Economy),
        _ => None,
    };
    h.classes.extend(class);
    let mut views = Vec::new();
    for p in parts {
        if let Some(v) = view_code(p) {
            views.push(v);
        }
    }
    if !views.is_empty() {
        h.views = Some(views);
    }
    Some(h)
}

fn derbysoft(code: &str) -> Option<CodeHints> {
    let parts: Vec<&str> = code.split('-').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let mut h = CodeHints::default();
    h.classes.push(match parts[0] {
        "STA" | "STD" => RoomClass::Standard,
        "SUP" => RoomClass::Superior,
        "DEL" | "DLX" => RoomClass::Deluxe,
        "JUN" | "JRS" | "JST" => RoomClass::JuniorSuite,
        "SUI" | "STE" => RoomClass::Suite,
        "EXE" | "EXC" => RoomClass::Executive,
        "FAM" => RoomClass::Family,
        "PRE" | "PRM" => RoomClass::Premium,
        "CLA" => RoomClass::Classic,
        _ => return None,
    });
    h.bed = Some(match parts[1] {
        "KNG" | "KIN" => Bedding::fixed(1, BedSize::King),
        "QUE" | "QN" => Bedding::fixed(1, BedSize::Queen),
        "DBL" | "DOU" => Bedding::fixed(1, BedSize::Double),
        "TWN" | "TWI" => twin(),
        "SGL" | "SIN" => Bedding::fixed(1, BedSize::Single),
        "QQ" | "DQQ" => Bedding::fixed(2, BedSize::Queen),
        "DD" => Bedding::fixed(2, BedSize::Double),
        _ => return None,
    });
    if let Some(v) = parts.get(2) {
        h.views = Some(if *v == "NV" {
            Vec::new()
        } else {
            vec![view_code(v)?]
        });
    }
    Some(h)
}

fn ota_soap(code: &str) -> Option<CodeHints> {
    let b = code.as_bytes();
    if b.len() < 4 || !b[3..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let bed = match b[0] {
        b'K' => Bedding::fixed(1, BedSize::King),
        b'Q' => Bedding::fixed(1, BedSize::Queen),
        b'D' => Bedding::fixed(1, BedSize::Double),
        b'T' => twin(),
        _ => return None,
    };
    let mut h = CodeHints {
        bed: Some(bed),
        ..CodeHints::default()
    };
    match b[1] {
        b'S' => h.class_any_of = vec![RoomClass::Standard, RoomClass::Superior, RoomClass::Suite],
        b'D' => h.classes.push(RoomClass::Deluxe),
        b'J' => h.classes.push(RoomClass::JuniorSuite),
        _ => return None,
    }
    h.views = Some(match b[2] {
        b'S' => vec![View::full(ViewKind::Sea)],
        b'C' => vec![View::full(ViewKind::City)],
        b'G' => vec![View::full(ViewKind::Garden)],
        b'N' => Vec::new(),
        _ => return None,
    });
    Some(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn slug(h: &CodeHints) -> String {
        let mut parts: Vec<String> = h.classes.iter().map(|c| c.slug().to_string()).collect();
        if let Some(b) = &h.bed {
            parts.push(b.slug());
        }
        if let Some(v) = &h.views {
            parts.push(if v.is_empty() {
                "no-view".to_string()
            } else {
                v.iter().map(View::slug).collect::<Vec<_>>().join("+")
            });
        }
        if let Some(o) = h.occupancy {
            parts.push(format!("for-{o}"));
        }
        parts.join(" ")
    }

    #[rstest]
    #[case("hotelbeds", "DBL.SU", Some("superior double"))]
    #[case("hotelbeds", "TWN.ST", Some("standard twin"))]
    #[case("hotelbeds", "KNG.DX", Some("deluxe king"))]
    #[case("hotelbeds", "QUE.JS", Some("junior-suite queen"))]
    #[case("hotelbeds", "KNG.SU2", Some("suite king"))]
    #[case("hotelbeds", "DBT.ST", Some("standard double-or-twin"))]
    #[case("hotelbeds", "DBL.ST-VM", Some("standard double sea"))]
    #[case("hotelbeds", "TPL.ST", Some("standard for-3"))]
    #[case("hotelbeds", "JSU.ST", Some("junior-suite standard"))]
    #[case("hotelbeds", "XYZ.ST", None)]
    #[case("hotelbeds", "DBLST", None)]
    #[case("derbysoft", "SUP-DBL-SV", Some("superior double sea"))]
    #[case("derbysoft", "JUN-QUE-GV", Some("junior-suite queen garden"))]
    #[case("derbysoft", "STA-TWN", Some("standard twin"))]
    #[case("derbysoft", "SUP-DBL-XX", None)]
    #[case("derbysoft", "K1", None)]
    #[case("ota-soap", "DSS0", Some("double sea"))]
    #[case("ota-soap", "KJN3", Some("junior-suite king no-view"))]
    #[case("ota-soap", "TDG12", Some("deluxe twin garden"))]
    #[case("ota-soap", "DSX0", None)]
    #[case("expedia-rapid", "5300", None)]
    #[case("dida", "88001", None)]
    fn codes_read_per_supplier(
        #[case] supplier: &str,
        #[case] code: &str,
        #[case] want: Option<&str>,
    ) {
        assert_eq!(parse(supplier, code).as_ref().map(slug).as_deref(), want);
    }

    #[test]
    fn the_ota_class_letter_s_is_ambiguous() {
        let h = parse("ota-soap", "KSN2").expect("fits the scheme");
        assert!(h.classes.is_empty());
        assert_eq!(h.class_any_of.len(), 3);
    }
}
