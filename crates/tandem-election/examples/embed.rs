//! Embedding tandem-election in an appliance: the driver loop an appliance
//! writes around `VirtualRouter`, here with two routers in two threads that
//! exchange real encoded adverts over a channel (standing in for the
//! appliance's own network I/O), on the real monotonic clock.
//!
//! Run: `cargo run -p tandem-election --example embed`
//! It starts two routers (priorities 200 and 100, 100 ms interval), lets
//! them elect, stops the Active one gracefully and shows the other taking
//! over after its skew time, then exits (about 1.5 s).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant as StdInstant};

use tandem_election::{codec, Action, Command, Config, Instant, Protocol, Received, VirtualRouter};
use tandem_wire::{Centiseconds, Priority, Vrid};

/// One appliance node: its router and its link (a channel each way).
fn node(
    name: &'static str,
    addr: u8,
    priority: u8,
    rx: Receiver<(IpAddr, Vec<u8>)>,
    tx: Sender<(IpAddr, Vec<u8>)>,
    run_for: Duration,
) {
    let me = IpAddr::V4(Ipv4Addr::new(192, 0, 2, addr));
    let vip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100));
    let mut config = Config::new(Vrid::new(7).expect("VRID"), me, vec![vip]);
    config.priority = Priority(priority);
    config.protocol = Protocol::vrrp3(Centiseconds(10));
    let t0 = StdInstant::now();
    // The appliance maps its monotonic clock onto the election's Instant.
    let now = || Instant::from_duration(t0.elapsed());
    let mut vr = VirtualRouter::new(config, now(), &[]).expect("valid configuration");
    vr.handle_command(now(), Command::Start);
    loop {
        // 1. Carry out every queued action.
        while let Some(action) = vr.poll_action() {
            match action {
                Action::SendAdvert(adv) => {
                    let bytes = codec::encode(&adv, me, codec::group_of(me)).expect("valid advert");
                    let _ = tx.send((me, bytes));
                }
                Action::AddAddresses { addresses, .. } => {
                    println!("{:>6.0?} {name}: add {addresses:?}", t0.elapsed())
                }
                Action::RemoveAddresses(a) => {
                    println!("{:>6.0?} {name}: remove {a:?}", t0.elapsed())
                }
                Action::StateChanged { from, to, reason } => {
                    println!(
                        "{:>6.0?} {name}: {} -> {} ({reason:?})",
                        t0.elapsed(),
                        from.name(),
                        to.name()
                    )
                }
                Action::Announce { .. } | Action::Diagnostic(_) => {}
            }
        }
        if t0.elapsed() >= run_for {
            // 3. Stop gracefully: the router sends priority 0 first.
            vr.handle_command(now(), Command::Shutdown);
            while let Some(Action::SendAdvert(adv)) = vr.poll_action() {
                let _ = tx.send((
                    me,
                    codec::encode(&adv, me, codec::group_of(me)).expect("valid advert"),
                ));
            }
            println!("{:>6.0?} {name}: stopped", t0.elapsed());
            return;
        }
        // 2. Sleep until the next deadline or the next advert.
        let wait = vr
            .poll_timeout()
            .map(|t| t.saturating_since(now()))
            .unwrap_or(Duration::from_secs(1));
        match rx.recv_timeout(wait.min(run_for.saturating_sub(t0.elapsed()))) {
            Ok((src, bytes)) => {
                if let Ok(advert) = codec::decode(&bytes, src, codec::group_of(src)) {
                    vr.handle_advert(
                        now(),
                        Received {
                            src,
                            ttl: 255,
                            advert: &advert,
                        },
                    );
                }
            }
            Err(RecvTimeoutError::Timeout) => vr.handle_timeout(now()),
            Err(RecvTimeoutError::Disconnected) => vr.handle_timeout(now()),
        }
    }
}

fn main() {
    let (a_tx, b_rx) = channel();
    let (b_tx, a_rx) = channel();
    let a =
        std::thread::spawn(move || node("node-a", 1, 200, a_rx, a_tx, Duration::from_millis(700)));
    let b =
        std::thread::spawn(move || node("node-b", 2, 100, b_rx, b_tx, Duration::from_millis(1500)));
    a.join().expect("node a");
    b.join().expect("node b");
}
