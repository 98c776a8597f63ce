//! Tests of `tandemd demo`: timings against their bounds, failback by
//! preference, the timeline's key lines, determinism.

use super::*;

fn demo(opts: &DemoOptions) -> (DemoSummary, String) {
    let mut out = Vec::new();
    let s = run(opts, &mut out).expect("the demo runs");
    (s, String::from_utf8(out).expect("UTF-8 output"))
}

fn opts(protocol: DemoProtocol, preferred: DemoPreferred) -> DemoOptions {
    DemoOptions {
        protocol,
        preferred,
        ..DemoOptions::default()
    }
}

const PROTOCOLS: [DemoProtocol; 3] = [DemoProtocol::Vrrp3, DemoProtocol::Vrrp2, DemoProtocol::Carp];

// Killed at a random phase after its last advert, the Active node is
// replaced within the Backup's Active_Down_Interval, whatever the seed.
#[test]
fn takeover_within_active_down_interval() {
    for protocol in PROTOCOLS {
        for seed in 0..20 {
            let (s, _) = demo(&DemoOptions {
                seed,
                ..opts(protocol, DemoPreferred::First)
            });
            assert_eq!(
                (s.elected, s.killed, s.took_over),
                (1, 1, 2),
                "{protocol:?}"
            );
            assert!(s.takeover <= s.bound, "{protocol:?} seed {seed}: {s:?}");
            // Exactly the bound less the phase, plus the link delay.
            assert_eq!(s.takeover, s.bound - s.kill_phase + DELAY, "{protocol:?}");
        }
    }
}

// VRRPv3, interval 1 s, node-2 priority 100: 3 s + 156/256 s.
#[test]
fn bound_is_three_intervals_plus_skew() {
    let (s, out) = demo(&DemoOptions::default());
    assert_eq!(
        s.bound,
        Duration::from_secs(3) + Duration::from_secs(1) * 156 / 256
    );
    assert!(
        out.contains("3 x 1.000 s + (256 - 100)/256 x 1.000 s = 3.609 s"),
        "{out}"
    );
    let (s, _) = demo(&opts(DemoProtocol::Carp, DemoPreferred::First));
    assert_eq!(
        s.bound,
        Duration::from_secs(3) + Duration::from_secs(1) * 100 / 256
    );
}

// The preferred host takes the role back when it returns; with no
// preference the role stays where it is.
#[test]
fn failback_only_with_a_preferred_host() {
    for protocol in PROTOCOLS {
        let (s, out) = demo(&opts(protocol, DemoPreferred::First));
        assert!(s.failback.is_some(), "{protocol:?}");
        assert_eq!((s.killed, s.stopped, s.resign_took_over), (1, 1, 2));
        assert!(out.contains("failback: node-1 Active again"), "{out}");

        let (s, _) = demo(&opts(protocol, DemoPreferred::Second));
        assert_eq!(
            (s.elected, s.killed, s.took_over),
            (2, 2, 1),
            "{protocol:?}"
        );
        assert!(s.failback.is_some(), "{protocol:?}");
        assert_eq!(s.stopped, 2);

        let (s, out) = demo(&opts(protocol, DemoPreferred::None));
        assert_eq!(s.failback, None, "{protocol:?}");
        assert_eq!(
            (s.killed, s.took_over, s.stopped),
            (1, 2, 2),
            "{protocol:?}"
        );
        assert!(out.contains("no failback: node-1 stays Backup"), "{out}");
    }
}

// After priority 0 (CARP: the going-down advert) the Backup takes
// over after its Skew_Time, not a whole Active_Down_Interval.
#[test]
fn graceful_stop_takes_skew_time() {
    for protocol in PROTOCOLS {
        let (s, _) = demo(&opts(protocol, DemoPreferred::First));
        assert_eq!(s.resign_takeover, s.skew + DELAY, "{protocol:?}");
        assert!(s.resign_takeover < s.bound, "{protocol:?}");
    }
    let (s, _) = demo(&DemoOptions::default());
    assert_eq!(s.skew, Duration::from_secs(1) * 156 / 256);
}

