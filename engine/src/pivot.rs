//! Pivot: the neighbourhood of a few addresses within time windows — every flow and event that
//! touches one of them while its window is open — and the records behind `file:row` names.
//!
//! This is a scan, not a pattern: an analyst pivoting from an alert wants every record about
//! a host, not only those some pattern would bind. Each seed has its own window, so pivoting
//! from several alerts at once does not widen every one to the span of all. The archive is
//! read once with the union of the windows (row groups outside it are skipped by their
//! statistics), and each row is kept if it falls in the window of a seed it touches. Records
//! come back sorted by identity, so the same archive and seeds give the same neighbourhood.

use std::collections::BTreeSet;

use crate::load::{self, EventColumns, FileTable, FlowColumns, LoadError, ReadOptions};
use crate::model::{Addr, Conn, Event, RecordId};
use crate::run::Inputs;

/// One starting point: addresses and the window in which their records count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seed {
    /// The addresses whose flows and events are wanted.
    pub addresses: BTreeSet<Addr>,
    /// Records at or after this time (UTC micros; flows by start, events by time).
    pub since: Option<i64>,
    /// Records strictly before this time.
    pub until: Option<i64>,
}

impl Seed {
    fn in_window(&self, time: i64) -> bool {
        self.since.is_none_or(|s| time >= s) && self.until.is_none_or(|u| time < u)
    }

    fn touches(&self, src: Addr, dst: Addr, time: i64) -> bool {
        (self.addresses.contains(&src) || self.addresses.contains(&dst)) && self.in_window(time)
    }
}

/// Every flow and event in the neighbourhood of some seeds, sorted by identity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Neighbourhood {
    /// Flows touching a seed address in its window.
    pub flows: Vec<Conn>,
    /// Events touching a seed address in its window.
    pub events: Vec<Event>,
}

/// The union of the seeds' windows (`None` on a side: unbounded there).
pub fn span(seeds: &[Seed]) -> (Option<i64>, Option<i64>) {
    let since = seeds
        .iter()
        .map(|s| s.since)
        .try_fold(i64::MAX, |acc, s| s.map(|s| acc.min(s)));
    let until = seeds
        .iter()
        .map(|s| s.until)
        .try_fold(i64::MIN, |acc, u| u.map(|u| acc.max(u)));
    (since, until)
}

/// Reads the neighbourhood of `seeds` (an empty seed list gives an empty neighbourhood).
/// `read` gives the bad-row policy; its window is replaced by the seeds' span.
pub fn neighbourhood(
    inputs: &Inputs,
    seeds: &[Seed],
    read: &ReadOptions,
) -> Result<Neighbourhood, LoadError> {
    let mut out = Neighbourhood::default();
    if seeds.is_empty() {
        return Ok(out);
    }
    let (since, until) = span(seeds);
    let opts = ReadOptions {
        since,
        until,
        ..*read
    };
    let flow_req = FlowColumns::all();
    for file in inputs.flows.files() {
        load::read_flows(file, &flow_req, &inputs.networks, &opts, &mut |batch| {
            for row in 0..batch.len() {
                if seeds
                    .iter()
                    .any(|s| s.touches(batch.src[row], batch.dst[row], batch.start[row]))
                {
                    out.flows.push(batch.to_conn(row));
                }
            }
        })?;
    }
    let event_req = EventColumns::all();
    for file in inputs.events.files() {
        load::read_events(file, &event_req, &inputs.networks, &opts, &mut |batch| {
            for row in 0..batch.len() {
                if seeds
                    .iter()
                    .any(|s| s.touches(batch.src[row], batch.dst[row], batch.time[row]))
                {
                    out.events.push(batch.to_event(row));
                }
            }
        })?;
    }
    out.flows.sort_by_key(|c| c.id);
    out.events.sort_by_key(|e| e.id);
    Ok(out)
}

/// The flows with these identities (those found; a row past a file's end is simply absent).
/// Only the files named are read.
pub fn flows_by_id(
    flows: &FileTable,
    networks: &load::Networks,
    ids: &[RecordId],
    read: &ReadOptions,
) -> Result<Vec<Conn>, LoadError> {
    let wanted: BTreeSet<RecordId> = ids.iter().copied().collect();
    let files: BTreeSet<_> = wanted.iter().map(|id| id.file).collect();
    let opts = ReadOptions {
        since: None,
        until: None,
        ..*read
    };
    let mut out = Vec::new();
    for file in files.into_iter().filter_map(|f| flows.get(f)) {
        load::read_flows(file, &FlowColumns::all(), networks, &opts, &mut |batch| {
            for row in 0..batch.len() {
                if wanted.contains(&batch.id(row)) {
                    out.push(batch.to_conn(row));
                }
            }
        })?;
    }
    out.sort_by_key(|c| c.id);
    Ok(out)
}

/// The events with these identities, as [`flows_by_id`].
pub fn events_by_id(
    events: &FileTable,
    networks: &load::Networks,
    ids: &[RecordId],
    read: &ReadOptions,
) -> Result<Vec<Event>, LoadError> {
    let wanted: BTreeSet<RecordId> = ids.iter().copied().collect();
    let files: BTreeSet<_> = wanted.iter().map(|id| id.file).collect();
    let opts = ReadOptions {
        since: None,
        until: None,
        ..*read
    };
    let mut out = Vec::new();
    for file in files.into_iter().filter_map(|f| events.get(f)) {
        load::read_events(file, &EventColumns::all(), networks, &opts, &mut |batch| {
            for row in 0..batch.len() {
                if wanted.contains(&batch.id(row)) {
                    out.push(batch.to_event(row));
                }
            }
        })?;
    }
    out.sort_by_key(|e| e.id);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(since: Option<i64>, until: Option<i64>) -> Seed {
        Seed {
            addresses: BTreeSet::new(),
            since,
            until,
        }
    }

    #[test]
    fn span_is_the_union_and_unbounded_wins() {
        assert_eq!(
            span(&[seed(Some(10), Some(20)), seed(Some(5), Some(15))]),
            (Some(5), Some(20))
        );
        assert_eq!(
            span(&[seed(Some(10), Some(20)), seed(None, Some(15))]),
            (None, Some(20))
        );
        assert_eq!(span(&[seed(Some(10), None)]), (Some(10), None));
    }

    #[test]
    fn a_seed_window_is_half_open() {
        let s = Seed {
            addresses: [Addr(1)].into_iter().collect(),
            since: Some(10),
            until: Some(20),
        };
        assert!(s.touches(Addr(1), Addr(2), 10));
        assert!(s.touches(Addr(2), Addr(1), 19));
        assert!(!s.touches(Addr(1), Addr(2), 20));
        assert!(!s.touches(Addr(2), Addr(3), 15));
    }
}
