import CMOContract
import CMOBasics
import Foundation

extension RunReport {
    /// The funnel's bars, in pipeline order: each stage's, from the registry.
    static let funnelStages: [(key: String, label: String)] = StageRegistry.all.compactMap { s in s.funnelKey.map { ($0, s.funnelLabel ?? $0) } }

    /// A step as the report reads it: from state.json, or from a `discover.sh --keep` folder's file names.
    struct StepFiles {
        var n: Int
        var stage: String
        var pass: Int
        var status: String
        var arguments: [String]
        var artifact: String
        var log: String
        var startedAt: String?
        var finishedAt: String?
        var seconds: Double?

        init(_ s: StepRecord) {
            (n, stage, pass, status, arguments) = (s.n, s.stage, s.widenStep, s.status.rawValue, s.arguments)
            (artifact, log, startedAt, finishedAt, seconds) = (s.artifact, s.log, s.startedAt, s.finishedAt, s.seconds)
        }

        init(folder n: Int, stage: String, stem: String) {
            (self.n, self.stage, pass, status, arguments) = (n, stage, 0, "done", [])
            (artifact, log) = ("artifacts/\(stem).ndjson", "logs/\(stem).log")
        }
    }
    /// Leads shown with their rendered email.
    public static let sampleSize = 5

    /// A short title from the job and its plan: `200 Python leads, last 90 days`,
    /// `50 Go and Rust leads on cli, 100+ stars, last 30 days (dry run)`.
    public static func title(job: Job, plan: Plan) -> String {
        let languages = (job.languages ?? []).map(languageName)
        var text = "\(ReportPage.n(plan.target)) " + (languages.isEmpty ? "" : listed(languages) + " ") + (plan.target == 1 ? "lead" : "leads")
        if let topics = job.topics, !topics.isEmpty { text += " on " + listed(topics) }
        var parts = [text]
        if let stars = plan.minStars, stars > 0 { parts.append("\(ReportPage.n(stars))+ stars") }
        parts.append(plan.activeDays == 1 ? "last day" : "last \(plan.activeDays) days")
        return parts.joined(separator: ", ") + (job.dryRun == true ? " (dry run)" : "")
    }

    /// `a`, `a and b`, `a, b and c`, `a, b, c and 2 more`.
    static func listed(_ names: [String]) -> String {
        let shown = names.count > 4 ? Array(names.prefix(3)) + ["\(names.count - 3) more"] : names
        guard shown.count > 1 else { return shown.first ?? "" }
        return shown.dropLast().joined(separator: ", ") + " and " + shown.last!
    }

    /// A language as people write it: `python` → Python, `javascript` → JavaScript, `c++` → C++.
    static func languageName(_ l: String) -> String {
        let known = [
            "javascript": "JavaScript", "typescript": "TypeScript", "php": "PHP", "c#": "C#", "f#": "F#", "html": "HTML", "css": "CSS",
            "coffeescript": "CoffeeScript", "objective-c": "Objective-C", "powershell": "PowerShell", "ocaml": "OCaml", "sql": "SQL",
        ]
        return known[l.lowercased()] ?? (l.prefix(1).uppercased() + l.dropFirst())
    }

