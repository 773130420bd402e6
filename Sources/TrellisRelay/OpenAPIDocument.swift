import TrellisCore

/// The API contract, `docs/openapi.yaml`, embedded at build time and served as JSON at
/// `/v1/openapi.json`. Tests hold it to the router (every route documented, nothing
/// documented that is not routed) and schemathesis holds the relay to it.
enum OpenAPIDocument {
    static let yaml: String = EmbeddedAssets.files.first { $0.path == "docs/openapi.yaml" }?.contents ?? ""

    /// Converted once, on first use; a document that does not convert fails the relay's
    /// tests, not a request.
    static let json: String = ((try? DefinitionDocument.jsonText(fileName: "openapi.yaml", contents: yaml)) ?? "{}")
        .replacingOccurrences(of: "\\/", with: "/")  // JSON allows "/" unescaped; refs read better
}
