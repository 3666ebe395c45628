/// A writer's answer for one record: `queued`, `synced`, `created`, `failed`, …. A string-backed type, not
/// a closed enum, so a stage swapped for a fake that says something new is read, not refused; the known
/// ones are the constants below and each writer's `StageDescriptor.statuses`.
public struct WriterStatus: RawRepresentable, Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public init(from decoder: Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
    public static func < (a: WriterStatus, b: WriterStatus) -> Bool { a.rawValue < b.rawValue }
    public var description: String { rawValue }

    // Instantly (send-instantly) and Attio (sync-attio).
    public static let queued = WriterStatus("queued")
    /// Instantly: in the campaign before this job (an earlier job queued it, or Instantly already held it): nothing was written.
    public static let alreadyQueued = WriterStatus("already_queued")
    public static let synced = WriterStatus("synced")
    public static let duplicate = WriterStatus("duplicate")
    public static let suppressed = WriterStatus("suppressed")
    public static let deferred = WriterStatus("deferred")
    public static let skipped = WriterStatus("skipped")
    public static let dryRun = WriterStatus("dry_run")
    public static let failed = WriterStatus("failed")
    // Linear (sync-linear).
    public static let created = WriterStatus("created")
    public static let counted = WriterStatus("counted")
    public static let alreadyCounted = WriterStatus("already_counted")
    public static let ignored = WriterStatus("ignored")
}

/// The part of a writer's result (`instantly`, `attio`, `linear` on the record) that the agent reads.
public struct WriterResult: Codable, Sendable, Equatable {
    public var status: WriterStatus
    /// Why it is not written as asked (`rejected`, `unavailable`, `daily_cap`, …).
    public var reason: String?
    public var message: String?
    public var retryable: Bool?
    /// Linear: the job's parent issue and this record's issue.
    public var parentID: String?
    public var identifier: String?

    public init(status: WriterStatus, reason: String? = nil, message: String? = nil, retryable: Bool? = nil,
                parentID: String? = nil, identifier: String? = nil) {
        self.status = status
        self.reason = reason
        self.message = message
        self.retryable = retryable
        self.parentID = parentID
        self.identifier = identifier
    }

    enum CodingKeys: String, CodingKey {
        case status, reason, message, retryable, parentID = "parent_id", identifier
    }
}

/// The fields of a lead record the agent reads (every other field is the stages' own and passes by).
public struct LeadRecord: Decodable, Sendable {
    public struct Copy: Decodable, Sendable {
        public var subject: String?
        public var body: String?
        public var variant: String?
    }
    public var login: String?
    public var bestEmail: String?
    public var copy: Copy?
    public var instantly: WriterResult?
    public var attio: WriterResult?
    public var linear: WriterResult?

    enum CodingKeys: String, CodingKey {
        case login, bestEmail = "best_email", copy, instantly, attio, linear
    }

    /// The result a writer put under `field` (`instantly`, `attio`, `linear`).
    public func result(_ field: String) -> WriterResult? {
        switch field {
        case "instantly": return instantly
        case "attio": return attio
        case "linear": return linear
        default: return nil
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // Lenient: a field of another type (a fake stage's) reads as absent, never as a bad record.
        login = try? c.decodeIfPresent(String.self, forKey: .login)
        bestEmail = try? c.decodeIfPresent(String.self, forKey: .bestEmail)
        copy = try? c.decodeIfPresent(Copy.self, forKey: .copy)
        instantly = try? c.decodeIfPresent(WriterResult.self, forKey: .instantly)
        attio = try? c.decodeIfPresent(WriterResult.self, forKey: .attio)
        linear = try? c.decodeIfPresent(WriterResult.self, forKey: .linear)
    }
}
