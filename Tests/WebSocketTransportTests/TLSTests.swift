import Foundation
import NIOCore
import Testing
import WSGateServices
import WebSocketAPI
import WebSocketEngine
@testable import WebSocketTransport

/// A CA and a server certificate for 127.0.0.1 / localhost, made with the openssl command for this run.
final class TestPKI: Sendable {
    let directory: String
    var caFile: String { directory + "/ca.pem" }
    var certFile: String { directory + "/server.pem" }
    var keyFile: String { directory + "/server-key.pem" }
    /// Same key, signed by the CA, but naming only other.example.
    var otherNameCertFile: String { directory + "/other-name.pem" }
    /// A second, unrelated CA: trusting it must not make the server's certificate valid.
    var otherCAFile: String { directory + "/other-ca.pem" }

    static let shared: TestPKI = try! TestPKI()

    init() throws {
        directory = NSTemporaryDirectory() + "wsgate-pki-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let script = """
        set -e
        cd '\(directory)'
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=wsgate test CA' -keyout ca-key.pem -out ca.pem \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=other CA' -keyout other-ca-key.pem -out other-ca.pem 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj '/CN=localhost' -keyout server-key.pem -out server.csr 2>/dev/null
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 -extfile ext.cnf -out server.pem 2>/dev/null
        printf 'subjectAltName=DNS:other.example\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > other.cnf
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 -extfile other.cnf -out other-name.pem 2>/dev/null
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TLSSetupError("openssl failed to make the test PKI") }
    }
}

@Suite struct TLSTests {
    func tlsServer(allowPlaintext: Bool = false) throws -> (inout ServerConfiguration) -> Void {
        let tls = try ServerTLS(certificateChainFile: TestPKI.shared.certFile, privateKeyFile: TestPKI.shared.keyFile,
                                allowPlaintext: allowPlaintext)
        return { $0.tls = tls }
    }

    func client(ca: String? = TestPKI.shared.caFile, insecure: Bool = false) -> WebSocketClientConfiguration {
        var configuration = WebSocketClientConfiguration()
        configuration.tls = ClientTLS(caFile: ca, insecure: insecure)
        configuration.proxy = .none
        return configuration
    }

    @Test func wssEchoWithATrustedCAByIPAndByName() async throws {
        try await withServer(configure: try tlsServer()) { port in
            for host in ["127.0.0.1", "localhost"] {
                let ws = try await WebSocketClient.connect(to: "wss://\(host):\(port)/echo", configuration: client())
                #expect(ws.request.compression != nil)
                var iterator = ws.messages.makeAsyncIterator()
                let big = String(repeating: "över TLS ", count: 50_000)
                try await ws.send(text: big)
                #expect(await iterator.next() == .text(big))
                let info = await ws.close()
                #expect(info.code == 1000 && info.wasClean)
            }
        }
    }

    /// The hixie drafts over TLS: the client checks a `wss://` `WebSocket-Location`, so this fails if the server
    /// built the location from the wrong scheme.
    @Test(arguments: HixieDraft.allCases) func hixieOverTLS(draft: HixieDraft) async throws {
        try await withServer(configure: try tlsServer()) { port in
            var configuration = client()
            configuration.draft = draft
            let ws = try await WebSocketClient.connect(to: "wss://localhost:\(port)/echo", configuration: configuration)
            var iterator = ws.messages.makeAsyncIterator()
            try await ws.send(text: "secure \(draft)")
            #expect(await iterator.next() == .text("secure \(draft)"))
            #expect(await ws.close().wasClean)
        }
    }

    @Test func serverSeesTheConnectionAsSecure() async throws {
        struct Probe: WebSocketService {
            func makeHandler() -> any WebSocketHandler { ProbeHandler() }
        }
        final class ProbeHandler: WebSocketHandler, Sendable {
            func connectionDidOpen(_ connection: any WebSocketConnection) {
                connection.send(.text(connection.request.secure ? "secure" : "plain"), promise: nil)
            }
            func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {}
        }
        var router = ServiceRouter()
        router.mount(Probe(), at: "/probe")
        try await withServer(router: router, configure: try tlsServer(allowPlaintext: true)) { port in
            for (scheme, expected) in [("wss", "secure"), ("ws", "plain")] {
                let ws = try await WebSocketClient.connect(to: "\(scheme)://127.0.0.1:\(port)/probe", configuration: client())
                var iterator = ws.messages.makeAsyncIterator()
                #expect(await iterator.next() == .text(expected))
                await ws.close()
            }
        }
    }

    @Test func untrustedCertificateIsAClearError() async throws {
        try await withServer(configure: try tlsServer()) { port in
            do {
                _ = try await WebSocketClient.connect(to: "wss://127.0.0.1:\(port)/echo", configuration: client(ca: TestPKI.shared.otherCAFile))
                Issue.record("connected to a server whose CA is not trusted")
            } catch let error as WebSocketTransportError {
                guard case .tlsFailed(let why) = error else { Issue.record("wrong error: \(error)"); return }
                #expect(why.contains("not trusted"))
            }
            // --insecure skips verification.
            let ws = try await WebSocketClient.connect(to: "wss://127.0.0.1:\(port)/echo", configuration: client(ca: nil, insecure: true))
            await ws.close()
        }
    }

    @Test func certificateForAnotherNameIsRefused() async throws {
        let tls = try ServerTLS(certificateChainFile: TestPKI.shared.otherNameCertFile, privateKeyFile: TestPKI.shared.keyFile)
        try await withServer(configure: { $0.tls = tls }) { port in
            do {
                _ = try await WebSocketClient.connect(to: "wss://127.0.0.1:\(port)/echo", configuration: client())
                Issue.record("accepted a certificate for other.example at 127.0.0.1")
            } catch let error as WebSocketTransportError {
                guard case .tlsFailed = error else { Issue.record("wrong error: \(error)"); return }
            }
        }
    }

    @Test func plainRequestOnATLSPortGets400() async throws {
        try await withServer(configure: try tlsServer()) { port in
            let reply = try await rawExchange(port: port, Array(upgradeRequest().utf8))
            let text = reply.text
            #expect(reply.closed, "\(reply)")
            #expect(text.hasPrefix("HTTP/1.1 400 Bad Request"))
            #expect(text.contains("wss://"))
        }
    }

    @Test func badCertificateFilesAreReportedByName() {
        #expect(throws: TLSSetupError.self) { _ = try ServerTLS(certificateChainFile: "/nonexistent.pem", privateKeyFile: TestPKI.shared.keyFile) }
        do {
            _ = try ServerTLS(certificateChainFile: TestPKI.shared.certFile, privateKeyFile: TestPKI.shared.directory + "/other-ca-key.pem")
            Issue.record("a key that does not match the certificate was accepted")
        } catch {
            #expect("\(error)".contains("do they match"))
        }
    }
}
