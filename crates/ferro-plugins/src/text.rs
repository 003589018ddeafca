//! Shared machinery of the content guardrails: the action enum, screening a
//! list of texts, and screening a stream through a bounded sliding window.

use crate::error::PluginError;
use crate::{ChunkScreen, Screen};
use std::collections::HashMap;
use std::sync::Arc;

/// What a guardrail does with a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Deny.
    Block,
    /// Forward, log at warn.
    Warn,
    /// Forward, log at info.
    Log,
}

impl Action {
    pub(crate) fn parse(s: &str) -> Action {
        match s {
            "warn" => Action::Warn,
            "log" => Action::Log,
            _ => Action::Block,
        }
    }
}

/// Which way the content flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    Request,
    Response,
}

impl Dir {
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Dir::Request => "request",
            Dir::Response => "response",
        }
    }
}

/// Finds a policy match in a text; the answer names what matched (a kind, a
/// rule), never the matched text itself.
pub(crate) trait Matcher: Send + Sync + 'static {
    /// `Some(label)` when `text` matches; `label` may be empty.
    fn find(&self, text: &str, dir: Dir) -> Option<String>;
    /// How many bytes of earlier text a match can span in a stream.
    fn overlap(&self) -> usize;
}

fn reason(dir: Dir, label: &str) -> String {
    if label.is_empty() {
        format!("{} blocked by content policy", dir.noun())
    } else {
        format!("{} blocked by content policy: {label}", dir.noun())
    }
}

/// Applies `action` to a match: a denial under block, a log line otherwise.
pub(crate) fn act(
    plugin: &'static str,
    action: Action,
    dir: Dir,
    label: &str,
) -> Result<(), PluginError> {
    match action {
        Action::Block => Err(PluginError::policy(reason(dir, label))),
        Action::Warn => {
            tracing::warn!(
                plugin,
                direction = dir.noun(),
                matched = label,
                "guardrail match"
            );
            Ok(())
        }
        Action::Log => {
            tracing::info!(
                plugin,
                direction = dir.noun(),
                matched = label,
                "guardrail match"
            );
            Ok(())
        }
    }
}

/// Screens `texts`; the first match decides (one log line per request).
pub(crate) fn screen_all<'a, M: Matcher + ?Sized>(
    plugin: &'static str,
    m: &M,
    action: Action,
    dir: Dir,
    texts: impl IntoIterator<Item = &'a str>,
) -> Result<(), PluginError> {
    for t in texts {
        if let Some(label) = m.find(t, dir) {
            return act(plugin, action, dir, &label);
        }
    }
    Ok(())
}

/// Longest tail kept per choice between stream deltas, whatever a matcher asks.
const MAX_OVERLAP: usize = 4096;

/// Screens a stream without holding it back: each delta is matched together
/// with the tail of the text before it (the matcher's overlap, capped), so a
/// match split across deltas is still found, in bounded memory and time.
pub(crate) struct WindowScreen<M: Matcher> {
    plugin: &'static str,
    matcher: Arc<M>,
    action: Action,
    tails: HashMap<u32, String>,
    reported: bool,
}

impl<M: Matcher> WindowScreen<M> {
    pub(crate) fn new(plugin: &'static str, matcher: Arc<M>, action: Action) -> Self {
        WindowScreen {
            plugin,
            matcher,
            action,
            tails: HashMap::new(),
            reported: false,
        }
    }
}

/// The last `n` bytes of `s` (or a little more, to stay on a char boundary).
pub(crate) fn tail(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut i = s.len() - n;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    &s[i..]
}

impl<M: Matcher> ChunkScreen for WindowScreen<M> {
    fn on_delta(&mut self, choice: u32, text: &str) -> Result<Screen, PluginError> {
        let prev = self.tails.remove(&choice).unwrap_or_default();
        let mut window = prev;
        window.push_str(text);
        if !self.reported {
            if let Some(label) = self.matcher.find(&window, Dir::Response) {
                act(self.plugin, self.action, Dir::Response, &label)?;
                self.reported = true;
            }
        }
        let keep = self.matcher.overlap().min(MAX_OVERLAP);
        let t = tail(&window, keep).to_owned();
        self.tails.insert(choice, t);
        Ok(Screen::Pass)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Needle;
    impl Matcher for Needle {
        fn find(&self, text: &str, _: Dir) -> Option<String> {
            text.contains("secret").then(String::new)
        }
        fn overlap(&self) -> usize {
            5
        }
    }

    #[test]
    fn split_matches_are_found() {
        let mut s = WindowScreen::new("t", Arc::new(Needle), Action::Block);
        assert_eq!(s.on_delta(0, "a sec"), Ok(Screen::Pass));
        assert_eq!(s.on_delta(1, "ret"), Ok(Screen::Pass), "other choice");
        assert!(s.on_delta(0, "ret!").is_err());
        assert_eq!(tail("héllo", 4), "éllo".get(0..).unwrap_or(""));
    }
}
