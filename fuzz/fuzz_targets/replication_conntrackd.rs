//! conntrackd's sync messages: any bytes, as a datagram, walk into
//! messages without panicking; every message that decodes re-encodes to
//! bytes that decode to the same message; every entry that is a flow
//! gives an entry that is the same flow again. The same bytes, cut into
//! datagrams (u16 length prefixes from the input), then drive an FT-FW and
//! a NOTRACK endpoint (with a few local flows, so ACKs, NACKs and RESYNCs
//! have something to act on): they never panic, and every datagram they
//! send decodes.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tandem_replication::conntrackd::endpoint::{Config, Endpoint, Mode, Output};
use tandem_replication::conntrackd::entry;
use tandem_replication::conntrackd::msg::{self, Repr};
use tandem_replication::flow::{Flow, Tuple};
use tandem_time::Instant;

fn check_datagram(data: &[u8]) {
    for m in msg::messages(data) {
        let Ok(m) = m else { break };
        let _ = (m.msg_type(), m.flags(), m.seq(), m.range(), m.payload());
        for a in m.attributes() {
            if a.is_err() {
                break;
            }
        }
        let Ok(r) = Repr::parse(&m) else { continue };
        let bytes = r.to_bytes();
        assert_eq!(bytes.len(), r.buffer_len());
        assert_eq!(Repr::decode(&bytes).as_ref(), Ok(&r), "re-encoded message");
        if let Some(attrs) = r.entry() {
            if let Ok(f) = entry::to_flow(attrs, 180_000) {
                let again = entry::to_flow(&entry::from_flow(&f, true), 0);
                assert_eq!(again, Ok(f), "entry of a flow");
            }
        }
    }
}

fn drive(mode: Mode, data: &[u8]) {
    let mut now = Instant::from_millis(1);
    let mut ep = Endpoint::new(Config::new(mode, u32::MAX - 3), now);
    ep.set_active(now, true);
    for i in 0..4u8 {
        let t = Tuple {
            src: IpAddr::V4(Ipv4Addr::new(198, 51, 100, i)),
            dst: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1)),
            src_port: 1000 + u16::from(i),
            dst_port: 80,
        };
        let _ = ep.upsert_flow(now, Flow::untranslated(6, t, 3, 60_000));
    }
    // One removed: its CT_DEL waits for an ACK the input may or may not give.
    if let Some(f) = ep.local_flows().first().copied() {
        ep.remove_flow(now, &f.key());
    }
    let mut rest = data;
    while rest.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]])) % 2048;
        rest = &rest[2..];
        let (d, r) = rest.split_at(n.min(rest.len()));
        rest = r;
        ep.handle_datagram(now, d);
        now = now + Duration::from_millis(u64::from(n as u8) * 10);
        ep.handle_timeout(now);
        let mut outputs = 0;
        while let Some(o) = ep.poll_output() {
            outputs += 1;
            assert!(outputs < 100_000, "bounded output");
            if let Output::Send(d) = o {
                for m in msg::messages(&d) {
                    let m = m.expect("our datagram frames");
                    Repr::parse(&m).expect("our message decodes");
                }
            }
        }
    }
    assert_eq!(ep.status().local_flows, ep.local_flows().len());
    assert!(ep.poll_timeout().is_some());
    let _ = ep.mirror_flows(now);
}

fuzz_target!(|data: &[u8]| {
    check_datagram(data);
    drive(Mode::Ftfw, data);
    drive(Mode::Notrack, data);
});
