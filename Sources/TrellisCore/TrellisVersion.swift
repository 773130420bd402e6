public enum TrellisCoreVersion { public static let version = "0.1.0" }
