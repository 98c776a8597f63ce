//! The file as serde reads it: every field optional and spanned, unknown
//! keys refused. Numbers are read wide (`i64`, `f64`) so that an
//! out-of-range value gets our message rather than the parser's.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A spanned value; the flag form builds them with an empty span.
pub(super) type S<T> = Spanned<T>;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) global: Option<S<RawGlobal>>,
    pub(super) health: Option<S<RawHealth>>,
    pub(super) instance: Option<Vec<S<RawInstance>>>,
    pub(super) sync_group: Option<Vec<S<RawSyncGroup>>>,
    pub(super) check: Option<Vec<S<RawCheck>>>,
    pub(super) sync: Option<S<RawSync>>,
    pub(super) replication: Option<S<RawReplication>>,
    pub(super) cloud: Option<S<super::build::cloud::RawCloud>>,
    pub(super) app: Option<RawApp>,
    pub(super) unit: Option<BTreeMap<String, S<RawUnit>>>,
}

/// `[app]`: kinds, then ids, then each object's fields, none of which
/// tandemd reads.
pub(super) type RawApp = BTreeMap<String, BTreeMap<String, S<toml::Table>>>;

/// `[sync]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSync {
    pub(super) unit: Option<S<String>>,
    pub(super) cluster: Option<S<String>>,
    pub(super) listen: Option<S<String>>,
    pub(super) peer: Option<S<String>>,
    pub(super) key_file: Option<S<String>>,
    pub(super) mode: Option<S<String>>,
    pub(super) max_document: Option<S<i64>>,
    pub(super) addresses: Option<S<Vec<RawPair>>>,
    pub(super) rewrite: Option<S<Vec<S<String>>>>,
}

/// `[replication]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReplication {
    pub(super) node: Option<S<i64>>,
    pub(super) cluster: Option<S<i64>>,
    pub(super) listen: Option<S<String>>,
    pub(super) peer: Option<S<String>>,
    pub(super) interface: Option<S<String>>,
    pub(super) key_file: Option<S<String>>,
    pub(super) next_key_file: Option<S<String>>,
    pub(super) format: Option<S<String>>,
    pub(super) conntrack: Option<S<bool>>,
    pub(super) ignore: Option<S<Vec<S<String>>>>,
    pub(super) flush_ms: Option<S<i64>>,
    pub(super) bulk_rate_mbit: Option<S<i64>>,
    pub(super) max_flows: Option<S<i64>>,
    pub(super) refresh: Option<S<f64>>,
}

/// One `addresses` entry, `["OWN", "PARTNER"]`.
pub(super) type RawPair = S<Vec<S<String>>>;

/// `[unit.<id>]`: one unit's overlays.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUnit {
    /// `[unit.<id>.instance.<name>]`, by instance name.
    pub(super) instance: Option<BTreeMap<String, S<RawInstance>>>,
}

/// `[global]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGlobal {
    pub(super) state_dir: Option<S<String>>,
    pub(super) control_socket: Option<S<String>>,
    pub(super) restart_guard: Option<S<RawRestartGuard>>,
}

/// `[health]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHealth {
    pub(super) listen: Option<S<String>>,
    pub(super) path: Option<S<String>>,
    pub(super) live_path: Option<S<String>>,
    pub(super) metrics_path: Option<S<String>>,
    pub(super) instances: Option<S<Vec<S<String>>>>,
    pub(super) active_body: Option<S<String>>,
    pub(super) standby_body: Option<S<String>>,
}

