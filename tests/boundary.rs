//! Hand-made archives that sit on every boundary of the catalog, each with its expected
//! results computed by hand from `flow-model.md` (not by the oracle).
//!
//! Each `write_*` adds one file to a [`Fixture`] and returns what its pattern must find in that
//! file alone. The comment on each row says why it does or does not match, so a failing test
//! names a boundary rather than a row number.

use crate::fixture::{rows, Fixture};
use crate::model::{proto, Ev, Flow, BASE_US, HOUR_US, SECOND_US};
use crate::oracle::Results;

/// Networks of the boundary fixtures: a `dmz` inside the internal /8 (longest prefix wins, and
/// `dmz` is external to the catalog), and an internal IPv6 range.
pub const NETWORKS: &str = "\
# boundary fixtures
10.0.0.0/8,internal
10.9.0.0/16,dmz
2001:db8:1::/48,internal
default,external
";

/// A fixture with every boundary file and the event file.
pub fn all() -> Fixture {
    let mut fx = Fixture::new(NETWORKS);
    write_ephemeral_tcp(&mut fx);
    write_exfiltration(&mut fx);
    write_ftp(&mut fx);
    write_invalid_ip_packets(&mut fx);
    write_port_jumping(&mut fx);
    fx
}

/// `ephemeral.parquet`; returns pattern 1's results on it.
pub fn write_ephemeral_tcp(fx: &mut Fixture) -> Results {
    let flow = || Flow::tcp("10.0.0.1", 2000, "203.0.113.1", 2000);
    fx.flows(
        "ephemeral.parquet",
        vec![
            // 0: ports 1025, duration 1 µs, 1 byte sent: just inside every bound.
            Flow::tcp("10.0.0.1", 1025, "203.0.113.1", 1025)
                .lasting(1)
                .bytes(1, 0),
            // 1: srcPort 1024 is not > 1024.
            Flow::tcp("10.0.0.1", 1024, "203.0.113.1", 2000),
            // 2: destPort 1024.
            Flow::tcp("10.0.0.1", 2000, "203.0.113.1", 1024),
            // 3: duration 0.
            flow().lasting(0),
            // 4: bytesSent 0.
            flow().bytes(0, 5000),
            // 5: UDP.
            Flow::udp("10.0.0.1", 2000, "203.0.113.1", 2000),
            // 6: external to internal.
            Flow::tcp("203.0.113.1", 2000, "10.0.0.1", 2000),
            // 7: internal to internal.
            Flow::tcp("10.0.0.1", 2000, "10.0.0.2", 2000),
            // 8: to the dmz, which is external: match.
            Flow::tcp("10.0.0.1", 2001, "10.9.0.5", 2001),
            // 9: IPv6 internal to IPv6 external: match.
            Flow::tcp("2001:db8:1::10", 50000, "2001:db8:ff::5", 50001),
            // 10: negative duration.
            flow().lasting(-1),
            // 11: mapped source is the internal IPv4 host: match, printed dotted.
            Flow::tcp("::ffff:10.0.0.1", 3000, "203.0.113.2", 3000),
            // 12: largest ports and counters: match.
            Flow::tcp("10.0.0.1", 65535, "203.0.113.1", 65535).bytes(u64::MAX, u64::MAX),
            // 13: IPv6 external to internal.
            Flow::tcp("2001:db8:ff::5", 50000, "2001:db8:1::10", 50001),
            // 14: IPv4-compatible (not mapped) IPv6 stays IPv6, so it is not 10.0.0.1.
            Flow::tcp("::10.0.0.1", 2000, "203.0.113.1", 2000),
        ],
    );
    let file = "ephemeral.parquet";
    rows(&[
        (&["10.0.0.1", file, "0", "203.0.113.1"], 1),
        (&["10.0.0.1", file, "8", "10.9.0.5"], 1),
        (&["2001:db8:1::10", file, "9", "2001:db8:ff::5"], 1),
        (&["10.0.0.1", file, "11", "203.0.113.2"], 1),
        (&["10.0.0.1", file, "12", "203.0.113.1"], 1),
    ])
}

