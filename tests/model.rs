//! The test harness's own record types, written from `shared/spec/flow-model.md` alone.
//!
//! They deliberately share nothing with `compiler` or `engine`: the oracle built on them must be
//! able to disagree with the engine. A record keeps its addresses as written (an IPv4-mapped
//! IPv6 address stays mapped here), so fixtures can exercise spellings; [`identity`] applies the
//! flow model's identity rule where the oracle compares or prints.

use std::net::IpAddr;

/// Microseconds per second.
pub const SECOND_US: i64 = 1_000_000;
/// Microseconds per hour.
pub const HOUR_US: i64 = 3_600 * SECOND_US;
/// 2024-05-01T10:00:00Z in microseconds since the Unix epoch, the time most fixtures start at.
pub const BASE_US: i64 = 1_714_557_600 * SECOND_US;

/// IANA protocol numbers the catalog names.
pub mod proto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// GRE.
    pub const GRE: u8 = 47;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// SCTP, a protocol with ports that port jumping must not count.
    pub const SCTP: u8 = 132;
}

/// One flow record, named by its file (relative to the archive root) and 0-based row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flow {
    /// File the record is in, relative to the folder given to `--flows`.
    pub file: String,
    /// 0-based row in `file`.
    pub row: u64,
    /// `start_time` in µs UTC.
    pub start_us: i64,
    /// `end_time` in µs UTC.
    pub end_us: i64,
    /// Originator address as written.
    pub src: IpAddr,
    /// Responder address as written.
    pub dst: IpAddr,
    /// Originator port.
    pub src_port: u16,
    /// Responder port.
    pub dst_port: u16,
    /// IANA protocol number.
    pub protocol: u8,
    /// Originator → responder bytes.
    pub bytes_sent: u64,
    /// Responder → originator bytes.
    pub bytes_received: u64,
    /// Originator → responder packets.
    pub packets_sent: u64,
    /// Responder → originator packets.
    pub packets_received: u64,
    /// Application label, if the sensor gave one.
    pub service: Option<String>,
}

/// One security event record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ev {
    /// File the record is in, relative to the folder given to `--events`.
    pub file: String,
    /// 0-based row in `file`.
    pub row: u64,
    /// `time` in µs UTC.
    pub time_us: i64,
    /// Source address as written.
    pub src: IpAddr,
    /// Destination address as written.
    pub dst: IpAddr,
    /// Signature text.
    pub signature: String,
    /// Severity.
    pub severity: i32,
    /// Category text.
    pub category: String,
}

/// The identity of an address: an IPv4-mapped IPv6 address is the IPv4 host.
pub fn identity(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The printed form of an address: its identity, IPv4 dotted, IPv6 as RFC 5952.
pub fn print_addr(ip: IpAddr) -> String {
    identity(ip).to_string()
}

/// Parses address text for fixtures; panics on a typo, which is a bug in the test.
pub fn ip(text: &str) -> IpAddr {
    text.parse()
        .unwrap_or_else(|err| panic!("fixture address `{text}`: {err}"))
}

impl Flow {
    /// A flow from `src:src_port` to `dst:dst_port` starting at [`BASE_US`], lasting 2 s, with
    /// 1000 bytes and 10 packets each way: valid for every protocol and matching no size rule.
    /// `file` and `row` are set when the flow is written to a fixture.
    pub fn new(protocol: u8, src: &str, src_port: u16, dst: &str, dst_port: u16) -> Flow {
        Flow {
            file: String::new(),
            row: 0,
            start_us: BASE_US,
            end_us: BASE_US + 2 * SECOND_US,
            src: ip(src),
            dst: ip(dst),
            src_port,
            dst_port,
            protocol,
            bytes_sent: 1000,
            bytes_received: 1000,
            packets_sent: 10,
            packets_received: 10,
            service: None,
        }
    }

    /// A TCP flow, see [`Flow::new`].
    pub fn tcp(src: &str, src_port: u16, dst: &str, dst_port: u16) -> Flow {
        Flow::new(proto::TCP, src, src_port, dst, dst_port)
    }

    /// A UDP flow, see [`Flow::new`].
    pub fn udp(src: &str, src_port: u16, dst: &str, dst_port: u16) -> Flow {
        Flow::new(proto::UDP, src, src_port, dst, dst_port)
    }

    /// Starts at `start_us`, keeping the duration.
    pub fn starting(mut self, start_us: i64) -> Flow {
        let duration = self.end_us - self.start_us;
        self.start_us = start_us;
        self.end_us = start_us + duration;
        self
    }

    /// Lasts `duration_us` (may be 0 or negative).
    pub fn lasting(mut self, duration_us: i64) -> Flow {
        self.end_us = self.start_us + duration_us;
        self
    }

    /// Sets the byte counters.
    pub fn bytes(mut self, sent: u64, received: u64) -> Flow {
        self.bytes_sent = sent;
        self.bytes_received = received;
        self
    }

    /// Sets the packet counters.
    pub fn packets(mut self, sent: u64, received: u64) -> Flow {
        self.packets_sent = sent;
        self.packets_received = received;
        self
    }

    /// Sets all four counters: bytes and packets sent, bytes and packets received.
    pub fn counts(
        self,
        bytes_sent: u64,
        packets_sent: u64,
        bytes_received: u64,
        packets_received: u64,
    ) -> Flow {
        self.bytes(bytes_sent, bytes_received)
            .packets(packets_sent, packets_received)
    }

    /// `durationSeconds` in µs.
    pub fn duration_us(&self) -> i64 {
        self.end_us - self.start_us
    }
}

impl Ev {
    /// An event from `src` to `dst` at `time_us`.
    pub fn new(time_us: i64, src: &str, dst: &str, signature: &str) -> Ev {
        Ev {
            file: String::new(),
            row: 0,
            time_us,
            src: ip(src),
            dst: ip(dst),
            signature: signature.to_owned(),
            severity: 2,
            category: "Attempted Information Leak".to_owned(),
        }
    }
}
