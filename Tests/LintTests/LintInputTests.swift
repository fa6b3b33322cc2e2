import Foundation
import StorageLint
import Testing

/// Reading inputs: both task definition forms, templates in YAML (short-form tags) and JSON (long
/// forms), bad input, directories, and where findings point.
@Suite struct LintInputTests {
    static func lint(_ text: String, file: String = "in.json", launchType: LaunchTypeOption? = nil) -> LintReport {
        Linter.lint(text: text, file: file, json: file.hasSuffix(".json"), options: LintOptions(launchType: launchType))
    }

    /// The 1-based line and column of the first occurrence of `needle` in `text`.
    static func position(of needle: String, in text: String) throws -> LintLocation {
        let lines = text.components(separatedBy: "\n")
        for (index, line) in lines.enumerated() {
            if let range = line.range(of: needle) {
                return LintLocation(line: index + 1, column: line.unicodeScalars.distance(
                    from: line.unicodeScalars.startIndex, to: range.lowerBound.samePosition(in: line.unicodeScalars) ?? line.unicodeScalars.startIndex) + 1)
            }
        }
        throw CocoaError(.fileReadCorruptFile)
    }

    static let registerInput = """
        {
          "family": "cms",
          "requiresCompatibilities": ["FARGATE"],
          "containerDefinitions": [
            {"name": "cms", "image": "repo/cms:1", "mountPoints": [{"sourceVolume": "uploads", "containerPath": "/uploads"}]}
          ],
          "volumes": [
            {"name": "uploads", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "transitEncryption": "DISABLED", "authorizationConfig": {"accessPointId": "fsap-1"}}}
          ]
        }
        """

    @Test func registerInputAndDescribeOutputBothRead() throws {
        let register = Self.lint(Self.registerInput)
        #expect(register.findings.map(\.ruleID) == ["BL001"])
        let expected = try Self.position(of: "\"transitEncryption\"", in: Self.registerInput)
        #expect(register.findings.first?.at == expected)

        let describe = "{\"taskDefinition\": \(Self.registerInput), \"tags\": []}"
        let described = Self.lint(describe)
        #expect(described.findings.map(\.ruleID) == ["BL001"])
        #expect(described.findings.first?.at == (try Self.position(of: "\"transitEncryption\"", in: describe)))
    }

    @Test func everyShortFormTagReads() throws {
        let template = """
            AWSTemplateFormatVersion: "2010-09-09"
            Parameters:
              Subnets: {Type: "List<AWS::EC2::Subnet::Id>"}
            Conditions:
              IsProd: !Equals [!Ref Env, prod]
              NotProd: !Not [!Condition IsProd]
              Both: !And [!Condition IsProd, !Or [!Condition IsProd, !Condition NotProd]]
            Mappings:
              Images: {us-east-1: {app: "repo/app:1"}}
            Resources:
              Files:
                Type: AWS::EFS::FileSystem
                Properties:
                  AvailabilityZoneName: !Select [0, !GetAZs ""]
              Task:
                Type: AWS::ECS::TaskDefinition
                Properties:
                  Family: !Join ["-", [app, !Ref Env]]
                  RequiresCompatibilities: [FARGATE]
                  ContainerDefinitions:
                    - Name: app
                      Image: !FindInMap [Images, !Ref "AWS::Region", app]
                      Environment:
                        - {Name: SECRET, Value: !Base64 "x"}
                        - {Name: OTHER, Value: !ImportValue shared-value}
                        - {Name: LIST, Value: !Join [",", !Split [";", "a;b"]]}
                      MountPoints:
                        - SourceVolume: files
                          ContainerPath: !If [IsProd, /prod, /dev]
                  Volumes:
                    - Name: files
                      EFSVolumeConfiguration:
                        FilesystemId: !Ref Files
                        TransitEncryption: !If [IsProd, ENABLED, DISABLED]
                        AuthorizationConfig: {IAM: ENABLED}
              Service:
                Type: AWS::ECS::Service
                Properties:
                  TaskDefinition: !Ref Task
                  NetworkConfiguration:
                    AwsvpcConfiguration:
                      Subnets: [!Select [0, !Ref Subnets], !Select [1, !Ref Subnets]]
            Outputs:
              Arn: {Value: !GetAtt [Files, Arn]}
              Name: {Value: !Sub "${AWS::StackName}-files"}
            """
        let report = Self.lint(template, file: "stack.yaml")
        #expect(report.errors.isEmpty && report.skipped.isEmpty)
        // TransitEncryption is an !If: the linter cannot tell, so BL001 stays quiet; the One Zone file
        // system (its AZ an intrinsic) behind a two-subnet service is still found.
        #expect(report.findings.map(\.ruleID) == ["BL014"])
        #expect(report.findings.first?.at == (try Self.position(of: "Subnets: [!Select", in: template)))
    }

