//! The offer_id / booking_id token decoder (filters/src/tokens.rs), raw and past the signature.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    arigate_fuzz::check("tokens", arigate_filters::fuzz::tokens(data));
});
