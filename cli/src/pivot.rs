//! `flowpat pivot`: from an address, a connection, an event or the rows of an earlier result
//! file to their neighbourhood in a time window — flows in and out, their peers, events about
//! them — and which catalog patterns they appear in when the catalog runs on that window.
//!
//! The CSV it writes names each record by `kind,file,row`, which `--from` reads back, so an
//! analyst can pivot again from any subset of the rows (one hop per pivot).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use engine::datum::Datum;
use engine::load::{FileTable, Networks};
use engine::model::{Addr, Conn, Event, RecordId};
use engine::output::seconds_text;
use engine::pivot::{self, Seed};
use engine::run::{Inputs, RunOptions};

use crate::patterns;
use crate::run::open_inputs;
use crate::run::{self, RunArgs};
use crate::views::{self, Graph};

/// Output formats of `pivot`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum PivotFormat {
    /// Sections for people: subject, flows, events, peers, patterns
    Table,
    /// One row per flow or event (`kind,file,row,…`), readable again by `--from`
    Csv,
    /// Graphviz text of the neighbourhood
    Dot,
    /// One self-contained HTML page drawing the neighbourhood
    Html,
}

impl PivotFormat {
    fn extension(self) -> &'static str {
        match self {
            PivotFormat::Table => "txt",
            PivotFormat::Csv => "csv",
            PivotFormat::Dot => "dot",
            PivotFormat::Html => "html",
        }
    }
}

/// What to pivot from and how far.
pub struct PivotArgs {
    /// Addresses.
    pub addresses: Vec<String>,
    /// Connections as `FILE:ROW` (file as printed in results).
    pub conns: Vec<String>,
    /// Events as `FILE:ROW`.
    pub events: Vec<String>,
    /// Rows of an earlier result or pivot CSV.
    pub from: Option<PathBuf>,
    /// Half-width of the window around each record's time (`1h`).
    pub window: Option<String>,
    /// Centre of the window for address seeds.
    pub at: Option<String>,
    /// Pattern files or folders to check the neighbourhood against.
    pub catalog: Vec<PathBuf>,
    /// Skip the catalog run.
    pub no_patterns: bool,
    /// Output format.
    pub format: PivotFormat,
    /// Output file.
    pub out: Option<PathBuf>,
}

/// Default half-width of the window around a record.
const DEFAULT_WINDOW_US: i64 = 3_600_000_000;

/// A record named on the command line or in a file, before it is looked up.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum RecordRef {
    Flow(String, u64),
    Event(String, u64),
}

fn parse_file_row(text: &str) -> Result<(String, u64)> {
    let (file, row) = text
        .rsplit_once(':')
        .with_context(|| format!("`{text}` is not FILE:ROW (e.g. part-0001.parquet:774)"))?;
    let row = row
        .parse::<u64>()
        .with_context(|| format!("`{text}`: the row after `:` is not a number"))?;
    Ok((file.to_string(), row))
}

