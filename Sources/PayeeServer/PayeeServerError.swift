/// Why the payee server cannot start: its settings or its media folder. Refusals of a request are
/// HTTP answers (`APIError`, a 402), not these.
public enum PayeeServerError: Error, Sendable, CustomStringConvertible {
    case configuration(String)
    case media(String)

    public var description: String {
        switch self {
        case .configuration(let text): "payee settings: \(text)"
        case .media(let text): "media: \(text)"
        }
    }
}
