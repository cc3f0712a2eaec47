import Testing
@testable import CairnDelta

@Test func magicIsRFC3284() { #expect(VCDIFF.magic == [0xD6, 0xC3, 0xC4, 0x00]) }
