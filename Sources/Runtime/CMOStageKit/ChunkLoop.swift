import CMOBasics
/// What a chunk's body tells `forEachChunkUntilStopped`.
public enum ChunkLoopAction: Sendable, Equatable {
    /// Read on: the next chunk follows.
    case continueReading
    /// Enough: read no more input (the stage upstream then stops at its next write).
    case stopReading
}

// The loop of every stage that calls a service per chunk of records (gh-enrich, gh-people,
// mx-check, render-copy, the writers): gather up to `size` records, hand them over together (one
// batch of requests or queries), flush stdout, and hand over the tail once the input ends.

extension StageContext {
    /// Reads records (through forEachRecord: --where, dead letters), calls `body` with each chunk of up to `size`
    /// records and with the tail, and flushes stdout after each chunk (so a closed pipe is noticed before the next chunk's requests).
    public func forEachChunk(size: Int, _ body: ([Record]) throws -> Void) throws {
        try forEachChunk(size: size, prepare: { $0 }, body)
    }

    /// As `forEachChunk(size:_:)`, and a part-filled chunk is handed over as soon as the input has
    /// been quiet for `idle` seconds: for input that is a file still being written (`tail -F`).
    public func forEachChunk(size: Int, flushWhenIdleFor idle: Double, _ body: ([Record]) throws -> Void) throws {
        try forEachChunkUntilStopped(size: size, idle: idle, prepare: { $0 }) { chunk in
            try body(chunk)
            return .continueReading
        }
    }

    /// As `forEachChunk(size:_:)`, with each record first turned into what the chunk needs by
    /// `prepare`; a record it returns nil for (having dead-lettered or filtered it) is left out.
    public func forEachChunk<Item>(size: Int, prepare: (Record) throws -> Item?, _ body: ([Item]) throws -> Void) throws {
        try forEachChunkUntilStopped(size: size, prepare: prepare) { chunk in
            try body(chunk)
            return .continueReading
        }
    }

    /// As `forEachChunk(size:prepare:_:)`, and `body` may end the loop (`.stopReading`): no more
    /// input is read. Returns true when it stopped before the end of the input (a stop after the
    /// tail returns false: all of it was read). `size: .max` hands everything over once, at the end.
    @discardableResult
    public func forEachChunkUntilStopped<Item>(
        size: Int, idle: Double? = nil, prepare: (Record) throws -> Item?, _ body: ([Item]) throws -> ChunkLoopAction
    ) throws -> Bool {
        let size = max(1, size)
        // The idle hand-over runs from the reader's before-read hook, which is stored (escaping)
        // but lives only as long as this call.
        return try withoutActuallyEscaping(body) { body in
            var pending: [Item] = []
            func hand() throws -> ChunkLoopAction {
                let chunk = pending
                pending = []
                let action = try body(chunk)
                try output.flush()  // a closed stdout is noticed before the next chunk's requests
                return action
            }
            do {
                let whenIdle = idle.map { seconds in
                    (after: seconds, needed: { !pending.isEmpty }, run: { if try hand() == .stopReading { throw StoppedReading() } })
                }
                try forEachRecord(fd: inputFD, whenIdle: whenIdle) { record in
                    guard let item = try prepare(record) else { return }
                    pending.append(item)
                    if pending.count >= size, try hand() == .stopReading { throw StoppedReading() }
                }
            } catch is StoppedReading {
                return true
            }
            if !pending.isEmpty { _ = try hand() }
            return false
        }
    }
}

/// Thrown out of the input loop when a chunk's body has had enough.
private struct StoppedReading: Error {}
