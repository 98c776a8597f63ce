//! Protocol-level checks of received adverts: versions, authentication,
//! address lists and checksum forms.

use std::net::IpAddr;
use std::time::Duration;

use tandem_wire::{carp, vrrp2, Centiseconds, ChecksumMode, Family, Priority, Seconds};

use super::VirtualRouter;
use crate::action::{AuthFailure, Diagnostic};
use crate::config::{ChecksumPolicy, Protocol};
use crate::input::{Advert, Received};
use crate::Instant;

impl VirtualRouter {
    // ----- receiving ---------------------------------------------------

    /// Protocol-level checks of a received advert (RFC 9568 7.1, RFC 3768
    /// 7.1, carp(4)); `None` drops it.
    pub(super) fn check(&mut self, now: Instant, rx: Received<'_>) -> Option<Peer> {
        let src = rx.src;
        // The settings the checks need, copied out of the configuration.
        let ours = match &self.config.protocol {
            Protocol::Vrrp3 {
                checksum,
                v2_compat,
                ..
            } => Ours::Vrrp3 {
                checksum: *checksum,
                v2_compat: *v2_compat,
            },
            Protocol::Vrrp2 { interval, auth } => Ours::Vrrp2 {
                interval: *interval,
                auth: *auth,
            },
            Protocol::Carp { .. } => Ours::Carp,
        };
        match (ours, rx.advert) {
            (
                Ours::Vrrp3 { checksum, .. },
                Advert::Vrrp3 {
                    repr,
                    checksum: mode,
                },
            ) => {
                if !self.check_addresses(src, repr.priority, repr.addresses.iter()) {
                    return None;
                }
                if let Some(mode) = mode {
                    if !self.check_checksum_mode(src, checksum, *mode) {
                        return None;
                    }
                }
                self.v3_from = Some((src, now));
                Some(Peer::Vrrp {
                    priority: repr.priority,
                    interval: cs(repr.max_adver_int),
                })
            }
            (
                Ours::Vrrp3 {
                    v2_compat: true, ..
                },
                Advert::Vrrp2(repr),
            ) => {
                // RFC 9568 8.4.2: a Backup SHOULD ignore VRRPv2 adverts from
                // an Active router that also sends VRRPv3.
                let down = self.active_down_interval();
                if self
                    .v3_from
                    .is_some_and(|(a, t)| a == src && now.saturating_since(t) < down)
                {
                    return None;
                }
                let addrs = repr.addresses.iter().map(|a| IpAddr::V4(*a));
                if !self.check_addresses(src, repr.priority, addrs) {
                    return None;
                }
                // ...and time out on the VRRPv2 rate, seconds in centiseconds.
                Some(Peer::Vrrp {
                    priority: repr.priority,
                    interval: secs(repr.adver_int),
                })
            }
            (Ours::Vrrp2 { interval, auth }, Advert::Vrrp2(repr)) => {
                // RFC 3768 7.1: authenticate, then the addresses, then the interval.
                if repr.auth.auth_type() != auth.auth_type() {
                    self.diag(Diagnostic::AuthFailure {
                        src,
                        what: AuthFailure::AuthType,
                    });
                    return None;
                }
                if let (vrrp2::Auth::SimpleText(theirs), vrrp2::Auth::SimpleText(ours)) =
                    (repr.auth, auth)
                {
                    if theirs != ours {
                        self.diag(Diagnostic::AuthFailure {
                            src,
                            what: AuthFailure::Password,
                        });
                        return None;
                    }
                }
                let addrs = repr.addresses.iter().map(|a| IpAddr::V4(*a));
                if !self.check_addresses(src, repr.priority, addrs) {
                    return None;
                }
                if repr.adver_int != interval {
                    let (theirs, ours) = (secs(repr.adver_int), secs(interval));
                    self.diag(Diagnostic::IntervalMismatch { src, theirs, ours });
                    return None;
                }
                Some(Peer::Vrrp {
                    priority: repr.priority,
                    interval: secs(repr.adver_int),
                })
            }
            (Ours::Carp, Advert::Carp { repr, hmac }) => {
                let key = self.carp_key.as_ref()?;
                if key.verify(repr.counter, hmac).is_err() {
                    self.diag(Diagnostic::AuthFailure {
                        src,
                        what: AuthFailure::BadHmac,
                    });
                    return None;
                }
                if repr.counter == self.config.carp_counter {
                    // OpenBSD's replay cookie: our own advert came back.
                    self.diag(Diagnostic::OwnAdvertLooped);
                    return None;
                }
                Some(Peer::Carp(*repr))
            }
            (ours, theirs) => {
                let _ = now;
                let ours_v = match ours {
                    Ours::Vrrp3 { .. } => 3,
                    _ => 2,
                };
                self.diag(Diagnostic::VersionMismatch {
                    src,
                    theirs: theirs.version(),
                    ours: ours_v,
                });
                None
            }
        }
    }

