//! An entity as an `ActorRef` holds it: a `RemoteEndpoint` whose messages,
//! already encoded by actor-core, go to the node's region instead of a
//! connection. So `tell`, `ask`, `.timeout(..)`, `try_tell` and the typed
//! client of `#[actor]` work on an entity exactly as on any remote actor.

use std::sync::Arc;

use actor_core::transport::{
    Outgoing, RefCodec, Refused, RemoteEndpoint, RemoteFailure, Terminable, TerminationNotice, WatchKey, WireRef,
};
use actor_core::{ActorId, DeadLetterReason};
use futures::future::BoxFuture;

use super::core::{AskTo, Core, Done, Envelope, Held, Mode};

pub(crate) struct EntityEndpoint {
    pub(crate) core: Arc<Core>,
    pub(crate) entity: Arc<str>,
    pub(crate) shard: u32,
    pub(crate) id: ActorId,
    pub(crate) label: String,
}

impl RemoteEndpoint for EntityEndpoint {
    fn id(&self) -> ActorId {
        self.id
    }

    fn node(&self) -> &str {
        &self.label
    }

    fn is_alive(&self) -> bool {
        !self.core.is_stopped()
    }

    fn try_reserve(&self) -> Result<(), Refused> {
        self.core.try_reserve(self.shard)
    }

    fn reserve(&self) -> BoxFuture<'_, Result<(), Refused>> {
        Box::pin(self.core.reserve(self.shard))
    }

    fn unreserve(&self) {
        self.core.update(|_, st, fx| {
            let custody = &mut st.shards[self.shard as usize].custody;
            *custody = custody.saturating_sub(1);
            fx.room = true;
        });
    }

    fn send(&self, outgoing: Outgoing) {
        let Outgoing { wire_name, message_type, payload, reply } = outgoing;
        let env = Envelope {
            entity: self.entity.clone(),
            shard: self.shard,
            wire_name: wire_name.into(),
            message_type,
            payload,
            ask: reply.map(AskTo::Local),
            done: Done::Local { shard: self.shard },
        };
        self.core.update(|core, st, fx| {
            if st.stopped {
                let why = "the region on this node has stopped";
                core.dead_letter(st, &env.entity, message_type, wire_name, DeadLetterReason::Stopped, why);
                core.fail_ask(st, env.ask, RemoteFailure::NodeDown, fx);
                core.done(st, env.done, fx);
                return;
            }
            core.route_local(st, Held::Msg(env), fx);
        });
    }

    fn wire_ref(&self) -> WireRef {
        // Not resolvable on another node: an entity is sent by its id.
        WireRef { node: self.label.clone(), address: String::new(), id: self.id }
    }

    fn ref_codec(&self) -> &Arc<dyn RefCodec> {
        &self.core.codec
    }
}

impl Terminable for EntityEndpoint {
    fn stop(&self) {
        self.control(false);
    }

    fn kill(&self) {
        self.control(true);
    }

    fn on_terminated(&self, notice: TerminationNotice) {
        let _ = self.watch(notice);
    }

    fn watch(&self, notice: TerminationNotice) -> Option<WatchKey> {
        let mut st = self.core.lock();
        if st.stopped {
            drop(st);
            notice(self.id, &actor_core::StopReason::Normal);
            return None;
        }
        st.next_id += 1;
        let key = st.next_id;
        st.watchers.push((key, self.id, notice));
        Some(WatchKey::new(key))
    }

    fn unwatch(&self, key: WatchKey) {
        self.core.lock().watchers.retain(|(k, _, _)| *k != key.get());
    }
}

impl EntityEndpoint {
    /// Sends a stop (or kill) along the entity's route, after what this
    /// node sent it before.
    fn control(&self, kill: bool) {
        let held = Held::Stop { entity: self.entity.clone(), shard: self.shard, kill };
        self.core.update(|core, st, fx| {
            if !st.stopped {
                core.route_local(st, held, fx);
            }
        });
    }
}

impl Core {
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Takes one unit of the shard's custody window, if there is room.
    pub(crate) fn try_reserve(&self, shard: u32) -> Result<(), Refused> {
        let mut st = self.lock();
        if st.stopped {
            return Err(Refused::Closed);
        }
        let custody = &mut st.shards[shard as usize].custody;
        if *custody >= self.options.buffer {
            return Err(Refused::Full);
        }
        *custody += 1;
        Ok(())
    }

    /// Waits for one unit of the shard's custody window.
    pub(crate) async fn reserve(&self, shard: u32) -> Result<(), Refused> {
        loop {
            let room = self.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.try_reserve(shard) {
                Err(Refused::Full) => room.await,
                other => return other,
            }
        }
    }

    /// The region stops (its node shut down): what it holds is reported,
    /// asks fail, watchers run.
    pub(crate) fn shut(&self) {
        self.stopped.store(true, std::sync::atomic::Ordering::Release);
        self.update(|core, st, fx| {
            st.stopped = true;
            let why = "the region stopped with its node";
            let mut held: Vec<Held> = Vec::new();
            for shard in &mut st.shards {
                if let Some(switching) = shard.switching.take() {
                    held.extend(switching.held);
                }
                held.extend(std::mem::take(&mut shard.returned));
                match &mut shard.mode {
                    Mode::Acquiring { held: h, .. } | Mode::Releasing { held: h } | Mode::NoHost { held: h } => {
                        held.extend(std::mem::take(h));
                    }
                    Mode::Active | Mode::Remote(_) => {}
                }
            }
            for activation in st.entities.values_mut() {
                held.extend(std::mem::take(&mut activation.backlog));
            }
            let nodes: Vec<String> = st.links.keys().cloned().collect();
            for node in nodes {
                held.extend(core.link_lost(st, &node, why, fx));
            }
            for item in held {
                if let Held::Msg(env) = item {
                    core.dead_letter(
                        st,
                        &env.entity,
                        env.message_type,
                        &env.wire_name,
                        DeadLetterReason::NodeDown,
                        why,
                    );
                    core.fail_ask(st, env.ask, RemoteFailure::NodeDown, fx);
                    core.done(st, env.done, fx);
                }
            }
            for (_, pending) in st.asks.drain() {
                pending.reply.fail(RemoteFailure::NodeDown);
            }
            fx.notices.extend(st.watchers.drain(..).map(|(_, id, notice)| (id, notice)));
            fx.room = true;
        });
    }
}
