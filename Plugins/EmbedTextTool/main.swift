// The EmbedText plugin's tool: `EmbedTextTool INPUT OUTPUT TYPE MEMBER` writes a Swift file in which
// `TYPE.MEMBER` is INPUT's text, as a raw multi-line string literal.
import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 5 else {
    FileHandle.standardError.write(Data("usage: EmbedTextTool INPUT OUTPUT TYPE MEMBER\n".utf8))
    exit(64)
}
let (input, output, type, member) = (arguments[1], arguments[2], arguments[3], arguments[4])
guard let data = FileManager.default.contents(atPath: input), let text = String(data: data, encoding: .utf8) else {
    FileHandle.standardError.write(Data("EmbedTextTool: cannot read \(input) as UTF-8\n".utf8))
    exit(66)
}
// Inside #"""…"""# only the sequence """# ends the literal, and nothing is an escape but \#.
guard !text.contains("\"\"\"#"), !text.contains("\\#") else {
    FileHandle.standardError.write(Data("EmbedTextTool: \(input) holds \"\"\"# or \\#, which a raw string literal cannot\n".utf8))
    exit(65)
}
var body = text.replacingOccurrences(of: "\r\n", with: "\n")
while body.hasSuffix("\n") { body.removeLast() }
let swift = """
    // Generated at build time from \((input as NSString).lastPathComponent) by the EmbedText plugin; do not edit.

    extension \(type) {
        static let \(member) = #\"\"\"
    \(body)
    \"\"\"#
    }

    """
do {
    try Data(swift.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
} catch {
    FileHandle.standardError.write(Data("EmbedTextTool: cannot write \(output): \(error)\n".utf8))
    exit(73)
}
