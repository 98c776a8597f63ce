//! Two sessions back to back through an in-memory pipe on virtual time:
//! the harness of the session tests, the figures example and the
//! benchmarks. The host of each unit answers every Apply as told
//! ([`Answer`]).
//!
//! ```
//! use tandem_config_sync::doc::{Document, ObjectKey};
//! use tandem_config_sync::frame::{Mode, Role};
//! use tandem_config_sync::session::{Authority, Config, State};
//! use tandem_config_sync::channel::Key;
//! use tandem_config_sync::sim::{Pair, Unit};
//! use tandem_config_sync::value::Value;
//!
//! let key = Key::from_bytes([7; 32]);
//! let doc = Document::new();
//! let auth = Authority { epoch: 1, generation: 1 };
//! let mut a = Unit::new(Config::new("a", "pair", key.clone(), Mode::ActiveStandby), doc.clone(), auth);
//! let mut b = Unit::new(Config::new("b", "pair", key, Mode::ActiveStandby), doc.clone(), auth);
//! let mut pair = Pair::new(a, b);
//! pair.a.s.set_role(pair.now, Role::Active);
//! pair.b.s.set_role(pair.now, Role::Backup);
//! pair.connect();
//!
//! let mut changed = doc.clone();
//! changed.set(ObjectKey::new("app.vs", "web"), "port", Value::Int(443)).unwrap();
//! pair.a.s.commit(pair.now, changed.clone()).unwrap();
//! pair.pump();
//! assert_eq!(pair.b.s.document(), &changed);
//! assert_eq!(pair.a.s.state(), State::InSync);
//! ```

use std::collections::VecDeque;
use std::time::Duration;

use tandem_time::Instant;

use crate::channel::Side;
use crate::doc::Document;
use crate::frame::RejectCode;
use crate::session::{Apply, Authority, Config, Event, Output, Refusal, Session};

/// What a host does with an Apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Applied: [`Session::applied`] with `Ok`.
    Accept,
    /// Refused with a LocalConflict on `app.vs.vs00001.port`.
    Refuse,
    /// Kept in [`Unit::held`]; the caller answers later.
    Hold,
}

/// A change the host applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The objects it changed.
    pub changed: Vec<crate::doc::ObjectKey>,
    /// The authority it made.
    pub authority: Authority,
}

/// One unit: its session and what its host saw.
#[derive(Debug)]
pub struct Unit {
    /// The session.
    pub s: Session,
    /// What the host does with the next Apply.
    pub answer: Answer,
    /// Changes applied, in order (the document is the session's).
    pub applied: Vec<Applied>,
    /// Changes held (with [`Answer::Hold`]).
    pub held: Vec<Apply>,
    /// Every event.
    pub events: Vec<Event>,
    /// Connections the session closed.
    pub closes: usize,
}

impl Unit {
    /// A unit with a new session.
    pub fn new(c: Config, doc: Document, auth: Authority) -> Unit {
        Unit {
            s: Session::new(c, doc, auth),
            answer: Answer::Accept,
            applied: Vec::new(),
            held: Vec::new(),
            events: Vec::new(),
            closes: 0,
        }
    }

    /// The partner's refusals heard.
    pub fn rejected(&self) -> Vec<&Refusal> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Rejected { refusal, .. } => Some(refusal),
                _ => None,
            })
            .collect()
    }

    /// The error events' texts.
    pub fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Error { text } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Two units and the pipe between them.
#[derive(Debug)]
pub struct Pair {
    /// The dialing unit.
    pub a: Unit,
    /// The listening unit.
    pub b: Unit,
    /// Virtual time.
    pub now: Instant,
    /// Whether the pipe carries bytes.
    pub connected: bool,
    /// Bytes in flight, a -> b and b -> a.
    ab: VecDeque<Vec<u8>>,
    ba: VecDeque<Vec<u8>>,
    /// Bytes carried a -> b so far.
    pub wire_ab: usize,
    /// Bytes carried b -> a so far.
    pub wire_ba: usize,
    /// Alter the next a -> b chunk (a byte flipped in the middle).
    pub corrupt_next_ab: bool,
}

