//! The digest walk: sections, then the objects of the sections that
//! differ, then FETCH of only the objects that differ. It locates a
//! divergence (for `sync diff`), repairs this unit from the partner's
//! document, or (bidirectional mode) merges the two.

use std::collections::{BTreeMap, BTreeSet};

use super::recv::Direction;
use super::{Authority, DiffEntry, Event, Output, Session, Timer, MAX_WALKS};
use crate::digest::Digest;
use crate::doc::{Object, ObjectKey};
use crate::frame::{Frame, ObjectEntry, MAX_FRAME};
use crate::merge::{merge, Merged, Version, Versioned};

/// What the walk is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Find the differing objects and show them; change nothing.
    Locate,
    /// Take the partner's objects: this unit follows it.
    Repair,
    /// Bidirectional: merge each differing object by its version.
    Merge,
}

/// A walk under way.
#[derive(Debug)]
pub(super) struct Walk {
    purpose: Purpose,
    /// The partner's authority and root when the walk began.
    target: (Authority, Digest),
    pub(super) attempt: u32,
    /// The partner's sections, as paged in.
    sections: Vec<(String, Digest)>,
    /// Sections whose objects are still to be listed.
    queue: Vec<String>,
    /// The objects of the section being listed.
    listing: Vec<(String, Digest)>,
    /// Objects to fetch, and objects the partner lacks.
    fetch: BTreeSet<ObjectKey>,
    absent: BTreeSet<ObjectKey>,
    /// FETCH answers still to come.
    answers: usize,
    fetched: BTreeMap<ObjectKey, (Option<Object>, Version)>,
}

impl Walk {
    pub(super) fn new(purpose: Purpose, target: (Authority, Digest), attempt: u32) -> Walk {
        Walk {
            purpose,
            target,
            attempt,
            sections: Vec::new(),
            queue: Vec::new(),
            listing: Vec::new(),
            fetch: BTreeSet::new(),
            absent: BTreeSet::new(),
            answers: 0,
            fetched: BTreeMap::new(),
        }
    }

    /// Whether it changes this unit when it ends.
    pub(super) fn repairs(&self) -> bool {
        self.purpose != Purpose::Locate
    }
}

impl Session {
    /// A DIGESTS frame: an answer to our DIGEST_REQ, or (sections, no
    /// walk under way) the partner's first page, sent with its answer to
    /// our NACK.
    pub(super) fn on_digests(
        &mut self,
        section: String,
        entries: Vec<(String, Digest)>,
        more: bool,
    ) {
        self.timers
            .set(Timer::Stall, self.now + self.cfg.dead_after);
        if self.conn.as_ref().is_some_and(|c| c.walk.is_none()) {
            if !section.is_empty() {
                return; // a late answer to a walk that was dropped
            }
            let purpose = match self.status.peer.map(|p| self.direction(p)) {
                Some(Direction::Behind) => Purpose::Repair,
                _ if self.cfg.mode == crate::frame::Mode::Bidirectional => Purpose::Merge,
                _ => Purpose::Locate,
            };
            let target = (
                self.status.peer.unwrap_or_default(),
                self.status.peer_root.unwrap_or_default(),
            );
            if let Some(conn) = self.conn.as_mut() {
                conn.walk = Some(Walk::new(purpose, target, 0));
            }
        }
        let Some(walk) = self.conn.as_mut().and_then(|c| c.walk.as_mut()) else {
            return;
        };
        let last = entries.last().map(|(n, _)| n.clone());
        if section.is_empty() {
            walk.sections.extend(entries);
            if more {
                if let Some(after) = last {
                    self.send(&Frame::DigestReq {
                        section: String::new(),
                        after,
                    });
                    return;
                }
            }
            // Every section of both sides, compared.
            let theirs: BTreeMap<String, Digest> = walk.sections.iter().cloned().collect();
            let ours = self.tree.sections();
            let mut queue = Vec::new();
            for (name, d) in &theirs {
                if ours.get(name) != Some(d) {
                    queue.push(name.clone());
                }
            }
            for name in ours.keys() {
                if !theirs.contains_key(name) {
                    for (key, _) in self.tree.objects_in(name, None) {
                        walk.absent.insert(key.clone());
                    }
                }
            }
            queue.reverse();
            walk.queue = queue;
            self.next_section();
        } else {
            walk.listing.extend(entries);
            if more {
                if let Some(after) = last {
                    self.send(&Frame::DigestReq { section, after });
                    return;
                }
            }
            let theirs: BTreeMap<String, Digest> =
                std::mem::take(&mut walk.listing).into_iter().collect();
            for (key, d) in self.tree.objects_in(&section, None) {
                match theirs.get(&key.id) {
                    Some(t) if t == d => {}
                    Some(_) => {
                        walk.fetch.insert(key.clone());
                    }
                    None => {
                        walk.absent.insert(key.clone());
                    }
                }
            }
            for id in theirs.keys() {
                let key = ObjectKey::new(section.clone(), id.clone());
                if self.tree.object(&key).is_none() {
                    walk.fetch.insert(key);
                }
            }
            self.next_section();
        }
    }

