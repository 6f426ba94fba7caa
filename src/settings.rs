//! `Settings` of `marketsim serve`: one typed struct, layered defaults ->
//! settings file (TOML) -> `MARKETSIM_<KEY>` environment variables ->
//! command-line flags, each overriding the last (the `config` crate does
//! the layering). Every key is documented here, once; `README.md`'s table
//! is checked against `Settings::keys()` by a test.
//!
//! Secrets (the admin key, database and Redis URLs, which may carry
//! passwords) are `SecretString`s: they never print, in `Debug` or logs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Why settings could not be read. Exit code 2 at the command line.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The message is the source's (anyhow's `{:#}` prints the chain).
    #[error("settings")]
    Load(#[from] config::ConfigError),
    #[error("settings: {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

/// Settings of the live market. Keys are the field names (in the file, and
/// upper-cased after `MARKETSIM_` in the environment).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on (port 0: any free port).
    pub listen: String,
    /// The admin key (admin endpoints are refused without one); at least
    /// 16 characters.
    pub admin_key: Option<SecretString>,
    /// Accept an admin key shorter than 16 characters (development only).
    pub allow_short_admin_key: bool,
    /// New users' cash, a decimal amount.
    pub starting_cash: String,
    /// Generator interval in milliseconds: every symbol's price moves this often.
    pub tick_interval_ms: u64,
    /// Market orders trade at most this far (basis points) through the price.
    pub collar_bps: u32,
    /// Self-trade prevention, when an order would trade with a resting
    /// order of the same account: `cancel_resting` (the resting order is
    /// cancelled), `cancel_incoming` (the incoming order's remainder is
    /// cancelled) or `allow`.
    pub self_trade_prevention: String,
    /// Scenario file whose symbols are listed and whose agents trade in the
    /// background (without one: five default symbols, no agents).
    pub scenario: Option<PathBuf>,
    /// Seed of the price walks and agents (default: the scenario's, else 1).
    pub seed: Option<u64>,
    /// HTTP worker threads (default: the number of cores less one, which
    /// runs the market's actors).
    pub threads: Option<usize>,
    /// Kafka bootstrap servers: ticks then flow generator -> topic -> engine
    /// (consumer group, commit after apply), and trades and order events go
    /// to the events topic. Unreachable brokers are an error at start.
    pub kafka_brokers: Option<String>,
    /// The tick topic.
    pub kafka_tick_topic: String,
    /// The events topic.
    pub kafka_events_topic: String,
    /// Consumer group of the engine.
    pub kafka_group: String,
    /// Partitions of topics this server creates.
    pub kafka_partitions: i32,
    /// PostgreSQL URL: every fact is journaled there, orders are
    /// acknowledged once durable, and the market is restored from it at
    /// start. Without it the market lives in memory.
    pub database_url: Option<SecretString>,
    /// How long a request waits for durability before answering 503 (ms).
    pub durable_timeout_ms: u64,
    /// Redis URL: latest quotes, minute price history, read caches and
    /// pub/sub of ticks and trades. Trading never depends on it.
    pub redis_url: Option<SecretString>,
    /// Prefix of every Redis key and channel.
    pub redis_prefix: String,
    /// Time to live of cached reads (`GET /v1/stocks`, movers), in ms.
    pub cache_ttl_ms: u64,
    /// List a symbol at first sight when a consumed topic carries prices
    /// for one this market does not list (false: skip them, logged).
    pub auto_list: bool,
    /// A symbol that receives prices from outside (a replay through the
    /// admin API or the tick topic) stays off the random walk until this
    /// long after the last one (ms).
    pub replay_hold_ms: u64,
    /// A background task left paused this long (ms) is revoked by itself.
    pub task_pause_timeout_ms: u64,
    /// Largest file a task upload (an import) may be, in bytes.
    pub task_upload_limit_bytes: u64,
    /// Background tasks running at once (the rest wait, queued).
    pub task_concurrency: u32,
    /// Most items (rows, symbols) a task applies per step: each step is one
    /// journal write, and a pause waits for the step in hand.
    pub task_step_items: u32,
    /// Trading hours, `HH:MM-HH:MM` in `session_tz` on `session_days`
    /// (e.g. `09:30-16:00`). Without them the market trades in back-to-back
    /// sessions of `session_period_ms` (default: 24 hours, rolling at
    /// midnight UTC). At each close DAY orders expire and the day's
    /// statistics roll; outside hours orders are refused.
    pub session_hours: Option<String>,
    /// Time zone of `session_hours` (IANA name, e.g. `America/New_York`).
    pub session_tz: String,
    /// Trading weekdays of `session_hours` (`mon-fri`, `mon,wed`, `all`).
    pub session_days: String,
    /// Length of the back-to-back sessions when no hours are given (ms,
    /// aligned to 1970-01-01 UTC).
    pub session_period_ms: u64,
    /// A client must send its request line and headers within this (ms;
    /// the connection is closed).
    pub header_timeout_ms: u64,
    /// A request must arrive (body included) and be handled within this
    /// (ms; 408). Event streams are not cut once started.
    pub request_timeout_ms: u64,
    /// Orders per second per API key (token bucket; 0: off).
    pub orders_per_second_per_key: u32,
    /// Orders per second per client address (0: off).
    pub orders_per_second_per_address: u32,
    /// Registrations per minute per client address (0: off).
    pub registrations_per_minute_per_address: u32,
    /// Concurrent event streams per API key (0: no cap).
    pub streams_per_key: usize,
    /// Concurrent event streams in all (0: no cap).
    pub max_streams: usize,
    /// Registered users in all; registration is refused beyond (0: no cap).
    pub max_users: usize,
    /// Log filter (tracing's `EnvFilter` syntax, e.g. `info,actors=debug`).
    pub log: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".into(),
            admin_key: None,
            allow_short_admin_key: false,
            starting_cash: "100000.00".into(),
            tick_interval_ms: 500,
            collar_bps: 500,
            self_trade_prevention: "cancel_resting".into(),
            scenario: None,
            seed: None,
            threads: None,
            kafka_brokers: None,
            kafka_tick_topic: "marketsim.ticks".into(),
            kafka_events_topic: "marketsim.events".into(),
            kafka_group: "marketsim-engine".into(),
            kafka_partitions: 3,
            database_url: None,
            durable_timeout_ms: 2_000,
            redis_url: None,
            redis_prefix: "marketsim".into(),
            cache_ttl_ms: 1_000,
            auto_list: true,
            replay_hold_ms: 60_000,
            task_pause_timeout_ms: 300_000,
            task_upload_limit_bytes: 64 * 1024 * 1024,
            task_concurrency: 2,
            task_step_items: 16_384,
            session_hours: None,
            session_tz: "UTC".into(),
            session_days: "mon-fri".into(),
            session_period_ms: 86_400_000,
            header_timeout_ms: 10_000,
            request_timeout_ms: 30_000,
            orders_per_second_per_key: 200,
            orders_per_second_per_address: 2_000,
            registrations_per_minute_per_address: 60,
            streams_per_key: 5,
            max_streams: 1_000,
            max_users: 100_000,
            log: "info".into(),
        }
    }
}

