//! `dida` connector (stub until implemented): see `shared/protocols/`.

use crate::*;

pub struct Dida {
    #[allow(dead_code)]
    credentials: Credentials,
}

impl Dida {
    pub fn new(credentials: Credentials) -> Self {
        Dida { credentials }
    }
}

impl Connector for Dida {
    fn protocol(&self) -> Protocol {
        Protocol::Dida
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
