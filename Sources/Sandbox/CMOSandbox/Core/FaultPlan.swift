import Foundation

/// Faults injected for one service, from the `--latency`, `--fail-rate`, `--429-rate`,
/// `--reset-rate` and `--truncate-rate` flags.
public struct ServiceFaults: Sendable, Equatable {
    /// Added delay before answering, milliseconds.
    public var latencyMS: Int = 0
    /// Uniform jitter around the delay (±), milliseconds.
    public var jitterMS: Int = 0
    /// Share of requests answered with a 5xx.
    public var failRate: Double = 0
    /// Share of requests answered with a 429.
    public var tooManyRate: Double = 0
    /// Share of connections reset instead of answered.
    public var resetRate: Double = 0
    /// Share of answers whose body is cut short of its `Content-Length`.
    public var truncateRate: Double = 0
    /// Faults (but the latency) meet only writes (POST, PUT, PATCH, DELETE): a service whose reads
    /// answer and whose writes fail, as when an outage starts after a run's checks passed.
    public var writesOnly = false

    public init() {}
}

/// What the server does to one request before (or instead of) asking the service.
public enum FaultDecision: Sendable, Equatable {
    case none
    case serverError(status: Int)
    case tooManyRequests
    case reset
    case truncate
}

/// Per-service faults, decided deterministically from the seed and the request's index within
/// its service: the n-th request to a service always meets the same fate.
public final class FaultPlan: @unchecked Sendable {
    private let seed: UInt64
    private let faults: [String: ServiceFaults]
    private let lock = NSLock()
    private var counters: [String: Int] = [:]
    private var injected: [String: [String: Int]] = [:]

    /// A plan from parsed flags (`faults[service]`; the key `*` applies to every service).
    public init(seed: UInt64, faults: [String: ServiceFaults]) {
        self.seed = seed
        self.faults = faults
    }

    /// The faults configured for `service`.
    public func faults(for service: String) -> ServiceFaults { faults[service] ?? faults["*"] ?? ServiceFaults() }

    /// The fate and the added latency (milliseconds) of the next request to `service`.
    public func next(for service: String, method: String = "POST") -> (FaultDecision, latencyMS: Int) {
        var f = faults(for: service)
        if f.writesOnly && (method == "GET" || method == "HEAD") { (f.resetRate, f.failRate, f.tooManyRate, f.truncateRate) = (0, 0, 0, 0) }
        let n: Int = lock.withLock {
            counters[service, default: 0] += 1
            return counters[service]!
        }
        func draw(_ what: String) -> Double { SeededRandom.draw(seed: seed, stream: "\(service)/\(what)", index: n) }
        var latency = f.latencyMS
        if f.jitterMS > 0 { latency += Int((draw("jitter") * 2 - 1) * Double(f.jitterMS)) }
        latency = max(0, latency)
        let decision: FaultDecision
        if draw("reset") < f.resetRate {
            decision = .reset
        } else if draw("fail") < f.failRate {
            decision = .serverError(status: [500, 502, 503][Int(draw("status") * 3) % 3])
        } else if draw("429") < f.tooManyRate {
            decision = .tooManyRequests
        } else if draw("truncate") < f.truncateRate {
            decision = .truncate
        } else {
            decision = .none
        }
        if decision != .none {
            let kind: String
            switch decision {
            case .reset: kind = "reset"
            case .serverError: kind = "5xx"
            case .tooManyRequests: kind = "429"
            case .truncate: kind = "truncate"
            case .none: kind = "none"
            }
            lock.withLock { injected[service, default: [:]][kind, default: 0] += 1 }
        }
        return (decision, latency)
    }

    /// Faults injected so far, per service and kind (for `/_sandbox/stats`).
    public func snapshot() -> [String: [String: Int]] { lock.withLock { injected } }

    /// Forgets the counters, so a reset replays the same fault sequence.
    public func reset() {
        lock.withLock {
            counters = [:]
            injected = [:]
        }
    }
}

extension ServiceFaults {
    /// Parses flag values such as `github=250±50` (or `github=250+-50`, `github=250~50`) into the
    /// map used by `FaultPlan`; `SERVICE` may be `*` for every service.
    public static func parse(
        latency: [String], failRate: [String], tooManyRate: [String], resetRate: [String], truncateRate: [String]
    ) throws -> [String: ServiceFaults] {
        var out: [String: ServiceFaults] = [:]
        func split(_ s: String, _ flag: String) throws -> (String, String) {
            guard let eq = s.firstIndex(of: "="), eq != s.startIndex else {
                throw FaultFlagError(message: "\(flag) expects SERVICE=VALUE, got '\(s)'")
            }
            return (String(s[..<eq]), String(s[s.index(after: eq)...]))
        }
        for s in latency {
            let (svc, v) = try split(s, "--latency")
            let parts = v.replacingOccurrences(of: "+-", with: "±").replacingOccurrences(of: "~", with: "±")
                .split(separator: "±", omittingEmptySubsequences: false)
            guard let ms = Int(parts[0]), ms >= 0, parts.count <= 2 else {
                throw FaultFlagError(message: "--latency expects SERVICE=MS[±JITTER], got '\(s)'")
            }
            out[svc, default: ServiceFaults()].latencyMS = ms
            if parts.count == 2 {
                guard let j = Int(parts[1]), j >= 0 else { throw FaultFlagError(message: "--latency: bad jitter in '\(s)'") }
                out[svc, default: ServiceFaults()].jitterMS = j
            }
        }
        let rates: [(String, [String], WritableKeyPath<ServiceFaults, Double>)] = [
            ("--fail-rate", failRate, \.failRate), ("--429-rate", tooManyRate, \.tooManyRate),
            ("--reset-rate", resetRate, \.resetRate), ("--truncate-rate", truncateRate, \.truncateRate),
        ]
        for (flag, values, path) in rates {
            for s in values {
                let (svc, v) = try split(s, flag)
                guard let r = Double(v), r >= 0, r <= 1 else {
                    throw FaultFlagError(message: "\(flag) expects SERVICE=RATE with RATE in 0...1, got '\(s)'")
                }
                out[svc, default: ServiceFaults()][keyPath: path] = r
            }
        }
        return out
    }
}

/// A malformed fault flag.
public struct FaultFlagError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
