public import Hummingbird

extension Parameters {
    /// The path parameter `name` as a resource id: a positive 64-bit integer, or a
    /// `VALIDATION_ERROR` naming the parameter.
    public func resourceID(_ name: String) throws(APIError) -> Int64 {
        guard let raw = self.get(name), let id = Int64(raw), id > 0 else {
            throw .validation("Must be a positive integer id", field: name)
        }
        return id
    }

    /// The user the path parameter `name` names: `me` is the caller, anything else must be
    /// a resource id.
    public func userID(_ name: String, caller: Int64) throws(APIError) -> Int64 {
        get(name) == "me" ? caller : try resourceID(name)
    }
}
