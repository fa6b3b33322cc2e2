import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Names Windows refuses are refused on `fsx-windows` mounts at every depth, by every call that makes a
/// name, and accepted on POSIX types (Microsoft, "Naming Files, Paths, and Namespaces"; seed §Amazon FSx
/// für Windows File Server).
@Suite(.serialized, .enabled(if: canMount, "needs root and /dev/fuse"))
struct WindowsNamingMountTests {
    typealias Berth = CLIMountTests.Berth

    static let refused = [
        "CON", "prn", "Aux", "nul.txt", "NUL.tar.gz", "com1", "COM9.log", "lpt1", "LpT9",
        "a<b", "a>b", "a:b", "a\"b", "a\\b", "a|b", "a?b", "a*b", "tab\there", "bell\u{7}",
        "ends-with-dot.", "ends-with-space ",
    ]
    static let accepted = ["CONSOLE", "com10", "lpt0", "nul_", "report.txt", "Grüße.txt", "a.b.c", ".hidden"]

    func errnoOf(_ result: Int32) -> Int32 { result == 0 ? 0 : errno }

    @Test func windowsRefusesReservedNamesAtEveryDepthAndPOSIXTypesDoNot() throws {
        let berth = try Berth()
        let windows = try berth.createVolume("--type", "fsx-windows", "--az", "us-east-1a")
        let posix = try berth.createVolume("--type", "efs", "--az", "us-east-1a")
        let win = try berth.mountpoint("win"), nfs = try berth.mountpoint("nfs")
        #expect(try berth.run("mount", windows, win, "--az", "us-east-1a", "--background").status == 0)
        #expect(try berth.run("mount", posix, nfs, "--az", "us-east-1a", "--background").status == 0)
        var directory = win
        for depth in 0..<4 {
            if depth > 0 {
                directory += "/level\(depth)"
                #expect(mkdir(directory, 0o755) == 0)
            }
            #expect(writeFile(directory + "/source", [1]) == 0)
            for name in Self.refused {
                let path = directory + "/" + name
                #expect(openErrno(path) == EINVAL, "create \(name) at depth \(depth)")
                #expect(errnoOf(mkdir(path, 0o755)) == EINVAL, "mkdir \(name) at depth \(depth)")
                #expect(errnoOf(rename(directory + "/source", path)) == EINVAL, "rename to \(name)")
                #expect(errnoOf(symlink("source", path)) == EINVAL, "symlink \(name)")
                #expect(errnoOf(link(directory + "/source", path)) == EINVAL, "link \(name)")
            }
            for name in Self.accepted {
                #expect(openErrno(directory + "/" + name) == 0, "\(name) is a valid Windows name")
            }
        }
        // Nothing refused was created, and the source is where it was.
        let listing = Set((try? FileManager.default.contentsOfDirectory(atPath: win)) ?? [])
        #expect(listing.isDisjoint(with: Self.refused))
        #expect(listing.contains("source"))
        for name in Self.refused {
            #expect(openErrno(nfs + "/" + name) == 0, "EFS (POSIX) accepts \(name)")
        }
        for path in [win, nfs] { #expect(try berth.run("unmount", path).status == 0) }
    }

    func openErrno(_ path: String) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { return errno }
        close(fd)
        return 0
    }
}
