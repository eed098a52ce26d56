//! The daemon's errors: every one is answered as JSON `{"kind": ..., "message": ...}` with
//! the status code that says whose fault it is.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::library::LibraryError;
use crate::runtime::RuntimeError;

/// The body of every error the API answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable class: `bad_request`, `unauthorized`, `forbidden`,
    /// `not_found`, `conflict`, `busy`, `payload_too_large`, `quota_exceeded`,
    /// `unavailable`, `internal`, or a rejection of `skills add` (`tests_failed`,
    /// `capability_not_allowed`, ...).
    pub kind: String,
    /// What went wrong and what to do about it, for a person.
    pub message: String,
    /// Details of a rejected skill (its test report), when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
}

/// An error of a request: a status code and an [`ErrorBody`].
#[derive(Debug, thiserror::Error)]
#[error("{status} {kind}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body's `kind`.
    pub kind: String,
    /// The body's `message`.
    pub message: String,
    /// The body's `report`.
    pub report: Option<Box<serde_json::Value>>,
}

impl ApiError {
    /// An error of `status` and `kind`.
    pub fn new(status: StatusCode, kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            kind: kind.into(),
            message: message.into(),
            report: None,
        }
    }

    /// 400: the request cannot be used as sent.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404: what the request names does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 403: the caller's token does not cover this namespace.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 409: the daemon is doing something that excludes this request now.
    pub fn busy(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "busy", message)
    }

    /// 429: a namespace's quota is used up.
    pub fn quota(message: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", message)
    }

    /// 503: a part the request needs is not there (no language model configured, shutting
    /// down).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 500: the daemon failed; the message is logged and returned.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        let message = error.to_string();
        tracing::error!("internal error: {message}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            kind: self.kind,
            message: self.message,
            report: self.report.map(|r| *r),
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<LibraryError> for ApiError {
    /// A rejected skill is 422 with its rejection kind (and test report); an unknown skill
    /// 404; a library that cannot take writes now 409; anything else 500.
    fn from(error: LibraryError) -> Self {
        if let Some(kind) = error.rejection_kind() {
            let report = match &error {
                LibraryError::TestsFailed { report, .. }
                | LibraryError::DependentRegression { report, .. } => {
                    serde_json::to_value(report).ok().map(Box::new)
                }
                _ => None,
            };
            return ApiError {
                report,
                ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, kind, error.to_string())
            };
        }
        match error {
            LibraryError::NotFound(name) => ApiError::not_found(format!(
                "no skill {name}; GET /v1/search?q=... finds skills by what they do"
            )),
            LibraryError::ReadOnly { .. } | LibraryError::Busy { .. } => {
                ApiError::new(StatusCode::CONFLICT, "conflict", error.to_string())
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<RuntimeError> for ApiError {
    /// A request the caller can fix is 400 (an unknown skill 404, a rejected skill 422, as
    /// for the library); a model that cannot be reached or a stopped job 503; else 500.
    fn from(error: RuntimeError) -> Self {
        match error {
            RuntimeError::Library(error) => error.into(),
            RuntimeError::Task(_) | RuntimeError::BadRequest(_) => {
                ApiError::bad_request(error.to_string())
            }
            RuntimeError::Model(_) | RuntimeError::Stopped => {
                ApiError::unavailable(error.to_string())
            }
            RuntimeError::Busy => {
                ApiError::busy(format!("{error} (DELETE /v1/run stops the loop)"))
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<JsonRejection> for ApiError {
    /// A body that is too large is 413; one that is not the JSON expected is 400 (415 without
    /// a JSON content type).
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let kind = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            _ => "bad_request",
        };
        ApiError::new(status, kind, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request(rejection.body_text())
    }
}
