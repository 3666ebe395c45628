import CMOContract
import CMOBasics
import CMOStorage
import Foundation

/// The clock a job's days and waits are counted on: the machine's, moved by `CMO_CLOCK_OFFSET` (seconds, or
/// with a unit: `90m`, `36h`, `2d`; tests and benches make days pass with it). The runner's waits and the
/// worker's look at the queue both read it, so a job waiting for tomorrow is due when this clock says so.
public enum JobClock {
    /// The offset `CMO_CLOCK_OFFSET` gives (0 when unset or not a number).
    public static func offset(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> TimeInterval {
        guard let text = environment["CMO_CLOCK_OFFSET"]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return 0 }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        if let unit = text.last, let scale = units[unit], let n = Double(text.dropLast()) { return n * scale }
        return Double(text) ?? 0
    }

    private static let processOffset = offset()

    /// Now, on this process's clock.
    public static func now() -> Date { Date().addingTimeInterval(processOffset) }
}

/// A job whose leads the daily cap spreads over several days: each day's part runs, then the job waits
/// (status `waiting`, `retry_at` the start of the next day a deferred lead becomes eligible) and the worker
/// continues it then: send-instantly again on the job's leads (the write ledger makes the queued ones and
/// the ones whose day is later write nothing), sync-attio for what it queued, the CSV again. The job is done
/// when no lead is deferred any more.
extension Runner {
    // MARK: the job's time

    /// How far the job's time is from the clock: the plan's `--now` minus the moment the job was made (a job
    /// planned "as of" a day lives its days on from there); 0 without `--now`.
    func jobShift() -> TimeInterval {
        guard let planned = state.plan.now.flatMap(Timestamp.parse), let created = Timestamp.parse(state.createdAt) else { return 0 }
        return planned - created
    }

    /// The job's time now.
    func jobNow() -> Date { JobClock.now().addingTimeInterval(jobShift()) }

    /// The day (UTC) a send-instantly step counted its cap on: its `--now`, else when it started.
    func sendDay(_ step: StepRecord) -> String? {
        if let now = step.call.text("now").flatMap(Timestamp.parse) { return Timestamp.day(Date(timeIntervalSince1970: now)) }
        return step.startedAt.flatMap(Timestamp.parse).map { Timestamp.day(Date(timeIntervalSince1970: $0 + jobShift())) }
    }

    static func day(_ day: String, plus n: Int) -> String {
        guard let t = Timestamp.parseDay(day) else { return day }
        return Timestamp.day(Date(timeIntervalSince1970: t + Double(n) * 86_400))
    }

    /// "Dec 8" for 2026-12-08.
    static func shortDay(_ day: String) -> String {
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let parts = day.split(separator: "-")
        guard parts.count == 3, let m = Int(parts[1]), let d = Int(parts[2]), (1...12).contains(m) else { return day }
        return "\(months[m - 1]) \(d)"
    }

    // MARK: deferred leads

    /// The leads the job's last send-instantly step left deferred: by the day they become eligible, and
    /// those another live run was writing (`in_progress`, retried within minutes).
    struct DeferredLeads {
        var byDay: [String: Int] = [:]
        var inProgress = 0
        var total: Int { byDay.values.reduce(0, +) + inProgress }
        var days: [String] { byDay.keys.sorted() }
    }

    /// The job's last send-instantly step and the leads it deferred; nil when none is deferred (or the job
    /// no longer sends: a dry run, the writers skipped by the chat).
    func deferredLeads() -> (step: StepRecord, leads: DeferredLeads)? {
        let send = StageRegistry.sendInstantly.name
        guard state.job.instantlyCampaign != nil, state.plan.planned(send) != nil, let step = state.lastDone(send), !step.call.isDryRun
        else { return nil }
        var d = DeferredLeads()
        RunArtifacts.forEachRecord(in: dir.path(step.artifact)) { r in
            guard let i = r["instantly"], i["status"]?.stringValue == WriterStatus.deferred.rawValue else { return }
            if i["reason"]?.stringValue == "in_progress" {
                d.inProgress += 1
            } else {
                d.byDay[i["eligible_on"]?.stringValue ?? "", default: 0] += 1
            }
        }
        return d.total > 0 ? (step, d) : nil
    }

