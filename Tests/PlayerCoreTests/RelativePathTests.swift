import Foundation
import Testing

/// Every state-writing command with the bare relative paths a newcomer types (`--store payee.sqlite`,
/// `--dir wallet`), run in a fresh working directory: each creates its files there, owner-only.
/// (`institution init --roster roster.sqlite` needs a card: HardwareTests' InstitutionTests run it.)
@Suite struct RelativePathTests {
    let directory: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/paratii-relative-XXXXXX").utf8CString)
        directory = String(cString: try #require(mkdtemp(&template)))
        try Data("password\n".utf8).write(to: URL(fileURLWithPath: directory + "/pw"))
    }

    @discardableResult
    func paratii(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let result = try ChildProcess.run(
            Binary.paratii, arguments,
            environment: ["XDG_DATA_HOME": directory + "/xdg-data", "XDG_CONFIG_HOME": directory + "/xdg-config"],
            directory: directory)
        try #require(result.status == 0, "paratii \(arguments.joined(separator: " ")): \(result.stderr)", sourceLocation: sourceLocation)
        return String(decoding: result.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func expectPrivateFile(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        var info = stat()
        #expect(stat(directory + "/" + name, &info) == 0, "\(name) was not created", sourceLocation: sourceLocation)
        #expect(info.st_mode & 0o077 == 0, "\(name) is mode \(String(info.st_mode & 0o777, radix: 8))", sourceLocation: sourceLocation)
    }

    @Test func stateWritingCommandsTakeBareRelativePaths() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let master = try paratii(["eth", "new-key", "--keystore", "master.json", "--password-file", "pw", "--scrypt-n", "1024"])
        expectPrivateFile("master.json")
        try paratii(["wallet", "init", "--dir", "wallet", "--password-file", "pw", "--scrypt-n", "1024"])
        expectPrivateFile("wallet/spending.json")
        expectPrivateFile("wallet")
        let spender = try paratii(["wallet", "address", "--dir", "wallet", "--password-file", "pw"])
        try paratii(["softcard", "create", "--state", "card.json", "--insecure-state"])
        expectPrivateFile("card.json")
        try paratii([
            "delegate", "spending", "--spender", spender, "--allowance", "token=ETH,total=1", "--valid-for", "1d",
            "--master-keystore", "master.json", "--master-password-file", "pw", "--out", "delegation.json",
        ])
        expectPrivateFile("delegation.json")
        try paratii(["wallet", "import-delegation", "--dir", "wallet", "--password-file", "pw", "delegation.json"])
        let voucher = try paratii([
            "wallet", "pay", "--dir", "wallet", "--password-file", "pw", "--payee", master.components(separatedBy: .whitespaces).last!,
            "--token", "ETH", "--amount", "0.1",
        ])
        try Data(voucher.utf8).write(to: URL(fileURLWithPath: directory + "/voucher.json"))
        try paratii(["payee", "accept", "--store", "payee.sqlite", "voucher.json"])
        expectPrivateFile("payee.sqlite")
        try paratii(["payee", "export", "--store", "payee.sqlite", "--out", "redeem.json"])
        expectPrivateFile("redeem.json")
        let id = try paratii(["verify", "delegation.json"]).components(separatedBy: "\"id\":\"").last?.prefix(66).description ?? ""
        try paratii([
            "delegate", "revoke", id, "--master-keystore", "master.json", "--master-password-file", "pw", "--list", "revocations.json",
        ])
        expectPrivateFile("revocations.json")
    }
}
