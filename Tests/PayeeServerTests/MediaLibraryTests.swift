import Ethereum
import Foundation
import Testing

@testable import PayeeServer

@Suite struct MediaLibraryTests {
    @Test func dashDurationsReadAsSeconds() {
        #expect(MediaLibrary.seconds("PT14.0S") == 14)
        #expect(MediaLibrary.seconds("PT1M2.5S") == 62.5)
        #expect(MediaLibrary.seconds("PT1H0M0S") == 3600)
        #expect(MediaLibrary.seconds("P1D") == nil)
        #expect(MediaLibrary.seconds("PT12") == nil)
    }

    @Test func attributesStandAlone() {
        let mpd = "<MPD\n\tmediaPresentationDuration=\"PT14.0S\"><Representation id=\"0\" mimeType=\"video/webm\" codecs=\"vp09.00.21.08\">"
        #expect(MediaLibrary.attribute("mediaPresentationDuration", in: mpd) == "PT14.0S")
        #expect(MediaLibrary.attribute("codecs", in: mpd) == "vp09.00.21.08")
        #expect(MediaLibrary.attribute("Duration", in: mpd) == nil)
    }
}
