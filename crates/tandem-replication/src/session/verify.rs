//! The receiver's checks of the mirror: bulk ends (mark-and-sweep and
//! the range digest), the continuous shard digests, the resyncs they ask,
//! and "in sync".

use super::recv::{covers, ShardCheck, Want, WANTED_KEPT};
use super::send::FULL;
use super::{Event, Replicator};
use crate::table::SHARDS;
use crate::wire::{BulkEnd, ResyncReason, ResyncReq, ShardRange};

impl Replicator {
    /// Applies the held bulk ends no hole is left below.
    pub(crate) fn apply_held(&mut self, cum: u64) {
        if self.rx.held.is_empty() {
            return;
        }
        self.rx.held.sort_by_key(|(s, _)| *s);
        while let Some(&(seq, e)) = self.rx.held.first() {
            if seq > cum {
                break;
            }
            self.rx.held.remove(0);
            self.apply_bulk_end(seq, e);
        }
    }

    fn apply_bulk_end(&mut self, seq: u64, e: BulkEnd) {
        let Some(b) = self.rx.bound.as_ref() else {
            return;
        };
        if e.begin_seq == 0
            || e.begin_seq > seq
            || e.range.first > e.range.last
            || usize::from(e.range.last) >= SHARDS
        {
            return;
        }
        let (lseq, begin) = (b.base + seq, b.base + e.begin_seq);
        let mut swept = self.rx.mirror.sweep(e.range, begin, lseq);
        let full = e.range == FULL;
        if full {
            if let Some(t) = &self.cfg.persistence {
                swept += t.sweep_partner(begin);
            }
            self.rx.full_bulk_done = true;
        }
        self.counters.swept += swept as u64;
        self.counters.bulks_received += 1;
        self.rx.wanted.retain(|w| !covers(e.range, w.range));
        self.rx.bulk_receiving = false;
        if self.rx.mirror.range_touched(e.range) <= lseq {
            let equal = self.rx.mirror.range_digest(e.range) == e.digest;
            let c = if equal {
                ShardCheck::Equal
            } else {
                ShardCheck::Differs
            };
            for s in e.range.first..=e.range.last {
                self.rx.check(s, c);
            }
            if !equal {
                self.counters.digest_mismatches += 1;
                self.want(e.range, ResyncReason::Digest);
            }
        }
    }

    /// Shard digests of frame `lseq`; `complete`: every frame before it
    /// is in. The shards no later frame changed are compared; the others
    /// are only seen.
    pub(crate) fn compare_digests(&mut self, lseq: u64, complete: bool, digests: &[(u16, u64)]) {
        let mut differ: Vec<u16> = Vec::new();
        for &(shard, digest) in digests {
            if usize::from(shard) >= SHARDS || self.rx.wanted_covers(shard) {
                continue;
            }
            if !complete || self.rx.mirror.touched(shard) > lseq {
                let unverified =
                    self.rx.checks.get(usize::from(shard)) == Some(&ShardCheck::Unverified);
                if unverified && self.rx.full_bulk_done {
                    self.rx.check(shard, ShardCheck::Seen);
                }
                continue;
            }
            if self.rx.mirror.digest(shard) == digest {
                self.rx.check(shard, ShardCheck::Equal);
            } else {
                self.rx.check(shard, ShardCheck::Differs);
                self.counters.digest_mismatches += 1;
                differ.push(shard);
            }
        }
        // Consecutive shards go in one request.
        let mut i = 0;
        while let Some(&first) = differ.get(i) {
            let mut last = first;
            while differ.get(i + 1) == Some(&(last + 1)) {
                last += 1;
                i += 1;
            }
            i += 1;
            self.want(ShardRange { first, last }, ResyncReason::Digest);
        }
    }

    /// Asks the partner for a bulk of `range` of its stream.
    pub(crate) fn want(&mut self, range: ShardRange, reason: ResyncReason) {
        let Some(b) = self.rx.bound.as_ref() else {
            return;
        };
        if self.rx.wanted.iter().any(|w| covers(w.range, range)) {
            return;
        }
        let boot = b.boot;
        if self.rx.wanted.len() >= WANTED_KEPT {
            self.rx.wanted.clear();
            self.rx.outbox.clear();
            return self.want(FULL, reason);
        }
        self.rx.wanted.retain(|w| !covers(range, w.range));
        self.rx.wanted.push(Want {
            range,
            reason,
            asked_at: self.now,
        });
        self.rx.outbox.push_back(ResyncReq {
            stream: 0,
            boot,
            range,
            reason,
        });
        self.counters.resyncs_requested += 1;
        self.update_sync();
    }

    /// Shards not compared equal yet (debugging).
    pub fn debug_unverified(&self) -> Vec<(u16, u64)> {
        self.rx
            .checks
            .iter()
            .enumerate()
            .filter(|(_, c)| !matches!(c, ShardCheck::Equal | ShardCheck::Seen))
            .map(|(i, _)| (i as u16, self.rx.mirror.touched(i as u16)))
            .take(10)
            .collect()
    }

    /// Why the mirror is not in sync (`None`: it is).
    pub(crate) fn sync_reason(&self) -> Option<&'static str> {
        let rx = &self.rx;
        match &rx.bound {
            None => Some("no_partner"),
            Some(b) => {
                if !rx.full_bulk_done {
                    Some("bulk_pending")
                } else if rx.gap_reported && b.win.has_gap() {
                    Some("gap")
                } else if rx.differs > 0 {
                    Some("digest")
                } else if !rx.wanted.is_empty() || rx.partner_bulk_active {
                    Some("resync")
                } else if rx.equal < SHARDS {
                    Some("unverified")
                } else {
                    None
                }
            }
        }
    }

    /// Re-evaluates "in sync" and tells of a change.
    pub(crate) fn update_sync(&mut self) {
        let reason = self.sync_reason();
        let ok = reason.is_none();
        if ok != self.rx.in_sync {
            self.rx.in_sync = ok;
            self.event(match reason {
                None => Event::InSync,
                Some(reason) => Event::OutOfSync { reason },
            });
        }
    }
}
