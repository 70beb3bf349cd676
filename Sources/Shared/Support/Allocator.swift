import CJemalloc

/// The processes allocate through jemalloc, linked by importing its module here (Shared is in every executable).
///
/// Measured with `perf` on a worker during `scripts/bench throughput`: glibc's malloc and free, with its
/// `malloc_consolidate`, were 12% of the worker's CPU (15% of the gateway's); with jemalloc, 5%. Swift allocates a
/// box for most values that cross a task or a closure, so the allocator is on every path.
public enum Allocator {
    /// `jemalloc 5.3.0-0-g…`: what the processes log at start-up, and what tells that the library is in use.
    public static var description: String {
        var version: UnsafePointer<CChar>?
        var size = MemoryLayout<UnsafePointer<CChar>?>.size
        guard mallctl("version", &version, &size, nil, 0) == 0, let version else { return "unknown" }
        return "jemalloc " + String(cString: version)
    }
}
