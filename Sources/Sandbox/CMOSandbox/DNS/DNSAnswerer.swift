import Foundation

/// What the server does with one query.
enum DNSReply {
    /// Send these bytes, after `delayMS` milliseconds.
    case send([UInt8], delayMS: Int)
    /// Never answer (the timeout behaviour).
    case drop
}

/// Turns a question into a reply from the zone: minimal answers (no authority or additional records).
struct DNSAnswerer: Sendable {
    let zone: DNSZone
    let ttl: UInt32
    /// Put an SOA in the authority section of NXDOMAIN and NODATA answers (RFC 2308 says they usually carry one).
    var negativeSOA = false

    func reply(to q: DNSQuestion, overTCP: Bool) -> DNSReply {
        guard q.opcode == 0 else {
            return .send(DNSWire.response(to: q, rcode: DNSRCode.notImp, answers: [], truncated: false, ttl: ttl), delayMS: 0)
        }
        let name = q.key.hasSuffix(".") ? String(q.key.dropLast()) : q.key
        var rcode = DNSRCode.noError
        var answers: [DNSAnswer] = []
        var truncated = false
        var delay = 0
        if let behaviour = zone.domains[name] {
            switch behaviour {
            case .timeout:
                return .drop
            case .servfail:
                rcode = DNSRCode.servFail
            case .nxdomain:
                rcode = DNSRCode.nxDomain
            case .nullMX:
                answers = q.type == DNSType.mx ? [DNSWire.mx(0, ".")] : hostAnswers(name, q.type)
            case .aOnly(let ip):
                if q.type == DNSType.a || q.type == DNSType.aaaa {
                    answers = [DNSWire.address(ip, type: q.type)].compactMap { $0 }
                    if answers.isEmpty { answers = hostAnswers(name, q.type) }
                }
            case .mx(let records):
                answers = q.type == DNSType.mx ? records.map { DNSWire.mx($0.preference, $0.exchange) } : hostAnswers(name, q.type)
            case .truncated(let records):
                if q.type == DNSType.mx {
                    if overTCP { answers = records.map { DNSWire.mx($0.preference, $0.exchange) } } else { truncated = true }
                } else {
                    answers = hostAnswers(name, q.type)
                }
            case .slow(let ms, let records):
                delay = ms
                answers = q.type == DNSType.mx ? records.map { DNSWire.mx($0.preference, $0.exchange) } : hostAnswers(name, q.type)
            }
        } else if zone.hosts[name] != nil {
            answers = hostAnswers(name, q.type)
        } else {
            rcode = DNSRCode.nxDomain
        }
        var authority: [(owner: String, record: DNSAnswer)] = []
        if negativeSOA, !truncated, rcode == DNSRCode.nxDomain || (rcode == DNSRCode.noError && answers.isEmpty) {
            let apex = name.split(separator: ".").suffix(2).joined(separator: ".")
            authority = [(apex, DNSWire.soa(minimum: ttl))]
        }
        var bytes = DNSWire.response(to: q, rcode: rcode, answers: answers, truncated: truncated, ttl: ttl, authority: authority)
        if !overTCP, bytes.count > (q.ednsPayloadSize ?? 512) {
            bytes = DNSWire.response(to: q, rcode: rcode, answers: [], truncated: true, ttl: ttl)
        }
        return .send(bytes, delayMS: delay)
    }

    /// A or AAAA records of a name from `hosts` (IPv6 text gives AAAA); nothing for other types.
    private func hostAnswers(_ name: String, _ type: UInt16) -> [DNSAnswer] {
        guard type == DNSType.a || type == DNSType.aaaa else { return [] }
        return (zone.hosts[name] ?? []).compactMap { DNSWire.address($0, type: type) }
    }
}
