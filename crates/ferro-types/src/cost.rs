//! The cost formula of CONTRACT §8.2: prices are USD per million tokens, `None`
//! means unknown (unpriced is not free).

use crate::catalog::Pricing;
use crate::usage::TokenCounts;

/// What kind of work is priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostKind {
    Chat,
    Embedding,
    /// Image generation; the count is the number of images returned.
    Image(u64),
}

/// USD cost of `t` under `p`, or `None` when the model is unpriced.
///
/// Chat: cached-read and cache-write tokens are billed at their own prices when
/// the catalog has them (and taken out of the prompt so they are not billed
/// twice); reasoning tokens likewise out of the completion.
pub fn cost_usd(p: &Pricing, kind: CostKind, t: &TokenCounts) -> Option<f64> {
    const M: f64 = 1_000_000.0;
    match kind {
        CostKind::Embedding => {
            let price = p.embedding_per_m_tokens.or(p.input_per_m_tokens)?;
            Some(price * t.prompt as f64 / M)
        }
        CostKind::Image(n) => {
            if let Some(tile) = p.image_per_tile {
                return Some(tile * n as f64);
            }
            let input = p.input_per_m_tokens?;
            Some(
                (input * t.prompt as f64
                    + p.output_per_m_tokens.unwrap_or(0.0) * t.completion as f64)
                    / M,
            )
        }
        CostKind::Chat => {
            let input = p.input_per_m_tokens?;
            let output = p.output_per_m_tokens.unwrap_or(0.0);
            let mut prompt = t.prompt;
            let mut completion = t.completion;
            let mut extra = 0.0;
            if let Some(cr) = p.cache_read_per_m_tokens {
                let n = t.cache_read.min(prompt);
                prompt -= n;
                extra += cr * n as f64;
            }
            if let Some(cw) = p.cache_write_per_m_tokens {
                let n = t.cache_write.min(prompt);
                prompt -= n;
                extra += cw * n as f64;
            }
            if let Some(r) = p.reasoning_per_m_tokens {
                let n = t.reasoning.min(completion);
                completion -= n;
                extra += r * n as f64;
            }
            Some((input * prompt as f64 + output * completion as f64 + extra) / M)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpt4o() -> Pricing {
        Pricing {
            input_per_m_tokens: Some(2.5),
            output_per_m_tokens: Some(10.0),
            cache_read_per_m_tokens: Some(1.25),
            ..Pricing::default()
        }
    }

    #[test]
    fn plain_chat() {
        let t = TokenCounts {
            prompt: 1000,
            completion: 500,
            ..Default::default()
        };
        let c = cost_usd(&gpt4o(), CostKind::Chat, &t).unwrap_or(-1.0);
        assert!((c - (2.5 * 1000.0 + 10.0 * 500.0) / 1e6).abs() < 1e-12);
    }

    #[test]
    fn cached_tokens_billed_at_cache_price() {
        let t = TokenCounts {
            prompt: 1000,
            completion: 0,
            cache_read: 400,
            ..Default::default()
        };
        let c = cost_usd(&gpt4o(), CostKind::Chat, &t).unwrap_or(-1.0);
        assert!((c - (2.5 * 600.0 + 1.25 * 400.0) / 1e6).abs() < 1e-12);
    }

    #[test]
    fn unpriced_is_none() {
        let t = TokenCounts::default();
        assert_eq!(cost_usd(&Pricing::default(), CostKind::Chat, &t), None);
        assert_eq!(cost_usd(&Pricing::default(), CostKind::Image(1), &t), None);
        let tile = Pricing {
            image_per_tile: Some(0.04),
            ..Pricing::default()
        };
        assert_eq!(cost_usd(&tile, CostKind::Image(2), &t), Some(0.08));
    }
}
