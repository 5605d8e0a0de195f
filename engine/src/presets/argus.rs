//! Argus `ra` CSV as the CTU data sets publish it (`binetflow`).
//!
//! Header `StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,
//! TotBytes,SrcBytes[,SrcPkts],Label`; columns are found by name (any case), so other `ra -s`
//! field lists work too (`LastTime`, `DstBytes`, `DstPkts` are used when present).
//!
//! Argus records are bidirectional: `SrcAddr` is the originator, bytes sent = `SrcBytes`,
//! bytes received = `DstBytes`, else `TotBytes − SrcBytes`. Packets sent/received are
//! `SrcPkts`/`DstPkts` (or total minus the other); when the file has only `TotPkts` the split
//! follows [`super::delimited::split_packets`]: exact for one-sided flows, in proportion to the
//! bytes otherwise, a documented estimate. `Dir` is kept as an extra column and never swaps
//! the endpoints. Ports may be hexadecimal (`0x0303` = 771: Argus prints ICMP type/code that
//! way) or empty (0). Times are naive (`2019/04/04 16:23:00.325010`, or epoch seconds) and read
//! as UTC unless `tz` is set. Non-IP records (`arp`, `llc`: addresses without ports) are no
//! flows: skipped and counted apart ([`TextReport::skipped_not_flows`](super::TextReport)), not
//! malformed. `Dir`, `State`, `sTos`, `dTos`, `Label` and any other column are extras.

use chrono::FixedOffset;

use super::delimited::{find, require, Dialect, Mapping};
use super::proto::is_not_ip;

/// The Argus dialect.
pub(crate) struct Argus;

impl Dialect for Argus {
    fn delimiter(&self, first_line: &str) -> char {
        if first_line.contains(',') {
            ','
        } else if first_line.contains('\t') {
            '\t'
        } else {
            ','
        }
    }

    fn is_header(&self, fields: &[&str]) -> bool {
        fields.iter().any(|f| f.eq_ignore_ascii_case("StartTime"))
    }

    fn is_not_a_flow(&self, protocol: &str) -> bool {
        is_not_ip(protocol)
    }

    fn headerless_names(&self, _fields: &[&str], _tz: Option<FixedOffset>) -> Option<Vec<String>> {
        None
    }

    fn map(&self, names: &[String]) -> Result<Mapping, String> {
        Ok(Mapping {
            start: require(names, &["StartTime", "stime"])?,
            end: find(names, &["LastTime", "ltime"]),
            duration: find(names, &["Dur"]),
            src: require(names, &["SrcAddr", "saddr"])?,
            dst: require(names, &["DstAddr", "daddr"])?,
            src_port: find(names, &["Sport"]),
            dst_port: find(names, &["Dport"]),
            protocol: require(names, &["Proto"])?,
            bytes_sent: find(names, &["SrcBytes", "sbytes"]),
            bytes_received: find(names, &["DstBytes", "dbytes"]),
            bytes_total: find(names, &["TotBytes", "bytes"]),
            packets_sent: find(names, &["SrcPkts", "spkts"]),
            packets_received: find(names, &["DstPkts", "dpkts"]),
            packets_total: find(names, &["TotPkts", "pkts"]),
            silk_addresses: false,
        })
    }
}
