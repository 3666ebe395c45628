import CMOBasics
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One CSV row as read: its first physical line, its cells, its bytes (the head, for a dead letter),
/// and what was wrong with it.
public struct CSVRow: Sendable {
    public var line: Int
    public var cells: [String]
    public var raw: [UInt8]
    /// Set when the row could not be read (a quoted cell never closed).
    public var error: String?
    /// True for an empty line.
    public var isBlank: Bool { error == nil && cells.allSatisfy { $0.trimmingCharacters(in: .whitespaces).isEmpty } }
}

/// Reads RFC 4180 CSV from a file descriptor with `read(2)`, a chunk at a time: quoted cells may
/// hold the delimiter, `""` and line breaks; rows end with LF or CRLF; a UTF-8 byte order mark is
/// skipped; the delimiter is the comma, or the semicolon or tab when the first line has more of
/// those (a spreadsheet in a European locale). Bytes that are not UTF-8 become U+FFFD.
///
/// The suppression import is its only user today; it belongs in `CMOBasics/CSV` once a second appears.
public final class SuppressionCSVReader {
    /// Bytes of a row kept for its dead letter.
    public static let keptBytes = 4096
    private let fd: Int32
    private var buffer: [UInt8]
    private var start = 0, end = 0
    private var eof = false
    private var line = 1
    private var first = true
    public private(set) var delimiter = UInt8(ascii: ",")

    public init(fd: Int32, chunk: Int = 1 << 16) {
        self.fd = fd
        buffer = [UInt8](repeating: 0, count: chunk)
    }

    /// The next row, or nil at the end of input.
    public func next() throws -> CSVRow? {
        if first {
            first = false
            try fill()
            if end - start >= 3, buffer[start] == 0xEF, buffer[start + 1] == 0xBB, buffer[start + 2] == 0xBF { start += 3 }
            delimiter = sniffDelimiter()
        }
        guard try peek() != nil else { return nil }
        var row = CSVRow(line: line, cells: [], raw: [])
        var cell: [UInt8] = []
        var quoted = false
        var wasQuoted = false
        while let b = try peek() {
            start += 1
            if row.raw.count < Self.keptBytes { row.raw.append(b) }
            if quoted {
                if b == UInt8(ascii: "\"") {
                    if try peek() == UInt8(ascii: "\"") {
                        start += 1
                        if row.raw.count < Self.keptBytes { row.raw.append(b) }
                        cell.append(b)
                    } else {
                        quoted = false
                    }
                } else {
                    if b == 0x0A { line += 1 }
                    cell.append(b)
                }
                continue
            }
            switch b {
            case UInt8(ascii: "\"") where cell.isEmpty && !wasQuoted:
                quoted = true
                wasQuoted = true
            case delimiter:
                row.cells.append(String(decoding: cell, as: UTF8.self))
                cell.removeAll(keepingCapacity: true)
                wasQuoted = false
            case 0x0A:
                line += 1
                if !wasQuoted, cell.last == 0x0D { cell.removeLast() }
                if row.raw.last == 0x0A { row.raw.removeLast() }
                if row.raw.last == 0x0D { row.raw.removeLast() }
                row.cells.append(String(decoding: cell, as: UTF8.self))
                return row
            case 0x0D where wasQuoted:
                break  // the CR of a CRLF after a closing quote
            default:
                cell.append(b)
            }
        }
        if quoted { row.error = "a quoted cell opened on line \(row.line) is never closed" }
        while let last = row.raw.last, last == 0x0A || last == 0x0D { row.raw.removeLast() }
        if !wasQuoted, cell.last == 0x0D { cell.removeLast() }
        row.cells.append(String(decoding: cell, as: UTF8.self))
        return row
    }

    private func peek() throws -> UInt8? {
        if start == end {
            try fill()
            if start == end { return nil }
        }
        return buffer[start]
    }

    private func fill() throws {
        if start == end {
            start = 0
            end = 0
        }
        guard !eof, end < buffer.count else { return }
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + end, $0.count - end) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StageFailure(.failure, "cannot read the input: \(String(cString: strerror(errno)))")
            }
            if n == 0 { eof = true }
            end += n
            return
        }
    }

    /// Comma unless the first line (as far as it is buffered) has more semicolons or tabs.
    private func sniffDelimiter() -> UInt8 {
        var counts: [UInt8: Int] = [UInt8(ascii: ","): 0, UInt8(ascii: ";"): 0, 0x09: 0]
        var quoted = false
        for b in buffer[start..<end] {
            if b == UInt8(ascii: "\"") { quoted.toggle() }
            if quoted { continue }
            if b == 0x0A { break }
            if counts[b] != nil { counts[b]! += 1 }
        }
        let comma = counts[UInt8(ascii: ",")]!
        let semicolon = counts[UInt8(ascii: ";")]!
        let tab = counts[0x09]!
        if semicolon > comma, semicolon >= tab { return UInt8(ascii: ";") }
        if tab > comma, tab > semicolon { return 0x09 }
        return UInt8(ascii: ",")
    }
}
