//! Records to sections: [`encode_payload`], and [`FrameBuilder`], which
//! knows the encoded size before each push.
//!
//! The rules (docs/replication.md, "Sections"):
//! - a run of consecutive [`Record::Flow`]s that take the same flow form
//!   and all have a window, or all have none, is one section (at most
//!   65,535 records), always a new one;
//! - a run with windows is followed by a TCPWIN section of the run's
//!   windows, in the run's order (a [`Record::FlowWindow`] is a
//!   TCPWIN_UPD record, never part of it);
//! - any other record joins the last section if it has the same type (and
//!   fewer than 65,535 records), else starts one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::view::nat_end;
use super::{kind, Handle, Record, SECTION_HEADER_LEN};
use crate::flow::{Flow, TcpWindow, Tuple};
use crate::persist::PersistKey;

/// The most records of one section.
const MAX_COUNT: u16 = u16::MAX;

/// How a flow is written.
#[derive(Debug, Clone, Copy)]
pub(super) enum FlowForm {
    /// FLOW4.
    Compact4 { nat: u8, addr: Ipv4Addr, port: u16 },
    /// FLOW6.
    Compact6 { nat: u8, addr: Ipv6Addr, port: u16 },
    /// FLOW4X.
    Explicit4,
    /// FLOW6X.
    Explicit6,
}

impl FlowForm {
    /// The compact form when the flow fits it (zone 0, mark 0, state
    /// below 16, one family, at most one translated end of the reply
    /// tuple), else the explicit form of its family.
    pub(super) fn of(flow: &Flow) -> FlowForm {
        let (o, r) = (&flow.original, &flow.reply);
        let all_v4 = o.is_v4() && r.is_v4();
        let all_v6 = !o.src.is_ipv4() && !o.dst.is_ipv4() && !r.src.is_ipv4() && !r.dst.is_ipv4();
        let explicit = if all_v4 {
            FlowForm::Explicit4
        } else {
            FlowForm::Explicit6
        };
        if flow.zone != 0 || flow.mark != 0 || flow.state >= 16 || !(all_v4 || all_v6) {
            return explicit;
        }
        let inv = o.inverse(flow.proto);
        let (nat, addr, port) = if *r == inv {
            let zero = if all_v4 {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            } else {
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            };
            (nat_end::NONE, zero, 0)
        } else if r.dst == inv.dst && r.dst_port == inv.dst_port {
            (nat_end::REPLY_SOURCE, r.src, r.src_port)
        } else if r.src == inv.src && r.src_port == inv.src_port {
            (nat_end::REPLY_DESTINATION, r.dst, r.dst_port)
        } else {
            return explicit;
        };
        match addr {
            IpAddr::V4(addr) => FlowForm::Compact4 { nat, addr, port },
            IpAddr::V6(addr) => FlowForm::Compact6 { nat, addr, port },
        }
    }

    pub(super) fn kind(&self) -> u8 {
        match self {
            FlowForm::Compact4 { .. } => kind::FLOW4,
            FlowForm::Compact6 { .. } => kind::FLOW6,
            FlowForm::Explicit4 => kind::FLOW4X,
            FlowForm::Explicit6 => kind::FLOW6X,
        }
    }
}

