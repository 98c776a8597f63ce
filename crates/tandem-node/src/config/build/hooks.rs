//! The notify fields of an instance or a sync group: `notify`,
//! `notify_timeout`, `notify_args`, `notify_xparam` and the per-state
//! commands `notify_active`, `notify_backup`, `notify_fault`,
//! `notify_stop`.

use std::time::Duration;

use super::Ctx;
use crate::config::error::{ConfigError, Problem};
use crate::config::raw::S;
use crate::config::{
    NotifyArgs, NotifyConfig, StateHooks, DEFAULT_NOTIFY_TIMEOUT, MAX_NOTIFY_TIMEOUT,
};

/// The raw notify fields, as an instance and a sync group both have them.
pub(super) struct RawHooks<'a> {
    pub(super) notify: &'a Option<S<String>>,
    pub(super) notify_timeout: &'a Option<S<f64>>,
    pub(super) notify_args: &'a Option<S<String>>,
    pub(super) notify_xparam: &'a Option<S<String>>,
    pub(super) notify_active: &'a Option<S<String>>,
    pub(super) notify_backup: &'a Option<S<String>>,
    pub(super) notify_fault: &'a Option<S<String>>,
    pub(super) notify_stop: &'a Option<S<String>>,
}

/// `notify` and the per-state commands, checked. `group`: the fields of
/// a `[[sync_group]]`, where the ucarp form is refused.
pub(super) fn build_hooks(
    ctx: &Ctx<'_>,
    r: &RawHooks<'_>,
    group: bool,
) -> Result<(Option<NotifyConfig>, StateHooks), ConfigError> {
    let timeout = match r.notify_timeout {
        Some(t) => {
            let secs = *t.get_ref();
            let ok = secs > 0.0
                && Duration::try_from_secs_f64(secs).is_ok_and(|d| d <= MAX_NOTIFY_TIMEOUT);
            if !ok {
                return Err(ctx.err_at("notify_timeout", t, Problem::NotifyTimeout(secs)));
            }
            Duration::from_secs_f64(secs)
        }
        None => DEFAULT_NOTIFY_TIMEOUT,
    };
    let command = |key: &str, c: &Option<S<String>>| -> Result<Option<NotifyConfig>, ConfigError> {
        match c {
            Some(c) if c.get_ref().trim().is_empty() => {
                Err(ctx.err_at(key, c, Problem::EmptyCommand))
            }
            Some(c) => Ok(Some(NotifyConfig {
                command: c.get_ref().clone(),
                timeout,
            })),
            None => Ok(None),
        }
    };
    let notify = command("notify", r.notify)?;
    let mut hooks = StateHooks {
        args: NotifyArgs::None,
        active: command("notify_active", r.notify_active)?,
        backup: command("notify_backup", r.notify_backup)?,
        fault: command("notify_fault", r.notify_fault)?,
        stop: command("notify_stop", r.notify_stop)?,
    };
    let any = notify.is_some()
        || hooks.active.is_some()
        || hooks.backup.is_some()
        || hooks.fault.is_some()
        || hooks.stop.is_some();
    if let (Some(t), false) = (r.notify_timeout, any) {
        return Err(ctx.err_at("notify_timeout", t, Problem::TimeoutWithoutNotify));
    }
    hooks.args = match r.notify_args {
        None => NotifyArgs::None,
        Some(a) if !any => return Err(ctx.err_at("notify_args", a, Problem::ArgsWithoutNotify)),
        Some(a) => match a.get_ref().as_str() {
            "none" => NotifyArgs::None,
            "keepalived" => NotifyArgs::Keepalived,
            "ucarp" if group => {
                return Err(ctx.err_at("notify_args", a, Problem::UcarpArgsOnGroup))
            }
            "ucarp" => NotifyArgs::Ucarp {
                xparam: r.notify_xparam.as_ref().map(|x| x.get_ref().clone()),
            },
            other => {
                return Err(ctx.err_at(
                    "notify_args",
                    a,
                    Problem::UnknownNotifyArgs(other.to_string()),
                ))
            }
        },
    };
    if let Some(x) = r.notify_xparam {
        if !matches!(hooks.args, NotifyArgs::Ucarp { .. }) {
            return Err(ctx.err_at("notify_xparam", x, Problem::XparamWithoutUcarp));
        }
    }
    Ok((notify, hooks))
}
