use std::path::PathBuf;

use clap::{Parser, Subcommand};
use serde_json::Value;

use super::*;
use crate::control::api::{ControlReply, Refusal};
use crate::control::cli::{execute, ClientCommand};
use crate::control::render::sync::tests::status;
use crate::control::tests::{fake, TempDir};

/// The two command groups as main.rs mounts them.
#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    command: Group,
}

#[derive(Debug, Subcommand)]
enum Group {
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    Sync {
        #[command(subcommand)]
        command: SyncCommand,
    },
}

fn parse(args: &[&str]) -> Result<ClientCommand, String> {
    let cli = Cli::try_parse_from(std::iter::once("tandemd").chain(args.iter().copied()))
        .map_err(|e| e.to_string())?;
    Ok(match cli.command {
        Group::Config { command } => ClientCommand::Config(command),
        Group::Sync { command } => ClientCommand::Sync(command),
    })
}

#[test]
fn every_config_and_sync_command_parses_with_its_options() {
    let c = parse(&[
        "config",
        "apply",
        "new.toml",
        "--json",
        "--control-socket",
        "/x.sock",
    ])
    .unwrap();
    let ClientCommand::Config(ConfigCommand::Apply(a)) = c else {
        panic!("{c:?}")
    };
    assert_eq!(a.file, PathBuf::from("new.toml"));
    assert!(a.json);
    assert_eq!(a.socket.path(), PathBuf::from("/x.sock"));
    let c = parse(&["config", "set", "instance.web.priority", "-5", "--local"]).unwrap();
    let ClientCommand::Config(ConfigCommand::Set(a)) = c else {
        panic!("{c:?}")
    };
    assert_eq!(
        (a.key.as_str(), a.value.as_str(), a.local),
        ("instance.web.priority", "-5", true)
    );
    let c = parse(&[
        "config",
        "set",
        "instance.web.addresses",
        "[\"192.0.2.1/24\"]",
    ])
    .unwrap();
    assert!(matches!(c, ClientCommand::Config(ConfigCommand::Set(ref a)) if !a.local && !a.json));
    assert!(matches!(
        parse(&["config", "get", "global.restart_guard"]).unwrap(),
        ClientCommand::Config(ConfigCommand::Get(ref a)) if a.key == "global.restart_guard"
    ));
    assert!(matches!(
        parse(&["config", "unset", "instance.web.preempt_delay", "--local"]).unwrap(),
        ClientCommand::Config(ConfigCommand::Unset(ref a)) if a.local
    ));
    assert!(matches!(
        parse(&["sync", "keygen", "/etc/tandemd/sync.key", "--force"]).unwrap(),
        ClientCommand::Sync(SyncCommand::Keygen(ref a)) if a.force
    ));
    assert!(matches!(
        parse(&["sync", "status", "--json", "--clear"]).unwrap(),
        ClientCommand::Sync(SyncCommand::Status(ref a)) if a.json && a.clear
    ));
    assert!(matches!(
        parse(&["sync", "diff", "--json"]).unwrap(),
        ClientCommand::Sync(SyncCommand::Diff(ref a)) if a.json
    ));
    assert!(matches!(
        parse(&["sync", "force"]).unwrap(),
        ClientCommand::Sync(SyncCommand::Force(ref a)) if !a.json
    ));
    // What is missing or unknown is an error, not a guess.
    for bad in [
        &["config", "set", "instance.web.vrid"][..],
        &["config", "apply"],
        &["sync", "keygen"],
        &["sync", "status", "--bogus"],
        &["sync", "frobnicate"],
    ] {
        assert!(parse(bad).is_err(), "{bad:?} parsed");
    }
}

fn socket_args(dir: &TempDir) -> Vec<String> {
    vec!["--control-socket".into(), dir.sock().display().to_string()]
}

/// Runs `args` against the fake daemon: (stdout, exit status or error).
fn run(dir: &TempDir, args: &[&str]) -> (String, Result<u8, String>) {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(socket_args(dir));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let cmd = parse(&refs).unwrap();
    let mut out = Vec::new();
    let r = execute(&cmd, &mut out).map_err(|e| e.to_string());
    (String::from_utf8(out).unwrap(), r)
}

