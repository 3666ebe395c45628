import CMOBasics
import Foundation

/// Where what must outlive a run lives: the write ledger, the HTTP cache, the suppression list.
///
/// `CMO_STATE_DIR`, else `$XDG_STATE_HOME/cmo`, else `~/.local/state/cmo`.
public enum StateDirectory {
    /// The state directory for this environment (not created).
    public static func path(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let dir = environment["CMO_STATE_DIR"], !dir.isEmpty { return dir }
        if let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty { return xdg + "/cmo" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.local/state/cmo"
    }

    /// The state directory, created (mode 0700) when missing.
    public static func ensure(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        let dir = path(environment: environment)
        do {
            try FileManager.default.createDirectory(
                atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            // A full disk is the disk's fault (74); a path that cannot be made is the configuration's (78).
            if let code = posixCode(error), IOFailure.isDiskError(code) { throw IOFailure.write(dir, errno: code, doing: "create state directory") }
            throw StageFailure(.config, "cannot create state directory '\(dir)': \(error.localizedDescription)")
        }
        return dir
    }
}

/// The errno under a Foundation file error, when there is one.
func posixCode(_ error: Error) -> Int32? {
    var e: NSError? = error as NSError
    while let n = e {
        if n.domain == NSPOSIXErrorDomain { return Int32(n.code) }
        e = n.userInfo[NSUnderlyingErrorKey] as? NSError
    }
    return nil
}
