import Ethereum
import Foundation
import Testing

/// The reference vectors (a copy of ../shared/vectors/ethereum.json kept in Tests/Vectors).
enum Vectors {
    static let root: JSONValue = {
        let here = URL(fileURLWithPath: #filePath)
        let path = here.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Vectors/ethereum.json")
        let data = try! Data(contentsOf: path)
        return try! JSONValue.parse(Array(data))
    }()

    /// Another file of Tests/Vectors (bip39.json, bip32.json).
    static func file(_ name: String) -> JSONValue {
        let here = URL(fileURLWithPath: #filePath)
        let path = here.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Vectors/\(name)")
        return try! JSONValue.parse(Array(try! Data(contentsOf: path)))
    }

    static func section(_ path: String...) -> JSONValue {
        var node = root
        for key in path { node = node[key]! }
        return node
    }

    static func list(_ path: String...) -> [JSONValue] {
        var node = root
        for key in path { node = node[key]! }
        return node.arrayValue!
    }
}

extension JSONValue {
    var string: String { stringValue! }
    var hexBytes: [UInt8] { try! [UInt8](hex: stringValue!) }
    var int: Int {
        switch self {
        case .number(let n): Int(n)!
        case .string(let s): Int(s)!
        default: fatalError("not an int: \(self)")
        }
    }
}
