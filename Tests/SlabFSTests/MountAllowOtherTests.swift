import Foundation
import Glibc
@testable import SlabFS
import Testing

/// allow_other: requests run with the caller's fsuid, fsgid and groups, so
/// files are created owned by the caller and the backing filesystem checks
/// the caller's permissions (the kernel checks them too: default_permissions).
@Suite(.enabled(if: canMount && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
struct MountAllowOtherTests {
    @Test("with allow_other, nobody creates files owned by nobody and cannot read root's 0600 file")
    func callerCredentials() throws {
        try withMount(["-o", "allow_other"]) { mount in
            #expect(chmod(mount.source, 0o777) == 0)
            // A change behind the mount shows once its event is read (a few
            // ms; longer on a loaded machine): the kernel checks nobody's
            // create against the root's mode it holds.
            #expect(eventually(within: 5) { (try? fileStatus(mount.mountpoint).get().st_mode & 0o777) == 0o777 })
            try writeFile(mount.backing("secret"), "root only")
            #expect(chmod(mount.backing("secret"), 0o600) == 0)

            let created = asNobody("echo hi > '\(mount.mounted("by-nobody"))' && mkdir '\(mount.mounted("dir-by-nobody"))'")
            #expect(created.status == 0, "\(created.output)")
            for name in ["by-nobody", "dir-by-nobody"] {
                let owner = try fileStatus(mount.backing(name)).get()
                #expect(owner.st_uid == 65534 && owner.st_gid == 65534, "\(name)")
            }
            #expect(try readFile(mount.backing("by-nobody")) == "hi\n")

            let read = asNobody("cat '\(mount.mounted("secret"))'")
            #expect(read.status != 0)
            #expect(read.output.contains("Permission denied"), "\(read.output)")
            let chown = asNobody("chown 0 '\(mount.mounted("by-nobody"))'")
            #expect(chown.status != 0)
            #expect((try fileStatus(mount.backing("by-nobody")).get()).st_uid == 65534)
        }
    }

    @Test("with allow_other, a caller's supplementary group grants access in the backing directory")
    func supplementaryGroups() throws {
        try withMount(["-o", "allow_other"]) { mount throws in  // (its only `try`s are inside #expect)
            #expect(mkdir(mount.backing("team"), 0o700) == 0)
            #expect(chown(mount.backing("team"), 0, 4242) == 0)
            #expect(chmod(mount.backing("team"), 0o770) == 0)  // not through the umask
            let member = asNobody("touch '\(mount.mounted("team/by-member"))'", groups: "4242")
            #expect(member.status == 0, "\(member.output)")
            #expect((try fileStatus(mount.backing("team/by-member")).get()).st_uid == 65534)
            let outsider = asNobody("touch '\(mount.mounted("team/by-outsider"))'")
            #expect(outsider.status != 0)
            #expect(fileStatus(mount.backing("team/by-outsider")).failureErrno == ENOENT)
        }
    }

    /// Runs a shell command as nobody:nogroup with no supplementary groups
    /// but `groups` (comma-separated ids).
    private func asNobody(_ command: String, groups: String? = nil) -> (status: Int32, output: String) {
        let groupArguments = groups.map { ["--groups=\($0)"] } ?? ["--clear-groups"]
        return runProgram("/usr/bin/setpriv", ["--reuid=nobody", "--regid=nogroup"] + groupArguments
                          + ["/bin/sh", "-c", command])
    }
}
