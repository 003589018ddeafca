//! Process logs (`LOG_FORMAT=json|pretty`, `LOG_LEVEL`). The access line of each
//! routed request is written by `record::AccessLog` under target `ferro::access`.

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, event fields at the top level.
    Json,
    /// One human-readable line per event (colours only on a terminal).
    Pretty,
}

impl LogFormat {
    /// `json` or `pretty` (also `text`); anything else is `None`.
    pub fn parse(v: &str) -> Option<LogFormat> {
        match v.trim().to_ascii_lowercase().as_str() {
            "json" => Some(LogFormat::Json),
            "" | "pretty" | "text" | "console" => Some(LogFormat::Pretty),
            _ => None,
        }
    }
}

/// Initialises logging (`LOG_FORMAT=json|pretty`, `LOG_LEVEL`).
pub fn init_logging(json: bool, level: &str) {
    init_logs(
        if json {
            LogFormat::Json
        } else {
            LogFormat::Pretty
        },
        level,
    );
}

/// Initialises logging from `LOG_FORMAT` and `LOG_LEVEL` (default `info`); an
/// unknown format falls back to pretty with a warning.
pub fn init_logging_from_env(env: &dyn Fn(&str) -> Option<String>) {
    let raw = env("LOG_FORMAT").unwrap_or_default();
    let format = LogFormat::parse(&raw);
    let level = env("LOG_LEVEL")
        .filter(|l| !l.trim().is_empty())
        .unwrap_or_else(|| "info".to_owned());
    init_logs(format.unwrap_or(LogFormat::Pretty), &level);
    if format.is_none() {
        tracing::warn!(value = %raw, "LOG_FORMAT must be json or pretty; using pretty");
    }
}

fn init_logs(format: LogFormat, level: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => b
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => b.with_ansi(std::io::stderr().is_terminal()).try_init(),
    };
}
