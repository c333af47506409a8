import Testing

@testable import Platform

/// What a request or an event may name as its parent span: one well-formed W3C
/// `traceparent`, or nothing (a new trace), never a header the tracer cannot read.
@Suite struct TracesTests {
    @Test(arguments: [
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
        "00-00000000000000000000000000000001-0000000000000001-ff",
    ])
    func aWellFormedTraceparentIsTaken(_ value: String) {
        #expect(Traces.isWellFormed(traceparent: value))
    }

    @Test(arguments: [
        "",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01",
        "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c8031é-b7ad6b7169203331-01",
        String(repeating: "0", count: 55),
        String(repeating: "x", count: 10_000),
    ])
    func anythingElseStartsANewTrace(_ value: String) {
        #expect(!Traces.isWellFormed(traceparent: value))
    }

    /// With no tracer installed (tests, and `shop serve` without an OTLP endpoint), nothing
    /// is propagated and an event carries no `traceparent`.
    @Test func withoutATracerNothingIsPropagated() async throws {
        #expect(Traces.propagationHeaders().isEmpty)
        #expect(Traces.currentTraceparent() == nil)
        let ran = try await Traces.withSpan(
            "thing.happened process",
            continuing: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ofKind: .consumer
        ) { _ in Traces.currentTraceparent() }
        #expect(ran == nil)
    }
}
