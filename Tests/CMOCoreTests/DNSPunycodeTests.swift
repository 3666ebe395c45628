import XCTest

@testable import CMOBasics

final class PunycodeTests: XCTestCase {
    /// RFC 3492 §7.1 sample strings (the encoder emits lower-case digits).
    func testRFC3492Samples() {
        let samples: [(String, String)] = [
            ("ليهمابتكلموشعربي؟", "egbpdaj6bu4bxfgehfvwxn"),
            ("他们为什么不说中文", "ihqwcrb4cv8a8dqg056pqjye"),
            ("Pročprostěnemluvíčesky", "Proprostnemluvesky-uyb24dma41a"),
            ("3年B組金八先生", "3B-ww4c5e180e575a65lsy2b"),
            ("安室奈美恵-with-SUPER-MONKEYS", "-with-SUPER-MONKEYS-pc58ag80a8qai00g7n9n"),
            ("Hello-Another-Way-それぞれの場所", "Hello-Another-Way--fc4qua05auwb3674vfr0b"),
            ("MajiでKoiする5秒前", "MajiKoi5-783gue6qz075azm5e"),
            ("パフィーdeルンバ", "de-jg4avhby1noc0d"),
            ("そのスピードで", "d9juau41awczczp"),
            ("-> $1.00 <-", "-> $1.00 <--"),
        ]
        for (input, expected) in samples { XCTAssertEqual(Punycode.encode(input), expected, input) }
    }

    func testDomainsToASCII() {
        XCTAssertEqual(Punycode.toASCII("Bücher.Example"), "xn--bcher-kva.example")
        XCTAssertEqual(Punycode.toASCII("münchen.de"), "xn--mnchen-3ya.de")
        XCTAssertEqual(Punycode.toASCII("ACME.io"), "acme.io")
        XCTAssertEqual(Punycode.toASCII("例え。テスト"), "xn--r8jz45g.xn--zckzah")
        XCTAssertNil(Punycode.toASCII(String(repeating: "ü", count: 70) + ".de"))
    }
}
