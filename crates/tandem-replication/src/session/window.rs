//! The receiver's view of the partner's sequence space: the highest
//! contiguous frame ("cumulative": every frame up to it received, or
//! settled by the sender's floor notice) and a bitmap of the frames
//! received beyond it.

/// Frames beyond the cumulative one that are told apart (the credit).
pub const RECV_WINDOW: u64 = 16_384;

/// The most frames a receiver lets its sender have in flight: 2,048
/// frames of at most 1,400 bytes, under 3 MB, within the 4 MB receive
/// buffer tandemd asks for.
pub(crate) const CREDIT: u64 = 2048;

const WORDS: usize = (RECV_WINDOW / 64) as usize;

#[derive(Debug, Clone)]
pub(crate) struct RxWindow {
    cum: u64,
    highest: u64,
    bits: Vec<u64>,
}

impl RxWindow {
    /// A window whose every frame up to `start` counts as received.
    pub(crate) fn new(start: u64) -> RxWindow {
        RxWindow {
            cum: start,
            highest: start,
            bits: vec![0; WORDS],
        }
    }

    pub(crate) fn cum(&self) -> u64 {
        self.cum
    }

    pub(crate) fn highest(&self) -> u64 {
        self.highest
    }

    /// A hole is open.
    pub(crate) fn has_gap(&self) -> bool {
        self.highest > self.cum
    }

    fn pos(seq: u64) -> (usize, u64) {
        let i = seq % RECV_WINDOW;
        ((i / 64) as usize, 1u64 << (i % 64))
    }

    fn get(&self, seq: u64) -> bool {
        let (w, b) = Self::pos(seq);
        self.bits.get(w).is_some_and(|x| x & b != 0)
    }

    fn set(&mut self, seq: u64, on: bool) {
        let (w, b) = Self::pos(seq);
        if let Some(x) = self.bits.get_mut(w) {
            if on {
                *x |= b;
            } else {
                *x &= !b;
            }
        }
    }

    /// Records `seq` as received; `false` if it is beyond the window.
    pub(crate) fn mark(&mut self, seq: u64) -> bool {
        if seq <= self.cum {
            return true;
        }
        if seq - self.cum > RECV_WINDOW {
            return false;
        }
        self.highest = self.highest.max(seq);
        self.set(seq, true);
        self.advance();
        true
    }

    /// Notes that frames up to `seq` exist (a heartbeat), without marking.
    pub(crate) fn saw(&mut self, seq: u64) {
        if seq > self.cum && seq - self.cum <= RECV_WINDOW {
            self.highest = self.highest.max(seq);
        }
    }

    fn advance(&mut self) {
        while self.cum < self.highest && self.get(self.cum + 1) {
            self.set(self.cum + 1, false);
            self.cum += 1;
        }
    }

    /// The sender says frames `first..=last` need not be waited for.
    pub(crate) fn close(&mut self, first: u64, last: u64) {
        let lo = first.max(self.cum + 1);
        let hi = last.min(self.cum + RECV_WINDOW);
        if lo > hi {
            return;
        }
        for s in lo..=hi {
            self.set(s, true);
        }
        self.highest = self.highest.max(hi);
        self.advance();
    }

    /// The sender says every frame up to `floor` is settled.
    pub(crate) fn floor(&mut self, floor: u64) {
        if floor <= self.cum {
            return;
        }
        if floor - self.cum >= RECV_WINDOW {
            self.bits.iter_mut().for_each(|w| *w = 0);
        } else {
            for s in self.cum + 1..=floor {
                self.set(s, false);
            }
        }
        self.cum = floor;
        self.highest = self.highest.max(floor);
        self.advance();
    }

    /// Bit i: frame `cum + 2 + i` was received.
    pub(crate) fn sack(&self) -> u64 {
        (0..64).fold(0, |acc, i| {
            if self.get(self.cum + 2 + i) && self.cum + 2 + i <= self.highest {
                acc | (1 << i)
            } else {
                acc
            }
        })
    }

    /// Frames the sender may send beyond the cumulative one: what the
    /// window has room for, and at most [`CREDIT`] (about what a socket's
    /// receive buffer of a few MB holds, so that a sender faster than this
    /// unit does not overrun the buffer and lose frames by the thousand).
    pub(crate) fn credit(&self) -> u32 {
        (RECV_WINDOW - (self.highest - self.cum).min(RECV_WINDOW)).min(CREDIT) as u32
    }

    /// The missing ranges below the highest frame, at most `max`.
    pub(crate) fn holes(&self, max: usize) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut s = self.cum + 1;
        while s < self.highest && out.len() < max {
            if self.get(s) {
                s += 1;
                continue;
            }
            let first = s;
            while s < self.highest && !self.get(s) {
                s += 1;
            }
            out.push((first, s - 1));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_sack_and_floor() {
        let mut w = RxWindow::new(10);
        assert!(w.mark(11));
        assert_eq!(w.cum(), 11);
        assert!(w.mark(13));
        assert!(w.mark(16));
        assert_eq!(w.holes(8), vec![(12, 12), (14, 15)]);
        // cum 11: bit 0 is frame 13, bit 3 frame 16.
        assert_eq!(w.sack(), 0b1001);
        w.floor(12);
        assert_eq!(w.cum(), 13);
        w.floor(15);
        assert_eq!(w.cum(), 16);
        assert!(!w.has_gap());
        assert!(!w.mark(16 + RECV_WINDOW + 1));
        assert_eq!(w.credit() as u64, CREDIT);
    }
}
