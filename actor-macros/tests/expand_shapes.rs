//! Every supported `#[message]` method shape, used through the generated typed client and through plain `ask`/`tell`.

use std::time::Duration;

use actor_core::ActorId;
use actor_core::error::SendError;
use actor_core::prelude::*;

#[derive(Debug, PartialEq, Eq)]
struct TooBig(u64);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Shapes {
    count: u64,
    log: Vec<String>,
}

#[actor]
impl Shapes {
    /// Sync, `&mut self`, one argument.
    #[message]
    fn sync_mut(&mut self, by: u64) -> u64 {
        self.count += by;
        self.count
    }

    /// Sync, `&self`, no argument: a unit message.
    #[message]
    fn sync_ref(&self) -> u64 {
        self.count
    }

    /// Async, `&mut self`.
    #[message]
    async fn async_mut(&mut self, line: String) -> usize {
        tokio::task::yield_now().await;
        self.log.push(line);
        self.log.len()
    }

    /// Async, `&self` (the actor is `Sync`).
    #[message]
    async fn async_ref(&self) -> Vec<String> {
        tokio::task::yield_now().await;
        self.log.clone()
    }

    /// Sync, with the context last.
    #[message]
    fn sync_ctx(&mut self, ctx: &mut Context<Self>) -> ActorId {
        ctx.id()
    }

    /// Async, with an argument and the context.
    #[message]
    async fn async_ctx(&mut self, stop: bool, ctx: &mut Context<Self>) -> Option<String> {
        tokio::task::yield_now().await;
        if stop {
            ctx.stop();
        }
        ctx.name().map(str::to_owned)
    }

    /// A `Result` reply: the error reaches the asker typed.
    #[message]
    fn checked(&mut self, by: u64) -> Result<u64, TooBig> {
        if by > 100 {
            return Err(TooBig(by));
        }
        self.count += by;
        Ok(self.count)
    }

    /// An async `Result` reply.
    #[message]
    async fn async_checked(&self, limit: u64) -> Result<(), TooBig> {
        if self.count > limit { Err(TooBig(self.count)) } else { Ok(()) }
    }

    /// No reply at all.
    #[message]
    fn reset(&mut self) {
        self.count = 0;
        self.log.clear();
    }

    /// Many arguments of assorted owned types, `Self` among them.
    #[message]
    #[allow(clippy::too_many_arguments)]
    fn many(
        &mut self,
        a: u8,
        b: String,
        c: Vec<u16>,
        d: Option<Box<Self>>,
        e: (u32, char),
        f: &'static str,
        g: fn(u64) -> u64,
        h: Box<dyn Fn(&str) -> usize + Send>,
    ) -> Self {
        self.count = g(u64::from(a) + c.iter().map(|&x| u64::from(x)).sum::<u64>() + u64::from(e.0));
        self.log = vec![b, e.1.to_string(), f.to_owned(), h("four").to_string()];
        if let Some(other) = d {
            self.log.extend(other.log);
        }
        self.clone()
    }

    /// A renamed message with extra derives.
    #[message(name = "Bump", derive(Debug, Clone, PartialEq))]
    fn increment(&mut self, mut by: u64) -> u64 {
        by *= 2;
        self.count += by;
        self.count
    }

    /// Takes a while, for timeouts.
    #[message]
    async fn nap(&self, millis: u64) {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }

    /// A raw identifier as the method name.
    #[message]
    fn r#type(&self) -> &'static str {
        "shapes"
    }

    /// Panics in the synchronous handler.
    #[message]
    fn explode(&mut self) -> u64 {
        panic!("boom")
    }

    /// Panics after an await.
    #[message]
    async fn explode_later(&mut self) -> u64 {
        tokio::task::yield_now().await;
        panic!("boom later")
    }

    /// Not a message: stays a plain method.
    fn double(&self) -> u64 {
        self.count * 2
    }
}

fn spawn() -> ActorRef<Shapes> {
    ActorSystem::new().spawn(Shapes::default())
}

