import CairnFiles
import CairnStorage
import Synchronization

struct HTTPRequest: Sendable {
    var method: String
    /// From the root, e.g. `/storage/v1/version`.
    var path: String
    /// Whole header lines ("Name: value"); Authorization and Accept are added by the client.
    var headers: [String] = []
    /// nil: no body (GET); a body is sent with its length.
    var body: [UInt8]?
    /// The longest answer accepted; a longer one fails the request (a confused or hostile node cannot make
    /// us hold more than we asked for).
    var responseLimit: Int = 1 << 20
    /// Whether sending it twice does no harm (reads, immutable writes of the same bytes, leases): only such
    /// requests are retried after a failure that may have happened after the request reached the node.
    var idempotent: Bool

    static func cbor(_ method: String, _ path: String, _ body: CBOR, headers: [String] = [], idempotent: Bool) -> HTTPRequest {
        HTTPRequest(method: method, path: path, headers: headers + ["Content-Type: application/cbor"],
                    body: body.encoded, idempotent: idempotent)
    }
}

struct HTTPResponse: Sendable {
    var status: Int
    var contentType: String?
    var body: [UInt8]

    /// The body decoded as CBOR (Tahoe answers are CBOR only).
    func cbor(_ server: ServerLabel, _ what: String) throws(StorageError) -> CBOR {
        do { return try CBOR(decoding: body) } catch {
            throw .refused(server: server, reason: "\(what): the node's answer is not valid CBOR (\(error))")
        }
    }

    /// The body as text, cut short, for messages.
    var text: String {
        let s = String(decoding: body.prefix(300), as: UTF8.self)
        return s.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}

/// One Tahoe storage node's HTTPS endpoint: at most `connections` requests at once, each on a thread of
/// this client's own (curl blocks; Swift's cooperative threads never wait for the network), each thread
/// taking an idle curl handle so connections and TLS sessions are reused. Transient failures are retried
/// with backoff; only requests that are safe to repeat are retried once the request may have been sent.
final class HTTPClient: Sendable {
    let nurl: NURL
    let server: ServerLabel
    let limits: TransferLimits
    private let threads: WorkerThreads
    private let idle = Mutex<[Handle]>([])
    /// Delays before the second, third and fourth attempts.
    static let backoff: [Duration] = [.milliseconds(200), .milliseconds(800), .seconds(2)]

    /// A curl handle moved between threads, used by one at a time (taken from and returned to `idle`).
    private final class Handle: @unchecked Sendable {
        let easy: CurlEasy
        init(_ easy: CurlEasy) { self.easy = easy }
    }

    init(nurl: NURL, server: ServerLabel, connections: Int, limits: TransferLimits) {
        self.nurl = nurl
        self.server = server
        self.limits = limits
        threads = WorkerThreads(limit: max(1, connections))
    }

    deinit { threads.close() }

    func send(_ request: HTTPRequest) async throws(StorageError) -> HTTPResponse {
        var attempt = 0
        while true {
            let result = await once(request)
            switch result {
            case .success(let response):
                if [502, 503, 504].contains(response.status), request.idempotent, attempt < Self.backoff.count {
                    break  // the node (or a proxy before it) is busy: try again
                }
                return response
            case .failure(let failure):
                if failure.overLimit {
                    throw .refused(server: server, reason: "\(request.method) \(request.path): \(failure.message)")
                }
                if failure.isPinMismatch {
                    throw .refused(server: server, reason: "its TLS certificate does not match the pin in its NURL \(nurl.redacted): it is not the node the grid names (or the node's key was replaced); nothing was sent")
                }
                if !(request.idempotent || failure.nothingSent) || attempt >= Self.backoff.count {
                    throw .unreachable(server: server, reason: "\(request.method) \(request.path): \(failure.message)")
                }
            }
            try? await Task.sleep(for: Self.backoff[attempt])
            attempt += 1
        }
    }

    private func once(_ request: HTTPRequest) async -> Result<HTTPResponse, CurlFailure> {
        var full = request
        full.headers = ["Authorization: " + nurl.authorization, "Accept: application/cbor"] + request.headers
        let url = nurl.baseURL + request.path
        let pin = nurl.curlPin
        let limits = self.limits
        return await threads.run { [self, full] () -> Result<HTTPResponse, CurlFailure> in
            let handle: Handle
            if let h = self.idle.withLock({ $0.popLast() }) {
                handle = h
            } else {
                do throws(CurlFailure) { handle = Handle(try CurlEasy()) } catch { return .failure(error) }
            }
            let result = Result { () throws(CurlFailure) -> HTTPResponse in
                try handle.easy.perform(full, url: url, pin: pin, limits: limits)
            }
            self.idle.withLock { $0.append(handle) }
            return result
        }
    }
}