    @Test func jsonTemplatesUseTheLongForms() {
        let template = """
            {
              "Resources": {
                "Files": {"Type": "AWS::EFS::FileSystem", "Properties": {"AvailabilityZoneName": "eu-west-1b"}},
                "Task": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
                  "ContainerDefinitions": [{"Name": "app", "Image": {"Fn::Sub": "${AWS::AccountId}.dkr.ecr.eu-west-1.amazonaws.com/mysql:8"},
                    "MountPoints": [{"SourceVolume": "files", "ContainerPath": "/var/lib/mysql"}]}],
                  "Volumes": [{"Name": "files", "EFSVolumeConfiguration": {"FilesystemId": {"Ref": "Files"}, "TransitEncryption": "ENABLED"}}]}},
                "Service": {"Type": "AWS::ECS::Service", "Properties": {"TaskDefinition": {"Ref": "Task"},
                  "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": ["subnet-1", "subnet-2"]}}}}
              }
            }
            """
        let report = Self.lint(template, file: "stack.template")
        #expect(report.errors.isEmpty)
        #expect(report.findings.map(\.ruleID).sorted() == ["BL012", "BL014"])
    }

    @Test func jsonThatYAMLWouldForgiveIsAnErrorWithItsPlace() throws {
        let text = "{\n  \"family\": \"x\",\n  \"containerDefinitions\": [],\n}\n"
        let report = Self.lint(text)
        let error = try #require(report.errors.first)
        #expect(report.findings.isEmpty && report.documents == 0)
        #expect(error.message.hasPrefix("not valid JSON"))
        #expect(error.at.line >= 3, "\(error)")
        // The same text in a .yaml file is YAML, which allows it.
        #expect(Self.lint(text, file: "x.yaml").errors.isEmpty)
    }

    @Test func brokenYAMLIsAnErrorWithItsPlace() throws {
        let text = "Resources:\n  Task:\n    Type: AWS::ECS::TaskDefinition\n    Properties: {Volumes: [\n"
        let error = try #require(Self.lint(text, file: "t.yaml").errors.first)
        #expect(error.message.hasPrefix("not valid YAML"))
        #expect(error.at.line >= 4, "\(error)")
        #expect(error.description.hasPrefix("t.yaml:\(error.at.line):\(error.at.column): error: "))
    }

    @Test func otherFilesAreSkippedWithANote() {
        for (text, file) in [("name: cms\nkind: WorkloadProfile\n", "p.yaml"), ("[1, 2]", "a.json"), ("", "e.yml"), ("{\"a\": 1}", "b.json")] {
            let report = Self.lint(text, file: file)
            #expect(report.errors.isEmpty && report.findings.isEmpty && report.documents == 0, "\(file)")
            #expect(report.skipped.count == 1, "\(file)")
        }
    }

