//! The tracing an actor emits: start, stop and failure, inside a span that
//! names the actor's id and type.

mod support;

use actor_core::ActorId;
use actor_core::prelude::*;
use support::{Add, Boom, Counter};
use test_support::Captured;

#[test]
fn start_stop_and_panic_are_traced_with_the_actor_id_and_type() {
    let buffer = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        // No timestamps: they are not checked, and Miri's isolation has
        // no wall clock.
        .without_time()
        .with_writer(buffer.clone())
        .finish();
    let (calm_id, boom_id) = tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let system = ActorSystem::new();
            let calm = system.spawn(Counter::default());
            let doomed = system.spawn(Counter::default());
            for _ in 0..3 {
                calm.ask(Add { n: 1 }).await.unwrap();
            }
            doomed.ask(Boom).await.unwrap_err();
            doomed.wait_for_stop().await;
            system.shutdown().await;
            (calm.id(), doomed.id())
        })
    });
    let text = buffer.text();
    let lines_for = |id: ActorId| text.lines().filter(move |l| l.contains(&id.to_string())).collect::<Vec<_>>();

    let calm = lines_for(calm_id);
    assert!(calm.iter().any(|l| l.contains("actor starting")), "{text}");
    assert!(calm.iter().any(|l| l.contains("actor stopped") && l.contains("support::Counter")), "{text}");
    // Nothing per message: three asks, and only the start and stop lines.
    assert_eq!(calm.len(), 2, "{calm:#?}");

    let doomed = lines_for(boom_id);
    assert!(doomed.iter().any(|l| l.contains("ERROR") && l.contains("handler panicked") && l.contains("boom at 0")));
    assert!(doomed.iter().any(|l| l.contains("WARN") && l.contains("actor stopped")));
}
