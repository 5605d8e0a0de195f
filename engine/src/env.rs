//! Evaluation environments: where `compiler::eval` reads attribute values from.
//!
//! The same compiled expressions are evaluated over decoded Arrow batches (push-down, before
//! the dataflow) and over joined rows (inside joins and aggregates); these two environments
//! are the only places that map the flow model's attributes onto stored values.

use compiler::eval::{Env, Val};
use compiler::hir::InstanceId;
use compiler::model::{Attr, Role};
use compiler::plan::AddrBinding;

use crate::datum::Datum;
use crate::load::batch::{EventBatch, FlowBatch};
use crate::load::networks::{LabelId, Networks};
use crate::model::{Addr, Conn, Event};

fn conn_attr(c: &Conn, attr: Attr) -> Val<'_> {
    match attr {
        Attr::Protocol => Val::int(c.protocol),
        Attr::SrcPort => Val::int(c.src_port),
        Attr::DestPort => Val::int(c.dst_port),
        Attr::StartTime => Val::Time(c.start),
        Attr::EndTime => Val::Time(c.end),
        Attr::DurationSeconds => c
            .end
            .checked_sub(c.start)
            .map(Val::Dur)
            .unwrap_or(Val::Null),
        Attr::BytesSent => Val::int(c.bytes_sent),
        Attr::BytesReceived => Val::int(c.bytes_received),
        Attr::PacketsSent => Val::int(c.packets_sent),
        Attr::PacketsReceived => Val::int(c.packets_received),
        Attr::Service => c.service.as_deref().map(Val::Str).unwrap_or(Val::Null),
        _ => Val::Null,
    }
}

fn event_attr(e: &Event, attr: Attr) -> Val<'_> {
    match attr {
        Attr::Time => Val::Time(e.time),
        Attr::Signature => Val::Str(&e.signature),
        Attr::Severity => Val::int(e.severity),
        Attr::Category => Val::Str(&e.category),
        _ => Val::Null,
    }
}

fn addr_attr<'a>(networks: &'a Networks, addr: Addr, attr: Attr) -> Val<'a> {
    match attr {
        Attr::Address => Val::Addr(addr),
        Attr::Disposition => Val::Str(networks.label_name(networks.label(addr))),
        _ => Val::Null,
    }
}

/// An address instance's attribute, read from the end of a batch row it is bound to
/// (`src`/`dst`: the row's address and label at each end).
fn bound_address<'a>(
    addresses: &[AddrBinding],
    inst: InstanceId,
    attr: Attr,
    src: (Addr, LabelId),
    dst: (Addr, LabelId),
    networks: &'a Networks,
) -> Val<'a> {
    let Some(binding) = addresses.iter().find(|a| a.address == inst) else {
        return Val::Null;
    };
    let (addr, label) = match binding.role {
        Role::Source => src,
        Role::Destination => dst,
    };
    match attr {
        Attr::Address => Val::Addr(addr),
        Attr::Disposition => Val::Str(networks.label_name(label)),
        _ => Val::Null,
    }
}

/// The extra column `name` of batch row `row` (`columns` aligned with `names`).
fn extra_cell<'a>(
    names: &[String],
    columns: &'a [Vec<Option<String>>],
    row: usize,
    name: &str,
) -> Val<'a> {
    names
        .iter()
        .position(|c| c == name)
        .and_then(|k| columns.get(k))
        .and_then(|col| col.get(row))
        .and_then(|v| v.as_deref())
        .map(Val::Str)
        .unwrap_or(Val::Null)
}

/// One row of a decoded flow batch, with the scan's address bindings.
pub struct FlowRowEnv<'a> {
    /// The batch.
    pub batch: &'a FlowBatch,
    /// Row index.
    pub row: usize,
    /// The record instance the batch binds.
    pub instance: InstanceId,
    /// Address instances readable from it.
    pub addresses: &'a [AddrBinding],
    /// Labels.
    pub networks: &'a Networks,
    /// Extra column names requested, aligned with `batch.extra`.
    pub extra: &'a [String],
}

impl<'a> Env<'a> for FlowRowEnv<'a> {
    fn attr(&self, inst: InstanceId, attr: Attr) -> Val<'a> {
        let (b, i) = (self.batch, self.row);
        if inst == self.instance {
            return match attr {
                Attr::Protocol => Val::int(b.protocol[i]),
                Attr::SrcPort => Val::int(b.src_port[i]),
                Attr::DestPort => Val::int(b.dst_port[i]),
                Attr::StartTime => Val::Time(b.start[i]),
                Attr::EndTime => Val::Time(b.end[i]),
                Attr::DurationSeconds => b.end[i]
                    .checked_sub(b.start[i])
                    .map(Val::Dur)
                    .unwrap_or(Val::Null),
                Attr::BytesSent => Val::int(b.bytes_sent[i]),
                Attr::BytesReceived => Val::int(b.bytes_received[i]),
                Attr::PacketsSent => Val::int(b.packets_sent[i]),
                Attr::PacketsReceived => Val::int(b.packets_received[i]),
                Attr::Service => b
                    .service
                    .get(i)
                    .and_then(|s| s.as_deref())
                    .map(Val::Str)
                    .unwrap_or(Val::Null),
                _ => Val::Null,
            };
        }
        bound_address(
            self.addresses,
            inst,
            attr,
            (b.src[i], b.src_label[i]),
            (b.dst[i], b.dst_label[i]),
            self.networks,
        )
    }

    fn column(&self, inst: InstanceId, name: &str) -> Val<'a> {
        if inst != self.instance {
            return Val::Null;
        }
        extra_cell(self.extra, &self.batch.extra, self.row, name)
    }
}

