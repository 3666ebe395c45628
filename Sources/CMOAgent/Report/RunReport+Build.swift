import CMOCore
import Foundation

extension RunReport {
    /// Which service a stage speaks to, for API usage.
    static let services: [String: String] = [
        "gh-search": "GitHub", "gh-people": "GitHub", "gh-enrich": "GitHub", "mx-check": "DNS", "render-copy": "OpenAI-compatible model",
        "send-instantly": "Instantly", "sync-attio": "Attio", "sync-linear": "Linear",
    ]
    static let funnelStages: [(key: String, label: String)] = [
        ("repositories", "repositories"), ("people", "people"), ("with_email", "with an email"), ("verified", "verified"),
        ("scored", "scored"), ("rendered", "rendered"), ("queued", "queued in Instantly"), ("synced", "synced to Attio"),
    ]
    /// Leads shown with their rendered email.
    public static let sampleSize = 5

    /// The report of a run directory (`runs/<job_id>`) or a `discover.sh --keep` folder.
    public static func build(_ url: URL) throws -> RunReport {
        let dir = RunDirectory(url: url)
        let state = dir.exists ? try dir.load() : nil
        let steps = state.map { s in s.steps.map { ($0.n, $0.stage, $0.widenStep, $0.status.rawValue, $0.arguments, $0.artifact, $0.log, $0.startedAt, $0.finishedAt, $0.seconds) } }
            ?? folderSteps(url)
        guard !steps.isEmpty else { throw StageFailure(.usage, "\(url.path) holds no run: no state.json and no artifacts/NN-<stage>.ndjson") }
        // The run starts at its creation (a step run again after a wait keeps only its last start).
        let times = steps.compactMap { $0.7.flatMap(Timestamp.parse) } + (state.flatMap { Timestamp.parse($0.createdAt) }.map { [$0] } ?? [])
        let start = times.min()
        var report = RunReport(
            jobID: state?.jobID ?? url.lastPathComponent, goal: state?.goal, status: state?.status.rawValue ?? "folder",
            source: state == nil ? "folder" : "run", createdAt: state?.createdAt, finishedAt: nil, wallSeconds: nil, target: state?.plan.target,
            planner: state.map { $0.plan.planner + ($0.plan.model.map { " (\($0))" } ?? "") }, steps: [], funnel: [], waits: [], services: [],
            deliverability: nil, variants: [], writes: [], metrics: Metrics(leads: 0), samples: [], deadLetters: 0, notes: [])
        for s in steps {
            let summary = StageSummary.read(log: dir.path(s.6), stage: s.1)
            let offset = Timestamp.since(s.7, start)
            report.steps.append(Step(n: s.0, stage: s.1, pass: s.2, status: s.3, arguments: s.4, startedAt: s.7, finishedAt: s.8, offset: offset,
                                     seconds: s.9 ?? summary?.seconds, summary: summary))
        }
        if let start {
            let ends = steps.compactMap { $0.8.flatMap(Timestamp.parse) }
            if let end = ends.max() {
                report.wallSeconds = end - start
                report.finishedAt = steps.compactMap(\.8).max()
            }
        } else {
            report.wallSeconds = report.steps.compactMap(\.seconds).max()
        }
        let done = report.steps.filter { $0.status == "done" }
        let artifacts = Dictionary(steps.map { ($0.0, dir.path($0.5)) }, uniquingKeysWith: { a, _ in a })
        func lastDone(_ stage: String) -> Step? { done.last { $0.stage == stage } }
        func records(_ step: Step?, _ body: ([String: Any]) -> Void) {
            guard let step, let url = artifacts[step.n] else { return }
            forEachRecord(url, body)
        }
        let deadByStage = deadLetters(dir.deadLettersURL)
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
        if passes > 1 { report.notes.append("\(passes) discovery passes (widenings): each repository and person counts once in the bars; the reasons count each pass's drops.") }
        if let s = lastDone("score-icp") {
            counts["scored"] = s.summary?.output ?? lineCount(artifacts[s.n])
            drops["scored"] = stageDrops("score-icp", steps: [s])
        }
        let rendered = done.filter { $0.stage == "render-copy" }.max { ($0.summary?.output ?? 0, $0.n) < ($1.summary?.output ?? 0, $1.n) }
        if let s = rendered {
            counts["rendered"] = s.summary?.output ?? lineCount(artifacts[s.n])
            drops["rendered"] = stageDrops("render-copy", steps: [s])
        }
        let writers: [(stage: String, field: String, key: String?, service: String, target: String?)] = [
            ("send-instantly", "instantly", "queued", "Instantly", state?.job.instantlyCampaign),
            ("sync-attio", "attio", "synced", "Attio", state?.job.attioList),
            ("sync-linear", "linear", nil, "Linear", state?.job.linearTeam),
        ]
        var variantSent: [String: Int] = [:], variantQueued: [String: Int] = [:]
        for w in writers {
            guard let step = lastDone(w.stage) else { continue }
            var statuses: [String: Int] = [:]
            // Not written as asked, by status and the writer's reason, with a count and the first example.
            var why: [String: (status: String, reason: String, count: Int, example: String)] = [:]
            var parent: String?
            var children: [String] = []
            records(step) { o in
                guard let r = o[w.field] as? [String: Any], let status = r["status"] as? String else { return }
                statuses[status, default: 0] += 1
                if status != w.key {
                    let reason = r["reason"] as? String ?? status
                    let k = status + "\u{0}" + reason
                    let e = why[k]?.example ?? "\(o["login"] as? String ?? "?")" + ((r["message"] as? String).map { ": " + $0 } ?? "")
                    why[k] = (status, reason, (why[k]?.count ?? 0) + 1, e)
                }
                if w.stage == "send-instantly" {
                    let v = (o["copy"] as? [String: Any])?["variant"] as? String ?? "-"
                    if ["queued", "duplicate", "failed"].contains(status) { variantSent[v, default: 0] += 1 }
                    if status == "queued" { variantQueued[v, default: 0] += 1 }
                }
                if w.stage == "sync-linear" {
                    if parent == nil, let p = r["parent_id"] as? String { parent = p }
                    if let id = r["identifier"] as? String, status == "created" { children.append(id) }
                }
            }
            let target = w.target ?? step.arguments.firstIndex(where: { ["--campaign", "--list", "--team"].contains($0) }).flatMap { i in i + 1 < step.arguments.count ? step.arguments[i + 1] : nil } ?? "-"
            report.writes.append(Write(service: w.service, target: target, statuses: statuses, parent: parent, children: children))
            if let key = w.key {
                counts[key] = statuses[key] ?? 0
                let d = why.values.map { Drop(stage: w.stage, kind: $0.status, reason: $0.reason, count: $0.count, example: $0.example) }
                drops[key] = (d + stageDrops(w.stage, steps: [step])).sorted { $0.count != $1.count ? $0.count > $1.count : $0.reason < $1.reason }
            }
        }
        // Triage filings in Linear.
        for t in state?.triage ?? [] {
            guard let linear = t.linear else { continue }
            var children: [String] = []
            var parent: String?
            var statuses: [String: Int] = [:]
            forEachRecord(dir.path(linear)) { o in
                guard let r = o["linear"] as? [String: Any], let status = r["status"] as? String else { return }
                statuses[status, default: 0] += 1
                if parent == nil { parent = r["parent_id"] as? String }
                if status == "created", let id = r["identifier"] as? String { children.append(id) }
            }
            report.writes.append(Write(service: "Linear (triage of \(t.stage))", target: state?.job.linearTeam ?? "-", statuses: statuses, parent: parent, children: children))
        }
        for f in funnelStages {
            guard let c = counts[f.key] else { continue }
            report.funnel.append(FunnelStage(key: f.key, label: f.label, count: c, drops: drops[f.key] ?? []))
        }

        // Waits: each "waiting" event until the next step starts again (or its retry_at).
        report.waits = waits(dir.eventsURL, start: start)

        // API usage per service.
        var usage: [String: ServiceUsage] = [:]
        for s in report.steps where s.status == "done" || s.status == "failed" {
            guard let service = services[s.stage], let sum = s.summary else { continue }
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
        report.services = usage.values.filter { $0.requests > 0 || !$0.quota.isEmpty }.sorted { $0.requests > $1.requests }

        // Deliverability, over every mx-check pass.
        let checks = done.filter { $0.stage == "mx-check" }
        if !checks.isEmpty {
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
            report.deliverability = Deliverability(
                addressesChecked: checked, verdicts: verdicts, mxPassRate: checked > 0 ? Double(passed) / Double(checked) : nil, flags: flags,
                failedDomains: failed.map { FailedDomain(domain: $0.key, reason: failedWhy[$0.key] ?? "-", addresses: $0.value) }
                    .sorted { $0.addresses != $1.addresses ? $0.addresses > $1.addresses : $0.domain < $1.domain })
        }

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
        report.metrics = Metrics(
            leads: leads,
            prospectsPerMinute: report.wallSeconds.flatMap { $0 > 0 ? Double(leads) / ($0 / 60) : nil },
            mxPassRate: report.deliverability?.mxPassRate,
            instantlyAcceptance: sent > 0 ? Double(counts["queued"] ?? 0) / Double(sent) : nil)
        return report
    }

    /// The steps of a `discover.sh --keep` folder: `artifacts/NN-<stage>.ndjson`, `logs/NN-<stage>.log`.
    static func folderSteps(_ url: URL) -> [(Int, String, Int, String, [String], String, String, String?, String?, Double?)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.appendingPathComponent("artifacts").path)) ?? []
        return names.sorted().compactMap { name in
            guard name.hasSuffix(".ndjson"), let dash = name.firstIndex(of: "-"), let n = Int(name[..<dash]) else { return nil }
            let stem = String(name.dropLast(7))
            let stage = String(stem[stem.index(after: dash)...])
            return (n, stage, 0, "done", [], "artifacts/\(name)", "logs/\(stem).log", nil, nil, nil)
        }
    }

    static func forEachRecord(_ url: URL, _ body: ([String: Any]) -> Void) {
        guard let data = try? Data(contentsOf: url) else { return }
        for line in data.split(separator: 10) where !line.isEmpty {
            if let o = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] { body(o) }
        }
    }

    static func lineCount(_ url: URL?) -> Int {
        guard let url, let data = try? Data(contentsOf: url) else { return 0 }
        return data.reduce(0) { $1 == 10 ? $0 + 1 : $0 }
    }

    static func addresses(_ o: [String: Any]) -> [String] {
        var out = ((o["emails"] as? [[String: Any]]) ?? []).compactMap { $0["address"] as? String }
        if let e = o["email"] as? String, !e.isEmpty { out.append(e) }
        return out
    }

    /// Dead letters by stage and error code, with a count and the first example.
    public static func deadLetters(_ url: URL) -> [String: [String: (count: Int, example: String)]] {
        var out: [String: [String: (count: Int, example: String)]] = [:]
        forEachRecord(url) { o in
            let stage = o["stage"] as? String ?? "?"
            let e = o["error"] as? [String: Any]
            let code = e?["code"] as? String ?? "?"
            let input = o["input"] as? [String: Any]
            let who = input?["login"] as? String ?? input?["full_name"] as? String ?? "line \(o["line"] ?? "?")"
            let example = "\(who): \(e?["message"] as? String ?? "")"
            let g = out[stage]?[code]
            out[stage, default: [:]][code] = ((g?.count ?? 0) + 1, g?.example ?? example)
        }
        return out
    }

    static func waits(_ events: URL, start: Double?) -> [Wait] {
        var out: [Wait] = []
        var open: Wait?
        forEachRecord(events) { o in
            guard let e = o["event"] as? String, let time = o["time"] as? String else { return }
            if e == "waiting" {
                if open == nil {
                    open = Wait(from: time, until: o["retry_at"] as? String, offset: Timestamp.since(time, start), seconds: nil,
                                reason: o["message"] as? String ?? "waiting")
                }
            } else if ["step_started", "resumed", "done", "failed", "cancelled", "paused"].contains(e), var w = open {
                w.until = time
                if let a = Timestamp.parse(w.from), let b = Timestamp.parse(time) { w.seconds = b - a }
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
            if let c = signals["commits_90d"] as? Int, c > 1 { out.append("\(c) commits") }
        }
        if let c = o["company"] as? String { out.append(c.hasPrefix("@") ? String(c.dropFirst()) : c) }
        var seen = Set<String>()
        return out.map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.count >= 2 && seen.insert($0).inserted }
    }
}

/// ISO 8601 times as the runner writes them (with or without milliseconds).
enum Timestamp {
    static func parse(_ s: String) -> Double? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: s) { return d.timeIntervalSince1970 }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: s)?.timeIntervalSince1970
    }

    /// Seconds from `start` to the time `s`, when both are known.
    static func since(_ s: String?, _ start: Double?) -> Double? {
        guard let s, let t = parse(s), let start else { return nil }
        return t - start
    }
}
