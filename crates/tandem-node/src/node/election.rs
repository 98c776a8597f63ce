//! The election adapter: the sync groups' actions as the Node's outputs,
//! and what the election needs from an instance's configuration and host.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tandem_election::{codec, Action, Advert, Instant, Track, TrackEffect, VirtualRouter};

use super::output::{EventKind, Output};
use super::{report, Instance, InstanceHost, Node};
use crate::config::{Delivery, InstanceConfig};
use crate::snapshot::Transition;

impl Node {
    // ----- the election's actions -------------------------------------------

    /// Carries out group `g`'s actions as outputs.
    pub(super) fn drain(&mut self, g: usize) {
        while let Some((m, action)) = self.groups[g].poll_action() {
            let i = self.members[g][m];
            self.act(i, action);
        }
    }

    pub(super) fn act(&mut self, i: usize, action: Action) {
        let now = self.now;
        let inst = &self.instances[i];
        match action {
            Action::SendAdvert(adv) => {
                let sent = send_advert(&mut self.outputs, inst, &adv);
                self.counters.adverts_sent += sent;
                self.instances[i].counters.adverts_sent += sent;
                self.counters_changed = true;
            }
            Action::AddAddresses { addresses, .. } => {
                // Established connections find their entries the moment
                // the addresses are here.
                self.replication_before_addresses(now);
                let inst = &self.instances[i];
                self.outputs.push_back(Output::AddAddresses {
                    instance: inst.cfg.name.clone(),
                    ifindex: inst.host.ifindex,
                    addresses: with_prefixes(&inst.cfg, &addresses),
                });
            }
            Action::RemoveAddresses(addresses) => {
                self.outputs.push_back(Output::RemoveAddresses {
                    instance: inst.cfg.name.clone(),
                    ifindex: inst.host.ifindex,
                    addresses: with_prefixes(&inst.cfg, &addresses),
                });
            }
            Action::Announce {
                addresses,
                repeat,
                spacing,
            } => {
                let frames = tandem_wire::frame::announcements(
                    inst.host.mac,
                    &addresses,
                    router_flag(&inst.cfg),
                );
                let interface = inst.host.announce_interface.clone();
                self.bursts.start(now, interface, frames, repeat, spacing);
                let outputs = &mut self.outputs;
                self.bursts.fire(now, &mut |o| outputs.push_back(o));
            }
            Action::StateChanged { from, to, reason } => {
                self.state_changed = true;
                self.cloud.dirty = true;
                let at_unix = self.unix(now);
                let inst = &mut self.instances[i];
                inst.counters.transitions += 1;
                inst.last_transition = Some(Transition {
                    at_unix,
                    from: from.name().into(),
                    to: to.name().into(),
                    reason: reason.to_string(),
                });
                let (cfg, group) = (&inst.cfg, inst.group_name.clone());
                let event = crate::hooks::HookEvent {
                    instance: cfg.name.clone(),
                    vrid: cfg.election.vrid.get(),
                    interface: cfg.interface.clone(),
                    group: group.clone(),
                    from: from.name().into(),
                    to: to.name().into(),
                    reason: reason.to_string(),
                    at_unix,
                    args: Vec::new(),
                    group_hook: false,
                };
                self.queue_hooks(i, to, &event);
                let cfg = &self.instances[i].cfg;
                let kind = EventKind::State {
                    instance: cfg.name.clone(),
                    vrid: cfg.election.vrid.get(),
                    group,
                    from,
                    to,
                    reason,
                };
                self.emit(now, kind);
            }
            Action::Diagnostic(d) => {
                let kind = report::diagnostic_kind(&d);
                super::bump(&mut self.counters.diagnostics, kind);
                super::bump(&mut self.instances[i].counters.errors, kind);
                self.counters_changed = true;
                let inst = &self.instances[i];
                let key = ("diagnostic", report::Scope::Instance(inst.uid), kind);
                let name = &inst.cfg.name;
                let admitted = self.limiter.admit(now, key, || format!("instance={name}"));
                if let Some(suppressed) = self.suppressed(admitted) {
                    let inst = &self.instances[i];
                    let ev = EventKind::Diagnostic {
                        instance: inst.cfg.name.clone(),
                        vrid: inst.cfg.election.vrid.get(),
                        diagnostic: d,
                        suppressed,
                    };
                    self.emit(now, ev);
                }
            }
        }
    }
}

