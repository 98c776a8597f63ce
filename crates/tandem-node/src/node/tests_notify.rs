//! The notify hooks the Node queues: which commands, with which
//! arguments (`notify_args`), for an instance and for a sync group.

use tandem_election::Instant;

use super::*;
use crate::drive::fake::FakeHost;

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// Runs `text` to 4 s (a lone node becomes Active), then shuts down.
fn run(text: &str) -> Vec<(String, String, Vec<String>, bool)> {
    let mut node = Node::new(NodeSettings::default());
    let mut host = FakeHost::new();
    host.push(Input::Configure {
        at: Instant::ZERO,
        config: Box::new(crate::config::parse(text).unwrap()),
        reply: None,
    });
    host.run_until(&mut node, at(4000)).unwrap();
    host.push(Input::Shutdown { at: at(4100) });
    host.run_until(&mut node, at(5000)).unwrap();
    host.outputs
        .iter()
        .filter_map(|(_, o)| match o {
            Output::RunHook { notify, event } => Some((
                notify.command.clone(),
                format!("{} -> {}", event.from, event.to),
                event.args.clone(),
                event.group_hook,
            )),
            _ => None,
        })
        .collect()
}

const WEB: &str = "[[instance]]\nname = \"web\"\ninterface = \"eth0\"\nvrid = 51\npriority = 150\n\
                   addresses = [\"192.0.2.100/24\"]\n";

fn v(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[test]
fn tandem_form_passes_no_arguments() {
    let runs = run(&format!("{WEB}notify = \"/n\"\n"));
    let got: Vec<_> = runs.iter().map(|r| (r.1.as_str(), r.2.clone())).collect();
    assert_eq!(
        got,
        vec![
            ("Initialize -> Backup", vec![]),
            ("Backup -> Active", vec![]),
            ("Active -> Initialize", vec![]),
        ]
    );
}

#[test]
fn keepalived_form_passes_type_name_state_priority_and_runs_per_state_commands_bare() {
    // Input: start (Backup), 3 s of silence (Active), shutdown.
    // Output: as keepalived: the per-state script with no argument first,
    // then `notify INSTANCE web STATE 150`; STOP at shutdown.
    let runs = run(&format!(
        "{WEB}notify = \"/n\"\nnotify_args = \"keepalived\"\nnotify_active = \"/up\"\n\
         notify_backup = \"/down\"\nnotify_stop = \"/stop\"\n"
    ));
    let got: Vec<_> = runs.iter().map(|r| (r.0.as_str(), r.2.clone())).collect();
    assert_eq!(
        got,
        vec![
            ("/down", vec![]),
            ("/n", v(&["INSTANCE", "web", "BACKUP", "150"])),
            ("/up", vec![]),
            ("/n", v(&["INSTANCE", "web", "MASTER", "150"])),
            ("/stop", vec![]),
            ("/n", v(&["INSTANCE", "web", "STOP", "150"])),
        ]
    );
}

#[test]
fn ucarp_form_passes_interface_address_and_xparam() {
    let runs = run(&format!(
        "{WEB}notify_args = \"ucarp\"\nnotify_xparam = \"x y\"\nnotify_active = \"/up\"\n\
         notify_backup = \"/down\"\n"
    ));
    let got: Vec<_> = runs.iter().map(|r| (r.0.as_str(), r.2.clone())).collect();
    let args = v(&["eth0", "192.0.2.100", "x y"]);
    assert_eq!(
        got,
        vec![("/down", args.clone()), ("/up", args.clone())],
        "no notify_stop: nothing at shutdown"
    );
}

#[test]
fn a_group_notifies_master_when_all_members_are_and_stop_at_the_end() {
    // Input: two members of group fw, start (Backup: the group starts in
    // Backup, so no group hook), both Active, shutdown.
    // Output: the group's hooks once per group change: MASTER, then STOP,
    // as `GROUP fw STATE 0`, and the per-state command before it.
    let text = format!(
        "{WEB}[[instance]]\nname = \"db\"\ninterface = \"eth0\"\nvrid = 52\npriority = 150\n\
         addresses = [\"192.0.2.101/24\"]\n[[sync_group]]\nname = \"fw\"\n\
         instances = [\"web\", \"db\"]\nnotify = \"/g\"\nnotify_args = \"keepalived\"\n\
         notify_active = \"/gup\"\n"
    );
    let runs = run(&text);
    let got: Vec<_> = runs
        .iter()
        .map(|r| (r.0.as_str(), r.1.as_str(), r.2.clone(), r.3))
        .collect();
    assert_eq!(
        got,
        vec![
            ("/gup", "Backup -> Active", vec![], true),
            (
                "/g",
                "Backup -> Active",
                v(&["GROUP", "fw", "MASTER", "0"]),
                true
            ),
            (
                "/g",
                "Active -> Initialize",
                v(&["GROUP", "fw", "STOP", "0"]),
                true
            ),
        ]
    );
}

#[test]
fn hook_arguments_reach_the_command_as_given() {
    let ev = crate::hooks::HookEvent {
        instance: "web".into(),
        vrid: 51,
        interface: "eth0".into(),
        group: None,
        from: "Backup".into(),
        to: "Active".into(),
        reason: "active_down".into(),
        at_unix: 0.0,
        args: v(&["INSTANCE", "web", "MASTER", "150"]),
        group_hook: false,
    };
    assert_eq!(
        ev.shell_args("/etc/keepalived/notify.sh"),
        v(&[
            "-c",
            "/etc/keepalived/notify.sh \"$@\"",
            "/etc/keepalived/notify.sh",
            "INSTANCE",
            "web",
            "MASTER",
            "150"
        ])
    );
}
