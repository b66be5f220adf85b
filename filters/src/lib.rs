//! Cross-cutting edge policies the proxy phases call into, each in its own module and free of I/O:
//! agent authentication ([`agent_auth`]), the signed `offer_id` / `booking_id` tokens that let the
//! edge route transactional calls statelessly ([`tokens`]), `Idempotency-Key` semantics for
//! bookings ([`idempotency`]), supplier ARI webhook verification ([`webhook`]), per-agent request
//! rates ([`rate_limit`]) and supplier circuit breakers and concurrency caps ([`circuit`]).
#![forbid(unsafe_code)]

pub mod agent_auth;
pub mod agent_input;
pub mod cache_policy;
pub mod circuit;
pub mod fuzz;
pub mod idempotency;
pub mod rate_limit;
pub mod rooms;
pub mod tokens;
pub mod webhook;
