//! A real Kafka-protocol broker for the tests: Tansu (crates.io), started
//! as a child process on a free loopback port. `scripts/test` installs it
//! when missing; `TANSU` names another binary.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Tansu broker; killed when dropped.
#[derive(Debug)]
pub struct Tansu {
    child: Option<Child>,
    port: u16,
    storage: String,
    /// The broker's working directory (its SQLite file), if on disk.
    dir: Option<tempfile::TempDir>,
    pub brokers: String,
}

/// The program `$var` names, else `name` on the PATH.
pub fn tool(var: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(p.into());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// The Tansu binary: `$TANSU`, else `tansu` on the PATH, else cargo's bin
/// directory.
pub fn binary() -> PathBuf {
    let on_path = tool("TANSU", "tansu");
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|d| d.join("bin/tansu"));
    on_path
        .or(cargo_bin.filter(|p| p.is_file()))
        .expect("the Tansu broker is not installed: run scripts/test (it installs it), or `cargo install tansu --locked --features dynostore,libsql`")
}

/// A loopback port free right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Tansu {
    /// A broker keeping everything in memory.
    pub fn start() -> Tansu {
        Tansu::start_with("memory://tansu/", None)
    }

    /// A broker keeping topics, messages and committed offsets in an SQLite
    /// file of its own, so they survive a restart of the broker.
    pub fn start_on_disk() -> Tansu {
        Tansu::start_with("sqlite://tansu.db", Some(tempfile::tempdir().unwrap()))
    }

    fn start_with(storage: &str, dir: Option<tempfile::TempDir>) -> Tansu {
        let port = free_port();
        let mut t = Tansu {
            child: None,
            port,
            storage: storage.to_string(),
            dir,
            brokers: format!("127.0.0.1:{port}"),
        };
        t.restart();
        t
    }

    /// Kill the broker at once (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start it (again) on the same port and storage, and wait until it
    /// answers.
    pub fn restart(&mut self) {
        self.kill();
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let mut cmd = Command::new(binary());
        if let Some(d) = &self.dir {
            // SQLite paths are relative to the broker's working directory.
            cmd.current_dir(d.path());
        }
        let child = cmd
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                &self.storage,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start tansu");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if adapters::kafka::check_brokers(&self.brokers, Duration::from_millis(500)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "tansu did not come up on {}",
                self.brokers
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.kill();
    }
}
