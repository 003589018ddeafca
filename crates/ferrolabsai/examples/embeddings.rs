//! Embeddings and cosine similarity.
//!
//! ```sh
//! FERRO_API_KEY=fgw_local_dev cargo run -p ferrolabsai --example embeddings
//! ```

use ferrolabsai::{EmbeddingRequest, FerroClient};

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b)).max(f32::EPSILON)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = FerroClient::from_env()?;
    let texts = vec![
        "The cat sat on the mat.",
        "A feline rested on a rug.",
        "Stock markets fell.",
    ];
    let resp = client
        .embeddings()
        .create(&EmbeddingRequest::new(
            "text-embedding-3-small",
            texts.clone(),
        ))
        .await?;
    let vectors: Vec<&[f32]> = resp
        .data
        .iter()
        .filter_map(|e| e.embedding.as_floats())
        .collect();
    for (i, t) in texts.iter().enumerate().skip(1) {
        if let (Some(a), Some(b)) = (vectors.first(), vectors.get(i)) {
            println!("{:.3}  {:?} ~ {t:?}", cosine(a, b), texts[0]);
        }
    }
    Ok(())
}
