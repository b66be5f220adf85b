//! `hotelbeds` connector (stub until implemented): see `shared/protocols/`.

use crate::*;

pub struct Hotelbeds {
    #[allow(dead_code)]
    credentials: Credentials,
}

impl Hotelbeds {
    pub fn new(credentials: Credentials) -> Self {
        Hotelbeds { credentials }
    }
}

impl Connector for Hotelbeds {
    fn protocol(&self) -> Protocol {
        Protocol::Hotelbeds
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
