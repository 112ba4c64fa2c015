//! A local actor as a transport reaches it (`actor_core::transport`): the
//! handle a reader pins for a run of deliveries delivers like the export
//! it came from, reports the actor stopped once it is, and keeps neither
//! the actor running nor, once dropped, its memory.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use actor_core::prelude::*;
use actor_core::serde::{Deserialize, Serialize};
use actor_core::transport::{self, Exported, RefCodec, Resolved, Undelivered, WireRef};
use actor_core::{RemoteActor, RemoteMessage, RemoteMessages};

struct Counter(u64);

impl Actor for Counter {
    type Error = Infallible;
}

#[derive(Serialize, Deserialize)]
#[serde(crate = "actor_core::serde")]
struct Add(u64);

impl Message for Add {
    type Reply = u64;
}

impl RemoteMessage for Add {
    const WIRE_NAME: &'static str = "test.add";
}

impl Handler<Add> for Counter {
    async fn handle(&mut self, Add(n): Add, _: &mut Context<Self>) -> u64 {
        self.0 += n;
        self.0
    }
}

#[derive(Serialize, Deserialize)]
#[serde(crate = "actor_core::serde")]
struct Get;

impl Message for Get {
    type Reply = u64;
}

impl RemoteMessage for Get {
    const WIRE_NAME: &'static str = "test.get";
}

impl Handler<Get> for Counter {
    async fn handle(&mut self, _: Get, _: &mut Context<Self>) -> u64 {
        self.0
    }
}

impl RemoteActor for Counter {
    fn remote_messages(messages: &mut RemoteMessages<Self>) {
        messages.add::<Add>().add::<Get>();
    }
}

/// The messages here carry no references.
struct NoRefs(ActorSystem);

impl RefCodec for NoRefs {
    fn system(&self) -> &ActorSystem {
        &self.0
    }

    fn export(&self, _: Arc<dyn Exported>) -> WireRef {
        unreachable!("no message here carries a reference")
    }

    fn resolve(&self, _: &WireRef) -> Result<Resolved, String> {
        Err("no message here carries a reference".to_owned())
    }
}

#[tokio::test]
async fn a_pinned_export_delivers_reports_the_actor_stopped_and_holds_nothing_once_dropped() {
    let system = ActorSystem::new();
    let counter = system.spawn(Counter(0));
    let codec: Arc<dyn RefCodec> = Arc::new(NoRefs(system.clone()));
    let exported = transport::export(&counter).expect("a local actor");
    let pinned = exported.pinned().expect("the actor is there");
    assert_eq!(pinned.id(), counter.id());
    assert!(pinned.is_alive());

    // `Add(n)` for n < 128 is the one byte n (postcard's varint).
    for n in 1..=3u8 {
        assert!(pinned.deliver("test.add", &[n], None, &codec).is_ok());
    }
    assert_eq!(counter.ask(Get).await.unwrap(), 6, "every delivery queued, in order");
    assert!(matches!(pinned.deliver("test.nope", &[1], None, &codec), Err(Undelivered::UnknownMessage(None))));
    assert!(matches!(pinned.deliver("test.add", &[0xff], None, &codec), Err(Undelivered::Undecodable(..))));

    // Holding the handle does not keep the actor running.
    drop(counter);
    let gone = async {
        while pinned.is_alive() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), gone).await.expect("the actor stopped with its last reference");
    assert!(matches!(pinned.deliver("test.add", &[1], None, &codec), Err(Undelivered::Closed(None))));
    assert!(matches!(exported.deliver("test.add", &[1], None, &codec), Err(Undelivered::Closed(None))));

    // Once dropped, nothing holds the actor's block: there is nothing to pin.
    drop(pinned);
    let freed = async {
        while exported.pinned().is_some() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), freed).await.expect("the block freed once the handle went");
    system.shutdown().await;
}
