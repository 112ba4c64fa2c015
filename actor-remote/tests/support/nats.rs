//! A real `nats-server` for the tests: started on a free loopback port,
//! killed when dropped.
//!
//! Without the binary, a test run outside CI skips the NATS tests with a
//! loud line; under CI (`CI` set) a missing server fails the test, saying
//! how to install it.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
    for _ in 0..5 {
        let port = super::free_port();
        let mut server = NatsServer { child: None, binary: binary.clone(), port };
        if server.run() {
            return Some(server);
        }
    }
    panic!("nats-server ({}) did not start on a loopback port", binary.display());
}

impl NatsServer {
    /// `nats://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server on its port; whether it accepts connections.
    fn run(&mut self) -> bool {
        let child = Command::new(&self.binary)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(child) = &mut self.child
                && let Ok(Some(_)) = child.try_wait()
            {
                // Exited: most likely the port was taken meanwhile.
                self.child = None;
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop();
        false
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
    /// If it does not come back.
    pub(crate) fn restart(&mut self) {
        self.stop();
        assert!(self.run(), "nats-server restarts on port {}", self.port);
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
