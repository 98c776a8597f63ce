//! The class rules of tandemd's own settings (docs/config-sync.md).

use tandem_config_sync::schema::Class;

/// Why each local setting is each unit's own.
const WHY_LOCAL_PATH: &str = "a path on this unit's file system";
const WHY_LOCAL_HEALTH: &str = "the address this unit's health port binds";
const WHY_LOCAL_SYNC: &str =
    "the sync channel's own settings: this unit's id, its address and the partner's, its key";
const WHY_LOCAL_REPLICATION: &str =
    "the replication link's own settings: this unit's node id, its address and the partner's, its keys";
const WHY_LOCAL_PRIORITY: &str =
    "the unit's own priority: the two units of a pair differ in it by design";
const WHY_LOCAL_SOURCE: &str = "this unit's own address";
const WHY_LOCAL_ROLE: &str = "this unit's place in the pair: the two units differ in it by design";

/// The class rules of tandemd's own keys, as (section, field, class, why).
pub(super) const RULES: &[(&str, &str, Class, &str)] = &[
    ("global", "state_dir", Class::Local, WHY_LOCAL_PATH),
    ("global", "control_socket", Class::Local, WHY_LOCAL_PATH),
    ("health", "listen", Class::Local, WHY_LOCAL_HEALTH),
    ("sync", "*", Class::Local, WHY_LOCAL_SYNC),
    ("replication", "*", Class::Local, WHY_LOCAL_REPLICATION),
    ("instance", "priority", Class::Local, WHY_LOCAL_PRIORITY),
    ("instance", "advskew", Class::Local, WHY_LOCAL_PRIORITY),
    ("instance", "demotion", Class::Local, WHY_LOCAL_PRIORITY),
    ("instance", "source", Class::Local, WHY_LOCAL_SOURCE),
    ("cloud", "role", Class::Local, WHY_LOCAL_ROLE),
    (
        "cloud",
        "*",
        Class::Shared,
        "the pair fails over and moves its cloud addresses alike",
    ),
    (
        "global",
        "restart_guard",
        Class::Shared,
        "both units pace restarts alike",
    ),
    (
        "health",
        "path",
        Class::Shared,
        "load balancers probe both units alike",
    ),
    (
        "health",
        "live_path",
        Class::Shared,
        "load balancers probe both units alike",
    ),
    (
        "health",
        "metrics_path",
        Class::Shared,
        "one scrape configuration for both units",
    ),
    (
        "health",
        "instances",
        Class::Shared,
        "the pair answers for the same routers",
    ),
    (
        "health",
        "active_body",
        Class::Shared,
        "load balancers read both units alike",
    ),
    (
        "health",
        "standby_body",
        Class::Shared,
        "load balancers read both units alike",
    ),
    (
        "instance",
        "interface",
        Class::Shared,
        "the pair runs the router on the same link (a unit overlay renames it on one unit)",
    ),
    (
        "instance",
        "protocol",
        Class::Shared,
        "both routers must speak one protocol",
    ),
    (
        "instance",
        "vrid",
        Class::Shared,
        "both routers must use one VRID",
    ),
    (
        "instance",
        "interval",
        Class::Shared,
        "both routers must advertise alike",
    ),
    (
        "instance",
        "advbase",
        Class::Shared,
        "both routers must advertise alike",
    ),
    (
        "instance",
        "addresses",
        Class::Shared,
        "the virtual addresses are the pair's",
    ),
    (
        "instance",
        "preempt",
        Class::Shared,
        "the pair's failover policy",
    ),
    (
        "instance",
        "preempt_delay",
        Class::Shared,
        "the pair's failover policy",
    ),
    (
        "instance",
        "accept",
        Class::Shared,
        "the pair's failover policy",
    ),
    (
        "instance",
        "checksum",
        Class::Shared,
        "both routers must check adverts alike",
    ),
    (
        "instance",
        "vrrp2_compat",
        Class::Shared,
        "both routers must speak one protocol",
    ),
    (
        "instance",
        "password",
        Class::Shared,
        "both routers must authenticate alike",
    ),
    (
        "instance",
        "auth",
        Class::Shared,
        "both routers must authenticate alike",
    ),
    (
        "instance",
        "unicast_peers",
        Class::Shared,
        "the pair's peers; the partner's address is sent as @partner",
    ),
    (
        "instance",
        "broadcast",
        Class::Shared,
        "both routers must deliver adverts alike",
    ),
    ("instance", "ttl_exempt", Class::Shared, "the pair's peers"),
    (
        "instance",
        "vmac",
        Class::Shared,
        "the virtual MAC is the pair's",
    ),
    (
        "instance",
        "initial_wait",
        Class::Shared,
        "the pair's failover policy",
    ),
    (
        "instance",
        "ha_timeout",
        Class::Shared,
        "both routers must advertise alike",
    ),
    (
        "instance",
        "silence_intervals",
        Class::Shared,
        "the pair's failover policy",
    ),
    (
        "instance",
        "announce",
        Class::Shared,
        "the pair's failover policy",
    ),
    (
        "instance",
        "track",
        Class::Shared,
        "the pair tracks the same links",
    ),
    (
        "instance",
        "restart_guard",
        Class::Shared,
        "both units pace restarts alike",
    ),
    (
        "instance",
        "notify",
        Class::Shared,
        "both units react to a change alike",
    ),
    (
        "instance",
        "notify_timeout",
        Class::Shared,
        "both units react to a change alike",
    ),
    (
        "instance",
        "notify_args",
        Class::Shared,
        "both units react to a change alike",
    ),
    (
        "instance",
        "notify_xparam",
        Class::Shared,
        "both units react to a change alike",
    ),
    (
        "instance",
        "notify_active",
        Class::Shared,
        "both units react to a change alike",
    ),
    (
        "instance",
        "notify_backup",
        Class::Shared,
        "both units react to a change alike",
    ),
    (
        "instance",
        "notify_fault",
        Class::Shared,
        "both units react to a change alike",
    ),
    (
        "instance",
        "notify_stop",
        Class::Shared,
        "both units react to a change alike",
    ),
    (
        "sync_group",
        "notify",
        Class::Shared,
        "both units react to a change alike",
    ),
    (
        "sync_group",
        "notify_timeout",
        Class::Shared,
        "both units react to a change alike",
    ),
    (
        "sync_group",
        "notify_args",
        Class::Shared,
        "both units react to a change alike",
    ),
    (
        "sync_group",
        "notify_active",
        Class::Shared,
        "both units react to a change alike",
    ),
    (
        "sync_group",
        "notify_backup",
        Class::Shared,
        "both units react to a change alike",
    ),
    (
        "sync_group",
        "notify_fault",
        Class::Shared,
        "both units react to a change alike",
    ),
    (
        "sync_group",
        "notify_stop",
        Class::Shared,
        "both units react to a change alike",
    ),
    (
        "sync_group",
        "instances",
        Class::Shared,
        "the routers that fail over together are the pair's",
    ),
    (
        "check",
        "*",
        Class::Shared,
        "both units check the same services alike",
    ),
    (
        "unit.*",
        "*",
        Class::Unit,
        "a unit's overlay: sent, and applied by that unit only",
    ),
    (
        "app.*",
        "*",
        Class::Shared,
        "the appliance's settings are the pair's unless its rules say otherwise",
    ),
];