#[tokio::test]
async fn sync_methods_through_the_client() {
    let shapes = spawn();
    assert_eq!(shapes.sync_mut(3).await.unwrap(), 3);
    shapes.tell_sync_mut(4).await.unwrap();
    assert_eq!(shapes.sync_ref().await.unwrap(), 7);
    shapes.tell_sync_ref().await.unwrap();
}

#[tokio::test]
async fn sync_methods_through_plain_ask_and_tell() {
    let shapes = spawn();
    assert_eq!(shapes.ask(SyncMut { by: 2 }).await.unwrap(), 2);
    shapes.tell(SyncMut { by: 5 }).await.unwrap();
    shapes.try_tell(SyncMut { by: 1 }).unwrap();
    assert_eq!(shapes.ask(SyncRef).await.unwrap(), 8);
}

#[tokio::test]
async fn async_methods() {
    let shapes = spawn();
    assert_eq!(shapes.async_mut("a".into()).await.unwrap(), 1);
    shapes.tell_async_mut("b".into()).await.unwrap();
    assert_eq!(shapes.ask(AsyncMut { line: "c".into() }).await.unwrap(), 3);
    assert_eq!(shapes.async_ref().await.unwrap(), ["a", "b", "c"]);
    assert_eq!(shapes.ask(AsyncRef).await.unwrap().len(), 3);
}

#[tokio::test]
async fn context_parameter() {
    let system = ActorSystem::new();
    let shapes = system.spawn_with(Shapes::default(), SpawnOptions::new().name("shapes"));
    assert_eq!(shapes.sync_ctx().await.unwrap(), shapes.id());
    assert_eq!(shapes.ask(SyncCtx).await.unwrap(), shapes.id());
    assert_eq!(shapes.async_ctx(false).await.unwrap().as_deref(), Some("shapes"));
    assert_eq!(shapes.ask(AsyncCtx { stop: true }).await.unwrap().as_deref(), Some("shapes"));
    assert!(shapes.wait_for_stop().await.is_normal());
}

#[tokio::test]
async fn result_replies_are_typed() {
    let shapes = spawn();
    assert_eq!(shapes.checked(10).await.unwrap(), Ok(10));
    assert_eq!(shapes.checked(1000).await.unwrap(), Err(TooBig(1000)));
    let reply: Result<u64, TooBig> = shapes.ask(Checked { by: 5 }).await.unwrap();
    assert_eq!(reply, Ok(15));
    assert_eq!(shapes.async_checked(20).await.unwrap(), Ok(()));
    assert_eq!(shapes.ask(AsyncChecked { limit: 1 }).await.unwrap(), Err(TooBig(15)));
}

#[tokio::test]
async fn unit_reply() {
    let shapes = spawn();
    shapes.sync_mut(3).await.unwrap();
    let () = shapes.reset().await.unwrap();
    shapes.tell_reset().await.unwrap();
    shapes.tell(Reset).await.unwrap();
    assert_eq!(shapes.sync_ref().await.unwrap(), 0);
}

#[tokio::test]
async fn many_arguments() {
    let shapes = spawn();
    let other = Shapes { count: 0, log: vec!["other".into()] };
    let snapshot = shapes
        .many(1, "b".into(), vec![2, 3], Some(Box::new(other)), (4, 'e'), "f", |x| x * 10, Box::new(str::len))
        .await
        .unwrap();
    assert_eq!(snapshot.count, 100);
    assert_eq!(snapshot.log, ["b", "e", "f", "4", "other"]);

    let message = Many {
        a: 0,
        b: "x".into(),
        c: vec![],
        d: None,
        e: (1, 'y'),
        f: "z",
        g: |x| x + 1,
        h: Box::new(|s: &str| s.len() * 2),
    };
    shapes.tell(message).await.unwrap();
    assert_eq!(shapes.sync_ref().await.unwrap(), 2);
}

