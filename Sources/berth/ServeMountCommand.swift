import ArgumentParser

/// Hidden: serves one FUSE mount in the foreground. `berth mount` runs this in-process or, with
/// `--background`, in a freshly spawned process (never fork: see docs/SEMANTICS.md).
struct ServeMountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_serve-mount", abstract: "Serve one emulated mount (internal).", shouldDisplay: false)

    func run() throws {
        throw ValidationError("not built yet")
    }
}
