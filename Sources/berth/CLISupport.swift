import ArgumentParser
import Foundation
import StorageCatalog
import StoragePlanner

/// `berth --version`.
let berthVersion = "0.14.0"

/// Help text that reads well at any width: prose lines of one paragraph are joined so that ArgumentParser
/// wraps them once (not once by the source's line breaks and again at 80 columns); indented lines
/// (examples) and blank lines are kept as written. Examples are kept under 80 columns (a test checks).
func helpText(_ text: String) -> String {
    var out: [String] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
        let isProse = !line.isEmpty && !line.hasPrefix(" ")
        if isProse, let last = out.last, !last.isEmpty, !last.hasPrefix(" "), !last.hasSuffix(":") {
            out[out.count - 1] = last + " " + line
        } else {
            out.append(line)
        }
    }
    return out.joined(separator: "\n")
}

/// Text for standard output, in the style standard output allows (ASCII without a UTF-8 locale).
func printOut(_ text: String, terminator: String = "\n") {
    print(OutputStyle.standardOutput().apply(text), terminator: terminator)
}

/// A message for standard error, in the style standard error allows.
func printError(_ message: Any) {
    FileHandle.standardError.write(Data(OutputStyle.standardError().apply("\(message)\n").utf8))
}

/// "1 volume", "2 volumes".
func counted(_ n: Int, _ singular: String, _ plural: String? = nil) -> String {
    "\(n) \(n == 1 ? singular : plural ?? singular + "s")"
}

/// `berth recomend x`: ArgumentParser says "2 unexpected arguments"; Berth names the command it did not
/// know and the closest one.
enum UnknownCommand {
    /// Walks the command words from `root` (`berth volume creat`); nil when every word names a command,
    /// an option comes first, or the command reached takes arguments of its own.
    static func message(arguments: [String], root: any ParsableCommand.Type) -> String? {
        var command = root
        var path = ["berth"]
        // `berth help volume create`: ArgumentParser's own help command.
        if arguments.first == "help" { return nil }
        for word in arguments {
            let subcommands = command.configuration.subcommands
            // A command with a default subcommand (`berth run TASKDEF.json`) takes arguments of its own.
            guard !subcommands.isEmpty, !word.hasPrefix("-"), command.configuration.defaultSubcommand == nil else { return nil }
            var names: [String] = []
            for sub in subcommands { names.append(sub._commandName) }
            guard let index = names.firstIndex(of: word) else {
                return message(word: word, commands: names, path: path.joined(separator: " "))
            }
            command = subcommands[index]
            path.append(word)
        }
        return nil
    }

    static func message(word: String, commands: [String], path: String) -> String {
        let visible = commands.filter { !$0.hasPrefix("_") && $0 != "serve-mount" }
        let closest = visible.map { ($0, distance(word, $0)) }.min { $0.1 < $1.1 }
        var text = "Error: unknown command '\(path == "berth" ? "" : path.dropFirst(6) + " ")\(word)'"
        if let (name, d) = closest, d <= max(2, name.count / 3) { text += "; did you mean '\(name)'?" }
        text += "\nCommands: \(visible.joined(separator: ", "))\n  See '\(path) --help' for more information."
        return text
    }

    /// Levenshtein distance.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// `berth _profile-schema`: docs/profile.schema.json, generated from the profile model the reader uses.
struct ProfileSchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_profile-schema", abstract: "Print the JSON Schema of workload profiles (docs/profile.schema.json).",
        shouldDisplay: false)

    @Flag(help: "Print the field table of docs/PROFILE.md instead.") var markdown = false

    func run() {
        print(markdown ? ProfileSchema.markdownTable() : ProfileSchema.render(), terminator: "")
    }
}

/// `berth _man`: the manual page, generated from the commands' own help (docs/berth.1 is its output,
/// checked by a test).
struct ManCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_man", abstract: "Print berth's manual page (roff) generated from the commands' help.",
        shouldDisplay: false)

    func run() {
        print(ManPage.render(), terminator: "")
    }
}

enum ManPage {
    static func render() -> String {
        var out = """
            .TH BERTH 1 "" "berth \(berthVersion)" "User Commands"
            .SH NAME
            berth \\- \(escape(Berth.configuration.abstract))
            .SH SYNOPSIS
            .B berth
            \\fIcommand\\fR [\\fIoptions\\fR]
            .br
            .B berth
            \\-\\-version | \\-\\-help | \\-\\-generate\\-completion\\-script bash|zsh|fish
            .SH DESCRIPTION
            .nf
            \(escape(Berth.helpMessage(columns: 78)))
            .fi
            .SH COMMANDS

            """
        for (path, command) in commands(Berth.self, path: "berth") where path != "berth" {
            out += ".SS \"\(path)\"\n.nf\n\(escape(Berth.helpMessage(for: command, columns: 78)))\n.fi\n"
        }
        out += """
            .SH SHELL COMPLETION
            .nf
            berth \\-\\-generate\\-completion\\-script bash > /etc/bash_completion.d/berth
            berth \\-\\-generate\\-completion\\-script zsh > "${fpath[1]}/_berth"
            berth \\-\\-generate\\-completion\\-script fish > ~/.config/fish/completions/berth.fish
            .fi
            .SH ENVIRONMENT
            .TP
            .B BERTH_STATE_DIR
            where emulated volumes, attachments and snapshots live (default ~/.local/state/berth)
            .TP
            .B NO_COLOR
            when set and not empty, no colour even on a terminal
            .TP
            .B LC_ALL, LC_CTYPE, LANG
            text output uses Unicode marks only when the locale is UTF\\-8
            .SH SEE ALSO
            README.md, docs/PROFILE.md, docs/JSON.md, docs/RULES.md, docs/SEMANTICS.md in the Berth repository

            """
        return out
    }

    /// Every command below `root`, depth first, with its full name; hidden commands left out.
    static func commands(_ root: any ParsableCommand.Type, path: String) -> [(String, any ParsableCommand.Type)] {
        var result = [(path, root)]
        for sub in root.configuration.subcommands where sub.configuration.shouldDisplay {
            result += commands(sub, path: path + " " + sub._commandName)
        }
        return result
    }

    /// roff: backslashes doubled as \e, a line starting with . or ' protected.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\e").split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(".") || $0.hasPrefix("'") ? "\\&" + $0 : String($0) }
            .map { $0.replacingOccurrences(of: "-", with: "\\-") }
            .joined(separator: "\n")
    }
}

/// ArgumentParser's own main, as `AsyncParsableCommand.main()` does it, for `Berth.main` to call after
/// its own check.
func runParsed(_ arguments: [String]) async {
    do {
        var command = try Berth.parseAsRoot(arguments)
        if var asyncCommand = command as? any AsyncParsableCommand {
            try await asyncCommand.run()
        } else {
            try command.run()
        }
    } catch {
        Berth.exit(withError: error)
    }
}