/// Seeds read from a CSV or a results Parquet file: records by `kind,file,row` (pivot output)
/// or `X.file`/`X.row` column pairs (results; a pair is an event if `X.signature` is a
/// column), and addresses from columns without a `.` whose values are IP addresses (results
/// of record-less rows).
fn read_from(path: &Path) -> Result<(Vec<RecordRef>, Vec<Vec<Addr>>)> {
    let saved = crate::diff::read_saved(path)?;
    let header = saved.header;
    let col = |name: &str| header.iter().position(|h| h == name);
    let mut records = Vec::new();
    let mut address_rows = Vec::new();
    let pivot_format = (col("kind"), col("file"), col("row"));
    let pairs: Vec<(usize, usize, bool)> = header
        .iter()
        .enumerate()
        .filter_map(|(k, h)| {
            let name = h.strip_suffix(".file")?;
            let row = col(&format!("{name}.row"))?;
            Some((k, row, col(&format!("{name}.signature")).is_some()))
        })
        .collect();
    let address_cols: Vec<usize> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| {
            !h.contains('.')
                && !["matches", "kind", "file", "row", "patterns"].contains(&h.as_str())
        })
        .map(|(k, _)| k)
        .collect();
    for record in &saved.rows {
        let cell = |k: usize| record.get(k).cloned().unwrap_or_default();
        if let (Some(kind), Some(file), Some(row)) = pivot_format {
            let row: u64 = cell(row)
                .parse()
                .with_context(|| format!("{}: bad row number", path.display()))?;
            match cell(kind).as_str() {
                "flow" => records.push(RecordRef::Flow(cell(file), row)),
                "event" => records.push(RecordRef::Event(cell(file), row)),
                other => bail!("{}: unknown kind `{other}` (flow or event)", path.display()),
            }
            continue;
        }
        let mut any = false;
        for (file, row, is_event) in &pairs {
            let row: u64 = cell(*row)
                .parse()
                .with_context(|| format!("{}: bad row number", path.display()))?;
            any = true;
            records.push(if *is_event {
                RecordRef::Event(cell(*file), row)
            } else {
                RecordRef::Flow(cell(*file), row)
            });
        }
        if !any {
            let addrs: Vec<Addr> = address_cols
                .iter()
                .filter_map(|k| Addr::parse(&cell(*k)))
                .collect();
            if !addrs.is_empty() {
                address_rows.push(addrs);
            }
        }
    }
    if records.is_empty() && address_rows.is_empty() {
        bail!("{}: no records (`X.file`,`X.row` or `kind,file,row`) and no address columns to pivot from", path.display());
    }
    Ok((records, address_rows))
}

fn lookup(table: &FileTable, file: &str, row: u64, what: &str) -> Result<RecordId> {
    let entry = table.by_display(file).with_context(|| {
        format!("no {what} file `{file}` in the archive (files are named as results print them)")
    })?;
    Ok(RecordId {
        file: entry.id,
        row,
    })
}

/// Why each record named was not read: its row is past the end of its file (saying how many
/// records the file has) or the row was skipped (unreadable, or not a flow).
fn not_found(
    flows: &[RecordId],
    events: &[RecordId],
    inputs: &Inputs,
    read: &engine::load::ReadOptions,
) -> Result<Vec<String>> {
    let opts = engine::load::ReadOptions {
        since: None,
        until: None,
        ..*read
    };
    // Records of a file: every row read (skipped ones included) and the text records that are
    // not rows (other record types, non-IP frames, notices without a destination), since row
    // numbers count those too.
    let records = |report: &engine::load::LoadReport, last: Option<u64>| {
        let text = report
            .text
            .as_ref()
            .map_or(0, |t| t.other_types + t.not_flows + t.not_events);
        (report.rows_read + text).max(last.map_or(0, |r| r + 1))
    };
    let mut out = Vec::new();
    let mut files: BTreeMap<(bool, engine::model::FileId), u64> = BTreeMap::new();
    for (is_flow, id) in flows
        .iter()
        .map(|id| (true, *id))
        .chain(events.iter().map(|id| (false, *id)))
    {
        let table = if is_flow {
            &inputs.flows
        } else {
            &inputs.events
        };
        let Some(file) = table.get(id.file) else {
            continue;
        };
        let count = match files.get(&(is_flow, id.file)) {
            Some(n) => *n,
            None => {
                let mut last: Option<u64> = None;
                let report = if is_flow {
                    engine::load::read_flows(
                        file,
                        &engine::load::FlowColumns::all(),
                        &inputs.networks,
                        &opts,
                        &mut |b| last = last.max((0..b.len()).map(|i| b.id(i).row).max()),
                    )
                } else {
                    engine::load::read_events(
                        file,
                        &engine::load::EventColumns::all(),
                        &inputs.networks,
                        &opts,
                        &mut |b| last = last.max((0..b.len()).map(|i| b.id(i).row).max()),
                    )
                }
                .with_context(|| format!("reading {}", file.display))?;
                let n = records(&report, last);
                files.insert((is_flow, id.file), n);
                n
            }
        };
        let what = if is_flow { "flow" } else { "event" };
        out.push(if id.row >= count {
            format!(
                "{what} {}:{} is not in the archive: {} has {count} record(s){}",
                file.display,
                id.row,
                file.display,
                if count > 0 {
                    format!(", rows 0 to {}", count - 1)
                } else {
                    String::new()
                }
            )
        } else {
            format!(
                "{what} {}:{} was not read: that row is skipped (unreadable, or not a {what}; \
                 `flowpat run` lists skipped rows)",
                file.display, id.row
            )
        });
    }
    Ok(out)
}

