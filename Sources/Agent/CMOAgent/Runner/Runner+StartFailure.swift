import CMOBasics
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

extension Runner {
    /// A stage that could not be started. No service was asked, so never 69 (issue 27): the disk (74) when
    /// its log or artifact could not be created for a full disk, the machine's limits (75: processes, open
    /// files, memory; re-run later), and otherwise the installation or the configuration (78): the
    /// executable is missing, not executable, or not a program.
    public static func startFailure(_ what: String, _ error: Error) -> StageFailure {
        let text = "\(error)"
        let code = (error as? SpawnError)?.code ?? 0
        if [ENOSPC, EDQUOT, EIO, EROFS, EFBIG].contains(code) { return StageFailure(.ioError, "cannot start \(what): \(text)") }
        if [EAGAIN, ENOMEM, EMFILE, ENFILE].contains(code) {
            return StageFailure(.tempFail, "cannot start \(what): \(text); the machine is out of processes, files or memory: re-run later")
        }
        return StageFailure(.config, "cannot start \(what): \(text); check the installation (run bin/setup) or the --stage override")
    }
}