#[test]
fn output_has_the_key_lines() {
    let (_, out) = demo(&DemoOptions::default());
    for line in [
        "SIMULATED LAN",
        "virtual clock",
        "node-1 192.0.2.1",
        "node-2 192.0.2.2",
        "Backup -> Active: no advert from an Active router within its Active_Down_Interval",
        "advertising every 1.00 s, priority 200",
        "gratuitous ARP for 192.0.2.100, 5 frames",
        "elected: node-1 (priority 200)",
        "KILLED: no goodbye",
        "diagnostic: no advert from any peer for 3 intervals",
        "takeover: node-2 Active",
        "bound: node-2's Active_Down_Interval",
        "Backup -> Active: preempts node-2 (priority 200 vs priority 100, preempt on)",
        "Active -> Backup: preempted by node-1 192.0.2.1 (priority 200 vs priority 100)",
        "failback: node-1 Active again",
        "sent priority 0: a Backup takes over after its Skew_Time",
        "Backup -> Active: the Active router resigned (priority 0)",
        "Skew_Time of node-2 = (256 - 100)/256 x 1.000 s = 0.609 s",
        "== Summary ==",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    // Adverts are summarised, not listed one by one.
    assert!(out.lines().count() < 80, "{out}");
    let (_, out) = demo(&opts(DemoProtocol::Carp, DemoPreferred::First));
    assert!(
        out.contains("advertising every 1.00 s (advbase 1, advskew 0)"),
        "{out}"
    );
    assert!(out.contains("going-down advert"), "{out}");
}

#[test]
fn same_seed_same_output() {
    for o in [
        DemoOptions::default(),
        DemoOptions {
            nodes: 4,
            loss: 20,
            seed: 7,
            ..opts(DemoProtocol::Carp, DemoPreferred::Second)
        },
    ] {
        let (a, out_a) = demo(&o);
        let (b, out_b) = demo(&o);
        assert_eq!(a, b);
        assert_eq!(out_a, out_b);
    }
    let (_, other) = demo(&DemoOptions {
        seed: 2,
        ..DemoOptions::default()
    });
    assert_ne!(demo(&DemoOptions::default()).1, other);
}

// Four nodes, losses, every protocol and preference: the demonstration
// completes and its roles stay consistent.
#[test]
fn runs_with_more_nodes_and_loss() {
    for protocol in PROTOCOLS {
        for preferred in [
            DemoPreferred::First,
            DemoPreferred::Second,
            DemoPreferred::None,
        ] {
            for (nodes, loss) in [(3, 0), (4, 0), (2, 30), (4, 50)] {
                let o = DemoOptions {
                    protocol,
                    preferred,
                    nodes,
                    loss,
                    seed: 3,
                    ..DemoOptions::default()
                };
                let (s, out) = demo(&o);
                assert!(out.contains("== Summary =="), "{o:?}");
                assert_ne!(s.killed, s.took_over, "{o:?}");
                if loss == 0 {
                    assert!(s.takeover <= s.bound, "{o:?}: {s:?}");
                    assert_eq!(s.took_over, if s.killed == 2 { 1 } else { 2 }, "{o:?}");
                }
            }
        }
    }
}

#[test]
fn fractional_and_invalid_intervals() {
    let (s, out) = demo(&DemoOptions {
        interval: Duration::from_millis(10),
        ..DemoOptions::default()
    });
    assert!(s.takeover <= s.bound);
    assert!(
        out.contains("advertising every 0.01 s, priority 200"),
        "{out}"
    );
    for (protocol, interval) in [
        (DemoProtocol::Vrrp2, Duration::from_millis(500)),
        (DemoProtocol::Carp, Duration::from_millis(1500)),
        (DemoProtocol::Vrrp3, Duration::from_millis(15)),
        (DemoProtocol::Vrrp3, Duration::from_secs(41)),
    ] {
        let o = DemoOptions {
            protocol,
            interval,
            ..DemoOptions::default()
        };
        let e = run(&o, &mut Vec::new()).expect_err("rejected");
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("--interval"), "{e}");
    }
    assert!(parse_seconds("0.5").is_ok());
    for bad in ["0", "-1", "x", "NaN", "inf", "256"] {
        assert!(parse_seconds(bad).is_err(), "{bad}");
    }
}

// docs/demo.md shows the output of `tandemd demo` as it is.
#[test]
fn docs_sample_is_current() {
    let doc = include_str!("../../../../docs/demo.md");
    let (_, out) = demo(&DemoOptions::default());
    assert!(doc.contains(out.trim_end()), "docs/demo.md: paste\n{out}");
}

// The virtual address ends on the one Active node: the killed node's
// went with it, and the stopped node removed its own.
#[test]
fn the_last_active_node_alone_holds_the_virtual_address() {
    for protocol in PROTOCOLS {
        for preferred in [DemoPreferred::First, DemoPreferred::None] {
            let (s, _) = demo(&opts(protocol, preferred));
            assert_eq!(s.holders, [s.resign_took_over], "{protocol:?}");
        }
    }
}

// Each node runs a configuration file that `tandemd run --config` reads
// as it is; docs/demo.md shows the default pair's.
#[test]
fn nodes_run_configuration_files() {
    for protocol in PROTOCOLS {
        let files = config_files(&DemoOptions {
            nodes: 4,
            ..opts(protocol, DemoPreferred::Second)
        })
        .expect("valid options");
        assert_eq!(files.len(), 4);
        for f in &files {
            let c = crate::config::parse(f).expect("tandemd reads it");
            assert_eq!(c.instances.len(), 1, "{f}");
            assert_eq!(c.instances[0].election.vrid.get(), VRID);
        }
    }
    let doc = include_str!("../../../../docs/demo.md");
    for f in config_files(&DemoOptions::default()).expect("valid options") {
        assert!(doc.contains(&f), "docs/demo.md: paste\n{f}");
    }
    assert!(config_files(&DemoOptions {
        nodes: 5,
        ..DemoOptions::default()
    })
    .is_err());
}
