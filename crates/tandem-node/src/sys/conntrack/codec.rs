//! ctnetlink messages: an [`Entry`] to `IPCTNL_MSG_CT_NEW` / `_DELETE`
//! attributes and back.
//!
//! netlink-packet-netfilter frames the messages (`nfgenmsg`, message
//! types) and knows the tuple addresses and ports, status, timeout, mark
//! and TCP protoinfo. What it lacks is carried as raw attributes
//! ([`DefaultNla`]) built and read here: `CTA_ZONE`, `CTA_ID`,
//! `CTA_NAT_SRC` / `CTA_NAT_DST`, the ICMP and ICMPv6 tuple fields
//! (`CTA_PROTO_ICMP_ID/TYPE/CODE`, `CTA_PROTO_ICMPV6_*`) and SCTP protoinfo
//! (`CTA_PROTOINFO_SCTP`). Numbers are those of
//! `include/uapi/linux/netfilter/nfnetlink_conntrack.h`.

use std::net::IpAddr;

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, NetlinkHeader, NetlinkMessage, NetlinkPayload, Nla,
    NlaBuffer, NlasIterator, NLA_F_NESTED, NLA_TYPE_MASK, NLM_F_CREATE, NLM_F_EXCL,
};
use netlink_packet_netfilter::conntrack::{
    ConntrackAttribute, ConntrackMessage, IPTuple, ProtoInfo, ProtoInfoTCP, ProtoTuple, Protocol,
    Status, TCPFlags, Tuple as NlTuple,
};
use netlink_packet_netfilter::{
    NetfilterHeader, NetfilterMessage, NetfilterMessageInner, NetfilterProtoFamily,
};

use super::{proto, Entry, Event, Key, SctpInfo, TcpInfo, Tuple};

const CTA_NAT_SRC: u16 = 6;
const CTA_ID: u16 = 12;
const CTA_NAT_DST: u16 = 13;
const CTA_ZONE: u16 = 18;

const CTA_PROTO_ICMP_ID: u16 = 4;
const CTA_PROTO_ICMP_TYPE: u16 = 5;
const CTA_PROTO_ICMP_CODE: u16 = 6;
const CTA_PROTO_ICMPV6_ID: u16 = 7;
const CTA_PROTO_ICMPV6_TYPE: u16 = 8;
const CTA_PROTO_ICMPV6_CODE: u16 = 9;

const CTA_PROTOINFO_SCTP: u16 = 3;
const CTA_PROTOINFO_SCTP_STATE: u16 = 1;
const CTA_PROTOINFO_SCTP_VTAG_ORIGINAL: u16 = 2;
const CTA_PROTOINFO_SCTP_VTAG_REPLY: u16 = 3;

const CTA_NAT_V4_MINIP: u16 = 1;
const CTA_NAT_V4_MAXIP: u16 = 2;
const CTA_NAT_PROTO: u16 = 3;
const CTA_NAT_V6_MINIP: u16 = 4;
const CTA_NAT_V6_MAXIP: u16 = 5;
const CTA_PROTONAT_PORT_MIN: u16 = 1;
const CTA_PROTONAT_PORT_MAX: u16 = 2;

/// The family of an entry's `nfgenmsg`.
fn family(t: &Tuple) -> NetfilterProtoFamily {
    if t.src.is_ipv4() {
        NetfilterProtoFamily::IPv4
    } else {
        NetfilterProtoFamily::IPv6
    }
}

fn raw(kind: u16, value: Vec<u8>) -> DefaultNla {
    DefaultNla::new(kind, value)
}

/// Nested raw attribute: `inner` emitted one after the other.
fn nested<T: Nla>(kind: u16, inner: &[T]) -> DefaultNla {
    let mut value = vec![0u8; inner.buffer_len()];
    inner.emit(&mut value);
    DefaultNla::new(kind | NLA_F_NESTED, value)
}