    /// RFC 9568 7.1 / RFC 3768 7.1: an address list that differs from ours
    /// is logged, and dropped unless its sender is the owner (priority 255).
    fn check_addresses(
        &mut self,
        src: IpAddr,
        priority: Priority,
        theirs: impl Iterator<Item = IpAddr>,
    ) -> bool {
        let mut theirs: Vec<IpAddr> = theirs.collect();
        let mut ours = self.config.addresses.clone();
        theirs.sort_unstable();
        ours.sort_unstable();
        if theirs == ours {
            return true;
        }
        self.diag(Diagnostic::DuplicateVrid {
            src,
            addresses: theirs,
        });
        priority == Priority::OWNER
    }

    fn check_checksum_mode(
        &mut self,
        src: IpAddr,
        policy: ChecksumPolicy,
        mode: ChecksumMode,
    ) -> bool {
        if Family::of(src) == Family::V6 {
            return true;
        }
        let required = match policy {
            ChecksumPolicy::Rfc9568 => Some(ChecksumMode::NoPseudoHeader),
            ChecksumPolicy::Ipv4PseudoHeader => Some(ChecksumMode::PseudoHeader),
            ChecksumPolicy::Auto => None,
        };
        if let Some(required) = required {
            if mode != required {
                self.diag(Diagnostic::ChecksumMode {
                    src,
                    theirs: mode,
                    ours: required,
                });
                return false;
            }
            return true;
        }
        // Automatic: remember the peer's form, send in it, report a mix.
        match self.peer_modes.iter_mut().find(|(a, _)| *a == src) {
            Some(entry) => entry.1 = mode,
            None => {
                if self.peer_modes.len() == MAX_PEERS {
                    self.peer_modes.remove(0);
                }
                self.peer_modes.push((src, mode));
            }
        }
        if let Some((other, m)) = self.peer_modes.iter().find(|(_, m)| *m != mode) {
            let (other, m) = (*other, *m);
            self.diag(Diagnostic::ChecksumMode {
                src: other,
                theirs: m,
                ours: mode,
            });
        }
        self.send_mode = mode;
        true
    }
}

/// Peers remembered for their checksum form (bounded: sources are not trusted).
const MAX_PEERS: usize = 16;

/// The protocol settings the receive checks need.
#[derive(Clone, Copy)]
enum Ours {
    Vrrp3 {
        checksum: ChecksumPolicy,
        v2_compat: bool,
    },
    Vrrp2 {
        interval: Seconds,
        auth: vrrp2::Auth,
    },
    Carp,
}

/// What the state machine needs of a checked advert.
pub(super) enum Peer {
    Vrrp {
        priority: Priority,
        interval: Duration,
    },
    Carp(carp::Repr),
}

fn cs(c: Centiseconds) -> Duration {
    Duration::from_millis(u64::from(c.0) * 10)
}

fn secs(s: Seconds) -> Duration {
    Duration::from_secs(u64::from(s.0))
}