fn diff() -> Vec<DiffLine> {
    vec![DiffLine {
        object: "instance.web".into(),
        field: "vrid".into(),
        local: Some("51".into()),
        peer: Some("52".into()),
    }]
}

fn daemon(req: &ControlRequest) -> ControlReply {
    let applied = |sync| ControlReply::ConfigApplied {
        stopped: vec![],
        started: vec![],
        unchanged: 1,
        sync,
    };
    match req {
        ControlRequest::ConfigApply { path } if path.ends_with("bad.toml") => {
            ControlReply::Refused(Refusal::Reconfigure(
                "bad.toml:3:7: instance web: vrid 300 is out of range".into(),
            ))
        }
        ControlRequest::ConfigApply { path } if path.ends_with("rejected.toml") => {
            applied(SyncOutcome::Rejected {
                generation: 4,
                code: "invalid".into(),
                path: "instance.web.vrid".into(),
                text: "out of range".into(),
            })
        }
        ControlRequest::ConfigApply { .. } => applied(SyncOutcome::Acked { generation: 3 }),
        ControlRequest::ConfigSet { local: false, .. } => ControlReply::Refused(Refusal::NotActive),
        ControlRequest::ConfigSet { .. } => applied(SyncOutcome::Unchanged),
        ControlRequest::ConfigUnset { .. } => applied(SyncOutcome::Pending { generation: 5 }),
        ControlRequest::ConfigGet { key } if key == "instance.web.vrid" => {
            ControlReply::ConfigValue {
                key: key.clone(),
                value: Some("51".into()),
                class: "shared".into(),
            }
        }
        ControlRequest::ConfigGet { key } => ControlReply::ConfigValue {
            key: key.clone(),
            value: None,
            class: "shared".into(),
        },
        ControlRequest::SyncStatus | ControlRequest::SyncClear => {
            ControlReply::SyncStatus(Box::new(status()))
        }
        ControlRequest::SyncDiff => ControlReply::SyncDiff { entries: diff() },
        ControlRequest::SyncForce => ControlReply::SyncForced {
            epoch: 0xabc,
            generation: 9,
            overwritten: diff(),
        },
        ControlRequest::Status => {
            let mut s = crate::control::render::tests::sample();
            s.sync = Some(status());
            ControlReply::Status(Box::new(s))
        }
        _ => ControlReply::Refused(Refusal::Busy),
    }
}

#[test]
fn config_apply_prints_one_line_and_exits_by_outcome() {
    let dir = TempDir::new();
    let f = fake(&dir.sock(), daemon);
    let (text, r) = run(&dir, &["config", "apply", "/etc/tandemd/new.toml"]);
    assert_eq!(r, Ok(0));
    assert!(
        text.starts_with("applied: generation 3, partner applied (in "),
        "{text}"
    );
    assert!(text.ends_with(" ms)\n"), "{text}");
    let (text, r) = run(&dir, &["config", "apply", "/tmp/rejected.toml"]);
    assert_eq!(r, Ok(3));
    assert_eq!(
        text,
        "refused by the partner: invalid at instance.web.vrid: out of range\n"
    );
    let (text, r) = run(&dir, &["config", "apply", "/tmp/bad.toml"]);
    assert_eq!(r, Ok(2));
    assert_eq!(
        text,
        "refused: configuration unchanged: bad.toml:3:7: instance web: vrid 300 is out of range\n"
    );
    let (text, r) = run(&dir, &["config", "apply", "/tmp/bad.toml", "--json"]);
    assert_eq!(r, Ok(2));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["refusal"], "reconfigure");
    let (text, r) = run(&dir, &["config", "apply", "/tmp/rejected.toml", "--json"]);
    assert_eq!(r, Ok(3));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["sync"]["outcome"], "rejected");
    assert_eq!(v["sync"]["code"], "invalid");
    // A relative file reaches the daemon as an absolute path.
    let _ = run(&dir, &["config", "apply", "relative.toml"]);
    let last = f.requests.lock().unwrap().last().cloned();
    let Some(ControlRequest::ConfigApply { path }) = last else {
        panic!("{last:?}")
    };
    assert!(
        path.is_absolute() && path.ends_with("relative.toml"),
        "{path:?}"
    );
}