    /// On a later day, when deferred leads are due: appends send-instantly (with the job's time as `--now`)
    /// and the plan's sync-attio and export-csv. False when nothing is due, or the job's last send-instantly
    /// ran today already (what is due and still deferred then waits for tomorrow's cap).
    func appendDueDay() throws -> Bool {
        guard let (last, deferred) = deferredLeads() else { return false }
        let now = jobNow()
        let today = Timestamp.day(now)
        let due = deferred.byDay.filter { $0.key <= today }.values.reduce(0, +)
        let newDay = sendDay(last).map { $0 < today } ?? true
        // Leads another run was writing: tried again once that run has had a minute.
        let busyAgain = deferred.inProgress > 0 && Date().timeIntervalSince1970 - (last.finishedAt.flatMap(Timestamp.parse) ?? 0) >= 60
        guard (due > 0 && newDay) || busyAgain else { return false }
        let writers = [StageRegistry.sendInstantly.name, StageRegistry.syncAttio.name, StageRegistry.exportCSV.name]
        var invocations: [StageInvocation] = []
        for planned in state.plan.stages.map(\.invocation) where writers.contains(planned.stage) {
            var s = planned
            if s.stage == StageRegistry.sendInstantly.name { s.set("now", .text(Timestamp.string(now))) }
            invocations.append(s)
        }
        guard invocations.contains(where: { $0.stage == StageRegistry.sendInstantly.name }) else { return false }
        let pass = state.steps.map(\.widenStep).max() ?? 0
        event(.planned, "\(Self.shortDay(today)): \(due + (busyAgain ? deferred.inProgress : 0)) deferred leads are due; "
              + invocations.map(\.stage).joined(separator: ", ") + " again on the job's leads (what is queued already is not written again)")
        for s in invocations { append(s, input: nil, pass: pass) }
        return true
    }

    /// The end of a day's part of the job. Adds to `lines` what the writers did by day. When send-instantly
    /// left leads deferred, the job is not done: it waits until the start of the first day one becomes
    /// eligible (on the job's clock) and the worker continues it then; a job run in the foreground is put
    /// in the queue for the worker. Returns 0 then (the day's part succeeded); nil when nothing is deferred:
    /// the job is done.
    func waitForDeferredLeads(_ lines: inout [String]) throws -> ExitStatus? {
        lines.insert(contentsOf: writtenByDay(), at: lines.firstIndex { $0.hasPrefix("dead letters:") } ?? lines.count)
        state.summary = lines.joined(separator: "\n")
        guard let (last, deferred) = deferredLeads() else { return nil }
        let today = Timestamp.day(jobNow())
        let tomorrow = Self.day(today, plus: 1)
        let wakeDay = max(deferred.days.first { !$0.isEmpty } ?? tomorrow, tomorrow)
        // A second into the day, on the clock the worker reads.
        var until = Date(timeIntervalSince1970: (Timestamp.parseDay(wakeDay) ?? 0) + 1 - jobShift())
        if deferred.inProgress > 0 { until = min(until, JobClock.now().addingTimeInterval(61)) }
        let cap = StageSummary.read(log: dir.path(last.log), stage: last.stage)?.extra["daily_cap"]?.number.map { Int($0) }
        let days = deferred.days.filter { !$0.isEmpty }
        var what = "\(deferred.total) leads are deferred"
        if let first = days.first, let final = days.last {
            what += " to " + (first == final ? Self.shortDay(first) : "\(Self.shortDay(first))–\(Self.shortDay(final))")
        }
        what += cap.map { " by the daily cap of \($0)" } ?? " by the daily cap"
        if deferred.inProgress > 0 { what += " (\(deferred.inProgress) were being written by another run: tried again in a minute)" }
        state.status = .waiting
        state.retryAt = Timestamp.string(until)
        state.waitReason = what
        state.runnerPID = nil
        state.runnerStarted = nil
        try save()
        event(.summary, "\(Self.shortDay(today))'s part: " + lines.joined(separator: "\ncmo-plan: "))
        let waits = "waits until \(until > JobClock.now().addingTimeInterval(3_600) ? wakeDay : state.retryAt!)"
        if options.worker {
            event(.waiting, what + "; the worker sends them on their days (the job \(waits))", retryAt: state.retryAt!)
        } else if enqueueForWorker(until: until, message: what) {
            event(.waiting, what + "; `cmo-plan worker` sends them on their days (job \(state.jobID) \(waits))", retryAt: state.retryAt!)
        } else {
            event(.waiting, what + "; `cmo-plan resume \(state.jobID)` on \(wakeDay) sends them (the queue could not be opened)", retryAt: state.retryAt!)
        }
        // Nothing failed: today's part is done and the rest is the worker's, as a job at the gate is a person's (0).
        return .ok
    }

