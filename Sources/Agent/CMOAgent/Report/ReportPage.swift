import Foundation

/// `report.html`: one self-contained page (inline CSS and SVG, no script, no font, no image, and a
/// Content-Security-Policy that forbids loading anything), readable on a laptop and in print, light or
/// dark as the reader's system prefers. Every figure comes from a `RunReport`; every text that came from
/// outside (names, bios, commit titles, copy, error messages) is escaped and cut to a sane length.
public enum ReportPage {
    public static func html(_ r: RunReport) -> String {
        var h = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <meta name="generator" content="cmo-plan report">
            <title>cmo — \(esc(r.title ?? r.goal ?? r.jobID, 120))</title>
            <style>\(css)</style></head><body>

            """
        h += "<header><p class=\"kicker\">cmo run report · \(r.source == "folder" ? "pipeline folder" : "job") <code>\(esc(r.jobID, 80))</code></p>"
        h += "<h1>\(esc(r.title ?? r.goal ?? "a pipelines/discover.sh run", 400))</h1>"
        if r.title != nil, let goal = r.goal { h += "<p class=\"goal\" id=\"goal\">\(esc(goal, 2000))</p>" }
        h += "<p class=\"meta\">"
        var meta = ["<span class=\"status s-\(esc(r.status, 20))\" id=\"status\">\(esc(r.status, 40))</span>"]
        if let c = r.createdAt { meta.append("created \(esc(c, 40))") }
        if let w = r.wallSeconds { meta.append("ran for \(duration(w))") }
        if let t = r.target { meta.append("\(n(t)) leads asked for") }
        if let p = r.planner { meta.append("planned by \(esc(p, 80))") }
        h += meta.joined(separator: " · ") + "</p></header>\n"

        // The seed's metrics.
        h += "<section class=\"cards\" id=\"metrics\">"
        h += card("leads", n(r.metrics.leads), "rendered, ready to send")
        h += card("prospects-per-minute", r.metrics.prospectsPerMinute.map { String(format: "%.1f", $0) } ?? "–", "prospects per minute of the run (the wait for approval left out)")
        h += card("mx-pass-rate", pct(r.metrics.mxPassRate), "MX pass rate (addresses whose domain takes mail)")
        h += card("instantly-acceptance", pct(r.metrics.instantlyAcceptance), "Instantly acceptance (accepted ÷ sent)")
        h += card("dead-letters", n(r.deadLetters), "records dead-lettered")
        h += "</section>\n"

        h += funnel(r)
        h += timeline(r)
        h += samples(r)
        h += services(r)
        h += deliverability(r)
        h += variants(r)
        h += outcomes(r)
        h += writes(r)
        h += plan(r)
        h += "<footer>Every figure on this page is read from the run's own files (state.json, artifacts/, logs/, dead-letters.ndjson, events.ndjson)"
            + (r.outcomes == nil ? "" : ", but the outcomes, read from the events Instantly sent back (cmo-hooks' store)") + "; the same figures are in report.json.</footer>\n"
        h += "</body></html>\n"
        return h
    }

    // MARK: sections

    static func funnel(_ r: RunReport) -> String {
        guard !r.funnel.isEmpty else { return "" }
        let top = max(1, r.funnel.map(\.count).max() ?? 1)
        let rowH = 34, labelW = 170, barW = 560, width = labelW + barW + 150
        var svg = "<svg class=\"chart\" role=\"img\" aria-label=\"funnel\" viewBox=\"0 0 \(width) \(r.funnel.count * rowH + 6)\" width=\"100%\">"
        for (i, f) in r.funnel.enumerated() {
            let y = i * rowH + 4
            let w = max(2, Int((Double(f.count) / Double(top) * Double(barW)).rounded()))
            // A share of the bar before where it is a subset of it (people are not a share of repositories).
            let share = i == 0 || f.key == "people" ? "" : r.funnel[i - 1].count > 0 ? " (\(Int((Double(f.count) / Double(r.funnel[i - 1].count) * 100).rounded()))%)" : ""
            svg += "<g class=\"bar\" data-key=\"\(f.key)\" data-count=\"\(f.count)\">"
            svg += "<text class=\"label\" x=\"\(labelW - 10)\" y=\"\(y + 19)\" text-anchor=\"end\">\(esc(f.label, 40))</text>"
            svg += "<rect x=\"\(labelW)\" y=\"\(y)\" width=\"\(w)\" height=\"\(rowH - 8)\" rx=\"3\"/>"
            svg += "<text class=\"value\" x=\"\(labelW + w + 8)\" y=\"\(y + 19)\"><tspan class=\"count\">\(n(f.count))</tspan><tspan class=\"share\">\(share)</tspan></text></g>"
        }
        svg += "</svg>"
        var drops = ""
        for f in r.funnel where !f.drops.isEmpty {
            for d in f.drops {
                drops += "<tr data-key=\"\(f.key)\"><td>\(esc(f.label, 40))</td><td>\(esc(d.stage, 30))</td><td>\(esc(d.kind, 40))</td><td><code>\(esc(d.reason, 80))</code></td>"
                drops += "<td class=\"num\">\(n(d.count))</td><td class=\"ex\">\(d.example.map { esc($0, 200) } ?? "")</td></tr>"
            }
        }
        return "<section id=\"funnel\"><h2>Funnel</h2>\(svg)" + r.notes.map { "<p class=\"note\">\(esc($0, 400))</p>" }.joined()
            + (drops.isEmpty ? "<p class=\"note\">Nothing was dropped on the way.</p>"
                : "<h3>Why records dropped out</h3><table class=\"drops\"><thead><tr><th>before</th><th>stage</th><th>how</th><th>reason</th><th class=\"num\">count</th><th>example</th></tr></thead><tbody>\(drops)</tbody></table>")
            + "</section>\n"
    }

    static func timeline(_ r: RunReport) -> String {
        let steps = r.steps.filter { $0.seconds != nil }
        guard !steps.isEmpty else { return "" }
        let total = max(0.001, r.wallSeconds ?? 0, steps.map { ($0.offset ?? 0) + ($0.seconds ?? 0) }.max() ?? 0,
                        r.waits.map { ($0.offset ?? 0) + ($0.seconds ?? 0) }.max() ?? 0)
        let rowH = 22, labelW = 190, barW = 600, width = labelW + barW + 80
        let rows = steps.count + r.waits.count
        var svg = "<svg class=\"chart timeline\" role=\"img\" aria-label=\"timeline\" viewBox=\"0 0 \(width) \(rows * rowH + 26)\" width=\"100%\">"
        svg += "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"3\" height=\"6\" class=\"hatch\"/></pattern></defs>"
        func x(_ t: Double) -> Double { Double(labelW) + t / total * Double(barW) }
        var row = 0
        var items: [(offset: Double, html: String)] = []
        for s in steps {
            let start = s.offset ?? 0, len = s.seconds ?? 0
            let label = "\(s.n). \(s.stage)" + (s.pass > 0 ? " (pass \(s.pass + 1))" : "")
            items.append((start, "<g class=\"step st-\(esc(s.status, 20))\"><text class=\"label\" x=\"\(labelW - 8)\" y=\"{Y+15}\" text-anchor=\"end\">\(esc(label, 40))</text><rect x=\"\(f1(x(start)))\" y=\"{Y}\" width=\"\(f1(max(1.5, x(start + len) - x(start))))\" height=\"\(rowH - 6)\" rx=\"2\"/><text class=\"value\" x=\"\(f1(x(start + len) + 5))\" y=\"{Y+15}\">\(duration(len))</text></g>"))
        }
        for w in r.waits {
            let start = w.offset ?? 0, len = w.seconds ?? 0
            items.append((start, "<g class=\"wait\"><title>\(esc(w.reason, 300))</title><text class=\"label\" x=\"\(labelW - 8)\" y=\"{Y+15}\" text-anchor=\"end\">waiting</text><rect x=\"\(f1(x(start)))\" y=\"{Y}\" width=\"\(f1(max(1.5, x(start + len) - x(start))))\" height=\"\(rowH - 6)\" fill=\"url(#hatch)\"/><text class=\"value\" x=\"\(f1(x(start + len) + 5))\" y=\"{Y+15}\">\(duration(len))</text></g>"))
        }
        for item in items.sorted(by: { $0.offset < $1.offset }) {
            let y = row * rowH + 2
            svg += item.html.replacingOccurrences(of: "{Y+15}", with: "\(y + 13)").replacingOccurrences(of: "{Y}", with: "\(y)")
            row += 1
        }
        let axisY = rows * rowH + 16
        for i in 0...4 {
            let t = total * Double(i) / 4
            svg += "<text class=\"axis\" x=\"\(f1(x(t)))\" y=\"\(axisY)\" text-anchor=\"middle\">\(duration(t))</text>"
        }
        svg += "</svg>"
        let waited = r.waits.compactMap(\.seconds).reduce(0, +)
        var note = r.source == "folder" ? "The stages of a pipeline run at the same time; each bar is one stage's own time." : "Each step from its start to its end (steps joined by a pipe run at the same time)"
        if r.source != "folder" { note += waited > 0 ? "; hatched rows are the job waiting for a rate limit or a token: \(duration(waited)) of \(duration(total))." : "; the job never had to wait for a rate limit." }
        var waitRows = ""
        for w in r.waits { waitRows += "<li>\(esc(w.from, 40)): \(esc(w.reason, 200))\(w.seconds.map { " — \(duration($0))" } ?? "")</li>" }
        return "<section id=\"timeline\"><h2>Where the time went</h2>\(svg)<p class=\"note\">\(note)</p>" + (waitRows.isEmpty ? "" : "<ul class=\"waits\">\(waitRows)</ul>") + "</section>\n"
    }

    static func services(_ r: RunReport) -> String {
        guard !r.services.isEmpty else { return "" }
        var rows = ""
        for s in r.services {
            let quota = s.quota.sorted { $0.key < $1.key }.map { "\(esc($0.key, 30)) \(n($0.value))" }.joined(separator: ", ")
            rows += "<tr data-service=\"\(esc(s.service, 40))\"><td>\(esc(s.service, 40))</td><td>\(s.stages.map { esc($0, 30) }.joined(separator: ", "))</td><td class=\"num\">\(n(s.requests))</td>"
            rows += "<td class=\"num\">\(n(s.notModified))</td><td>\(quota.isEmpty ? "–" : quota)</td><td class=\"num\">\(n(s.retries))</td><td class=\"num\">\(n(s.rateLimited))</td><td class=\"num\">\(duration(s.waitSeconds))</td></tr>"
        }
        let leads = max(1, r.metrics.leads)
        let gh = r.services.first { $0.service == "GitHub" }.map { String(format: "%.3f", Double($0.requests) / Double(leads)) }
        return "<section id=\"api\"><h2>API usage</h2><table><thead><tr><th>service</th><th>stages</th><th class=\"num\">requests</th><th class=\"num\">free 304s</th><th>quota spent</th><th class=\"num\">retries</th><th class=\"num\">rate-limited</th><th class=\"num\">waited</th></tr></thead><tbody>\(rows)</tbody></table>"
            + (gh.map { "<p class=\"note\">GitHub requests per rendered lead: \($0). DNS counts queries sent, not HTTP.</p>" } ?? "") + "</section>\n"
    }

    static func deliverability(_ r: RunReport) -> String {
        guard let d = r.deliverability else { return "" }
        let order = ["safe", "risky", "unknown", "invalid"]
        let total = max(1, d.verdicts.values.reduce(0, +))
        var x = 0.0
        var svg = "<svg class=\"chart\" role=\"img\" aria-label=\"verdicts\" viewBox=\"0 0 760 56\" width=\"100%\">"
        for v in order {
            let c = d.verdicts[v] ?? 0
            guard c > 0 else { continue }
            let w = Double(c) / Double(total) * 760
            svg += "<g class=\"verdict v-\(v)\" data-verdict=\"\(v)\" data-count=\"\(c)\"><rect x=\"\(f1(x))\" y=\"0\" width=\"\(f1(w))\" height=\"28\"/>"
            if w > 60 { svg += "<text x=\"\(f1(x + 6))\" y=\"46\">\(v) \(n(c))</text>" }
            svg += "</g>"
            x += w
        }
        svg += "</svg>"
        let legend = order.map { "<span class=\"key v-\($0)\">\($0) \(n(d.verdicts[$0] ?? 0))</span>" }.joined(separator: " ")
        let checked = max(1, d.addressesChecked)
        let flags = ["role", "free", "disposable", "noreply"].map { "<td class=\"num\">\(n(d.flags[$0] ?? 0)) (\(pct(Double(d.flags[$0] ?? 0) / Double(checked))))</td>" }.joined()
        var failed = ""
        for f in d.failedDomains.prefix(20) { failed += "<tr><td><code>\(esc(f.domain, 120))</code></td><td>\(esc(f.reason, 60))</td><td class=\"num\">\(n(f.addresses))</td></tr>" }
        return "<section id=\"deliverability\"><h2>Deliverability</h2><p>\(n(d.addressesChecked)) addresses checked; MX pass rate \(pct(d.mxPassRate)).</p>\(svg)<p class=\"legend\">\(legend)</p>"
            + "<table><thead><tr><th class=\"num\">role</th><th class=\"num\">free mail</th><th class=\"num\">disposable</th><th class=\"num\">no-reply</th></tr></thead><tbody><tr>\(flags)</tr></tbody></table>"
            + (failed.isEmpty ? "<p class=\"note\">No domain failed DNS.</p>" : "<h3>Domains that failed DNS</h3><table><thead><tr><th>domain</th><th>why</th><th class=\"num\">addresses</th></tr></thead><tbody>\(failed)</tbody></table>")
            + "</section>\n"
    }

    static func variants(_ r: RunReport) -> String {
        guard !r.variants.isEmpty else { return "" }
        var rows = ""
        for v in r.variants {
            let acceptance = v.sent > 0 ? pct(Double(v.queued) / Double(v.sent)) : "–"
            rows += "<tr data-variant=\"\(esc(v.name, 20))\"><td>\(esc(v.name, 20))</td><td class=\"num\">\(n(v.rendered))</td><td class=\"num\">\(n(v.sent))</td><td class=\"num\">\(n(v.queued))</td><td class=\"num\">\(acceptance)</td></tr>"
        }
        return "<section id=\"variants\"><h2>A/B variants</h2><table><thead><tr><th>variant</th><th class=\"num\">leads</th><th class=\"num\">sent to Instantly</th><th class=\"num\">accepted</th><th class=\"num\">acceptance</th></tr></thead><tbody>\(rows)</tbody></table></section>\n"
    }

    /// What came back from Instantly, by variant: the leads sent, the replies by kind, bounces, unsubscribes,
    /// and the note on whether a difference means anything; or that nothing has come back yet.
    static func outcomes(_ r: RunReport) -> String {
        guard let o = r.outcomes else { return "" }
        guard o.hasEvents else {
            return "<section id=\"outcomes\"><h2>Outcomes</h2><p class=\"note\" id=\"outcomes-none\">\(esc(o.note, 600))</p></section>\n"
        }
        func rate(_ c: Outcomes.Counts) -> String {
            guard let v = c.replyRate else { return "–" }
            return pct(v) + (c.replyRateLow.map { lo in c.replyRateHigh.map { " <span class=\"small\">(\(pct(lo))–\(pct($0)))</span>" } ?? "" } ?? "")
        }
        func row(_ name: String, _ c: Outcomes.Counts, total: Bool = false) -> String {
            let cells = [c.sent, c.replied, c.interested, c.notInterested, c.outOfOffice, c.wrongPerson, c.unsubscribed, c.bounced].map { "<td class=\"num\">\(n($0))</td>" }
            return "<tr\(total ? " class=\"total\"" : " data-variant=\"\(esc(name, 20))\"")><td>\(esc(name, 20))</td>" + cells.joined()
                + "<td class=\"num\">\(rate(c))</td><td class=\"num\">\(pct(c.bounceRate))</td></tr>"
        }
        var rows = o.byVariant.sorted { $0.key < $1.key }.map { row($0.key == "-" ? "none" : $0.key, $0.value) }.joined()
        if o.byVariant.count > 1 { rows += row("all", o.total, total: true) }
        var notes = "<p class=\"note\" id=\"outcomes-note\">\(esc(o.note, 600))</p>"
        notes += "<p class=\"note\">Leads, each counted once; replied counts answers (not auto-replies or out-of-office); the reply rate's range is its 95% Wilson interval. Bounces are hard and soft alike, as Instantly counts them"
            + (o.total.hardBounced + o.total.softBounced > 0 ? " (\(n(o.total.hardBounced)) hard, \(n(o.total.softBounced)) soft where the event says)" : "") + ". "
            + "Variants are \(esc(o.variantsFrom, 300)). Latest event: \(esc(o.latest ?? "?", 40)).</p>"
        if o.otherLeadsEvents > 0 { notes += "<p class=\"note\">\(n(o.otherLeadsEvents)) events of the campaign for leads this job did not queue are not counted.</p>" }
        return "<section id=\"outcomes\"><h2>Outcomes</h2><table><thead><tr><th>variant</th><th class=\"num\">sent</th><th class=\"num\">replied</th><th class=\"num\">interested</th>"
            + "<th class=\"num\">not interested</th><th class=\"num\">out of office</th><th class=\"num\">wrong person</th><th class=\"num\">unsubscribed</th><th class=\"num\">bounced</th>"
            + "<th class=\"num\">reply rate</th><th class=\"num\">bounce rate</th></tr></thead><tbody>\(rows)</tbody></table>\(notes)</section>\n"
    }

    static func writes(_ r: RunReport) -> String {
        guard !r.writes.isEmpty else { return "<section id=\"writes\"><h2>What was written where</h2><p class=\"note\">Nothing: this run wrote to no service.</p></section>\n" }
        var rows = ""
        for w in r.writes {
            let st = w.statuses.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { "\(n($0.value)) \(esc($0.key, 30))" }.joined(separator: ", ")
            var extra = ""
            if let p = w.parent { extra += "parent <code>\(esc(p, 60))</code>" }
            if !w.children.isEmpty { extra += (extra.isEmpty ? "" : "; ") + "children " + w.children.prefix(20).map { "<code>\(esc($0, 30))</code>" }.joined(separator: " ") + (w.children.count > 20 ? " …" : "") }
            rows += "<tr data-service=\"\(esc(w.service, 60))\"><td>\(esc(w.service, 60))</td><td><code>\(esc(w.target, 80))</code></td><td>\(st.isEmpty ? "nothing" : st)</td><td>\(extra)</td></tr>"
        }
        return "<section id=\"writes\"><h2>What was written where</h2><table><thead><tr><th>service</th><th>where</th><th>records</th><th></th></tr></thead><tbody>\(rows)</tbody></table></section>\n"
    }

    static func plan(_ r: RunReport) -> String {
        var rows = ""
        for s in r.steps {
            let sum = s.summary.map { "\(n($0.input)) in → \(n($0.output)) out" + ($0.filtered > 0 ? ", \(n($0.filtered)) filtered" : "") + ($0.deadLettered > 0 ? ", \(n($0.deadLettered)) dead" : "") } ?? "–"
            rows += "<tr class=\"st-\(esc(s.status, 20))\"><td class=\"num\">\(s.n)</td><td>\(esc(s.stage, 30))</td><td>\(esc(s.status, 20))</td><td>\(sum)</td><td><code>\(esc(s.arguments.joined(separator: " "), 400))</code></td></tr>"
        }
        return "<section id=\"plan\"><h2>The plan as run</h2><table><thead><tr><th class=\"num\">#</th><th>stage</th><th>status</th><th>records</th><th>arguments</th></tr></thead><tbody>\(rows)</tbody></table></section>\n"
    }

    static func samples(_ r: RunReport) -> String {
        guard !r.samples.isEmpty else { return "" }
        var out = "<section id=\"samples\"><h2>The copy, as recipients will see it</h2><p class=\"note\">The first \(r.samples.count) rendered leads; <mark>highlighted</mark> text comes from the lead's own data.</p><div class=\"mails\">"
        for s in r.samples {
            let to = (s.name.map { esc($0, 100) + " " } ?? "") + (s.email.map { "&lt;\(esc($0, 200))&gt;" } ?? "")
            out += "<article class=\"mail\"><p class=\"hdr\"><span>To</span> \(to)</p><p class=\"hdr\"><span>Subject</span> <b>\(highlight(s.subject, s.personal, 300))</b></p>"
            out += "<p class=\"hdr small\">\(esc(s.login, 60))\(s.variant.map { " · variant \(esc($0, 20))" } ?? "")\(s.score.map { String(format: " · score %.2f", $0) } ?? "")</p>"
            out += "<div class=\"body\">\(highlight(s.body, s.personal, 6000))</div></article>"
        }
        return out + "</div></section>\n"
    }

    // MARK: text

    /// HTML-escaped, control characters dropped (new lines kept), cut to `limit` characters.
    public static func esc(_ s: String, _ limit: Int) -> String {
        var t = s.unicodeScalars.filter { $0 == "\n" || $0 == "\t" || !(CharacterSet.controlCharacters.contains($0) || $0.properties.generalCategory == .format && $0 != "\u{200D}") }
            .map(String.init).joined()
        if t.count > limit { t = String(t.prefix(limit)) + "…" }
        var out = ""
        out.reserveCapacity(t.utf8.count)
        for c in t {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// The text escaped, with every occurrence of the lead's own words in `<mark>` (longest first, no overlaps).
    static func highlight(_ text: String, _ words: [String], _ limit: Int) -> String {
        let t = text.count > limit ? String(text.prefix(limit)) + "…" : text
        var ranges: [Range<String.Index>] = []
        for w in words.sorted(by: { $0.count > $1.count }) where !w.isEmpty {
            var from = t.startIndex
            while let r = t.range(of: w, range: from..<t.endIndex) {
                if !ranges.contains(where: { $0.overlaps(r) }) { ranges.append(r) }
                from = r.upperBound
            }
        }
        var out = ""
        var at = t.startIndex
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            out += esc(String(t[at..<r.lowerBound]), Int.max) + "<mark>" + esc(String(t[r]), Int.max) + "</mark>"
            at = r.upperBound
        }
        return out + esc(String(t[at...]), Int.max)
    }

    static func n(_ v: Int) -> String {
        let s = String(abs(v))
        var out = ""
        for (i, c) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return (v < 0 ? "-" : "") + out
    }

    static func pct(_ v: Double?) -> String { v.map { String(format: "%.1f%%", $0 * 100) } ?? "–" }
    static func f1(_ v: Double) -> String { String(format: "%.1f", v) }

    static func duration(_ s: Double) -> String {
        if s < 1 { return String(format: "%.2f s", s) }
        if s < 60 { return String(format: "%.1f s", s) }
        if s < 3600 { return String(format: "%d min %02d s", Int(s) / 60, Int(s) % 60) }
        return String(format: "%d h %02d min", Int(s) / 3600, Int(s) % 3600 / 60)
    }

    static func card(_ id: String, _ value: String, _ label: String) -> String {
        "<div class=\"card\" id=\"m-\(id)\"><div class=\"v\">\(value)</div><div class=\"l\">\(label)</div></div>"
    }

    static let css = """
        :root{--bg:#fbfbfa;--fg:#1d1f21;--muted:#5f6368;--line:#e2e2df;--card:#fff;--bar:#3b6fd8;--bar2:#8fb0f0;--wait:#c77d14;
        --safe:#2e8b57;--risky:#d1a21d;--unknown:#8a8f98;--invalid:#c0392b;--mark:#fff2a8;color-scheme:light dark}
        @media (prefers-color-scheme:dark){:root{--bg:#16181c;--fg:#e6e6e3;--muted:#a0a4ab;--line:#33363c;--card:#1f2227;--bar:#6d9bf1;
        --bar2:#3d5f9e;--wait:#e0a24a;--mark:#5c4f12}}
        *{box-sizing:border-box}body{margin:0 auto;max-width:1080px;padding:24px 28px 48px;background:var(--bg);color:var(--fg);
        font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
        h1{font-size:24px;margin:4px 0 6px;line-height:1.25}.goal{margin:0 0 6px;font-size:14px;overflow-wrap:anywhere}h2{font-size:18px;margin:0 0 10px}h3{font-size:15px;margin:16px 0 6px}
        .kicker,.meta,.note,footer,.small{color:var(--muted);font-size:13px}.kicker{margin:0;text-transform:uppercase;letter-spacing:.04em}
        section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 18px;margin:16px 0}
        .cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:10px;background:none;border:0;padding:0}
        .card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px}.card .v{font-size:26px;font-weight:650}
        .card .l{color:var(--muted);font-size:12.5px}.status{font-weight:600}.s-done{color:var(--safe)}.s-failed{color:var(--invalid)}
        .s-paused,.s-waiting,.s-awaiting_approval{color:var(--wait)}
        table{border-collapse:collapse;width:100%;font-size:13.5px}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
        th{color:var(--muted);font-weight:600}.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.ex{color:var(--muted);max-width:380px;overflow-wrap:anywhere}
        code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
        .chart{display:block;max-width:100%;height:auto;font-size:13px}.chart text{fill:var(--fg)}.chart .label{fill:var(--muted)}
        .chart .bar rect,.chart .step rect{fill:var(--bar)}.chart .st-failed rect{fill:var(--invalid)}.chart .st-pending rect,.chart .st-running rect{fill:var(--bar2)}
        .chart .hatch{fill:var(--wait)}.chart .wait text.label{fill:var(--wait)}.chart .axis{fill:var(--muted);font-size:11px}.chart .share{fill:var(--muted)}
        .v-safe rect{fill:var(--safe)}.v-risky rect{fill:var(--risky)}.v-unknown rect{fill:var(--unknown)}.v-invalid rect{fill:var(--invalid)}
        .legend .key{margin-right:14px;font-size:13px}.legend .key:before{content:"";display:inline-block;width:10px;height:10px;margin-right:5px;border-radius:2px;background:var(--unknown)}
        .legend .v-safe:before{background:var(--safe)}.legend .v-risky:before{background:var(--risky)}.legend .v-invalid:before{background:var(--invalid)}
        .mails{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:12px}
        .mail{border:1px solid var(--line);border-radius:6px;padding:10px 14px;background:var(--bg)}.mail .hdr{margin:2px 0;font-size:13.5px}
        .mail .hdr span{display:inline-block;width:58px;color:var(--muted)}.mail .body{white-space:pre-wrap;overflow-wrap:anywhere;margin-top:8px;font-size:14px}
        mark{background:var(--mark);color:inherit;border-radius:2px;padding:0 1px}ul.waits{font-size:13px;color:var(--muted);margin:6px 0 0;padding-left:18px}
        footer{margin-top:20px}
        @media print{:root{--bg:#fff;--fg:#000;--card:#fff;--line:#bbb;--mark:#ffef8a}body{max-width:none;padding:0;font-size:11pt}
        section,.card,.mail{break-inside:avoid}.mails{grid-template-columns:1fr 1fr}}
        """
}
