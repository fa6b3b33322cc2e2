import BerthTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// PostgreSQL's programs (Debian's packages put them in /usr/lib/postgresql/<major>/bin), the `postgres`
/// user they run as and runuser to run them as it; nil where any is missing.
struct PostgresInstallation: Sendable {
    let bin: String
    let uid: uid_t
    let gid: gid_t

    static let tools = ["initdb", "pg_ctl", "postgres", "psql", "pg_amcheck", "pg_checksums"]

    static let found: PostgresInstallation? = {
        let root = "/usr/lib/postgresql"
        let majors = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        guard let major = majors.last, let user = getpwnam("postgres"),
              FileManager.default.isExecutableFile(atPath: "/usr/sbin/runuser"),
              FileManager.default.isExecutableFile(atPath: "/usr/bin/timeout") else { return nil }
        let bin = "\(root)/\(major)/bin"
        guard tools.allSatisfy({ FileManager.default.isExecutableFile(atPath: bin + "/" + $0) }) else { return nil }
        return PostgresInstallation(bin: bin, uid: user.pointee.pw_uid, gid: user.pointee.pw_gid)
    }()
}

/// One PostgreSQL cluster whose data directory is on a mount, run with initdb and pg_ctl as the postgres
/// user on a private port and socket directory (never the system service), as scripts/bench-apps.sh does.
final class PostgresCluster {
    let installation: PostgresInstallation
    let data: String
    /// Outside the mount, so that they stay reachable while the mount is cut off: a socket directory per
    /// start (as /run after a reboot, none is left over from the server that lost power) and the logs.
    let root: String
    var sockets: String { root + "/run-\(starts)" }
    let port = Int.random(in: 20_000..<60_000)
    /// The settings every start gets on its command line (a change to postgresql.conf made after initdb
    /// synced it would itself be undone by a power loss).
    let settings: [String]
    private(set) var postmaster: pid_t?
    private var starts = 0

    init(_ installation: PostgresInstallation, data: String, root: String, settings: [String]) throws {
        self.installation = installation
        self.data = data
        self.root = root
        self.settings = ["listen_addresses=''"] + settings
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        guard chown(root, installation.uid, installation.gid) == 0 else {
            throw MountTestError.notReady("chown \(root): errno \(errno)")
        }
    }

    /// Runs one of PostgreSQL's programs as the postgres user, killed after `seconds`. Through python's
    /// subprocess, which closes every descriptor but 0, 1 and 2 in the child: Foundation's Process watches
    /// for its child's end through a socket the child inherits, and a postmaster started by pg_ctl would
    /// otherwise keep it open (the wait for pg_ctl then never ends).
    func run(_ tool: String, _ arguments: [String], seconds: Int = 600) throws -> CommandRun {
        try CommandRun.run(URL(fileURLWithPath: "/usr/bin/env"),
                           ["python3", "-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))",
                            "/usr/sbin/runuser", "-u", "postgres", "--", "/usr/bin/timeout", "-s", "KILL", "\(seconds)",
                            installation.bin + "/" + tool] + arguments,
                           in: URL(fileURLWithPath: "/"))
    }

    /// The data directory made on the mount (owned by postgres, its name synced as an administrator's
    /// `mkdir` and `sync` would), then `initdb --data-checksums`, which syncs everything it wrote.
    func create() throws -> CommandRun {
        let parent = (data as NSString).deletingLastPathComponent
        guard mkdir(data, 0o700) == 0, chown(data, installation.uid, installation.gid) == 0,
              chmod(parent, 0o755) == 0, fsyncDirectory(parent) else {
            throw MountTestError.notReady("making \(data): errno \(errno)")
        }
        return try run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--data-checksums"])
    }

    /// The log of the `n`th start (1 is the first).
    func logPath(_ n: Int) -> String { root + "/start-\(n).log" }
    func log(_ n: Int) -> String { readFile(logPath(n)).map { String(decoding: $0, as: UTF8.self) } ?? "" }

    /// `pg_ctl start -w`: returns once the server accepts connections (crash recovery included) or failed.
    func start() throws -> CommandRun {
        starts += 1
        guard mkdir(sockets, 0o700) == 0, chown(sockets, installation.uid, installation.gid) == 0 else {
            throw MountTestError.notReady("making \(sockets): errno \(errno)")
        }
        let options = (["-p", "\(port)", "-k", sockets] + settings.flatMap { ["-c", $0] }).joined(separator: " ")
        let run = try run("pg_ctl", ["-D", data, "-w", "-t", "600", "-l", logPath(starts), "-o", options, "start"])
        if let pidFile = readFile(data + "/postmaster.pid"),
           let first = String(decoding: pidFile, as: UTF8.self).split(separator: "\n").first, let pid = pid_t(first) {
            postmaster = pid
        }
        return run
    }