    /// Lists the next differing section, or fetches when none is left.
    fn next_section(&mut self) {
        let Some(walk) = self.conn.as_mut().and_then(|c| c.walk.as_mut()) else {
            return;
        };
        if let Some(section) = walk.queue.pop() {
            self.send(&Frame::DigestReq {
                section,
                after: String::new(),
            });
            return;
        }
        if walk.purpose == Purpose::Merge {
            // The partner may hold a tombstone (a newer removal) for what
            // only this unit has: its version decides.
            let absent = std::mem::take(&mut walk.absent);
            walk.fetch.extend(absent);
        }
        let keys: Vec<ObjectKey> = walk.fetch.iter().cloned().collect();
        let mut batches: Vec<Vec<ObjectKey>> = Vec::new();
        let mut size = 64;
        for key in keys {
            let n = crate::frame::key_len(&key);
            match batches.last_mut() {
                Some(b) if size + n <= MAX_FRAME => b.push(key),
                _ => {
                    batches.push(vec![key]);
                    size = 64;
                }
            }
            size += n;
        }
        walk.answers = batches.len();
        if batches.is_empty() {
            self.end_walk();
            return;
        }
        for keys in batches {
            self.send(&Frame::Fetch { keys });
        }
    }

    /// An OBJECTS frame: an answer to our FETCH, or a bidirectional push.
    pub(super) fn on_objects(&mut self, entries: Vec<ObjectEntry>, last: bool) {
        let fetching = self
            .conn
            .as_ref()
            .and_then(|c| c.walk.as_ref())
            .is_some_and(|w| w.answers > 0);
        if !fetching {
            if self.cfg.mode == crate::frame::Mode::Bidirectional {
                self.merge_in(entries);
            }
            return;
        }
        let Some(walk) = self.conn.as_mut().and_then(|c| c.walk.as_mut()) else {
            return;
        };
        for e in entries {
            walk.fetched.insert(e.key, (e.object, e.version));
        }
        if last {
            walk.answers = walk.answers.saturating_sub(1);
            if walk.answers == 0 {
                self.end_walk();
            }
        }
    }

    /// The walk has everything: show, repair or merge.
    fn end_walk(&mut self) {
        let Some(walk) = self.conn.as_mut().and_then(|c| c.walk.take()) else {
            return;
        };
        self.timers.cancel(Timer::Stall);
        let mut diff = Vec::new();
        for key in walk.fetch.iter().chain(walk.absent.iter()) {
            diff.push(DiffEntry {
                key: key.clone(),
                local: self.doc.object(key).cloned(),
                peer: walk.fetched.get(key).and_then(|(o, _)| o.clone()),
            });
        }
        diff.sort_by(|a, b| a.key.cmp(&b.key));
        self.diff = diff;
        if !self.diff.is_empty() {
            let objects = self.diff.iter().map(|d| d.key.clone()).collect();
            self.out
                .push_back(Output::Event(Event::Diverged { objects }));
        }
        match walk.purpose {
            Purpose::Locate => {}
            Purpose::Repair => {
                let (target, root) = walk.target;
                let objects: Vec<_> = self
                    .diff
                    .iter()
                    .map(|d| (d.key.clone(), d.peer.clone()))
                    .collect();
                let nothing = objects.is_empty();
                let undo = self.stage_objects(objects);
                if self.tree.root() == root && nothing {
                    self.adopt(target);
                } else if self.tree.root() == root {
                    self.begin_apply(undo, target, Vec::new(), Vec::new());
                } else {
                    self.unstage(undo);
                    if walk.attempt + 1 < MAX_WALKS {
                        // The partner changed while we walked: again.
                        self.start_walk(Purpose::Repair);
                        if let Some(w) = self.conn.as_mut().and_then(|c| c.walk.as_mut()) {
                            w.attempt = walk.attempt + 1;
                        }
                    } else {
                        // Ask for the whole document.
                        self.send(&Frame::Nack {
                            epoch: self.authority.epoch,
                            generation: self.authority.generation,
                            root: [0; 32],
                        });
                    }
                }
            }
            Purpose::Merge => {
                let entries = walk
                    .fetch
                    .iter()
                    .chain(walk.absent.iter())
                    .map(|key| {
                        let (object, version) = walk
                            .fetched
                            .get(key)
                            .cloned()
                            .unwrap_or((None, Version::default()));
                        ObjectEntry {
                            key: key.clone(),
                            object,
                            version,
                        }
                    })
                    .collect();
                self.merge_in(entries);
            }
        }
    }

    /// Bidirectional: merges the partner's versions of objects; applies
    /// what changes, reports each conflict once applied.
    pub(super) fn merge_in(&mut self, entries: Vec<ObjectEntry>) {
        let mut changed = Vec::new();
        let mut versions = Vec::new();
        let mut conflicts = Vec::new();
        for e in entries {
            self.clock.observe(e.version.stamp);
            let local = Versioned {
                version: self.versions.get(&e.key).cloned().unwrap_or_default(),
                object: self.doc.object(&e.key).cloned(),
            };
            let remote = Versioned {
                version: e.version,
                object: e.object,
            };
            let taken = match merge(&e.key, &local, &remote) {
                Merged::Local => continue,
                Merged::Remote => remote,
                Merged::Concurrent { result, conflict } => {
                    conflicts.push(conflict);
                    result
                }
            };
            if taken.object != local.object {
                changed.push((e.key.clone(), taken.object.clone()));
            }
            versions.push((e.key, taken.version));
        }
        if changed.is_empty() {
            // Only versions moved (or nothing): no apply needed.
            for (k, v) in versions {
                self.versions.insert(k, v);
            }
            for c in conflicts {
                self.status.conflicts += 1;
                if !self.conflicts.contains(&c.key) {
                    self.conflicts.push(c.key.clone());
                }
                self.out.push_back(Output::Event(Event::Conflict(c)));
            }
            return;
        }
        let authority = Authority {
            epoch: self.authority.epoch,
            generation: self.authority.generation + 1,
        };
        let undo = self.stage_objects(changed);
        self.begin_apply(undo, authority, versions, conflicts);
    }
}
