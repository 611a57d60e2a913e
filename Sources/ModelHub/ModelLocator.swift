import Foundation

/// Finds model folders without relying on the current directory: an explicit path, then
/// `$MOTIONGPT_MODEL`, then the package's bundled `Models/<name>`, found by walking up from the
/// executable (a build at `<package>/.build/<triple>/release/motiongpt` finds `<package>/Models`).
public enum ModelLocator {
    public static let environmentVariable = "MOTIONGPT_MODEL"

    /// The folder to load, or `.notFound` saying where it looked.
    public static func resolve(_ explicit: String?, bundled name: String = "default",
                               environment: [String: String] = ProcessInfo.processInfo.environment,
                               executable: URL? = Bundle.main.executableURL) throws -> URL {
        if let explicit, !explicit.isEmpty { return URL(fileURLWithPath: explicit) }
        if let env = environment[environmentVariable], !env.isEmpty { return URL(fileURLWithPath: env) }
        if let dir = bundledModels(executable: executable)?.appendingPathComponent(name),
           FileManager.default.fileExists(atPath: dir.appendingPathComponent("config.json").path) {
            return dir
        }
        throw ModelHubError.notFound("no model given and no bundled Models/\(name) found above \(executable?.resolvingSymlinksInPath().deletingLastPathComponent().path ?? "the executable")")
    }

    /// The nearest `Models` folder above the executable (symbolic links resolved), if any.
    public static func bundledModels(executable: URL? = Bundle.main.executableURL) -> URL? {
        guard var dir = executable?.resolvingSymlinksInPath().deletingLastPathComponent() else { return nil }
        let fm = FileManager.default
        while dir.path != "/" && !dir.path.isEmpty {
            let candidate = dir.appendingPathComponent("Models")
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: candidate.path, isDirectory: &isDir), isDir.boolValue,
               fm.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
                return candidate
            }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }
}
