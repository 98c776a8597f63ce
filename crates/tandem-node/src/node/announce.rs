//! Gratuitous ARP / unsolicited NA bursts as timer data: each burst sends
//! its frames `repeat` times, `spacing` apart, starting at once.

use std::time::Duration;

use tandem_election::Instant;

use super::Output;

#[derive(Debug)]
struct Burst {
    interface: String,
    frames: Vec<Vec<u8>>,
    left: u8,
    spacing: Duration,
    next: Instant,
}

/// The bursts still being sent.
#[derive(Debug, Default)]
pub(super) struct Bursts {
    bursts: Vec<Burst>,
}

impl Bursts {
    /// Starts a burst at `now`.
    pub(super) fn start(
        &mut self,
        now: Instant,
        interface: String,
        frames: Vec<Vec<u8>>,
        repeat: u8,
        spacing: Duration,
    ) {
        if frames.is_empty() {
            return;
        }
        self.bursts.push(Burst {
            interface,
            frames,
            left: repeat.max(1),
            spacing,
            next: now,
        });
    }

    /// Sends the rounds due at `now`.
    pub(super) fn fire(&mut self, now: Instant, out: &mut impl FnMut(Output)) {
        let mut k = 0;
        while k < self.bursts.len() {
            let b = &mut self.bursts[k];
            if b.next <= now {
                out(Output::SendFrames {
                    interface: b.interface.clone(),
                    frames: b.frames.clone(),
                });
                b.left -= 1;
                b.next = now + b.spacing;
                if b.left == 0 {
                    self.bursts.remove(k);
                    continue;
                }
            }
            k += 1;
        }
    }

    /// When the next round is due.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.bursts.iter().map(|b| b.next).min()
    }
}
