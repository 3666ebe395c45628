import CMOTestSupport
import Foundation
import XCTest

/// The run report opened in a real headless browser (Debian's chromium): the funnel's numbers in the
/// rendered DOM are the run's own counts, the page asks the network for nothing, and it renders with
/// JavaScript off. Chromium is kept off the internet (a dead proxy, every name unresolvable) and its
/// JavaScript switch and request log are checked on control pages first, so neither check passes
/// by not working.
final class ReportTests: XCTestCase {
    static let now = CMOPlanTests.now
    static let root = CMOPlanTests.root

    /// chromium with a fresh profile (JavaScript off when asked, through the profile's content settings)
    /// and no way out to the network.
    func browser(_ args: [String], javascript: Bool = true) throws -> SpawnResult {
        let chromium = "/usr/bin/chromium"
        guard FileManager.default.isExecutableFile(atPath: chromium) else {
            XCTFail("Debian's chromium is needed for the report's browser tests (bin/test installs it)")
            throw XCTSkip("no chromium")
        }
        let profile = Spawn.tempDirectory()
        addTeardownBlock { try? FileManager.default.removeItem(atPath: profile) }
        if !javascript {
            try FileManager.default.createDirectory(atPath: profile + "/Default", withIntermediateDirectories: true)
            try Data(#"{"profile":{"default_content_setting_values":{"javascript":2}}}"#.utf8).write(to: URL(fileURLWithPath: profile + "/Default/Preferences"))
        }
        let flags = [
            "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
            "--user-data-dir=\(profile)",
        ]
        return try Spawn.run(chromium, flags + args, environment: ["PATH": "/usr/bin:/bin", "HOME": profile])
    }

    /// The URLs a page asked for (not the browser's own requests), from chromium's net log.
    func pageRequests(_ page: String) throws -> [String] {
        let log = Spawn.tempDirectory() + "/net.json"
        _ = try browser(["--log-net-log=\(log)", "--dump-dom", "file://" + page])
        let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: log))) as? [String: Any])
        let types = try XCTUnwrap((o["constants"] as? [String: Any])?["logEventTypes"] as? [String: Int])
        let start = try XCTUnwrap(types["URL_REQUEST_START_JOB"])
        return ((o["events"] as? [[String: Any]]) ?? []).compactMap { e in
            guard e["type"] as? Int == start, let p = e["params"] as? [String: Any], let url = p["url"] as? String,
                (p["network_isolation_key"] as? String ?? "").contains("file://"), !url.hasPrefix("file:")
            else { return nil }
            return url
        }
    }

    /// `<g class="bar" data-key="K" data-count="N">…<tspan class="count">N formatted</tspan>` → K: (data, shown).
    func funnel(_ dom: String) -> [String: (data: Int, shown: Int)] {
        var out: [String: (Int, Int)] = [:]
        for m in dom.matches(of: try! Regex(#"<g class="bar" data-key="([a-z_]+)" data-count="(\d+)">.*?<tspan class="count">([\d,]+)</tspan>"#)) {
            let key = String(m.output[1].substring ?? "")
            out[key] = (Int(m.output[2].substring ?? "") ?? -1, Int((m.output[3].substring ?? "").replacingOccurrences(of: ",", with: "")) ?? -1)
        }
        return out
    }

    func lines(_ path: String) -> [[String: Any]] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func testTheReportOfARunInAHeadlessBrowser() throws {
        // The browser's own checks work: JavaScript off really is off, and a page's requests are seen.
        let controls = Spawn.tempDirectory()
        try #"<!doctype html><p id="x">static</p><script>document.getElementById("x").textContent="scripted"</script>"#
            .write(toFile: controls + "/js.html", atomically: true, encoding: .utf8)
        XCTAssertTrue(try browser(["--dump-dom", "file://\(controls)/js.html"]).out.contains(">scripted<"))
        XCTAssertTrue(try browser(["--dump-dom", "file://\(controls)/js.html"], javascript: false).out.contains(">static<"), "JavaScript is off")
        try #"<!doctype html><img src="http://example.com/x.png"><link rel="stylesheet" href="https://cdn.example.com/a.css">"#
            .write(toFile: controls + "/net.html", atomically: true, encoding: .utf8)
        XCTAssertEqual(Set(try pageRequests(controls + "/net.html")), ["http://example.com/x.png", "https://cdn.example.com/a.css"])

        let s = try SandboxLauncher(["--repos", "400", "--users", "600", "--now", Self.now])
        defer { s.stop() }
        var env = s.environment
        let dir = Spawn.tempDirectory()
        env["CMO_STATE_DIR"] = dir + "/state"
        env["CMO_RUNS_DIR"] = dir + "/runs"
        let goal = "Find 15 Python maintainers active in the last 90 days, queue them in Instantly campaign \(env["CMO_SANDBOX_INSTANTLY_CAMPAIGN"] ?? ""), "
            + "add them to Attio list \(env["CMO_SANDBOX_ATTIO_LIST"] ?? ""), export a CSV"
        let r = try Spawn.run("cmo-plan", ["run", "--yes", "--widen", "--name", "report", "--config", CMOPlanTests.campaign, "--now", Self.now, goal], environment: env)
        XCTAssertEqual(r.status, 0, r.err)
        let runs = try FileManager.default.contentsOfDirectory(atPath: dir + "/runs")
        let run = dir + "/runs/" + (try XCTUnwrap(runs.first))
        XCTAssertTrue(r.err.contains("report: \(run)/report.html"), r.err)
        let html = try String(contentsOfFile: run + "/report.html", encoding: .utf8)
        XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/report.json"))
        // Titled short from the job; the goal, with its ids, in full under the title.
        XCTAssertTrue(html.contains("<h1>15 Python leads, last 90 days</h1>"), html)
        XCTAssertTrue(html.contains("id=\"goal\">\(goal)</p>"), html)

        // What the funnel must say, counted here from the run's own files.
        let state = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/state.json"))) as? [String: Any])
        let steps = (state["steps"] as? [[String: Any]] ?? []).filter { $0["status"] as? String == "done" }
        func out(_ stage: String) -> [Int] { steps.filter { $0["stage"] as? String == stage }.map { lines(run + "/" + ($0["artifact"] as! String)).count } }
        // Each repository and person once, whichever pass found them.
        func unique(_ stage: String, _ key: String, _ keep: ([String: Any]) -> Bool = { _ in true }) -> Int {
            Set(steps.filter { $0["stage"] as? String == stage }.flatMap { lines(run + "/" + ($0["artifact"] as! String)) }.filter(keep).compactMap { $0[key] as? String }).count
        }
        func artifact(_ stage: String) -> [[String: Any]] { steps.last { $0["stage"] as? String == stage }.map { lines(run + "/" + ($0["artifact"] as! String)) } ?? [] }
        let withEmail = unique("gh-enrich", "login") { !(($0["emails"] as? [Any]) ?? []).isEmpty }
        let queued = artifact("send-instantly").filter { ($0["instantly"] as? [String: Any])?["status"] as? String == "queued" }.count
        let synced = artifact("sync-attio").filter { ($0["attio"] as? [String: Any])?["status"] as? String == "synced" }.count
        let expected: [String: Int] = [
            "repositories": unique("gh-search", "full_name"), "people": unique("gh-people", "login"), "with_email": withEmail,
            "verified": unique("mx-check", "login"), "scored": out("score-icp").last ?? -1, "rendered": out("render-copy").max() ?? -1,
            "queued": queued, "synced": synced,
        ]
        XCTAssertEqual(queued, 15)
        let stats = try XCTUnwrap(try s.stats()["services"] as? [String: Any])
        XCTAssertEqual((stats["instantly"] as? [String: Any])?["leads"] as? Int, queued, "the report's queued is what Instantly holds")
        XCTAssertEqual((stats["attio"] as? [String: Any])?["list_entries"] as? Int, synced, "the report's synced is what Attio holds")

        // The page as the browser rendered it, JavaScript off.
        let dom = try browser(["--dump-dom", "file://\(run)/report.html"], javascript: false)
        XCTAssertEqual(dom.status, 0, dom.err)
        let shown = funnel(dom.out)
        XCTAssertEqual(Set(shown.keys), Set(expected.keys), dom.out)
        for (key, n) in expected {
            XCTAssertEqual(shown[key]?.data, n, "\(key) in the DOM")
            XCTAssertEqual(shown[key]?.shown, n, "\(key) as the reader sees it")
        }
        XCTAssertTrue(dom.out.contains("id=\"samples\"") && dom.out.contains("<mark>"), "the copy preview, personalisation highlighted")
        XCTAssertTrue(dom.out.contains("Instantly acceptance"), dom.out)

        // Self-contained: no script, nothing to fetch, and the browser fetched nothing.
        XCTAssertFalse(html.contains("<script"))
        XCTAssertNil(html.range(of: #"(src|href)\s*=|@import|url\((?!#)"#, options: .regularExpression), "no resource to load")
        XCTAssertTrue(html.contains("Content-Security-Policy\" content=\"default-src 'none'"))
        XCTAssertEqual(try pageRequests(run + "/report.html"), [])
        XCTAssertTrue(html.contains("prefers-color-scheme:dark") && html.contains("@media print"))

        // A screenshot: it renders (and docs/report.png is one of the demo's).
        let png = dir + "/report.png"
        let shot = try browser(["--window-size=1280,2000", "--screenshot=\(png)", "file://\(run)/report.html"])
        XCTAssertEqual(shot.status, 0, shot.err)
        XCTAssertGreaterThan((try? FileManager.default.attributesOfItem(atPath: png)[.size] as? Int) ?? 0, 20_000)

        // `cmo-plan report` writes it again, the same figures.
        let again = try Spawn.run("cmo-plan", ["report", try XCTUnwrap(state["job_id"] as? String), "--json"], environment: env)
        XCTAssertEqual(again.status, 0, again.err)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(again.out.utf8)) as? [String: Any])
        let funnel = (json["funnel"] as? [[String: Any]] ?? []).reduce(into: [String: Int]()) { $0[$1["key"] as! String] = $1["count"] as? Int }
        XCTAssertEqual(funnel, expected)
        XCTAssertEqual((json["metrics"] as? [String: Any])?["instantly_acceptance"] as? Double, 1.0)
    }

    /// A `pipelines/discover.sh --keep DIR` folder gets the same report: its funnel is the stages' outputs.
    func testTheReportOfADiscoverFolder() throws {
        let s = try SandboxLauncher(["--repos", "400", "--users", "600", "--now", Self.now])
        defer { s.stop() }
        let dir = Spawn.tempDirectory()
        var env = s.environment
        env["CMO_BIN"] = Spawn.productsDirectory.path
        env["PATH"] = "/usr/bin:/bin"
        env["CMO_STATE_DIR"] = dir + "/state"
        let keep = dir + "/keep"
        let r = try Spawn.run("/bin/bash", [Self.root + "/pipelines/discover.sh", "--now", Self.now, "--config", CMOPlanTests.campaign, "--keep", keep,
                                            "language:python stars:>=50", "10", dir + "/out.csv"], environment: env)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("discover: report: \(keep)/report.html"), r.err)
        func count(_ name: String) -> Int { lines("\(keep)/artifacts/\(name).ndjson").count }
        let dom = try browser(["--dump-dom", "file://\(keep)/report.html"], javascript: false)
        let shown = funnel(dom.out)
        XCTAssertEqual(shown["repositories"]?.shown, count("01-gh-search"))
        XCTAssertEqual(shown["people"]?.shown, count("02-gh-people"))
        XCTAssertEqual(shown["verified"]?.shown, count("04-mx-check"))
        XCTAssertEqual(shown["rendered"]?.shown, count("06-render-copy"))
        XCTAssertGreaterThan(count("06-render-copy"), 0)
        XCTAssertTrue(dom.out.contains("a pipelines/discover.sh run"), dom.out)
    }
}
