//! Real sensor data, read as text (`--flows-format`, `--events-format`) and through
//! `flowpat import`, checked against the independent oracle.
//!
//! The data sets are those of `/work/shared/data` (or `$FLOWPAT_SHARED_DATA`); they are GPL or
//! BSD/MIT licensed and stay there, so each test that needs one prints why it skips when the
//! folder is absent. Every data set runs the whole catalog, and each result is checked twice:
//! against the oracle fed by the small parsers of [`sensors`] (written here from the preset
//! documentation, sharing no code with `engine::presets`), and against literal counts and a few
//! literal rows recorded when the results were first checked by hand. A catch-all pattern also
//! compares every record attribute by attribute, so a mapping slip shows even when no catalog
//! pattern happens to notice it.
//!
//! Networks: private ranges (`10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`) are internal,
//! except for the CTU captures, whose monitored hosts are in the university's public
//! `147.32.0.0/16` (and `2001:718:2::/48` for IPv6).
//!
//! The real-world cases of `shared/spec/real-world-cases.md` that concern text (C06, C14, C17,
//! C19, C20, C22, C29, C30) run here too, on small inputs written by the tests.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flowpat_tests::cli::{flowpat, flowpat_bin, parse_results, workspace_root, CATALOG};
use flowpat_tests::fixture::{assert_results_eq, rows};
use flowpat_tests::model::{print_addr, Ev, Flow};
use flowpat_tests::networks::Networks;
use flowpat_tests::oracle::Results;

/// Private address space as internal.
const PRIVATE: &str = "10.0.0.0/8,internal\n172.16.0.0/12,internal\n192.168.0.0/16,internal\n";

/// The CTU university network (IPv4 and IPv6) plus private space as internal.
const CTU: &str = "147.32.0.0/16,internal\n2001:718:2::/48,internal\n10.0.0.0/8,internal\n172.16.0.0/12,internal\n192.168.0.0/16,internal\n";

/// The networks of `real-world-cases.md`.
const CASES: &str = "192.0.2.0/24,internal\n2001:db8:1::/48,internal\n";

/// Lists every flow and every event with all their attributes.
const EVERYTHING: &str = "\
search all flows is
   instance s : NetworkAddress;
   instance conn : NetworkConnection;
   instance d : NetworkAddress;
   connections
      conn.source connects s;
      conn.destination connects d;
   end
   export
      s; conn; d;
   end
end

search all events is
   instance s : NetworkAddress;
   instance e : Event;
   instance d : NetworkAddress;
   connections
      e.source connects s;
      e.destination connects d;
   end
   export
      s; e; d;
   end
end
";

// ---- the harness ----------------------------------------------------------------------------

/// The shared data folder, if present.
fn shared_data() -> Option<PathBuf> {
    // `shared/data` beside the checkout (as CI lays it out), else the workplace's copy.
    if let Some(dir) = std::env::var_os("FLOWPAT_SHARED_DATA") {
        let dir = PathBuf::from(dir);
        return dir.is_dir().then_some(dir);
    }
    [
        workspace_root().join("../shared/data"),
        PathBuf::from("/work/shared/data"),
    ]
    .into_iter()
    .find(|d| d.is_dir())
}

/// `rel` under the shared data folder, or `None` after printing why the test skips.
fn data(rel: &str) -> Option<PathBuf> {
    let Some(root) = shared_data() else {
        eprintln!(
            "skipping: shared data folder absent (/work/shared/data, or set FLOWPAT_SHARED_DATA)"
        );
        return None;
    };
    let path = root.join(rel);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("skipping: {} is absent", path.display());
        None
    }
}

/// Every path of `dir` whose file name satisfies `keep`, sorted.
fn files_in(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("listing {}: {err}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file() && keep(&p.file_name().unwrap_or_default().to_string_lossy()))
        .collect();
    found.sort();
    found
}

/// The name a file is printed with when named directly: the path as given.
fn name(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// One `flowpat run` over text inputs.
struct Archive {
    flows: Vec<PathBuf>,
    flows_format: &'static str,
    events: Vec<PathBuf>,
    events_format: &'static str,
    networks: &'static str,
    extra: Vec<String>,
}

impl Archive {
    fn flows(format: &'static str, flows: Vec<PathBuf>, networks: &'static str) -> Archive {
        Archive {
            flows,
            flows_format: format,
            events: Vec::new(),
            events_format: "",
            networks,
            extra: Vec::new(),
        }
    }

    fn events(mut self, format: &'static str, events: Vec<PathBuf>) -> Archive {
        self.events = events;
        self.events_format = format;
        self
    }

    fn networks(&self) -> Networks {
        Networks::parse(self.networks).expect("test networks parse")
    }

    /// The `run` arguments after the patterns, writing the networks file into `dir`.
    fn args(&self, dir: &Path) -> Vec<OsString> {
        let networks = dir.join("networks.csv");
        std::fs::write(&networks, self.networks).expect("writing networks.csv");
        let mut args: Vec<OsString> = Vec::new();
        for flow in &self.flows {
            args.extend(["--flows".into(), flow.clone().into_os_string()]);
        }
        if !self.flows_format.is_empty() {
            args.extend(["--flows-format".into(), self.flows_format.into()]);
        }
        for event in &self.events {
            args.extend(["--events".into(), event.clone().into_os_string()]);
        }
        if !self.events.is_empty() && !self.events_format.is_empty() {
            args.extend(["--events-format".into(), self.events_format.into()]);
        }
        args.extend(["--networks".into(), networks.into_os_string()]);
        args.extend(self.extra.iter().map(OsString::from));
        args
    }

    /// Runs `patterns` with CSV output into a fresh folder; returns the folder.
    fn run_to(&self, patterns: &Path) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut args: Vec<OsString> = vec!["run".into(), patterns.as_os_str().to_owned()];
        args.extend(self.args(dir.path()));
        let out = dir.path().join("out");
        args.extend([
            "--format".into(),
            "csv".into(),
            "--quiet".into(),
            "--out".into(),
        ]);
        args.push(out.into_os_string());
        flowpat(&args);
        dir
    }

    /// The whole catalog in one run: each pattern's results by identity tuple.
    fn catalog(&self) -> BTreeMap<&'static str, Results> {
        let dir = self.run_to(&workspace_root().join("patterns"));
        CATALOG
            .iter()
            .map(|p| {
                let file = dir.path().join("out").join(format!("{}.csv", p.name));
                let text = std::fs::read_to_string(&file)
                    .unwrap_or_else(|err| panic!("reading {}: {err}", file.display()));
                (p.name, parse_results(&text, p.key_columns))
            })
            .collect()
    }

    /// Every flow and every event the run loaded, as comparable tuples.
    fn everything(&self) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
        let patterns = tempfile::tempdir().expect("tempdir");
        let file = patterns.path().join("everything.pattern");
        std::fs::write(&file, EVERYTHING).expect("writing the catalog-free pattern");
        let dir = self.run_to(&file);
        let read = |stem: &str| {
            let path = dir
                .path()
                .join("out")
                .join(format!("everything-{stem}.csv"));
            std::fs::read_to_string(&path)
                .unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
        };
        (
            csv_tuples(&read("all-flows"), &FLOW_COLUMNS),
            csv_tuples(&read("all-events"), &EVENT_COLUMNS),
        )
    }
}

/// The columns of a flow tuple, in the CLI's names.
const FLOW_COLUMNS: [&str; 14] = [
    "conn.file",
    "conn.row",
    "s",
    "d",
    "conn.protocol",
    "conn.srcPort",
    "conn.destPort",
    "conn.startTime",
    "conn.endTime",
    "conn.bytesSent",
    "conn.bytesReceived",
    "conn.packetsSent",
    "conn.packetsReceived",
    "conn.service",
];

/// The columns of an event tuple.
const EVENT_COLUMNS: [&str; 8] = [
    "e.file",
    "e.row",
    "s",
    "d",
    "e.time",
    "e.signature",
    "e.severity",
    "e.category",
];

/// The rows of a CSV as tuples of `columns`, times turned into microseconds; sorted.
fn csv_tuples(text: &str, columns: &[&str]) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().expect("CSV header").clone();
    let index: Vec<usize> = columns
        .iter()
        .map(|c| {
            headers
                .iter()
                .position(|h| h == *c)
                .unwrap_or_else(|| panic!("no column {c} in {headers:?}"))
        })
        .collect();
    let mut tuples: Vec<Vec<String>> = reader
        .records()
        .map(|r| {
            let r = r.expect("CSV record");
            index
                .iter()
                .zip(columns)
                .map(|(&i, c)| {
                    if c.ends_with("Time") || *c == "e.time" {
                        chrono::DateTime::parse_from_rfc3339(&r[i])
                            .unwrap_or_else(|err| panic!("time `{}`: {err}", &r[i]))
                            .timestamp_micros()
                            .to_string()
                    } else {
                        r[i].to_string()
                    }
                })
                .collect()
        })
        .collect();
    tuples.sort();
    tuples
}

fn flow_tuple(f: &Flow) -> Vec<String> {
    vec![
        f.file.clone(),
        f.row.to_string(),
        print_addr(f.src),
        print_addr(f.dst),
        f.protocol.to_string(),
        f.src_port.to_string(),
        f.dst_port.to_string(),
        f.start_us.to_string(),
        f.end_us.to_string(),
        f.bytes_sent.to_string(),
        f.bytes_received.to_string(),
        f.packets_sent.to_string(),
        f.packets_received.to_string(),
        f.service.clone().unwrap_or_default(),
    ]
}

