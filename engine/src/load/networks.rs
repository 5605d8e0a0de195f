//! The networks file: which label (`internal`, `dmz`, …) an address's `disposition` has.
//!
//! Labelling happens once per distinct address per dictionary, millions of times on a large
//! archive, so lookup is a handful of binary searches: one sorted table per prefix length,
//! tried longest first, with IPv4 and IPv6 prefixes kept apart. That split is the invariant
//! the flow model needs: an IPv4 prefix (even `0.0.0.0/0`) never covers an IPv6 host and an
//! IPv6 prefix (even `::/0`) never covers an IPv4 host. IPv4-mapped IPv6 text is the IPv4 host
//! ([`Addr`] normalises it), so it is labelled by the IPv4 prefixes.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::LoadError;
use crate::model::{Addr, Prefix};

/// The label used for addresses in no listed network when the file has no `default,LABEL` line.
pub const DEFAULT_LABEL: &str = "external";

/// Index of a label in [`Networks::labels`]; labels are sorted by name, so the same networks
/// file gives the same ids in every process.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize, serde::Deserialize,
)]
pub struct LabelId(pub u16);

/// Why a line of a networks file was refused.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum NetworkLineError {
    /// The line has no `,label` part.
    MissingLabel,
    /// The label is empty.
    EmptyLabel,
    /// More than two comma-separated fields.
    TooManyFields,
    /// The first field is neither `default` nor a CIDR prefix.
    BadPrefix,
    /// A second `default,LABEL` line with a different label.
    DuplicateDefault {
        /// The label of the earlier line.
        earlier: String,
    },
    /// The same prefix listed earlier with a different label.
    ConflictingLabel {
        /// The prefix, as normalised.
        prefix: String,
        /// The label of the earlier line.
        earlier: String,
    },
    /// More distinct labels than a [`LabelId`] can index.
    TooManyLabels,
}

impl fmt::Display for NetworkLineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkLineError::MissingLabel => write!(f, "expected `CIDR,label`"),
            NetworkLineError::EmptyLabel => write!(f, "the label is empty"),
            NetworkLineError::TooManyFields => write!(f, "expected two fields, `CIDR,label`"),
            NetworkLineError::BadPrefix => {
                write!(
                    f,
                    "the first field is neither `default` nor an IPv4/IPv6 CIDR prefix"
                )
            }
            NetworkLineError::DuplicateDefault { earlier } => {
                write!(
                    f,
                    "a second default label (an earlier line says `{earlier}`)"
                )
            }
            NetworkLineError::ConflictingLabel { prefix, earlier } => {
                write!(f, "{prefix} is listed earlier with label `{earlier}`")
            }
            NetworkLineError::TooManyLabels => write!(f, "more than 65535 distinct labels"),
        }
    }
}

/// One sorted table of networks sharing a prefix length.
#[derive(Clone, Debug)]
struct LengthTable {
    /// Prefix length in the 128-bit [`Addr`] space.
    len128: u8,
    /// `(network bits, label)`, sorted by network bits.
    entries: Vec<(u128, LabelId)>,
}

/// A parsed networks file: prefixes with labels, longest prefix wins, and a default label.
#[derive(Clone, Debug)]
pub struct Networks {
    labels: Vec<String>,
    default: LabelId,
    /// IPv4 prefixes by length, longest first.
    v4: Vec<LengthTable>,
    /// IPv6 prefixes by length, longest first.
    v6: Vec<LengthTable>,
    /// `(prefix, label)` in prefix order: the canonical content (for `entries` and the fingerprint).
    entries: Vec<(Prefix, LabelId)>,
}

impl Default for Networks {
    /// No networks: every address gets [`DEFAULT_LABEL`].
    fn default() -> Self {
        Networks::build(BTreeMap::new(), None).expect("one label always fits")
    }
}

