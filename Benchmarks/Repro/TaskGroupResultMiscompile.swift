// Swift 6.3.1 -O miscompile seen in CairnGrid (Grid.locate, Uploader.putBatch, Placement, Downloader):
// a task-group child returning `(i, .success(try await f()))` / `(i, .failure(error))` hands the parent a
// garbage index at -O when the Result payload is non-trivial (Set, Array). Not part of any target.
//   swiftc -O     -parse-as-library -swift-version 6 TaskGroupResultMiscompile.swift -o /tmp/r && /tmp/r   # BAD index …
//   swiftc -Onone -parse-as-library -swift-version 6 TaskGroupResultMiscompile.swift -o /tmp/r && /tmp/r   # ok 3000
// Workaround: `let r: Result<…>; do { r = .success(try await f()) } catch { r = .failure(error) }; return (i, r)`.
import Glibc
final class Server: Sendable {
    let name: String
    init(_ n: String) { name = n }
    func shares(of x: Int) async throws -> Set<Int> { Set((0..<3).map { $0 + x }) }
}
func locate(_ servers: [Server], _ x: Int) async -> [Int: [String]] {
    await withTaskGroup(of: (Int, Result<Set<Int>, Error>).self) { group in
        for (i, s) in servers.enumerated() {
            group.addTask { do { return (i, .success(try await s.shares(of: x))) } catch { return (i, .failure(error)) } }
        }
        var results: [(Int, Result<Set<Int>, Error>)] = []
        for await r in group { results.append(r) }
        var holders: [Int: [String]] = [:]
        for (i, r) in results {
            if i < 0 || i >= servers.count { print("BAD index", i, String(i, radix: 16)); exit(1) }
            if case .success(let sh) = r { for s in sh { holders[s, default: []].append(servers[i].name) } }
        }
        return holders
    }
}
@main struct M { static func main() async {
    let servers = (0..<10).map { Server(String($0)) }
    var total = 0
    for x in 0..<1000 { total += await locate(servers, x).count }
    print("ok", total)
} }
