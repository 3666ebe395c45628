/// The record types a `DNSResolver` looks up.
public enum DNSRecordType: UInt16, Sendable, CaseIterable {
    case a = 1
    case mx = 15
    case aaaa = 28
}

/// One lookup: an ASCII (already punycoded) name and a record type.
public struct DNSQuery: Sendable, Hashable {
    /// The name, ASCII, with or without a trailing dot.
    public var name: String
    /// The record type asked for.
    public var type: DNSRecordType

    /// A query for `name`'s records of `type`.
    public init(_ name: String, _ type: DNSRecordType) {
        self.name = name
        self.type = type
    }
}

/// One answer record, decoded.
public enum DNSRecord: Sendable, Hashable {
    /// An MX record; a null MX (RFC 7505) has preference 0 and exchange "".
    case mx(preference: UInt16, exchange: String)
    /// An A or AAAA record as text (`192.0.2.1`, `2001:db8::1`).
    case address(String)
}

/// The outcome of one query; TTLs are for caching (seconds).
public enum DNSResult: Sendable, Hashable {
    /// Records of the asked type, with the smallest TTL among them.
    case answer([DNSRecord], ttl: UInt32)
    /// NOERROR without records of that type; the TTL is the SOA minimum when the server sent one.
    case noData(ttl: UInt32?)
    /// The name does not exist; the TTL is the SOA minimum when the server sent one.
    case nxdomain(ttl: UInt32?)
    /// The server failed (RCODE 2).
    case servfail
    /// The server refused (RCODE 5).
    case refused
    /// No reply within every try.
    case timeout
    /// A malformed or unexpected reply, an invalid name, or a socket error.
    case error(String)
}
