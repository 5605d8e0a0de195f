//! Views of a result subgraph: Graphviz text (`--format dot`) and one self-contained HTML page
//! (`--format html`).
//!
//! Both draw the same [`Graph`]: addresses are nodes, coloured by their disposition in the
//! networks file; connections and events bound in the results are edges (events dashed);
//! a result row that binds no record (a group-by row such as port jumping's) is one edge
//! between its addresses. Every node and edge carries its attributes as a tooltip. The HTML
//! page needs no network: its style and script are inline, and the graph travels as JSON in
//! the page. After drawing, the script lists the ids of what it drew in `#drawn-nodes` and
//! `#drawn-edges`, so a headless browser can check the page against the results.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Result;
use engine::datum::Datum;
use engine::load::{FileTable, Networks};
use engine::model::{Addr, Conn, Event};
use engine::output::ResultSet;

/// Drawing more edges than this makes a page no one can read (or load): the rest are listed.
pub const MAX_EDGES: usize = 5000;

/// Table rows per pattern in the HTML page.
pub const MAX_TABLE_ROWS: usize = 2000;

/// What an edge stands for.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum EdgeKind {
    /// A flow record.
    Flow,
    /// An event record.
    Event,
    /// A result row without records (its addresses joined by the row).
    Result,
}

impl EdgeKind {
    fn name(self) -> &'static str {
        match self {
            EdgeKind::Flow => "flow",
            EdgeKind::Event => "event",
            EdgeKind::Result => "result",
        }
    }
}

/// A node: one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The address as printed (its id).
    pub id: String,
    /// Its disposition (`internal`, `external`, …), empty without a networks file.
    pub disposition: String,
}

/// An edge: one record or one record-less result row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// `flow:FILE:ROW`, `event:FILE:ROW` or `result:PATTERN:N`.
    pub id: String,
    /// What it stands for.
    pub kind: EdgeKind,
    /// Source address.
    pub from: String,
    /// Destination address.
    pub to: String,
    /// Short label (`tcp/443`, a signature, `ports=3`).
    pub label: String,
    /// Attributes, one `name: value` per line.
    pub title: String,
    /// Patterns whose results hold this edge.
    pub patterns: Vec<String>,
}

/// A table shown beside the drawing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// Caption.
    pub title: String,
    /// Column names.
    pub header: Vec<String>,
    /// Rows (already limited).
    pub rows: Vec<Vec<String>>,
    /// Rows before the limit.
    pub total: usize,
}

/// A drawable subgraph with its tables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    /// Title of the page / graph.
    pub title: String,
    /// Nodes by address (sorted by printed address for a stable page).
    pub nodes: BTreeMap<String, Node>,
    /// Edges by id.
    pub edges: BTreeMap<String, Edge>,
    /// Edges left out beyond [`MAX_EDGES`].
    pub edges_left_out: usize,
    /// Tables, in order.
    pub tables: Vec<Table>,
}

fn file_name(table: &FileTable, id: engine::model::FileId) -> String {
    table
        .get(id)
        .map(|f| f.display.clone())
        .unwrap_or_else(|| format!("#{}", id.0))
}

fn protocol_name(p: u8) -> String {
    match p {
        6 => "tcp".into(),
        17 => "udp".into(),
        1 => "icmp".into(),
        58 => "icmpv6".into(),
        other => format!("proto {other}"),
    }
}

/// The id of a flow edge.
pub fn flow_id(conn: &Conn, flows: &FileTable) -> String {
    format!("flow:{}:{}", file_name(flows, conn.id.file), conn.id.row)
}

/// The id of an event edge.
pub fn event_id(event: &Event, events: &FileTable) -> String {
    format!(
        "event:{}:{}",
        file_name(events, event.id.file),
        event.id.row
    )
}

impl Graph {
    /// An empty graph titled `title`.
    pub fn new(title: &str) -> Graph {
        Graph {
            title: title.to_string(),
            ..Graph::default()
        }
    }

