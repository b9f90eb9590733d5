import Ethereum
import Hummingbird

/// `GET /v1/events?since=REV&timeout=SECONDS`: a long poll on the audit revision. It waits on the
/// store's commits (RevisionSignal), not on a timer, and wakes early only when a pending request
/// or pairing falls due, so its expiry is reported like any other change.
struct EventController {
    let store: BridgeStore

    func addRoutes(to group: RouterGroup<BridgeRequestContext>) {
        let store = self.store
        group.get("events") { request, _ in
            let pairing = try await authenticate(request, store)
            let parameters = request.uri.queryParameters
            let query = try RequestHeaders.eventsQuery(
                since: parameters.get("since").map { String($0) }, timeout: parameters.get("timeout").map { String($0) })
            let deadline = ContinuousClock.now + .milliseconds(query.timeoutMilliseconds)
            while true {
                try await store.expirePending()
                // Read before the events: a commit in between then wakes the wait at once.
                let seen = store.latestRevision
                let events = try await store.events(since: query.since, pairing: pairing.id)
                if !events.isEmpty || ContinuousClock.now >= deadline {
                    // A full page: resume from its last event, not from the head, so nothing is skipped. Otherwise
                    // the revision read before the events (or a later event's): a fresh read of the head here
                    // could pass a commit made after the events were read, and the player would never see it.
                    let revision =
                        events.count == BridgeStore.eventPage ? events.last!.seq : max(seen, events.last?.seq ?? seen)
                    return json(.object(["revision": .number("\(revision)"), "events": .array(events.map(Self.eventJSON))]))
                }
                var wake = deadline
                if let due = try await store.nextExpiry() { wake = min(wake, store.instant(at: due)) }
                _ = await store.waitForChange(after: seen, until: wake)
            }
        }
    }

    static func eventJSON(_ entry: AuditEntry) -> JSONValue {
        .object(["revision": .number("\(entry.seq)"), "type": .string(entry.kind), "id": .string(entry.subject)])
    }
}
