import Foundation
public import HTTPTypes
import NIOHTTP1
import Platform

/// `X-Shop-Gateway`: the internal API token, on requests the gateway forwards, so a
/// service's guard knows the gateway has counted them against the rate limits already.
public enum GatewayToken {
    public static let header = HTTPField.Name("X-Shop-Gateway")!
}

/// The headers that cross the gateway, each way: the end-to-end ones, never the hop-by-hop
/// ones (RFC 9110 §7.6.1), with the gateway's own added to requests.
enum ForwardedHeaders {
    /// Hop-by-hop by definition; the fields a `Connection` header names are too.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection",
        "proxy-authenticate", "proxy-authorization",
    ]

    /// What goes upstream: the client's headers less hop-by-hop ones and those the gateway
    /// sets itself (`Host` and `Content-Length` come from the outgoing request), with the
    /// edge's request id, the client's address appended to `X-Forwarded-For`, the scheme
    /// the client used, and the gateway's token.
    static func request(_ incoming: HTTPFields, context: ShopRequestContext, token: String, trustedProxies: Set<String>) -> HTTPHeaders {
        let dropped = droppedNames(incoming).union([
            "host", "content-length", "expect", GatewayToken.header.canonicalName, "x-request-id", "x-forwarded-for", "x-forwarded-proto",
        ])
        var headers = HTTPHeaders()
        for field in incoming where !dropped.contains(field.name.canonicalName) {
            headers.add(name: field.name.rawName, value: field.value)
        }
        headers.add(name: "X-Request-ID", value: context.requestID)
        let chain = incoming[values: .xForwardedFor] + (context.remoteAddress?.ipAddress.map { [$0] } ?? [])
        if !chain.isEmpty { headers.add(name: "X-Forwarded-For", value: chain.joined(separator: ", ")) }
        // What a trusted proxy in front says the client used; this listener speaks plain HTTP.
        let fromTrustedProxy = context.remoteAddress?.ipAddress.map { trustedProxies.contains($0) } ?? false
        let proto = fromTrustedProxy ? incoming[.xForwardedProto] : nil
        headers.add(name: "X-Forwarded-Proto", value: proto ?? "http")
        headers.add(name: GatewayToken.header.rawName, value: token)
        return headers
    }

    /// What goes back to the client: the upstream's headers less hop-by-hop ones and the
    /// request id, which the edge sets.
    static func response(_ upstream: HTTPHeaders) -> HTTPFields {
        let connection = upstream["connection"].flatMap { $0.split(separator: ",") }.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        let dropped = hopByHop.union(connection).union(["x-request-id"])
        var fields = HTTPFields()
        for (name, value) in upstream {
            let lowercased = name.lowercased()
            guard !dropped.contains(lowercased), !lowercased.hasPrefix("proxy-"), let fieldName = HTTPField.Name(name) else { continue }
            fields.append(HTTPField(name: fieldName, value: value))
        }
        return fields
    }

    /// The hop-by-hop fields of `fields`: the fixed ones, `Proxy-*`, and those its
    /// `Connection` names.
    private static func droppedNames(_ fields: HTTPFields) -> Set<String> {
        var dropped = hopByHop
        for value in fields[values: .connection] {
            for token in value.split(separator: ",") { dropped.insert(token.trimmingCharacters(in: .whitespaces).lowercased()) }
        }
        for field in fields where field.name.canonicalName.hasPrefix("proxy-") { dropped.insert(field.name.canonicalName) }
        return dropped
    }
}