    /// Adds an address node (once).
    pub fn add_node(&mut self, addr: Addr, networks: Option<&Networks>) -> String {
        let id = addr.to_string();
        self.nodes.entry(id.clone()).or_insert_with(|| Node {
            id: id.clone(),
            disposition: networks
                .map(|n| n.label_name(n.label(addr)).to_string())
                .unwrap_or_default(),
        });
        id
    }

    fn add_edge(&mut self, edge: Edge) {
        if let Some(existing) = self.edges.get_mut(&edge.id) {
            for p in edge.patterns {
                if !existing.patterns.contains(&p) {
                    existing.patterns.push(p);
                }
            }
            return;
        }
        if self.edges.len() >= MAX_EDGES {
            self.edges_left_out += 1;
            return;
        }
        self.edges.insert(edge.id.clone(), edge);
    }

    /// Adds a flow record as an edge (and its two addresses).
    pub fn add_flow(
        &mut self,
        conn: &Conn,
        flows: &FileTable,
        networks: Option<&Networks>,
        pattern: Option<&str>,
    ) {
        let from = self.add_node(conn.src, networks);
        let to = self.add_node(conn.dst, networks);
        let id = flow_id(conn, flows);
        let title = [
            format!("flow {}:{}", file_name(flows, conn.id.file), conn.id.row),
            format!("protocol: {}", conn.protocol),
            format!("srcPort: {}", conn.src_port),
            format!("destPort: {}", conn.dst_port),
            format!("startTime: {}", compiler::hir::format_time(conn.start)),
            format!("endTime: {}", compiler::hir::format_time(conn.end)),
            format!("bytesSent: {}", conn.bytes_sent),
            format!("bytesReceived: {}", conn.bytes_received),
            format!("packetsSent: {}", conn.packets_sent),
            format!("packetsReceived: {}", conn.packets_received),
        ]
        .join("\n");
        self.add_edge(Edge {
            id,
            kind: EdgeKind::Flow,
            from,
            to,
            label: format!("{}/{}", protocol_name(conn.protocol), conn.dst_port),
            title,
            patterns: pattern.map(str::to_string).into_iter().collect(),
        });
    }

    /// Adds an event record as an edge (and its two addresses).
    pub fn add_event(
        &mut self,
        event: &Event,
        events: &FileTable,
        networks: Option<&Networks>,
        pattern: Option<&str>,
    ) {
        let from = self.add_node(event.src, networks);
        let to = self.add_node(event.dst, networks);
        let title = [
            format!(
                "event {}:{}",
                file_name(events, event.id.file),
                event.id.row
            ),
            format!("time: {}", compiler::hir::format_time(event.time)),
            format!("signature: {}", event.signature),
            format!("severity: {}", event.severity),
            format!("category: {}", event.category),
        ]
        .join("\n");
        self.add_edge(Edge {
            id: event_id(event, events),
            kind: EdgeKind::Event,
            from,
            to,
            label: event.signature.clone(),
            title,
            patterns: pattern.map(str::to_string).into_iter().collect(),
        });
    }

