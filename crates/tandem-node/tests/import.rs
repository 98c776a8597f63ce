//! `tandemd import`: each keepalived.conf under tests/import/keepalived/
//! and each ucarp command line under tests/import/ucarp/ (`NAME.args`)
//! converts to its golden `NAME.toml`, and that output passes
//! `tandemd check-config --no-host`.
//!
//! `UPDATE_GOLDEN=1 cargo test -p tandem-node --test import` rewrites the
//! golden files (review the diff).

use std::path::{Path, PathBuf};
use std::process::Command;

const TANDEMD: &str = env!("CARGO_BIN_EXE_tandemd");

use tandem_node::import::{keepalived, ucarp, Import};

fn inputs(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no inputs in {dir}");
    v
}

fn check_config(toml: &str, name: &str) {
    let dir = std::env::temp_dir().join(format!("tandem-import-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml).unwrap();
    let out = Command::new(TANDEMD)
        .args(["check-config", "--no-host"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: check-config refused the import:\n{}{}\n{toml}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_file(&path);
}

fn golden(input: &Path, got: &Import) {
    let path = input.with_extension("toml");
    let name = input.file_stem().unwrap().to_string_lossy().to_string();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got.toml).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(
        got.toml,
        want,
        "{name}: the import differs from {}",
        path.display()
    );
    // Every notice is in the output's header too.
    for n in &got.notices {
        assert!(
            got.toml.contains(&format!("# {n}")),
            "{name}: {n} is not in the header"
        );
    }
    check_config(&got.toml, &name);
}

#[test]
fn keepalived_configurations_import_to_their_golden_files() {
    for input in inputs("tests/import/keepalived", "conf") {
        let got =
            keepalived::import_file(&input).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
        golden(&input, &got);
    }
}

#[test]
fn ucarp_command_lines_import_to_their_golden_files() {
    for input in inputs("tests/import/ucarp", "args") {
        let line = std::fs::read_to_string(&input).unwrap();
        let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        let got = ucarp::import_args(&args).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
        golden(&input, &got);
    }
}

#[test]
fn the_command_prints_notices_on_stderr_and_writes_the_file() {
    let dir = std::env::temp_dir().join(format!("tandem-import-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_path = dir.join("out.toml");
    let out = Command::new(TANDEMD)
        .args([
            "import",
            "keepalived",
            "tests/import/keepalived/basic.conf",
            "-o",
        ])
        .arg(&out_path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tests/import/keepalived/basic.conf:22: vrrp_instance VI_1: \"smtp_alert\" is not carried over: tandemd sends no mail; use a notify hook"),
        "{stderr}"
    );
    let written = std::fs::read_to_string(&out_path).unwrap();
    assert!(written.contains("[[instance]]"));

    let out = Command::new(TANDEMD)
        .args([
            "import",
            "ucarp",
            "--",
            "--interface=eth0",
            "--vhid=3",
            "--pass=x",
            "--addr=192.0.2.3",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("protocol = \"carp\""));

    let out = Command::new(TANDEMD)
        .args(["import", "keepalived", "/nonexistent/keepalived.conf"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .starts_with("tandemd import: cannot read /nonexistent/keepalived.conf: "));
    let _ = std::fs::remove_dir_all(&dir);
}
