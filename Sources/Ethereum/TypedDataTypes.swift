/// The type language of EIP-712: atomic, dynamic and reference types, parsed once from their strings.
indirect enum EIP712Type: Equatable, Sendable {
    case bool
    case address
    case fixedBytes(Int)  // bytes1 … bytes32
    case integer(bits: Int, signed: Bool)
    case bytes
    case string
    case structure(String)
    case array(EIP712Type, count: Int?)

    /// Parses a type string such as `uint256`, `Person[]` or `bytes32[2][]`; struct names must be defined.
    /// Arrays nest at most as deep as JSON values may (deeper could hold no value we parse, and would
    /// only exhaust the stack).
    init(parsing text: String, structs: Set<String>, depth: Int = 0) throws(EthereumError) {
        if text.hasSuffix("]") {
            guard depth < JSONValue.maxDepth else { throw .invalidTypedData("arrays nested deeper than \(JSONValue.maxDepth) in a type") }
            guard let open = text.lastIndex(of: "[") else { throw .invalidTypedData("unbalanced brackets in type \(text)") }
            let inner = String(text[..<open])
            let sizeText = text[text.index(after: open)..<text.index(before: text.endIndex)]
            var count: Int?
            if !sizeText.isEmpty {
                guard sizeText.allSatisfy(\.isASCII), let n = Int(sizeText), n > 0, String(n) == sizeText else {
                    throw .invalidTypedData("bad array size in type \(text)")
                }
                count = n
            }
            self = .array(try EIP712Type(parsing: inner, structs: structs, depth: depth + 1), count: count)
            return
        }
        switch text {
        case "bool": self = .bool
        case "address": self = .address
        case "bytes": self = .bytes
        case "string": self = .string
        default:
            if let n = Self.suffixNumber(text, prefix: "bytes"), (1...32).contains(n) {
                self = .fixedBytes(n)
            } else if let n = Self.suffixNumber(text, prefix: "uint"), n % 8 == 0, (8...256).contains(n) {
                self = .integer(bits: n, signed: false)
            } else if let n = Self.suffixNumber(text, prefix: "int"), n % 8 == 0, (8...256).contains(n) {
                self = .integer(bits: n, signed: true)
            } else if structs.contains(text) {
                self = .structure(text)
            } else {
                throw .invalidTypedData("unknown type \(text)")
            }
        }
    }

    private static func suffixNumber(_ text: String, prefix: String) -> Int? {
        guard text.hasPrefix(prefix) else { return nil }
        let digits = text.dropFirst(prefix.count)
        guard let n = Int(digits), String(n) == digits else { return nil }
        return n
    }

    static func isValidStructName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return name.unicodeScalars.allSatisfy {
            $0 == "_" || $0 == "$" || ($0.isASCII && $0.properties.isAlphabetic) || ("0"..."9").contains($0)
        }
    }

    /// The struct this type ultimately refers to, with whether the path makes the reference optional (dynamic array).
    var referencedStruct: (name: String, throughDynamicArray: Bool)? {
        switch self {
        case .structure(let name): (name, false)
        case .array(let element, let count):
            element.referencedStruct.map { ($0.name, $0.throughDynamicArray || count == nil) }
        default: nil
        }
    }
}

/// One member of a struct type, as declared in `types`.
struct EIP712Field: Equatable, Sendable {
    let name: String
    let typeName: String
    let type: EIP712Type
}