/// `exfiltration.parquet`; returns pattern 2's results on it.
pub fn write_exfiltration(fx: &mut Fixture) -> Results {
    let flow = || Flow::tcp("10.0.0.1", 40000, "203.0.113.1", 443);
    let big = 2_000_000;
    fx.flows(
        "exfiltration.parquet",
        vec![
            // 0: bytesSent 1,000,000 is not > 1,000,000.
            flow().bytes(1_000_000, 0),
            // 1: 1,000,001 with bytesReceived 0: match.
            flow().bytes(1_000_001, 0),
            // 2: exactly 10 × bytesReceived: match.
            flow().bytes(10_000_000, 1_000_000),
            // 3: just under 10 × bytesReceived.
            flow().bytes(10_000_000, 1_000_001),
            // 4: duration exactly 1 s is not > 1.
            flow().bytes(big, 0).lasting(SECOND_US),
            // 5: 1 s + 1 µs: match.
            flow().bytes(big, 0).lasting(SECOND_US + 1),
            // 6: external to internal.
            Flow::tcp("203.0.113.1", 443, "10.0.0.1", 40000).bytes(big, 0),
            // 7: to the dmz: match.
            Flow::tcp("10.0.0.1", 40000, "10.9.0.5", 443).bytes(big, 0),
            // 8: UDP (no protocol condition): match.
            Flow::udp("10.0.0.1", 40000, "203.0.113.1", 443).bytes(big, 0),
            // 9: 10 × (u64::MAX / 10) still fits: match.
            flow().bytes(u64::MAX, u64::MAX / 10),
            // 10: 10 × (u64::MAX / 10 + 1) exceeds u64::MAX; a wrapping product would match.
            flow().bytes(u64::MAX, u64::MAX / 10 + 1),
            // 11: internal to internal.
            Flow::tcp("10.0.0.1", 40000, "10.0.0.2", 443).bytes(big, 0),
            // 12: negative duration.
            flow().bytes(big, 0).lasting(-2 * SECOND_US),
        ],
    );
    let file = "exfiltration.parquet";
    rows(&[
        (&["10.0.0.1", file, "1", "203.0.113.1"], 1),
        (&["10.0.0.1", file, "2", "203.0.113.1"], 1),
        (&["10.0.0.1", file, "5", "203.0.113.1"], 1),
        (&["10.0.0.1", file, "7", "10.9.0.5"], 1),
        (&["10.0.0.1", file, "8", "203.0.113.1"], 1),
        (&["10.0.0.1", file, "9", "203.0.113.1"], 1),
    ])
}

/// The two FTP patterns' results on `ftp.parquet` + `events.parquet`.
pub struct FtpExpected {
    /// Pattern 3 (no time condition).
    pub untimed: Results,
    /// Pattern 4 (temporal).
    pub temporal: Results,
}

/// `ftp.parquet` and `events.parquet`; returns patterns 3 and 4's results on them.
///
/// Qualifying flows: c0 (10.0.0.1 → 203.0.113.1:21 at T0), c4 (10.0.0.2 → 203.0.113.2:21 at
/// T0 + 48 h), c6 (10.0.0.1 → dmz 10.9.0.5:21 at T0 + 1 µs).
pub fn write_ftp(fx: &mut Fixture) -> FtpExpected {
    let t0 = BASE_US;
    fx.flows(
        "ftp.parquet",
        vec![
            // c0: qualifies.
            Flow::tcp("10.0.0.1", 40000, "203.0.113.1", 21).starting(t0),
            // c1: port 20.
            Flow::tcp("10.0.0.1", 40001, "203.0.113.1", 20).starting(t0),
            // c2: UDP.
            Flow::udp("10.0.0.1", 40002, "203.0.113.2", 21).starting(t0),
            // c3: external to internal.
            Flow::tcp("203.0.113.1", 40003, "10.0.0.1", 21).starting(t0),
            // c4: qualifies, H = 10.0.0.2.
            Flow::tcp("10.0.0.2", 40004, "203.0.113.2", 21).starting(t0 + 48 * HOUR_US),
            // c5: internal to internal.
            Flow::tcp("10.0.0.1", 40005, "10.0.0.2", 21).starting(t0),
            // c6: qualifies, the dmz is external.
            Flow::tcp("10.0.0.1", 40006, "10.9.0.5", 21).starting(t0 + 1),
        ],
    );
    fx.events(
        "events.parquet",
        vec![
            // e0: lag 0 to c0 (excluded), 1 µs to c6.
            Ev::new(t0, "203.0.113.1", "10.0.0.1", "ET FTP e0"),
            // e1: lag 1 µs to c0, 2 µs to c6.
            Ev::new(t0 - 1, "203.0.113.1", "10.0.0.1", "ET FTP e1"),
            // e2: lag exactly 24 h to c0 (included), 24 h + 1 µs to c6.
            Ev::new(t0 - 24 * HOUR_US, "203.0.113.1", "10.0.0.1", "ET FTP e2"),
            // e3: lag 24 h + 1 µs to c0.
            Ev::new(
                t0 - 24 * HOUR_US - 1,
                "203.0.113.1",
                "10.0.0.1",
                "ET FTP e3",
            ),
            // e4: after both flows of 10.0.0.1.
            Ev::new(t0 + SECOND_US, "203.0.113.1", "10.0.0.1", "ET FTP e4"),
            // e5: lag 1 h to c4.
            Ev::new(t0 + 47 * HOUR_US, "203.0.113.2", "10.0.0.2", "ET FTP e5"),
            // e6: from H, not to H: never matches.
            Ev::new(t0 - HOUR_US, "10.0.0.1", "203.0.113.1", "ET FTP e6"),
            // e7: lag 49 h to c4.
            Ev::new(t0 - HOUR_US, "203.0.113.1", "10.0.0.2", "ET FTP e7"),
            // e8: to the mapped form of 10.0.0.2, lag 30 min to c4.
            Ev::new(
                t0 + 47 * HOUR_US + HOUR_US / 2,
                "203.0.113.9",
                "::ffff:10.0.0.2",
                "ET FTP e8",
            ),
        ],
    );
    let (ev, ftp) = ("events.parquet", "ftp.parquet");
    let c0 = ["10.0.0.1", ftp, "0", "203.0.113.1"];
    let c4 = ["10.0.0.2", ftp, "4", "203.0.113.2"];
    let c6 = ["10.0.0.1", ftp, "6", "10.9.0.5"];
    let pair = |event_row: &str, conn: &[&str; 4]| {
        let mut tuple = vec![ev.to_owned(), event_row.to_owned()];
        tuple.extend(conn.iter().map(|s| (*s).to_owned()));
        (tuple, 1u64)
    };
    let mut untimed = Results::new();
    for event_row in ["0", "1", "2", "3", "4"] {
        untimed.extend([pair(event_row, &c0), pair(event_row, &c6)]);
    }
    for event_row in ["5", "7", "8"] {
        untimed.extend([pair(event_row, &c4)]);
    }
    let temporal = [
        pair("1", &c0),
        pair("2", &c0),
        pair("0", &c6),
        pair("1", &c6),
        pair("5", &c4),
        pair("8", &c4),
    ]
    .into_iter()
    .collect();
    FtpExpected { untimed, temporal }
}

