import Crypto
import Foundation

/// The SHA-256 of a text's UTF-8, as 64 lower-case hex digits (checksums, token hashes,
/// checkout ids).
func sha256Hex(_ text: String) -> String {
    SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
}
