import Foundation
import Testing
@testable import TaskRunner

@Suite struct TaskDefinitionParsingTests {
    func parse(_ text: String) throws(TaskDefinitionError) -> TaskDefinition {
        try TaskDefinitionParser.parse(Data(text.utf8), file: "td.json")
    }

    func error(_ text: String) -> TaskDefinitionError? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func readsStorageAndContainerFields() throws {
        let definition = try parse("""
            {"family": "web", "requiresCompatibilities": ["fargate"], "networkMode": "awsvpc",
             "runtimePlatform": {"operatingSystemFamily": "LINUX"}, "cpu": "256", "pidMode": "task",
             "volumes": [
               {"name": "shared", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "rootDirectory": "/app",
                 "transitEncryption": "ENABLED", "authorizationConfig": {"accessPointId": "fsap-1", "iam": "ENABLED"}}},
               {"name": "db", "configuredAtLaunch": true},
               {"name": "scratch"}],
             "containerDefinitions": [
               {"name": "app", "image": "busybox", "command": ["sh", "-c", "echo hi"], "entryPoint": ["/bin/env"],
                "environment": [{"name": "A", "value": "1"}], "workingDirectory": "/w", "user": "1000:1000",
                "mountPoints": [{"sourceVolume": "shared", "containerPath": "/data", "readOnly": true}],
                "portMappings": [], "memory": 128},
               {"name": "side", "image": "busybox", "essential": false, "volumesFrom": [{"sourceContainer": "app"}]}]}
            """)
        #expect(definition.family == "web")
        #expect(definition.requiresCompatibilities == ["FARGATE"])
        #expect(definition.volumes.count == 3)
        #expect(definition.volumes[0].kind == .efs(EFSVolume(fileSystemID: "fs-1", rootDirectory: "/app", transitEncryption: "ENABLED",
                                                              iam: "ENABLED", accessPointID: "fsap-1")))
        #expect(definition.volumes[1].kind == .ebsAtLaunch)
        #expect(definition.volumes[2].kind == .host(sourcePath: nil))
        let app = definition.containers[0]
        #expect(app.essential && !definition.containers[1].essential)
        #expect(app.command == ["sh", "-c", "echo hi"] && app.entryPoint == ["/bin/env"])
        #expect(app.environment == [EnvironmentVariable(name: "A", value: "1")])
        #expect(app.mountPoints == [MountPoint(sourceVolume: "shared", containerPath: "/data", readOnly: true,
                                               path: "containerDefinitions[0].mountPoints[0]")])
        #expect(app.ignoredFields == ["memory", "portMappings"])
        #expect(definition.ignoredFields == ["pidMode"])
        #expect(definition.containers[1].volumesFrom.first?.sourceContainer == "app")
    }

    @Test func acceptsDescribeTaskDefinitionOutput() throws {
        let definition = try parse(#"{"taskDefinition": {"containerDefinitions": [{"name": "a", "image": "i"}], "revision": 3}}"#)
        #expect(definition.containers.map(\.name) == ["a"])
        #expect(definition.ignoredFields.isEmpty)
    }

    @Test func syntaxErrorsHaveLineAndColumn() {
        let failure = error("{\n  \"containerDefinitions\": [\n    {\"name\": tru}\n  ]\n}")
        #expect(failure?.location?.hasPrefix("3:") == true, "\(String(describing: failure))")
        #expect(failure?.message.hasPrefix("not valid JSON") == true)
        #expect(failure?.description.hasPrefix("td.json:3:") == true)
    }

    @Test func emptyFileIsNotJSON() {
        #expect(error("")?.message.hasPrefix("not valid JSON") == true)
    }

    @Test func otherJSONIsNotATaskDefinition() {
        #expect(error("[1, 2]")?.message.contains("not an ECS task definition") == true)
        #expect(error(#"{"Resources": {}}"#)?.message.contains("no containerDefinitions") == true)
    }

    @Test func structureErrorsHaveTheirJSONPath() {
        let wrongType = error(#"{"containerDefinitions": [{"name": "a", "image": "i", "mountPoints": [{"sourceVolume": 3, "containerPath": "/x"}]}]}"#)
        #expect(wrongType?.location == "containerDefinitions[0].mountPoints[0].sourceVolume")
        #expect(wrongType?.message == "expected a string, got a number")
        let noImage = error(#"{"containerDefinitions": [{"name": "a"}]}"#)
        #expect(noImage?.location == "containerDefinitions[0]")
        #expect(noImage?.message.contains("Container.image") == true)
        let wrapped = error(#"{"taskDefinition": {"containerDefinitions": [{"name": "a", "image": "i", "essential": "yes"}]}}"#)
        #expect(wrapped?.location == "taskDefinition.containerDefinitions[0].essential")
        let duplicate = error(#"{"volumes": [{"name": "v"}, {"name": "v"}], "containerDefinitions": [{"name": "a", "image": "i"}]}"#)
        #expect(duplicate?.location == "volumes[1]")
        #expect(error(#"{"containerDefinitions": []}"#)?.location == "containerDefinitions")
    }
}
