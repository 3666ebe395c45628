import CMOAgent
import XCTest

/// What the model goal parser accepts from a `set_job` call: the job's fields with the right types and
/// ranges, languages folded like the rule parser's, and ids only when the goal has them word for word.
final class ModelGoalParserTests: XCTestCase {
    let goal = "Find ~2k Py maintainers active in the last 90 days, queue them in Instantly campaign 123, add them to Attio list abc"

    func testAGoodCallIsTheJob() throws {
        let job = try ModelGoalParser.check(
            #"{"target":2000,"languages":["Py","Go"],"active_days":90,"instantly_campaign":"123","attio_list":"abc","export":true}"#, goal: goal)
        XCTAssertEqual(job.target, 2000)
        XCTAssertEqual(job.languages, ["python", "go"])
        XCTAssertEqual(job.activeDays, 90)
        XCTAssertEqual(job.instantlyCampaign, "123")
        XCTAssertEqual(job.attioList, "abc")
        XCTAssertEqual(job.export, true)
        XCTAssertNil(job.minStars)
        XCTAssertEqual(try ModelGoalParser.check("{}", goal: goal), Job())
    }

    func testWhatIsRefused() {
        let cases: [(String, String)] = [
            (#"{"target":2000,"#, "not a JSON object"),
            (#"[1,2]"#, "not a JSON object"),
            (#"{"target":2000,"region":"EMEA"}"#, "no field 'region'"),
            (#"{"target":"2k"}"#, "'target' has the wrong type"),
            (#"{"target":0}"#, "target 0 is not between"),
            (#"{"active_days":100000}"#, "active_days 100000"),
            (#"{"min_stars":-5}"#, "negative"),
            (#"{"languages":["python; rm -rf"]}"#, "is not a language"),
            (#"{"topics":["Machine Learning"]}"#, "is not a GitHub topic"),
            (#"{"instantly_campaign":"cmp_8f3a2c"}"#, "is not in the goal"),
            (#"{"attio_list":"ab c"}"#, "is not in the goal"),
        ]
        for (arguments, why) in cases {
            XCTAssertThrowsError(try ModelGoalParser.check(arguments, goal: goal), arguments) { error in
                XCTAssertTrue("\(error)".contains(why), "\(arguments): \(error)")
            }
        }
    }

    func testTheToolSchemaHasEveryJobFieldAndNoOther() throws {
        let function = try XCTUnwrap(ModelGoalParser.tool["function"] as? [String: Any])
        XCTAssertEqual(function["name"] as? String, "set_job")
        let parameters = try XCTUnwrap(function["parameters"] as? [String: Any])
        XCTAssertEqual(parameters["additionalProperties"] as? Bool, false)
        let properties = try XCTUnwrap(parameters["properties"] as? [String: Any])
        XCTAssertEqual(Set(properties.keys), Set(Job.fieldNames))
    }
}
