import CSpawn
import Foundation

/// One stage process: what to run, what it reads, and the files its stdout and stderr land in.
public struct StageSpec: Sendable {
    /// Path of the executable, or a bare name looked up in this process's PATH.
    public var executable: String
    /// Arguments after argv[0] (which is `executable`).
    public var arguments: [String]
    /// The child's complete environment.
    public var environment: [String: String]
    /// File the first stage reads (nil: /dev/null); later stages read the previous stage's output instead.
    public var stdin: String?
    /// File that receives a copy of the stage's stdout (created or truncated).
    public var artifact: String
    /// File that receives the stage's stderr (created or truncated).
    public var log: String
    /// The process gets SIGKILL when this one dies, even by `kill -9` (PR_SET_PDEATHSIG, set by the spawn
    /// itself): a stage never goes on writing after the run that started it is gone, a worker's job never
    /// outlives its worker. False only for what must outlive this process (the worker a chat starts).
    public var diesWithParent: Bool

    /// A stage that by default inherits this process's environment, reads /dev/null and dies with this process.
    public init(
        executable: String, arguments: [String] = [], environment: [String: String] = ProcessInfo.processInfo.environment,
        stdin: String? = nil, artifact: String, log: String, diesWithParent: Bool = true
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.stdin = stdin
        self.artifact = artifact
        self.log = log
        self.diesWithParent = diesWithParent
    }
}

/// A file or process that could not be set up; the description names the path or executable and the OS error.
public struct SpawnError: Error, CustomStringConvertible {
    /// For example "cannot spawn gh-search: No such file or directory".
    public let description: String
    /// The errno that stopped it.
    public let code: Int32

    init(_ what: String, _ code: Int32) {
        description = "\(what): \(String(cString: strerror(code)))"
        self.code = code
    }
}

/// Stages connected stdout to stdin, each stage's stdout also kept in its artifact; call wait() after start().
public final class PipelineRun {
    private let stages: [StageSpec]
    private var pids: [pid_t] = []
    private var threads: [pthread_t] = []
    private var statuses: [Int32]?

    /// Takes the stages in pipeline order; nothing is opened or spawned until start().
    public init(_ stages: [StageSpec]) throws {
        guard !stages.isEmpty else { throw SpawnError("empty pipeline", EINVAL) }
        self.stages = stages
    }

    /// Opens the files and pipes, spawns every stage and starts the pumps; returns the pids in stage order.
    /// On failure nothing is left running: stages already spawned are killed and reaped.
    public func start() throws -> [Int32] {
        precondition(pids.isEmpty, "PipelineRun.start() called twice")
        _ = prepareProcess
        var owned = Set<Int32>()  // fds created here that no child or pump thread has taken over yet
        func own(_ fd: Int32) -> Int32 {
            owned.insert(fd)
            return fd
        }
        func ownPipe() throws -> (read: Int32, write: Int32) {
            let pipe = try makePipe()
            owned.formUnion([pipe.read, pipe.write])
            return pipe
        }
        func release(_ fds: Int32...) {
            for fd in fds {
                close(fd)
                owned.remove(fd)
            }
        }
        var pumps: [Pump] = []
        do {
            var input = own(try openFile(stages[0].stdin ?? "/dev/null", O_RDONLY))
            for (i, stage) in stages.enumerated() {
                let log = own(try openFile(stage.log, O_WRONLY | O_CREAT | O_TRUNC))
                let artifact = own(try openFile(stage.artifact, O_WRONLY | O_CREAT | O_TRUNC))
                if i == stages.count - 1 {
                    pids.append(try spawn(stage, stdin: input, stdout: artifact, stderr: log))
                    release(input, artifact, log)
                } else {
                    let output = try ownPipe()
                    let feed = try ownPipe()
                    pids.append(try spawn(stage, stdin: input, stdout: output.write, stderr: log))
                    release(input, output.write, log)
                    pumps.append(Pump(source: output.read, target: feed.write, artifact: artifact))
                    input = feed.read
                }
            }
            for pump in pumps {
                let fds = [pump.source, pump.target, pump.artifact]  // read before the thread starts changing target
                threads.append(try startThread(pump))
                owned.subtract(fds)
            }
        } catch {
            for fd in owned { close(fd) }
            for pid in pids { kill(pid, SIGKILL) }
            _ = wait()
            throw error
        }
        return pids
    }

