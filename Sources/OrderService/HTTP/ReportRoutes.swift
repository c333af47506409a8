import Foundation
import Hummingbird
import OrderAPI
import Platform

/// `/api/v1/reports`: staff ask for a sales report (202), follow it, and download its CSV
/// files once built. Reports are the business's figures: staff and admins only.
struct ReportRoutes: Sendable {
    let reports: Reports
    let idempotency: IdempotencyMiddleware

    static let privateCache: HTTPFields = [.cacheControl: "private, no-store"]

    func add(to group: RouterGroup<ShopRequestContext>) {
        let staff = group.group("reports").restricted(to: .roles(.staff, .admin)).add(middleware: idempotency)
        staff.post(use: create)
        staff.get("{id}", use: show)
        staff.get("{id}/daily.csv", use: daily)
        staff.get("{id}/top-products.csv", use: topProducts)
    }

    @Sendable func create(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let body = try await JSONBody.decode(ReportRequest.self, from: request)
        var validation = Validation()
        let from = validation.required("from", body.from, Self.day)
        let to = validation.required("to", body.to, Self.day)
        let (first, last) = try validation.check(from, to)
        guard first <= last else { throw APIError.validation("Must not be before from", field: "to") }
        guard last - first < ReportRules.maxDays else {
            throw APIError.validation("A report covers at most \(ReportRules.maxDays) days", field: "to")
        }
        let report = try await reports.store.create(fromDay: first, toDay: last, by: principal.userID, at: reports.now())
        var headers = Self.privateCache
        headers[.location] = "/api/v1/reports/\(report.id)"
        return try JSONResponse.success(reports.resource(report), status: .accepted, headers: headers)
    }

    @Sendable func show(_ request: Request, context: ShopRequestContext) async throws -> Response {
        try JSONResponse.success(reports.resource(try await report(context)), headers: Self.privateCache)
    }

    @Sendable func daily(_ request: Request, context: ShopRequestContext) async throws -> Response {
        try await file(ReportRules.dailyKey, name: "daily", context: context)
    }

    @Sendable func topProducts(_ request: Request, context: ShopRequestContext) async throws -> Response {
        try await file(ReportRules.productsKey, name: "top-products", context: context)
    }

    private func file(_ key: (String) -> String, name: String, context: ShopRequestContext) async throws -> Response {
        let report = try await report(context)
        guard report.status == .done else {
            throw APIError(.conflict, "Report \(report.id) is \(report.status.rawValue); its files come when it is done")
        }
        guard let data = try await reports.storage.get(key: key(report.id)) else { throw APIError.notFound("Report file") }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/csv; charset=utf-8", .cacheControl: "private, no-store",
                .contentDisposition: "attachment; filename=\"\(report.id)-\(name).csv\"",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    private func report(_ context: ShopRequestContext) async throws -> Report {
        guard let id = context.parameters.get("id"), ReportRules.isID(id), let report = try await reports.store.report(id: id) else {
            throw APIError.notFound("Report")
        }
        return report
    }

    static func day(_ raw: String) throws(InvalidValue) -> Int64 {
        guard let day = ReportRules.day(raw) else { throw InvalidValue("Must be a date like 2026-11-30") }
        return day
    }
}
