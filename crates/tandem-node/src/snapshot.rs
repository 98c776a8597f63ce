//! What the node looks like now: the state the control socket, the health
//! port and the metrics read. The daemon's main loop rebuilds it after
//! every batch of inputs and publishes it behind an `RwLock`; readers never
//! touch the election itself.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// A state change, as the status shows the last one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// Seconds since the Unix epoch.
    pub at_unix: f64,
    /// From (`Initialize`, `Backup`, `Active`, `Fault`).
    pub from: String,
    /// To.
    pub to: String,
    /// Why, in words.
    pub reason: String,
}

/// The node's counters: what the Node counts, and what the host counts on
/// its way in and out (drops of bounded queues).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeCounters {
    /// Adverts sent (one per destination).
    pub adverts_sent: u64,
    /// Well-formed adverts received.
    pub adverts_received: u64,
    /// Packets that did not decode, by kind (`checksum`, `length`, ...).
    pub dropped: BTreeMap<String, u64>,
    /// Diagnostics of the election, by kind (`auth`, `split_brain`, ...).
    pub diagnostics: BTreeMap<String, u64>,
    /// Well-formed adverts for a VRID no instance runs on their interface.
    pub unknown_vrid: u64,
    /// The same, by `interface vrid N`.
    pub unknown_vrids: BTreeMap<String, u64>,
    /// Repeated events counted but not reported (rate limit).
    pub events_suppressed: u64,
    /// Received packets dropped because the loop's input queue was full.
    pub input_queue_drops: u64,
    /// Log lines dropped because the log writer fell behind.
    pub log_lines_dropped: u64,
    /// Event lines dropped because a subscriber fell behind.
    pub event_lines_dropped: u64,
    /// Subscribers disconnected because they fell too far behind.
    pub subscribers_dropped: u64,
    /// Configuration-sync connections closed at once because one was
    /// already open.
    pub sync_connections_refused: u64,
    /// Configuration-sync connections closed because their write queue
    /// was full (the partner did not read).
    pub sync_write_queue_full: u64,
}

/// Counters of one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceCounters {
    /// Adverts sent.
    pub adverts_sent: u64,
    /// Adverts received and handed to the election.
    pub adverts_received: u64,
    /// State changes.
    pub transitions: u64,
    /// Problems by kind: decode errors (`checksum`, `length`, ...) and
    /// diagnostics (`bad_ttl`, `auth`, `duplicate_vrid`, `split_brain`, ...).
    pub errors: BTreeMap<String, u64>,
}

/// One instance (virtual router).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceStatus {
    /// Its name.
    pub name: String,
    /// Its interface.
    pub interface: String,
    /// VRID / VHID.
    pub vrid: u8,
    /// `vrrp3`, `vrrp2` or `carp`.
    pub protocol: String,
    /// The sync group it belongs to, if any.
    pub group: Option<String>,
    /// `Initialize`, `Backup`, `Active` or `Fault`.
    pub state: String,
    /// The priority it advertises now (CARP: 255 - advskew).
    pub priority: u8,
    /// This node's address on the link.
    pub address: IpAddr,
    /// The Active router's address, when known.
    pub active_router: Option<IpAddr>,
    /// The advert interval the instance times against, in milliseconds.
    pub interval_ms: f64,
    /// Checksum form each VRRPv3 IPv4 peer uses.
    pub peer_checksum_modes: BTreeMap<IpAddr, String>,
    /// The last state change.
    pub last_transition: Option<Transition>,
    /// Why the instance is passive (maintenance, pacified), if it is.
    pub passive: Option<String>,
    /// Tracked objects that are down.
    pub tracks_down: Vec<String>,
    /// The partner's view: the last Active router heard, and how long ago.
    pub partner: Option<PartnerView>,
    /// Counters.
    pub counters: InstanceCounters,
    /// The appliance-style light of this instance.
    pub light: Light,
}

/// The partner as this node last heard it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerView {
    /// Its address.
    pub address: IpAddr,
    /// The priority it advertised (CARP: 255 - advskew).
    pub priority: u8,
    /// The state its adverts imply (`Active`, or `resigning` for priority 0).
    pub state: String,
    /// Seconds since its last advert.
    pub last_heard_s: f64,
}

/// A one-word health summary, like an appliance's status lights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Light {
    /// Holding the addresses, partner heard or not expected to be heard.
    Active,
    /// Backup, hearing the Active router.
    Standby,
    /// Backup (or Active after a takeover) without hearing any peer.
    PartnerUnreachable,
    /// Passive because of the restart guard.
    Pacified,
    /// Passive because of maintenance mode.
    Maintenance,
    /// In Fault: a tracked object is down.
    Fault,
    /// Not running.
    Stopped,
}

