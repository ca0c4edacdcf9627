// Decoding `struct sockaddr` bytes from the trace (connect/bind inputs, accept/recvfrom
// outputs) into the text users search for: `127.0.0.1:8080`, `[::1]:8080`, `unix:/run/x`.

enum SocketAddress {
    static let unix: UInt16 = 1, inet: UInt16 = 2, inet6: UInt16 = 10

    /// The address as text, or nil for bytes that are not a sockaddr this decodes
    /// (too short, unknown family).
    static func describe(_ bytes: [UInt8]) -> String? {
        guard bytes.count >= 2 else { return nil }
        let family = UInt16(bytes[0]) | UInt16(bytes[1]) << 8
        switch family {
        case inet:
            guard bytes.count >= 8 else { return nil }
            let port = Int(bytes[2]) << 8 | Int(bytes[3])
            return "\(bytes[4]).\(bytes[5]).\(bytes[6]).\(bytes[7]):\(port)"
        case inet6:
            guard bytes.count >= 24 else { return nil }
            let port = Int(bytes[2]) << 8 | Int(bytes[3])
            let groups = (0..<8).map { i in String(Int(bytes[8 + 2 * i]) << 8 | Int(bytes[9 + 2 * i]), radix: 16) }
            return "[\(compressIPv6(groups))]:\(port)"
        case unix:
            let path = bytes[2...]
            if path.isEmpty { return "unix:(unnamed)" }
            if path.first == 0 {
                // Abstract namespace: the name is every byte after the NUL (the length says where it ends).
                return "unix:@" + String(decoding: path.dropFirst().prefix { $0 != 0 }, as: UTF8.self)
            }
            return "unix:" + String(decoding: path.prefix { $0 != 0 }, as: UTF8.self)
        default:
            return nil
        }
    }

    /// RFC 5952: the longest run of zero groups (two or more) becomes `::`.
    private static func compressIPv6(_ groups: [String]) -> String {
        var bestStart = -1, bestLength = 0, i = 0
        while i < groups.count {
            if groups[i] == "0" {
                var j = i
                while j < groups.count && groups[j] == "0" { j += 1 }
                if j - i > bestLength && j - i >= 2 { bestStart = i; bestLength = j - i }
                i = j
            } else { i += 1 }
        }
        guard bestStart >= 0 else { return groups.joined(separator: ":") }
        let head = groups[..<bestStart].joined(separator: ":")
        let tail = groups[(bestStart + bestLength)...].joined(separator: ":")
        return head + "::" + tail
    }

    /// True when a connect to `target` reaches a socket bound to `bound` (which may be the
    /// wildcard address on the same port).
    static func reaches(_ target: String, bound: String) -> Bool {
        if target == bound { return true }
        guard let tp = port(of: target), let bp = port(of: bound), tp == bp else { return false }
        let host = bound.dropLast(String(bp).count + 1)
        return host == "0.0.0.0" || host == "[::]"
    }

    private static func port(of address: String) -> Int? {
        guard !address.hasPrefix("unix:"), let colon = address.lastIndex(of: ":") else { return nil }
        return Int(address[address.index(after: colon)...])
    }
}
