//! Test helpers shared by the connectors' table-driven tests.

use crate::error::ErrorClass;
use crate::model::Call;
use crate::{Connector, WireResponse};

/// Parses every prefix of every fixture (`(name, bytes)`) as the answer to every call, in 200:
/// each prefix short of the whole document (trailing whitespace aside) must be a classified
/// error, never a reply made of what was there, nor a panic: `supplier_malformed`, or `book` for
/// a book call (`supplier_malformed` or `booking_unknown`: either way the proxy holds the
/// booking's outcome unknown).
pub(crate) fn assert_truncations_classified(
    c: &dyn Connector,
    calls: &[Call],
    fixtures: &[(&str, &[u8])],
    book: ErrorClass,
) {
    let mut wrong = Vec::new();
    for (name, body) in fixtures {
        for end in 0..body.len() {
            let cut = &body[..end];
            if cut.trim_ascii_end() == body.trim_ascii_end() {
                continue;
            }
            for call in calls {
                let got = c.parse(call, &WireResponse::new(200, cut.to_vec()));
                let want = match call {
                    Call::Book { .. } => book,
                    _ => ErrorClass::SupplierMalformed,
                };
                match got {
                    Err(e) if e.class == want => {}
                    other => wrong.push(format!(
                        "{name} as {}: {:?}, want {want:?}",
                        call.op(),
                        other.map(|_| "a reply").map_err(|e| e.class)
                    )),
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} truncated answers misclassified:\n{}",
        wrong.len(),
        {
            let mut kinds: Vec<String> = wrong.clone();
            kinds.sort();
            kinds.dedup();
            kinds.join("\n")
        }
    );
}
