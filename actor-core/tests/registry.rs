//! The named-actor registry: register, look up by name and type, free on stop.

mod support;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use actor_core::error::RegistryError;
use actor_core::prelude::*;
use support::{Add, Counter, Get, LIMIT, both_flavours_with, run_with};

/// An actor of another type, to look a name up with the wrong one.
struct Stranger;
impl Actor for Stranger {
    type Error = std::convert::Infallible;
}

#[test]
fn a_registered_actor_is_found_by_name_and_the_ref_reaches_it() {
    both_flavours_with(Counter::default, |system, [counter]| async move {
        system.register("counter", &counter).unwrap();

        let found = system.lookup::<Counter>("counter").expect("registered");
        assert_eq!(found.id(), counter.id());
        assert_eq!(found.ask(Add { n: 2 }).await.unwrap(), 2);
        assert_eq!(counter.ask(Get).await.unwrap(), 2);
        assert_eq!(system.try_lookup::<Counter>("counter").unwrap(), counter);
        assert!(system.lookup::<Counter>("nobody").is_none());
        assert_eq!(
            system.try_lookup::<Counter>("nobody").unwrap_err(),
            RegistryError::NotFound { name: Arc::from("nobody") }
        );
    });
}

#[test]
fn a_lookup_with_the_wrong_type_finds_nothing_and_try_lookup_names_both_types() {
    run_with(LIMIT, Counter::default, |system, [counter]| async move {
        system.register("counter", &counter).unwrap();

        assert!(system.lookup::<Stranger>("counter").is_none());
        let err = system.try_lookup::<Stranger>("counter").unwrap_err();
        let RegistryError::WrongType { name, expected, actual } = &err else { panic!("unexpected error: {err:?}") };
        assert_eq!(&**name, "counter");
        assert_eq!(*expected, std::any::type_name::<Stranger>());
        assert_eq!(*actual, std::any::type_name::<Counter>());
        assert_eq!(err.to_string(), format!("`counter` is registered to a {actual}, not a {expected}"));

        // The right type still finds it.
        assert!(system.lookup::<Counter>("counter").is_some());
    });
}

#[test]
fn a_taken_name_is_refused_with_the_id_of_its_holder() {
    run_with(LIMIT, Counter::default, |system, [first, second]| async move {
        system.register("counter", &first).unwrap();

        let err = system.register("counter", &second).unwrap_err();
        assert_eq!(err, RegistryError::NameTaken { name: Arc::from("counter"), holder: first.id() });
        assert_eq!(err.to_string(), format!("name `counter` is already registered to actor {}", first.id()));
        // Registering the holder again is refused the same way.
        assert_eq!(
            system.register("counter", &first).unwrap_err(),
            RegistryError::NameTaken { name: Arc::from("counter"), holder: first.id() }
        );
        // The first registration is untouched.
        assert_eq!(system.lookup::<Counter>("counter").unwrap().id(), first.id());
    });
}

#[test]
fn a_name_is_freed_when_its_actor_stops_and_can_be_registered_again() {
    both_flavours_with(Counter::default, |system, [old]| async move {
        system.register("counter", &old).unwrap();
        system.register("alias", &old).unwrap();

        old.stop();
        assert!(old.wait_for_stop().await.is_normal());
        assert!(system.lookup::<Counter>("counter").is_none());
        assert!(system.lookup::<Counter>("alias").is_none());
        assert!(system.registered_names(old.id()).is_empty());

        let new = system.spawn(Counter::default());
        system.register("counter", &new).unwrap();
        assert_eq!(system.lookup::<Counter>("counter").unwrap().id(), new.id());
        assert_eq!(new.ask(Add { n: 1 }).await.unwrap(), 1);
    });
}

#[test]
fn a_name_is_freed_when_its_actor_is_killed_or_panics() {
    both_flavours_with(Counter::default, |system, [killed, panicked]| async move {
        system.register("killed", &killed).unwrap();
        system.register("panicked", &panicked).unwrap();

        killed.kill();
        assert!(panicked.ask(support::Boom).await.unwrap_err().is_panic());
        killed.wait_for_stop().await;
        panicked.wait_for_stop().await;
        assert!(system.lookup::<Counter>("killed").is_none());
        assert!(system.lookup::<Counter>("panicked").is_none());
    });
}

