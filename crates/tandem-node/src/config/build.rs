//! From the raw, spanned form to checked [`DaemonConfig`]s: every rule of
//! docs/config.md, each failure pointing at its field.
//!
//! Here: the whole file, `[global]` and `[health]`; in `instance` one
//! instance, in `fields` the single fields, in `cross` the checks between
//! instances and the sync groups.

mod checks;
pub(crate) mod cloud;
mod cross;
mod fields;
mod hooks;
mod instance;
mod sync;

use std::cell::OnceCell;
use std::ops::Range;
use std::path::Path;

use tandem_election::RestartGuard;

use super::error::{At, ConfigError, Location, Problem};
use super::raw::{nowhere, RawConfig, RawGlobal, RawHealth, RawInstance, S};
use super::{DaemonConfig, GlobalConfig, HealthConfig, InstanceConfig};

use cross::{build_groups, check_against, Index, Known};
use fields::{absolute, parse_listen, restart_guard};
use instance::build_instance;
#[cfg(test)]
pub(super) use instance::map_election_error_for_test;
pub(crate) mod replication;
pub(super) use sync::{app_kind, unit_id_error, value_problem, DEFAULT_MAX_DOCUMENT};
use sync::{apply_overlays, build_sync, check_app};

/// Where the values come from: a file's text, or flags.
pub(super) struct Src<'a> {
    pub(super) text: &'a str,
    pub(super) file: Option<&'a Path>,
    pub(super) flags: bool,
    /// Where each line of `text` starts, made at the first error: a file
    /// with many errors is not scanned from its start for each.
    pub(super) lines: OnceCell<Vec<usize>>,
}

impl<'a> Src<'a> {
    pub(super) fn new(text: &'a str, file: Option<&'a Path>, flags: bool) -> Src<'a> {
        Src {
            text,
            file,
            flags,
            lines: OnceCell::new(),
        }
    }

    pub(super) fn loc(&self, span: Range<usize>) -> Option<Location> {
        if self.flags || self.text.is_empty() {
            return None;
        }
        let lines = self.lines.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        let mut offset = span.start.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        // The last line start at or before `offset`.
        let line = lines.partition_point(|&start| start <= offset);
        let start = lines[line - 1];
        Some(Location {
            file: self.file.map(Path::to_path_buf),
            line,
            column: self.text[start..offset].chars().count() + 1,
        })
    }
}

/// Parses a file's text; the first error, if any.
pub(super) fn parse_text(text: &str, file: Option<&Path>) -> Result<DaemonConfig, ConfigError> {
    parse_text_all(text, file).map_err(|mut errors| errors.swap_remove(0))
}

/// Parses a file's text; every error found (never an empty list). A TOML
/// syntax or shape error is alone: nothing after it can be read. Past
/// that, each instance, sync group and table gives its first error, and
/// the others are checked all the same.
pub(super) fn parse_text_all(
    text: &str,
    file: Option<&Path>,
) -> Result<DaemonConfig, Vec<ConfigError>> {
    let src = Src::new(text, file, false);
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        vec![ConfigError::Toml {
            location: e.span().and_then(|s| src.loc(s)),
            message: e.message().trim_end().to_string(),
        }]
    })?;
    build_config(&src, raw)
}

/// The checks `[app]` gets in [`parse_text`], on a text that holds only
/// `[app]` objects (some objects of a file rendered on their own): the
/// errors name the same fields but have no line, which would not be the
/// file's.
pub(super) fn check_app_text(text: &str) -> Result<(), ConfigError> {
    /// A text of `[app]` objects only.
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct AppOnly {
        app: Option<super::raw::RawApp>,
    }
    let raw: AppOnly = toml::from_str(text).map_err(|e| ConfigError::Toml {
        location: None,
        message: e.message().trim_end().to_string(),
    })?;
    match &raw.app {
        Some(app) => check_app(&Src::new("", None, false), app),
        None => Ok(()),
    }
}

/// The fields of one instance or sync group: how their paths are written.
struct Ctx<'a> {
    src: &'a Src<'a>,
    /// `instance "web"`, `instance[1]`, `sync_group "fw"`, or, for flags,
    /// `tandemd run`.
    base: String,
}

impl Ctx<'_> {
    fn field(&self, key: &str) -> String {
        if self.src.flags {
            flag_name(key)
        } else if key.is_empty() {
            self.base.clone()
        } else {
            format!("{}.{key}", self.base)
        }
    }

    fn err(&self, key: &str, span: Range<usize>, problem: Problem) -> ConfigError {
        ConfigError::Invalid {
            at: At {
                location: self.src.loc(span),
                field: self.field(key),
            },
            problem: Box::new(problem),
        }
    }

    fn err_at<T>(&self, key: &str, value: &S<T>, problem: Problem) -> ConfigError {
        self.err(key, value.span(), problem)
    }
}

