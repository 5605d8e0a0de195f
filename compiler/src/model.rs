//! The flow model's vocabulary: entity types, their attributes, edge roles, and the single
//! table mapping the names users write (`srcPort`, `durationSeconds`) to typed attributes.
//!
//! Names stay as `flow-model.md` spells them; Rust code uses [`Attr`]. Adding an attribute
//! means adding it here and teaching `engine::load` to read it — nothing else.

use std::fmt;

/// The three entity types of the flow graph.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Entity {
    /// A distinct IP address; identity is the address value.
    Address,
    /// One flow record; identity is its record id.
    Connection,
    /// One security event; identity is its record id.
    Event,
}

impl Entity {
    /// The name users write.
    pub fn name(self) -> &'static str {
        match self {
            Entity::Address => "NetworkAddress",
            Entity::Connection => "NetworkConnection",
            Entity::Event => "Event",
        }
    }

    /// Parses a type name as written.
    pub fn from_name(name: &str) -> Option<Entity> {
        [Entity::Address, Entity::Connection, Entity::Event]
            .into_iter()
            .find(|e| e.name() == name)
    }

    /// All type names, for suggestions.
    pub const NAMES: [&'static str; 3] = ["NetworkAddress", "NetworkConnection", "Event"];

    /// Whether instances of this type are records read from archives (connections, events).
    pub fn is_record(self) -> bool {
        !matches!(self, Entity::Address)
    }

    /// Attributes users can name on this entity.
    pub fn attributes(self) -> &'static [Attr] {
        match self {
            Entity::Address => &[Attr::Address, Attr::Disposition],
            Entity::Connection => &[
                Attr::Protocol,
                Attr::SrcPort,
                Attr::DestPort,
                Attr::StartTime,
                Attr::EndTime,
                Attr::DurationSeconds,
                Attr::BytesSent,
                Attr::BytesReceived,
                Attr::PacketsSent,
                Attr::PacketsReceived,
                Attr::Service,
            ],
            Entity::Event => &[Attr::Time, Attr::Signature, Attr::Severity, Attr::Category],
        }
    }

    /// The attribute whose value places a record in time (`startTime`, `time`).
    pub fn time_attr(self) -> Option<Attr> {
        match self {
            Entity::Address => None,
            Entity::Connection => Some(Attr::StartTime),
            Entity::Event => Some(Attr::Time),
        }
    }

    /// The attribute where a record ends in time (`endTime`; events are instants).
    pub fn end_time_attr(self) -> Option<Attr> {
        match self {
            Entity::Address => None,
            Entity::Connection => Some(Attr::EndTime),
            Entity::Event => Some(Attr::Time),
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Edge roles: a connection's or event's `source` and `destination` address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Role {
    /// Originator / alert source.
    Source,
    /// Responder / alert destination.
    Destination,
}

impl Role {
    /// As written.
    pub fn name(self) -> &'static str {
        match self {
            Role::Source => "source",
            Role::Destination => "destination",
        }
    }

    /// Parses a role as written.
    pub fn from_name(name: &str) -> Option<Role> {
        match name {
            "source" => Some(Role::Source),
            "destination" => Some(Role::Destination),
            _ => None,
        }
    }
}

/// Value types of the language.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Type {
    /// Whole numbers: ports, counters, severity, hop counts.
    Int,
    /// Exact decimals (results of `/`, decimal literals).
    Decimal,
    /// IANA protocol number; literals may be numbers or names (`"06"`, `6`, `"tcp"`).
    Protocol,
    /// Text.
    Str,
    /// An instant, microseconds UTC.
    Time,
    /// A signed span of time, microseconds; bare numbers compared with it are seconds.
    Duration,
    /// An IP address.
    Addr,
    /// True or false.
    Bool,
}

