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
        size: Int, prepare: (Record) throws -> Item?, _ body: ([Item]) throws -> ChunkLoopAction
    ) throws -> Bool {
        let size = max(1, size)
        var pending: [Item] = []
        func hand() throws -> ChunkLoopAction {
            let chunk = pending
            pending = []
            let action = try body(chunk)
            try output.flush()  // a closed stdout is noticed before the next chunk's requests
            return action
        }
        do {
            try forEachRecord(fd: inputFD) { record in
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

/// Thrown out of the input loop when a chunk's body has had enough.
private struct StoppedReading: Error {}