impl Pair {
    /// Two units, not connected, at 1 s of virtual time.
    pub fn new(a: Unit, b: Unit) -> Pair {
        Pair {
            a,
            b,
            now: Instant::from_millis(1_000),
            connected: false,
            ab: VecDeque::new(),
            ba: VecDeque::new(),
            wire_ab: 0,
            wire_ba: 0,
            corrupt_next_ab: false,
        }
    }

    /// Opens the pipe: a dials, b accepts.
    pub fn connect(&mut self) {
        self.ab.clear();
        self.ba.clear();
        self.a.s.connect(self.now, Side::Initiator).unwrap();
        self.b.s.connect(self.now, Side::Responder).unwrap();
        self.connected = true;
        self.pump();
    }

    /// Cuts the pipe; both sessions hear it closed.
    pub fn cut(&mut self) {
        self.connected = false;
        self.ab.clear();
        self.ba.clear();
        self.a.s.closed(self.now);
        self.b.s.closed(self.now);
        self.pump();
    }

    /// Carries outputs until nothing moves.
    pub fn pump(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            let mut closed = [false, false];
            for side in [0, 1] {
                let (u, q) = if side == 0 {
                    (&mut self.a, &mut self.ab)
                } else {
                    (&mut self.b, &mut self.ba)
                };
                while let Some(o) = u.s.poll_output() {
                    moved = true;
                    match o {
                        Output::Transmit(b) => {
                            if self.connected {
                                q.push_back(b)
                            }
                        }
                        Output::Close { .. } => {
                            u.closes += 1;
                            closed[side] = true;
                        }
                        Output::Apply(ap) => match u.answer {
                            Answer::Accept => {
                                let Apply {
                                    id,
                                    changed,
                                    authority,
                                    ..
                                } = ap;
                                u.s.applied(self.now, id, Ok(()));
                                u.applied.push(Applied { changed, authority });
                            }
                            Answer::Refuse => {
                                let r = Refusal {
                                    code: RejectCode::LocalConflict,
                                    path: "app.vs.vs00001.port".into(),
                                    text: "port 80 is taken on this unit".into(),
                                };
                                u.s.applied(self.now, ap.id, Err(r));
                            }
                            Answer::Hold => u.held.push(ap),
                        },
                        Output::Event(e) => u.events.push(e),
                    }
                }
            }
            // A closed side closes the pipe for the other.
            if self.connected && (closed[0] || closed[1]) {
                self.connected = false;
                self.ab.clear();
                self.ba.clear();
                if closed[0] {
                    self.b.s.closed(self.now);
                }
                if closed[1] {
                    self.a.s.closed(self.now);
                }
                moved = true;
            }
            if let Some(mut bytes) = self.ab.pop_front() {
                if self.corrupt_next_ab {
                    self.corrupt_next_ab = false;
                    let mid = bytes.len() / 2;
                    bytes[mid] ^= 0x40;
                }
                self.wire_ab += bytes.len();
                self.b.s.receive(self.now, &bytes);
                moved = true;
            }
            if let Some(bytes) = self.ba.pop_front() {
                self.wire_ba += bytes.len();
                self.a.s.receive(self.now, &bytes);
                moved = true;
            }
            if !moved {
                return;
            }
        }
        // A pair that never settles is a bug the callers' checks show.
    }

    /// Advances virtual time in 100 ms steps, firing timers.
    pub fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now = self.now + Duration::from_millis(100);
            self.a.s.handle_timeout(self.now);
            self.b.s.handle_timeout(self.now);
            self.pump();
        }
    }

    /// Whether both units' roots are equal.
    pub fn roots_equal(&self) -> bool {
        self.a.s.status().local_root == self.b.s.status().local_root
    }
}
