//! Setting up on a Linux host what a plan starts: the interface and the
//! address each instance advertises from, its virtual MAC (a macvlan), its
//! raw socket and its announcement socket; and removing what a crash left
//! behind, at the first start. No decision is made here: the Node decided
//! what starts.

use std::net::IpAddr;

use tandem_wire::Family;

use super::linux::LinuxHost;
use crate::config::{DaemonConfig, Delivery, InstanceConfig};
use crate::node::{InstanceHost, Plan, SetUpDone, SetUpError};
use crate::sys::netlink;
use crate::sys::packet::PacketSocket;
use crate::sys::raw::RawSocket;

impl LinuxHost {
    /// Sets up every instance `plan` starts, or none: on an error, what
    /// this call made (macvlans) is removed again.
    pub(super) fn set_up(&mut self, plan: &Plan) -> Result<SetUpDone, SetUpError> {
        let mut hosts: Vec<InstanceHost> = Vec::new();
        let mut links_down = Vec::new();
        for cfg in plan.starting() {
            match self.set_up_instance(&plan.config, cfg, plan.initial) {
                Ok(h) => hosts.push(h),
                Err(e) => {
                    for h in &hosts {
                        if let Some(name) = &h.macvlan {
                            let _ = self.netlink.delete_link(name);
                        }
                    }
                    return Err(SetUpError(format!("instance {:?}: {e}", cfg.name)));
                }
            }
            for name in cfg.track_interfaces.iter().chain(Some(&cfg.interface)) {
                if let Ok(idx) = netlink::ifindex(name) {
                    if !self.netlink.link_up(idx).unwrap_or(true) && !links_down.contains(name) {
                        links_down.push(name.clone());
                    }
                }
            }
        }
        Ok(SetUpDone { hosts, links_down })
    }

    fn set_up_instance(
        &mut self,
        config: &DaemonConfig,
        cfg: &InstanceConfig,
        cleanup: bool,
    ) -> Result<InstanceHost, String> {
        let ifindex = netlink::ifindex(&cfg.interface).map_err(|e| e.to_string())?;
        let family = cfg.family();
        let have = self.netlink.addresses(ifindex).map_err(|e| e.to_string())?;
        let primary = pick_primary(cfg, &have).ok_or_else(|| {
            format!(
                "interface {} has no {family} address to advertise from",
                cfg.interface
            )
        })?;
        // Addresses a crash left behind: we are not Active yet.
        if cleanup && cfg.election.priority.0 != 255 {
            for (a, p) in &have {
                if let Some(i) = cfg.election.addresses.iter().position(|v| v == a) {
                    let prefix = cfg.prefixes.get(i).copied().unwrap_or(*p);
                    self.netlink
                        .remove_address(ifindex, *a, prefix)
                        .map_err(|e| e.to_string())?;
                    tracing::warn!("instance={} removed leftover address {a}", cfg.name);
                }
            }
        }
        let (addr_ifindex, mac, macvlan) = if cfg.vmac {
            let (ifname, mac) = crate::node::virtual_mac(cfg);
            let idx = self
                .netlink
                .create_macvlan(&cfg.interface, &ifname, mac)
                .map_err(|e| e.to_string())?;
            if family == Family::V4 {
                // ARP for the virtual addresses answered by the macvlan
                // alone, with the virtual MAC (IPv6 neighbour discovery
                // already answers per interface).
                let arp = crate::sys::arp_own_addresses_only(&ifname)
                    .and_then(|_| crate::sys::arp_own_addresses_only(&cfg.interface));
                match arp {
                    Ok(changed) if !changed.is_empty() => tracing::info!(
                        "instance={} {}: {} so that only {ifname} speaks ARP for the virtual addresses",
                        cfg.name,
                        cfg.interface,
                        changed.join(", ")
                    ),
                    Ok(_) => {}
                    Err(e) => {
                        let _ = self.netlink.delete_link(&ifname);
                        return Err(e.to_string());
                    }
                }
            }
            (idx, mac, Some(ifname))
        } else {
            let mac = netlink::link_mac(&cfg.interface).map_err(|e| e.to_string())?;
            (ifindex, mac, None)
        };
        let announce_interface = macvlan.clone().unwrap_or_else(|| cfg.interface.clone());
        let undo = |host: &mut LinuxHost, e: String| {
            if let Some(name) = &macvlan {
                let _ = host.netlink.delete_link(name);
            }
            e
        };
        if !self.announcers.contains_key(&announce_interface) {
            match PacketSocket::open(&announce_interface) {
                Ok(p) => {
                    self.announcers.insert(announce_interface.clone(), p);
                }
                Err(e) => return Err(undo(self, e.to_string())),
            }
        }
        let socket = match self.socket_for(config, cfg, family) {
            Ok(s) => s,
            Err(e) => return Err(undo(self, e)),
        };
        Ok(InstanceHost {
            socket,
            ifindex: addr_ifindex,
            announce_interface,
            mac,
            macvlan,
            primary,
            carp_counter: random_u64(),
        })
    }

    /// The raw socket for `cfg`'s interface and family, opened if needed
    /// (with its receiver thread once the loop runs).
    fn socket_for(
        &mut self,
        config: &DaemonConfig,
        cfg: &InstanceConfig,
        family: Family,
    ) -> Result<usize, String> {
        let key = (cfg.interface.clone(), family);
        if let Some(i) = self.socket_keys.iter().position(|k| k.0 == key) {
            if cfg.delivery == Delivery::Multicast && !self.socket_keys[i].1 {
                return Err(format!(
                    "a multicast instance on {} ({family}) where only unicast ones ran: restart tandemd to join the group",
                    cfg.interface
                ));
            }
            return Ok(i);
        }
        let join = config.instances.iter().any(|c| {
            c.interface == cfg.interface
                && c.family() == family
                && c.delivery == Delivery::Multicast
        });
        let sock =
            RawSocket::open(&cfg.interface, family, cfg.source, join).map_err(|e| e.to_string())?;
        let idx = self.sockets.len();
        self.spawn_receiver(&sock, idx).map_err(|e| e.to_string())?;
        self.sockets.push(sock);
        self.socket_keys.push((key, join));
        Ok(idx)
    }
}

/// The interface address an instance advertises from: the configured
/// source, else (IPv6) the interface's link-local address, else its first
/// address of the family that is not a virtual address.
pub(super) fn pick_primary(cfg: &InstanceConfig, have: &[(IpAddr, u8)]) -> Option<IpAddr> {
    if let Some(s) = cfg.source {
        return Some(s);
    }
    let family = cfg.family();
    let ours = |a: &IpAddr| cfg.election.addresses.contains(a) && cfg.election.priority.0 != 255;
    let candidates = have
        .iter()
        .map(|(a, _)| *a)
        .filter(|a| Family::of(*a) == family && !ours(a));
    match family {
        Family::V6 => {
            let all: Vec<IpAddr> = candidates.collect();
            all.iter()
                .find(|a| matches!(a, IpAddr::V6(v) if v.segments()[0] & 0xffc0 == 0xfe80))
                .or(all.first())
                .copied()
        }
        Family::V4 => candidates.into_iter().next(),
    }
}

/// A random 64-bit value, never 0 (what an unset CARP counter looks like).
pub(super) fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut b);
    }
    match u64::from_ne_bytes(b) {
        0 => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64 | 1)
            .unwrap_or(1),
        v => v,
    }
}
