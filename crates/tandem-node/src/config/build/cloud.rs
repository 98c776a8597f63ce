//! `[cloud]`: a pair in a cloud, where multicast and gratuitous ARP do
//! not reach the partner or the network. This unit's fixed role
//! (`role`, `failback`), mapped onto the election's preferred-host policy,
//! and the provider hook (`on_active`, `on_standby`) that moves a floating
//! address or a route when the node becomes Active (docs/cloud.md).
//!
//! The role is read before the instances ([`build_role`]), so that each
//! instance gets it ([`apply_role`]); the rest after them
//! ([`build_cloud`]), since it names instances and sync groups.

use std::time::Duration;

use serde::Deserialize;
use tandem_election::{PairRole, PreferredHost, Protocol};
use tandem_wire::Priority;

use super::{Ctx, Src};
use crate::config::error::{ConfigError, Problem};
use crate::config::raw::{RawInstance, S};
use crate::config::InstanceConfig;

/// How long a provider hook may run by default before it is killed.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest `hook_timeout` accepted: an hour.
pub const MAX_HOOK_TIMEOUT: Duration = Duration::from_secs(3600);
/// How many times a provider hook runs by default before it is given up.
pub const DEFAULT_ATTEMPTS: u32 = 10;
/// The most attempts accepted.
pub const MAX_ATTEMPTS: u32 = 100;
/// The wait after a first failed attempt by default; it doubles after each
/// further failure, up to [`MAX_RETRY_DELAY`].
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);
/// The priority `role = "primary"` gives (the election's preferred host).
pub const PRIMARY_PRIORITY: u8 = 200;
/// The priority `role = "secondary"` gives.
pub const SECONDARY_PRIORITY: u8 = 100;
/// The CARP advskew of the primary.
pub const PRIMARY_ADVSKEW: u8 = 0;
/// The CARP advskew of the secondary.
pub const SECONDARY_ADVSKEW: u8 = 100;

/// `[cloud]` as serde reads it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::config) struct RawCloud {
    pub(in crate::config) role: Option<S<String>>,
    pub(in crate::config) failback: Option<S<bool>>,
    pub(in crate::config) on_active: Option<S<String>>,
    pub(in crate::config) on_standby: Option<S<String>>,
    pub(in crate::config) instances: Option<S<Vec<S<String>>>>,
    pub(in crate::config) sync_group: Option<S<String>>,
    pub(in crate::config) hook_timeout: Option<S<f64>>,
    pub(in crate::config) attempts: Option<S<i64>>,
    pub(in crate::config) retry_delay: Option<S<f64>>,
}

/// This unit's fixed role in the pair (`[cloud] role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The preferred unit: Active whenever it is healthy (with
    /// `failback = true`, it takes the role back when it returns).
    Primary,
    /// The other unit: Active only while the primary is not.
    Secondary,
}

impl Role {
    /// `primary` or `secondary`: the configuration's word, and the name in
    /// status, the health port's JSON and the hook's `TANDEM_ROLE`.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Secondary => "secondary",
        }
    }

    /// The priority the role gives (VRRP).
    pub const fn priority(self) -> u8 {
        match self {
            Role::Primary => PRIMARY_PRIORITY,
            Role::Secondary => SECONDARY_PRIORITY,
        }
    }

    /// The advskew the role gives (CARP).
    pub const fn advskew(self) -> u8 {
        match self {
            Role::Primary => PRIMARY_ADVSKEW,
            Role::Secondary => SECONDARY_ADVSKEW,
        }
    }

    /// Whether the role preempts: the primary with failback only.
    pub const fn preempt(self, failback: bool) -> bool {
        matches!(self, Role::Primary) && failback
    }
}

