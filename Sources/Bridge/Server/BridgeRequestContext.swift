import Hummingbird
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The request context of both listeners: Hummingbird's core storage plus the connection, so a route
/// can tell who is asking. Limits are per peer, so one peer cannot starve another.
public struct BridgeRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Who is asking: `uid:N` on the Unix socket (the kernel's SO_PEERCRED, which nobody can forge), the
    /// Origin header on TCP (a browser sets it and pages cannot), else `tcp` for the TCP listener's
    /// origin-less clients (local programs, which could reach the Unix socket anyway).
    func peer(_ request: Request) async -> String {
        if case .unixDomainSocket = channel.localAddress, let provider = channel as? SocketOptionProvider {
            if let credentials: PeerCredentials = try? await provider.unsafeGetSocketOption(
                level: .socket, name: NIOBSDSocket.Option(rawValue: SO_PEERCRED)
            ).get() {
                return "uid:\(credentials.uid)"
            }
            return "unix"
        }
        return request.headers[.origin].map { "origin:\($0)" } ?? "tcp"
    }
}

/// Linux's `struct ucred` (which Glibc's module map hides without _GNU_SOURCE): what SO_PEERCRED returns.
struct PeerCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}
