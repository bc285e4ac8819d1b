/// Which wire protocol a connection speaks. Services rarely care; logs and metrics do.
public enum WebSocketWire: String, Sendable, Hashable {
    case rfc6455
    case hixie75
    case hixie76
    case wsr
}
