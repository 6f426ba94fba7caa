//! `HttpTickSink`: a `TickSink` that sets prices through a running
//! `marketsim serve`'s admin API (`POST /v1/admin/stocks/{symbol}/price`),
//! so a price file can be replayed into a market with no Kafka between.

use actors::PriceTick;
use actors::ports::{PortError, TickSink};
use async_trait::async_trait;

/// Sets each tick's price (with its own time) on a running server, one
/// request per tick, in order; stops at the first refusal. A symbol the
/// server does not list is listed at first sight with that price (unless
/// `auto_list(false)`).
#[derive(Debug)]
pub struct HttpTickSink {
    http: reqwest::Client,
    base: String,
    admin_key: String,
    auto_list: bool,
}

impl HttpTickSink {
    /// A sink for the server at `url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(url: &str, admin_key: String) -> HttpTickSink {
        HttpTickSink {
            http: reqwest::Client::new(),
            base: url.trim_end_matches('/').to_string(),
            admin_key,
            auto_list: true,
        }
    }
    /// List unknown symbols at first sight (default), or refuse them.
    pub fn auto_list(self, on: bool) -> HttpTickSink {
        HttpTickSink {
            auto_list: on,
            ..self
        }
    }

    async fn post(
        &self,
        url: &str,
        body: serde_json::Value,
    ) -> Result<reqwest::Response, PortError> {
        self.http
            .post(url)
            .bearer_auth(&self.admin_key)
            .json(&body)
            .send()
            .await
            .map_err(|e| err(format!("{url}: {e}")))
    }
}

fn err(message: String) -> PortError {
    PortError {
        port: "http",
        message,
    }
}

async fn refused(url: &str, r: reqwest::Response) -> PortError {
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    err(format!("{url}: {status}: {body}"))
}

#[async_trait]
impl TickSink for HttpTickSink {
    async fn publish(&self, ticks: &[PriceTick]) -> Result<(), PortError> {
        for t in ticks {
            let url = format!("{}/v1/admin/stocks/{}/price", self.base, t.symbol);
            let body = serde_json::json!({
                "price": t.price.to_string(),
                "ts": engine::time::rfc3339(t.ts),
            });
            let mut r = self.post(&url, body.clone()).await?;
            if r.status() == reqwest::StatusCode::NOT_FOUND && self.auto_list {
                let list = format!("{}/v1/admin/stocks", self.base);
                let l = self
                    .post(
                        &list,
                        serde_json::json!({
                            "symbol": t.symbol.as_str(),
                            "initial_price": t.price.to_string(),
                            "ts": engine::time::rfc3339(t.ts),
                        }),
                    )
                    .await?;
                // 409: listed meanwhile by someone else; fine.
                if !l.status().is_success() && l.status() != reqwest::StatusCode::CONFLICT {
                    return Err(refused(&list, l).await);
                }
                tracing::info!(symbol = %t.symbol, price = %t.price, "listed at first sight");
                r = self.post(&url, body).await?;
            }
            if !r.status().is_success() {
                return Err(refused(&url, r).await);
            }
        }
        Ok(())
    }
}
