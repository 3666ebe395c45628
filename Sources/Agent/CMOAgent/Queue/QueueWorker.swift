import CMOBasics
import CMOContract
import CMOStorage
import Foundation

/// The job queue's worker: claims queued jobs and runs each as `cmo-plan resume <id>` in its own
/// process, at most `concurrency` at once; a job that stops with 75 sleeps in the queue until its
/// reset, or until the next day its leads deferred by the daily cap may go (Runner+Schedule); SIGTERM or SIGINT queues the running jobs again and stops. The queue itself (the storage
/// seam) is `JobQueue`; the job's own stops (pause, cancel, requeue, waits) are `JobControl` and the
/// runner's.
public struct QueueWorker {
    public var concurrency: Int
    public var untilIdle: Bool
    /// Seconds between looks at the queue.
    public var poll: Double
    /// Where the worker says what it does (stderr for `cmo-plan worker`).
    public var say: (String) -> Void

    public init(concurrency: Int, untilIdle: Bool, poll: Double, say: @escaping (String) -> Void) {
        self.concurrency = concurrency
        self.untilIdle = untilIdle
        self.poll = poll
        self.say = say
    }

    /// Whether a worker has said it is alive in the last 10 seconds.
    public static func alive(_ queue: JobQueue) -> Bool {
        !((try? queue.liveWorkers(now: Date().timeIntervalSince1970, within: 10, isAlive: ProcessLiveness.isRunning)) ?? []).isEmpty
    }

    /// The queue's row for a job's state (the run directory says what happened; the queue what comes next).
    public static func status(for state: RunState) -> (QueuedJob.Status, Double?, String?) {
        let parse: (String?) -> Double? = { $0.flatMap(Timestamp.parse) }
        switch state.status {
        case .done: return (.done, nil, state.summary?.split(separator: "\n").first.map(String.init))
        case .failed: return (.failed, nil, state.errors.last)
        case .cancelled: return (.cancelled, nil, state.pauseReason)
        case .awaitingApproval: return (.awaitingApproval, nil, "waiting for `cmo-plan approve \(state.jobID)`")
        case .waiting: return (.sleeping, parse(state.retryAt) ?? JobClock.now().timeIntervalSince1970 + 60, state.waitReason)
        case .paused:
            if let at = parse(state.resumeAt) { return (.sleeping, at, state.pauseReason) }
            return (.paused, nil, state.pauseReason)
        case .planned, .running: return (.queued, nil, nil)
        }
    }

    /// Runs until stopped (or, with `untilIdle`, until nothing is queued, running or sleeping).
    public func run() throws -> ExitStatus {
        let queue = try JobQueues.open()
        let me = getpid(), started = ProcessLiveness.startTime(getpid())
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var stop = false
        var sources: [DispatchSourceSignal] = []
        let stopLock = NSLock()
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { stopLock.lock(); stop = true; stopLock.unlock() }
            s.resume()
            sources.append(s)
        }
        var running: [Int32: (job: QueuedJob, dir: RunDirectory)] = [:]
        var beat = Date.distantPast
        say("worker \(me): \(concurrency) at once, queue \(queue.location)")
        while true {
            if Date().timeIntervalSince(beat) > 2 {
                try queue.heartbeat(worker: me, started: started, concurrency: concurrency, now: Date().timeIntervalSince1970)
                beat = Date()
            }
            // Jobs that ended: their state says what comes next.
            for (pid, entry) in running {
                guard let status = reap(pid) else { continue }
                running[pid] = nil
                let state = try? entry.dir.load()
                var (next, at, message) = state.map(Self.status(for:)) ?? (.failed, nil, "no state.json")
                if state?.status == .running || state?.status == .planned {
                    // Ended without saying why (a crash, exit 75 for a lock held elsewhere): look again soon.
                    (next, at, message) = (.sleeping, JobClock.now().timeIntervalSince1970 + 5, "cmo-plan exited \(status) without a result; trying again")
                }
                try queue.update(entry.job.id, status: next, notBefore: at, message: message, exitStatus: status, from: [.running])
                say("job \(entry.job.id): \(next.rawValue) (exit \(status))\(message.map { ": \($0)" } ?? "")")
            }
            stopLock.lock()
            let stopping = stop
            stopLock.unlock()
            if stopping {
                for (pid, entry) in running {
                    if let s = try? entry.dir.load() { try? JobControl.request(.requeue, by: "worker \(me) stopping", dir: entry.dir, state: s) }
                    _ = pid
                }
                let deadline = Date().addingTimeInterval(20)
                while !running.isEmpty && Date() < deadline {
                    // Still alive while its jobs stop: other machines must not take them over yet.
                    if Date().timeIntervalSince(beat) > 2 {
                        try? queue.heartbeat(worker: me, started: started, concurrency: concurrency, now: Date().timeIntervalSince1970)
                        beat = Date()
                    }
                    for (pid, entry) in running {
                        guard let status = reap(pid) else { continue }
                        running[pid] = nil
                        JobControl.clear(entry.dir)
                        // A job that ended before it heard of the stop keeps what it said (waiting for tomorrow, done).
                        if let state = try? entry.dir.load(), state.status != .running, state.status != .planned,
                            state.status != .waiting || state.waitReason?.hasPrefix("its worker stopped") != true
                        {
                            let (next, at, message) = Self.status(for: state)
                            try? queue.update(entry.job.id, status: next, notBefore: at, message: message, exitStatus: status, from: [.running])
                            continue
                        }
                        try? queue.update(entry.job.id, status: .queued, message: "its worker stopped; queued again", exitStatus: status, from: [.running])
                    }
                    usleep(50_000)
                }
                try? queue.removeWorker(me)
                say("worker \(me) stopped")
                return .ok
            }
            while running.count < concurrency,
                // Due on the jobs' clock (`CMO_CLOCK_OFFSET` moves it in tests and benches): a job waiting for tomorrow's cap runs tomorrow.
                let job = try queue.claim(worker: me, started: started, now: JobClock.now().timeIntervalSince1970, isAlive: ProcessLiveness.isRunning)
            {
                let dir = RunDirectory(runs: URL(fileURLWithPath: job.runsDir), jobID: job.id)
                var env = ProcessInfo.processInfo.environment
                env["CMO_WORKER_PID"] = String(me)
                do {
                    let pid = try spawnInBackground(StageSpec(
                        executable: exe, arguments: ["resume", job.id, "--runs-dir", job.runsDir, "--log-format", "json", "-q"] + job.options,
                        environment: env, stdin: nil, artifact: dir.path("logs/worker.log").path, log: dir.path("logs/worker.log").path))
                    running[pid] = (job, dir)
                    say("job \(job.id): started (pid \(pid), start \(job.starts))")
                } catch {
                    try queue.update(job.id, status: .failed, message: "cannot start: \(error)", from: [.running])
                }
            }
            if untilIdle, running.isEmpty {
                let active = try queue.jobs(limit: nil).contains { $0.status == .queued || $0.status == .running || $0.status == .sleeping }
                if !active {
                    try? queue.removeWorker(me)
                    say("worker \(me): nothing left to run")
                    return .ok
                }
            }
            usleep(useconds_t(poll * 1_000_000))
        }
    }
}

