//! Protocol names as sensors print them → IANA protocol numbers.
//!
//! Sensors disagree on spelling (`tcp`, `TCP`, `6`, `006`; `icmp6`, `ipv6-icmp`, `IPv6-ICMP`,
//! `ICMP6`), and Argus labels some UDP applications (`rtp`, `rtcp`, `udt`) and non-IP frames
//! (`arp`, `llc`). Numbers pass through; names are matched without regard to case. Non-IP
//! frames have no protocol number, so they get `None` (never a guess); [`is_not_ip`] tells
//! them from a garbled name, so a reader can skip them as not-a-flow instead of malformed.

/// IANA names (and the aliases sensors print) with their numbers, sorted by name.
const NAMES: &[(&str, u8)] = &[
    ("ah", 51),
    ("dccp", 33),
    ("egp", 8),
    ("eigrp", 88),
    ("encap", 98),
    ("esp", 50),
    ("etherip", 97),
    ("ethernet", 143),
    ("ggp", 3),
    ("gre", 47),
    ("hopopt", 0),
    ("icmp", 1),
    ("icmp6", 58),
    ("icmpv6", 58),
    ("idp", 22),
    ("igmp", 2),
    ("igp", 9),
    ("ip-in-ip", 4),
    ("ipcomp", 108),
    ("ipencap", 4),
    ("ipip", 94),
    ("ipnip", 4),
    ("ipv4", 4),
    ("ipv6", 41),
    ("ipv6-frag", 44),
    ("ipv6-icmp", 58),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("ipv6-route", 43),
    ("isis", 124),
    ("l2tp", 115),
    ("mobility-header", 135),
    ("mpls-in-ip", 137),
    ("ospf", 89),
    ("ospfigp", 89),
    ("pim", 103),
    ("pup", 12),
    ("rdp", 27),
    ("rsvp", 46),
    ("rtcp", 17),
    ("rtp", 17),
    ("sctp", 132),
    ("st", 5),
    ("tcp", 6),
    ("udp", 17),
    ("udplite", 136),
    ("udt", 17),
    ("vrrp", 112),
    ("xtp", 36),
];

/// Link-layer frames a sensor may list beside flows (Argus prints `arp` with addresses but no
/// ports): not IP traffic, so not flows. Compared without regard to case.
const NOT_IP: &[&str] = &["arp", "rarp", "llc", "lldp", "stp", "ipx", "ipx/spx", "man"];

/// Whether `text` names a non-IP frame type (`arp`, `llc`, …): such a record is no flow and is
/// skipped and counted, not reported as malformed.
pub fn is_not_ip(text: &str) -> bool {
    let text = text.trim();
    NOT_IP.iter().any(|n| n.eq_ignore_ascii_case(text))
}

/// The IANA number of a protocol printed as a number (`6`, `006`) or a name (`tcp`,
/// `IPv6-ICMP`, `ICMP6`); `None` for anything else, including non-IP frames (`arp`).
pub fn protocol_number(text: &str) -> Option<u8> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let digits = text.trim_start_matches('0');
        if digits.len() > 3 {
            return None;
        }
        return if digits.is_empty() {
            Some(0)
        } else {
            digits.parse().ok()
        };
    }
    let lower = text.to_ascii_lowercase();
    NAMES
        .binary_search_by(|(name, _)| name.cmp(&lower.as_str()))
        .ok()
        .map(|at| NAMES[at].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sorted_for_binary_search() {
        assert!(NAMES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn spellings() {
        for (text, number) in [
            ("tcp", Some(6)),
            ("TCP", Some(6)),
            ("6", Some(6)),
            ("06", Some(6)),
            ("006", Some(6)),
            ("udp", Some(17)),
            ("ICMP", Some(1)),
            ("IPv6-ICMP", Some(58)),
            ("ipv6-icmp", Some(58)),
            ("ICMP6", Some(58)),
            ("GRE", Some(47)),
            ("47", Some(47)),
            ("0", Some(0)),
            ("255", Some(255)),
            ("256", None),
            ("arp", None),
            ("unknown_transport", None),
            ("", None),
            ("-6", None),
        ] {
            assert_eq!(protocol_number(text), number, "{text}");
        }
    }
}
