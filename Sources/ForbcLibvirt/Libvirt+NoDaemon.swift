import ForbcCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// libvirt's own answer for 'qemu:///system' on a host where no daemon listens, known without loading libvirt (its
/// ~70 libraries cost more than the rest of a discovery). libvirt 9's remote driver (remote_sockets.c) connects to
/// the modular daemon's socket when it exists, else to the monolithic daemon's when that exists, else to the one of
/// the build's default mode, which is the monolithic one's in Debian's build; connect(2) then fails with ENOENT,
/// and libvirt says "Failed to connect socket to 'PATH': No such file or directory". Only where all that surely
/// holds is the answer given here; anywhere else (another URI, a socket present, a client configuration that sets
/// anything, libvirt's libraries not where Debian installs them, LD_LIBRARY_PATH set) libvirt is loaded and asked.
enum LibvirtNoDaemon {
    /// The URI whose answer this knows.
    static let uri = "qemu:///system"
    /// The sockets the remote driver chooses between for qemu:///system, as libvirt names them (RUNSTATEDIR).
    static let sockets = (direct: "/var/run/libvirt/virtqemud-sock", legacy: "/var/run/libvirt/libvirt-sock")
    /// libvirt's client configuration files (the system one, read as root; the user's otherwise).
    static var configurations: [String] {
        let home = ProcessInfo.processInfo.environment["HOME"].map { "\($0)/.config" }
        let user = ProcessInfo.processInfo.environment["XDG_CONFIG_HOME"] ?? home
        return ["/etc/libvirt/libvirt.conf"] + (user.map { ["\($0)/libvirt/libvirt.conf"] } ?? [])
    }
    /// Where Debian installs libvirt0's libraries (its multiarch directory), if this architecture has one here.
    static var libraryDirectory: String? {
        #if arch(x86_64)
            "/usr/lib/x86_64-linux-gnu"
        #elseif arch(arm64)
            "/usr/lib/aarch64-linux-gnu"
        #else
            nil
        #endif
    }

    /// libvirt's message for connecting to `uri`, when it is surely the no-daemon one; nil when libvirt must say.
    static func message(for uri: String) -> String? {
        guard uri == Self.uri, access(sockets.direct, F_OK) != 0, access(sockets.legacy, F_OK) != 0,
            errno == ENOENT, librariesInstalled(), configurations.allSatisfy(hasNoSettings)
        else { return nil }
        return "Failed to connect socket to '\(sockets.legacy)': No such file or directory"
    }

    /// Whether libvirt's two libraries are regular, non-empty files where Debian installs them, and the loader
    /// looks nowhere else first.
    static func librariesInstalled() -> Bool {
        guard let directory = libraryDirectory, ProcessInfo.processInfo.environment["LD_LIBRARY_PATH"] == nil else {
            return false
        }
        return [Libvirt.libraries.virt, Libvirt.libraries.qemu].allSatisfy { name in
            var info = stat()
            return stat("\(directory)/\(name)", &info) == 0 && info.st_mode & S_IFMT == S_IFREG && info.st_size > 0
        }
    }

    /// Whether a client configuration file is absent, or holds only comments and blank lines.
    static func hasNoSettings(_ path: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: path) else { return access(path, F_OK) != 0 }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").allSatisfy { line in
            let text = line.drop { $0 == " " || $0 == "\t" }
            return text.isEmpty || text.hasPrefix("#")
        }
    }
}
