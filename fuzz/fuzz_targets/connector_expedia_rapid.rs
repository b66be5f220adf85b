//! The expedia_rapid connector's response parser: one supplier answer per input (fuzz/README.md).
#![no_main]

use arigate_connectors::fuzz::Harness;
use arigate_connectors::Protocol;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static HARNESS: OnceLock<Harness> = OnceLock::new();
const CALLS: &str = include_str!("../calls/connector_expedia_rapid.json");

fuzz_target!(|data: &[u8]| {
    arigate_fuzz::connector(&HARNESS, Protocol::ExpediaRapid, CALLS, data);
});
