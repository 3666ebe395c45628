import ArgumentParser
import Foundation
import XCTest

@testable import CMOBasics
@testable import CMOStageKit
@testable import CMOHTTP

final class StageContextTests: XCTestCase {
    func testHTTPClientSettingsFollowPrecedenceAndFeedTheSummary() throws {
        let path = NSTemporaryDirectory() + "cmo-ctx-\(UUID().uuidString).yaml"
        try "gh-search:\n  max-wait: 12\nconcurrency: 3\n".write(toFile: path, atomically: true, encoding: .utf8)
        let common = try CommonOptions.parse(["--config", path, "-q"])
        let ctx = try StageContext(stage: "gh-search", common: common, environment: ["CMO_HTTP_RETRIES": "2", "CMO_HTTP_CACHE": "0"])
        let client = try ctx.makeHTTPClient(try HTTPOptions.parse(["--timeout", "7"]))
        XCTAssertEqual(client.config.maxWait, 12)
        XCTAssertEqual(client.config.maxConcurrency, 3)
        XCTAssertEqual(client.config.totalTimeout, 7)
        XCTAssertEqual(client.config.maxRetries, 2)
        XCTAssertNil(client.config.cachePath)
        XCTAssertTrue(ctx.settings.describe().contains("max-wait    = 12.0  (config)"), ctx.settings.describe())
        XCTAssertThrowsError(try HTTPOptions.parse(["--concurrency", "0"]))
    }
}
