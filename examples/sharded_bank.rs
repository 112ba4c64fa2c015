//! Bank accounts as durable sharded entities on three host processes.
//!
//! Every account is an entity of the sharded type `Account`, reached by its
//! id from any node (`accounts.entity("acct-7").withdraw(..)`), started on
//! its first message on the node that owns its shard. Its balance is an
//! event-sourced ledger (actor-durable) in a journal file per shard, which
//! only the shard's owner holds open: redb's file lock is the guard against
//! two writers. Each step of a transfer carries an idempotency key, so a
//! step retried after a failure is applied once.
//!
//! Run with `cargo run --example sharded_bank` (one command: it starts
//! three host processes n1..n3 and, as a client that hosts nothing, opens
//! 100 accounts and makes transfers between them; half-way it kills n2
//! with SIGKILL, whose accounts start again on n1 and n3 from their
//! journals; at the end an audit checks that the money adds up).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use actor_core::prelude::*;
use actor_core::serde::{Deserialize, Serialize};
use actor_durable::{CommandError, EventSourced, EventSourcedRef, Store, StoreError, spawn_event_sourced};
use actor_remote::{Cluster, Node, ShardRegion, Sharding, ShardingOptions};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const SECRET: &str = "example cookie";
const ACCOUNTS: u64 = 100;
const OPENING: u64 = 1_000;
const TRANSFERS: u64 = 600;

/// Every node must use the same options (the shard count above all).
fn options() -> ShardingOptions {
    ShardingOptions::default().shards(16).passivate_after(Some(Duration::from_secs(30)))
}

// ---- The ledger: an event-sourced balance ---------------------------------

#[derive(Default, Serialize, Deserialize)]
#[serde(crate = "actor_core::serde")]
struct Ledger {
    balance: u64,
}

enum Entry {
    Credit(u64),
    Debit(u64),
}

#[derive(Serialize, Deserialize)]
#[serde(crate = "actor_core::serde")]
enum Posted {
    Credited(u64),
    Debited(u64),
}

impl EventSourced for Ledger {
    type Command = Entry;
    type Event = Posted;
    type Error = u64;

    fn handle(&self, entry: Entry) -> Result<Vec<Posted>, u64> {
        match entry {
            Entry::Credit(n) => Ok(vec![Posted::Credited(n)]),
            Entry::Debit(n) if n <= self.balance => Ok(vec![Posted::Debited(n)]),
            Entry::Debit(_) => Err(self.balance),
        }
    }

    fn apply(&mut self, event: &Posted) {
        match event {
            Posted::Credited(n) => self.balance += n,
            Posted::Debited(n) => self.balance -= n,
        }
    }
}

// ---- Journal files, one per shard -----------------------------------------

/// The journal files this process holds open: one per shard that has an
/// account running here, with the number of those accounts.
struct Journals {
    dir: PathBuf,
    open: Mutex<HashMap<u32, (Store, usize)>>,
}

static JOURNALS: OnceLock<Journals> = OnceLock::new();

fn journals() -> &'static Journals {
    JOURNALS.get().expect("set before the region starts")
}

