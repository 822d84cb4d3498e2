//! The one place where failures become HTTP statuses and Docker's
//! `{"message": "..."}` bodies.

use hyper::StatusCode;

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<engine::Error> for ApiError {
    fn from(e: engine::Error) -> Self {
        use engine::Error as E;
        let status = match &e {
            E::NotFound(_) => StatusCode::NOT_FOUND,
            E::Conflict(_) => StatusCode::CONFLICT,
            E::InvalidArgument(_) => StatusCode::BAD_REQUEST,
            E::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            // Docker answers a failed start with 400 and the runtime's message.
            E::Shim(..) => StatusCode::BAD_REQUEST,
            E::NotModified(_) => StatusCode::NOT_MODIFIED,
        };
        Self::new(status, e.to_string())
    }
}

impl From<image::StoreError> for ApiError {
    fn from(e: image::StoreError) -> Self {
        engine::Error::from(e).into()
    }
}
