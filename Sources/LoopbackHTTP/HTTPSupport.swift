import Ethereum
import Foundation
import Hummingbird

/// Compact JSON answers, never cached: every answer of the loopback APIs, refusals included.
public enum JSONResponse {
    public static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        fields.append(contentsOf: headers)
        var bytes = value.compactBytes
        bytes.append(0x0A)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

public enum BoundedBody {
    /// The body as JSON through the strict parser (duplicate keys refused), at most `limit` bytes: an
    /// announced length over the limit is refused before a byte is read.
    public static func json(_ request: Request, limit: Int) async throws -> JSONValue {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw APIError(413, "too_large", "body larger than \(limit) bytes")
        }
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: limit) } catch {
            throw APIError(413, "too_large", "body larger than \(limit) bytes")
        }
        do { return try JSONValue.parse(Array(buffer.readableBytesView)) } catch {
            throw APIError(400, "malformed_json", "\(error)")
        }
    }
}

/// Runs a blocking call (PC/SC, a durable SQLite commit) on a thread of its own, never on Swift's
/// cooperative pool, whose two threads on a two-core machine every other request needs.
public enum Blocking {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }
}

/// Host checks against DNS rebinding: a page on an attacker's name that resolves to 127.0.0.1 still
/// sends its own name as Host.
public enum LoopbackHost {
    /// `localhost`, `127.0.0.1` or `[::1]`, with an optional numeric port.
    public static func isLoopback(_ authority: String) -> Bool {
        var host = authority.lowercased()
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let rest = host[host.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && UInt16(rest.dropFirst()) != nil) else { return false }
            host = String(host[...close])
        } else if let colon = host.firstIndex(of: ":") {
            guard UInt16(host[host.index(after: colon)...]) != nil else { return false }
            host = String(host[..<colon])
        }
        return ["localhost", "127.0.0.1", "[::1]"].contains(host)
    }

    /// `127.0.0.1:PORT`, `[::1]:PORT` or `localhost:PORT` (port 0: the system picks one); anything else is
    /// refused with a one-line reason (these services are local only).
    public static func parseListen(_ text: String, who: String) -> Result<(host: String, port: Int), ListenAddressError> {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return .failure(ListenAddressError(description: "a listen address is HOST:PORT, e.g. 127.0.0.1:8547; got \(text)"))
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard ["127.0.0.1", "::1", "localhost"].contains(host) else {
            return .failure(ListenAddressError(description: "refusing to listen on \(host): \(who) binds loopback only (127.0.0.1, [::1])"))
        }
        return .success((host == "localhost" ? "127.0.0.1" : host, port))
    }
}

public struct ListenAddressError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// Hummingbird's own refusals (no such route, a body too large) in the API's `{"error", "code"}` shape,
/// and anything unforeseen as a 500 in that shape too, never a bare status or an error's text.
/// Errors that render themselves (`HTTPResponseError`) pass through.
public struct ErrorShapeMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            throw APIError(error)
        } catch let error as any HTTPResponseError {
            throw error
        } catch {
            context.logger.error("unexpected error", metadata: ["error": .string("\(error)")])
            throw APIError.internalError
        }
    }
}

/// One structured log line per request: method, path with ids redacted (a bridge pairing id is the
/// player's claim ticket for its token), status, duration. Never headers (bearer tokens, vouchers) or bodies.
public struct AccessLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let listener: String

    public init(listener: String) { self.listener = listener }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            log(request, context, status: response.status, since: start)
            return response
        } catch {
            log(request, context, status: (error as? any HTTPResponseError)?.status ?? .internalServerError, since: start)
            throw error
        }
    }

    private func log(_ request: Request, _ context: Context, status: HTTPResponse.Status, since start: ContinuousClock.Instant) {
        // The metadata is an autoclosure: with info off, no path is rewritten and no clock read.
        func path() -> String {
            request.uri.path.split(separator: "/").map { $0.count == 32 && $0.allSatisfy(\.isHexDigit) ? "{id}" : String($0) }
                .joined(separator: "/")
        }
        context.logger.info(
            "request",
            metadata: [
                "method": .string(request.method.rawValue), "path": .string("/" + path()), "status": .stringConvertible(status.code),
                "listener": .string(listener), "ms": .stringConvertible((ContinuousClock.now - start) / .milliseconds(1)),
            ])
    }
}
