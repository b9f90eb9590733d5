/// A Solidity ABI type, parsed from its canonical text (`uint256`, `bytes32`, `address[]`,
/// `(address,uint256)[2]`). Only canonical names are taken (`uint256`, not `uint`), as in function
/// signatures, so a type read is the type hashed into a selector.
public indirect enum ABIType: Equatable, Sendable, CustomStringConvertible {
    case uint(bits: Int)
    case int(bits: Int)
    case address
    case bool
    /// `bytes1` … `bytes32`.
    case fixedBytes(Int)
    case bytes
    case string
    case array(ABIType)
    case fixedArray(ABIType, Int)
    case tuple([ABIType])

    public init(_ text: String) throws(EthereumError) {
        var parser = Parser(text: Array(text.utf8))
        self = try parser.type()
        guard parser.atEnd else { throw .invalidABI("trailing characters in type \(text)") }
    }

    public var description: String {
        switch self {
        case .uint(let bits): "uint\(bits)"
        case .int(let bits): "int\(bits)"
        case .address: "address"
        case .bool: "bool"
        case .fixedBytes(let n): "bytes\(n)"
        case .bytes: "bytes"
        case .string: "string"
        case .array(let element): "\(element)[]"
        case .fixedArray(let element, let n): "\(element)[\(n)]"
        case .tuple(let members): "(" + members.map(\.description).joined(separator: ",") + ")"
        }
    }

    /// Dynamic types are encoded in the tail behind an offset.
    public var isDynamic: Bool {
        switch self {
        case .bytes, .string, .array: true
        case .fixedArray(let element, _): element.isDynamic
        case .tuple(let members): members.contains(where: \.isDynamic)
        default: false
        }
    }

    /// Bytes in the head: 32 for every static scalar and for every dynamic type's offset.
    var headSize: Int {
        guard !isDynamic else { return 32 }
        switch self {
        case .fixedArray(let element, let n): return element.headSize * n
        case .tuple(let members): return members.reduce(0) { $0 + $1.headSize }
        default: return 32
        }
    }

    /// Nesting and array lengths are bounded: a type is written by a programmer, not an attacker, but
    /// decoding must not let one allocate without limit.
    static let maxDepth = 16
    static let maxFixedLength = 1024

    struct Parser {
        let text: [UInt8]
        var index = 0
        var depth = 0

        var atEnd: Bool { index == text.count }

        mutating func type() throws(EthereumError) -> ABIType {
            depth += 1
            defer { depth -= 1 }
            guard depth <= ABIType.maxDepth else { throw .invalidABI("type nested too deep") }
            var base: ABIType
            if index < text.count, text[index] == UInt8(ascii: "(") {
                index += 1
                var members: [ABIType] = []
                if index < text.count, text[index] == UInt8(ascii: ")") {
                    index += 1
                } else {
                    while true {
                        members.append(try type())
                        guard index < text.count else { throw .invalidABI("unclosed tuple") }
                        let c = text[index]
                        index += 1
                        if c == UInt8(ascii: ")") { break }
                        guard c == UInt8(ascii: ",") else { throw .invalidABI("expected , or ) in a tuple") }
                    }
                }
                base = .tuple(members)
            } else {
                let start = index
                while index < text.count, text[index] != UInt8(ascii: "["), text[index] != UInt8(ascii: ","),
                    text[index] != UInt8(ascii: ")")
                {
                    index += 1
                }
                base = try Self.elementary(String(decoding: text[start..<index], as: UTF8.self))
            }
            while index < text.count, text[index] == UInt8(ascii: "[") {
                index += 1
                let start = index
                while index < text.count, text[index] != UInt8(ascii: "]") { index += 1 }
                guard index < text.count else { throw .invalidABI("unclosed [") }
                let digits = String(decoding: text[start..<index], as: UTF8.self)
                index += 1
                if digits.isEmpty {
                    base = .array(base)
                } else {
                    guard digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(digits), n > 0, n <= ABIType.maxFixedLength
                    else {
                        throw .invalidABI("array length \(digits)")
                    }
                    base = .fixedArray(base, n)
                }
            }
            return base
        }

        static func elementary(_ name: String) throws(EthereumError) -> ABIType {
            switch name {
            case "address": return .address
            case "bool": return .bool
            case "bytes": return .bytes
            case "string": return .string
            default: break
            }
            for (prefix, make) in [("uint", { ABIType.uint(bits: $0) }), ("int", { ABIType.int(bits: $0) })] as [(String, (Int) -> ABIType)]
            where name.hasPrefix(prefix) {
                let digits = name.dropFirst(prefix.count)
                guard !digits.hasPrefix("0"), let bits = Int(digits), bits % 8 == 0, (8...256).contains(bits) else {
                    throw .invalidABI("\(name) is not a canonical integer type")
                }
                return make(bits)
            }
            if name.hasPrefix("bytes"), let n = Int(name.dropFirst(5)), (1...32).contains(n), !name.dropFirst(5).hasPrefix("0") {
                return .fixedBytes(n)
            }
            throw .invalidABI("unknown type \(name.isEmpty ? "(empty)" : name)")
        }
    }
}