/// A tuple's nested attributes (the value of `CTA_TUPLE_ORIG` / `_REPLY`).
fn tuple_attrs(p: u8, t: &Tuple) -> Vec<NlTuple> {
    let ip = vec![
        IPTuple::SourceAddress(t.src),
        IPTuple::DestinationAddress(t.dst),
    ];
    let mut l4 = vec![ProtoTuple::Protocol(Protocol::from(p))];
    let icmp = match p {
        proto::ICMP => Some((CTA_PROTO_ICMP_ID, CTA_PROTO_ICMP_TYPE, CTA_PROTO_ICMP_CODE)),
        proto::ICMPV6 => Some((
            CTA_PROTO_ICMPV6_ID,
            CTA_PROTO_ICMPV6_TYPE,
            CTA_PROTO_ICMPV6_CODE,
        )),
        _ => None,
    };
    match icmp {
        Some((id, ty, code)) => {
            let [t_hi, c_lo] = t.dst_port.to_be_bytes();
            l4.push(ProtoTuple::Other(raw(
                id,
                t.src_port.to_be_bytes().to_vec(),
            )));
            l4.push(ProtoTuple::Other(raw(ty, vec![t_hi])));
            l4.push(ProtoTuple::Other(raw(code, vec![c_lo])));
        }
        None if has_ports(p) => {
            l4.push(ProtoTuple::SourcePort(t.src_port));
            l4.push(ProtoTuple::DestinationPort(t.dst_port));
        }
        None => {}
    }
    vec![NlTuple::Ip(ip), NlTuple::Proto(l4)]
}

/// Whether conntrack keys protocol `p` by ports.
fn has_ports(p: u8) -> bool {
    matches!(p, proto::TCP | proto::UDP | proto::SCTP | 33 | 136)
}

/// One NAT manipulation (`CTA_NAT_SRC` or `CTA_NAT_DST`): to `addr`, and
/// to `port` for protocols with ports.
fn nat_attr(kind: u16, p: u8, addr: IpAddr, port: u16) -> DefaultNla {
    let (min, max, octets) = match addr {
        IpAddr::V4(a) => (CTA_NAT_V4_MINIP, CTA_NAT_V4_MAXIP, a.octets().to_vec()),
        IpAddr::V6(a) => (CTA_NAT_V6_MINIP, CTA_NAT_V6_MAXIP, a.octets().to_vec()),
    };
    let mut inner = vec![raw(min, octets.clone()), raw(max, octets)];
    if has_ports(p) {
        let port = port.to_be_bytes().to_vec();
        let ports = [
            raw(CTA_PROTONAT_PORT_MIN, port.clone()),
            raw(CTA_PROTONAT_PORT_MAX, port),
        ];
        inner.push(nested(CTA_NAT_PROTO, &ports));
    }
    nested(kind, &inner)
}

/// What a create or update message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// A new entry: NAT as `CTA_NAT_*` against the untranslated reply.
    Create,
    /// A change to an existing entry: no NAT (the kernel refuses it).
    Update,
    /// An update without `CTA_STATUS`, for an entry whose status the
    /// kernel will not take (it would clear `IPS_SEEN_REPLY`,
    /// `IPS_ASSURED` or `IPS_EXPECTED`).
    UpdateKeepStatus,
}

