import CMOBasics
/// The best `capacity` elements seen so far, in memory proportional to `capacity`: a binary heap whose
/// root is the worst element kept, so each new element costs O(log capacity).
public struct TopN<Element> {
    /// How many elements are kept at most.
    public let capacity: Int
    private let isBetter: (Element, Element) -> Bool
    private var heap: [Element] = []

    /// `isBetter(a, b)` must be a strict total order (no ties) for the result to be deterministic.
    public init(capacity: Int, isBetter: @escaping (Element, Element) -> Bool) {
        precondition(capacity >= 1, "TopN needs a capacity of 1 or more")
        self.capacity = capacity
        self.isBetter = isBetter
        heap.reserveCapacity(min(capacity, 1 << 16))
    }

    /// Elements currently kept.
    public var count: Int { heap.count }

    /// Offers `e`; returns the element that no longer fits (`e` itself, or the one it displaced), if any.
    public mutating func insert(_ e: Element) -> Element? {
        if heap.count < capacity {
            heap.append(e)
            siftUp(heap.count - 1)
            return nil
        }
        guard isBetter(e, heap[0]) else { return e }
        let out = heap[0]
        heap[0] = e
        siftDown(0)
        return out
    }

    /// The elements kept, best first; empties the heap.
    public mutating func drainBestFirst() -> [Element] {
        var out: [Element] = []
        out.reserveCapacity(heap.count)
        while let worst = popWorst() { out.append(worst) }
        return out.reversed()
    }

    private mutating func popWorst() -> Element? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let out = heap.removeLast()
        if !heap.isEmpty { siftDown(0) }
        return out
    }

    // The heap is ordered worst-first: a parent is never better than its children.
    private mutating func siftUp(_ i: Int) {
        var child = i
        while child > 0 {
            let parent = (child - 1) / 2
            guard isBetter(heap[parent], heap[child]) else { return }
            heap.swapAt(parent, child)
            child = parent
        }
    }

    private mutating func siftDown(_ i: Int) {
        var parent = i
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var worst = left
            if left + 1 < heap.count, isBetter(heap[left], heap[left + 1]) { worst = left + 1 }
            guard isBetter(heap[parent], heap[worst]) else { return }
            heap.swapAt(parent, worst)
            parent = worst
        }
    }
}

/// Where a scored record ranks: higher score first, then by `id` (numbers ascending, before strings
/// in byte order, before records without one), then `login` (byte order, missing last), then input
/// line. The line makes the order total, so `--top` output is deterministic.
public struct ScoreRank: Sendable {
    public let score: Int
    let idNumber: Double?
    let idText: [UInt8]?
    let login: [UInt8]?
    public let line: Int

    /// The rank of `record` with score `units`.
    public init(record: Record, score units: Int) {
        score = units
        line = record.line
        var number: Double?
        var text: [UInt8]?
        switch ScoreRank.scalar(record, "id") {
        case .number(let d): number = d
        case .string(let s): text = Array(s.utf8)
        default: break
        }
        idNumber = number
        idText = text
        if case .string(let s) = ScoreRank.scalar(record, "login") { login = Array(s.utf8) } else { login = nil }
    }

    private static func scalar(_ record: Record, _ key: String) -> FeatureValue? {
        guard let n = record.memberIndex(key) else { return nil }
        return FeatureValue(record.value(at: n))
    }

    /// True when `a` ranks before `b`.
    public static func isBetter(_ a: ScoreRank, _ b: ScoreRank) -> Bool {
        if a.score != b.score { return a.score > b.score }
        switch (a.idNumber, b.idNumber) {
        case (let x?, let y?) where x != y: return x < y
        case (.some, nil): return true
        case (nil, .some): return false
        default: break
        }
        if let c = compare(a.idText, b.idText) { return c }
        if let c = compare(a.login, b.login) { return c }
        return a.line < b.line
    }

    /// Byte order with missing last; nil when equal.
    private static func compare(_ a: [UInt8]?, _ b: [UInt8]?) -> Bool? {
        switch (a, b) {
        case (let x?, let y?):
            if x == y { return nil }
            return x.lexicographicallyPrecedes(y)
        case (.some, nil): return true
        case (nil, .some): return false
        case (nil, nil): return nil
        }
    }
}
