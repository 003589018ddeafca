//! `word-filter`: denies text containing a blocked entry as a substring
//! (requests at `before_request`, answers and streams at `after_request`).

use super::{BuildCtx, Builtin};
use crate::config::Conf;
use crate::context::{Ctx, ResponseView};
use crate::text::{screen_all, Action, Dir, Matcher, WindowScreen};
use crate::{ChunkScreen, Plugin, PluginResult, PluginType, Stage};
use async_trait::async_trait;
use std::sync::Arc;

pub(crate) const BUILTIN: Builtin = Builtin {
    name: "word-filter",
    kind: PluginType::Guardrail,
    summary: "Rejects a request whose text contains a blocked entry as a substring, not only as a whole word; screens the response (streams included) when listed at after_request.",
    keys: &["blocked_words", "case_sensitive"],
    build,
};

struct Words {
    /// One alternation of the escaped words, compiled once.
    re: Option<regex::Regex>,
    longest: usize,
}

impl Matcher for Words {
    fn find(&self, text: &str, _: Dir) -> Option<String> {
        self.re.as_ref()?.is_match(text).then(String::new)
    }
    fn overlap(&self) -> usize {
        self.longest.saturating_sub(1)
    }
}

struct WordFilter {
    words: Arc<Words>,
}

fn build(c: &mut Conf<'_>, _: &BuildCtx<'_>) -> Option<Arc<dyn Plugin>> {
    let words: Vec<&str> = c
        .strings("blocked_words")
        .unwrap_or_default()
        .into_iter()
        .filter(|w| !w.is_empty())
        .collect();
    let case_sensitive = c.bool("case_sensitive").unwrap_or(false);
    if words.is_empty() {
        c.warn("blocked_words", "is empty: word-filter blocks nothing");
    }
    let re = if words.is_empty() {
        None
    } else {
        let alt: Vec<String> = words.iter().map(|w| regex::escape(w)).collect();
        let built = regex::RegexBuilder::new(&alt.join("|"))
            .case_insensitive(!case_sensitive)
            .size_limit(8 << 20)
            .build();
        match built {
            Ok(re) => Some(re),
            Err(e) => {
                c.err("blocked_words", format!("too large to compile: {e}"));
                return None;
            }
        }
    };
    let longest = words.iter().map(|w| w.len()).max().unwrap_or(0);
    Some(Arc::new(WordFilter {
        words: Arc::new(Words { re, longest }),
    }))
}

#[async_trait]
impl Plugin for WordFilter {
    fn name(&self) -> &'static str {
        BUILTIN.name
    }
    fn kind(&self) -> PluginType {
        BUILTIN.kind
    }
    fn stages(&self) -> &'static [Stage] {
        &[Stage::BeforeRequest, Stage::AfterRequest]
    }
    async fn on_request(&self, ctx: &mut Ctx) -> PluginResult {
        let texts = ctx.texts().iter().map(String::as_str);
        screen_all(
            BUILTIN.name,
            &*self.words,
            Action::Block,
            Dir::Request,
            texts,
        )
    }
    async fn on_response(&self, _: &mut Ctx, resp: &ResponseView<'_>) -> PluginResult {
        screen_all(
            BUILTIN.name,
            &*self.words,
            Action::Block,
            Dir::Response,
            resp.texts(),
        )
    }
    fn on_stream(&self, _: &Ctx) -> Option<Box<dyn ChunkScreen>> {
        self.words.re.as_ref()?;
        Some(Box::new(WindowScreen::new(
            BUILTIN.name,
            self.words.clone(),
            Action::Block,
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::builtin::testing::*;
    use serde_json::json;

    #[tokio::test]
    async fn blocks_substrings_case_insensitively() {
        let p = plugin("word-filter", json!({"blocked_words": ["Forbidden"]}));
        let mut ctx = chat_ctx("this is FORBIDDENLY bad");
        let e = p.on_request(&mut ctx).await.unwrap_err();
        assert_eq!(
            e,
            crate::PluginError::policy("request blocked by content policy")
        );
        assert!(p.on_request(&mut chat_ctx("fine")).await.is_ok());
        let view = answer("the forbidden word");
        assert!(p.on_response(&mut chat_ctx("x"), &view).await.is_err());
        let mut s = p.on_stream(&chat_ctx("x")).unwrap();
        assert!(s.on_delta(0, "forb").is_ok());
        assert!(s.on_delta(0, "idden").is_err(), "split across deltas");
    }

    #[tokio::test]
    async fn case_sensitive_and_strict_keys() {
        let p = plugin(
            "word-filter",
            json!({"blocked_words": ["Bad"], "case_sensitive": true}),
        );
        assert!(p.on_request(&mut chat_ctx("bad")).await.is_ok());
        assert!(p.on_request(&mut chat_ctx("Bad")).await.is_err());
        let e = build_err("word-filter", json!({"blocked_word": ["x"]}));
        assert!(e.contains("blocked_word: unknown key"), "{e}");
    }
}