/// The section type of a record other than a flow.
fn kind_of(record: &Record) -> u8 {
    match record {
        Record::Flow { flow, .. } => FlowForm::of(flow).kind(),
        Record::FlowUpdate { .. } => kind::FLOW_UPD,
        Record::FlowDelete { .. } => kind::FLOW_DEL,
        Record::FlowWindow { .. } => kind::TCPWIN_UPD,
        Record::Persist(p) => match p.key {
            PersistKey::Source {
                addr: IpAddr::V4(_),
                ..
            } => kind::PERSIST4,
            PersistKey::Source {
                addr: IpAddr::V6(_),
                ..
            } => kind::PERSIST6,
            _ => kind::PERSISTH,
        },
        Record::PersistDelete { key, .. } => match key {
            PersistKey::Source {
                addr: IpAddr::V4(_),
                ..
            } => kind::PDEL4,
            PersistKey::Source {
                addr: IpAddr::V6(_),
                ..
            } => kind::PDEL6,
            _ => kind::PDELH,
        },
        Record::Hello(_) => kind::HELLO,
        Record::Ack(_) => kind::ACK,
        Record::Nack(_) => kind::NACK,
        Record::ResyncReq(_) => kind::RESYNC_REQ,
        Record::BulkBegin(_) => kind::BULK_BEGIN,
        Record::BulkEnd(_) => kind::BULK_END,
        Record::Digest { .. } => kind::DIGEST,
        Record::Heartbeat { .. } => kind::HEARTBEAT,
    }
}

fn len_of(k: u8) -> usize {
    kind::record_len(k).unwrap_or(0)
}

impl Record {
    /// Bytes of this record on the wire, without its section header
    /// (a [`Record::Flow`] with a window counts its TCPWIN record too).
    pub fn wire_len(&self) -> usize {
        let window = match self {
            Record::Flow {
                flow: Flow {
                    window: Some(_), ..
                },
                ..
            } => len_of(kind::TCPWIN),
            _ => 0,
        };
        len_of(kind_of(self)) + window
    }
}

/// Appends sections, one record at a time.
struct Writer<'o> {
    out: &'o mut Vec<u8>,
    kind: Option<u8>,
    header: usize,
    count: u16,
}

impl Writer<'_> {
    fn start(&mut self, k: u8) {
        self.header = self.out.len();
        self.out.extend_from_slice(&[k, len_of(k) as u8, 0, 0]);
        self.kind = Some(k);
        self.count = 0;
    }

    /// The zeroed bytes of the next record of type `k`.
    fn record(&mut self, k: u8) -> &mut [u8] {
        if self.kind != Some(k) || self.count == MAX_COUNT {
            self.start(k);
        }
        self.count += 1;
        let c = self.count.to_be_bytes();
        self.out[self.header + 2] = c[0];
        self.out[self.header + 3] = c[1];
        let at = self.out.len();
        self.out.resize(at + len_of(k), 0);
        &mut self.out[at..]
    }
}

fn put16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_be_bytes());
}

fn put32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_be_bytes());
}

fn put64(b: &mut [u8], o: usize, v: u64) {
    b[o..o + 8].copy_from_slice(&v.to_be_bytes());
}

/// An address in 16 bytes (IPv4 mapped), and whether it is IPv4.
fn put_addr16(b: &mut [u8], o: usize, a: IpAddr) -> bool {
    let (octets, is_v4) = match a {
        IpAddr::V4(a) => (a.to_ipv6_mapped().octets(), true),
        IpAddr::V6(a) => (a.octets(), false),
    };
    b[o..o + 16].copy_from_slice(&octets);
    is_v4
}

fn put_v4(b: &mut [u8], o: usize, a: IpAddr) {
    if let IpAddr::V4(a) = a {
        b[o..o + 4].copy_from_slice(&a.octets());
    }
}

/// Bytes 0 to 13, common to every flow form.
fn put_flow_common(b: &mut [u8], handle: Handle, flow: &Flow, state: u8) {
    put32(b, 0, handle.to_wire());
    b[4] = flow.proto;
    b[5] = state;
    put16(b, 6, flow.status);
    put32(b, 8, flow.lifetime_ms);
    put16(b, 12, flow.backend);
}

fn put_tuple4(b: &mut [u8], o: usize, t: &Tuple) {
    put_v4(b, o, t.src);
    put_v4(b, o + 4, t.dst);
    put16(b, o + 8, t.src_port);
    put16(b, o + 10, t.dst_port);
}

