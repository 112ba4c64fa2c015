#![doc = include_str!("../../README.md")]
#![doc(test(attr(deny(warnings), allow(dead_code, unused_variables))))]

#[allow(unused_extern_crates)]
extern crate self as actor_core;

mod actor;
mod actor_ref;
mod cell;
mod context;
mod envelope;
pub mod error;
mod id;
pub mod mailbox;
mod message;
mod reply;
mod run;
mod system;

pub use crate::actor::{Actor, PanicAction, StopReason};
pub use crate::actor_ref::{ActorRef, AskFuture, AskRequest, AskWith, Recipient, WeakActorRef};
pub use crate::context::Context;
pub use crate::error::Error;
pub use crate::id::ActorId;
pub use crate::message::{Handler, Message};
pub use crate::reply::ReplyTo;
pub use crate::system::{
    ActorSystem, DEFAULT_DEAD_LETTER_CAPACITY, DEFAULT_SHUTDOWN_TIMEOUT, DeadLetter, DeadLetterReason, DeadLetters,
    Lagged, SpawnOptions, SystemBuilder,
};

/// The names almost every user needs: `use actor_core::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Actor, ActorRef, ActorSystem, Context, Handler, Message, PanicAction, Recipient, ReplyTo, SpawnOptions,
        StopReason, WeakActorRef,
    };
}
