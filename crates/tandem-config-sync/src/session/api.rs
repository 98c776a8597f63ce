//! The session's public methods.

use std::collections::BTreeMap;
use std::sync::Arc;

use tandem_time::Instant;

use super::{
    Authority, Block, CommitError, Config, Conn, DiffEntry, Event, Output, Refusal, RingEntry,
    Session, State, Status, Timer,
};
use crate::channel::{Channel, ChannelError, Side};
use crate::digest::Digest;
use crate::digest::DigestTree;
use crate::doc::{Document, Object, ObjectKey, Op};
use crate::frame::{Frame, Mode, Role};
use crate::merge::{bump, Clock, Version};

impl Session {
    /// A session over this unit's shared-form `document` at `authority`.
    pub fn new(config: Config, document: Document, authority: Authority) -> Self {
        let tree = DigestTree::new(config.schema_version, &document);
        let status = Status {
            local: authority,
            local_root: tree.root(),
            ..Status::default()
        };
        Session {
            cfg: config,
            doc: Arc::new(document),
            tree,
            authority,
            role: Role::Unknown,
            conn: None,
            out: Default::default(),
            timers: Default::default(),
            ring: Default::default(),
            ring_bytes: 0,
            pending: None,
            next_apply: 1,
            awaiting: None,
            status,
            last_state: State::Disconnected,
            block: None,
            forcing: false,
            versions: BTreeMap::new(),
            clock: Clock::default(),
            diff: Vec::new(),
            conflicts: Vec::new(),
            now: Instant::ZERO,
        }
    }

    /// A TCP connection is open. It replaces any other, which the host has
    /// closed already (no [`Output::Close`] comes for it).
    pub fn connect(&mut self, now: Instant, side: Side) -> Result<(), ChannelError> {
        self.now = now;
        if self.conn.take().is_some() {
            self.after_close();
        }
        let mut channel = Channel::new(side, &self.cfg.key, &self.cfg.cluster)?;
        let first = channel.take_output();
        self.conn = Some(Conn {
            channel,
            hello_sent: false,
            peer: None,
            walk: None,
            snap_in: None,
            held: Default::default(),
            mismatch_seen: false,
        });
        if !first.is_empty() {
            self.transmit(first);
        }
        self.timers
            .set(Timer::Handshake, now + self.cfg.handshake_timeout);
        self.timers.set(Timer::Dead, now + self.cfg.dead_after);
        self.settle();
        Ok(())
    }

    /// Bytes read from TCP.
    pub fn receive(&mut self, now: Instant, bytes: &[u8]) {
        self.now = now;
        self.status.bytes_received += bytes.len() as u64;
        self.receive_bytes(bytes);
        self.settle();
    }

    /// TCP closed.
    pub fn closed(&mut self, now: Instant) {
        self.now = now;
        if self.conn.is_some() {
            self.conn = None;
            self.after_close();
        }
        self.settle();
    }

    /// This unit's role changed (the election's view).
    pub fn set_role(&mut self, now: Instant, role: Role) {
        self.now = now;
        if self.role == role {
            return;
        }
        self.role = role;
        // A first pairing waits for an Active; roles also break ties.
        if self.peer().is_some() {
            self.reconcile();
        }
        self.settle();
    }

    /// A local edit of the shared form, already validated and persisted by
    /// the host: the new document. Returns the authority it makes.
    /// Active/standby mode refuses it on the Backup
    /// ([`CommitError::NotActive`]): use [`Session::set_document`] for a
    /// change the partner's document will replace.
    pub fn commit(&mut self, now: Instant, document: Document) -> Result<Authority, CommitError> {
        self.commit_as(now, document, self.role)
    }

    /// [`Session::commit`] of an edit made while this unit had the role
    /// `role` (a change that restarts a virtual router on the Active is
    /// committed as the Active's, although the router is not Active again
    /// yet when the change is ready).
    pub fn commit_as(
        &mut self,
        now: Instant,
        document: Document,
        role: Role,
    ) -> Result<Authority, CommitError> {
        self.may_commit(now, role)?;
        let ops = self.doc.diff(&document);
        if ops.is_empty() {
            return Ok(self.authority);
        }
        let base = self.authority;
        let base_root = self.tree.root();
        self.doc = Arc::new(document);
        Ok(self.committed(now, ops, base, base_root))
    }

