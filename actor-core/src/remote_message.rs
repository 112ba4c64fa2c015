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
/// `wire_name = ".."`). Its arguments of type `[u8; N]` or `Vec<u8>` (under
/// any alias) are encoded as one run of bytes, a length and a copy, where
/// serde alone goes byte by byte; in a message you derive yourself,
/// `serde_bytes` does the same for such a field.
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
    crate::actor::message::Message<Reply: serde::Serialize + serde::de::DeserializeOwned>
    + serde::Serialize
    + serde::de::DeserializeOwned
{
    /// The name that identifies this message type on the wire. Keep it
    /// stable across versions of the program: peers match on it.
    const WIRE_NAME: &'static str;
}

/// Emits a remote message struct: `[struct definition with serde field
/// attributes] [items those attributes name] [plain struct definition]
/// Name "wire name"`.
#[cfg(feature = "serde")]
#[doc(hidden)]
#[macro_export]
macro_rules! __remote_message {
    ([$($item:tt)*] [$($support:tt)*] [$($plain:tt)*] $name:ident $wire_name:literal) => {
        #[derive($crate::__private::serde::Serialize, $crate::__private::serde::Deserialize)]
        #[serde(crate = "::actor_core::__private::serde")]
        $($item)*

        $($support)*

        impl $crate::RemoteMessage for $name {
            const WIRE_NAME: &'static str = $wire_name;
        }
    };
}

/// Without the `serde` feature: the plain struct, and one error saying what
/// to do.
#[cfg(not(feature = "serde"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __remote_message {
    ([$($item:tt)*] [$($support:tt)*] [$($plain:tt)*] $name:ident $wire_name:literal) => {
        ::core::compile_error!(
            "remote messages need the `serde` feature of actor-core: `actor-core = { features = [\"serde\"] }`"
        );
        $($plain)*
    };
}

/// How the fields of a `#[message(remote)]` struct are serialized: through
/// functions `#[actor]` generates for each field's concrete type, which
/// call serde's impls when the type has them and otherwise compile to an
/// unreachable stub. The one error the user then sees comes from
/// [`check_argument`](wire::check_argument), which names the argument and
/// says what to derive, instead of serde's derive failing in several places
/// with its internals in the message.
#[cfg(feature = "serde")]
#[doc(hidden)]
pub mod wire {
    use std::marker::PhantomData;

    use serde::de::DeserializeOwned;
    use serde::{Deserializer, Serialize, Serializer};

    /// A value that only stands for the type `T`, for method resolution:
    /// `(&&&Probe::<T>::new()).method()` finds [`AsBytes`]'s method when `T`
    /// is a run of bytes, [`ViaSerde`]'s (one auto-deref later) when `T` is
    /// serializable, and [`Unserializable`]'s otherwise (two later). Works
    /// only where `T` is a concrete type, which it is in the generated code.
    #[derive(Debug)]
    pub struct Probe<T>(PhantomData<fn() -> T>);

    impl<T> Probe<T> {
        /// The probe for `T`.
        pub const fn new() -> Self {
            Probe(PhantomData)
        }
    }

    impl<T> Default for Probe<T> {
        fn default() -> Self {
            Self::new()
        }
    }

    /// Serializes a field with its own serde impls.
    pub trait ViaSerde<T> {
        /// `value.serialize(serializer)`.
        fn serialize_field<S: Serializer>(&self, value: &T, serializer: S) -> Result<S::Ok, S::Error>;
        /// `T::deserialize(deserializer)`.
        fn deserialize_field<'de, D: Deserializer<'de>>(&self, deserializer: D) -> Result<T, D::Error>;
    }

    /// Serializes a run of bytes (`[u8; N]`, `Vec<u8>`) as one block of
    /// bytes, where serde's own impls go element by element.
    ///
    /// serde treats `[u8; 32]` as a tuple of 32 `u8`s and `Vec<u8>` as a
    /// sequence of them: every byte passes through the format's serializer
    /// on its own. With postcard a 32-byte array cost about 550 instructions
    /// to encode and decode, a sixth of a remote tell (2026-12-05); as bytes
    /// it is a length and a copy. A `Vec<u8>` encodes to the very same bytes
    /// either way in postcard (a length, then the bytes); an array gains a
    /// one-byte length (for up to 127 bytes), checked when it is read.
    pub trait AsBytes<T> {
        /// `value` as bytes.
        fn serialize_field<S: Serializer>(&self, value: &T, serializer: S) -> Result<S::Ok, S::Error>;
        /// A `T` from bytes.
        fn deserialize_field<'de, D: Deserializer<'de>>(&self, deserializer: D) -> Result<T, D::Error>;
    }

