public import Foundation

/// Why a file could not be read as a task definition: where (a line and column for JSON syntax, a JSON
/// path such as `containerDefinitions[0].mountPoints[1]` for structure) and what is wrong.
public struct TaskDefinitionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// `12:5` or a JSON path; nil for the whole file.
    public var location: String?
    public var message: String

    public init(file: String, location: String?, message: String) {
        self.file = file
        self.location = location
        self.message = message
    }

    public var description: String {
        guard let location else { return "\(file): error: \(message)" }
        return "\(file):\(location): error: \(message)"
    }
}

/// Reads a task definition from JSON text.
public enum TaskDefinitionParser {
    public static func parse(_ data: Data, file: String) throws(TaskDefinitionError) -> TaskDefinition {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            throw TaskDefinitionError(file: file, location: syntaxLocation(error, data: data), message: "not valid JSON: \(syntaxMessage(error))")
        }
        guard var top = object as? [String: Any] else {
            throw TaskDefinitionError(file: file, location: nil, message: "not an ECS task definition: the top level is not a JSON object")
        }
        var prefix = ""
        if let wrapped = top["taskDefinition"] as? [String: Any] {
            top = wrapped
            prefix = "taskDefinition."
        }
        guard top["containerDefinitions"] != nil else {
            throw TaskDefinitionError(file: file, location: nil,
                                      message: "not an ECS task definition: no containerDefinitions (expected what `aws ecs register-task-definition --cli-input-json` takes)")
        }
        var reader = Reader(file: file, prefix: prefix)
        return try reader.taskDefinition(top)
    }

    /// `line:column` from Foundation's message ("… around line 3, column 7." or "… at character 42"), if any.
    static func syntaxLocation(_ error: any Error, data: Data) -> String? {
        let text = "\(error) \((error as NSError).userInfo)"
        if let range = text.range(of: #"line (\d+), column (\d+)"#, options: .regularExpression) {
            let numbers = text[range].split(whereSeparator: { !$0.isNumber })
            if numbers.count == 2 { return "\(numbers[0]):\(numbers[1])" }
        }
        if let range = text.range(of: #"character (\d+)"#, options: .regularExpression),
           let offset = Int(text[range].filter(\.isNumber)) {
            var line = 1, column = 1
            for byte in data.prefix(offset) {
                if byte == UInt8(ascii: "\n") { line += 1; column = 1 } else if byte & 0xC0 != 0x80 { column += 1 }
            }
            return "\(line):\(column)"
        }
        return data.isEmpty ? "1:1" : nil
    }

    static func syntaxMessage(_ error: any Error) -> String {
        (error as NSError).userInfo["NSDebugDescription"] as? String ?? "\(error)"
    }
}

/// Walks the parsed JSON with the path of every value, so that each complaint says where.
struct Reader {
    let file: String
    let prefix: String
    var ignored: [String] = []

    init(file: String, prefix: String) {
        self.file = file
        self.prefix = prefix
    }

    func fail(_ path: String, _ message: String) -> TaskDefinitionError {
        TaskDefinitionError(file: file, location: prefix + path, message: message)
    }

    /// JSONSerialization gives `true`/`false` as NSNumbers of type `c` (char); numbers never are.
    static func isBoolean(_ number: NSNumber) -> Bool { String(cString: number.objCType) == "c" }

    static func kind(_ value: Any) -> String {
        switch value {
        case is String: "a string"
        case is NSNull: "null"
        case let number as NSNumber: isBoolean(number) ? "a boolean" : "a number"
        case is [Any]: "an array"
        case is [String: Any]: "an object"
        default: "a \(type(of: value))"
        }
    }

    func string(_ object: [String: Any], _ key: String, at path: String, required: Bool = false) throws(TaskDefinitionError) -> String? {
        guard let value = object[key], !(value is NSNull) else {
            if required { throw fail(path, "\(key) is required") }
            return nil
        }
        guard let text = value as? String else { throw fail("\(path).\(key)", "expected a string, got \(Self.kind(value))") }
        return text
    }

