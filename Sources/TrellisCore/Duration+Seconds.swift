extension Duration {
    /// The duration in (fractional) seconds, for figures and messages.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
