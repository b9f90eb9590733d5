import Testing

@testable import Bridge

/// The client's byte-level reading of a response head: fields trimmed of SP and HTAB, names in any
/// case, the last transfer coding deciding chunked, conflicting lengths and bad status lines refused.
@Suite struct ResponseHeadTests {
    static func head(_ text: String) throws -> ResponseReader.Head { try ResponseReader.parseHead(Array(text.utf8)) }

    @Test func fieldsAreTrimmedLowercasedAndFramed() throws {
        let head = try Self.head(
            "HTTP/1.1 201 Created\r\nContent-Type: \t application/json \t\r\nX-Empty: \r\n:no-name\r\nno-colon\r\nX-Colons: a:b\r\nX-Bare:\r\n"
                + "Transfer-Encoding: gzip, Chunked\r\nContent-Length: 12")
        #expect(head.version == "HTTP/1.1" && head.status == 201)
        #expect(head.headers["content-type"] == "application/json")
        #expect(head.headers["x-empty"] == "")
        #expect(head.headers["x-colons"] == "a:b")
        #expect(head.headers["x-bare"] == "" && head.headers[""] == nil && head.headers["no-colon"] == nil)
        #expect(head.chunked && head.length == nil, "Transfer-Encoding overrides Content-Length")

        let sized = try Self.head("HTTP/1.0 200 OK\r\ncontent-length: 5\r\nCONTENT-LENGTH: 5\r\nTransfer-Encoding: chunked, gzip")
        #expect(sized.version == "HTTP/1.0" && sized.length == 5 && !sized.chunked)
        #expect(try Self.head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,").chunked)
        #expect(try Self.head("HTTP/1.1 204").headers.isEmpty)
    }

    @Test func malformedHeadsAreRefused() {
        for text in [
            "HTTP/2 200 OK", "HTTP/1.1 abc", "HTTP/1.1 99 Low", "HTTP/1.1 1000 High", "HTTP/1.1", "", "ICY 200 OK",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6", "HTTP/1.1 200 OK\r\nContent-Length: -1",
            "HTTP/1.1 200 OK\r\nContent-Length: 1x",
        ] {
            #expect(throws: BridgeError.self, "\(text)") { try Self.head(text) }
        }
        #expect(throws: BridgeError.self) { try ResponseReader.parseHead(Array("HTTP/1.1 200 OK\r\nX: ".utf8) + [0xFF]) }
    }
}
