import BigInt
import Delegation
import Ethereum
import PlayerCore
import PostgresNIO

/// What `payee redeem` and `payee exposure` need from the store: the vouchers the contract has not
/// settled yet, and what its `Redeemed` events said, one row per channel (keyed like the others).
extension PostgresPayeeStore {
    public func unredeemedVouchers(payee: Address?) async throws -> [RedeemableVoucher] {
        try await reporting {
            var result: [RedeemableVoucher] = []
            let rows = try await client.query(
                """
                SELECT c.delegation_id, c.payee, c.token, c.cumulative::text, c.sequence, c.memo, c.signature, c.parents, r.cumulative::text
                FROM channels c LEFT JOIN redemptions r ON r.channel = c.channel
                WHERE (\(payee?.bytes.hexString)::text IS NULL OR c.payee = \(payee?.bytes.hexString))
                    AND c.cumulative > COALESCE(r.cumulative, 0)
                ORDER BY c.delegation_id, c.payee, c.token
                """, logger: logger)
            for try await (id, payee, token, cumulative, sequence, memo, signature, parents, settled) in rows.decode(
                (String, String, String, String, Int64, String, String, String, String?).self)
            {
                let voucher = Voucher(
                    delegation: try [UInt8](hex: id), payee: try Address(payee), token: try Address(token),
                    cumulative: try Self.amount(cumulative), sequence: UInt64(sequence), memo: try [UInt8](hex: memo))
                let item = try StoredChannel.unredeemed(
                    voucher, signature: try [UInt8](hex: signature), parents: parents, settled: try settled.map(Self.amount))
                if let item { result.append(item) }
            }
            return result
        }
    }

    /// One transaction; each event is an upsert that only raises the settled cumulative and adds to
    /// the paid sum, so two processes recording the same channel add up rather than overwrite.
    public func recordRedemptions(_ events: [ParatiiContract.Redemption], transactionHash: [UInt8]) async throws {
        guard !events.isEmpty else { return }
        let now = Int64(clamping: clock())
        try await reporting(idempotent: false) {
            try await client.withConnection { connection in
                try await self.transaction(connection) { connection in
                    for event in events {
                        let channel = Self.channelKey(delegation: event.delegation, payee: event.payee, token: event.token)
                        try await connection.query(
                            """
                            INSERT INTO redemptions AS r (channel, delegation_id, payee, token, cumulative, paid, shortfall, transaction_hash,
                                redeemed_at)
                            VALUES (\(channel), \(event.delegation.hexString), \(event.payee.bytes.hexString), \(event.token.bytes.hexString),
                                \(String(event.cumulative))::numeric, \(String(event.paid))::numeric, \(String(event.shortfall))::numeric,
                                \(transactionHash.hexString), \(now))
                            ON CONFLICT (channel) DO UPDATE SET cumulative = GREATEST(r.cumulative, excluded.cumulative),
                                paid = r.paid + excluded.paid, shortfall = excluded.shortfall,
                                transaction_hash = excluded.transaction_hash, redeemed_at = excluded.redeemed_at
                            """, logger: self.logger)
                    }
                }
            }
        }
    }

    public func redemptions() async throws -> [ChannelRedemption] {
        try await reporting {
            var result: [ChannelRedemption] = []
            let rows = try await client.query(
                """
                SELECT delegation_id, payee, token, cumulative::text, paid::text, shortfall::text, transaction_hash FROM redemptions
                ORDER BY delegation_id, payee, token
                """, logger: logger)
            for try await (id, payee, token, cumulative, paid, shortfall, hash) in rows.decode(
                (String, String, String, String, String, String, String).self)
            {
                result.append(
                    ChannelRedemption(
                        settled: ParatiiContract.Redemption(
                            delegation: try [UInt8](hex: id), payee: try Address(payee), token: try Address(token),
                            cumulative: try Self.amount(cumulative), paid: try Self.amount(paid), shortfall: try Self.amount(shortfall)),
                        transactionHash: try [UInt8](hex: hash)))
            }
            return result
        }
    }
}