    func stop() throws -> CommandRun {
        try run("pg_ctl", ["-D", data, "-w", "-t", "600", "-m", "fast", "stop"])
    }

    /// psql, unaligned and tuples only, stopping at the first error.
    func psql(_ sql: String) throws -> CommandRun {
        try run("psql", ["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", sockets, "-p", "\(port)",
                         "-U", "postgres", "-d", "postgres", "-c", sql])
    }

    var socketPath: String { sockets + "/.s.PGSQL.\(port)" }

    /// This cluster's server processes: PostgreSQL's binary, working in the data directory.
    func processes() -> [pid_t] {
        let binary = installation.bin + "/postgres"
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = pid_t(entry),
                  let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/cwd"),
                  let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/exe"),
                  cwd == data, exe == binary else { return nil }
            return pid
        }
    }

    /// SIGKILL to the postmaster's process group (pg_ctl makes it a group leader) and to every process of
    /// this cluster left; true once none is left. Then waits (a minute at most) for the postmaster to be
    /// reaped (it is init's child): the next start must not find its pid alive in a lock file.
    @discardableResult
    func killAll() -> Bool {
        let left = processes()
        if let postmaster, left.contains(postmaster) {
            if getpgid(postmaster) == postmaster { kill(-postmaster, SIGKILL) }
            kill(postmaster, SIGKILL)
        }
        let gone = waitUntil(timeout: 60) {
            let left = processes()
            for pid in left { kill(pid, SIGKILL) }
            return left.isEmpty
        }
        if gone, let postmaster {
            _ = waitUntil(timeout: 60) { kill(postmaster, 0) != 0 }
            self.postmaster = nil
        }
        return gone
    }
}

private func fsyncDirectory(_ path: String) -> Bool {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return fsync(fd) == 0
}

/// What the load client wrote: the ids sent, the ids whose COMMIT was acknowledged (by commit mode) and
/// why each client stopped.
struct LoadLog {
    var sent: [Int] = []
    var acknowledged: [String: [Int]] = [:]
    var errors: [String] = []

    init(_ path: String) {
        let text = readFile(path).map { String(decoding: $0, as: UTF8.self) } ?? ""
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ", maxSplits: 2)
            switch words.first {
            case "sent": if words.count > 1, let id = Int(words[1]) { sent.append(id) }
            case "ack": if words.count > 2, let id = Int(words[2]) { acknowledged[String(words[1]), default: []].append(id) }
            case "error": errors.append(String(line))
            default: break
            }
        }
    }
}

/// PostgreSQL on an ebs mount, the power lost while clients commit (`berth az fail --power-loss`), what is
/// left of the server killed, the AZ recovered and the server started again: crash recovery succeeds, every
/// row whose synchronous COMMIT was acknowledged is there, amcheck finds nothing and, after a clean stop,
/// every page's checksum is right. And the control: with fsync=off acknowledged rows are lost, so the
/// power loss takes back what was not made durable (docs/SEMANTICS.md §Power loss).
@Suite(.serialized, .enabled(if: canMount, "needs root and /dev/fuse"),
       .enabled(if: PostgresInstallation.found != nil,
                "needs PostgreSQL (initdb, pg_ctl, postgres, psql, pg_amcheck, pg_checksums in /usr/lib/postgresql/<major>/bin), a postgres user, runuser and timeout (Debian: apt-get install postgresql)"))
struct PostgresPowerLossTests {
    typealias Berth = CLIMountTests.Berth

    /// Rows whose commit was acknowledged before the load was cut: enough that the table outgrows
    /// shared_buffers, so that evicted heap and index pages were written, unsynced, before the power loss.
    static let acknowledgedBeforeTheFailure = 600