/// The attributes of an `IPCTNL_MSG_CT_NEW` for `e` (see the module docs
/// of `conntrack` for the NAT and TCP rules).
pub(super) fn new_attrs(e: &Entry, purpose: Purpose) -> Vec<ConntrackAttribute> {
    let untranslated = e.orig.inverse(e.proto);
    let mut attrs = vec![ConntrackAttribute::CtaTupleOrig(tuple_attrs(
        e.proto, &e.orig,
    ))];
    match purpose {
        Purpose::Create if e.reply != untranslated => {
            attrs.push(ConntrackAttribute::CtaTupleReply(tuple_attrs(
                e.proto,
                &untranslated,
            )));
            if e.reply.src != untranslated.src || e.reply.src_port != untranslated.src_port {
                attrs.push(ConntrackAttribute::Other(nat_attr(
                    CTA_NAT_DST,
                    e.proto,
                    e.reply.src,
                    e.reply.src_port,
                )));
            }
            if e.reply.dst != untranslated.dst || e.reply.dst_port != untranslated.dst_port {
                attrs.push(ConntrackAttribute::Other(nat_attr(
                    CTA_NAT_SRC,
                    e.proto,
                    e.reply.dst,
                    e.reply.dst_port,
                )));
            }
        }
        _ => attrs.push(ConntrackAttribute::CtaTupleReply(tuple_attrs(
            e.proto, &e.reply,
        ))),
    }
    if purpose != Purpose::UpdateKeepStatus {
        attrs.push(ConntrackAttribute::CtaStatus(Status::from_bits_retain(
            (e.status & super::status::SETTABLE) | super::status::CONFIRMED,
        )));
    }
    attrs.push(ConntrackAttribute::CtaTimeout(e.timeout_s));
    attrs.push(ConntrackAttribute::CtaMark(e.mark));
    if e.zone != 0 {
        attrs.push(ConntrackAttribute::Other(zone_attr(e.zone)));
    }
    match e.proto {
        proto::TCP => {
            let mut tcp = vec![ProtoInfoTCP::State(e.state)];
            if let Some(t) = e.tcp {
                // Set the given flags, clear none (mask = flags), as
                // conntrackd does; window scales count only with the
                // WINDOW_SCALE flag on both sides (the kernel's rule).
                if let Ok(f) = TCPFlags::parse(&[t.flags[0], t.flags[0]]) {
                    tcp.push(ProtoInfoTCP::OriginalFlags(f));
                }
                if let Ok(f) = TCPFlags::parse(&[t.flags[1], t.flags[1]]) {
                    tcp.push(ProtoInfoTCP::ReplyFlags(f));
                }
                tcp.push(ProtoInfoTCP::OriginalWindowScale(t.wscale[0]));
                tcp.push(ProtoInfoTCP::ReplyWindowScale(t.wscale[1]));
            }
            attrs.push(ConntrackAttribute::CtaProtoInfo(vec![ProtoInfo::TCP(tcp)]));
        }
        proto::SCTP => {
            let vtag = e.sctp.map(|s| s.vtag).unwrap_or([0, 0]);
            let inner = [
                raw(CTA_PROTOINFO_SCTP_STATE, vec![e.state]),
                raw(
                    CTA_PROTOINFO_SCTP_VTAG_ORIGINAL,
                    vtag[0].to_be_bytes().to_vec(),
                ),
                raw(
                    CTA_PROTOINFO_SCTP_VTAG_REPLY,
                    vtag[1].to_be_bytes().to_vec(),
                ),
            ];
            attrs.push(ConntrackAttribute::CtaProtoInfo(vec![ProtoInfo::Other(
                nested(CTA_PROTOINFO_SCTP, &inner),
            )]));
        }
        _ => {}
    }
    attrs
}

fn zone_attr(zone: u16) -> DefaultNla {
    raw(CTA_ZONE, zone.to_be_bytes().to_vec())
}

/// The attributes that name one entry (for a get or a delete).
pub(super) fn key_attrs(k: &Key) -> Vec<ConntrackAttribute> {
    let mut attrs = vec![ConntrackAttribute::CtaTupleOrig(tuple_attrs(
        k.proto, &k.orig,
    ))];
    if k.zone != 0 {
        attrs.push(ConntrackAttribute::Other(zone_attr(k.zone)));
    }
    attrs
}

/// A whole netlink message, header filled in.
pub(super) fn message(
    msg: ConntrackMessage,
    fam: NetfilterProtoFamily,
    flags: u16,
    seq: u32,
) -> NetlinkMessage<NetfilterMessage> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    let mut m = NetlinkMessage::new(
        header,
        NetlinkPayload::from(NetfilterMessage::new(NetfilterHeader::new(fam, 0, 0), msg)),
    );
    m.finalize();
    m
}

/// The family of an entry or key's message.
pub(super) fn family_of(t: &Tuple) -> NetfilterProtoFamily {
    family(t)
}

/// Appends `m` to `out`, aligned to 4 bytes as netlink wants.
pub(super) fn append(out: &mut Vec<u8>, m: &NetlinkMessage<NetfilterMessage>) {
    let start = out.len();
    let len = m.buffer_len();
    out.resize(start + ((len + 3) & !3), 0);
    m.serialize(&mut out[start..start + len]);
}

/// One netlink message of a datagram as ctnetlink users see it.
#[derive(Debug)]
pub(super) enum Msg {
    /// An entry (a dump's or get's answer, or an event).
    Entry { seq: u32, event: Event },
    /// An ACK (code 0) or an error (negative errno).
    Ack { seq: u32, code: i32 },
    /// The end of a dump.
    Done { seq: u32 },
    /// A message that is not a conntrack entry (another subsystem, an
    /// expectation, a malformed entry): counted, skipped.
    Skipped,
}

