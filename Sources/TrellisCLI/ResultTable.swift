import ArgumentParser
import TrellisCore
import TrellisPQ

/// A query result as typed cells, by column type: numbers stay exact, booleans and JSON
/// keep their type in `--format json`, everything else is PostgreSQL's text.
enum ResultTable {
    static func tabular(_ result: PGResult) -> Tabular {
        Tabular(columns: result.columns.map(\.name), rows: result.rows.map { row in
            zip(result.columns, row.values).map { column, value in
                guard let value else { return .null }
                switch column.typeOID {
                case 16: return .bool(value == "t")
                case 20, 21, 23, 26, 700, 701, 1700: return value == "NaN" || value.hasSuffix("Infinity") ? .text(value) : .number(value)
                case 114, 3802: return .json(value)
                default: return .text(value)
                }
            }
        })
    }
}

/// `--format table|json|csv` for commands that print query results.
struct FormatOptions: ParsableArguments {
    @Option(help: "Output: table (default), json or csv.") var format: Tabular.Format = .table
}

extension Tabular.Format: ExpressibleByArgument {}
