//! The sender's bulk resync (a shard range walked slot by slot, paced,
//! restartable, ended with the range's digest) and the continuous digest
//! sweep.

use std::collections::VecDeque;

use super::ring::{Item, Manifest};
use super::send::{DIGESTS_PER_TICK, DIGEST_TICKS, FULL};
use super::{Event, Replicator};
use crate::persist::{Change, Persistence};
use crate::table::SHARDS;
use crate::wire::{BulkBegin, BulkEnd, FrameBuilder, Record, ResyncReq, ShardRange};

/// Most slots a bulk visits per frame (a sparse slab costs no more).
const MAX_VISITS_PER_FRAME: usize = 1 << 16;
/// Bulk ends remembered for repair.
const BULK_ENDS_KEPT: usize = 64;
/// Most shard ranges waiting for a bulk.
const MAX_BULK_QUEUE: usize = 64;

/// A bulk under way.
#[derive(Debug)]
pub(crate) struct Bulk {
    id: u32,
    range: ShardRange,
    shard: u32,
    slot: usize,
    /// Frame of its BULK_BEGIN (0: not begun).
    begin_seq: u64,
    entries: u32,
    flows_done: bool,
    /// Persistence entries still to send (a full bulk), once taken.
    persist: Option<VecDeque<Persistence>>,
}