impl Light {
    /// The words shown in `tandemd status`.
    pub fn words(self) -> &'static str {
        match self {
            Light::Active => "active",
            Light::Standby => "standby",
            Light::PartnerUnreachable => "partner unreachable",
            Light::Pacified => "pacified",
            Light::Maintenance => "maintenance",
            Light::Fault => "fault",
            Light::Stopped => "stopped",
        }
    }
}

/// The restart guard as the node sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartGuardStatus {
    /// Starts within the last hour, this one included (from `state_dir`).
    pub recent_starts: usize,
    /// Whether any instance is pacified.
    pub pacified: bool,
}

/// The whole node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeSnapshot {
    /// tandemd's version.
    pub version: String,
    /// Seconds since the daemon started.
    pub uptime_s: f64,
    /// Unix time of the snapshot.
    pub at_unix: f64,
    /// Every instance, in configuration order.
    pub instances: Vec<InstanceStatus>,
    /// Sync groups and their members.
    pub groups: BTreeMap<String, Vec<String>>,
    /// The restart guard.
    pub restart_guard: RestartGuardStatus,
    /// Maintenance mode of the node.
    pub maintenance: bool,
    /// The node's light: the worst of its instances' (fault, pacified,
    /// maintenance, partner unreachable), else active if any instance is
    /// Active, else standby.
    pub light: Light,
    /// The node's counters (every counter the node keeps is here).
    #[serde(default)]
    pub counters: NodeCounters,
    /// Configuration sync with the partner (`None`: no `[sync]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncStatus>,
    /// Connection-table and persistence replication (`None`: no
    /// `[replication]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<ReplicationStatus>,
    /// The pair's cloud settings and provider hook (`None`: no `[cloud]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<CloudStatus>,
    /// The health checks (`[[check]]`), in configuration order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckStatus>,
}

/// One health check as `status`, the health port's JSON and the metrics
/// show it (docs/checks.md).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckStatus {
    /// The check's name.
    pub name: String,
    /// `script`, `file`, `tcp` or `http`.
    pub kind: String,
    /// `up`, `down`, or `unknown` until rise or fall runs in a row decided
    /// (an unknown check counts as up: it lowers nothing).
    pub state: String,
    /// The last run's outcome: `pass`, `fail` or `value` (a file check).
    pub last_result: Option<String>,
    /// The last run's one-line detail (`exit 0`, `HTTP 503`, ...).
    pub detail: String,
    /// A file check's last number.
    pub value: Option<i64>,
    /// When the last run ended, Unix time.
    pub last_run_unix: Option<f64>,
    /// How long the last run took, in seconds.
    pub took_s: Option<f64>,
    /// Runs that ended, by outcome.
    pub passes: u64,
    /// Runs that failed (timeouts included).
    pub failures: u64,
    /// Up/down changes since the check started.
    pub changes: u64,
    /// The instances that track it.
    pub tracked_by: Vec<String>,
}

/// `[cloud]` as `status --json`, the health port's JSON and the metrics
/// show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CloudStatus {
    /// This unit's fixed role, `primary` or `secondary`, if given.
    pub role: Option<String>,
    /// Whether the primary takes the Active role back when it returns.
    pub failback: bool,
    /// `active` while every watched instance is Active, else `standby`.
    pub state: String,
    /// The provider hook's current (or last) run, if any ran.
    pub hook: Option<CloudHookStatus>,
    /// Runs that ended, by `HOOK RESULT` (`on_active ok`,
    /// `on_active failed`, `on_standby timeout`, ...).
    pub results: BTreeMap<String, u64>,
}

/// The provider hook's current (or last) run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CloudHookStatus {
    /// `on_active` or `on_standby`.
    pub hook: String,
    /// Which attempt, from 1.
    pub attempt: u32,
    /// `running`, `waiting` (for the next attempt), `done` (exited 0) or
    /// `gave_up` (every attempt failed).
    pub state: String,
    /// How its last attempt ended (`ok`, `failed`, `timeout`,
    /// `not_started`), once one did.
    pub last_result: Option<String>,
}

