#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Base64 through Foundation: handshake keys, and proxy credentials in the transport.
public enum Base64 {
    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        Data(bytes).base64EncodedString()
    }

    public static func decode(_ string: String) -> [UInt8]? {
        Data(base64Encoded: string).map(Array.init)
    }
}
