//! `tandemd import ucarp -- ARGS...`: a ucarp command line to a tandemd
//! file with one CARP instance.
//!
//! Every ucarp option is read, in its long (`--vhid=1`, `--vhid 1`) and
//! short (`-v 1`, `-v1`) forms. The up and down scripts become
//! `notify_active` / `notify_backup` (and `notify_stop` with
//! `--shutdown`) with `notify_args = "ucarp"`, so they get the arguments
//! ucarp gives them: `INTERFACE ADDRESS [XPARAM]`.

use std::net::IpAddr;
use std::path::Path;

use crate::import::out::{render, Table, Val};
use crate::import::{Import, ImportError, Notice};

/// ucarp's options: long name, short letter, takes a value.
const OPTIONS: &[(&str, char, bool)] = &[
    ("interface", 'i', true),
    ("srcip", 's', true),
    ("mcast", 'm', true),
    ("vhid", 'v', true),
    ("pass", 'p', true),
    ("passfile", 'o', true),
    ("preempt", 'P', false),
    ("neutral", 'n', false),
    ("addr", 'a', true),
    ("help", 'h', false),
    ("advbase", 'b', true),
    ("advskew", 'k', true),
    ("upscript", 'u', true),
    ("downscript", 'd', true),
    ("deadratio", 'r', true),
    ("debug", 'D', false),
    ("shutdown", 'z', false),
    ("facility", 'f', true),
    ("daemonize", 'B', false),
    ("ignoreifstate", 'S', false),
    ("nomcast", 'M', false),
    ("xparam", 'x', true),
    ("garpdelay", 'G', true),
];

/// The largest password file read.
const MAX_PASSFILE: u64 = 4096;

fn option(name: &str) -> Option<(&'static str, bool)> {
    OPTIONS
        .iter()
        .find(|(l, _, _)| *l == name)
        .map(|(l, _, v)| (*l, *v))
}

fn short(c: char) -> Option<(&'static str, bool)> {
    OPTIONS
        .iter()
        .find(|(_, s, _)| *s == c)
        .map(|(l, _, v)| (*l, *v))
}

/// The options in order, each with its value.
fn parse(args: &[String]) -> Result<Vec<(&'static str, Option<String>)>, ImportError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let (name, takes, inline) = if let Some(long) = a.strip_prefix("--") {
            let (n, v) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            // getopt_long accepts an unambiguous prefix.
            let found = option(n).or_else(|| {
                let hits: Vec<_> = OPTIONS
                    .iter()
                    .filter(|(l, _, _)| l.starts_with(n))
                    .collect();
                match hits.as_slice() {
                    [(l, _, v)] if !n.is_empty() => Some((*l, *v)),
                    _ => None,
                }
            });
            let Some((name, takes)) = found else {
                return Err(ImportError::Ucarp(format!(
                    "option {a:?} is not a ucarp option"
                )));
            };
            (name, takes, v)
        } else if let Some(s) = a.strip_prefix('-').filter(|s| !s.is_empty()) {
            let mut chars = s.chars();
            let c = chars.next().unwrap_or('-');
            let Some((name, takes)) = short(c) else {
                return Err(ImportError::Ucarp(format!(
                    "option {a:?} is not a ucarp option"
                )));
            };
            let rest: String = chars.collect();
            if !takes && !rest.is_empty() {
                return Err(ImportError::Ucarp(format!(
                    "option {a:?}: write each flag apart (-{c} -{})",
                    rest
                )));
            }
            (name, takes, (!rest.is_empty()).then_some(rest))
        } else {
            return Err(ImportError::Ucarp(format!(
                "argument {a:?} is not an option: ucarp takes options only"
            )));
        };
        let value = match (takes, inline) {
            (true, Some(v)) => Some(v),
            (true, None) => match args.get(i) {
                Some(v) => {
                    i += 1;
                    Some(v.clone())
                }
                None => {
                    return Err(ImportError::Ucarp(format!("--{name} needs a value")));
                }
            },
            (false, Some(_)) => {
                return Err(ImportError::Ucarp(format!("--{name} takes no value")));
            }
            (false, None) => None,
        };
        out.push((name, value));
    }
    Ok(out)
}

