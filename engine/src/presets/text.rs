//! Field-level text rules shared by the presets: Zeek's `\xNN` escapes, ports, counters,
//! addresses, and bounded excerpts for problem reports.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::Addr;

/// Decodes Zeek's `\xNN` escapes (the only escape Zeek's own reader undoes; any other
/// backslash is literal). The decoded bytes are read as UTF-8; a byte that is not part of a
/// valid UTF-8 sequence is written back as its `\xNN` text, so the result is always valid
/// UTF-8, lossless, and the same whichever encoding (TSV or JSON) the value came from.
pub(crate) fn unescape_zeek(text: &str) -> Cow<'_, str> {
    if !text.contains("\\x") {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'\\' && bytes.get(at + 1) == Some(&b'x') {
            if let (Some(hi), Some(lo)) =
                (hex_value(bytes.get(at + 2)), hex_value(bytes.get(at + 3)))
            {
                decoded.push(hi << 4 | lo);
                at += 4;
                continue;
            }
        }
        decoded.push(bytes[at]);
        at += 1;
    }
    Cow::Owned(utf8_keeping_invalid_escaped(&decoded))
}

fn hex_value(byte: Option<&u8>) -> Option<u8> {
    match byte? {
        b @ b'0'..=b'9' => Some(b - b'0'),
        b @ b'a'..=b'f' => Some(b - b'a' + 10),
        b @ b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Valid UTF-8 runs as they are; every other byte as `\xNN` (lowercase, as Zeek writes it).
fn utf8_keeping_invalid_escaped(mut bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    loop {
        match std::str::from_utf8(bytes) {
            Ok(valid) => {
                out.push_str(valid);
                return out;
            }
            Err(err) => {
                let (valid, rest) = bytes.split_at(err.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                let bad = err.error_len().unwrap_or(rest.len());
                for byte in &rest[..bad] {
                    out.push_str(&format!("\\x{byte:02x}"));
                }
                bytes = &rest[bad..];
            }
        }
    }
}

/// A port: decimal, or hexadecimal with `0x` (Argus prints ICMP type/code that way:
/// `0x0303` is 771). Empty text is port 0 (no port). Anything else is an error, never 0.
pub(crate) fn parse_port(text: &str) -> Result<u16, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u32::from_str_radix(hex, 16).ok()
        }
        Some(_) => None,
        None if text.bytes().all(|b| b.is_ascii_digit()) => text.parse::<u32>().ok(),
        None => None,
    };
    match parsed {
        Some(port) => u16::try_from(port).map_err(|_| "port above 65535"),
        None => Err("not a port number (decimal or 0x hexadecimal)"),
    }
}

/// A packet or byte counter: decimal digits, at most `u64::MAX`. Empty text is 0.
pub(crate) fn parse_count(text: &str) -> Result<u64, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err("not a non-negative whole number");
    }
    text.parse().map_err(|_| "count above 18446744073709551615")
}

/// An IP address; the reason names the nfdump abbreviation (`2001:db..:1::10`) explicitly
/// because that text looks like an address to a person but is a lossy display form.
pub(crate) fn parse_addr(text: &str) -> Result<Addr, &'static str> {
    let text = text.trim();
    if let Some(addr) = Addr::parse(text) {
        return Ok(addr);
    }
    if text.contains("..") {
        Err("abbreviated address: nfdump shortens long IPv6 addresses in its text formats; export with `-o csv` (or `-6` for full addresses)")
    } else {
        Err("not an IP address")
    }
}

/// SiLK's address spellings as well: zero-padded IPv4 (`--zero-pad-ips`) and integers
/// (`--integer-ips`; above 2^32 is IPv6).
pub(crate) fn parse_silk_addr(text: &str) -> Result<Addr, &'static str> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let value: u128 = text.parse().map_err(|_| "not an IP address")?;
        return Ok(match u32::try_from(value) {
            Ok(v4) => Addr::from_ip(IpAddr::V4(Ipv4Addr::from(v4))),
            Err(_) => Addr::from_ip(IpAddr::V6(Ipv6Addr::from(value))),
        });
    }
    if !text.contains(':') && text.contains('.') {
        let octets: Vec<&str> = text.split('.').collect();
        if octets.len() == 4 {
            let mut parsed = [0u8; 4];
            for (slot, octet) in parsed.iter_mut().zip(&octets) {
                if octet.is_empty() || octet.len() > 3 || !octet.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err("not an IP address");
                }
                *slot = octet.parse().map_err(|_| "not an IP address")?;
            }
            return Ok(Addr::from_ip(IpAddr::V4(Ipv4Addr::from(parsed))));
        }
    }
    parse_addr(text)
}

/// At most 200 characters of `text`, cut on a character boundary, for problem reports.
pub(crate) fn excerpt(text: &str) -> String {
    const LIMIT: usize = 200;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeek_escapes() {
        assert_eq!(unescape_zeek("plain"), "plain");
        assert_eq!(unescape_zeek("bad\\x07byte"), "bad\u{7}byte");
        assert_eq!(unescape_zeek("a\\x09b"), "a\tb");
        // UTF-8 written byte by byte decodes to the character.
        assert_eq!(unescape_zeek("\\xc3\\x9cn"), "Ün");
        // An invalid byte stays as its escape text; a broken escape stays literal.
        assert_eq!(unescape_zeek("x\\xffy"), "x\\xffy");
        assert_eq!(unescape_zeek("x\\xFFy"), "x\\xffy");
        assert_eq!(unescape_zeek("\\xz1 \\x4"), "\\xz1 \\x4");
        assert_eq!(unescape_zeek("C:\\path"), "C:\\path");
        assert_eq!(unescape_zeek("Ünïcode ☃"), "Ünïcode ☃");
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port("443"), Ok(443));
        assert_eq!(parse_port(" 0x0303"), Ok(771));
        assert_eq!(parse_port("0x0f72"), Ok(3954));
        assert_eq!(parse_port(""), Ok(0));
        assert!(parse_port("65536").is_err());
        assert!(parse_port("0x10000").is_err());
        assert!(parse_port("http").is_err());
        assert!(parse_port("0x").is_err());
        assert!(parse_port("-1").is_err());
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_count("4294967296"), Ok(1 << 32));
        assert!(parse_count("18446744073709551616").is_err());
        assert!(parse_count("1.5").is_err());
        assert!(parse_count("-1").is_err());
    }

    #[test]
    fn addresses() {
        assert_eq!(
            parse_addr("192.0.2.1").map(|a| a.to_string()),
            Ok("192.0.2.1".into())
        );
        assert_eq!(
            parse_addr("fe80:0000:0000:0000:0042:95ff:fea2:534a").map(|a| a.to_string()),
            Ok("fe80::42:95ff:fea2:534a".into())
        );
        assert_eq!(
            parse_addr("::ffff:192.0.2.7").map(|a| a.to_string()),
            Ok("192.0.2.7".into())
        );
        assert!(parse_addr("2001:db..:1::10")
            .unwrap_err()
            .contains("abbreviated"));
        assert_eq!(
            parse_silk_addr("010.000.000.001").map(|a| a.to_string()),
            Ok("10.0.0.1".into())
        );
        assert_eq!(
            parse_silk_addr("167772161").map(|a| a.to_string()),
            Ok("10.0.0.1".into())
        );
        assert!(parse_silk_addr("10.0.0.256").is_err());
    }

    #[test]
    fn excerpts_never_split_a_character() {
        let long = "☃".repeat(300);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), 201);
    }
}
