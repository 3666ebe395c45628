import CMOBasics
import CCurl
import Foundation

// The only file that imports CCurl. It drives one curl multi handle (whose connection and DNS
// caches give keep-alive across the client's life) and turns every curl return code into a Swift
// value; no curl type or OpaquePointer leaves this file. Policy (retries, limits, caching) lives
// in HTTPClient.swift.

/// One transfer as curl should perform it.
struct CurlTransfer {
    var method: String
    var url: String
    /// Complete header lines, `Name: value`.
    var headerLines: [String]
    var body: [UInt8]?
    var followRedirects: Bool
}

/// What came back from a completed transfer (any HTTP status).
struct CurlReply {
    var status: Int
    /// Headers of the final response (after redirects), names lower-cased, in order received.
    var headers: [(name: String, value: String)]
    var body: [UInt8]
}

/// Why a transfer failed below HTTP.
struct CurlFailure: Error {
    enum Kind {
        /// The request never reached the server (DNS, connect, TLS handshake, nothing sent):
        /// safe to retry even for a write.
        case notSent
        /// Broken after the request may have been sent (timeout, reset, truncated body).
        case interrupted
        /// Retrying cannot help (bad URL, unsupported scheme, certificate, redirect loop).
        case permanent
        /// The URL itself is unusable.
        case badURL
    }
    var kind: Kind
    var code: Int
    var message: String
    /// The system's errno of the last connect attempt (CURLINFO_OS_ERRNO: ECONNREFUSED, …), 0 when none.
    var osErrno: Int32 = 0
    /// Curl could not open a connection to the host (CURLE_COULDNT_CONNECT).
    var couldNotConnect: Bool { code == Int(CURLE_COULDNT_CONNECT.rawValue) }
}

/// Settings shared by every transfer of one multi handle.
struct CurlSettings {
    var userAgent: String
    var connectTimeout: Double
    var totalTimeout: Double
    var maxRedirects: Int
    var maxConnections: Int
}

/// Parses an HTTP date in any of the three RFC 9110 forms; nil when unreadable.
func curlParseHTTPDate(_ text: String) -> Double? {
    let t = text.withCString { curl_getdate($0, nil) }
    return t < 0 ? nil : Double(t)
}

/// Per-transfer storage the C callbacks write into.
private final class TransferBox {
    let tag: Int
    var headers: [(name: String, value: String)] = []
    var body: [UInt8] = []
    var slist: UnsafeMutablePointer<curl_slist>?
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    init(tag: Int) {
        self.tag = tag
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }
    deinit {
        curl_slist_free_all(slist)
        errorBuffer.deallocate()
    }
}

private let curlGlobalInit: CURLcode = cmo_global_init()

private let writeBody: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, user in
    let n = size * count
    guard let data, let user else { return n }
    let box = Unmanaged<TransferBox>.fromOpaque(user).takeUnretainedValue()
    data.withMemoryRebound(to: UInt8.self, capacity: n) { box.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: n)) }
    return n
}

private let writeHeader: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, user in
    let n = size * count
    guard let data, let user else { return n }
    let box = Unmanaged<TransferBox>.fromOpaque(user).takeUnretainedValue()
    let line = data.withMemoryRebound(to: UInt8.self, capacity: n) {
        String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self)
    }.trimmingCharacters(in: .whitespacesAndNewlines)
    if line.hasPrefix("HTTP/") {
        box.headers.removeAll()  // a new response (redirect, 100-continue): keep only the last one's headers
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        box.headers.append((name, value))
    }
    return n
}

/// A curl multi handle with a pool of reusable easy handles; single-threaded.
final class CurlMulti {
    private let multi: UnsafeMutableRawPointer
    private let settings: CurlSettings
    private var idle: [UnsafeMutableRawPointer] = []
    private var active: [UnsafeMutableRawPointer: TransferBox] = [:]

