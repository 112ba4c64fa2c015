//! Procedural macros for `actor-core`.
//!
//! Use them through `actor_core`'s re-exports (`actor_core::actor`,
//! `actor_core::message`, `actor_core::Actor`), where they are documented
//! with examples; this crate's paths are not a stable interface of their own.
//! The generated code names only `::actor_core::..` paths.
//!
//! Each macro lives in its own module and goes parse -> validate -> emit.
//! On invalid input a macro still emits its normal output (minus the broken
//! part) next to the error, so the user sees one error at the mistake rather
//! than a cascade of "trait not implemented" follow-ups.

#![forbid(unsafe_code)]

use proc_macro::TokenStream;

mod actor;
mod attr;
mod derive_actor;
mod message;

/// Turns the `#[message]` methods of an impl block into message types,
/// `Handler` impls and a typed client. See `actor_core::actor`.
#[proc_macro_attribute]
pub fn actor(args: TokenStream, input: TokenStream) -> TokenStream {
    actor::expand(args.into(), input.into()).into()
}

/// Marks a method of an `#[actor]` impl block as a message handler. See
/// `actor_core::message`.
#[proc_macro_attribute]
pub fn message(args: TokenStream, input: TokenStream) -> TokenStream {
    message::expand(args.into(), input.into()).into()
}

/// Implements `Actor` with the default lifecycle hooks. See
/// `actor_core::Actor`.
#[proc_macro_derive(Actor, attributes(actor))]
pub fn derive_actor(input: TokenStream) -> TokenStream {
    derive_actor::expand(input.into()).into()
}
