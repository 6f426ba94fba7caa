//! `HttpTickSink`: a `TickSink` that sets prices through a running
//! `marketsim serve`'s admin API (`POST /v1/admin/stocks/{symbol}/price`),
//! so a price file can be replayed into a market with no Kafka between.

use actors::PriceTick;
use actors::ports::{PortError, TickSink};
use async_trait::async_trait;

/// Sets each tick's price on a running server, one request per tick, in
/// order; stops at the first refusal.
#[derive(Debug)]
pub struct HttpTickSink {
    http: reqwest::Client,
    base: String,
    admin_key: String,
}

impl HttpTickSink {
    /// A sink for the server at `url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(url: &str, admin_key: String) -> HttpTickSink {
        HttpTickSink {
            http: reqwest::Client::new(),
            base: url.trim_end_matches('/').to_string(),
            admin_key,
        }
    }
}

fn err(message: String) -> PortError {
    PortError {
        port: "http",
        message,
    }
}

#[async_trait]
impl TickSink for HttpTickSink {
    async fn publish(&self, ticks: &[PriceTick]) -> Result<(), PortError> {
        for t in ticks {
            let url = format!("{}/v1/admin/stocks/{}/price", self.base, t.symbol);
            let r = self
                .http
                .post(&url)
                .bearer_auth(&self.admin_key)
                .json(&serde_json::json!({"price": t.price.to_string()}))
                .send()
                .await
                .map_err(|e| err(format!("{url}: {e}")))?;
            if !r.status().is_success() {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                return Err(err(format!("{url}: {status}: {body}")));
            }
        }
        Ok(())
    }
}
