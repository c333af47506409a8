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

    /// Never passed on from a client: the hop-by-hop fields and those the gateway sets.
    static let setByTheGateway = hopByHop.union([
        "host", "content-length", "expect", GatewayToken.header.canonicalName, "x-request-id", "x-forwarded-for", "x-forwarded-proto",
    ])

    /// What goes upstream: the client's headers less hop-by-hop ones and those the gateway
    /// sets itself (`Host` and `Content-Length` come from the outgoing request), with the
    /// edge's request id, the client's address appended to `X-Forwarded-For`, the scheme
    /// the client used, and the gateway's token.
    static func request(_ incoming: HTTPFields, context: ShopRequestContext, token: String, trustedProxies: TrustedProxies) -> HTTPHeaders {
        let named = namedByConnection(incoming)
        var headers = HTTPHeaders()
        for field in incoming {
            let name = field.name.canonicalName
            guard !setByTheGateway.contains(name), !name.hasPrefix("proxy-"), !named.contains(name) else { continue }
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
        let named = Set(upstream["connection"].flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
        var fields = HTTPFields()
        for (name, value) in upstream {
            let lowercased = name.lowercased()
            guard !hopByHop.contains(lowercased), lowercased != "x-request-id", !lowercased.hasPrefix("proxy-"), !named.contains(lowercased),
                let fieldName = HTTPField.Name(name)
            else { continue }
            fields.append(HTTPField(name: fieldName, value: value))
        }
        return fields
    }

    /// The fields a request's `Connection` header names (usually none).
    private static func namedByConnection(_ fields: HTTPFields) -> Set<String> {
        var named: Set<String> = []
        for value in fields[values: .connection] {
            for token in value.split(separator: ",") { named.insert(token.trimmingCharacters(in: .whitespaces).lowercased()) }
        }
        return named
    }
}
