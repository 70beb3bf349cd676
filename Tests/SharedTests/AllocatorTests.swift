import CJemalloc
import Shared
import Testing

@Suite("Allocator")
struct AllocatorTests {
    /// The processes (and this test binary, which links the same module) allocate through jemalloc: a Swift array's
    /// storage shows up in jemalloc's count of the bytes this thread allocated.
    @Test func swiftAllocationsGoThroughJemalloc() {
        #expect(Allocator.description.hasPrefix("jemalloc 5."))
        func allocatedByThisThread() -> UInt64 {
            var value: UInt64 = 0
            var size = MemoryLayout<UInt64>.size
            return mallctl("thread.allocated", &value, &size, nil, 0) == 0 ? value : 0
        }
        let before = allocatedByThisThread()
        let buffer = [UInt8](repeating: 1, count: 1 << 20)
        let after = allocatedByThisThread()
        #expect(buffer.count == 1 << 20)
        #expect(after - before >= 1 << 20, "a 1 MiB array was allocated by jemalloc")
    }
}