/// The neighbourhood and what the catalog says about it.
struct Report {
    seeds: Vec<Seed>,
    subjects: Vec<String>,
    hood: pivot::Neighbourhood,
    /// Per record id (flow or event, by edge id): patterns whose results hold it.
    record_patterns: BTreeMap<String, BTreeSet<String>>,
    /// Per pattern: results in the window, results involving a subject.
    patterns: Vec<(String, usize, usize)>,
}

fn window_around(start: i64, end: i64, half: i64) -> (Option<i64>, Option<i64>) {
    (
        Some(start.saturating_sub(half)),
        Some(end.saturating_add(half).saturating_add(1)),
    )
}

pub fn pivot(mut args: RunArgs, p: PivotArgs) -> Result<ExitCode> {
    if let Some(path) = p.out.as_deref().filter(|o| crate::output::names_folder(o)) {
        return Err(crate::usage(format!(
            "--out {}: pivot writes one file; give a file name (e.g. --out {}/hood.{})",
            path.display(),
            path.display().to_string().trim_end_matches('/'),
            p.format.extension()
        )));
    }
    let given_since = args.since.take();
    let given_until = args.until.take();
    let (inputs, read) = open_inputs(&mut args)?;
    let half = match &p.window {
        Some(w) => i64::try_from(crate::import::parse_duration(w)?.as_micros())
            .context("window too long")?,
        None => DEFAULT_WINDOW_US,
    };
    let since = given_since.as_deref().map(run::parse_time).transpose()?;
    let until = given_until.as_deref().map(run::parse_time).transpose()?;
    let explicit = since.is_some() || until.is_some();
    let address_window = match (&p.at, explicit) {
        (Some(at), false) => {
            let t = run::parse_time(at)?;
            window_around(t, t, half)
        }
        (Some(_), true) => {
            return Err(crate::usage(
                "give either --at (with --window) or --since/--until, not both",
            ))
        }
        (None, _) => (since, until),
    };

    let mut records = Vec::new();
    for c in &p.conns {
        let (f, r) = parse_file_row(c)?;
        records.push(RecordRef::Flow(f, r));
    }
    for e in &p.events {
        let (f, r) = parse_file_row(e)?;
        records.push(RecordRef::Event(f, r));
    }
    let mut address_rows: Vec<Vec<Addr>> = Vec::new();
    for a in &p.addresses {
        address_rows.push(vec![
            Addr::parse(a).with_context(|| format!("`{a}` is not an IP address"))?
        ]);
    }
    if let Some(path) = &p.from {
        let (r, a) = read_from(path)?;
        records.extend(r);
        address_rows.extend(a);
    }
    records.sort();
    records.dedup();
    if records.is_empty() && address_rows.is_empty() {
        return Err(crate::usage(
            "nothing to pivot from: give --address, --conn, --event or --from",
        ));
    }

    // Seeds: records with the window around their own time, addresses with the given one.
    let (mut flow_ids, mut event_ids) = (Vec::new(), Vec::new());
    for r in &records {
        match r {
            RecordRef::Flow(f, row) => flow_ids.push(lookup(&inputs.flows, f, *row, "flow")?),
            RecordRef::Event(f, row) => event_ids.push(lookup(&inputs.events, f, *row, "event")?),
        }
    }
    let seed_flows = pivot::flows_by_id(&inputs.flows, &inputs.networks, &flow_ids, &read)?;
    let seed_events = pivot::events_by_id(&inputs.events, &inputs.networks, &event_ids, &read)?;
    if seed_flows.len() < flow_ids.len() || seed_events.len() < event_ids.len() {
        let found: BTreeSet<RecordId> = seed_flows.iter().map(|c| c.id).collect();
        let missing_flows: Vec<RecordId> = flow_ids
            .iter()
            .filter(|id| !found.contains(id))
            .copied()
            .collect();
        let found: BTreeSet<RecordId> = seed_events.iter().map(|e| e.id).collect();
        let missing_events: Vec<RecordId> = event_ids
            .iter()
            .filter(|id| !found.contains(id))
            .copied()
            .collect();
        bail!(
            "{}",
            not_found(&missing_flows, &missing_events, &inputs, &read)?.join("; ")
        );
    }
    let record_window = |start: i64, end: i64| {
        if explicit {
            (since, until)
        } else {
            window_around(start, end, half)
        }
    };
    let mut seeds = Vec::new();
    let mut subjects = Vec::new();
    for c in &seed_flows {
        let (s, u) = record_window(c.start, c.end.max(c.start));
        seeds.push(Seed {
            addresses: [c.src, c.dst].into_iter().collect(),
            since: s,
            until: u,
        });
        subjects.push(format!(
            "flow {} ({} → {})",
            views::flow_id(c, &inputs.flows).trim_start_matches("flow:"),
            c.src,
            c.dst
        ));
    }
    for e in &seed_events {
        let (s, u) = record_window(e.time, e.time);
        seeds.push(Seed {
            addresses: [e.src, e.dst].into_iter().collect(),
            since: s,
            until: u,
        });
        subjects.push(format!(
            "event {} ({} → {})",
            views::event_id(e, &inputs.events).trim_start_matches("event:"),
            e.src,
            e.dst
        ));
    }
    for addrs in &address_rows {
        seeds.push(Seed {
            addresses: addrs.iter().copied().collect(),
            since: address_window.0,
            until: address_window.1,
        });
        subjects.push(format!(
            "address {}",
            addrs
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let hood = pivot::neighbourhood(&inputs, &seeds, &read)?;

    let (record_patterns, patterns) = if p.no_patterns {
        (BTreeMap::new(), Vec::new())
    } else {
        catalog_membership(
            &args,
            &p.catalog,
            &inputs,
            &read,
            &seeds,
            &seed_flows,
            &seed_events,
        )?
    };
    let report = Report {
        seeds,
        subjects,
        hood,
        record_patterns,
        patterns,
    };

    let mut sink: Box<dyn Write> = match &p.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(crate::output::stdout()),
    };
    match p.format {
        PivotFormat::Csv => write_csv(&report, &inputs, &mut sink)?,
        PivotFormat::Table => write_table(&report, &inputs, &mut sink)?,
        PivotFormat::Dot => views::write_dot(&graph(&report, &inputs), &mut sink)?,
        PivotFormat::Html => views::write_html(&graph(&report, &inputs), &mut sink)?,
    }
    sink.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Runs the catalog on the seeds' span; returns the patterns of each neighbour record and,
/// per pattern, its result count and the results that involve a subject.
#[allow(clippy::type_complexity)]
fn catalog_membership(
    args: &RunArgs,
    catalog: &[PathBuf],
    inputs: &Inputs,
    read: &engine::load::ReadOptions,
    seeds: &[Seed],
    seed_flows: &[Conn],
    seed_events: &[Event],
) -> Result<(
    BTreeMap<String, BTreeSet<String>>,
    Vec<(String, usize, usize)>,
)> {
    let files = patterns::pattern_files(catalog)?;
    let compiled = patterns::compile_files(
        &files,
        &compiler::CompileOptions {
            params: args.params.clone(),
        },
    )?;
    eprint!(
        "{}",
        patterns::render_diagnostics(&compiled, patterns::color())
    );
    let plans: Vec<compiler::plan::JoinPlan> = compiled
        .patterns
        .iter()
        .map(|(_, c)| c.plan.clone())
        .collect();
    let (since, until) = pivot::span(seeds);
    let options = RunOptions {
        workers: args.workers.max(1),
        read: engine::load::ReadOptions {
            since,
            until,
            ..*read
        },
        ..RunOptions::default()
    };
    let out =
        engine::run::run(&plans, inputs, &options).context("running the catalog on the window")?;
    let addresses: BTreeSet<Addr> = seeds
        .iter()
        .flat_map(|s| s.addresses.iter().copied())
        .collect();
    let flow_ids: BTreeSet<RecordId> = seed_flows.iter().map(|c| c.id).collect();
    let event_ids: BTreeSet<RecordId> = seed_events.iter().map(|e| e.id).collect();
    let mut record_patterns: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut per_pattern = Vec::new();
    for set in &out.results {
        let mut involving = 0;
        for row in &set.rows {
            let mut hit = false;
            for value in &row.values {
                match value {
                    Datum::Addr(a) => hit |= addresses.contains(a),
                    Datum::Conn(c) => {
                        hit |= flow_ids.contains(&c.id)
                            || (flow_ids.is_empty()
                                && event_ids.is_empty()
                                && (addresses.contains(&c.src) || addresses.contains(&c.dst)));
                        record_patterns
                            .entry(views::flow_id(c, &inputs.flows))
                            .or_default()
                            .insert(set.pattern.clone());
                    }
                    Datum::Event(e) => {
                        hit |= event_ids.contains(&e.id)
                            || (flow_ids.is_empty()
                                && event_ids.is_empty()
                                && (addresses.contains(&e.src) || addresses.contains(&e.dst)));
                        record_patterns
                            .entry(views::event_id(e, &inputs.events))
                            .or_default()
                            .insert(set.pattern.clone());
                    }
                    _ => {}
                }
            }
            involving += usize::from(hit);
        }
        per_pattern.push((set.pattern.clone(), set.rows.len(), involving));
    }
    Ok((record_patterns, per_pattern))
}

const CSV_HEADER: [&str; 19] = [
    "kind",
    "file",
    "row",
    "time",
    "src",
    "src.disposition",
    "dst",
    "dst.disposition",
    "protocol",
    "srcPort",
    "destPort",
    "durationSeconds",
    "bytesSent",
    "bytesReceived",
    "packetsSent",
    "packetsReceived",
    "signature",
    "severity",
    "patterns",
];

fn label(networks: &Networks, a: Addr) -> String {
    networks.label_name(networks.label(a)).to_string()
}

fn flow_cells(c: &Conn, inputs: &Inputs, report: &Report) -> Vec<String> {
    let id = views::flow_id(c, &inputs.flows);
    let file = inputs
        .flows
        .get(c.id.file)
        .map(|f| f.display.clone())
        .unwrap_or_default();
    vec![
        "flow".into(),
        file,
        c.id.row.to_string(),
        compiler::hir::format_time(c.start),
        c.src.to_string(),
        label(&inputs.networks, c.src),
        c.dst.to_string(),
        label(&inputs.networks, c.dst),
        c.protocol.to_string(),
        c.src_port.to_string(),
        c.dst_port.to_string(),
        seconds_text(i128::from(c.end) - i128::from(c.start)),
        c.bytes_sent.to_string(),
        c.bytes_received.to_string(),
        c.packets_sent.to_string(),
        c.packets_received.to_string(),
        String::new(),
        String::new(),
        patterns_of(report, &id),
    ]
}

fn event_cells(e: &Event, inputs: &Inputs, report: &Report) -> Vec<String> {
    let id = views::event_id(e, &inputs.events);
    let file = inputs
        .events
        .get(e.id.file)
        .map(|f| f.display.clone())
        .unwrap_or_default();
    let mut cells = vec![
        "event".into(),
        file,
        e.id.row.to_string(),
        compiler::hir::format_time(e.time),
        e.src.to_string(),
        label(&inputs.networks, e.src),
        e.dst.to_string(),
        label(&inputs.networks, e.dst),
    ];
    cells.extend(std::iter::repeat_n(String::new(), 8));
    cells.extend([
        e.signature.clone(),
        e.severity.to_string(),
        patterns_of(report, &id),
    ]);
    cells
}

fn patterns_of(report: &Report, id: &str) -> String {
    report
        .record_patterns
        .get(id)
        .map(|s| s.iter().cloned().collect::<Vec<_>>().join("; "))
        .unwrap_or_default()
}

fn write_csv(report: &Report, inputs: &Inputs, w: &mut dyn Write) -> Result<()> {
    let mut csv = csv::Writer::from_writer(w);
    csv.write_record(CSV_HEADER)?;
    for c in &report.hood.flows {
        csv.write_record(flow_cells(c, inputs, report))?;
    }
    for e in &report.hood.events {
        csv.write_record(event_cells(e, inputs, report))?;
    }
    csv.flush()?;
    Ok(())
}

/// Per peer of the seeds: flows out (seed → peer), flows in, bytes each way, events.
fn peers(report: &Report) -> BTreeMap<Addr, [u64; 5]> {
    let subjects: BTreeSet<Addr> = report
        .seeds
        .iter()
        .flat_map(|s| s.addresses.iter().copied())
        .collect();
    let mut out: BTreeMap<Addr, [u64; 5]> = BTreeMap::new();
    for c in &report.hood.flows {
        if subjects.contains(&c.src) && !subjects.contains(&c.dst) {
            let p = out.entry(c.dst).or_default();
            p[0] += 1;
            p[2] += c.bytes_sent;
            p[3] += c.bytes_received;
        }
        if subjects.contains(&c.dst) && !subjects.contains(&c.src) {
            let p = out.entry(c.src).or_default();
            p[1] += 1;
            p[2] += c.bytes_received;
            p[3] += c.bytes_sent;
        }
    }
    for e in &report.hood.events {
        for (a, other) in [(e.src, e.dst), (e.dst, e.src)] {
            if subjects.contains(&other) && !subjects.contains(&a) {
                out.entry(a).or_default()[4] += 1;
            }
        }
    }
    out
}

fn window_text(seed: &Seed) -> String {
    let t = |x: Option<i64>, open: &str| {
        x.map(compiler::hir::format_time)
            .unwrap_or_else(|| open.to_string())
    };
    format!("[{}, {})", t(seed.since, "start"), t(seed.until, "end"))
}

fn write_table(report: &Report, inputs: &Inputs, w: &mut dyn Write) -> Result<()> {
    // Signatures, file names and labels come from data: no control characters reach the terminal.
    let safe = |s: &str| crate::output::terminal_safe(s).into_owned();
    let table = |header: &[&str]| {
        let mut t = crate::output::rows_table();
        t.set_header(header.iter().map(|h| h.to_string()));
        t
    };
    writeln!(w, "pivot from")?;
    for (subject, seed) in report.subjects.iter().zip(&report.seeds) {
        writeln!(w, "  {}   window {}", safe(subject), window_text(seed))?;
    }
    writeln!(w)?;
    let mut flows = table(&[
        "file",
        "row",
        "startTime",
        "src",
        "dst",
        "proto",
        "srcPort",
        "destPort",
        "bytesSent",
        "bytesReceived",
        "patterns",
    ]);
    for c in &report.hood.flows {
        let cells = flow_cells(c, inputs, report);
        flows.add_row([1, 2, 3, 4, 6, 8, 9, 10, 12, 13, 18].map(|k| safe(&cells[k])));
    }
    writeln!(w, "flows ({})\n{flows}\n", report.hood.flows.len())?;
    let mut events = table(&[
        "file",
        "row",
        "time",
        "src",
        "dst",
        "signature",
        "severity",
        "patterns",
    ]);
    for e in &report.hood.events {
        let cells = event_cells(e, inputs, report);
        events.add_row([1, 2, 3, 4, 6, 16, 17, 18].map(|k| safe(&cells[k])));
    }
    writeln!(w, "events ({})\n{events}\n", report.hood.events.len())?;
    let peers = peers(report);
    let mut peer_table = table(&[
        "peer",
        "disposition",
        "flows out",
        "flows in",
        "bytes to peer",
        "bytes from peer",
        "events",
    ]);
    for (a, p) in &peers {
        peer_table.add_row([
            a.to_string(),
            safe(&label(&inputs.networks, *a)),
            p[0].to_string(),
            p[1].to_string(),
            p[2].to_string(),
            p[3].to_string(),
            p[4].to_string(),
        ]);
    }
    writeln!(w, "peers ({})\n{peer_table}\n", peers.len())?;
    if !report.patterns.is_empty() {
        let mut pt = table(&["pattern", "results in window", "involving the subject"]);
        for (name, total, involving) in &report.patterns {
            pt.add_row([safe(name), total.to_string(), involving.to_string()]);
        }
        let appears: Vec<&str> = report
            .patterns
            .iter()
            .filter(|p| p.2 > 0)
            .map(|p| p.0.as_str())
            .collect();
        writeln!(
            w,
            "catalog on the window — the subject appears in: {}\n{pt}",
            if appears.is_empty() {
                "none".to_string()
            } else {
                safe(&appears.join(", "))
            }
        )?;
    }
    Ok(())
}

/// The drawing's title, also its Graphviz name: short whatever the query (a pivot `--from` a
/// result file may have thousands of subjects): the first subject without its endpoints, cut
/// to 40 characters, and how many more.
fn graph_title(subjects: &[String]) -> String {
    let short = |s: &str| {
        let s = s.split(" (").next().unwrap_or(s);
        crate::output::truncate(s, 40)
    };
    match subjects {
        [] => "flowpat pivot".to_string(),
        [one] => format!("flowpat pivot: {}", short(one)),
        [first, rest @ ..] => {
            format!("flowpat pivot: {} and {} more", short(first), rest.len())
        }
    }
}

fn graph(report: &Report, inputs: &Inputs) -> Graph {
    let mut graph = Graph::new(&graph_title(&report.subjects));
    for addr in report.seeds.iter().flat_map(|s| s.addresses.iter()) {
        graph.add_node(*addr, Some(&inputs.networks));
    }
    for c in &report.hood.flows {
        let id = views::flow_id(c, &inputs.flows);
        graph.add_flow(c, &inputs.flows, Some(&inputs.networks), None);
        if let (Some(edge), Some(ps)) = (graph.edges.get_mut(&id), report.record_patterns.get(&id))
        {
            edge.patterns = ps.iter().cloned().collect();
        }
    }
    for e in &report.hood.events {
        let id = views::event_id(e, &inputs.events);
        graph.add_event(e, &inputs.events, Some(&inputs.networks), None);
        if let (Some(edge), Some(ps)) = (graph.edges.get_mut(&id), report.record_patterns.get(&id))
        {
            edge.patterns = ps.iter().cloned().collect();
        }
    }
    let rows: Vec<Vec<String>> = report
        .hood
        .flows
        .iter()
        .map(|c| flow_cells(c, inputs, report))
        .chain(
            report
                .hood
                .events
                .iter()
                .map(|e| event_cells(e, inputs, report)),
        )
        .collect();
    graph.tables.push(views::Table {
        title: format!(
            "neighbourhood ({} flows, {} events)",
            report.hood.flows.len(),
            report.hood.events.len()
        ),
        header: CSV_HEADER.iter().map(|h| h.to_string()).collect(),
        total: rows.len(),
        rows,
    });
    if !report.patterns.is_empty() {
        graph.tables.push(views::Table {
            title: "catalog on the window".into(),
            header: vec![
                "pattern".into(),
                "results in window".into(),
                "involving the subject".into(),
            ],
            rows: report
                .patterns
                .iter()
                .map(|(n, t, i)| vec![n.clone(), t.to_string(), i.to_string()])
                .collect(),
            total: report.patterns.len(),
        });
    }
    graph
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_row_names_parse() {
        assert_eq!(
            parse_file_row("part-0001.parquet:774").unwrap(),
            ("part-0001.parquet".into(), 774)
        );
        assert_eq!(
            parse_file_row("c:/x/y.parquet:3").unwrap(),
            ("c:/x/y.parquet".into(), 3)
        );
        assert!(parse_file_row("part-0001.parquet").is_err());
        assert!(parse_file_row("a:b").is_err());
    }
}
