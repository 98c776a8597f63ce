//! The sync adapter on fake hosts (no root): two Nodes wired back to back
//! (adverts and the sync connection's bytes moved between their hosts),
//! and the configuration requests of a unit without `[sync]`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use tandem_config_sync::channel::Key;
use tandem_election::{Instant, State};

use crate::control::api::{ControlReply, ControlRequest, Refusal, SyncOutcome};
use crate::drive::fake::FakeHost;
use crate::node::sync::SyncEvent;
use crate::node::{EventKind, Input, Node, NodeSettings, Output, SyncSide};

const CONFIG: &str = "/etc/tandemd.toml";
const KEY: &str = "/etc/tandemd/sync.key";

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Unit `unit`'s file: instance web (VRID `vrid`, `priority`, `extra`
/// lines in the instance), `[sync]` to the other unit.
fn unit_text(unit: &str, priority: u8, vrid: u8, extra: &str) -> String {
    let (me, peer) = if unit == "a" {
        ("192.0.2.1", "192.0.2.2")
    } else {
        ("192.0.2.2", "192.0.2.1")
    };
    format!(
        "[global]\nstate_dir = \"/var/lib/tandemd-{unit}\"\n\n\
         [[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = {vrid}\npriority = {priority}\n\
         addresses = [\"192.0.2.100/24\"]\n{extra}\n\
         [sync]\nunit = \"{unit}\"\ncluster = \"lab\"\nlisten = \"{me}\"\npeer = \"{peer}\"\n\
         key_file = \"{KEY}\"\n"
    )
}

struct Unit {
    node: Node,
    host: FakeHost,
    /// Outputs already looked at.
    seen: usize,
    address: &'static str,
    dialing: bool,
}

impl Unit {
    fn new(text: &str, address: &'static str) -> Unit {
        let mut host = FakeHost::new();
        host.primaries.insert("web".into(), ip(address));
        host.config_path = Some(CONFIG.into());
        host.files.insert(CONFIG.into(), text.to_string());
        host.files
            .insert(KEY.into(), Key::from_bytes([7; 32]).to_file());
        let file = host.config_file(Path::new(CONFIG), Path::new(CONFIG));
        host.push(Input::ConfigureFile {
            at: Instant::ZERO,
            file: file.map(Box::new),
            reply: None,
            wait_partner: false,
        });
        Unit {
            node: Node::new(NodeSettings::default()),
            host,
            seen: 0,
            address,
            dialing: false,
        }
    }

    fn file(&self) -> &str {
        &self.host.files[Path::new(CONFIG)]
    }

