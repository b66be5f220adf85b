//! The agent request bodies of /v1/search, /v1/availability and /v1/bookings
//! (filters/src/agent_input.rs).
#![no_main]

use arigate_filters::fuzz::AgentInputFixture;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static FIXTURE: OnceLock<AgentInputFixture> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let fixture = FIXTURE.get_or_init(AgentInputFixture::default);
    arigate_fuzz::check("agent_input", arigate_filters::fuzz::agent_input(fixture, data));
});
