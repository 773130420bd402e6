import Crypto
import Foundation

/// The SHA-256 of a text's UTF-8, as 64 lower-case hex digits (checksums, token hashes,
/// checkout ids). Hex by table: `String(format:)` per byte cost ~30 µs per hash, and the
/// relay hashes a socket's token at every revalidation.
func sha256Hex(_ text: String) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var hex: [UInt8] = []
    hex.reserveCapacity(64)
    for byte in SHA256.hash(data: Data(text.utf8)) {
        hex.append(digits[Int(byte >> 4)])
        hex.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: hex, as: UTF8.self)
}
