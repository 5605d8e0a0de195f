//! Optional pairing of unidirectional flow records (nfdump, SiLK) into one bidirectional row.
//!
//! NetFlow-style exporters write one record per direction, so a download is two records and
//! `bytes_received` is always 0; the catalog's per-record semantics then treat every large
//! upload as one-sided (flow-model C31). With `biflow_timeout = Some(t)`, a record is merged
//! with a pending record of the opposite direction of the same conversation: same protocol,
//! endpoints and ports swapped, both still unidirectional (nothing received), starts at most
//! `t` apart. The record that starts first (the earlier in the file on a tie) is the
//! originator: its addresses, ports, `source_row` and extra columns are kept; the other
//! record's bytes and packets become the received counters, the start is the earlier start
//! and the end the later end. The absorbed record is counted in `TextReport::paired`.
//!
//! Memory stays bounded by what arrives within `t`: a record waits only while its start is
//! within `t` of the newest start seen, then it is emitted unpaired. Input sorted by start time
//! (`nfdump -O tstart`, `rwsort --fields=sTime`) therefore pairs every pair; unsorted input
//! can miss pairs whose records are further apart in the file than `t` in time. Rows leave in
//! a deterministic order (a pair when its second record arrives, the rest as they expire), not
//! in file order; `source_row` keeps their identity.

use std::collections::{HashMap, VecDeque};

use super::batch::FlowRow;

/// `(src, src_port, dst, dst_port, protocol)` of a record.
type Key = (u128, u16, u128, u16, u8);

pub(crate) struct Pairer {
    timeout: i64,
    /// Sequence number of `pending[0]`.
    base: u64,
    /// Waiting records in arrival order; `None` once taken by a pair.
    pending: VecDeque<Option<FlowRow>>,
    index: HashMap<Key, VecDeque<u64>>,
    newest_start: i64,
}

fn key(row: &FlowRow) -> Key {
    (
        row.src.0,
        row.src_port,
        row.dst.0,
        row.dst_port,
        row.protocol,
    )
}

fn reverse_key(row: &FlowRow) -> Key {
    (
        row.dst.0,
        row.dst_port,
        row.src.0,
        row.src_port,
        row.protocol,
    )
}

fn unidirectional(row: &FlowRow) -> bool {
    row.bytes_received == 0 && row.packets_received == 0
}

impl Pairer {
    pub(crate) fn new(timeout: i64) -> Pairer {
        Pairer {
            timeout: timeout.max(0),
            base: 0,
            pending: VecDeque::new(),
            index: HashMap::new(),
            newest_start: i64::MIN,
        }
    }

    /// Offers a record; rows that are final are appended to `out`. Returns whether the record
    /// was paired with a waiting one.
    pub(crate) fn push(&mut self, row: FlowRow, out: &mut Vec<FlowRow>) -> bool {
        let mut paired = false;
        self.newest_start = self.newest_start.max(row.start);
        if unidirectional(&row) {
            if let Some(partner) = self.take_partner(&row) {
                out.push(merge(partner, row));
                paired = true;
            } else {
                let seq = self.base + self.pending.len() as u64;
                self.index.entry(key(&row)).or_default().push_back(seq);
                self.pending.push_back(Some(row));
            }
        } else {
            out.push(row);
        }
        self.expire(out);
        paired
    }

    fn take_partner(&mut self, row: &FlowRow) -> Option<FlowRow> {
        let rkey = reverse_key(row);
        let seqs = self.index.get_mut(&rkey)?;
        let (base, timeout, pending) = (self.base, self.timeout, &self.pending);
        let position = seqs.iter().position(|&seq| {
            let waiting = usize::try_from(seq - base).ok().and_then(|at| pending.get(at));
            matches!(waiting, Some(Some(other)) if other.start.abs_diff(row.start) <= timeout.unsigned_abs())
        })?;
        let seq = seqs.remove(position)?;
        if seqs.is_empty() {
            self.index.remove(&rkey);
        }
        let at = usize::try_from(seq - self.base).ok()?;
        self.pending.get_mut(at)?.take()
    }

