/// A service that adds its own counters to `GET /_sandbox/stats` (under `services.<name>`).
public protocol SandboxObservable {
    /// JSONSerialization-compatible counters specific to this service (buckets, penalties, …).
    func statsExtras() -> [String: Any]
}

/// A service with sandbox-only endpoints under `/_sandbox/<name>/…` (what tests and benches inspect);
/// the router passes the path after that prefix, with no auth, limits or faults.
public protocol SandboxInspectable {
    /// The answer to `request` (path such as `/leads`), or nil when the service has no such endpoint.
    func inspect(_ request: SandboxRequest) -> SandboxResponse?
}

/// A service whose injected faults (`--429-rate`, `--fail-rate`) look like its vendor's own answers
/// (headers and body), instead of the router's generic ones.
public protocol SandboxFaultShaping {
    /// The response an injected fault with `status` (429 or a 5xx) gets.
    func injectedFault(status: Int) -> SandboxResponse
}