fn write_flow(w: &mut Writer<'_>, handle: Handle, flow: &Flow, form: &FlowForm) {
    let b = w.record(form.kind());
    match *form {
        FlowForm::Compact4 { nat, addr, port } => {
            put_flow_common(b, handle, flow, flow.state | (nat << 4));
            put16(b, 14, port);
            put_tuple4(b, 16, &flow.original);
            b[28..32].copy_from_slice(&addr.octets());
        }
        FlowForm::Compact6 { nat, addr, port } => {
            put_flow_common(b, handle, flow, flow.state | (nat << 4));
            put16(b, 14, port);
            put_addr16(b, 16, flow.original.src);
            put_addr16(b, 32, flow.original.dst);
            put16(b, 48, flow.original.src_port);
            put16(b, 50, flow.original.dst_port);
            b[52..68].copy_from_slice(&addr.octets());
        }
        FlowForm::Explicit4 => {
            put_flow_common(b, handle, flow, flow.state);
            put16(b, 14, flow.zone);
            put32(b, 16, flow.mark);
            put_tuple4(b, 20, &flow.original);
            put_tuple4(b, 32, &flow.reply);
        }
        FlowForm::Explicit6 => {
            put_flow_common(b, handle, flow, flow.state);
            put16(b, 14, flow.zone);
            put32(b, 16, flow.mark);
            let (o, r) = (&flow.original, &flow.reply);
            let fam = u8::from(put_addr16(b, 24, o.src))
                | u8::from(put_addr16(b, 40, o.dst)) << 1
                | u8::from(put_addr16(b, 60, r.src)) << 2
                | u8::from(put_addr16(b, 76, r.dst)) << 3;
            b[20] = fam;
            put16(b, 56, o.src_port);
            put16(b, 58, o.dst_port);
            put16(b, 92, r.src_port);
            put16(b, 94, r.dst_port);
        }
    }
}

fn write_window(w: &mut Writer<'_>, k: u8, handle: Handle, win: &TcpWindow) {
    let b = w.record(k);
    put32(b, 0, handle.to_wire());
    b[4..6].copy_from_slice(&win.scale);
    b[6..8].copy_from_slice(&win.flags);
    for d in 0..2 {
        put32(b, 8 + 12 * d, win.end[d]);
        put32(b, 12 + 12 * d, win.max_end[d]);
        put32(b, 16 + 12 * d, win.max_window[d]);
    }
}

/// A source key as sent: masked to its prefix, the prefix clamped to the
/// family's length (as [`PersistKey::source`] makes it).
fn source(addr: IpAddr, prefix: u8) -> (IpAddr, u8) {
    match PersistKey::source(addr, prefix) {
        PersistKey::Source { addr, prefix } => (addr, prefix),
        _ => (addr, prefix),
    }
}

/// The code of a hashed key kind, and the hash.
fn hashed(key: &PersistKey) -> (u8, u64) {
    match *key {
        PersistKey::Cookie(h) => (1, h),
        PersistKey::Header(h) => (2, h),
        PersistKey::TlsSession(h) => (3, h),
        PersistKey::Source { .. } => (0, 0),
    }
}