/// The pair's cloud settings (`[cloud]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudConfig {
    /// This unit's fixed role, if given; it sets every instance's priority
    /// (CARP: advskew) and preemption ([`role_election`]).
    pub role: Option<Role>,
    /// With a role: the primary takes the Active role back when it
    /// returns. Default true.
    pub failback: bool,
    /// Run with `/bin/sh -c` when the node becomes Active (every watched
    /// instance Active), until it exits 0 or the node leaves Active.
    pub on_active: Option<String>,
    /// Run with `/bin/sh -c` when the node leaves Active, until it exits
    /// 0 or the node is Active again.
    pub on_standby: Option<String>,
    /// The instances whose being all Active makes the node Active for the
    /// hooks; empty: every instance (or `sync_group`'s members).
    pub instances: Vec<String>,
    /// Instead of `instances`: a sync group's members.
    pub sync_group: Option<String>,
    /// Each attempt is killed (its whole process group) after this long.
    pub hook_timeout: Duration,
    /// Attempts of one hook before it is given up, 1 to [`MAX_ATTEMPTS`].
    pub attempts: u32,
    /// The wait after the first failed attempt; it doubles after each
    /// further failure, up to [`MAX_RETRY_DELAY`].
    pub retry_delay: Duration,
}

impl Default for CloudConfig {
    fn default() -> CloudConfig {
        CloudConfig {
            role: None,
            failback: true,
            on_active: None,
            on_standby: None,
            instances: Vec::new(),
            sync_group: None,
            hook_timeout: DEFAULT_HOOK_TIMEOUT,
            attempts: DEFAULT_ATTEMPTS,
            retry_delay: DEFAULT_RETRY_DELAY,
        }
    }
}

impl CloudConfig {
    /// Whether either hook is configured.
    pub fn has_hooks(&self) -> bool {
        self.on_active.is_some() || self.on_standby.is_some()
    }
}

/// The election's configuration of an instance on a unit of `role`:
/// the preferred-host policy with this unit's place in the pair
/// (primary: priority 200, CARP advskew 0, preempting; secondary:
/// priority 100, advskew 100, never preempting); with `failback = false`
/// the primary does not preempt either, so whoever is Active stays Active.
pub fn role_election(
    election: tandem_election::Config,
    role: Role,
    failback: bool,
) -> tandem_election::Config {
    let place = match role {
        Role::Primary => PairRole::First,
        Role::Secondary => PairRole::Second,
    };
    let mut c = election.preferred_host(PreferredHost::First, place);
    c.priority = Priority(role.priority());
    c.preempt = role.preempt(failback);
    c
}

/// Why a `[cloud]` value, or an instance's value with a role, is not
/// acceptable. Each message says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CloudProblem {
    /// A role that is neither word.
    #[error("{0:?} is not a role: use \"primary\" or \"secondary\" (one unit of the pair each)")]
    BadRole(String),
    /// `failback` without `role`.
    #[error("failback without role does nothing: add role = \"primary\" or \"secondary\", or remove failback")]
    FailbackWithoutRole,
    /// `hook_timeout`, `attempts` or `retry_delay` without a hook.
    #[error("{0} without on_active or on_standby does nothing: add on_active = \"COMMAND\", or remove {0}")]
    WithoutHook(&'static str),
    /// A hook timeout out of range.
    #[error("hook_timeout {0} s is out of range: use more than 0 and at most 3600 s")]
    HookTimeout(String),
    /// A retry delay out of range.
    #[error("retry_delay {0} s is out of range: use more than 0 and at most 60 s")]
    RetryDelay(String),
    /// Both `instances` and `sync_group`.
    #[error("give instances or sync_group, not both: the hooks watch one set of instances")]
    InstancesAndGroup,
    /// A sync group that is not in the file.
    #[error("no sync group is named {0:?}: name a [[sync_group]] of this file")]
    UnknownGroup(String),
    /// An instance's priority that the role contradicts.
    #[error("priority {given} conflicts with [cloud] role = \"{role}\", which gives this unit priority {wants}: remove priority from the instance (the role sets it), or remove role and set priority and preempt on each unit yourself")]
    RolePriority {
        /// The role.
        role: &'static str,
        /// The instance's priority.
        given: i64,
        /// The role's.
        wants: u8,
    },
    /// A CARP instance's advskew that the role contradicts.
    #[error("advskew {given} conflicts with [cloud] role = \"{role}\", which gives this unit advskew {wants}: remove advskew from the instance (the role sets it), or remove role and set advskew and preempt on each unit yourself")]
    RoleAdvskew {
        /// The role.
        role: &'static str,
        /// The instance's advskew.
        given: i64,
        /// The role's.
        wants: u8,
    },
    /// An instance's preempt that the role contradicts.
    #[error("preempt = {given} conflicts with [cloud] role = \"{role}\" and failback = {failback}, which give preempt = {wants} here (only the primary preempts, and only with failback = true): remove preempt from the instance, or set failback, or remove role and set priority and preempt on each unit yourself")]
    RolePreempt {
        /// The role.
        role: &'static str,
        /// `failback`.
        failback: bool,
        /// The instance's preempt.
        given: bool,
        /// The role's.
        wants: bool,
    },
}

