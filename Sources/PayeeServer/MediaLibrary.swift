import Ethereum
import Foundation

/// The folder of a video's segments, indexed once at start: only regular files directly inside it, with
/// plain names, are served (no path from a request ever reaches the file system).
///
/// Free: the playlists (`.mpd`, `.m3u8`, `manifest.json`) and init segments (`init*`), which say what
/// to fetch and how to decode it. Every other file is a segment and costs the price.
public struct MediaLibrary: Sendable {
    public struct File: Sendable {
        public let name: String
        public let path: String
        public let mimeType: String
        public let paid: Bool
    }

    public let directory: String
    public let files: [String: File]
    /// `/media/manifest.json`: the file of that name if the folder has one, else built from the folder.
    public let manifest: JSONValue

    public init(directory: String) throws {
        self.directory = directory
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw PayeeServerError.media("cannot read \(directory): \(error.localizedDescription)")
        }
        var files: [String: File] = [:]
        for name in names where Self.plain(name) {
            let path = directory + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            files[name] = File(name: name, path: path, mimeType: Self.mimeType(name), paid: !Self.free(name))
        }
        guard files.values.contains(where: \.paid) else { throw PayeeServerError.media("\(directory) holds no segment to sell") }
        self.files = files
        if files["manifest.json"] != nil {
            do { manifest = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/manifest.json")))) } catch {
                throw PayeeServerError.media("\(directory)/manifest.json: \(error)")
            }
        } else {
            manifest = Self.manifest(
                files,
                mpd: files.values.first { $0.name.hasSuffix(".mpd") }.flatMap { try? String(contentsOfFile: $0.path, encoding: .utf8) })
        }
    }

    static func plain(_ name: String) -> Bool {
        !name.hasPrefix(".") && name.utf8.count <= 128
            && name.utf8.allSatisfy {
                (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x2D || $0 == 0x5F
                    || $0 == 0x2E
            }
    }

    static func free(_ name: String) -> Bool {
        name == "manifest.json" || name.hasSuffix(".mpd") || name.hasSuffix(".m3u8") || name.hasPrefix("init")
    }

    static func mimeType(_ name: String) -> String {
        switch name.split(separator: ".").last {
        case "webm": "video/webm"
        case "mp4", "m4s": "video/mp4"
        case "mpd": "application/dash+xml"
        case "m3u8": "application/vnd.apple.mpegurl"
        case "json": "application/json"
        default: "application/octet-stream"
        }
    }

    /// The manifest a MediaSource page needs, from ffmpeg's DASH output (`-f dash -dash_segment_type
    /// webm`: `init-streamN.webm`, `chunk-streamN-NNNNN.webm`, `manifest.mpd`): the first stream's init
    /// segment and its segments in order, the codec string and the duration from the MPD when present.
    static func manifest(_ files: [String: File], mpd: String?) -> JSONValue {
        let initName = files.keys.filter { $0.hasPrefix("init") }.sorted().first
        let stream = initName.map { String($0.dropFirst("init-".count).split(separator: ".").first ?? "") } ?? ""
        let segments = files.values.filter { $0.paid && (stream.isEmpty || $0.name.hasPrefix("chunk-\(stream)-")) }.map(\.name).sorted()
        let codecs = mpd.flatMap { attribute("codecs", in: $0) }
        let container = mpd.flatMap { attribute("mimeType", in: $0) } ?? segments.first.map(mimeType) ?? "video/webm"
        let duration = mpd.flatMap { attribute("mediaPresentationDuration", in: $0) }.flatMap(seconds)
        var object: JSONObject = [
            "mimeType": .string(codecs.map { "\(container); codecs=\"\($0)\"" } ?? container),
            "init": initName.map { .string("/media/" + $0) } ?? .null,
            "segments": .array(segments.map { .string("/media/" + $0) }),
        ]
        if let duration {
            object["duration"] = .number(String(format: "%.3f", duration))
            object["segmentDuration"] = .number(String(format: "%.3f", segments.isEmpty ? 0 : duration / Double(segments.count)))
        }
        return .object(object)
    }

    /// `name="value"`'s value, the first one in the document whose name stands alone (after white space).
    static func attribute(_ name: String, in text: String) -> String? {
        var rest = text[...]
        while let found = rest.range(of: "\(name)=\"") {
            defer { rest = rest[found.upperBound...] }
            guard found.lowerBound > text.startIndex, text[text.index(before: found.lowerBound)].isWhitespace else { continue }
            let value = text[found.upperBound...]
            guard let end = value.firstIndex(of: "\"") else { return nil }
            return String(value[..<end])
        }
        return nil
    }

    /// An ISO 8601 duration as DASH writes it (`PT12.0S`, `PT1M2.5S`, `PT1H0M0S`), in seconds.
    static func seconds(_ duration: String) -> Double? {
        guard duration.hasPrefix("PT") else { return nil }
        var total = 0.0
        var number = ""
        for character in duration.dropFirst(2) {
            if character.isNumber || character == "." {
                number.append(character)
                continue
            }
            guard let value = Double(number) else { return nil }
            switch character {
            case "H": total += value * 3600
            case "M": total += value * 60
            case "S": total += value
            default: return nil
            }
            number = ""
        }
        return number.isEmpty ? total : nil
    }
}
