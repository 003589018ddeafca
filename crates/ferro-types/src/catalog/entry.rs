//! One catalog entry and its parts, as the catalog JSON spells them. Shared
//! with `build.rs`, which reads the embedded snapshot through these same types
//! (so the compiled-in tables hold exactly what parsing at run time would).

use serde::{Deserialize, Serialize};

/// Prices in USD per million tokens (or per tile / minute / character); `None` = unknown.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pricing {
    #[serde(default)]
    pub input_per_m_tokens: Option<f64>,
    #[serde(default)]
    pub output_per_m_tokens: Option<f64>,
    #[serde(default)]
    pub cache_read_per_m_tokens: Option<f64>,
    #[serde(default)]
    pub cache_write_per_m_tokens: Option<f64>,
    #[serde(default)]
    pub reasoning_per_m_tokens: Option<f64>,
    #[serde(default)]
    pub image_per_tile: Option<f64>,
    #[serde(default)]
    pub audio_input_per_minute: Option<f64>,
    #[serde(default)]
    pub audio_output_per_character: Option<f64>,
    #[serde(default)]
    pub embedding_per_m_tokens: Option<f64>,
    #[serde(default)]
    pub finetune_train_per_m_tokens: Option<f64>,
    #[serde(default)]
    pub finetune_input_per_m_tokens: Option<f64>,
    #[serde(default)]
    pub finetune_output_per_m_tokens: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    #[serde(default)]
    pub vision: bool,
    #[serde(default)]
    pub audio_input: bool,
    #[serde(default)]
    pub audio_output: bool,
    #[serde(default)]
    pub function_calling: bool,
    #[serde(default)]
    pub parallel_tool_calls: bool,
    #[serde(default)]
    pub json_mode: bool,
    #[serde(default)]
    pub response_schema: bool,
    #[serde(default)]
    pub prompt_caching: bool,
    #[serde(default)]
    pub reasoning: bool,
    #[serde(default)]
    pub streaming: bool,
    #[serde(default)]
    pub finetuneable: bool,
}

impl Capabilities {
    /// The enabled capability names, in the order of CONTRACT §8.1.
    pub fn names(&self) -> Vec<&'static str> {
        let all = [
            (self.vision, "vision"),
            (self.function_calling, "function_calling"),
            (self.parallel_tool_calls, "parallel_tool_calls"),
            (self.json_mode, "json_mode"),
            (self.response_schema, "response_schema"),
            (self.streaming, "streaming"),
            (self.prompt_caching, "prompt_caching"),
            (self.reasoning, "reasoning"),
            (self.audio_input, "audio_input"),
            (self.audio_output, "audio_output"),
            (self.finetuneable, "finetuneable"),
        ];
        all.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub deprecation_date: Option<String>,
    #[serde(default)]
    pub sunset_date: Option<String>,
    #[serde(default)]
    pub successor: Option<String>,
}

/// One catalog entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    pub provider: String,
    pub model_id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub context_window: Option<u64>,
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    #[serde(default)]
    pub pricing: Pricing,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default)]
    pub lifecycle: Lifecycle,
    #[serde(default)]
    pub tier: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

impl ModelEntry {
    pub fn is_deprecated(&self) -> bool {
        matches!(
            self.lifecycle.status.as_deref(),
            Some("deprecated") | Some("legacy")
        )
    }
}
