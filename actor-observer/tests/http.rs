//! The observer over HTTP: `/stats.json` shows the tree, mailbox depths,
//! counts, rates, restarts and dead letters of a running system; `/` is the
//! self-contained page.

use std::net::SocketAddr;
use std::time::Duration;

use actor_core::prelude::*;
use actor_core::supervision::{ChildSpec, Strategy, Supervisor};
use actor_observer::{Observer, ObserverHandle, Snapshot};
use test_support::{Work, Worker, WorkerClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response: status code, headers (lower-cased names) and body.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 client: one request per connection.
async fn request(addr: SocketAddr, method: &str, path: &str) -> Response {
    let mut stream = TcpStream::connect(addr).await.expect("connect to the observer");
    let req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut raw))
        .await
        .expect("the observer answers within 5 s")
        .unwrap();
    let raw = String::from_utf8(raw).expect("a UTF-8 response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a header block");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status code");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Response { status, headers, body: body.to_owned() }
}

/// An observed system, and an observer serving it on a free local port.
async fn serve_observed() -> (ActorSystem, ObserverHandle) {
    let system = ActorSystem::builder().observe(true).build();
    let observer = Observer::serve(&system, "127.0.0.1:0").await.unwrap();
    (system, observer)
}

async fn stats(addr: SocketAddr) -> Snapshot {
    let resp = request(addr, "GET", "/stats.json").await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    serde_json::from_str(&resp.body).expect("a Snapshot in JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_json_shows_tree_mailboxes_rates_restarts_and_dead_letters() {
    let system = ActorSystem::builder().observe(true).build();
    let observer = Observer::new(&system).sample_every(Duration::from_millis(50)).bind("127.0.0.1:0").await.unwrap();
    let addr = observer.local_addr();
    assert!(addr.ip().is_loopback());

    // A supervisor with two children; one of them crashes once.
    let sup = system.spawn_with(Supervisor::new(Strategy::OneForOne), SpawnOptions::new().name("sup"));
    let steady =
        sup.start_child(ChildSpec::new(Worker::default).options(SpawnOptions::new().name("steady"))).await.unwrap();
    let crasher =
        sup.start_child(ChildSpec::new(Worker::default).options(SpawnOptions::new().name("crasher"))).await.unwrap();
    let _ = crasher.crash().await;
    tokio::time::timeout(Duration::from_secs(5), async {
        while crasher.work().await.is_err() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the crasher is restarted");

    // A busy root actor with a queue behind a long message.
    let busy = system.spawn_with(Worker::default(), SpawnOptions::new().name("busy"));
    busy.tell_hold(10_000).await.unwrap();
    for _ in 0..20 {
        busy.tell_work().await.unwrap();
    }

    // One dead letter: a message for an actor that has stopped.
    let gone = system.spawn_with(Worker::default(), SpawnOptions::new().name("gone"));
    let gone_id = gone.id();
    gone.stop();
    gone.wait_for_stop().await;
    assert!(gone.tell_work().await.is_err());

    // The steady worker handles messages for a few sampling windows.
    for _ in 0..40 {
        steady.work().await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let s = stats(addr).await;

    // The tree: the supervisor is a root, both workers its children, one
    // level down, right after it.
    let find = |name: &str| {
        s.actors.iter().find(|a| a.name.as_deref() == Some(name)).unwrap_or_else(|| panic!("{name} listed: {s:?}"))
    };
    let sup_view = find("sup");
    assert_eq!(sup_view.id, sup.id().to_string());
    assert_eq!(sup_view.parent, None);
    assert_eq!(sup_view.depth, 0);
    for child in ["steady", "crasher"] {
        let c = find(child);
        assert_eq!(c.parent.as_deref(), Some(sup_view.id.as_str()), "{child}'s parent");
        assert_eq!(c.depth, 1);
        assert!(c.actor_type.ends_with("Worker"), "{}", c.actor_type);
    }
    let sup_at = s.actors.iter().position(|a| a.id == sup_view.id).unwrap();
    let kids: Vec<_> = s.actors[sup_at + 1..sup_at + 3].iter().map(|a| a.name.as_deref().unwrap()).collect();
    assert_eq!(kids, ["steady", "crasher"], "children follow their parent in spawn order");
    assert!(s.actors.iter().all(|a| a.name.as_deref() != Some("gone")), "a stopped actor is not listed");
    assert_eq!(s.live, 4);

    // Counts, restarts and state.
    let crasher_view = find("crasher");
    assert_eq!(crasher_view.restarts, 1);
    assert_eq!(crasher_view.state, "running");
    assert!(crasher_view.processed >= 2, "{}", crasher_view.processed);
    let steady_view = find("steady");
    assert_eq!(steady_view.processed, 40);
    assert_eq!(steady_view.restarts, 0);

    // The busy actor's queue.
    let busy_view = find("busy");
    assert_eq!(busy_view.parent, None);
    assert!((20..=21).contains(&busy_view.mailbox_len), "mailbox {}", busy_view.mailbox_len);
    assert!(busy_view.processed <= 1);

    // The dead letter.
    assert_eq!(s.dead_letters, 1);
    assert_eq!(s.recent_dead_letters.len(), 1);
    let d = &s.recent_dead_letters[0];
    assert_eq!(d.seq, 1);
    assert_eq!(d.recipient.as_deref(), Some(gone_id.to_string().as_str()));
    assert!(d.actor_type.ends_with("Worker"), "{}", d.actor_type);
    assert!(d.message_type.ends_with("Work"), "{}", d.message_type);
    assert_eq!(d.reason, "Stopped");
    assert_eq!(s.dead_letters_missed, 0);

    // The handle's snapshot is the same data.
    let direct = observer.snapshot();
    assert_eq!(direct.actors.len(), s.actors.len());
    assert_eq!(direct.recent_dead_letters, s.recent_dead_letters);

    // Rates: while the steady worker keeps handling messages, a sampled
    // window shows it at work and the stuck actor at 0.
    let driver = tokio::spawn({
        let steady = steady.clone();
        async move {
            loop {
                steady.work().await.unwrap();
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    });
    let s = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let s = stats(addr).await;
            if s.actors.iter().any(|a| a.name.as_deref() == Some("steady") && a.rate > 0.0) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the steady worker shows a rate above 0");
    driver.abort();
    assert!(s.rate_window_ms > 0, "a window has been sampled");
    let rate_of = |name: &str| s.actors.iter().find(|a| a.name.as_deref() == Some(name)).unwrap().rate;
    assert_eq!(rate_of("busy"), 0.0, "the busy actor handles nothing while it holds");
    assert!(s.total_rate >= rate_of("steady"));

    busy.kill();
    observer.stop().await;
}

#[tokio::test]
async fn rates_fall_to_zero_when_the_work_stops() {
    let system = ActorSystem::builder().observe(true).build();
    let observer = Observer::new(&system).sample_every(Duration::from_millis(30)).bind("127.0.0.1:0").await.unwrap();
    let worker = system.spawn_with(Worker::default(), SpawnOptions::new().name("w"));
    for _ in 0..200 {
        worker.tell_work().await.unwrap();
    }
    assert_eq!(worker.work().await.unwrap(), 201);
    // Once a full window has passed with no work, the rate is 0.
    let s = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            tokio::time::sleep(Duration::from_millis(40)).await;
            let s = stats(observer.local_addr()).await;
            if s.total_rate == 0.0 {
                return s;
            }
        }
    })
    .await
    .expect("the rate falls to 0 within a few windows");
    let w = s.actors.iter().find(|a| a.name.as_deref() == Some("w")).unwrap();
    assert_eq!(w.processed, 201);
    assert_eq!(w.rate, 0.0);
    assert_eq!(s.total_rate, 0.0);
}

#[tokio::test]
async fn the_dead_letter_ring_keeps_the_most_recent() {
    let system = ActorSystem::builder().observe(true).build();
    let observer = Observer::new(&system).recent_dead_letters(3).bind("127.0.0.1:0").await.unwrap();
    for _ in 0..5 {
        let result = system.tell_named::<Worker, _>("nobody", Work).await;
        assert!(result.is_err());
    }
    let s = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let s = stats(observer.local_addr()).await;
            if s.recent_dead_letters.last().is_some_and(|d| d.seq == 5) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("all five letters reach the observer");
    assert_eq!(s.dead_letters, 5);
    let seqs: Vec<u64> = s.recent_dead_letters.iter().map(|d| d.seq).collect();
    assert_eq!(seqs, [3, 4, 5], "the oldest are dropped, oldest first");
    for d in &s.recent_dead_letters {
        assert_eq!(d.name.as_deref(), Some("nobody"));
        assert_eq!(d.reason, "UnknownName");
        assert_eq!(d.recipient, None);
    }
    // The group counts them all, past the ring's capacity.
    assert_eq!(s.dead_letter_groups.len(), 1);
    assert_eq!(s.dead_letter_groups[0].count, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_says_why_panics_with_flight_records_restart_times_grouped_letters_and_rate_history() {
    let system = ActorSystem::builder().observe(true).build();
    let observer = Observer::new(&system)
        .sample_every(Duration::from_millis(20))
        .rate_history(4)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let addr = observer.local_addr();
    let sup = system.spawn_with(Supervisor::new(Strategy::OneForOne), SpawnOptions::new().name("sup"));
    let spec = ChildSpec::new(Worker::default).options(SpawnOptions::new().name("crasher").flight_recorder(2));
    let crasher = sup.start_child(spec).await.unwrap();
    crasher.work().await.unwrap();
    let _ = crasher.crash().await;

    // Two kinds of dead letters: three to a name nobody holds, two to an
    // actor that has stopped.
    for _ in 0..3 {
        assert!(system.tell_named::<Worker, _>("nobody", Work).await.is_err());
    }
    let gone = system.spawn(Worker::default());
    gone.stop();
    gone.wait_for_stop().await;
    for _ in 0..2 {
        assert!(gone.tell_work().await.is_err());
    }

    let s = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let s = stats(addr).await;
            let restarted = s.actors.iter().any(|a| a.restarts_unix_ms.len() == 1);
            if restarted && s.dead_letter_groups.iter().map(|g| g.count).sum::<u64>() == 5 && s.rate_history.len() == 4
            {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the restart, five letters and four windows");

    let c = s.actors.iter().find(|a| a.name.as_deref() == Some("crasher")).unwrap();
    let panic = c.last_panic.as_ref().expect("the crasher's panic is shown");
    assert_eq!(panic.message, "crash on purpose");
    assert!(panic.message_type.as_deref().is_some_and(|t| t.ends_with("Crash")));
    let record: Vec<&str> = panic.flight_record.iter().map(|r| r.message_type.as_str()).collect();
    assert_eq!(record.len(), 2, "{record:?}");
    assert!(record[0].ends_with("Work") && record[1].ends_with("Crash"), "{record:?}");
    assert!(panic.at_unix_ms <= c.restarts_unix_ms[0] && c.restarts_unix_ms[0] <= s.now_unix_ms);
    let sup_view = s.actors.iter().find(|a| a.name.as_deref() == Some("sup")).unwrap();
    assert!(sup_view.last_panic.is_none() && sup_view.restarts_unix_ms.is_empty());

    // Grouped by reason, target and message type, most recent first.
    let groups: Vec<(&str, u64)> = s.dead_letter_groups.iter().map(|g| (g.reason.as_str(), g.count)).collect();
    assert_eq!(groups, [("Stopped", 2), ("UnknownName", 3)]);
    let unknown = &s.dead_letter_groups[1];
    assert_eq!(unknown.name.as_deref(), Some("nobody"));
    assert!(unknown.message_type.ends_with("Work"));
    assert!(unknown.first_at_ms <= unknown.last_at_ms);
    assert_eq!(s.dead_letter_groups[0].recipient.as_deref(), Some(gone.id().to_string().as_str()));

    // The rate history keeps the last four windows, for the system and per actor.
    assert_eq!(s.rate_history.len(), 4);
    assert!(s.actors.iter().all(|a| a.rate_history.len() <= 4));
    observer.stop().await;
}

#[tokio::test]
async fn the_page_is_self_contained_and_polls_the_json() {
    let (_system, observer) = serve_observed().await;
    let resp = request(observer.local_addr(), "GET", "/").await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(resp.body.starts_with("<!doctype html>"));
    assert!(resp.body.contains("<script>"), "inline JS");
    assert!(resp.body.contains("fetch(\"stats.json\""), "polls the JSON");
    for outside in ["src=\"http", "href=\"http", "src=\"//", "href=\"//", "<link"] {
        assert!(!resp.body.contains(outside), "the page loads nothing else ({outside})");
    }
}

#[tokio::test]
async fn other_paths_and_methods_are_refused() {
    let (_system, observer) = serve_observed().await;
    let addr = observer.local_addr();
    assert_eq!(request(addr, "GET", "/nope").await.status, 404);
    let post = request(addr, "POST", "/stats.json").await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
}

#[tokio::test]
async fn stop_closes_the_port() {
    let (_system, observer) = serve_observed().await;
    let addr = observer.local_addr();
    assert_eq!(request(addr, "GET", "/stats.json").await.status, 200);
    observer.stop().await;
    assert!(TcpStream::connect(addr).await.is_err(), "nothing listens after stop");
}

#[tokio::test]
async fn without_observe_only_root_actors_show() {
    let system = ActorSystem::new();
    let observer = Observer::serve(&system, "127.0.0.1:0").await.unwrap();
    let sup = system.spawn_with(Supervisor::new(Strategy::OneForOne), SpawnOptions::new().name("sup"));
    let _worker = sup.start_child(ChildSpec::new(Worker::default)).await.unwrap();
    let s = stats(observer.local_addr()).await;
    assert_eq!(s.live, 2);
    assert_eq!(s.actors.len(), 1);
    assert_eq!(s.actors[0].name.as_deref(), Some("sup"));
}

#[tokio::test]
async fn dead_letter_groups_are_bounded_and_the_least_recent_give_way() {
    let (system, observer) = serve_observed().await;
    for i in 0..205 {
        assert!(system.tell_named::<Worker, _>(&format!("nobody-{i}"), Work).await.is_err());
    }
    let s = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let s = observer.snapshot();
            if s.dead_letter_groups.first().is_some_and(|g| g.name.as_deref() == Some("nobody-204")) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("all 205 letters reach the observer");
    assert_eq!(s.dead_letter_groups.len(), 200);
    let last = s.dead_letter_groups.last().unwrap();
    assert_eq!(last.name.as_deref(), Some("nobody-5"), "the five seen first gave way");
    assert!(s.dead_letter_groups.iter().all(|g| g.count == 1));
}
