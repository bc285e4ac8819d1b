import Foundation

/// Real bytes recorded from peers, kept once for every test target that replays them.
package enum FlashCapture {
    /// What Flash Player 11 sent a Kaazing gateway after the RTMP handshake (wsr.md §7): 992 bytes holding
    /// the connect and createStream commands, then 17 WebSocket messages of the open session.
    package static func afterHandshake() throws -> [UInt8] {
        guard let url = Bundle.module.url(forResource: "wsr-flash11-after-handshake", withExtension: "bin") else {
            throw MissingCapture(name: "wsr-flash11-after-handshake.bin")
        }
        return Array(try Data(contentsOf: url))
    }

    struct MissingCapture: Error {
        var name: String
    }
}