    init(_ settings: CurlSettings) throws {
        guard curlGlobalInit == CURLE_OK else {
            throw StageFailure(.failure, "cannot initialise libcurl: \(String(cString: curl_easy_strerror(curlGlobalInit)))")
        }
        guard let m = curl_multi_init() else { throw StageFailure(.failure, "cannot create a curl multi handle") }
        multi = m
        self.settings = settings
        _ = cmo_multi_setopt_long(m, CURLMOPT_MAXCONNECTS, max(settings.maxConnections, 4))
    }

    deinit {
        for (easy, _) in active {
            curl_multi_remove_handle(multi, easy)
            curl_easy_cleanup(easy)
        }
        for easy in idle { curl_easy_cleanup(easy) }
        curl_multi_cleanup(multi)
    }

    /// Transfers started and not yet reported by `step`.
    var inFlight: Int { active.count }

    /// Starts a transfer; its outcome comes back from `step` under `tag`.
    func start(_ t: CurlTransfer, tag: Int) throws(CurlFailure) {
        let easy: UnsafeMutableRawPointer
        if let reused = idle.popLast() {
            curl_easy_reset(reused)  // keeps the handle's live connections and caches
            easy = reused
        } else {
            guard let fresh = curl_easy_init() else {
                throw CurlFailure(kind: .permanent, code: -1, message: "cannot create a curl handle")
            }
            easy = fresh
        }
        let box = TransferBox(tag: tag)
        do {
            try configure(easy, t, box)
        } catch {
            idle.append(easy)
            throw error
        }
        let mc = curl_multi_add_handle(multi, easy)
        guard mc == CURLM_OK else {
            idle.append(easy)
            throw CurlFailure(kind: .permanent, code: Int(mc.rawValue), message: String(cString: curl_multi_strerror(mc)))
        }
        active[easy] = box
    }