/// The flag that sets a field, in the flag form.
fn flag_name(key: &str) -> String {
    let top = key.split(['.', '[']).next().unwrap_or(key);
    match top {
        "addresses" => "--address".to_string(),
        "unicast_peers" => "--unicast-peer".to_string(),
        "preempt" => "--no-preempt".to_string(),
        "track" => "--track-interface".to_string(),
        "listen" => "--health-listen".to_string(),
        "failback" => "--no-failback".to_string(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

pub(super) fn build_config(
    src: &Src<'_>,
    raw: RawConfig,
) -> Result<DaemonConfig, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let (global, default_guard) = match raw.global {
        Some(g) => build_global(src, g.into_inner(), &mut errors),
        None => (GlobalConfig::default(), None),
    };
    let mut global = global;
    if let Some(s) = &raw.sync {
        match build_sync(src, s) {
            Ok(s) => global.sync = Some(s),
            Err(e) => errors.push(e),
        }
    }
    if let Some(r) = &raw.replication {
        match replication::build_replication(src, r) {
            Ok(r) => global.replication = Some(r),
            Err(e) => errors.push(e),
        }
    }
    if let Some(app) = &raw.app {
        if let Err(e) = check_app(src, app) {
            errors.push(e);
        }
    }
    let role = match &raw.cloud {
        Some(c) => cloud::build_role(src, c.get_ref()).unwrap_or_else(|e| {
            errors.push(e);
            None
        }),
        None => None,
    };
    let mut raws = raw.instance.unwrap_or_default();
    let own_unit = global.sync.as_ref().map(|s| s.unit.as_str());
    apply_overlays(src, &mut raws, raw.unit, own_unit, &mut errors);
    if raws.is_empty() {
        errors.push(ConfigError::Invalid {
            at: At {
                location: None,
                field: "instance".to_string(),
            },
            problem: Box::new(Problem::NoInstances),
        });
    }
    let mut built: Vec<InstanceConfig> = Vec::with_capacity(raws.len());
    let mut index = Index::default();
    // Names of instances that failed, so that a sync group or [health]
    // naming one is not reported too; `None` when one failed whose name
    // cannot be told.
    let mut failed: Option<Vec<String>> = Some(Vec::new());
    for (i, r) in raws.into_iter().enumerate() {
        let span = r.span();
        let r = r.into_inner();
        let base = match &r.name {
            Some(n) => format!("instance {:?}", n.get_ref()),
            None => format!("instance[{i}]"),
        };
        let name = raw_name(&r);
        let ctx = Ctx { src, base };
        let role_fields = cloud::RoleFields::of(&r);
        let result = build_instance(&ctx, span, r, default_guard).and_then(|(mut inst, spans)| {
            if let Some(role) = role {
                cloud::apply_role(&ctx, role, &role_fields, &mut inst)?;
            }
            check_against(&ctx, &inst, &spans, &index)?;
            Ok(inst)
        });
        match result {
            Ok(inst) => {
                index.add(&inst, built.len());
                built.push(inst);
            }
            Err(e) => {
                errors.push(e);
                match (name, &mut failed) {
                    (Some(n), Some(list)) => list.push(n),
                    _ => failed = None,
                }
            }
        }
    }
    let mut instances = built;
    let known = Known {
        names: &index.names,
        failed: failed.map(|f| f.into_iter().collect()),
    };
    let group_names: Vec<String> = raw
        .sync_group
        .iter()
        .flatten()
        .filter_map(|g| g.get_ref().name.as_ref().map(|n| n.get_ref().clone()))
        .collect();
    let sync_groups = build_groups(src, raw.sync_group.unwrap_or_default(), &known, &mut errors);
    if let Some(c) = &raw.cloud {
        match cloud::build_cloud(src, c.get_ref(), role, &known, &group_names) {
            Ok(c) => global.cloud = Some(c),
            Err(e) => errors.push(e),
        }
    }
    if let Some(h) = raw.health {
        match build_health(src, h.into_inner(), &known) {
            Ok(h) => global.health = Some(h),
            Err(e) => errors.push(e),
        }
    }
    let checks = checks::build_checks(src, raw.check.unwrap_or_default(), &mut errors);
    checks::check_tracks(&checks, &mut instances, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(DaemonConfig {
        instances,
        sync_groups,
        checks,
        global,
    })
}

/// The name an instance would have, read from its raw fields.
fn raw_name(r: &RawInstance) -> Option<String> {
    if let Some(n) = &r.name {
        return Some(n.get_ref().clone());
    }
    let interface = r.interface.as_ref()?.get_ref();
    let vrid = r.vrid.as_ref()?.get_ref();
    let first = r.addresses.as_ref()?.get_ref().first()?.get_ref();
    let family = match first.contains(':') {
        true => "ipv6",
        false => "ipv4",
    };
    Some(format!("{interface}-{vrid}-{family}"))
}

/// One instance built from flags.
pub(super) fn build_flag_instance(r: RawInstance) -> Result<InstanceConfig, ConfigError> {
    let src = Src::new("", None, true);
    let ctx = Ctx {
        src: &src,
        base: "tandemd run".to_string(),
    };
    build_instance(&ctx, 0..0, r, None).map(|(i, _)| i)
}

/// The global settings of the flag form: `--control-socket`,
/// `--health-listen` (the other health settings keep their defaults).
pub(super) fn build_flag_global(
    global: &mut GlobalConfig,
    control_socket: Option<String>,
    health_listen: Option<String>,
) -> Result<(), ConfigError> {
    let src = Src::new("", None, true);
    let ctx = Ctx {
        src: &src,
        base: "tandemd run".to_string(),
    };
    if let Some(path) = control_socket {
        global.set_control_socket(absolute(&ctx, "control_socket", &nowhere(path))?);
    }
    if let Some(listen) = health_listen {
        let listen = parse_listen(&ctx, &nowhere(listen))?;
        match &mut global.health {
            Some(h) => h.listen = listen,
            None => global.health = Some(HealthConfig::new(listen)),
        }
    }
    Ok(())
}

fn build_global(
    src: &Src<'_>,
    g: RawGlobal,
    errors: &mut Vec<ConfigError>,
) -> (GlobalConfig, Option<RestartGuard>) {
    let ctx = Ctx {
        src,
        base: "global".to_string(),
    };
    let mut global = GlobalConfig::default();
    if let Some(dir) = &g.state_dir {
        match absolute(&ctx, "state_dir", dir) {
            Ok(p) => global.set_state_dir(p),
            Err(e) => errors.push(e),
        }
    }
    if let Some(sock) = &g.control_socket {
        match absolute(&ctx, "control_socket", sock) {
            Ok(p) => global.set_control_socket(p),
            Err(e) => errors.push(e),
        }
    }
    let guard = match &g.restart_guard {
        Some(r) => match restart_guard(&ctx, r) {
            Ok(guard) => Some(guard),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        None => None,
    };
    (global, guard)
}

/// `[health]`.
fn build_health(
    src: &Src<'_>,
    h: RawHealth,
    known: &Known<'_>,
) -> Result<HealthConfig, ConfigError> {
    let ctx = Ctx {
        src,
        base: "health".to_string(),
    };
    let Some(listen) = &h.listen else {
        let span = h
            .path
            .as_ref()
            .or(h.live_path.as_ref())
            .or(h.metrics_path.as_ref())
            .map_or(0..0, |p| p.span());
        return Err(ctx.err(
            "listen",
            span,
            Problem::Missing("give the address and port to listen on, as \"0.0.0.0:8080\""),
        ));
    };
    let mut health = HealthConfig::new(parse_listen(&ctx, listen)?);
    let mut seen: Vec<(String, &'static str)> = Vec::new();
    for (key, raw, slot) in [
        ("path", &h.path, &mut health.path),
        ("live_path", &h.live_path, &mut health.live_path),
        ("metrics_path", &h.metrics_path, &mut health.metrics_path),
    ] {
        if let Some(p) = raw {
            if !p.get_ref().starts_with('/') {
                return Err(ctx.err_at(key, p, Problem::BadPath(p.get_ref().clone())));
            }
            p.get_ref().clone_into(slot);
        }
        if let Some((_, other)) = seen.iter().find(|(s, _)| s == slot) {
            let problem = Problem::SamePath {
                path: slot.clone(),
                other,
            };
            return Err(match raw {
                Some(p) => ctx.err_at(key, p, problem),
                None => ctx.err(key, listen.span(), problem),
            });
        }
        seen.push((slot.clone(), key));
    }
    if let Some(list) = &h.instances {
        health.instances = known.members(&ctx, list)?;
    }
    if let Some(b) = &h.active_body {
        health.active_body = b.get_ref().clone();
    }
    if let Some(b) = &h.standby_body {
        health.standby_body = b.get_ref().clone();
    }
    Ok(health)
}