/// Writes one record that is not a flow.
fn write_other(w: &mut Writer<'_>, record: &Record) {
    if let Record::FlowWindow { handle, window } = record {
        return write_window(w, kind::TCPWIN_UPD, *handle, window);
    }
    let b = w.record(kind_of(record));
    match record {
        Record::Flow { .. } => {}
        Record::FlowUpdate {
            handle,
            state,
            status,
            lifetime_ms,
        } => {
            put32(b, 0, handle.to_wire());
            b[4] = *state;
            put16(b, 6, *status);
            put32(b, 8, *lifetime_ms);
        }
        Record::FlowDelete { handle } => put32(b, 0, handle.to_wire()),
        Record::FlowWindow { .. } => {}
        Record::Persist(p) => {
            b[0] = p.table;
            put16(b, 2, p.backend);
            put32(b, 4, p.lifetime_ms);
            match p.key {
                PersistKey::Source { addr, prefix } => {
                    let (addr, prefix) = source(addr, prefix);
                    b[1] = prefix;
                    match addr {
                        IpAddr::V4(a) => b[8..12].copy_from_slice(&a.octets()),
                        IpAddr::V6(a) => b[8..24].copy_from_slice(&a.octets()),
                    }
                }
                ref key => {
                    let (code, hash) = hashed(key);
                    b[1] = code;
                    put64(b, 8, hash);
                }
            }
        }
        Record::PersistDelete { table, key } => {
            b[0] = *table;
            match *key {
                PersistKey::Source { addr, prefix } => {
                    let (addr, prefix) = source(addr, prefix);
                    b[1] = prefix;
                    match addr {
                        IpAddr::V4(a) => b[4..8].copy_from_slice(&a.octets()),
                        IpAddr::V6(a) => b[4..20].copy_from_slice(&a.octets()),
                    }
                }
                ref key => {
                    let (code, hash) = hashed(key);
                    b[1] = code;
                    put64(b, 4, hash);
                }
            }
        }
        Record::Hello(h) => {
            b[0] = match h.role {
                super::Role::Active => 1,
                super::Role::Backup => 2,
                super::Role::Unknown(c) => c,
            };
            b[1] = h.versions.0;
            b[2] = h.versions.1;
            put32(b, 4, h.capabilities);
            put64(b, 8, h.challenge);
            put64(b, 16, h.response);
            put64(b, 24, h.mirrored_boot);
            put32(b, 32, h.live);
        }
        Record::Ack(a) => {
            b[0] = a.stream;
            put32(b, 4, a.credit);
            put64(b, 8, a.boot);
            put64(b, 16, a.cumulative);
            put64(b, 24, a.sack);
        }
        Record::Nack(n) => {
            b[0] = n.stream;
            put64(b, 8, n.boot);
            put64(b, 16, n.first);
            put64(b, 24, n.last);
        }
        Record::ResyncReq(r) => {
            b[0] = r.stream;
            b[1] = match r.reason {
                super::ResyncReason::Join => 1,
                super::ResyncReason::Gap => 2,
                super::ResyncReason::Digest => 3,
                super::ResyncReason::Operator => 4,
                super::ResyncReason::Unknown(c) => c,
            };
            put16(b, 2, r.range.first);
            put16(b, 4, r.range.last);
            put64(b, 8, r.boot);
        }
        Record::BulkBegin(bb) => {
            put32(b, 0, bb.bulk);
            put16(b, 4, bb.range.first);
            put16(b, 6, bb.range.last);
            put32(b, 8, bb.entries);
        }
        Record::BulkEnd(be) => {
            put32(b, 0, be.bulk);
            put16(b, 4, be.range.first);
            put16(b, 6, be.range.last);
            put32(b, 8, be.entries);
            put64(b, 12, be.begin_seq);
            put64(b, 20, be.digest);
        }
        Record::Digest { shard, digest } => {
            put16(b, 0, *shard);
            put64(b, 2, *digest);
        }
        Record::Heartbeat { highest_seq, live } => {
            put64(b, 0, *highest_seq);
            put32(b, 8, *live);
        }
    }
}

/// Appends the sections of `records` to `out`: consecutive records of one
/// section type share a section header.
pub fn encode_payload(records: &[Record], out: &mut Vec<u8>) {
    let mut w = Writer {
        out,
        kind: None,
        header: 0,
        count: 0,
    };
    let mut i = 0;
    while let Some(record) = records.get(i) {
        let Record::Flow { handle, flow } = record else {
            write_other(&mut w, record);
            i += 1;
            continue;
        };
        let form = FlowForm::of(flow);
        let k = form.kind();
        let windowed = flow.window.is_some();
        w.start(k);
        write_flow(&mut w, *handle, flow, &form);
        let mut end = i + 1;
        while let Some(Record::Flow { handle, flow }) = records.get(end) {
            let form = FlowForm::of(flow);
            if form.kind() != k || flow.window.is_some() != windowed || w.count == MAX_COUNT {
                break;
            }
            write_flow(&mut w, *handle, flow, &form);
            end += 1;
        }
        if windowed {
            w.start(kind::TCPWIN);
            for r in records.get(i..end).unwrap_or_default() {
                if let Record::Flow {
                    handle,
                    flow: Flow {
                        window: Some(win), ..
                    },
                } = r
                {
                    write_window(&mut w, kind::TCPWIN, *handle, win);
                }
            }
        }
        i = end;
    }
}