    private func configure(_ easy: UnsafeMutableRawPointer, _ t: CurlTransfer, _ box: TransferBox) throws(CurlFailure) {
        func check(_ code: CURLcode) throws(CurlFailure) {
            if code != CURLE_OK { throw Self.failure(code, detail: "") }
        }
        try check(cmo_easy_setopt_str(easy, CURLOPT_URL, t.url))
        try check(cmo_easy_setopt_str(easy, CURLOPT_PROTOCOLS_STR, "http,https"))
        try check(cmo_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        try check(cmo_easy_setopt_str(easy, CURLOPT_USERAGENT, settings.userAgent))
        try check(cmo_easy_setopt_str(easy, CURLOPT_ACCEPT_ENCODING, ""))  // every encoding curl decodes
        try check(cmo_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS)))
        try check(cmo_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1))
        try check(cmo_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Self.millis(settings.connectTimeout)))
        try check(cmo_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, Self.millis(settings.totalTimeout)))
        if t.followRedirects {
            try check(cmo_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 1))
            try check(cmo_easy_setopt_long(easy, CURLOPT_MAXREDIRS, settings.maxRedirects))
            try check(cmo_easy_setopt_str(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"))
        }
        switch t.method {
        case "GET": try check(cmo_easy_setopt_long(easy, CURLOPT_HTTPGET, 1))
        case "HEAD": try check(cmo_easy_setopt_long(easy, CURLOPT_NOBODY, 1))
        case "POST": try check(cmo_easy_setopt_long(easy, CURLOPT_POST, 1))
        default: try check(cmo_easy_setopt_str(easy, CURLOPT_CUSTOMREQUEST, t.method))
        }
        if t.body != nil || t.method == "POST" {
            let body = t.body ?? []
            try check(cmo_easy_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
            // COPYPOSTFIELDS copies, so the Swift array need not outlive this call.
            if body.isEmpty {
                try check(cmo_easy_setopt_str(easy, CURLOPT_COPYPOSTFIELDS, ""))
            } else {
                try check(
                    body.withUnsafeBytes {
                        cmo_easy_setopt_ptr(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress))
                    })
            }
        }
        // "Expect:" stops curl from waiting for a 100-continue on larger bodies.
        for line in t.headerLines + ["Expect:"] {
            guard let appended = curl_slist_append(box.slist, line) else {
                throw CurlFailure(kind: .permanent, code: -1, message: "out of memory building headers")
            }
            box.slist = appended
        }
        try check(cmo_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, box.slist))
        let user = Unmanaged.passUnretained(box).toOpaque()  // `active` keeps the box alive
        try check(cmo_easy_setopt_write(easy, CURLOPT_WRITEFUNCTION, writeBody))
        try check(cmo_easy_setopt_ptr(easy, CURLOPT_WRITEDATA, user))
        try check(cmo_easy_setopt_write(easy, CURLOPT_HEADERFUNCTION, writeHeader))
        try check(cmo_easy_setopt_ptr(easy, CURLOPT_HEADERDATA, user))
        try check(cmo_easy_setopt_ptr(easy, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(box.errorBuffer)))
    }

    /// Drives transfers, waiting up to `timeout` seconds for activity; returns those that ended.
    func step(timeout: Double) throws(CurlFailure) -> [(tag: Int, outcome: Result<CurlReply, CurlFailure>)] {
        var running: Int32 = 0
        try checkMulti(curl_multi_perform(multi, &running))
        var done = collect()
        if done.isEmpty, running > 0 {
            var fds: Int32 = 0
            try checkMulti(curl_multi_poll(multi, nil, 0, Int32(clamping: Self.millis(timeout)), &fds))
            try checkMulti(curl_multi_perform(multi, &running))
            done = collect()
        }
        return done
    }

    private func checkMulti(_ code: CURLMcode) throws(CurlFailure) {
        guard code == CURLM_OK else {
            throw CurlFailure(kind: .permanent, code: Int(code.rawValue), message: String(cString: curl_multi_strerror(code)))
        }
    }

    private func collect() -> [(tag: Int, outcome: Result<CurlReply, CurlFailure>)] {
        var done: [(tag: Int, outcome: Result<CurlReply, CurlFailure>)] = []
        var left: Int32 = 0
        while let msg = curl_multi_info_read(multi, &left) {
            guard msg.pointee.msg == CURLMSG_DONE, let easy = msg.pointee.easy_handle, let box = active[easy] else {
                continue
            }
            let code = msg.pointee.data.result
            var outcome: Result<CurlReply, CurlFailure>
            if code == CURLE_OK {
                var status = 0
                _ = cmo_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
                outcome = .success(CurlReply(status: status, headers: box.headers, body: box.body))
            } else {
                var requestSize = 0
                _ = cmo_easy_getinfo_long(easy, CURLINFO_REQUEST_SIZE, &requestSize)
                var failure = Self.failure(code, detail: String(cString: box.errorBuffer))
                var osErrno = 0
                if cmo_easy_getinfo_long(easy, CURLINFO_OS_ERRNO, &osErrno) == CURLE_OK { failure.osErrno = Int32(truncatingIfNeeded: osErrno) }
                if failure.kind == .interrupted, requestSize == 0 { failure.kind = .notSent }
                outcome = .failure(failure)
            }
            curl_multi_remove_handle(multi, easy)
            active[easy] = nil
            idle.append(easy)
            done.append((box.tag, outcome))
        }
        return done
    }

    private static func failure(_ code: CURLcode, detail: String) -> CurlFailure {
        let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        let kind: CurlFailure.Kind
        switch code {
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: kind = .badURL
        case CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT, CURLE_SSL_CONNECT_ERROR:
            kind = .notSent
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE, CURLE_TOO_MANY_REDIRECTS,
            CURLE_OUT_OF_MEMORY, CURLE_BAD_FUNCTION_ARGUMENT, CURLE_UNKNOWN_OPTION, CURLE_NOT_BUILT_IN:
            kind = .permanent
        default: kind = .interrupted
        }
        return CurlFailure(kind: kind, code: Int(code.rawValue), message: message)
    }

    private static func millis(_ seconds: Double) -> Int {
        seconds <= 0 ? 0 : max(1, Int((seconds * 1000).rounded(.up)))
    }
}