/// Replication as `status --json` and the metrics show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReplicationStatus {
    /// `opening`, `error`, `active` (this unit streams its table),
    /// `syncing` (its mirror of the partner's is not complete), `in-sync`.
    pub state: String,
    /// This unit's node id.
    pub node: u8,
    /// The partner (or group).
    pub peer: String,
    /// The format spoken.
    pub format: String,
    /// The mirror is complete and verified.
    pub in_sync: bool,
    /// The partner is heard.
    pub partner_up: bool,
    /// Flows in this unit's table.
    pub local_flows: usize,
    /// Flows in the mirror of the partner's.
    pub mirror_flows: usize,
    /// Changes waiting to be sent.
    pub pending: usize,
    /// A bulk of this unit's table is being sent.
    pub bulk_sending: bool,
    /// A bulk of the partner's is being received.
    pub bulk_receiving: bool,
    /// Frames sent.
    pub frames_sent: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Frames accepted.
    pub frames_received: u64,
    /// Records re-sent to repair loss.
    pub records_repaired: u64,
    /// Frames the partner reported lost.
    pub frames_lost: u64,
    /// Resyncs asked of the partner.
    pub resyncs_requested: u64,
    /// Bulks sent.
    pub bulks_sent: u64,
    /// Shards whose digests differed.
    pub digest_mismatches: u64,
    /// Datagrams refused (TTL, authentication, replay, malformed).
    pub refused: u64,
    /// Flows refused because a table was full.
    pub table_full: u64,
    /// Table entries not replicated (filtered).
    pub ignored: u64,
    /// Flows installed at takeovers.
    pub installed: u64,
    /// Flows the table refused at takeovers.
    pub install_failed: u64,
    /// Table changes handed over by the host.
    pub table_events: u64,
    /// Whole reads of the table.
    pub table_reads: u64,
    /// Datagrams dropped because the queue to the loop was full (host).
    pub datagrams_dropped: u64,
    /// Datagrams from an address other than the partner's, dropped (host).
    pub foreign_source: u64,
    /// Datagrams larger than the receive buffer, dropped (host).
    pub truncated: u64,
    /// Sends that failed (host).
    pub send_failed: u64,
    /// Times table changes were lost (the kernel's or the queue's) and the
    /// table was read whole again (host).
    pub table_events_lost: u64,
    /// The last error.
    pub last_error: Option<String>,
}

/// Configuration sync as `sync status`, `status --json`, the metrics and
/// the health port show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncStatus {
    /// `in-sync`, `pending`, `syncing`, `diverged`, `conflict`, `blocked`,
    /// `disconnected`; or `off` when sync could not start (`last_error`
    /// says why).
    pub state: String,
    /// The state's detail: the pending generation, the differing
    /// sections, the reason sync is blocked.
    pub detail: Option<String>,
    /// `active-standby` or `bidirectional`.
    pub mode: String,
    /// This unit's id.
    pub unit: String,
    /// The role sync was told: `active`, `backup`, `unknown`.
    pub role: String,
    /// Whether the election may preempt into this unit (in sync, or no
    /// partner to be in sync with); while false, preemption is held.
    pub ready: bool,
    /// Whether a TCP connection to the partner is open.
    pub connected: bool,
    /// This unit's authority: epoch.
    pub local_epoch: u64,
    /// Generation.
    pub local_generation: u64,
    /// Root digest of its shared form, hex.
    pub local_root: String,
    /// The partner's unit id, once heard.
    pub peer_unit: Option<String>,
    /// Its tandemd version.
    pub peer_software: Option<String>,
    /// Its epoch, as last heard.
    pub peer_epoch: Option<u64>,
    /// Its generation.
    pub peer_generation: Option<u64>,
    /// Its root, hex.
    pub peer_root: Option<String>,
    /// Seconds since the roots last matched.
    pub last_success_age_s: Option<f64>,
    /// The last error, in words.
    pub last_error: Option<String>,
    /// Bytes written to the partner.
    pub bytes_sent: u64,
    /// Bytes read from the partner.
    pub bytes_received: u64,
    /// Of the bytes sent, those of frames that carry configuration
    /// (DELTA, SNAP_*, OBJECTS), before encryption: 0 at a rejoin of equal
    /// documents.
    pub config_bytes_sent: u64,
    /// Changes from the partner applied here.
    pub applied: u64,
    /// Changes the partner refused, and changes refused here.
    pub rejected: u64,
    /// Concurrent edits resolved (bidirectional mode).
    pub conflicts: u64,
}

impl NodeSnapshot {
    /// An empty snapshot (before the first rebuild).
    pub fn empty() -> NodeSnapshot {
        NodeSnapshot {
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_s: 0.0,
            at_unix: 0.0,
            instances: Vec::new(),
            groups: BTreeMap::new(),
            restart_guard: RestartGuardStatus {
                recent_starts: 0,
                pacified: false,
            },
            maintenance: false,
            replication: None,
            cloud: None,
            checks: Vec::new(),
            light: Light::Stopped,
            counters: NodeCounters::default(),
            sync: None,
        }
    }

    /// The instance named `name`.
    pub fn instance(&self, name: &str) -> Option<&InstanceStatus> {
        self.instances.iter().find(|i| i.name == name)
    }

    /// The node light from the instances' lights.
    pub fn node_light(instances: &[InstanceStatus]) -> Light {
        let has = |l: Light| instances.iter().any(|i| i.light == l);
        for l in [
            Light::Fault,
            Light::Pacified,
            Light::Maintenance,
            Light::PartnerUnreachable,
        ] {
            if has(l) {
                return l;
            }
        }
        if has(Light::Active) {
            Light::Active
        } else if instances.is_empty() {
            Light::Stopped
        } else {
            Light::Standby
        }
    }
}