#[test]
fn config_set_get_unset_send_their_requests_and_exit_as_documented() {
    let dir = TempDir::new();
    let f = fake(&dir.sock(), daemon);
    let (text, r) = run(&dir, &["config", "set", "instance.web.vrid", "52"]);
    assert_eq!(r, Ok(2));
    assert_eq!(
        text,
        "refused: this unit is the Backup: edit the configuration on the Active (or use --local for a local setting)\n"
    );
    let (text, r) = run(
        &dir,
        &["config", "set", "instance.web.priority", "150", "--local"],
    );
    assert_eq!(r, Ok(0));
    assert!(text.starts_with("applied"), "{text}");
    let (text, r) = run(&dir, &["config", "unset", "instance.web.preempt_delay"]);
    assert_eq!(r, Ok(0));
    assert_eq!(text, "applied here: generation 5; partner pending\n");
    let (text, r) = run(&dir, &["config", "get", "instance.web.vrid"]);
    assert_eq!((text.as_str(), r), ("51\n", Ok(0)));
    let (text, r) = run(&dir, &["config", "get", "instance.web.vrid", "--json"]);
    assert_eq!(r, Ok(0));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"key": "instance.web.vrid", "value": "51", "class": "shared"})
    );
    let (text, r) = run(&dir, &["config", "get", "instance.web.preempt_delay"]);
    assert_eq!(text, "");
    assert_eq!(r, Err("instance.web.preempt_delay is not set".into()));
    let requests = f.requests.lock().unwrap().clone();
    assert_eq!(
        requests[..3],
        [
            ControlRequest::ConfigSet {
                key: "instance.web.vrid".into(),
                value: "52".into(),
                local: false
            },
            ControlRequest::ConfigSet {
                key: "instance.web.priority".into(),
                value: "150".into(),
                local: true
            },
            ControlRequest::ConfigUnset {
                key: "instance.web.preempt_delay".into(),
                local: false
            },
        ]
    );
}

#[test]
fn sync_status_diff_and_force_print_the_documented_forms() {
    let dir = TempDir::new();
    let f = fake(&dir.sock(), daemon);
    let (text, r) = run(&dir, &["sync", "status"]);
    assert_eq!(r, Ok(0));
    assert_eq!(text, crate::control::render_sync_status(&status()));
    let (text, r) = run(&dir, &["sync", "status", "--json", "--clear"]);
    assert_eq!(r, Ok(0));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v, crate::control::sync_status_json(&status()));
    assert_eq!(
        f.requests.lock().unwrap().last(),
        Some(&ControlRequest::SyncClear)
    );
    let (text, _) = run(&dir, &["sync", "diff"]);
    assert_eq!(text, "instance.web\n  vrid: local 51 | partner 52\n");
    let (text, _) = run(&dir, &["sync", "diff", "--json"]);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v[0]["fields"][0]["partner"], "52");
    let (text, r) = run(&dir, &["sync", "force"]);
    assert_eq!(r, Ok(0));
    assert_eq!(
        text,
        "forced: epoch 0000000000000abc generation 9; overwrites on the partner:\n\
         instance.web\n  vrid: local 51 | partner 52\n"
    );
    // status --json carries the same sync object as sync status --json.
    let cmd = ClientCommand::Status(crate::control::cli::StatusArgs {
        json: true,
        socket: crate::control::cli::SocketArg {
            socket: Some(dir.sock()),
        },
    });
    let mut out = Vec::new();
    execute(&cmd, &mut out).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["sync"], crate::control::sync_status_json(&status()));
    assert_eq!(v["instances"][0]["name"], "web");
}

#[test]
fn sync_keygen_needs_no_daemon_and_says_what_it_wrote() {
    let dir = TempDir::new();
    std::fs::create_dir_all(dir.sock().parent().unwrap()).unwrap();
    let key = dir.sock().with_file_name("sync.key");
    let k = key.display().to_string();
    let mut out = Vec::new();
    let cmd = parse(&["sync", "keygen", &k]).unwrap();
    assert_eq!(execute(&cmd, &mut out).map_err(|e| e.to_string()), Ok(0));
    assert_eq!(String::from_utf8(out).unwrap(), format!("wrote {k}\n"));
    let err = execute(&cmd, &mut Vec::new()).unwrap_err().to_string();
    assert!(err.contains("exists"), "{err}");
}
