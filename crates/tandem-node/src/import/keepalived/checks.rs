//! `vrrp_script` and `vrrp_track_file` to `[[check]]` tables, and the
//! `track` entries that use them.

use super::convert::{num_arg, Cx};
use super::lexer::Stmt;
use crate::import::out::{Table, Val};

/// A check made from a `vrrp_script` or a `vrrp_track_file`.
#[derive(Debug, Clone)]
pub(super) struct CheckDef {
    /// keepalived's name.
    pub(super) kname: String,
    /// The `[[check]]` table.
    pub(super) table: Table,
    /// keepalived's weight: a script's (default 0: Fault while down), a
    /// file's multiplier (default 1).
    pub(super) weight: i64,
    /// A `vrrp_track_file`.
    pub(super) file: bool,
}

/// `vrrp_script NAME { ... }`.
pub(super) fn script(cx: &mut Cx, s: &Stmt) -> Option<CheckDef> {
    let kname = s.arg(0)?.to_string();
    let what = format!("vrrp_script {kname}");
    let mut t = Table::new("check");
    t.set("name", Val::Str(cx.check_name(&kname)));
    let mut weight = 0;
    let mut interval = 1.0;
    let mut timeout = None;
    let mut user = cx.script_user.clone();
    for c in s.children() {
        match c.key() {
            "script" => match c.arg(0) {
                Some(_) => {
                    // keepalived splits the words itself: a quoted string
                    // and plain words read the same to /bin/sh.
                    t.set("script", Val::Str(c.words[1..].join(" ")));
                }
                None => cx.note(c, &what, "\"script\" has no command"),
            },
            "interval" => {
                if let Some(v) = num_arg(cx, c, &what, 0.1, 3600.0) {
                    interval = v;
                }
            }
            "timeout" => timeout = num_arg(cx, c, &what, 0.1, 3600.0),
            "rise" => {
                if let Some(v) = num_arg(cx, c, &what, 1.0, 100.0) {
                    t.set("rise", Val::Int(v as i64));
                }
            }
            "fall" => {
                if let Some(v) = num_arg(cx, c, &what, 1.0, 100.0) {
                    t.set("fall", Val::Int(v as i64));
                }
            }
            "weight" => {
                if let Some(v) = num_arg(cx, c, &what, -253.0, 253.0) {
                    weight = v as i64;
                }
                if c.arg(1) == Some("reverse") {
                    cx.note(c, &what, "\"weight ... reverse\" is not carried over: a tandemd check lowers the priority while it fails; invert the script's exit status instead");
                }
            }
            "user" => match c.arg(0) {
                Some(u) => {
                    user = Some(u.to_string());
                    if c.arg(1).is_some() {
                        cx.note(c, &what, "the group of \"user USER GROUP\" is not carried over: the check runs with the user's primary group");
                    }
                }
                None => cx.note(c, &what, "\"user\" names no user"),
            },
            "init_fail" => cx.note(c, &what, "\"init_fail\" is carried as tandemd's default: a check starts unknown and tracks nothing until its first result"),
            other => cx.unsupported(c, &what, other),
        }
    }
    if t.get("script").is_none() {
        cx.note(s, &what, "has no \"script\": not carried over");
        return None;
    }
    if let Some(u) = user {
        t.set("user", Val::Str(u));
    }
    t.set("interval", Val::Num(interval));
    let timeout = timeout.unwrap_or(interval).min(interval);
    t.set("timeout", Val::Num(timeout));
    Some(CheckDef {
        kname,
        table: t,
        weight,
        file: false,
    })
}

/// `vrrp_track_file NAME { ... }`.
pub(super) fn track_file(cx: &mut Cx, s: &Stmt) -> Option<CheckDef> {
    let kname = s.arg(0)?.to_string();
    let what = format!("vrrp_track_file {kname}");
    let mut t = Table::new("check");
    t.set("name", Val::Str(cx.check_name(&kname)));
    let mut weight = 1;
    for c in s.children() {
        match c.key() {
            "file" => match c.arg(0) {
                Some(f) => t.set("file", Val::Str(f.to_string())),
                None => cx.note(c, &what, "\"file\" names no file"),
            },
            "weight" => {
                if let Some(v) = num_arg(cx, c, &what, -254.0, 254.0) {
                    weight = v as i64;
                }
                if c.arg(1) == Some("reverse") {
                    cx.note(c, &what, "\"weight ... reverse\" is not carried over: write the value with the opposite sign");
                }
            }
            "init_file" => cx.note(c, &what, "\"init_file\" is not carried over: tandemd does not create the file; create it before tandemd starts"),
            other => cx.unsupported(c, &what, other),
        }
    }
    if t.get("file").is_none() {
        cx.note(s, &what, "has no \"file\": not carried over");
        return None;
    }
    Some(CheckDef {
        kname,
        table: t,
        weight,
        file: true,
    })
}

/// The `track` entry of check `def` with the instance's own `weight`
/// (or the check's), and how much to raise the base priority for a
/// keepalived positive script weight (raise on success becomes: base +
/// w, lowered by w on failure).
pub(super) fn track_entry(def: &CheckDef, weight: Option<i64>) -> (Val, i64) {
    let name = match def.table.get("name") {
        Some(Val::Str(n)) => n.clone(),
        _ => def.kname.clone(),
    };
    let w = weight.unwrap_or(def.weight);
    let mut e = vec![("check".to_string(), Val::Str(name))];
    if def.file {
        e.push(("weight".into(), Val::Int(w)));
        return (Val::Inline(e), 0);
    }
    match w {
        0 => {
            e.push(("fault".into(), Val::Bool(true)));
            (Val::Inline(e), 0)
        }
        w if w < 0 => {
            e.push(("weight".into(), Val::Int(-w)));
            (Val::Inline(e), 0)
        }
        w => {
            e.push(("weight".into(), Val::Int(w)));
            (Val::Inline(e), w)
        }
    }
}
