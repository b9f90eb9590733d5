import BigInt
import Delegation
import Ethereum
import Foundation
import Testing

@testable import PlayerCore

/// The real `paratii` binary facing a hostile payer: what reaches the terminal, what a payee is
/// told about its exposure, and the files a payee store leaves behind.
@Suite(.serialized, .timeLimit(.minutes(5))) struct CLIOutputTests {
    static let hostile = "\u{1B}[2K\r rating 5 \u{9B}1m \u{1B}]0;owned\u{07} \u{202E}"

    struct Output {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// A wallet whose delegation (ETH, 1 in total) is valid now, by the real clock the CLI uses.
    static func wallet(parents: [Envelope] = []) throws -> (WalletFixture, Envelope) {
        let f = try WalletFixture()
        let d = SpendingDelegation(
            master: f.master.address, spender: f.wallet.address, allowances: [allowance], payees: [],
            validAfter: 0, validUntil: UInt64(Date().timeIntervalSince1970) + 3600, salt: Salt.random())
        let delegation = try Envelope.sign(d, domain: f.domain, signer: f.master, parents: parents)
        try f.password.write(toFile: f.directory + "/password", atomically: true, encoding: .utf8)
        return (f, delegation)
    }

    static let allowance = Allowance(token: .zero, total: WalletFixture.wei("1"), perPayment: WalletFixture.wei("0.0001"))

    static func run(_ f: WalletFixture, _ arguments: [String], data: String? = nil) throws -> Output {
        let result = try ChildProcess.run(
            Binary.paratii, arguments, environment: ["XDG_CONFIG_HOME": f.directory, "XDG_DATA_HOME": data ?? f.directory + "/data"])
        return Output(status: result.status, stdout: String(decoding: result.stdout, as: UTF8.self), stderr: result.stderr)
    }

    static func write(_ f: WalletFixture, _ name: String, _ json: JSONValue) throws -> String {
        let path = f.directory + "/" + name
        try json.prettyText.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Nothing a terminal would act on, except the line breaks (and tabs) of the output's own layout.
    static func expectSafe(_ text: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let unsafe = text.unicodeScalars.filter { $0 != "\n" && $0 != "\t" && TerminalText.isUnsafe($0) }
        #expect(
            unsafe.isEmpty, "\(what) printed raw controls: \(unsafe.map { String($0.value, radix: 16) })", sourceLocation: sourceLocation)
    }

    static func mode(_ path: String) -> Int? {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_mode & 0o777) : nil
    }

    @Test func payeeAcceptCreatesAnOwnerOnlyStoreUnderUmask022() throws {
        let (f, delegation) = try Self.wallet()
        defer { f.cleanup() }
        try f.wallet.importDelegation(delegation)
        let voucher = try Self.write(f, "voucher.json", try f.pay("0.0001").json)
        let old = umask(0o022)
        defer { umask(old) }
        let accepted = try Self.run(f, ["payee", "accept", voucher])
        #expect(accepted.status == 0, "\(accepted.stderr)")
        let store = f.directory + "/data/paratii/payee.sqlite"
        #expect(Self.mode(f.directory + "/data") == 0o700)
        #expect(Self.mode(f.directory + "/data/paratii") == 0o700)
        #expect(Self.mode(store) == 0o600)
        for file in [store + "-wal", store + "-shm"] where FileManager.default.fileExists(atPath: file) {
            #expect(Self.mode(file) == 0o600, "\(file)")
        }
    }

    /// Files nobody chose a mode for (here SQLite's wallet database) follow the umask: paratii sets 077 first.
    @Test func everyCommandRunsUnderUmask077() throws {
        let (f, _) = try Self.wallet()
        defer { f.cleanup() }
        let old = umask(0o022)
        defer { umask(old) }
        let directory = f.directory + "/second-wallet"
        let created = try Self.run(
            f, ["wallet", "init", "--dir", directory, "--password-file", f.directory + "/password", "--scrypt-n", "1024"])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(Self.mode(directory + "/" + Wallet.databaseFile) == 0o600)
    }

    @Test func attackerChosenStringsReachTheTerminalEscaped() throws {
        let f = try WalletFixture()
        defer { f.cleanup() }
        try f.password.write(toFile: f.directory + "/password", atomically: true, encoding: .utf8)
        let institution = PrivateKey.generate()
        let attested = try Envelope.sign(
            CardAttestation(
                institution: institution.address, master: f.master.address, holder: "Ada \(Self.hostile)", cardSerial: "D276\u{1B}[31m",
                ceiling: [Self.allowance], validUntil: UInt64(Date().timeIntervalSince1970) + 86400, salt: 1),
            domain: f.domain, signer: institution)
        let d = SpendingDelegation(
            master: f.master.address, spender: f.wallet.address, allowances: [Self.allowance], payees: [],
            validAfter: 0, validUntil: UInt64(Date().timeIntervalSince1970) + 3600, salt: Salt.random())
        let delegation = try Envelope.sign(d, domain: f.domain, signer: f.master, parents: [attested])

        // wallet import-delegation prints the card's holder and serial.
        let delegationFile = try Self.write(f, "delegation.json", delegation.json)
        let imported = try Self.run(
            f, ["wallet", "import-delegation", "--dir", f.directory, "--password-file", f.directory + "/password", delegationFile])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("Ada \\u{1B}[2K\\u{D} rating 5"))
        Self.expectSafe(imported.stdout, "wallet import-delegation")

        // delegate show prints a signed flag vote's reason: it must not pass for a 5-star rating.
        let posting = try Envelope.sign(
            PostingDelegation(
                parent: delegation.id, spender: f.wallet.address, poster: f.master.address, scopes: [.flag],
                validAfter: 0, validUntil: d.validUntil, salt: 1),
            domain: f.domain, signer: f.wallet.spendingKey, parents: [delegation, attested])
        let vote = try Envelope.sign(
            Vote(
                delegation: posting.id, content: Keccak256.hash("video-42"), kind: 2, value: 1, reason: Self.hostile,
                issuedAt: UInt64(Date().timeIntervalSince1970)),
            domain: f.domain, signer: f.master, parents: [posting, delegation, attested])
        let voteFile = try Self.write(f, "vote.json", vote.json)
        let shown = try Self.run(f, ["delegate", "show", voteFile])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("2 / 1 — \\u{1B}[2K\\u{D} rating 5"))
        Self.expectSafe(shown.stdout, "delegate show")
        let verified = try Self.run(f, ["verify", voteFile])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        Self.expectSafe(verified.stdout + verified.stderr, "verify")

        // payee export prints the chain as JSON: escaped as \u, the same JSON value.
        let voucherFile = try Self.write(f, "voucher.json", try f.pay("0.0001").json)
        #expect(try Self.run(f, ["payee", "accept", voucherFile]).status == 0)
        let exported = try Self.run(f, ["payee", "export"])
        Self.expectSafe(exported.stdout, "payee export")
        guard case .array(let items) = try JSONValue.parse(exported.stdout), let first = items.first else {
            Issue.record("nothing exported"); return
        }
        let chain = try Envelope(json: first)
        #expect(chain.parents.contains { if case .attestation(let a) = $0.message { a.holder == "Ada \(Self.hostile)" } else { false } })

        // Errors quoting the input: a hostile JSON key, through verify's own error line, the
        // payee's refusal line and the central error printing.
        var envelope = try #require(vote.json.objectValue)
        envelope[Self.hostile] = .number("1")
        let badFile = try Self.write(f, "bad.json", .object(envelope))
        for arguments in [["verify", badFile], ["payee", "accept", badFile], ["delegate", "show", badFile]] {
            let refused = try Self.run(f, arguments)
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("\\u{1B}[2K\\u{D} rating 5"), "\(arguments[0]): \(refused.stderr)")
            Self.expectSafe(refused.stdout + refused.stderr, arguments.joined(separator: " "))
        }
    }

    /// README: `paratii verify` exits 2 when the input is unusable (not an envelope at all, or no file),
    /// apart from 1 for an envelope that does not verify; one line on stderr.
    @Test func verifyExitsTwoOnUnusableInput() throws {
        let (f, _) = try Self.wallet()
        defer { f.cleanup() }
        let garbage = f.directory + "/garbage.json"
        try "not json".write(toFile: garbage, atomically: true, encoding: .utf8)
        for arguments in [["verify", garbage], ["verify", f.directory + "/absent.json"]] {
            let result = try Self.run(f, arguments)
            #expect(result.status == 2, "\(arguments): exit \(result.status), \(result.stderr)")
            #expect(result.stdout.isEmpty && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        }
    }

    @Test func verifyAndChannelsSayHowMuchOfTheTotalEachVoucherClaims() throws {
        let (f, delegation) = try Self.wallet()
        defer { f.cleanup() }
        try f.wallet.importDelegation(delegation)
        _ = try f.pay("0.0001")
        let voucherFile = try Self.write(f, "voucher.json", try f.pay("0.0001").json)
        let verified = try Self.run(f, ["verify", voucherFile])
        #expect(verified.status == 0, "\(verified.stderr)")
        let verdict = try JSONValue.parse(verified.stdout)
        #expect(verdict.objectValue?["claims"] == .string("0.0002 of 1 ETH (0.02%)"))
        #expect(verdict.objectValue?["exposureBasisPoints"] == .number("2"))
        #expect(verdict.objectValue?["total"] == .string(String(WalletFixture.wei("1"))))
        #expect(verified.stderr.contains("claims 0.0002 of 1 ETH (0.02%)"))
        #expect(try Self.run(f, ["payee", "accept", voucherFile]).status == 0)
        let channels = try JSONValue.parse(try Self.run(f, ["payee", "channels", "--json"]).stdout)
        guard case .array(let rows) = channels, let row = rows.first?.objectValue else { Issue.record("no channel"); return }
        #expect(row["claims"] == .string("0.0002 of 1 ETH (0.02%)"))
        #expect(try Self.run(f, ["payee", "channels"]).stdout.contains("claims 0.0002 of 1 ETH (0.02%)"))
    }

    @Test func aVZeroOrOneVoucherIsRefusedAndTheExportHoldsOnly27Or28() throws {
        let (f, delegation) = try Self.wallet()
        defer { f.cleanup() }
        try f.wallet.importDelegation(delegation)
        let voucher = try f.pay("0.0001")
        var signature = voucher.signature
        signature[64] -= 27
        let raw = Envelope(message: voucher.message, domain: voucher.domain, signature: signature, parents: voucher.parents)
        let rawFile = try Self.write(f, "raw.json", raw.json)
        let verified = try Self.run(f, ["verify", rawFile])
        #expect(verified.status == 1 && verified.stdout.contains("\"reason\":\"badSignature\""))
        let refused = try Self.run(f, ["payee", "accept", rawFile])
        #expect(refused.status == 1 && refused.stdout.contains("\"reason\":\"badSignature\""))
        #expect(try Self.run(f, ["payee", "accept", try Self.write(f, "voucher.json", voucher.json)]).status == 0)
        let exported = try JSONValue.parse(try Self.run(f, ["payee", "export"]).stdout)
        guard case .array(let items) = exported else { Issue.record("no export"); return }
        #expect(items.count == 1)
        for item in items {
            let envelope = try Envelope(json: item)
            #expect(([envelope] + envelope.parents).allSatisfy { $0.signature[64] == 27 || $0.signature[64] == 28 })
        }
    }
}
