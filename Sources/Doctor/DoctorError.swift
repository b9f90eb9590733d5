/// Every way the doctor module itself fails (the things it diagnoses are findings, not errors).
public enum DoctorError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The known-token table is missing or malformed.
    case tokenTable(String)
    /// libusb could not start or enumerate: no USB bus here (container, CI) or no permission.
    case usbUnavailable(String)

    public var description: String {
        switch self {
        case .tokenTable(let why): "known-token table: \(why)"
        case .usbUnavailable(let why): "no USB access: \(why)"
        }
    }
}