fn event_tuple(e: &Ev) -> Vec<String> {
    vec![
        e.file.clone(),
        e.row.to_string(),
        print_addr(e.src),
        print_addr(e.dst),
        e.time_us.to_string(),
        e.signature.clone(),
        e.severity.to_string(),
        e.category.clone(),
    ]
}

/// Asserts the run loads exactly `flows` and `events` (every attribute), and that every
/// catalog pattern equals the oracle over them; returns the catalog results.
fn verify(archive: &Archive, flows: &[Flow], events: &[Ev]) -> BTreeMap<&'static str, Results> {
    let (got_flows, got_events) = archive.everything();
    let mut want_flows: Vec<Vec<String>> = flows.iter().map(flow_tuple).collect();
    let mut want_events: Vec<Vec<String>> = events.iter().map(event_tuple).collect();
    want_flows.sort();
    want_events.sort();
    assert_same_tuples(&got_flows, &want_flows, "flows");
    assert_same_tuples(&got_events, &want_events, "events");

    let results = archive.catalog();
    let networks = archive.networks();
    for pattern in CATALOG {
        let expected = (pattern.oracle)(flows, events, &networks);
        assert_results_eq(
            &results[pattern.name],
            &expected,
            &format!("engine vs oracle, pattern {}", pattern.name),
        );
    }
    results
}

fn assert_same_tuples(got: &[Vec<String>], want: &[Vec<String>], what: &str) {
    if got == want {
        return;
    }
    let only_got: Vec<_> = got.iter().filter(|t| !want.contains(t)).take(5).collect();
    let only_want: Vec<_> = want.iter().filter(|t| !got.contains(t)).take(5).collect();
    panic!(
        "{what}: engine loaded {} records, the oracle parsed {}\nonly engine: {only_got:#?}\nonly oracle: {only_want:#?}",
        got.len(),
        want.len()
    );
}

/// The number of result rows of each catalog pattern, in catalog order.
fn counts(results: &BTreeMap<&'static str, Results>) -> [usize; 6] {
    let mut out = [0; 6];
    for (slot, pattern) in out.iter_mut().zip(CATALOG) {
        *slot = results[pattern.name].len();
    }
    out
}

/// Runs `flowpat` expecting failure or success; returns the output.
/// `flowpat import --from FROM INPUT --out OUT EXTRA…`, as arguments.
fn import_args(from: &str, input: &Path, out: &Path, extra: &[&str]) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "import".into(),
        "--from".into(),
        from.into(),
        input.into(),
        "--out".into(),
        out.into(),
    ];
    args.extend(extra.iter().map(OsString::from));
    args
}

fn flowpat_output(args: &[OsString]) -> Output {
    Command::new(flowpat_bin())
        .args(args)
        .current_dir(workspace_root())
        .output()
        .expect("spawning flowpat")
}

// ---- the oracle's own reading of sensor text --------------------------------------------------

/// Tiny parsers for sensor text, written from the preset documentation (`engine::presets`
/// module docs) and sharing no code with it: fields by name, exact decimal times, the
/// documented counter rules. A record they cannot read is left out, as the engine skips it.
mod sensors {
    use std::collections::BTreeMap;
    use std::net::IpAddr;
    use std::path::Path;

    use flowpat_tests::model::{Ev, Flow};

    /// A record: field name → value (`None` for unset).
    type Record = BTreeMap<String, Option<String>>;

    /// Decimal seconds (`1379288667.706265`, `-0.5`) → microseconds, exact; digits beyond the
    /// microsecond round half away from zero.
    pub fn decimal_micros(text: &str) -> Option<i64> {
        let text = text.trim();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && frac.is_empty()
            || !whole.chars().all(|c| c.is_ascii_digit())
            || !frac.chars().all(|c| c.is_ascii_digit())
        {
            return None;
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut micros = 0i64;
        for k in 0..6 {
            let digit = frac.as_bytes().get(k).map_or(0, |b| i64::from(b - b'0'));
            micros = micros * 10 + digit;
        }
        if frac.as_bytes().get(6).is_some_and(|b| *b >= b'5') {
            micros += 1;
        }
        let value = whole.checked_mul(1_000_000)?.checked_add(micros)?;
        Some(if negative { -value } else { value })
    }

    /// An ISO 8601 time with a zone (`Z`, `+01:00` or `+0100`) → microseconds.
    pub fn iso_micros(text: &str) -> Option<i64> {
        chrono::DateTime::parse_from_rfc3339(text)
            .or_else(|_| chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
            .ok()
            .map(|t| t.timestamp_micros())
    }

    fn number<T: std::str::FromStr>(record: &Record, key: &str) -> Option<T> {
        record.get(key)?.as_deref()?.parse().ok()
    }

    fn text<'r>(record: &'r Record, keys: &[&str]) -> Option<&'r str> {
        keys.iter()
            .find_map(|k| record.get(*k).and_then(|v| v.as_deref()))
    }

    fn addr(record: &Record, keys: &[&str]) -> Option<IpAddr> {
        text(record, keys)?.parse().ok()
    }

    /// A JSON object flattened to dotted names, scalars as text.
    fn json_record(line: &str) -> Option<Record> {
        fn walk(prefix: &str, value: &serde_json::Value, out: &mut Record) {
            match value {
                serde_json::Value::Object(map) => {
                    for (key, inner) in map {
                        let name = if prefix.is_empty() {
                            key.clone()
                        } else {
                            format!("{prefix}.{key}")
                        };
                        walk(&name, inner, out);
                    }
                }
                serde_json::Value::Null => {
                    out.insert(prefix.to_string(), None);
                }
                serde_json::Value::String(s) => {
                    out.insert(prefix.to_string(), Some(s.clone()));
                }
                other => {
                    out.insert(prefix.to_string(), Some(other.to_string()));
                }
            }
        }
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        let mut out = Record::new();
        walk("", &value, &mut out);
        Some(out)
    }