    /// Waits for every stage and pump; returns exit statuses in stage order (128+n for signal n, -1 if unwaitable).
    public func wait() -> [Int32] {
        if let statuses { return statuses }
        let result = pids.indices.map { wait(stage: $0) }
        if !pids.isEmpty { statuses = result }
        return result
    }

    /// Waits for one stage and, for all but the last, for its pump, so that its artifact is complete when this
    /// returns; its exit status (128+n for signal n, -1 if unwaitable). Call in stage order; each once.
    public func wait(stage i: Int) -> Int32 {
        if let statuses { return statuses[i] }
        var status: Int32 = 0
        var result: Int32 = -1
        while true {
            if waitpid(pids[i], &status, 0) >= 0 {
                result = cmo_exit_status(status)
                break
            }
            if errno != EINTR { break }
        }
        if i < threads.count { pthread_join(threads[i], nil) }
        return result
    }
}

/// Runs one stage, stdout straight to its artifact (no pump), and returns its exit status (128+n for signal n).
public func spawnAndWait(_ spec: StageSpec) throws -> Int32 {
    let run = try PipelineRun([spec])
    _ = try run.start()
    return run.wait()[0]
}

/// Starts one process in the background: stdin from `spec.stdin` (else /dev/null), stdout appended to
/// `spec.artifact`, stderr appended to `spec.log`. The caller reaps it (`reap`).
public func spawnInBackground(_ spec: StageSpec) throws -> pid_t {
    _ = prepareProcess
    let input = try openFile(spec.stdin ?? "/dev/null", O_RDONLY)
    defer { close(input) }
    let out = try openFile(spec.artifact, O_WRONLY | O_CREAT | O_APPEND)
    defer { close(out) }
    let err = spec.log == spec.artifact ? out : try openFile(spec.log, O_WRONLY | O_CREAT | O_APPEND)
    defer { if err != out { close(err) } }
    return try spawn(spec, stdin: input, stdout: out, stderr: err)
}

/// The exit status (128+n for signal n) of a child started by `spawnInBackground` that has ended, else nil.
public func reap(_ pid: pid_t) -> Int32? {
    var status: Int32 = 0
    let r = waitpid(pid, &status, WNOHANG)
    if r == pid { return cmo_exit_status(status) }
    if r < 0 && errno == ECHILD { return 255 }
    return nil
}

/// This process gets SIGKILL when its parent dies (a worker's job dies with the worker; the next worker
/// resumes it from its state). False when the parent is not `parent` any more (it died already).
/// Every process spawned here is set up so already (`StageSpec.diesWithParent`); this is for a job started
/// some other way.
public func dieWithParent(_ parent: pid_t) -> Bool {
    _ = cmo_parent_death_signal(SIGKILL)
    return getppid() == parent
}

/// Once per process: ignore SIGPIPE (a stage that stops reading then surfaces as EPIPE in its pump; children get the
/// default back), and fill closed fds 0-2 with /dev/null so no fd made here is one a child's dup2 overwrites early.
private let prepareProcess: Void = {
    _ = signal(SIGPIPE, SIG_IGN)
    for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) < 0 { _ = open("/dev/null", O_RDWR) }
}()

/// Bytes per tee/splice/read call, and the pipe capacity asked for.
private let chunk = 1 << 20

private func openFile(_ path: String, _ flags: Int32) throws -> Int32 {
    let fd = open(path, flags | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw SpawnError("cannot open \(path)", errno) }
    return fd
}

private func makePipe() throws -> (read: Int32, write: Int32) {
    var fds: [Int32] = [-1, -1]
    guard cmo_pipe_cloexec(&fds) == 0 else { throw SpawnError("cannot create a pipe", errno) }
    _ = cmo_set_pipe_size(fds[1], Int32(chunk))
    return (fds[0], fds[1])
}

