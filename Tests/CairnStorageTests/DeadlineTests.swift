import Dispatch
import Synchronization
import Testing
@testable import CairnStorage

/// The watchdog reads the clock, then takes each server's lock: a call registered in between started
/// after that reading. It must not count as late (a wrapping subtraction made it look 584 years old and
/// failed it at once with "no answer within 120 s", seen twice under a loaded test suite).
@Suite struct DeadlineTests {
    @Test func aCallRegisteredAfterTheClockReadingIsNotLate() {
        let registry = BlockingIO.Registry(limit: 120_000_000_000, failure: .unreachable(server: "s", reason: "late"))
        let failed = Mutex(0)
        let started = DispatchTime.now()
        registry.withLock { $0.calls[1] = (started, { @Sendable _ in failed.withLock { $0 += 1 } }) }
        registry.expire(now: started.uptimeNanoseconds - 1)
        registry.expire(now: started.uptimeNanoseconds + 119_000_000_000)
        #expect(failed.withLock { $0 } == 0)
        registry.expire(now: started.uptimeNanoseconds + 120_000_000_000)
        #expect(failed.withLock { $0 } == 1)
    }
}