/// The role and failback, read before the instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::config) struct RoleSetting {
    pub(in crate::config) role: Role,
    pub(in crate::config) failback: bool,
}

/// The fields of an instance a role sets, as the file gave them.
#[derive(Debug, Clone, Default)]
pub(in crate::config) struct RoleFields {
    priority: Option<S<i64>>,
    advskew: Option<S<i64>>,
    preempt: Option<S<bool>>,
}

impl RoleFields {
    /// The fields of `r`, before it is built.
    pub(in crate::config) fn of(r: &RawInstance) -> RoleFields {
        RoleFields {
            priority: r.priority.clone(),
            advskew: r.advskew.clone(),
            preempt: r.preempt.clone(),
        }
    }
}

fn cloud_ctx<'a>(src: &'a Src<'a>) -> Ctx<'a> {
    Ctx {
        src,
        base: "cloud".to_string(),
    }
}

fn err<T>(ctx: &Ctx<'_>, key: &str, v: &S<T>, p: CloudProblem) -> ConfigError {
    ctx.err_at(key, v, Problem::Cloud(p))
}

/// `role` and `failback` of `[cloud]` (`None`: no role).
pub(super) fn build_role(
    src: &Src<'_>,
    raw: &RawCloud,
) -> Result<Option<RoleSetting>, ConfigError> {
    let ctx = cloud_ctx(src);
    let failback = raw.failback.as_ref().map(|f| *f.get_ref());
    let Some(role) = &raw.role else {
        return match &raw.failback {
            Some(f) => Err(err(&ctx, "failback", f, CloudProblem::FailbackWithoutRole)),
            None => Ok(None),
        };
    };
    let role = match role.get_ref().as_str() {
        "primary" => Role::Primary,
        "secondary" => Role::Secondary,
        other => {
            return Err(err(
                &ctx,
                "role",
                role,
                CloudProblem::BadRole(other.to_string()),
            ))
        }
    };
    Ok(Some(RoleSetting {
        role,
        failback: failback.unwrap_or(true),
    }))
}

/// Gives `inst` the role: an error, naming the instance's field, when it
/// sets priority, advskew or preempt otherwise than the role does.
pub(super) fn apply_role(
    ctx: &Ctx<'_>,
    setting: RoleSetting,
    fields: &RoleFields,
    inst: &mut InstanceConfig,
) -> Result<(), ConfigError> {
    let RoleSetting { role, failback } = setting;
    let carp = matches!(inst.election.protocol, Protocol::Carp { .. });
    if let Some(p) = &fields.priority {
        if *p.get_ref() != i64::from(role.priority()) && !carp {
            let problem = CloudProblem::RolePriority {
                role: role.name(),
                given: *p.get_ref(),
                wants: role.priority(),
            };
            return Err(ctx.err_at("priority", p, Problem::Cloud(problem)));
        }
    }
    if let Some(a) = &fields.advskew {
        if *a.get_ref() != i64::from(role.advskew()) && carp {
            let problem = CloudProblem::RoleAdvskew {
                role: role.name(),
                given: *a.get_ref(),
                wants: role.advskew(),
            };
            return Err(ctx.err_at("advskew", a, Problem::Cloud(problem)));
        }
    }
    if let Some(p) = &fields.preempt {
        let wants = role.preempt(failback);
        if *p.get_ref() != wants {
            let problem = CloudProblem::RolePreempt {
                role: role.name(),
                failback,
                given: *p.get_ref(),
                wants,
            };
            return Err(ctx.err_at("preempt", p, Problem::Cloud(problem)));
        }
    }
    inst.election = role_election(inst.election.clone(), role, failback);
    Ok(())
}

fn command(ctx: &Ctx<'_>, key: &str, v: &Option<S<String>>) -> Result<Option<String>, ConfigError> {
    match v {
        Some(c) if c.get_ref().trim().is_empty() => Err(ctx.err_at(key, c, Problem::EmptyCommand)),
        Some(c) => Ok(Some(c.get_ref().clone())),
        None => Ok(None),
    }
}