#[tokio::test]
async fn renamed_message_with_derives() {
    let shapes = spawn();
    let bump = Bump { by: 1 };
    assert_eq!(format!("{bump:?}"), "Bump { by: 1 }");
    assert_eq!(shapes.ask(bump.clone()).await.unwrap(), 2);
    assert_eq!(shapes.increment(2).await.unwrap(), 6);
    shapes.tell_increment(1).await.unwrap();
    assert_eq!(shapes.sync_ref().await.unwrap(), 8);
}

#[tokio::test]
async fn raw_identifier_method() {
    let shapes = spawn();
    assert_eq!(shapes.r#type().await.unwrap(), "shapes");
    shapes.tell_type().await.unwrap();
    assert_eq!(shapes.ask(Type).await.unwrap(), "shapes");
}

#[tokio::test]
async fn ask_timeout_through_the_client() {
    let shapes = spawn();
    let err = shapes.nap(60_000).timeout(Duration::from_millis(10)).await.unwrap_err();
    assert!(err.is_timeout());
}

#[tokio::test]
async fn errors_hand_the_message_back() {
    let shapes = spawn();
    shapes.stop();
    shapes.wait_for_stop().await;
    match shapes.tell_sync_mut(9).await {
        Err(SendError::Closed(SyncMut { by })) => assert_eq!(by, 9),
        other => panic!("expected a closed error, got {other:?}"),
    }
    let err = shapes.sync_mut(7).await.unwrap_err();
    assert!(matches!(err.into_inner(), Some(SyncMut { by: 7 })));
}

#[tokio::test]
async fn panics_reach_the_asker() {
    let shapes = spawn();
    assert!(shapes.explode().await.unwrap_err().is_panic());
    assert!(shapes.wait_for_stop().await.is_abnormal());
    let shapes = spawn();
    assert!(shapes.explode_later().await.unwrap_err().is_panic());
}

#[test]
fn methods_stay_plain_methods() {
    let mut shapes = Shapes::default();
    assert_eq!(shapes.sync_mut(2), 2);
    assert_eq!(shapes.increment(1), 4);
    assert_eq!(shapes.checked(1000), Err(TooBig(1000)));
    assert_eq!(shapes.double(), 8);
    assert_eq!(shapes.r#type(), "shapes");
}

#[test]
fn blocking_ask_outside_a_runtime() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let shapes = runtime.block_on(async { spawn() });
    assert_eq!(shapes.blocking_ask(SyncMut { by: 4 }).unwrap(), 4);
    assert_eq!(shapes.sync_ref().blocking().unwrap(), 4);
}

/// Visibility carries over: `pub` methods give `pub` messages, fields and
/// client, usable from outside the module.
pub mod shop {
    use actor_core::prelude::*;

    /// A shop.
    #[derive(Debug, Default)]
    pub struct Shop {
        pub(crate) stock: u32,
    }

    #[actor]
    impl Shop {
        /// Restocks.
        #[message]
        pub fn restock(&mut self, amount: u32) -> u32 {
            self.stock += amount;
            self.stock
        }

        /// Only for this module.
        #[message]
        fn audit(&self) -> u32 {
            self.stock
        }

        pub(super) async fn audit_here(shop: &ActorRef<Shop>) -> u32 {
            shop.audit().await.unwrap() + shop.ask(Audit).await.unwrap()
        }
    }
}

#[tokio::test]
async fn visibility_carries_over() {
    use shop::{Restock, Shop, ShopClient};
    let shop = ActorSystem::new().spawn(Shop::default());
    assert_eq!(shop.restock(2).await.unwrap(), 2);
    assert_eq!(shop.ask(Restock { amount: 3 }).await.unwrap(), 5);
    assert_eq!(Shop::audit_here(&shop).await, 10);
}

/// `#[derive(Actor)]` with an error type, `no_actor_impl`, generics.
mod derived {
    use actor_core::prelude::*;

    #[derive(Debug)]
    pub(crate) struct Broken;

    impl std::fmt::Display for Broken {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("broken")
        }
    }

    impl std::error::Error for Broken {}

    #[derive(Actor)]
    #[actor(error = Broken)]
    pub(crate) struct Fragile {
        pub(crate) hits: u32,
    }

    #[actor(no_actor_impl)]
    impl Fragile {
        #[message]
        pub(crate) fn hit(&mut self, ctx: &mut Context<Self>) -> u32 {
            self.hits += 1;
            if self.hits == 2 {
                ctx.fail(Broken);
            }
            self.hits
        }
    }

    #[derive(Actor)]
    pub(crate) struct Holder<T> {
        pub(crate) value: T,
    }

    /// A hand-written `impl Actor` with a hook, next to `#[actor]`.
    pub(crate) struct Hooked {
        pub(crate) started: bool,
    }

    impl Actor for Hooked {
        type Error = std::convert::Infallible;

        async fn on_start(&mut self, _ctx: &mut Context<Self>) -> Result<(), Self::Error> {
            self.started = true;
            Ok(())
        }
    }

    #[actor(no_actor_impl, client = "HookedApi")]
    impl Hooked {
        #[message]
        pub(crate) fn started(&self) -> bool {
            self.started
        }
    }

    /// A second `#[actor]` block for the same actor needs its own client name.
    #[actor(no_actor_impl, client = "HookedExtra")]
    impl Hooked {
        #[message]
        pub(crate) fn not_started(&self) -> bool {
            !self.started
        }
    }
}

