//! `marketsim relay`: another API process streaming the same market. It
//! subscribes to the ticks and trades a `serve --redis-url` publishes
//! (`adapters::redis::relay`, reconnecting by itself) and serves them with
//! `api::relay::router`, so streaming clients can be spread over any number
//! of processes.

use std::net::SocketAddr;

use anyhow::Context;
use tokio::sync::broadcast;

/// Arguments of `marketsim relay`.
#[derive(Debug, clap::Args)]
pub struct RelayArgs {
    /// Redis URL of the market's `serve --redis-url`.
    #[arg(long, env = "MARKETSIM_REDIS_URL", hide_env_values = true)]
    pub redis_url: String,
    /// Key prefix of that market (its `redis_prefix`).
    #[arg(long, env = "MARKETSIM_REDIS_PREFIX", default_value = "marketsim")]
    pub redis_prefix: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    /// Token clients must send (`Authorization: Bearer TOKEN`) to stream;
    /// at least 16 characters (or MARKETSIM_RELAY_TOKEN).
    #[arg(long, env = "MARKETSIM_RELAY_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Serve the stream to anyone, without a token.
    #[arg(long, conflicts_with = "token")]
    pub public: bool,
}

/// A relay bound to its port, ready to run.
#[derive(Debug)]
pub struct Relay {
    listener: tokio::net::TcpListener,
    feed: api::relay::Feed,
    token_hash: Option<[u8; 32]>,
}

impl Relay {
    /// Bind the listener and start following Redis.
    pub async fn build(args: RelayArgs) -> anyhow::Result<Relay> {
        adapters::redis::check_url(&args.redis_url)?;
        let token_hash = match (&args.token, args.public) {
            (Some(t), _) if t.chars().count() < 16 => {
                anyhow::bail!("--token must be at least 16 characters")
            }
            (Some(t), _) => Some(api::auth::hash_key(t)),
            (None, true) => None,
            (None, false) => anyhow::bail!(
                "give --token (or MARKETSIM_RELAY_TOKEN; clients send `Authorization: Bearer TOKEN`) or --public to stream to anyone"
            ),
        };
        let (feed, _) = broadcast::channel(4_096);
        tokio::spawn(adapters::redis::relay(
            args.redis_url,
            args.redis_prefix,
            feed.clone(),
        ));
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        Ok(Relay {
            listener,
            feed,
            token_hash,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map_or(0, |a| a.port())
    }

    /// Serve until `shutdown` resolves.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let local = self.listener.local_addr()?;
        tracing::info!(
            public = self.token_hash.is_none(),
            "marketsim relay serving on http://{local} (GET /v1/stream)"
        );
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let router = api::relay::router(api::relay::RelayState {
            feed: self.feed,
            token_hash: self.token_hash,
            shutdown: stopped,
        });
        // Streams end at shutdown, so the server can finish.
        let signal = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        api::serve(self.listener, router, signal).await?;
        Ok(())
    }
}