/// `[[instance]]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInstance {
    pub(super) name: Option<S<String>>,
    pub(super) interface: Option<S<String>>,
    pub(super) protocol: Option<S<String>>,
    pub(super) vrid: Option<S<i64>>,
    pub(super) priority: Option<S<i64>>,
    pub(super) interval: Option<S<f64>>,
    pub(super) advbase: Option<S<i64>>,
    pub(super) advskew: Option<S<i64>>,
    pub(super) demotion: Option<S<i64>>,
    pub(super) addresses: Option<S<Vec<S<String>>>>,
    pub(super) preempt: Option<S<bool>>,
    pub(super) preempt_delay: Option<S<f64>>,
    pub(super) accept: Option<S<bool>>,
    pub(super) checksum: Option<S<String>>,
    pub(super) vrrp2_compat: Option<S<bool>>,
    pub(super) password: Option<S<String>>,
    pub(super) auth: Option<S<String>>,
    pub(super) source: Option<S<String>>,
    pub(super) unicast_peers: Option<S<Vec<S<String>>>>,
    pub(super) broadcast: Option<S<bool>>,
    pub(super) ttl_exempt: Option<S<Vec<S<String>>>>,
    pub(super) vmac: Option<S<bool>>,
    pub(super) initial_wait: Option<S<f64>>,
    pub(super) ha_timeout: Option<S<f64>>,
    pub(super) silence_intervals: Option<S<i64>>,
    pub(super) announce: Option<S<RawAnnounce>>,
    pub(super) track: Option<S<Vec<S<RawTrack>>>>,
    pub(super) restart_guard: Option<S<RawRestartGuard>>,
    pub(super) notify: Option<S<String>>,
    pub(super) notify_timeout: Option<S<f64>>,
    pub(super) notify_args: Option<S<String>>,
    pub(super) notify_xparam: Option<S<String>>,
    pub(super) notify_active: Option<S<String>>,
    pub(super) notify_backup: Option<S<String>>,
    pub(super) notify_fault: Option<S<String>>,
    pub(super) notify_stop: Option<S<String>>,
}

/// `announce = { ... }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAnnounce {
    pub(super) repeat: Option<S<i64>>,
    pub(super) spacing: Option<S<f64>>,
    pub(super) refresh_after: Option<S<f64>>,
}

/// One entry of `track = [ ... ]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTrack {
    pub(super) interface: Option<S<String>>,
    pub(super) check: Option<S<String>>,
    pub(super) weight: Option<S<i64>>,
    pub(super) fault: Option<S<bool>>,
}

/// `[[check]]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCheck {
    pub(super) name: Option<S<String>>,
    pub(super) script: Option<S<String>>,
    pub(super) user: Option<S<String>>,
    pub(super) file: Option<S<String>>,
    pub(super) tcp: Option<S<String>>,
    pub(super) source: Option<S<String>>,
    pub(super) http: Option<S<String>>,
    pub(super) host: Option<S<String>>,
    pub(super) expect: Option<S<Vec<S<toml::Value>>>>,
    pub(super) body_contains: Option<S<String>>,
    pub(super) verify: Option<S<bool>>,
    pub(super) ca_file: Option<S<String>>,
    pub(super) interval: Option<S<f64>>,
    pub(super) timeout: Option<S<f64>>,
    pub(super) rise: Option<S<i64>>,
    pub(super) fall: Option<S<i64>>,
    pub(super) weight: Option<S<i64>>,
}

/// `restart_guard = { ... }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRestartGuard {
    pub(super) max_starts: Option<S<i64>>,
    pub(super) window: Option<S<f64>>,
    pub(super) expire: Option<S<bool>>,
}

/// `[[sync_group]]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSyncGroup {
    pub(super) name: Option<S<String>>,
    pub(super) instances: Option<S<Vec<S<String>>>>,
    pub(super) notify: Option<S<String>>,
    pub(super) notify_timeout: Option<S<f64>>,
    pub(super) notify_args: Option<S<String>>,
    pub(super) notify_active: Option<S<String>>,
    pub(super) notify_backup: Option<S<String>>,
    pub(super) notify_fault: Option<S<String>>,
    pub(super) notify_stop: Option<S<String>>,
}

/// A value with no place in a file (the flag form).
pub(super) fn nowhere<T>(value: T) -> S<T> {
    Spanned::new(0..0, value)
}
