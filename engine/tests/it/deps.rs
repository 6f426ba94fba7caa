//! `engine` stays pure: no async runtime, no IO crate, no clock or RNG of
//! its own. This test reads the manifest and fails when one appears.

const FORBIDDEN: &[&str] = &[
    "tokio",
    "async-std",
    "smol",
    "futures",
    "mio",
    "ractor",
    "actix",
    "hyper",
    "axum",
    "reqwest",
    "sqlx",
    "redis",
    "rdkafka",
    "postgres",
    "tokio-postgres",
    "chrono",
    "time",
    "getrandom",
    "rand_os",
    "tracing-subscriber",
    "std-fs",
    "tempfile",
    "serde_json",
    "csv",
];

#[test]
fn engine_depends_on_no_async_io_clock_or_entropy_crate() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let doc: toml::Table = manifest.parse().unwrap();
    let root: toml::Table =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let deps = doc
        .get("dependencies")
        .and_then(|d| d.as_table())
        .cloned()
        .unwrap_or_default();
    for (name, spec) in &deps {
        assert!(
            !FORBIDDEN.contains(&name.as_str()),
            "engine must not depend on `{name}`"
        );
        // `rand` may only come in without its OS/thread RNG features.
        if name == "rand" {
            let ws = spec
                .get("workspace")
                .and_then(|w| w.as_bool())
                .unwrap_or(false);
            let spec = if ws {
                root["workspace"]["dependencies"]["rand"].clone()
            } else {
                spec.clone()
            };
            assert_eq!(
                spec.get("default-features").and_then(|v| v.as_bool()),
                Some(false),
                "rand must have default-features = false (no thread_rng)"
            );
            let features: Vec<&str> = spec
                .get("features")
                .and_then(|f| f.as_array())
                .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            for f in ["thread_rng", "os_rng", "std_rng", "getrandom"] {
                assert!(
                    !features.contains(&f),
                    "rand feature `{f}` gives the engine its own entropy"
                );
            }
        }
    }
    assert!(
        deps.contains_key("thiserror"),
        "the manifest was not read as expected"
    );
}
