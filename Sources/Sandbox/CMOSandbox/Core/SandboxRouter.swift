import Foundation

/// Routes requests by path prefix to the registered services, applies the fault plan, and serves
/// the sandbox's own endpoints: `GET /_sandbox/stats`, `GET /_sandbox/truth`, `POST /_sandbox/reset`.
public final class SandboxRouter: @unchecked Sendable {
    private let services: [any SandboxService]
    private let stats: SandboxStats
    private let faults: FaultPlan
    private let truth: @Sendable () -> Any
    private let lock = NSLock()
    private var inFlight: [String: Int] = [:]
    private var truthBody: [UInt8]?  // the world never changes, so the truth is rendered once

    /// A router over `services`; `truth` builds the JSON served at `/_sandbox/truth`.
    public init(services: [any SandboxService], stats: SandboxStats, faults: FaultPlan, truth: @escaping @Sendable () -> Any) {
        self.services = services
        self.stats = stats
        self.faults = faults
        self.truth = truth
    }

    /// The server's handler.
    public func handle(_ request: SandboxRequest) -> ServerOutcome {
        if request.path.hasPrefix("/_sandbox/") { return .respond(sandboxEndpoint(request)) }
        guard
            let service = services.first(where: {
                request.path == $0.pathPrefix || request.path.hasPrefix($0.pathPrefix + "/")
            })
        else {
            return .respond(.sortedJSON(404, ["message": "Not Found", "path": request.path]))
        }
        let name = service.name
        let concurrent: Int = lock.withLock {
            inFlight[name, default: 0] += 1
            return inFlight[name]!
        }
        defer { lock.withLock { inFlight[name, default: 1] -= 1 } }
        let (decision, latency) = faults.next(for: name, method: request.method)
        if latency > 0 { usleep(useconds_t(latency) * 1000) }
        switch decision {
        case .reset:
            return .reset
        case .serverError(let status):
            if let shaping = service as? any SandboxFaultShaping { return .respond(shaping.injectedFault(status: status)) }
            return .respond(.sortedJSON(status, ["message": "Sandbox fault: \(HTTPResponseWriter.reason(status))"]))
        case .tooManyRequests:
            if let shaping = service as? any SandboxFaultShaping { return .respond(shaping.injectedFault(status: 429)) }
            return .respond(.sortedJSON(429, ["message": "Sandbox fault: Too Many Requests"], headers: [("retry-after", "1")]))
        case .none, .truncate:
            break
        }
        var inner = request
        inner.path = String(request.path.dropFirst(service.pathPrefix.count))
        if inner.path.isEmpty { inner.path = "/" }
        inner.inFlight = concurrent
        let response = service.handle(inner) ?? .sortedJSON(404, ["message": "Not Found"])
        return decision == .truncate ? .truncate(response) : .respond(response)
    }

    private func sandboxEndpoint(_ request: SandboxRequest) -> SandboxResponse {
        switch (request.method == "HEAD" ? "GET" : request.method, request.path) {
        case ("GET", "/_sandbox/stats"):
            var snapshot = stats.snapshot()
            var extras: [String: Any] = [:]
            for service in services {
                if let observable = service as? any SandboxObservable { extras[service.name] = observable.statsExtras() }
            }
            snapshot["services"] = extras
            snapshot["faults_injected"] = faults.snapshot()
            return .sortedJSON(200, snapshot)
        case ("GET", "/_sandbox/truth"):
            let body = lock.withLock { truthBody } ?? SandboxResponse.sortedJSON(200, truth()).body
            lock.withLock { truthBody = body }
            return SandboxResponse(status: 200, headers: [("content-type", "application/json; charset=utf-8")], body: body)
        case ("POST", "/_sandbox/reset"):
            for service in services { service.reset() }
            stats.reset()
            faults.reset()
            return .sortedJSON(200, ["reset": true])
        default:
            for service in services where request.path.hasPrefix("/_sandbox/\(service.name)/") {
                var inner = request
                inner.path = String(request.path.dropFirst("/_sandbox/\(service.name)".count))
                if let inspectable = service as? any SandboxInspectable, let answer = inspectable.inspect(inner) { return answer }
            }
            return .sortedJSON(
                404, ["message": "Not Found", "endpoints": ["GET /_sandbox/stats", "GET /_sandbox/truth", "POST /_sandbox/reset"]])
        }
    }
}
