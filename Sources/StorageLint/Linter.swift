import Foundation

/// What one run of the linter found over all its inputs.
public struct LintReport: Sendable {
    public var findings: [LintFinding] = []
    public var skipped: [LintSkip] = []
    public var errors: [LintInputError] = []
    /// Files read as task definitions or templates.
    public var documents: Int = 0

    public init() {}

    /// Whether any finding is at `severity` or above (the exit status 2 of `berth lint`).
    public func reaches(_ severity: LintLevel) -> Bool { findings.contains { $0.level >= severity } }

    mutating func append(_ other: LintReport) {
        findings += other.findings
        skipped += other.skipped
        errors += other.errors
        documents += other.documents
    }
}

public struct LintOptions: Sendable {
    public var launchType: LaunchTypeOption?
    public var rules: [LintRule]
    public init(launchType: LaunchTypeOption? = nil, rules: [LintRule] = LintRules.all) {
        self.launchType = launchType
        self.rules = rules
    }
}

/// Runs the rule table over files, directories or text.
public enum Linter {
    /// The file name endings searched for in directories.
    public static let extensions = ["json", "yaml", "yml", "template"]
    /// The largest file read; CloudFormation's own limit for a template in S3 is 1 MB.
    public static let maximumFileBytes = 8 << 20

    /// Lints text; `file` names it in findings. `json` asks for strict JSON first (`.json` files, and
    /// `.template` files that start with `{`).
    public static func lint(text: String, file: String, json: Bool, options: LintOptions = .init()) -> LintReport {
        var report = LintReport()
        do {
            switch try InputReader.read(text: text, file: file, json: json) {
            case .skipped(let skip):
                report.skipped.append(skip)
            case .document(let document):
                report.documents = 1
                let subject = LintSubject(document: document, launchType: options.launchType)
                report.findings = options.rules.flatMap { $0.findings(in: subject) }
                    .sorted { ($0.at, $0.ruleID) < ($1.at, $1.ruleID) }
            }
        } catch {
            report.errors.append(error)
        }
        return report
    }

    /// Lints files and directories (searched recursively for `extensions`, hidden entries skipped), in
    /// the order given and, within a directory, in path order.
    public static func lint(paths: [String], options: LintOptions = .init()) -> LintReport {
        var report = LintReport()
        for path in paths {
            for file in expand(path, into: &report) {
                report.append(lint(file: file, options: options))
            }
        }
        return report
    }

    public static func lint(file: String, options: LintOptions = .init()) -> LintReport {
        var report = LintReport()
        let data: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: file))
            defer { try? handle.close() }
            data = try handle.read(upToCount: maximumFileBytes + 1) ?? Data()
        } catch {
            report.errors.append(LintInputError(file: file, at: .start, message: "cannot read the file"))
            return report
        }
        guard data.count <= maximumFileBytes else {
            report.errors.append(LintInputError(file: file, at: .start, message: "larger than 8 MiB; not a task definition or template"))
            return report
        }
        guard let text = String(data: data, encoding: .utf8) else {
            report.errors.append(LintInputError(file: file, at: .start, message: "not UTF-8 text"))
            return report
        }
        let lowered = file.lowercased()
        let json = lowered.hasSuffix(".json")
            || (lowered.hasSuffix(".template") && text.drop(while: { $0.isWhitespace || $0 == "\u{FEFF}" }).first == "{")
        return lint(text: text, file: file, json: json, options: options)
    }

    /// The files a path names: itself, or the matching files under a directory.
    static func expand(_ path: String, into report: inout LintReport) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            report.errors.append(LintInputError(file: path, at: .start, message: "no such file or directory"))
            return []
        }
        guard isDirectory.boolValue else { return [path] }
        guard let enumerator = FileManager.default.enumerator(
            at: URL(fileURLWithPath: path), includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles])
        else {
            report.errors.append(LintInputError(file: path, at: .start, message: "cannot read the directory"))
            return []
        }
        let base = URL(fileURLWithPath: path).standardizedFileURL.path
        var files: [String] = []
        for case let url as URL in enumerator {
            guard extensions.contains(url.pathExtension.lowercased()),
                  (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            let full = url.standardizedFileURL.path
            let relative = full.hasPrefix(base + "/") ? String(full.dropFirst(base.count + 1)) : full
            files.append(path.hasSuffix("/") ? path + relative : path + "/" + relative)
        }
        return files.sorted()
    }
}
