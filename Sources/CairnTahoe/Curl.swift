import CCurl
import CairnPrimitives

/// Every libcurl call Cairn makes, and the return codes, in one place. One `CurlEasy` is one connection
/// cache: it is used by one thread at a time and keeps its connection open between requests (HTTP/1.1
/// keep-alive), so a server's requests reuse a few TLS sessions instead of shaking hands each time.
final class CurlEasy {
    private let handle: UnsafeMutableRawPointer
    /// curl writes a readable reason here when a transfer fails (CURL_ERROR_SIZE bytes).
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    /// `curl_global_init` once per process, before the first handle (it is not thread-safe; a static
    /// constant is initialised exactly once).
    private static let globalInit: CURLcode = {
        _ = cairn_openssl_no_atexit()  // before curl initialises OpenSSL (shim.h says why)
        return curl_global_init(3)  // CURL_GLOBAL_ALL
    }()

    init() throws(CurlFailure) {
        guard Self.globalInit == CURLE_OK else { throw CurlFailure(code: Self.globalInit, message: "libcurl could not be initialised") }
        guard let h = curl_easy_init() else { throw CurlFailure(code: CURLE_OUT_OF_MEMORY, message: "libcurl could not make a handle") }
        handle = h
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// Runs one request to completion on the calling thread (never a cooperative one: see `HTTPClient`).
    func perform(_ request: HTTPRequest, url: String, pin: String, limits: TransferLimits) throws(CurlFailure) -> HTTPResponse {
        curl_easy_reset(handle)  // options only: the connection cache stays
        errorBuffer[0] = 0
        let transfer = Transfer(body: request.body ?? [], limits: limits, responseLimit: request.responseLimit)
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        var headers: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(headers) }
        // No "Expect: 100-continue" round trip before bodies; curl's own Accept is replaced by ours.
        for line in request.headers + ["Expect:"] { headers = curl_slist_append(headers, line) }

        try check(cairn_curl_setopt_string(handle, CURLOPT_URL, url), "URL")
        try check(cairn_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer), "error buffer")
        try check(cairn_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1), "no signals")
        try check(cairn_curl_setopt_long(handle, CURLOPT_TCP_NODELAY, 1), "TCP_NODELAY")
        try check(cairn_curl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1), "keep-alive")
        try check(cairn_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, limits.connectTimeoutMilliseconds), "connect timeout")
        // A transfer that moves less than one byte a second for `stallSeconds` has stalled.
        try check(cairn_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1), "low speed limit")
        try check(cairn_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, limits.stallSeconds), "low speed time")
        try check(cairn_curl_setopt_long(handle, CURLOPT_MAXCONNECTS, 4), "connection cache")
        // The certificate is self-signed: trust comes from the SPKI pin alone, which curl checks during the
        // handshake, before any byte of the request is sent.
        try check(cairn_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 0), "peer verification")
        try check(cairn_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 0), "host verification")
        try check(cairn_curl_setopt_string(handle, CURLOPT_PINNEDPUBLICKEY, pin), "pinned public key")
        try check(cairn_curl_setopt_list(handle, CURLOPT_HTTPHEADER, headers), "headers")
        try check(cairn_curl_setopt_callback(handle, CURLOPT_WRITEFUNCTION, receive), "write callback")
        try check(cairn_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context), "write context")
        try check(cairn_curl_setopt_callback(handle, CURLOPT_HEADERFUNCTION, header), "header callback")
        try check(cairn_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context), "header context")

        if request.body != nil {
            // An upload through the read callback (paced there), sent with its length; the method word is ours.
            try check(cairn_curl_setopt_long(handle, CURLOPT_UPLOAD, 1), "upload")
            try check(cairn_curl_setopt_off(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(transfer.body.count)), "body size")
            try check(cairn_curl_setopt_callback(handle, CURLOPT_READFUNCTION, send), "read callback")
            try check(cairn_curl_setopt_pointer(handle, CURLOPT_READDATA, context), "read context")
            try check(cairn_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method), "method")
        } else if request.method == "GET" {
            try check(cairn_curl_setopt_long(handle, CURLOPT_HTTPGET, 1), "GET")
        } else {
            try check(cairn_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method), "method")
        }

        let code = withExtendedLifetime(transfer) { curl_easy_perform(handle) }
        guard code == CURLE_OK else {
            if transfer.overLimit {
                throw CurlFailure(code: code, message: "the answer is larger than the \(request.responseLimit) bytes expected", overLimit: true)
            }
            throw CurlFailure(code: code, message: reason(code))
        }
        var status = 0
        try check(cairn_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status), "response code")
        return HTTPResponse(status: status, contentType: transfer.contentType, body: transfer.response)
    }

    private func check(_ code: CURLcode, _ what: String) throws(CurlFailure) {
        guard code == CURLE_OK else { throw CurlFailure(code: code, message: "setting \(what): " + reason(code)) }
    }

    private func reason(_ code: CURLcode) -> String {
        let detail = String(cString: errorBuffer)
        return detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
    }
}