/// What the next push adds, as [`encode_payload`] lays it out.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Layout {
    /// The last section's type and record count.
    last: Option<(u8, u16)>,
    /// The current flow run: its type, windowed, records.
    run: Option<(u8, bool, u16)>,
}

impl Layout {
    /// The bytes `record` adds and the layout after it.
    fn push(&self, record: &Record) -> (usize, Layout) {
        if let Record::Flow { flow, .. } = record {
            let k = FlowForm::of(flow).kind();
            let windowed = flow.window.is_some();
            let win = len_of(kind::TCPWIN);
            return match self.run {
                Some((rk, rw, n)) if rk == k && rw == windowed && n < MAX_COUNT => {
                    let last = if windowed {
                        (kind::TCPWIN, n + 1)
                    } else {
                        (k, n + 1)
                    };
                    let add = len_of(k) + if windowed { win } else { 0 };
                    (
                        add,
                        Layout {
                            last: Some(last),
                            run: Some((k, windowed, n + 1)),
                        },
                    )
                }
                _ => {
                    let last = if windowed { (kind::TCPWIN, 1) } else { (k, 1) };
                    let add = SECTION_HEADER_LEN
                        + len_of(k)
                        + if windowed {
                            SECTION_HEADER_LEN + win
                        } else {
                            0
                        };
                    (
                        add,
                        Layout {
                            last: Some(last),
                            run: Some((k, windowed, 1)),
                        },
                    )
                }
            };
        }
        let k = kind_of(record);
        let (add, count) = match self.last {
            Some((lk, n)) if lk == k && n < MAX_COUNT => (len_of(k), n + 1),
            _ => (SECTION_HEADER_LEN + len_of(k), 1),
        };
        (
            add,
            Layout {
                last: Some((k, count)),
                run: None,
            },
        )
    }
}

/// Fills one frame's payload up to a size, knowing the exact encoded size
/// before each push.
#[derive(Debug, Clone)]
pub struct FrameBuilder {
    max_payload: usize,
    len: usize,
    records: Vec<Record>,
    layout: Layout,
}

impl FrameBuilder {
    /// A builder for at most `max_payload` payload bytes.
    pub fn new(max_payload: usize) -> FrameBuilder {
        FrameBuilder {
            max_payload,
            len: 0,
            records: Vec::new(),
            layout: Layout::default(),
        }
    }

    /// Adds `record` if it fits; gives it back if not.
    // The record given back is the caller's own, moved in: no copy to save.
    #[allow(clippy::result_large_err)]
    pub fn push(&mut self, record: Record) -> Result<(), Record> {
        let (add, layout) = self.layout.push(&record);
        if self.len + add > self.max_payload {
            return Err(record);
        }
        self.len += add;
        self.layout = layout;
        self.records.push(record);
        Ok(())
    }

    /// The bytes `record` would add if pushed now.
    pub fn cost(&self, record: &Record) -> usize {
        self.layout.push(record).0
    }

    /// Payload bytes so far.
    pub fn payload_len(&self) -> usize {
        self.len
    }

    /// The most payload bytes.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// No record yet.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records, in order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The records, taken (the builder is empty again).
    pub fn take(&mut self) -> Vec<Record> {
        self.len = 0;
        self.layout = Layout::default();
        std::mem::take(&mut self.records)
    }

    /// The encoded payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        encode_payload(&self.records, &mut out);
        out
    }
}
