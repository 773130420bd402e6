import Crypto
import Foundation
import TrellisPQ

/// The SHA-256 of a text's UTF-8, as 64 lower-case hex digits (checksums, token hashes,
/// checkout ids; the relay hashes a socket's token at every revalidation).
func sha256Hex(_ text: String) -> String {
    Hex.lowercase(SHA256.hash(data: Data(text.utf8)))
}
