import Foundation
import StorageCatalog
import Yams

/// Reads workload profiles from YAML or JSON (JSON is read as the YAML it also is), checking every field
/// against the contract and reporting every problem with its file, line, column and field path.
public enum ProfileLoader {
    /// The most a profile file may hold. The longest example in Profiles/ is under 2 KiB; the cap keeps
    /// a wrong path (a log, a disk image, /dev/zero) from being read into memory and parsed.
    public static let maximumFileBytes = 1 << 20

    /// Loads the profile at `path`; `displayPath` is what diagnostics call the file (defaults to `path`).
    public static func load(path: String, displayPath: String? = nil) throws -> WorkloadProfile {
        let shown = displayPath ?? path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ProfileReadError(file: shown, reason: "no such file")
        }
        if isDirectory.boolValue {
            throw ProfileReadError(file: shown, reason: "it is a directory; expected a YAML or JSON file")
        }
        let data: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            data = try handle.read(upToCount: maximumFileBytes + 1) ?? Data()
        } catch {
            throw ProfileReadError(file: shown, reason: "it is not readable")
        }
        guard data.count <= maximumFileBytes else {
            throw ProfileReadError(
                file: shown, reason: "it is larger than 1 MiB; a workload profile is a short YAML or JSON document")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ProfileReadError(file: shown, reason: "it is not UTF-8 text")
        }
        return try parse(text, file: shown)
    }

    /// Parses profile text; `file` names it in diagnostics.
    public static func parse(_ text: String, file: String) throws -> WorkloadProfile {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw InvalidProfileError(file: file, diagnostics: [
                    ProfileDiagnostic(file: file, line: 1, column: 1, path: "", message: "the file is empty",
                                      expected: "a mapping with apiVersion: \(WorkloadProfile.apiVersion)"),
                ])
            }
            root = node
        } catch let error as InvalidProfileError {
            throw error
        } catch {
            throw InvalidProfileError(file: file, diagnostics: [syntaxDiagnostic(error, file: file)])
        }
        var reader = ProfileReader(file: file)
        let profile = reader.read(root)
        guard reader.diagnostics.isEmpty, let profile else {
            throw InvalidProfileError(file: file, diagnostics: reader.diagnostics)
        }
        return profile
    }

    static func syntaxDiagnostic(_ error: any Error, file: String) -> ProfileDiagnostic {
        switch error {
        case let YamlError.scanner(context, problem, mark, _),
             let YamlError.parser(context, problem, mark, _),
             let YamlError.composer(context, problem, mark, _):
            let contextText = context.map { "\($0.text) " } ?? ""
            return ProfileDiagnostic(file: file, line: mark.line, column: mark.column, path: "",
                                     message: "not valid YAML or JSON: \(contextText)\(problem)")
        case let YamlError.duplicatedKeysInMapping(duplicates, context):
            let keys = duplicates.sorted().joined(separator: ", ")
            return ProfileDiagnostic(file: file, line: context.mark.line, column: context.mark.column, path: "",
                                     message: "a key appears more than once in one mapping: \(keys)",
                                     expected: "each field at most once")
        default:
            return ProfileDiagnostic(file: file, line: 1, column: 1, path: "", message: "not valid YAML or JSON: \(error)")
        }
    }
}
