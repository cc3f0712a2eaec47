import CairnPrimitives
#if canImport(Glibc)
import Glibc
#endif

/// Minutes east of UTC for local time at `time` (honours TZ).
public func localZoneOffsetMinutes(at time: Int64) -> Int16 {
    var t = time_t(time)
    var tm = tm()
    localtime_r(&t, &tm)
    return Int16(tm.tm_gmtoff / 60)
}
