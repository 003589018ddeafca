//! The static provider table (CONTRACT §9). OpenAI-compatible vendors are rows,
//! not code: one [`ProviderSpec`] each, served by [`crate::openai_compat`].

/// How a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// OpenAI-compatible HTTP.
    OpenAi,
    /// A bespoke API that needs translation (native-provider issue); not served yet.
    Native,
    /// Ferro's in-process mock provider.
    Mock,
}

/// How credentials are attached upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// A named header carrying the key (`api-key`, `x-api-key`, `x-goog-api-key`).
    Header(&'static str),
    /// No credential.
    None,
}

/// An operation a request performs upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Chat,
    Completions,
    Embeddings,
    Images,
    Moderations,
    Models,
    /// `POST /v1/rerank` (Cohere v2 contract, [`crate::rerank`]).
    Rerank,
}

impl Operation {
    /// Path appended to the API root for OpenAI-wire providers.
    pub fn path(self) -> &'static str {
        match self {
            Operation::Chat => "/chat/completions",
            Operation::Completions => "/completions",
            Operation::Embeddings => "/embeddings",
            Operation::Images => "/images/generations",
            Operation::Moderations => "/moderations",
            Operation::Models => "/models",
            Operation::Rerank => "/rerank",
        }
    }

    /// The surface name used in logs and metrics.
    pub fn surface(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::Completions => "completions",
            Operation::Embeddings => "embeddings",
            Operation::Images => "images",
            Operation::Moderations => "moderations",
            Operation::Models => "models",
            Operation::Rerank => "rerank",
        }
    }
}

/// Surface flags.
pub mod surface {
    pub const CHAT: u16 = 1;
    pub const EMBED: u16 = 1 << 1;
    pub const IMAGES: u16 = 1 << 2;
    pub const MODERATION: u16 = 1 << 3;
    pub const RERANK: u16 = 1 << 4;
    pub const STT: u16 = 1 << 5;
    pub const TTS: u16 = 1 << 6;
    pub const BATCH: u16 = 1 << 7;
    pub const DISCOVERY: u16 = 1 << 8;
    /// `/v1/*` pass-through allowed.
    pub const PROXY: u16 = 1 << 9;
}

use surface::*;

/// One provider type.
#[derive(Debug, PartialEq)]
pub struct ProviderSpec {
    pub id: &'static str,
    pub wire: Wire,
    /// Default API root (no trailing slash). Empty when it is derived from other env vars.
    pub default_root: &'static str,
    pub auth: Auth,
    /// Env var holding the key (empty when the provider needs none).
    pub key_env: &'static str,
    /// Env var overriding the API root per the §7 rule.
    pub base_url_env: Option<&'static str>,
    pub surfaces: u16,
    /// Catalog provider names, in lookup order.
    pub catalog: &'static [&'static str],
    /// Send `max_completion_tokens` instead of `max_tokens`.
    pub promote_max_tokens: bool,
    /// Serves model ids no other provider owns (Ollama).
    pub any_model: bool,
}

impl ProviderSpec {
    pub fn supports(&self, op: Operation) -> bool {
        let flag = match op {
            Operation::Chat | Operation::Completions | Operation::Models => CHAT,
            Operation::Embeddings => EMBED,
            Operation::Images => IMAGES,
            Operation::Moderations => MODERATION,
            Operation::Rerank => RERANK,
        };
        self.surfaces & flag != 0
    }

    pub fn proxiable(&self) -> bool {
        self.wire == Wire::OpenAi && self.surfaces & PROXY != 0
    }
}

macro_rules! oa {
    ($id:literal, $root:literal, $env:literal, $base:expr, $surf:expr, $cat:expr) => {
        ProviderSpec {
            id: $id,
            wire: Wire::OpenAi,
            default_root: $root,
            auth: Auth::Bearer,
            key_env: $env,
            base_url_env: $base,
            surfaces: $surf,
            catalog: $cat,
            promote_max_tokens: false,
            any_model: false,
        }
    };
}

macro_rules! native {
    ($id:literal, $root:literal, $auth:expr, $env:literal, $base:expr, $surf:expr, $cat:expr) => {
        ProviderSpec {
            id: $id,
            wire: Wire::Native,
            default_root: $root,
            auth: $auth,
            key_env: $env,
            base_url_env: $base,
            surfaces: $surf,
            catalog: $cat,
            promote_max_tokens: false,
            any_model: false,
        }
    };
}

