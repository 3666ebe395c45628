/// The credentials a sandbox accepts, derived from the seed so scripts can rely on them.
public struct SandboxTokens: Sendable {
    public var github: String
    public var instantly: String
    public var attio: String
    public var linear: String
    public var openai: String

    /// Tokens for `seed`, in each vendor's usual shape.
    public init(seed: UInt64) {
        func chars(_ stream: String, _ n: Int) -> String {
            var rng = SeededRandom(seed: seed, stream: "token/\(stream)")
            let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
            return String((0..<n).map { _ in rng.pick(alphabet) })
        }
        github = "ghp_" + chars("github", 36)
        instantly = "sandbox_instantly_" + chars("instantly", 32)
        attio = "sandbox_attio_" + chars("attio", 40)
        linear = "lin_api_" + chars("linear", 40)
        openai = "sk-sandbox-" + chars("openai", 40)
    }
}

/// The sourceable environment file: one `export NAME=VALUE` line per variable.
public enum SandboxEnvFile {
    /// The file's text for a sandbox on `port` with its DNS server on `dnsPort`.
    /// `seeded` adds names of seeded objects (an Instantly campaign, an Attio list, a Linear team) for scripts.
    public static func render(port: UInt16, dnsPort: UInt16?, tokens: SandboxTokens, seeded: [(String, String)] = []) -> String {
        let base = "http://127.0.0.1:\(port)"
        var vars: [(String, String)] = [
            ("CMO_SANDBOX_URL", base),
            ("GITHUB_API_URL", "\(base)/github"),
            ("INSTANTLY_API_URL", "\(base)/instantly"),
            ("ATTIO_API_URL", "\(base)/attio"),
            ("LINEAR_API_URL", "\(base)/linear/graphql"),
            ("OPENAI_BASE_URL", "\(base)/openai/v1"),
        ]
        if let dnsPort { vars.append(("CMO_DNS_SERVER", "127.0.0.1:\(dnsPort)")) }
        vars +=
            [
                ("GITHUB_TOKEN", tokens.github), ("INSTANTLY_API_KEY", tokens.instantly), ("ATTIO_API_KEY", tokens.attio),
                ("LINEAR_API_KEY", tokens.linear), ("OPENAI_API_KEY", tokens.openai),
            ] + seeded
        return vars.map { "export \($0.0)=\($0.1)\n" }.joined()
    }
}
