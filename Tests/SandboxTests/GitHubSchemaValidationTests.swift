import Foundation
import XCTest

@testable import CMOGitHub

/// GitHub's GraphQL validates every document against its published schema before running it, and
/// answers graphql-ruby's errors: HTTP 200, `errors` only (no `data`), each with `message`,
/// `locations`, `path` and `extensions.code`.
final class GitHubSchemaValidationTests: XCTestCase {
    nonisolated(unsafe) static var sandbox: SandboxProcess?
    var sbx: SandboxProcess { Self.sandbox! }

    override class func setUp() { sandbox = try? SandboxProcess(["--seed", "5", "--repos", "40", "--users", "80"]) }
    override class func tearDown() { sandbox?.stop() }
    override func setUpWithError() throws { if Self.sandbox == nil { throw SandboxTestError("sandbox failed to start") } }

    /// The errors of a document GitHub refuses (and a check that nothing ran).
    func rejected(_ query: String, variables: [String: Any] = [:], file: StaticString = #filePath, line: UInt = #line) throws
        -> [[String: Any]]
    {
        let r = try sbx.graphQL(query, variables: variables)
        XCTAssertEqual(r.status, 200, "GitHub answers validation errors with HTTP 200", file: file, line: line)
        let o = try r.object()
        XCTAssertNil(o["data"], "a document that fails validation does not run", file: file, line: line)
        let errors = o["errors"] as? [[String: Any]] ?? []
        XCTAssertFalse(errors.isEmpty, "expected errors for \(query)", file: file, line: line)
        return errors
    }

    func code(_ e: [String: Any]) -> String? { (e["extensions"] as? [String: Any])?["code"] as? String }

    func testWrongArgumentTypeAndBadEnumValue() throws {
        let errors = try rejected("{ user(login: 5) { login repositories(privacy: PUBLICX) { totalCount } } }")
        XCTAssertEqual(errors.count, 2)
        XCTAssertEqual(
            errors[0]["message"] as? String, "Argument 'login' on Field 'user' has an invalid value (5). Expected type 'String!'.")
        XCTAssertEqual(code(errors[0]), "argumentLiteralsIncompatible")
        XCTAssertEqual(errors[0]["path"] as? [String], ["query", "user", "login"])
        XCTAssertEqual(errors[0]["locations"] as? [[String: Int]], [["line": 1, "column": 8]])
        XCTAssertEqual((errors[0]["extensions"] as? [String: String])?["argumentName"], "login")
        XCTAssertEqual((errors[0]["extensions"] as? [String: String])?["typeName"], "Field")
        XCTAssertEqual(
            errors[1]["message"] as? String,
            "Argument 'privacy' on Field 'repositories' has an invalid value (PUBLICX). Expected type 'RepositoryPrivacy'.")
        XCTAssertEqual(errors[1]["path"] as? [String], ["query", "user", "repositories", "privacy"])
        // A nested input object reports its own field.
        let order = try rejected(
            "{ viewer { repositories(first: 1, orderBy: {field: PUSHED_AT, direction: SIDEWAYS}) { totalCount } } }")
        XCTAssertEqual(
            order.first?["message"] as? String,
            "Argument 'direction' on InputObject 'RepositoryOrder' has an invalid value (SIDEWAYS). Expected type 'OrderDirection!'.")
        XCTAssertEqual(order.first?["path"] as? [String], ["query", "viewer", "repositories", "orderBy", "direction"])
        let since = try rejected(
            #"{ viewer { repositories(first: 1) { nodes { defaultBranchRef { target { ... on Commit { history(first: 1, since: "yesterday") { totalCount } } } } } } } }"#
        )
        XCTAssertEqual(code(since[0]), "argumentLiteralsIncompatible")
        XCTAssertEqual((since[0]["extensions"] as? [String: String])?["argumentName"], "since")
    }

    func testUnknownFieldMissingArgumentAndUnknownArgument() throws {
        let unknown = try rejected("query Q { viewer { login favouriteColour } }")
        XCTAssertEqual(unknown[0]["message"] as? String, "Field 'favouriteColour' doesn't exist on type 'User'")
        XCTAssertEqual(code(unknown[0]), "undefinedField")
        XCTAssertEqual(unknown[0]["path"] as? [String], ["query Q", "viewer", "favouriteColour"])
        let missing = try rejected("{ user { login } }")
        XCTAssertEqual(missing[0]["message"] as? String, "Field 'user' is missing required arguments: login")
        XCTAssertEqual(code(missing[0]), "missingRequiredArguments")
        XCTAssertEqual((missing[0]["extensions"] as? [String: String])?["arguments"], "login")
        let extra = try rejected(#"{ user(login: "a", colour: BLUE) { login } }"#)
        XCTAssertEqual(extra[0]["message"] as? String, "Field 'user' doesn't accept argument 'colour'")
        XCTAssertEqual(code(extra[0]), "argumentNotAccepted")
        XCTAssertEqual(extra[0]["path"] as? [String], ["query", "user", "colour"])
        let directive = try rejected("{ viewer { login @skip } }")
        XCTAssertEqual(directive[0]["message"] as? String, "Directive 'skip' is missing required arguments: if")
    }

    func testVariablesMustBeDeclaredUsedAndOfTheRightType() throws {
        let undefined = try rejected("query Q { user(login: $who) { login } }")
        XCTAssertEqual(undefined[0]["message"] as? String, "Variable $who is used by Q but not declared")
        XCTAssertEqual(code(undefined[0]), "variableNotDefined")
        XCTAssertEqual(undefined[0]["path"] as? [String], ["query Q", "user", "login"])
        let unused = try rejected("query($who: String!) { viewer { login } }")
        XCTAssertEqual(unused[0]["message"] as? String, "Variable $who is declared by anonymous query but not used")
        XCTAssertEqual(code(unused[0]), "variableNotUsed")
        let mismatch = try rejected("query($who: Int!) { user(login: $who) { login } }", variables: ["who": 1])
        XCTAssertEqual(mismatch[0]["message"] as? String, "Type mismatch on variable $who and argument login (Int! / String!)")
        XCTAssertEqual(code(mismatch[0]), "variableMismatch")
        let nullable = try rejected("query($who: String) { user(login: $who) { login } }", variables: ["who": "x"])
        XCTAssertEqual(nullable[0]["message"] as? String, "Nullability mismatch on variable $who and argument login (String / String!)")
        let unknownType = try rejected("query($who: Login!) { user(login: $who) { login } }")
        XCTAssertEqual(code(unknownType[0]), "variableRequiresValidType")
        // Values are checked against the declared types before anything runs.
        let value = try rejected("query($who: String!) { user(login: $who) { login } }", variables: ["who": 5])
        XCTAssertEqual(value[0]["message"] as? String, "Variable $who of type String! was provided invalid value")
        let problems = (value[0]["extensions"] as? [String: Any])?["problems"] as? [[String: Any]]
        XCTAssertEqual(problems?.first?["explanation"] as? String, "Could not coerce value 5 to String")
        let absent = try rejected("query($who: String!) { user(login: $who) { login } }")
        XCTAssertEqual(absent[0]["message"] as? String, "Variable $who of type String! was provided invalid value")
        let badEnum = try rejected(
            "query($p: RepositoryPrivacy) { viewer { repositories(privacy: $p) { totalCount } } }", variables: ["p": "PUBLICX"])
        XCTAssertEqual(
            ((badEnum[0]["extensions"] as? [String: Any])?["problems"] as? [[String: Any]])?.first?["explanation"] as? String,
            "Expected \"PUBLICX\" to be one of: PRIVATE, PUBLIC")
    }

    func testSelectionsAndFragments() throws {
        let scalar = try rejected("{ viewer { login { id } } }")
        XCTAssertEqual(
            scalar[0]["message"] as? String,
            "Selections can't be made on scalars (field 'login' returns String but has selections [\"id\"])")
        XCTAssertEqual(code(scalar[0]), "selectionMismatch")
        let object = try rejected("{ viewer }")
        XCTAssertEqual(
            object[0]["message"] as? String,
            "Field must have selections (field 'viewer' returns User but has no selections. Did you mean 'viewer { ... }'?)")
        let spread = try rejected("{ viewer { ... on Repository { name } } }")
        XCTAssertEqual(spread[0]["message"] as? String, "Fragment on Repository can't be spread inside User")
        XCTAssertEqual(code(spread[0]), "cannotSpreadFragment")
        let noType = try rejected("{ viewer { ... on Wizard { name } } }")
        XCTAssertEqual(noType[0]["message"] as? String, "No such type Wizard, so it can't be a fragment condition")
        let unusedFragment = try rejected("fragment F on User { login } { viewer { login } }")
        XCTAssertEqual(unusedFragment[0]["message"] as? String, "Fragment F was defined, but not used")
        let undefinedFragment = try rejected("{ viewer { ...F } }")
        XCTAssertEqual(undefinedFragment[0]["message"] as? String, "Fragment F was used, but not defined")
        let loop = try rejected("fragment A on User { ...B } fragment B on User { ...A } { viewer { ...A } }")
        XCTAssertTrue(loop.contains { code($0) == "infiniteLoop" })
        let directive = try rejected("{ viewer { login @bogus } }")
        XCTAssertEqual(directive[0]["message"] as? String, "Directive @bogus is not defined")
    }

    func testSyntaxErrorsInGraphQLRubysWords() throws {
        XCTAssertEqual(try rejected("{ viewer { login }")[0]["message"] as? String, "Unexpected end of document")
        let extra = try rejected("{ viewer { login } } }")
        XCTAssertEqual(extra[0]["message"] as? String, "Parse error on \"}\" (RCURLY) at [1, 22]")
        XCTAssertEqual(extra[0]["locations"] as? [[String: Int]], [["line": 1, "column": 22]])
    }

    func testFieldsOfTheSchemaTheSandboxDoesNotServeAreSaidSo() throws {
        let r = try sbx.graphQL("{ viewer { login pronouns } }").object()
        let github = (try sbx.stats()["services"] as? [String: Any])?["github"] as? [String: Any]
        XCTAssertNotNil(github?["schema_build_seconds"] as? Double, "the schema was built, once")
        XCTAssertNil(r["data"])
        let e = (r["errors"] as? [[String: Any]])?.first
        XCTAssertEqual(code(e ?? [:]), "sandboxUnsupportedField", "a real field the sandbox does not serve is not called unknown")
    }

    /// The clients' own documents are valid GitHub queries.
    func testTheClientsDocumentsPass() throws {
        let truth = try TestHTTP.request("GET", sbx.base + "/_sandbox/truth").object()
        let logins = (truth["accounts"] as! [[String: Any]]).filter { $0["type"] as? String == "User" }.prefix(3).map {
            $0["login"] as! String
        }
        let profiles = try sbx.graphQL(GitHubProfiles.query(logins + ["no-such-login-here"])).object()
        let data = try XCTUnwrap(profiles["data"] as? [String: Any], "\(profiles)")
        XCTAssertEqual((data["u0"] as? [String: Any])?["login"] as? String, logins[0])
        XCTAssertEqual((profiles["errors"] as? [[String: Any]])?.map { $0["type"] as? String }, ["NOT_FOUND"])

        let repos = (truth["repositories"] as! [[String: Any]]).prefix(3).map { $0["full_name"] as! String }
        var jobs = repos.map { GitHubHistoryFetcher.Job(fullName: $0, pushedAt: nil, since: "2020-01-01T00:00:00Z") }
        jobs[0].after = "Y3Vyc29yIDA="  // a later page
        let history = try sbx.graphQL(GitHubHistoryFetcher.query(jobs)).object()
        XCTAssertNil(history["errors"], "\(history["errors"] ?? "")")
        let r1 = try XCTUnwrap((history["data"] as? [String: Any])?["r1"] as? [String: Any])
        XCTAssertNotNil(r1["pushedAt"] as? String)
    }
}