/// The built-in provider types, sorted by id, then `mock`.
pub static PROVIDERS: &[ProviderSpec] = &[
    oa!(
        "ai21",
        "https://api.ai21.com/studio/v1",
        "AI21_API_KEY",
        Some("AI21_BASE_URL"),
        CHAT | PROXY,
        &["ai21"]
    ),
    native!(
        "anthropic",
        "https://api.anthropic.com/v1",
        Auth::Header("x-api-key"),
        "ANTHROPIC_API_KEY",
        Some("ANTHROPIC_BASE_URL"),
        CHAT | DISCOVERY,
        &["anthropic"]
    ),
    ProviderSpec {
        auth: Auth::Header("api-key"),
        promote_max_tokens: true,
        ..oa!(
            "azure-foundry",
            "",
            "AZURE_FOUNDRY_API_KEY",
            None,
            CHAT | EMBED,
            &["azure_foundry", "azure"]
        )
    },
    ProviderSpec {
        auth: Auth::Header("api-key"),
        promote_max_tokens: true,
        ..oa!(
            "azure-openai",
            "",
            "AZURE_OPENAI_API_KEY",
            None,
            CHAT | EMBED | IMAGES | STT | TTS | BATCH,
            &["azure_openai", "azure"]
        )
    },
    native!(
        "bedrock",
        "",
        Auth::Bearer,
        "AWS_BEARER_TOKEN_BEDROCK",
        None,
        CHAT | EMBED | IMAGES | RERANK,
        &["bedrock"]
    ),
    ProviderSpec {
        promote_max_tokens: true,
        ..oa!(
            "cerebras",
            "https://api.cerebras.ai/v1",
            "CEREBRAS_API_KEY",
            Some("CEREBRAS_BASE_URL"),
            CHAT | DISCOVERY | PROXY,
            &["cerebras"]
        )
    },
    oa!(
        "cloudflare",
        "",
        "CLOUDFLARE_API_KEY",
        Some("CLOUDFLARE_BASE_URL"),
        CHAT | EMBED | PROXY,
        &["cloudflare"]
    ),
    native!(
        "cohere",
        "https://api.cohere.com",
        Auth::Bearer,
        "COHERE_API_KEY",
        Some("COHERE_BASE_URL"),
        CHAT | EMBED | RERANK,
        &["cohere"]
    ),
    oa!(
        "databricks",
        "",
        "DATABRICKS_TOKEN",
        None,
        CHAT | EMBED | PROXY,
        &["databricks"]
    ),
    oa!(
        "deepinfra",
        "https://api.deepinfra.com/v1/openai",
        "DEEPINFRA_API_KEY",
        Some("DEEPINFRA_BASE_URL"),
        CHAT | EMBED | IMAGES | RERANK | STT | TTS | DISCOVERY | PROXY,
        &["deepinfra"]
    ),
    oa!(
        "deepseek",
        "https://api.deepseek.com/v1",
        "DEEPSEEK_API_KEY",
        Some("DEEPSEEK_BASE_URL"),
        CHAT | DISCOVERY | PROXY,
        &["deepseek"]
    ),
    oa!(
        "fireworks",
        "https://api.fireworks.ai/inference/v1",
        "FIREWORKS_API_KEY",
        Some("FIREWORKS_BASE_URL"),
        CHAT | EMBED | STT | DISCOVERY | PROXY,
        &["fireworks"]
    ),
    native!(
        "gemini",
        "https://generativelanguage.googleapis.com/v1beta",
        Auth::Header("x-goog-api-key"),
        "GEMINI_API_KEY",
        Some("GEMINI_BASE_URL"),
        CHAT | EMBED | IMAGES,
        &["gemini"]
    ),
    ProviderSpec {
        promote_max_tokens: true,
        ..oa!(
            "groq",
            "https://api.groq.com/openai/v1",
            "GROQ_API_KEY",
            Some("GROQ_BASE_URL"),
            CHAT | STT | TTS | BATCH | DISCOVERY | PROXY,
            &["groq"]
        )
    },
    oa!(
        "hugging-face",
        "https://router.huggingface.co/v1",
        "HUGGING_FACE_API_KEY",
        None,
        CHAT | EMBED | IMAGES | DISCOVERY | PROXY,
        &["hugging_face"]
    ),
    oa!(
        "mistral",
        "https://api.mistral.ai/v1",
        "MISTRAL_API_KEY",
        Some("MISTRAL_BASE_URL"),
        CHAT | EMBED | MODERATION | STT | TTS | DISCOVERY | PROXY,
        &["mistral"]
    ),
    oa!(
        "moonshot",
        "https://api.moonshot.ai/v1",
        "MOONSHOT_API_KEY",
        Some("MOONSHOT_BASE_URL"),
        CHAT | DISCOVERY | PROXY,
        &["moonshot"]
    ),
    oa!(
        "novita",
        "https://api.novita.ai/openai/v1",
        "NOVITA_API_KEY",
        Some("NOVITA_BASE_URL"),
        CHAT | EMBED | BATCH | DISCOVERY | PROXY,
        &["novita"]
    ),
    oa!(
        "nvidia-nim",
        "https://integrate.api.nvidia.com/v1",
        "NVIDIA_NIM_API_KEY",
        Some("NVIDIA_NIM_BASE_URL"),
        CHAT | EMBED | RERANK | DISCOVERY | PROXY,
        &["nvidia_nim"]
    ),
    ProviderSpec {
        auth: Auth::None,
        any_model: true,
        ..oa!(
            "ollama",
            "http://localhost:11434/v1",
            "",
            None,
            CHAT | EMBED | DISCOVERY | PROXY,
            &["ollama"]
        )
    },
    oa!(
        "ollama-cloud",
        "https://ollama.com/v1",
        "OLLAMA_API_KEY",
        Some("OLLAMA_CLOUD_BASE_URL"),
        CHAT | EMBED | DISCOVERY,
        &["ollama_cloud"]
    ),
    ProviderSpec {
        promote_max_tokens: true,
        ..oa!(
            "openai",
            "https://api.openai.com/v1",
            "OPENAI_API_KEY",
            Some("OPENAI_BASE_URL"),
            CHAT | EMBED | IMAGES | MODERATION | STT | TTS | BATCH | DISCOVERY | PROXY,
            &["openai"]
        )
    },
    oa!(
        "openrouter",
        "https://openrouter.ai/api/v1",
        "OPENROUTER_API_KEY",
        Some("OPENROUTER_BASE_URL"),
        CHAT | EMBED | DISCOVERY | PROXY,
        &["openrouter"]
    ),
    oa!(
        "perplexity",
        "https://api.perplexity.ai",
        "PERPLEXITY_API_KEY",
        Some("PERPLEXITY_BASE_URL"),
        CHAT | PROXY,
        &["perplexity"]
    ),
    oa!(
        "qwen",
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        "QWEN_API_KEY",
        Some("QWEN_BASE_URL"),
        CHAT | EMBED | BATCH | DISCOVERY | PROXY,
        &["qwen", "dashscope"]
    ),
    native!(
        "replicate",
        "https://api.replicate.com/v1",
        Auth::Bearer,
        "REPLICATE_API_TOKEN",
        Some("REPLICATE_BASE_URL"),
        CHAT | IMAGES,
        &["replicate"]
    ),
    oa!(
        "sambanova",
        "https://api.sambanova.ai/v1",
        "SAMBANOVA_API_KEY",
        Some("SAMBANOVA_BASE_URL"),
        CHAT | EMBED | STT | DISCOVERY | PROXY,
        &["sambanova"]
    ),
    oa!(
        "together",
        "https://api.together.ai/v1",
        "TOGETHER_API_KEY",
        Some("TOGETHER_BASE_URL"),
        CHAT | EMBED | IMAGES | RERANK | STT | TTS | DISCOVERY | PROXY,
        &["together"]
    ),
    native!(
        "vertex-ai",
        "",
        Auth::Header("x-goog-api-key"),
        "VERTEX_AI_API_KEY",
        None,
        CHAT | EMBED | IMAGES,
        &["vertex_ai"]
    ),
    oa!(
        "xai",
        "https://api.x.ai/v1",
        "XAI_API_KEY",
        Some("XAI_BASE_URL"),
        CHAT | IMAGES | DISCOVERY | PROXY,
        &["xai"]
    ),
    ProviderSpec {
        id: "mock",
        wire: Wire::Mock,
        default_root: "",
        auth: Auth::None,
        key_env: "",
        base_url_env: None,
        surfaces: CHAT | EMBED | IMAGES | MODERATION,
        catalog: &[],
        promote_max_tokens: false,
        any_model: true,
    },
];

