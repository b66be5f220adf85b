//! Agent-facing errors: the one place where error classes become HTTP statuses (DESIGN §4).

use arigate_connectors::{ErrorClass, SupplierError};
use serde_json::json;

/// An error answered to an agent as `{"error":{"code","message","trace_id"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub retry_after: Option<u64>,
    /// `WWW-Authenticate` of a 401 (RFC 9110 §11.6.1, RFC 6750 §3).
    pub challenge: Option<&'static str>,
    /// The connection closes after the answer (the request's framing cannot be trusted).
    pub close: bool,
}

impl ApiError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            retry_after: None,
            challenge: None,
            close: false,
        }
    }

    /// The same error with a `WWW-Authenticate` challenge.
    pub fn with_challenge(mut self, challenge: &'static str) -> ApiError {
        self.challenge = Some(challenge);
        self
    }

    /// The same error, closing the connection after it is answered.
    pub fn closing(mut self) -> ApiError {
        self.close = true;
        self
    }

    /// Whether the connection closes after this answer: when the error says so, and for the
    /// statuses after which what the client sends next cannot be trusted or served (a timeout,
    /// a body or head over its bound, an overloaded or refusing edge).
    pub fn closes_connection(&self) -> bool {
        self.close || matches!(self.status, 408 | 413 | 414 | 431 | 503)
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "invalid_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "not_found", message)
    }

    pub fn body(&self, trace_id: &str) -> Vec<u8> {
        json!({"error": {"code": self.code, "message": self.message, "trace_id": trace_id}})
            .to_string()
            .into_bytes()
    }
}

/// A refused request body, as the agent input rules worded it.
impl From<arigate_filters::agent_input::InputError> for ApiError {
    fn from(e: arigate_filters::agent_input::InputError) -> ApiError {
        ApiError::new(e.status, e.code, e.message)
    }
}

/// How a supplier failure reaches the agent.
impl From<SupplierError> for ApiError {
    fn from(e: SupplierError) -> ApiError {
        // Refused before it was sent: the supplier's circuit is open or its cap is reached.
        if e.class == ErrorClass::RateLimited
            && matches!(
                e.code.as_str(),
                crate::supplier_calls::CIRCUIT_OPEN
                    | crate::supplier_calls::CONCURRENCY_LIMITED
                    | crate::supplier_calls::RATE_CAPPED
            )
        {
            return ApiError {
                status: 503,
                code: e.code.clone(),
                message: e.message,
                retry_after: Some(1),
                challenge: None,
                close: false,
            };
        }
        let status = match e.class {
            ErrorClass::NotFound => 404,
            ErrorClass::SoldOut | ErrorClass::PriceChanged => 409,
            ErrorClass::RateExpired => 410,
            ErrorClass::RateLimited => 503,
            ErrorClass::SupplierTimeout => 504,
            ErrorClass::InvalidRequest
            | ErrorClass::AuthFailed
            | ErrorClass::SupplierUnavailable
            | ErrorClass::SupplierMalformed
            | ErrorClass::BookingUnknown => 502,
        };
        let mut message = format!("supplier: {}", e.message);
        if !e.code.is_empty() {
            message.push_str(&format!(" (supplier code {})", e.code));
        }
        ApiError {
            status,
            code: e.class.as_str().to_string(),
            message,
            retry_after: (e.class == ErrorClass::RateLimited).then_some(1),
            challenge: None,
            close: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_a_fitting_status() {
        let cases = [
            (ErrorClass::InvalidRequest, 502),
            (ErrorClass::AuthFailed, 502),
            (ErrorClass::RateLimited, 503),
            (ErrorClass::NotFound, 404),
            (ErrorClass::SoldOut, 409),
            (ErrorClass::PriceChanged, 409),
            (ErrorClass::RateExpired, 410),
            (ErrorClass::SupplierTimeout, 504),
            (ErrorClass::SupplierUnavailable, 502),
            (ErrorClass::SupplierMalformed, 502),
        ];
        for (class, status) in cases {
            let e = ApiError::from(SupplierError::new(class, "X1", "m"));
            assert_eq!((e.status, e.code.as_str()), (status, class.as_str()));
        }
        assert_eq!(
            ApiError::from(SupplierError::new(ErrorClass::RateLimited, "", "")).retry_after,
            Some(1)
        );
    }
}
