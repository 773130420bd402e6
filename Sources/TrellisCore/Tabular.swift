/// Rows of typed cells with named columns, rendered for people (a text table) or for
/// scripts (JSON: an array of objects in column order; CSV: RFC 4180 with a header).
/// Pure, so the three renderings are tested without a database.
public struct Tabular: Sendable, Equatable {
    public enum Cell: Sendable, Equatable {
        case null
        case text(String)
        /// A number as PostgreSQL printed it (exact; never re-rounded).
        case number(String)
        case bool(Bool)
        /// JSON text as stored (json/jsonb columns).
        case json(String)
    }

    public enum Format: String, Sendable, CaseIterable {
        case table, json, csv
    }

    public var columns: [String]
    public var rows: [[Cell]]

    public init(columns: [String], rows: [[Cell]] = []) {
        self.columns = columns
        self.rows = rows
    }

    public func render(_ format: Format) -> String {
        switch format {
        case .table: renderTable()
        case .json: renderJSON()
        case .csv: renderCSV()
        }
    }

    func renderTable() -> String {
        var table = TextTable(headers: columns.map { $0.uppercased() })
        for row in rows {
            table.append(row.map { cell in
                switch cell {
                case .null: ""
                case .text(let text): text.replacingOccurrences(of: "\n", with: " ")
                case .number(let text), .json(let text): text
                case .bool(let value): value ? "yes" : "no"
                }
            })
        }
        return table.render()
    }

    func renderJSON() -> String {
        let objects = rows.map { row in
            "{" + zip(columns, row).map { column, cell in
                let value = switch cell {
                case .null: "null"
                case .text(let text): Self.quote(text)
                case .number(let text): text
                case .bool(let value): value ? "true" : "false"
                case .json(let text): text
                }
                return Self.quote(column) + ": " + value
            }.joined(separator: ", ") + "}"
        }
        return objects.isEmpty ? "[]" : "[\n  " + objects.joined(separator: ",\n  ") + "\n]"
    }

    func renderCSV() -> String {
        func field(_ text: String) -> String {
            guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
            return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        let lines = [columns.map(field).joined(separator: ",")] + rows.map { row in
            row.map { cell in
                switch cell {
                case .null: ""
                case .text(let text), .number(let text), .json(let text): field(text)
                case .bool(let value): value ? "true" : "false"
                }
            }.joined(separator: ",")
        }
        return lines.joined(separator: "\r\n")
    }

    /// A JSON string literal, escaping what RFC 8259 requires.
    static func quote(_ text: String) -> String {
        var out = ""
        JSONValue.writeString(text, into: &out)
        return out
    }
}
