//! FT-FW's two halves, as conntrack-tools `src/sync-ftfw.c` runs them:
//! the receiver's sequence tracking and windowed acknowledgement
//! ([`Tracker`]), and the sender's bounded resend queue ([`ResendQueue`]).

use std::collections::VecDeque;

use super::msg::Repr;
use crate::flow::FlowKey;

/// `before(a, b)` of conntrack-tools (TCP's serial comparison).
pub fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// What the receiver makes of a message's sequence number
/// (`nethdr_track_seq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seq {
    /// The first message heard.
    Unset,
    /// The next one expected.
    InSync,
    /// Messages `expected..seq` are missing.
    After {
        /// The first missing.
        expected: u32,
    },
    /// Older than expected: delayed or replayed.
    Before,
}

/// What the receiver sends back, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// ACK `from..=to`.
    Ack(u32, u32),
    /// NACK `from..=to`.
    Nack(u32, u32),
}

/// The receiver's sequence tracking and ACK window (`ftfw_recv`).
#[derive(Debug, Clone)]
pub struct Tracker {
    window_size: u32,
    window: u32,
    last: Option<u32>,
    ack_from: Option<u32>,
}

impl Tracker {
    /// A tracker acknowledging every `window_size` messages in order.
    pub fn new(window_size: u32) -> Tracker {
        let window_size = window_size.max(1);
        Tracker {
            window_size,
            window: window_size,
            last: None,
            ack_from: None,
        }
    }

    /// Classifies `seq` (changes nothing).
    pub fn classify(&self, seq: u32) -> Seq {
        match self.last {
            None => Seq::Unset,
            Some(last) if seq == last.wrapping_add(1) => Seq::InSync,
            Some(last) if before(last.wrapping_add(1), seq) => Seq::After {
                expected: last.wrapping_add(1),
            },
            Some(_) => Seq::Before,
        }
    }

    /// The peer said HELLO: its numbering restarted. A pending window that
    /// started after `seq` restarts at `seq`.
    pub fn hello(&mut self, seq: u32) {
        if let Some(from) = self.ack_from {
            if before(seq, from) {
                self.window = self.window_size.saturating_sub(1).max(1);
                self.ack_from = Some(seq);
            }
        }
    }

    /// A message with `seq`, classified as `class`, was accepted (a HELLO
    /// is accepted as in sync): the replies it calls for.
    pub fn accept(&mut self, seq: u32, class: Seq, out: &mut Vec<Reply>) {
        match class {
            Seq::After { expected } => {
                if let Some(from) = self.ack_from.take() {
                    out.push(Reply::Ack(from, expected.wrapping_sub(1)));
                }
                out.push(Reply::Nack(expected, seq.wrapping_sub(1)));
                self.window = self.window_size.saturating_sub(1).max(1);
                self.ack_from = Some(seq);
            }
            Seq::Before => return,
            Seq::Unset | Seq::InSync => {
                let from = *self.ack_from.get_or_insert(seq);
                self.window = self.window.saturating_sub(1);
                if self.window == 0 {
                    out.push(Reply::Ack(from, seq));
                    self.window = self.window_size;
                    self.ack_from = None;
                }
            }
        }
        self.last = Some(seq);
    }

    /// Tracks `seq` without acknowledging (NOTRACK).
    pub fn note(&mut self, seq: u32) {
        self.last = Some(seq);
    }

    /// The ACK due at the alive alarm, if messages await one.
    pub fn take_pending(&mut self) -> Option<Reply> {
        let from = self.ack_from.take()?;
        self.window = self.window_size;
        Some(Reply::Ack(from, self.last.unwrap_or(from)))
    }

    /// Messages await an ACK.
    pub fn pending(&self) -> bool {
        self.ack_from.is_some()
    }
}

/// What a resend-queue slot holds: a reference to a cache object (its
/// current state is sent again) or a control message (ACK, NACK, RESYNC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A local flow.
    Obj(FlowKey),
    /// A control message, sent again as it was (with a new sequence number).
    Ctl(Repr),
}