    fn expire(&mut self, out: &mut Vec<FlowRow>) {
        let horizon = self.newest_start.saturating_sub(self.timeout);
        while let Some(front) = self.pending.front() {
            match front {
                Some(row) if row.start >= horizon => break,
                _ => {}
            }
            if let Some(Some(row)) = self.pending.pop_front() {
                self.forget(&row, self.base);
                out.push(row);
            }
            self.base += 1;
        }
    }

    fn forget(&mut self, row: &FlowRow, seq: u64) {
        let k = key(row);
        if let Some(seqs) = self.index.get_mut(&k) {
            seqs.retain(|&s| s != seq);
            if seqs.is_empty() {
                self.index.remove(&k);
            }
        }
    }

    /// Everything still waiting, in arrival order.
    pub(crate) fn drain(&mut self) -> Vec<FlowRow> {
        self.index.clear();
        self.pending.drain(..).flatten().collect()
    }
}

/// `first` arrived earlier; the originator is the one that started first.
fn merge(first: FlowRow, second: FlowRow) -> FlowRow {
    let (orig, resp) = if second.start < first.start {
        (second, first)
    } else {
        (first, second)
    };
    FlowRow {
        start: orig.start.min(resp.start),
        end: orig.end.max(resp.end),
        bytes_received: resp.bytes_sent,
        packets_received: resp.packets_sent,
        service: orig.service.or(resp.service),
        ..orig
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Addr;

    fn row(
        src: &str,
        sport: u16,
        dst: &str,
        dport: u16,
        start: i64,
        bytes: u64,
        source_row: u64,
    ) -> FlowRow {
        FlowRow {
            start,
            end: start + 5,
            src: Addr::parse(src).expect("test address"),
            dst: Addr::parse(dst).expect("test address"),
            src_port: sport,
            dst_port: dport,
            protocol: 6,
            bytes_sent: bytes,
            bytes_received: 0,
            packets_sent: 1,
            packets_received: 0,
            service: None,
            source_row,
            extras: Vec::new(),
        }
    }

    fn run(timeout: i64, rows: Vec<FlowRow>) -> (Vec<FlowRow>, u64) {
        let mut pairer = Pairer::new(timeout);
        let mut out = Vec::new();
        let mut paired = 0;
        for r in rows {
            paired += u64::from(pairer.push(r, &mut out));
        }
        out.extend(pairer.drain());
        (out, paired)
    }

    #[test]
    fn pairs_reverse_records_within_the_timeout() {
        let (out, paired) = run(
            10,
            vec![
                row(
                    "192.0.2.180",
                    50000,
                    "203.0.113.180",
                    443,
                    100,
                    2_000_000,
                    0,
                ),
                row(
                    "203.0.113.180",
                    443,
                    "192.0.2.180",
                    50000,
                    102,
                    2_500_000,
                    1,
                ),
            ],
        );
        assert_eq!(paired, 1);
        assert_eq!(out.len(), 1);
        let merged = &out[0];
        assert_eq!(merged.src.to_string(), "192.0.2.180");
        assert_eq!((merged.start, merged.end), (100, 107));
        assert_eq!(
            (merged.bytes_sent, merged.bytes_received),
            (2_000_000, 2_500_000)
        );
        assert_eq!((merged.packets_sent, merged.packets_received), (1, 1));
        assert_eq!(merged.source_row, 0);
    }

    #[test]
    fn the_earlier_start_is_the_originator_and_far_records_stay_apart() {
        let (out, paired) = run(
            10,
            vec![
                row("203.0.113.180", 443, "192.0.2.180", 50000, 105, 7, 0),
                row("192.0.2.180", 50000, "203.0.113.180", 443, 100, 9, 1),
                row("192.0.2.1", 1, "192.0.2.2", 2, 200, 1, 2),
                row("192.0.2.2", 2, "192.0.2.1", 1, 211, 1, 3),
            ],
        );
        assert_eq!(paired, 1);
        assert_eq!(out.len(), 3);
        assert_eq!(
            (out[0].source_row, out[0].bytes_sent, out[0].bytes_received),
            (1, 9, 7)
        );
        assert_eq!(
            out.iter().map(|r| r.source_row).collect::<Vec<_>>(),
            [1, 2, 3]
        );
    }
}
