import Foundation

/// An IPv4 DNS server address.
public struct DNSServerAddress: Sendable, Hashable, CustomStringConvertible {
    /// Dotted-quad IPv4 address.
    public var host: String
    /// UDP and TCP port.
    public var port: UInt16

    /// A server at `host` (IPv4 literal) and `port`.
    public init(host: String, port: UInt16 = 53) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or a bare `host` (port 53), as `CMO_DNS_SERVER` and `--dns-server` give it.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { return nil }
        var addr = in_addr()
        guard inet_pton(AF_INET, String(parts[0]), &addr) == 1 else { return nil }
        host = String(parts[0])
        if parts.count == 2 {
            guard let p = UInt16(parts[1]), p > 0 else { return nil }
            port = p
        } else {
            port = 53
        }
    }

    /// `host:port`.
    public var description: String { "\(host):\(port)" }
}

/// What `/etc/resolv.conf` says: IPv4 `nameserver`s and `options timeout:N attempts:N`.
public struct ResolvConf: Sendable, Equatable {
    /// IPv4 servers in file order (IPv6 ones are skipped: the resolver speaks IPv4 only).
    public var servers: [DNSServerAddress] = []
    /// `options timeout:N`, seconds per try.
    public var timeout: Double?
    /// `options attempts:N`.
    public var attempts: Int?

    /// Parses resolv.conf text; unknown lines are ignored, as glibc does.
    public init(parsing text: String) {
        for line in text.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let keyword = words.first, !keyword.hasPrefix("#"), !keyword.hasPrefix(";") else { continue }
            if keyword == "nameserver", words.count >= 2, let s = DNSServerAddress(String(words[1])) {
                servers.append(s)
            } else if keyword == "options" {
                for option in words.dropFirst() {
                    if option.hasPrefix("timeout:"), let n = Double(option.dropFirst(8)), n > 0 { timeout = min(n, 30) }
                    if option.hasPrefix("attempts:"), let n = Int(option.dropFirst(9)), n > 0 { attempts = min(n, 5) }
                }
            }
        }
    }

    /// The file at `path`, or an empty configuration when it cannot be read.
    public static func load(_ path: String = "/etc/resolv.conf") -> ResolvConf {
        ResolvConf(parsing: (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
    }
}
