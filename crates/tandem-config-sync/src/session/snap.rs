//! Receiving a snapshot: SNAP_BEGIN checked against authority and the
//! document limit, SNAP_CHUNKs decoded as they come, SNAP_END checked
//! (SHA-256, decoding, root) before the change is staged.

use super::{Authority, Refusal, Session, SnapIn, Timer};
use crate::digest::{Digest, DigestTree};
use crate::frame::RejectCode;

impl Session {
    pub(super) fn on_snap_begin(&mut self, to: Authority, len: u64, root: Digest) {
        if self.refuse_newer(to.generation) {
            return;
        }
        if to.epoch == self.authority.epoch && to.generation < self.authority.generation {
            let text = format!(
                "this unit has a newer configuration (generation {} > {})",
                self.authority.generation, to.generation
            );
            self.send_reject(
                to.generation,
                Refusal {
                    code: RejectCode::Stale,
                    path: String::new(),
                    text,
                },
            );
            return;
        }
        if len > self.cfg.max_document {
            let text = format!(
                "a snapshot of {len} bytes is over this unit's limit of {}",
                self.cfg.max_document
            );
            self.send_reject(
                to.generation,
                Refusal {
                    code: RejectCode::TooLarge,
                    path: String::new(),
                    text,
                },
            );
            return;
        }
        if let Some(conn) = self.conn.as_mut() {
            conn.walk = None;
            conn.snap_in = Some(SnapIn {
                epoch: to.epoch,
                generation: to.generation,
                len,
                root,
                stream: crate::doc::DocStream::new(len, crate::value::DecodeLimits::default()),
                sha: <sha2::Sha256 as sha2::Digest>::new(),
                bad: None,
            });
        }
        self.timers
            .set(Timer::Stall, self.now + self.cfg.dead_after);
    }

    pub(super) fn on_snap_chunk(&mut self, offset: u64, data: Vec<u8>) {
        let fault = match self.conn.as_mut().and_then(|c| c.snap_in.as_mut()) {
            None => Some("SNAP_CHUNK without SNAP_BEGIN".to_string()),
            Some(snap) => {
                let have = snap.stream.received();
                if offset != have || have + data.len() as u64 > snap.len {
                    Some(format!(
                        "SNAP_CHUNK at offset {offset} with {} bytes does not follow {have} of {}",
                        data.len(),
                        snap.len
                    ))
                } else {
                    sha2::Digest::update(&mut snap.sha, &data);
                    if snap.bad.is_none() {
                        if let Err(e) = snap.stream.push(&data) {
                            snap.bad = Some(e.to_string());
                        }
                    }
                    None
                }
            }
        };
        match fault {
            Some(text) => {
                self.error(text);
                self.drop_conn("bad SNAP_CHUNK");
            }
            None => self
                .timers
                .set(Timer::Stall, self.now + self.cfg.dead_after),
        }
    }

    pub(super) fn on_snap_end(&mut self, sha256: Digest) {
        let Some(snap) = self.conn.as_mut().and_then(|c| c.snap_in.take()) else {
            self.error("SNAP_END without SNAP_BEGIN".into());
            self.drop_conn("SNAP_END without SNAP_BEGIN");
            return;
        };
        self.timers.cancel(Timer::Stall);
        let to = Authority {
            epoch: snap.epoch,
            generation: snap.generation,
        };
        let refuse = |code, text: String| Refusal {
            code,
            path: String::new(),
            text,
        };
        let SnapIn {
            stream, sha, bad, ..
        } = snap;
        if stream.received() != snap.len || <[u8; 32]>::from(sha2::Digest::finalize(sha)) != sha256
        {
            let r = refuse(
                RejectCode::Digest,
                "the snapshot's bytes do not match its SHA-256".into(),
            );
            self.send_reject(to.generation, r);
            return;
        }
        let decoded = match bad {
            Some(e) => Err(e),
            None => stream.finish().map_err(|e| e.to_string()),
        };
        let document = match decoded {
            Ok(d) => d,
            Err(e) => {
                let r = refuse(
                    RejectCode::Invalid,
                    format!("the snapshot does not decode: {e}"),
                );
                self.send_reject(to.generation, r);
                return;
            }
        };
        let tree = DigestTree::new(self.cfg.schema_version, &document);
        if tree.root() != snap.root {
            let r = refuse(
                RejectCode::Digest,
                "the snapshot does not make the root it names".into(),
            );
            self.send_reject(to.generation, r);
            return;
        }
        if tree.root() == self.tree.root() {
            // The same document (a snapshot sent twice, or to a unit that
            // already had it): take its authority, nothing to apply.
            self.adopt(to);
            self.send_ack();
            return;
        }
        let undo = self.stage_whole(document, tree);
        self.begin_apply(undo, to, Vec::new(), Vec::new());
    }
}