    /// The report of a run directory (`runs/<job_id>`) or a `discover.sh --keep` folder.
    public static func build(_ url: URL) throws -> RunReport {
        let dir = RunDirectory(url: url)
        let state = dir.exists ? try dir.load() : nil
        let steps = state.map { $0.steps.map(StepFiles.init) } ?? folderSteps(url)
        guard !steps.isEmpty else { throw StageFailure(.usage, "\(url.path) holds no run: no state.json and no artifacts/NN-<stage>.ndjson") }
        // The run starts at its creation (a step run again after a wait keeps only its last start).
        let times = steps.compactMap { $0.startedAt.flatMap(Timestamp.parse) } + (state.flatMap { Timestamp.parse($0.createdAt) }.map { [$0] } ?? [])
        let start = times.min()
        var report = RunReport(
            jobID: state?.jobID ?? url.lastPathComponent, goal: state?.goal, title: state.map { title(job: $0.job, plan: $0.plan) },
            status: state?.status.rawValue ?? "folder",
            source: state == nil ? "folder" : "run", createdAt: state?.createdAt, finishedAt: nil, wallSeconds: nil, target: state?.plan.target,
            planner: state.map { $0.plan.planner + ($0.plan.model.map { " (\($0))" } ?? "") }, steps: [], funnel: [], waits: [], services: [],
            deliverability: nil, variants: [], writes: [], metrics: Metrics(leads: 0), samples: [], deadLetters: 0, notes: [])
        for s in steps {
            let summary = StageSummary.read(log: dir.path(s.log), stage: s.stage)
            report.steps.append(Step(n: s.n, stage: s.stage, pass: s.pass, status: s.status, arguments: s.arguments, startedAt: s.startedAt,
                                     finishedAt: s.finishedAt, offset: Timestamp.since(s.startedAt, start), seconds: s.seconds ?? summary?.seconds,
                                     summary: summary))
        }
        if let start {
            let ends = steps.compactMap { $0.finishedAt.flatMap(Timestamp.parse) }
            if let end = ends.max() {
                report.wallSeconds = end - start
                report.finishedAt = steps.compactMap(\.finishedAt).max()
            }
        } else {
            report.wallSeconds = report.steps.compactMap(\.seconds).max()
        }
        let done = report.steps.filter { $0.status == "done" }
        let artifacts = Dictionary(steps.map { ($0.n, dir.path($0.artifact)) }, uniquingKeysWith: { a, _ in a })
        func lastDone(_ stage: String) -> Step? { done.last { $0.stage == stage } }
        func records(_ step: Step?, _ body: ([String: Any]) -> Void) {
            guard let step, let url = artifacts[step.n] else { return }
            RunArtifacts.forEachObject(url, body)
        }
        let deadByStage = RunArtifacts.deadLetterGroups(dir.deadLettersURL)
        report.deadLetters = deadByStage.values.reduce(0) { $0 + $1.values.reduce(0) { $0 + $1.count } }

        // The funnel. A widening runs discovery again, and a later pass finds some of the same repositories
        // and people: the bars count each one once (by full_name, by login), as score-icp reads them; the
        // scorer and the renderer are the last and the best pass.
        var counts: [String: Int] = [:]
        var drops: [String: [Drop]] = [:]
        let passes = Set(done.map(\.pass)).count
        func unique(_ stage: String, key: String) -> (count: Int, all: Int)? {
            let steps = done.filter { $0.stage == stage }
            guard !steps.isEmpty else { return nil }
            var seen = Set<String>()
            var unkeyed = 0, all = 0
            for s in steps {
                records(s) { o in
                    all += 1
                    if let k = o[key] as? String { seen.insert(k) } else { unkeyed += 1 }
                }
            }
            return (seen.count + unkeyed, all)
        }
        func stageDrops(_ stage: String, steps: [Step]) -> [Drop] {
            var by: [String: Int] = [:]
            for s in steps { for (k, v) in s.summary?.filteredBy ?? [:] { by[k, default: 0] += v } }
            var out = by.filter { $0.value > 0 }.map { Drop(stage: stage, kind: "filtered", reason: $0.key, count: $0.value, example: nil) }
            for (code, g) in deadByStage[stage] ?? [:] { out.append(Drop(stage: stage, kind: "dead-lettered", reason: code, count: g.count, example: g.example)) }
            return out.sorted { $0.count != $1.count ? $0.count > $1.count : $0.reason < $1.reason }
        }
        /// The bar of a discovery stage from its unique and total records, and a drop for what later passes found again.
        func bar(_ key: String, _ stage: String, _ u: (count: Int, all: Int)?, extra: [Drop] = []) {
            guard let u else { return }
            counts[key] = u.count
            var d = stageDrops(stage, steps: done.filter { $0.stage == stage }) + extra
            if u.all > u.count { d.append(Drop(stage: stage, kind: "found again", reason: "by a later pass (counted once)", count: u.all - u.count, example: nil)) }
            drops[key] = d
        }
        bar("repositories", "gh-search", unique("gh-search", key: "full_name"))
        bar("people", "gh-people", unique("gh-people", key: "login"))
        if done.contains(where: { $0.stage == "gh-enrich" }) {
            // One read of each pass: who has an address (once each), who never has one in any pass.
            var withAddress = Set<String>()
            var withUnkeyed = 0, withAll = 0
            var noAddress: [String] = []
            for s in done where s.stage == "gh-enrich" {
                records(s) { o in
                    let login = o["login"] as? String
                    if Self.addresses(o).isEmpty {
                        if let login { noAddress.append(login) }
                        return
                    }
                    withAll += 1
                    if let login { withAddress.insert(login) } else { withUnkeyed += 1 }
                }
            }
            var without = Set<String>()
            var example: String?
            for login in noAddress where !withAddress.contains(login) {
                without.insert(login)
                if example == nil { example = login }
            }
            bar("with_email", "gh-enrich", (withAddress.count + withUnkeyed, withAll),
                extra: without.isEmpty ? [] : [Drop(stage: "gh-enrich", kind: "no address", reason: "no public or commit email found", count: without.count, example: example)])
        }
        bar("verified", "mx-check", unique("mx-check", key: "login"))
        // No address at all is the bar before's drop; here, what the addresses' checks dropped.
        drops["verified"] = drops["verified"]?.filter { !(counts["with_email"] != nil && $0.kind == "filtered" && $0.reason == "no_email") }
        // Every widening that happened (and who agreed to go past the goal), and a shortfall, in the run's words.
        for w in state?.widenings ?? [] { report.notes.append("widened \(w.step): \(w.reason)\(w.by.map { " (agreed by \($0))" } ?? "")") }
        for line in (state?.summary ?? "").split(separator: "\n") where line.hasPrefix("short: ") { report.notes.append(String(line)) }
        if passes > 1 { report.notes.append("\(passes) discovery passes (widenings): each repository and person counts once in the bars; the reasons count each pass's drops.") }
        if let s = lastDone("score-icp") {
            counts["scored"] = s.summary?.output ?? RunArtifacts.lineCount(artifacts[s.n])
            drops["scored"] = stageDrops("score-icp", steps: [s])
        }
        let rendered = done.filter { $0.stage == "render-copy" }.max { ($0.summary?.output ?? 0, $0.n) < ($1.summary?.output ?? 0, $1.n) }
        if let s = rendered {
            counts["rendered"] = s.summary?.output ?? RunArtifacts.lineCount(artifacts[s.n])
            drops["rendered"] = stageDrops("render-copy", steps: [s])
        }
        var variantSent: [String: Int] = [:], variantQueued: [String: Int] = [:]
        for w in StageRegistry.writers {
            guard let step = lastDone(w.name) else { continue }
            let t = RunArtifacts.tally(artifacts[step.n], stage: w)
            let target = state?.job.target(of: w)
                ?? step.arguments.firstIndex(of: w.targetFlag ?? "").flatMap { i in i + 1 < step.arguments.count ? step.arguments[i + 1] : nil } ?? "-"
            report.writes.append(Write(service: w.service ?? w.name, target: target, statuses: t.statusNames, parent: t.parentID, children: t.created))
            if w.name == StageRegistry.sendInstantly.name { (variantSent, variantQueued) = (t.variantSent, t.variantQueued) }
            if let key = w.funnelKey, let doneStatus = w.doneStatus {
                // A lead already in the campaign before this job is there, not a drop: the bar counts it, the
                // notes say how many were new.
                let already = w.name == StageRegistry.sendInstantly.name ? t.count(.alreadyQueued) : 0
                counts[key] = t.count(doneStatus) + already
                if already > 0 {
                    report.notes.append("\(w.service ?? w.name): \(t.count(doneStatus)) queued by this job, \(already) already in the campaign before it (not sent again)")
                }
                // Not written as asked, by status and the writer's reason, with a count and the first example.
                let d = t.notDone.filter { $0.status != .alreadyQueued }
                    .map { Drop(stage: w.name, kind: $0.status.rawValue, reason: $0.reason, count: $0.count, example: $0.example) }
                drops[key] = (d + stageDrops(w.name, steps: [step])).sorted { $0.count != $1.count ? $0.count > $1.count : $0.reason < $1.reason }
            }
        }
        // Triage filings in Linear.
        for t in state?.triage ?? [] {
            guard let linear = t.linear else { continue }
            let filed = RunArtifacts.tally(dir.path(linear), stage: StageRegistry.syncLinear)
            report.writes.append(Write(service: "Linear (triage of \(t.stage))", target: state?.job.linearTeam ?? "-", statuses: filed.statusNames,
                                       parent: filed.parentID, children: filed.created))
        }
        for f in funnelStages {
            guard let c = counts[f.key] else { continue }
            report.funnel.append(FunnelStage(key: f.key, label: f.label, count: c, drops: drops[f.key] ?? []))
        }

        // Waits: each "waiting" event until the next step starts again (or its retry_at).
        report.waits = waits(EventLog.read(dir.eventsURL), start: start)

        report.services = Self.usage(report.steps)
        report.deliverability = Self.deliverability(done.filter { $0.stage == StageRegistry.mxCheck.name })

        // Variants, samples.
        var variantRendered: [String: Int] = [:]
        var samples: [Sample] = []
        records(rendered) { o in
            guard let copy = o["copy"] as? [String: Any], let subject = copy["subject"] as? String, let body = copy["body"] as? String else { return }
            let v = copy["variant"] as? String ?? "-"
            variantRendered[v, default: 0] += 1
            if samples.count < sampleSize {
                samples.append(Sample(login: o["login"] as? String ?? "?", name: o["name"] as? String, email: o["best_email"] as? String,
                                      score: o["score"] as? Double, variant: copy["variant"] as? String, subject: subject, body: body,
                                      personal: Self.personal(o)))
            }
        }
        report.samples = samples
        report.variants = Set(variantRendered.keys).union(variantSent.keys).sorted().map {
            Variant(name: $0, rendered: variantRendered[$0] ?? 0, sent: variantSent[$0] ?? 0, queued: variantQueued[$0] ?? 0)
        }

        let leads = counts["rendered"] ?? 0
        let sent = variantSent.values.reduce(0, +)
        // The time a person took to approve is theirs, not the run's: left out of the rate.
        var gate = 0.0
        if let approved = state?.approval.flatMap({ Timestamp.parse($0.at) }) {
            let discovered = steps.filter { StageRegistry.readNames.contains($0.stage) }.compactMap { $0.finishedAt.flatMap(Timestamp.parse) }.filter { $0 <= approved }.max()
            gate = discovered.map { max(0, approved - $0) } ?? 0
        }
        report.metrics = Metrics(
            leads: leads,
            prospectsPerMinute: report.wallSeconds.flatMap { $0 - gate > 0 ? Double(leads) / (($0 - gate) / 60) : nil },
            mxPassRate: report.deliverability?.mxPassRate,
            instantlyAcceptance: sent > 0 ? Double(counts["queued"] ?? 0) / Double(sent) : nil)
        // What came back from Instantly: read from the event store (cmo-hooks), not from the run's files.
        report.outcomes = state.flatMap { Outcomes.of(dir: dir, state: $0) }
        return report
    }

