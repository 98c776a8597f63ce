//! What the router emits: state changes, diagnostics, announcements and
//! adverts.

use std::net::IpAddr;

use tandem_wire::{carp, vrrp2, vrrp3, Priority, Seconds};

use super::VirtualRouter;
use crate::action::{Action, Diagnostic, Reason, State};
use crate::config::Protocol;
use crate::input::Advert;

impl VirtualRouter {
    pub(super) fn set_state(&mut self, to: State, reason: Reason) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        if to != State::Active && self.active_router == Some(self.config.primary_address) {
            self.active_router = None;
        }
        self.actions
            .push_back(Action::StateChanged { from, to, reason });
    }

    pub(super) fn diag(&mut self, d: Diagnostic) {
        self.actions.push_back(Action::Diagnostic(d));
    }

    pub(super) fn announce_burst(&mut self) {
        let a = self.config.announce;
        self.actions.push_back(Action::Announce {
            addresses: self.config.addresses.clone(),
            repeat: a.repeat,
            spacing: a.spacing,
        });
    }

    pub(super) fn announce(&mut self) {
        if self.state == State::Active {
            self.announce_burst();
        }
    }

    pub(super) fn send_advert(&mut self) {
        let p = self.effective_priority();
        self.send_with(p, None);
    }

    /// Priority 0; CARP: advbase 255, advskew 255 (a carp interface going down).
    pub(super) fn send_resign(&mut self) {
        self.send_with(Priority::RESIGN, Some((255, 255)));
    }

    fn send_with(&mut self, priority: Priority, carp_timing: Option<(u8, u8)>) {
        let c = &self.config;
        match &c.protocol {
            Protocol::Vrrp3 {
                interval,
                v2_compat,
                ..
            } => {
                // Validated at construction: one family, at least one.
                let Some(addresses) = vrrp3::Addresses::from_ips(&c.addresses) else {
                    return;
                };
                let repr = vrrp3::Repr {
                    vrid: c.vrid,
                    priority,
                    max_adver_int: *interval,
                    addresses,
                };
                self.actions.push_back(Action::SendAdvert(Advert::Vrrp3 {
                    repr,
                    checksum: Some(self.send_mode),
                }));
                if *v2_compat {
                    // RFC 9568 8.4.2: also send VRRPv2, at the same rate.
                    let secs = (interval.0 / 100).clamp(1, 255) as u8;
                    let repr = self.vrrp2_repr(priority, Seconds(secs), vrrp2::Auth::None);
                    self.actions
                        .push_back(Action::SendAdvert(Advert::Vrrp2(repr)));
                }
            }
            Protocol::Vrrp2 { interval, auth } => {
                let repr = self.vrrp2_repr(priority, *interval, *auth);
                self.actions
                    .push_back(Action::SendAdvert(Advert::Vrrp2(repr)));
            }
            Protocol::Carp {
                advbase, advskew, ..
            } => {
                let (advbase, advskew) = carp_timing.unwrap_or((*advbase, *advskew));
                let repr = carp::Repr {
                    vhid: c.vrid,
                    advskew,
                    advbase,
                    demotion: self.demotion(),
                    counter: c.carp_counter,
                };
                let Some(key) = &self.carp_key else { return };
                let hmac = key.generate(repr.counter);
                self.actions
                    .push_back(Action::SendAdvert(Advert::Carp { repr, hmac }));
            }
        }
    }

    fn vrrp2_repr(&self, priority: Priority, adver_int: Seconds, auth: vrrp2::Auth) -> vrrp2::Repr {
        vrrp2::Repr {
            vrid: self.config.vrid,
            priority,
            adver_int,
            auth,
            addresses: self
                .config
                .addresses
                .iter()
                .filter_map(|a| {
                    if let IpAddr::V4(a) = a {
                        Some(*a)
                    } else {
                        None
                    }
                })
                .collect(),
        }
    }
}
