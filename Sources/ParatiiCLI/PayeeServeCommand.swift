import ArgumentParser
import Foundation
import Logging
import LoopbackHTTP
import PayeeServer

extension PayeeCommand {
    /// `paratii payee serve`: the content server, each segment paid with a voucher over HTTP 402.
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sell a folder of video segments over HTTP 402 (x402 v2, scheme paratii-voucher) until SIGTERM or SIGINT.",
            discussion: """
                Price, token and payee address come from the "payee" section of the configuration file:
                {"payee": {"address": "0x…", "token": "ETH", "price": "0.0001"}}. Prints the URL it listens on.
                """)
        @OptionGroup var options: PayeeOptions
        @Option(help: "Loopback address to listen on; port 0 picks a free one (printed).") var listen = "127.0.0.1:0"
        @Option(help: "Folder of segments and their playlist (ffmpeg -f dash -dash_segment_type webm output).") var media: String
        @Option(help: "Folder of the player page, served at / (dashboard.html included).") var web = "web"

        func run() async throws {
            let address: (host: String, port: Int)
            switch LoopbackHost.parseListen(listen, who: "the payee server") {
            case .success(let parsed): address = parsed
            case .failure(let error): throw CLIError(error.description)
            }
            let settings = try PayeeSettings.load(options.config.config)
            let media = try MediaLibrary(directory: media)
            var isDirectory: ObjCBool = false
            let web = FileManager.default.fileExists(atPath: web, isDirectory: &isDirectory) && isDirectory.boolValue ? web : nil
            if web == nil { TerminalOutput.warn("note: no player page folder at \(self.web); serving media and the API only") }
            let ledger = try await PayeeLedger(store: try await options.openStore(), settings: settings)
            var logger = Logger(label: "paratii.payee")
            logger.logLevel = .warning
            let app = buildApplication(
                PayeeContext(settings: settings, ledger: ledger, media: media, web: web), host: address.host, port: address.port,
                logger: logger
            ) { port in
                let host = address.host.contains(":") ? "[\(address.host)]" : address.host
                // Unbuffered: a script waits for this line to know the port.
                FileHandle.standardOutput.write(Data("listening on http://\(host):\(port)/\n".utf8))
            }
            try await app.runService()
        }
    }
}
