//! keepalived's statements to tandemd's tables.

use std::collections::HashMap;

use super::checks::{self, CheckDef};
use super::instance::instance;
use super::lexer::Stmt;
use crate::import::out::{render, Table, Val};
use crate::import::{Import, ImportError, Notice};

/// The converter's state.
pub(crate) struct Cx {
    pub(super) notices: Vec<Notice>,
    /// Notes that go into the header (carried, in another form).
    notes: Vec<String>,
    pub(super) script_user: Option<String>,
    pub(super) version: Option<i64>,
    pub(super) garp: Garp,
    pub(super) checks: Vec<CheckDef>,
    check_names: Vec<String>,
}

/// Announcement settings (global, then per instance).
#[derive(Debug, Clone, Default)]
pub(super) struct Garp {
    pub(super) delay: Option<f64>,
    pub(super) repeat: Option<i64>,
    pub(super) interval: Option<f64>,
    pub(super) na_interval: Option<f64>,
}

/// One keepalived instance, converted: one table per family.
pub(super) struct Inst {
    pub(super) kname: String,
    pub(super) v4: Option<Table>,
    pub(super) v6: Option<Table>,
}

/// The reason a statement has no tandemd equivalent, for those known.
fn reason(key: &str) -> Option<&'static str> {
    Some(match key {
        "smtp_alert" | "notification_email" | "notification_email_from" | "smtp_server"
        | "smtp_connect_timeout" | "smtp_helo_name" | "no_email_faults" | "email_faults" => {
            "tandemd sends no mail; use a notify hook"
        }
        "virtual_server" | "virtual_server_group" | "real_server" | "lvs_id" | "lvs_sync_daemon"
        | "lvs_sync_daemon_interface" | "lvs_timeouts" | "lvs_flush" | "lvs_flush_onstop"
        | "checker_log_all_failures" | "lvs_notify_fifo" | "lvs_notify_fifo_script" => {
            "tandemd does no load balancing (IPVS); keep a separate IPVS tool"
        }
        "static_ipaddress" | "static_routes" | "static_rules" | "virtual_routes"
        | "virtual_rules" => "tandemd moves addresses only; configure routes and rules on the host or in a notify hook",
        "enable_snmp_vrrp" | "enable_snmp_checker" | "enable_snmp_rfc" | "enable_snmp_rfcv2"
        | "enable_snmp_rfcv3" | "enable_traps" | "snmp_socket" | "enable_dbus"
        | "enable_dbus_get_interface" => {
            "tandemd reports over its control socket and Prometheus metrics (docs/health.md), not SNMP or D-Bus"
        }
        "notify_fifo" | "notify_fifo_script" | "vrrp_notify_fifo" | "vrrp_notify_fifo_script" => {
            "tandemd's event stream (`tandemd events`, docs/control.md) carries every state change"
        }
        "enable_script_security" => "tandemd runs every hook as the user it runs as, and checks as their `user`; keep the scripts owned by root",
        "vrrp_skip_check_adv_addr" | "skip_check_adv_addr" => {
            "tandemd reports adverts whose address list differs but never drops them for it"
        }
        "vrrp_strict" | "strict_mode" => "tandemd follows RFC 9568 always (no unicast or authentication with VRRPv3 is refused by check-config)",
        "vrrp_check_unicast_src" | "check_unicast_src" => {
            "tandemd accepts unicast adverts from the listed unicast_peers only"
        }
        "vrrp_garp_master_refresh" | "garp_master_refresh" | "vrrp_garp_master_refresh_repeat"
        | "garp_master_refresh_repeat" => {
            "tandemd announces on becoming Active and once more after refresh_after, not periodically"
        }
        "vrrp_garp_lower_prio_delay" | "garp_lower_prio_delay" | "vrrp_garp_lower_prio_repeat"
        | "garp_lower_prio_repeat" => "tandemd does not announce again on a lower-priority advert",
        "vmac_xmit_base" => "tandemd sends adverts from the macvlan with the virtual MAC",
        "dont_track_primary" => "tandemd tracks only the interfaces listed in track",
        "debug" | "log_detail" | "vrrp_higher_prio_send_advert" | "higher_prio_send_advert" => {
            "tandemd has no such setting"
        }
        "notify_deleted" | "notify_master_rx_lower_pri" => {
            "tandemd has no such hook; use notify with the state it enters"
        }
        "lvs_sync_daemon_interface_inst" | "mcast_ttl" | "kernel_rx_buf_size" => "tandemd has no such setting",
        "script_security" | "max_auto_priority" | "vrrp_no_swap" | "checker_no_swap"
        | "vrrp_rt_priority" | "vrrp_priority" | "checker_priority" | "bfd_priority"
        | "vrrp_cpu_affinity" | "process_names" | "process_name" | "vrrp_process_name" => {
            "tandemd is one process; use systemd's settings (Nice=, CPUAffinity=) for it"
        }
        "vrrp_iptables" | "vrrp_ipsets" | "vrrp_nftables" | "nftables" | "iptables" => {
            "tandemd installs no firewall rules; allow IP protocol 112 in your firewall"
        }
        "linkbeat_use_polling" | "linkbeat_interfaces" => "tandemd follows link state over netlink",
        "track_process" | "vrrp_track_process" | "track_bfd" | "bfd_instance" => {
            "tandemd has no process or BFD tracking; use a check script"
        }
        _ => return None,
    })
}