// `ProviderInstance::mock` relies on `mock` being the last row.
const _: () = assert!(matches!(PROVIDERS[PROVIDERS.len() - 1].wire, Wire::Mock));

/// Looks a provider type up by id.
pub fn find(id: &str) -> Option<&'static ProviderSpec> {
    PROVIDERS.iter().find(|p| p.id == id)
}

/// The 30 vendor provider types (everything but `mock`).
pub fn vendors() -> impl Iterator<Item = &'static ProviderSpec> {
    PROVIDERS.iter().filter(|p| p.wire != Wire::Mock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_vendors_sorted_and_unique() {
        let ids: Vec<_> = vendors().map(|p| p.id).collect();
        assert_eq!(ids.len(), 30);
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(ids, sorted);
        assert_eq!(find("mock").map(|p| p.wire), Some(Wire::Mock));
    }

    #[test]
    fn surface_totals_match_contract() {
        let count = |f: u16| vendors().filter(|p| p.surfaces & f != 0).count();
        assert_eq!(count(surface::CHAT), 30);
        assert_eq!(count(surface::EMBED), 21);
        assert_eq!(count(surface::IMAGES), 10);
        assert_eq!(count(surface::RERANK), 5);
        assert_eq!(count(surface::STT), 8);
        assert_eq!(count(surface::TTS), 6);
        assert_eq!(count(surface::BATCH), 5);
        assert_eq!(count(surface::MODERATION), 2);
    }
}