/// Converts a ucarp command line (the arguments after `ucarp`).
pub fn import_args(args: &[String]) -> Result<Import, ImportError> {
    let opts = parse(args)?;
    let mut notices = Vec::new();
    let mut note = |m: String| {
        notices.push(Notice {
            file: "ucarp".into(),
            line: 0,
            message: m,
        })
    };
    let mut t = Table::new("instance");
    let (mut interface, mut vhid, mut pass, mut addr) = (None, None, None, None);
    let (mut up, mut down, mut xparam) = (None, None, None);
    let mut preempt = false;
    let mut shutdown = false;
    let mut t_fields: Vec<(&str, Val)> = Vec::new();
    for (name, value) in opts {
        let v = value.unwrap_or_default();
        match name {
            "interface" => interface = Some(v),
            "srcip" => match v.parse::<IpAddr>() {
                Ok(a) => t_fields.push(("source", Val::Str(a.to_string()))),
                Err(_) => return Err(ImportError::Ucarp(format!("--srcip {v:?} is not an address"))),
            },
            "mcast" if v != "224.0.0.18" => {
                note(format!("--mcast={v} is not carried over: tandemd sends CARP adverts to 224.0.0.18 (or to unicast_peers)"));
            }
            "mcast" => {}
            "vhid" => match v.parse::<u8>() {
                Ok(n) if n >= 1 => vhid = Some(n),
                _ => return Err(ImportError::Ucarp(format!("--vhid {v:?} is not 1 to 255"))),
            },
            "pass" => pass = Some(v),
            "passfile" => {
                let bytes = crate::file::read_limited(Path::new(&v), MAX_PASSFILE).map_err(|source| ImportError::Read {
                    path: v.clone(),
                    source,
                })?;
                let text = String::from_utf8_lossy(&bytes);
                let line = text.lines().next().unwrap_or("").to_string();
                note(format!("--passfile={v}: its password is written into the file; keep the file as private as the password file (mode 0600)"));
                pass = Some(line);
            }
            "preempt" => preempt = true,
            "neutral" => note("--neutral is not carried over: tandemd runs notify_backup when it starts in Backup too".into()),
            "addr" => match v.parse::<IpAddr>() {
                Ok(a) => addr = Some(a),
                Err(_) => return Err(ImportError::Ucarp(format!("--addr {v:?} is not an address"))),
            },
            "help" => return Err(ImportError::Ucarp("--help: nothing to convert".into())),
            "advbase" => match v.parse::<u8>() {
                Ok(n) if n >= 1 => t_fields.push(("advbase", Val::Int(n.into()))),
                _ => return Err(ImportError::Ucarp(format!("--advbase {v:?} is not 1 to 255"))),
            },
            "advskew" => match v.parse::<u8>() {
                Ok(n) => t_fields.push(("advskew", Val::Int(n.into()))),
                _ => return Err(ImportError::Ucarp(format!("--advskew {v:?} is not 0 to 255"))),
            },
            "upscript" => up = Some(v),
            "downscript" => down = Some(v),
            "deadratio" if v != "3" => {
                note(format!("--deadratio={v} is not carried over: a tandemd Backup takes over after 3 intervals and the skew"));
            }
            "deadratio" => {}
            "debug" => note("--debug is not carried over: tandemd logs every transition; see `tandemd events`".into()),
            "shutdown" => shutdown = true,
            "facility" => note(format!("--facility={v} is not carried over: tandemd logs to stderr (the journal under systemd)")),
            "daemonize" => note("--daemonize is not carried over: run tandemd under systemd (or with `&`)".into()),
            "ignoreifstate" => note("--ignoreifstate: carried as tandemd's default (it tracks only the interfaces listed in track)".into()),
            "nomcast" => t_fields.push(("broadcast", Val::Bool(true))),
            "xparam" => xparam = Some(v),
            "garpdelay" => note(format!("--garpdelay={v} is not carried over: tandemd announces on becoming Active and again after announce.refresh_after")),
            _ => {}
        }
    }
    let Some(interface) = interface else {
        return Err(ImportError::Ucarp("--interface is required".into()));
    };
    let Some(vhid) = vhid else {
        return Err(ImportError::Ucarp("--vhid is required".into()));
    };
    let Some(addr) = addr else {
        return Err(ImportError::Ucarp("--addr is required".into()));
    };
    let Some(pass) = pass.filter(|p| !p.is_empty()) else {
        return Err(ImportError::Ucarp(
            "--pass or --passfile is required: CARP keys its HMAC with the password".into(),
        ));
    };
    // The command line as given, its password masked where it is an
    // argument or the value of one (`-pX`, `--pass=X`).
    let shown: Vec<String> = args
        .iter()
        .map(|a| {
            if *a == pass {
                "***".to_string()
            } else if a.starts_with('-') && a.len() > pass.len() && a.ends_with(pass.as_str()) {
                format!("{}***", &a[..a.len() - pass.len()])
            } else {
                a.clone()
            }
        })
        .collect();
    t.comments.push(format!("ucarp {}", shown.join(" ")));
    t.comments.push("tandemd adds and removes the address itself (as /32 or /128); up and down scripts that add or remove it too may fail harmlessly: remove those lines from them.".into());
    t.set(
        "name",
        Val::Str(
            format!("ucarp-{interface}-{vhid}")
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                        c
                    } else {
                        '_'
                    }
                })
                .take(64)
                .collect(),
        ),
    );
    t.set("interface", Val::Str(interface));
    t.set("protocol", Val::Str("carp".into()));
    t.set("vrid", Val::Int(vhid.into()));
    t.set("addresses", Val::List(vec![Val::Str(addr.to_string())]));
    t.set("password", Val::Str(pass));
    for (k, v) in t_fields {
        t.set(k, v);
    }
    t.set("preempt", Val::Bool(preempt));
    if let Some(u) = &up {
        t.set("notify_active", Val::Str(u.clone()));
    }
    if let Some(d) = &down {
        t.set("notify_backup", Val::Str(d.clone()));
        if shutdown {
            t.set("notify_stop", Val::Str(d.clone()));
        }
    } else if shutdown {
        note("--shutdown without --downscript does nothing".into());
    }
    if up.is_some() || down.is_some() {
        t.set("notify_args", Val::Str("ucarp".into()));
        if let Some(x) = xparam {
            t.set("notify_xparam", Val::Str(x));
        }
    } else if xparam.is_some() {
        note("--xparam without an up or down script does nothing".into());
    }
    let mut header = vec![
        "tandemd configuration imported from a ucarp command line by `tandemd import ucarp`."
            .to_string(),
        "Check it with `tandemd check-config FILE` (docs/migration.md).".to_string(),
    ];
    if !notices.is_empty() {
        header.push(String::new());
        header.push("Not carried over:".into());
        header.extend(notices.iter().map(ToString::to_string));
    }
    Ok(Import {
        toml: render(&header, &[t]),
        notices,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn long_short_and_prefixed_forms_read_alike() {
        let a = import_args(&args(
            "--interface=eth0 --vhid=7 --pass=s --addr=192.0.2.10",
        ))
        .unwrap();
        let b = import_args(&args("-i eth0 -v7 -p s --addr 192.0.2.10")).unwrap();
        let c = import_args(&args("--interf eth0 --vh 7 --pass s --add=192.0.2.10")).unwrap();
        // The same TOML, but for the comment echoing the command line.
        let body = |t: &str| -> String {
            t.lines()
                .filter(|l| !l.starts_with("# ucarp "))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(body(&a.toml), body(&b.toml));
        assert_eq!(body(&a.toml), body(&c.toml));
        assert!(
            a.toml
                .contains("# ucarp --interface=eth0 --vhid=7 --pass=*** --addr=192.0.2.10"),
            "{}",
            a.toml
        );
        assert!(b.toml.contains("-p *** "), "{}", b.toml);
        assert!(a.toml.contains("preempt = false"), "{}", a.toml);
    }

    #[test]
    fn bad_command_lines_are_refused_with_the_reason() {
        let cases = [
            (
                "--vhid=7 --pass=s --addr=192.0.2.10",
                "ucarp --interface is required",
            ),
            (
                "-i eth0 --vhid=0 --pass=s --addr=192.0.2.10",
                "ucarp --vhid \"0\" is not 1 to 255",
            ),
            (
                "-i eth0 --vhid=1 --addr=192.0.2.10",
                "ucarp --pass or --passfile is required: CARP keys its HMAC with the password",
            ),
            (
                "-i eth0 --bogus",
                "ucarp option \"--bogus\" is not a ucarp option",
            ),
            ("-i", "ucarp --interface needs a value"),
            (
                "eth0",
                "ucarp argument \"eth0\" is not an option: ucarp takes options only",
            ),
            ("--a", "ucarp option \"--a\" is not a ucarp option"),
        ];
        for (line, want) in cases {
            let e = import_args(&args(line)).unwrap_err();
            assert_eq!(e.to_string(), want, "{line}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_arguments_never_panic(v in proptest::collection::vec("[-a-zA-Z0-9=./ ]{0,12}", 0..12)) {
            let _ = import_args(&v);
        }
    }
}
