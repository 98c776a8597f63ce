//! The checks between instances, and the sync groups, which name them.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use tandem_wire::Family;

use super::fields::check_name;
use super::instance::Spans;
use super::{Ctx, Src};
use crate::config::error::{ConfigError, Problem};
use crate::config::raw::{RawSyncGroup, S};
use crate::config::{InstanceConfig, SyncGroupConfig};

/// The instances that were built, and the names of those that failed
/// (`None`: one failed whose name is unknown).
pub(super) struct Known<'a> {
    /// The names of the instances built, with their index.
    pub(super) names: &'a HashMap<String, usize>,
    pub(super) failed: Option<HashSet<String>>,
}

impl Known<'_> {
    /// Whether naming `name` is an error: no such instance, and none that
    /// failed could have had that name.
    pub(super) fn unknown(&self, name: &str) -> bool {
        !self.names.contains_key(name) && self.failed.as_ref().is_some_and(|f| !f.contains(name))
    }

    /// A list of instance names (`instances = [...]` of `[health]` and
    /// `[cloud]`): each one known, none twice.
    pub(super) fn members(
        &self,
        ctx: &Ctx<'_>,
        list: &S<Vec<S<String>>>,
    ) -> Result<Vec<String>, ConfigError> {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut out = Vec::new();
        for (i, m) in list.get_ref().iter().enumerate() {
            let key = format!("instances[{i}]");
            let name = m.get_ref();
            if self.unknown(name) {
                return Err(ctx.err_at(&key, m, Problem::UnknownInstance(name.clone())));
            }
            if !seen.insert(name) {
                return Err(ctx.err_at(&key, m, Problem::RepeatedMember(name.clone())));
            }
            out.push(name.clone());
        }
        Ok(out)
    }
}

/// What the checks between instances look up, for the instances built so
/// far: each entry names the first instance that has it, by its index.
#[derive(Default)]
pub(super) struct Index {
    /// Names.
    pub(super) names: HashMap<String, usize>,
    /// (interface, family, VRID).
    pub(super) vrids: HashMap<(String, Family, u8), usize>,
    /// (interface, virtual address).
    pub(super) addresses: HashMap<(String, IpAddr), usize>,
    /// The names, by index.
    pub(super) by_index: Vec<String>,
}

impl Index {
    pub(super) fn add(&mut self, inst: &InstanceConfig, i: usize) {
        self.names.entry(inst.name.clone()).or_insert(i);
        self.vrids
            .entry((
                inst.interface.clone(),
                inst.family(),
                inst.election.vrid.get(),
            ))
            .or_insert(i);
        for a in &inst.election.addresses {
            self.addresses
                .entry((inst.interface.clone(), *a))
                .or_insert(i);
        }
        self.by_index.push(inst.name.clone());
    }
}

/// The checks between one instance and those before it: the same errors,
/// naming the same earlier instance, as comparing it with each of them in
/// order would give.
pub(super) fn check_against(
    ctx: &Ctx<'_>,
    inst: &InstanceConfig,
    spans: &Spans,
    before: &Index,
) -> Result<(), ConfigError> {
    let key = (
        inst.interface.clone(),
        inst.family(),
        inst.election.vrid.get(),
    );
    if let Some(&other) = before.vrids.get(&key) {
        return Err(ctx.err(
            "vrid",
            spans.vrid.clone(),
            Problem::DuplicateVrid {
                vrid: inst.election.vrid.get(),
                interface: inst.interface.clone(),
                family: inst.family(),
                other: before.by_index[other].clone(),
            },
        ));
    }
    if let Some(&index) = before.names.get(&inst.name) {
        let problem = Problem::DuplicateName {
            name: inst.name.clone(),
            first: format!("instance[{index}]"),
        };
        return Err(match &spans.name {
            Some(s) => ctx.err("name", s.clone(), problem),
            None => ctx.err("name", spans.whole.clone(), problem),
        });
    }
    // The earliest instance that shares an address, then its first
    // address in this instance's order.
    let shared = inst
        .election
        .addresses
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            before
                .addresses
                .get(&(inst.interface.clone(), *a))
                .map(|&other| (other, i, *a))
        })
        .min();
    if let Some((other, i, a)) = shared {
        return Err(ctx.err(
            &format!("addresses[{i}]"),
            spans.addresses[i].clone(),
            Problem::SharedAddress {
                address: a,
                interface: inst.interface.clone(),
                other: before.by_index[other].clone(),
            },
        ));
    }
    Ok(())
}

