"""Seeded random file operations from several processes on two mounts of one volume.

Usage: random_ops.py SEED MOUNT_A MOUNT_B OUTSIDE OPS SECONDS [--no-directory-moves]
Prints one JSON object: operations run, errno counts, and examples of EIO and ESTALE.
--no-directory-moves: directories are made only under names that are never renamed, so no rename moves one,
and symbolic links only under names that no create or rename touches. A create that meets a link made
at its name since the kernel's lookup answers ESTALE, which the kernel retries once: two such races in a
row on one name reach the program (SEMANTICS.md §Errors), which is all this mode leaves out. A directory that another mount moved
to another parent can make the kernel itself answer ESTALE to a lookup (fs/dcache.c, __d_unalias: the
directory's cached alias cannot be moved while a rename holds the lock), which no server can prevent.
Symbolic links point into OUTSIDE (absolute) as well as inside the volume: run it in a mount namespace
where OUTSIDE is covered by a tmpfs, so that following a link in this process cannot reach the real
directory and only the mount server could.
"""
import errno, json, os, random, sys, time
from multiprocessing import Process, Queue

seed, mount_a, mount_b, outside, ops, seconds = (
    int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6]))
moves_directories = "--no-directory-moves" not in sys.argv[7:]
NAMES = ["x", "y", "d", "e", "d/x", "d/y", "d/e", "e/x", "d/e/x"]
# With --no-directory-moves, directories are made only under these names, which are never renamed, and
# symbolic links only under these, which are never renamed or created over.
DIRECTORIES = {"d", "e", "d/e"}
LINKS = {"y", "d/y"}
TARGETS = [outside + "/victim", outside + "/made", outside, "x", "../x", "d"]
WATCHED = {errno.EIO: "EIO", errno.ESTALE: "ESTALE"}


def worker(index, queue):
    rng = random.Random(seed * 1000 + index)
    counts, examples, done = {}, [], 0
    deadline = time.monotonic() + seconds
    while done < ops and time.monotonic() < deadline:
        root = rng.choice([mount_a, mount_b])
        rel = rng.choice(NAMES)
        path = root + "/" + rel
        other = rng.choice([mount_a, mount_b]) + "/" + rng.choice(NAMES)
        kind = rng.choice(["create", "excl", "trunc", "write", "read", "unlink", "mkdir", "rmdir", "rename",
                           "symlink", "link", "stat", "lstat", "listdir", "chmod", "readlink", "openat"])
        done += 1
        if not moves_directories and rel in LINKS and kind in ("create", "excl", "trunc", "rename"):
            continue
        if not moves_directories and kind == "symlink" and rel not in LINKS:
            continue
        try:
            if kind == "create":
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
            elif kind == "excl":
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            elif kind == "trunc":
                os.close(os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644))
            elif kind == "write":
                fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(fd, b"w" * rng.randint(1, 64))
                finally:
                    os.close(fd)
            elif kind == "read":
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.read(fd, 4096)
                finally:
                    os.close(fd)
            elif kind == "unlink":
                os.unlink(path)
            elif kind == "mkdir":
                if not moves_directories and rel not in DIRECTORIES:
                    continue
                os.mkdir(path, 0o755)
            elif kind == "rmdir":
                os.rmdir(path)
            elif kind == "rename":
                if not moves_directories and rel in DIRECTORIES:
                    continue
                os.rename(path, other.replace(mount_b if root == mount_a else mount_a, root))
            elif kind == "symlink":
                os.symlink(rng.choice(TARGETS), path)
            elif kind == "link":
                os.link(path, other.replace(mount_b if root == mount_a else mount_a, root), follow_symlinks=False)
            elif kind == "stat":
                os.stat(path)
            elif kind == "lstat":
                os.lstat(path)
            elif kind == "listdir":
                os.listdir(path)
            elif kind == "chmod":
                os.chmod(path, rng.choice([0o644, 0o600, 0o755]))
            elif kind == "readlink":
                os.readlink(path)
            elif kind == "openat":
                parent, _, leaf = path.rpartition("/")
                dfd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    os.close(os.open(leaf, os.O_RDONLY, dir_fd=dfd))
                finally:
                    os.close(dfd)
        except OSError as error:
            name = errno.errorcode.get(error.errno, str(error.errno))
            counts[name] = counts.get(name, 0) + 1
            if error.errno in WATCHED and len(examples) < 20:
                examples.append("%s %s -> %s" % (kind, path, name))
    queue.put({"ops": done, "errors": counts, "examples": examples})


if __name__ == "__main__":
    queue = Queue()
    workers = [Process(target=worker, args=(i, queue)) for i in range(2)]
    for w in workers:
        w.start()
    results = [queue.get() for _ in workers]
    for w in workers:
        w.join()
    merged = {"ops": 0, "errors": {}, "examples": []}
    for r in results:
        merged["ops"] += r["ops"]
        merged["examples"] += r["examples"]
        for k, v in r["errors"].items():
            merged["errors"][k] = merged["errors"].get(k, 0) + v
    print(json.dumps(merged, sort_keys=True))
