/// Lower-case hexadecimal, two digits per byte: `bytea`'s hex format (artifact chunks
/// are a MiB each), SHA-256 digests, token prefixes. The digits are written straight into
/// the string's storage from a pair table: appending to an array a byte at a time, or
/// `String(format: "%02x")` per byte, made a MiB chunk cost tens of milliseconds (hundreds
/// in a debug build), most of an artifact upload.
public enum Hex {
    /// Each byte's two digits, side by side: the pair for `b` is at `2 * b`.
    private static let pairs: [UInt8] = {
        let digits = Array("0123456789abcdef".utf8)
        return (0..<256).flatMap { [digits[$0 >> 4], digits[$0 & 0x0f]] }
    }()

    /// The digits of `bytes`, after `prefix` (`\x` for a bytea literal).
    public static func lowercase<Bytes: Sequence>(_ bytes: Bytes, prefix: String = "") -> String where Bytes.Element == UInt8 {
        if let text = bytes.withContiguousStorageIfAvailable({ encode(UnsafeRawBufferPointer($0), prefix: prefix) }) {
            return text
        }
        return Array(bytes).withUnsafeBytes { encode($0, prefix: prefix) }
    }

    private static func encode(_ bytes: UnsafeRawBufferPointer, prefix: String) -> String {
        let head = Array(prefix.utf8)
        return pairs.withUnsafeBufferPointer { pairs in
            String(unsafeUninitializedCapacity: head.count + 2 * bytes.count) { text in
                var at = 0
                for byte in head {
                    text[at] = byte
                    at += 1
                }
                for byte in bytes {
                    text[at] = pairs[2 * Int(byte)]
                    text[at + 1] = pairs[2 * Int(byte) + 1]
                    at += 2
                }
                return at
            }
        }
    }
}
