/// Lower-case hexadecimal, two digits per byte, written through a lookup table: `bytea`'s
/// hex format (artifact chunks are a MiB each), SHA-256 digests, token prefixes.
/// `String(format: "%02x")` per byte cost microseconds each.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Appends the digits of `bytes` to `text`.
    public static func append<Bytes: Sequence>(_ bytes: Bytes, to text: inout [UInt8]) where Bytes.Element == UInt8 {
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
    }

    public static func lowercase<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.underestimatedCount * 2)
        append(bytes, to: &text)
        return String(decoding: text, as: UTF8.self)
    }
}