/// Splits a datagram into its messages. Only a broken netlink framing (a
/// length that overruns the datagram) is an error; a message that does not
/// decode is [`Msg::Skipped`].
pub(super) fn split(mut buf: &[u8]) -> Result<Vec<Msg>, DecodeError> {
    let mut out = Vec::new();
    while buf.len() >= 16 {
        let len = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len < 16 || len > buf.len() {
            return Err(DecodeError::from(format!(
                "netlink message length {len} in a {}-byte datagram",
                buf.len()
            )));
        }
        out.push(decode(&buf[..len]));
        let step = (len + 3) & !3;
        buf = &buf[step.min(buf.len())..];
    }
    Ok(out)
}

/// Decodes one netlink message (exactly its bytes).
pub(super) fn decode(bytes: &[u8]) -> Msg {
    let Ok(m) = NetlinkMessage::<NetfilterMessage>::deserialize(bytes) else {
        return Msg::Skipped;
    };
    let seq = m.header.sequence_number;
    let flags = m.header.flags;
    match m.payload {
        NetlinkPayload::Error(e) => Msg::Ack {
            seq,
            code: e.raw_code(),
        },
        NetlinkPayload::Done(_) => Msg::Done { seq },
        NetlinkPayload::InnerMessage(NetfilterMessage {
            inner: NetfilterMessageInner::Conntrack(c),
            ..
        }) => {
            let event = match c {
                ConntrackMessage::New(a) => match entry(&a) {
                    Some(e) if flags & (NLM_F_CREATE | NLM_F_EXCL) != 0 => Event::New(e),
                    Some(e) => Event::Update(e),
                    None => return Msg::Skipped,
                },
                ConntrackMessage::Delete(a) => match entry(&a) {
                    Some(e) => Event::Destroy(e),
                    None => return Msg::Skipped,
                },
                _ => return Msg::Skipped,
            };
            Msg::Entry { seq, event }
        }
        _ => Msg::Skipped,
    }
}

/// The value bytes of a raw attribute.
fn value(nla: &DefaultNla) -> Vec<u8> {
    let mut v = vec![0u8; nla.value_len()];
    nla.emit_value(&mut v);
    v
}

fn kind(nla: &DefaultNla) -> u16 {
    nla.kind() & NLA_TYPE_MASK
}

fn be16(v: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(v.get(..2)?.try_into().ok()?))
}

fn be32(v: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(v.get(..4)?.try_into().ok()?))
}

/// The entry an `IPCTNL_MSG_CT_NEW` / `_DELETE` describes; `None` when a
/// tuple is missing or incomplete.
pub(super) fn entry(attrs: &[ConntrackAttribute]) -> Option<Entry> {
    let mut orig = None;
    let mut reply = None;
    let mut e = Entry {
        proto: 0,
        zone: 0,
        orig: blank_tuple(),
        reply: blank_tuple(),
        state: 0,
        status: 0,
        timeout_s: 0,
        mark: 0,
        tcp: None,
        sctp: None,
        id: None,
    };
    for a in attrs {
        match a {
            ConntrackAttribute::CtaTupleOrig(t) => orig = Some(tuple(t)?),
            ConntrackAttribute::CtaTupleReply(t) => reply = Some(tuple(t)?),
            ConntrackAttribute::CtaStatus(s) => e.status = s.bits(),
            ConntrackAttribute::CtaTimeout(t) => e.timeout_s = *t,
            ConntrackAttribute::CtaMark(m) => e.mark = *m,
            ConntrackAttribute::CtaProtoInfo(p) => protoinfo(p, &mut e),
            ConntrackAttribute::Other(nla) => match kind(nla) {
                CTA_ZONE => e.zone = be16(&value(nla)).unwrap_or(0),
                CTA_ID => e.id = be32(&value(nla)),
                _ => {}
            },
            _ => {}
        }
    }
    let (p, orig) = orig?;
    let (rp, reply) = reply?;
    if p != rp || orig.src.is_ipv4() != reply.src.is_ipv4() {
        return None;
    }
    e.proto = p;
    e.orig = orig;
    e.reply = reply;
    Some(e)
}

fn blank_tuple() -> Tuple {
    let any = IpAddr::from([0u8; 4]);
    Tuple {
        src: any,
        dst: any,
        src_port: 0,
        dst_port: 0,
    }
}

