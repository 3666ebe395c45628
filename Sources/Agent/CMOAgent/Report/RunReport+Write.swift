import Foundation

extension RunReport {
    /// Writes `report.json` and `report.html` into `url` (each replaced atomically) and returns the page's path.
    @discardableResult
    public static func write(_ url: URL) throws -> URL {
        let report = try build(url)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try (try encoder.encode(report) + Data([10])).write(to: url.appendingPathComponent("report.json"), options: .atomic)
        let page = url.appendingPathComponent("report.html")
        try Data(ReportPage.html(report).utf8).write(to: page, options: .atomic)
        return page
    }
}