/// How long to wait and how fast to go: the connect timeout, the stall limit and the process's bandwidth
/// buckets (nil: unlimited).
struct TransferLimits: Sendable {
    var connectTimeoutMilliseconds = 10_000
    var stallSeconds = 60
    var upload: TokenBucket?
    var download: TokenBucket?
}

/// One transfer's state, reached from curl's callbacks through their context pointer.
private final class Transfer {
    let body: [UInt8]
    var sent = 0
    var response: [UInt8] = []
    var contentType: String?
    let limits: TransferLimits
    let responseLimit: Int
    var overLimit = false

    init(body: [UInt8], limits: TransferLimits, responseLimit: Int) {
        self.body = body
        self.limits = limits
        self.responseLimit = responseLimit
    }
}

/// curl hands over answer bytes; more than the request's limit aborts the transfer.
private let receive: cairn_curl_data_callback = { buffer, size, count, context in
    let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
    let n = size * count
    guard transfer.response.count + n <= transfer.responseLimit else {
        transfer.overLimit = true
        return 0
    }
    transfer.limits.download?.take(n)
    transfer.response.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: n))
    return n
}

/// curl asks for body bytes: hand over what the upload bucket allows (waiting for it on this thread).
private let send: cairn_curl_data_callback = { buffer, size, count, context in
    let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
    var n = min(size * count, transfer.body.count - transfer.sent)
    if n > 0, let bucket = transfer.limits.upload { n = bucket.take(upTo: n) }
    guard n > 0, let buffer else { return 0 }
    transfer.body.withUnsafeBytes { src in
        UnsafeMutableRawPointer(buffer).copyMemory(from: src.baseAddress! + transfer.sent, byteCount: n)
    }
    transfer.sent += n
    return n
}

private let header: cairn_curl_data_callback = { buffer, size, count, context in
    let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
    let n = size * count
    let line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: n), as: UTF8.self)
    if line.hasPrefix("HTTP/") { transfer.contentType = nil }  // a new answer (after a 100 Continue)
    if let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == "content-type" {
        transfer.contentType = line[line.index(after: colon)...].trimmingCharacters(in: " \t\r\n").lowercased()
    }
    return n
}

/// A transfer that failed below HTTP: curl's code and reason.
struct CurlFailure: Error, CustomStringConvertible {
    let code: CURLcode
    let message: String
    /// The node sent more than the request allows: a refusal to behave, not a network accident.
    var overLimit = false
    var description: String { message }

    /// The pin did not match: the node is not the one the NURL names (or its key changed).
    var isPinMismatch: Bool { code == CURLE_SSL_PINNEDPUBKEYNOTMATCH }

    /// Nothing of the request can have reached the server: safe to retry even a non-idempotent request.
    var nothingSent: Bool {
        code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_SSL_CONNECT_ERROR
    }
}
