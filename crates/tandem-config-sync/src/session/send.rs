//! What this unit sends: frames split to fit, deltas and their ring,
//! snapshots, and the answers to DIGEST_REQ and FETCH.

use super::{Refusal, RingEntry, Session};
use crate::digest::Digest;
use crate::doc::ObjectKey;
use crate::frame::{digest_entry_len, entry_len, Frame, ObjectEntry, MAX_CHUNK, MAX_FRAME};
use crate::merge::Version;

/// Room kept in a frame for its header and list counts when a list is
/// filled up to [`MAX_FRAME`].
const SLACK: usize = 64;

impl Session {
    /// Encrypts and queues one frame. A frame over [`MAX_FRAME`] is not
    /// sent (the callers split lists; a single object that large is an
    /// error for the operator).
    pub(super) fn send(&mut self, frame: &Frame) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        if !conn.channel.is_ready() {
            return false;
        }
        let mut bytes = Vec::new();
        frame.encode(&mut bytes);
        if bytes.len() > MAX_FRAME {
            let name = frame.name();
            let len = bytes.len();
            self.error(format!(
                "{name} of {len} bytes does not fit a frame ({MAX_FRAME})"
            ));
            return false;
        }
        if matches!(
            frame,
            Frame::Delta { .. }
                | Frame::SnapBegin { .. }
                | Frame::SnapChunk { .. }
                | Frame::SnapEnd { .. }
                | Frame::Objects { .. }
        ) {
            self.status.config_bytes_sent += bytes.len() as u64;
        }
        if let Err(e) = conn.channel.send(&bytes) {
            self.error(format!("channel: {e}"));
            self.drop_conn("channel error");
            return false;
        }
        let out = conn.channel.take_output();
        self.transmit(out);
        true
    }

    pub(super) fn send_ack(&mut self) {
        self.send(&Frame::Ack {
            epoch: self.authority.epoch,
            generation: self.authority.generation,
            root: self.tree.root(),
        });
    }

    pub(super) fn send_nack(&mut self) {
        self.send(&Frame::Nack {
            epoch: self.authority.epoch,
            generation: self.authority.generation,
            root: self.tree.root(),
        });
    }

    pub(super) fn send_reject(&mut self, generation: u64, r: Refusal) {
        self.send(&Frame::Reject {
            generation,
            code: r.code,
            path: r.path,
            text: r.text,
        });
    }

    /// Keeps a delta for replay, within the ring's bounds.
    pub(super) fn remember(&mut self, mut entry: RingEntry) {
        let mut bytes = Vec::new();
        self.delta_frame(&entry).encode(&mut bytes);
        entry.bytes = bytes.len();
        self.ring_bytes += entry.bytes;
        self.ring.push_back(entry);
        while self.ring.len() > self.cfg.ring_deltas || self.ring_bytes > self.cfg.ring_bytes {
            match self.ring.pop_front() {
                Some(old) => self.ring_bytes -= old.bytes,
                None => break,
            }
        }
    }

    fn delta_frame(&self, e: &RingEntry) -> Frame {
        Frame::Delta {
            epoch: e.epoch,
            base_generation: e.base_generation,
            base_root: e.base_root,
            generation: e.generation,
            root: e.root,
            ops: e.ops.clone(),
        }
    }

    /// Sends the newest delta, if the partner is on its base; a delta too
    /// large for a frame goes as a snapshot.
    pub(super) fn push_delta(&mut self) {
        if self.peer().is_none() {
            return;
        }
        if let Some(reason) = self.newer_than_peer() {
            self.block = Some(super::Block::Peer(reason));
            return;
        }
        let Some(last) = self.ring.back().cloned() else {
            return;
        };
        let frame = self.delta_frame(&last);
        let mut bytes = Vec::new();
        frame.encode(&mut bytes);
        if bytes.len() > MAX_FRAME {
            self.push_snapshot();
        } else {
            self.send(&frame);
        }
    }

    /// Replays the ring from the partner's (authority, root); false when
    /// the ring does not reach back that far.
    pub(super) fn replay_from(&mut self, peer: super::Authority, root: Digest) -> bool {
        let Some(start) = self.ring.iter().position(|e| {
            e.epoch == peer.epoch && e.base_generation == peer.generation && e.base_root == root
        }) else {
            return false;
        };
        let frames: Vec<Frame> = self
            .ring
            .iter()
            .skip(start)
            .map(|e| self.delta_frame(e))
            .collect();
        for f in &frames {
            let mut bytes = Vec::new();
            f.encode(&mut bytes);
            if bytes.len() > MAX_FRAME {
                self.push_snapshot();
                return true;
            }
        }
        for f in &frames {
            self.send(f);
        }
        true
    }

    /// Streams the whole document: SNAP_BEGIN, SNAP_CHUNKs, SNAP_END.
    pub(super) fn push_snapshot(&mut self) {
        if self.peer().is_none() {
            return;
        }
        if let Some(reason) = self.newer_than_peer() {
            self.block = Some(super::Block::Peer(reason));
            return;
        }
        let mut bytes = Vec::new();
        self.doc.encode(&mut bytes);
        use sha2::Digest as _;
        let sha256: Digest = sha2::Sha256::digest(&bytes).into();
        self.send(&Frame::SnapBegin {
            epoch: self.authority.epoch,
            generation: self.authority.generation,
            len: bytes.len() as u64,
            root: self.tree.root(),
        });
        for (i, chunk) in bytes.chunks(MAX_CHUNK).enumerate() {
            self.send(&Frame::SnapChunk {
                offset: (i * MAX_CHUNK) as u64,
                data: chunk.to_vec(),
            });
        }
        self.send(&Frame::SnapEnd { sha256 });
        if self.awaiting.is_none() {
            self.awaiting = Some(self.authority.generation);
        }
    }

    /// Bidirectional: pushes these objects with their versions.
    pub(super) fn push_objects(&mut self, keys: Vec<ObjectKey>) {
        if self.peer().is_none() {
            return;
        }
        let entries: Vec<ObjectEntry> = keys.into_iter().map(|key| self.entry(key)).collect();
        self.send_objects(entries);
    }

    fn entry(&self, key: ObjectKey) -> ObjectEntry {
        ObjectEntry {
            object: self.doc.object(&key).cloned(),
            version: self
                .versions
                .get(&key)
                .cloned()
                .unwrap_or_else(Version::default),
            key,
        }
    }

    /// OBJECTS frames holding `entries`, each under the frame limit, the
    /// last one flagged.
    fn send_objects(&mut self, entries: Vec<ObjectEntry>) {
        let mut batch: Vec<ObjectEntry> = Vec::new();
        let mut size = SLACK;
        let mut frames = Vec::new();
        for e in entries {
            let one = entry_len(&e);
            if !batch.is_empty() && size + one > MAX_FRAME {
                frames.push(std::mem::take(&mut batch));
                size = SLACK;
            }
            size += one;
            batch.push(e);
        }
        frames.push(batch);
        let n = frames.len();
        for (i, entries) in frames.into_iter().enumerate() {
            self.send(&Frame::Objects {
                entries,
                last: i + 1 == n,
            });
        }
    }

    /// Answers DIGEST_REQ: the sections (`section` empty) or one section's
    /// objects after `after`, as many as fit one frame.
    pub(super) fn answer_digests(&mut self, section: &str, after: &str) {
        let mut entries: Vec<(String, Digest)> = Vec::new();
        let mut size = SLACK + section.len();
        let mut more = false;
        if section.is_empty() {
            for (name, d) in self.tree.sections() {
                if !after.is_empty() && name.as_str() <= after {
                    continue;
                }
                let one = digest_entry_len(name);
                if size + one > MAX_FRAME {
                    more = true;
                    break;
                }
                size += one;
                entries.push((name.clone(), *d));
            }
        } else {
            let after = (!after.is_empty()).then_some(after);
            for (key, d) in self.tree.objects_in(section, after) {
                let one = digest_entry_len(&key.id);
                if size + one > MAX_FRAME {
                    more = true;
                    break;
                }
                size += one;
                entries.push((key.id.clone(), *d));
            }
        }
        self.send(&Frame::Digests {
            section: section.to_string(),
            entries,
            more,
        });
    }

    /// Answers FETCH with the objects (absent ones as such).
    pub(super) fn answer_fetch(&mut self, keys: &[ObjectKey]) {
        let entries: Vec<ObjectEntry> = keys.iter().cloned().map(|k| self.entry(k)).collect();
        self.send_objects(entries);
    }
}
