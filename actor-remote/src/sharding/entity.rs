//! Activations: an entity is spawned on its first message here, gets its
//! messages in order (waiting for mailbox room behind a backlog), is
//! passivated when idle, and stops for a hand-off. At most one activation
//! of an entity exists on a node: messages for one that is stopping wait
//! in its backlog and go to the next activation once it has stopped.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use actor_core::DeadLetterReason;
use actor_core::error::{RemoteError, RemoteErrorKind};
use actor_core::transport::{AskContext, RemoteFailure, ReplySink, Undelivered};
use tokio::time::Instant;

use super::core::{Activation, AskTo, Core, Effects, Envelope, Event, Held, Mode, State, StopCause, Waiter};

impl Core {
    /// Handles `held` on this node, where its shard is active.
    pub(crate) fn deliver_here(&self, st: &mut State, held: Held, fx: &mut Effects) {
        match held {
            Held::Msg(env) => self.deliver(st, env, fx),
            Held::Marker { shard, origin, id, reply_to } => {
                // Everything its origin sent before it is queued here, in
                // order: the origin may take the new route.
                self.reach_origin(st, &origin, reply_to.as_ref(), fx);
                let item = super::wire::Item::MarkerAck { shard, id };
                self.send_item(st, &origin, item, fx);
            }
            Held::Stop { entity, kill, .. } => {
                if st.entities.contains_key(&entity) {
                    self.stop_entity(st, &entity, StopCause::Asked, kill, fx);
                }
            }
        }
    }

    /// Puts `env` in its entity's mailbox, spawning the entity first if it
    /// has no activation here.
    fn deliver(&self, st: &mut State, env: Envelope, fx: &mut Effects) {
        let entity = env.entity.clone();
        if let Some(activation) = st.entities.get_mut(&entity) {
            activation.last_used = Instant::now();
            if activation.stopping.is_some() || activation.draining || !activation.backlog.is_empty() {
                activation.backlog.push_back(Held::Msg(env));
                return;
            }
        } else if !self.activate(st, &entity, env.shard) {
            let why = "the entity could not be started (its factory panicked, or this node does not host the type)";
            self.dead_letter(st, &entity, env.message_type, &env.wire_name, DeadLetterReason::Undeliverable, why);
            let failure = RemoteFailure::Remote(RemoteError::new(RemoteErrorKind::UnknownActor, why));
            self.fail_ask(st, env.ask, failure, fx);
            self.done(st, env.done, fx);
            return;
        }
        self.try_deliver(st, env, fx);
    }

