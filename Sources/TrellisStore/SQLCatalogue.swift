public enum SQLCatalogueStub { public static var count: Int { EmbeddedSQL.files.count } }
