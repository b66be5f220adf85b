//! `expedia_rapid` connector (stub until implemented): see `shared/protocols/`.

use crate::*;

pub struct ExpediaRapid {
    #[allow(dead_code)]
    credentials: Credentials,
}

impl ExpediaRapid {
    pub fn new(credentials: Credentials) -> Self {
        ExpediaRapid { credentials }
    }
}

impl Connector for ExpediaRapid {
    fn protocol(&self) -> Protocol {
        Protocol::ExpediaRapid
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
