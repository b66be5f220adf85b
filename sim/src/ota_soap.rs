//! `ota_soap` simulator (stub until implemented): see `shared/protocols/`.

use crate::*;

pub struct OtaSoap;

impl Supplier for OtaSoap {
    fn route(&self, _req: &SimRequest) -> Option<Route> {
        None
    }
    fn handle(
        &self,
        _state: &SimState,
        _route: &Route,
        _req: &SimRequest,
        _scenario: &Scenario,
    ) -> SimResponse {
        SimResponse::json(501, &serde_json::json!({"error": "not implemented"}))
    }
    fn error_response(
        &self,
        _state: &SimState,
        _route: &Route,
        _req: &SimRequest,
        _kind: ErrorKind,
    ) -> SimResponse {
        SimResponse::json(500, &serde_json::json!({"error": "not implemented"}))
    }
}