impl Networks {
    /// Reads and parses a networks file; errors name the file as given.
    pub fn load(path: &Path) -> Result<Networks, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Networks::parse(&text, &path.display().to_string())
    }

    /// Parses networks text: `CIDR,label` lines, `#` comments (whole lines or trailing), blank
    /// lines, at most one `default,LABEL` line, and optionally a header line whose first field
    /// is `cidr`, `network`, `prefix` or `subnet`. Host bits in a prefix are ignored
    /// (`10.1.2.3/8` is `10.0.0.0/8`). A leading UTF-8 byte-order mark (as spreadsheet
    /// programs write) is not part of the first line. `file` only names the input in errors.
    pub fn parse(text: &str, file: &str) -> Result<Networks, LoadError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut prefixes: BTreeMap<Prefix, String> = BTreeMap::new();
        let mut default: Option<String> = None;
        let mut seen_data_line = false;
        for (idx, raw_line) in text.lines().enumerate() {
            let bad = |reason: NetworkLineError| LoadError::BadNetworkLine {
                file: file.to_string(),
                line: idx + 1,
                text: raw_line.to_string(),
                reason,
            };
            let line = raw_line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let first_data_line = !seen_data_line;
            seen_data_line = true;
            let mut fields = line.split(',');
            let key = fields.next().unwrap_or("").trim();
            let Some(label) = fields.next().map(str::trim) else {
                return Err(bad(NetworkLineError::MissingLabel));
            };
            if fields.next().is_some() {
                return Err(bad(NetworkLineError::TooManyFields));
            }
            let is_header = ["cidr", "network", "prefix", "subnet"]
                .iter()
                .any(|h| key.eq_ignore_ascii_case(h));
            if first_data_line && is_header {
                continue;
            }
            if label.is_empty() {
                return Err(bad(NetworkLineError::EmptyLabel));
            }
            if key.eq_ignore_ascii_case("default") {
                match &default {
                    Some(earlier) if earlier != label => {
                        return Err(bad(NetworkLineError::DuplicateDefault {
                            earlier: earlier.clone(),
                        }))
                    }
                    _ => default = Some(label.to_string()),
                }
                continue;
            }
            let Some(prefix) = Prefix::parse(key) else {
                return Err(bad(NetworkLineError::BadPrefix));
            };
            match prefixes.get(&prefix) {
                Some(earlier) if earlier != label => {
                    return Err(bad(NetworkLineError::ConflictingLabel {
                        prefix: prefix.to_string(),
                        earlier: earlier.clone(),
                    }))
                }
                Some(_) => {}
                None => {
                    prefixes.insert(prefix, label.to_string());
                }
            }
        }
        Networks::build(prefixes, default).ok_or_else(|| LoadError::BadNetworkLine {
            file: file.to_string(),
            line: 0,
            text: String::new(),
            reason: NetworkLineError::TooManyLabels,
        })
    }

    /// Networks from `(prefix, label)` pairs (later pairs win on a repeated prefix) and an
    /// optional default label; for tests and programmatic callers.
    ///
    /// # Panics
    /// If there are more than 65535 distinct labels (a programming error here, unlike in
    /// [`Networks::parse`], where it is reported).
    pub fn from_entries<'a>(
        entries: impl IntoIterator<Item = (Prefix, &'a str)>,
        default: Option<&str>,
    ) -> Networks {
        let prefixes: BTreeMap<Prefix, String> = entries
            .into_iter()
            .map(|(p, l)| (p, l.to_string()))
            .collect();
        Networks::build(prefixes, default.map(str::to_string))
            .expect("from_entries: at most 65535 distinct labels")
    }

    fn build(prefixes: BTreeMap<Prefix, String>, default: Option<String>) -> Option<Networks> {
        let default_name = default.unwrap_or_else(|| DEFAULT_LABEL.to_string());
        let mut labels: Vec<String> = prefixes.values().cloned().collect();
        labels.push(default_name.clone());
        labels.sort();
        labels.dedup();
        if labels.len() > usize::from(u16::MAX) {
            return None;
        }
        let id_of = |name: &str| -> LabelId {
            let idx = labels
                .binary_search_by(|l| l.as_str().cmp(name))
                .expect("every label was collected");
            LabelId(u16::try_from(idx).expect("label count checked above"))
        };
        let default = id_of(&default_name);
        let entries: Vec<(Prefix, LabelId)> =
            prefixes.iter().map(|(p, l)| (*p, id_of(l))).collect();
        let mut v4: BTreeMap<u8, Vec<(u128, LabelId)>> = BTreeMap::new();
        let mut v6: BTreeMap<u8, Vec<(u128, LabelId)>> = BTreeMap::new();
        for (prefix, label) in &entries {
            let table = if prefix.is_v4() { &mut v4 } else { &mut v6 };
            table
                .entry(prefix.len128)
                .or_default()
                .push((prefix.network.0, *label));
        }
        let finish = |tables: BTreeMap<u8, Vec<(u128, LabelId)>>| -> Vec<LengthTable> {
            let mut out: Vec<LengthTable> = tables
                .into_iter()
                .map(|(len128, mut entries)| {
                    entries.sort_unstable();
                    LengthTable { len128, entries }
                })
                .collect();
            out.reverse();
            out
        };
        Some(Networks {
            labels,
            default,
            v4: finish(v4),
            v6: finish(v6),
            entries,
        })
    }

    /// The label of `addr`: the longest listed prefix of the same IP version that contains it,
    /// else the default label.
    #[inline]
    pub fn label(&self, addr: Addr) -> LabelId {
        let tables = if addr.is_v4() { &self.v4 } else { &self.v6 };
        for table in tables {
            let mask = if table.len128 == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(table.len128))
            };
            let key = addr.0 & mask;
            if let Ok(idx) = table.entries.binary_search_by(|(net, _)| net.cmp(&key)) {
                return table.entries[idx].1;
            }
        }
        self.default
    }

    /// The name of a label.
    ///
    /// # Panics
    /// If `id` did not come from this `Networks`.
    pub fn label_name(&self, id: LabelId) -> &str {
        &self.labels[usize::from(id.0)]
    }

    /// The id of a label by name, if the file uses it (the default label always exists).
    pub fn label_id(&self, name: &str) -> Option<LabelId> {
        self.labels
            .binary_search_by(|l| l.as_str().cmp(name))
            .ok()
            .and_then(|idx| u16::try_from(idx).ok())
            .map(LabelId)
    }

    /// All labels, sorted by name; a [`LabelId`] indexes this slice.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The label of addresses in no listed network.
    pub fn default_label(&self) -> LabelId {
        self.default
    }

    /// The listed prefixes with their labels, in prefix order.
    pub fn entries(&self) -> &[(Prefix, LabelId)] {
        &self.entries
    }

    /// SHA-256 (hex) of the canonical content — the sorted, normalised `prefix,label` lines and
    /// the default label — so comments, spacing and line order do not change it, while any
    /// change of meaning does. Incremental state records it to notice a changed networks file.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        for (prefix, label) in &self.entries {
            hasher.update(format!("{prefix},{}\n", self.label_name(*label)).as_bytes());
        }
        hasher.update(format!("default,{}\n", self.label_name(self.default)).as_bytes());
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(networks_text: &str, expect: &[(&str, &str)]) {
        let networks = Networks::parse(networks_text, "networks.csv").expect("valid networks");
        for (addr_text, label) in expect {
            let addr = Addr::parse(addr_text).expect("valid address");
            assert_eq!(
                networks.label_name(networks.label(addr)),
                *label,
                "label of {addr_text}"
            );
        }
    }

    fn check_error(networks_text: &str, expect_line: usize, expect_text: &str) {
        match Networks::parse(networks_text, "nets.csv") {
            Err(LoadError::BadNetworkLine {
                file, line, text, ..
            }) => {
                assert_eq!(file, "nets.csv");
                assert_eq!(line, expect_line);
                assert_eq!(text, expect_text);
            }
            other => panic!("expected a bad-line error, got {other:?}"),
        }
    }

    #[test]
    fn c26_catch_all_prefixes_keep_ip_versions_apart() {
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
    fn a_leading_byte_order_mark_is_not_part_of_the_first_line() {
        check(
            "\u{feff}10.0.0.0/8,internal\n192.168.0.0/16,dmz\n",
            &[("10.1.2.3", "internal"), ("192.168.1.1", "dmz")],
        );
        check(
            "\u{feff}cidr,label\n10.0.0.0/8,internal\n",
            &[("10.1.2.3", "internal")],
        );
        // The file path too: bytes EF BB BF on disk.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nets.csv");
        std::fs::write(&path, b"\xef\xbb\xbf10.0.0.0/8,internal\r\n").expect("write");
        let nets = Networks::load(&path).expect("a BOM is read fine");
        let addr = Addr::parse("10.9.9.9").expect("addr");
        assert_eq!(nets.label_name(nets.label(addr)), "internal");
    }

    #[test]
    fn c03_mapped_ipv6_is_the_ipv4_host() {
        check(
            "192.0.2.0/24,internal\n",
            &[("::ffff:192.0.2.7", "internal"), ("192.0.2.7", "internal")],
        );
    }

    #[test]
    fn longest_prefix_wins_and_default_line() {
        let text = "# site networks\n\n10.0.0.0/8,internal  # corp\n10.1.0.0/16,dmz\n\
                    10.1.2.0/24,internal\n2001:db8:1::/48,internal\ndefault,outside\n";
        check(
            text,
            &[
                ("10.9.9.9", "internal"),
                ("10.1.9.9", "dmz"),
                ("10.1.2.3", "internal"),
                ("2001:db8:1:2::5", "internal"),
                ("2001:db8:2::5", "outside"),
                ("8.8.8.8", "outside"),
            ],
        );
        check("10.0.0.0/8,internal\n", &[("8.8.8.8", "external")]);
        check(
            "cidr,label\n10.0.0.0/8,internal\n",
            &[("10.0.0.1", "internal")],
        );
        check("", &[("10.0.0.1", "external")]);
        check(
            "10.0.0.1,host\n",
            &[("10.0.0.1", "host"), ("10.0.0.2", "external")],
        );
    }

    #[test]
    fn bad_lines_are_named_with_their_line_number() {
        check_error("10.0.0.0/8,internal\n\n10.0.0.0/33,x\n", 3, "10.0.0.0/33,x");
        check_error("# c\nbogus,internal\n", 2, "bogus,internal");
        check_error("10.0.0.0/8\n", 1, "10.0.0.0/8");
        check_error("10.0.0.0/8,\n", 1, "10.0.0.0/8,");
        check_error("10.0.0.0/8,a,b\n", 1, "10.0.0.0/8,a,b");
        check_error("default,a\ndefault,b\n", 2, "default,b");
        check_error("10.0.0.0/8,a\n10.0.0.0/8,b\n", 2, "10.0.0.0/8,b");
        check_error("2001:db..:1::/48,x\n", 1, "2001:db..:1::/48,x");
    }

    #[test]
    fn label_ids_and_fingerprint_are_canonical() {
        let a = Networks::parse("10.0.0.0/8,internal\n172.16.0.0/12,dmz\n", "a").expect("valid");
        let b =
            Networks::parse("# x\n172.16.0.0/12, dmz\n10.1.1.1/8,internal\n", "b").expect("valid");
        assert_eq!(a.labels(), ["dmz", "external", "internal"]);
        assert_eq!(a.label_id("internal"), Some(LabelId(2)));
        assert_eq!(a.label_id("partner"), None);
        assert_eq!(a.fingerprint(), b.fingerprint());
        let c = Networks::parse("10.0.0.0/8,internal\n172.16.0.0/12,dmz\ndefault,x\n", "c")
            .expect("valid");
        assert_ne!(a.fingerprint(), c.fingerprint());
        let d = Networks::from_entries(
            [
                (Prefix::parse("10.0.0.0/8").expect("prefix"), "internal"),
                (Prefix::parse("172.16.0.0/12").expect("prefix"), "dmz"),
            ],
            None,
        );
        assert_eq!(a.fingerprint(), d.fingerprint());
        assert_eq!(Networks::default().labels(), ["external"]);
    }
}
