import ArgumentParser
import Foundation
import StoragePlanner
import Workloads

struct TaskdefCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "taskdef",
        abstract: "Write an ECS task definition that mounts the recommended storage.",
        discussion: helpText("""
            Prints on stdout a complete task definition for the profile's pick, in the shape
            `aws ecs register-task-definition --cli-input-json` takes: requiresCompatibilities,
            runtimePlatform, networkMode, volumes and mountPoints. Values you must fill in look like
            <EFS_FILE_SYSTEM_ID> and are listed on stderr with what each one is. For EBS, the
            volumeConfigurations that run-task and create-service take are printed on stderr, or written
            to --volume-configurations-file. For FSx file systems that ECS does not mount itself, the
            volume is a host path and stderr says what the container instance must mount.

            Examples:
              berth taskdef Profiles/cms-uploads.yaml \\
                --image 111122223333.dkr.ecr.us-east-1.amazonaws.com/cms:1.4 > td.json
              aws ecs register-task-definition --cli-input-json file://td.json
              berth taskdef Profiles/postgres-ec2.yaml \\
                --volume-configurations-file ebs.json

            Exit status: 0 written; 1 invalid profile or option; 2 no service fits the profile.
            """))

    @Argument(help: ArgumentHelp("A workload profile (YAML or JSON).", valueName: "profile"))
    var profile: String

    @Option(help: "Task definition family and container name (default: the profile's name).")
    var family: String?

    @Option(help: "Container image (default: the placeholder <IMAGE>).")
    var image: String?

    @Option(help: "Where the volume appears in the container (default: /data, or C:\\data for Windows).")
    var containerPath: String?

    @Option(help: "EBS only: write the volumeConfigurations for run-task/create-service to this file.")
    var volumeConfigurationsFile: String?

    func run() throws {
        let loaded: WorkloadProfile
        do {
            loaded = try ProfileLoader.load(path: profile)
        } catch {
            printError(error)
            throw ExitStatus.invalidInput
        }
        let options = TaskDefinitionOptions(family: family, image: image, containerPath: containerPath)
        let problems = options.problems(windows: loaded.platform.os == .windows)
        guard problems.isEmpty else {
            for problem in problems { printError("berth taskdef: \(problem)") }
            throw ExitStatus.invalidInput
        }
        let draft: TaskDefinitionDraft
        do {
            draft = try TaskDefinitionBuilder.build(Planner().recommend(loaded), options: options)
        } catch {
            printError(error)
            throw ExitStatus.noServiceFits
        }
        if let volumeConfigurations = draft.volumeConfigurations {
            if let path = volumeConfigurationsFile {
                do {
                    try Data((volumeConfigurations.rendered() + "\n").utf8).write(to: URL(fileURLWithPath: path))
                } catch {
                    printError("cannot write \(path): \(error.localizedDescription)")
                    throw ExitStatus.invalidInput
                }
            } else {
                printError("volumeConfigurations for run-task / create-service (--volume-configurations):\n\(volumeConfigurations.rendered())")
            }
        }
        print(draft.taskDefinition.rendered())
        printError("Task definition for \(draft.service) (\(loaded.name)).")
        for note in draft.notes { printError("Note: \(note)") }
        if !draft.placeholders.isEmpty {
            printError("Fill in before registering:")
            for (placeholder, meaning) in draft.placeholders { printError("  \(placeholder)  \(meaning)") }
        }
    }
}
