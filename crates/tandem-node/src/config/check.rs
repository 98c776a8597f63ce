//! `tandemd check-config FILE`: every problem of a configuration file,
//! each with its place and what to do, and, on the node itself, the
//! checks that need the host's interfaces.

use std::cell::RefCell;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::build::parse_text_all;
use super::{At, ConfigError, DaemonConfig, Problem};
use crate::sys::netlink::{self, Netlink};
use crate::sys::SysError;

/// The host's view of an interface: `None` when the host has no interface
/// of that name, else its addresses (before tandemd adds any).
pub type HostLookup<'a> = &'a dyn Fn(&str) -> Option<Vec<IpAddr>>;

/// What [`check_file`] found.
#[derive(Debug)]
pub struct CheckReport {
    /// The file checked.
    pub file: PathBuf,
    /// The configuration, when the file has no error of its own (host
    /// errors may still be listed).
    pub config: Option<DaemonConfig>,
    /// Every error found; empty when the file is good.
    pub errors: Vec<ConfigError>,
    /// Remarks that are not errors (host checks skipped, and why).
    pub notes: Vec<String>,
}

impl CheckReport {
    /// No error.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Reads and checks the file at `path`: every error the file has (one per
/// instance, sync group or table at most; a TOML syntax error alone),
/// then, if the file is good and `host` is given, the host checks of
/// [`check_host_links`].
pub fn check_file(path: &Path, host: Option<HostLookup<'_>>) -> CheckReport {
    match super::read_text(path) {
        Ok(text) => check_text(&text, Some(path), host),
        Err(e) => CheckReport {
            file: path.to_path_buf(),
            config: None,
            errors: vec![e],
            notes: Vec::new(),
        },
    }
}

/// [`check_file`] on a file's text; `file` names it in the locations.
pub fn check_text(text: &str, file: Option<&Path>, host: Option<HostLookup<'_>>) -> CheckReport {
    let mut report = CheckReport {
        file: file.map(Path::to_path_buf).unwrap_or_default(),
        config: None,
        errors: Vec::new(),
        notes: Vec::new(),
    };
    match parse_text_all(text, file) {
        Ok(config) => {
            if let Some(host) = host {
                report.errors = check_host_links(&config, host);
            }
            report.config = Some(config);
        }
        Err(errors) => {
            report.errors = errors;
            if host.is_some() {
                report
                    .notes
                    .push("host checks skipped: fix the file first".to_string());
            }
        }
    }
    report
}

/// The checks that need the host, as `tandemd check-config` makes them
/// on the node:
///
/// - each instance's interface must exist;
/// - priority 255 (the address owner) must own every virtual address:
///   each must already be one of the interface's addresses;
/// - `source`, if given, must be one of the interface's addresses.
///
/// Unlike [`super::check_host`], an interface without addresses is
/// judged too.
pub fn check_host_links(config: &DaemonConfig, host: HostLookup<'_>) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for inst in &config.instances {
        let at = |field: &str| At {
            location: None,
            field: format!("instance {:?}.{field}", inst.name),
        };
        let Some(own) = host(&inst.interface) else {
            errors.push(ConfigError::Invalid {
                at: at("interface"),
                problem: Box::new(Problem::NoSuchInterface(inst.interface.clone())),
            });
            continue;
        };
        errors.extend(super::host_errors(inst, &own));
    }
    errors
}

/// A [`HostLookup`] backed by the kernel (rtnetlink); fails where
/// netlink is unavailable (not Linux, a sandbox).
pub fn netlink_host() -> Result<impl Fn(&str) -> Option<Vec<IpAddr>>, SysError> {
    let nl = RefCell::new(Netlink::open()?);
    Ok(move |ifname: &str| {
        let index = netlink::ifindex(ifname).ok()?;
        let addresses = nl.borrow_mut().addresses(index).unwrap_or_default();
        Some(addresses.into_iter().map(|(a, _)| a).collect())
    })
}

