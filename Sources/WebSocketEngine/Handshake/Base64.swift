#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Base64 through Foundation: the handshake keys are its only users.
enum Base64 {
    static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        Data(bytes).base64EncodedString()
    }

    static func decode(_ string: String) -> [UInt8]? {
        Data(base64Encoded: string).map(Array.init)
    }
}
