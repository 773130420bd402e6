/// The version of this Trellis build, printed by `trellis --version` and stored with
/// scheduler registrations.
public enum TrellisVersion {
    public static let current = "0.1.0"
}