/// A hint added under some errors, for what their message cannot know.
fn hint(e: &ConfigError) -> Option<&'static str> {
    match e {
        ConfigError::Toml { message, .. } if message.contains("unknown field") => {
            Some("a misspelt or misplaced key: docs/config.md lists every key of each table")
        }
        ConfigError::Toml { .. } => {
            Some("the file is not valid TOML there: nothing after this point was checked")
        }
        ConfigError::Invalid { problem, .. } => match problem.as_ref() {
            Problem::NoSuchInterface(_) => {
                Some("checking the file on another machine than the node? add --no-host")
            }
            Problem::NotOwner { .. } | Problem::SourceNotLocal { .. } => {
                Some("checked against the interfaces of this host, as they are now")
            }
            _ => None,
        },
        _ => None,
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The report as text: one line per error (`FILE:LINE:COLUMN: field:
/// what is wrong and what to do`), an indented hint under some, notes,
/// and a last line: `FILE: OK, N instances, M sync groups` or
/// `FILE: K errors`.
pub fn render_human(report: &CheckReport) -> String {
    let mut out = String::new();
    for e in &report.errors {
        out.push_str(&format!("{e}\n"));
        if let Some(h) = hint(e) {
            out.push_str(&format!("    hint: {h}\n"));
        }
    }
    for n in &report.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    let file = report.file.display();
    match (&report.config, report.errors.len()) {
        (Some(c), 0) => out.push_str(&format!(
            "{file}: OK, {}, {}\n",
            plural(c.instances.len(), "instance", "instances"),
            plural(c.sync_groups.len(), "sync group", "sync groups"),
        )),
        (_, n) => out.push_str(&format!("{file}: {}\n", plural(n, "error", "errors"))),
    }
    out
}

/// The report as one JSON object: `file`, `ok`, `instances` and
/// `sync_groups` (counts, `null` when the file did not parse), `errors`
/// (each with `file`, `line`, `column` when known, `field`, `message`,
/// `hint`) and `notes`.
pub fn render_json(report: &CheckReport) -> String {
    let errors: Vec<serde_json::Value> = report
        .errors
        .iter()
        .map(|e| {
            let (location, field, message) = match e {
                ConfigError::Invalid { at, problem } => (
                    at.location.as_ref(),
                    Some(at.field.clone()),
                    problem.to_string(),
                ),
                ConfigError::Toml { location, message } => {
                    (location.as_ref(), None, message.clone())
                }
                ConfigError::NotUtf8 { location, .. } => (Some(location), None, e.to_string()),
                other => (None, None, other.to_string()),
            };
            serde_json::json!({
                "file": location
                    .and_then(|l| l.file.as_ref())
                    .map(|f| f.display().to_string()),
                "line": location.map(|l| l.line),
                "column": location.map(|l| l.column),
                "field": field,
                "message": message,
                "hint": hint(e),
            })
        })
        .collect();
    serde_json::json!({
        "file": report.file.display().to_string(),
        "ok": report.is_ok(),
        "instances": report.config.as_ref().map(|c| c.instances.len()),
        "sync_groups": report.config.as_ref().map(|c| c.sync_groups.len()),
        "errors": errors,
        "notes": report.notes,
    })
    .to_string()
}

/// `tandemd check-config FILE [--json] [--no-host]`: checks the file,
/// with the host checks unless `no_host` (skipped with a note where
/// netlink is unavailable), and writes the report to `out`. Returns
/// whether the file is good (exit status 0) or not (1).
pub fn check_config_command(
    path: &Path,
    json: bool,
    no_host: bool,
    out: &mut dyn Write,
) -> io::Result<bool> {
    let (lookup, note) = if no_host {
        (None, None)
    } else {
        match netlink_host() {
            Ok(l) => (Some(l), None),
            Err(e) => (
                None,
                Some(format!(
                    "host checks skipped (interfaces, address owner, source): netlink is unavailable: {e}"
                )),
            ),
        }
    };
    let mut report = check_file(
        path,
        lookup
            .as_ref()
            .map(|l| l as &dyn Fn(&str) -> Option<Vec<IpAddr>>),
    );
    report.notes.extend(note);
    let text = if json {
        render_json(&report) + "\n"
    } else {
        render_human(&report)
    };
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(report.is_ok())
}