    /// Adds every row of a result set: its records as edges, its addresses as nodes, and for
    /// a row without records an edge between its first two addresses. Also a table.
    pub fn add_results(
        &mut self,
        set: &ResultSet,
        flows: &FileTable,
        events: &FileTable,
        networks: Option<&Networks>,
    ) {
        let header = set.header();
        for (k, row) in set.rows.iter().enumerate() {
            let mut addresses = Vec::new();
            let mut records = 0;
            for value in &row.values {
                match value {
                    Datum::Conn(c) => {
                        records += 1;
                        self.add_flow(c, flows, networks, Some(&set.pattern));
                    }
                    Datum::Event(e) => {
                        records += 1;
                        self.add_event(e, events, networks, Some(&set.pattern));
                    }
                    Datum::Addr(a) => addresses.push(self.add_node(*a, networks)),
                    _ => {}
                }
            }
            if records == 0 && addresses.len() >= 2 {
                let cells = set.cells(row, flows, events);
                let title = header
                    .iter()
                    .zip(&cells)
                    .map(|(h, c)| format!("{h}: {c}"))
                    .collect::<Vec<_>>()
                    .join("\n");
                let label = header
                    .iter()
                    .zip(&cells)
                    .filter(|(h, c)| !addresses.contains(c) && !h.contains('.'))
                    .map(|(h, c)| format!("{h}={c}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                self.add_edge(Edge {
                    id: format!("result:{}:{k}", set.pattern),
                    kind: EdgeKind::Result,
                    from: addresses[0].clone(),
                    to: addresses[1].clone(),
                    label,
                    title: format!("{}\n{title}", set.pattern),
                    patterns: vec![set.pattern.clone()],
                });
            }
        }
        self.tables.push(Table {
            title: format!(
                "{} ({} result{})",
                set.pattern,
                set.rows.len(),
                if set.rows.len() == 1 { "" } else { "s" }
            ),
            header,
            rows: set
                .rows
                .iter()
                .take(MAX_TABLE_ROWS)
                .map(|r| set.cells(r, flows, events))
                .collect(),
            total: set.rows.len(),
        });
    }
}

/// Colour of a disposition: fixed for the common ones, otherwise picked by the label's hash.
pub fn colour(disposition: &str) -> &'static str {
    const OTHERS: [&str; 6] = [
        "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f",
    ];
    match disposition {
        "internal" => "#4e79a7",
        "external" => "#e15759",
        "dmz" => "#f28e2b",
        "" => "#bab0ac",
        other => {
            OTHERS[other
                .bytes()
                .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize))
                % OTHERS.len()]
        }
    }
}

