//! [`SecretString`]: an API key that cannot leak through `Debug`, `Display` or
//! `Serialize`.

use std::fmt;

/// A credential. Its `Debug` prints `SecretString([REDACTED])`; it has no
/// `Display` and no `Serialize`, so it cannot end up in logs, error messages or
/// JSON by accident. Read it only with [`SecretString::expose_secret`].
///
/// ```
/// use ferrolabsai::SecretString;
/// let key = SecretString::from("fgw_0123456789abcdef");
/// assert_eq!(format!("{key:?}"), "SecretString([REDACTED])");
/// assert_eq!(key.expose_secret(), "fgw_0123456789abcdef");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Box<str>);

impl SecretString {
    /// Wraps a credential.
    pub fn new(secret: impl Into<String>) -> Self {
        SecretString(secret.into().into_boxed_str())
    }

    /// The credential itself. Call this only where the value must be sent.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Whether the credential is empty (an empty key counts as "no key").
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Replaces every occurrence of this secret in `text` with `[REDACTED]`.
    /// Used on every message the SDK builds from a server reply, so a gateway
    /// (or a proxy in front of it) that echoes the key cannot leak it through
    /// an [`Error`](crate::Error).
    pub(crate) fn redact_in(&self, text: &str) -> String {
        // Short keys would redact ordinary words; real keys are long.
        if self.0.len() < 8 || !text.contains(&*self.0) {
            return text.to_owned();
        }
        text.replace(&*self.0, "[REDACTED]")
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([REDACTED])")
    }
}

impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SecretString::from)
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        SecretString::new(s)
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        SecretString::new(s)
    }
}

impl From<&String> for SecretString {
    fn from(s: &String) -> Self {
        SecretString::new(s.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = SecretString::from("fgw_supersecretvalue");
        let dbg = format!("{s:?} {:#?}", Some(&s));
        assert!(!dbg.contains("supersecret"), "{dbg}");
    }

    #[test]
    fn redacts_occurrences() {
        let s = SecretString::from("fgw_supersecretvalue");
        assert_eq!(
            s.redact_in("bad key fgw_supersecretvalue!"),
            "bad key [REDACTED]!"
        );
        assert_eq!(s.redact_in("nothing here"), "nothing here");
    }
}
