//! `derbysoft` connector (stub until implemented): see `shared/protocols/`.

use crate::*;

pub struct Derbysoft {
    #[allow(dead_code)]
    credentials: Credentials,
}

impl Derbysoft {
    pub fn new(credentials: Credentials) -> Self {
        Derbysoft { credentials }
    }
}

impl Connector for Derbysoft {
    fn protocol(&self) -> Protocol {
        Protocol::Derbysoft
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