/// A duration of more than 0 and at most `max`.
fn bounded(
    ctx: &Ctx<'_>,
    key: &str,
    v: &S<f64>,
    max: Duration,
    problem: fn(String) -> CloudProblem,
) -> Result<Duration, ConfigError> {
    let secs = *v.get_ref();
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if secs > 0.0 && d <= max => Ok(d),
        _ => Err(err(ctx, key, v, problem(secs.to_string()))),
    }
}

/// The whole `[cloud]` table (the role again, already checked by
/// [`build_role`]); `known` and `groups` (the names of the file's sync
/// groups) for the names it gives.
pub(super) fn build_cloud(
    src: &Src<'_>,
    raw: &RawCloud,
    role: Option<RoleSetting>,
    known: &super::cross::Known<'_>,
    groups: &[String],
) -> Result<CloudConfig, ConfigError> {
    let ctx = cloud_ctx(src);
    let mut cloud = CloudConfig {
        role: role.map(|r| r.role),
        failback: role.is_none_or(|r| r.failback),
        on_active: command(&ctx, "on_active", &raw.on_active)?,
        on_standby: command(&ctx, "on_standby", &raw.on_standby)?,
        ..CloudConfig::default()
    };
    let hooks = cloud.has_hooks();
    if let Some(t) = &raw.hook_timeout {
        if !hooks {
            return Err(err(
                &ctx,
                "hook_timeout",
                t,
                CloudProblem::WithoutHook("hook_timeout"),
            ));
        }
        cloud.hook_timeout = bounded(
            &ctx,
            "hook_timeout",
            t,
            MAX_HOOK_TIMEOUT,
            CloudProblem::HookTimeout,
        )?;
    }
    if let Some(a) = &raw.attempts {
        if !hooks {
            return Err(err(
                &ctx,
                "attempts",
                a,
                CloudProblem::WithoutHook("attempts"),
            ));
        }
        let v = *a.get_ref();
        let max = i64::from(MAX_ATTEMPTS);
        if !(1..=max).contains(&v) {
            let problem = Problem::Range {
                value: v,
                min: 1,
                max,
            };
            return Err(ctx.err_at("attempts", a, problem));
        }
        cloud.attempts = v as u32;
    }
    if let Some(d) = &raw.retry_delay {
        if !hooks {
            return Err(err(
                &ctx,
                "retry_delay",
                d,
                CloudProblem::WithoutHook("retry_delay"),
            ));
        }
        cloud.retry_delay = bounded(
            &ctx,
            "retry_delay",
            d,
            MAX_RETRY_DELAY,
            CloudProblem::RetryDelay,
        )?;
    }
    if let (Some(_), Some(g)) = (&raw.instances, &raw.sync_group) {
        return Err(err(&ctx, "sync_group", g, CloudProblem::InstancesAndGroup));
    }
    if let Some(list) = &raw.instances {
        cloud.instances = known.members(&ctx, list)?;
    }
    if let Some(g) = &raw.sync_group {
        // `groups` are the names the file gives, a group with an error of
        // its own (reported already) included.
        if !groups.contains(g.get_ref()) {
            return Err(err(
                &ctx,
                "sync_group",
                g,
                CloudProblem::UnknownGroup(g.get_ref().clone()),
            ));
        }
        cloud.sync_group = Some(g.get_ref().clone());
    }
    Ok(cloud)
}

/// `--role` and `--no-failback` of the flag form, as a [`RoleSetting`].
pub(in crate::config) fn flag_role(
    role: Option<String>,
    no_failback: bool,
) -> Result<Option<RoleSetting>, ConfigError> {
    let src = Src::new("", None, true);
    let raw = RawCloud {
        role: role.map(crate::config::raw::nowhere),
        failback: no_failback.then(|| crate::config::raw::nowhere(false)),
        ..RawCloud::default()
    };
    build_role(&src, &raw)
}

/// [`apply_role`] for the flag form's one instance.
pub(in crate::config) fn apply_flag_role(
    setting: RoleSetting,
    fields: &RoleFields,
    inst: &mut InstanceConfig,
) -> Result<(), ConfigError> {
    let src = Src::new("", None, true);
    let ctx = Ctx {
        src: &src,
        base: "tandemd run".to_string(),
    };
    apply_role(&ctx, setting, fields, inst)
}
