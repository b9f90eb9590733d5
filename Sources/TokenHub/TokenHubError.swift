/// Every way the token hub fails to look: the known-token table, the USB bus. (What is wrong with a
/// token is a finding of `paratii doctor`, not an error here.)
public enum TokenHubError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The known-token table is missing or malformed.
    case tokenTable(String)
    /// libusb could not start or enumerate: no USB bus here (container, CI) or no permission.
    case usbUnavailable(String)

    /// pcscd is not running or not reachable.
    case noService(String)
    /// No reader, or none matching the name asked for.
    case noReader(String)
    /// No (OpenPGP) card where one was expected.
    case noCard(String)
    /// Several readers or cards fit: the user must pick one.
    case ambiguous(String)

    public var description: String {
        switch self {
        case .noService(let why), .noReader(let why), .noCard(let why), .ambiguous(let why): why
        case .tokenTable(let why): "known-token table: \(why)"
        case .usbUnavailable(let why): "no USB access: \(why)"
        }
    }
}
