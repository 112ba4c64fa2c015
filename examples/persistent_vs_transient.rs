//! Persistent vs transient messages. Two workers get the same five jobs:
//! one through its ordinary (transient, in-memory) mailbox, one through a
//! durable mailbox on an embedded store. The first run of the process
//! handles two jobs on each and is killed with SIGKILL. The second run finds
//! the three durable jobs still in the store and handles them; the transient
//! ones died with the process.
//!
//! Run with `cargo run --example persistent_vs_transient`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use actor_core::prelude::*;
use actor_durable::{Delivery, Store, spawn_durable};
use tokio::sync::watch;

const JOBS: usize = 5;
/// How many jobs each worker finishes before the first run is killed.
const BEFORE_THE_CRASH: usize = 2;

/// Handles jobs and counts them; in the first run it hangs on the third,
/// as if it were busy when the crash came.
struct Worker {
    kind: &'static str,
    run: u32,
    done: watch::Sender<usize>,
}
impl Actor for Worker {
    type Error = std::convert::Infallible;
}
impl Worker {
    fn new(kind: &'static str, run: u32) -> (Self, watch::Receiver<usize>) {
        let (done, count) = watch::channel(0);
        (Worker { kind, run, done }, count)
    }

    async fn work(&mut self, job: &str, note: &str) {
        if self.run == 1 && *self.done.borrow() == BEFORE_THE_CRASH {
            std::future::pending::<()>().await; // busy when the crash comes
        }
        self.done.send_modify(|n| *n += 1);
        println!("run {}: {} worker handled {job}{note}", self.run, self.kind);
    }
}

/// A transient message: lives in memory only.
struct Job(String);
impl Message for Job {
    type Reply = ();
}
impl Handler<Job> for Worker {
    async fn handle(&mut self, Job(job): Job, _: &mut Context<Self>) {
        self.work(&job, "").await;
    }
}
impl Handler<Delivery<String>> for Worker {
    async fn handle(&mut self, d: Delivery<String>, _: &mut Context<Self>) {
        self.work(&d.message, if d.redelivered { " (stored before the crash)" } else { "" }).await;
    }
}

/// The first run: queue five jobs on each worker, then wait to be killed.
async fn first_run(store: Store) -> Result<(), Box<dyn std::error::Error>> {
    let system = ActorSystem::new();
    let (worker, mut transient_done) = Worker::new("transient", 1);
    let transient = system.spawn(worker);
    let durable = spawn_durable(&system, Worker::new("durable", 1).0, &store, "jobs")?;
    for i in 1..=JOBS {
        transient.tell(Job(format!("job-{i}"))).await?;
        durable.tell(format!("job-{i}")).await?; // returns once it is on disk
    }
    println!("run 1: {JOBS} jobs queued on each worker");
    transient_done.wait_for(|n| *n == BEFORE_THE_CRASH).await?;
    durable.wait_acked(BEFORE_THE_CRASH as u64).await; // acknowledged on disk
    println!("ready to be killed");
    std::future::pending().await
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, mode, path] = args.as_slice()
        && mode == "first-run"
    {
        return first_run(Store::open(path)?).await;
    }
    let dir = std::env::temp_dir().join(format!("persistent-vs-transient-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("jobs.redb");

    // Run 1, in a child process that is killed with SIGKILL mid-work.
    let mut child = Command::new(std::env::current_exe()?)
        .args(["first-run", path.to_str().ok_or("temp path is not UTF-8")?])
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (mut transient_done, mut durable_done) = (0, 0);
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if line == "ready to be killed" {
            break;
        }
        transient_done += usize::from(line.starts_with("run 1: transient worker handled"));
        durable_done += usize::from(line.starts_with("run 1: durable worker handled"));
        println!("{line}");
    }
    child.kill()?; // SIGKILL: no shutdown, no flush, nothing
    child.wait()?;
    println!("run 1: killed with SIGKILL");

    // Run 2: the same store, fresh workers.
    let system = ActorSystem::new();
    let store = Store::open(&path)?;
    let transient = system.spawn(Worker::new("transient", 2).0);
    println!("run 2: the transient worker starts with {} jobs in its mailbox", transient.mailbox_len());
    let left = store.queue::<String>("jobs")?.pending_seqs()?;
    println!("run 2: the durable queue still holds {} jobs", left.len());
    let (worker, done_now) = Worker::new("durable", 2);
    let durable = spawn_durable(&system, worker, &store, "jobs")?;
    durable.wait_acked(JOBS as u64).await;
    durable_done += *done_now.borrow();

    println!("persistent: {durable_done} of {JOBS} jobs handled across the restart");
    let lost = JOBS - transient_done;
    println!("transient: {transient_done} of {JOBS} jobs handled, {lost} lost with the process");
    system.shutdown().await;
    drop((durable, store));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
