//! The sender's ring of frame manifests: for every frame of our stream
//! not yet settled, what it carried (handles, persistence keys, bulk
//! ends), so that a lost frame is repaired by re-sending the current
//! state of what it carried.
//!
//! A frame is settled when the partner acknowledged it, or when it was
//! lost and every frame that carried its repair is settled (a frame with
//! nothing to repair is settled when sent). The floor is the highest
//! frame below which every frame is settled: the sender tells the
//! partner, which stops waiting for the frames it never got.

use std::collections::VecDeque;

use tandem_time::Instant;

use crate::persist::{PersistKey, TableId};
use crate::wire::Handle;

/// What a frame carried that can be repaired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    /// A flow record (insert, update, window, delete) of this handle.
    Flow(Handle),
    /// A persistence record of this key.
    Persist(TableId, PersistKey),
    /// The end of this bulk.
    BulkEnd(u32),
}

/// What a reported loss means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lost {
    /// Repair these items.
    Repair(Vec<Item>),
    /// The frame is settled (it carried nothing to repair, or was
    /// acknowledged): tell the receiver to stop waiting, with what it
    /// closed.
    Settled(Vec<u64>),
    /// Its repair is under way.
    Repairing,
    /// Not in the ring.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Unacked,
    Acked,
    Lost,
}

#[derive(Debug, Clone)]
pub(crate) struct Manifest {
    pub(crate) items: Vec<Item>,
    /// The lost frames whose repairs this frame carried (settlement).
    pub(crate) repairs: Vec<u64>,
    /// The lost frames whose last repair item this frame carried, and
    /// what those closed in turn: the receiver stops waiting for them
    /// when it gets this frame.
    pub(crate) closes: Vec<u64>,
    state: State,
    /// Repair items not yet sent.
    queued: u32,
    /// Frames carrying its repair, not settled yet.
    carriers: u32,
    /// When it was found lost (repaired again if still reported lost
    /// [`REPAIR_RETRY`] later).
    lost_at: Instant,
}

/// A frame still reported missing this long after its repair went is
/// repaired again (whatever happened to the repair).
pub(crate) const REPAIR_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

impl Manifest {
    pub(crate) fn new() -> Manifest {
        Manifest {
            items: Vec::new(),
            repairs: Vec::new(),
            closes: Vec::new(),
            state: State::Unacked,
            queued: 0,
            carriers: 0,
            lost_at: Instant::ZERO,
        }
    }

