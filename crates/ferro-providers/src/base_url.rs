//! The `<PROVIDER>_BASE_URL` rule (CONTRACT §7), applied once at construction.

/// Resolves an API root from an override value and the provider's default root.
///
/// * empty → the default root;
/// * must be `http`/`https` with a host; a query or fragment is refused;
/// * a URL with any path is the API root verbatim (trailing `/` trimmed);
/// * a bare host gets the last segment of the default root if it looks like a
///   version (`v` + digit…), else nothing.
pub fn resolve_root(value: &str, default_root: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(default_root.to_owned());
    }
    let parsed = url::Url::parse(value).map_err(|_| "base URL is not a valid URL".to_owned())?;
    if parsed.scheme() != "http" && parsed.scheme() != "https" {
        return Err("base URL must use http or https".to_owned());
    }
    if parsed.host_str().map(str::is_empty).unwrap_or(true) {
        return Err("base URL must have a host".to_owned());
    }
    if parsed.query().is_some() || value.contains('?') {
        return Err("base URL must not have a query string".to_owned());
    }
    if parsed.fragment().is_some() || value.contains('#') {
        return Err("base URL must not have a fragment".to_owned());
    }
    let trimmed = value.trim_end_matches('/');
    let has_path = parsed.path() != "/" && !parsed.path().is_empty();
    if has_path {
        return Ok(trimmed.to_owned());
    }
    match version_segment(default_root) {
        Some(seg) => Ok(format!("{trimmed}/{seg}")),
        None => Ok(trimmed.to_owned()),
    }
}

/// The last path segment of `root` if it looks like an API version (`v1`, `v1beta`).
fn version_segment(root: &str) -> Option<&str> {
    let path_start = root.find("://").map(|i| i + 3)?;
    let after_host = root[path_start..].find('/')? + path_start;
    let last = root[after_host..]
        .trim_end_matches('/')
        .rsplit('/')
        .next()?;
    let mut chars = last.chars();
    (chars.next() == Some('v') && chars.next().is_some_and(|c| c.is_ascii_digit())).then_some(last)
}

/// Validates a host-style endpoint (Azure, Databricks, Ollama): http(s), a host,
/// no query or fragment. Returns it without a trailing slash.
pub fn validate_endpoint(value: &str) -> Result<String, String> {
    let value = value.trim();
    let parsed = url::Url::parse(value).map_err(|_| "endpoint is not a valid URL".to_owned())?;
    if parsed.scheme() != "http" && parsed.scheme() != "https" {
        return Err("endpoint must use http or https".to_owned());
    }
    if parsed.host_str().map(str::is_empty).unwrap_or(true) {
        return Err("endpoint must have a host".to_owned());
    }
    if value.contains('?') || value.contains('#') {
        return Err("endpoint must not have a query string or fragment".to_owned());
    }
    Ok(value.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_examples() {
        let openai = "https://api.openai.com/v1";
        assert_eq!(resolve_root("", openai).as_deref(), Ok(openai));
        assert_eq!(
            resolve_root("http://h:9901", openai).as_deref(),
            Ok("http://h:9901/v1")
        );
        assert_eq!(
            resolve_root("http://h:9901/", openai).as_deref(),
            Ok("http://h:9901/v1")
        );
        assert_eq!(
            resolve_root("http://h:9901/custom/", openai).as_deref(),
            Ok("http://h:9901/custom")
        );
        let groq = "https://api.groq.com/openai/v1";
        assert_eq!(resolve_root("http://h", groq).as_deref(), Ok("http://h/v1"));
        assert_eq!(
            resolve_root("https://api.groq.com/openai/v1", groq).as_deref(),
            Ok("https://api.groq.com/openai/v1")
        );
        let gemini = "https://generativelanguage.googleapis.com/v1beta";
        assert_eq!(
            resolve_root("http://h", gemini).as_deref(),
            Ok("http://h/v1beta")
        );
        let deepinfra = "https://api.deepinfra.com/v1/openai";
        assert_eq!(
            resolve_root("http://h", deepinfra).as_deref(),
            Ok("http://h")
        );
        assert_eq!(
            resolve_root("http://h", "https://api.perplexity.ai").as_deref(),
            Ok("http://h")
        );
        assert_eq!(
            resolve_root("http://user:pw@h:1", openai).as_deref(),
            Ok("http://user:pw@h:1/v1")
        );
    }

    #[test]
    fn refusals() {
        let d = "https://api.openai.com/v1";
        assert!(resolve_root("ftp://h", d).is_err());
        assert!(resolve_root("http://h/v1?x=1", d).is_err());
        assert!(resolve_root("http://h/v1#f", d).is_err());
        assert!(resolve_root("not a url", d).is_err());
        assert!(resolve_root("http://", d).is_err());
    }
}
