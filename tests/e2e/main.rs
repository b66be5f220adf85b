//! End-to-end tests: the real `arigate` binary against the five simulated suppliers over HTTP.

mod answers;
mod cache;
mod chaos;
mod cluster;
mod demo;
mod foundation;
mod harness;
mod hostile_input;
mod hostile_suppliers;
mod hygiene;
mod limits;
mod openapi;
mod operations;
mod ops;
mod prices;
mod rawhttp;
mod rooms;
mod traces;
