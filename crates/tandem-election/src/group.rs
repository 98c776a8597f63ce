//! Sync groups: virtual routers that change state together, all or
//! nothing (an appliance's interfaces fail over as one).
//!
//! The rules, applied after every input:
//! 1. a member whose own tracked object forces Fault puts every member in
//!    Fault; when no member has one, they all return to Backup;
//! 2. a member that becomes Active brings every other member to Active;
//! 3. a member that leaves Active takes every other member out of Active,
//!    and the members do not preempt until the group is Active again (or
//!    they would take the role straight back from the partner group).

use std::collections::VecDeque;

use crate::{Action, Command, Instant, Reason, Received, State, VirtualRouter};

/// Virtual routers that change state together.
#[derive(Debug, Clone)]
pub struct SyncGroup {
    members: Vec<VirtualRouter>,
    actions: VecDeque<(usize, Action)>,
}

impl SyncGroup {
    /// A group of `members` (each built and configured on its own).
    pub fn new(members: Vec<VirtualRouter>) -> SyncGroup {
        SyncGroup {
            members,
            actions: VecDeque::new(),
        }
    }

    /// The members, in the order given.
    pub fn members(&self) -> &[VirtualRouter] {
        &self.members
    }

    /// An advert for whichever member has its VRID (and protocol).
    pub fn handle_advert(&mut self, now: Instant, rx: Received<'_>) {
        for i in 0..self.members.len() {
            if self.members[i].config().vrid == rx.advert.vrid() {
                self.members[i].handle_advert(now, rx);
                self.settle(now, i);
            }
        }
    }

    /// Timers of every member.
    pub fn handle_timeout(&mut self, now: Instant) {
        for i in 0..self.members.len() {
            if self.members[i].poll_timeout().is_some_and(|t| t <= now) {
                self.members[i].handle_timeout(now);
                self.settle(now, i);
            }
        }
    }

    /// A command for one member (`Some(index)`) or all (`None`).
    pub fn handle_command(&mut self, now: Instant, member: Option<usize>, cmd: Command) {
        for i in 0..self.members.len() {
            if member.is_none_or(|m| m == i) {
                self.members[i].handle_command(now, cmd.clone());
                self.settle(now, i);
            }
        }
    }

    /// The next action, with the index of the member it is for.
    pub fn poll_action(&mut self) -> Option<(usize, Action)> {
        self.actions.pop_front()
    }

    /// The earliest deadline of any member.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.members.iter().filter_map(|m| m.poll_timeout()).min()
    }

    /// The group's state if all members agree, `None` if they do not.
    pub fn state(&self) -> Option<State> {
        let first = self.members.first()?.state();
        self.members
            .iter()
            .all(|m| m.state() == first)
            .then_some(first)
    }

    /// Drains member `cause`'s actions and brings the others along.
    fn settle(&mut self, now: Instant, cause: usize) {
        let mut changes = Vec::new();
        while let Some(a) = self.members[cause].poll_action() {
            if let Action::StateChanged { from, to, .. } = &a {
                changes.push((*from, *to));
            }
            self.actions.push_back((cause, a));
        }
        let member = self.members[cause].config().vrid.get();
        let reason = Reason::SyncGroup { member };
        // Rule 1: Fault is all or nothing.
        let any_fault = self.members.iter().any(VirtualRouter::own_fault);
        for i in 0..self.members.len() {
            if i != cause || !any_fault {
                let on = any_fault && !self.members[i].own_fault();
                self.members[i].set_group_fault(now, on, reason.clone());
            }
        }
        if !any_fault {
            for (from, to) in changes {
                for i in (0..self.members.len()).filter(|i| *i != cause) {
                    if to == State::Active {
                        self.members[i].force_active(now, reason.clone()); // rule 2
                    } else if from == State::Active {
                        self.members[i].force_backup(now, reason.clone()); // rule 3
                    }
                }
            }
        }
        for i in 0..self.members.len() {
            while let Some(a) = self.members[i].poll_action() {
                self.actions.push_back((i, a));
            }
        }
    }
}