#[tokio::test]
async fn derive_and_custom_actor_impls() {
    use derived::{Fragile, FragileClient, Holder, Hooked, HookedApi, HookedExtra};
    let system = ActorSystem::new();

    let fragile = system.spawn(Fragile { hits: 0 });
    assert_eq!(fragile.hit().await.unwrap(), 1);
    assert_eq!(fragile.hit().await.unwrap(), 2);
    match fragile.wait_for_stop().await {
        StopReason::Failed(e) => assert_eq!(e.to_string(), "broken"),
        other => panic!("expected a failure, got {other}"),
    }

    let holder = Holder { value: String::from("kept") };
    assert_eq!(holder.value, "kept");
    let holder = system.spawn(holder);
    holder.stop();
    assert!(holder.wait_for_stop().await.is_normal());

    let hooked = system.spawn(Hooked { started: false });
    assert!(hooked.started().await.unwrap());
    assert!(!hooked.not_started().await.unwrap());
}

/// `#[message(remote)]` and `#[actor(remote)]`.
mod remote {
    use actor_core::prelude::*;

    #[derive(Default)]
    pub(crate) struct Store {
        pub(crate) items: Vec<String>,
    }

    #[actor]
    impl Store {
        #[message(remote)]
        pub(crate) fn put(&mut self, item: String, copies: u8) -> usize {
            for _ in 0..copies {
                self.items.push(item.clone());
            }
            self.items.len()
        }

        #[message(remote, wire_name = "store/v2/len")]
        pub(crate) fn len(&self) -> usize {
            self.items.len()
        }

        #[message]
        pub(crate) fn local_only(&self) {}

        /// An argument named like the module its type comes from.
        #[message(remote)]
        pub(crate) fn label(&self, std: std::string::String) -> String {
            std
        }
    }

    /// Two bytes, named by an alias: still a run of bytes.
    pub(crate) type Tag = [u8; 2];

    /// Keeps the bytes it is sent.
    pub(crate) struct Vault;

    #[actor]
    impl Vault {
        #[message(remote)]
        pub(crate) fn keep(&self, hash: [u8; 4], body: Vec<u8>, tag: Tag, note: Vec<u16>) -> usize {
            hash.len() + body.len() + tag.len() + note.len()
        }
    }

    pub(crate) struct Echo;

    #[actor(remote)]
    impl Echo {
        #[message]
        pub(crate) fn say(&self, text: String) -> String {
            text
        }

        #[message(wire_name = "echo.ping")]
        pub(crate) fn ping(&self) {}
    }
}