/// `invalid.parquet`; returns pattern 5's results on it.
pub fn write_invalid_ip_packets(fx: &mut Fixture) -> Results {
    let v4 = |protocol| Flow::new(protocol, "10.0.0.1", 1234, "203.0.113.1", 80);
    let v6 = |protocol| Flow::new(protocol, "2001:db8:1::10", 0, "2001:db8:ff::5", 0);
    use proto::{GRE, ICMP, ICMPV6, TCP, UDP};
    fx.flows(
        "invalid.parquet",
        vec![
            v4(TCP).counts(400, 10, 0, 0),            // 0: exactly 40/packet: fine
            v4(TCP).counts(399, 10, 0, 0),            // 1: below 40: invalid
            v4(UDP).counts(280, 10, 0, 0),            // 2: exactly 28: fine
            v4(UDP).counts(279, 10, 0, 0),            // 3: invalid
            v4(ICMP).counts(28, 1, 0, 0),             // 4: fine
            v4(ICMP).counts(27, 1, 0, 0),             // 5: invalid
            v6(ICMPV6).counts(20, 1, 0, 0),           // 6: ICMPv6 minimum is 20: fine
            v6(ICMPV6).counts(19, 1, 0, 0),           // 7: invalid
            v6(ICMPV6).counts(27, 1, 0, 0),           // 8: fine (ICMP's 28 does not apply)
            v4(GRE).counts(20, 1, 0, 0),              // 9: fine
            v4(GRE).counts(19, 1, 0, 0),              // 10: invalid
            v4(TCP).counts(655_350, 10, 0, 0),        // 11: exactly 65535/packet: fine
            v4(TCP).counts(655_351, 10, 0, 0),        // 12: above 65535: invalid
            v4(TCP).counts(100, 0, 0, 0),             // 13: bytes without packets: invalid
            v4(TCP).counts(0, 5, 0, 0),               // 14: packets without bytes: invalid
            v4(TCP).counts(0, 0, 0, 0),               // 15: all zero: fine
            v4(TCP).counts(400, 10, 39, 1),           // 16: received side below 40: invalid
            v4(TCP).counts(400, 10, 500, 0),          // 17: received bytes, no packets: invalid
            v4(TCP).counts(u64::MAX, u64::MAX, 0, 0), // 18: 1 byte/packet: invalid
            v4(TCP).counts(u64::MAX, u64::MAX / 40, 0, 0), // 19: 40 × packets fits u64: fine
            v4(TCP).counts(1000, 10, 0, 5),           // 20: received packets, no bytes: invalid
            Flow::tcp("203.0.113.1", 80, "10.0.0.1", 1234).counts(399, 10, 0, 0), // 21: any direction: invalid
            Flow::udp("10.0.0.1", 53, "10.0.0.2", 53).counts(279, 10, 0, 0), // 22: any disposition: invalid
            v4(TCP).counts(u64::MAX, 1, 0, 0), // 23: far above 65535: invalid
        ],
    );
    let file = "invalid.parquet";
    let mut expected: Vec<(&[&str], u64)> = Vec::new();
    let invalid_rows = [
        ["10.0.0.1", file, "1", "203.0.113.1"],
        ["10.0.0.1", file, "3", "203.0.113.1"],
        ["10.0.0.1", file, "5", "203.0.113.1"],
        ["2001:db8:1::10", file, "7", "2001:db8:ff::5"],
        ["10.0.0.1", file, "10", "203.0.113.1"],
        ["10.0.0.1", file, "12", "203.0.113.1"],
        ["10.0.0.1", file, "13", "203.0.113.1"],
        ["10.0.0.1", file, "14", "203.0.113.1"],
        ["10.0.0.1", file, "16", "203.0.113.1"],
        ["10.0.0.1", file, "17", "203.0.113.1"],
        ["10.0.0.1", file, "18", "203.0.113.1"],
        ["10.0.0.1", file, "20", "203.0.113.1"],
        ["203.0.113.1", file, "21", "10.0.0.1"],
        ["10.0.0.1", file, "22", "10.0.0.2"],
        ["10.0.0.1", file, "23", "203.0.113.1"],
    ];
    expected.extend(invalid_rows.iter().map(|r| (&r[..], 1)));
    rows(&expected)
}

