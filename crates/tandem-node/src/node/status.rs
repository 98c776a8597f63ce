//! The node's status as the control socket, the health port and the
//! metrics show it: instances with their light and partner view, and the
//! node's counters.

use std::collections::BTreeMap;
use std::net::IpAddr;

use tandem_election::{Instant, Reason, State};

use super::{protocol_name, Node, Output};
use crate::snapshot::{InstanceStatus, Light, NodeSnapshot, PartnerView, RestartGuardStatus};

/// The last router whose advert the election accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Partner {
    pub(super) address: IpAddr,
    pub(super) priority: u8,
    pub(super) resigned: bool,
    pub(super) at: Instant,
}

/// An instance's light: what an operator should read at a glance.
pub(super) fn light(state: State, passive: Option<&Reason>, heard_recently: bool) -> Light {
    match (state, passive) {
        (State::Fault, _) => Light::Fault,
        (_, Some(Reason::Pacified)) => Light::Pacified,
        (_, Some(_)) => Light::Maintenance,
        (State::Active, _) => Light::Active,
        (State::Backup, _) if heard_recently => Light::Standby,
        (State::Backup, _) => Light::PartnerUnreachable,
        (State::Initialize, _) => Light::Stopped,
    }
}

impl Node {
    /// The status now.
    pub fn snapshot(&self, now: Instant) -> NodeSnapshot {
        let mut instances = Vec::with_capacity(self.instances.len());
        for inst in &self.instances {
            let vr = self.router(inst);
            let st = vr.status();
            let interval = st.active_interval;
            let partner = inst.partner.map(|p| PartnerView {
                address: p.address,
                priority: p.priority,
                state: if p.resigned { "resigning" } else { "Active" }.into(),
                last_heard_s: now.saturating_since(p.at).as_secs_f64(),
            });
            let heard_recently = inst
                .partner
                .is_some_and(|p| now.saturating_since(p.at) <= 3 * interval);
            let priority = match vr.config().protocol {
                tandem_election::Protocol::Carp { advskew, .. } => 255 - advskew,
                _ => st.priority.0,
            };
            instances.push(InstanceStatus {
                name: inst.cfg.name.clone(),
                interface: inst.cfg.interface.clone(),
                vrid: inst.cfg.election.vrid.get(),
                protocol: protocol_name(&inst.cfg).into(),
                group: inst.group_name.clone(),
                state: st.state.name().into(),
                priority,
                address: inst.host.primary,
                active_router: st.active_router,
                interval_ms: interval.as_secs_f64() * 1000.0,
                peer_checksum_modes: st
                    .peer_checksum_modes
                    .iter()
                    .map(|(a, m)| (*a, m.name().to_string()))
                    .collect(),
                last_transition: inst.last_transition.clone(),
                passive: st.passive.as_ref().map(|r| r.name().to_string()),
                tracks_down: st.tracks_down.clone(),
                partner,
                counters: inst.counters.clone(),
                light: light(st.state, st.passive.as_ref(), heard_recently),
            });
        }
        let pacified = instances.iter().any(|i| i.light == Light::Pacified);
        let mut groups = BTreeMap::new();
        for inst in &self.instances {
            if let Some(g) = &inst.group_name {
                groups
                    .entry(g.clone())
                    .or_insert_with(Vec::new)
                    .push(inst.cfg.name.clone());
            }
        }
        let light = NodeSnapshot::node_light(&instances);
        NodeSnapshot {
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_s: now.since_origin().as_secs_f64(),
            at_unix: self.unix(now),
            instances,
            groups,
            restart_guard: RestartGuardStatus {
                recent_starts: self.settings.recent_starts.len() + 1,
                pacified,
            },
            maintenance: self.maintenance,
            light,
            counters: self.counters.clone(),
            sync: self.sync_status(now),
            replication: self.replication_status(),
            cloud: self.cloud_status(),
            checks: self.checks_status(now),
        }
    }

    pub(super) fn publish_due(&self, now: Instant) -> bool {
        self.published
            .is_none_or(|p| now.saturating_since(p) >= self.settings.publish_every)
    }

    /// Publishes the status now.
    pub(super) fn publish(&mut self, now: Instant) {
        let snap = self.snapshot(now);
        self.publish_snapshot(now, snap);
    }

    pub(super) fn publish_snapshot(&mut self, now: Instant, snap: NodeSnapshot) {
        self.state_changed = false;
        self.counters_changed = false;
        self.published = Some(now);
        self.outputs
            .push_back(Output::PublishStatus(Box::new(snap)));
    }
}
