import CMOBasics
import Foundation

// Notes: no upsert and no idempotency key (a second identical note is a second note, and the stats
// flag it as a duplicate); list by parent with limit (default 10, max 50) and offset.

extension AttioService {
    func noteJSON(_ n: AttioNote) -> [String: Any] {
        [
            "id": ["workspace_id": workspaceID, "note_id": n.id], "parent_object": n.parentObject,
            "parent_record_id": n.parentRecordID, "title": n.title, "meeting_id": n.meetingID.map { $0 as Any } ?? NSNull(),
            "content_plaintext": n.format == "markdown" ? Self.plainText(n.content) : n.content,
            "content_markdown": n.content, "tags": [Any](),
            "created_by_actor": ["type": "api-token", "id": actorID], "created_at": ServiceKit.iso8601(n.created),
        ]
    }

    /// Markdown reduced to text: heading marks, emphasis and link targets dropped.
    static func plainText(_ markdown: String) -> String {
        var s = markdown
        for mark in ["**", "__", "~~", "=="] { s = s.replacingOccurrences(of: mark, with: "") }
        s = s.replacingOccurrences(of: #"\[([^\]]*)\]\([^)]*\)"#, with: "$1", options: .regularExpression)
        s = s.replacingOccurrences(of: #"(?m)^#{1,3} "#, with: "", options: .regularExpression)
        return s
    }

    /// `POST /v2/notes`.
    func createNote(_ r: SandboxRequest) -> SandboxResponse {
        guard let body = ServiceKit.json(r.body) as? [String: Any], let data = body["data"] as? [String: Any] else {
            return Self.validation(["data"], "Required")
        }
        for key in ["parent_object", "parent_record_id", "title", "format", "content"] where !(data[key] is String) {
            return Self.validation(["data", key], data[key] == nil ? "Required" : "Expected string")
        }
        let format = data["format"] as! String
        guard format == "plaintext" || format == "markdown" else {
            return Self.validation(["data", "format"], "Invalid enum value. Expected 'plaintext' | 'markdown', received '\(format)'")
        }
        let parentObject = data["parent_object"] as! String
        let parent = data["parent_record_id"] as! String
        let content = data["content"] as! String
        guard isPeople(parentObject) else { return objectNotFound(parentObject) }
        guard records.contains(where: { $0.id == parent }) else {
            return Self.error(404, code: "not_found", "Record with ID \"\(parent)\" not found.")
        }
        if content.utf8.count > options.maxNoteContentBytes {
            return Self.validation(["data", "content"], "Content is too large", status: 413)
        }
        var created = tick()
        if let c = data["created_at"] as? String {
            let f = ISO8601DateFormatter()
            f.formatOptions = c.contains(".") ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
            guard let d = f.date(from: c), d.timeIntervalSince1970 >= 0, d <= options.clock() else {
                return Self.validation(["data", "created_at"], "Expected an ISO 8601 timestamp after 1970 and not in the future")
            }
            created = d
        }
        let note = AttioNote(
            id: ServiceKit.uuid(seed: seed, "attio-note-\(notes.count)"), parentObject: "people", parentRecordID: parent,
            title: data["title"] as! String, format: format, content: content, meetingID: data["meeting_id"] as? String, created: created)
        notes.append(note)
        stats.recordWrite(
            service: name, kind: "note", key: "\(parent) \(String(ServiceKit.fnv1a(content), radix: 16))",
            payload: ["note_id": note.id, "parent_record_id": parent, "title": note.title])
        return .json(200, ["data": noteJSON(note)])
    }

    /// `GET /v2/notes?parent_object=&parent_record_id=&limit=&offset=`.
    func listNotes(_ r: SandboxRequest) -> SandboxResponse {
        let limit = r.queryValue("limit").map { Int($0) ?? -1 } ?? 10
        let offset = r.queryValue("offset").map { Int($0) ?? -1 } ?? 0
        guard (1...50).contains(limit) else { return Self.validation(["limit"], "Expected an integer between 1 and 50") }
        guard offset >= 0 else { return Self.validation(["offset"], "Expected a non-negative integer") }
        var items = notes
        if let o = r.queryValue("parent_object") {
            guard isPeople(o) else { return objectNotFound(o) }
        }
        if let p = r.queryValue("parent_record_id") { items = items.filter { $0.parentRecordID == p } }
        return .json(200, ["data": items.dropFirst(offset).prefix(limit).map(noteJSON)])
    }

    func getNote(_ id: String) -> SandboxResponse {
        guard let n = notes.first(where: { $0.id == id }) else {
            return Self.error(404, code: "not_found", "Note with ID \"\(id)\" not found.")
        }
        return .json(200, ["data": noteJSON(n)])
    }
}