    /// [`Session::commit`] of the document with these objects replaced
    /// (`None`: removed), made in place: a local edit of a few objects of
    /// a large document costs those objects. `role` is the unit's role
    /// when the edit was made, as for [`Session::commit_as`].
    pub fn commit_objects(
        &mut self,
        now: Instant,
        objects: Vec<(ObjectKey, Option<Object>)>,
        role: Role,
    ) -> Result<Authority, CommitError> {
        self.may_commit(now, role)?;
        let (mut before, mut after) = (Document::new(), Document::new());
        for (key, object) in &objects {
            before.put_object(key.clone(), self.doc.object(key).cloned());
            after.put_object(key.clone(), object.clone());
        }
        let ops = before.diff(&after);
        if ops.is_empty() {
            return Ok(self.authority);
        }
        let base = self.authority;
        let base_root = self.tree.root();
        let doc = Arc::make_mut(&mut self.doc);
        for (key, object) in objects {
            doc.put_object(key, object);
        }
        Ok(self.committed(now, ops, base, base_root))
    }

    /// Whether a local edit made in `role` may be committed now.
    fn may_commit(&mut self, now: Instant, role: Role) -> Result<(), CommitError> {
        self.now = now;
        if self.pending.is_some() {
            return Err(CommitError::Busy);
        }
        if self.cfg.mode == Mode::ActiveStandby && role == Role::Backup {
            return Err(CommitError::NotActive);
        }
        Ok(())
    }

    /// A commit's document is in place (`ops` made it from the one at
    /// `base`, of root `base_root`): the digests, the authority, and the
    /// change on its way to the partner.
    fn committed(
        &mut self,
        now: Instant,
        ops: Vec<Op>,
        base: Authority,
        base_root: Digest,
    ) -> Authority {
        let changed = Document::changed_keys(&ops);
        self.tree.update(&self.doc, changed.iter());
        if self.authority.epoch == 0 {
            self.authority.epoch = self.new_epoch();
        }
        self.authority.generation += 1;
        self.block = match self.block.take() {
            Some(Block::Rejected(_)) => None,
            other => other,
        };
        let root = self.tree.root();
        self.status.local = self.authority;
        self.status.local_root = root;
        if self.cfg.mode == Mode::Bidirectional {
            let stamp = self.clock.tick(self.wall_ms(now));
            for key in &changed {
                let v = self.versions.entry(key.clone()).or_default();
                bump(v, &self.cfg.unit, stamp);
            }
            self.push_objects(changed.iter().cloned().collect());
        } else {
            let entry = RingEntry {
                epoch: self.authority.epoch,
                base_generation: if base.epoch == self.authority.epoch {
                    base.generation
                } else {
                    0
                },
                base_root,
                generation: self.authority.generation,
                root,
                ops,
                bytes: 0,
            };
            self.remember(entry);
            self.awaiting = Some(self.authority.generation);
            self.timers.set(Timer::AckWait, now + self.cfg.dead_after);
            // Changes made before the epoch began cannot replay on a
            // partner at epoch 0: they get the whole document.
            if base.epoch != self.authority.epoch {
                self.push_snapshot();
            } else {
                self.push_delta();
            }
        }
        self.settle();
        self.authority
    }

    /// A change of the local document that is not a commit (a Backup's
    /// reload in active/standby mode): the partner's document replaces it
    /// at the next repair.
    pub fn set_document(&mut self, now: Instant, document: Document) {
        self.now = now;
        let ops = self.doc.diff(&document);
        let changed = Document::changed_keys(&ops);
        self.doc = Arc::new(document);
        self.tree.update(&self.doc, changed.iter());
        self.status.local_root = self.tree.root();
        self.settle();
    }

    /// The host's answer to [`Output::Apply`].
    pub fn applied(&mut self, now: Instant, id: u64, result: Result<(), Refusal>) {
        self.now = now;
        self.finish_apply(id, result);
        self.settle();
    }