impl Cx {
    pub(super) fn note(&mut self, s: &Stmt, what: &str, message: &str) {
        let message = if what.is_empty() {
            message.to_string()
        } else {
            format!("{what}: {message}")
        };
        self.notices.push(Notice {
            file: s.loc.file.clone(),
            line: s.loc.line,
            message,
        });
    }

    /// A statement not carried over, with the reason when it is known.
    pub(super) fn unsupported(&mut self, s: &Stmt, what: &str, key: &str) {
        let why =
            reason(key).unwrap_or("tandemd has no equivalent (or keepalived does not know it)");
        self.note(s, what, &format!("{key:?} is not carried over: {why}"));
    }

    /// A unique tandemd name for a keepalived check name.
    pub(super) fn check_name(&mut self, kname: &str) -> String {
        unique(&mut self.check_names, &sanitize(kname))
    }
}

/// A name of 1 to 64 characters among `A-Z a-z 0-9 _ . -`.
pub(super) fn sanitize(kname: &str) -> String {
    let mut s: String = kname
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    if s.is_empty() {
        s.push('_');
    }
    s
}

pub(super) fn unique(taken: &mut Vec<String>, base: &str) -> String {
    let mut name = base.to_string();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    taken.push(name.clone());
    name
}

/// Argument 0 as a number within `lo..=hi`, or a notice.
pub(super) fn num_arg(cx: &mut Cx, s: &Stmt, what: &str, lo: f64, hi: f64) -> Option<f64> {
    let key = s.key().to_string();
    match s.arg(0).map(str::parse::<f64>) {
        Some(Ok(v)) if v.is_finite() && (lo..=hi).contains(&v) => Some(v),
        Some(_) => {
            let got = s.arg(0).unwrap_or("").to_string();
            cx.note(
                s,
                what,
                &format!("{key:?} {got:?} is not a number from {lo} to {hi}: not carried over"),
            );
            None
        }
        None => {
            cx.note(s, what, &format!("{key:?} has no value: not carried over"));
            None
        }
    }
}

