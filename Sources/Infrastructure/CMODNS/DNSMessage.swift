#if canImport(Glibc)
    import Glibc
#endif

/// DNS wire format (RFC 1035): building queries and parsing replies without trusting a byte of them.
enum DNSMessage {
    /// What a received datagram turned out to be.
    enum Parsed: Equatable {
        /// Not a reply to this query (other id or question): ignored.
        case stray
        /// TC bit set: ask again over TCP.
        case truncated
        case result(DNSResult)
    }

    /// The wire form of `name` (labels ≤ 63 bytes, name ≤ 255 bytes), or nil when it cannot be one.
    static func encodeName(_ name: String) -> [UInt8]? {
        var trimmed = Substring(name)
        if trimmed.hasSuffix(".") { trimmed = trimmed.dropLast() }
        var out: [UInt8] = []
        if !trimmed.isEmpty {
            for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
                let bytes = Array(label.utf8)
                guard !bytes.isEmpty, bytes.count <= 63, bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
                out.append(UInt8(bytes.count))
                out += bytes
            }
        }
        out.append(0)
        return out.count <= 255 ? out : nil
    }

    /// A recursive query with an EDNS0 OPT record advertising 1232-byte UDP payloads.
    static func query(id: UInt16, _ q: DNSQuery) -> [UInt8]? {
        guard let name = encodeName(q.name) else { return nil }
        var b: [UInt8] = []
        put16(&b, id)
        put16(&b, 0x0100)  // RD
        put16(&b, 1)
        put16(&b, 0)
        put16(&b, 0)
        put16(&b, 1)
        b += name
        put16(&b, q.type.rawValue)
        put16(&b, 1)
        b += [0]  // OPT: root owner
        put16(&b, 41)
        put16(&b, 1232)
        b += [0, 0, 0, 0, 0, 0]  // extended rcode/flags, RDLENGTH 0
        return b
    }

    static func put16(_ b: inout [UInt8], _ v: UInt16) { b += [UInt8(v >> 8), UInt8(v & 0xff)] }

    static func u16(_ b: [UInt8], _ at: Int) -> UInt16? {
        guard at >= 0, at + 2 <= b.count else { return nil }
        return UInt16(b[at]) << 8 | UInt16(b[at + 1])
    }

    static func u32(_ b: [UInt8], _ at: Int) -> UInt32? {
        guard let hi = u16(b, at), let lo = u16(b, at + 2) else { return nil }
        return UInt32(hi) << 16 | UInt32(lo)
    }

    /// Reads a possibly compressed name at `at` (advancing past it), lower-cased, "" for the root.
    /// Pointers must point strictly backwards, so a loop is impossible; a hop limit guards anyway.
    static func readName(_ b: [UInt8], _ at: inout Int) -> String? {
        var labels: [String] = []
        var pos = at
        var end: Int? = nil
        var length = 1
        var hops = 0
        while true {
            guard pos < b.count else { return nil }
            let len = Int(b[pos])
            switch len & 0xc0 {
            case 0xc0:
                guard let raw = u16(b, pos) else { return nil }
                let target = Int(raw & 0x3fff)
                hops += 1
                guard target < pos, hops <= 127 else { return nil }
                if end == nil { end = pos + 2 }
                pos = target
            case 0:
                if len == 0 {
                    at = end ?? pos + 1
                    return labels.joined(separator: ".")
                }
                guard pos + 1 + len <= b.count else { return nil }
                length += len + 1
                guard length <= 255 else { return nil }
                labels.append(String(decoding: b[(pos + 1)..<(pos + 1 + len)], as: UTF8.self).lowercased())
                pos += 1 + len
            default:
                return nil  // 0x40/0x80 label types are obsolete or unassigned
            }
        }
    }

    /// Parses `b` as the reply to query `id`/`q`.
    static func parse(_ b: [UInt8], id: UInt16, _ q: DNSQuery) -> Parsed {
        guard b.count >= 12, let rid = u16(b, 0), let flags = u16(b, 2) else { return .stray }
        guard rid == id, flags & 0x8000 != 0 else { return .stray }
        var at = 12
        let counts = (1...4).map { Int(u16(b, 2 * $0 + 2)!) }
        guard counts[0] == 1, let qname = readName(b, &at), let qtype = u16(b, at), u16(b, at + 2) == 1 else {
            return .stray
        }
        at += 4
        let wanted = q.name.hasSuffix(".") ? String(q.name.dropLast()) : q.name
        guard qname == wanted.lowercased(), qtype == q.type.rawValue else { return .stray }
        if flags & 0x0200 != 0 { return .truncated }
        switch flags & 0x000f {
        case 0: break
        case 2: return .result(.servfail)
        case 3: break
        case 5: return .result(.refused)
        case let rcode: return .result(.error("rcode \(rcode)"))
        }
        var records: [DNSRecord] = []
        var ttl = UInt32.max
        var soaMinimum: UInt32? = nil
        for section in 1...3 {
            for _ in 0..<counts[section] {
                guard readName(b, &at) != nil, let type = u16(b, at), let rttl = u32(b, at + 4),
                    let rdlen = u16(b, at + 8), at + 10 + Int(rdlen) <= b.count
                else { return .result(.error("malformed reply: record runs past the end")) }
                let rdata = at + 10
                let rdend = rdata + Int(rdlen)
                at = rdend
                if section == 1, type == q.type.rawValue {
                    guard let record = decode(b, type: type, from: rdata, to: rdend) else {
                        return .result(.error("malformed reply: bad \(q.type) record"))
                    }
                    records.append(record)
                    ttl = min(ttl, rttl)
                } else if section == 2, type == 6 {
                    // SOA: the negative-caching TTL is min(SOA TTL, MINIMUM) (RFC 2308 §5).
                    var p = rdata
                    guard readName(b, &p) != nil, readName(b, &p) != nil, p + 20 == rdend, let minimum = u32(b, p + 16)
                    else { return .result(.error("malformed reply: bad SOA")) }
                    soaMinimum = min(rttl, minimum)
                }
            }
        }
        guard at == b.count else { return .result(.error("malformed reply: bytes after the last record")) }
        if flags & 0x000f == 3 { return .result(.nxdomain(ttl: soaMinimum)) }
        return .result(records.isEmpty ? .noData(ttl: soaMinimum) : .answer(records, ttl: ttl))
    }

    /// One MX, A or AAAA RDATA, checked against its length.
    private static func decode(_ b: [UInt8], type: UInt16, from: Int, to: Int) -> DNSRecord? {
        switch type {
        case 15:
            guard let pref = u16(b, from) else { return nil }
            var p = from + 2
            guard let exchange = readName(b, &p), p == to else { return nil }
            return .mx(preference: pref, exchange: exchange)
        case 1:
            guard to - from == 4 else { return nil }
            return .address(b[from..<to].map(String.init).joined(separator: "."))
        case 28:
            guard to - from == 16 else { return nil }
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            let bytes = Array(b[from..<to])
            guard inet_ntop(AF_INET6, bytes, &text, socklen_t(text.count)) != nil else { return nil }
            return .address(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        default:
            return nil
        }
    }
}
