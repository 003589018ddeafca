//! Matching on the error enum (it mirrors the Python SDK's exceptions).
//!
//! ```sh
//! FERRO_API_KEY=not-a-real-key cargo run -p ferrolabsai --example errors
//! ```

use ferrolabsai::{ChatCompletionRequest, ChatMessage, Error, FerroClient};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = FerroClient::from_env()?;
    let req = ChatCompletionRequest::new("no-such-model", [ChatMessage::user("hi")]);
    match client.chat().completions().create(&req).await {
        Ok(reply) => println!("{:?}", reply.content()),
        Err(Error::Auth(e)) => eprintln!("check FERRO_API_KEY: {e}"),
        Err(Error::NotFound(e)) => eprintln!("unknown model ({:?}): {}", e.code, e.message),
        Err(Error::RateLimit(e)) => eprintln!("slow down; retry after {:?}", e.retry_after),
        Err(Error::BudgetExceeded(e)) => eprintln!("budget exhausted: {e}"),
        Err(e @ Error::Connection { .. }) => eprintln!("is the gateway running? {e}"),
        Err(e) => {
            // Quote the request id when reporting a problem.
            eprintln!("{e} (request id: {:?})", e.request_id().map(|r| r.as_str()));
        }
    }
    Ok(())
}
