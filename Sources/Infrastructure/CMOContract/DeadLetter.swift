/// One line of a dead-letter file (docs/contracts.md §5): which stage, which input line, why.
public struct DeadLetter: Decodable, Sendable {
    public struct ErrorInfo: Codable, Sendable {
        public var code: String
        public var message: String
        public var retryable: Bool?
    }
    public var stage: String
    public var line: Int?
    public var error: ErrorInfo
    /// Who the record was about, when its input was a record (`login`, else `full_name`).
    public var subject: String?

    enum CodingKeys: String, CodingKey { case stage, line, error, input }
    struct Input: Decodable {
        var login: String?
        var fullName: String?
        enum CodingKeys: String, CodingKey { case login, fullName = "full_name" }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        stage = (try? c.decode(String.self, forKey: .stage)) ?? "?"
        line = try? c.decodeIfPresent(Int.self, forKey: .line)
        error = (try? c.decode(ErrorInfo.self, forKey: .error)) ?? ErrorInfo(code: "?", message: "", retryable: nil)
        let input = try? c.decodeIfPresent(Input.self, forKey: .input)
        subject = input?.login ?? input?.fullName
    }

    /// "login: message" (or "line N: message" for a line that was not a record).
    public var example: String { "\(subject ?? "line \(line.map(String.init) ?? "?")"): \(error.message)" }
}
