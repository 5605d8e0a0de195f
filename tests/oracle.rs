//! The independent oracle: each catalog pattern of `flow-model.md` as plain loops.
//!
//! Nothing here comes from `compiler` or `engine`; an engine bug and an oracle bug must not be
//! able to agree. Each function maps the exported identity tuple, as the CLI prints it, to the
//! number of matches behind it. Arithmetic is exact (`u128`/`i128`), times are microseconds.
//!
//! Tuples: patterns 1, 2 and 5 give `[srcadr, conn.file, conn.row, destadr]`; patterns 3 and 4
//! give `[event.file, event.row, srcadr, conn.file, conn.row, destadr]`; pattern 6 gives
//! `[srcadr, destadr, ports]`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::model::{identity, print_addr, proto, Ev, Flow, HOUR_US, SECOND_US};
use crate::networks::Networks;

/// Results of one pattern: exported identity tuple → `matches`.
pub type Results = BTreeMap<Vec<String>, u64>;

/// The signature every catalog oracle has.
pub type Oracle = fn(&[Flow], &[Ev], &Networks) -> Results;

fn internal_to_external(flow: &Flow, nets: &Networks) -> bool {
    nets.is_internal(flow.src) && !nets.is_internal(flow.dst)
}

fn conn_tuple(flow: &Flow) -> Vec<String> {
    vec![
        print_addr(flow.src),
        flow.file.clone(),
        flow.row.to_string(),
        print_addr(flow.dst),
    ]
}

/// Adds one match for `tuple`.
fn add(results: &mut Results, tuple: Vec<String>) {
    *results.entry(tuple).or_insert(0) += 1;
}

/// 1. Ephemeral TCP Connections.
pub fn ephemeral_tcp(flows: &[Flow], _events: &[Ev], nets: &Networks) -> Results {
    let mut results = Results::new();
    for flow in flows {
        if internal_to_external(flow, nets)
            && flow.protocol == proto::TCP
            && flow.src_port > 1024
            && flow.dst_port > 1024
            && flow.duration_us() > 0
            && flow.bytes_sent > 0
        {
            add(&mut results, conn_tuple(flow));
        }
    }
    results
}

/// 2. Exfiltration Connections.
pub fn exfiltration(flows: &[Flow], _events: &[Ev], nets: &Networks) -> Results {
    let mut results = Results::new();
    for flow in flows {
        if internal_to_external(flow, nets)
            && flow.bytes_sent > 1_000_000
            && u128::from(flow.bytes_sent) >= 10 * u128::from(flow.bytes_received)
            && flow.duration_us() > SECOND_US
        {
            add(&mut results, conn_tuple(flow));
        }
    }
    results
}

/// The flows of the FTP patterns: TCP from an internal host to an external one, port 21.
fn ftp_flows<'a>(flows: &'a [Flow], nets: &'a Networks) -> impl Iterator<Item = &'a Flow> + 'a {
    flows.iter().filter(move |flow| {
        internal_to_external(flow, nets) && flow.protocol == proto::TCP && flow.dst_port == 21
    })
}

fn ftp_tuple(event: &Ev, flow: &Flow) -> Vec<String> {
    let mut tuple = vec![event.file.clone(), event.row.to_string()];
    tuple.extend(conn_tuple(flow));
    tuple
}

/// Every (event, flow) pair where the event's destination is the flow's internal source H,
/// kept when `keep(event, flow)`.
fn ftp_pairs(
    flows: &[Flow],
    events: &[Ev],
    nets: &Networks,
    keep: impl Fn(&Ev, &Flow) -> bool,
) -> Results {
    let mut results = Results::new();
    for flow in ftp_flows(flows, nets) {
        for event in events {
            if identity(event.dst) == identity(flow.src) && keep(event, flow) {
                add(&mut results, ftp_tuple(event, flow));
            }
        }
    }
    results
}

/// 3. FTP Exfiltration Connections (no time condition).
pub fn ftp_exfiltration(flows: &[Flow], events: &[Ev], nets: &Networks) -> Results {
    ftp_pairs(flows, events, nets, |_, _| true)
}

/// 4. FTP Exfiltration Connections (Temporal): `0 < conn.startTime - event.time <= 24 h`.
pub fn ftp_exfiltration_temporal(flows: &[Flow], events: &[Ev], nets: &Networks) -> Results {
    ftp_pairs(flows, events, nets, |event, flow| {
        let lag = i128::from(flow.start_us) - i128::from(event.time_us);
        0 < lag && lag <= i128::from(24 * HOUR_US)
    })
}

/// The least valid average packet size of a protocol (by number, whatever the IP version).
fn min_packet_bytes(protocol: u8) -> u128 {
    match protocol {
        proto::TCP => 40,
        proto::UDP | proto::ICMP => 28,
        _ => 20,
    }
}

/// Whether one direction of a flow is invalid.
fn invalid_direction(bytes: u64, packets: u64, min: u128) -> bool {
    let (bytes, packets) = (u128::from(bytes), u128::from(packets));
    if packets == 0 {
        return bytes > 0;
    }
    bytes == 0 || bytes < min * packets || bytes > 65_535 * packets
}

/// 5. Invalid IP Packets.
pub fn invalid_ip_packets(flows: &[Flow], _events: &[Ev], _nets: &Networks) -> Results {
    let mut results = Results::new();
    for flow in flows {
        let min = min_packet_bytes(flow.protocol);
        if invalid_direction(flow.bytes_sent, flow.packets_sent, min)
            || invalid_direction(flow.bytes_received, flow.packets_received, min)
        {
            add(&mut results, conn_tuple(flow));
        }
    }
    results
}

/// Pattern 6, Port Jumping Hosts.
///
/// Per (internal host, external host), the distinct TCP/UDP destination ports below 1024;
/// pairs with at least 3 give `[src, dst, count]` with the number of such connections as
/// `matches`.
pub fn port_jumping(flows: &[Flow], _events: &[Ev], nets: &Networks) -> Results {
    let mut pairs: BTreeMap<(IpAddr, IpAddr), (BTreeSet<u16>, u64)> = BTreeMap::new();
    for flow in flows {
        if internal_to_external(flow, nets)
            && (flow.protocol == proto::TCP || flow.protocol == proto::UDP)
            && flow.dst_port < 1024
        {
            let (ports, conns) = pairs
                .entry((identity(flow.src), identity(flow.dst)))
                .or_default();
            ports.insert(flow.dst_port);
            *conns += 1;
        }
    }
    pairs
        .into_iter()
        .filter(|(_, (ports, _))| ports.len() >= 3)
        .map(|((src, dst), (ports, conns))| {
            (
                vec![src.to_string(), dst.to_string(), ports.len().to_string()],
                conns,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_direction_boundaries() {
        assert!(!invalid_direction(0, 0, 40));
        assert!(invalid_direction(1, 0, 40));
        assert!(invalid_direction(0, 1, 20));
        assert!(!invalid_direction(400, 10, 40));
        assert!(invalid_direction(399, 10, 40));
        assert!(!invalid_direction(655_350, 10, 40));
        assert!(invalid_direction(655_351, 10, 40));
        assert!(invalid_direction(u64::MAX, u64::MAX, 40));
        assert!(invalid_direction(u64::MAX, 1, 40));
    }
}
