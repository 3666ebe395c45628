import Foundation

/// Linear's filter inputs for the fields the sandbox models: IssueFilter (`id`, `title`, `description`,
/// `number`, `priority`, `createdAt`, `team`, `parent`, `labels`, `state`, `and`, `or`), TeamFilter,
/// IssueLabelFilter, and the String/ID/Number/Date comparators.
enum LinearFilter {
    /// `filter` with a typed-throwing test (Array.filter's `rethrows` erases the error type).
    static func keep<T>(_ items: [T], _ test: (T) throws(LinearGQLError) -> Bool) throws(LinearGQLError) -> [T] {
        var out: [T] = []
        for item in items where try test(item) { out.append(item) }
        return out
    }

    static func issue(_ store: LinearStore, _ i: LinearStore.Issue, _ f: [String: Any]) throws(LinearGQLError) -> Bool {
        for (key, cond) in f {
            let ok: Bool
            switch key {
            case "and": ok = try all(cond) { sub throws(LinearGQLError) in try issue(store, i, sub) }
            case "or": ok = try any(cond) { sub throws(LinearGQLError) in try issue(store, i, sub) }
            case "id": ok = try compare(i.id, cond)
            case "title": ok = try compare(i.title, cond)
            case "description": ok = try compare(i.description, cond)
            case "number": ok = try compare(i.number, cond)
            case "priority": ok = try compare(i.priority, cond)
            case "createdAt", "updatedAt": ok = try compare(ServiceKit.iso8601(i.createdAt), cond)
            case "team":
                guard let t = store.team(i.teamID), let sub = cond as? [String: Any] else { return false }
                ok = try team(t, sub)
            case "parent":
                guard let sub = cond as? [String: Any] else { throw .validation("Expected an object for \"parent\".") }
                let parent = i.parentID.flatMap(store.issue)
                if let isNull = sub["null"] as? Bool {
                    ok = (parent == nil) == isNull
                } else if let p = parent {
                    ok = try issue(store, p, sub)
                } else {
                    ok = false
                }
            case "labels":
                guard let sub = cond as? [String: Any] else { throw .validation("Expected an object for \"labels\".") }
                let labels = store.labels.filter { i.labelIDs.contains($0.id) }
                ok = try collection(labels, sub) { l, lf throws(LinearGQLError) in try label(store, l, lf) }
            case "state":
                guard let s = store.states.first(where: { $0.id == i.stateID }), let sub = cond as? [String: Any] else { return false }
                ok = try state(s, sub)
            default:
                if issueFilterFields.contains(key) { throw .validation("The sandbox does not model IssueFilter field \"\(key)\".") }
                throw .validation("Field \"\(key)\" is not defined by type \"IssueFilter\".")
            }
            if !ok { return false }
        }
        return true
    }

    static func team(_ t: LinearStore.Team, _ f: [String: Any]) throws(LinearGQLError) -> Bool {
        for (key, cond) in f {
            let ok: Bool
            switch key {
            case "and": ok = try all(cond) { sub throws(LinearGQLError) in try team(t, sub) }
            case "or": ok = try any(cond) { sub throws(LinearGQLError) in try team(t, sub) }
            case "id": ok = try compare(t.id, cond)
            case "key": ok = try compare(t.key, cond)
            case "name": ok = try compare(t.name, cond)
            default: throw .validation("Field \"\(key)\" is not defined by type \"TeamFilter\".")
            }
            if !ok { return false }
        }
        return true
    }

    static func label(_ store: LinearStore, _ l: LinearStore.Label, _ f: [String: Any]) throws(LinearGQLError) -> Bool {
        for (key, cond) in f {
            let ok: Bool
            switch key {
            case "and": ok = try all(cond) { sub throws(LinearGQLError) in try label(store, l, sub) }
            case "or": ok = try any(cond) { sub throws(LinearGQLError) in try label(store, l, sub) }
            case "id": ok = try compare(l.id, cond)
            case "name": ok = try compare(l.name, cond)
            case "team":
                guard let sub = cond as? [String: Any], let t = l.teamID.flatMap(store.team) else { return false }
                ok = try team(t, sub)
            default: throw .validation("Field \"\(key)\" is not defined by type \"IssueLabelFilter\".")
            }
            if !ok { return false }
        }
        return true
    }

    static func state(_ s: LinearStore.State, _ f: [String: Any]) throws(LinearGQLError) -> Bool {
        for (key, cond) in f {
            let ok: Bool
            switch key {
            case "id": ok = try compare(s.id, cond)
            case "name": ok = try compare(s.name, cond)
            case "type": ok = try compare(s.type, cond)
            default: throw .validation("Field \"\(key)\" is not defined by type \"WorkflowStateFilter\".")
            }
            if !ok { return false }
        }
        return true
    }