/// Values given on the command line (the last layer); `None` leaves the
/// layers below in force.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub scenario: Option<PathBuf>,
    pub tick_interval_ms: Option<u64>,
    pub kafka_brokers: Option<String>,
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    pub threads: Option<usize>,
}

impl Settings {
    /// Every key, in declaration order (read off the struct by serde, so
    /// it cannot drift from the fields; the README documents each).
    pub fn keys() -> &'static [&'static str] {
        let mut probe = FieldNames(None);
        let _ = Settings::deserialize(&mut probe);
        probe.0.unwrap_or(&[])
    }

    /// Layer defaults, `file` (if any), the process environment and `flags`.
    pub fn load(file: Option<&Path>, flags: &Overrides) -> Result<Settings, SettingsError> {
        Settings::load_from(file, std::env::vars(), flags)
    }

    /// `load` with the environment given (tests).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &Overrides,
    ) -> Result<Settings, SettingsError> {
        let mut b = config::Config::builder();
        if let Some(f) = file {
            b = b.add_source(config::File::from(f).format(config::FileFormat::Toml));
        }
        let env: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, v)| k.starts_with("MARKETSIM_") && !v.is_empty())
            .collect();
        b = b.add_source(
            config::Environment::with_prefix("MARKETSIM")
                .prefix_separator("_")
                .source(Some(env)),
        );
        let f = flags.clone();
        b = b
            .set_override_option("listen", f.listen)?
            .set_override_option("scenario", f.scenario.map(|p| p.display().to_string()))?
            .set_override_option("tick_interval_ms", f.tick_interval_ms)?
            .set_override_option("kafka_brokers", f.kafka_brokers)?
            .set_override_option("database_url", f.database_url)?
            .set_override_option("redis_url", f.redis_url)?
            .set_override_option("threads", f.threads.map(|t| t as u64))?;
        let s: Settings = b.build()?.try_deserialize()?;
        s.validate()?;
        Ok(s)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let invalid = |key, message: &str| {
            Err(SettingsError::Invalid {
                key,
                message: message.into(),
            })
        };
        if let Some(k) = self.admin_key() {
            if k.chars().count() < 16 && !self.allow_short_admin_key {
                return invalid(
                    "admin_key",
                    "must be at least 16 characters (allow_short_admin_key = true accepts a shorter one, for development only)",
                );
            }
        }
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return invalid("listen", "not an address like 127.0.0.1:8080");
        }
        match self.starting_cash.parse::<engine::Money>() {
            Ok(m) if m.is_negative() => return invalid("starting_cash", "must not be negative"),
            Ok(_) => {}
            Err(e) => return invalid("starting_cash", &e.to_string()),
        }
        if let Err(e) = self.self_trade_prevention.parse::<engine::SelfTrade>() {
            return invalid("self_trade_prevention", &e);
        }
        if self.kafka_partitions < 1 {
            return invalid("kafka_partitions", "must be at least 1");
        }
        if let Err(e) = self.sessions() {
            let key = if self.session_hours.is_some() {
                "session_hours"
            } else {
                "session_period_ms"
            };
            return invalid(key, &e.to_string());
        }
        Ok(())
    }

    /// The rate limits and caps.
    pub fn limits(&self) -> api::limits::LimitSettings {
        api::limits::LimitSettings {
            orders_per_second_per_key: self.orders_per_second_per_key,
            orders_per_second_per_address: self.orders_per_second_per_address,
            registrations_per_minute_per_address: self.registrations_per_minute_per_address,
            streams_per_key: self.streams_per_key,
            streams: self.max_streams,
            max_users: self.max_users,
        }
    }
    /// How long a client may take over a request.
    pub fn timeouts(&self) -> api::Timeouts {
        api::Timeouts {
            headers: Duration::from_millis(self.header_timeout_ms.max(1)),
            request: Duration::from_millis(self.request_timeout_ms.max(1)),
        }
    }
    /// The trading sessions these settings describe.
    pub fn sessions(&self) -> Result<actors::session::Sessions, actors::session::SessionError> {
        match &self.session_hours {
            Some(h) => actors::session::Sessions::calendar(h, &self.session_tz, &self.session_days),
            None => actors::session::Sessions::rolling_ms(self.session_period_ms),
        }
    }

    /// The listen address (validated at load).
    pub fn listen_addr(&self) -> std::net::SocketAddr {
        self.listen
            .parse()
            .unwrap_or_else(|_| std::net::SocketAddr::from(([127, 0, 0, 1], 8080)))
    }
    /// The self-trade rule (validated at load).
    pub fn self_trade(&self) -> engine::SelfTrade {
        self.self_trade_prevention.parse().unwrap_or_default()
    }
    pub fn starting_cash(&self) -> engine::Money {
        self.starting_cash.parse().unwrap_or(engine::Money::ZERO)
    }
    pub fn tick_interval(&self) -> Duration {
        Duration::from_millis(self.tick_interval_ms.max(1))
    }
    pub fn durable_timeout(&self) -> Duration {
        Duration::from_millis(self.durable_timeout_ms.max(1))
    }
    pub fn cache_ttl(&self) -> Duration {
        Duration::from_millis(self.cache_ttl_ms.max(1))
    }
    pub fn replay_hold(&self) -> Duration {
        Duration::from_millis(self.replay_hold_ms)
    }
    pub fn tasks(&self) -> api::tasks::TaskSettings {
        api::tasks::TaskSettings {
            pause_timeout: Duration::from_millis(self.task_pause_timeout_ms),
            upload_limit: usize::try_from(self.task_upload_limit_bytes).unwrap_or(usize::MAX),
            concurrency: self.task_concurrency.max(1) as usize,
            max_step: self.task_step_items.max(1) as usize,
        }
    }
    /// The database URL, for connecting only (never log it).
    pub fn database_url(&self) -> Option<&str> {
        self.database_url.as_ref().map(|s| s.expose_secret())
    }
    pub fn redis_url(&self) -> Option<&str> {
        self.redis_url.as_ref().map(|s| s.expose_secret())
    }
    pub fn admin_key(&self) -> Option<&str> {
        self.admin_key.as_ref().map(|s| s.expose_secret())
    }
}

