import NIOCore
import PostgresNIO

/// One page of the reader's query (`PostgresBackplane.fetchAll`): how far pruning went and the batches after the
/// cursor, decoded straight from the cells' binary form.
///
/// Why by hand: postgres-nio's `row.decode((Int64, …).self)` is generic over ten column types, and at 20,000 rows
/// a second per node it was the largest single cost of a node in the three-node benchmark (18 % of its CPU in
/// `perf`, most of it generic-metadata lookups). The columns here are fixed by our own query, so each cell is
/// checked for the type the query produces and read directly; anything else is a `BackplanePageError`, never a
/// guess.
struct BackplanePage {
    /// How far pruning went, read in the same snapshot as the batches.
    var pruned = BackplaneInbox.Position(id: 0, messages: 0)
    var batches: [BackplaneBatch] = []

    /// The query's columns, in order: `h.through, h.messages_through, b.id, b.origin, b.incarnation, b.first_seq,
    /// b.messages, b.messages_through, b.body, stored_at (float8 epoch)`. The batch columns are all NULL when
    /// nothing follows the cursor (the `LEFT JOIN` keeps the horizon).
    init(_ result: [PostgresRow]) throws {
        batches.reserveCapacity(result.count)
        for row in result {
            var cells = row.makeIterator()
            pruned = BackplaneInbox.Position(id: try Self.int8(cells.next()), messages: try Self.int8(cells.next()))
            guard let idCell = cells.next(), idCell.bytes != nil else { continue }
            batches.append(BackplaneBatch(
                id: try Self.int8(idCell), origin: try Self.text(cells.next()), incarnation: try Self.int8(cells.next()),
                firstSeq: try Self.int8(cells.next()), count: try Self.int8(cells.next()),
                messagesThrough: try Self.int8(cells.next()), body: try Self.bytes(cells.next(), .bytea),
                storedAt: try Self.float8(cells.next())))
        }
    }

    private static func bytes(_ cell: PostgresCell?, _ type: PostgresDataType) throws -> ByteBuffer {
        guard let cell, cell.format == .binary, cell.dataType == type, let bytes = cell.bytes else {
            throw BackplanePageError(column: cell?.columnName ?? "?", expected: type)
        }
        return bytes
    }

    private static func int8(_ cell: PostgresCell?) throws -> Int64 {
        var b = try bytes(cell, .int8)
        guard b.readableBytes == 8, let value = b.readInteger(as: Int64.self) else {
            throw BackplanePageError(column: cell?.columnName ?? "?", expected: .int8)
        }
        return value
    }

    private static func float8(_ cell: PostgresCell?) throws -> Double {
        var b = try bytes(cell, .float8)
        guard b.readableBytes == 8, let bits = b.readInteger(as: UInt64.self) else {
            throw BackplanePageError(column: cell?.columnName ?? "?", expected: .float8)
        }
        return Double(bitPattern: bits)
    }

    private static func text(_ cell: PostgresCell?) throws -> String {
        let b = try bytes(cell, .text)
        return String(buffer: b)
    }
}

/// A cell of the page query that is not what the query produces (NULL, another type or the text format).
struct BackplanePageError: Error, CustomStringConvertible {
    var column: String
    var expected: PostgresDataType
    var description: String { "backplane page: column \(column) is not a binary \(expected)" }
}
