import Foundation

// DNS wire format (RFC 1035 §4): just enough to read one question and write a minimal answer.

/// The record types the sandbox answers.
enum DNSType {
    static let a: UInt16 = 1
    static let ns: UInt16 = 2
    static let soa: UInt16 = 6
    static let mx: UInt16 = 15
    static let aaaa: UInt16 = 28
    static let opt: UInt16 = 41

    static func name(_ t: UInt16) -> String {
        switch t {
        case a: return "A"
        case ns: return "NS"
        case soa: return "SOA"
        case mx: return "MX"
        case aaaa: return "AAAA"
        case 16: return "TXT"
        case 255: return "ANY"
        default: return "TYPE\(t)"
        }
    }
}

/// Response codes used here.
enum DNSRCode {
    static let noError: UInt16 = 0
    static let formErr: UInt16 = 1
    static let servFail: UInt16 = 2
    static let nxDomain: UInt16 = 3
    static let notImp: UInt16 = 4
}

/// One parsed question (the only one a query may carry).
struct DNSQuestion {
    var id: UInt16
    var flags: UInt16
    /// Labels as sent (case kept, for the echo).
    var labels: [String]
    var type: UInt16
    var qclass: UInt16
    /// The query carried an EDNS OPT record; its advertised UDP payload size.
    var ednsPayloadSize: Int?

    /// The name in lower case without a trailing dot.
    var key: String { labels.joined(separator: ".").lowercased() }
    var opcode: UInt16 { (flags >> 11) & 0xf }
}

/// One answer record: owner is always the question name (written as a pointer to offset 12).
struct DNSAnswer {
    var type: UInt16
    var rdata: [UInt8]
}

enum DNSWire {
    struct ParseError: Error {
        /// The query id, when the header could be read (for a FORMERR reply).
        var id: UInt16?
    }

    /// Reads the header, the single question (compressed names allowed) and notes an EDNS OPT record.
    static func parse(_ b: [UInt8]) throws(ParseError) -> DNSQuestion {
        guard b.count >= 12 else { throw ParseError(id: nil) }
        let id = u16(b, 0)
        let flags = u16(b, 2)
        let qd = u16(b, 4)
        let an = u16(b, 6)
        let ns = u16(b, 8)
        let ar = u16(b, 10)
        guard flags & 0x8000 == 0, qd == 1 else { throw ParseError(id: id) }
        var at = 12
        guard let labels = readName(b, &at), at + 4 <= b.count else { throw ParseError(id: id) }
        var q = DNSQuestion(id: id, flags: flags, labels: labels, type: u16(b, at), qclass: u16(b, at + 2), ednsPayloadSize: nil)
        at += 4
        // Skip answer and authority records; look for OPT among the additional ones.
        for i in 0..<(Int(an) + Int(ns) + Int(ar)) {
            guard readName(b, &at) != nil, at + 10 <= b.count else { break }
            let type = u16(b, at)
            let rdlength = Int(u16(b, at + 8))
            if i >= Int(an) + Int(ns), type == DNSType.opt { q.ednsPayloadSize = max(512, Int(u16(b, at + 2))) }
            at += 10 + rdlength
        }
        return q
    }

    /// A possibly compressed name starting at `at`; `at` ends after the name as stored in place.
    static func readName(_ b: [UInt8], _ at: inout Int) -> [String]? {
        var labels: [String] = []
        var position = at
        var jumped = false
        var jumps = 0
        while true {
            guard position < b.count else { return nil }
            let len = Int(b[position])
            if len == 0 {
                if !jumped { at = position + 1 }
                return labels
            }
            if len & 0xc0 == 0xc0 {
                guard position + 1 < b.count, jumps < 32 else { return nil }
                let target = (len & 0x3f) << 8 | Int(b[position + 1])
                if !jumped { at = position + 2 }
                jumped = true
                jumps += 1
                position = target
                continue
            }
            guard len < 64, position + 1 + len <= b.count else { return nil }
            labels.append(String(decoding: b[(position + 1)...(position + len)], as: UTF8.self))
            position += 1 + len
        }
    }

