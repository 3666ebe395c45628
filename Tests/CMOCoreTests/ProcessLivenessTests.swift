@testable import CMOBasics
import Foundation
import XCTest

/// A killed process nobody has reaped yet (a zombie) is not running: its ledger claims are free.
final class ProcessLivenessTests: XCTestCase {
    func testAZombieIsNotRunningAndAReusedPidIsNotKilled() throws {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("30"), nil]
        defer { argv.forEach { free($0) } }
        XCTAssertEqual(posix_spawn(&pid, "/bin/sleep", nil, nil, argv, environ), 0)
        XCTAssertTrue(ProcessLiveness.isRunning(pid))
        let started = try XCTUnwrap(ProcessLiveness.startTime(pid))
        // Another start time: the pid is taken to be someone else's, and left alone.
        ProcessLiveness.kill9(pid, started: started + 1, timeout: 0.2)
        XCTAssertTrue(ProcessLiveness.isRunning(pid))
        kill(pid, SIGKILL)
        for _ in 0..<200 where ProcessLiveness.isRunning(pid) { usleep(10_000) }
        XCTAssertEqual(kill(pid, 0), 0, "not reaped yet: kill(pid, 0) still finds it")
        XCTAssertFalse(ProcessLiveness.isRunning(pid), "but it is a zombie")
        var status: Int32 = 0
        XCTAssertEqual(waitpid(pid, &status, 0), pid)
        XCTAssertFalse(ProcessLiveness.isRunning(pid))
        XCTAssertFalse(ProcessLiveness.isRunning(0))
    }
}
