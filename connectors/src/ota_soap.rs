//! `ota_soap` connector (stub until implemented): see `shared/protocols/`.

use crate::*;

pub struct OtaSoap {
    #[allow(dead_code)]
    credentials: Credentials,
}

impl OtaSoap {
    pub fn new(credentials: Credentials) -> Self {
        OtaSoap { credentials }
    }
}

impl Connector for OtaSoap {
    fn protocol(&self) -> Protocol {
        Protocol::OtaSoap
    }
    fn build(&self, _call: &Call, _cx: &CallContext<'_>) -> SupplierResult<WireRequest> {
        Err(SupplierError::invalid("not implemented"))
    }
    fn parse(&self, _call: &Call, _resp: &WireResponse) -> SupplierResult<Reply> {
        Err(SupplierError::malformed("not implemented"))
    }
    fn book_prelude(&self, _offer: &OfferKey) -> BookPrelude {
        BookPrelude::None
    }
}