    impl<const N: usize> AsBytes<[u8; N]> for &&Probe<[u8; N]> {
        fn serialize_field<S: Serializer>(&self, value: &[u8; N], serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_bytes(value)
        }

        fn deserialize_field<'de, D: Deserializer<'de>>(&self, deserializer: D) -> Result<[u8; N], D::Error> {
            deserializer.deserialize_bytes(bytes::Array::<N>)
        }
    }

    impl AsBytes<Vec<u8>> for &&Probe<Vec<u8>> {
        fn serialize_field<S: Serializer>(&self, value: &Vec<u8>, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_bytes(value)
        }

        fn deserialize_field<'de, D: Deserializer<'de>>(&self, deserializer: D) -> Result<Vec<u8>, D::Error> {
            deserializer.deserialize_byte_buf(bytes::Buf)
        }
    }

    /// The visitors of [`AsBytes`]: each takes bytes, and also a sequence
    /// of `u8`s, for formats that write bytes that way.
    mod bytes {
        use std::fmt;

        use serde::de::{Error, SeqAccess, Visitor};

        /// Reads a `[u8; N]`: exactly `N` bytes.
        pub(super) struct Array<const N: usize>;

        impl<'de, const N: usize> Visitor<'de> for Array<N> {
            type Value = [u8; N];

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{N} bytes")
            }

            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<[u8; N], E> {
                v.try_into().map_err(|_| E::invalid_length(v.len(), &self))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; N], A::Error> {
                let mut out = [0; N];
                for (i, byte) in out.iter_mut().enumerate() {
                    *byte = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(i, &self))?;
                }
                if seq.next_element::<u8>()?.is_some() {
                    return Err(A::Error::invalid_length(N + 1, &self));
                }
                Ok(out)
            }
        }

        /// Reads a `Vec<u8>` of any length.
        pub(super) struct Buf;

        impl<'de> Visitor<'de> for Buf {
            type Value = Vec<u8>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }

            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }

            fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
                // A length from the wire is a hint, not a promise: capped.
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(byte) = seq.next_element()? {
                    out.push(byte);
                }
                Ok(out)
            }
        }
    }

    impl<T: Serialize + DeserializeOwned> ViaSerde<T> for &Probe<T> {
        fn serialize_field<S: Serializer>(&self, value: &T, serializer: S) -> Result<S::Ok, S::Error> {
            value.serialize(serializer)
        }

        fn deserialize_field<'de, D: Deserializer<'de>>(&self, deserializer: D) -> Result<T, D::Error> {
            T::deserialize(deserializer)
        }
    }

    /// The stand-in for a field type without serde impls. A program that
    /// uses it does not compile (its [`check_argument`] fails), so its
    /// methods never run.
    pub trait Unserializable<T> {
        /// Never called: see the trait's docs.
        fn serialize_field<S: Serializer>(&self, _value: &T, _serializer: S) -> Result<S::Ok, S::Error> {
            unreachable!("a message with an unserializable field does not compile")
        }
        /// Never called: see the trait's docs.
        fn deserialize_field<'de, D: Deserializer<'de>>(&self, _deserializer: D) -> Result<T, D::Error> {
            unreachable!("a message with an unserializable field does not compile")
        }
    }

    impl<T> Unserializable<T> for Probe<T> {}

    /// `T` is serializable: what a remote message's argument (named by the
    /// marker type `Arg`) must be.
    #[diagnostic::on_unimplemented(
        message = "argument `{Arg}`: `{Self}` is not serializable",
        label = "the arguments of a remote message travel over the wire",
        note = "derive it through actor-core's re-export of serde: \
                `#[derive(actor_core::serde::Serialize, actor_core::serde::Deserialize)]` and \
                `#[serde(crate = \"actor_core::serde\")]` on `{Self}`"
    )]
    pub trait SerializableArgument<Arg> {}

    #[diagnostic::do_not_recommend]
    impl<Arg, T: Serialize + DeserializeOwned> SerializableArgument<Arg> for T {}

    /// Fails to compile, with one error naming the argument, when `T` is
    /// not serializable.
    pub fn check_argument<Arg, T: SerializableArgument<Arg>>() {}
}

/// Emits `impl RemoteActor` for an actor: `[actor type] Message...`.
#[cfg(feature = "serde")]
#[doc(hidden)]
#[macro_export]
macro_rules! __remote_actor {
    ([$($actor:tt)*] $($name:ident)*) => {
        impl $crate::RemoteActor for $($actor)* {
            fn remote_messages(messages: &mut $crate::RemoteMessages<Self>) {
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

#[cfg(feature = "serde")]
pub(crate) mod codec;