#[test]
fn a_registered_actor_stays_alive_after_the_caller_drops_its_refs() {
    both_flavours_with(Counter::default, |system, [counter]| async move {
        let weak = counter.downgrade();
        system.register("counter", &counter).unwrap();
        drop(counter);

        // Give a wrongly sent stop time to land.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let found = system.lookup::<Counter>("counter").expect("still registered");
        assert!(found.is_alive());
        assert_eq!(found.ask(Add { n: 5 }).await.unwrap(), 5);
        drop(found);
        assert_eq!(system.actor_count(), 1);

        // Unregistering drops the last strong reference: the actor stops.
        assert!(system.unregister("counter"));
        assert!(weak.upgrade().is_none());
        tokio::time::timeout(Duration::from_secs(5), async {
            while system.actor_count() > 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .expect("the unregistered actor stops");
    });
}

#[test]
fn unregister_frees_the_name_and_reports_unknown_names() {
    run_with(LIMIT, Counter::default, |system, [counter]| async move {
        system.register("counter", &counter).unwrap();
        system.register("alias", &counter).unwrap();

        assert!(system.unregister("counter"));
        assert!(!system.unregister("counter"));
        assert!(!system.unregister("never registered"));
        assert!(system.lookup::<Counter>("counter").is_none());
        assert_eq!(system.registered_names(counter.id()), [Arc::from("alias")]);
        // Still alive: the caller and the other name hold it.
        assert!(counter.is_alive());

        let other = system.spawn(Counter::default());
        system.register("counter", &other).unwrap();
        assert_eq!(system.lookup::<Counter>("counter").unwrap().id(), other.id());
    });
}

#[test]
fn registering_a_stopped_actor_is_refused() {
    run_with(LIMIT, Counter::default, |system, [stopped]| async move {
        stopped.stop();
        stopped.wait_for_stop().await;
        let err = system.register("counter", &stopped).unwrap_err();
        assert_eq!(err, RegistryError::ActorStopped { name: Arc::from("counter"), id: stopped.id() });

        // The attempt did not take the name.
        assert!(system.lookup::<Counter>("counter").is_none());
        let live = system.spawn(Counter::default());
        system.register("counter", &live).unwrap();
    });
}

#[test]
fn an_actor_asked_to_stop_cannot_take_a_name() {
    run_with(LIMIT, Counter::default, |system, [stopping]| async move {
        stopping.stop();
        // The stop is not handled yet (one thread), but the actor already
        // refuses messages, so it may not take a name either.
        assert!(!stopping.is_alive());
        assert!(matches!(system.register("counter", &stopping), Err(RegistryError::ActorStopped { .. })));
        stopping.wait_for_stop().await;
        assert!(system.lookup::<Counter>("counter").is_none());
        let live = system.spawn(Counter::default());
        system.register("counter", &live).unwrap();
    });
}

#[test]
fn registered_names_lists_every_name_of_an_actor_in_registration_order() {
    run_with(LIMIT, Counter::default, |system, [counter, other]| async move {
        assert!(system.registered_names(counter.id()).is_empty());
        system.register("b", &counter).unwrap();
        system.register("a", &counter).unwrap();
        system.register("c", &other).unwrap();
        assert_eq!(system.registered_names(counter.id()), [Arc::from("b"), Arc::from("a")]);
        assert_eq!(system.registered_names(other.id()), [Arc::from("c")]);
    });
}

#[tokio::test]
async fn registries_of_different_systems_are_separate() {
    let one = ActorSystem::new();
    let two = ActorSystem::new();
    let counter = one.spawn(Counter::default());
    one.register("counter", &counter).unwrap();
    assert!(two.lookup::<Counter>("counter").is_none());
    // A clone of a system is the same system.
    assert!(one.clone().lookup::<Counter>("counter").is_some());
}

/// A registration racing the actor's stop either fails or is undone when
/// the actor terminates: never does a stopped actor keep its name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_racing_a_stop_never_leaves_the_name_taken() {
    let system = ActorSystem::new();
    let (mut registered, mut refused) = (0, 0);
    for i in 0..300 {
        let name = format!("racer-{i}");
        let counter = system.spawn(Counter::default());
        // Another thread registers while this one stops the actor (which
        // runs on the runtime's workers), starting together and with a delay
        // that varies, so that the registration lands before, during and
        // after the actor's end.
        let start = Arc::new(Barrier::new(2));
        let registering = std::thread::spawn({
            let (system, counter, name, start) = (system.clone(), counter.clone(), name.clone(), start.clone());
            move || {
                start.wait();
                for _ in 0..(i % 30) * 200 {
                    std::hint::spin_loop();
                }
                system.register(name, &counter)
            }
        });
        start.wait();
        counter.stop();
        match registering.join().unwrap() {
            Ok(()) => registered += 1,
            Err(RegistryError::ActorStopped { .. }) => refused += 1,
            Err(e) => panic!("unexpected error: {e}"),
        }
        counter.wait_for_stop().await;
        assert!(system.lookup::<Counter>(&name).is_none(), "round {i}");
        assert!(system.registered_names(counter.id()).is_empty(), "round {i}");
        let fresh = system.spawn(Counter::default());
        system.register(name.as_str(), &fresh).unwrap_or_else(|e| panic!("round {i}: {e}"));
        assert!(system.unregister(&name));
    }
    assert_eq!(registered + refused, 300);
}