    /// API usage per service, from the summaries of the steps that ran (DNS queries for mx-check).
    static func usage(_ steps: [Step]) -> [ServiceUsage] {
        var usage: [String: ServiceUsage] = [:]
        for s in steps where s.status == "done" || s.status == "failed" {
            guard let service = StageRegistry[s.stage]?.service, let sum = s.summary else { continue }
            var u = usage[service] ?? ServiceUsage(service: service, stages: [], requests: 0, notModified: 0, retries: 0, rateLimited: 0, waitSeconds: 0, quota: [:])
            if !u.stages.contains(s.stage) { u.stages.append(s.stage) }
            u.requests += s.stage == "mx-check" ? Int(sum.extra["dns_queries"]?.number ?? 0) : sum.requests
            u.notModified += sum.notModified
            u.retries += Int(sum.extra["http_retries"]?.number ?? 0)
            u.rateLimited += Int(sum.extra["http_rate_limited"]?.number ?? 0)
            u.waitSeconds += sum.extra["http_wait_seconds"]?.number ?? 0
            for (k, v) in sum.quota { u.quota[k, default: 0] += v }
            usage[service] = u
    }
    return usage.values.filter { $0.requests > 0 || !$0.quota.isEmpty }.sorted { $0.requests > $1.requests }
    }