/// The sender's bounded resend queue, in sequence order.
#[derive(Debug, Clone)]
pub struct ResendQueue {
    q: VecDeque<(u32, Item)>,
    cap: usize,
}

impl ResendQueue {
    /// An empty queue of at most `cap` items (at least 1).
    pub fn new(cap: usize) -> ResendQueue {
        ResendQueue {
            q: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    /// Items held (some may be stale: the object was queued again since).
    pub fn len(&self) -> usize {
        self.q.len()
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// Full: the next push must evict (after [`ResendQueue::compact`]).
    pub fn is_full(&self) -> bool {
        self.q.len() >= self.cap
    }

    /// Drops the items `live` says are stale.
    pub fn compact(&mut self, mut live: impl FnMut(u32, &Item) -> bool) {
        self.q.retain(|(s, i)| live(*s, i));
    }

    /// Evicts the oldest item.
    pub fn evict(&mut self) -> Option<(u32, Item)> {
        self.q.pop_front()
    }

    /// Appends the item sent with `seq` (sequence numbers increase).
    pub fn push(&mut self, seq: u32, item: Item) {
        self.q.push_back((seq, item));
    }

    /// Removes and returns the items with `from <= seq <= to` (serial
    /// order; a reversed range takes nothing).
    pub fn take_range(&mut self, from: u32, to: u32) -> Vec<(u32, Item)> {
        if before(to, from) {
            return Vec::new();
        }
        let Some(&(base, _)) = self.q.front() else {
            return Vec::new();
        };
        // Offsets from the oldest seq are monotonic: binary search.
        let off = |s: u32| s.wrapping_sub(base);
        let lo = if before(from, base) {
            0
        } else {
            self.q.partition_point(|(s, _)| off(*s) < off(from))
        };
        if before(to, base) {
            return Vec::new();
        }
        let hi = self.q.partition_point(|(s, _)| off(*s) <= off(to));
        if lo >= hi {
            return Vec::new();
        }
        self.q.drain(lo..hi).collect()
    }

    /// Empties the queue (the peer said HELLO: it knows nothing of it).
    pub fn clear(&mut self) -> Vec<(u32, Item)> {
        self.q.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_acks_every_n_and_gaps_nack() {
        let mut t = Tracker::new(3);
        let mut out = Vec::new();
        for s in 10..13 {
            let c = t.classify(s);
            t.accept(s, c, &mut out);
        }
        assert_eq!(out, [Reply::Ack(10, 12)]);
        out.clear();
        // 13 and 14 lost.
        let c = t.classify(15);
        assert_eq!(c, Seq::After { expected: 13 });
        t.accept(15, c, &mut out);
        assert_eq!(out, [Reply::Nack(13, 14)]);
        assert_eq!(t.classify(14), Seq::Before);
        assert_eq!(t.take_pending(), Some(Reply::Ack(15, 15)));
        assert_eq!(t.take_pending(), None);
    }

    #[test]
    fn gap_after_pending_acks_what_was_in_order() {
        let mut t = Tracker::new(300);
        let mut out = Vec::new();
        for s in [u32::MAX - 1, u32::MAX, 0] {
            let c = t.classify(s);
            t.accept(s, c, &mut out);
        }
        let c = t.classify(3);
        t.accept(3, c, &mut out);
        assert_eq!(out, [Reply::Ack(u32::MAX - 1, 0), Reply::Nack(1, 2)]);
    }

    #[test]
    fn resend_ranges_across_wrap() {
        let mut q = ResendQueue::new(10);
        for s in [u32::MAX - 1, u32::MAX, 0, 1, 2] {
            q.push(s, Item::Ctl(Repr::control(0, s, None)));
        }
        let got: Vec<u32> = q.take_range(u32::MAX, 0).into_iter().map(|x| x.0).collect();
        assert_eq!(got, [u32::MAX, 0]);
        assert!(q.take_range(5, 1).is_empty(), "reversed");
        let got: Vec<u32> = q
            .take_range(u32::MAX - 10, 100)
            .into_iter()
            .map(|x| x.0)
            .collect();
        assert_eq!(got, [u32::MAX - 1, 1, 2]);
        assert!(q.is_empty());
    }
}
