public enum CMOVersion { public static let string = "0.1.0" }