    @Test func directoriesAreSearchedForTheFourEndings() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("berth-lint-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("nested/.hidden"), withIntermediateDirectories: true)
        let files = ["a.json": Self.registerInput, "nested/b.yaml": "Resources: {}\n", "nested/c.yml": "x: 1\n",
                     "d.template": Self.registerInput, "notes.txt": "{", "nested/.hidden/e.json": "{"]
        for (name, text) in files { try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        let report = Linter.lint(paths: [dir.path])
        #expect(report.errors.isEmpty)
        #expect(report.documents == 3)
        #expect(report.skipped.map(\.file) == [dir.path + "/nested/c.yml"])
        #expect(Set(report.findings.map(\.file)) == [dir.path + "/a.json", dir.path + "/d.template"])

        let missing = Linter.lint(paths: [dir.path + "/nope.json"])
        #expect(missing.errors.count == 1)
    }

    @Test func sarifHasWhatCodeScanningReads() throws {
        let report = Self.lint(Self.registerInput, file: "infra/td.json")
        let text = LintRenderer.render(report, as: .sarif, workingDirectory: "/work/repo")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(root["version"] as? String == "2.1.0")
        let run = try #require((root["runs"] as? [[String: Any]])?.first)
        let driver = try #require((run["tool"] as? [String: Any])?["driver"] as? [String: Any])
        let rules = try #require(driver["rules"] as? [[String: Any]])
        #expect(rules.count == LintRules.all.count)
        #expect(rules.allSatisfy { ($0["helpUri"] as? String)?.hasPrefix("https://docs.aws.amazon.com/") == true && $0["help"] is [String: Any] })
        let result = try #require((run["results"] as? [[String: Any]])?.first)
        #expect(result["ruleId"] as? String == "BL001")
        #expect(result["level"] as? String == "error")
        #expect((result["message"] as? [String: Any])?["text"] is String)
        let physical = try #require(((result["locations"] as? [[String: Any]])?.first)?["physicalLocation"] as? [String: Any])
        #expect((physical["artifactLocation"] as? [String: Any])?["uri"] as? String == "infra/td.json")
        let region = try #require(physical["region"] as? [String: Any])
        #expect(region["startLine"] as? Int == 8)
        #expect(region["startColumn"] is Int)
        let fingerprints = try #require(result["partialFingerprints"] as? [String: String])
        #expect(fingerprints.values.allSatisfy { $0.count == 16 })
        #expect(LintRenderer.artifactURI("/elsewhere/a b.json", workingDirectory: "/work/repo") == "file:///elsewhere/a%20b.json")
        #expect(LintRenderer.artifactURI("/work/repo/x/../y.yaml", workingDirectory: "/work/repo/") == "y.yaml")
    }

    @Test func jsonOutputListsFindingsSkipsAndErrors() throws {
        var report = Self.lint(Self.registerInput)
        report.skipped.append(LintSkip(file: "p.yaml", reason: "neither"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(LintRenderer.render(report, as: .json).utf8)) as? [String: Any])
        let finding = try #require((object["findings"] as? [[String: Any]])?.first)
        #expect(Set(finding.keys) == ["ruleId", "level", "file", "line", "column", "message", "source"])
        #expect((object["skipped"] as? [Any])?.count == 1)
        #expect((object["errors"] as? [Any])?.isEmpty == true)
    }
}

/// The strict JSON check: what JSON tools refuse is an error at the right place; what they accept passes.
@Suite struct StrictJSONTests {
    @Test(arguments: [
        ("{\"a\": 1,}", 1, 9), ("[1, 2,]", 1, 7), ("{\"a\": 1}\n// note", 2, 1), ("{'a': 1}", 1, 2), ("{a: 1}", 1, 2),
        ("{\"a\": 01}", 1, 8), ("{\"a\": \"x\ny\"}", 1, 9), ("{\"é\": tru}", 1, 7), ("{\"a\": 1", 1, 8), ("", 1, 1),
    ])
    func refused(text: String, line: Int, column: Int) {
        let report = Linter.lint(text: text, file: "x.json", json: true)
        #expect(report.errors.count == 1, "\(text)")
        #expect(report.errors.first?.at == LintLocation(line: line, column: column), "\(text): \(report.errors)")
    }

    @Test(arguments: ["{}", "[]", "{\"a\": [1, -2.5e+3, true, false, null, \"\\u00e9\\n\"]}", "\u{FEFF}{\"a\": {}}", " \t\r\n{\"a\":1}\n"])
    func accepted(text: String) {
        #expect(Linter.lint(text: text, file: "x.json", json: true).errors.isEmpty, "\(text)")
    }
}
