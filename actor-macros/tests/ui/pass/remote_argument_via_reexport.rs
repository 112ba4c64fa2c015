//! A remote message whose argument is the user's own type, serializable
//! through actor-core's re-export of serde: this test crate has no serde
//! dependency of its own.
use actor_core::prelude::*;
use actor_core::serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "actor_core::serde")]
struct Payload {
    bytes: Vec<u8>,
}

#[derive(Default)]
struct Store {
    stored: usize,
}

#[actor]
impl Store {
    #[message(remote, derive(Debug, PartialEq))]
    fn put(&mut self, msg: Payload) -> usize {
        self.stored += msg.bytes.len();
        self.stored
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let put = Put { msg: Payload { bytes: vec![1, 2, 3] } };
    let json = serde_json::to_string(&put).unwrap();
    assert_eq!(json, r#"{"msg":{"bytes":[1,2,3]}}"#);
    let back: Put = serde_json::from_str(&json).unwrap();
    assert_eq!(back, put);
    let store = ActorSystem::new().spawn(Store::default());
    assert_eq!(store.ask(back).await.unwrap(), 3);
    assert_eq!(store.put(Payload { bytes: vec![4] }).await.unwrap(), 4);
}
