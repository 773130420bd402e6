import Foundation

/// A reference to an artifact as it appears in run inputs and node outputs:
/// `{"$artifact": "<sha256>", "name", "media_type", "size"}` (only `$artifact` is required).
/// A node output too large to store inline is such a reference with `"truncated": true`
/// and a `preview` of its JSON text.
public struct ArtifactReference: Sendable, Equatable {
    /// The SHA-256 of the bytes, which is also the artifact's id.
    public var id: String
    public var name: String
    public var mediaType: String
    public var size: Int
    /// A node output stored whole as this artifact (JSON text), shown by a preview.
    public var isStoredOutput: Bool

    public init(id: String, name: String = "", mediaType: String = "application/octet-stream", size: Int = 0, isStoredOutput: Bool = false) {
        self.id = id
        self.name = name
        self.mediaType = mediaType
        self.size = size
        self.isStoredOutput = isStoredOutput
    }

    /// Reads a reference from its JSON form; nil for anything else.
    public init?(_ value: JSONValue) {
        guard case .string(let id)? = value["$artifact"] else { return nil }
        self.init(id: id, name: value["name"]?.stringValue ?? "", mediaType: value["media_type"]?.stringValue ?? "application/octet-stream",
                  size: value["size"]?.integer(in: 0...Int.max) ?? 0, isStoredOutput: value["truncated"] == .bool(true))
    }

    /// The JSON form to put in an output.
    public var json: JSONValue {
        .object(["$artifact": .string(id), "name": .string(name), "media_type": .string(mediaType), "size": .number(Double(size))])
    }
}

extension JSONValue {
    /// Every artifact reference inside this value (depth first).
    public var artifactReferences: [ArtifactReference] {
        if let reference = ArtifactReference(self) { return [reference] }
        switch self {
        case .array(let items): return items.flatMap(\.artifactReferences)
        case .object(let members): return members.keys.sorted().flatMap { members[$0]!.artifactReferences }
        default: return []
        }
    }
}
