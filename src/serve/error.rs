//! The one error type of the HTTP API: each variant maps to a status, with a JSON body
//! `{"error": message, "position": byte}`; a 500 says nothing internal.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::Chain;
use crate::query::QueryError;

#[derive(Debug)]
pub enum ApiError {
    /// A parameter or the query text is wrong; `position` is a byte offset in the query.
    BadRequest {
        message: String,
        position: Option<usize>,
    },
    NotFound(String),
    Unauthorized,
    /// The query ran longer than the server allows.
    Timeout,
    /// The request body is over the limit, in bytes.
    TooLarge(usize),
    /// The request body did not arrive within the time allowed.
    SlowBody(std::time::Duration),
    /// Something broke on the server; logged, not shown.
    Internal(String),
}

impl ApiError {
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            message: message.into(),
            position: None,
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(err: QueryError) -> Self {
        match err {
            QueryError::Syntax { message, position } => ApiError::BadRequest { message, position },
            QueryError::BadParameter(message) => ApiError::BadRequest {
                message,
                position: None,
            },
            QueryError::Index(err) => ApiError::Internal(Chain(&err).to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::BadRequest { message, position } => (
                StatusCode::BAD_REQUEST,
                json!({"error": message, "position": position}),
            ),
            ApiError::NotFound(message) => (StatusCode::NOT_FOUND, json!({"error": message})),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                json!({"error": "authentication required"}),
            ),
            ApiError::TooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": format!("request bodies are limited to {limit} bytes")}),
            ),
            ApiError::SlowBody(limit) => (
                StatusCode::REQUEST_TIMEOUT,
                json!({"error": format!("the request body must arrive within {} s", limit.as_secs())}),
            ),
            ApiError::Timeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "the query took too long; narrow it down"}),
            ),
            ApiError::Internal(message) => {
                tracing::error!(error = %message, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": "internal error"}),
                )
            }
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"stackfold\", charset=\"UTF-8\""),
            );
        }
        response
    }
}
