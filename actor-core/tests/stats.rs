//! `ActorSystem::stats`: the actor tree, messages handled, restarts and
//! mailbox depths, read while the system runs.

use std::time::Duration;

use actor_core::ActorState;
use actor_core::prelude::*;
use actor_core::supervision::{ChildSpec, Strategy, Supervisor};

#[derive(Default)]
struct Worker {
    handled: u32,
}

#[actor]
impl Worker {
    #[message]
    fn work(&mut self) -> u32 {
        self.handled += 1;
        self.handled
    }

    #[message]
    fn crash(&mut self) {
        panic!("crash on purpose");
    }

    #[message]
    async fn hold(&mut self, millis: u64) {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
}

#[tokio::test]
async fn stats_show_the_tree_counts_and_restarts() {
    let system = ActorSystem::builder().observe(true).build();
    let supervisor = system.spawn_with(Supervisor::new(Strategy::OneForOne), SpawnOptions::new().name("sup"));
    let worker = supervisor.start_child(ChildSpec::new(Worker::default)).await.unwrap();
    for _ in 0..5 {
        worker.work().await.unwrap();
    }
    let _ = worker.crash().await;
    // Restarted in place: the same reference works.
    tokio::time::timeout(Duration::from_secs(5), async {
        while worker.work().await.is_err() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();

    let stats = system.stats();
    assert_eq!(stats.live, 2);
    let roots: Vec<_> = stats.children_of(None).collect();
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0].name.as_deref(), Some("sup"));
    let children: Vec<_> = stats.children_of(Some(supervisor.id())).collect();
    assert_eq!(children.len(), 1, "the worker is the supervisor's child");
    let w = children[0];
    assert_eq!(w.id, worker.id());
    assert_eq!(w.restarts, 1);
    assert!(w.processed >= 7, "5 works, the crash, and the work after: {}", w.processed);
    assert_eq!(w.state, ActorState::Running);
}

#[tokio::test]
async fn mailbox_depth_is_visible_while_an_actor_is_busy() {
    let system = ActorSystem::builder().observe(true).build();
    let worker = system.spawn(Worker::default());
    worker.tell_hold(200).await.unwrap();
    for _ in 0..10 {
        worker.tell_work().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let stats = system.stats();
    let w = stats.actors.iter().find(|a| a.id == worker.id()).unwrap();
    // The ten queued, and (counted until its batch of permits is given
    // back) possibly the one in hand.
    assert!((10..=11).contains(&w.mailbox_len), "{}", w.mailbox_len);
    assert_eq!(worker.work().await.unwrap(), 11);
    worker.stop();
    worker.wait_for_stop().await;
    assert!(system.stats().actors.iter().all(|a| a.id != worker.id()), "a stopped actor leaves the stats");
}

#[tokio::test]
async fn without_observe_only_root_actors_are_listed() {
    let system = ActorSystem::new();
    let supervisor = system.spawn(Supervisor::new(Strategy::OneForOne));
    let _worker = supervisor.start_child(ChildSpec::new(Worker::default)).await.unwrap();
    let stats = system.stats();
    assert_eq!(stats.live, 2);
    assert_eq!(stats.actors.len(), 1);
    assert_eq!(stats.actors[0].id, supervisor.id());
}