extension JobControl {
    /// Pause or cancel: a running job is signalled and stops within moments; a queued or sleeping one changes here.
    public static func apply(_ action: JobControl, dir: RunDirectory, queued: Bool, say: (String) -> Void) throws -> ExitStatus {
        var state = try dir.load()
        let id = state.jobID
        if state.status.isFinal {
            say("job \(id) is \(state.status.rawValue) already; nothing to \(action.rawValue)")
            return state.status == .done || state.status == .cancelled ? .ok : .usage
        }
        let who = "cmo-plan \(action.rawValue) (\(NSUserName()))"
        // A worker on another machine runs it: its pid means nothing here, so only the control file in the
        // shared runs directory asks it (the runner reads it at its next step); its state is not ours to change.
        let remote = queued ? (try? JobQueues.open().job(id)).flatMap { $0 }.flatMap { job -> String? in
            guard job.status == .running, let host = job.workerHost, host != JobQueues.host else { return nil }
            return host
        } : nil
        var asked = state
        if remote != nil { asked.runnerPID = nil }
        if try request(action, by: who, dir: dir, state: asked) || remote != nil {
            // Wait (briefly) for the job to say it stopped.
            let deadline = Date().addingTimeInterval(15)
            while Date() < deadline {
                if let s = try? dir.load(), s.status == .paused || s.status == .cancelled || s.status.isFinal {
                    say("job \(id): \(s.status.rawValue)")
                    return .ok
                }
                usleep(50_000)
            }
            say("job \(id): asked to \(action.rawValue)\(remote.map { " (its worker runs on \($0))" } ?? ""); it stops at its next step")
            return .ok
        }
        // Nobody runs it: change its state (under its lock, so a worker starting it now waits for us).
        guard case .held(let lock) = dir.lock() else {
            say("job \(id) is starting in another process; asked it to \(action.rawValue) (it stops at its first step)")
            return .ok
        }
        defer { lock.release() }
        state.status = action == .cancel ? .cancelled : .paused
        state.pauseReason = "\(action == .cancel ? "cancelled" : "paused") by \(who)"
        try dir.save(state)
        clear(dir)
        Runner.appendEvent(dir: dir, jobID: id, action == .cancel ? .cancelled : .paused, state.pauseReason!)
        if queued {
            try JobQueues.open().update(id, status: action == .cancel ? .cancelled : .paused, message: state.pauseReason)
        }
        say("job \(id): \(state.status.rawValue)")
        return .ok
    }
}
