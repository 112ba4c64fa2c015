//! The terminal view, drawn into ratatui's test backend: the actor tree,
//! the selected actor's last panic with its flight record and restart
//! times, the rate history, and the dead letters grouped and counted.

use std::time::Duration;

use actor_core::prelude::*;
use actor_core::supervision::{ChildSpec, Strategy, Supervisor};
use actor_observer::tui::Dashboard;
use actor_observer::tui::ratatui::Terminal;
use actor_observer::tui::ratatui::backend::TestBackend;
use actor_observer::{Observer, Snapshot};

#[derive(Default)]
struct Worker;

#[actor]
impl Worker {
    #[message(derive(Debug))]
    fn job(&mut self, n: u32) -> u32 {
        assert!(n != 3, "job {n} is cursed");
        n
    }
}

/// The screen as lines of text.
fn draw(dashboard: Dashboard<'_>, width: u16, height: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test backend does not fail");
    terminal.draw(|frame| frame.render_widget(dashboard, frame.area())).unwrap();
    let buffer = terminal.backend().buffer();
    let cells: Vec<&str> = buffer.content().iter().map(|c| c.symbol()).collect();
    cells.chunks(usize::from(width)).map(|row| row.concat()).collect()
}

fn line_with<'a>(screen: &'a [String], needle: &str) -> &'a str {
    screen.iter().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no {needle:?} on\n{}", screen.join("\n")))
}

/// A system with a supervised worker that panicked once (and was
/// restarted), and three letters to a name nobody holds; the snapshot once
/// the observer has seen all of it.
async fn failing_system() -> (ActorSystem, Snapshot) {
    let system = ActorSystem::builder().observe(true).build();
    let observer = Observer::new(&system).sample_every(Duration::from_millis(20)).bind("127.0.0.1:0").await.unwrap();
    let sup = system.spawn_with(Supervisor::new(Strategy::OneForOne), SpawnOptions::new().name("sup"));
    let spec = ChildSpec::new(Worker::default).options(SpawnOptions::new().name("flaky").flight_recorder(3));
    let worker = sup.start_child(spec).await.unwrap();
    for n in 1..=3 {
        let _ = worker.job(n).await;
    }
    for _ in 0..3 {
        let _ = system.tell_named::<Worker, _>("missing", Job { n: 0 }).await;
    }
    let snapshot = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let s = observer.snapshot();
            let restarted = s.actors.iter().any(|a| a.restarts == 1);
            let counted = s.dead_letter_groups.first().is_some_and(|g| g.count == 3);
            if restarted && counted && s.rate_history.len() >= 2 {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the observer sees the restart, the letters and two rate windows");
    observer.stop().await;
    (system, snapshot)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_tree_the_last_panic_and_grouped_dead_letters() {
    let (system, snapshot) = failing_system().await;
    let flaky = snapshot.actors.iter().position(|a| a.name.as_deref() == Some("flaky")).unwrap();
    let screen = draw(Dashboard::new(&snapshot).select(Some(flaky)).title("http://127.0.0.1:1/"), 140, 44);
    let text = screen.join("\n");

    assert!(line_with(&screen, "actor observer").contains("http://127.0.0.1:1/"));
    assert!(line_with(&screen, "live actors").contains("dead letters 3"));
    // The tree: the worker under its supervisor, with its restart and panic.
    let sup_row = screen.iter().position(|l| l.contains("\u{2502}  sup ")).expect("a row for the supervisor");
    let flaky_row = line_with(&screen, "\u{2514} flaky");
    assert_eq!(screen.iter().position(|l| l.contains("\u{2514} flaky")), Some(sup_row + 1));
    assert!(flaky_row.starts_with("\u{2502}> "), "the selected row is marked: {flaky_row}");
    assert!(flaky_row.contains("Worker") && flaky_row.contains("job 3 is cursed"), "{flaky_row}");
    // The details of the selected actor: the panic, what it was handling,
    // its flight record and when it was restarted.
    assert!(line_with(&screen, "restarts: 1 (last: ").contains(" s ago"));
    line_with(&screen, "last panic ");
    line_with(&screen, "while handling Job");
    line_with(&screen, "flight record, oldest first:");
    for n in 1..=3 {
        line_with(&screen, &format!("Job {{ n: {n} }}"));
    }
    // One counted group for the three letters.
    let group = line_with(&screen, "3\u{d7} UnknownName");
    assert!(group.contains("Job \u{2192} \"missing\" (Worker)"), "{group}");
    assert_eq!(text.matches("UnknownName").count(), 1, "{text}");
    line_with(&screen, "dead letters: 3 in 1 groups");
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_selection_the_details_say_how_to_select_and_a_late_index_selects_the_last() {
    let (system, snapshot) = failing_system().await;
    let screen = draw(Dashboard::new(&snapshot), 120, 40);
    line_with(&screen, "select an actor");
    assert!(!screen.iter().any(|l| l.contains("flight record")));

    // An index past the end selects the last actor (the worker, after its
    // supervisor in the tree).
    let screen = draw(Dashboard::new(&snapshot).select(Some(99)), 120, 40);
    line_with(&screen, "flight record, oldest first:");
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_history_is_drawn_as_a_sparkline() {
    let system = ActorSystem::builder().observe(true).build();
    let observer = Observer::new(&system).sample_every(Duration::from_millis(20)).bind("127.0.0.1:0").await.unwrap();
    let worker = system.spawn_with(Worker, SpawnOptions::new().name("busy"));
    let snapshot = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            for n in 10..20 {
                worker.job(n).await.unwrap();
            }
            let s = observer.snapshot();
            if s.rate_history.iter().filter(|r| **r > 0.0).count() >= 2 {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("two windows with work");
    let busy = &snapshot.actors[0];
    assert!(!busy.rate_history.is_empty() && busy.rate_history.len() <= snapshot.rate_history.len());

    let screen = draw(Dashboard::new(&snapshot).select(Some(0)), 120, 40);
    let bars = |line: &str| line.chars().filter(|c| ('\u{2581}'..='\u{2588}').contains(c)).count();
    let summary: usize = screen[..4].iter().map(|l| bars(l)).sum();
    assert!(summary >= 2, "the total rate's history is drawn:\n{}", screen.join("\n"));
    observer.stop().await;
    system.shutdown().await;
}
