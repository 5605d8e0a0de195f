//! Text inputs read directly: a sensor log named with a preset goes through
//! [`crate::presets`] and each canonical batch it produces through the run's own
//! [`FlowDecoder`] / [`EventDecoder`].
//!
//! This module exists so that a Zeek, Suricata, Argus, nfdump or SiLK file needs no import step,
//! while nothing downstream can tell it from Parquet: identities come from the batches'
//! `source_row` column (the record's ordinal among the file's data records), and labels, time
//! window and scan filters are the ones every other file gets. What the preset itself rejected
//! (a malformed line) never reaches the decoder, so it is merged into the file's
//! [`LoadReport`](super::LoadReport) here: counted in `rows_read` and `rows_skipped`, and
//! listed with its 1-based line in [`TextSummary`]. Under `strict` the preset's first malformed
//! line is the error.
//!
//! It also guesses, from a file's first bytes, which preset an unnamed text file would need, so
//! the error for a text file read without a format can say which flag to pass.

use std::io::Read;
use std::path::Path;

use arrow::record_batch::RecordBatch;

use super::arrow_decode::{EventDecoder, FlowDecoder, RecordDecoder};
use super::files::FileEntry;
use super::{LoadError, ReadOptions};
use crate::presets::{self, Kind, LineProblem, Preset, PresetOptions, TextReport};

/// Which kind of record a decoder reads, so one reader serves both.
pub(crate) trait TextKind {
    /// Flows or events.
    const KIND: Kind;
}

impl TextKind for FlowDecoder<'_> {
    const KIND: Kind = Kind::Flows;
}

impl TextKind for EventDecoder<'_> {
    const KIND: Kind = Kind::Events;
}

/// What the preset did with a text file, as kept in its [`LoadReport`](super::LoadReport).
#[derive(Clone, PartialEq, Eq, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct TextSummary {
    /// The preset's name (`zeek`, `suricata`, …).
    pub preset: String,
    /// Records the preset turned into rows (before the decoder's own checks).
    pub records: u64,
    /// Malformed records skipped by the preset (also counted in `rows_skipped`).
    pub malformed: u64,
    /// Records of types this kind does not read (EVE `dns`, `http`; `flow` when reading
    /// events; notices of another log): not rows, and not problems.
    pub other_types: u64,
    /// Unidirectional records merged into their opposite direction (`--biflow`).
    pub paired: u64,
    /// Records of non-IP frames (Argus `arp`): no flows, skipped and counted, not problems
    /// (nor in `rows_read`).
    #[serde(default)]
    pub not_flows: u64,
    /// Their protocol names (`arp`), each once.
    #[serde(default)]
    pub not_flow_protocols: Vec<String>,
    /// Records that describe no event (a Zeek notice naming no destination): skipped and
    /// counted, not problems (nor in `rows_read`).
    #[serde(default)]
    pub not_events: u64,
    /// Why, each reason once (`no destination`).
    #[serde(default)]
    pub not_event_reasons: Vec<String>,
    /// The first malformed records, with their 1-based lines.
    pub problems: Vec<TextProblem>,
}

/// One malformed line of a text file.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct TextProblem {
    /// 1-based physical line (after decompression).
    pub line: u64,
    /// The input column at fault, by its name in the file, when one is.
    pub column: Option<String>,
    /// The offending text (bounded).
    pub value: String,
    /// Why the line was rejected.
    pub reason: String,
}

impl From<&LineProblem> for TextProblem {
    fn from(p: &LineProblem) -> TextProblem {
        TextProblem {
            line: p.line,
            column: p.column.clone(),
            value: p.value.clone(),
            reason: p.reason.clone(),
        }
    }
}

impl std::fmt::Display for TextProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)?;
        match &self.column {
            Some(column) => write!(f, " (column `{column}`, value `{}`)", self.value),
            None if self.value.is_empty() => Ok(()),
            None => write!(f, " (`{}`)", self.value),
        }
    }
}

impl TextSummary {
    fn new(preset: Preset, report: &TextReport) -> TextSummary {
        TextSummary {
            preset: preset.name().to_string(),
            records: report.records,
            malformed: report.skipped,
            other_types: report.skipped_other_types,
            paired: report.paired,
            not_flows: report.skipped_not_flows,
            not_flow_protocols: report.not_flow_protocols.clone(),
            not_events: report.skipped_not_events,
            not_event_reasons: report.not_event_reasons.clone(),
            problems: report.problems.iter().map(TextProblem::from).collect(),
        }
    }
}

