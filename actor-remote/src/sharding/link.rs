//! The sender of one link: takes what is queued for a node's region, in
//! order, as one batch (with the acknowledgements owed to that region), and
//! tells it. One task per link at a time, so batches leave in order.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::core::{AskTo, Core, Out, PendingAsk, Sent};
use super::wire::{Batch, Item, WireAsk};

/// Items per batch at most.
const MAX_ITEMS: usize = 512;
/// Payload bytes per batch at most (a single larger message goes alone).
const MAX_BYTES: usize = 512 * 1024;

/// Drains the link to `node` until its queue is empty.
pub(crate) async fn sender(core: Arc<Core>, node: String) {
    loop {
        let taken = core.update(|core, st, _| {
            let me = core.node.to_string();
            let link = st.links.get_mut(&node)?;
            if link.queue.is_empty() && link.acks.is_empty() {
                link.busy = false;
                return None;
            }
            let mut items = Vec::new();
            if !link.acks.is_empty() {
                items.push(Item::Ack { seqs: std::mem::take(&mut link.acks) });
            }
            let mut seqs = Vec::new();
            let mut asks = Vec::new();
            let mut bytes = 0;
            while items.len() < MAX_ITEMS {
                let Some(out) = link.queue.pop_front() else { break };
                match out {
                    Out::Item(item) => items.push(item),
                    Out::Msg(env) => {
                        if bytes > 0 && bytes + env.payload.len() > MAX_BYTES {
                            link.queue.push_front(Out::Msg(env));
                            break;
                        }
                        bytes += env.payload.len();
                        link.next_seq += 1;
                        let seq = link.next_seq;
                        let passed_on = match &env.ask {
                            Some(AskTo::Remote { origin, id, .. }) => Some((origin.clone(), *id)),
                            _ => None,
                        };
                        let ask = match env.ask {
                            None => None,
                            Some(AskTo::Local(mut reply)) => {
                                let deadline = reply.take_context().deadline;
                                let id = {
                                    st.next_id += 1;
                                    st.next_id
                                };
                                asks.push((id, reply));
                                Some(WireAsk { origin: me.clone(), id, timeout_ms: time_left(deadline) })
                            }
                            Some(AskTo::Remote { origin, id, deadline }) => {
                                Some(WireAsk { origin, id, timeout_ms: time_left(deadline) })
                            }
                        };
                        link.inflight.insert(
                            seq,
                            Sent {
                                entity: env.entity.clone(),
                                message_type: env.message_type,
                                wire_name: env.wire_name.clone(),
                                done: env.done,
                                ask: passed_on,
                            },
                        );
                        seqs.push(seq);
                        items.push(Item::Deliver {
                            seq,
                            entity: env.entity.to_string(),
                            wire_name: env.wire_name.into_owned(),
                            payload: env.payload,
                            ask,
                        });
                    }
                }
            }
            let link = st.links.get_mut(&node).expect("held above");
            let region = link.region.clone();
            for (id, reply) in asks {
                st.asks.insert(id, PendingAsk { reply, hop: node.clone() });
            }
            let reply_to = core.region.get()?.clone();
            let batch = Batch { region: core.name.clone(), shards: core.options.shards, from: me, reply_to, items };
            Some((region, batch, seqs))
        });
        let Some((region, batch, seqs)) = taken else { return };
        if let Err(e) = region.tell(batch).await {
            // Refused before it left: nothing of it arrived.
            let why = format!("the region on node {node} refused the batch: {e}");
            core.update(|core, st, fx| {
                for seq in seqs {
                    let sent = st.links.get_mut(&node).and_then(|l| l.inflight.remove(&seq));
                    if let Some(sent) = sent {
                        core.lost(st, sent, &why, fx);
                    }
                }
                Core::fail_asks_via(st, &node);
            });
        }
    }
}

/// The time an asker still waits, in whole milliseconds rounded up (so the
/// far node never gives up first).
fn time_left(deadline: Option<Instant>) -> Option<u64> {
    deadline.map(|d| {
        let left = d.saturating_duration_since(Instant::now());
        (left + Duration::from_nanos(999_999)).as_millis() as u64
    })
}
