import AsyncHTTPClient
import NIOCore

extension HTTPClientResponse.Body {
    /// The first `limit` bytes of an answer, or what of them arrived by `deadline`: what a
    /// provider or a receiver says is read for the delivery log and for its error codes, and
    /// a huge or endless answer must not hold a sender. An answer cut short (by the deadline
    /// or by the other side) gives what arrived; its status says the most.
    func prefix(_ limit: Int, until deadline: NIODeadline) async -> [UInt8] {
        let budget = deadline - .now()
        guard budget > .zero else { return [] }
        return await withTaskGroup(of: [UInt8]?.self) { group in
            group.addTask {
                var bytes: [UInt8] = []
                do {
                    for try await chunk in self {
                        bytes += chunk.readableBytesView.prefix(limit - bytes.count)
                        if bytes.count >= limit { break }
                    }
                } catch {
                    // Cut short: what arrived is returned.
                }
                return bytes
            }
            group.addTask {
                try? await Task.sleep(for: .nanoseconds(budget.nanoseconds))
                return nil
            }
            // The first to end cancels the other; a read cut short still returns what it has.
            var bytes: [UInt8] = []
            for await result in group {
                group.cancelAll()
                if let result { bytes = result }
            }
            return bytes
        }
    }
}
