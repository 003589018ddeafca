//! Streaming a chat completion chunk by chunk.
//!
//! ```sh
//! FERRO_API_KEY=fgw_local_dev cargo run -p ferrolabsai --example stream -- "Tell me a story"
//! ```

use ferrolabsai::{ChatCompletionRequest, ChatMessage, FerroClient};
use futures_util::StreamExt;
use std::io::Write;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let prompt = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "Tell me a story".into());
    let client = FerroClient::from_env()?;

    // include_usage: the last chunk carries usage and Ferro's cost_usd.
    let req =
        ChatCompletionRequest::new("gpt-4o-mini", [ChatMessage::user(prompt)]).include_usage(true);
    let mut stream = client.chat().completions().stream(&req).await?;
    if let Some(t) = stream.trace_id() {
        eprintln!("trace id: {t}");
    }
    let mut out = std::io::stdout();
    while let Some(chunk) = stream.next().await {
        // An error frame or a malformed frame ends the stream with Error::Stream.
        let chunk = chunk?;
        if let Some(text) = chunk.content() {
            write!(out, "{text}")?;
            out.flush()?;
        }
        if let Some(u) = &chunk.usage {
            writeln!(out)?;
            eprintln!(
                "usage: {} tokens, cost {:?}",
                u.total_tokens,
                u.cost_usd.as_ref().map(|c| c.value())
            );
        }
    }
    writeln!(out)?;
    Ok(())
}
