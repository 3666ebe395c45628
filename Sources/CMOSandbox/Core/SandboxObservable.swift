/// A service that adds its own counters to `GET /_sandbox/stats` (under `services.<name>`).
public protocol SandboxObservable {
    /// JSONSerialization-compatible counters specific to this service (buckets, penalties, …).
    func statsExtras() -> [String: Any]
}
