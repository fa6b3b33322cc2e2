import Foundation
import Yams

/// What reading one file gave.
public enum LintInput: Sendable {
    case document(LintDocument)
    case skipped(LintSkip)
}

/// Turns file text into a `LintDocument`: an ECS task definition (as `register-task-definition` takes
/// it, or as `describe-task-definition` prints it) or a CloudFormation template (YAML with its
/// short-form tags, or JSON). JSON is checked strictly first, then read as the YAML it also is, so that
/// every value keeps its line and column.
public enum InputReader {
    public static func read(text: String, file: String, json: Bool) throws(LintInputError) -> LintInput {
        var text = text
        if json {
            try validateJSON(text, file: file)
            // Valid JSON has no raw tab inside a string, so every tab is whitespace; YAML refuses tabs
            // where it reads indentation. A space keeps every column where it was.
            if text.contains("\t") { text = text.replacingOccurrences(of: "\t", with: " ") }
        }
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                return .skipped(LintSkip(file: file, reason: "the file is empty"))
            }
            root = node
        } catch {
            throw syntaxError(error, file: file, json: json)
        }
        guard let top = Fields(root) else {
            return .skipped(LintSkip(file: file, reason: "neither an ECS task definition nor a CloudFormation template (not a mapping)"))
        }
        if let wrapped = Fields(top["taskDefinition"]), wrapped.has("containerDefinitions") {
            return .document(LintDocument(
                file: file, kind: .taskDefinition,
                taskDefinitions: [taskDefinition(wrapped, at: NodeAccess.location(root), logicalID: nil, metadata: nil)],
                services: [], fileSystems: [:]))
        }
        if top.has("containerDefinitions") {
            return .document(LintDocument(
                file: file, kind: .taskDefinition,
                taskDefinitions: [taskDefinition(top, at: NodeAccess.location(root), logicalID: nil, metadata: nil)],
                services: [], fileSystems: [:]))
        }
        if let resources = Fields(top["Resources"]) {
            return .document(template(resources, file: file))
        }
        if top.has("AWSTemplateFormatVersion") {
            return .document(LintDocument(file: file, kind: .template, taskDefinitions: [], services: [], fileSystems: [:]))
        }
        return .skipped(LintSkip(file: file, reason: "neither an ECS task definition (no containerDefinitions) nor a CloudFormation template (no Resources)"))
    }

    // MARK: JSON and syntax errors

    /// JSON that YAML would forgive (a trailing comma, a comment, single quotes) is still broken JSON.
    static func validateJSON(_ text: String, file: String) throws(LintInputError) {
        do {
            try StrictJSON.validate(text)
        } catch {
            throw LintInputError(file: file, at: error.at, message: "not valid JSON: \(error.message)")
        }
    }

    static func syntaxError(_ error: any Error, file: String, json: Bool) -> LintInputError {
        let kind = json ? "JSON" : "YAML"
        switch error {
        case let YamlError.scanner(context, problem, mark, _),
             let YamlError.parser(context, problem, mark, _),
             let YamlError.composer(context, problem, mark, _):
            let contextText = context.map { "\($0.text) " } ?? ""
            return LintInputError(file: file, at: LintLocation(line: mark.line, column: mark.column),
                                  message: "not valid \(kind): \(contextText)\(problem)")
        case let YamlError.duplicatedKeysInMapping(duplicates, context):
            return LintInputError(file: file, at: LintLocation(line: context.mark.line, column: context.mark.column),
                                  message: "a key appears more than once in one mapping: \(duplicates.sorted().joined(separator: ", "))")
        default:
            return LintInputError(file: file, at: .start, message: "not valid \(kind): \(error)")
        }
    }

    // MARK: Task definitions (both spellings: the API's camelCase and CloudFormation's PascalCase)

    static func taskDefinition(_ fields: Fields, at: LintLocation, logicalID: String?, metadata: Fields?) -> TaskDefinitionModel {
        let compatibilities = NodeAccess.items(fields["requiresCompatibilities"])?.compactMap(NodeAccess.literal) ?? []
        let os = Fields(fields["runtimePlatform"])?.located("operatingSystemFamily")
        let volumeNodes = NodeAccess.items(fields["volumes"])
        let volumes = (volumeNodes ?? []).compactMap(volume)
        let containers = (NodeAccess.items(fields["containerDefinitions"]) ?? []).compactMap(container)
        let berth = Fields(metadata?["Berth"])
        return TaskDefinitionModel(
            logicalID: logicalID, at: at, compatibilities: compatibilities, operatingSystemFamily: os,
            volumes: volumes, volumesKnown: volumeNodes != nil || !fields.has("volumes"), containers: containers,
            referenceDataVolumes: names(berth?["ReferenceData"]), writtenVolumes: names(berth?["Writes"]))
    }

    static func names(_ node: Node?) -> Set<String> {
        if let items = NodeAccess.items(node) { return Set(items.compactMap(NodeAccess.literal)) }
        return NodeAccess.literal(node).map { [$0] } ?? []
    }

    static func volume(_ node: Node) -> VolumeModel? {
        guard let fields = Fields(node) else { return nil }
        let name = fields.located("name") ?? Located(value: nil, at: NodeAccess.location(node))
        var model = VolumeModel(name: name, kind: .bindMount, kindAt: name.at)
        if let (at, value) = fields.entry("efsVolumeConfiguration") {
            model.kind = .efs
            model.kindAt = at
            let efs = Fields(value)
            let authorization = Fields(efs?["authorizationConfig"])
            model.efs = EFSSettings(
                transitEncryption: efs?.located("transitEncryption"), iam: authorization?.located("iam"),
                accessPoint: authorization?.located("accessPointId"), rootDirectory: efs?.located("rootDirectory"),
                fileSystemRef: NodeAccess.reference(efs?["fileSystemId"]))
        } else if let (at, value) = fields.entry("fsxWindowsFileServerVolumeConfiguration") {
            model.kind = .fsxWindows
            model.kindAt = at
            model.fsxFileSystemRef = NodeAccess.reference(Fields(value)?["fileSystemId"])
        } else if let (at, _) = fields.entry("dockerVolumeConfiguration") {
            model.kind = .docker
            model.kindAt = at
        } else if let (at, _) = fields.entry("s3filesVolumeConfiguration") {
            model.kind = .s3files
            model.kindAt = at
        } else if let (at, value) = fields.entry("configuredAtLaunch"), NodeAccess.bool(value) == true {
            model.kind = .ebsAtLaunch
            model.kindAt = at
        } else if let (at, value) = fields.entry("host") {
            model.kind = .host
            model.kindAt = at
            model.hostSourcePath = Fields(value)?.located("sourcePath")
        }
        return model
    }

    static func container(_ node: Node) -> ContainerModel? {
        guard let fields = Fields(node) else { return nil }
        let environment = (NodeAccess.items(fields["environment"]) ?? []).compactMap { NodeAccess.text(Fields($0)?["value"]) }
        let mounts = (NodeAccess.items(fields["mountPoints"]) ?? []).compactMap { item -> MountPointModel? in
            guard let mount = Fields(item) else { return nil }
            let readOnly = mount.entry("readOnly").map { Located(value: NodeAccess.bool($0.value), at: $0.at) }
            return MountPointModel(
                at: NodeAccess.location(item), sourceVolume: mount.located("sourceVolume"),
                containerPath: NodeAccess.text(mount["containerPath"]), readOnly: readOnly)
        }
        return ContainerModel(
            at: NodeAccess.location(node), name: NodeAccess.literal(fields["name"]), image: NodeAccess.text(fields["image"]),
            environment: environment, mountPoints: mounts)
    }

    // MARK: Templates

    static func template(_ resources: Fields, file: String) -> LintDocument {
        var document = LintDocument(file: file, kind: .template, taskDefinitions: [], services: [], fileSystems: [:])
        for (key, node) in resources.entries {
            guard let resource = Fields(node), let type = NodeAccess.literal(resource["Type"]) else { continue }
            let logicalID = key
            let properties = Fields(resource["Properties"])
            let at = resource.entry("Type")?.at ?? NodeAccess.location(node)
            switch type {
            case "AWS::ECS::TaskDefinition":
                document.taskDefinitions.append(taskDefinition(
                    properties ?? .empty, at: at, logicalID: logicalID, metadata: Fields(resource["Metadata"])))
            case "AWS::ECS::Service":
                document.services.append(service(properties, logicalID: logicalID, at: at))
            case "AWS::EFS::FileSystem":
                document.fileSystems[logicalID] = FileSystemModel(
                    logicalID: logicalID, type: type, availabilityZone: properties?.located("AvailabilityZoneName"), deploymentType: nil)
            case "AWS::FSx::FileSystem":
                let configuration = ["WindowsConfiguration", "OntapConfiguration", "OpenZFSConfiguration", "LustreConfiguration"]
                    .lazy.compactMap { Fields(properties?[$0]) }.first
                document.fileSystems[logicalID] = FileSystemModel(
                    logicalID: logicalID, type: type, availabilityZone: nil, deploymentType: configuration?.located("DeploymentType"))
            default:
                continue
            }
        }
        return document
    }

    static func service(_ properties: Fields?, logicalID: String, at: LintLocation) -> ServiceModel {
        let awsvpc = Fields(Fields(properties?["NetworkConfiguration"])?["AwsvpcConfiguration"])
        let subnets = awsvpc?.entry("Subnets").map { Located(value: NodeAccess.items($0.value)?.count, at: $0.at) }
        let configurations = (NodeAccess.items(properties?["VolumeConfigurations"]) ?? []).compactMap { node -> VolumeConfigurationModel? in
            guard let fields = Fields(node) else { return nil }
            return VolumeConfigurationModel(
                name: fields.located("Name") ?? Located(value: nil, at: NodeAccess.location(node)),
                managedEBS: fields.has("ManagedEBSVolume"))
        }
        return ServiceModel(
            logicalID: logicalID, at: at, taskDefinitionRef: NodeAccess.reference(properties?["TaskDefinition"]),
            desiredCount: properties?.entry("DesiredCount").map { Located(value: NodeAccess.int($0.value), at: $0.at) },
            launchType: NodeAccess.literal(properties?["LaunchType"]), subnets: subnets,
            volumeConfigurations: configurations)
    }
}
