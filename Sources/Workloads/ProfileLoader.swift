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
            throw InvalidProfileError(file: file, diagnostics: [syntaxDiagnostic(error, file: file, text: text)])
        }
        var reader = ProfileReader(file: file)
        let profile = reader.read(root)
        // JSON allows no trailing comma; YAML's flow style, which reads JSON, does: refuse it for JSON.
        let diagnostics = reader.diagnostics + JSONStrictness.trailingCommas(text, file: file)
        guard diagnostics.isEmpty, let profile else {
            throw InvalidProfileError(file: file, diagnostics: sorted(diagnostics))
        }
        return profile
    }

    /// In file order: by line, then column.
    static func sorted(_ diagnostics: [ProfileDiagnostic]) -> [ProfileDiagnostic] {
        diagnostics.enumerated().sorted { ($0.element.line, $0.element.column, $0.offset) < ($1.element.line, $1.element.column, $1.offset) }
            .map(\.element)
    }

    static func syntaxDiagnostic(_ error: any Error, file: String, text: String) -> ProfileDiagnostic {
        switch error {
        case let YamlError.scanner(context, problem, mark, _),
             let YamlError.parser(context, problem, mark, _),
             let YamlError.composer(context, problem, mark, _):
            let contextText = context.map { "\($0.text) " } ?? ""
            return ProfileDiagnostic(file: file, line: mark.line, column: mark.column, path: "",
                                     message: "not valid YAML or JSON: \(contextText)\(problem)")
        case let YamlError.duplicatedKeysInMapping(duplicates, context):
            let keys = duplicates.sorted().joined(separator: ", ")
            // Yams marks the mapping; the repeat is what to point at: the key's second occurrence after it.
            let at = duplicates.sorted().compactMap {
                DuplicateKey.secondOccurrence(of: $0, in: text, from: (context.mark.line, context.mark.column))
            }.min { ($0.line, $0.column) < ($1.line, $1.column) }
            return ProfileDiagnostic(file: file, line: at?.line ?? context.mark.line, column: at?.column ?? context.mark.column, path: "",
                                     message: "a key appears more than once in one mapping: \(keys)",
                                     expected: "each field at most once")
        default:
            return ProfileDiagnostic(file: file, line: 1, column: 1, path: "", message: "not valid YAML or JSON: \(error)")
        }
    }
}