    /// The data records of a Zeek log (TSV or JSON lines), each with its 0-based ordinal.
    fn zeek_records(path: &Path) -> Vec<(u64, Record)> {
        let content = std::fs::read_to_string(path)
            .unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
        let mut fields: Vec<String> = Vec::new();
        let mut out = Vec::new();
        let mut ordinal = 0u64;
        for line in content.lines() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            // A directive may be indented (Slips' test10 log starts with `\t#separator`).
            let directive = line.trim_start();
            if let Some(rest) = directive.strip_prefix("#fields") {
                fields = rest
                    .trim_start_matches('\t')
                    .split('\t')
                    .map(String::from)
                    .collect();
                continue;
            }
            if directive.starts_with('#') {
                continue;
            }
            if fields.is_empty() && line.starts_with("ts\t") {
                // A bare title line (zeek-cut style) names the fields.
                fields = line.split('\t').map(String::from).collect();
                continue;
            }
            let row = ordinal;
            ordinal += 1;
            let record = if line.starts_with('{') {
                match json_record(line) {
                    Some(r) => r,
                    None => continue,
                }
            } else {
                fields
                    .iter()
                    .cloned()
                    .zip(
                        line.split('\t')
                            .map(|v| (v != "-" && v != "(empty)").then(|| v.to_string())),
                    )
                    .collect()
            };
            out.push((row, record));
        }
        out
    }

    /// Zeek `conn.log` → flows.
    pub fn zeek_conn(path: &Path) -> Vec<Flow> {
        let file = path.to_string_lossy().into_owned();
        let mut flows = Vec::new();
        for (row, r) in zeek_records(path) {
            let start = match text(&r, &["ts"]) {
                Some(ts) => match decimal_micros(ts).or_else(|| iso_micros(ts)) {
                    Some(t) => t,
                    None => continue,
                },
                None => continue,
            };
            let (Some(src), Some(dst)) = (
                addr(&r, &["id.orig_h", "id_orig_h", "src"]),
                addr(&r, &["id.resp_h", "id_resp_h", "dst"]),
            ) else {
                continue;
            };
            let port = |keys: &[&str]| text(&r, keys).and_then(|p| p.parse::<u16>().ok());
            let protocol = match number::<u8>(&r, "ip_proto") {
                Some(p) => p,
                None => match text(&r, &["proto"]) {
                    Some("tcp") => 6,
                    Some("udp") => 17,
                    Some("icmp") if src.is_ipv6() => 58,
                    Some("icmp") => 1,
                    _ => continue,
                },
            };
            let duration = text(&r, &["duration"])
                .and_then(decimal_micros)
                .unwrap_or(0);
            let ip_level = r.contains_key("orig_ip_bytes");
            let count = |key: &str| number::<u64>(&r, key).unwrap_or(0);
            let (bytes_sent, bytes_received) = if ip_level {
                (count("orig_ip_bytes"), count("resp_ip_bytes"))
            } else {
                (count("orig_bytes"), count("resp_bytes"))
            };
            flows.push(Flow {
                file: file.clone(),
                row,
                start_us: start,
                end_us: start + duration,
                src,
                dst,
                src_port: port(&["id.orig_p", "id_orig_p", "src_port"]).unwrap_or(0),
                dst_port: port(&["id.resp_p", "id_resp_p", "dst_port"]).unwrap_or(0),
                protocol,
                bytes_sent,
                bytes_received,
                packets_sent: count("orig_pkts"),
                packets_received: count("resp_pkts"),
                service: text(&r, &["service"]).map(String::from),
            });
        }
        flows
    }

    /// Zeek `notice.log` → events (a notice naming no destination cannot be an event of the
    /// flow model, whose events all have one, so it is left out as the engine leaves it out).
    pub fn zeek_notices(path: &Path) -> Vec<Ev> {
        let file = path.to_string_lossy().into_owned();
        let mut events = Vec::new();
        for (row, r) in zeek_records(path) {
            let Some(time) =
                text(&r, &["ts"]).and_then(|t| decimal_micros(t).or_else(|| iso_micros(t)))
            else {
                continue;
            };
            let (Some(src), Some(dst), Some(note)) = (
                addr(&r, &["src", "id.orig_h"]),
                addr(&r, &["dst", "id.resp_h"]),
                text(&r, &["note"]),
            ) else {
                continue;
            };
            events.push(Ev {
                file: file.clone(),
                row,
                time_us: time,
                src,
                dst,
                signature: note.to_string(),
                severity: number(&r, "severity").unwrap_or(3),
                category: "notice".to_string(),
            });
        }
        events
    }

    /// Suricata EVE → (`flow` records as flows, `alert` records as events); ordinals count
    /// every record of the file.
    pub fn eve(path: &Path) -> (Vec<Flow>, Vec<Ev>) {
        let file = path.to_string_lossy().into_owned();
        let content = std::fs::read_to_string(path)
            .unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
        let (mut flows, mut events) = (Vec::new(), Vec::new());
        for (row, line) in content.lines().filter(|l| !l.trim().is_empty()).enumerate() {
            let row = row as u64;
            let Some(r) = json_record(line) else { continue };
            let (Some(src), Some(dst)) = (addr(&r, &["src_ip"]), addr(&r, &["dest_ip"])) else {
                continue;
            };
            match text(&r, &["event_type"]) {
                Some("flow") => {
                    let protocol = match text(&r, &["proto"]) {
                        Some("TCP") => 6,
                        Some("UDP") => 17,
                        Some("ICMP") => 1,
                        Some("IPv6-ICMP") => 58,
                        Some(other) => match other.parse() {
                            Ok(p) => p,
                            Err(_) => continue,
                        },
                        None => continue,
                    };
                    let Some(start) = text(&r, &["flow.start"]).and_then(iso_micros) else {
                        continue;
                    };
                    let end = text(&r, &["flow.end"])
                        .and_then(iso_micros)
                        .unwrap_or(start);
                    let count = |key: &str| number::<u64>(&r, key).unwrap_or(0);
                    flows.push(Flow {
                        file: file.clone(),
                        row,
                        start_us: start,
                        end_us: end,
                        src,
                        dst,
                        src_port: number(&r, "src_port").unwrap_or(0),
                        dst_port: number(&r, "dest_port").unwrap_or(0),
                        protocol,
                        bytes_sent: count("flow.bytes_toserver"),
                        bytes_received: count("flow.bytes_toclient"),
                        packets_sent: count("flow.pkts_toserver"),
                        packets_received: count("flow.pkts_toclient"),
                        service: text(&r, &["app_proto"]).map(String::from),
                    });
                }
                Some("alert") => {
                    let Some(time) = text(&r, &["timestamp"]).and_then(iso_micros) else {
                        continue;
                    };
                    events.push(Ev {
                        file: file.clone(),
                        row,
                        time_us: time,
                        src,
                        dst,
                        signature: text(&r, &["alert.signature"]).unwrap_or("").to_string(),
                        severity: number(&r, "alert.severity").unwrap_or(3),
                        category: text(&r, &["alert.category"]).unwrap_or("").to_string(),
                    });
                }
                _ => {}
            }
        }
        (flows, events)
    }

    /// The documented packet split for Argus files with a total count only: one-sided flows
    /// exactly, otherwise in proportion to the bytes (half up), at least one packet each way.
    fn split(total: u64, sent: u64, received: u64) -> (u64, u64) {
        if received == 0 || total < 2 {
            return (total, 0);
        }
        if sent == 0 {
            return (0, total);
        }
        let bytes = u128::from(sent) + u128::from(received);
        let share = (u128::from(total) * u128::from(sent) + bytes / 2) / bytes;
        let share = (share as u64).clamp(1, total - 1);
        (share, total - share)
    }

    /// Argus / CTU `binetflow` CSV → flows (times naive, read as UTC).
    pub fn argus(path: &Path) -> Vec<Flow> {
        let file = path.to_string_lossy().into_owned();
        let content = std::fs::read_to_string(path)
            .unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
        let mut lines = content.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<String> = lines
            .next()
            .unwrap_or("")
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let mut flows = Vec::new();
        for (row, line) in lines.enumerate() {
            let r: Record = header
                .iter()
                .cloned()
                .zip(line.split(',').map(|v| {
                    let v = v.trim();
                    (!v.is_empty()).then(|| v.to_string())
                }))
                .collect();
            let Some(start) = text(&r, &["starttime"]).and_then(|t| {
                chrono::NaiveDateTime::parse_from_str(t, "%Y/%m/%d %H:%M:%S%.f")
                    .ok()
                    .map(|t| t.and_utc().timestamp_micros())
            }) else {
                continue;
            };
            let protocol = match text(&r, &["proto"]) {
                Some("tcp") => 6,
                Some("udp") => 17,
                Some("icmp") => 1,
                Some("igmp") => 2,
                Some("ipv6-icmp") => 58,
                _ => continue,
            };
            let (Some(src), Some(dst)) = (addr(&r, &["srcaddr"]), addr(&r, &["dstaddr"])) else {
                continue;
            };
            let port = |key: &str| match text(&r, &[key]) {
                None => Some(0),
                Some(p) => match p.strip_prefix("0x") {
                    Some(hex) => u16::from_str_radix(hex, 16).ok(),
                    None => p.parse().ok(),
                },
            };
            let (Some(src_port), Some(dst_port)) = (port("sport"), port("dport")) else {
                continue;
            };
            let count = |key: &str| number::<u64>(&r, key).unwrap_or(0);
            let bytes_sent = count("srcbytes");
            let bytes_received = count("totbytes") - bytes_sent;
            let (packets_sent, packets_received) = if header.iter().any(|h| h == "srcpkts") {
                (count("srcpkts"), count("totpkts") - count("srcpkts"))
            } else {
                split(count("totpkts"), bytes_sent, bytes_received)
            };
            let duration = text(&r, &["dur"]).and_then(decimal_micros).unwrap_or(0);
            flows.push(Flow {
                file: file.clone(),
                row: row as u64,
                start_us: start,
                end_us: start + duration,
                src,
                dst,
                src_port,
                dst_port,
                protocol,
                bytes_sent,
                bytes_received,
                packets_sent,
                packets_received,
                service: None,
            });
        }
        flows
    }

    #[test]
    fn decimals_are_exact_and_round_half_away() {
        assert_eq!(
            decimal_micros("1379288667.706265"),
            Some(1_379_288_667_706_265)
        );
        assert_eq!(decimal_micros("0.0012309551239013672"), Some(1231));
        assert_eq!(decimal_micros("3.0000001"), Some(3_000_000));
        assert_eq!(decimal_micros("0.0000005"), Some(1));
        assert_eq!(decimal_micros("-0.5"), Some(-500_000));
        assert_eq!(decimal_micros("XXXXXXXXXX.XXXXXX"), None);
        assert_eq!(
            iso_micros("2017-01-30T16:12:27.045141+0100"),
            Some(1_485_789_147_045_141)
        );
    }
}

// ---- the data sets --------------------------------------------------------------------------

/// zat: Zeek 2.x TSV `conn.log` (old schema) with its `notice.log` as events.
#[test]
fn zat_zeek_tsv_with_notices() {
    let (Some(conn), Some(notice)) = (
        data("zat-zeek-samples/conn.log"),
        data("zat-zeek-samples/notice.log"),
    ) else {
        return;
    };
    let flows = sensors::zeek_conn(&conn);
    let events = sensors::zeek_notices(&notice);
    assert_eq!((flows.len(), events.len()), (360, 2));
    let archive =
        Archive::flows("zeek", vec![conn.clone()], PRIVATE).events("zeek-notice", vec![notice]);
    let results = verify(&archive, &flows, &events);
    assert_eq!(counts(&results), [6, 0, 0, 0, 0, 0]);
    let conn = name(&conn);
    assert_eq!(
        results["ephemeral-tcp"].get(&vec![
            "192.168.33.10".to_string(),
            conn.clone(),
            "278".to_string(),
            "31.184.245.120".to_string()
        ]),
        Some(&1)
    );
}

/// zat: Zeek JSON `conn.log`.
#[test]
fn zat_zeek_json() {
    let Some(conn) = data("zat-zeek-samples/json/conn.log") else {
        return;
    };
    let flows = sensors::zeek_conn(&conn);
    assert_eq!(flows.len(), 50);
    let results = verify(&Archive::flows("zeek", vec![conn], PRIVATE), &flows, &[]);
    assert_eq!(counts(&results), [0; 6]);
}

/// zat: a header-only log and a log whose `#open` date differs from its rows.
#[test]
fn zat_zeek_header_only_and_date_issue() {
    let (Some(empty), Some(dated)) = (
        data("zat-zeek-samples/http_empty.log"),
        data("zat-zeek-samples/conn_date_issue.log"),
    ) else {
        return;
    };
    let flows = sensors::zeek_conn(&dated);
    assert_eq!(flows.len(), 3);
    let archive = Archive::flows("zeek", vec![empty, dated], PRIVATE);
    let results = verify(&archive, &flows, &[]);
    assert_eq!(counts(&results), [0; 6]);
}