    /// `sync force`: this unit's document wins: a new epoch, and a
    /// snapshot to the partner (now, or when it next connects). Returns the
    /// partner's objects it overwrites, as far as the last digest walk
    /// knows them.
    pub fn force(&mut self, now: Instant) -> Vec<DiffEntry> {
        self.now = now;
        let mut epoch = self.new_epoch();
        if epoch == self.authority.epoch {
            epoch = epoch.rotate_left(17) | 1;
        }
        self.authority = Authority {
            epoch,
            generation: self.authority.generation + 1,
        };
        self.status.local = self.authority;
        self.ring.clear();
        self.ring_bytes = 0;
        self.forcing = true;
        self.block = None;
        self.awaiting = Some(self.authority.generation);
        self.timers.set(Timer::AckWait, now + self.cfg.dead_after);
        let overwritten = std::mem::take(&mut self.diff);
        if self.peer().is_some() {
            self.push_snapshot();
        }
        self.settle();
        overwritten
    }

    /// The state.
    pub fn state(&self) -> State {
        if let Some(Block::Peer(r) | Block::Rejected(r)) = &self.block {
            return State::Blocked { reason: r.clone() };
        }
        let Some(peer) = self.peer() else {
            return State::Disconnected;
        };
        let conn_busy = self
            .conn
            .as_ref()
            .is_some_and(|c| c.snap_in.is_some() || c.walk.as_ref().is_some_and(|w| w.repairs()));
        if self.pending.is_some() || conn_busy {
            return State::Syncing;
        }
        if let Some(generation) = self.awaiting {
            return State::Pending { generation };
        }
        let peer_root = self.status.peer_root.unwrap_or(peer.root);
        if peer_root == self.tree.root() {
            if !self.conflicts.is_empty() {
                return State::Conflict {
                    objects: self.conflicts.clone(),
                };
            }
            return State::InSync;
        }
        let mut sections: Vec<String> = self.diff.iter().map(|d| d.key.section.clone()).collect();
        sections.dedup();
        if sections.is_empty() {
            State::Syncing
        } else {
            State::Diverged { sections }
        }
    }

    /// Counters and last values.
    pub fn status(&self) -> Status {
        self.status.clone()
    }

    /// The differing objects the last digest walk found.
    pub fn diff(&self) -> Vec<DiffEntry> {
        self.diff.clone()
    }

    /// This unit's shared-form document.
    pub fn document(&self) -> &Document {
        &self.doc
    }

    /// Its authority.
    pub fn authority(&self) -> Authority {
        self.authority
    }

    /// The root digest of the document as it is now, a change staged for
    /// [`Output::Apply`] included (so the host can record the root it is
    /// applying without digesting the whole document again).
    pub fn root(&self) -> crate::digest::Digest {
        self.tree.root()
    }

    /// Bidirectional mode: every object's version, including those of a
    /// change being applied (what the host persists with it, so that a
    /// restart does not make this unit's edits look older than they are).
    pub fn versions(&self) -> BTreeMap<ObjectKey, Version> {
        let mut v = self.versions.clone();
        if let Some(p) = &self.pending {
            for (key, version) in &p.versions {
                v.insert(key.clone(), version.clone());
            }
        }
        v
    }

    /// Bidirectional mode: the versions persisted before a restart (call
    /// once, before connecting). The clock moves past every stamp in them.
    pub fn restore_versions(&mut self, versions: BTreeMap<ObjectKey, Version>) {
        for v in versions.values() {
            self.clock.observe(v.stamp);
        }
        self.versions = versions;
    }

    /// Whether the election may preempt into this unit: the partner is
    /// connected and the roots match.
    pub fn ready(&self) -> bool {
        matches!(self.state(), State::InSync | State::Conflict { .. })
    }

    /// Forgets the conflicts reported so far (`sync status --clear`).
    pub fn clear_conflicts(&mut self) {
        self.conflicts.clear();
        self.settle();
    }