    /// Offers `env` to the entity's mailbox. A full mailbox parks it (the
    /// entity's later messages queue behind it); a stopped activation is
    /// replaced, once.
    fn try_deliver(&self, st: &mut State, env: Envelope, fx: &mut Effects) {
        let Some(activation) = st.entities.get(&env.entity) else { return };
        let exported = activation.exported.clone();
        let generation = activation.generation;
        let Envelope { entity, shard, wire_name, message_type, payload, ask, done } = env;
        let (sink, context) = match ask {
            None => (None, AskContext::default()),
            Some(AskTo::Local(mut reply)) => {
                let context = reply.take_context();
                let codec = self.codec.clone();
                let sink: ReplySink = Box::new(move |result| match result {
                    Ok(bytes) => reply.complete(&bytes, &codec),
                    Err(failure) => reply.fail(failure),
                });
                (Some(sink), AskContext { chain: Vec::new(), deadline: context.deadline })
            }
            Some(AskTo::Remote { origin, id, deadline }) => {
                let core = self.me.clone();
                let sink: ReplySink = Box::new(move |result| {
                    if let Some(core) = core.upgrade() {
                        core.reply_to(origin, id, result);
                    }
                });
                (Some(sink), AskContext { chain: Vec::new(), deadline })
            }
        };
        let result = match sink {
            Some(sink) => exported.deliver_ask(&wire_name, &payload, sink, context, &self.codec),
            None => exported.deliver(&wire_name, &payload, None, &self.codec),
        };
        match result {
            Ok(()) => {
                st.counters.delivered += 1;
                self.done(st, done, fx);
            }
            Err(Undelivered::Full(parked)) => {
                st.counters.delivered += 1;
                if let Some(activation) = st.entities.get_mut(&entity) {
                    activation.draining = true;
                }
                fx.drains.push((Waiter { entity, generation, done, message_type, wire_name }, parked));
            }
            Err(Undelivered::Closed(back)) => {
                // The activation ended on its own (a panic, a failed
                // start) and its end is not processed yet: start another.
                let backlog = self.forget_activation(st, &entity, generation);
                let env = Envelope { entity: entity.clone(), shard, wire_name, message_type, payload, ask: None, done };
                if self.activate(st, &entity, shard) {
                    self.redeliver(st, env, back, fx);
                } else {
                    let why = "the entity stopped before it took the message";
                    self.dead_letter(st, &entity, message_type, &env.wire_name, DeadLetterReason::Stopped, why);
                    if let Some(sink) = back {
                        sink(Err(RemoteFailure::NoReply));
                    }
                    self.done(st, env.done, fx);
                }
                for held in backlog {
                    self.route(st, held, fx);
                }
            }
            Err(Undelivered::UnknownMessage(back)) => {
                let why = format!("{} has no remote message named {wire_name}", self.name);
                self.dead_letter(st, &entity, message_type, &wire_name, DeadLetterReason::Undeliverable, &why);
                if let Some(sink) = back {
                    sink(Err(RemoteFailure::Remote(RemoteError::new(RemoteErrorKind::UnknownMessage, why))));
                }
                self.done(st, done, fx);
            }
            Err(Undelivered::Undecodable(why, back)) => {
                self.dead_letter(st, &entity, message_type, &wire_name, DeadLetterReason::Undeliverable, &why);
                if let Some(sink) = back {
                    sink(Err(RemoteFailure::Remote(RemoteError::new(RemoteErrorKind::Undecodable, why))));
                }
                self.done(st, done, fx);
            }
            Err(other) => {
                let why = format!("not delivered: {other:?}");
                self.dead_letter(st, &entity, message_type, &wire_name, DeadLetterReason::Undeliverable, &why);
                self.done(st, done, fx);
            }
        }
    }

    /// Delivers again a message whose reply sink came back from a stopped
    /// activation.
    fn redeliver(&self, st: &mut State, env: Envelope, back: Option<ReplySink>, fx: &mut Effects) {
        let Some(activation) = st.entities.get(&env.entity) else { return };
        let exported = activation.exported.clone();
        let result = match back {
            Some(sink) => exported.deliver_ask(&env.wire_name, &env.payload, sink, AskContext::default(), &self.codec),
            None => exported.deliver(&env.wire_name, &env.payload, None, &self.codec),
        };
        match result {
            Ok(()) => {
                st.counters.delivered += 1;
                self.done(st, env.done, fx);
            }
            Err(Undelivered::Full(parked)) => {
                let generation = activation.generation;
                if let Some(activation) = st.entities.get_mut(&env.entity) {
                    activation.draining = true;
                }
                let Envelope { entity, done, message_type, wire_name, .. } = env;
                fx.drains.push((Waiter { entity, generation, done, message_type, wire_name }, parked));
            }
            Err(_) => {
                let why = "a fresh activation refused the message";
                self.dead_letter(st, &env.entity, env.message_type, &env.wire_name, DeadLetterReason::Stopped, why);
                self.done(st, env.done, fx);
            }
        }
    }