/// Stratosphere scenarios: Nmap scans, an Android RAT, Simda (relative times, IPv6), an IPv6
/// SSH honeypot.
#[test]
fn stratosphere_zeek_scenarios() {
    let Some(root) = data("stratosphere-zeek-scenarios") else {
        return;
    };
    let logs: Vec<PathBuf> = [
        "002-zeek-scenario-port-scanning",
        "003-zeek-scenario-malicious",
        "005-zeek-scenario-malicious",
        "006-zeek-scenario-ssh",
    ]
    .iter()
    .map(|d| root.join(d).join("conn.log"))
    .collect();
    let flows: Vec<Flow> = logs.iter().flat_map(|l| sensors::zeek_conn(l)).collect();
    assert_eq!(flows.len(), 4504 + 361 + 992 + 18);
    let archive = Archive::flows("zeek", logs.clone(), PRIVATE);
    let results = verify(&archive, &flows, &[]);
    assert_eq!(counts(&results), [14, 4, 0, 0, 0, 1]);
    // The Nmap client reaches one outside host on many ports below 1024.
    let scan = &results["port-jumping"];
    assert_eq!(scan.len(), 1);
    let (tuple, _) = scan.iter().next().expect("one row");
    assert_eq!(tuple[0], "172.16.1.11");
    // AndroidTester's largest upload to its C2: 90 s, 20,097,945 IP bytes out, 316,136 back.
    let rat = name(&logs[1]);
    let exfiltration = &results["exfiltration"];
    assert!(exfiltration
        .keys()
        .all(|t| t[0] == "10.8.0.61" && t[1] == rat && t[3] == "147.32.83.234"));
    let rows: Vec<&str> = exfiltration.keys().map(|t| t[2].as_str()).collect();
    assert_eq!(rows, ["230", "241", "246", "349"]);
}

/// CTU-Normal-40/42: two consecutive days of a public-address Windows host, with notices.
#[test]
fn ctu_normal_two_days() {
    let Some(root) = data("ctu-normal-40-42-zeek") else {
        return;
    };
    let conns = vec![
        root.join("008/conn.log.labeled"),
        root.join("010/conn.log.labeled"),
    ];
    let notices = vec![
        root.join("008/notice.log.labeled"),
        root.join("010/notice.log.labeled"),
    ];
    let flows: Vec<Flow> = conns.iter().flat_map(|l| sensors::zeek_conn(l)).collect();
    let events: Vec<Ev> = notices
        .iter()
        .flat_map(|l| sensors::zeek_notices(l))
        .collect();
    assert_eq!(flows.len(), 5663 + 5347);
    let archive = Archive::flows("zeek", conns, CTU).events("zeek-notice", notices);
    let results = verify(&archive, &flows, &events);
    assert_eq!(counts(&results), [327, 0, 0, 0, 0, 0]);
}

/// Slips: Zeek TSV with IPv6, a labelled RemcosRAT capture, JSON port scans.
#[test]
fn slips_zeek_samples() {
    let Some(root) = data("slips-zeek-samples") else {
        return;
    };
    let conns = vec![
        root.join("test10-tsv-ipv6/conn.log"),
        root.join("test18-remcos-labeled/conn.log.labeled"),
        root.join("port-scans/vertical-conn.log"),
        root.join("port-scans/horizontal-conn.log"),
    ];
    let notices = vec![
        root.join("test10-tsv-ipv6/notice.log"),
        root.join("test18-remcos-labeled/notice.log.labeled"),
    ];
    let flows: Vec<Flow> = conns.iter().flat_map(|l| sensors::zeek_conn(l)).collect();
    let events: Vec<Ev> = notices
        .iter()
        .flat_map(|l| sensors::zeek_notices(l))
        .collect();
    let archive = Archive::flows("zeek", conns, CTU).events("zeek-notice", notices);
    let results = verify(&archive, &flows, &events);
    assert_eq!(counts(&results), EXPECTED_SLIPS);
    // The vertical scan: 192.168.1.9 probes scanme.nmap.org on many low ports.
    assert!(results["port-jumping"]
        .keys()
        .any(|t| t[0] == "192.168.1.9" && t[1] == "45.33.32.156"));
    // ICMP echo rows of 56 bytes over 5 packets: 11.2 bytes a packet, below ICMP's 28.
    let test10 = name(&root.join("test10-tsv-ipv6/conn.log"));
    let invalid = &results["invalid-ip-packets"];
    for row in 127..=137 {
        assert!(
            invalid
                .keys()
                .any(|t| t[1] == test10 && t[2] == row.to_string()),
            "row {row} of test10 is invalid"
        );
    }
}

const EXPECTED_SLIPS: [usize; 6] = [749, 0, 0, 0, 11, 1];

/// Suricata EVE: the same file is the flow archive (its `flow` records) and the event archive
/// (its `alert` records).
#[test]
fn surevego_suricata_flows_and_alerts_from_one_file() {
    let Some(eve) = data("surevego-suricata-eve/eve.json") else {
        return;
    };
    let (flows, events) = sensors::eve(&eve);
    assert_eq!((flows.len(), events.len()), (13, 68));
    let archive =
        Archive::flows("suricata", vec![eve.clone()], PRIVATE).events("suricata", vec![eve]);
    let results = verify(&archive, &flows, &events);
    assert_eq!(counts(&results), [0; 6]);
}

/// Argus / CTU `binetflow`: bidirectional records, hex ICMP ports, ARP rows (no flows: skipped
/// and counted apart, not malformed).
#[test]
fn slips_argus_binetflow() {
    let Some(root) = data("slips-argus-binetflow") else {
        return;
    };
    let files = files_in(&root, |n| n.ends_with(".binetflow"));
    assert_eq!(files.len(), 4);
    let flows: Vec<Flow> = files.iter().flat_map(|f| sensors::argus(f)).collect();
    assert_eq!(flows.len(), 66 + 6751 + 89 + 394 - 2);
    let archive = Archive::flows("argus", files.clone(), PRIVATE);
    let results = verify(&archive, &flows, &[]);
    assert_eq!(counts(&results), [156, 1, 0, 0, 0, 1]);

    // The per-file report: the two `arp` rows (lines 29 and 226 of test4) are counted as not
    // flows, in their own words; nothing is malformed, so `--quiet` and `--strict` are silent.
    let test4 = files
        .iter()
        .map(|f| name(f))
        .find(|f| f.ends_with("test4-malicious.binetflow"))
        .expect("test4-malicious.binetflow");
    let run = |extra: &[&str]| {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut args: Vec<OsString> = vec![
            "run".into(),
            workspace_root().join("patterns").into_os_string(),
        ];
        args.extend(archive.args(dir.path()));
        args.extend(["--format".into(), "jsonl".into()]);
        args.extend(extra.iter().map(OsString::from));
        let out = Command::new(flowpat_bin())
            .args(&args)
            .current_dir(workspace_root())
            .output()
            .expect("spawning flowpat");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let stderr = run(&[]);
    // The per-file lines only: not the summary, nor the notes that the FTP patterns need events.
    let report: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("read ") && !l.starts_with("note: "))
        .collect();
    assert_eq!(
        report,
        [format!(
            "flows {test4}: 392 row(s) read, 2 record(s) skipped as not a flow (arp)"
        )],
        "{stderr}"
    );
    assert!(!stderr.contains("malformed"), "{stderr}");
    assert!(
        stderr.contains("read 7298 rows from 4 file(s);"),
        "{stderr}"
    );
    assert_eq!(run(&["--quiet"]), "");
    assert_eq!(run(&["--quiet", "--strict"]), "");
}

/// Zeek's own btest baselines: times are masked (`XXXXXXXXXX.XXXXXX`), so every such record is
/// malformed and reported with its line, and only `core.ppp` (numeric times) loads. With the
/// mask replaced by a time, the field-level cases (tunnels, SCTP, huge counters, renamed and
/// `_`-scoped fields, cut files) all load and agree with the oracle.
#[test]
fn zeek_btest_conn_edge_cases() {
    let Some(root) = data("zeek-btest-conn-edgecases") else {
        return;
    };
    let logs = files_in(&root, |n| n.contains("conn"));
    assert_eq!(logs.len(), 30);

    // As published: three records load.
    let archive = Archive::flows("zeek", logs.clone(), PRIVATE);
    let (flows, _) = archive.everything();
    assert_eq!(flows.len(), 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut args: Vec<OsString> = vec!["run".into(), workspace_root().join("patterns").into()];
    args.extend(archive.args(dir.path()));
    args.push("--format".into());
    args.push("jsonl".into());
    let out = flowpat_output(&args);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("core.tunnels.teredo__conn.log: 21 row(s) read, 21 skipped")
            && stderr.contains("line 10: not an epoch time or ISO 8601 timestamp (column `ts`, value `XXXXXXXXXX.XXXXXX`)"),
        "{stderr}"
    );

    // With the masked times replaced.
    let unmasked = tempfile::tempdir().expect("tempdir");
    let mut copies = Vec::new();
    for log in &logs {
        let text = std::fs::read_to_string(log).expect("reading a btest log");
        let copy = unmasked.path().join(log.file_name().expect("file name"));
        std::fs::write(
            &copy,
            text.replace("XXXXXXXXXX.XXXXXX", "1700000000.250000"),
        )
        .expect("writing a copy");
        copies.push(copy);
    }
    let flows: Vec<Flow> = copies.iter().flat_map(|l| sensors::zeek_conn(l)).collect();
    let archive = Archive::flows("zeek", copies, PRIVATE);
    let results = verify(&archive, &flows, &[]);
    assert_eq!(flows.len(), EXPECTED_BTEST_ROWS);
    assert_eq!(counts(&results), EXPECTED_BTEST);
}

