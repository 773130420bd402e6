import TrellisCore

/// Figures every `trellis bench` reports: elapsed seconds and nearest-rank percentiles.
public enum BenchFigures {
    /// A duration in (fractional) seconds.
    public static func seconds(_ duration: Duration) -> Double {
        duration.inSeconds
    }

    /// The nearest-rank percentile `p` (0…1) of ascending `sorted` values; NaN when empty.
    public static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }
}
