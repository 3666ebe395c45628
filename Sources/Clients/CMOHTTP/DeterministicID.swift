import Crypto
import Foundation

/// Ids derived from idempotency keys, so a re-run (or a crash followed by one) names the same remote
/// object again instead of making a second one.
public enum DeterministicID {
    /// A UUID shaped as version 4 (random) from the SHA-256 of `key`: the first 16 bytes of the digest
    /// with the version nibble set to 4 and the variant bits to 10. A server that checks the version
    /// (Linear's schema says "UUID v4 format") and one that does not both accept it; the same key
    /// always gives the same id. Lower-case, 8-4-4-4-12.
    public static func uuidV4(_ key: String) -> String {
        var bytes = Array(SHA256.hash(data: Array(key.utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let h = Array(hex)
        return String(h[0..<8]) + "-" + String(h[8..<12]) + "-" + String(h[12..<16]) + "-" + String(h[16..<20]) + "-" + String(h[20..<32])
    }

    /// The SHA-256 of `text` in lower-case hex.
    public static func sha256Hex(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The SHA-256 of `bytes` in lower-case hex.
    public static func sha256Hex(bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}
