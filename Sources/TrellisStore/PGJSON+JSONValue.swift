import TrellisCore
import TrellisPQ

extension PGJSON {
    /// The document as a `JSONValue`: the fast parser (JSONValue+Text), then
    /// `JSONDecoder` for what it declines; nil when the text is not JSON.
    public var jsonValue: JSONValue? {
        JSONValue(jsonText: text) ?? (try? decode(JSONValue.self))
    }
}