    @Test(arguments: ["on", "off"])
    func postgresRecoversEveryCommittedRow(fsync: String) throws {
        let installation = try #require(PostgresInstallation.found)
        let berth = try Berth()
        let (_, a) = try berth.mountedEBSVolumeInUSEast1a()
        // 512 kB of shared buffers (64 pages): the clients' rows are written out long before a checkpoint.
        let cluster = try PostgresCluster(installation, data: a + "/pgdata", root: berth.root + "/pg",
                                          settings: ["fsync=\(fsync)", "shared_buffers=512kB", "max_connections=10"])
        let loader = Process()
        defer {
            if loader.isRunning { kill(loader.processIdentifier, SIGKILL) }
            cluster.killAll()
            berth.recoverAndCutOff(a)
        }
        let initdb = try cluster.create()
        try #require(initdb.status == 0, "initdb: \(initdb.stderr)")
        let first = try cluster.start()
        try #require(first.status == 0, "pg_ctl start: \(first.stderr) \(cluster.log(1).suffix(2000))")
        let table = try cluster.psql("""
            CREATE TABLE t (id bigint PRIMARY KEY, synchronous boolean NOT NULL, payload text NOT NULL);
            CREATE INDEX t_length ON t (length(payload))
            """)
        try #require(table.status == 0, "\(table.stderr)")

        // Two clients commit synchronously (the default), one with synchronous_commit off, whose
        // acknowledged commits PostgreSQL allows to be lost (a few hundred ms of them).
        let logPath = berth.root + "/load.log"
        loader.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        loader.arguments = ["python3", "-c", Self.loadScript, cluster.socketPath, logPath, "sync,sync,async"]
        try loader.run()
        // Polled every 0.2 s (the log is read whole each time), for up to 5 minutes on a loaded machine.
        let deadline = Date().addingTimeInterval(300)
        while LoadLog(logPath).acknowledged["sync", default: []].count < Self.acknowledgedBeforeTheFailure,
              loader.isRunning, Date() < deadline {
            usleep(200_000)
        }
        let progress = LoadLog(logPath)
        try #require(progress.acknowledged["sync", default: []].count >= Self.acknowledgedBeforeTheFailure && loader.isRunning,
                     "the clients did not commit: \(progress.errors) \(cluster.log(1).suffix(2000))")

        let fail = try berth.run("az", "fail", "us-east-1a", "--power-loss", "--format", "json")
        #expect(fail.status == 0, "\(fail.stderr)")
        let answers = ((try? JSONSerialization.jsonObject(with: Data(fail.stdout.utf8))) as? [String: Any])
            .flatMap { $0["powerLoss"] as? [[String: Any]] }?.compactMap { $0["answer"] as? String }
        #expect(answers == ["applied"], "the mount's server took back what was not durable: \(fail.stdout)")
        // What is left of the server (it may be retrying, or dead of a PANIC at its first EIO) is killed,
        // as a power loss would; its clients' connections end with it.
        #expect(cluster.killAll(), "PostgreSQL's processes outlived SIGKILL")
        #expect(waitUntil(timeout: 60) { !loader.isRunning })
        if loader.isRunning { kill(loader.processIdentifier, SIGKILL) }
        loader.waitUntilExit()
        let load = LoadLog(logPath)

        #expect(try berth.run("az", "recover", "us-east-1a").status == 0)
        let again = try cluster.start()
        let ids = try cluster.psql("SELECT id FROM t ORDER BY id")
        let size = try cluster.psql("SELECT pg_relation_size('t') / 1024").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let present = Set(ids.stdout.split(separator: "\n").compactMap { Int($0) })
        let synchronous = load.acknowledged["sync", default: []], asynchronous = load.acknowledged["async", default: []]
        let lostSynchronous = synchronous.filter { !present.contains($0) }
        let lostAsynchronous = asynchronous.filter { !present.contains($0) }
        let acknowledged = Set(synchronous + asynchronous)
        let inFlight = load.sent.filter { !acknowledged.contains($0) }
        print("PostgreSQL power loss, fsync=\(fsync): acknowledged \(synchronous.count) synchronous commits "
              + "(lost \(lostSynchronous.count)) and \(asynchronous.count) with synchronous_commit off "
              + "(lost \(lostAsynchronous.count)); \(inFlight.count) in flight, \(inFlight.filter(present.contains).count) "
              + "of them present; restart \(again.status == 0 ? "recovered" : "failed"), table \(size.isEmpty ? "gone" : size + " kB")")

