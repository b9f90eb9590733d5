import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One client connection to a loopback server (Unix socket or 127.0.0.1/::1): blocking connect, send
/// and receive with the client's timeout, and whether a connection left idle is still open. The
/// descriptor is closed when the socket is released.
final class ClientSocket {
    let fd: Int32
    /// Bytes received and not yet consumed by a response (a response ends where its framing says).
    var pending: [UInt8] = []
    /// What `recv` fills, made once per connection rather than on every read.
    private var buffer = [UInt8](repeating: 0, count: 65536)

    private init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    static func open(_ endpoint: BridgeClient.Endpoint, timeout: Int) throws -> ClientSocket {
        switch endpoint {
        case .unix(let path):
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw BridgeError.io("socket: \(String(cString: strerror(errno)))") }
            let socket = ClientSocket(fd: fd)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw BridgeError.io("socket path too long: \(path)") }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (i, b) in bytes.enumerated() { raw[i] = b }
                raw[bytes.count] = 0
            }
            guard socket.connect(&address) == 0 else {
                throw BridgeError.io(
                    "cannot reach the bridge at \(path): \(String(cString: strerror(errno))) (start it with `paratii bridge run`)")
            }
            socket.setTimeout(timeout)
            return socket
        case .tcp(let host, let port):
            let fd = socket(host.contains(":") ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw BridgeError.io("socket: \(String(cString: strerror(errno)))") }
            let socket = ClientSocket(fd: fd)
            var result: Int32
            if host.contains(":") {
                var address = sockaddr_in6()
                address.sin6_family = sa_family_t(AF_INET6)
                address.sin6_port = in_port_t(UInt16(port).bigEndian)
                address.sin6_addr = in6addr_loopback
                result = socket.connect(&address)
            } else {
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = in_port_t(UInt16(port).bigEndian)
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                result = socket.connect(&address)
            }
            guard result == 0 else {
                throw BridgeError.io("cannot reach the bridge at \(host):\(port): \(String(cString: strerror(errno)))")
            }
            // Small requests and answers back to back: don't let Nagle hold a request's tail for an ACK.
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            socket.setTimeout(timeout)
            return socket
        }
    }

    private func connect<Address>(_ address: inout Address) -> Int32 {
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<Address>.size)) }
        }
    }

    private func setTimeout(_ seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends `bytes`; returns how many the peer's side took before it went away (EPIPE or ECONNRESET:
    /// a server may answer 413 and close before reading all of a body, so the caller reads on), or
    /// nil when all were sent.
    func send(_ bytes: [UInt8]) throws -> Int? {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE || errno == ECONNRESET { return offset }
                throw BridgeError.io("send: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        return nil
    }

    /// Appends what arrives to `pending`; false at the end of the stream (or when the peer reset it).
    func receiveMore() throws -> Bool {
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 {
                pending += buffer[0..<n]
                return true
            }
            if n == 0 { return false }
            switch errno {
            case EINTR: continue
            case ECONNRESET: return false
            case EAGAIN, EWOULDBLOCK: throw BridgeError.io("no answer from the bridge within the client's timeout")
            default: throw BridgeError.io("receive: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Whether a connection left idle between requests can carry the next one: not when the server
    /// closed it (end of stream or reset waiting) or sent something nobody asked for.
    var isIdleAndOpen: Bool {
        guard pending.isEmpty else { return false }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 0) == 0 else { return false }
        return true
    }
}
