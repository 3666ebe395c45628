import Foundation

/// Whether a process on this machine still runs. A process that has exited but not yet been reaped (a
/// zombie: a killed stage whose new parent, after cmo-plan died, has not waited for it yet) does not:
/// `kill(pid, 0)` alone would call it alive and keep its ledger claims held.
public enum ProcessLiveness {
    public static func isRunning(_ pid: pid_t) -> Bool {
        guard pid > 0 else { return false }
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        // /proc/<pid>/stat: "pid (comm) S …" — the state follows the last ')' (comm may hold one).
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
            return true  // no /proc: kill's answer stands
        }
        let state = stat[stat.index(after: close)...].drop { $0 == " " }.first
        return state != "Z" && state != "X"
    }

    /// Whether `pid` runs and is still the process that started at `started` (when known).
    public static func isRunning(_ pid: pid_t, started: UInt64?) -> Bool {
        guard isRunning(pid) else { return false }
        if let started, let now = startTime(pid), now != started { return false }
        return true
    }

    /// When the process started (clock ticks since boot, /proc/<pid>/stat field 22), to tell it from a
    /// later process that got the same pid; nil without /proc.
    public static func startTime(_ pid: pid_t) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }

    /// Sends SIGKILL to `pid` — only if it is still the process that started at `started` (when known) —
    /// and waits (up to `timeout` seconds) until it no longer runs.
    public static func kill9(_ pid: pid_t, started: UInt64? = nil, timeout: TimeInterval = 5) {
        guard isRunning(pid) else { return }
        if let started, let now = startTime(pid), now != started { return }  // the pid is someone else's now
        kill(pid, SIGKILL)
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while Date() < deadline {
            _ = waitpid(pid, &status, WNOHANG)  // ours: reap it; not ours: ECHILD
            if !isRunning(pid) { return }
            usleep(10_000)
        }
    }
}
