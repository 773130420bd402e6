/// A fully materialised query result. libpq's `PGresult` is copied out and freed on the
/// connection's thread, so a `PGResult` is a plain value that is safe to pass around.
public struct PGResult: Sendable {
    public struct Column: Sendable, Hashable {
        public var name: String
        /// The type's OID (e.g. 25 text, 20 int8, 3802 jsonb).
        public var typeOID: UInt32
    }

    public let columns: [Column]
    public let rows: [PGRow]
    /// Rows affected by INSERT/UPDATE/DELETE (0 when not applicable).
    public let affectedRows: Int
    /// The command tag, e.g. `INSERT 0 1`.
    public let commandTag: String

    init(columns: [Column], values: [[String?]], affectedRows: Int, commandTag: String) {
        self.columns = columns
        var index: [String: Int] = [:]
        for (position, column) in columns.enumerated() where index[column.name] == nil {
            index[column.name] = position
        }
        let shared = PGRow.Layout(columns: columns, index: index)
        self.rows = values.map { PGRow(layout: shared, values: $0) }
        self.affectedRows = affectedRows
        self.commandTag = commandTag
    }

    /// The only row; an error when there is not exactly one.
    public func single() throws -> PGRow {
        guard rows.count == 1 else {
            throw PGError(kind: .decoding, message: "expected exactly one row, got \(rows.count)")
        }
        return rows[0]
    }
}

/// One row of a `PGResult`, read by column name with typed decoding.
public struct PGRow: Sendable {
    final class Layout: Sendable {
        let columns: [PGResult.Column]
        let index: [String: Int]
        init(columns: [PGResult.Column], index: [String: Int]) {
            self.columns = columns
            self.index = index
        }
    }

    let layout: Layout
    /// Raw text values; `nil` is SQL NULL.
    public let values: [String?]

    public var columnNames: [String] { layout.columns.map(\.name) }

    /// The raw text of a column (nil for NULL). Unknown columns are a programming error
    /// surfaced as a decoding error by the typed accessors.
    public subscript(column: String) -> String? {
        guard let position = layout.index[column] else { return nil }
        return values[position]
    }

    public func decode<T: PGDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard let value = try decodeIfPresent(column, as: type) else {
            throw PGError(kind: .decoding, message: "column '\(column)' is NULL, expected \(T.self)")
        }
        return value
    }

    public func decodeIfPresent<T: PGDecodable>(_ column: String, as type: T.Type = T.self) throws -> T? {
        guard let position = layout.index[column] else {
            throw PGError(kind: .decoding, message: "no column named '\(column)' in the result")
        }
        guard let text = values[position] else { return nil }
        do {
            return try T(pgText: text)
        } catch var error as PGError {
            error.message = "column '\(column)': " + error.message
            throw error
        }
    }
}