/// The preset options a read implies.
pub fn preset_options(opts: &ReadOptions) -> PresetOptions {
    PresetOptions {
        strict: opts.strict,
        tz: opts.tz,
        batch_rows: opts.batch_rows.max(1),
        biflow_timeout: opts.biflow_timeout,
    }
}

/// Reads text file `file` with `preset`, decoding every batch with `decoder` and handing the
/// non-empty ones to `sink`; the preset's counts and problems land in the decoder's report.
pub(crate) fn read<D: RecordDecoder + TextKind>(
    file: &FileEntry,
    preset: Preset,
    decoder: &mut D,
    opts: &ReadOptions,
    sink: &mut dyn FnMut(D::Batch),
) -> Result<(), LoadError> {
    let reader = std::fs::File::open(&file.path).map_err(|source| LoadError::Io {
        path: file.path.clone(),
        source,
    })?;
    let mut on_batch = |batch: RecordBatch| -> Result<(), LoadError> {
        let decoded = decoder.decode(&batch)?;
        if !D::batch_is_empty(&decoded) {
            sink(decoded);
        }
        Ok(())
    };
    let report = presets::read_text_from(
        preset,
        D::KIND,
        reader,
        Path::new(&file.display),
        &preset_options(opts),
        &mut on_batch,
    )?;
    let load = decoder.report_mut();
    load.rows_read += report.skipped;
    load.rows_skipped += report.skipped;
    load.text = Some(TextSummary::new(preset, &report));
    Ok(())
}

/// Guesses the preset of a text file from its first bytes, for the error that asks the user
/// to name one. `None` when nothing is recognised.
pub fn guess_preset(head: &[u8]) -> Option<Preset> {
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}');
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if text.starts_with("#separator") || text.contains("\n#fields") || first.starts_with("#fields")
    {
        let notice = text
            .lines()
            .any(|l| l.starts_with("#path") && l.contains("notice"));
        return Some(if notice {
            Preset::ZeekNotice
        } else {
            Preset::Zeek
        });
    }
    if first.starts_with('{') {
        if first.contains("\"event_type\"") {
            return Some(Preset::Suricata);
        }
        if first.contains("\"note\"") {
            return Some(Preset::ZeekNotice);
        }
        if first.contains("\"id.orig_h\"") || first.contains("\"uid\"") || first.contains("\"ts\"")
        {
            return Some(Preset::Zeek);
        }
        return None;
    }
    let lower = first.to_ascii_lowercase();
    let fields: Vec<&str> = lower
        .split([',', '|', '\t'])
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect();
    let has = |name: &str| fields.contains(&name);
    if has("starttime") && has("srcaddr") {
        return Some(Preset::Argus);
    }
    if (has("ts") && has("sa") && has("da")) || (has("firstseen") && has("srcaddr")) {
        return Some(Preset::Nfdump);
    }
    if has("sip") && has("dip") {
        return Some(Preset::Silk);
    }
    None
}

/// What a file in `preset`'s format is, for messages (`a Zeek conn log`).
pub fn describe_preset(preset: Preset) -> &'static str {
    match preset {
        Preset::Zeek => "a Zeek conn log",
        Preset::ZeekNotice => "a Zeek notice log",
        Preset::Argus => "Argus/CTU binetflow CSV",
        Preset::Nfdump => "nfdump CSV",
        Preset::Silk => "SiLK rwcut text",
        Preset::Suricata => "Suricata EVE JSON",
    }
}

/// How to read a file in `preset`'s format with `run` (`read it as flows with --flows-format
/// zeek`).
fn read_advice(preset: Preset) -> String {
    match preset {
        Preset::Suricata => "read it with --flows-format suricata (flow records) or \
             --events-format suricata (alerts)"
            .to_string(),
        preset => {
            let (flag, what) = match preset.default_kind() {
                Kind::Flows => ("--flows-format", "flows"),
                Kind::Events => ("--events-format", "events"),
            };
            format!("read it as {what} with {flag} {preset}")
        }
    }
}

/// The hint appended to "not a Parquet or Arrow IPC file" for a file whose preset was
/// guessed (or not).
pub(crate) fn format_hint(guess: Option<Preset>) -> String {
    match guess {
        Some(preset) => format!(
            "; it looks like {}: {}",
            describe_preset(preset),
            read_advice(preset)
        ),
        None => "; a text log needs its format named: --flows-format \
             zeek|suricata|argus|nfdump|silk or --events-format zeek-notice|suricata"
            .to_string(),
    }
}

