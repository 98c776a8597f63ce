//! Tests of what the configuration accepts as a file (regular files of
//! at most `MAX_CONFIG_BYTES`, UTF-8) and as names, and of the checks
//! between instances on larger files.

use std::path::{Path, PathBuf};

use super::*;
use crate::file::{FileError, FileKind};

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tandem-cfgfile-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn err(text: &str) -> String {
    match parse(text) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

const GOOD: &str =
    "[[instance]]\ninterface = \"eth0\"\nvrid = 51\naddresses = [\"192.0.2.100/24\"]\n";

#[test]
fn dev_zero_is_refused_by_load_and_check_config() {
    let e = load(Path::new("/dev/zero")).unwrap_err();
    assert!(
        matches!(
            &e,
            ConfigError::Read {
                source: FileError::NotRegular {
                    kind: FileKind::CharDevice
                },
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "cannot read /dev/zero: it is a character device, not a regular file"
    );
    let r = check_file(Path::new("/dev/zero"), None);
    assert_eq!(
        render_human(&r),
        "cannot read /dev/zero: it is a character device, not a regular file\n/dev/zero: 1 error\n"
    );
}

#[test]
fn a_fifo_is_refused_without_waiting_for_a_writer() {
    let dir = scratch("fifo");
    let fifo = dir.join("tandemd.toml");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let e = load(&fifo).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "cannot read {}: it is a FIFO, not a regular file",
            fifo.display()
        )
    );
    assert!(!check_file(&fifo, None).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_over_the_limit_is_refused() {
    let dir = scratch("large");
    let path = dir.join("big.toml");
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(MAX_CONFIG_BYTES + 1).unwrap();
    drop(f);
    let e = load(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "cannot read {}: it is {} bytes, more than the limit of {MAX_CONFIG_BYTES} bytes",
            path.display(),
            MAX_CONFIG_BYTES + 1
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_that_is_not_utf8_says_where() {
    let dir = scratch("utf8");
    let path = dir.join("bad.toml");
    let mut bytes = GOOD.as_bytes().to_vec();
    bytes.extend_from_slice(b"name = \"w\xffb\"\n");
    std::fs::write(&path, &bytes).unwrap();
    let e = load(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:5:10: not UTF-8 text: byte 0xff cannot start or continue a character here; save the file as UTF-8",
            path.display()
        )
    );
    let json: serde_json::Value =
        serde_json::from_str(&render_json(&check_file(&path, None))).unwrap();
    assert_eq!(json["errors"][0]["line"], 5);
    assert_eq!(json["errors"][0]["column"], 10);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn instance_names_are_restricted() {
    let with = |name: &str| format!("{GOOD}name = {name}\n");
    assert!(parse(&with("\"web-1.dmz_A\"")).is_ok());
    assert!(parse(&with(&format!("\"{}\"", "a".repeat(64)))).is_ok());
    assert_eq!(
        err(&with("\"web\\u001b[2J\"")),
        "line 5, column 8: instance \"web\\u{1b}[2J\".name: \"web\\u{1b}[2J\" is not a valid name: character 4 ('\\u{1b}') is not allowed; a name is 1 to 64 characters among A-Z, a-z, 0-9, '_', '.' and '-'"
    );
    assert_eq!(
        err(&with("\"a\\nb\"")),
        "line 5, column 8: instance \"a\\nb\".name: \"a\\nb\" is not a valid name: character 2 ('\\n') is not allowed; a name is 1 to 64 characters among A-Z, a-z, 0-9, '_', '.' and '-'"
    );
    assert!(err(&with("\"web server\"")).contains("character 4 (' ') is not allowed"));
    assert!(err(&with("\"wéb\"")).contains("character 2 ('é') is not allowed"));
    let long = "a".repeat(65);
    assert!(err(&with(&format!("\"{long}\"")))
        .contains("is not a valid name: it is 65 characters long, more than 64;"));
    assert_eq!(
        err(&with("\"\"")),
        "line 5, column 8: instance \"\".name: a name cannot be empty"
    );
}

#[test]
fn sync_group_names_are_restricted() {
    let text =
        format!("{GOOD}[[sync_group]]\nname = \"fw\\u0007\"\ninstances = [\"eth0-51-ipv4\"]\n");
    assert_eq!(
        err(&text),
        "line 6, column 8: sync_group \"fw\\u{7}\".name: \"fw\\u{7}\" is not a valid name: character 3 ('\\u{7}') is not allowed; a name is 1 to 64 characters among A-Z, a-z, 0-9, '_', '.' and '-'"
    );
}

#[test]
fn interface_names_take_no_control_character() {
    let text =
        "[[instance]]\ninterface = \"eth\\u001b0\"\nvrid = 51\naddresses = [\"192.0.2.100/24\"]\n";
    assert_eq!(
        err(text),
        "line 2, column 13: instance[0].interface: \"eth\\u{1b}0\" is not a Linux interface name: it contains a control character"
    );
    let flags = RunFlags {
        interface: Some("eth\u{9b}0".into()),
        vrid: Some(1),
        addresses: vec!["192.0.2.1".into()],
        ..RunFlags::default()
    };
    assert_eq!(
        from_flags(&flags).unwrap_err().to_string(),
        "--interface: \"eth\\u{9b}0\" is not a Linux interface name: it contains a control character"
    );
}

/// The checks between instances name the same earlier instance as a
/// comparison with each earlier instance in file order: the earliest one
/// sharing an address, then the first shared address.
#[test]
fn shared_address_names_the_earliest_instance() {
    let text = "[[instance]]\nname = \"a\"\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"192.0.2.1\"]\n\
                [[instance]]\nname = \"b\"\ninterface = \"eth0\"\nvrid = 2\naddresses = [\"192.0.2.2\"]\n\
                [[instance]]\nname = \"c\"\ninterface = \"eth0\"\nvrid = 3\naddresses = [\"192.0.2.2\", \"192.0.2.1\"]\n";
    assert_eq!(
        err(text),
        "line 15, column 27: instance \"c\".addresses[1]: 192.0.2.1 is also a virtual address of instance \"a\" on eth0: two virtual routers would fight over it"
    );
}

/// Every error of a large file, with the line and column of each.
#[test]
fn many_errors_keep_their_locations() {
    let mut text = String::new();
    for i in 0..2000 {
        text.push_str(&format!(
            "[[instance]]\nname = \"i{i}\"\ninterface = \"e0\"\nvrid = {}\naddresses = [\"192.0.2.{}\"]\n",
            i % 300 + 1,
            i % 250 + 1
        ));
    }
    let errors = parse_all(&text).unwrap_err();
    // Instances 250..=299 share addresses with 0..=49; 300.. repeat VRIDs,
    // the first VRID error coming before the address one.
    assert_eq!(errors.len(), 2000 - 250);
    assert_eq!(
        errors[0].to_string(),
        "line 1255, column 14: instance \"i250\".addresses[0]: 192.0.2.1 is also a virtual address of instance \"i0\" on e0: two virtual routers would fight over it"
    );
    assert_eq!(
        errors[50].to_string(),
        "line 1504, column 8: instance \"i300\".vrid: VRID 1 on e0 (IPv4) is already used by instance \"i0\": VRRP and CARP share IP protocol 112, so each interface and family takes a VRID (VHID) once"
    );
    let last = errors.last().unwrap().to_string();
    assert!(
        last.starts_with("line 9999, column 8: instance \"i1999\".vrid"),
        "{last}"
    );
}

#[test]
fn by_name_finds_every_instance() {
    let text =
        "[[instance]]\nname = \"a\"\ninterface = \"eth0\"\nvrid = 1\naddresses = [\"192.0.2.1\"]\n\
                [[instance]]\ninterface = \"eth0\"\nvrid = 2\naddresses = [\"192.0.2.2\"]\n";
    let c = parse(text).unwrap();
    let map = c.by_name();
    assert_eq!(map.len(), 2);
    assert_eq!(map["a"].election.vrid.get(), 1);
    assert_eq!(map["eth0-2-ipv4"], c.instance("eth0-2-ipv4").unwrap());
}
