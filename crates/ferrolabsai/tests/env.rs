//! Environment resolution (CONTRACT §11.1): `FERRO_API_KEY` → `OPENAI_API_KEY`,
//! `FERRO_BASE_URL` (default `http://localhost:8080`, trailing `/` stripped).
//! One test function: the process environment is global, so the cases run in
//! sequence; the rest use an injected lookup.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferrolabsai::{Error, FerroClient};
use std::collections::HashMap;

fn with(vars: &[(&str, &str)]) -> ferrolabsai::ClientBuilder {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    FerroClient::builder().env_lookup(move |k| map.get(k).cloned())
}

fn auth_header(c: &FerroClient) -> String {
    // The key is only observable where it is sent; Debug never shows it.
    format!("{c:?}")
}

#[test]
fn resolution_order_with_an_injected_environment() {
    // builder > FERRO_API_KEY > OPENAI_API_KEY; empty values count as unset.
    let c = with(&[
        ("FERRO_API_KEY", "fgw_env_ferro"),
        ("OPENAI_API_KEY", "sk-openai"),
    ])
    .api_key("fgw_explicit")
    .build()
    .unwrap();
    assert!(!auth_header(&c).contains("fgw_"));
    assert!(with(&[("OPENAI_API_KEY", "sk-openai")]).build().is_ok());
    assert!(
        with(&[("FERRO_API_KEY", ""), ("OPENAI_API_KEY", "sk-openai")])
            .build()
            .is_ok()
    );
    let e = with(&[("FERRO_API_KEY", " ")]).build().unwrap_err();
    assert!(matches!(e, Error::Auth(_)));
    // base URL: builder > FERRO_BASE_URL > default, trailing slash stripped.
    let c = with(&[
        ("FERRO_API_KEY", "k"),
        ("FERRO_BASE_URL", "https://gw.example.com/"),
    ])
    .build()
    .unwrap();
    assert_eq!(c.base_url(), "https://gw.example.com");
    let c = with(&[
        ("FERRO_API_KEY", "k"),
        ("FERRO_BASE_URL", "https://gw.example.com"),
    ])
    .base_url("http://127.0.0.1:9/")
    .build()
    .unwrap();
    assert_eq!(c.base_url(), "http://127.0.0.1:9");
    let c = with(&[("FERRO_API_KEY", "k")]).build().unwrap();
    assert_eq!(c.base_url(), "http://localhost:8080");
    assert_eq!(c.max_retries(), 2);
    assert_eq!(c.timeout(), std::time::Duration::from_secs(120));
}

#[tokio::test]
async fn the_process_environment_is_read() {
    // Which key was picked is proven on the wire.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen2 = seen.clone();
    let app = axum::Router::new().fallback(move |h: axum::http::HeaderMap| {
        let seen = seen2.clone();
        async move {
            let auth = h
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            seen.lock().unwrap().push(auth);
            axum::Json(serde_json::json!({"status": "ok"}))
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    std::env::set_var("FERRO_BASE_URL", format!("{url}/"));
    std::env::set_var("OPENAI_API_KEY", "sk-openai-fallback");
    std::env::remove_var("FERRO_API_KEY");
    let c = FerroClient::from_env().unwrap();
    assert_eq!(c.base_url(), url);
    c.live().await.unwrap();
    std::env::set_var("FERRO_API_KEY", "fgw_from_env");
    FerroClient::from_env().unwrap().live().await.unwrap();
    std::env::set_var("FERRO_API_KEY", "");
    FerroClient::from_env().unwrap().live().await.unwrap();
    std::env::remove_var("OPENAI_API_KEY");
    std::env::remove_var("FERRO_API_KEY");
    assert!(matches!(FerroClient::from_env(), Err(Error::Auth(_))));
    std::env::remove_var("FERRO_BASE_URL");

    assert_eq!(
        *seen.lock().unwrap(),
        [
            "Bearer sk-openai-fallback",
            "Bearer fgw_from_env",
            "Bearer sk-openai-fallback"
        ]
    );
}