    fn settled(&self) -> bool {
        match self.state {
            State::Acked => true,
            State::Lost => self.queued == 0 && self.carriers == 0,
            State::Unacked => false,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Ring {
    /// Sequence number of `frames[0]`.
    base: u64,
    frames: VecDeque<Manifest>,
    /// Highest frame acknowledged cumulatively so far.
    acked_upto: u64,
    /// The floor passed a frame the partner did not get.
    pub(crate) floor_passed_loss: bool,
}

impl Ring {
    /// A ring whose first frame will be `first`.
    pub(crate) fn new(first: u64) -> Ring {
        Ring {
            base: first,
            frames: VecDeque::new(),
            acked_upto: first.saturating_sub(1),
            floor_passed_loss: false,
        }
    }

    /// Every frame up to the floor is settled.
    pub(crate) fn floor(&self) -> u64 {
        self.base - 1
    }

    /// Frames kept (from the oldest not settled).
    pub(crate) fn unsettled(&self) -> usize {
        self.frames.len()
    }

    /// Some frame is waiting for an acknowledgement.
    pub(crate) fn has_unsettled(&self) -> bool {
        !self.frames.is_empty()
    }

    fn get_mut(&mut self, seq: u64) -> Option<&mut Manifest> {
        let i = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        self.frames.get_mut(i)
    }

    /// Appends frame `seq` (the next one); a frame that carried nothing
    /// repairable is settled at once.
    pub(crate) fn push(&mut self, seq: u64, mut m: Manifest) {
        debug_assert_eq!(seq, self.base + self.frames.len() as u64);
        if m.items.is_empty() {
            m.state = State::Acked;
        }
        let repairs = if m.items.is_empty() {
            std::mem::take(&mut m.repairs)
        } else {
            Vec::new()
        };
        self.frames.push_back(m);
        for o in repairs {
            self.carrier_settled(o);
        }
        self.advance();
    }

    /// The partner acknowledged every frame up to `cum`, and those of `sack`.
    pub(crate) fn ack(&mut self, cum: u64, sack: u64) {
        let from = self.acked_upto.max(self.base - 1) + 1;
        for s in from..=cum {
            self.settle(s, true);
        }
        self.acked_upto = self.acked_upto.max(cum);
        for i in 0..64 {
            if sack & (1 << i) != 0 {
                self.settle(cum + 2 + i, true);
            }
        }
        self.advance();
    }

    /// Frame `seq` was reported missing at `now`.
    pub(crate) fn lost(&mut self, seq: u64, now: Instant) -> Lost {
        let Some(m) = self.get_mut(seq) else {
            return Lost::Unknown;
        };
        match m.state {
            State::Acked => return Lost::Settled(m.closes.clone()),
            State::Lost if m.queued > 0 || now < m.lost_at + REPAIR_RETRY => {
                return Lost::Repairing
            }
            State::Lost => m.carriers = 0,
            State::Unacked => {}
        }
        m.lost_at = now;
        m.state = State::Lost;
        m.queued = m.items.len() as u32;
        let items = m.items.clone();
        if items.is_empty() {
            self.settle(seq, false);
            self.advance();
        }
        Lost::Repair(items)
    }

    /// What frame `seq` closed (see [`Manifest::closes`]).
    pub(crate) fn closes_of(&self, seq: u64) -> Vec<u64> {
        let i = seq
            .checked_sub(self.base)
            .and_then(|i| usize::try_from(i).ok());
        i.and_then(|i| self.frames.get(i))
            .map(|m| m.closes.clone())
            .unwrap_or_default()
    }

    /// Lost frame `origin` has an item in the frame being built (called
    /// once per origin and frame, before [`Ring::repaired_one`]).
    pub(crate) fn carried(&mut self, origin: u64) -> bool {
        match self.get_mut(origin) {
            Some(m) if m.state == State::Lost => {
                m.carriers += 1;
                true
            }
            _ => false,
        }
    }

    /// One repair item of lost frame `origin` was sent or found obsolete;
    /// `true` if it was its last.
    pub(crate) fn repaired_one(&mut self, origin: u64) -> bool {
        let (last, done) = match self.get_mut(origin) {
            Some(m) if m.state == State::Lost => {
                m.queued = m.queued.saturating_sub(1);
                (m.queued == 0, m.settled())
            }
            _ => (false, false),
        };
        if done {
            self.settle(origin, false);
            self.advance();
        }
        last
    }

    fn carrier_settled(&mut self, origin: u64) {
        let done = match self.get_mut(origin) {
            Some(m) if m.state == State::Lost => {
                m.carriers = m.carriers.saturating_sub(1);
                m.settled()
            }
            _ => false,
        };
        if done {
            self.settle(origin, false);
        }
    }

    /// `seq` is acknowledged (`ack`) or its repair is complete: settle it
    /// and whatever waited on it.
    fn settle(&mut self, seq: u64, ack: bool) {
        let Some(m) = self.get_mut(seq) else { return };
        if ack {
            m.state = State::Acked;
        }
        if !m.settled() {
            return;
        }
        // Frames that became settled: the lost frames they repaired are
        // one carrier short (each frame's list is taken once).
        let mut work = vec![seq];
        let mut steps = 0;
        while let Some(s) = work.pop() {
            steps += 1;
            if steps > 4096 {
                break;
            }
            let repairs = match self.get_mut(s) {
                Some(m) => std::mem::take(&mut m.repairs),
                None => continue,
            };
            for o in repairs {
                if let Some(om) = self.get_mut(o) {
                    if om.state == State::Lost && om.carriers > 0 {
                        om.carriers -= 1;
                        if om.settled() {
                            work.push(o);
                        }
                    }
                }
            }
        }
    }

    fn advance(&mut self) {
        while let Some(m) = self.frames.front() {
            if !m.settled() {
                break;
            }
            if m.state == State::Lost {
                self.floor_passed_loss = true;
            }
            self.frames.pop_front();
            self.base += 1;
        }
    }

    /// Drops the oldest frames while more than `cap` are kept; returns how
    /// many of them were not settled (their loss can no longer be repaired
    /// frame by frame: the caller resyncs).
    #[cfg(test)]
    pub(crate) fn evict(&mut self, cap: usize) -> u64 {
        self.evict_noting(cap, &mut |_| {})
    }

    /// [`Ring::evict`], handing `lost` the items of each frame evicted
    /// unsettled (what can no longer be repaired one by one).
    pub(crate) fn evict_noting(&mut self, cap: usize, lost: &mut dyn FnMut(&[Item])) -> u64 {
        let mut n = 0;
        while self.frames.len() > cap.max(1) {
            if let Some(m) = self.frames.pop_front() {
                if !m.settled() {
                    n += 1;
                    lost(&m.items);
                }
            }
            self.base += 1;
            self.advance();
        }
        if n > 0 {
            self.floor_passed_loss = true;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(items: usize) -> Manifest {
        let mut m = Manifest::new();
        for s in 0..items {
            m.items.push(Item::Flow(Handle {
                slot: s as u32,
                gen: 0,
            }));
        }
        m
    }

    #[test]
    fn a_lost_frame_settles_when_its_repair_is_acknowledged() {
        let mut r = Ring::new(1);
        r.push(1, with(2));
        r.push(2, with(0)); // control only: settled at once
        assert_eq!(r.floor(), 0);
        let Lost::Repair(items) = r.lost(1, Instant::ZERO) else {
            panic!("not repaired")
        };
        assert_eq!(items.len(), 2);
        assert_eq!(
            r.lost(2, Instant::ZERO),
            Lost::Settled(Vec::new()),
            "nothing to repair"
        );
        // Both items go into frame 3.
        assert!(r.carried(1));
        r.repaired_one(1);
        r.repaired_one(1);
        let mut m = with(2);
        m.repairs.push(1);
        r.push(3, m);
        assert_eq!(r.floor(), 0, "frame 1 waits for its repair");
        r.ack(0, 1 << 1); // frame 3 acknowledged selectively
        assert_eq!(r.floor(), 3);
        assert!(r.floor_passed_loss);
    }

    #[test]
    fn eviction_counts_unsettled_frames() {
        let mut r = Ring::new(1);
        for s in 1..=5 {
            r.push(s, with(1));
        }
        r.ack(2, 0);
        assert_eq!(r.evict(2), 1);
        assert_eq!(r.floor(), 3);
        assert_eq!(r.frames.len(), 2);
    }
}