    /// Deliverability over every mx-check pass, from their summaries.
    static func deliverability(_ checks: [Step]) -> Deliverability? {
        guard !checks.isEmpty else { return nil }
        var verdicts: [String: Int] = [:], flags: [String: Int] = [:], failed: [String: Int] = [:], failedWhy: [String: String] = [:]
        var checked = 0
        for s in checks {
            guard let sum = s.summary else { continue }
            for (k, v) in sum.extra["verdicts"]?.object ?? [:] { verdicts[k, default: 0] += Int(v) }
            for (k, v) in sum.extra["address_flags"]?.object ?? [:] { flags[k, default: 0] += Int(v) }
            for (k, v) in sum.extra["failed_domains"]?.object ?? [:] { failed[k, default: 0] += Int(v) }
            for (k, v) in sum.extra["failed_domain_reasons"]?.texts ?? [:] { failedWhy[k] = v }
            checked += Int(sum.extra["addresses_checked"]?.number ?? Double(sum.extra["verdicts"]?.object?.values.reduce(0, +) ?? 0))
    }
    let passed = (verdicts["safe"] ?? 0) + (verdicts["risky"] ?? 0)
    return Deliverability(
        addressesChecked: checked, verdicts: verdicts, mxPassRate: checked > 0 ? Double(passed) / Double(checked) : nil, flags: flags,
        failedDomains: failed.map { FailedDomain(domain: $0.key, reason: failedWhy[$0.key] ?? "-", addresses: $0.value) }
            .sorted { $0.addresses != $1.addresses ? $0.addresses > $1.addresses : $0.domain < $1.domain })
    }