/// The message of a file named as `given` text whose content is `found`'s format.
pub(crate) fn wrong_format_message(file: &str, given: Preset, found: Preset) -> String {
    format!(
        "{file}: given as {given} text, but it looks like {}: {}",
        describe_preset(found),
        read_advice(found)
    )
}

/// The known format a text file named as `given` clearly is instead, judged from its first
/// bytes (`head`, decompressed) by [`guess_preset`]; `None` when it may well be `given` (or
/// nothing is recognised). Zeek conn and notice logs are one family: a reader of either counts
/// the records of other Zeek logs (`#path`) as other types, so a folder of Zeek logs stays
/// readable.
pub fn conflicting_preset(head: &[u8], given: Preset) -> Option<Preset> {
    let found = guess_preset(head)?;
    let zeek = |p: Preset| matches!(p, Preset::Zeek | Preset::ZeekNotice);
    if found == given || (zeek(found) && zeek(given)) {
        return None;
    }
    Some(found)
}

/// The first `n` bytes of a text file, decompressed when it is gzip (by its magic bytes, as the
/// presets read it); an unreadable gzip stream gives what it gave before failing.
pub fn text_head(path: &Path, n: usize) -> std::io::Result<Vec<u8>> {
    let magic = head(std::fs::File::open(path)?, 2)?;
    let file = std::fs::File::open(path)?;
    if magic == [0x1f, 0x8b] {
        let mut buf = Vec::with_capacity(n);
        let mut decoder = flate2::read::MultiGzDecoder::new(file).take(n as u64);
        let mut chunk = [0u8; 4096];
        loop {
            match decoder.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(k) => buf.extend_from_slice(&chunk[..k]),
            }
        }
        Ok(buf)
    } else {
        head(file, n)
    }
}

