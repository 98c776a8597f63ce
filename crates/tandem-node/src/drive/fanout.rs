//! The event stream's fan-out: every event line goes to every subscriber
//! through the subscriber's own bounded queue, never blocking the loop.
//!
//! A subscriber whose queue is full misses lines; they are counted, and
//! once it has room again it first gets `{"event":"missed","count":N}`,
//! then the next line. One that misses more than [`MISSED_LIMIT`] lines
//! in a row is disconnected (its queue's sender is dropped, so its reader
//! sees the stream end once it has taken what is queued).

use crossbeam_channel::{Sender, TrySendError};

use super::threads::SUBSCRIBER_QUEUE;

/// Lines a subscriber may miss in a row before it is disconnected.
pub(super) const MISSED_LIMIT: u64 = 10 * SUBSCRIBER_QUEUE as u64;

/// One reader of the event stream.
#[derive(Debug)]
struct Subscriber {
    tx: Sender<String>,
    /// Lines missed since the last one it got.
    missed: u64,
}

/// The subscribers of the event stream and what they missed.
#[derive(Debug, Default)]
pub(super) struct Subscribers {
    list: Vec<Subscriber>,
    /// Lines not delivered to a subscriber because its queue was full.
    pub(super) lines_dropped: u64,
    /// Subscribers disconnected because they missed too many lines.
    pub(super) dropped: u64,
}

impl Subscribers {
    /// Adds a subscriber; `tx` should be bounded (see
    /// [`super::ControlHandle::subscribe`]).
    pub(super) fn add(&mut self, tx: Sender<String>) {
        self.list.push(Subscriber { tx, missed: 0 });
    }

    /// How many subscribers there are.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there is none (then the loop need not render the line).
    pub(super) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Offers `line` (an event at `at_unix`, as JSON) to every subscriber.
    /// Never blocks. Subscribers whose reader went away are forgotten.
    pub(super) fn push(&mut self, at_unix: f64, line: &str) {
        let (mut dropped, mut gone) = (0, 0);
        self.list.retain_mut(|s| {
            if s.missed > 0 {
                let notice = serde_json::json!({
                    "at_unix": at_unix, "event": "missed", "count": s.missed,
                });
                match s.tx.try_send(notice.to_string()) {
                    Ok(()) => s.missed = 0,
                    Err(TrySendError::Disconnected(_)) => return false,
                    Err(TrySendError::Full(_)) => {}
                }
            }
            if s.missed == 0 {
                match s.tx.try_send(line.to_owned()) {
                    Ok(()) => return true,
                    Err(TrySendError::Disconnected(_)) => return false,
                    Err(TrySendError::Full(_)) => {}
                }
            }
            s.missed += 1;
            dropped += 1;
            if s.missed > MISSED_LIMIT {
                gone += 1;
                return false;
            }
            true
        });
        self.lines_dropped += dropped;
        self.dropped += gone;
    }
}

#[cfg(test)]
mod tests {
    use crossbeam_channel::{bounded, Receiver, TryRecvError};
    use serde_json::Value;

    use super::*;

    fn line(n: u64) -> String {
        format!("{{\"event\":\"state\",\"n\":{n}}}")
    }

    fn subscriber(subs: &mut Subscribers) -> Receiver<String> {
        let (tx, rx) = bounded(SUBSCRIBER_QUEUE);
        subs.add(tx);
        rx
    }