    /// A name uncompressed; `[]` (or `["."]`-less root) is the single zero byte.
    static func encodeName(_ name: String) -> [UInt8] {
        var out: [UInt8] = []
        for label in name.split(separator: ".") where !label.isEmpty {
            let bytes = Array(label.utf8.prefix(63))
            out.append(UInt8(bytes.count))
            out += bytes
        }
        out.append(0)
        return out
    }

    /// A response: header (QR, opcode and RD copied, AA, RA, TC as asked), the question echoed, answers.
    static func response(
        to q: DNSQuestion, rcode: UInt16, answers: [DNSAnswer], truncated: Bool, ttl: UInt32,
        authority: [(owner: String, record: DNSAnswer)] = []
    ) -> [UInt8] {
        var flags: UInt16 = 0x8000 | (q.flags & 0x7800) | 0x0400 | (q.flags & 0x0100) | 0x0080 | (rcode & 0xf)
        if truncated { flags |= 0x0200 }
        var out: [UInt8] = []
        put16(&out, q.id)
        put16(&out, flags)
        put16(&out, 1)
        put16(&out, UInt16(answers.count))
        put16(&out, UInt16(authority.count))
        put16(&out, 0)
        for label in q.labels {
            let bytes = Array(label.utf8.prefix(63))
            out.append(UInt8(bytes.count))
            out += bytes
        }
        out.append(0)
        put16(&out, q.type)
        put16(&out, q.qclass)
        for a in answers {
            put16(&out, 0xc00c)  // the question's name
            put16(&out, a.type)
            put16(&out, 1)  // IN
            put16(&out, UInt16(ttl >> 16))
            put16(&out, UInt16(ttl & 0xffff))
            put16(&out, UInt16(a.rdata.count))
            out += a.rdata
        }
        for (owner, a) in authority {
            out += encodeName(owner)
            put16(&out, a.type)
            put16(&out, 1)
            put16(&out, UInt16(ttl >> 16))
            put16(&out, UInt16(ttl & 0xffff))
            put16(&out, UInt16(a.rdata.count))
            out += a.rdata
        }
        return out
    }

    /// An SOA record for negative answers (RFC 2308): the sandbox's made-up servers, MINIMUM = `minimum`.
    static func soa(minimum: UInt32) -> DNSAnswer {
        var rdata = encodeName("ns.sandbox.invalid") + encodeName("hostmaster.sandbox.invalid")
        for v: UInt32 in [1, 3600, 600, 86_400, minimum] {
            put16(&rdata, UInt16(v >> 16))
            put16(&rdata, UInt16(v & 0xffff))
        }
        return DNSAnswer(type: DNSType.soa, rdata: rdata)
    }

    /// A header-only error reply for a query whose question could not be read.
    static func formErr(id: UInt16) -> [UInt8] {
        var out: [UInt8] = []
        put16(&out, id)
        put16(&out, 0x8000 | 0x0080 | DNSRCode.formErr)
        out += [0, 0, 0, 0, 0, 0, 0, 0]
        return out
    }

    static func mx(_ preference: UInt16, _ exchange: String) -> DNSAnswer {
        var rdata: [UInt8] = []
        put16(&rdata, preference)
        rdata += encodeName(exchange == "." ? "" : exchange)
        return DNSAnswer(type: DNSType.mx, rdata: rdata)
    }

    /// An A or AAAA record from its text form, or nil when the text is not an address of that family.
    static func address(_ text: String, type: UInt16) -> DNSAnswer? {
        if type == DNSType.a {
            var addr = in_addr()
            guard inet_pton(AF_INET, text, &addr) == 1 else { return nil }
            return DNSAnswer(type: type, rdata: withUnsafeBytes(of: &addr) { Array($0) })
        }
        var addr6 = in6_addr()
        guard inet_pton(AF_INET6, text, &addr6) == 1 else { return nil }
        return DNSAnswer(type: type, rdata: withUnsafeBytes(of: &addr6) { Array($0) })
    }

    static func u16(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) << 8 | UInt16(b[i + 1]) }
    static func put16(_ out: inout [UInt8], _ v: UInt16) {
        out.append(UInt8(v >> 8))
        out.append(UInt8(v & 0xff))
    }
}
