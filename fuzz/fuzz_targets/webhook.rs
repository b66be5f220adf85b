//! The ARI webhook verifier and event parser (filters/src/webhook.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    arigate_fuzz::check("webhook", arigate_filters::fuzz::webhook(data));
});
