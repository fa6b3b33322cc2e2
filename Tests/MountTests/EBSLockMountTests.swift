import EmulatorCore
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// ebs locks are the attachment's kernel's (SEMANTICS.md §Locks, `LockScope.attachment`): every process on
/// the one mount, and every container with a bind mount of it, sees every other's fcntl and flock locks,
/// as on an instance's own file system; closing any descriptor drops the process's record locks; an outage
/// fails the volume's I/O but not the instance's lock table. (efs and FSx keep theirs across mounts:
/// MountTests, TenantIsolationMountTests.)
@Suite(.serialized, .enabled(if: canMount, "needs root and /dev/fuse"))
struct EBSLockMountTests {
    typealias Berth = CLIMountTests.Berth
    /// One ebs mount ("a") for `body`, with an outage flag it watches (`--cut-off-flag`).
    func withEBSMount(_ body: (Scratch, ServedMount, SharedFlag) throws -> Void) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let flagPath = scratch.root + "/zone.down"
        let flag = try SharedFlag(path: flagPath)
        flag.set(false)
        let mount = try ServedMount(scratch, at: "a", type: "ebs", volumeID: "vol-locks",
                                    extra: ["--capacity-bytes", "1073741824", "--cut-off-flag", flagPath, "--local-locks"])
        defer {
            flag.set(false)
            mount.stop()
        }
        #expect(writeFile(mount.mountpoint + "/f", Array(repeating: 7, count: 4096)) == 0)
        try body(scratch, mount, flag)
    }

    /// An ebs mount whose file `f` another process holds a `kind` lock on, and a descriptor of `f`
    /// opened here with `flags`.
    func withLockHeldByAnotherProcess(kind: String, opening flags: Int32,
                                      _ body: (_ path: String, LockHolder, _ fd: Int32) throws -> Void) throws {
        try withEBSMount { _, mount, _ in
            let path = mount.mountpoint + "/f"
            let holder = try LockHolder(path: path, kind: kind)
            defer { holder.kill9() }
            let fd = open(path, flags)
            defer { close(fd) }
            try body(path, holder, fd)
        }
    }

    @Test func fcntlLocksOfAnotherProcessOnTheMountConflictAndNameItsPid() throws {
        try withLockHeldByAnotherProcess(kind: "fcntl", opening: O_RDWR) { _, holder, fd in
            #expect(recordLock(fd, F_WRLCK) == EAGAIN)
            #expect(recordLock(fd, F_RDLCK) == EAGAIN)
            #expect(lockHolderType(fd) == F_WRLCK)
            // The holder's own pid, as a local file system reports it (a server-held lock on efs reports 0).
            #expect(Self.lockHolderPID(fd) == holder.process.processIdentifier)

            let outcome = Atomicish()
            Thread {
                outcome.set(recordLock(fd, F_WRLCK, command: F_SETLKW) == 0 ? 1 : 2)
            }.start()
            usleep(300_000)
            #expect(outcome.value == 0, "F_SETLKW waits while the other process holds the lock")
            holder.kill9()
            #expect(waitUntil { outcome.value != 0 })
            #expect(outcome.value == 1)
            #expect(lockHolderType(fd) == F_UNLCK, "F_GETLK finds no conflict with the process's own lock")
        }
    }

    @Test func flockOfAnotherProcessOnTheMountConflictsUntilItDies() throws {
        try withLockHeldByAnotherProcess(kind: "flock", opening: O_RDONLY) { path, holder, fd in
            #expect(bsdLock(fd, LOCK_SH | LOCK_NB) == EWOULDBLOCK)
            let outcome = Atomicish()
            Thread {
                outcome.set(bsdLock(fd, LOCK_EX) == 0 ? 1 : 2)
            }.start()
            usleep(300_000)
            #expect(outcome.value == 0, "a blocking flock waits while the other process holds the lock")
            holder.kill9()
            #expect(waitUntil { outcome.value != 0 })
            #expect(outcome.value == 1)
            // Two descriptions in this process conflict too (flock belongs to the open file description).
            let other = open(path, O_RDONLY)
            defer { close(other) }
            #expect(bsdLock(other, LOCK_EX | LOCK_NB) == EWOULDBLOCK)
            #expect(bsdLock(fd, LOCK_UN) == 0)
            #expect(bsdLock(other, LOCK_EX | LOCK_NB) == 0)
        }
    }

    /// Containers of one task see the volume through bind mounts of the one attachment, each in its own
    /// mount namespace: a lock taken through a container's path holds against this process, and the other
    /// way round.
    @Test(arguments: ["fcntl", "flock"])
    func aContainersLockThroughItsBindMountHoldsForTheOtherContainers(kind: String) throws {
        try withEBSMount { scratch, mount, _ in
            let container = scratch.root + "/container"
            try FileManager.default.createDirectory(atPath: container, withIntermediateDirectories: true)
            let take = kind == "flock" ? "fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)" : "fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)"
            let holder = try LineProcess("/usr/bin/unshare", ["--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                                 "mount --bind \"$0\" \"$1\" && exec python3 -c \"$2\" \"$1/f\"", mount.mountpoint, container, """
                import fcntl, sys
                f = open(sys.argv[1], "r+")
                \(take)
                print("locked", flush=True)
                sys.stdin.readline()
                if "\(kind)" == "flock": fcntl.flock(f, fcntl.LOCK_UN)
                else: fcntl.lockf(f, fcntl.LOCK_UN)
                print("unlocked", flush=True)
                sys.stdin.readline()
                try:
                    \(take)
                    print("locked", flush=True)
                except OSError as e:
                    print("errno", e.errno, flush=True)
                """])
            defer { holder.stop() }
            let (input, lines) = (holder.input, holder.lines)
            #expect(lines.next(timeout: 10) == "locked")
            let fd = open(mount.mountpoint + "/f", O_RDWR)
            defer { close(fd) }
            let lock = { kind == "flock" ? bsdLock(fd, LOCK_EX | LOCK_NB) : recordLock(fd, F_WRLCK) }
            #expect(lock() == (kind == "flock" ? EWOULDBLOCK : EAGAIN), "the container's lock holds here")
            input.fileHandleForWriting.write(Data("\n".utf8))
            #expect(lines.next(timeout: 10) == "unlocked")
            #expect(lock() == 0, "free once the container unlocked")
            input.fileHandleForWriting.write(Data("\n".utf8))
            #expect(lines.next(timeout: 10) == "errno \(EAGAIN)", "this process's lock holds in the container")
        }
    }

    /// POSIX: closing any descriptor of a file drops all of the process's record locks on it. With the
    /// locks in the mount's kernel (no FLUSH to the server) that is still so.
    @Test func closingAnyDescriptorDropsTheProcesssRecordLocks() throws {
        try withEBSMount { _, mount, _ in
            let path = mount.mountpoint + "/f"
            let holder = try LineProcess("/usr/bin/env", ["python3", "-c", """
                import fcntl, os, sys, time
                first = os.open(sys.argv[1], os.O_RDWR)
                fcntl.lockf(first, fcntl.LOCK_EX)
                print("locked", flush=True)
                sys.stdin.readline()
                os.close(os.open(sys.argv[1], os.O_RDONLY))
                print("closed another", flush=True)
                time.sleep(600)
                """, path])
            defer { holder.stop() }
            let (process, input, lines) = (holder.process, holder.input, holder.lines)
            #expect(lines.next(timeout: 10) == "locked")
            let fd = open(path, O_RDWR)
            defer { close(fd) }
            #expect(recordLock(fd, F_WRLCK) == EAGAIN)
            input.fileHandleForWriting.write(Data("\n".utf8))
            #expect(lines.next(timeout: 10) == "closed another")
            #expect(process.isRunning, "the holder still has its first descriptor open")
            #expect(recordLock(fd, F_WRLCK) == 0, "its close of another descriptor dropped its lock")
        }
    }

    /// Open-file-description locks (F_OFD_*), which FUSE does not forward to a server, are the kernel's
    /// here as on a local file system: two descriptions in one process conflict.
    @Test func openFileDescriptionLocksConflictBetweenDescriptions() throws {
        try withEBSMount { _, mount, _ in
            let first = open(mount.mountpoint + "/f", O_RDWR), second = open(mount.mountpoint + "/f", O_RDWR)
            defer { close(first); close(second) }
            #expect(Self.ofdLock(first, F_WRLCK) == 0)
            #expect(Self.ofdLock(second, F_WRLCK) == EAGAIN)
            #expect(Self.ofdLock(first, F_UNLCK) == 0)
            #expect(Self.ofdLock(second, F_WRLCK) == 0)
        }
    }

    /// An outage fails the volume's I/O (EIO), not the instance kernel's lock table: a lock wait in
    /// progress keeps waiting and is granted when the holder goes, locks are taken and released on open
    /// descriptors, and `close` answers 0, as on a local file system whose device fails (ext4 has no
    /// flush at close; the I/O errors show at write and fsync). On efs the wait ends with EIO
    /// (OutageSnapshotDrillTests.lockWaitsEndWithEIOWhenTheOutageStarts).
    @Test(arguments: ["fcntl", "flock"])
    func anOutageFailsIOButNotTheLocks(kind: String) throws {
        try withEBSMount { _, mount, flag in
            let path = mount.mountpoint + "/f"
            let holder = try LockHolder(path: path, kind: kind)
            defer { holder.kill9() }
            let waiter = open(path, O_RDWR), spare = open(path, O_RDWR)
            defer { close(waiter) }
            let outcome = Atomicish()  // 0 waiting, else 1000 + errno (1000: granted)
            Thread {
                let result = kind == "fcntl" ? recordLock(waiter, F_WRLCK, command: F_SETLKW) : bsdLock(waiter, LOCK_EX)
                outcome.set(1000 + Int(result))
            }.start()
            usleep(300_000)
            #expect(outcome.value == 0, "the waiter waits while the holder has the lock")
            flag.set(true)
            var byte: UInt8 = 1
            #expect(waitUntil { pwrite(spare, &byte, 1, 0) < 0 && errno == EIO }, "I/O fails during the outage")
            usleep(300_000)
            #expect(outcome.value == 0, "the wait goes on through the outage")
            holder.kill9()
            #expect(waitUntil { outcome.value != 0 }, "granted once the holder is gone, during the outage")
            #expect(outcome.value == 1000)
            #expect(close(spare) == 0, "close answers 0 during the outage")
            let unlock = kind == "fcntl" ? recordLock(waiter, F_UNLCK) : bsdLock(waiter, LOCK_UN)
            #expect(unlock == 0)
            let relock = kind == "fcntl" ? recordLock(waiter, F_WRLCK) : bsdLock(waiter, LOCK_EX | LOCK_NB)
            #expect(relock == 0)
            flag.set(false)
            #expect(waitUntil { pwrite(waiter, &byte, 1, 0) == 1 }, "I/O works again after the outage")
        }
    }

    /// `l_pid` of the lock F_GETLK finds conflicting with a write lock on the whole file (0: none).
    static func lockHolderPID(_ fd: Int32) -> Int32 {
        var fl = flock()
        fl.l_type = Int16(F_WRLCK)
        fl.l_whence = Int16(SEEK_SET)
        guard fcntl(fd, F_GETLK, &fl) == 0, fl.l_type != Int16(F_UNLCK) else { return 0 }
        return fl.l_pid
    }

    /// F_OFD_SETLK (37, <bits/fcntl-linux.h>; Glibc exports it only under _GNU_SOURCE) on the whole file;
    /// 0 or the errno.
    static func ofdLock(_ fd: Int32, _ type: Int32) -> Int32 {
        var fl = flock()
        fl.l_type = Int16(type)
        fl.l_whence = Int16(SEEK_SET)
        return fcntl(fd, 37, &fl) == 0 ? 0 : errno
    }

    /// The flag through `berth mount` (the background server is started with the same arguments): refused on
    /// another type before anything is attached; on ebs the lock is the kernel's (the holder's own pid), and
    /// without it the server holds it (pid 0), as the contract's EIO during an outage needs.
    @Test func berthMountTakesLocalLocksOnEBSOnlyAndWithoutItTheServerHoldsTheLocks() throws {
        let berth = try Berth()
        let efs = try berth.createVolume("--type", "efs", "--az", "us-east-1a")
        let refused = try berth.run("mount", efs, try berth.mountpoint("e"), "--az", "us-east-1a", "--local-locks", "--background")
        #expect(refused.status == 1)
        #expect(refused.stderr.hasPrefix("InvalidParameterValue: --local-locks is for ebs volumes only"), "\(refused.stderr)")
        #expect(try berth.attachments(efs).isEmpty)
        #expect(!ServedMount.isMounted(berth.root + "/e"))

        for local in [true, false] {
            let volume = try berth.createVolume("--type", "ebs", "--az", "us-east-1a", "--size-gib", "1")
            let name = local ? "l" : "s"
            let mounted = try berth.run(["mount", volume, try berth.mountpoint(name), "--az", "us-east-1a", "--background"]
                                        + (local ? ["--local-locks"] : []))
            #expect(mounted.status == 0, "\(mounted.stderr)")
            let path = berth.root + "/" + name + "/f"
            #expect(writeFile(path, [1, 2, 3]) == 0)
            let holder = try LockHolder(path: path, kind: "fcntl")
            let fd = open(path, O_RDWR)
            #expect(Self.lockHolderPID(fd) == (local ? holder.process.processIdentifier : 0))
            close(fd)
            holder.kill9()
            #expect(try berth.run("unmount", berth.root + "/" + name).status == 0)
        }
    }

}
