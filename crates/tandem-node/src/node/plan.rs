//! Reload as a plan: which units keep running untouched, which stop, which
//! start; and which units a failover request names.

use std::collections::{HashMap, HashSet};

use crate::config::{DaemonConfig, InstanceConfig};
use crate::control::api::Refusal;

/// A sync group, or a lone instance: what starts, stops and is kept as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// The sync group's name (`None`: a lone instance).
    pub group: Option<String>,
    /// Its instances, in configuration order.
    pub instances: Vec<InstanceConfig>,
}

/// Sync groups first, then every other instance as a group of one.
pub fn units_of(config: &DaemonConfig) -> Vec<Unit> {
    let by_name: HashMap<&str, &InstanceConfig> = config
        .instances
        .iter()
        .map(|c| (c.name.as_str(), c))
        .collect();
    let mut grouped = HashSet::new();
    let mut units: Vec<Unit> = config
        .sync_groups
        .iter()
        .map(|g| Unit {
            group: Some(g.name.clone()),
            instances: g
                .instances
                .iter()
                .filter_map(|n| {
                    grouped.insert(n.as_str());
                    by_name.get(n.as_str()).map(|c| (*c).clone())
                })
                .collect(),
        })
        .collect();
    for c in &config.instances {
        if !grouped.contains(c.name.as_str()) {
            units.push(Unit {
                group: None,
                instances: vec![c.clone()],
            });
        }
    }
    units
}

/// What a new configuration changes. Made by
/// [`Node::plan`](super::Node::plan), carried out on the host (set-up of
/// what starts), then applied by the Node in one step: nothing changes if
/// any unit that starts cannot be set up.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The configuration.
    pub config: DaemonConfig,
    /// Its units, in order.
    pub(super) units: Vec<Unit>,
    /// Per unit of the plan: the running unit it keeps, if any.
    pub(super) kept: Vec<Option<usize>>,
    /// Per running unit: kept as it is.
    pub(super) keep: Vec<bool>,
    /// Indices into `units` of the units that start.
    pub(super) start: Vec<usize>,
    /// The Node's generation the plan was made against.
    pub(super) generation: u64,
    /// A change of the configuration file (sync's change steps) this plan
    /// carries out: told when the apply is done.
    pub(super) tag: Option<u64>,
    /// The first configuration: the host also removes what a crash left.
    pub initial: bool,
    /// Who waits for the outcome.
    pub(super) reply: Option<super::ReplyTo>,
}

impl Plan {
    /// The instances that start, in order; the host sets up each.
    pub fn starting(&self) -> impl Iterator<Item = &InstanceConfig> {
        self.start
            .iter()
            .flat_map(|u| self.units[*u].instances.iter())
    }

    /// The units kept untouched.
    pub fn unchanged(&self) -> usize {
        self.keep.iter().filter(|k| **k).count()
    }
}

/// What a unit is known by: its sync group's name, or its lone instance's.
pub(super) fn unit_id(u: &Unit) -> (Option<&str>, Option<&str>) {
    match &u.group {
        Some(g) => (Some(g.as_str()), None),
        None => (None, u.instances.first().map(|c| c.name.as_str())),
    }
}

/// Why the host could not set up what a plan starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SetUpError(pub String);

/// The units a failover request names: every unit with an Active member
/// (`None`), or the unit of the instance or sync group named.
pub(super) fn failover_units(
    units: &[Unit],
    target: Option<&str>,
    active: impl Fn(usize) -> bool,
) -> Result<Vec<usize>, Refusal> {
    let named: Vec<usize> = match target {
        None => (0..units.len()).collect(),
        Some(t) => {
            let g: Vec<usize> = units
                .iter()
                .enumerate()
                .filter(|(_, u)| {
                    u.group.as_deref() == Some(t) || u.instances.iter().any(|c| c.name == t)
                })
                .map(|(i, _)| i)
                .collect();
            if g.is_empty() {
                return Err(Refusal::NoSuchTarget(t.to_string()));
            }
            g
        }
    };
    let active: Vec<usize> = named.into_iter().filter(|g| active(*g)).collect();
    if active.is_empty() {
        return Err(Refusal::NothingActive);
    }
    Ok(active)
}
