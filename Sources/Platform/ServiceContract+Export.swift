// What a contract module needs (request bodies, events, request ids) lives in
// ServiceContract, so a client of a service links no database; every service gets it
// with Platform.
@_exported public import ServiceContract
