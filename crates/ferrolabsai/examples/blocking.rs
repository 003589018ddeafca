//! The synchronous client (feature `blocking`).
//!
//! ```sh
//! FERRO_API_KEY=fgw_local_dev cargo run -p ferrolabsai --features blocking --example blocking
//! ```

use ferrolabsai::blocking::FerroClient;
use ferrolabsai::{ChatCompletionRequest, ChatMessage};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = FerroClient::from_env()?;
    let health = client.health()?;
    println!("gateway: {} (HTTP {})", health.status, health.http_status);
    let req = ChatCompletionRequest::new("gpt-4o-mini", [ChatMessage::user("Hello")]);
    for chunk in client.chat().completions().stream(&req)? {
        print!("{}", chunk?.content().unwrap_or_default());
    }
    println!();
    Ok(())
}
