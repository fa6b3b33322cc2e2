import Foundation
import Testing
import StoragePlanner
import Workloads

/// docs/profile.schema.json is generated from the model the reader checks with, and every example
/// profile is valid against it.
@Suite struct ProfileSchemaTests {
    @Test func theSchemaFileIsCurrent() throws {
        let onDisk = try String(contentsOf: Fixtures.root.appendingPathComponent("docs/profile.schema.json"), encoding: .utf8)
        #expect(onDisk == ProfileSchema.render(), "docs/profile.schema.json is stale: run `berth _profile-schema > docs/profile.schema.json`")
    }

    @Test func everyExampleProfileIsValidAgainstTheSchema() throws {
        let schema = try #require(try JSONSerialization.jsonObject(with: Data(ProfileSchema.render().utf8)) as? [String: Any])
        let directory = Fixtures.root.appendingPathComponent("Profiles")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(files.count >= 9)
        for file in files {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            let document = try #require(ProfileLoader.plainDocument(text))
            let problems = MiniSchema.validate(document, against: schema, at: file)
            #expect(problems.isEmpty, "\(problems)")
            // And the reader agrees.
            #expect(throws: Never.self) { try ProfileLoader.parse(text, file: file) }
        }
    }

    @Test func whatTheReaderRefusesTheSchemaRefuses() throws {
        let schema = try #require(try JSONSerialization.jsonObject(with: Data(ProfileSchema.render().utf8)) as? [String: Any])
        let cases = [
            "apiVersion: berth/v1\nkind: WorkloadProfile\nname: a\nplatform: {os: linux, launchType: ec2}\naccess: {sharing: shared, multiAz: true}\n",
            "apiVersion: berth/v1\nkind: WorkloadProfile\nname: a\nplatform: {os: lunix, launchType: ec2}\naccess: {sharing: shared}\n",
            "apiVersion: berth/v2\nkind: WorkloadProfile\nname: a\nplatform: {os: linux, launchType: ec2}\naccess: {sharing: shared}\n",
            "apiVersion: berth/v1\nkind: WorkloadProfile\nname: a\nplatform: {os: linux}\naccess: {sharing: shared}\n",
            "apiVersion: berth/v1\nkind: WorkloadProfile\nname: A_B\nplatform: {os: linux, launchType: ec2}\naccess: {sharing: shared}\n",
            "apiVersion: berth/v1\nkind: WorkloadProfile\nname: a\nplatform: {os: linux, launchType: ec2}\naccess: {sharing: shared, tasks: 0}\n",
        ]
        for text in cases {
            #expect(throws: InvalidProfileError.self) { try ProfileLoader.parse(text, file: "p.yaml") }
            let document = try #require(ProfileLoader.plainDocument(text))
            #expect(!MiniSchema.validate(document, against: schema, at: "p").isEmpty, "\(text)")
        }
    }
}

/// The part of JSON Schema the generated schema uses: type, const, enum, pattern, minimum, maximum,
/// properties, required, additionalProperties, patternProperties, anyOf, items.
enum MiniSchema {
    static func validate(_ value: Any, against schema: [String: Any], at path: String) -> [String] {
        var problems: [String] = []
        if let constant = schema["const"] as? String, (value as? String) != constant { problems.append("\(path): not \(constant)") }
        if let words = schema["enum"] as? [String], !(value is String && words.contains(value as? String ?? "")) {
            problems.append("\(path): not one of \(words)")
        }
        if let anyOf = schema["anyOf"] as? [[String: Any]], !anyOf.contains(where: { validate(value, against: $0, at: path).isEmpty }) {
            problems.append("\(path): matches no alternative")
        }
        switch schema["type"] as? String {
        case "string":
            guard let text = value as? String else { return problems + ["\(path): not a string"] }
            if let pattern = schema["pattern"] as? String, text.range(of: pattern, options: .regularExpression) == nil {
                problems.append("\(path): does not match \(pattern)")
            }
        case "integer":
            guard let number = value as? Int, !(value is Bool) else { return problems + ["\(path): not an integer"] }
            if let minimum = schema["minimum"] as? Int, number < minimum { problems.append("\(path): below \(minimum)") }
            if let maximum = schema["maximum"] as? Int, number > maximum { problems.append("\(path): above \(maximum)") }
        case "boolean":
            if !(value is Bool) { problems.append("\(path): not a boolean") }
        case "array":
            guard let items = value as? [Any] else { return problems + ["\(path): not a list"] }
            if let itemSchema = schema["items"] as? [String: Any] {
                for (index, item) in items.enumerated() { problems += validate(item, against: itemSchema, at: "\(path)[\(index)]") }
            }
        case "object":
            guard let object = value as? [String: Any] else { return problems + ["\(path): not a mapping"] }
            let properties = schema["properties"] as? [String: [String: Any]] ?? [:]
            for name in schema["required"] as? [String] ?? [] where object[name] == nil { problems.append("\(path).\(name): missing") }
            let patterns = (schema["patternProperties"] as? [String: Any] ?? [:]).keys
            for (key, item) in object {
                if let property = properties[key] {
                    problems += validate(item, against: property, at: "\(path).\(key)")
                } else if patterns.contains(where: { key.range(of: $0, options: .regularExpression) != nil }) {
                    continue
                } else if schema["additionalProperties"] as? Bool == false {
                    problems.append("\(path).\(key): not allowed")
                }
            }
        default: break
        }
        return problems
    }
}

@Suite struct ProfileDocumentTests {
    @Test func docsProfileHasTheGeneratedFieldTable() throws {
        let onDisk = try String(contentsOf: Fixtures.root.appendingPathComponent("docs/PROFILE.md"), encoding: .utf8)
        #expect(onDisk.contains("<!-- generated: fields -->\n" + ProfileSchema.markdownTable() + "<!-- end generated: fields -->"),
                "docs/PROFILE.md is stale: regenerate its table with `berth _profile-schema --markdown`")
    }
}
