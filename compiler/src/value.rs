//! Runtime values of the pattern language, shared by the compiler (literals, constant folding)
//! and the engine (attributes of loaded rows).
//!
//! Every comparison the language makes is exact: integers are `i128`, decimals are exact
//! rationals, and times and durations are whole microseconds. Nothing here wraps or rounds.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IP address by its identity: IPv4 is stored in its IPv4-mapped IPv6 form
/// (`::ffff:a.b.c.d`), so the mapped spelling and the dotted spelling are one address, as the
/// flow model requires. Ordering is by that 128-bit value.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize, serde::Deserialize,
)]
pub struct Addr(pub u128);

impl Addr {
    /// The address of an IPv4 host.
    pub fn v4(ip: Ipv4Addr) -> Addr {
        Addr((0xffffu128 << 32) | u128::from(u32::from(ip)))
    }

    /// The address of an IP host; IPv4-mapped IPv6 becomes the IPv4 host.
    pub fn from_ip(ip: IpAddr) -> Addr {
        match ip {
            IpAddr::V4(v4) => Addr::v4(v4),
            IpAddr::V6(v6) => Addr(u128::from(v6)),
        }
    }

    /// Parses dotted IPv4 or IPv6 text (surrounding whitespace and a zone index `%eth0` are not accepted).
    pub fn parse(text: &str) -> Option<Addr> {
        text.parse::<IpAddr>().ok().map(Addr::from_ip)
    }

    /// From 4 (IPv4) or 16 (IPv6) network-order bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Addr> {
        match bytes.len() {
            4 => Some(Addr::v4(Ipv4Addr::new(
                bytes[0], bytes[1], bytes[2], bytes[3],
            ))),
            16 => {
                let mut b = [0u8; 16];
                b.copy_from_slice(bytes);
                Some(Addr(u128::from_be_bytes(b)))
            }
            _ => None,
        }
    }

    /// Whether this is an IPv4 host.
    pub fn is_v4(self) -> bool {
        self.0 >> 32 == 0xffff
    }

    /// The standard-library form: IPv4 for IPv4 hosts, IPv6 otherwise.
    pub fn ip(self) -> IpAddr {
        if self.is_v4() {
            IpAddr::V4(Ipv4Addr::from(self.0 as u32))
        } else {
            IpAddr::V6(Ipv6Addr::from(self.0))
        }
    }
}

impl fmt::Display for Addr {
    /// IPv4 dotted, IPv6 in RFC 5952 form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip() {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}"),
        }
    }
}

/// A network prefix over [`Addr`] values: an IPv4 prefix `a.b.c.d/n` covers only IPv4 hosts,
/// an IPv6 prefix only IPv6 hosts (so `::/0` never matches an IPv4 host and `0.0.0.0/0` never an
/// IPv6 one).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize, serde::Deserialize,
)]
pub struct Prefix {
    /// The network address, host bits cleared, in [`Addr`] form.
    pub network: Addr,
    /// Prefix length in the 128-bit [`Addr`] space (an IPv4 `/n` is `96 + n`).
    pub len128: u8,
}

impl Prefix {
    /// Parses `a.b.c.d/n` or `x:y::/n`; a bare address is a host prefix.
    pub fn parse(text: &str) -> Option<Prefix> {
        let text = text.trim();
        let (addr_text, len_text) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let ip: IpAddr = addr_text.parse().ok()?;
        let (addr, max, offset) = match ip {
            IpAddr::V4(v4) => (Addr::v4(v4), 32u8, 96u8),
            IpAddr::V6(v6) => (Addr(u128::from(v6)), 128u8, 0u8),
        };
        let len: u8 = match len_text {
            Some(l) => l.parse().ok().filter(|&n: &u8| n <= max)?,
            None => max,
        };
        Some(Prefix::new(addr, len + offset))
    }

    /// A prefix from an address and a length in the 128-bit space.
    pub fn new(addr: Addr, len128: u8) -> Prefix {
        let mask = Self::mask(len128);
        Prefix {
            network: Addr(addr.0 & mask),
            len128,
        }
    }

    fn mask(len128: u8) -> u128 {
        if len128 == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(len128))
        }
    }

    /// Whether the prefix is an IPv4 one.
    pub fn is_v4(&self) -> bool {
        self.len128 >= 96 && self.network.is_v4()
    }

    /// Whether `addr` lies in this prefix.
    pub fn contains(&self, addr: Addr) -> bool {
        addr.0 & Self::mask(self.len128) == self.network.0 && self.is_v4() == addr.is_v4()
    }

    /// The prefix length as written (`/24` for an IPv4 /24).
    pub fn written_len(&self) -> u8 {
        if self.is_v4() {
            self.len128 - 96
        } else {
            self.len128
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.written_len())
    }
}
