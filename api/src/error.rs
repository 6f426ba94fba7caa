//! One error type for every handler: an RFC 9457 problem document
//! (`application/problem+json`) with a message a person can act on.
//! Internal details are logged, never sent.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A short, stable identifier of the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What went wrong and what to do about it.
    pub detail: String,
    /// For denied orders: the reason code (e.g. `insufficient_cash`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For denied orders: the recorded order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<serde_json::Value>,
}

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    NotFound(String),
    #[error("missing or invalid API key: send `Authorization: Bearer <key>`")]
    Unauthorized,
    #[error("this endpoint needs the admin key")]
    Forbidden,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// An order the market refused: recorded, and reported with its reason.
    #[error("order denied: {detail}")]
    Denied {
        reason: String,
        detail: String,
        order: serde_json::Value,
    },
    /// 403 with a detail: refused by a configured bound.
    #[error("{0}")]
    Refused(String),
    /// 408: the client was too slow sending its request.
    #[error("{0}")]
    RequestTimeout(String),
    /// 429: too many requests or streams; retry after the given seconds.
    #[error("{detail}")]
    TooMany { detail: String, retry_after: u64 },
    /// 503: the detail says what is unavailable and what to do.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable(_) | ApiError::Denied { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Refused(_) => StatusCode::FORBIDDEN,
            ApiError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unprocessable(_) => "invalid_input",
            ApiError::NotFound(_) => "not_found",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden => "forbidden",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Denied { .. } => "order_denied",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::Refused(_) => "refused",
            ApiError::TooMany { .. } => "too_many_requests",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<actors::ActorError> for ApiError {
    fn from(e: actors::ActorError) -> Self {
        tracing::warn!(error = %e, "actor call failed");
        ApiError::Unavailable("the market is temporarily unavailable; retry shortly".into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            ApiError::Unavailable(inner) => {
                tracing::warn!(error = %inner, "request refused: unavailable");
                inner.clone()
            }
            ApiError::Internal(inner) => {
                tracing::error!(error = %inner, "request failed");
                self.to_string()
            }
            other => other.to_string(),
        };
        let (reason, order) = match &self {
            ApiError::Denied { reason, order, .. } => (Some(reason.clone()), Some(order.clone())),
            _ => (None, None),
        };
        let body = Problem {
            kind: self.kind().to_string(),
            title: status.canonical_reason().unwrap_or("error").to_string(),
            status: status.as_u16(),
            detail,
            reason,
            order,
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut r = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            json,
        )
            .into_response();
        if let ApiError::TooMany { retry_after, .. } = self {
            r.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(retry_after.max(1)),
            );
        }
        r
    }
}