private func spawn(_ stage: StageSpec, stdin: Int32, stdout: Int32, stderr: Int32) throws -> pid_t {
    let argv = ([stage.executable] + stage.arguments).map { strdup($0) } + [nil]
    let envp = stage.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for string in argv + envp { free(string) } }
    var pid: pid_t = 0
    // Spawned from the calling thread, which Linux ties the parent-death signal to: callers spawn from the
    // main thread (the runner, the worker), which lives as long as the process.
    let rc = cmo_spawn(&pid, stage.executable, argv, envp, stdin, stdout, stderr, stage.diesWithParent ? 1 : 0)
    guard rc == 0 else { throw SpawnError("cannot spawn \(stage.executable)", rc) }
    return pid
}

private func startThread(_ pump: Pump) throws -> pthread_t {
    let context = Unmanaged.passRetained(pump)
    var thread = pthread_t()
    let rc = pthread_create(
        &thread, nil,
        { raw in
            Unmanaged<Pump>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, context.toOpaque())
    guard rc == 0 else {
        context.release()
        throw SpawnError("cannot start a pump thread", rc)
    }
    return thread
}

/// Drains one stage's stdout pipe until EOF: tee(2) into the next stage's stdin pipe, then splice(2) the same bytes
/// into the artifact. A next stage that stops reading is dropped and the artifact still gets everything; when
/// tee/splice are refused (EINVAL and the like) or the artifact fails, it falls back to read/write.
private final class Pump {
    let source: Int32
    let artifact: Int32
    private(set) var target: Int32
    private var teeWorks = true
    private var spliceWorks = true
    private var artifactWorks = true
    private var buffer: [UInt8] = []

    init(source: Int32, target: Int32, artifact: Int32) {
        self.source = source
        self.target = target
        self.artifact = artifact
    }

    func run() {
        defer {
            close(source)
            close(artifact)
            closeTarget()
        }
        while true {
            if target >= 0 && teeWorks {
                let n = cmo_tee(source, target, chunk, 0)
                if n > 0 {
                    store(n)
                } else if n == 0 {
                    return
                } else if errno == EPIPE {
                    closeTarget()
                } else if errno != EINTR {
                    teeWorks = false
                }
            } else if target < 0 && spliceWorks && artifactWorks {
                let n = cmo_splice(source, artifact, chunk, UInt32(CMO_SPLICE_F_MOVE))
                if n == 0 { return }
                if n < 0 && errno != EINTR { spliceWorks = false }
            } else {
                let n = copy(chunk, forward: true)
                if n == 0 || (n < 0 && errno != EINTR) { return }
            }
        }
    }

    /// Consumes exactly `count` bytes already in the source (just teed) into the artifact.
    private func store(_ count: Int) {
        var left = count
        while left > 0 {
            let splicing = spliceWorks && artifactWorks
            let n = splicing ? cmo_splice(source, artifact, left, UInt32(CMO_SPLICE_F_MOVE)) : copy(left, forward: false)
            if n > 0 {
                left -= n
            } else if n == 0 || errno != EINTR {
                guard splicing else { return }
                spliceWorks = false
            }
        }
    }

    /// Reads up to `count` bytes and writes them to the artifact and, if `forward`, to the next stage.
    private func copy(_ count: Int, forward: Bool) -> Int {
        if buffer.isEmpty { buffer = [UInt8](repeating: 0, count: 64 << 10) }
        return buffer.withUnsafeMutableBytes { bytes in
            let n = read(source, bytes.baseAddress, min(count, bytes.count))
            if n > 0 {
                if forward && target >= 0 && !writeAll(target, bytes.baseAddress!, n) { closeTarget() }
                if artifactWorks { artifactWorks = writeAll(artifact, bytes.baseAddress!, n) }
            }
            return n
        }
    }

    private func closeTarget() {
        guard target >= 0 else { return }
        close(target)
        target = -1
    }
}

private func writeAll(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Bool {
    var done = 0
    while done < count {
        let n = write(fd, bytes + done, count - done)
        if n > 0 {
            done += n
        } else if n < 0 && errno != EINTR {
            return false
        }
    }
    return true
}