    func bool(_ object: [String: Any], _ key: String, at path: String) throws(TaskDefinitionError) -> Bool? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let number = value as? NSNumber, Self.isBoolean(number) else {
            throw fail("\(path).\(key)", "expected true or false, got \(Self.kind(value))")
        }
        return number.boolValue
    }

    func int(_ object: [String: Any], _ key: String, at path: String) throws(TaskDefinitionError) -> Int? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let number = value as? NSNumber, !Self.isBoolean(number),
              let int = Int(exactly: number.doubleValue) else {
            throw fail("\(path).\(key)", "expected an integer, got \(Self.kind(value))")
        }
        return int
    }

    func objects(_ object: [String: Any], _ key: String, at path: String) throws(TaskDefinitionError) -> [(String, [String: Any])] {
        guard let value = object[key], !(value is NSNull) else { return [] }
        guard let array = value as? [Any] else { throw fail("\(path)\(path.isEmpty ? "" : ".")\(key)", "expected an array, got \(Self.kind(value))") }
        var result: [(String, [String: Any])] = []
        for (index, item) in array.enumerated() {
            let itemPath = "\(path)\(path.isEmpty ? "" : ".")\(key)[\(index)]"
            guard let entry = item as? [String: Any] else { throw fail(itemPath, "expected an object, got \(Self.kind(item))") }
            result.append((itemPath, entry))
        }
        return result
    }

    func strings(_ object: [String: Any], _ key: String, at path: String) throws(TaskDefinitionError) -> [String]? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        let here = "\(path)\(path.isEmpty ? "" : ".")\(key)"
        guard let array = value as? [Any] else { throw fail(here, "expected an array of strings, got \(Self.kind(value))") }
        var result: [String] = []
        for (index, item) in array.enumerated() {
            guard let text = item as? String else { throw fail("\(here)[\(index)]", "expected a string, got \(Self.kind(item))") }
            result.append(text)
        }
        return result
    }

    func object(_ object: [String: Any], _ key: String, at path: String) throws(TaskDefinitionError) -> [String: Any]? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let dictionary = value as? [String: Any] else {
            throw fail("\(path)\(path.isEmpty ? "" : ".")\(key)", "expected an object, got \(Self.kind(value))")
        }
        return dictionary
    }

    func stringMap(_ object: [String: Any], _ key: String, at path: String) throws(TaskDefinitionError) -> [String: String] {
        guard let map = try self.object(object, key, at: path) else { return [:] }
        var result: [String: String] = [:]
        for (name, value) in map {
            guard let text = value as? String else { throw fail("\(path).\(key).\(name)", "expected a string, got \(Self.kind(value))") }
            result[name] = text
        }
        return result
    }

    /// Top-level fields `berth run` reads; anything else is reported as ignored.
    static let taskFields: Set<String> = [
        "family", "requiresCompatibilities", "runtimePlatform", "networkMode", "volumes", "containerDefinitions",
    ]
    /// Fields ECS prints or takes that never matter to a local run, so not worth a mention.
    static let silentTaskFields: Set<String> = [
        "taskDefinitionArn", "revision", "status", "registeredAt", "registeredBy", "deregisteredAt", "requiresAttributes",
        "compatibilities", "tags", "cpu", "memory",
    ]
    static let containerFields: Set<String> = [
        "name", "image", "essential", "command", "entryPoint", "environment", "workingDirectory", "user",
        "mountPoints", "volumesFrom", "readonlyRootFilesystem",
    ]

    mutating func taskDefinition(_ top: [String: Any]) throws(TaskDefinitionError) -> TaskDefinition {
        var definition = TaskDefinition()
        definition.family = try string(top, "family", at: "")
        definition.requiresCompatibilities = (try strings(top, "requiresCompatibilities", at: "") ?? []).map { $0.uppercased() }
        if let platform = try object(top, "runtimePlatform", at: "") {
            definition.operatingSystemFamily = try string(platform, "operatingSystemFamily", at: "runtimePlatform")
        }
        definition.networkMode = try string(top, "networkMode", at: "")
        for (path, entry) in try objects(top, "volumes", at: "") {
            definition.volumes.append(try volume(entry, at: path))
        }
        var seenVolumes: [String: String] = [:]
        for volume in definition.volumes {
            if let earlier = seenVolumes[volume.name] {
                throw fail(volume.path, "ClientException: volume name \"\(volume.name)\" is used twice (also at \(prefix)\(earlier))")
            }
            seenVolumes[volume.name] = volume.path
        }
        let containers = try objects(top, "containerDefinitions", at: "")
        guard !containers.isEmpty else { throw fail("containerDefinitions", "a task definition needs at least one container definition") }
        var seenContainers: Set<String> = []
        for (path, entry) in containers {
            let container = try self.container(entry, at: path)
            guard seenContainers.insert(container.name).inserted else {
                throw fail(path, "ClientException: container name \"\(container.name)\" is used twice")
            }
            definition.containers.append(container)
        }
        definition.ignoredFields = top.keys.filter { !Self.taskFields.contains($0) && !Self.silentTaskFields.contains($0) }.sorted()
        return definition
    }

    func volume(_ entry: [String: Any], at path: String) throws(TaskDefinitionError) -> TaskVolume {
        guard let name = try string(entry, "name", at: path), !name.isEmpty else {
            throw fail(path, "a volume needs a name")
        }
        if let efs = try object(entry, "efsVolumeConfiguration", at: path) {
            let here = "\(path).efsVolumeConfiguration"
            guard let id = try string(efs, "fileSystemId", at: here, required: true) else { throw fail(here, "fileSystemId is required") }
            let authorization = try object(efs, "authorizationConfig", at: here)
            return TaskVolume(name: name, kind: .efs(EFSVolume(
                fileSystemID: id, rootDirectory: try string(efs, "rootDirectory", at: here),
                transitEncryption: try string(efs, "transitEncryption", at: here),
                transitEncryptionPort: try int(efs, "transitEncryptionPort", at: here),
                iam: try authorization.flatMap { a throws(TaskDefinitionError) in try string(a, "iam", at: "\(here).authorizationConfig") },
                accessPointID: try authorization.flatMap { a throws(TaskDefinitionError) in
                    try string(a, "accessPointId", at: "\(here).authorizationConfig")
                })), path: path)
        }
        if let fsx = try object(entry, "fsxWindowsFileServerVolumeConfiguration", at: path) {
            let here = "\(path).fsxWindowsFileServerVolumeConfiguration"
            guard let id = try string(fsx, "fileSystemId", at: here, required: true),
                  let root = try string(fsx, "rootDirectory", at: here, required: true) else {
                throw fail(here, "fileSystemId and rootDirectory are required")
            }
            let authorization = try object(fsx, "authorizationConfig", at: here)
            return TaskVolume(name: name, kind: .fsxWindows(FSxWindowsVolume(
                fileSystemID: id, rootDirectory: root,
                credentialsParameter: try authorization.flatMap { a throws(TaskDefinitionError) in
                    try string(a, "credentialsParameter", at: "\(here).authorizationConfig")
                },
                domain: try authorization.flatMap { a throws(TaskDefinitionError) in try string(a, "domain", at: "\(here).authorizationConfig") })),
                path: path)
        }
        if let docker = try object(entry, "dockerVolumeConfiguration", at: path) {
            let here = "\(path).dockerVolumeConfiguration"
            return TaskVolume(name: name, kind: .docker(DockerVolume(
                scope: try string(docker, "scope", at: here), autoprovision: try bool(docker, "autoprovision", at: here),
                driver: try string(docker, "driver", at: here), driverOptions: try stringMap(docker, "driverOpts", at: here),
                labels: try stringMap(docker, "labels", at: here))), path: path)
        }
        if try bool(entry, "configuredAtLaunch", at: path) == true {
            return TaskVolume(name: name, kind: .ebsAtLaunch, path: path)
        }
        let host = try object(entry, "host", at: path)
        let source = try host.flatMap { h throws(TaskDefinitionError) in try string(h, "sourcePath", at: "\(path).host") }
        return TaskVolume(name: name, kind: .host(sourcePath: source), path: path)
    }

    func container(_ entry: [String: Any], at path: String) throws(TaskDefinitionError) -> ContainerDefinition {
        guard let name = try string(entry, "name", at: path), !name.isEmpty else {
            throw fail(path, "ClientException: Container.name should not be null or empty.")
        }
        guard let image = try string(entry, "image", at: path), !image.isEmpty else {
            throw fail(path, "ClientException: Container.image should not be null or empty.")
        }
        var container = ContainerDefinition(name: name, image: image, path: path)
        container.essential = try bool(entry, "essential", at: path) ?? true
        container.command = try strings(entry, "command", at: path)
        container.entryPoint = try strings(entry, "entryPoint", at: path)
        for (envPath, variable) in try objects(entry, "environment", at: path) {
            guard let variableName = try string(variable, "name", at: envPath), !variableName.isEmpty else {
                throw fail(envPath, "an environment variable needs a name")
            }
            container.environment.append(EnvironmentVariable(name: variableName, value: try string(variable, "value", at: envPath) ?? ""))
        }
        container.workingDirectory = try string(entry, "workingDirectory", at: path)
        container.user = try string(entry, "user", at: path)
        container.readonlyRootFilesystem = try bool(entry, "readonlyRootFilesystem", at: path) ?? false
        for (mountPath, mount) in try objects(entry, "mountPoints", at: path) {
            guard let source = try string(mount, "sourceVolume", at: mountPath), !source.isEmpty else {
                throw fail(mountPath, "sourceVolume is required")
            }
            guard let target = try string(mount, "containerPath", at: mountPath), !target.isEmpty else {
                throw fail(mountPath, "containerPath is required")
            }
            container.mountPoints.append(MountPoint(sourceVolume: source, containerPath: target,
                                                    readOnly: try bool(mount, "readOnly", at: mountPath) ?? false, path: mountPath))
        }
        for (fromPath, from) in try objects(entry, "volumesFrom", at: path) {
            guard let source = try string(from, "sourceContainer", at: fromPath), !source.isEmpty else {
                throw fail(fromPath, "sourceContainer is required")
            }
            container.volumesFrom.append(VolumeFrom(sourceContainer: source, readOnly: try bool(from, "readOnly", at: fromPath) ?? false,
                                                    path: fromPath))
        }
        container.ignoredFields = entry.keys.filter { !Self.containerFields.contains($0) }.sorted()
        return container
    }
}