pub(super) fn build_groups(
    src: &Src<'_>,
    raws: Vec<S<RawSyncGroup>>,
    known: &Known<'_>,
    errors: &mut Vec<ConfigError>,
) -> Vec<SyncGroupConfig> {
    let mut groups: Vec<SyncGroupConfig> = Vec::with_capacity(raws.len());
    let mut names: HashSet<String> = HashSet::new();
    let mut member_of: HashMap<String, String> = HashMap::new();
    for (g, raw) in raws.into_iter().enumerate() {
        match build_group(src, g, raw, known, &names, &mut member_of) {
            Ok(group) => {
                names.insert(group.name.clone());
                groups.push(group);
            }
            Err(e) => errors.push(e),
        }
    }
    groups
}

fn build_group(
    src: &Src<'_>,
    g: usize,
    raw: S<RawSyncGroup>,
    known: &Known<'_>,
    groups: &HashSet<String>,
    member_of: &mut HashMap<String, String>,
) -> Result<SyncGroupConfig, ConfigError> {
    let whole = raw.span();
    let raw = raw.into_inner();
    let base = match &raw.name {
        Some(n) => format!("sync_group {:?}", n.get_ref()),
        None => format!("sync_group[{g}]"),
    };
    let ctx = Ctx { src, base };
    let Some(name) = &raw.name else {
        return Err(ctx.err(
            "name",
            whole,
            Problem::Missing("give the sync group a name"),
        ));
    };
    check_name(name.get_ref()).map_err(|p| ctx.err_at("name", name, p))?;
    if groups.contains(name.get_ref()) {
        return Err(ctx.err_at(
            "name",
            name,
            Problem::DuplicateGroupName(name.get_ref().clone()),
        ));
    }
    let Some(list) = &raw.instances else {
        return Err(ctx.err(
            "instances",
            whole,
            Problem::Missing("list the names of the member instances"),
        ));
    };
    if list.get_ref().is_empty() {
        return Err(ctx.err_at("instances", list, Problem::EmptyGroup));
    }
    let mut members: Vec<String> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for (i, m) in list.get_ref().iter().enumerate() {
        let key = format!("instances[{i}]");
        let member = m.get_ref();
        if known.unknown(member) {
            return Err(ctx.err_at(&key, m, Problem::UnknownInstance(member.clone())));
        }
        if !seen.insert(member) {
            return Err(ctx.err_at(&key, m, Problem::RepeatedMember(member.clone())));
        }
        if let Some(group) = member_of.get(member) {
            return Err(ctx.err_at(
                &key,
                m,
                Problem::TwoGroups {
                    instance: member.clone(),
                    group: group.clone(),
                },
            ));
        }
        members.push(member.clone());
    }
    let hooks = super::hooks::RawHooks {
        notify: &raw.notify,
        notify_timeout: &raw.notify_timeout,
        notify_args: &raw.notify_args,
        notify_xparam: &None,
        notify_active: &raw.notify_active,
        notify_backup: &raw.notify_backup,
        notify_fault: &raw.notify_fault,
        notify_stop: &raw.notify_stop,
    };
    let (notify, hooks) = super::hooks::build_hooks(&ctx, &hooks, true)?;
    for m in &members {
        member_of.insert(m.clone(), name.get_ref().clone());
    }
    Ok(SyncGroupConfig {
        name: name.get_ref().clone(),
        instances: members,
        notify,
        hooks,
    })
}
