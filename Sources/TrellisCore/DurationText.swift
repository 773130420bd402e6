/// Durations on the command line as the SQL API spells them: a whole number and a unit,
/// `500ms`, `45s`, `90m`, `12h`, `30d`.
public enum DurationText {
    /// Seconds, or nil for anything else (including zero and negative values).
    public static func seconds(_ text: String) -> Double? {
        let trimmed = Substring(text.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (unit, scale) in units where trimmed.hasSuffix(unit) {
            let number = trimmed.dropLast(unit.count)
            // "ms" also ends in "s": only a plain number may remain.
            guard !number.isEmpty, number.allSatisfy(\.isNumber), let value = Double(number), value > 0 else { continue }
            return value * scale
        }
        return nil
    }
}
