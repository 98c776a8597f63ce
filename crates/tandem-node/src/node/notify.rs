//! Which notify commands a state change runs, and with which arguments:
//! the instance's `notify` and per-state command, and its sync group's
//! when the group's state changes (keepalived's group notifies).

use std::collections::HashMap;

use tandem_election::State;

use super::output::Output;
use super::Node;
use crate::config::{NotifyArgs, NotifyConfig, StateHooks, SyncGroupConfig};
use crate::hooks::HookEvent;

/// A sync group's hooks and the state they last reported.
#[derive(Debug, Clone)]
pub(super) struct GroupHooks {
    notify: Option<NotifyConfig>,
    hooks: StateHooks,
    /// The group's state as its hooks know it. A group starts in Backup
    /// (keepalived's groups do too), so its members' start in Backup runs
    /// no group hook.
    state: State,
}

/// keepalived's name of a state, as its notify scripts get it: `MASTER`,
/// `BACKUP`, `FAULT`, or `STOP` (Initialize: the instance stopped).
pub(super) fn keepalived_state(state: State) -> &'static str {
    match state {
        State::Active => "MASTER",
        State::Backup => "BACKUP",
        State::Fault => "FAULT",
        State::Initialize => "STOP",
    }
}

/// A group's state from its members': Active when every member is,
/// Fault when one is, stopped (Initialize) when all are, Backup when one
/// is; `None` (no change) otherwise.
fn group_state(members: &[State]) -> Option<State> {
    if members.is_empty() {
        None
    } else if members.iter().all(|s| *s == State::Active) {
        Some(State::Active)
    } else if members.contains(&State::Fault) {
        Some(State::Fault)
    } else if members.iter().all(|s| *s == State::Initialize) {
        Some(State::Initialize)
    } else if members.contains(&State::Backup) {
        Some(State::Backup)
    } else {
        None
    }
}

impl Node {
    /// Takes the sync groups' hooks of a new configuration; a group kept
    /// by name keeps the state its hooks last reported.
    pub(super) fn set_group_hooks(&mut self, groups: &[SyncGroupConfig]) {
        let mut old = std::mem::take(&mut self.group_hooks);
        for g in groups {
            if g.notify.is_none() && g.hooks == StateHooks::default() {
                continue;
            }
            let state = match old.remove(&g.name) {
                Some(h) if h.state != State::Initialize => h.state,
                _ => State::Backup,
            };
            self.group_hooks.insert(
                g.name.clone(),
                GroupHooks {
                    notify: g.notify.clone(),
                    hooks: g.hooks.clone(),
                    state,
                },
            );
        }
    }

    /// Queues the hooks of instance `i`'s change to `to` (`base`: the
    /// transition; the router's state already changed), then its group's if the group's
    /// state changed with it.
    pub(super) fn queue_hooks(&mut self, i: usize, to: State, base: &HookEvent) {
        let inst = &self.instances[i];
        let cfg = &inst.cfg;
        let priority = self.router(inst).status().priority.0;
        let ucarp_args = |xparam: &Option<String>| {
            let mut v = vec![cfg.interface.clone()];
            if let Some(a) = cfg.election.addresses.first() {
                v.push(a.to_string());
            }
            v.extend(xparam.iter().cloned());
            v
        };
        let (notify_args, state_args) = match &cfg.hooks.args {
            NotifyArgs::None => (Vec::new(), Vec::new()),
            NotifyArgs::Keepalived => (
                vec![
                    "INSTANCE".to_string(),
                    cfg.name.clone(),
                    keepalived_state(to).to_string(),
                    priority.to_string(),
                ],
                Vec::new(),
            ),
            NotifyArgs::Ucarp { xparam } => (ucarp_args(xparam), ucarp_args(xparam)),
        };
        let mut runs = Vec::new();
        // keepalived runs the per-state script first, then `notify`.
        if let Some(n) = cfg.hooks.for_state(to) {
            runs.push((n.clone(), state_args));
        }
        if let Some(n) = &cfg.notify {
            runs.push((n.clone(), notify_args));
        }
        for (notify, args) in runs {
            let event = HookEvent {
                args,
                ..base.clone()
            };
            self.outputs.push_back(Output::RunHook {
                notify,
                event: Box::new(event),
            });
        }

        let Some(group) = inst.group_name.clone() else {
            return;
        };
        if !self.group_hooks.contains_key(&group) {
            return;
        }
        let states: Vec<State> = self.groups[inst.group]
            .members()
            .iter()
            .map(|m| m.state())
            .collect();
        let Some(h) = self.group_hooks.get_mut(&group) else {
            return;
        };
        let Some(new) = group_state(&states) else {
            return;
        };
        if new == h.state {
            return;
        }
        let old = std::mem::replace(&mut h.state, new);
        let mut runs = Vec::new();
        if let Some(n) = h.hooks.for_state(new) {
            runs.push((n.clone(), Vec::new()));
        }
        if let Some(n) = &h.notify {
            let args = match h.hooks.args {
                NotifyArgs::Keepalived => vec![
                    "GROUP".to_string(),
                    group.clone(),
                    keepalived_state(new).to_string(),
                    "0".to_string(),
                ],
                _ => Vec::new(),
            };
            runs.push((n.clone(), args));
        }
        for (notify, args) in runs {
            let event = HookEvent {
                from: old.name().into(),
                to: new.name().into(),
                args,
                group_hook: true,
                ..base.clone()
            };
            self.outputs.push_back(Output::RunHook {
                notify,
                event: Box::new(event),
            });
        }
    }
}

/// The map the Node keeps, by group name.
pub(super) type GroupHookMap = HashMap<String, GroupHooks>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_names() {
        assert_eq!(keepalived_state(State::Active), "MASTER");
        assert_eq!(keepalived_state(State::Backup), "BACKUP");
        assert_eq!(keepalived_state(State::Fault), "FAULT");
        assert_eq!(keepalived_state(State::Initialize), "STOP");
    }

    #[test]
    fn group_state_rules() {
        use State::*;
        assert_eq!(group_state(&[Active, Active]), Some(Active));
        assert_eq!(group_state(&[Active, Backup]), Some(Backup));
        assert_eq!(group_state(&[Fault, Backup]), Some(Fault));
        assert_eq!(group_state(&[Initialize, Initialize]), Some(Initialize));
        assert_eq!(group_state(&[Initialize, Active]), None);
        assert_eq!(group_state(&[]), None);
    }
}
