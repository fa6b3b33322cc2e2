import BerthTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// docs/SECURITY.md: where a volume may be mounted (never where the state directory's data would be
/// covered or reached), and `berth unmount` never cutting off a mount in use unasked.
@Suite(.serialized, .enabled(if: canMount, "needs root and /dev/fuse"))
struct MountpointContainmentTests {
    typealias Berth = CLIMountTests.Berth

    /// A mount point that is a link into the state directory (before: accepted, and a later snapshot of
    /// another volume landed inside the mounted volume).
    @Test func aLinkIntoTheStateDirectoryIsRefused() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "efs", "--az", "us-east-1a")
        let link = berth.root + "/m"
        #expect(symlink(berth.state + "/snapshots", link) == 0)
        let run = try berth.run("mount", volume, link, "--az", "us-east-1a", "--background")
        #expect(run.status == 1)
        #expect(run.stderr.contains("inside the state directory"), "\(run.stderr)")
        #expect(!ServedMount.isMounted(berth.state + "/snapshots"))
        #expect(try berth.attachments(volume).isEmpty)
    }

    /// The state directory named through a link, the mount point through the real path.
    @Test func theRealPathOfALinkedStateDirectoryIsRefused() throws {
        let berth = try Berth()
        let linkedState = berth.root + "/state-link"
        #expect(symlink(berth.state, linkedState) == 0)
        func run(_ arguments: [String]) throws -> CLITestRun {
            try CommandRun.run(try ServedMount.berthBinary(), arguments + ["--state-dir", linkedState])
        }
        let created = try run(["volume", "create", "--type", "efs", "--az", "us-east-1a"])
        try #require(created.status == 0, "\(created.stderr)")
        let mounted = try run(["mount", created.trimmedStdout, berth.state + "/snapshots", "--az", "us-east-1a", "--background"])
        #expect(mounted.status == 1)
        #expect(mounted.stderr.contains("inside the state directory"), "\(mounted.stderr)")
        #expect(!ServedMount.isMounted(berth.state + "/snapshots"))
    }

    /// On top of, or inside, another Berth mount.
    @Test func aMountPointInsideAnotherBerthMountIsRefused() throws {
        let berth = try Berth()
        let outer = try berth.createVolume("--type", "efs", "--az", "us-east-1a")
        let inner = try berth.createVolume("--type", "efs", "--az", "us-east-1a")
        let a = try berth.mountpoint("a")
        #expect(try berth.run("mount", outer, a, "--az", "us-east-1a", "--background").status == 0)
        #expect(mkdir(a + "/inner", 0o755) == 0)
        let inside = try berth.run("mount", inner, a + "/inner", "--az", "us-east-1a", "--background")
        #expect(inside.status == 1)
        #expect(inside.stderr.contains("inside the Berth mount of \(outer)"), "\(inside.stderr)")
        #expect(try berth.attachments(inner).isEmpty)
        #expect(try berth.run("unmount", a).status == 0)
    }

    /// `berth unmount` of a mount a process works in: refused with EBUSY naming the process, the mount
    /// still serving; `--force` unmounts and names what it cut off. (Before: 0, and the process got ENOTCONN.)
    @Test func unmountRefusesAMountInUseAndForceCutsItOff() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "efs", "--az", "us-east-1a")
        let a = try berth.mountpoint("a")
        #expect(try berth.run("mount", volume, a, "--az", "us-east-1a", "--background").status == 0)
        #expect(writeFile(a + "/held", [1]) == 0)
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["python3", "-c", "import sys, time; f = open(sys.argv[1]); print('open', flush=True); time.sleep(60)", a + "/held"]
        let out = Pipe()
        holder.standardOutput = out
        try holder.run()
        defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL) } }
        _ = out.fileHandleForReading.availableData

        let refused = try berth.run("unmount", a)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("busy (EBUSY)") && refused.stderr.contains("pid \(holder.processIdentifier) (python3)"),
                "\(refused.stderr)")
        #expect(ServedMount.isMounted(a))
        #expect(readFile(a + "/held") == [1], "the mount still serves")

        let forced = try berth.run("unmount", a, "--force")
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stderr.contains("cutting off") && forced.stderr.contains("pid \(holder.processIdentifier)"))
        #expect(!ServedMount.isMounted(a))
        #expect(try berth.attachments(volume).isEmpty)
    }

    /// A working directory inside the mount counts as use too; an idle mount unmounts without --force.
    @Test func aWorkingDirectoryKeepsTheMountBusyUntilTheProcessLeaves() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "efs", "--az", "us-east-1a")
        let a = try berth.mountpoint("a")
        #expect(try berth.run("mount", volume, a, "--az", "us-east-1a", "--background").status == 0)
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["60"]
        sleeper.currentDirectoryURL = URL(fileURLWithPath: a)
        try sleeper.run()
        let busy = try berth.run("unmount", a)
        #expect(busy.status == 1 && busy.stderr.contains("(sleep) works in it"), "\(busy.stderr)")
        kill(sleeper.processIdentifier, SIGKILL)
        sleeper.waitUntilExit()
        let idle = try berth.run("unmount", a)
        #expect(idle.status == 0, "\(idle.stderr)")
        #expect(!ServedMount.isMounted(a))
    }

    /// A mount point anywhere on the system whose name is not UTF-8 (untrusted processes choose names) must
    /// not hide who uses a Berth mount: /proc/self/mountinfo was decoded strictly, the whole file failed,
    /// and a busy mount looked unused (seen as this suite's flaky busy test while other tests mounted
    /// non-UTF-8 names).
    @Test func aMountPointNamedInBytesElsewhereDoesNotHideWhoUsesAMount() throws {
        let berth = try Berth()
        var bytes = Array((berth.root + "/odd-").utf8) + [0xFF]
        bytes.append(0)
        let made = bytes.withUnsafeBufferPointer { pointer in
            pointer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bytes.count) { mkdir($0, 0o755) }
        }
        #expect(made == 0)
        let bound = bytes.withUnsafeBufferPointer { pointer in
            pointer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bytes.count) { mount("tmpfs", $0, "tmpfs", 0, nil) }
        }
        #expect(bound == 0, "a tmpfs on a directory named in bytes")
        defer {
            _ = bytes.withUnsafeBufferPointer { pointer in
                pointer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bytes.count) { umount2($0, Int32(MNT_DETACH)) }
            }
        }
        let volume = try berth.createVolume("--type", "efs", "--az", "us-east-1a")
        let a = try berth.mountpoint("a")
        #expect(try berth.run("mount", volume, a, "--az", "us-east-1a", "--background").status == 0)
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["60"]
        sleeper.currentDirectoryURL = URL(fileURLWithPath: a)
        try sleeper.run()
        defer {
            kill(sleeper.processIdentifier, SIGKILL)
            sleeper.waitUntilExit()
        }
        let busy = try berth.run("unmount", a)
        #expect(busy.status == 1 && busy.stderr.contains("(sleep) works in it"), "\(busy.stderr)")
    }

    /// A process that uses a mount for a moment only (as a child between fork and exec does, or a
    /// container runtime's namespace before it pivots) does not make `berth unmount` refuse; one that
    /// stays does.
    @Test func aMomentaryUserDoesNotRefuseTheUnmountButALastingOneDoes() throws {
        let berth = try Berth()
        let volume = try berth.createVolume("--type", "efs", "--az", "us-east-1a")
        let a = try berth.mountpoint("a")
        #expect(try berth.run("mount", volume, a, "--az", "us-east-1a", "--background").status == 0)
        func sleeper(_ seconds: String) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sleep")
            process.arguments = [seconds]
            process.currentDirectoryURL = URL(fileURLWithPath: a)
            try process.run()
            return process
        }
        let lasting = try sleeper("60")
        let refused = try berth.run("unmount", a)
        #expect(refused.status == 1 && refused.stderr.contains("(sleep) works in it"), "\(refused.stderr)")
        kill(lasting.processIdentifier, SIGKILL)
        lasting.waitUntilExit()
        let momentary = try sleeper("0.3")
        let unmount = try berth.run("unmount", a)
        momentary.waitUntilExit()
        #expect(unmount.status == 0, "\(unmount.stderr)")
    }

    /// `berth unmount /` says nothing is mounted there (it said "cannot mount on /").
    @Test func unmountOfTheRootSaysNothingIsMountedThere() throws {
        let berth = try Berth()
        let run = try berth.run("unmount", "/")
        #expect(run.status == 1)
        #expect(run.stderr.contains("nothing is mounted by berth at /"), "\(run.stderr)")
    }
}