/// One row of a decoded event batch.
pub struct EventRowEnv<'a> {
    /// The batch.
    pub batch: &'a EventBatch,
    /// Row index.
    pub row: usize,
    /// The record instance the batch binds.
    pub instance: InstanceId,
    /// Address instances readable from it.
    pub addresses: &'a [AddrBinding],
    /// Labels.
    pub networks: &'a Networks,
    /// Extra column names requested, aligned with `batch.extra`.
    pub extra: &'a [String],
}

impl<'a> Env<'a> for EventRowEnv<'a> {
    fn attr(&self, inst: InstanceId, attr: Attr) -> Val<'a> {
        let (b, i) = (self.batch, self.row);
        if inst == self.instance {
            return match attr {
                Attr::Time => Val::Time(b.time[i]),
                Attr::Signature => Val::Str(&b.signature[i]),
                Attr::Severity => Val::int(b.severity[i]),
                Attr::Category => Val::Str(&b.category[i]),
                _ => Val::Null,
            };
        }
        bound_address(
            self.addresses,
            inst,
            attr,
            (b.src[i], b.src_label[i]),
            (b.dst[i], b.dst_label[i]),
            self.networks,
        )
    }

    fn column(&self, inst: InstanceId, name: &str) -> Val<'a> {
        if inst != self.instance {
            return Val::Null;
        }
        extra_cell(self.extra, &self.batch.extra, self.row, name)
    }
}

/// Where each instance lives in a joined row.
#[derive(Clone, Debug)]
pub struct RowLayout {
    /// Record instance → position in the row.
    pub records: Vec<(InstanceId, usize)>,
    /// Address instance → the record and end it is read from.
    pub addresses: Vec<AddrBinding>,
    /// Address instance → position of a [`Datum::Addr`] in the row (ends of chains).
    pub addr_slots: Vec<(InstanceId, usize)>,
    /// Extra column names, per entity: flows', then events' (aligned with `Conn::extra`/`Event::extra`).
    pub flow_extra: Vec<String>,
    /// Events' extra column names.
    pub event_extra: Vec<String>,
}

impl RowLayout {
    /// The record bound to `inst` in `row`.
    pub fn record<'r>(&self, row: &'r [Datum], inst: InstanceId) -> Option<&'r Datum> {
        self.records
            .iter()
            .find(|(i, _)| *i == inst)
            .and_then(|(_, pos)| row.get(*pos))
    }

    /// The address `inst` in `row`.
    pub fn address(&self, row: &[Datum], inst: InstanceId) -> Option<Addr> {
        if let Some((_, pos)) = self.addr_slots.iter().find(|(i, _)| *i == inst) {
            return match row.get(*pos) {
                Some(Datum::Addr(a)) => Some(*a),
                _ => None,
            };
        }
        let b = self.addresses.iter().find(|b| b.address == inst)?;
        match (self.record(row, b.record)?, b.role) {
            (Datum::Conn(c), Role::Source) => Some(c.src),
            (Datum::Conn(c), Role::Destination) => Some(c.dst),
            (Datum::Event(e), Role::Source) => Some(e.src),
            (Datum::Event(e), Role::Destination) => Some(e.dst),
            _ => None,
        }
    }
}

/// A joined row (possibly with a second row appended, for conditions on joined pairs).
pub struct RowEnv<'a> {
    /// Layout of `row`.
    pub layout: &'a RowLayout,
    /// The row.
    pub row: &'a [Datum],
    /// Labels.
    pub networks: &'a Networks,
    /// Aggregate values (in `having`).
    pub aggs: &'a [Datum],
}

impl<'a> Env<'a> for RowEnv<'a> {
    fn attr(&self, inst: InstanceId, attr: Attr) -> Val<'a> {
        match self.layout.record(self.row, inst) {
            Some(Datum::Conn(c)) => conn_attr(c, attr),
            Some(Datum::Event(e)) => event_attr(e, attr),
            _ => match self.layout.address(self.row, inst) {
                Some(a) => addr_attr(self.networks, a, attr),
                None => Val::Null,
            },
        }
    }

    fn column(&self, inst: InstanceId, name: &str) -> Val<'a> {
        match self.layout.record(self.row, inst) {
            Some(Datum::Conn(c)) => self
                .layout
                .flow_extra
                .iter()
                .position(|n| n == name)
                .and_then(|k| c.extra.get(k))
                .and_then(|v| v.as_deref())
                .map(Val::Str)
                .unwrap_or(Val::Null),
            Some(Datum::Event(e)) => self
                .layout
                .event_extra
                .iter()
                .position(|n| n == name)
                .and_then(|k| e.extra.get(k))
                .and_then(|v| v.as_deref())
                .map(Val::Str)
                .unwrap_or(Val::Null),
            _ => Val::Null,
        }
    }

    fn agg(&self, k: usize) -> Val<'a> {
        self.aggs.get(k).map(Datum::to_val).unwrap_or(Val::Null)
    }
}
