/// The value of one series (`name` or `name{labels}`, written exactly as exposed) in a
/// Prometheus text exposition, or nil when it is not there.
public func prometheusSample(_ text: String, _ series: String) -> Double? {
    text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
}