#[tokio::test]
async fn remote_messages() {
    use actor_core::RemoteMessage;
    use remote::{Echo, EchoClient, Len, Ping, Put, Say, Store, StoreClient};

    assert_eq!(Put::WIRE_NAME, "Store::Put");
    assert_eq!(Len::WIRE_NAME, "store/v2/len");
    assert_eq!(Say::WIRE_NAME, "Echo::Say");
    assert_eq!(Ping::WIRE_NAME, "echo.ping");

    let json = serde_json::to_string(&Put { item: "apple".into(), copies: 2 }).unwrap();
    assert_eq!(json, r#"{"item":"apple","copies":2}"#);
    let missing = serde_json::from_str::<Put>(r#"{"item":"apple"}"#).err().expect("a field is missing");
    assert!(missing.to_string().contains("missing field `copies`"), "{missing}");
    let decoded: Put = serde_json::from_str(&json).unwrap();
    let store = ActorSystem::new().spawn(Store::default());
    assert_eq!(store.ask(decoded).await.unwrap(), 2);
    let len: Len = serde_json::from_str("null").unwrap();
    assert_eq!(store.ask(len).await.unwrap(), 2);
    assert_eq!(store.len().await.unwrap(), 2);
    assert_eq!(store.label("tag".into()).await.unwrap(), "tag");
    store.local_only().await.unwrap();

    let echo = ActorSystem::new().spawn(Echo);
    assert_eq!(echo.say("hi".into()).await.unwrap(), "hi");
    let say: Say = serde_json::from_str(r#"{"text":"yo"}"#).unwrap();
    assert_eq!(echo.ask(say).await.unwrap(), "yo");
    echo.tell_ping().await.unwrap();
}

/// Byte arrays and byte vectors (through an alias too) travel as one run of
/// bytes: a length, then the bytes. Other vectors keep serde's encoding.
#[tokio::test]
async fn runs_of_bytes_are_encoded_whole() {
    use remote::{Keep, Vault, VaultClient};

    let keep = Keep { hash: [1, 2, 3, 4], body: vec![9; 3], tag: [7, 8], note: vec![300] };
    let bytes = postcard::to_allocvec(&keep).unwrap();
    // 300 as a postcard varint is [0xac, 0x02].
    assert_eq!(bytes, [4, 1, 2, 3, 4, 3, 9, 9, 9, 2, 7, 8, 1, 0xac, 0x02]);
    let back: Keep = postcard::from_bytes(&bytes).unwrap();
    assert_eq!((back.hash, back.body, back.tag, back.note), ([1, 2, 3, 4], vec![9; 3], [7, 8], vec![300]));

    // An array of the wrong length is refused, whether short or long.
    for hash in [&[3, 1, 2, 3][..], &[5, 1, 2, 3, 4, 5]] {
        let wrong = [hash, &[0, 2, 7, 8, 0]].concat();
        let e = postcard::from_bytes::<Keep>(&wrong).err().expect("a wrong length is refused");
        assert!(matches!(e, postcard::Error::SerdeDeCustom), "{e:?}");
    }

    // A format that writes bytes as a list of numbers reads them back.
    let json = serde_json::to_string(&Keep { hash: [1, 2, 3, 4], body: vec![5], tag: [6, 7], note: vec![] }).unwrap();
    assert_eq!(json, r#"{"hash":[1,2,3,4],"body":[5],"tag":[6,7],"note":[]}"#);
    let back: Keep = serde_json::from_str(&json).unwrap();
    assert_eq!((back.hash, back.body, back.tag), ([1, 2, 3, 4], vec![5], [6, 7]));
    let short = serde_json::from_str::<Keep>(r#"{"hash":[1,2,3],"body":[],"tag":[6,7],"note":[]}"#);
    assert!(short.err().expect("three bytes are not four").to_string().contains("invalid length 3"));
    let long = serde_json::from_str::<Keep>(r#"{"hash":[1,2,3,4,5],"body":[],"tag":[6,7],"note":[]}"#);
    assert!(long.err().expect("five bytes are not four").to_string().contains("invalid length 5"));

    let vault = ActorSystem::new().spawn(Vault);
    assert_eq!(vault.keep([0; 4], vec![1, 2], [3, 4], vec![5]).await.unwrap(), 9);
}