const EXPECTED_BTEST_ROWS: usize = 396;
const EXPECTED_BTEST: [usize; 6] = [0, 0, 0, 0, 0, 0];

// ---- import -----------------------------------------------------------------------------------

/// `flowpat import` keeps every record's identity: a run over the Parquet prints the same rows
/// (`conn.row` = the text ordinal) as a run over the text, only `conn.file` differs.
#[test]
fn import_keeps_identities_of_the_text() {
    let Some(conn) = data("zat-zeek-samples/conn.log") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("imported");
    flowpat(&import_args(
        "zeek",
        &conn,
        &out,
        &["--max-rows-per-file", "100", "--quiet"],
    ));
    let parts = files_in(&out, |n| n.ends_with(".parquet"));
    let names: Vec<String> = parts
        .iter()
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "part-0000.parquet",
            "part-0001.parquet",
            "part-0002.parquet",
            "part-0003.parquet"
        ]
    );
    assert!(files_in(&out, |n| n.ends_with(".tmp")).is_empty());

    // Each row names its input as given and its ordinal there.
    let (files, rows) = source_columns(&parts[3]);
    assert_eq!(rows, (300..360).collect::<Vec<u64>>());
    assert!(files.iter().all(|f| *f == name(&conn)));

    let text = Archive::flows("zeek", vec![conn.clone()], PRIVATE);
    let parquet = Archive::flows("", vec![out.clone()], PRIVATE);
    let drop_file = |tuples: Vec<Vec<String>>| -> Vec<Vec<String>> {
        let mut t: Vec<Vec<String>> = tuples.into_iter().map(|t| t[1..].to_vec()).collect();
        t.sort();
        t
    };
    assert_eq!(
        drop_file(parquet.everything().0),
        drop_file(text.everything().0)
    );
    let strip = |results: &Results| -> Results {
        results
            .iter()
            .map(|(t, n)| {
                (
                    t.iter()
                        .filter(|c| !c.ends_with(".parquet") && **c != name(&conn))
                        .cloned()
                        .collect(),
                    *n,
                )
            })
            .collect()
    };
    let (from_text, from_parquet) = (text.catalog(), parquet.catalog());
    for pattern in CATALOG {
        assert_results_eq(
            &strip(&from_parquet[pattern.name]),
            &strip(&from_text[pattern.name]),
            &format!("imported vs text, {}", pattern.name),
        );
    }

    // A second import into the same folder is refused rather than mixed in.
    let again = flowpat_output(&import_args("zeek", &conn, &out, &[]));
    assert_eq!(again.status.code(), Some(3));
}

/// `source_file` and `source_row` of a part file.
fn source_columns(part: &Path) -> (Vec<String>, Vec<u64>) {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::UInt64Type;
    let file = std::fs::File::open(part).expect("opening a part");
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("a Parquet file")
        .build()
        .expect("a reader");
    let (mut files, mut rows) = (Vec::new(), Vec::new());
    for batch in reader {
        let batch = batch.expect("a batch");
        let f = batch.column_by_name("source_file").expect("source_file");
        let f = f.as_string::<i32>();
        let r = batch.column_by_name("source_row").expect("source_row");
        let r = r.as_primitive::<UInt64Type>();
        for i in 0..batch.num_rows() {
            assert!(!f.is_null(i));
            files.push(f.value(i).to_string());
            rows.push(r.value(i));
        }
    }
    (files, rows)
}

/// Suricata alerts imported as events, and a Zeek JSON log whose schema grows mid-file.
#[test]
fn import_events_and_growing_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 70,000 records: the extra `community_id` appears after the first batch of 65,536, so
    // the batches change schema and the import starts a new part.
    let log = dir.path().join("conn.json");
    let mut text = String::new();
    for k in 0..70_000u64 {
        let extra = if k >= 66_000 {
            ",\"community_id\":\"1:x\""
        } else {
            ""
        };
        text.push_str(&format!(
            "{{\"ts\":{}.5,\"id.orig_h\":\"192.0.2.{}\",\"id.orig_p\":{},\"id.resp_h\":\"203.0.113.9\",\"id.resp_p\":443,\"proto\":\"tcp\",\"duration\":1.0,\"orig_pkts\":2,\"orig_ip_bytes\":120,\"resp_pkts\":1,\"resp_ip_bytes\":60{extra}}}\n",
            1_714_557_600 + k,
            k % 200,
            2000 + k % 60_000,
        ));
    }
    std::fs::write(&log, text).expect("writing the log");
    let out = dir.path().join("flows");
    flowpat(&import_args(
        "zeek",
        &log,
        &out,
        &["--compression", "snappy", "--quiet"],
    ));
    let parts = files_in(&out, |n| n.ends_with(".parquet"));
    assert_eq!(parts.len(), 2);
    let (_, first) = source_columns(&parts[0]);
    let (_, second) = source_columns(&parts[1]);
    assert_eq!((first.len(), second.len()), (65_536, 70_000 - 65_536));
    assert_eq!(second.first(), Some(&65_536));

    // A field first seen within the first batch (row 20,000 of 30,000) is a column of the one
    // part, null in the rows before it (README: import).
    let short = dir.path().join("short.json");
    let text = std::fs::read_to_string(&log).expect("reading the log");
    let mut lines = String::new();
    for (k, line) in text.lines().take(30_000).enumerate() {
        if k >= 20_000 {
            lines.push_str(&line.replacen('}', ",\"community_id\":\"1:y\"}", 1));
        } else {
            lines.push_str(line);
        }
        lines.push('\n');
    }
    std::fs::write(&short, lines).expect("writing the short log");
    let short_out = dir.path().join("short-flows");
    flowpat(&import_args("zeek", &short, &short_out, &["--quiet"]));
    let parts = files_in(&short_out, |n| n.ends_with(".parquet"));
    assert_eq!(parts.len(), 1);
    let file = std::fs::File::open(&parts[0]).expect("opening the part");
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("a Parquet file")
        .build()
        .expect("a reader");
    let mut nulls = Vec::new();
    for batch in reader {
        let batch = batch.expect("a batch");
        let column = batch.column_by_name("community_id").expect("community_id");
        nulls.extend((0..batch.num_rows()).map(|i| column.is_null(i)));
    }
    assert_eq!(nulls.len(), 30_000);
    assert!(nulls[..20_000].iter().all(|n| *n) && nulls[20_000..].iter().all(|n| !*n));

    let Some(eve) = data("surevego-suricata-eve/eve.json") else {
        return;
    };
    let events_dir = dir.path().join("events");
    flowpat(&import_args(
        "suricata",
        &eve,
        &events_dir,
        &["--kind", "events", "--quiet"],
    ));
    let flows_dir = dir.path().join("eve-flows");
    flowpat(&import_args("suricata", &eve, &flows_dir, &["--quiet"]));
    let imported = Archive::flows("", vec![flows_dir], PRIVATE).events("", vec![events_dir]);
    let direct =
        Archive::flows("suricata", vec![eve.clone()], PRIVATE).events("suricata", vec![eve]);
    let rows_of = |(f, e): (Vec<Vec<String>>, Vec<Vec<String>>)| {
        let strip = |v: Vec<Vec<String>>| {
            let mut v: Vec<Vec<String>> = v.into_iter().map(|t| t[1..].to_vec()).collect();
            v.sort();
            v
        };
        (strip(f), strip(e))
    };
    let (flows, events) = rows_of(imported.everything());
    assert_eq!((flows.len(), events.len()), (13, 68));
    assert_eq!((flows, events), rows_of(direct.everything()));
}

// ---- errors and reports ---------------------------------------------------------------------