/// A deserializer that only records the field names serde asks for.
struct FieldNames(Option<&'static [&'static str]>);

impl<'de> serde::Deserializer<'de> for &mut FieldNames {
    type Error = serde::de::value::Error;
    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("field names only"))
    }
    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = Some(fields);
        Err(serde::de::Error::custom("field names only"))
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
        enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_then_file_then_environment_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("serve.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:1111\"\ntick_interval_ms = 100\ncollar_bps = 8\nredis_prefix = \"f\"\n",
        )
        .unwrap();
        let s = Settings::load_from(
            Some(&file),
            env(&[
                ("MARKETSIM_TICK_INTERVAL_MS", "200"),
                ("MARKETSIM_LISTEN", "127.0.0.1:2222"),
                ("MARKETSIM_ADMIN_KEY", "0123456789012345"),
                ("MARKETSIM_REDIS_PREFIX", ""),
                ("OTHER", "x"),
            ]),
            &Overrides {
                listen: Some("127.0.0.1:3333".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(s.listen, "127.0.0.1:3333", "a flag beats the environment");
        assert_eq!(s.tick_interval_ms, 200, "the environment beats the file");
        assert_eq!(s.collar_bps, 8, "the file beats the default");
        assert_eq!(s.redis_prefix, "f", "an empty variable is unset");
        assert_eq!(s.cache_ttl_ms, 1_000, "defaults fill the rest");
        assert_eq!(
            s.admin_key(),
            Some("0123456789012345"),
            "a numeric-looking key stays a string"
        );
    }

    #[test]
    fn secrets_never_print() {
        let s = Settings::load_from(
            None,
            env(&[
                ("MARKETSIM_ADMIN_KEY", "hunter2hunter2hunter2"),
                ("MARKETSIM_DATABASE_URL", "postgres://u:pw-secret@h/db"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("pw-secret"), "{shown}");
        assert_eq!(s.database_url(), Some("postgres://u:pw-secret@h/db"));
    }

    #[test]
    fn bad_values_and_unknown_keys_name_the_key() {
        let bad = |pairs: &[(&str, &str)]| {
            let e = Settings::load_from(None, env(pairs), &Overrides::default()).unwrap_err();
            format!("{:#}", anyhow::Error::from(e))
        };
        assert!(bad(&[("MARKETSIM_TICK_INTERVAL_MS", "soon")]).contains("tick_interval_ms"));
        assert!(bad(&[("MARKETSIM_STARTING_CASH", "-5")]).contains("starting_cash"));
        assert!(bad(&[("MARKETSIM_LISTEN", "nowhere")]).contains("listen"));
        assert!(bad(&[("MARKETSIM_TICK_INTERVALMS", "5")]).contains("tick_intervalms"));
        assert!(bad(&[("MARKETSIM_SESSION_HOURS", "16:00-09:30")]).contains("session_hours"));
        assert!(
            bad(&[
                ("MARKETSIM_SESSION_HOURS", "09:30-16:00"),
                ("MARKETSIM_SESSION_TZ", "Nowhere")
            ])
            .contains("time zone")
        );
        assert!(bad(&[("MARKETSIM_SESSION_PERIOD_MS", "5")]).contains("session_period_ms"));
        assert!(
            bad(&[("MARKETSIM_SELF_TRADE_PREVENTION", "never")]).contains("self_trade_prevention")
        );
        let short = bad(&[("MARKETSIM_ADMIN_KEY", "hunter2")]);
        assert!(
            short.contains("admin_key") && short.contains("16"),
            "{short}"
        );
        assert!(
            !short.contains("hunter2"),
            "the key itself is never shown: {short}"
        );
        let dev = [
            ("MARKETSIM_ADMIN_KEY".to_string(), "hunter2".to_string()),
            (
                "MARKETSIM_ALLOW_SHORT_ADMIN_KEY".to_string(),
                "true".to_string(),
            ),
        ];
        let s = Settings::load_from(None, dev, &Overrides::default()).unwrap();
        assert_eq!(s.admin_key(), Some("hunter2"));
    }

    #[test]
    fn every_key_is_settable_and_the_readme_documents_each() {
        assert_eq!(Settings::keys().len(), 39);
        assert_eq!(Settings::keys()[0], "listen");
        for key in Settings::keys() {
            let v = match *key {
                "listen" => "127.0.0.1:1",
                "starting_cash" => "1.00",
                "scenario" | "log" | "database_url" | "redis_url" => "x",
                k if k.starts_with("kafka_") && k != "kafka_partitions" => "x",
                "redis_prefix" => "x",
                "auto_list" | "allow_short_admin_key" => "false",
                "admin_key" => "0123456789abcdef",
                "session_hours" => "09:30-16:00",
                "session_tz" => "UTC",
                "session_days" => "all",
                "session_period_ms" => "5000",
                "self_trade_prevention" => "cancel_incoming",
                _ => "1",
            };
            let var = format!("MARKETSIM_{}", key.to_uppercase());
            Settings::load_from(None, env(&[(&var, v)]), &Overrides::default())
                .unwrap_or_else(|e| panic!("{key}: {e}"));
        }
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        for key in Settings::keys() {
            let row = format!("| `{key}` | `MARKETSIM_{}` |", key.to_uppercase());
            assert!(readme.contains(&row), "README.md has no row `{row}`");
        }
    }
}