    /// Puts a job run in the foreground in the queue, sleeping until `until`, so that `cmo-plan worker` continues
    /// it (with this run's stage overrides and settings). True when the job is in the queue.
    func enqueueForWorker(until: Date, message: String) -> Bool {
        guard let queue = try? JobQueues.open() else { return false }
        if let queued = try? queue.job(state.jobID) {
            if queued.status != .running { _ = try? queue.update(state.jobID, status: .sleeping, notBefore: until.timeIntervalSince1970, message: message) }
            return true
        }
        var resume: [String] = []
        for (stage, command) in options.stageOverrides.sorted(by: { $0.key < $1.key }) { resume += ["--stage", "\(stage)=\(command)"] }
        if let share = options.maxDeadShare { resume += ["--max-dead-share", String(share)] }
        if let config = options.config { resume += ["--config", config] }
        var job = QueuedJob(id: state.jobID, runsDir: dir.url.deletingLastPathComponent().standardizedFileURL.path, status: .sleeping, options: resume)
        job.notBefore = until.timeIntervalSince1970
        job.message = message
        do {
            try queue.add(job)
            return true
        } catch {
            event(.warning, "job \(state.jobID) could not be put in the queue for the worker: \(error)")
            return false
        }
    }

    /// What the writers did over the job's days, from their summaries: leads queued each day (when there
    /// was more than one), leads in the campaign before this job, and the Attio objects written.
    func writtenByDay() -> [String] {
        var out: [String] = []
        let send = StageRegistry.sendInstantly.name
        let sends = state.steps.filter { $0.stage == send && $0.status == .done && !$0.call.isDryRun }
        let summaries = sends.map { (step: $0, summary: StageSummary.read(log: dir.path($0.log), stage: send)) }
        if summaries.count > 1 {
            // Runs of three or more days with the same count are said once: "Nov 20–Dec 23 50 a day, Dec 24 10".
            var runs: [(first: String, last: String, n: Int, days: Int)] = []
            for (step, summary) in summaries {
                let day = Self.shortDay(sendDay(step) ?? "?"), n = summary?.written ?? 0
                if let r = runs.last, r.n == n {
                    runs[runs.count - 1] = (r.first, day, n, r.days + 1)
                } else {
                    runs.append((day, day, n, 1))
                }
            }
            let parts = runs.flatMap { r -> [String] in
                if r.days >= 3 { return ["\(r.first)–\(r.last) \(r.n) a day"] }
                return r.days == 1 ? ["\(r.first) \(r.n)"] : ["\(r.first) \(r.n)", "\(r.last) \(r.n)"]
            }
            out.append("send-instantly queued, by day: " + parts.joined(separator: ", "))
        }
        if let leads = summaries.last?.summary?.extra["leads"]?.object, let before = leads["already_in_campaign"], before > 0 {
            out.append("send-instantly: \(Int(before)) leads were in the campaign before this job (nothing sent"
                       + (state.job.attioList != nil ? ", no new Attio note" : "") + ")")
        }
        let attio = state.steps.filter { $0.stage == StageRegistry.syncAttio.name && $0.status == .done && !$0.call.isDryRun }
            .compactMap { StageSummary.read(log: dir.path($0.log), stage: $0.stage) }
        if !attio.isEmpty {
            func sum(_ kind: String, _ key: String) -> Int { attio.reduce(0) { $0 + Int($1.extra[kind]?.object?[key] ?? 0) } }
            if attio.contains(where: { $0.extra["people"] != nil }) {
                out.append(
                    "sync-attio: people \(sum("people", "created")) created, \(sum("people", "reasserted")) asserted again; "
                        + "list entries \(sum("entries", "added")) added, \(sum("entries", "reasserted")) asserted again; "
                        + "notes \(sum("notes", "written")) written, \(sum("notes", "skipped")) skipped (an earlier job's note stands)")
            }
        }
        return out
    }
}
