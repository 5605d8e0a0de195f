//! The harness's own reading of a networks file (`CIDR,label` lines), independent of the engine.
//!
//! Rules from the flow model: `#` starts a comment, `default,LABEL` sets the label of addresses
//! in no listed network (`external` unless set), the longest matching prefix wins, an IPv4
//! prefix never matches an IPv6 address and vice versa, and an IPv4-mapped IPv6 address is
//! looked up as its IPv4 host.

use std::net::IpAddr;

use anyhow::{bail, Context};
use ipnet::IpNet;

use crate::model::identity;

/// A parsed networks file.
#[derive(Clone, Debug)]
pub struct Networks {
    prefixes: Vec<(IpNet, String)>,
    default: String,
}

impl Networks {
    /// Parses the text of a networks file.
    pub fn parse(text: &str) -> anyhow::Result<Networks> {
        let mut prefixes = Vec::new();
        let mut default = "external".to_owned();
        for (line_idx, raw_line) in text.lines().enumerate() {
            let line = raw_line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let Some((cidr, label)) = line.split_once(',') else {
                bail!(
                    "networks line {}: expected `CIDR,label`, got `{raw_line}`",
                    line_idx + 1
                );
            };
            let (cidr, label) = (cidr.trim(), label.trim().to_owned());
            if cidr == "default" {
                default = label;
                continue;
            }
            let net: IpNet = cidr
                .parse()
                .or_else(|_| cidr.parse::<IpAddr>().map(IpNet::from))
                .with_context(|| format!("networks line {}: bad network `{cidr}`", line_idx + 1))?;
            prefixes.push((net.trunc(), label));
        }
        Ok(Networks { prefixes, default })
    }

    /// Reads and parses a networks file.
    pub fn read(path: &std::path::Path) -> anyhow::Result<Networks> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading networks file {}", path.display()))?;
        Networks::parse(&text)
    }

    /// The disposition of an address: the label of its longest matching prefix, else the default.
    /// Of two equal prefixes the later line wins.
    pub fn disposition(&self, addr: IpAddr) -> &str {
        let addr = identity(addr);
        let mut best: Option<(u8, &str)> = None;
        for (net, label) in &self.prefixes {
            // `IpNet::contains` is false across address families.
            if net.contains(&addr) && best.is_none_or(|(len, _)| net.prefix_len() >= len) {
                best = Some((net.prefix_len(), label));
            }
        }
        best.map_or(self.default.as_str(), |(_, label)| label)
    }

    /// Whether the catalog calls the address internal (disposition exactly `internal`).
    pub fn is_internal(&self, addr: IpAddr) -> bool {
        self.disposition(addr) == "internal"
    }

    /// The same file with every label `from` renamed `to` (including the default), so the
    /// catalog oracle can run on a data set whose internal ranges carry another label.
    pub fn relabel(&self, from: &str, to: &str) -> Networks {
        let rename = |label: &str| {
            if label == from {
                to.to_owned()
            } else {
                label.to_owned()
            }
        };
        Networks {
            prefixes: self
                .prefixes
                .iter()
                .map(|(net, label)| (*net, rename(label)))
                .collect(),
            default: rename(&self.default),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ip;

    fn check(networks: &str, cases: &[(&str, &str)]) {
        let nets = Networks::parse(networks).expect("test networks parse");
        for (addr, expected) in cases {
            assert_eq!(
                nets.disposition(ip(addr)),
                *expected,
                "disposition of {addr}"
            );
        }
    }

    #[test]
    fn longest_prefix_wins_and_default_applies() {
        check(
            "# comment line\n10.0.0.0/8,internal\n10.9.0.0/16,dmz # trailing comment\n\ndefault,outside\n",
            &[("10.1.2.3", "internal"), ("10.9.0.5", "dmz"), ("11.0.0.1", "outside")],
        );
        check("10.0.0.0/8,internal\n", &[("11.0.0.1", "external")]);
    }

    #[test]
    fn mapped_ipv6_is_the_ipv4_host() {
        check(
            "192.0.2.0/24,internal\n2001:db8:1::/48,internal\n",
            &[
                ("::ffff:192.0.2.7", "internal"),
                ("::ffff:198.51.100.7", "external"),
                ("2001:db8:1::10", "internal"),
                ("2001:db8:ff::1", "external"),
            ],
        );
    }

    /// Real-world case C26: a /0 covers its whole family and nothing of the other.
    #[test]
    fn c26_slash_zero_covers_one_family() {
        check(
            "0.0.0.0/0,internal\n198.51.100.0/24,partner\n::/0,v6any\n",
            &[
                ("203.0.113.5", "internal"),
                ("198.51.100.7", "partner"),
                ("2001:db8:ff::1", "v6any"),
                ("::ffff:203.0.113.5", "internal"),
            ],
        );
        check("::/0,v6any\n", &[("203.0.113.5", "external")]);
        check("0.0.0.0/0,v4any\n", &[("2001:db8::1", "external")]);
    }

    #[test]
    fn relabel_renames_labels() {
        let nets = Networks::parse("192.0.2.0/24,gov\n")
            .expect("parse")
            .relabel("gov", "internal");
        assert!(nets.is_internal(ip("192.0.2.1")));
        assert!(!nets.is_internal(ip("198.51.100.1")));
    }
}
