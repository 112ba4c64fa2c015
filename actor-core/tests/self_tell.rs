//! A tell that would wait forever for room fails at once instead: a
//! handler telling its own full mailbox, or one of an actor that waits on
//! it, gets `SendError::Deadlock` with the message; every other sender still
//! waits for room (backpressure).

mod support;

use actor_core::error::{AskError, ErrorKind, SendError};
use actor_core::mailbox::Mailbox;
use actor_core::prelude::*;
use support::{LIMIT, both_flavours_bounded, both_flavours_with, run_with};

#[derive(Default)]
struct Chatty {
    handled: u64,
}

/// What a burst of tells to oneself came to: how many were accepted, and
/// the refusal (the message handed back, the cycle, the error's text and
/// its kind once turned into `actor_core::Error`).
#[derive(Debug)]
struct Burst {
    accepted: u64,
    refused: Option<(u64, Vec<ActorId>, String, ErrorKind)>,
}

#[actor]
impl Chatty {
    /// One unit of work, told to oneself.
    #[message]
    fn work(&mut self, n: u64) {
        let _ = n; // the number only tells a refused message apart
        self.handled += 1;
    }

    /// Tells oneself `Work` `n` times, stopping at the first error.
    #[message]
    async fn tell_self(&mut self, n: u64, ctx: &mut Context<Self>) -> Burst {
        let me = ctx.actor_ref();
        for i in 0..n {
            match me.tell(Work { n: i }).await {
                Ok(()) => {}
                Err(e @ SendError::Deadlock(..)) => {
                    let text = e.to_string();
                    let SendError::Deadlock(Work { n: back }, cycle) = e else { unreachable!() };
                    let kind = actor_core::Error::from(SendError::Deadlock((), cycle.clone())).kind();
                    return Burst { accepted: i, refused: Some((back, cycle.actors().to_vec(), text, kind)) };
                }
                Err(e) => panic!("unexpected: {e}"),
            }
        }
        Burst { accepted: n, refused: None }
    }

    #[message]
    fn handled(&self) -> u64 {
        self.handled
    }

    /// An ask to self from a handler is refused as before (by the ask-cycle
    /// check, before the mailbox is looked at).
    #[message]
    async fn ask_self(&mut self, ctx: &mut Context<Self>) -> bool {
        matches!(ctx.actor_ref().ask(Handled).await, Err(AskError::Deadlock(..)))
    }
}

#[test]
fn a_handler_telling_itself_past_its_default_mailbox_gets_the_message_back_at_once() {
    both_flavours_with(Chatty::default, |_, [chatty]| async move {
        let burst = chatty.ask(TellSelf { n: 1_100 }).await.unwrap();
        let (back, cycle, text, kind) = burst.refused.expect("the 1,025th tell cannot wait for room");
        assert_eq!(back, burst.accepted, "the refused message is handed back");
        assert_eq!(cycle, vec![chatty.id(), chatty.id()], "a cycle of one: the actor waits on itself");
        assert_eq!(kind, ErrorKind::Deadlock);
        assert!(text.starts_with("mailbox is full"), "{text}");
        assert!(text.ends_with(&format!("{} -> {}", chatty.id(), chatty.id())), "{text}");
        // The default mailbox holds 1,024 (a few more while the run loop
        // gives places back in groups).
        assert!((1_024..1_100).contains(&burst.accepted), "accepted {}", burst.accepted);
        // Nothing accepted is lost: all of it is handled afterwards.
        assert_eq!(chatty.ask(Handled).await.unwrap(), burst.accepted);
    });
}

#[test]
fn a_handler_telling_itself_within_its_mailbox_is_untouched() {
    both_flavours_with(Chatty::default, |_, [chatty]| async move {
        let burst = chatty.ask(TellSelf { n: 1_000 }).await.unwrap();
        assert_eq!(burst.accepted, 1_000);
        assert!(burst.refused.is_none());
        assert_eq!(chatty.ask(Handled).await.unwrap(), 1_000);
    });
}

/// Asks another actor; that one tells back until refused.
struct Caller {
    callee: ActorRef<Callee>,
    pings: u64,
}

#[actor]
impl Caller {
    #[message]
    fn ping(&mut self) {
        self.pings += 1;
    }

    /// Asks the callee to flood this actor with pings.
    #[message]
    async fn call(&mut self, ctx: &mut Context<Self>) -> Result<(u64, Vec<ActorId>), String> {
        let me = ctx.actor_ref();
        self.callee.ask(Flood { caller: me }).await.map_err(|e| e.to_string())
    }

    #[message]
    fn pings(&self) -> u64 {
        self.pings
    }
}

struct Callee;

#[actor]
impl Callee {
    /// Tells the caller `Ping` until a tell is refused; replies with how
    /// many were accepted and the cycle.
    #[message]
    async fn flood(&mut self, caller: ActorRef<Caller>) -> (u64, Vec<ActorId>) {
        for sent in 0.. {
            if let Err(SendError::Deadlock(Ping, cycle)) = caller.tell(Ping).await {
                return (sent, cycle.actors().to_vec());
            }
        }
        unreachable!()
    }
}

#[test]
fn a_handler_telling_a_full_actor_that_waits_on_it_is_refused_at_once() {
    both_flavours_bounded(|system| async move {
        let callee = system.spawn(Callee);
        let caller = system
            .spawn_with(Caller { callee: callee.clone(), pings: 0 }, SpawnOptions::new().mailbox(Mailbox::bounded(4)));
        let (sent, cycle) = caller.ask(Call).await.unwrap().unwrap();
        assert_eq!(sent, 4, "the mailbox's four places, then the refusal");
        assert_eq!(cycle, vec![callee.id(), caller.id(), callee.id()]);
        assert_eq!(caller.ask(Pings).await.unwrap(), 4);
    });
}

/// Waits for room in a full mailbox of an actor that does not wait on it.
struct Patient;

#[actor]
impl Patient {
    #[message]
    async fn send(&mut self, to: ActorRef<Chatty>, n: u64) -> u64 {
        for i in 0..n {
            to.tell(Work { n: i }).await.expect("room comes: the receiver is not waiting on us");
        }
        n
    }
}

#[test]
fn other_senders_still_wait_for_room() {
    both_flavours_bounded(|system| async move {
        let chatty = system.spawn_with(Chatty::default(), SpawnOptions::new().mailbox(Mailbox::bounded(2)));
        let patient = system.spawn(Patient);
        // A handler of another actor: backpressure, not an error.
        assert_eq!(patient.ask(Send { to: chatty.clone(), n: 500 }).await.unwrap(), 500);
        // A plain task: the same.
        for i in 0..500 {
            chatty.tell(Work { n: i }).await.unwrap();
        }
        assert_eq!(chatty.ask(Handled).await.unwrap(), 1_000);
    });
}

#[test]
fn an_ask_to_self_still_fails_with_deadlock() {
    run_with(LIMIT, Chatty::default, |_, [chatty]| async move {
        assert!(chatty.ask(AskSelf).await.unwrap());
    });
}
