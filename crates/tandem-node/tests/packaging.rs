//! What the package ships: manual pages and completions generated from
//! the command line, the systemd unit, and the Debian package's asset list
//! (docs/packaging.md). No privileges.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const TANDEMD: &str = env!("CARGO_BIN_EXE_tandemd");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stdout(args: &[&str]) -> String {
    let out = Command::new(TANDEMD).args(args).output().unwrap();
    assert!(out.status.success(), "tandemd {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The top-level commands, from `tandemd --help`.
fn commands() -> BTreeSet<String> {
    let help = stdout(&["--help"]);
    let list = help.split("Commands:").nth(1).unwrap();
    let list = list.split("Options:").next().unwrap();
    let names: BTreeSet<String> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| *w != "help")
        .map(str::to_owned)
        .collect();
    for known in [
        "run",
        "status",
        "sniff",
        "completions",
        "man",
        "check-config",
    ] {
        assert!(names.contains(known), "{known} missing from {names:?}");
    }
    names
}

#[test]
fn a_manual_page_per_command() {
    let dir = std::env::temp_dir().join(format!("tandem-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    stdout(&["man", "--dir", dir.to_str().unwrap()]);
    let main = std::fs::read_to_string(dir.join("tandemd.8")).unwrap();
    assert!(main.contains(".TH tandemd 8"), "{main:.200}");
    for c in commands() {
        let page = std::fs::read_to_string(dir.join(format!("tandemd-{c}.8")))
            .unwrap_or_else(|e| panic!("tandemd-{c}.8: {e}"));
        assert!(page.contains(".SH NAME"), "tandemd-{c}.8 has no NAME");
        let listed = format!("tandemd\\-{}(8)", c.replace('-', "\\-"));
        assert!(main.contains(&listed), "tandemd.8 does not list {c}");
    }
    // Nested commands get their own pages.
    assert!(dir.join("tandemd-config-set.8").is_file());
    assert!(dir.join("tandemd-sync-keygen.8").is_file());
    // Without --dir: tandemd.8 on standard output.
    assert_eq!(stdout(&["man"]), main);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn completions_name_every_command() {
    let cmds = commands();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout(&["completions", shell]);
        for c in &cmds {
            assert!(script.contains(c.as_str()), "{shell} completion lacks {c}");
        }
    }
    let bash = stdout(&["completions", "bash"]);
    assert!(bash.contains("complete -F _tandemd"));
    assert!(bash.contains("--config"), "run's flags are completed");
    let bad = Command::new(TANDEMD)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn the_unit_runs_tandemd_as_a_notify_service_with_a_watchdog() {
    let unit = std::fs::read_to_string(root().join("packaging/systemd/tandemd.service")).unwrap();
    let has = |line: &str| unit.lines().any(|l| l.trim() == line);
    assert!(has("Type=notify"));
    assert!(has("NotifyAccess=main"));
    assert!(unit.lines().any(|l| l.starts_with("WatchdogSec=")));
    assert!(has(
        "ExecStart=/usr/bin/tandemd run --config /etc/tandemd/tandemd.toml"
    ));
    assert!(has("ExecReload=/bin/kill -HUP $MAINPID"));
    // The directories match tandemd's default paths.
    assert!(has("RuntimeDirectory=tandemd"));
    assert!(has("StateDirectory=tandemd"));
    // Raw, packet and netlink sockets stay allowed.
    let families = unit
        .lines()
        .find_map(|l| l.strip_prefix("RestrictAddressFamilies="))
        .unwrap();
    for f in ["AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET", "AF_UNIX"] {
        assert!(
            families.split_whitespace().any(|x| x == f),
            "{f} not allowed"
        );
    }
    let caps = unit
        .lines()
        .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
        .unwrap();
    for c in ["CAP_NET_ADMIN", "CAP_NET_RAW"] {
        assert!(caps.split_whitespace().any(|x| x == c), "{c} not kept");
    }
}

/// Every asset of `[package.metadata.deb]` exists in the tree or is made
/// by scripts/build-deb.sh (under target/).
#[test]
fn every_deb_asset_is_in_the_tree_or_built_by_the_script() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap()).unwrap();
    let deb = &manifest["package"]["metadata"]["deb"];
    let assets = deb["assets"].as_array().unwrap();
    let script = std::fs::read_to_string(root().join("scripts/build-deb.sh")).unwrap();
    let mut dests = Vec::new();
    for a in assets {
        let a = a.as_array().unwrap();
        let src = a[0].as_str().unwrap();
        dests.push(a[1].as_str().unwrap().to_owned());
        if src == "target/release/tandemd" {
            assert!(script.contains("cargo build --release -p tandem-node --bin tandemd"));
            continue;
        }
        if let Some(made) = src.strip_prefix("../../target/deb-assets/") {
            // Made by the script: `man --dir "$assets/man"` or a
            // `completions SHELL >"$assets/completions/NAME"` line.
            let (dir, name) = made.split_once('/').unwrap();
            let ok = match dir {
                "man" => script.contains("man --dir \"$assets/man\""),
                "completions" => script.contains(&format!("\"$assets/completions/{name}\"")),
                _ => false,
            };
            assert!(ok, "{src}: scripts/build-deb.sh does not make it");
            continue;
        }
        // In the tree: the path, or at least one file of the glob.
        let path = crate_dir.join(src);
        if let Some(pattern) = src
            .rsplit_once('/')
            .map(|(_, f)| f)
            .filter(|f| f.contains('*'))
        {
            let dir = path.parent().unwrap();
            let ext = pattern.trim_start_matches('*');
            let n = std::fs::read_dir(dir)
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(ext))
                })
                .count();
            assert!(n > 0, "{src} matches nothing");
        } else {
            assert!(path.is_file(), "{src} is not in the tree");
        }
    }
    assert!(dests.iter().any(|d| d == "lib/systemd/system/"));
    assert!(dests.iter().any(|d| d == "usr/share/man/man8/"));
}
