//! `vrrp_instance` to `[[instance]]` tables (one per address family),
//! with its addresses, tracking, authentication, announcements and hooks.

use std::net::IpAddr;

use super::checks;
use super::convert::{command, num_arg, sanitize, unique, Cx, Inst};
use super::lexer::Stmt;
use crate::import::out::{Table, Val};

/// One parsed virtual address.
struct Vaddr {
    text: String,
    ip: IpAddr,
}

fn vaddrs(cx: &mut Cx, block: &Stmt, what: &str, interface: Option<&str>) -> Vec<Vaddr> {
    let mut out = Vec::new();
    for a in block.children() {
        let first = a.key();
        let (ip, prefix) = match first.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (first, None),
        };
        let Ok(ip) = ip.parse::<IpAddr>() else {
            cx.note(
                a,
                what,
                &format!("{first:?} is not an address: not carried over"),
            );
            continue;
        };
        let mut text = ip.to_string();
        if let Some(p) = prefix {
            match p.parse::<u8>() {
                Ok(p) => text = format!("{ip}/{p}"),
                Err(_) => {
                    cx.note(
                        a,
                        what,
                        &format!("{first:?}: the prefix is not a number: not carried over"),
                    );
                    continue;
                }
            }
        }
        let mut i = 1;
        while i < a.words.len() {
            let opt = a.words[i].as_str();
            let value = a.words.get(i + 1).map(String::as_str);
            match opt {
                "dev" if value.is_some() && value != interface => {
                    cx.note(a, what, &format!("{text} \"dev {}\": tandemd puts an instance's addresses on its interface; make an instance on {} for it", value.unwrap_or(""), value.unwrap_or("")));
                }
                "dev" => {}
                "brd" | "broadcast" => cx.note(a, what, &format!("{text} \"{opt}\" is not carried over: the kernel derives the broadcast address from the prefix")),
                "scope" => cx.note(a, what, &format!("{text} \"scope {}\" is not carried over: tandemd adds addresses with global scope", value.unwrap_or(""))),
                "label" => cx.note(a, what, &format!("{text} \"label {}\" is not carried over: tandemd adds addresses without a label", value.unwrap_or(""))),
                "no_track" | "home" | "-nodad" | "nodad" | "noprefixroute" | "autojoin" => {
                    cx.note(a, what, &format!("{text} \"{opt}\" is not carried over"));
                    i += 1;
                    continue;
                }
                _ => cx.note(a, what, &format!("{text} \"{opt}\" is not carried over")),
            }
            i += 2;
        }
        out.push(Vaddr { text, ip });
    }
    out
}

