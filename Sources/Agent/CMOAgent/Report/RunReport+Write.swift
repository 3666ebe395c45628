import Foundation

extension RunReport {
    /// Writes `report.json` and `report.html` into `url` (each replaced atomically) and returns the page's path.
    @discardableResult
    public static func write(_ url: URL) throws -> URL {
        let report = try build(url)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try RunDirectory.replace(url.appendingPathComponent("report.json"), with: try encoder.encode(report) + Data([10]))
        let page = url.appendingPathComponent("report.html")
        try RunDirectory.replace(page, with: Data(ReportPage.html(report).utf8))
        return page
    }
}