/// Converts a whole configuration.
pub(crate) fn convert(
    stmts: &[Stmt],
    lexed: Vec<Notice>,
    name: &str,
) -> Result<Import, ImportError> {
    let mut cx = Cx {
        notices: lexed,
        notes: Vec::new(),
        script_user: None,
        version: None,
        garp: Garp::default(),
        checks: Vec::new(),
        check_names: Vec::new(),
    };
    // Globals and checks first: instances use them wherever they are.
    for s in stmts {
        match s.key() {
            "global_defs" => global(&mut cx, s),
            "vrrp_script" => {
                if let Some(c) = checks::script(&mut cx, s) {
                    cx.checks.push(c);
                }
            }
            "vrrp_track_file" => {
                if let Some(c) = checks::track_file(&mut cx, s) {
                    cx.checks.push(c);
                }
            }
            _ => {}
        }
    }
    let mut insts: Vec<Inst> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for s in stmts {
        match s.key() {
            "global_defs" | "vrrp_script" | "vrrp_track_file" | "vrrp_sync_group" => {}
            "vrrp_instance" => {
                if let Some(i) = instance(&mut cx, s, &mut names) {
                    insts.push(i);
                }
            }
            k => cx.unsupported(s, "", k),
        }
    }
    let mut groups: Vec<Table> = Vec::new();
    let mut grouped: Vec<String> = Vec::new();
    for s in stmts.iter().filter(|s| s.key() == "vrrp_sync_group") {
        if let Some(g) = sync_group(&mut cx, s, &mut insts, &mut grouped) {
            groups.push(g);
        }
    }
    // A dual-stack instance outside any group: its two halves in one.
    for i in &insts {
        if let (Some(a), Some(b)) = (&i.v4, &i.v6) {
            if grouped.contains(&i.kname) {
                continue;
            }
            let mut g = Table::new("sync_group");
            g.comments.push(format!(
                "vrrp_instance {} had IPv4 and IPv6 addresses: two tandemd instances, failing over together",
                i.kname
            ));
            g.set("name", Val::Str(table_name(a)));
            g.set(
                "instances",
                Val::List(vec![Val::Str(table_name(a)), Val::Str(table_name(b))]),
            );
            groups.push(g);
        }
    }

    let mut tables: Vec<Table> = Vec::new();
    let used: Vec<String> = insts
        .iter()
        .flat_map(|i| i.v4.iter().chain(i.v6.iter()))
        .flat_map(|t| match t.get("track") {
            Some(Val::List(l)) => l
                .iter()
                .filter_map(|e| match e {
                    Val::Inline(f) => {
                        f.iter()
                            .find(|(k, _)| k == "check")
                            .and_then(|(_, v)| match v {
                                Val::Str(s) => Some(s.clone()),
                                _ => None,
                            })
                    }
                    _ => None,
                })
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect();
    for c in &cx.checks {
        if matches!(c.table.get("name"), Some(Val::Str(n)) if used.contains(n)) {
            tables.push(c.table.clone());
        }
    }
    for i in insts {
        tables.extend(i.v4);
        tables.extend(i.v6);
    }
    let instances = tables.iter().filter(|t| t.kind == "instance").count();
    if instances == 0 {
        let notices: Vec<String> = cx.notices.iter().map(ToString::to_string).collect();
        return Err(ImportError::Nothing(if notices.is_empty() {
            name.to_string()
        } else {
            format!("{name}: {}", notices.join("; "))
        }));
    }
    tables.extend(groups);
    let mut header = vec![
        format!("tandemd configuration imported from {name} by `tandemd import keepalived`."),
        "Check it with `tandemd check-config FILE` (docs/migration.md).".to_string(),
    ];
    header.append(&mut cx.notes);
    if !cx.notices.is_empty() {
        header.push(String::new());
        header.push("Not carried over:".to_string());
        header.extend(cx.notices.iter().map(ToString::to_string));
    }
    Ok(Import {
        toml: render(&header, &tables),
        notices: cx.notices,
    })
}

fn table_name(t: &Table) -> String {
    match t.get("name") {
        Some(Val::Str(s)) => s.clone(),
        _ => String::new(),
    }
}

fn global(cx: &mut Cx, s: &Stmt) {
    let what = "global_defs";
    for c in s.children() {
        match c.key() {
            "router_id" => {
                let id = c.arg(0).unwrap_or("").to_string();
                cx.notes.push(format!(
                    "keepalived router_id {id:?}: tandemd names a node by its instances and [sync] unit, not a router id."
                ));
            }
            "vrrp_version" => match c.arg(0) {
                Some("2") => cx.version = Some(2),
                Some("3") => cx.version = Some(3),
                _ => cx.note(c, what, "\"vrrp_version\" must be 2 or 3: not carried over"),
            },
            "vrrp_garp_master_delay" => cx.garp.delay = num_arg(cx, c, what, 0.0, 3600.0),
            "vrrp_garp_master_repeat" => {
                cx.garp.repeat = num_arg(cx, c, what, 0.0, 255.0).map(|v| v as i64)
            }
            "vrrp_garp_interval" => cx.garp.interval = num_arg(cx, c, what, 0.0, 1.0),
            "vrrp_gna_interval" => cx.garp.na_interval = num_arg(cx, c, what, 0.0, 1.0),
            "script_user" => cx.script_user = c.arg(0).map(str::to_string),
            "vrrp_mcast_group4" | "vrrp_mcast_group6" => cx.note(
                c,
                what,
                &format!("{:?} is not carried over: tandemd sends to 224.0.0.18 / ff02::12 (or unicast_peers)", c.key()),
            ),
            k => cx.unsupported(c, what, k),
        }
    }
}

/// A hook's command: keepalived's words, joined for /bin/sh.
pub(super) fn command(s: &Stmt) -> Option<String> {
    let words = &s.words[1..];
    if words.is_empty() {
        return None;
    }
    Some(words.join(" "))
}

fn sync_group(
    cx: &mut Cx,
    s: &Stmt,
    insts: &mut [Inst],
    grouped: &mut Vec<String>,
) -> Option<Table> {
    let Some(kname) = s.arg(0).map(str::to_string) else {
        cx.note(s, "", "vrrp_sync_group without a name: not carried over");
        return None;
    };
    let what = format!("vrrp_sync_group {kname}");
    let mut g = Table::new("sync_group");
    g.set("name", Val::Str(sanitize(&kname)));
    let mut members: Vec<Val> = Vec::new();
    let mut hooks: Vec<(&str, String)> = Vec::new();
    let by_name: HashMap<String, usize> = insts
        .iter()
        .enumerate()
        .map(|(i, x)| (x.kname.clone(), i))
        .collect();
    for c in s.children() {
        match c.key() {
            "group" => {
                for m in c.children() {
                    for w in &m.words {
                        match by_name.get(w.as_str()) {
                            Some(&i) if !grouped.contains(w) => {
                                grouped.push(w.clone());
                                for t in insts[i].v4.iter().chain(insts[i].v6.iter()) {
                                    members.push(Val::Str(table_name(t)));
                                }
                            }
                            Some(_) => cx.note(
                                m,
                                &what,
                                &format!("{w:?} is already in a sync group: not carried over here"),
                            ),
                            None => cx.note(
                                m,
                                &what,
                                &format!("{w:?} is no carried-over vrrp_instance: left out"),
                            ),
                        }
                    }
                }
            }
            "notify" => {
                if let Some(cmd) = command(c) {
                    hooks.push(("notify", cmd));
                }
            }
            "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" => {
                if let Some(cmd) = command(c) {
                    let key = match c.key() {
                        "notify_master" => "notify_active",
                        "notify_backup" => "notify_backup",
                        "notify_fault" => "notify_fault",
                        _ => "notify_stop",
                    };
                    hooks.push((key, cmd));
                }
            }
            "track_script" | "track_file" | "track_interface" => {
                // keepalived applies a group's tracking to every member.
                let file = c.key() == "track_file";
                for r in c.children() {
                    let entry = if c.key() == "track_interface" {
                        Some(Val::Inline(vec![
                            ("interface".into(), Val::Str(r.key().to_string())),
                            ("fault".into(), Val::Bool(true)),
                        ]))
                    } else {
                        match cx
                            .checks
                            .iter()
                            .find(|d| d.kname == r.key() && d.file == file)
                        {
                            // A group's tracking puts the group in Fault.
                            Some(def) if !file => Some(checks::track_entry(def, Some(0)).0),
                            Some(def) => Some(checks::track_entry(def, None).0),
                            None => {
                                cx.note(
                                    r,
                                    &what,
                                    &format!(
                                        "{} {:?}: no check of that name: not carried over",
                                        c.key(),
                                        r.key()
                                    ),
                                );
                                None
                            }
                        }
                    };
                    if r.words.len() > 1 {
                        cx.note(r, &what, &format!("{} {}: a sync group's tracking puts the whole group in Fault; the weight is not carried over", c.key(), r.key()));
                    }
                    let Some(entry) = entry else { continue };
                    for m in &members {
                        let Val::Str(name) = m else { continue };
                        for x in insts.iter_mut() {
                            for t in x.v4.iter_mut().chain(x.v6.iter_mut()) {
                                if table_name(t) == *name {
                                    let mut list = match t.remove("track") {
                                        Some(Val::List(l)) => l,
                                        _ => Vec::new(),
                                    };
                                    list.push(entry.clone());
                                    insert_before_hooks(t, "track", Val::List(list));
                                }
                            }
                        }
                    }
                }
            }
            "smtp_alert" | "global_tracking" | "sync_group_tracking_weight" | "notify_fifo" => {
                let k = c.key().to_string();
                cx.unsupported(c, &what, &k)
            }
            k => {
                let k = k.to_string();
                cx.unsupported(c, &what, &k)
            }
        }
    }
    if members.is_empty() {
        cx.note(s, &what, "has no carried-over member: not carried over");
        return None;
    }
    g.set("instances", Val::List(members));
    for (k, cmd) in &hooks {
        g.set(k, Val::Str(cmd.clone()));
    }
    if hooks.iter().any(|(k, _)| *k == "notify") {
        g.set("notify_args", Val::Str("keepalived".into()));
    }
    Some(g)
}

/// Sets `key` ahead of the notify fields, to keep the field order stable.
fn insert_before_hooks(t: &mut Table, key: &str, v: Val) {
    let at = t
        .fields
        .iter()
        .position(|(k, _)| k.starts_with("notify"))
        .unwrap_or(t.fields.len());
    t.fields.insert(at, (key.to_string(), v));
}