    fn sync_events(&self) -> Vec<SyncEvent> {
        self.host
            .outputs
            .iter()
            .filter_map(|(_, o)| match o {
                Output::Event(e) => match &e.kind {
                    EventKind::Sync(s) => Some(s.clone()),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    fn replies(&self) -> Vec<ControlReply> {
        self.host
            .outputs
            .iter()
            .filter_map(|(_, o)| match o {
                Output::Reply { reply, .. } => Some(reply.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Two units back to back: a (priority 200) and b (100).
struct Pair {
    a: Unit,
    b: Unit,
    now: Instant,
    connected: bool,
    /// The sync connection is cut and not reopened.
    cut: bool,
}

impl Pair {
    fn new(a: &str, b: &str) -> Pair {
        Pair {
            a: Unit::new(a, "192.0.2.1"),
            b: Unit::new(b, "192.0.2.2"),
            now: Instant::ZERO,
            connected: false,
            cut: false,
        }
    }

    /// Runs both in 10 ms slices to `until`, moving adverts and sync bytes.
    fn run_to(&mut self, until: Instant) {
        while self.now < until {
            self.now = self.now + std::time::Duration::from_millis(10);
            let t = self.now;
            self.a.host.run_until(&mut self.a.node, t).unwrap();
            self.b.host.run_until(&mut self.b.node, t).unwrap();
            let from_a = take(&mut self.a);
            let from_b = take(&mut self.b);
            let mut closed = false;
            for (from, to) in [(&from_a, &mut self.b), (&from_b, &mut self.a)] {
                deliver(from, to, t, &mut closed);
            }
            if closed && self.connected {
                self.connected = false;
            }
            if !self.connected && !self.cut && (self.a.dialing || self.b.dialing) {
                let (dialer, other) = if self.a.dialing {
                    (&mut self.a, &mut self.b)
                } else {
                    (&mut self.b, &mut self.a)
                };
                dialer.host.push(Input::SyncConnected {
                    at: t,
                    side: SyncSide::Initiator,
                });
                other.host.push(Input::SyncConnected {
                    at: t,
                    side: SyncSide::Responder,
                });
                self.connected = true;
            }
        }
    }
}

impl Pair {
    /// Cuts the sync connection (both hosts see it close) until `heal`.
    fn cut(&mut self) {
        self.cut = true;
        if self.connected {
            self.connected = false;
            for u in [&mut self.a, &mut self.b] {
                u.host.push(Input::SyncClosed {
                    at: self.now,
                    reason: "cut".into(),
                });
            }
        }
    }

    fn heal(&mut self) {
        self.cut = false;
    }
}

/// What one unit sent since last time: adverts, sync bytes, closes.
struct Sent {
    adverts: Vec<(IpAddr, Vec<u8>)>,
    bytes: Vec<Vec<u8>>,
    closed: bool,
}

fn take(u: &mut Unit) -> Sent {
    let mut sent = Sent {
        adverts: Vec::new(),
        bytes: Vec::new(),
        closed: false,
    };
    for (_, o) in &u.host.outputs[u.seen..] {
        match o {
            Output::SendAdvert { dst, bytes, .. } => sent.adverts.push((*dst, bytes.clone())),
            Output::SyncTransmit { bytes } => sent.bytes.push(bytes.clone()),
            Output::SyncClose { .. } | Output::SyncStop => sent.closed = true,
            Output::SyncDial { peer } => u.dialing = peer.is_some(),
            _ => {}
        }
    }
    u.seen = u.host.outputs.len();
    sent
}

fn deliver(from: &Sent, to: &mut Unit, t: Instant, closed: &mut bool) {
    let src = if to.address == "192.0.2.1" {
        "192.0.2.2"
    } else {
        "192.0.2.1"
    };
    if let Some(socket) = to.host.socket_of("eth0") {
        for (dst, bytes) in &from.adverts {
            to.host.push(Input::Advert {
                at: t,
                socket,
                src: ip(src),
                dst: *dst,
                ttl: 255,
                bytes: bytes.clone(),
            });
        }
    }
    for bytes in &from.bytes {
        to.host.push(Input::SyncReceived {
            at: t,
            bytes: bytes.clone(),
        });
    }
    if from.closed {
        *closed = true;
        to.host.push(Input::SyncClosed {
            at: t,
            reason: "the partner closed the connection".into(),
        });
    }
}

/// a Active (200), b Backup (100), in sync after 6 s.
fn synced_pair(b_extra: &str) -> Pair {
    let mut p = Pair::new(
        &unit_text("a", 200, 51, ""),
        &unit_text("b", 100, 51, b_extra),
    );
    p.run_to(at(6000));
    assert_eq!(p.a.node.states()["web"], State::Active);
    assert_eq!(p.b.node.states()["web"], State::Backup);
    let sa = p.a.node.snapshot(p.now).sync.expect("a has sync");
    let sb = p.b.node.snapshot(p.now).sync.expect("b has sync");
    assert_eq!(sa.state, "in-sync", "{sa:?}");
    assert_eq!(sb.state, "in-sync", "{sb:?}");
    p
}

/// Unit `u` reloads (SIGHUP) with `text` as its file.
fn reload(u: &mut Unit, t: Instant, text: &str) {
    u.host.files.insert(CONFIG.into(), text.to_string());
    let file = u.host.config_file(Path::new(CONFIG), Path::new(CONFIG));
    u.host.push(Input::ConfigureFile {
        at: t,
        file: file.map(Box::new),
        reply: None,
        wait_partner: false,
    });
}

#[test]
fn a_change_on_the_active_is_written_on_the_backup_with_its_priority_kept_and_acked() {
    // Input: a and b in sync; a's file changes VRID 51 -> 52 (SIGHUP).
    // Expected: b writes its file with vrid 52 and its own priority 100,
    // runs VRID 52, writes its state file; a hears the ACK.
    let mut p = synced_pair("");
    let t = p.now;
    reload(&mut p.a, t, &unit_text("a", 200, 52, ""));
    p.run_to(t + std::time::Duration::from_secs(3));
    let file = p.b.file().to_string();
    assert!(file.contains("vrid = 52"), "{file}");
    assert!(file.contains("priority = 100"), "{file}");
    assert!(p
        .b
        .sync_events()
        .iter()
        .any(|e| matches!(e, SyncEvent::Applied { .. })));
    assert!(p
        .a
        .sync_events()
        .iter()
        .any(|e| matches!(e, SyncEvent::Acked { .. })));
    let state = PathBuf::from("/var/lib/tandemd-b/sync-state");
    assert!(p.b.host.files[&state].starts_with("tandem-sync-state v1\n"));
    let snap = p.b.node.snapshot(p.now);
    assert_eq!(snap.instances[0].vrid, 52);
    assert_eq!(snap.sync.unwrap().state, "in-sync");
}

#[test]
fn a_change_that_conflicts_with_the_backups_local_settings_is_rejected_and_not_written() {
    // Input: b has a local `source` (IPv4); a changes the addresses to
    // IPv6 (with an IPv6 source of its own, local to a), which b cannot
    // run with its source.
    // Expected: a runs it; b's file is unchanged, a hears the REJECT with
    // the path at fault.
    let mut p = synced_pair("source = \"192.0.2.2\"\n");
    let before = p.b.file().to_string();
    let t = p.now;
    p.a.host.primaries.clear();
    let v6 = unit_text("a", 200, 51, "source = \"fe80::1\"\n")
        .replace("192.0.2.100/24", "2001:db8::100/64");
    reload(&mut p.a, t, &v6);
    p.run_to(t + std::time::Duration::from_secs(3));
    assert!(p.a.file().contains("2001:db8::100/64"));
    assert_eq!(p.b.file(), before);
    assert_eq!(
        p.b.node.snapshot(p.now).instances[0].address,
        ip("192.0.2.2")
    );
    assert!(p
        .b
        .sync_events()
        .iter()
        .any(|e| matches!(e, SyncEvent::Refused { .. })));
    assert!(p
        .a
        .sync_events()
        .iter()
        .any(|e| matches!(e, SyncEvent::Rejected { path, .. } if !path.is_empty())));
}

#[test]
fn config_set_on_the_backup_is_refused_unless_local_and_local_takes_only_local_keys() {
    let mut p = synced_pair("");
    let t = p.now;
    let set = |key: &str, local: bool| ControlRequest::ConfigSet {
        key: key.into(),
        value: "60".into(),
        local,
    };
    for (n, req) in [
        set("instance.web.vrid", false),
        set("instance.web.vrid", true),
        set("instance.web.priority", true),
    ]
    .into_iter()
    .enumerate()
    {
        p.b.host.push(Input::Control {
            at: t,
            request: req,
            reply: n as u64 + 1,
        });
    }
    p.run_to(t + std::time::Duration::from_secs(1));
    let replies = p.b.replies();
    assert!(
        replies.contains(&ControlReply::Refused(Refusal::NotActive)),
        "{replies:?}"
    );
    assert!(
        replies
            .iter()
            .any(|r| matches!(r, ControlReply::Refused(Refusal::NotLocal(k, _)) if k == "instance.web.vrid")),
        "{replies:?}"
    );
    assert!(
        replies.iter().any(|r| matches!(
            r,
            ControlReply::ConfigApplied {
                sync: SyncOutcome::Unchanged,
                ..
            }
        )),
        "{replies:?}"
    );
    assert!(p.b.file().contains("priority = 60"), "{}", p.b.file());
    assert!(p.b.file().contains("vrid = 51"));
}

#[test]
fn sync_status_shows_the_pair() {
    let mut p = synced_pair("");
    let t = p.now;
    p.b.host.push(Input::Control {
        at: t,
        request: ControlRequest::SyncStatus,
        reply: 9,
    });
    p.run_to(t + std::time::Duration::from_millis(100));
    let status = p.b.replies().into_iter().find_map(|r| match r {
        ControlReply::SyncStatus(s) => Some(s),
        _ => None,
    });
    let s = status.expect("a sync status");
    assert_eq!(s.state, "in-sync");
    assert_eq!(s.unit, "b");
    assert_eq!(s.role, "backup");
    assert_eq!(s.peer_unit.as_deref(), Some("a"));
    assert!(s.connected && s.ready);
    assert_eq!(s.local_root, s.peer_root.clone().unwrap());
    // The lower unit id dials; b only accepts.
    assert!(p.a.dialing && !p.b.dialing);
}

#[test]
fn config_apply_on_the_active_answers_with_the_partners_ack() {
    // Input: a and b in sync; `config apply /tmp/new.toml` on a with VRID 52.
    // Expected: a's running file holds it; the answer names the partner's
    // ACK of the generation; b runs VRID 52.
    let mut p = synced_pair("");
    let t = p.now;
    p.a.host
        .files
        .insert("/tmp/new.toml".into(), unit_text("a", 200, 52, ""));
    p.a.host.push(Input::Control {
        at: t,
        request: ControlRequest::ConfigApply {
            path: "/tmp/new.toml".into(),
        },
        reply: 3,
    });
    p.run_to(t + std::time::Duration::from_secs(3));
    assert!(p.a.file().contains("vrid = 52"));
    let answer = p.a.replies().into_iter().find_map(|r| match r {
        ControlReply::ConfigApplied { sync, .. } => Some(sync),
        _ => None,
    });
    assert!(
        matches!(answer, Some(SyncOutcome::Acked { generation }) if generation > 0),
        "{answer:?}"
    );
    assert_eq!(p.b.node.snapshot(p.now).instances[0].vrid, 52);
}

#[test]
fn config_apply_on_the_active_without_the_partner_answers_pending_at_once() {
    let mut p = synced_pair("");
    p.cut();
    p.run_to(p.now + std::time::Duration::from_millis(100));
    let t = p.now;
    p.a.host
        .files
        .insert("/tmp/new.toml".into(), unit_text("a", 200, 52, ""));
    p.a.host.push(Input::Control {
        at: t,
        request: ControlRequest::ConfigApply {
            path: "/tmp/new.toml".into(),
        },
        reply: 3,
    });
    // No partner connected, so no ACK can come: no 2 s wait.
    p.run_to(t + std::time::Duration::from_millis(100));
    let answer = p.a.replies().into_iter().find_map(|r| match r {
        ControlReply::ConfigApplied { sync, .. } => Some(sync),
        _ => None,
    });
    assert!(
        matches!(answer, Some(SyncOutcome::Pending { .. })),
        "{answer:?}"
    );
    assert_eq!(p.b.node.snapshot(p.now).instances[0].vrid, 51);
}

#[test]
fn a_backup_out_of_sync_does_not_preempt_until_it_is_in_sync_again() {
    // Input: a (200) Active, b (100) Backup, in sync; the sync connection
    // is cut; b's own priority goes to 250 (config set --local); 10 s;
    // then the connection heals.
    // Expected: while cut, b stays Backup (preemption held: it is not in
    // sync); once in sync again it preempts a.
    let mut p = synced_pair("");
    p.cut();
    p.run_to(p.now + std::time::Duration::from_millis(100));
    let t = p.now;
    p.b.host.push(Input::Control {
        at: t,
        request: ControlRequest::ConfigSet {
            key: "instance.web.priority".into(),
            value: "250".into(),
            local: true,
        },
        reply: 4,
    });
    p.run_to(t + std::time::Duration::from_secs(10));
    assert!(p.b.file().contains("priority = 250"));
    assert_eq!(p.b.node.snapshot(p.now).instances[0].priority, 250);
    assert_eq!(p.b.node.states()["web"], State::Backup);
    assert_eq!(p.a.node.states()["web"], State::Active);
    p.heal();
    let t = p.now;
    p.run_to(t + std::time::Duration::from_secs(8));
    assert_eq!(p.b.node.snapshot(p.now).sync.unwrap().state, "in-sync");
    assert_eq!(p.b.node.states()["web"], State::Active);
    assert_eq!(p.a.node.states()["web"], State::Backup);
}

// ----- without [sync] (no session) -------------------------------------------

const PLAIN: &str = "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\n\
                     priority = 150\naddresses = [\"192.0.2.100/24\"]\n";

fn plain_unit() -> (Node, FakeHost) {
    let mut host = FakeHost::new();
    host.config_path = Some(CONFIG.into());
    host.files.insert(CONFIG.into(), PLAIN.into());
    let file = host.config_file(Path::new(CONFIG), Path::new(CONFIG));
    host.push(Input::ConfigureFile {
        at: Instant::ZERO,
        file: file.map(Box::new),
        reply: None,
        wait_partner: false,
    });
    let mut node = Node::new(NodeSettings::default());
    host.run_until(&mut node, at(1000)).unwrap();
    (node, host)
}

#[test]
fn config_apply_of_another_file_without_sync_writes_it_over_the_running_file_and_applies() {
    // Input: a unit without [sync]; `config apply /tmp/new.toml` with VRID 52.
    // Expected: the running file holds the new text, VRID 52 runs, the
    // answer says there is no [sync]; no sync output at all.
    let (mut node, mut host) = plain_unit();
    let new = PLAIN.replace("vrid = 51", "vrid = 52");
    host.files.insert("/tmp/new.toml".into(), new.clone());
    host.push(Input::Control {
        at: at(1000),
        request: ControlRequest::ConfigApply {
            path: "/tmp/new.toml".into(),
        },
        reply: 5,
    });
    host.run_until(&mut node, at(2000)).unwrap();
    assert_eq!(host.files[Path::new(CONFIG)], new);
    assert_eq!(node.snapshot(at(2000)).instances[0].vrid, 52);
    let reply = host.outputs.iter().find_map(|(_, o)| match o {
        Output::Reply { to: 5, reply } => Some(reply.clone()),
        _ => None,
    });
    assert!(
        matches!(
            reply,
            Some(ControlReply::ConfigApplied {
                sync: SyncOutcome::NotConfigured,
                ..
            })
        ),
        "{reply:?}"
    );
    assert!(!host.outputs.iter().any(|(_, o)| matches!(
        o,
        Output::SyncListen { .. } | Output::SyncDial { .. } | Output::SyncTransmit { .. }
    )));
    assert!(node.snapshot(at(2000)).sync.is_none());
}

#[test]
fn config_apply_that_cannot_be_written_or_read_changes_nothing() {
    let (mut node, mut host) = plain_unit();
    // A file that is not there: refused, nothing changes.
    host.push(Input::Control {
        at: at(1000),
        request: ControlRequest::ConfigApply {
            path: "/tmp/missing.toml".into(),
        },
        reply: 6,
    });
    // A write that fails: refused, the running VRID stays.
    host.files.insert(
        "/tmp/new.toml".into(),
        PLAIN.replace("vrid = 51", "vrid = 53"),
    );
    host.run_until(&mut node, at(1500)).unwrap();
    host.fail_writes = Some("disk full".into());
    host.push(Input::Control {
        at: at(1500),
        request: ControlRequest::ConfigApply {
            path: "/tmp/new.toml".into(),
        },
        reply: 7,
    });
    host.run_until(&mut node, at(2500)).unwrap();
    let refused: Vec<(u64, String)> = host
        .outputs
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Reply {
                to,
                reply: ControlReply::Refused(r),
            } => Some((*to, r.to_string())),
            _ => None,
        })
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused[0].1.contains("no such file"), "{refused:?}");
    assert!(refused[1].1.contains("disk full"), "{refused:?}");
    assert_eq!(host.files[Path::new(CONFIG)], PLAIN);
    assert_eq!(node.snapshot(at(2500)).instances[0].vrid, 51);
}

#[test]
fn sync_requests_without_sync_are_refused_by_name() {
    let (mut node, mut host) = plain_unit();
    for (n, request) in [
        ControlRequest::SyncStatus,
        ControlRequest::SyncDiff,
        ControlRequest::SyncForce,
    ]
    .into_iter()
    .enumerate()
    {
        host.push(Input::Control {
            at: at(1000),
            request,
            reply: n as u64,
        });
    }
    host.run_until(&mut node, at(1100)).unwrap();
    let names: Vec<&str> = host
        .outputs
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Reply {
                reply: ControlReply::Refused(r),
                ..
            } => Some(r.name()),
            _ => None,
        })
        .collect();
    assert_eq!(names, vec!["no_sync"; 3]);
}

#[test]
fn secrets_are_masked_by_field_name() {
    use super::control::{is_secret, value_text};
    use tandem_config_sync::value::Value;
    for f in [
        "password",
        "ah_password",
        "key",
        "key_file",
        "secret",
        "auth",
        "AUTH-type",
    ] {
        assert!(is_secret(f), "{f}");
    }
    for f in ["vrid", "keepalive", "authority", "monkey", "priority"] {
        assert!(!is_secret(f), "{f}");
    }
    let t = Value::Table(
        [
            ("password".to_string(), Value::Str("hunter2".into())),
            ("port".to_string(), Value::Int(80)),
        ]
        .into_iter()
        .collect(),
    );
    assert_eq!(value_text(&t), "{ \"password\" = \"***\", \"port\" = 80 }");
    assert_eq!(value_text(&Value::Str("a\"b".into())), "\"a\\\"b\"");
}

mod app_only;
