//! The demonstration's nodes: their configuration files from the options,
//! parsed as `tandemd run` parses them, and their timing worked out by the
//! real router.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tandem_election::{Config, Instant, Protocol, VirtualRouter};

use super::timeline::secs;
use super::{
    DemoOptionError, DemoOptions, DemoPreferred, DemoProtocol, INSTANCE, INTERFACE, VIRTUAL, VRID,
};
use crate::config::{self, DaemonConfig};

/// One node as configured, with its timing worked out by the real router.
#[derive(Debug, Clone)]
pub(super) struct NodeInfo {
    /// "node-1".
    pub(super) name: String,
    pub(super) addr: IpAddr,
    /// The election's configuration, from the file.
    pub(super) config: Config,
    /// The configuration the node runs, parsed from `text`.
    pub(super) file: DaemonConfig,
    /// Its configuration file.
    pub(super) text: String,
    /// Active_Down_Interval with its own interval.
    pub(super) adi: Duration,
    /// Skew_Time with its own interval.
    pub(super) skew: Duration,
}

impl NodeInfo {
    pub(super) fn label(&self) -> String {
        format!("{} {}", self.name, self.addr)
    }

    /// "priority 200" (CARP: "advskew 0").
    pub(super) fn rank(&self) -> String {
        match self.config.protocol {
            Protocol::Carp { advskew, .. } => format!("advskew {advskew}"),
            _ => format!("priority {}", self.config.priority.0),
        }
    }

    /// The Active_Down_Interval as a formula with its numbers.
    pub(super) fn adi_formula(&self) -> String {
        let p = self.config.priority.0;
        match self.config.protocol {
            Protocol::Vrrp3 { .. } => {
                let i = secs(self.config.protocol.interval());
                format!("3 x {i} + (256 - {p})/256 x {i} = {}", secs(self.adi))
            }
            Protocol::Vrrp2 { .. } => {
                let i = secs(self.config.protocol.interval());
                format!("3 x {i} + (256 - {p})/256 s = {}", secs(self.adi))
            }
            Protocol::Carp {
                advbase, advskew, ..
            } => format!(
                "3 x advbase {advbase} s + advskew {advskew}/256 s = {}",
                secs(self.adi)
            ),
        }
    }

    /// The Skew_Time as a formula with its numbers.
    pub(super) fn skew_formula(&self) -> String {
        let p = self.config.priority.0;
        match self.config.protocol {
            Protocol::Vrrp3 { .. } => format!(
                "(256 - {p})/256 x {} = {}",
                secs(self.config.protocol.interval()),
                secs(self.skew)
            ),
            Protocol::Vrrp2 { .. } => format!("(256 - {p})/256 s = {}", secs(self.skew)),
            Protocol::Carp { .. } => "none (CARP)".to_string(),
        }
    }
}

pub(super) fn build_nodes(opts: &DemoOptions) -> Result<Vec<NodeInfo>, DemoOptionError> {
    if !(2..=4).contains(&opts.nodes) {
        return Err(DemoOptionError::Nodes(opts.nodes));
    }
    if opts.loss > 50 {
        return Err(DemoOptionError::Loss(opts.loss));
    }
    check_interval(opts)?;
    let preferred = match opts.preferred {
        DemoPreferred::First => Some(1),
        DemoPreferred::Second => Some(2),
        DemoPreferred::None => None,
    };
    (1..=opts.nodes)
        .map(|n| {
            let name = format!("node-{n}");
            let text = config_file(opts, n, preferred == Some(n));
            let file = config::parse(&text).map_err(|source| DemoOptionError::File {
                node: name.clone(),
                source: Box::new(source),
            })?;
            let mut c = file
                .instances
                .first()
                .map(|i| i.election.clone())
                .ok_or_else(|| DemoOptionError::NoInstance(name.clone()))?;
            // The host gives the address adverts come from.
            c.primary_address = node_addr(n);
            let vr = VirtualRouter::new(c.clone(), Instant::ZERO, &[])?;
            Ok(NodeInfo {
                name,
                addr: node_addr(n),
                adi: vr.active_down_interval(),
                skew: vr.skew_time(),
                config: c,
                file,
                text,
            })
        })
        .collect()
}

/// The address of node `n` on the simulated LAN: 192.0.2.n.
pub(super) fn node_addr(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))
}

/// Node `n`'s configuration file, as `tandemd run --config` reads it.
/// The preferred host has priority 200 (CARP: advskew 0) and preemption,
/// the other of the pair priority 100 (advskew 100) without; extra nodes
/// are Backups of lower rank without preemption.
fn config_file(opts: &DemoOptions, n: u8, preferred: bool) -> String {
    let (priority, advskew, preempt) = match n {
        _ if preferred => (200, 0, true),
        1 | 2 => (100, 100, false),
        _ => {
            let k = n - 2;
            (100 - 10 * k, 100 + 20 * k, false)
        }
    };
    let i = opts.interval;
    let interval = format!("{}.{:02}", i.as_secs(), i.subsec_millis() / 10);
    let rank = match opts.protocol {
        DemoProtocol::Vrrp3 => {
            format!("protocol = \"vrrp3\"\ninterval = {interval}\npriority = {priority}\n")
        }
        DemoProtocol::Vrrp2 => format!(
            "protocol = \"vrrp2\"\ninterval = {}\npriority = {priority}\n",
            i.as_secs()
        ),
        DemoProtocol::Carp => format!(
            "protocol = \"carp\"\nadvbase = {}\nadvskew = {advskew}\npassword = \"demo\"\n",
            i.as_secs()
        ),
    };
    format!(
        "# node-{n}\n[[instance]]\nname = \"{INSTANCE}\"\ninterface = \"{INTERFACE}\"\nvrid = {VRID}\n\
         addresses = [\"{VIRTUAL}/24\"]\n{rank}preempt = {preempt}\n"
    )
}

/// Checks the interval against the protocol, naming the option.
fn check_interval(opts: &DemoOptions) -> Result<(), DemoOptionError> {
    let err = |why| DemoOptionError::Interval {
        protocol: opts.protocol.name(),
        interval: opts.interval,
        why,
    };
    let i = opts.interval;
    let whole_secs = || -> Result<u8, DemoOptionError> {
        let why = "whole seconds from 1 to 255";
        if i.subsec_nanos() != 0 {
            return Err(err(why));
        }
        u8::try_from(i.as_secs())
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| err(why))
    };
    match opts.protocol {
        DemoProtocol::Vrrp3 => {
            let why = "0.01 to 40.95 s in steps of 0.01 s";
            let cs = i.as_millis() / 10;
            if Duration::from_millis(cs as u64 * 10) != i || cs == 0 || cs > 4095 {
                return Err(err(why));
            }
        }
        DemoProtocol::Vrrp2 | DemoProtocol::Carp => {
            whole_secs()?;
        }
    }
    Ok(())
}
