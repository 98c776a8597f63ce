//! What the partner's frames do.

use super::walk::{Purpose, Walk};
use super::{Authority, Block, Event, Output, Refusal, Session, Timer, MAX_HELD};
use crate::channel::PROTO_MAJOR;
use crate::digest::Digest;
use crate::frame::{Frame, FrameLimits, Hello, Mode, RejectCode, Role};

/// Where this unit stands against the partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Direction {
    /// Its document is the newer one: the partner follows.
    Ahead,
    /// The partner's is: this unit follows.
    Behind,
    /// Neither can say (different epochs, or a tie without an Active).
    Undecided(String),
}

impl Session {
    /// Bytes from TCP through the channel to frames.
    pub(super) fn receive_bytes(&mut self, bytes: &[u8]) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let was_ready = conn.channel.is_ready();
        let result = conn.channel.receive(bytes);
        let out = conn.channel.take_output();
        let ready = conn.channel.is_ready();
        self.transmit(out);
        let frames = match result {
            Ok(frames) => frames,
            Err(e) => {
                self.error(format!("channel: {e}"));
                self.drop_conn("channel error");
                return;
            }
        };
        if ready && !was_ready {
            self.send_hello();
        }
        self.timers.set(Timer::Dead, self.now + self.cfg.dead_after);
        // A SNAP_BEGIN over `max_document` gets a REJECT saying so
        // (on_snap_begin, before anything is allocated), not a dropped
        // connection.
        let limits = FrameLimits {
            max_document: u64::MAX,
        };
        for plain in frames {
            let frame = match Frame::decode(&plain, &limits) {
                Ok(f) => f,
                Err(e) => {
                    self.error(format!("frame: {e}"));
                    self.drop_conn("bad frame");
                    return;
                }
            };
            self.on_frame(frame);
            if self.conn.is_none() {
                return;
            }
        }
    }

    fn send_hello(&mut self) {
        let hello = Hello {
            unit: self.cfg.unit.clone(),
            role: self.role,
            mode: self.cfg.mode,
            software: self.cfg.software.clone(),
            proto_major: PROTO_MAJOR,
            proto_minor_min: 0,
            proto_minor_max: 0,
            schema: self.cfg.schema_version,
            capabilities: 0,
            epoch: self.authority.epoch,
            generation: self.authority.generation,
            root: self.tree.root(),
            boot: self.cfg.boot,
        };
        self.send(&Frame::Hello(hello));
        if let Some(conn) = self.conn.as_mut() {
            conn.hello_sent = true;
        }
    }

    /// One frame from the partner.
    pub(super) fn on_frame(&mut self, frame: Frame) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let hello = matches!(frame, Frame::Hello(_));
        if conn.peer.is_none() && !hello {
            let name = frame.name();
            self.error(format!("{name} before HELLO"));
            self.drop_conn("frame before HELLO");
            return;
        }
        // Changes wait while one is being applied; answers need not.
        let holds = matches!(
            frame,
            Frame::Delta { .. }
                | Frame::SnapBegin { .. }
                | Frame::SnapChunk { .. }
                | Frame::SnapEnd { .. }
                | Frame::Objects { .. }
                | Frame::Digests { .. }
                | Frame::Nack { .. }
        );
        if holds && self.pending.is_some() {
            if conn.held.len() >= MAX_HELD {
                self.error(format!(
                    "more than {MAX_HELD} frames arrived while a change was applied"
                ));
                self.drop_conn("receiver busy");
            } else {
                conn.held.push_back(frame);
            }
            return;
        }
        match frame {
            Frame::Hello(h) => self.on_hello(h),
            Frame::Ping {
                epoch,
                generation,
                root,
            } => self.on_ping(Authority { epoch, generation }, root),
            Frame::DigestReq { section, after } => self.answer_digests(&section, &after),
            Frame::Digests {
                section,
                entries,
                more,
            } => self.on_digests(section, entries, more),
            Frame::Fetch { keys } => self.answer_fetch(&keys),
            Frame::Objects { entries, last } => self.on_objects(entries, last),
            Frame::Delta {
                epoch,
                base_generation,
                base_root,
                generation,
                root,
                ops,
            } => self.on_delta(
                Authority {
                    epoch,
                    generation: base_generation,
                },
                base_root,
                Authority { epoch, generation },
                root,
                ops,
            ),
            Frame::SnapBegin {
                epoch,
                generation,
                len,
                root,
            } => self.on_snap_begin(Authority { epoch, generation }, len, root),
            Frame::SnapChunk { offset, data } => self.on_snap_chunk(offset, data),
            Frame::SnapEnd { sha256 } => self.on_snap_end(sha256),
            Frame::Ack {
                epoch,
                generation,
                root,
            } => self.on_ack(Authority { epoch, generation }, root),
            Frame::Nack {
                epoch,
                generation,
                root,
            } => self.on_nack(Authority { epoch, generation }, root),
            Frame::Reject {
                generation,
                code,
                path,
                text,
            } => self.on_reject(generation, Refusal { code, path, text }),
            Frame::Adopt {
                epoch,
                generation,
                root,
            } => self.note_peer(Authority { epoch, generation }, root),
            Frame::Bye { reason } => {
                let reason: String = reason.chars().take(200).collect();
                self.error(format!("partner closed: {reason}"));
                self.conn = None;
                self.out.push_back(Output::Close {
                    reason: format!("partner closed: {reason}"),
                });
                // Its timers go with it (`closed` would see no connection).
                self.after_close();
            }
        }
    }

    fn on_hello(&mut self, h: Hello) {
        if self.peer().is_some() {
            self.error("a second HELLO".into());
            self.drop_conn("second HELLO");
            return;
        }
        self.timers.cancel(Timer::Handshake);
        self.timers
            .set(Timer::Keepalive, self.now + self.cfg.keepalive);
        self.status.peer_unit = Some(h.unit.clone());
        self.status.peer_software = Some(h.software.clone());
        self.out.push_back(Output::Event(Event::Peer {
            unit: h.unit.clone(),
            software: h.software.clone(),
        }));
        let reason = if h.proto_major != PROTO_MAJOR {
            Some(format!(
                "the partner speaks tandem-sync {}, this unit speaks {PROTO_MAJOR}",
                h.proto_major
            ))
        } else if h.mode != self.cfg.mode {
            Some(format!(
                "the partner runs in {} mode, this unit in {}: set the same [sync] mode on both",
                mode_name(h.mode),
                mode_name(self.cfg.mode)
            ))
        } else if h.unit == self.cfg.unit {
            Some(format!(
                "both units have the unit id {:?}: give each its own [sync] unit",
                h.unit
            ))
        } else {
            None
        };
        let auth = Authority {
            epoch: h.epoch,
            generation: h.generation,
        };
        let root = h.root;
        if let Some(conn) = self.conn.as_mut() {
            conn.peer = Some(h);
        }
        self.note_peer(auth, root);
        if let Some(reason) = reason {
            self.error(reason.clone());
            self.block = Some(Block::Peer(reason));
            return;
        }
        self.reconcile();
    }

    /// Whether this unit runs a newer schema than the partner (it must
    /// not push), with the sentence to say so.
    pub(super) fn newer_than_peer(&self) -> Option<String> {
        let peer = self.peer()?;
        (peer.schema < self.cfg.schema_version).then(|| {
            format!(
                "the partner runs tandemd {} (schema {}), this unit runs tandemd {} (schema {}): \
                 upgrade the partner; a newer unit never pushes to an older one",
                peer.software, peer.schema, self.cfg.software, self.cfg.schema_version
            )
        })
    }

    /// Takes the partner's authority over an equal document (no bytes of
    /// configuration move) and tells it so with ADOPT.
    pub(super) fn adopt(&mut self, auth: Authority) {
        self.authority = auth;
        self.status.local = auth;
        self.send(&Frame::Adopt {
            epoch: auth.epoch,
            generation: auth.generation,
            root: self.tree.root(),
        });
    }

    /// Records the partner's authority and root.
    pub(super) fn note_peer(&mut self, auth: Authority, root: Digest) {
        self.status.peer = Some(auth);
        self.status.peer_root = Some(root);
        if root == self.tree.root() {
            self.status.last_success = Some(self.now);
            self.diff.clear();
            if let Some(g) = self.awaiting {
                if auth.epoch == self.authority.epoch && auth.generation >= g {
                    self.awaiting = None;
                    self.forcing = false;
                    self.timers.cancel(Timer::AckWait);
                }
            }
        }
    }

    fn on_ping(&mut self, auth: Authority, root: Digest) {
        self.note_peer(auth, root);
        let busy = self.pending.is_some()
            || self.awaiting.is_some()
            || self
                .conn
                .as_ref()
                .is_some_and(|c| c.walk.is_some() || c.snap_in.is_some());
        let equal = root == self.tree.root();
        if equal {
            // Same content: take the newer authority, no bytes moved.
            if auth.epoch == self.authority.epoch && auth.generation > self.authority.generation
                || auth.epoch != self.authority.epoch && self.authority.epoch == 0
            {
                self.adopt(auth);
            }
        }
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        if equal || busy {
            if equal {
                conn.mismatch_seen = false;
            }
            return;
        }
        if conn.mismatch_seen {
            conn.mismatch_seen = false;
            self.reconcile();
        } else {
            conn.mismatch_seen = true;
        }
    }

    /// Where this unit stands against a partner at `peer`.
    pub(super) fn direction(&self, peer: Authority) -> Direction {
        let ours = self.authority;
        if self.forcing {
            return Direction::Ahead;
        }
        if ours.epoch == peer.epoch {
            return match ours.generation.cmp(&peer.generation) {
                std::cmp::Ordering::Greater => Direction::Ahead,
                std::cmp::Ordering::Less => Direction::Behind,
                std::cmp::Ordering::Equal => match self.role {
                    Role::Active => Direction::Ahead,
                    Role::Backup => Direction::Behind,
                    Role::Unknown => Direction::Undecided(
                        "both documents are at the same generation and this unit's role is not \
                         known yet"
                            .into(),
                    ),
                },
            };
        }
        if peer.epoch == 0 {
            return Direction::Ahead;
        }
        if ours.epoch == 0 {
            return Direction::Behind;
        }
        Direction::Undecided(format!(
            "the two configurations have different histories (epochs {:016x} and {:016x}): run \
             `tandemd sync force` on the unit whose configuration should win",
            ours.epoch, peer.epoch
        ))
    }

    /// Roots differ (or may): decide who follows and start what it takes.
    pub(super) fn reconcile(&mut self) {
        if self.pending.is_some() {
            return;
        }
        let (Some(peer), Some(root)) = (self.status.peer, self.status.peer_root) else {
            return;
        };
        if root == self.tree.root() && !self.forcing {
            self.note_peer(peer, root);
            return;
        }
        if self.cfg.mode == Mode::Bidirectional {
            self.start_walk(Purpose::Merge);
            return;
        }
        match self.direction(peer) {
            Direction::Ahead => self.lead(peer, root, false),
            Direction::Behind => {
                // The partner pushes (replay, digests or snapshot); ask
                // only if nothing comes.
                self.timers.set(Timer::Stall, self.now + self.cfg.keepalive);
            }
            Direction::Undecided(reason) => {
                self.status.last_error = Some(reason);
                self.start_walk(Purpose::Locate);
            }
        }
    }

    fn on_nack(&mut self, peer: Authority, root: Digest) {
        self.note_peer(peer, root);
        if self.direction(peer) != Direction::Ahead {
            self.reconcile();
            return;
        }
        if peer == self.authority && root == self.tree.root() {
            return;
        }
        // An all-zero root asks for the whole document.
        self.lead(peer, root, root == [0; 32]);
    }

    /// This unit's document is the newer: bring the partner (at `peer`,
    /// `root`) to it: a snapshot across epochs, when forced or asked for;
    /// else a replay from the ring; else the first page of this unit's
    /// digests, which starts the partner's walk (a round trip saved).
    fn lead(&mut self, peer: Authority, root: Digest, asks_snapshot: bool) {
        if let Some(reason) = self.newer_than_peer() {
            self.block = Some(Block::Peer(reason));
            return;
        }
        if asks_snapshot || self.forcing || peer.epoch != self.authority.epoch {
            if self.authority.epoch == 0 {
                self.authority.epoch = self.new_epoch();
                self.status.local = self.authority;
            }
            self.push_snapshot();
        } else if !self.replay_from(peer, root) {
            self.answer_digests("", "");
        }
    }

    /// A change pushed by a partner with a newer schema (which must not
    /// push to an older unit): refused with code Version.
    pub(super) fn refuse_newer(&mut self, generation: u64) -> bool {
        let Some(peer) = self.peer() else {
            return false;
        };
        if peer.schema <= self.cfg.schema_version {
            return false;
        }
        let text = format!(
            "this unit runs schema {}, the partner schema {}: a newer unit never pushes to an older one; upgrade this unit",
            self.cfg.schema_version, peer.schema
        );
        self.send_reject(
            generation,
            Refusal {
                code: RejectCode::Version,
                path: String::new(),
                text,
            },
        );
        true
    }

    fn on_delta(
        &mut self,
        base: Authority,
        base_root: Digest,
        to: Authority,
        root: Digest,
        ops: Vec<crate::doc::Op>,
    ) {
        if self.refuse_newer(to.generation) {
            return;
        }
        if base == self.authority && base_root == self.tree.root() {
            let undo = match self.stage_ops(&ops) {
                Ok(undo) => undo,
                Err(e) => {
                    self.send_reject(
                        to.generation,
                        Refusal {
                            code: RejectCode::Invalid,
                            path: String::new(),
                            text: e.to_string(),
                        },
                    );
                    return;
                }
            };
            if self.tree.root() != root {
                self.unstage(undo);
                self.error(format!(
                    "generation {} does not make the root it names: asking for a repair",
                    to.generation
                ));
                self.send_nack();
                return;
            }
            self.begin_apply(undo, to, Vec::new(), Vec::new());
        } else if to.epoch == self.authority.epoch && to.generation <= self.authority.generation {
            // Already past it (a replay overlapping what was applied).
        } else {
            self.send_nack();
        }
    }

    fn on_ack(&mut self, peer: Authority, root: Digest) {
        self.note_peer(peer, root);
        if root == self.tree.root() {
            self.out.push_back(Output::Event(Event::Acked {
                generation: peer.generation,
            }));
            self.block = match self.block.take() {
                Some(Block::Rejected(_)) => None,
                other => other,
            };
        }
    }

    fn on_reject(&mut self, generation: u64, refusal: Refusal) {
        self.status.rejected += 1;
        let text: String = refusal.text.chars().take(500).collect();
        let path: String = refusal.path.chars().take(200).collect();
        let refusal = Refusal {
            code: refusal.code,
            path,
            text,
        };
        let at = if refusal.path.is_empty() {
            String::new()
        } else {
            format!("{}: ", refusal.path)
        };
        let reason = format!(
            "the partner refused generation {generation}: {at}{}",
            refusal.text
        );
        self.status.last_error = Some(reason.clone());
        self.block = Some(Block::Rejected(reason));
        if self.awaiting == Some(generation) {
            self.awaiting = None;
            self.timers.cancel(Timer::AckWait);
        }
        self.out.push_back(Output::Event(Event::Rejected {
            generation,
            refusal,
        }));
    }

    /// Starts a digest walk (replacing one under way).
    pub(super) fn start_walk(&mut self, purpose: Purpose) {
        let attempt = self
            .conn
            .as_ref()
            .and_then(|c| c.walk.as_ref())
            .map_or(0, |w| w.attempt);
        let target = (
            self.status.peer.unwrap_or_default(),
            self.status.peer_root.unwrap_or_default(),
        );
        if let Some(conn) = self.conn.as_mut() {
            conn.walk = Some(Walk::new(purpose, target, attempt));
        }
        self.send(&Frame::DigestReq {
            section: String::new(),
            after: String::new(),
        });
        self.timers
            .set(Timer::Stall, self.now + self.cfg.dead_after);
    }
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::ActiveStandby => "active-standby",
        Mode::Bidirectional => "bidirectional",
    }
}
