//! A chat completion and Ferro's extras.
//!
//! ```sh
//! MASTER_KEY=fgw_local_dev cargo run -p ferrogw &          # a gateway on :8080 (mock provider)
//! FERRO_API_KEY=fgw_local_dev cargo run -p ferrolabsai --example chat -- "Hello, Ferro"
//! ```

use ferrolabsai::{ChatCompletionRequest, ChatMessage, FerroClient};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let prompt = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "Hello, Ferro".into());
    // FERRO_API_KEY (else OPENAI_API_KEY); FERRO_BASE_URL (default http://localhost:8080).
    let client = FerroClient::from_env()?;

    let req = ChatCompletionRequest::new(
        "gpt-4o-mini",
        [
            ChatMessage::system("You are terse."),
            ChatMessage::user(prompt),
        ],
    )
    .temperature(0.2)
    .max_tokens(200u32);
    let reply = client.chat().completions().create(&req).await?;

    println!("{}", reply.content().unwrap_or("(no content)"));
    // The extras are reported by the gateway: fine for logs and dashboards,
    // not proof of anything (they are `Untrusted`).
    if let Some(p) = &reply.provider {
        println!("provider: {p}");
    }
    if let Some(t) = &reply.trace_id {
        println!("trace id: {t}");
    }
    if let Some(u) = &reply.usage {
        let cost = u
            .cost_usd
            .as_ref()
            .map_or("unpriced".to_owned(), |c| format!("${:.8}", c.value()));
        println!(
            "tokens: {} in / {} out, cost {cost}",
            u.prompt_tokens, u.completion_tokens
        );
    }
    Ok(())
}
