//! Unified supplier error classes (`shared/protocols/README.md`, "Unified error classes").
//!
//! Every connector maps every supplier failure to exactly one [`ErrorClass`]; the agent API turns
//! classes into HTTP statuses in exactly one place (`proxy/src/errors.rs`).

use serde::{Deserialize, Serialize};

/// One class per kind of supplier failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The supplier rejected our request as malformed.
    InvalidRequest,
    /// Credentials or signature rejected.
    AuthFailed,
    /// Supplier quota hit.
    RateLimited,
    /// Unknown booking or hotel.
    NotFound,
    /// No longer available.
    SoldOut,
    /// Price differs from the quoted one.
    PriceChanged,
    /// Offer or rate key too old or already used.
    RateExpired,
    /// No answer within our timeout.
    SupplierTimeout,
    /// 5xx, connection refused or reset.
    SupplierUnavailable,
    /// Unparseable or schema-violating body.
    SupplierMalformed,
    /// The outcome of a book call is not known.
    BookingUnknown,
}

impl ErrorClass {
    /// The snake_case name used in agent errors, spans and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::InvalidRequest => "invalid_request",
            ErrorClass::AuthFailed => "auth_failed",
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::NotFound => "not_found",
            ErrorClass::SoldOut => "sold_out",
            ErrorClass::PriceChanged => "price_changed",
            ErrorClass::RateExpired => "rate_expired",
            ErrorClass::SupplierTimeout => "supplier_timeout",
            ErrorClass::SupplierUnavailable => "supplier_unavailable",
            ErrorClass::SupplierMalformed => "supplier_malformed",
            ErrorClass::BookingUnknown => "booking_unknown",
        }
    }

    /// Whether repeating the same call is safe for an idempotent operation (never for book).
    pub fn retry_safe(self) -> bool {
        matches!(
            self,
            ErrorClass::SupplierTimeout | ErrorClass::SupplierUnavailable | ErrorClass::RateLimited
        )
    }
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A classified supplier failure. `code` is the supplier's own error code (or HTTP status) for
/// integration engineers; `message` never contains credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{class}: {message} (supplier code {code})")]
pub struct SupplierError {
    pub class: ErrorClass,
    pub code: String,
    pub message: String,
}

impl SupplierError {
    pub fn new(class: ErrorClass, code: impl Into<String>, message: impl Into<String>) -> Self {
        SupplierError {
            class,
            code: code.into(),
            message: message.into(),
        }
    }

    /// A body we could not read: truncated, wrong shape, wrong types.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::SupplierMalformed, "", message)
    }

    /// Our own request could not be built from the unified input.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::InvalidRequest, "", message)
    }
}

pub type SupplierResult<T> = Result<T, SupplierError>;

/// Longest `message` a connector hands out, in characters (longer ones end in `…`).
pub const MAX_MESSAGE_CHARS: usize = 300;
/// Longest `code` a connector hands out, in characters.
pub const MAX_CODE_CHARS: usize = 64;

impl SupplierError {
    /// The error as it may leave a connector: supplier text reaches agents, spans and logs, so
    /// control characters become spaces, code and message are clipped, and the credentials (which
    /// a supplier may echo back) are redacted. [`crate::connector_for`] applies it to every error.
    pub fn sanitized(self, credentials: &crate::Credentials) -> SupplierError {
        let clean = |text: &str, max: usize| {
            let s = crate::json_util::blank_and_redact(text, credentials);
            match s.char_indices().nth(max) {
                Some((i, _)) => format!("{}…", &s[..i]),
                None => s,
            }
        };
        SupplierError {
            class: self.class,
            code: clean(&self.code, MAX_CODE_CHARS),
            message: clean(&self.message, MAX_MESSAGE_CHARS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuthMode, Credentials};

    fn credentials() -> Credentials {
        Credentials {
            key: "key-1234".into(),
            secret: "s3cr3t-5678".into(),
            account: None,
            mode: AuthMode::Native,
        }
    }

    /// The inputs fuzzing found (fuzz/regressions/connector_*): a DEL in a Dida message, our key
    /// echoed as a DerbySoft error code, a serde message quoting a whole body.
    #[test]
    fn sanitized_errors_are_printable_short_and_free_of_credentials() {
        let e = SupplierError::new(
            ErrorClass::RateLimited,
            "4058\r\n",
            "Request rate ex\u{7f}eeded",
        )
        .sanitized(&credentials());
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("4058  ", "Request rate ex eeded")
        );
        let e = SupplierError::new(ErrorClass::SoldOut, "Rookey-1234", "s3cr3t-5678 sold out")
            .sanitized(&credentials());
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("Roo<redacted>", "<redacted> sold out")
        );
        let long = "é".repeat(5000);
        let e = SupplierError::malformed(format!("invalid type: string {long:?}"))
            .sanitized(&credentials());
        assert_eq!(e.message.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(e.message.ends_with('…'));
        assert_eq!(e.class, ErrorClass::SupplierMalformed);
    }
}
