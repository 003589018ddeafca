//! Creating, rotating and revoking an API key with the admin API, and
//! switching a client to the rotated key.
//!
//! ```sh
//! FERRO_API_KEY=$MASTER_KEY cargo run -p ferrolabsai --example admin_rotate
//! ```

use ferrolabsai::{CreateKeyRequest, FerroClient};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let admin = FerroClient::from_env()?; // an admin-scoped key or MASTER_KEY
    let keys = admin.admin().keys();

    let created = keys
        .create(&CreateKeyRequest::new("example-service").scopes(["read_only"]))
        .await?;
    // `created.key` is a SecretString: printing `created` does not reveal it.
    println!("created {} ({:?})", created.id, created);

    // A client for the service, then a rotation: the old secret stops working
    // at once; `with_api_key` reuses the connection pool.
    let service = admin.with_api_key(created.key)?;
    println!(
        "models visible to the service: {}",
        service.models().list().await?.len()
    );
    let rotated = keys.rotate(&created.id).await?;
    let service = service.with_api_key(rotated.key)?;
    println!("after rotation: {}", service.live().await?.status);

    keys.revoke(&created.id).await?;
    println!("revoked {}", created.id);
    Ok(())
}
