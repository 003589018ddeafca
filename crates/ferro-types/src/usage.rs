//! Token usage as upstreams report it, normalised for pricing.

use serde::Deserialize;

/// Normalised token counts of one response. `prompt` includes cached tokens
/// (OpenAI semantics); `completion` includes reasoning tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenCounts {
    pub prompt: u64,
    pub completion: u64,
    pub total: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub reasoning: u64,
}

#[derive(Deserialize, Default)]
struct Details {
    #[serde(default)]
    cached_tokens: Option<u64>,
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
struct RawUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    total_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<Details>,
    #[serde(default)]
    completion_tokens_details: Option<Details>,
    // Ferro / Go-gateway extras (already normalised by a translating provider).
    #[serde(default)]
    cache_read_tokens: Option<u64>,
    #[serde(default)]
    cache_write_tokens: Option<u64>,
    #[serde(default)]
    reasoning_tokens: Option<u64>,
    // Responses-API spellings.
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
}

impl TokenCounts {
    /// Parses an OpenAI-style `usage` object. Unknown fields are ignored; a
    /// malformed object yields `None`.
    pub fn from_usage_json(raw: &str) -> Option<TokenCounts> {
        let u: RawUsage = serde_json::from_str(raw).ok()?;
        let prompt = u.prompt_tokens.or(u.input_tokens).unwrap_or(0);
        let completion = u.completion_tokens.or(u.output_tokens).unwrap_or(0);
        let cache_read = u
            .cache_read_tokens
            .or_else(|| {
                u.prompt_tokens_details
                    .as_ref()
                    .and_then(|d| d.cached_tokens)
            })
            .unwrap_or(0);
        let reasoning = u
            .reasoning_tokens
            .or_else(|| {
                u.completion_tokens_details
                    .as_ref()
                    .and_then(|d| d.reasoning_tokens)
            })
            .unwrap_or(0);
        Some(TokenCounts {
            prompt,
            completion,
            total: u.total_tokens.unwrap_or(prompt + completion),
            cache_read,
            cache_write: u.cache_write_tokens.unwrap_or(0),
            reasoning,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_openai_details() {
        let t = TokenCounts::from_usage_json(
            r#"{"prompt_tokens":100,"completion_tokens":50,"total_tokens":150,
                "prompt_tokens_details":{"cached_tokens":40},
                "completion_tokens_details":{"reasoning_tokens":20}}"#,
        )
        .unwrap_or_default();
        assert_eq!(t.prompt, 100);
        assert_eq!(t.cache_read, 40);
        assert_eq!(t.reasoning, 20);
        assert_eq!(t.total, 150);
    }

    #[test]
    fn embeddings_usage_has_no_completion() {
        let t = TokenCounts::from_usage_json(r#"{"prompt_tokens":8,"total_tokens":8}"#)
            .unwrap_or_default();
        assert_eq!((t.prompt, t.completion, t.total), (8, 0, 8));
        assert!(TokenCounts::from_usage_json("null").is_none());
    }
}
