//! Messages that can leave the process: a serde form and a stable name.
//!
//! The trait needs the `serde` feature. The `__remote_message!` helper exists
//! either way: `#[message(remote)]` expands through it, so that without the
//! feature the user gets one clear error instead of unresolved serde paths.

/// A [`Message`](crate::Message) that can be serialized, sent to another
/// node, and decoded there by its [`WIRE_NAME`](RemoteMessage::WIRE_NAME).
/// Its reply must be serializable too.
///
/// `#[message(remote)]` inside an [`#[actor]`](crate::actor) block derives
/// serde's traits for the generated message and implements this trait with
/// the wire name `"{Actor}::{Message}"` (or the one given with
/// `wire_name = ".."`).
///
/// # Examples
///
/// ```
/// use actor_core::prelude::*;
/// use actor_core::RemoteMessage;
///
/// #[derive(Actor)]
/// struct Greeter;
///
/// #[actor(no_actor_impl)]
/// impl Greeter {
///     #[message(remote)]
///     fn greet(&mut self, name: String) -> String {
///         format!("hello, {name}")
///     }
///
///     #[message(remote, wire_name = "greeter.v1.shout")]
///     fn shout(&mut self, name: String) -> String {
///         format!("HELLO, {}", name.to_uppercase())
///     }
/// }
///
/// assert_eq!(Greet::WIRE_NAME, "Greeter::Greet");
/// assert_eq!(Shout::WIRE_NAME, "greeter.v1.shout");
/// ```
#[cfg(feature = "serde")]
pub trait RemoteMessage:
    crate::Message<Reply: serde::Serialize + serde::de::DeserializeOwned> + serde::Serialize + serde::de::DeserializeOwned
{
    /// The name that identifies this message type on the wire. Keep it
    /// stable across versions of the program: peers match on it.
    const WIRE_NAME: &'static str;
}

/// Emits a remote message struct: `[struct definition] Name "wire name"`.
#[cfg(feature = "serde")]
#[doc(hidden)]
#[macro_export]
macro_rules! __remote_message {
    ([$($item:tt)*] $name:ident $wire_name:literal) => {
        #[derive($crate::__private::serde::Serialize, $crate::__private::serde::Deserialize)]
        #[serde(crate = "::actor_core::__private::serde")]
        $($item)*

        impl $crate::RemoteMessage for $name {
            const WIRE_NAME: &'static str = $wire_name;
        }
    };
}

/// Without the `serde` feature: the struct, and one error saying what to do.
#[cfg(not(feature = "serde"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __remote_message {
    ([$($item:tt)*] $name:ident $wire_name:literal) => {
        ::core::compile_error!(
            "remote messages need the `serde` feature of actor-core: `actor-core = { features = [\"serde\"] }`"
        );
        $($item)*
    };
}

/// Emits `impl RemoteActor` for an actor: `[actor type] Message...`.
#[cfg(feature = "serde")]
#[doc(hidden)]
#[macro_export]
macro_rules! __remote_actor {
    ([$($actor:tt)*] $($name:ident)*) => {
        impl $crate::remote::RemoteActor for $($actor)* {
            fn remote_messages(messages: &mut $crate::remote::RemoteMessages<Self>) {
                $(messages.add::<$name>();)*
            }
        }
    };
}

/// Without the `serde` feature the messages already report the error.
#[cfg(not(feature = "serde"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __remote_actor {
    ($($tokens:tt)*) => {};
}