    /// When to call [`Session::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.poll_timeout()
    }

    /// Timers due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        let due: Vec<Timer> = self.timers.expired(now).collect();
        for t in due {
            self.on_timer(t);
        }
        self.settle();
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Emits a state event when the state changed.
    pub(super) fn settle(&mut self) {
        let state = self.state();
        if state != self.last_state {
            self.last_state = state.clone();
            self.out.push_back(Output::Event(Event::State(state)));
        }
    }

    /// Milliseconds of wall time at `now`.
    pub(super) fn wall_ms(&self, now: Instant) -> u64 {
        self.cfg
            .unix_ms_at_zero
            .saturating_add(now.since_origin().as_millis() as u64)
    }

    /// A new epoch: never 0, from the boot id, the unit id and the time.
    pub(super) fn new_epoch(&self) -> u64 {
        let mut x = self.cfg.boot ^ self.wall_ms(self.now).rotate_left(32);
        for b in self.cfg.unit.bytes() {
            x = (x ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        // splitmix64's finaliser.
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
        x.max(1)
    }

    /// The partner's HELLO on the open connection.
    pub(super) fn peer(&self) -> Option<&crate::frame::Hello> {
        self.conn.as_ref()?.peer.as_ref()
    }

    /// Closes the connection with a reason (sent as BYE when possible).
    pub(super) fn drop_conn(&mut self, reason: &str) {
        if let Some(conn) = self.conn.as_mut() {
            if conn.channel.is_ready() {
                let bye = Frame::Bye {
                    reason: reason.chars().take(200).collect(),
                };
                let mut bytes = Vec::new();
                bye.encode(&mut bytes);
                if conn.channel.send(&bytes).is_ok() {
                    let out = conn.channel.take_output();
                    self.transmit(out);
                }
            }
        }
        self.conn = None;
        self.out.push_back(Output::Close {
            reason: reason.to_string(),
        });
        self.after_close();
    }

    /// What goes with the connection.
    pub(super) fn after_close(&mut self) {
        for t in [
            Timer::Handshake,
            Timer::Keepalive,
            Timer::Dead,
            Timer::Stall,
        ] {
            self.timers.cancel(t);
        }
        self.status.peer_root = None;
        if matches!(self.block, Some(Block::Peer(_))) {
            self.block = None;
        }
    }

    /// Bytes for TCP.
    pub(super) fn transmit(&mut self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        self.status.bytes_sent += bytes.len() as u64;
        self.out.push_back(Output::Transmit(bytes));
    }

    /// An error for the operator, kept as the last one.
    pub(super) fn error(&mut self, text: String) {
        self.status.last_error = Some(text.clone());
        self.out.push_back(Output::Event(Event::Error { text }));
    }

    fn on_timer(&mut self, t: Timer) {
        match t {
            Timer::Handshake => {
                if self.peer().is_none() && self.conn.is_some() {
                    let secs = self.cfg.handshake_timeout.as_secs_f64();
                    self.error(format!("no handshake and HELLO within {secs} s"));
                    self.drop_conn("handshake timeout");
                }
            }
            Timer::Dead => {
                if self.conn.is_some() {
                    let secs = self.cfg.dead_after.as_secs_f64();
                    self.error(format!("nothing heard from the partner for {secs} s"));
                    self.drop_conn("partner silent");
                }
            }
            Timer::Keepalive => {
                if self.peer().is_some() {
                    self.send(&Frame::Ping {
                        epoch: self.authority.epoch,
                        generation: self.authority.generation,
                        root: self.tree.root(),
                    });
                    self.timers
                        .set(Timer::Keepalive, self.now + self.cfg.keepalive);
                }
            }
            Timer::Stall => {
                // A walk or a push that did not come: say where we are,
                // the partner answers as to a NACK.
                if let Some(conn) = self.conn.as_mut() {
                    conn.walk = None;
                    conn.snap_in = None;
                }
                if self.peer().is_some() && self.pending.is_none() {
                    if self.status.peer_root == Some(self.tree.root()) {
                        return;
                    }
                    if let Some(peer) = self.status.peer {
                        if self.direction(peer) == super::recv::Direction::Behind {
                            self.send_nack();
                            self.timers
                                .set(Timer::Stall, self.now + self.cfg.dead_after);
                            return;
                        }
                    }
                    self.reconcile();
                }
            }
            Timer::AckWait => {
                // The delta or its ACK was lost: say where we are; the
                // partner NACKs or ACKs.
                if self.awaiting.is_some() && self.peer().is_some() {
                    self.send(&Frame::Ping {
                        epoch: self.authority.epoch,
                        generation: self.authority.generation,
                        root: self.tree.root(),
                    });
                    self.timers
                        .set(Timer::AckWait, self.now + self.cfg.dead_after);
                }
            }
        }
    }
}
