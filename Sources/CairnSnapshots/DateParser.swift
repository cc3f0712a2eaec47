#if canImport(Glibc)
import Glibc
#endif

/// Dates for `--at`, `@{DATE}` and `commit --date`: ISO dates and times with or without a zone
/// (no zone = local time; a bare date = the end of that day), `@SECONDS`, and relative forms
/// ("3 days ago", "yesterday", "now").
public enum DateParser {
    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public let text: String
        public var description: String {
            "malformed date '\(text)': use e.g. 2026-03-03, '2026-03-03 14:30', 2026-03-03T14:30:00+01:00, '3 days ago' or yesterday"
        }
    }

    /// Seconds since 1970 UTC, and the zone offset in minutes that the text named (or local time's).
    public static func parse(_ text: String, now: Int64) throws -> (time: Int64, zone: Int16) {
        let t = text.trimmingCharacters(in: " ").lowercased()
        guard !t.isEmpty else { throw Error(text: text) }
        if t == "now" { return (now, localZoneOffsetMinutes(at: now)) }
        if t == "yesterday" { return (now - 86_400, localZoneOffsetMinutes(at: now - 86_400)) }
        if t.hasPrefix("@"), let s = Int64(t.dropFirst()) {
            // Years 1 to 9999, as dates print; beyond that a typo, not a date.
            guard s >= Self.earliest && s <= Self.latest else { throw Error(text: text) }
            return (s, 0)
        }
        if t.hasSuffix(" ago") { return try relative(String(t.dropLast(4)), now: now, original: text) }
        return try absolute(t, original: text)
    }

    static func relative(_ t: String, now: Int64, original: String) throws -> (Int64, Int16) {
        let parts = t.split(separator: " ")
        guard parts.count == 2, let n = Int64(parts[0]), n >= 0 else { throw Error(text: original) }
        var unit = String(parts[1])
        if unit.hasSuffix("s") { unit.removeLast() }
        let seconds: Int64
        switch unit {
        case "second", "sec": seconds = 1
        case "minute", "min": seconds = 60
        case "hour": seconds = 3600
        case "day": seconds = 86_400
        case "week": seconds = 7 * 86_400
        case "month": seconds = 30 * 86_400
        case "year": seconds = 365 * 86_400
        default: throw Error(text: original)
        }
        let (v, overflow) = n.multipliedReportingOverflow(by: seconds)
        guard !overflow else { throw Error(text: original) }
        return (now - v, localZoneOffsetMinutes(at: now - v))
    }

    static func absolute(_ t: String, original: String) throws -> (Int64, Int16) {
        var s = Substring(t)
        func number(_ digits: Int) -> Int? {
            guard s.count >= digits, s.prefix(digits).allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            defer { s = s.dropFirst(digits) }
            return Int(s.prefix(digits))
        }
        func take(_ c: Character) -> Bool {
            if s.first == c { s.removeFirst(); return true }
            return false
        }
        guard let year = number(4), take("-"), let month = number(2), take("-"), let day = number(2),
              (1...12).contains(month), (1...31).contains(day) else { throw Error(text: original) }
        var hour = 23, minute = 59, second = 59
        var hasTime = false
        if take("t") || take(" ") {
            guard let h = number(2), take(":"), let m = number(2), h < 24, m < 60 else { throw Error(text: original) }
            hour = h; minute = m; second = 0; hasTime = true
            if take(":") {
                guard let sec = number(2), sec < 61 else { throw Error(text: original) }
                second = sec
            }
        }
        var zone: Int?
        if hasTime {
            if s.first == " ", let next = s.dropFirst().first, next == "+" || next == "-" { s.removeFirst() }  // as log prints
            if take("z") { zone = 0 } else if let sign = s.first, sign == "+" || sign == "-" {
                s.removeFirst()
                guard let zh = number(2) else { throw Error(text: original) }
                _ = take(":")
                guard let zm = number(2), zh <= 14, zm < 60 else { throw Error(text: original) }
                zone = (zh * 60 + zm) * (sign == "-" ? -1 : 1)
            } else if take(" ") {
                if s == "utc" || s == "gmt" { s = ""; zone = 0 } else { throw Error(text: original) }
            }
        }
        guard s.isEmpty else { throw Error(text: original) }
        var tm = tm()
        tm.tm_year = Int32(year - 1900); tm.tm_mon = Int32(month - 1); tm.tm_mday = Int32(day)
        tm.tm_hour = Int32(hour); tm.tm_min = Int32(minute); tm.tm_sec = Int32(second)
        if let zone {
            let utc = Int64(timegm(&tm))
            guard tm.tm_mday == Int32(day) else { throw Error(text: original) }  // 2026-02-31
            return (utc - Int64(zone) * 60, Int16(zone))
        }
        tm.tm_isdst = -1
        let local = Int64(mktime(&tm))
        guard tm.tm_mday == Int32(day) else { throw Error(text: original) }
        return (local, localZoneOffsetMinutes(at: local))
    }

    /// 0001-01-01 and 9999-12-31 23:59:59 UTC: the times `format` writes as dates.
    static let earliest: Int64 = -62_135_596_800
    static let latest: Int64 = 253_402_300_799

    /// "2026-03-03 14:30:00 +0100", as git prints dates; a time outside years 1 to 9999 (a damaged or
    /// strange imported history) as "@SECONDS +ZONE".
    public static func format(_ time: Int64, zone: Int16) -> String {
        let shifted = time.addingReportingOverflow(Int64(zone) * 60)
        guard !shifted.overflow, shifted.partialValue >= earliest, shifted.partialValue <= latest else {
            let z = abs(Int(zone))
            return "@\(time) \(zone < 0 ? "-" : "+")\(z / 600)\(z / 60 % 10)\(z % 60 / 10)\(z % 10)"
        }
        var t = time_t(shifted.partialValue)
        var tm = tm()
        gmtime_r(&t, &tm)
        func p(_ v: Int32, _ w: Int = 2) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }
        let sign = zone < 0 ? "-" : "+"
        let z = abs(Int(zone))
        return "\(p(tm.tm_year + 1900, 4))-\(p(tm.tm_mon + 1))-\(p(tm.tm_mday)) \(p(tm.tm_hour)):\(p(tm.tm_min)):\(p(tm.tm_sec)) \(sign)\(p(Int32(z / 60)))\(p(Int32(z % 60)))"
    }
}
