import Crypto
import Foundation
import Hummingbird
import Logging
import ObjectStorage
import Platform
import ProductAPI

/// Where product images live and how they are addressed.
public struct ImageSettings: Sendable {
    public var storage: any ObjectStorage
    /// The largest upload accepted, in bytes.
    public var maxBytes: Int
    /// What an image's file name is appended to in its URL: `/images/` (served by this
    /// process) or a CDN or bucket address ending in `/`.
    public var publicBaseURL: String

    public static let defaultMaxBytes = 10 << 20

    public init(storage: any ObjectStorage, maxBytes: Int = Self.defaultMaxBytes, publicBaseURL: String = "/images/") {
        self.storage = storage
        self.maxBytes = maxBytes
        self.publicBaseURL = publicBaseURL
    }

    func url(of image: ProductImage) -> String { publicBaseURL + image.fileName }
}

/// `POST /api/v1/products/{id}/images`, `DELETE .../images/{image_id}` for staff, and
/// `GET /images/{name}` for everyone.
struct ImageRoutes: Sendable {
    let images: ImageStore
    let settings: ImageSettings
    let changed: @Sendable (Int64) async -> Void
    let logger: Logger
    let now: @Sendable () -> Date

    /// Content-addressed: the bytes under a name never change.
    static let immutable = "public, max-age=31536000, immutable"

    func add(staff products: RouterGroup<ShopRequestContext>) {
        products.post("{id}/images", use: upload)
        products.delete("{id}/images/{image_id}", use: remove)
    }

    func addPublic(to router: Router<ShopRequestContext>) {
        router.get("/images/{name}", use: serve)
    }

    @Sendable func upload(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let id = try context.parameters.resourceID("id")
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: settings.maxBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw ImageError.tooLarge(limit: settings.maxBytes)
        }
        let bytes = Array(buffer.readableBytesView)
        guard !bytes.isEmpty else { throw ImageError.empty }
        guard let info = ImageInfo(sniffing: bytes) else { throw ImageError.unrecognised }
        let digest = Hexadecimal.encode(SHA256.hash(data: bytes))
        let key = ProductImage.objectKey(digest: digest, format: info.format)
        let storage = settings.storage
        let logger = self.logger
        let (image, created) = try await images.add(productID: id, objectKey: key, info: info, sizeBytes: bytes.count, at: now()) {
            // Written before the row that names it, in the same transaction: a row never
            // names bytes that are not stored.
            do {
                try await storage.put(Data(bytes), key: key, contentType: info.format.contentType)
            } catch {
                logger.error("image not stored", metadata: ["key": "\(key)", "error": "\(error)"])
                throw APIError(.upstreamUnavailable, "Image storage is not answering; try again")
            }
        }
        if created { await changed(id) }
        let url = settings.url(of: image)
        return try JSONResponse.success(
            ProductImageResource(image, url: url),
            status: created ? .created : .ok,
            headers: [.location: url, .cacheControl: "no-store"]
        )
    }

    @Sendable func remove(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let id = try context.parameters.resourceID("id")
        let imageID = try context.parameters.resourceID("image_id")
        let storage = settings.storage
        let logger = self.logger
        _ = try await images.remove(productID: id, imageID: imageID, at: now()) { key in
            do {
                try await storage.delete(key: key)
            } catch {
                logger.error("image object not deleted", metadata: ["key": "\(key)", "error": "\(error)"])
                throw APIError(.upstreamUnavailable, "Image storage is not answering; try again")
            }
        }
        await changed(id)
        return Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }

    @Sendable func serve(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let name = context.parameters.get("name") ?? ""
        let parts = name.split(separator: ".")
        guard parts.count == 2, parts[0].utf8.count == 64, parts[0].utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }),
            let format = ImageFormat(fileExtension: parts[1])
        else { throw APIError.notFound("Image") }
        let etag = "\"\(parts[0])\""
        var headers: HTTPFields = [.eTag: etag, .cacheControl: Self.immutable]
        if IfNoneMatch.matches(request.headers[.ifNoneMatch], etag) {
            return Response(status: .notModified, headers: headers)
        }
        let found: Data?
        do {
            found = try await settings.storage.get(key: "images/\(name)")
        } catch {
            logger.error("image not read", metadata: ["key": "images/\(name)", "error": "\(error)"])
            throw APIError(.upstreamUnavailable, "Image storage is not answering; try again")
        }
        guard let data = found else { throw APIError.notFound("Image") }
        headers[.contentType] = format.contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension ProductImageResource {
    init(_ image: ProductImage, url: String) {
        self.init(
            id: image.id,
            url: url,
            contentType: image.format.contentType,
            sizeBytes: image.sizeBytes,
            width: image.width,
            height: image.height,
            createdAt: image.createdAt
        )
    }
}

extension ImageError: APIErrorConvertible {
    var apiError: APIError {
        switch self {
        case .notFound: .notFound("Image")
        case .tooMany: .validation("A product has at most \(ProductImage.maxPerProduct) images", field: "image")
        case .unrecognised: .validation("Must be a JPEG, PNG or WebP image", field: "image")
        case .empty: .validation("Must not be empty", field: "image")
        case .tooLarge(let limit): APIError(.payloadTooLarge, "An image is at most \(limit) bytes")
        }
    }
}