/// A text file without a format is refused with the flag to pass; a malformed line is reported
/// with its line, and is an error under `--strict`.
#[test]
fn text_without_format_and_malformed_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zeek = dir.path().join("conn.log");
    std::fs::write(
        &zeek,
        "#separator \\x09\n#path\tconn\n#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n\
         1714557600.0\t192.0.2.1\t5000\t203.0.113.1\t80\ttcp\n\
         1714557601.0\t192.0.2.x\t5000\t203.0.113.1\t80\ttcp\n",
    )
    .expect("writing");
    let eve = dir.path().join("eve.json");
    std::fs::write(
        &eve,
        "{\"timestamp\":\"2024-05-01T10:00:00.000000+0000\",\"event_type\":\"stats\"}\n",
    )
    .expect("writing");
    let networks = dir.path().join("networks.csv");
    std::fs::write(&networks, CASES).expect("writing");
    let run = |flows: &Path, extra: &[&str]| {
        let mut args: Vec<OsString> = vec![
            "run".into(),
            workspace_root().join("patterns").into(),
            "--flows".into(),
            flows.into(),
            "--networks".into(),
            networks.clone().into(),
            "--format".into(),
            "jsonl".into(),
        ];
        args.extend(extra.iter().map(OsString::from));
        flowpat_output(&args)
    };
    let stderr = |out: &Output| String::from_utf8_lossy(&out.stderr).into_owned();

    let out = run(&zeek, &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("--flows-format zeek"),
        "{}",
        stderr(&out)
    );
    let out = run(&eve, &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("--flows-format suricata"),
        "{}",
        stderr(&out)
    );

    let out = run(&zeek, &["--flows-format", "zeek"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains("conn.log: 2 row(s) read, 1 skipped"),
        "{text}"
    );
    assert!(text.contains("line 5: "), "{text}");

    let out = run(&zeek, &["--flows-format", "zeek", "--strict"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains(":5: "), "{}", stderr(&out));

    let out = run(&zeek, &["--flows-format", "zeek-notice"]);
    assert_eq!(out.status.code(), Some(2)); // a preset of the other kind: a usage error
    assert!(
        stderr(&out).contains("--events-format zeek-notice"),
        "{}",
        stderr(&out)
    );
}

/// Zeek scan notices name no destination: an event connects two addresses, so they are no
/// events — skipped and counted apart, not malformed, not an error under `--strict` — and
/// `import --from zeek-notice` writes none of them (never a null `dst_addr`).
#[test]
fn zeek_notices_without_destination_are_not_events() {
    let (Some(conn), Some(notice)) = (
        data("slips-zeek-samples/test10-tsv-ipv6/conn.log"),
        data("slips-zeek-samples/test10-tsv-ipv6/notice.log"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // The published log without its one malformed line (line 21 has spaces for tabs), so that
    // `--strict` has nothing to fail on: twelve notices, none naming a destination.
    let text = std::fs::read_to_string(&notice).expect("reading notice.log");
    let clean: String = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 20)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let notices = write(dir.path(), "notice.log", &clean);
    let networks = write(dir.path(), "networks.csv", CTU);
    let run = |extra: &[&str]| {
        let mut args: Vec<OsString> = vec![
            "run".into(),
            workspace_root().join("patterns").into(),
            "--flows".into(),
            conn.clone().into(),
            "--flows-format".into(),
            "zeek".into(),
            "--events".into(),
            notices.clone().into(),
            "--events-format".into(),
            "zeek-notice".into(),
            "--networks".into(),
            networks.clone().into(),
            "--format".into(),
            "jsonl".into(),
        ];
        args.extend(extra.iter().map(OsString::from));
        let out = flowpat_output(&args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        stderr
    };
    let stderr = run(&[]);
    let line = format!(
        "events {}: 0 row(s) read, 12 record(s) skipped as not an event (no destination)",
        notices.display()
    );
    assert!(stderr.lines().any(|l| l == line), "{stderr}");
    assert!(!stderr.contains("malformed"), "{stderr}");
    assert!(!stderr.contains("dst_addr"), "{stderr}");
    assert_eq!(run(&["--quiet", "--strict"]), "");

    // The import writes no event with a null destination: here, none at all.
    let out_dir = dir.path().join("events");
    let out = flowpat_output(&import_args("zeek-notice", &notices, &out_dir, &[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "0 record(s), 0 malformed skipped, 12 skipped as not an event (no destination)"
        ),
        "{stderr}"
    );
    assert!(files_in(&out_dir, |n| n.ends_with(".parquet")).is_empty());
}

/// A data set's folder read as a whole: its `SOURCE.md` (and CTU's `labels.config`) are left
/// out as not data and named in a note, never parsed as records; a `README.txt` beside Parquet
/// parts does not stop a run; a file named directly is read whatever its name.
#[test]
fn folders_leave_out_files_that_are_not_data() {
    let (Some(argus), Some(ctu)) = (
        data("slips-argus-binetflow"),
        data("ctu-normal-40-42-zeek/008"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let networks = write(dir.path(), "networks.csv", PRIVATE);
    let run = |flows: &Path, extra: &[&str]| {
        let mut args: Vec<OsString> = vec![
            "run".into(),
            workspace_root()
                .join("patterns/exfiltration.pattern")
                .into(),
            "--flows".into(),
            flows.into(),
            "--networks".into(),
            networks.clone().into(),
            "--format".into(),
            "jsonl".into(),
        ];
        args.extend(extra.iter().map(OsString::from));
        flowpat_output(&args)
    };
    let out = run(&argus, &["--flows-format", "argus"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let note = format!(
        "note: 1 file(s) in the --flows folder(s) left out as not data: {} (name a file to read it)",
        argus.join("SOURCE.md").display()
    );
    assert!(stderr.lines().any(|l| l == note), "{stderr}");
    assert!(!stderr.contains("malformed"), "{stderr}");
    assert!(
        stderr.contains("read 7298 rows from 4 file(s);"),
        "{stderr}"
    );
    let quiet = run(&argus, &["--flows-format", "argus", "--quiet"]);
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "");
    // Named directly, SOURCE.md is read: as argus text its header is refused.
    let named = run(&argus.join("SOURCE.md"), &["--flows-format", "argus"]);
    assert_eq!(named.status.code(), Some(3));

    // import: the CTU folder's labels.config is left out, nothing is malformed.
    let parts = dir.path().join("flows");
    let out = flowpat_output(&import_args("zeek", &ctu, &parts, &[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "note: 1 file(s) in the input folder(s) left out as not data: {} ",
            ctu.join("labels.config").display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("wrote 5663 flows row(s) in 1 part file(s)")
            && stderr.contains("(0 malformed record(s) skipped)"),
        "{stderr}"
    );

    // A README.txt beside Parquet parts: left out, the run goes on.
    write(
        &parts,
        "README.txt",
        "CTU-Normal-40, day 008, imported with flowpat\n",
    );
    let out = run(&parts, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("left out as not data:"), "{stderr}");
    assert!(
        stderr.contains("read 5663 rows from 1 file(s);"),
        "{stderr}"
    );
}

/// A format named for a file whose content clearly is another known format is an error naming
/// the file, the format given and the one found — the same for every preset, in `run` and in
/// `import` — instead of every record reported malformed and an empty, successful run.
#[test]
fn a_named_format_the_file_contradicts_is_an_error() {
    let (Some(argus), Some(eve), Some(conn)) = (
        data("slips-argus-binetflow/test4-malicious.binetflow"),
        data("surevego-suricata-eve/eve.json"),
        data("zat-zeek-samples/conn.log"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let networks = write(dir.path(), "networks.csv", PRIVATE);
    let run = |flag: &str, file: &Path, format: &str| {
        let format_flag = if flag == "--flows" {
            "--flows-format"
        } else {
            "--events-format"
        };
        let mut args: Vec<OsString> = vec![
            "run".into(),
            workspace_root().join("patterns").into(),
            "--networks".into(),
            networks.clone().into(),
            flag.into(),
            file.into(),
            format_flag.into(),
            format.into(),
        ];
        if flag == "--events" {
            args.extend(["--flows".into(), conn.clone().into()]);
            args.extend(["--flows-format".into(), "zeek".into()]);
        }
        let out = flowpat_output(&args);
        assert_eq!(out.status.code(), Some(3), "{flag} {format}");
        String::from_utf8_lossy(&out.stderr).trim_end().to_string()
    };
    let looks_argus = "but it looks like Argus/CTU binetflow CSV: read it as flows with \
                       --flows-format argus";
    for format in ["zeek", "suricata", "nfdump", "silk"] {
        assert_eq!(
            run("--flows", &argus, format),
            format!(
                "error: finding flow files: {}: given as {format} text, {looks_argus}",
                argus.display()
            )
        );
    }
    assert_eq!(
        run("--events", &argus, "zeek-notice"),
        format!(
            "error: finding event files: {}: given as zeek-notice text, {looks_argus}",
            argus.display()
        )
    );
    assert_eq!(
        run("--flows", &eve, "zeek"),
        format!(
            "error: finding flow files: {}: given as zeek text, but it looks like Suricata EVE \
             JSON: read it with --flows-format suricata (flow records) or --events-format \
             suricata (alerts)",
            eve.display()
        )
    );
    for format in ["argus", "suricata", "nfdump", "silk"] {
        assert_eq!(
            run("--flows", &conn, format),
            format!(
                "error: finding flow files: {}: given as {format} text, but it looks like a Zeek \
                 conn log: read it as flows with --flows-format zeek",
                conn.display()
            )
        );
    }

    // import: refused before any part file is written.
    let out_dir = dir.path().join("flows");
    let out = flowpat_output(&import_args("argus", &conn, &out_dir, &[]));
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        format!(
            "error: {}: given as --from argus, but it looks like a Zeek conn log: import it with \
             --from zeek",
            conn.display()
        )
    );
    assert!(!out_dir.exists());
}

/// A Zeek TSV log as Zeek's JSON writer prints it: one object a record, names as in `#fields`,
/// unset and empty fields left out, `T`/`F` as booleans, numbers as written, sets and vectors
/// as arrays, other values as strings (a `\xNN` escape stays text, as Zeek writes it).
fn zeek_tsv_as_json(tsv: &str) -> String {
    let (mut names, mut types): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
    let mut out = String::new();
    for line in tsv.lines() {
        if let Some(rest) = line.strip_prefix("#fields\t") {
            names = rest.split('\t').collect();
        } else if let Some(rest) = line.strip_prefix("#types\t") {
            types = rest.split('\t').collect();
        } else if !line.is_empty() && !line.starts_with('#') {
            let members: Vec<String> = names
                .iter()
                .zip(&types)
                .zip(line.split('\t'))
                .filter(|(_, value)| *value != "-" && *value != "(empty)")
                .map(|((name, ty), value)| {
                    let json = match *ty {
                        "bool" => (value == "T").to_string(),
                        "count" | "int" | "port" | "double" | "time" | "interval" => {
                            value.to_string()
                        }
                        t if t.starts_with("set[") || t.starts_with("vector[") => {
                            serde_json::json!(value.split(',').collect::<Vec<_>>()).to_string()
                        }
                        _ => serde_json::json!(value).to_string(),
                    };
                    format!("{}:{json}", serde_json::json!(name))
                })
                .collect();
            out.push_str(&format!("{{{}}}\n", members.join(",")));
        }
    }
    out
}

/// A folder of Zeek JSON logs reads as the same folder of TSV logs does. JSON lines carry no
/// `#path`, so each log's type is told from its fields: read as flows, `dns.log` and
/// `notice.log` are logs of other types (not flows, not malformed), and read as notices so are
/// `conn.log` and `dns.log`, with the same notes as for TSV, the same results, nothing refused
/// when such a file is named directly, and nothing failing `--strict`.
#[test]
fn a_folder_of_zeek_json_logs_reads_like_its_tsv_logs() {
    let Some(tsv) = data("slips-zeek-samples/test18-remcos-labeled") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("json");
    std::fs::create_dir(&json).expect("creating the JSON folder");
    for log in ["conn", "dns", "notice"] {
        let file = format!("{log}.log.labeled");
        let text = std::fs::read_to_string(tsv.join(&file)).expect("reading a sample log");
        write(&json, &file, &zeek_tsv_as_json(&text));
    }
    let networks = write(dir.path(), "networks.csv", CTU);
    let run = |flows: &Path, events: &[&Path], extra: &[&str]| {
        let mut args: Vec<OsString> = vec![
            "run".into(),
            workspace_root().join("patterns").into(),
            "--flows".into(),
            flows.into(),
            "--flows-format".into(),
            "zeek".into(),
            "--networks".into(),
            networks.clone().into(),
            "--format".into(),
            "jsonl".into(),
        ];
        for events in events {
            args.extend(["--events".into(), events.into()]);
        }
        if !events.is_empty() {
            args.extend(["--events-format".into(), "zeek-notice".into()]);
        }
        args.extend(extra.iter().map(OsString::from));
        let out = flowpat_output(&args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
    };
    // Each file's note, as printed for the folder (malformed lines' numbers differ: JSON logs
    // have no header lines).
    let notes = |stderr: &str| -> Vec<String> {
        stderr
            .lines()
            .filter(|l| l.contains(".log.labeled: "))
            .map(str::to_string)
            .collect()
    };
    let (tsv_out, tsv_err) = run(&tsv, &[&tsv], &[]);
    let (json_out, json_err) = run(&json, &[&json], &[]);
    assert_eq!(json_out, tsv_out);
    assert_eq!(notes(&json_err), notes(&tsv_err));
    for note in [
        "events conn.log.labeled: 0 row(s) read, 766 record(s) of other types ignored",
        "flows dns.log.labeled: 0 row(s) read, 22 record(s) of other types ignored",
        "flows notice.log.labeled: 0 row(s) read, 2 record(s) of other types ignored",
    ] {
        assert!(json_err.lines().any(|l| l == note), "{note}\n{json_err}");
    }
    assert!(
        json_err.contains(
            "read 766 rows from 6 file(s) (3 counted twice: read as flows and as events);"
        ),
        "{json_err}"
    );
    assert!(!json_err.contains("zeek line"), "{json_err}");

    // Named directly and under `--strict` alike: no flow from the dns or notice log, no
    // malformed notice from the conn or dns log.
    let (conn, dns, notice) = (
        json.join("conn.log.labeled"),
        json.join("dns.log.labeled"),
        json.join("notice.log.labeled"),
    );
    for flows in [&dns, &notice] {
        let (out, stderr) = run(flows, &[&conn, &dns], &["--strict", "--quiet"]);
        assert_eq!((out.as_str(), stderr.as_str()), ("", ""));
    }
    let (out, stderr) = run(&conn, &[&conn, &dns], &["--strict"]);
    // Named directly, the file prints as given.
    assert_eq!(out.replace(&format!("{}/", json.display()), ""), tsv_out);
    assert!(
        stderr.contains(
            "read 766 rows from 3 file(s) (1 counted twice: read as flows and as events);"
        ),
        "{stderr}"
    );
}

// ---- real-world cases through text -------------------------------------------------------------

/// Writes `text` as `name` in `dir`; returns the path.
fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writing a case input");
    path
}

const ZEEK_TSV_HEADER: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n";

/// C06: identical Zeek JSON rows but for `uid` are two connections with stable ids; pattern 5
/// finds nothing.
#[test]
fn c06_duplicate_zeek_rows_are_two_connections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let row = |uid: &str| {
        format!("{{\"ts\":1714557600.505854,\"uid\":\"{uid}\",\"id.orig_h\":\"192.0.2.50\",\"id.orig_p\":63685,\"id.resp_h\":\"198.51.100.60\",\"id.resp_p\":443,\"proto\":\"tcp\",\"conn_state\":\"OTH\",\"missed_bytes\":0,\"history\":\"^d\",\"orig_pkts\":0,\"orig_ip_bytes\":0,\"resp_pkts\":1,\"resp_ip_bytes\":1420}}\n")
    };
    let log = write(dir.path(), "c06.json", &(row("CL1") + &row("CL2")));
    let archive = Archive::flows("zeek", vec![log.clone()], CASES);
    let (first, _) = archive.everything();
    let ids: Vec<(&str, &str)> = first
        .iter()
        .map(|t| (t[0].as_str(), t[1].as_str()))
        .collect();
    let file = name(&log);
    assert_eq!(ids, [(file.as_str(), "0"), (file.as_str(), "1")]);
    assert_eq!(archive.everything().0, first, "same ids on a rerun");
    let flows = sensors::zeek_conn(&log);
    let results = verify(&archive, &flows, &[]);
    assert!(results["invalid-ip-packets"].is_empty());
}

/// C14: Suricata ICMP flows have no port keys: ports 0, protocol 1 or 58, exact duration.
#[test]
fn c14_suricata_icmp_without_ports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let line = |proto: &str, src: &str, dst: &str| {
        format!("{{\"timestamp\":\"2024-05-01T10:00:00.000000+0000\",\"event_type\":\"flow\",\"src_ip\":\"{src}\",\"dest_ip\":\"{dst}\",\"proto\":\"{proto}\",\"icmp_type\":8,\"icmp_code\":0,\"flow\":{{\"pkts_toserver\":1,\"pkts_toclient\":1,\"bytes_toserver\":98,\"bytes_toclient\":98,\"start\":\"2024-05-01T10:00:00.000000+0000\",\"end\":\"2024-05-01T10:00:00.000500+0000\"}}}}\n")
    };
    let eve = write(
        dir.path(),
        "eve.json",
        &(line("ICMP", "192.0.2.110", "203.0.113.110")
            + &line("IPv6-ICMP", "2001:db8:1::110", "2001:db8:ff::110")),
    );
    let archive = Archive::flows("suricata", vec![eve.clone()], CASES);
    let (flows, _) = archive.everything();
    let start = 1_714_557_600_000_000i64;
    let file = name(&eve);
    let expect = |row: &str, src: &str, dst: &str, proto: &str| {
        [file.as_str(), row, src, dst, proto, "0", "0"]
            .iter()
            .map(|s| s.to_string())
            .chain([start.to_string(), (start + 500).to_string()])
            .chain(["98", "98", "1", "1", ""].iter().map(|s| s.to_string()))
            .collect::<Vec<String>>()
    };
    assert_eq!(
        flows,
        [
            expect("0", "192.0.2.110", "203.0.113.110", "1"),
            expect("1", "2001:db8:1::110", "2001:db8:ff::110", "58"),
        ]
    );
}

/// C17: `ts` as an ISO string or as epoch seconds gives the same start and the same results.
#[test]
fn c17_zeek_iso_and_epoch_times_agree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let row = |ts: &str| {
        format!("{{\"ts\":{ts},\"uid\":\"CK1\",\"id.orig_h\":\"192.0.2.60\",\"id.orig_p\":51000,\"id.resp_h\":\"203.0.113.60\",\"id.resp_p\":51443,\"proto\":\"tcp\",\"duration\":3.0000001,\"orig_bytes\":400,\"resp_bytes\":800,\"orig_pkts\":5,\"orig_ip_bytes\":612,\"resp_pkts\":4,\"resp_ip_bytes\":968}}\n")
    };
    let iso = write(
        dir.path(),
        "iso.json",
        &row("\"2019-03-01T21:16:50.629660Z\""),
    );
    let epoch = write(dir.path(), "epoch.json", &row("1551475010.62966"));
    let results = |log: &Path| {
        let archive = Archive::flows("zeek", vec![log.to_path_buf()], CASES);
        let (flows, _) = archive.everything();
        let flows: Vec<Vec<String>> = flows.into_iter().map(|t| t[1..].to_vec()).collect();
        let catalog: Vec<Vec<Vec<String>>> = archive
            .catalog()
            .values()
            .map(|r| {
                r.keys()
                    .map(|t| t.iter().filter(|c| **c != name(log)).cloned().collect())
                    .collect()
            })
            .collect();
        (flows, catalog)
    };
    let (iso_flows, iso_catalog) = results(&iso);
    assert_eq!(iso_flows[0][6], "1551475010629660");
    assert_eq!((iso_flows, iso_catalog.clone()), results(&epoch));
    assert_eq!(iso_catalog[0].len(), 1, "ephemeral TCP finds the flow");
}

/// C19 and C20: nfdump 1.7.6 and 1.7.1 layouts give the same connection; the summary trailer
/// adds none.
#[test]
fn c19_c20_nfdump_layouts_and_trailer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let new = write(
        dir.path(),
        "a176.csv",
        "firstSeen,duration,proto,srcAddr,srcPort,dstAddr,dstPort,packets,bytes,flows\n\
         2024-05-01 10:00:00.000,1.500,TCP,192.0.2.130,50000,203.0.113.130,443,10,1200,1\n",
    );
    let old = write(
        dir.path(),
        "b171.csv",
        "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt\n\
         2024-05-01 10:00:00,2024-05-01 10:00:01.500,1.500,192.0.2.130,203.0.113.130,50000,443,TCP,...AP.SF,0,0,10,1200,0,0\n",
    );
    let one = |file: &Path| {
        let (flows, _) = Archive::flows("nfdump", vec![file.to_path_buf()], CASES).everything();
        flows
            .into_iter()
            .map(|t| t[1..].to_vec())
            .collect::<Vec<_>>()
    };
    let start = 1_714_557_600_000_000i64;
    let expect: Vec<String> = ["0", "192.0.2.130", "203.0.113.130", "6", "50000", "443"]
        .iter()
        .map(|s| s.to_string())
        .chain([start.to_string(), (start + 1_500_000).to_string()])
        .chain(["1200", "0", "10", "0", ""].iter().map(|s| s.to_string()))
        .collect();
    assert_eq!(one(&new), std::slice::from_ref(&expect));
    assert_eq!(one(&old), [expect]);

    let trailer = write(
        dir.path(),
        "c20.csv",
        "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt\n\
         2024-05-01 10:00:00,2024-05-01 10:00:02,2.000,192.0.2.140,203.0.113.140,50000,443,TCP,...AP.SF,0,0,10,1000,0,0\n\
         2024-05-01 10:00:05,2024-05-01 10:00:05,0.000,192.0.2.141,203.0.113.141,50001,53,UDP,........,0,0,1,300,0,0\n\
         \nSummary\nflows,bytes,packets,avg_bps,avg_pps,avg_bpp\n2,1300,11,0,0,0\n",
    );
    assert_eq!(one(&trailer).len(), 2);
}

/// C22: a header-only conn.log and a 0-byte one: no connections, six empty results, success.
#[test]
fn c22_header_only_and_empty_zeek_logs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    write(
        &logs,
        "conn.log",
        &format!("{ZEEK_TSV_HEADER}#close\t2024-05-01-11-00-00\n"),
    );
    write(&logs, "conn.0.log", "");
    let archive = Archive::flows("zeek", vec![logs], CASES);
    let results = archive.catalog();
    assert_eq!(counts(&results), [0; 6]);
    assert!(archive.everything().0.is_empty());
}

/// C29: a single-packet row with unset duration and payload bytes loads with end = start and
/// IP-level counters; pattern 5 finds nothing.
#[test]
fn c29_unset_duration_and_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = write(
        dir.path(),
        "conn.log",
        &format!("{ZEEK_TSV_HEADER}1425565545.440378\tC1\t2001:db8:1::5\t5353\tff02::fb\t5353\tudp\tdns\t-\t-\t-\tS0\tT\tF\t0\tD\t1\t93\t0\t0\t(empty)\n"),
    );
    let archive = Archive::flows("zeek", vec![log.clone()], CASES);
    let (flows, _) = archive.everything();
    let start = "1425565545440378".to_string();
    assert_eq!(
        flows[0][4..13],
        [
            "17",
            "5353",
            "5353",
            start.as_str(),
            start.as_str(),
            "93",
            "0",
            "1",
            "0"
        ]
    );
    let results = verify(&archive, &sensors::zeek_conn(&log), &[]);
    assert!(results["invalid-ip-packets"].is_empty());
}

/// C30: protocol `TCP`, `6` (nfdump) and `tcp` (Zeek) are all protocol 6. One run reads one
/// text format, so the nfdump files run together and the Zeek file apart; imported to Parquet,
/// all three run together: pattern 1 = 3, and `"06"`, `6`, `"tcp"` select the same rows.
#[test]
fn c30_protocol_names_and_numbers_across_formats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nf = |pr: &str| {
        format!("ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt\n2024-05-01 10:00:00,2024-05-01 10:00:02,2.000,192.0.2.170,203.0.113.170,50000,50001,{pr},...AP.S.,0,0,2,100,0,0\n")
    };
    let a = write(dir.path(), "a.csv", &nf("TCP"));
    let b = write(dir.path(), "b.csv", &nf("6"));
    let zeek = write(
        dir.path(),
        "conn.log",
        &format!("{ZEEK_TSV_HEADER}1714557600.000000\tC1\t192.0.2.170\t50000\t203.0.113.170\t50001\ttcp\t-\t2.000000\t60\t10\tSF\tT\tF\t0\tShADadFf\t2\t100\t1\t50\t(empty)\n"),
    );
    let ephemeral = |archive: &Archive| archive.catalog()["ephemeral-tcp"].len();
    assert_eq!(
        ephemeral(&Archive::flows("nfdump", vec![a.clone(), b.clone()], CASES)),
        2
    );
    assert_eq!(
        ephemeral(&Archive::flows("zeek", vec![zeek.clone()], CASES)),
        1
    );

    let archive = dir.path().join("archive");
    for (from, inputs, sub) in [
        ("nfdump", vec![a, b], "nfdump"),
        ("zeek", vec![zeek], "zeek"),
    ] {
        let mut args: Vec<OsString> = vec!["import".into(), "--from".into(), from.into()];
        args.extend(inputs.into_iter().map(OsString::from));
        args.extend(["--out".into(), archive.join(sub).into(), "--quiet".into()]);
        flowpat(&args);
    }
    let parquet = Archive::flows("", vec![archive], CASES);
    assert_eq!(ephemeral(&parquet), 3);

    let mut selected = Vec::new();
    for literal in ["\"06\"", "6", "\"tcp\""] {
        let patterns = tempfile::tempdir().expect("tempdir");
        let file = patterns.path().join("proto.pattern");
        std::fs::write(
            &file,
            format!("search by protocol is\n   instance conn : NetworkConnection where protocol = {literal};\n   export\n      conn;\n   end\nend\n"),
        )
        .expect("writing a pattern");
        let run = parquet.run_to(&file);
        let csv = std::fs::read_to_string(run.path().join("out")).expect("reading results");
        selected.push(parse_results(&csv, &["conn.file", "conn.row"]));
    }
    assert_eq!(selected[0].len(), 3);
    assert_eq!(selected[0], selected[1]);
    assert_eq!(selected[0], selected[2]);
    assert_eq!(
        selected[0],
        rows(&[
            (&["nfdump/part-0000.parquet", "0"], 1),
            (&["nfdump/part-0001.parquet", "0"], 1),
            (&["zeek/part-0000.parquet", "0"], 1),
        ])
    );
}

/// C31: nfdump records are unidirectional, so exfiltration fires on the upload record alone;
/// `--biflow` pairs the two directions into one record, which does not qualify. `--tz` moves
/// nfdump's local times to UTC.
#[test]
fn c31_nfdump_biflow_and_time_zone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "c31.csv",
        "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt\n\
         2024-05-01 10:00:00,2024-05-01 10:00:05,5.000,192.0.2.180,203.0.113.180,50000,443,TCP,...AP.SF,0,0,1500,2000000,0,0\n\
         2024-05-01 10:00:00.200,2024-05-01 10:00:05,4.800,203.0.113.180,192.0.2.180,443,50000,TCP,...AP.SF,0,0,1800,2500000,0,0\n",
    );
    let mut archive = Archive::flows("nfdump", vec![file.clone()], CASES);
    let exfiltration = archive.catalog()["exfiltration"].clone();
    assert_eq!(
        exfiltration,
        rows(&[(&["192.0.2.180", &name(&file), "0", "203.0.113.180"], 1)])
    );

    archive.extra = vec![
        "--biflow".into(),
        "60s".into(),
        "--tz".into(),
        "+02:00".into(),
    ];
    assert!(archive.catalog()["exfiltration"].is_empty());
    let (flows, _) = archive.everything();
    let start = 1_714_557_600_000_000i64 - 2 * 3_600_000_000;
    let expect: Vec<String> = [
        name(&file).as_str(),
        "0",
        "192.0.2.180",
        "203.0.113.180",
        "6",
        "50000",
        "443",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([start.to_string(), (start + 5_000_000).to_string()])
    .chain(
        ["2000000", "2500000", "1500", "1800", ""]
            .iter()
            .map(|s| s.to_string()),
    )
    .collect();
    assert_eq!(flows, [expect]);
}

/// `eve.json` named as flows and as events is read twice; the summary and the per-file notes
/// say so, instead of "2 files" for one and notes that do not say which read they are.
#[test]
fn one_file_read_as_flows_and_events_is_said_as_such() {
    let Some(eve) = data("surevego-suricata-eve/eve.json") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = Archive::flows("suricata", vec![eve.clone()], PRIVATE)
        .events("suricata", vec![eve.clone()]);
    let mut args: Vec<OsString> = vec!["run".into(), workspace_root().join("patterns").into()];
    args.extend(archive.args(dir.path()));
    args.extend(["--format".into(), "jsonl".into()]);
    let out = flowpat_output(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let eve = eve.display();
    for note in [
        format!("flows {eve}: 13 row(s) read, 253 record(s) of other types ignored"),
        format!("events {eve}: 68 row(s) read, 198 record(s) of other types ignored"),
    ] {
        assert!(stderr.lines().any(|l| l == note), "{note}\n{stderr}");
    }
    assert!(
        stderr.contains(
            "read 81 rows from 2 file(s) (1 counted twice: read as flows and as events);"
        ),
        "{stderr}"
    );
}