impl Type {
    /// Name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Type::Int => "integer",
            Type::Decimal => "decimal",
            Type::Protocol => "protocol",
            Type::Str => "string",
            Type::Time => "timestamp",
            Type::Duration => "duration",
            Type::Addr => "address",
            Type::Bool => "boolean",
        }
    }

    /// Whether values of this type are numbers (compare and compute with each other).
    pub fn is_numeric(self) -> bool {
        matches!(self, Type::Int | Type::Decimal | Type::Protocol)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An attribute of an entity.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Attr {
    /// NetworkAddress `address`.
    Address,
    /// NetworkAddress `disposition` (label from the networks file).
    Disposition,
    /// NetworkConnection `protocol`.
    Protocol,
    /// NetworkConnection `srcPort`.
    SrcPort,
    /// NetworkConnection `destPort`.
    DestPort,
    /// NetworkConnection `startTime`.
    StartTime,
    /// NetworkConnection `endTime`.
    EndTime,
    /// NetworkConnection `durationSeconds` (exact, microseconds).
    DurationSeconds,
    /// NetworkConnection `bytesSent`.
    BytesSent,
    /// NetworkConnection `bytesReceived`.
    BytesReceived,
    /// NetworkConnection `packetsSent`.
    PacketsSent,
    /// NetworkConnection `packetsReceived`.
    PacketsReceived,
    /// NetworkConnection `service` (may be absent).
    Service,
    /// Event `time`.
    Time,
    /// Event `signature`.
    Signature,
    /// Event `severity`.
    Severity,
    /// Event `category`.
    Category,
}

impl Attr {
    /// The name users write.
    pub fn name(self) -> &'static str {
        match self {
            Attr::Address => "address",
            Attr::Disposition => "disposition",
            Attr::Protocol => "protocol",
            Attr::SrcPort => "srcPort",
            Attr::DestPort => "destPort",
            Attr::StartTime => "startTime",
            Attr::EndTime => "endTime",
            Attr::DurationSeconds => "durationSeconds",
            Attr::BytesSent => "bytesSent",
            Attr::BytesReceived => "bytesReceived",
            Attr::PacketsSent => "packetsSent",
            Attr::PacketsReceived => "packetsReceived",
            Attr::Service => "service",
            Attr::Time => "time",
            Attr::Signature => "signature",
            Attr::Severity => "severity",
            Attr::Category => "category",
        }
    }

    /// Its type.
    pub fn ty(self) -> Type {
        match self {
            Attr::Address => Type::Addr,
            Attr::Disposition | Attr::Service | Attr::Signature | Attr::Category => Type::Str,
            Attr::Protocol => Type::Protocol,
            Attr::SrcPort
            | Attr::DestPort
            | Attr::BytesSent
            | Attr::BytesReceived
            | Attr::PacketsSent
            | Attr::PacketsReceived
            | Attr::Severity => Type::Int,
            Attr::StartTime | Attr::EndTime | Attr::Time => Type::Time,
            Attr::DurationSeconds => Type::Duration,
        }
    }

    /// The whole numbers an integer attribute can hold, as the engine stores it: ports are
    /// `u16`, protocol numbers `u8`, byte and packet counters `u64`, event severity `i32`.
    /// `None` for attributes that are not integers.
    pub fn range(self) -> Option<(i128, i128)> {
        match self {
            Attr::Protocol => Some((0, u8::MAX.into())),
            Attr::SrcPort | Attr::DestPort => Some((0, u16::MAX.into())),
            Attr::BytesSent | Attr::BytesReceived | Attr::PacketsSent | Attr::PacketsReceived => {
                Some((0, u64::MAX.into()))
            }
            Attr::Severity => Some((i32::MIN.into(), i32::MAX.into())),
            _ => None,
        }
    }

    /// The entity that has it.
    pub fn entity(self) -> Entity {
        match self {
            Attr::Address | Attr::Disposition => Entity::Address,
            Attr::Time | Attr::Signature | Attr::Severity | Attr::Category => Entity::Event,
            _ => Entity::Connection,
        }
    }

    /// The archive column(s) it is computed from (canonical names).
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Attr::Address | Attr::Disposition => &[],
            Attr::Protocol => &["protocol"],
            Attr::SrcPort => &["src_port"],
            Attr::DestPort => &["dst_port"],
            Attr::StartTime => &["start_time"],
            Attr::EndTime => &["end_time"],
            Attr::DurationSeconds => &["start_time", "end_time"],
            Attr::BytesSent => &["bytes_sent"],
            Attr::BytesReceived => &["bytes_received"],
            Attr::PacketsSent => &["packets_sent"],
            Attr::PacketsReceived => &["packets_received"],
            Attr::Service => &["service"],
            Attr::Time => &["time"],
            Attr::Signature => &["signature"],
            Attr::Severity => &["severity"],
            Attr::Category => &["category"],
        }
    }

    /// Looks an attribute up by name on an entity.
    pub fn lookup(entity: Entity, name: &str) -> Option<Attr> {
        entity
            .attributes()
            .iter()
            .copied()
            .find(|a| a.name() == name)
    }
}

impl fmt::Display for Attr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Protocol names accepted in literals, with their IANA numbers.
pub const PROTOCOLS: &[(&str, u8)] = &[
    ("icmp", 1),
    ("igmp", 2),
    ("ipip", 4),
    ("tcp", 6),
    ("egp", 8),
    ("udp", 17),
    ("ipv6", 41),
    ("rsvp", 46),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("icmp6", 58),
    ("icmpv6", 58),
    ("ipv6-icmp", 58),
    ("ospf", 89),
    ("pim", 103),
    ("vrrp", 112),
    ("sctp", 132),
];

/// A protocol literal by meaning: a number (`6`, `"06"`) or a name (`"tcp"`, any case).
pub fn protocol_number(text: &str) -> Option<u8> {
    let t = text.trim();
    if let Ok(n) = t.parse::<u8>() {
        return Some(n);
    }
    let lower = t.to_ascii_lowercase();
    PROTOCOLS
        .iter()
        .find(|(name, _)| *name == lower)
        .map(|(_, n)| *n)
}

/// The name printed for a protocol number, if it has one.
pub fn protocol_name(n: u8) -> Option<&'static str> {
    PROTOCOLS
        .iter()
        .find(|(_, p)| *p == n)
        .map(|(name, _)| *name)
}