/// The macvlan an instance with `vmac = true` carries its addresses on, and
/// its virtual MAC: 00-00-5E-00-01-{VRID} (IPv4) or 00-00-5E-00-02-{VRID}
/// (IPv6); CARP uses 00-00-5E-00-01-{VHID} for both families.
pub fn virtual_mac(cfg: &InstanceConfig) -> (String, [u8; 6]) {
    let vrid = cfg.election.vrid;
    let family = cfg.family();
    let mac = match cfg.election.protocol {
        tandem_election::Protocol::Carp { .. } => tandem_wire::frame::carp_virtual_mac(vrid),
        _ => tandem_wire::frame::virtual_mac(vrid, family),
    };
    let v6 = if family == tandem_wire::Family::V6 {
        "6"
    } else {
        ""
    };
    (format!("vrrp{v6}.{}", vrid.get()), mac)
}

/// The election's router for `cfg` as the host set it up.
pub(super) fn router_for(
    cfg: &InstanceConfig,
    host: &InstanceHost,
    now: Instant,
    recent_starts: &[Duration],
) -> Result<VirtualRouter, String> {
    if let tandem_election::Protocol::Vrrp2 {
        auth: tandem_wire::vrrp2::Auth::IpAh,
        ..
    } = cfg.election.protocol
    {
        return Err(format!("instance {}: VRRPv2 IPsec-AH authentication is decoded by `tandemd decode` but not spoken by `tandemd run` yet: use auth = \"none\" or \"pass\"", cfg.name));
    }
    let mut ec = cfg.election.clone();
    ec.primary_address = host.primary;
    if ec.carp_counter == 0 {
        ec.carp_counter = host.carp_counter.max(1);
    }
    // The instance's own interface going down puts it in Fault.
    if !ec.tracks.iter().any(|t| t.name == cfg.interface) {
        ec.tracks.push(Track {
            name: cfg.interface.clone(),
            effect: TrackEffect::Fault,
        });
    }
    VirtualRouter::new(ec, now, recent_starts).map_err(|e| format!("instance {}: {e}", cfg.name))
}

/// Encodes `adv` for each destination of `inst`; returns how many.
fn send_advert(outputs: &mut VecDeque<Output>, inst: &Instance, adv: &Advert) -> u64 {
    let src = inst.host.primary;
    let dsts: Vec<IpAddr> = match &inst.cfg.delivery {
        Delivery::Multicast => vec![codec::group_of(src)],
        Delivery::Broadcast => vec![IpAddr::V4(Ipv4Addr::BROADCAST)],
        Delivery::Unicast(peers) => peers.clone(),
    };
    let mut sent = 0;
    for dst in dsts {
        if let Some(bytes) = codec::encode(adv, src, dst) {
            outputs.push_back(Output::SendAdvert {
                socket: inst.host.socket,
                dst,
                bytes,
            });
            sent += 1;
        }
    }
    sent
}

fn with_prefixes(cfg: &InstanceConfig, addresses: &[IpAddr]) -> Vec<(IpAddr, u8)> {
    addresses.iter().map(|a| (*a, prefix_of(cfg, *a))).collect()
}

/// The prefix length a virtual address is added with.
pub fn prefix_of(cfg: &InstanceConfig, a: IpAddr) -> u8 {
    cfg.election
        .addresses
        .iter()
        .position(|v| *v == a)
        .and_then(|i| cfg.prefixes.get(i).copied())
        .unwrap_or(if a.is_ipv4() { 32 } else { 128 })
}

/// The Router flag of unsolicited NAs: RFC 9568 6.4.1 / 6.4.2 set it for
/// a VRRP virtual router; CARP addresses need not belong to a router.
fn router_flag(cfg: &InstanceConfig) -> bool {
    matches!(
        cfg.election.protocol,
        tandem_election::Protocol::Vrrp3 { .. }
    )
}

pub(super) fn advert_kind(a: &Advert) -> u8 {
    match a {
        Advert::Vrrp3 { .. } => 3,
        Advert::Vrrp2(_) => 2,
        Advert::Carp { .. } => 0,
    }
}

pub(super) fn protocol_kind(cfg: &InstanceConfig) -> u8 {
    match cfg.election.protocol {
        tandem_election::Protocol::Vrrp3 { .. } => 3,
        tandem_election::Protocol::Vrrp2 { .. } => 2,
        tandem_election::Protocol::Carp { .. } => 0,
    }
}

/// The protocol's stable name (`vrrp3`, `vrrp2`, `carp`).
pub fn protocol_name(cfg: &InstanceConfig) -> &'static str {
    match cfg.election.protocol {
        tandem_election::Protocol::Vrrp3 { .. } => "vrrp3",
        tandem_election::Protocol::Vrrp2 { .. } => "vrrp2",
        tandem_election::Protocol::Carp { .. } => "carp",
    }
}
