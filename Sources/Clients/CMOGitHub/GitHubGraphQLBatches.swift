import CMOBasics
import Foundation

/// The size of GraphQL batches: halves on a timeout or resource error, grows back after successes.
public struct AdaptiveBatchSize: Sendable {
    public private(set) var current: Int
    public let maximum: Int
    private var streak = 0

    public init(_ size: Int, maximum: Int? = nil) {
        current = max(1, size)
        self.maximum = max(current, maximum ?? size)
    }

    public mutating func succeeded() {
        streak += 1
        if streak >= 4, current < maximum {
            current = min(maximum, current * 2)
            streak = 0
        }
    }

    public mutating func failed(batch: Int) {
        streak = 0
        current = max(1, min(current, batch) / 2)
    }
}

extension GitHubAPI {
    /// Runs `items` through GraphQL in batches of `size` (up to `parallel` queries in flight),
    /// shrinking a batch that times out. `handle` returns items that need another round (next pages).
    public func runBatches<T>(
        _ items: [T], size: inout AdaptiveBatchSize, parallel: Int, logger: Logger, pointsPerItem: Double = 0.01,
        query: ([T]) -> String, handle: ([T], GraphQLReply) throws -> [T], stop: () -> Bool = { false }
    ) throws {
        var queue = items[...]
        var failedRounds = 0
        while !queue.isEmpty, !stop() {
            // Never more queries in flight than the points left pay for (a RATE_LIMITED answer is a violation):
            // a query's price is estimated as GitHub computes it (connections to fill ÷ 100), or the highest seen.
            let price = max(1, Int((Double(min(size.current, queue.count)) * pointsPerItem).rounded()), lastCost)
            try waitIfEmpty("graphql", need: price)
            let affordable = buckets["graphql"].map { max(1, $0.remaining / price) } ?? 1
            logger.debug(
                "GraphQL round: \(buckets["graphql"].map { "\($0.remaining) points left until \(Int($0.reset))" } ?? "points left unknown"), \(price) a query, \(min(parallel, affordable)) in flight"
            )
            var batches: [[T]] = []
            while batches.count < max(1, min(parallel, affordable)), !queue.isEmpty {
                let n = min(size.current, queue.count)
                batches.append(Array(queue.prefix(n)))
                queue = queue.dropFirst(n)
            }
            let before = buckets["graphql"]
            let replies = try graphQL(batches.map(query))
            // Answers to parallel queries may each count only their own cost (a check and a spend that
            // race), so the points left are also worked out from what this round cost.
            let costs = replies.compactMap { try? $0.get().cost }
            if let now = buckets["graphql"], !costs.isEmpty {
                let spent = costs.reduce(0, +)
                if let before, before.reset == now.reset {
                    buckets["graphql"] = (max(0, min(now.remaining, before.remaining - spent)), now.reset)
                } else {
                    buckets["graphql"] = (max(0, now.remaining - (spent - (costs.max() ?? 0))), now.reset)
                }
            }
            var again: [T] = []
            var later: [T] = []
            var lastFailure: String?
            var anySuccess = false
            var rateLimited = false
            for (batch, reply) in zip(batches, replies) {
                switch reply {
                case .success(let r):
                    size.succeeded()
                    anySuccess = true
                    later += try handle(batch, r)
                case .failure(let failure) where failure.rateLimited:
                    rateLimited = true
                    again += batch
                case .failure(let failure):
                    lastFailure = failure.reason
                    if failure.shrink {
                        size.failed(batch: batch.count)
                        logger.info("GraphQL batch of \(batch.count) failed (\(failure.reason)); retrying in batches of \(size.current)")
                    } else {
                        logger.info("GraphQL batch of \(batch.count) failed (\(failure.reason)); retrying")
                    }
                    again += batch
                }
            }
            if let lastFailure, !anySuccess, !rateLimited {
                // Nothing got through this round: back off (full jitter), and give up past --retries.
                failedRounds += 1
                if failedRounds > http.config.maxRetries {
                    throw StageFailure(.unavailable, "GitHub GraphQL still failing after \(failedRounds) attempts: \(lastFailure)")
                }
                Thread.sleep(forTimeInterval: Double.random(in: 0...min(30, 0.5 * pow(2, Double(failedRounds - 1)))))
            } else {
                failedRounds = 0
            }
            queue = (again + Array(queue) + later)[...]
        }
    }
}
