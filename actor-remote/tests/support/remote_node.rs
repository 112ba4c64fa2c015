//! The `remote-node` binary, seen from a test: a launcher, and a mirror of
//! its counter actor so that references to it are typed. The mirror has the
//! same name and methods, hence the same wire names (`Counter::Add`,
//! `Counter::Slow`, `Counter::Record`, `Counter::Report`, `Counter::Take`,
//! `Counter::Taken`); tests never spawn it, so its handlers never run: the
//! binary's do.

use std::process::Stdio;
use std::time::Duration;

use actor_core::prelude::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The binary's counter, as a type: never spawned.
pub(crate) struct Counter;

const MIRROR: &str = "the mirror of the binary's counter is never spawned";

#[actor]
impl Counter {
    #[message(remote)]
    pub(crate) fn add(&mut self, n: u64) -> u64 {
        unreachable!("{MIRROR} (add {n})")
    }

    #[message(remote)]
    pub(crate) async fn slow(&mut self, millis: u64) -> u64 {
        unreachable!("{MIRROR} (slow {millis})")
    }

    #[message(remote)]
    pub(crate) async fn record(&mut self, sender: u32, seq: u64) {
        unreachable!("{MIRROR} (record {sender} {seq})")
    }

    #[message(remote)]
    pub(crate) fn report(&self) -> (u64, u64) {
        unreachable!("{MIRROR}")
    }

    #[message(remote)]
    pub(crate) fn take(&mut self, sender: u32, seq: u64, blob: String) {
        unreachable!("{MIRROR} (take {sender} {seq}, {} bytes)", blob.len())
    }

    #[message(remote)]
    pub(crate) fn taken(&self) -> (u64, u64, u64) {
        unreachable!("{MIRROR}")
    }
}

/// Starts the binary as node `peer` on `address` with `secret`; returns it
/// once it listens. It is killed when the handle is dropped.
pub(crate) async fn start(address: &str, secret: &str) -> Child {
    start_with(address, secret, &[]).await
}

/// As [`start`], with more options for the binary (`--log FILE`,
/// `--busy-ms N`).
pub(crate) async fn start_with(address: &str, secret: &str, options: &[&str]) -> Child {
    start_reading(address, secret, options).await.0
}

/// As [`start_with`], and the rest of the binary's output, line by line
/// (its `cluster <event>` lines under `--cluster`). Keep reading them: the
/// binary blocks on a full pipe, and fails to print to a closed one.
pub(crate) async fn start_reading(
    address: &str,
    secret: &str,
    options: &[&str],
) -> (Child, tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_remote-node"))
        .args(["--listen", address, "--name", "peer", "--secret", secret])
        .args(options)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the remote-node binary starts");
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("the peer starts in time")
        .expect("its output is readable")
        .expect("the peer prints its address");
    assert!(line.starts_with("listening "), "{line}");
    (child, lines)
}

/// Sends `signal` (`-KILL`, `-STOP`, `-CONT`) to the child process.
pub(crate) fn signal(child: &Child, signal: &str) {
    let pid = child.id().expect("the child runs").to_string();
    let status = std::process::Command::new("kill").args([signal, &pid]).status().unwrap();
    assert!(status.success(), "kill {signal} {pid}");
}
