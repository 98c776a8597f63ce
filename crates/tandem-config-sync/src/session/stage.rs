//! A change from the partner, staged in the document in place (with an
//! undo) while the host validates, persists and applies it; then ACK, or
//! REJECT and the undo.

use super::{Authority, Block, Event, Output, Pending, Refusal, Session, Timer};
use crate::digest::DigestTree;
use crate::doc::Document;
use crate::frame::{Frame, Mode};

impl Session {
    /// Starts applying the staged change: the host validates, persists,
    /// applies.
    pub(super) fn begin_apply(
        &mut self,
        undo: super::Undo,
        authority: Authority,
        versions: Vec<(crate::doc::ObjectKey, crate::merge::Version)>,
        conflicts: Vec<crate::merge::Conflict>,
    ) {
        let id = self.next_apply;
        self.next_apply += 1;
        let changed = match &undo {
            super::Undo::Objects(objects) => objects.iter().map(|(k, _)| k.clone()).collect(),
            super::Undo::Whole(old, _) => Document::changed_keys(&old.diff(&self.doc))
                .into_iter()
                .collect(),
        };
        self.out.push_back(Output::Apply(super::Apply {
            id,
            document: std::sync::Arc::clone(&self.doc),
            changed,
            authority,
        }));
        self.pending = Some(Pending {
            id,
            undo,
            authority,
            versions,
            conflicts,
        });
    }

    /// Applies ops to the document in place (all or none), digests
    /// updated; returns what puts it back.
    pub(super) fn stage_ops(
        &mut self,
        ops: &[crate::doc::Op],
    ) -> Result<super::Undo, crate::doc::DocError> {
        let keys = Document::changed_keys(ops);
        let before: Vec<_> = keys
            .iter()
            .map(|k| (k.clone(), self.doc.object(k).cloned()))
            .collect();
        std::sync::Arc::make_mut(&mut self.doc).apply(ops)?;
        self.tree.update(&self.doc, keys.iter());
        Ok(super::Undo::Objects(before))
    }

    /// Puts objects (`None`: removes them) into the document in place.
    pub(super) fn stage_objects(
        &mut self,
        objects: Vec<(crate::doc::ObjectKey, Option<crate::doc::Object>)>,
    ) -> super::Undo {
        let doc = std::sync::Arc::make_mut(&mut self.doc);
        let mut before = Vec::with_capacity(objects.len());
        for (k, o) in objects {
            before.push((k.clone(), doc.object(&k).cloned()));
            doc.put_object(k, o);
        }
        self.tree.update(&self.doc, before.iter().map(|(k, _)| k));
        super::Undo::Objects(before)
    }

    /// Replaces the whole document.
    pub(super) fn stage_whole(&mut self, document: Document, tree: DigestTree) -> super::Undo {
        let old = std::mem::replace(&mut self.doc, std::sync::Arc::new(document));
        let old_tree = std::mem::replace(&mut self.tree, tree);
        super::Undo::Whole(old, Box::new(old_tree))
    }

    /// Puts back what a staged change replaced.
    pub(super) fn unstage(&mut self, undo: super::Undo) {
        match undo {
            super::Undo::Objects(objects) => {
                let doc = std::sync::Arc::make_mut(&mut self.doc);
                let keys: Vec<_> = objects.iter().map(|(k, _)| k.clone()).collect();
                for (k, o) in objects {
                    doc.put_object(k, o);
                }
                self.tree.update(&self.doc, keys.iter());
            }
            super::Undo::Whole(doc, tree) => {
                self.doc = doc;
                self.tree = *tree;
            }
        }
    }

    /// The host applied (or refused) the pending change.
    pub(super) fn finish_apply(&mut self, id: u64, result: Result<(), Refusal>) {
        let Some(p) = self.pending.take_if(|p| p.id == id) else {
            return;
        };
        match result {
            Ok(()) => {
                self.authority = p.authority;
                // The partner made this change: it is where we are now
                // (bidirectional merges excepted: the partner may not be).
                if self.cfg.mode == Mode::ActiveStandby && self.status.peer.is_some() {
                    self.status.peer = Some(p.authority);
                    self.status.peer_root = Some(self.tree.root());
                }
                self.status.local = p.authority;
                self.status.local_root = self.tree.root();
                self.status.applied += 1;
                self.ring.clear();
                self.ring_bytes = 0;
                for (key, v) in p.versions {
                    self.versions.insert(key, v);
                }
                for c in p.conflicts {
                    self.status.conflicts += 1;
                    if !self.conflicts.contains(&c.key) {
                        self.conflicts.push(c.key.clone());
                    }
                    self.out.push_back(Output::Event(Event::Conflict(c)));
                }
                if matches!(self.block, Some(Block::Rejected(_))) {
                    self.block = None;
                }
                if let Some(conn) = self.conn.as_mut() {
                    conn.walk = None;
                }
                self.timers.cancel(Timer::Stall);
                self.send_ack();
                if self.status.peer_root == Some(self.tree.root()) {
                    self.status.last_success = Some(self.now);
                    self.diff.clear();
                }
            }
            Err(refusal) => {
                self.unstage(p.undo);
                self.status.local_root = self.tree.root();
                let at = if refusal.path.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", refusal.path)
                };
                let reason = format!(
                    "refused the partner's generation {}: {at}{}",
                    p.authority.generation, refusal.text
                );
                self.status.last_error = Some(reason.clone());
                self.block = Some(Block::Rejected(reason));
                self.send_reject(p.authority.generation, refusal);
            }
        }
        // What waited while the change was applied.
        let held: Vec<Frame> = self
            .conn
            .as_mut()
            .map(|c| c.held.drain(..).collect())
            .unwrap_or_default();
        for f in held {
            if self.pending.is_some() {
                if let Some(c) = self.conn.as_mut() {
                    c.held.push_back(f);
                }
                continue;
            }
            self.on_frame(f);
        }
    }
}
