import LoopbackHTTP

/// Query strings and headers, parsed without a trap: a paired player must not crash the bridge with
/// `timeout=nan`. Every value outside its range is a 400, never a clamp that hides a bug.
public enum RequestHeaders {
    /// `?since=REV&timeout=SECONDS`: since a revision (default 0), waiting at most 60 s. `GET /v1/events`
    /// waits 25 s unless told; a request and the pending list answer at once unless asked to wait.
    public struct EventsQuery: Equatable, Sendable {
        public var since: Int64 = 0
        /// Milliseconds, 0…60 000.
        public var timeoutMilliseconds: Int = 25_000
    }

    static let maximumWait = 60.0

    public static func eventsQuery(since: String?, timeout: String?, defaultMilliseconds: Int = 25_000) throws -> EventsQuery {
        var query = EventsQuery(timeoutMilliseconds: defaultMilliseconds)
        if let since {
            guard !since.isEmpty, since.utf8.count <= 19, since.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int64(since)
            else {
                throw APIError.badRequest("since must be a revision: a non-negative integer")
            }
            query.since = value
        }
        if let timeout {
            // Plain decimals only: Double() would take "nan", "inf", "1e300" and hex floats ("0x10").
            guard timeout.utf8.count <= 16, timeout.utf8.allSatisfy({ (0x30...0x39).contains($0) || $0 == 0x2E }),
                let seconds = Double(timeout), seconds.isFinite, seconds >= 0, seconds <= maximumWait
            else {
                throw APIError.badRequest("timeout must be a number of seconds from 0 to \(Int(maximumWait))")
            }
            query.timeoutMilliseconds = Int((seconds * 1000).rounded())
        }
        return query
    }

    /// `Bearer <64 hex>` → the token; anything else is nil.
    public static func bearerToken(_ header: String?) -> String? {
        guard let header, header.hasPrefix("Bearer ") else { return nil }
        let token = header.dropFirst("Bearer ".count)
        guard token.utf8.count == 64, token.utf8.allSatisfy(isHexDigit) else { return nil }
        return String(token)
    }

    /// `Pairing <64 hex>`: the secret a pairing's creator sent, proving it is the creator.
    public static func pairingSecret(_ header: String?) -> String? {
        guard let header, header.hasPrefix("Pairing ") else { return nil }
        let secret = header.dropFirst("Pairing ".count)
        guard secret.utf8.count == 64, secret.utf8.allSatisfy(isHexDigit) else { return nil }
        return String(secret)
    }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte) || (0x41...0x46).contains(byte)
    }
}