    /// Spawns the entity `entity` of shard `shard` here. False if this
    /// region does not host or the factory panicked.
    fn activate(&self, st: &mut State, entity: &Arc<str>, shard: u32) -> bool {
        let Some(spawner) = &self.spawner else { return false };
        let spawned = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| spawner(entity))) {
            Ok(spawned) => spawned,
            Err(_) => {
                tracing::error!(region = %self.name, %entity, "the entity factory panicked");
                return false;
            }
        };
        let generation = Self::next_id(st);
        let events = self.events.clone();
        let name = entity.clone();
        spawned.exported.on_terminated(Box::new(move |_, _| {
            let _ = events.send(Event::Terminated { entity: name, generation });
        }));
        st.counters.started += 1;
        st.shards[shard as usize].entities.insert(entity.clone());
        st.entities.insert(
            entity.clone(),
            Activation {
                shard,
                generation,
                exported: spawned.exported,
                _keep: spawned.keep,
                last_used: Instant::now(),
                backlog: VecDeque::new(),
                draining: false,
                stopping: None,
                stop_when_drained: false,
            },
        );
        true
    }

    /// Drops an activation that ended, keeping its backlog for the next.
    fn forget_activation(&self, st: &mut State, entity: &Arc<str>, generation: u64) -> VecDeque<Held> {
        if st.entities.get(entity).is_none_or(|a| a.generation != generation) {
            return VecDeque::new();
        }
        let activation = st.entities.remove(entity).expect("checked above");
        st.shards[activation.shard as usize].entities.remove(entity);
        activation.backlog
    }

    /// Asks an activation to stop: after its backlog and mailbox (a stop),
    /// or at once (a kill).
    pub(crate) fn stop_entity(
        &self,
        st: &mut State,
        entity: &Arc<str>,
        cause: StopCause,
        kill: bool,
        fx: &mut Effects,
    ) {
        let Some(activation) = st.entities.get_mut(entity) else { return };
        if activation.stopping.is_none() {
            activation.stopping = Some(cause);
            match cause {
                StopCause::Idle => st.counters.passivated += 1,
                StopCause::HandOff => st.counters.handed_off += 1,
                StopCause::Asked => {}
            }
        } else if cause == StopCause::HandOff {
            // Already stopping (idle): the hand-off waits for it all the same.
            activation.stopping = Some(cause);
        }
        let activation = st.entities.get_mut(entity).expect("present");
        if kill {
            activation.exported.kill();
        } else if activation.draining || !activation.backlog.is_empty() {
            activation.stop_when_drained = true;
        } else {
            activation.exported.stop();
        }
        let _ = fx;
    }

    /// An activation ended: what waited for the next one is routed again
    /// (to a new activation, or to a hold if the shard is moving), and a
    /// release may now be complete.
    pub(crate) fn terminated(&self, st: &mut State, entity: &Arc<str>, generation: u64, fx: &mut Effects) {
        let Some(activation) = st.entities.get(entity) else { return };
        if activation.generation != generation {
            return;
        }
        let shard = activation.shard;
        let backlog = self.forget_activation(st, entity, generation);
        for held in backlog {
            self.route(st, held, fx);
        }
        self.maybe_released(st, shard as usize, fx);
    }

    /// A parked delivery finished: the rest of the backlog follows.
    pub(crate) fn drained(&self, st: &mut State, waiter: Waiter, failed: Option<Option<ReplySink>>, fx: &mut Effects) {
        let Waiter { entity, generation, done, message_type, wire_name } = waiter;
        let entity = &entity;
        if let Some(back) = failed {
            let why = "the entity stopped while the message waited for mailbox room";
            self.dead_letter(st, entity, message_type, &wire_name, DeadLetterReason::DroppedOnStop, why);
            if let Some(sink) = back {
                sink(Err(RemoteFailure::NoReply));
            }
        }
        self.done(st, done, fx);
        let Some(activation) = st.entities.get_mut(entity) else { return };
        if activation.generation != generation {
            return;
        }
        activation.draining = false;
        // Deliver the backlog until it is empty or the mailbox full again.
        while let Some(activation) = st.entities.get_mut(entity) {
            if activation.draining || activation.stopping.is_some() && !activation.stop_when_drained {
                break;
            }
            let Some(held) = activation.backlog.pop_front() else { break };
            match held {
                Held::Msg(env) => self.try_deliver(st, env, fx),
                other => self.deliver_here(st, other, fx),
            }
        }
        if let Some(activation) = st.entities.get_mut(entity)
            && activation.stop_when_drained
            && !activation.draining
            && activation.backlog.is_empty()
        {
            activation.stop_when_drained = false;
            activation.exported.stop();
        }
    }

    /// Passivates the entities idle for longer than the option says.
    pub(crate) fn passivate_idle(&self, idle: Duration) {
        self.update(|core, st, fx| {
            let now = Instant::now();
            let idle: Vec<Arc<str>> = st
                .entities
                .iter()
                .filter(|(_, a)| {
                    a.stopping.is_none() && !a.draining && a.backlog.is_empty() && now - a.last_used >= idle
                })
                .filter(|(_, a)| matches!(st.shards[a.shard as usize].mode, Mode::Active))
                .map(|(id, _)| id.clone())
                .collect();
            for entity in idle {
                core.stop_entity(st, &entity, StopCause::Idle, false, fx);
            }
        });
    }
}
