import CMOBasics
import CMOStageKit

#if canImport(Glibc)
    import Glibc
#endif

/// One CSV column.
enum Column {
    case path(FieldPath)
    case computed(String, JQProgram)

    var header: String {
        switch self {
        case .path(let p): return p.text
        case .computed(let name, _): return name
        }
    }
}

/// Everything `configure` resolved.
struct ExportPlan {
    var output: String?
    var columns: [Column] = []
    var unionOfKeys = true
    var formatter = CSVCellFormatter()
    var bom = false
    var checkpointEvery: Int?
    var newline: [UInt8] = [0x0D, 0x0A]
}

/// Writes rows: the hot loop looks fields up in each record's raw bytes and copies them into the
/// output buffer; nothing it does not export is decoded.
struct CSVExporter {
    var plan: ExportPlan
    let sink: FileOutput
    let context: StageContext
    var formatter: CSVCellFormatter
    private var headerWritten = false
    private var row: [UInt8] = []

    init(plan: ExportPlan, sink: FileOutput, context: StageContext) {
        self.plan = plan
        self.sink = sink
        self.context = context
        self.formatter = plan.formatter
        row.reserveCapacity(4096)
    }

    mutating func writeHeader() throws {
        guard !headerWritten else { return }
        headerWritten = true
        if plan.bom { try sink.stream.write([0xEF, 0xBB, 0xBF]) }
        guard !plan.columns.isEmpty else { return }
        row.removeAll(keepingCapacity: true)
        for (n, c) in plan.columns.enumerated() {
            if n > 0 { row.append(UInt8(ascii: ",")) }
            formatter.appendHeader(c.header, to: &row)
        }
        row.append(contentsOf: plan.newline)
        try sink.stream.write(row)
    }

    /// Fewer columns or members than this: each column scans the record's members (no table to build;
    /// measured, the table costs more than the scans below about 48 keys and saves time above it).
    static let memberTableThreshold = 48

    mutating func writeRow(_ record: Record) throws {
        row.removeAll(keepingCapacity: true)
        // Many columns (the union of keys) in a record of many members: index the members once, so
        // the row costs columns + members, not columns × members.
        let table = plan.columns.count >= Self.memberTableThreshold && record.members.count >= Self.memberTableThreshold
            ? Record.MemberTable(record) : nil
        for (n, c) in plan.columns.enumerated() {
            if n > 0 { row.append(UInt8(ascii: ",")) }
            switch c {
            case .path(let p):
                p.withRawValue(in: record, table: table) { raw in
                    if let raw { formatter.appendCell(rawJSON: raw, to: &row) }
                }
            case .computed(let name, let program):
                do {
                    formatter.appendCell(try program.run(record).first, to: &row)
                } catch {
                    context.deadLetter(record, code: "column_error", message: "column '\(name)': \(error.message)")
                    try context.checkErrorBudget()
                    return
                }
            }
        }
        row.append(contentsOf: plan.newline)
        try sink.stream.write(row)
        context.recordsOut += 1
        try sink.rowWritten()
    }

    /// Without `--columns`: a first pass spills accepted records to an unlinked temporary file while
    /// collecting the union of top-level keys; a second pass writes the rows. Memory holds only the keys.
    mutating func exportWithLookahead() throws {
        let spill = try SpillFile()
        let spillOut = CMOBasics.OutputStream(fd: spill.fd, flushThreshold: 1 << 20)
        spillOut.name = "\(ProcessInfoEnv.tmpdir)/cmo-export-csv.* (the look-ahead file, TMPDIR)"
        var seen = Set<String>()
        var keys: [String] = []
        var line: [UInt8] = []
        try context.forEachRecord { record in
            for i in 0..<record.members.count {
                let k = record.key(at: i)
                if seen.insert(k).inserted { keys.append(k) }
            }
            line.removeAll(keepingCapacity: true)
            record.write(into: &line)
            line.append(0x0A)
            try spillOut.write(line)
        }
        try spillOut.flush()
        let computed = plan.columns
        plan.columns = keys.map { Column.path(FieldPath(topLevelKey: $0)) } + computed
        try writeHeader()
        guard lseek(spill.fd, 0, SEEK_SET) == 0 else { throw StageFailure(.failure, "cannot rewind the spill file") }
        let reader = NDJSONReader(fd: spill.fd)
        while let input = try reader.next() {
            if case .record(let r) = input { try writeRow(r) }
        }
    }
}

extension FieldPath {
    /// A path of one top-level key, dots and all.
    init(topLevelKey key: String) {
        self.init(key)
        if keys.count > 1 { self = FieldPath(single: key) }
    }
}

/// An unlinked temporary file (gone when closed, even after a crash).
final class SpillFile {
    let fd: Int32
    init() throws {
        let dir = ProcessInfoEnv.tmpdir
        var template = Array("\(dir)/cmo-export-csv.XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw IOFailure.file("\(dir)/cmo-export-csv.*", errno: errno, doing: "create", otherwise: .failure) }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        self.fd = fd
    }
    deinit { close(fd) }
}

enum ProcessInfoEnv {
    static var tmpdir: String {
        if let t = getenv("TMPDIR") {
            let s = String(cString: t)
            if !s.isEmpty { return s }
        }
        return "/tmp"
    }
}