/// A tuple and its protocol number.
fn tuple(attrs: &[NlTuple]) -> Option<(u8, Tuple)> {
    let (mut src, mut dst, mut p) = (None, None, None);
    let (mut sport, mut dport) = (0u16, 0u16);
    let (mut icmp_id, mut icmp_type, mut icmp_code) = (0u16, 0u8, 0u8);
    for a in attrs {
        match a {
            NlTuple::Ip(ips) => {
                for ip in ips {
                    match ip {
                        IPTuple::SourceAddress(a) => src = Some(*a),
                        IPTuple::DestinationAddress(a) => dst = Some(*a),
                        _ => {}
                    }
                }
            }
            NlTuple::Proto(l4) => {
                for f in l4 {
                    match f {
                        ProtoTuple::Protocol(n) => p = Some(u8::from(*n)),
                        ProtoTuple::SourcePort(v) => sport = *v,
                        ProtoTuple::DestinationPort(v) => dport = *v,
                        ProtoTuple::Other(nla) => {
                            let v = value(nla);
                            match kind(nla) {
                                CTA_PROTO_ICMP_ID | CTA_PROTO_ICMPV6_ID => {
                                    icmp_id = be16(&v).unwrap_or(0)
                                }
                                CTA_PROTO_ICMP_TYPE | CTA_PROTO_ICMPV6_TYPE => {
                                    icmp_type = v.first().copied().unwrap_or(0)
                                }
                                CTA_PROTO_ICMP_CODE | CTA_PROTO_ICMPV6_CODE => {
                                    icmp_code = v.first().copied().unwrap_or(0)
                                }
                                _ => {}
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let (src, dst, p) = (src?, dst?, p?);
    if src.is_ipv4() != dst.is_ipv4() {
        return None;
    }
    if matches!(p, proto::ICMP | proto::ICMPV6) {
        sport = icmp_id;
        dport = (u16::from(icmp_type) << 8) | u16::from(icmp_code);
    }
    Some((
        p,
        Tuple {
            src,
            dst,
            src_port: sport,
            dst_port: dport,
        },
    ))
}

fn protoinfo(p: &[ProtoInfo], e: &mut Entry) {
    for info in p {
        match info {
            ProtoInfo::TCP(fields) => {
                let mut t = TcpInfo::default();
                for f in fields {
                    match f {
                        ProtoInfoTCP::State(s) => e.state = *s,
                        ProtoInfoTCP::OriginalWindowScale(s) => t.wscale[0] = *s,
                        ProtoInfoTCP::ReplyWindowScale(s) => t.wscale[1] = *s,
                        ProtoInfoTCP::OriginalFlags(f) => t.flags[0] = f.flags,
                        ProtoInfoTCP::ReplyFlags(f) => t.flags[1] = f.flags,
                        _ => {}
                    }
                }
                e.tcp = Some(t);
            }
            ProtoInfo::Other(nla) if kind(nla) == CTA_PROTOINFO_SCTP => {
                let v = value(nla);
                let mut s = SctpInfo::default();
                for inner in NlasIterator::new(v.as_slice()) {
                    let Ok(inner): Result<NlaBuffer<&[u8]>, _> = inner else {
                        break;
                    };
                    let iv = inner.value();
                    match inner.kind() & NLA_TYPE_MASK {
                        CTA_PROTOINFO_SCTP_STATE => e.state = iv.first().copied().unwrap_or(0),
                        CTA_PROTOINFO_SCTP_VTAG_ORIGINAL => s.vtag[0] = be32(iv).unwrap_or(0),
                        CTA_PROTOINFO_SCTP_VTAG_REPLY => s.vtag[1] = be32(iv).unwrap_or(0),
                        _ => {}
                    }
                }
                e.sctp = Some(s);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::conntrack::{status, tcp_state, TcpInfo};
    use netlink_packet_core::NLM_F_REQUEST;
    use proptest::prelude::*;

    fn t(src: &str, dst: &str, sp: u16, dp: u16) -> Tuple {
        Tuple {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            src_port: sp,
            dst_port: dp,
        }
    }

    fn plain(p: u8, orig: Tuple) -> Entry {
        Entry {
            proto: p,
            zone: 0,
            orig,
            reply: orig.inverse(p),
            state: 0,
            status: status::CONFIRMED,
            timeout_s: 30,
            mark: 9,
            tcp: None,
            sctp: None,
            id: None,
        }
    }

    /// Emits `e` as the kernel would send it back and decodes it.
    fn round_trip(e: &Entry, purpose: Purpose) -> Entry {
        let m = message(
            ConntrackMessage::New(new_attrs(e, purpose)),
            family_of(&e.orig),
            NLM_F_REQUEST | NLM_F_CREATE,
            7,
        );
        let mut bytes = Vec::new();
        append(&mut bytes, &m);
        match split(&bytes).unwrap().as_slice() {
            [Msg::Entry {
                seq: 7,
                event: Event::New(got),
            }] => *got,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn entries_without_nat_round_trip() {
        let mut tcp = plain(proto::TCP, t("192.0.2.1", "192.0.2.2", 1000, 80));
        tcp.state = tcp_state::ESTABLISHED;
        tcp.tcp = Some(TcpInfo {
            wscale: [7, 9],
            flags: [0x23, 0x0a],
        });
        tcp.zone = 4;
        let icmp = plain(proto::ICMP, t("192.0.2.1", "192.0.2.2", 77, 8 << 8));
        let icmp6 = plain(proto::ICMPV6, t("fd00::1", "fd00::2", 78, 128 << 8));
        let mut sctp = plain(proto::SCTP, t("fd00::1", "fd00::2", 5000, 5001));
        sctp.state = 3;
        sctp.sctp = Some(SctpInfo { vtag: [1, 2] });
        for e in [tcp, icmp, icmp6, sctp] {
            assert_eq!(round_trip(&e, Purpose::Create), e);
        }
        assert_eq!(icmp.reply.dst_port, 0, "echo reply");
        assert_eq!(icmp6.reply.dst_port, 129 << 8, "ICMPv6 echo reply");
    }

    #[test]
    fn a_nat_entry_is_sent_untranslated_with_its_bindings() {
        let mut e = plain(proto::TCP, t("192.0.2.1", "198.51.100.10", 1000, 443));
        e.reply = t("203.0.113.5", "203.0.113.1", 8443, 61000);
        let attrs = new_attrs(&e, Purpose::Create);
        let sent = entry(&attrs).unwrap();
        assert_eq!(sent.reply, e.orig.inverse(proto::TCP));
        let nat: Vec<(u16, Vec<u8>)> = attrs
            .iter()
            .filter_map(|a| match a {
                ConntrackAttribute::Other(n) => Some((kind(n), value(n))),
                _ => None,
            })
            .collect();
        let dst = nat.iter().find(|(k, _)| *k == CTA_NAT_DST).unwrap();
        let src = nat.iter().find(|(k, _)| *k == CTA_NAT_SRC).unwrap();
        // MINIP, MAXIP, then CTA_NAT_PROTO { PORT_MIN, PORT_MAX }.
        assert_eq!(&dst.1[4..8], &[203, 0, 113, 5]);
        assert_eq!(&dst.1[12..16], &[203, 0, 113, 5]);
        assert_eq!(&dst.1[24..26], &8443u16.to_be_bytes());
        assert_eq!(&src.1[4..8], &[203, 0, 113, 1]);
        assert_eq!(&src.1[24..26], &61000u16.to_be_bytes());
        // An update carries the reply as it is, and no NAT.
        let update = new_attrs(&e, Purpose::Update);
        assert_eq!(entry(&update).unwrap().reply, e.reply);
        assert!(!update
            .iter()
            .any(|a| matches!(a, ConntrackAttribute::Other(n) if kind(n) == CTA_NAT_DST)));
    }

    #[test]
    fn only_settable_status_bits_are_sent_with_confirmed() {
        let mut e = plain(proto::UDP, t("192.0.2.1", "192.0.2.2", 1, 2));
        e.status = u32::MAX;
        let got = entry(&new_attrs(&e, Purpose::Create)).unwrap();
        assert_eq!(got.status, status::SETTABLE | status::CONFIRMED);
    }

    #[test]
    fn every_prefix_of_a_message_is_handled() {
        let e = plain(proto::TCP, t("fd00::1", "fd00::2", 1000, 80));
        let m = message(
            ConntrackMessage::New(new_attrs(&e, Purpose::Create)),
            family_of(&e.orig),
            NLM_F_REQUEST,
            1,
        );
        let mut bytes = Vec::new();
        append(&mut bytes, &m);
        for n in 0..bytes.len() {
            let _ = split(&bytes[..n]);
            // A message whose length field is cut short with it.
            let mut cut = bytes[..n].to_vec();
            if n >= 4 {
                cut[..4].copy_from_slice(&(n as u32).to_ne_bytes());
                let _ = split(&cut);
            }
        }
    }

    proptest! {
        #[test]
        fn any_bytes_decode_or_fail_without_panicking(b in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = split(&b);
            let _ = decode(&b);
        }
    }
}
