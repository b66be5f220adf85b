//! What the fuzz targets share: each input goes through the same entry the corpus replay tests
//! use (`arigate_connectors::fuzz`, `arigate_filters::fuzz`); a violation is a crash.

use arigate_connectors::fuzz::Harness;
use arigate_connectors::Protocol;
use std::sync::OnceLock;

/// Reads `data` as a supplier answer to one of the recorded calls in `calls_json`.
pub fn connector(cell: &OnceLock<Harness>, protocol: Protocol, calls_json: &str, data: &[u8]) {
    let harness = cell.get_or_init(|| match Harness::from_json(protocol, calls_json) {
        Ok(h) => h,
        Err(e) => panic!("fuzz/calls for {protocol}: {e}"),
    });
    if let Err(v) = harness.run(data) {
        panic!("{protocol}: {v}");
    }
}

/// Fails the run on a violation.
pub fn check<T, E: std::fmt::Display>(what: &str, result: Result<T, E>) {
    if let Err(v) = result {
        panic!("{what}: {v}");
    }
}
