//! The demonstration's nodes: their configurations from the options, and
//! their timing worked out by the real router.

use std::net::IpAddr;
use std::time::Duration;

use tandem_election::sim::node_addr;
use tandem_election::{Config, Instant, PairRole, PreferredHost, Protocol, VirtualRouter};
use tandem_wire::{vrrp2, Centiseconds, Priority, Seconds, Vrid};

use super::timeline::secs;
use super::{DemoOptionError, DemoOptions, DemoPreferred, DemoProtocol, VIRTUAL, VRID};

const VRID_1: Vrid = match Vrid::new(VRID) {
    Some(v) => v,
    None => panic!("VRID 0 is not a VRID"),
};

/// One node as configured, with its timing worked out by the real router.
#[derive(Debug, Clone)]
pub(super) struct NodeInfo {
    /// "node-1".
    pub(super) name: String,
    pub(super) addr: IpAddr,
    pub(super) config: Config,
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
    let protocol = protocol(opts)?;
    let preferred = match opts.preferred {
        DemoPreferred::First => PreferredHost::First,
        DemoPreferred::Second => PreferredHost::Second,
        DemoPreferred::None => PreferredHost::None,
    };
    (1..=opts.nodes)
        .map(|n| {
            let mut c = Config::new(VRID_1, node_addr(n), vec![IpAddr::V4(VIRTUAL)]);
            c.protocol = protocol.clone();
            let role = if n == 1 {
                PairRole::First
            } else {
                PairRole::Second
            };
            let mut c = c.preferred_host(preferred, role);
            // Extra nodes: Backups of lower rank, without preemption.
            if n > 2 {
                let k = n - 2;
                c.priority = Priority(100 - 10 * k);
                c.preempt = false;
                if let Protocol::Carp { advskew, .. } = &mut c.protocol {
                    *advskew = 100 + 20 * k;
                }
            }
            c.carp_counter = 0xd3_3d00_0000_0000 | u64::from(n);
            let vr = VirtualRouter::new(c.clone(), Instant::ZERO, &[])?;
            Ok(NodeInfo {
                name: format!("node-{n}"),
                addr: node_addr(n),
                adi: vr.active_down_interval(),
                skew: vr.skew_time(),
                config: c,
            })
        })
        .collect()
}

fn protocol(opts: &DemoOptions) -> Result<Protocol, DemoOptionError> {
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
    Ok(match opts.protocol {
        DemoProtocol::Vrrp3 => {
            let why = "0.01 to 40.95 s in steps of 0.01 s";
            let cs = i.as_millis() / 10;
            if Duration::from_millis(cs as u64 * 10) != i || cs == 0 || cs > 4095 {
                return Err(err(why));
            }
            Protocol::vrrp3(Centiseconds(cs as u16))
        }
        DemoProtocol::Vrrp2 => Protocol::Vrrp2 {
            interval: Seconds(whole_secs()?),
            auth: vrrp2::Auth::None,
        },
        DemoProtocol::Carp => Protocol::Carp {
            advbase: whole_secs()?,
            advskew: 0,
            password: b"demo".to_vec(),
        },
    })
}