fn dot_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Graphviz text: `dot -Tsvg` draws it.
pub fn write_dot(graph: &Graph, w: &mut dyn Write) -> Result<()> {
    writeln!(w, "digraph {} {{", dot_quote(&graph.title))?;
    writeln!(
        w,
        "  graph [rankdir=LR, fontname=\"Helvetica\", label={}];",
        dot_quote(&graph.title)
    )?;
    writeln!(
        w,
        "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontcolor=white];"
    )?;
    writeln!(w, "  edge [fontname=\"Helvetica\", fontsize=9];")?;
    for node in graph.nodes.values() {
        let tooltip = if node.disposition.is_empty() {
            node.id.clone()
        } else {
            format!("{} ({})", node.id, node.disposition)
        };
        writeln!(
            w,
            "  {} [fillcolor={}, tooltip={}, class={}];",
            dot_quote(&node.id),
            dot_quote(colour(&node.disposition)),
            dot_quote(&tooltip),
            dot_quote(&node.disposition)
        )?;
    }
    for edge in graph.edges.values() {
        let style = match edge.kind {
            EdgeKind::Flow => "solid",
            EdgeKind::Event => "dashed",
            EdgeKind::Result => "bold",
        };
        writeln!(
            w,
            "  {} -> {} [id={}, label={}, tooltip={}, style={}];",
            dot_quote(&edge.from),
            dot_quote(&edge.to),
            dot_quote(&edge.id),
            dot_quote(&edge.label),
            dot_quote(&edge.title),
            style
        )?;
    }
    if graph.edges_left_out > 0 {
        writeln!(
            w,
            "  // {} more edges left out (over {MAX_EDGES})",
            graph.edges_left_out
        )?;
    }
    writeln!(w, "}}")?;
    Ok(())
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON for a `<script type="application/json">` block: `<` escaped so that no `</script>`
/// (or comment opener) inside a value can end the block.
fn script_json(value: &serde_json::Value) -> String {
    value.to_string().replace('<', "\\u003c")
}

const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0; color: #222; }
header { padding: 10px 16px; border-bottom: 1px solid #ddd; }
header h1 { font-size: 18px; margin: 0 0 4px 0; }
header p { margin: 0; color: #555; font-size: 13px; }
main { display: flex; gap: 12px; padding: 12px; align-items: flex-start; }
#graph { flex: 3; min-width: 0; border: 1px solid #ddd; border-radius: 6px; }
#graph svg { width: 100%; height: 78vh; display: block; background: #fcfcfc; }
#side { flex: 2; min-width: 0; max-height: 86vh; overflow: auto; }
#legend { font-size: 12px; padding: 6px 10px; border-top: 1px solid #eee; }
#legend span { display: inline-block; margin-right: 12px; }
#legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: middle; }
table { border-collapse: collapse; font-size: 12px; margin-bottom: 16px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border-bottom: 1px solid #eee; padding: 3px 6px; text-align: left; white-space: nowrap; }
th { position: sticky; top: 0; background: #f4f4f4; }
tr:hover td { background: #fff6d5; }
.edge { fill: none; stroke: #888; stroke-width: 1.3; }
.edge.event { stroke: #d37295; stroke-dasharray: 5 3; }
.edge.result { stroke: #555; stroke-width: 2.5; }
.edge:hover, .edge.hot { stroke: #111; stroke-width: 3; }
.node circle { stroke: #fff; stroke-width: 1.5; }
.node text { font-size: 10px; fill: #333; pointer-events: none; }
.node:hover circle { stroke: #111; stroke-width: 2.5; }
.note { color: #a33; font-size: 12px; padding: 4px 10px; }
pre.drawn { display: none; }
"#;

const SCRIPT: &str = r##"
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("flowpat-graph").textContent);
  var NS = "http://www.w3.org/2000/svg";
  var svg = document.getElementById("canvas");
  var W = 1000, H = 700;
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  var n = data.nodes.length, index = {};
  data.nodes.forEach(function (d, i) { index[d.id] = i; });
  // Deterministic layout: nodes start on a circle in id order, then a bounded number of
  // spring-electric steps (no randomness, so the same results draw the same picture).
  var pos = data.nodes.map(function (d, i) {
    var a = 2 * Math.PI * i / Math.max(1, n);
    return { x: W / 2 + 0.4 * W * Math.cos(a), y: H / 2 + 0.4 * H * Math.sin(a), vx: 0, vy: 0 };
  });
  var links = data.edges.map(function (e) { return [index[e.from], index[e.to]]; });
  var steps = n <= 400 ? 250 : (n <= 1500 ? 60 : 0);
  var k = Math.sqrt((W * H) / Math.max(1, n)) * 0.6;
  for (var s = 0; s < steps; s++) {
    var t = 0.1 * (1 - s / steps);
    // A pull towards the centre keeps separate components on the canvas, not in its corners.
    for (var i = 0; i < n; i++) { pos[i].vx = (W / 2 - pos[i].x) * 0.8; pos[i].vy = (H / 2 - pos[i].y) * 0.8; }
    for (var i = 0; i < n; i++) for (var j = i + 1; j < n; j++) {
      var dx = pos[i].x - pos[j].x, dy = pos[i].y - pos[j].y, d2 = dx * dx + dy * dy + 0.01;
      var f = (k * k) / d2;
      pos[i].vx += dx * f; pos[i].vy += dy * f; pos[j].vx -= dx * f; pos[j].vy -= dy * f;
    }
    links.forEach(function (l) {
      if (l[0] === l[1]) return;
      var a = pos[l[0]], b = pos[l[1]], dx = a.x - b.x, dy = a.y - b.y, d = Math.sqrt(dx * dx + dy * dy) + 0.01;
      var f = d / k;
      a.vx -= dx * f; a.vy -= dy * f; b.vx += dx * f; b.vy += dy * f;
    });
    for (var i = 0; i < n; i++) {
      var v = Math.sqrt(pos[i].vx * pos[i].vx + pos[i].vy * pos[i].vy) + 0.01, m = Math.min(v, k * 10 * t);
      pos[i].x = Math.min(W - 110, Math.max(20, pos[i].x + pos[i].vx / v * m));
      pos[i].y = Math.min(H - 20, Math.max(20, pos[i].y + pos[i].vy / v * m));
    }
  }
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var a in attrs) e.setAttribute(a, attrs[a]);
    parent.appendChild(e);
    return e;
  }
  var defs = el("defs", {}, svg);
  var marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "16", refY: "5", markerWidth: "6", markerHeight: "6", orient: "auto" }, defs);
  el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#888" }, marker);
  var edgeLayer = el("g", {}, svg), nodeLayer = el("g", {}, svg);
  // Several edges between one pair bend apart so each stays visible and hoverable.
  var seen = {};
  data.edges.forEach(function (e) {
    var a = pos[index[e.from]], b = pos[index[e.to]];
    var pair = e.from < e.to ? e.from + "|" + e.to : e.to + "|" + e.from;
    var nth = seen[pair] = (seen[pair] || 0) + 1;
    var bend = (nth % 2 ? 1 : -1) * Math.ceil((nth - 1) / 2) * 18;
    var mx = (a.x + b.x) / 2, my = (a.y + b.y) / 2, dx = b.x - a.x, dy = b.y - a.y, len = Math.sqrt(dx * dx + dy * dy) || 1;
    var d;
    if (e.from === e.to) {
      d = "M" + a.x + "," + a.y + " c 30,-40 60,0 0,0";
    } else {
      d = "M" + a.x + "," + a.y + " Q" + (mx - dy / len * bend) + "," + (my + dx / len * bend) + " " + b.x + "," + b.y;
    }
    var p = el("path", { d: d, "class": "edge " + e.kind, "data-id": e.id, "marker-end": "url(#arrow)" }, edgeLayer);
    el("title", {}, p).textContent = e.title + (e.patterns.length ? "\npatterns: " + e.patterns.join(", ") : "");
  });
  data.nodes.forEach(function (d, i) {
    var g = el("g", { "class": "node", "data-id": d.id, transform: "translate(" + pos[i].x + "," + pos[i].y + ")" }, nodeLayer);
    el("circle", { r: 7, fill: d.colour }, g);
    el("title", {}, g).textContent = d.id + (d.disposition ? " (" + d.disposition + ")" : "") + "\n" + d.degree + " edge(s)";
    el("text", { x: 9, y: 3 }, g).textContent = d.id;
  });
  // What was drawn, read back from the SVG itself, for checks in a headless browser.
  function ids(selector) {
    return Array.prototype.map.call(svg.querySelectorAll(selector), function (e) { return e.getAttribute("data-id"); }).sort();
  }
  var nodes = ids("g.node"), edges = ids("path.edge");
  var outN = document.getElementById("drawn-nodes"), outE = document.getElementById("drawn-edges");
  outN.textContent = nodes.join("\n"); outN.setAttribute("data-count", nodes.length);
  outE.textContent = edges.join("\n"); outE.setAttribute("data-count", edges.length);
  document.body.setAttribute("data-drawn", "yes");
})();
"##;

/// One self-contained HTML page: the drawing, a legend and the tables.
pub fn write_html(graph: &Graph, w: &mut dyn Write) -> Result<()> {
    let mut degree: BTreeMap<&str, usize> = BTreeMap::new();
    for e in graph.edges.values() {
        *degree.entry(e.from.as_str()).or_default() += 1;
        *degree.entry(e.to.as_str()).or_default() += 1;
    }
    let nodes: Vec<serde_json::Value> = graph
        .nodes
        .values()
        .map(|n| {
            serde_json::json!({
                "id": n.id, "disposition": n.disposition, "colour": colour(&n.disposition),
                "degree": degree.get(n.id.as_str()).copied().unwrap_or(0),
            })
        })
        .collect();
    let edges: Vec<serde_json::Value> = graph
        .edges
        .values()
        .map(|e| {
            serde_json::json!({
                "id": e.id, "kind": e.kind.name(), "from": e.from, "to": e.to,
                "label": e.label, "title": e.title, "patterns": e.patterns,
            })
        })
        .collect();
    let data = serde_json::json!({ "title": graph.title, "nodes": nodes, "edges": edges });

    writeln!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">"
    )?;
    writeln!(w, "<meta name=\"generator\" content=\"flowpat\">")?;
    writeln!(
        w,
        "<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
        html_escape(&graph.title)
    )?;
    writeln!(w, "<header><h1>{}</h1>", html_escape(&graph.title))?;
    writeln!(
        w,
        "<p id=\"summary\" data-nodes=\"{}\" data-edges=\"{}\">{} address(es), {} edge(s): flows solid, events dashed, record-less results bold; hover for attributes.</p></header>",
        graph.nodes.len(),
        graph.edges.len(),
        graph.nodes.len(),
        graph.edges.len()
    )?;
    writeln!(w, "<main>\n<section id=\"graph\"><svg id=\"canvas\" role=\"img\" aria-label=\"result graph\"></svg>")?;
    let mut labels: Vec<&str> = graph
        .nodes
        .values()
        .map(|n| n.disposition.as_str())
        .collect();
    labels.sort();
    labels.dedup();
    write!(w, "<div id=\"legend\">")?;
    for label in labels {
        let shown = if label.is_empty() {
            "(no networks file)"
        } else {
            label
        };
        write!(
            w,
            "<span><i style=\"background:{}\"></i>{}</span>",
            colour(label),
            html_escape(shown)
        )?;
    }
    writeln!(w, "</div>")?;
    if graph.edges_left_out > 0 {
        writeln!(w, "<div class=\"note\">{} more edge(s) not drawn (at most {MAX_EDGES}); the tables list the results.</div>", graph.edges_left_out)?;
    }
    writeln!(w, "</section>\n<section id=\"side\">")?;
    for table in &graph.tables {
        writeln!(
            w,
            "<table>\n<caption>{}</caption>\n<thead><tr>",
            html_escape(&table.title)
        )?;
        for h in &table.header {
            write!(w, "<th>{}</th>", html_escape(h))?;
        }
        writeln!(w, "</tr></thead>\n<tbody>")?;
        for row in &table.rows {
            write!(w, "<tr>")?;
            for cell in row {
                write!(w, "<td>{}</td>", html_escape(cell))?;
            }
            writeln!(w, "</tr>")?;
        }
        writeln!(w, "</tbody>\n</table>")?;
        if table.rows.len() < table.total {
            writeln!(
                w,
                "<div class=\"note\">{} more row(s) not shown.</div>",
                table.total - table.rows.len()
            )?;
        }
    }
    writeln!(w, "</section>\n</main>")?;
    writeln!(w, "<pre class=\"drawn\" id=\"drawn-nodes\"></pre>\n<pre class=\"drawn\" id=\"drawn-edges\"></pre>")?;
    writeln!(
        w,
        "<script type=\"application/json\" id=\"flowpat-graph\">{}</script>",
        script_json(&data)
    )?;
    writeln!(w, "<script>{SCRIPT}</script>\n</body>\n</html>")?;
    Ok(())
}

/// A graph of result sets, as `run --format dot|html` draws them.
pub fn results_graph(
    sets: &[&ResultSet],
    flows: &FileTable,
    events: &FileTable,
    networks: Option<&Networks>,
) -> Graph {
    let title = match sets {
        [one] => format!("flowpat: {}", one.pattern),
        many => format!("flowpat: {} patterns", many.len()),
    };
    let mut graph = Graph::new(&title);
    for set in sets {
        graph.add_results(set, flows, events, networks);
    }
    graph
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_each_target() {
        assert_eq!(dot_quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(
            html_escape("<a href='x'>&</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"
        );
        let v = serde_json::json!({ "s": "</script><!--" });
        assert!(!script_json(&v).contains('<'));
    }

    #[test]
    fn colours_are_stable() {
        assert_eq!(colour("internal"), "#4e79a7");
        assert_eq!(colour("partner"), colour("partner"));
    }
}
