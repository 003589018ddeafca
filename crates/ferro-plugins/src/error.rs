//! Verdicts and failures, and their one mapping to the OpenAI error envelope
//! (CONTRACT §3.2).

use crate::Stage;
use ferro_types::{ApiError, ErrorType};

/// A deliberate denial: the plugin reached a verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Deny {
    /// Content policy: 400 `request_rejected` before, 502 `response_rejected` after.
    Policy(String),
    /// Rate limit: 429 `rate_limit_exceeded` with `Retry-After` (seconds, ≥ 1).
    RateLimited {
        /// Why, for the message.
        reason: String,
        /// Seconds until a retry can succeed.
        retry_after: u64,
    },
    /// Spend limit: 402 `insufficient_quota`, no `Retry-After`.
    Quota(String),
}

/// What a hook returns when it does not let the request through.
#[derive(Debug, Clone, PartialEq)]
pub enum PluginError {
    /// A verdict; always honoured, whatever the plugin's type.
    Deny(Deny),
    /// The plugin broke; fails open or closed by its type.
    Failed(String),
}

impl PluginError {
    /// A content-policy denial.
    pub fn policy(reason: impl Into<String>) -> Self {
        PluginError::Deny(Deny::Policy(reason.into()))
    }
}

/// A denial or a fail-closed failure, attributed to its plugin and stage.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainError {
    /// The plugin's name.
    pub plugin: &'static str,
    /// Where it happened.
    pub stage: Stage,
    /// What happened.
    pub error: PluginError,
}

impl ChainError {
    /// The gateway's error for this (CONTRACT §3.2).
    pub fn to_api_error(&self) -> ApiError {
        let (plugin, stage) = (self.plugin, self.stage.as_str());
        match &self.error {
            PluginError::Failed(_) => ApiError::new(
                500,
                ErrorType::ServerError,
                "plugin_error",
                format!("plugin {plugin} failed ({stage})"),
            ),
            PluginError::Deny(Deny::RateLimited {
                reason,
                retry_after,
            }) => ApiError::new(
                429,
                ErrorType::RateLimitError,
                "rate_limit_exceeded",
                format!("request rejected by {plugin} ({stage}): {reason}"),
            )
            .with_retry_after((*retry_after).max(1)),
            PluginError::Deny(Deny::Quota(reason)) => ApiError::new(
                402,
                ErrorType::InsufficientQuota,
                "insufficient_quota",
                format!("request rejected by {plugin} ({stage}): {reason}"),
            ),
            PluginError::Deny(Deny::Policy(reason)) => match self.stage {
                Stage::AfterRequest => ApiError::new(
                    502,
                    ErrorType::UpstreamError,
                    "response_rejected",
                    format!("response rejected by {plugin} ({stage}): {reason}"),
                ),
                _ => ApiError::new(
                    400,
                    ErrorType::InvalidRequestError,
                    "request_rejected",
                    format!("request rejected by {plugin} ({stage}): {reason}"),
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(stage: Stage, e: PluginError) -> ApiError {
        ChainError {
            plugin: "p",
            stage,
            error: e,
        }
        .to_api_error()
    }

    #[test]
    fn mapping_follows_the_contract() {
        let e = err(Stage::BeforeRequest, PluginError::policy("blocked"));
        assert_eq!((e.status, &*e.code), (400, "request_rejected"));
        assert_eq!(
            &*e.message,
            "request rejected by p (before_request): blocked"
        );
        let e = err(Stage::AfterRequest, PluginError::policy("x"));
        assert_eq!((e.status, &*e.code), (502, "response_rejected"));
        let e = err(
            Stage::BeforeRequest,
            PluginError::Deny(Deny::RateLimited {
                reason: "r".into(),
                retry_after: 0,
            }),
        );
        assert_eq!((e.status, e.retry_after), (429, Some(1)));
        let e = err(
            Stage::BeforeRequest,
            PluginError::Deny(Deny::Quota("q".into())),
        );
        assert_eq!(
            (e.status, &*e.code, e.retry_after),
            (402, "insufficient_quota", None)
        );
        let e = err(
            Stage::BeforeRequest,
            PluginError::Failed("secret detail".into()),
        );
        assert_eq!((e.status, &*e.code), (500, "plugin_error"));
        assert!(!e.message.contains("secret"));
    }
}
