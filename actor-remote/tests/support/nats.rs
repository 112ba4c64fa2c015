//! A real `nats-server` for the tests: started on a loopback port it picks
//! itself, killed when dropped.
//!
//! Without the binary, a test run outside CI skips the NATS tests with a
//! loud line; under CI (`CI` set) a missing server fails the test, saying
//! how to install it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How to get the server, for the messages.
pub(crate) const INSTALL: &str = "apt-get install nats-server";

/// A running `nats-server`.
#[derive(Debug)]
pub(crate) struct NatsServer {
    child: Option<Child>,
    binary: PathBuf,
    port: u16,
}

/// Where `nats-server` is: on the `PATH`, or where Debian's package puts
/// it (`/usr/sbin`, not on every user's `PATH`).
pub(crate) fn binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("nats-server")).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path.into_iter().chain([PathBuf::from("/usr/sbin/nats-server")]).find(|p| p.is_file())
}

/// The server, or `None` (after saying so) when it is not installed and
/// this is not CI.
///
/// # Panics
///
/// Under CI without the binary, or if the server does not start.
pub(crate) fn start() -> Option<NatsServer> {
    let Some(binary) = binary() else {
        if std::env::var_os("CI").is_some() {
            panic!("nats-server is not installed, and CI must run the NATS tests: {INSTALL}");
        }
        eprintln!("\n*** skipped: nats-server not installed ({INSTALL}) ***\n");
        return None;
    };
    let mut server = NatsServer { child: None, binary: binary.clone(), port: 0 };
    assert!(server.run(), "nats-server ({}) did not start on a loopback port", binary.display());
    Some(server)
}

impl NatsServer {
    /// `nats://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server on its port, or on one the OS picks the first
    /// time; whether it listens.
    ///
    /// The port is the one the server's own log says it listens on: a test
    /// must never take another test's server for its own. (Picking a free
    /// port, releasing it and starting the server on it let two tests
    /// running at once pick the same one; one server failed to bind, and
    /// its test, which saw the port answer, used the other's server, whose
    /// stop then failed the other test's asks with `NodeDown`.)
    fn run(&mut self) -> bool {
        let port = if self.port == 0 { "-1".to_owned() } else { self.port.to_string() };
        let mut child = Command::new(&self.binary)
            .args(["-a", "127.0.0.1", "-p", &port])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nats-server starts");
        let log = child.stderr.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the log to its end, so that the server never blocks on a
        // full pipe; passes on the port once it listens.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(log).lines() {
                let Ok(line) = line else { break };
                if let Some(at) = line.split("Listening for client connections on ").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(at.rsplit(':').next().and_then(|p| p.trim().parse::<u16>().ok()));
                }
            }
        });
        self.child = Some(child);
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Some(port)) if self.port == 0 || self.port == port => {
                self.port = port;
                true
            }
            // It exited (the port was taken), or said something else.
            _ => {
                self.stop();
                false
            }
        }
    }

    /// Kills the server, as a crash would.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    ///
    /// # Panics
    ///
    /// If it does not come back within a few tries (the port may be
    /// taken, for a moment, by a connection of another test).
    pub(crate) fn restart(&mut self) {
        self.stop();
        for _ in 0..20 {
            if self.run() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nats-server did not restart on port {}", self.port);
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
