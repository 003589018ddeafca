//! `${VAR}` references (braced only; a bare `$` is literal), resolved late.

/// Replaces every `${VAR}` in `s` using `env`. An undefined variable is an error
/// naming it (never its value).
pub fn resolve_vars(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    if !s.contains("${") {
        return Ok(s.to_owned());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "unterminated ${ reference".to_owned())?;
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("invalid variable reference `${{{name}}}`"));
        }
        let val = env(name).ok_or_else(|| format!("environment variable {name} is not set"))?;
        out.push_str(&val);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braced_only() {
        let env = |k: &str| (k == "KEY").then(|| "v".to_owned());
        assert_eq!(resolve_vars("a-${KEY}-b", &env), Ok("a-v-b".to_owned()));
        assert_eq!(resolve_vars("$KEY", &env), Ok("$KEY".to_owned()));
        assert!(resolve_vars("${MISSING}", &env).is_err());
        assert!(resolve_vars("${KEY", &env).is_err());
    }
}
