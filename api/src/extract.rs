//! Extractors whose rejections are problem documents: malformed JSON, wrong
//! types, unknown fields, oversized bodies and bad query strings all answer
//! 4xx with a message, never axum's plain-text defaults.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// JSON body.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(r) => Err(json_rejection(r)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    let text = r.body_text();
    match r {
        JsonRejection::JsonDataError(_) => {
            ApiError::Unprocessable(format!("the JSON body does not fit: {}", strip(&text)))
        }
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::BadRequest(format!("malformed JSON: {}", strip(&text)))
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
            "send the body as JSON with `Content-Type: application/json`".into(),
        ),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(
            format!("the body is larger than {} bytes", crate::BODY_LIMIT),
        ),
        other => ApiError::BadRequest(other.body_text()),
    }
}

/// Drop axum's generic prefixes, keep serde's precise message.
fn strip(s: &str) -> String {
    let s = s
        .strip_prefix("Failed to deserialize the JSON body into the target type: ")
        .unwrap_or(s);
    let s = s
        .strip_prefix("Failed to parse the request body as JSON: ")
        .unwrap_or(s);
    s.to_string()
}

/// Query string.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(ApiError::BadRequest(format!(
                    "bad query string: {}",
                    e.body_text()
                        .trim_start_matches("Failed to deserialize query string: ")
                )))
            }
            Err(e) => Err(ApiError::BadRequest(e.body_text())),
        }
    }
}

/// Path parameters.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(e) => Err(ApiError::NotFound(format!(
                "no such resource: {}",
                e.body_text()
            ))),
        }
    }
}
