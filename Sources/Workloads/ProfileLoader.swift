import Foundation
import StorageCatalog
import Yams

/// Reads workload profiles from YAML or JSON (JSON is read as the YAML it also is), checking every field
/// against the contract and reporting every problem with its file, line, column and field path.
public enum ProfileLoader {
    /// Loads the profile at `path`; `displayPath` is what diagnostics call the file (defaults to `path`).
    public static func load(path: String, displayPath: String? = nil) throws -> WorkloadProfile {
        let shown = displayPath ?? path
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "it is not readable" : "no such file"
            throw ProfileReadError(file: shown, reason: reason)
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
