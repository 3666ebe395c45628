import CMOTestSupport
import Foundation

@testable import CMOHTTP

/// A clock whose `sleep` advances time without blocking, so rate-limit waits cost nothing.
final class HTTPTestClock: @unchecked Sendable {  // state is behind `lock`
    private let lock = NSLock()
    private var offset = 0.0
    private var slept: [Double] = []

    func now() -> Double {
        lock.lock()
        defer { lock.unlock() }
        return Date().timeIntervalSince1970 + offset
    }

    func sleep(_ seconds: Double) {
        lock.lock()
        defer { lock.unlock() }
        offset += max(0, seconds)
        slept.append(seconds)
    }

    /// Every sleep asked for, in order.
    var sleeps: [Double] {
        lock.lock()
        defer { lock.unlock() }
        return slept
    }

    var httpClock: HTTPClock { HTTPClock(now: { self.now() }, sleep: { self.sleep($0) }) }

    /// An IMF-fixdate (`Tue, 23 May 2023 14:42:01 GMT`) for an epoch time.
    static func httpDate(_ epoch: Double) -> String {
        var t = time_t(epoch.rounded(.up))
        var parts = tm()
        gmtime_r(&t, &parts)
        var out = [CChar](repeating: 0, count: 64)
        let n = strftime(&out, out.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        return String(decoding: out[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