    /// `some`, `every`, `none` (and `length`) over a collection.
    static func collection<T>(_ items: [T], _ f: [String: Any], _ test: (T, [String: Any]) throws(LinearGQLError) -> Bool)
        throws(LinearGQLError) -> Bool
    {
        for (key, cond) in f {
            let ok: Bool
            switch key {
            case "some", "every", "none":
                guard let sub = cond as? [String: Any] else { throw .validation("Expected an object for \"\(key)\".") }
                var hits = 0
                for item in items where try test(item, sub) { hits += 1 }
                ok = key == "some" ? hits > 0 : key == "every" ? hits == items.count : hits == 0
            case "length": ok = try compare(items.count, cond)
            default: throw .validation("Field \"\(key)\" is not defined by the collection filter.")
            }
            if !ok { return false }
        }
        return true
    }

    private static func all(_ cond: Any, _ test: ([String: Any]) throws(LinearGQLError) -> Bool) throws(LinearGQLError) -> Bool {
        guard let subs = cond as? [[String: Any]] else { throw .validation("\"and\" expects a list of filters.") }
        for s in subs where !(try test(s)) { return false }
        return true
    }

    private static func any(_ cond: Any, _ test: ([String: Any]) throws(LinearGQLError) -> Bool) throws(LinearGQLError) -> Bool {
        guard let subs = cond as? [[String: Any]] else { throw .validation("\"or\" expects a list of filters.") }
        for s in subs where try test(s) { return true }
        return false
    }

    /// StringComparator, IDComparator, NumberComparator, DateComparator and their nullable forms.
    static func compare(_ value: Any?, _ cond: Any) throws(LinearGQLError) -> Bool {
        guard let ops = cond as? [String: Any] else { throw .validation("Expected a comparator object.") }
        let text = value.map { "\($0)" }
        let lower = text?.lowercased()
        for (op, arg) in ops {
            let a = "\(arg)"
            let al = a.lowercased()
            let ok: Bool
            switch op {
            case "eq": ok = text == a
            case "neq": ok = text != a
            case "eqIgnoreCase": ok = lower == al
            case "neqIgnoreCase": ok = lower != al
            case "in": ok = ((arg as? [Any]) ?? []).contains { "\($0)" == text }
            case "nin": ok = !((arg as? [Any]) ?? []).contains { "\($0)" == text }
            case "contains": ok = text?.contains(a) ?? false
            case "containsIgnoreCase", "containsIgnoreCaseAndAccent": ok = lower?.contains(al) ?? false
            case "notContains": ok = !(text?.contains(a) ?? false)
            case "notContainsIgnoreCase": ok = !(lower?.contains(al) ?? false)
            case "startsWith": ok = text?.hasPrefix(a) ?? false
            case "startsWithIgnoreCase": ok = lower?.hasPrefix(al) ?? false
            case "notStartsWith": ok = !(text?.hasPrefix(a) ?? false)
            case "endsWith": ok = text?.hasSuffix(a) ?? false
            case "notEndsWith": ok = !(text?.hasSuffix(a) ?? false)
            case "null": ok = (value == nil) == ((arg as? Bool) ?? false)
            case "lt", "lte", "gt", "gte":
                guard let t = text else { return false }
                let order: ComparisonResult
                if let x = Double(t), let y = Double(a) {
                    order = x < y ? .orderedAscending : x > y ? .orderedDescending : .orderedSame
                } else {
                    order = t.compare(a)
                }
                switch op {
                case "lt": ok = order == .orderedAscending
                case "lte": ok = order != .orderedDescending
                case "gt": ok = order == .orderedDescending
                default: ok = order != .orderedAscending
                }
            default: throw .validation("Field \"\(op)\" is not defined by the comparator.")
            }
            if !ok { return false }
        }
        return true
    }

    /// IssueFilter's fields in the schema, so a real but unmodelled one gets a clearer error.
    static let issueFilterFields: Set<String> = [
        "accumulatedStateUpdatedAt", "activity", "addedToCycleAt", "addedToCyclePeriod", "ageTime", "and", "archivedAt",
        "assignee", "attachments", "autoArchivedAt", "autoClosedAt", "canceledAt", "children", "comments", "completedAt",
        "createdAt", "creator", "customerCount", "customerImportantCount", "cycle", "cycleTime", "delegate", "description",
        "dueDate", "estimate", "id", "labels", "lastAppliedTemplate", "leadTime", "needs", "number", "or", "parent",
        "priority", "project", "projectMilestone", "reactions", "recurringIssueTemplate", "releases", "searchableContent",
        "slaBreachesAt", "slaStatus", "snoozedBy", "snoozedUntilAt", "sourceMetadata", "startedAt", "state", "subscribers",
        "suggestions", "team", "title", "triageTime", "triagedAt", "updatedAt",
    ]
}
