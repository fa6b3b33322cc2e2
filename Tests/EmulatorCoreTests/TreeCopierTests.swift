import CBerthShims
import Foundation
import Testing
@testable import EmulatorCore

@Suite struct TreeCopierTests {
    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("berth-copy-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func copiesFilesDirectoriesLinksModesAndUserXattrs() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let source = root + "/src"
        try FileManager.default.createDirectory(atPath: source + "/a/b", withIntermediateDirectories: true)
        try Data("hello".utf8).write(to: URL(fileURLWithPath: source + "/a/b/file.txt"))
        try Data(repeating: 7, count: 3 << 20).write(to: URL(fileURLWithPath: source + "/big.bin"))
        _ = FileManager.default.createFile(atPath: source + "/empty", contents: Data())
        try FileManager.default.createSymbolicLink(atPath: source + "/link", withDestinationPath: "a/b/file.txt")
        chmod(source + "/a/b/file.txt", 0o640)
        let xattrSet = berth_lsetxattr(source + "/a/b/file.txt", "user.berth.case", "File.TXT", 8, 0) == 0

        let report = try TreeCopier().copyTree(from: source, to: root + "/dst")

        #expect(report.files == 4)
        #expect(report.directories == 3)
        #expect(report.bytes == 5 + 3 << 20)
        #expect(try String(contentsOfFile: root + "/dst/a/b/file.txt", encoding: .utf8) == "hello")
        #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/dst/big.bin")) == Data(repeating: 7, count: 3 << 20))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root + "/dst/link") == "a/b/file.txt")
        var info = stat()
        stat(root + "/dst/a/b/file.txt", &info)
        #expect(info.st_mode & 0o777 == 0o640)
        if xattrSet {
            var value = [UInt8](repeating: 0, count: 16)
            let n = berth_lgetxattr(root + "/dst/a/b/file.txt", "user.berth.case", &value, 16)
            #expect(n == 8 && String(decoding: value.prefix(8), as: UTF8.self) == "File.TXT")
        }
    }

    @Test func withoutReflinkEveryFileIsCopied() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/src", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/src/f"))
        let report = try TreeCopier(allowReflink: false).copyTree(from: root + "/src", to: root + "/dst")
        #expect(report.method == .copy)
        #expect(report.copiedFiles == 1 && report.reflinkedFiles == 0)
    }

    @Test func anExistingDestinationIsRefusedAndLeftAlone() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/src", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/dst", withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: root + "/dst/keep"))
        #expect(throws: TreeCopier.CopyError.self) { try TreeCopier().copyTree(from: root + "/src", to: root + "/dst") }
        #expect(try String(contentsOfFile: root + "/dst/keep", encoding: .utf8) == "keep")
    }
}