pub(super) fn instance(cx: &mut Cx, s: &Stmt, names: &mut Vec<String>) -> Option<Inst> {
    let Some(kname) = s.arg(0).map(str::to_string) else {
        cx.note(s, "", "vrrp_instance without a name: not carried over");
        return None;
    };
    let what = format!("vrrp_instance {kname}");
    let mut t = Table::new("instance");
    let mut comments = Vec::new();
    let mut interface = None;
    let mut vrid = None;
    let mut priority: i64 = 100;
    let mut priority_given = false;
    let mut version = cx.version;
    let mut interval = None;
    let mut preempt = true;
    let mut garp = cx.garp.clone();
    let mut addrs: Vec<Vaddr> = Vec::new();
    let mut source: Option<IpAddr> = None;
    let mut peers: Vec<IpAddr> = Vec::new();
    let mut tracks: Vec<Val> = Vec::new();
    let mut raise: i64 = 0;
    let mut auth: Option<(String, String)> = None;
    let mut hooks: Vec<(&str, String)> = Vec::new();
    let mut rest: Vec<&Stmt> = Vec::new();
    let mut checksum_stmt: Option<&Stmt> = None;
    // `interface` first: address options compare against it.
    for c in s.children() {
        if c.key() == "interface" {
            interface = c.arg(0).map(str::to_string);
        }
    }
    for c in s.children() {
        match c.key() {
            "interface" => {}
            "state" => {
                let st = c.arg(0).unwrap_or("");
                comments.push(format!("keepalived state {st}: tandemd starts every instance in Backup; the priority decides which node becomes Active."));
            }
            "virtual_router_id" => vrid = num_arg(cx, c, &what, 1.0, 255.0).map(|v| v as i64),
            "priority" => {
                if let Some(p) = num_arg(cx, c, &what, 1.0, 255.0) {
                    priority = p as i64;
                    priority_given = true;
                }
            }
            "advert_int" => interval = num_arg(cx, c, &what, 0.01, 255.0),
            "version" => match c.arg(0) {
                Some("2") => version = Some(2),
                Some("3") => version = Some(3),
                _ => cx.note(c, &what, "\"version\" must be 2 or 3: not carried over"),
            },
            "nopreempt" => preempt = false,
            "preempt" => preempt = true,
            "preempt_delay" => {
                if let Some(d) = num_arg(cx, c, &what, 0.0, 1000.0) {
                    t.set("preempt_delay", Val::Num(d));
                }
            }
            "virtual_ipaddress" => addrs.extend(vaddrs(cx, c, &what, interface.as_deref())),
            "virtual_ipaddress_excluded" => {
                let ex = vaddrs(cx, c, &what, interface.as_deref());
                if !ex.is_empty() {
                    comments.push("keepalived virtual_ipaddress_excluded: carried as addresses (tandemd advertises every address; the peers' lists then differ, which is reported, not refused).".into());
                }
                addrs.extend(ex);
            }
            "unicast_src_ip" | "mcast_src_ip" => match c.arg(0).map(str::parse::<IpAddr>) {
                Some(Ok(a)) => source = Some(a),
                _ => cx.note(
                    c,
                    &what,
                    &format!("{:?} needs an address: not carried over", c.key()),
                ),
            },
            "unicast_peer" => {
                for p in c.children() {
                    match p.key().parse::<IpAddr>() {
                        Ok(a) => peers.push(a),
                        Err(_) => cx.note(
                            p,
                            &what,
                            &format!(
                                "unicast_peer {:?} is not an address: not carried over",
                                p.key()
                            ),
                        ),
                    }
                    if p.words.len() > 1 {
                        cx.note(p, &what, &format!("unicast_peer {}: the options after the address are not carried over", p.key()));
                    }
                }
            }
            "track_interface" => {
                for i in c.children() {
                    let name = i.key().to_string();
                    let w = match (i.arg(0), i.arg(1).map(str::parse::<i64>)) {
                        (Some("weight"), Some(Ok(w))) if (-254..=254).contains(&w) => w,
                        (None, _) => 0,
                        _ => {
                            cx.note(i, &what, &format!("track_interface {name}: only \"weight N\" is carried over; tracked with fault = true"));
                            0
                        }
                    };
                    let mut e = vec![("interface".to_string(), Val::Str(name))];
                    match w {
                        0 => e.push(("fault".into(), Val::Bool(true))),
                        w if w < 0 => e.push(("weight".into(), Val::Int(-w))),
                        w => {
                            raise += w;
                            e.push(("weight".into(), Val::Int(w)));
                        }
                    }
                    tracks.push(Val::Inline(e));
                }
            }
            "track_script" | "track_file" => {
                let file = c.key() == "track_file";
                for r in c.children() {
                    let w = match (r.arg(0), r.arg(1).map(str::parse::<i64>)) {
                        (Some("weight"), Some(Ok(w))) => Some(w),
                        (None, _) => None,
                        _ => {
                            cx.note(
                                r,
                                &what,
                                &format!(
                                    "{} {}: only \"weight N\" is carried over",
                                    c.key(),
                                    r.key()
                                ),
                            );
                            None
                        }
                    };
                    if r.words.iter().any(|w| w == "reverse") {
                        cx.note(
                            r,
                            &what,
                            &format!("{} {}: \"reverse\" is not carried over", c.key(), r.key()),
                        );
                    }
                    match cx
                        .checks
                        .iter()
                        .find(|d| d.kname == r.key() && d.file == file)
                    {
                        Some(def) => {
                            let (e, up) = checks::track_entry(def, w);
                            if up > 0 {
                                comments.push(format!("keepalived {} {} weight +{up} (raise the priority while it passes): priority raised by {up}, lowered by {up} while it fails.", c.key(), r.key()));
                            }
                            raise += up;
                            tracks.push(e);
                        }
                        None => cx.note(
                            r,
                            &what,
                            &format!(
                                "{} {:?}: no {} of that name: not carried over",
                                c.key(),
                                r.key(),
                                if file {
                                    "vrrp_track_file"
                                } else {
                                    "vrrp_script"
                                }
                            ),
                        ),
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
            "authentication" => {
                let mut kind = String::from("PASS");
                let mut pass = None;
                for a in c.children() {
                    match a.key() {
                        "auth_type" => kind = a.arg(0).unwrap_or("").to_ascii_uppercase(),
                        "auth_pass" => pass = a.arg(0).map(str::to_string),
                        k => cx.unsupported(a, &what, k),
                    }
                }
                match pass {
                    Some(p) => {
                        if p.len() > 8 {
                            cx.note(c, &what, "auth_pass is longer than 8 bytes: keepalived uses the first 8, and so does the import");
                        }
                        auth = Some((kind, p))
                    }
                    None => cx.note(
                        c,
                        &what,
                        "\"authentication\" without auth_pass: not carried over",
                    ),
                }
            }
            "use_vmac" => {
                t.set("vmac", Val::Bool(true));
                if let Some(n) = c.arg(0) {
                    cx.note(c, &what, &format!("use_vmac's name {n:?} is not carried over: tandemd names the macvlan itself"));
                }
            }
            "garp_master_delay" => garp.delay = num_arg(cx, c, &what, 0.0, 3600.0),
            "garp_master_repeat" => {
                garp.repeat = num_arg(cx, c, &what, 0.0, 255.0).map(|v| v as i64)
            }
            "garp_interval" => garp.interval = num_arg(cx, c, &what, 0.0, 1.0),
            "gna_interval" => garp.na_interval = num_arg(cx, c, &what, 0.0, 1.0),
            // keepalived's VRRPv3 IPv4 checksum covers the pseudo-header
            // unless this is set (true, or no argument).
            "v3_checksum_as_v2" => {
                checksum_stmt = Some(c);
                match c.arg(0) {
                    None | Some("true" | "on" | "yes") => {
                        t.set("checksum", Val::Str("rfc9568".into()))
                    }
                    Some("false" | "off" | "no") => {
                        t.set("checksum", Val::Str("ipv4-pseudo-header".into()))
                    }
                    Some(_) => cx.note(
                        c,
                        &what,
                        "\"v3_checksum_as_v2\" takes true or false: not carried over",
                    ),
                }
            }
            "accept" => t.set("accept", Val::Bool(true)),
            "no_accept" => t.set("accept", Val::Bool(false)),
            "native_ipv6" => comments.push(
                "keepalived native_ipv6: the IPv6 addresses make the instance an IPv6 one.".into(),
            ),
            _ => rest.push(c),
        }
    }
    for c in rest {
        let k = c.key().to_string();
        cx.unsupported(c, &what, &k);
    }
    let (Some(interface), Some(vrid)) = (interface, vrid) else {
        cx.note(
            s,
            &what,
            "has no interface or no virtual_router_id: not carried over",
        );
        return None;
    };
    if addrs.is_empty() {
        cx.note(s, &what, "has no virtual_ipaddress: not carried over");
        return None;
    }
    if raise > 0 {
        let raised = priority + raise;
        if raised > 254 {
            cx.note(s, &what, &format!("priority {priority} plus the positive weights {raise} is {raised}, above 254: set to 254 (the tracked weights no longer add up as in keepalived)"));
        }
        priority = raised.min(254);
        priority_given = true;
    }
    if priority == 255 {
        comments.push("priority 255: this node owns the addresses; tandemd checks at start that they are on the interface.".into());
    }
    let base = sanitize(&kname);
    let (v4, v6): (Vec<Vaddr>, Vec<Vaddr>) = addrs.into_iter().partition(|a| a.ip.is_ipv4());
    let mut make = |family6: bool, list: Vec<Vaddr>, suffix: &str| -> Table {
        let mut x = Table::new("instance");
        x.comments = comments.clone();
        x.set("name", Val::Str(unique(names, &format!("{base}{suffix}"))));
        x.set("interface", Val::Str(interface.clone()));
        let v = if family6 { 3 } else { version.unwrap_or(2) };
        x.set("protocol", Val::Str(format!("vrrp{v}")));
        x.set("vrid", Val::Int(vrid));
        if priority_given || priority != 100 {
            x.set("priority", Val::Int(priority));
        }
        if let Some(i) = interval {
            let i = if v == 2 {
                i.round().max(1.0)
            } else {
                (i * 100.0).round() / 100.0
            };
            x.set("interval", Val::Num(i));
        }
        // IPv6 VRRPv3 lists the link-local virtual address first.
        let mut list = list;
        list.sort_by_key(
            |a| !matches!(a.ip, IpAddr::V6(v) if (v.segments()[0] & 0xffc0) == 0xfe80),
        );
        x.set(
            "addresses",
            Val::List(list.into_iter().map(|a| Val::Str(a.text)).collect()),
        );
        if !preempt {
            x.set("preempt", Val::Bool(false));
        }
        // The checksum form is VRRPv3-over-IPv4's alone.
        for (k, val) in &t.fields {
            if !((family6 || v == 2) && k == "checksum") {
                x.set(k, val.clone());
            }
        }
        if let Some(src) = source.filter(|a| a.is_ipv6() == family6) {
            x.set("source", Val::Str(src.to_string()));
        }
        let fam: Vec<Val> = peers
            .iter()
            .filter(|a| a.is_ipv6() == family6)
            .map(|a| Val::Str(a.to_string()))
            .collect();
        if !fam.is_empty() {
            x.set("unicast_peers", Val::List(fam));
            if family6 {
                // keepalived's IPv6 unicast adverts carry hop limit 64.
                let exempt: Vec<Val> = peers
                    .iter()
                    .filter(|a| a.is_ipv6())
                    .map(|a| Val::Str(a.to_string()))
                    .collect();
                x.set("ttl_exempt", Val::List(exempt));
            }
        }
        if v == 2 {
            if let Some((kind, pass)) = &auth {
                let mut p = pass.clone();
                if p.len() > 8 {
                    let mut cut = 8;
                    while !p.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    p.truncate(cut);
                }
                x.set(
                    "auth",
                    Val::Str(if kind == "AH" { "ah" } else { "pass" }.into()),
                );
                x.set("password", Val::Str(p));
            }
        }
        let spacing = if family6 {
            garp.na_interval
        } else {
            garp.interval
        };
        let mut ann = Vec::new();
        if let Some(r) = garp.repeat {
            ann.push(("repeat".to_string(), Val::Int(r)));
        }
        if let Some(sp) = spacing {
            ann.push(("spacing".to_string(), Val::Num(sp)));
        }
        if let Some(d) = garp.delay {
            ann.push(("refresh_after".to_string(), Val::Num(d)));
        }
        if !ann.is_empty() {
            x.set("announce", Val::Inline(ann));
        }
        if !tracks.is_empty() {
            x.set("track", Val::List(tracks.clone()));
        }
        for (k, cmd) in &hooks {
            x.set(k, Val::Str(cmd.clone()));
        }
        if hooks.iter().any(|(k, _)| *k == "notify") {
            x.set("notify_args", Val::Str("keepalived".into()));
        }
        x
    };
    let has4 = !v4.is_empty();
    let has6 = !v6.is_empty();
    let t4 = has4.then(|| make(false, v4, ""));
    let t6 = has6.then(|| make(true, v6, if has4 { "-v6" } else { "" }));
    if let (Some(_), Some(_)) = (&t4, &t6) {
        cx.note(s, &what, "has IPv4 and IPv6 addresses: carried as two instances (IPv4 and IPv6, the same VRID) in one sync group; a keepalived peer advertises only the first family, so pair the IPv6 instance with a tandemd peer or a keepalived instance of its own");
    }
    if let (Some(c), true, 2) = (checksum_stmt, has4, version.unwrap_or(2)) {
        cx.note(c, &what, "\"v3_checksum_as_v2\" is not carried over: it applies to VRRPv3, and this instance runs VRRPv2");
    }
    if let (Some(_), None) = (&t4, &t6) {
        if auth.is_some() && version == Some(3) {
            cx.note(s, &what, "\"authentication\" is not carried over: VRRPv3 has no authentication (keepalived ignores it too)");
        }
    }
    Some(Inst {
        kname,
        v4: t4,
        v6: t6,
    })
}