        if fsync == "on" {
            try #require(again.status == 0, "crash recovery: \(again.stderr) \(cluster.log(2).suffix(3000))")
            #expect(cluster.log(2).contains("database system was interrupted") && cluster.log(2).contains("redo done"),
                    "the restart ran crash recovery: \(cluster.log(2).suffix(3000))")
            #expect(ids.status == 0, "\(ids.stderr)")
            #expect(lostSynchronous.isEmpty, "acknowledged synchronous commits lost: \(lostSynchronous.prefix(10))")
            #expect(Set(present).isSubset(of: Set(load.sent)), "rows that were never sent")
            // Every table and index (catalogs included): heap pages, and each index against its heap.
            let amcheck = try cluster.run("pg_amcheck", ["-h", cluster.sockets, "-p", "\(cluster.port)", "-U", "postgres",
                                                         "--install-missing", "--heapallindexed", "--parent-check",
                                                         "--rootdescend", "--database=postgres"])
            #expect(amcheck.status == 0 && amcheck.stdout.isEmpty, "pg_amcheck: \(amcheck.stdout.prefix(2000)) \(amcheck.stderr)")
            let stop = try cluster.stop()
            #expect(stop.status == 0, "\(stop.stderr)")
            let checksums = try cluster.run("pg_checksums", ["--check", "-D", cluster.data])
            #expect(checksums.status == 0 && checksums.stdout.contains("Bad checksums:  0"),
                    "pg_checksums: \(checksums.stdout) \(checksums.stderr)")
        } else {
            // Nothing was synced after initdb: the restart finds the cluster as initdb left it (or fails).
            #expect(again.status != 0 || !lostSynchronous.isEmpty,
                    "with fsync=off acknowledged commits are lost: \(present.count) rows present, \(synchronous.count) acknowledged")
            _ = try? cluster.stop()
        }
    }

    /// The load: one thread per client (argument 3, comma-separated `sync` or `async`), each on its own
    /// connection speaking PostgreSQL's protocol over the Unix socket (argument 1), committing one
    /// transaction after another: a row inserted, an older row updated. It logs to argument 2 `sent ID`
    /// before each transaction, `ack MODE ID` once its COMMIT is acknowledged and `error CLIENT …` when it
    /// stops.
    static let loadScript = #"""
        import socket, struct, sys, threading
        path, log_path, modes = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
        log = open(log_path, "a")
        lock = threading.Lock()

        def say(*words):
            with lock:
                log.write(" ".join(str(w) for w in words) + "\n")
                log.flush()

        class Connection:
            def __init__(self):
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.settimeout(600)
                self.s.connect(path)
                body = struct.pack("!i", 196608) + b"user\0postgres\0database\0postgres\0\0"
                self.s.sendall(struct.pack("!i", len(body) + 4) + body)
                error = self.wait()
                if error:
                    raise RuntimeError(error)

            def receive(self, n):
                data = b""
                while len(data) < n:
                    chunk = self.s.recv(n - len(data))
                    if not chunk:
                        raise EOFError("the server closed the connection")
                    data += chunk
                return data

            def wait(self):
                error = None
                while True:
                    kind = self.receive(1)
                    body = self.receive(struct.unpack("!i", self.receive(4))[0] - 4)
                    if kind == b"E" and error is None:
                        fields = [f for f in body.split(b"\0") if f[:1] == b"M"]
                        error = fields[0][1:].decode(errors="replace") if fields else "error"
                    elif kind == b"R" and struct.unpack("!i", body[:4])[0] != 0:
                        raise RuntimeError("the server asks for a password: trust expected")
                    elif kind == b"Z":
                        return error

            def query(self, sql):
                data = sql.encode() + b"\0"
                self.s.sendall(b"Q" + struct.pack("!i", len(data) + 4) + data)
                return self.wait()

        def client(number, mode):
            try:
                connection = Connection()
                if mode == "async":
                    error = connection.query("SET synchronous_commit = off")
                    if error:
                        raise RuntimeError(error)
                i = number + 1
                while True:
                    say("sent", i)
                    error = connection.query(
                        f"BEGIN; INSERT INTO t VALUES ({i}, {mode == 'sync'}, repeat('x', {500 + i % 1500})); "
                        f"UPDATE t SET payload = payload || 'y' WHERE id = {max(1, i // 2)}; COMMIT")
                    if error:
                        say("error", number, error.replace("\n", " "))
                        return
                    say("ack", mode, i)
                    i += len(modes)
            except Exception as e:
                say("error", number, repr(e).replace("\n", " "))

        threads = [threading.Thread(target=client, args=(n, m)) for n, m in enumerate(modes)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        """#
}
