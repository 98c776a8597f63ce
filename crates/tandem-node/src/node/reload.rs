//! Applying a plan: stop what goes away, keep the rest untouched, start
//! what is new; and the graceful stop of the whole node.

use tandem_election::{Command, Instant, SyncGroup};

use super::election::router_for;
use super::output::{EventKind, Output};
use super::{Instance, InstanceHost, Node, Plan, SetUpDone, SetUpError, Unit};
use crate::config::InstanceConfig;
use crate::control::api::{ControlReply, Refusal};

impl Node {
    // ----- configuration ----------------------------------------------------

    /// Applies a plan the host set up: stops what goes away (gracefully),
    /// keeps the rest as it is, starts what is new. Nothing changes if the
    /// plan is stale, the host could not set it up, or the election refuses
    /// a configuration.
    pub(super) fn apply(
        &mut self,
        now: Instant,
        plan: Plan,
        result: Result<SetUpDone, SetUpError>,
    ) {
        let reply = plan.reply;
        let tag = plan.tag;
        let fail = |node: &mut Node, error: String, hosts: &[InstanceHost]| {
            // What the host made for the plan goes again.
            for h in hosts {
                if let Some(name) = &h.macvlan {
                    node.outputs
                        .push_back(Output::DeleteLink { name: name.clone() });
                }
            }
            node.emit(
                now,
                EventKind::ReloadFailed {
                    error: error.clone(),
                },
            );
            if let Some(to) = reply {
                node.refuse(to, Refusal::Reconfigure(error.clone()));
            }
            if let Some(tag) = tag {
                node.sync_plan_done(now, tag, Err(error));
            }
        };
        let done = match result {
            Ok(d) => d,
            Err(e) => return fail(self, e.0, &[]),
        };
        if plan.generation != self.generation || self.stopping {
            return fail(
                self,
                "the node changed while the new configuration was being set up; send it again"
                    .into(),
                &done.hosts,
            );
        }
        let starting: Vec<&InstanceConfig> = plan.starting().collect();
        if starting.len() != done.hosts.len() {
            let error = format!(
                "the host set up {} instances of the {} that start",
                done.hosts.len(),
                starting.len()
            );
            return fail(self, error, &done.hosts);
        }
        // Build every new router before anything changes.
        let mut hosts = done.hosts.iter();
        let mut new_groups = Vec::new();
        for &u in &plan.start {
            let mut routers = Vec::new();
            for cfg in &plan.units[u].instances {
                let Some(host) = hosts.next() else { break };
                match router_for(cfg, host, now, &self.settings.recent_starts) {
                    Ok(r) => routers.push(r),
                    Err(e) => return fail(self, e, &done.hosts),
                }
            }
            new_groups.push(SyncGroup::new(routers));
        }
        self.generation += 1;
        self.configured = true;
        self.replication_configure(plan.config.global.replication.clone());
        self.cloud_configure(plan.config.global.cloud.clone(), &plan.config.sync_groups);
        self.checks_configure(now, &plan.config.checks);

        // Stop what goes away.
        let mut stopped = Vec::new();
        for g in 0..self.groups.len() {
            if plan.keep[g] {
                continue;
            }
            self.groups[g].handle_command(now, None, Command::Shutdown);
            self.drain(g);
            for &i in &self.members[g] {
                let inst = &self.instances[i];
                if let Some(name) = &inst.host.macvlan {
                    self.outputs
                        .push_back(Output::DeleteLink { name: name.clone() });
                }
                stopped.push(inst.cfg.name.clone());
            }
        }
        self.set_group_hooks(&plan.config.sync_groups);
        // Reinstall the kept units in their new order, then the new ones.
        let old_groups = std::mem::take(&mut self.groups);
        let old_members = std::mem::take(&mut self.members);
        self.units.clear();
        let mut old_instances: Vec<Option<Instance>> = std::mem::take(&mut self.instances)
            .into_iter()
            .map(Some)
            .collect();
        let mut old_groups: Vec<Option<SyncGroup>> = old_groups.into_iter().map(Some).collect();
        let mut new_groups = new_groups.into_iter();
        let mut hosts = done.hosts.into_iter();
        let mut started = Vec::new();
        let mut to_start = Vec::new();
        for (u, unit) in plan.units.into_iter().enumerate() {
            if plan.kept[u].is_none() {
                let Some(group) = new_groups.next() else {
                    break;
                };
                let mut uid = self.next_uid;
                let instances = unit
                    .instances
                    .iter()
                    .zip(hosts.by_ref())
                    .map(|(cfg, host)| Instance {
                        uid: {
                            uid += 1;
                            uid
                        },
                        cfg: cfg.clone(),
                        group: 0,
                        member: 0,
                        host,
                        counters: Default::default(),
                        last_transition: None,
                        partner: None,
                        group_name: unit.group.clone(),
                    })
                    .collect::<Vec<_>>();
                self.next_uid = uid;
                started.extend(instances.iter().map(|i| i.cfg.name.clone()));
                to_start.push(self.install(unit, instances, group));
            } else if let Some(g) = plan.kept[u] {
                let instances = old_members[g]
                    .iter()
                    .filter_map(|i| old_instances[*i].take())
                    .collect();
                if let Some(group) = old_groups[g].take() {
                    self.install(unit, instances, group);
                }
            }
        }
        self.socket_interfaces = self
            .instances
            .iter()
            .map(|i| (i.host.socket, i.cfg.interface.clone()))
            .collect();
        for g in to_start {
            for link in &done.links_down {
                self.groups[g].handle_command(now, None, Command::TrackDown(link.clone()));
            }
            // What the checks it tracks know already.
            for m in 0..self.members[g].len() {
                for cmd in self.checks_commands(self.members[g][m]) {
                    self.groups[g].handle_command(now, Some(m), cmd);
                }
            }
            self.groups[g].handle_command(now, None, Command::Start);
            self.drain(g);
        }
        self.state_changed = true;
        // New routers take the preemption hold sync wants.
        self.sync.held = None;
        let unchanged = plan.keep.iter().filter(|k| **k).count();
        let done = tag.map(|t| (t, (stopped.clone(), started.clone(), unchanged)));
        let (kind, answer) = if plan.initial {
            let answer = ControlReply::Reconfigured {
                stopped: Vec::new(),
                started: started.clone(),
                unchanged,
            };
            (EventKind::Started { instances: started }, answer)
        } else {
            let answer = ControlReply::Reconfigured {
                stopped: stopped.clone(),
                started: started.clone(),
                unchanged,
            };
            (
                EventKind::Reloaded {
                    stopped,
                    started,
                    unchanged,
                },
                answer,
            )
        };
        self.emit(now, kind);
        if let Some(to) = reply {
            self.outputs.push_back(Output::Reply { to, reply: answer });
        }
        if let Some((tag, reloaded)) = done {
            self.sync_plan_done(now, tag, Ok(reloaded));
        }
        self.publish(now);
    }

    /// Adds a unit to the running set; returns its group index.
    pub(super) fn install(
        &mut self,
        unit: Unit,
        instances: Vec<Instance>,
        group: SyncGroup,
    ) -> usize {
        let g = self.groups.len();
        let mut idx = Vec::new();
        for (m, mut inst) in instances.into_iter().enumerate() {
            inst.group = g;
            inst.member = m;
            idx.push(self.instances.len());
            self.instances.push(inst);
        }
        self.groups.push(group);
        self.members.push(idx);
        self.units.push(unit);
        g
    }

    pub(super) fn shutdown(&mut self, now: Instant) {
        if self.stopping {
            return;
        }
        self.command_all(now, Command::Shutdown);
        for i in 0..self.instances.len() {
            if let Some(name) = self.instances[i].host.macvlan.clone() {
                self.outputs.push_back(Output::DeleteLink { name });
            }
        }
        self.stopping = true;
        self.publish(now);
        self.emit(now, EventKind::Stopped);
        self.outputs.push_back(Output::Stopped);
    }
}
