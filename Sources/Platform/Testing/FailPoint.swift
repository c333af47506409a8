import Foundation

/// Named places where a test can make the process die as `kill -9` would, to prove that
/// what a step recorded is enough to finish or undo it (`SHOP_FAILPOINTS=checkout.after-charge`,
/// a comma-separated list). Never set outside tests: an unset variable costs one set lookup.
public enum FailPoint {
    private static let armed: Set<Substring> = Set(
        (ProcessInfo.processInfo.environment["SHOP_FAILPOINTS"] ?? "").split(separator: ",")
    )

    /// Dies at once, with no cleanup and no flush, when `name` is armed.
    public static func hit(_ name: StaticString) {
        guard !armed.isEmpty, armed.contains(Substring(name.description)) else { return }
        kill(getpid(), SIGKILL)
    }
}