impl Replicator {
    /// The bulk: the next entries of the range, paced.
    pub(crate) fn bulk(&mut self, b: &mut FrameBuilder, m: &mut Manifest) -> bool {
        if self.tx.bulk.is_none() {
            let Some(range) = self.tx.bulk_queue.pop_front() else {
                return false;
            };
            self.tx.bulk_ids = self.tx.bulk_ids.wrapping_add(1);
            self.tx.bulk = Some(Bulk {
                id: self.tx.bulk_ids,
                range,
                shard: u32::from(range.first),
                slot: usize::from(range.first),
                begin_seq: 0,
                entries: 0,
                flows_done: false,
                persist: None,
            });
        }
        let Some(mut bulk) = self.tx.bulk.take() else {
            return false;
        };
        let start = b.payload_len();
        let budget = self.tx.tokens;
        let mut progress = false;
        let finished = 'walk: {
            if bulk.begin_seq == 0 {
                let shards = u64::from(bulk.range.last - bulk.range.first) + 1;
                let estimate = self.tx.table.len() as u64 * shards / SHARDS as u64;
                let rec = Record::BulkBegin(BulkBegin {
                    bulk: bulk.id,
                    range: bulk.range,
                    entries: u32::try_from(estimate).unwrap_or(u32::MAX),
                });
                if b.push(rec).is_err() {
                    break 'walk false;
                }
                bulk.begin_seq = self.tx.next_seq;
                progress = true;
            }
            let mut visits = 0;
            while !bulk.flows_done {
                if visits >= MAX_VISITS_PER_FRAME {
                    break 'walk false;
                }
                visits += 1;
                if bulk.slot >= self.tx.table.slab_len() {
                    bulk.shard += 1;
                    bulk.slot = bulk.shard as usize;
                    if bulk.shard > u32::from(bulk.range.last) {
                        bulk.flows_done = true;
                    }
                    progress = true;
                    continue;
                }
                let slot = bulk.slot as u32;
                let live = self.tx.table.slot(slot).is_some_and(|s| s.flow.is_some());
                if live {
                    if (b.payload_len() - start) as f64 + 40.0 > budget {
                        break 'walk false;
                    }
                    match self.emit_full(b, slot) {
                        Ok(Some(h)) => {
                            m.items.push(Item::Flow(h));
                            bulk.entries += 1;
                            self.counters.bulk_entries_sent += 1;
                        }
                        Ok(None) => {}
                        Err(()) => break 'walk false,
                    }
                }
                progress = true;
                bulk.slot += SHARDS;
            }
            if bulk.range == FULL {
                if bulk.persist.is_none() {
                    let entries = self
                        .cfg
                        .persistence
                        .as_ref()
                        .map(|p| p.local_entries(self.now))
                        .unwrap_or_default();
                    bulk.persist = Some(entries.into());
                }
                while let Some(p) = bulk.persist.as_mut().and_then(|q| q.pop_front()) {
                    match self.emit_persist(b, Change::Upsert(p)) {
                        Ok(item) => {
                            m.items.push(item);
                            bulk.entries += 1;
                            self.counters.bulk_entries_sent += 1;
                            progress = true;
                        }
                        Err(_) => {
                            if let Some(q) = bulk.persist.as_mut() {
                                q.push_front(p);
                            }
                            break 'walk false;
                        }
                    }
                }
            }
            let end = BulkEnd {
                bulk: bulk.id,
                range: bulk.range,
                begin_seq: bulk.begin_seq,
                entries: bulk.entries,
                digest: self.tx.digests.range(bulk.range.first, bulk.range.last),
            };
            if b.push(Record::BulkEnd(end)).is_err() {
                break 'walk false;
            }
            m.items.push(Item::BulkEnd(bulk.id));
            if self.tx.bulk_ends.len() >= BULK_ENDS_KEPT {
                self.tx.bulk_ends.pop_front();
            }
            self.tx.bulk_ends.push_back(end);
            true
        };
        self.tx.tokens -= (b.payload_len() - start) as f64;
        if finished {
            self.counters.bulks_sent += 1;
            self.event(Event::BulkSent {
                entries: u64::from(bulk.entries),
            });
            progress = true;
        } else {
            self.tx.bulk = Some(bulk);
        }
        progress
    }

    /// The next shard digests of the continuous sweep: written last, so
    /// each is the shard's digest as of the end of this frame.
    pub(crate) fn push_digests(&mut self, b: &mut FrameBuilder) {
        while self.tx.digest_left > 0 {
            let shard = self.tx.digest_cursor;
            let rec = Record::Digest {
                shard,
                digest: self.tx.digests.get(shard),
            };
            if b.push(rec).is_err() {
                return;
            }
            self.tx.digest_cursor = ((usize::from(shard) + 1) % SHARDS) as u16;
            self.tx.digest_left -= 1;
        }
        self.tx.digest_left = DIGESTS_PER_TICK;
        let tick = self.cfg.digest_interval / DIGEST_TICKS;
        self.tx.digest_at = (self.tx.digest_at + tick).max(self.now);
        if self.tx.digest_at == self.now {
            self.tx.digest_at = self.now + tick;
        }
    }

    /// Queues a bulk of `range` of our stream; `restart`: a request for
    /// the range under way restarts it (a receiver asks again only when
    /// it saw no bulk for a while).
    pub(crate) fn queue_bulk(&mut self, range: ShardRange, restart: bool) {
        if range.first == 0 && u32::from(range.last) + 1 >= SHARDS as u32 {
            // The whole table goes: the live queue's flows with it.
            self.tx.table.bulk_supersedes_dirty();
        }
        let covers = |o: &ShardRange, i: &ShardRange| o.first <= i.first && i.last <= o.last;
        let cur = self.tx.bulk.as_ref().map(|b| b.range);
        if restart && cur.is_some_and(|c| covers(&range, &c)) {
            self.tx.bulk = None;
            self.tx.bulk_queue.retain(|r| !covers(&range, r));
            self.tx.bulk_queue.push_front(range);
            return;
        }
        if self.tx.bulk_queue.iter().any(|r| covers(r, &range)) {
            return;
        }
        self.tx.bulk_queue.retain(|r| !covers(&range, r));
        if self.tx.bulk_queue.len() >= MAX_BULK_QUEUE {
            self.tx.bulk_queue.clear();
            self.tx.bulk_queue.push_back(FULL);
            return;
        }
        self.tx.bulk_queue.push_back(range);
    }

    /// The partner asks for a bulk of our stream.
    pub(crate) fn on_resync(&mut self, req: &ResyncReq) {
        if req.stream != 0
            || req.boot != self.boot
            || req.range.first > req.range.last
            || usize::from(req.range.last) >= SHARDS
        {
            return;
        }
        self.queue_bulk(req.range, true);
    }
}
