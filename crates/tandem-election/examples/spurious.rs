//! How often a VRRPv3 Backup takes over spuriously under loss, measured on
//! the simulated LAN and set beside the rate the "3 lost adverts" rule
//! predicts; and how long each split brain lasts.
//!
//! A pair (priorities 200 and 100, Advertisement_Interval 1 s, 100 µs
//! links) runs for 10,000 advert intervals with every frame lost with
//! probability 0.2, independently per receiver. The Active router is never
//! stopped, so every takeover by the Backup is spurious.
//!
//! Run: `cargo run --release -p tandem-election --example spurious [seed]`

use std::time::Duration;

use tandem_election::sim::{EventKind, Lan, LinkModel, NodeSpec};
use tandem_election::State;

const LOSS: f64 = 0.2;
const INTERVALS: u64 = 10_000;

fn main() {
    let seed = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut lan = Lan::new(seed);
    let active = lan.add(NodeSpec::vrrp3(1, 200));
    let backup = lan.add(NodeSpec::vrrp3(2, 100));
    lan.start_all();
    lan.run_for(Duration::from_secs(10));
    assert_eq!(
        lan.actives(1),
        vec![active],
        "the pair settles without loss"
    );
    let link = LinkModel {
        loss: LOSS,
        ..LinkModel::default()
    };
    lan.set_link(link);

    let begin = lan.now();
    let end = begin + Duration::from_secs(INTERVALS);
    let mut resolutions: Vec<Duration> = Vec::new();
    while let Some(start) = lan.run_until(end - lan.now(), |l| l.actives(1).len() > 1) {
        let over = lan
            .run_until(Duration::from_secs(600), |l| l.actives(1).len() == 1)
            .expect("every split brain ends");
        assert_eq!(
            lan.actives(1),
            vec![active],
            "the Active router keeps the role"
        );
        resolutions.push(over - start);
        if lan.now() >= end {
            break;
        }
    }
    // Cross-check with the timeline: the Backup's own takeovers.
    let takeovers = lan
        .events()
        .iter()
        .filter(|e| e.at >= begin && e.at <= end && e.node == backup)
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::State {
                    to: State::Active,
                    ..
                }
            )
        })
        .count();
    assert_eq!(takeovers, resolutions.len());

    let p = LOSS;
    let skew = f64::from(256 - 100) / 256.0;
    let down = 3.0 + skew;
    let n = resolutions.len();
    let observed = n as f64 / INTERVALS as f64;
    // The Backup's Active_Down_Interval (3 + 156/256 s) after a received
    // advert holds exactly the next 3 adverts (the 4th is at 4 s): it takes
    // over when those 3 are lost. Naively that is p^3 per interval; but a
    // run of 3 or more losses gives one takeover, and it must start after
    // a received advert: (1 - p) p^3 per interval.
    let naive = p.powi(3);
    let windowed = (1.0 - p) * p.powi(3);
    // Renewal: every split brain ends when an advert of the Active router
    // arrives, and that router's next advert follows one interval after
    // the one that ended it, so each cycle starts afresh from a received
    // advert. Adverts until 3 in a row are lost: E[N] = (1 - p^3) /
    // ((1 - p) p^3) = 155; then the takeover comes skew = 156/256 s after
    // the third lost advert, and the split brain lasts E[L] (measured).
    let mut sorted = resolutions.clone();
    sorted.sort_unstable();
    let mean_l = if n == 0 {
        0.0
    } else {
        sorted.iter().map(Duration::as_secs_f64).sum::<f64>() / n as f64
    };
    let e_n = (1.0 - p.powi(3)) / ((1.0 - p) * p.powi(3));
    let renewal = 1.0 / (e_n + skew + mean_l);
    let expected = renewal * INTERVALS as f64;
    let sd = expected.sqrt();

    println!(
        "VRRPv3 pair, priorities 200 / 100, interval 1 s, link delay {:?}",
        link.delay
    );
    println!("loss {p} per frame per receiver, {INTERVALS} advert intervals, seed {seed}");
    println!("Backup Active_Down_Interval = 3 s + 156/256 s = {down:.6} s");
    println!();
    println!("spurious takeovers observed: {n} ({observed:.5} per interval)");
    println!(
        "predicted, naive p^3:               {naive:.5} per interval ({:.1} expected)",
        naive * INTERVALS as f64
    );
    println!(
        "predicted, (1 - p) p^3:             {windowed:.5} per interval ({:.1} expected)",
        windowed * INTERVALS as f64
    );
    println!(
        "predicted, renewal 1/(E[N] + skew + E[L]) = 1/({e_n:.0} + {skew:.3} + {mean_l:.3}): {renewal:.5} per interval ({expected:.1} +- {sd:.1} expected)"
    );
    if n > 0 {
        let median = sorted[n / 2];
        let max = sorted[n - 1];
        let fast = sorted
            .iter()
            .filter(|d| **d <= 2 * link.delay + Duration::from_micros(1))
            .count();
        let within = sorted
            .iter()
            .filter(|d| **d <= Duration::from_secs(1))
            .count();
        println!();
        println!("split brain duration: median {median:?}, max {max:?}, mean {mean_l:.3} s");
        println!(
            "  ended by the Active router's immediate answer (2 trips): {fast} of {n} (predicted share (1 - p)^2 = {:.2})",
            (1.0 - p).powi(2)
        );
        println!("  ended within one interval: {within} of {n}");
    }
}