    fn json(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    /// A reader that never reads holds at most SUBSCRIBER_QUEUE lines
    /// (the first ones, in order), and the rest are counted; a reader
    /// that keeps up beside it gets every line.
    #[test]
    fn silent_reader_holds_at_most_its_queue() {
        let mut subs = Subscribers::default();
        let silent = subscriber(&mut subs);
        let reader = subscriber(&mut subs);
        let n = 3 * SUBSCRIBER_QUEUE as u64;
        for i in 0..n {
            subs.push(1.0, &line(i));
            assert_eq!(reader.try_recv().unwrap(), line(i));
        }
        assert_eq!(silent.len(), SUBSCRIBER_QUEUE);
        assert_eq!(subs.lines_dropped, n - SUBSCRIBER_QUEUE as u64);
        assert_eq!(subs.dropped, 0);
        assert_eq!(subs.len(), 2);
        let got: Vec<String> = silent.try_iter().collect();
        let want: Vec<String> = (0..SUBSCRIBER_QUEUE as u64).map(line).collect();
        assert_eq!(got, want);
    }

    /// Once a reader that fell behind has room again, the first thing it
    /// gets is `missed` with the count, then the next line; nothing more
    /// is missed after that.
    #[test]
    fn missed_comes_first_when_the_reader_catches_up() {
        let mut subs = Subscribers::default();
        let rx = subscriber(&mut subs);
        let q = SUBSCRIBER_QUEUE as u64;
        for i in 0..q + 5 {
            subs.push(1.0, &line(i));
        }
        // Take everything queued: the first q lines.
        assert_eq!(rx.try_iter().count(), SUBSCRIBER_QUEUE);
        subs.push(2.5, &line(q + 5));
        let notice = json(&rx.try_recv().unwrap());
        assert_eq!(notice["event"], "missed", "{notice}");
        assert_eq!(notice["count"], 5, "{notice}");
        assert_eq!(notice["at_unix"], 2.5, "{notice}");
        assert_eq!(rx.try_recv().unwrap(), line(q + 5));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        subs.push(3.0, &line(q + 6));
        assert_eq!(rx.try_recv().unwrap(), line(q + 6));
        assert_eq!(subs.lines_dropped, 5);
    }

    /// The notice takes the last free place when only one is left: the
    /// line after it is missed and counted, and reported by the next
    /// notice.
    #[test]
    fn notice_in_the_last_place_counts_the_line_after_it() {
        let mut subs = Subscribers::default();
        let rx = subscriber(&mut subs);
        let q = SUBSCRIBER_QUEUE as u64;
        for i in 0..q + 3 {
            subs.push(1.0, &line(i));
        }
        rx.try_recv().unwrap(); // one free place
        subs.push(1.0, &line(q + 3));
        assert_eq!(rx.len(), SUBSCRIBER_QUEUE);
        let rest: Vec<String> = rx.try_iter().collect();
        let last = json(rest.last().unwrap());
        assert_eq!(last["event"], "missed");
        assert_eq!(last["count"], 3);
        subs.push(1.0, &line(q + 4));
        let notice = json(&rx.try_recv().unwrap());
        assert_eq!(notice["count"], 1, "{notice}");
        assert_eq!(rx.try_recv().unwrap(), line(q + 4));
        assert_eq!(subs.lines_dropped, 4);
    }

    /// A reader that misses more than MISSED_LIMIT lines in a row is
    /// disconnected: after the queued lines its stream ends; the others
    /// stay; the counters say so.
    #[test]
    fn far_behind_reader_is_disconnected() {
        let mut subs = Subscribers::default();
        let silent = subscriber(&mut subs);
        let reader = subscriber(&mut subs);
        let q = SUBSCRIBER_QUEUE as u64;
        for i in 0..q + MISSED_LIMIT {
            subs.push(1.0, &line(i));
            reader.try_recv().unwrap();
        }
        // Exactly at the limit: still connected.
        assert_eq!(subs.len(), 2);
        assert_eq!(subs.dropped, 0);
        subs.push(1.0, &line(q + MISSED_LIMIT));
        assert_eq!(reader.try_recv().unwrap(), line(q + MISSED_LIMIT));
        assert_eq!(subs.len(), 1);
        assert_eq!(subs.dropped, 1);
        assert_eq!(subs.lines_dropped, MISSED_LIMIT + 1);
        assert_eq!(silent.try_iter().count(), SUBSCRIBER_QUEUE);
        assert_eq!(silent.try_recv(), Err(TryRecvError::Disconnected));
        // The remaining reader goes on getting every line.
        subs.push(1.0, &line(7));
        assert_eq!(reader.try_recv().unwrap(), line(7));
        assert_eq!(reader.try_recv(), Err(TryRecvError::Empty));
    }

    /// A subscriber whose reader went away is forgotten at the next line,
    /// and is not counted as dropped.
    #[test]
    fn gone_reader_is_forgotten() {
        let mut subs = Subscribers::default();
        let rx = subscriber(&mut subs);
        drop(rx);
        subs.push(1.0, &line(0));
        assert!(subs.is_empty());
        assert_eq!((subs.lines_dropped, subs.dropped), (0, 0));
    }
}