/// `ports.parquet`; returns pattern 6's results on it.
pub fn write_port_jumping(fx: &mut Fixture) -> Results {
    let tcp = |src: &str, dst: &str, port| Flow::tcp(src, 50000, dst, port);
    let udp = |src: &str, dst: &str, port| Flow::udp(src, 50000, dst, port);
    let icmp = |src: &str, dst: &str, port| Flow::new(proto::ICMP, src, 0, dst, port);
    let sctp = |src: &str, dst: &str, port| Flow::new(proto::SCTP, src, 50000, dst, port);
    let (i1, i2, x1, x2, x3, dmz) = (
        "10.0.0.1",
        "10.0.0.2",
        "203.0.113.1",
        "203.0.113.2",
        "203.0.113.3",
        "10.9.0.5",
    );
    let (i6, x6) = ("2001:db8:1::10", "2001:db8:ff::5");
    fx.flows(
        "ports.parquet",
        vec![
            // i1 → x1: ports {22, 80}, 2 distinct however often 22 repeats: no row.
            tcp(i1, x1, 22),
            tcp(i1, x1, 22),
            tcp(i1, x1, 22),
            tcp(i1, x1, 80),
            // i1 → x2: tcp/53 and udp/53 are one port: {53, 80, 123}, 4 connections.
            tcp(i1, x2, 53),
            udp(i1, x2, 53),
            tcp(i1, x2, 80),
            udp(i1, x2, 123),
            // i2 → x1: {0, 1, 2, 1023} (port 0 counts, 1024 does not; tcp/2 is from the mapped
            // form of i2), 4 connections.
            tcp(i2, x1, 0),
            tcp(i2, x1, 1),
            udp(i2, x1, 1023),
            tcp(i2, x1, 1024),
            tcp("::ffff:10.0.0.2", x1, 2),
            // i2 → x2: {53, 1023}; ICMP "ports" (type/code) and ports ≥ 1024 do not count.
            tcp(i2, x2, 1023),
            tcp(i2, x2, 1024),
            tcp(i2, x2, 1025),
            udp(i2, x2, 53),
            icmp(i2, x2, 771),
            icmp(i2, x2, 768),
            icmp(i2, x2, 0),
            // i1 → x3: C13, only ICMP: nothing.
            icmp(i1, x3, 771),
            icmp(i1, x3, 768),
            icmp(i1, x3, 0),
            // i1 → dmz: {21, 22, 23}, the dmz is external.
            tcp(i1, dmz, 21),
            tcp(i1, dmz, 22),
            tcp(i1, dmz, 23),
            // IPv6 internal host: {53, 67, 68}, 4 connections.
            udp(i6, x6, 53),
            udp(i6, x6, 67),
            udp(i6, x6, 68),
            tcp(i6, x6, 68),
            // external → internal and internal → internal: never.
            tcp(x1, i1, 21),
            tcp(x1, i1, 22),
            tcp(x1, i1, 23),
            tcp(i1, i2, 21),
            tcp(i1, i2, 22),
            tcp(i1, i2, 23),
            // i2 → x3: SCTP ports do not count, TCP gives only {1, 2}.
            sctp(i2, x3, 1),
            sctp(i2, x3, 2),
            sctp(i2, x3, 3),
            tcp(i2, x3, 1),
            tcp(i2, x3, 2),
        ],
    );
    rows(&[
        (&[i1, x2, "3"], 4),
        (&[i2, x1, "4"], 4),
        (&[i1, dmz, "3"], 3),
        (&[i6, x6, "3"], 4),
    ])
}
