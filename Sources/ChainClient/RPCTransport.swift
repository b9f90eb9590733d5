import AsyncHTTPClient
import Ethereum
import Foundation
import NIOCore

/// One JSON-RPC 2.0 call over HTTP(S) POST. AsyncHTTPClient (already in the build through Hummingbird's
/// test support) rather than FoundationNetworking: no libcurl at run time, TLS through swift-nio-ssl.
struct RPCTransport: Sendable {
    let url: String
    /// Per call: a node that does not answer within it is `.timeout`, not a hang.
    let timeout: TimeAmount
    /// Replies above this are refused rather than buffered (a receipt with many logs is well under it).
    static let replyLimit = 8 << 20

    /// One client for the process, never shut down (as `HTTPClient.shared`), but failing at once when the
    /// node refuses the connection: a command makes a few calls to one node, and retrying a refused
    /// connection until the deadline (the shared client's choice, good for servers at scale) only delays
    /// the one-line error by the whole timeout.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    init(url: String, timeout: TimeAmount) throws(ChainError) {
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host != nil else {
            throw .badURL("\(url) (give http://HOST:PORT or https://…)")
        }
        self.url = url
        self.timeout = timeout
    }

    func call(_ method: String, _ params: [JSONValue]) async throws(ChainError) -> JSONValue {
        let body = JSONValue.object(["jsonrpc": .string("2.0"), "id": .number("1"), "method": .string(method), "params": .array(params)])
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body.compactText))
        let replyBytes: [UInt8]
        do {
            let response = try await Self.client.execute(request, timeout: timeout)
            let collected = try await response.body.collect(upTo: Self.replyLimit)
            guard response.status == .ok else {
                // Nodes answer JSON-RPC errors with 200; other statuses may still carry one (e.g. 400 with an error body).
                if let value = try? JSONValue.parse(Array(collected.readableBytesView)), let error = value["error"] {
                    throw Self.rpcError(error)
                }
                throw ChainError.unreachable("\(method): HTTP \(response.status.code)")
            }
            replyBytes = Array(collected.readableBytesView)
        } catch let error as ChainError {
            throw error
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw .timeout("\(method) after \(timeout.nanoseconds / 1_000_000_000) s")
        } catch {
            throw .unreachable("\(method): \(error)")
        }
        let reply: JSONValue
        do { reply = try JSONValue.parse(replyBytes) } catch { throw .malformed("\(method): not JSON") }
        if let error = reply["error"], error != .null { throw Self.rpcError(error) }
        guard let result = reply["result"] else { throw .malformed("\(method): neither result nor error") }
        return result
    }

    static func rpcError(_ error: JSONValue) -> ChainError {
        let code: Int = if case .number(let text)? = error["code"] { Int(text) ?? 0 } else { 0 }
        var message = error["message"]?.stringValue ?? "no message"
        // A revert carries its reason ABI-encoded as Error(string) in `data`; say it in words.
        if let data = error["data"]?.stringValue, let reason = RevertReason.decode(data) { message += ": \(reason)" }
        return .rpc(code: code, message: String(message.prefix(500)))
    }
}

/// `Error(string)` revert data, as Vyper's `assert …, "reason"` and Solidity's `require` produce it.
enum RevertReason {
    static func decode(_ hex: String) -> String? {
        guard let bytes = try? [UInt8](hex: hex), bytes.count >= 4, Array(bytes.prefix(4)) == ABI.selector("Error(string)"),
            let values = try? ABI.decode(Array(bytes.dropFirst(4)), as: [.string]), case .string(let reason)? = values.first
        else { return nil }
        return reason
    }
}