    /// The steps of a `discover.sh --keep` folder: `artifacts/NN-<stage>.ndjson`, `logs/NN-<stage>.log`.
    static func folderSteps(_ url: URL) -> [StepFiles] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.appendingPathComponent("artifacts").path)) ?? []
        return names.sorted().compactMap { name in
            guard name.hasSuffix(".ndjson"), let dash = name.firstIndex(of: "-"), let n = Int(name[..<dash]) else { return nil }
            let stem = String(name.dropLast(7))
            let stage = String(stem[stem.index(after: dash)...])
            return StepFiles(folder: n, stage: stage, stem: stem)
        }
    }

    static func addresses(_ o: [String: Any]) -> [String] {
        var out = ((o["emails"] as? [[String: Any]]) ?? []).compactMap { $0["address"] as? String }
        if let e = o["email"] as? String, !e.isEmpty { out.append(e) }
        return out
    }

    static func waits(_ events: [RunEvent], start: Double?) -> [Wait] {
        var out: [Wait] = []
        var open: Wait?
        let ends: Set<RunEvent.Name> = [.stepStarted, .resumed, .done, .failed, .cancelled, .paused]
        for e in events {
            if e.event == .waiting {
                if open == nil {
                    open = Wait(from: e.time, until: e.retryAt, offset: Timestamp.since(e.time, start), seconds: nil, reason: e.message)
                }
            } else if ends.contains(e.event), var w = open {
                w.until = e.time
                if let a = Timestamp.parse(w.from), let b = Timestamp.parse(e.time) { w.seconds = b - a }
                out.append(w)
                open = nil
            }
        }
        if var w = open {
            if let a = Timestamp.parse(w.from), let until = w.until, let b = Timestamp.parse(until) { w.seconds = max(0, b - a) }
            out.append(w)
        }
        return out
    }

    /// The lead's own words that copy may use: first name, repositories, commit titles, company, language.
    static func personal(_ o: [String: Any]) -> [String] {
        var out: [String] = []
        if let name = o["name"] as? String, let first = name.split(separator: " ").first { out.append(String(first)) }
        if let login = o["login"] as? String { out.append(login) }
        for r in (o["from_repos"] as? [String]) ?? [] { out.append(r) }
        if let signals = o["signals"] as? [String: Any] {
            if let r = signals["repo"] as? String { out.append(r) }
            for r in (signals["maintainer_of"] as? [String]) ?? [] { out.append(r) }
            for t in (signals["recent_commit_titles"] as? [String]) ?? [] { out.append(t) }
            if let t = signals["repo_commit_title"] as? String { out.append(t) }
            for c in [signals["repo_commits_in_window"], signals["commits_in_window"]] {
                if let c = c as? Int, c > 1 { out.append("\(c) commits") }
            }
        }
        if let c = o["company"] as? String { out.append(c.hasPrefix("@") ? String(c.dropFirst()) : c) }
        var seen = Set<String>()
        return out.map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.count >= 2 && seen.insert($0).inserted }
    }
}