impl Journals {
    /// The journal of `shard`. While its previous owner still holds it (a
    /// hand-off finishing, or a killed process the OS has not cleaned up),
    /// opening waits, for ten seconds at most.
    async fn acquire(&self, shard: u32) -> Result<Store, StoreError> {
        let path = self.dir.join(format!("shard-{shard:02}.redb"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some((store, users)) = self.open.lock().unwrap().get_mut(&shard) {
                *users += 1;
                return Ok(store.clone());
            }
            match Store::open(&path) {
                Ok(store) => {
                    self.open.lock().unwrap().insert(shard, (store.clone(), 1));
                    return Ok(store);
                }
                Err(StoreError::AlreadyOpen { .. }) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Closes the journal of `shard` once its last account here stopped.
    async fn release(&self, shard: u32) {
        let last = {
            let mut open = self.open.lock().unwrap();
            let (_, users) = open.get_mut(&shard).expect("acquired before");
            *users -= 1;
            if *users == 0 { open.remove(&shard).map(|(store, _)| store) } else { None }
        };
        if let Some(store) = last {
            store.close().await;
        }
    }
}

fn path_flag(dir: &Path) -> String {
    dir.display().to_string()
}

// ---- The entity -------------------------------------------------------------

/// Why an account refused a step: for lack of money (final), or because
/// its journal failed (worth retrying).
#[derive(Debug, Serialize, Deserialize)]
#[serde(crate = "actor_core::serde")]
enum Refusal {
    Insufficient { balance: u64 },
    Unavailable(String),
}

struct Account {
    id: String,
    shard: u32,
    node: String,
    ledger: Option<EventSourcedRef<Ledger>>,
}

impl Actor for Account {
    type Error = StoreError;

    /// Recovers the balance from the shard's journal.
    async fn on_start(&mut self, ctx: &mut Context<Self>) -> Result<(), StoreError> {
        let store = journals().acquire(self.shard).await?;
        match spawn_event_sourced::<Ledger>(ctx.system(), &store, &self.id, 100).await {
            Ok(ledger) => {
                self.ledger = Some(ledger);
                Ok(())
            }
            Err(e) => {
                journals().release(self.shard).await;
                Err(e)
            }
        }
    }

    /// Stops the ledger and lets go of the journal, before the shard can
    /// move on.
    async fn on_stop(&mut self, _: &mut Context<Self>, _: &StopReason) {
        if let Some(ledger) = self.ledger.take() {
            ledger.actor_ref().stop();
            ledger.actor_ref().wait_for_stop().await;
            journals().release(self.shard).await;
        }
    }
}

#[actor(no_actor_impl)]
impl Account {
    /// Adds `amount`, once per `key`; the balance after.
    #[message(remote)]
    async fn deposit(&mut self, key: String, amount: u64) -> Result<u64, Refusal> {
        self.post(key, Entry::Credit(amount)).await
    }

    /// Takes `amount` if the balance allows, once per `key`.
    #[message(remote)]
    async fn withdraw(&mut self, key: String, amount: u64) -> Result<u64, Refusal> {
        self.post(key, Entry::Debit(amount)).await
    }

    #[message(remote)]
    async fn balance(&mut self) -> Result<u64, Refusal> {
        self.read().await
    }

    #[message(remote)]
    fn host(&self) -> String {
        self.node.clone()
    }
}

impl Account {
    async fn post(&mut self, key: String, entry: Entry) -> Result<u64, Refusal> {
        let ledger = self.ledger.as_ref().expect("started");
        match ledger.execute_once(key.into_bytes(), entry).await {
            // Applied now, or by an earlier try of the same step.
            Ok(_) | Err(CommandError::Duplicate) => self.read().await,
            Err(CommandError::Rejected(balance)) => Err(Refusal::Insufficient { balance }),
            Err(e) => Err(Refusal::Unavailable(e.to_string())),
        }
    }

    async fn read(&self) -> Result<u64, Refusal> {
        let ledger = self.ledger.as_ref().expect("started");
        ledger.inspect(|l| l.balance).await.map_err(|e| Refusal::Unavailable(e.to_string()))
    }
}

// ---- A host process ---------------------------------------------------------

async fn host(name: &str, seed: &str, dir: &str) -> Result<(), Box<dyn std::error::Error>> {
    let _ = JOURNALS.set(Journals { dir: PathBuf::from(dir), open: Mutex::new(HashMap::new()) });
    let node = Node::builder(ActorSystem::new()).name(name).secret(SECRET).start().await?;
    let cluster = Cluster::start(&node, examples::cluster::config()).await?;
    let me = name.to_owned();
    let opts = options();
    let shards = opts.clone();
    Sharding::start_with(&cluster, opts, move |id: &str| Account {
        id: id.to_owned(),
        shard: shards.shard_of(id),
        node: me.clone(),
        ledger: None,
    })
    .await?;
    cluster.join(&[seed]).await?;
    println!("host {name} up");
    std::future::pending::<()>().await;
    Ok(())
}

// ---- The client ---------------------------------------------------------------

/// What a step came to.
enum Step {
    Done,
    Insufficient,
}

/// One side of a transfer (or the opening deposit).
#[derive(Clone, Copy)]
enum Op {
    Deposit,
    Withdraw,
}

/// Runs one step until the account answers: a step that failed on the way
/// (its node was killed, its shard is moving) is tried again with the same
/// key, so that it is applied once.
async fn step(
    accounts: &ShardRegion<Account>,
    retries: &mut u64,
    id: &str,
    op: Op,
    key: &str,
    amount: u64,
) -> Result<Step, String> {
    let started = Instant::now();
    loop {
        let account = accounts.entity(id);
        let answer = match op {
            Op::Deposit => account.deposit(key.to_owned(), amount).timeout(Duration::from_secs(2)).await.ok(),
            Op::Withdraw => account.withdraw(key.to_owned(), amount).timeout(Duration::from_secs(2)).await.ok(),
        };
        match answer {
            Some(Ok(_)) => return Ok(Step::Done),
            Some(Err(Refusal::Insufficient { .. })) => return Ok(Step::Insufficient),
            Some(Err(Refusal::Unavailable(_))) | None => {
                if started.elapsed() > Duration::from_secs(30) {
                    return Err(format!("{id} did not answer for 30 s"));
                }
                *retries += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// A small deterministic generator, so every run makes the same transfers.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) -> Result<(), String> {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > Duration::from_secs(20) {
            return Err(format!("timed out waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    examples::main(None, run)
}

async fn run(args: examples::Args) -> Result<(), Box<dyn std::error::Error>> {
    if let (Some(name), Some(seed), Some(dir)) = (args.value("--node"), args.value("--seed"), args.value("--dir")) {
        return host(&name, &seed, &dir).await;
    }
    if !args.is_empty() {
        println!("usage: sharded_bank   (the whole demo: three host processes and a client)");
        return Ok(());
    }

    let dir = std::env::temp_dir().join(format!("sharded_bank-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = client(&dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn client(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let node = Node::builder(ActorSystem::new()).name("client").secret(SECRET).start().await?;
    let cluster = Cluster::start(&node, examples::cluster::config()).await?;
    let accounts = Sharding::proxy::<Account>(&cluster, options()).await?;
    let seed = node.address().to_string();
    let me = std::env::current_exe()?;
    let mut hosts = Vec::new();
    for name in ["n1", "n2", "n3"] {
        let mut child = Command::new(&me)
            .args(["--node", name, "--seed", &seed, "--dir", &path_flag(dir)])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await??.unwrap_or_default();
        if line != format!("host {name} up") {
            return Err(format!("{name} said {line:?}").into());
        }
        hosts.push(child);
    }
    wait_until("three hosts", || accounts.stats().hosts.len() == 3).await?;
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for owner in accounts.placement().into_iter().flatten() {
        *per_node.entry(owner).or_default() += 1;
    }
    println!("cluster of 3 hosts, {} shards: {per_node:?}", accounts.shards());

    let mut retries = 0;
    for i in 0..ACCOUNTS {
        step(&accounts, &mut retries, &format!("acct-{i}"), Op::Deposit, &format!("open-{i}"), OPENING).await?;
    }
    println!("opened {ACCOUNTS} accounts with {OPENING} each");

    let mut rng = Lcg(23);
    let (mut done, mut declined) = (0, 0);
    let mut killed_at = None;
    // The longest transfer after the kill: one that waited for n2 to be
    // declared down and its account to start elsewhere.
    let mut longest = Duration::ZERO;
    for t in 0..TRANSFERS {
        if t == TRANSFERS / 2 {
            hosts[1].start_kill()?;
            hosts[1].wait().await?;
            killed_at = Some(Instant::now());
            println!("killed n2 (SIGKILL) after {t} transfers");
        }
        let from = rng.below(ACCOUNTS);
        let to = (from + 1 + rng.below(ACCOUNTS - 1)) % ACCOUNTS;
        let amount = 1 + rng.below(200);
        let (from, to) = (format!("acct-{from}"), format!("acct-{to}"));
        let began = Instant::now();
        match step(&accounts, &mut retries, &from, Op::Withdraw, &format!("t{t}-out"), amount).await? {
            Step::Insufficient => declined += 1,
            Step::Done => {
                step(&accounts, &mut retries, &to, Op::Deposit, &format!("t{t}-in"), amount).await?;
                done += 1;
            }
        }
        if killed_at.is_some() {
            longest = longest.max(began.elapsed());
        }
    }
    println!("transfers: {done} made, {declined} declined for lack of money, {retries} retried steps");
    println!("the longest transfer after the kill took {longest:.1?}");

    let mut total = 0;
    let mut where_now: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..ACCOUNTS {
        let id = format!("acct-{i}");
        let account = accounts.entity(&id);
        total += account.balance().await?.map_err(|r| format!("{id}: {r:?}"))?;
        *where_now.entry(account.host().await?).or_default() += 1;
    }
    println!("accounts by node after the kill: {where_now:?}");
    if where_now.contains_key("n2") {
        return Err("an account still answered from the killed n2".into());
    }
    let expected = ACCOUNTS * OPENING;
    println!("audit: {ACCOUNTS} accounts hold {total} in all, {expected} expected");
    if total != expected {
        return Err(format!("the audit does not balance: {total} != {expected}").into());
    }
    println!("the audit balances");
    node.shutdown().await;
    println!("done");
    Ok(())
}