/// Reads up to `n` bytes from the start of `reader`.
pub(crate) fn head(mut reader: impl Read, n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(n);
    reader.by_ref().take(n as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses() {
        let cases: [(&str, Option<Preset>); 9] = [
            (
                "#separator \\x09\n#path\tconn\n#fields\tts\n",
                Some(Preset::Zeek),
            ),
            (
                "#separator \\x09\n#path\tnotice\n#fields\tts\n",
                Some(Preset::ZeekNotice),
            ),
            (
                "{\"ts\":1.5,\"uid\":\"C1\",\"id.orig_h\":\"10.0.0.1\"}\n",
                Some(Preset::Zeek),
            ),
            (
                "{\"timestamp\":\"2017-01-30T16:12:29+0100\",\"event_type\":\"flow\"}\n",
                Some(Preset::Suricata),
            ),
            (
                "StartTime,Dur,Proto,SrcAddr,Sport,Dir\n",
                Some(Preset::Argus),
            ),
            ("ts,te,td,sa,da,sp,dp,pr\n", Some(Preset::Nfdump)),
            (
                "firstSeen,duration,proto,srcAddr,srcPort\n",
                Some(Preset::Nfdump),
            ),
            ("   sIP|   dIP|sPort|\n", Some(Preset::Silk)),
            ("hello world\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(guess_preset(text.as_bytes()), want, "{text:?}");
        }
    }

    use crate::load::{
        discover_as, read_events, read_flows, EventColumns, FlowColumns, LoadError, Networks,
    };

    const CONN: &str = "#separator \\x09\n#path\tconn\n\
        #fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\torig_ip_bytes\n\
        1714557600.5\t192.0.2.1\t5000\t203.0.113.1\t80\ttcp\t100\n\
        1714557601.5\t192.0.2.x\t5000\t203.0.113.1\t80\ttcp\t100\n\
        1714557602.5\t192.0.2.3\t5000\t203.0.113.1\t80\ttcp\t100\n";

    fn written(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn text_files_decode_with_source_rows_and_line_problems() {
        let (_dir, path) = written("conn.log", CONN);
        let table = discover_as(&[path], Some(Preset::Zeek)).expect("discover");
        let file = &table.files()[0];
        assert_eq!(file.format.to_string(), "zeek text");
        let nets = Networks::parse("192.0.2.0/24,internal\n", "nets").expect("networks");
        let mut rows = Vec::new();
        let report = read_flows(
            file,
            &FlowColumns::all(),
            &nets,
            &ReadOptions::default(),
            &mut |b| rows.extend(b.rows.iter().copied()),
        )
        .expect("reads");
        assert_eq!(rows, [0, 2], "identity is the record ordinal");
        assert_eq!(
            (report.rows_read, report.rows_kept, report.rows_skipped),
            (3, 2, 1)
        );
        let text = report.text.expect("a text summary");
        assert_eq!((text.records, text.malformed), (2, 1));
        assert_eq!(text.problems[0].line, 5);
        assert!(text.problems[0].to_string().starts_with("line 5: "));

        let strict = ReadOptions {
            strict: true,
            ..ReadOptions::default()
        };
        let err =
            read_flows(file, &FlowColumns::all(), &nets, &strict, &mut |_| {}).expect_err("strict");
        assert!(matches!(err, LoadError::Text(_)), "{err:?}");
        assert!(err.to_string().contains(":5: "), "{err}");

        // The zeek preset reads no events; the CLI refuses this before reading.
        let err = read_events(
            file,
            &EventColumns::all(),
            &nets,
            &ReadOptions::default(),
            &mut |_| {},
        );
        assert!(
            matches!(
                err,
                Err(LoadError::Text(
                    crate::presets::PresetError::UnsupportedKind { .. }
                ))
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_named_format_the_content_contradicts() {
        let argus = b"StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State\n";
        let conn = b"#separator \\x09\n#path\tconn\n#fields\tts\tuid\n";
        let eve = b"{\"timestamp\":\"2017-01-30T16:12:29+0100\",\"event_type\":\"flow\"}\n";
        let zeek_json = b"{\"ts\":1.5,\"uid\":\"C1\",\"id.orig_h\":\"10.0.0.1\"}\n";
        let cases: [(&[u8], Preset, Option<Preset>); 12] = [
            (argus, Preset::Zeek, Some(Preset::Argus)),
            (argus, Preset::Nfdump, Some(Preset::Argus)),
            (argus, Preset::Argus, None),
            (conn, Preset::Argus, Some(Preset::Zeek)),
            (conn, Preset::Suricata, Some(Preset::Zeek)),
            (conn, Preset::Zeek, None),
            // The Zeek family reads each other's logs as other types (a folder of Zeek logs).
            (conn, Preset::ZeekNotice, None),
            (eve, Preset::Zeek, Some(Preset::Suricata)),
            (eve, Preset::Suricata, None),
            (zeek_json, Preset::Suricata, Some(Preset::Zeek)),
            (
                b"ts,te,td,sa,da,sp,dp,pr\n",
                Preset::Silk,
                Some(Preset::Nfdump),
            ),
            // Nothing recognised: read as named, malformed lines reported.
            (b"hello world\n", Preset::Argus, None),
        ];
        for (head, given, want) in cases {
            assert_eq!(
                conflicting_preset(head, given),
                want,
                "{} as {given}",
                String::from_utf8_lossy(head)
            );
        }
        assert_eq!(
            wrong_format_message("t.binetflow", Preset::Zeek, Preset::Argus),
            "t.binetflow: given as zeek text, but it looks like Argus/CTU binetflow CSV: read it \
             as flows with --flows-format argus"
        );
        assert_eq!(
            wrong_format_message("eve.json", Preset::Zeek, Preset::Suricata),
            "eve.json: given as zeek text, but it looks like Suricata EVE JSON: read it with \
             --flows-format suricata (flow records) or --events-format suricata (alerts)"
        );
    }

    #[test]
    fn a_gzip_log_is_sniffed_decompressed() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("flows.binetflow.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport\n")
            .expect("gzip");
        std::fs::write(&path, gz.finish().expect("gzip")).expect("write");
        match discover_as(std::slice::from_ref(&path), Some(Preset::Zeek)) {
            Err(LoadError::WrongTextFormat { file, given, found }) => {
                assert_eq!(file, path.display().to_string());
                assert_eq!((given, found), (Preset::Zeek, Preset::Argus));
            }
            other => panic!("expected WrongTextFormat, got {other:?}"),
        }
        assert!(discover_as(&[path], Some(Preset::Argus)).is_ok());
    }

    #[test]
    fn hints_name_the_flag() {
        assert!(format_hint(Some(Preset::Zeek)).contains("--flows-format zeek"));
        assert!(format_hint(Some(Preset::ZeekNotice)).contains("--events-format zeek-notice"));
        assert!(format_hint(Some(Preset::Suricata)).contains("--events-format suricata"));
        assert!(format_hint(None).contains("--flows-format"));
    }
}
