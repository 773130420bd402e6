import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a spawned child inherits: only stdin, stdout and stderr.
///
/// A descriptor opened without close-on-exec by anything in this process — libcurl's
/// sockets under URLSession, a probe socket, a test server's connection — is otherwise
/// inherited by every child spawned while it is open, and lives as long as that child. A
/// postmaster or a long shell command then holds, say, a timed-out model stream's
/// connection open after the scheduler closed it: the far end never sees the client leave,
/// and a port probed as free stays bound. glibc (2.34+) closes the rest in the child,
/// between fork and exec.
public enum InheritedDescriptors {
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// `posix_spawn_file_actions_addclosefrom_np`, looked up at run time: glibc's header
    /// declares it only for `_GNU_SOURCE`, which the Swift Glibc module does not set.
    private static let closeFrom: CloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: CloseFrom.self)
    }()

    /// Whether spawns here close what the child would otherwise inherit (false on a glibc
    /// older than 2.34, where only close-on-exec descriptors stay behind).
    public static var closedInChildren: Bool { closeFrom != nil }

    /// Adds "close every descriptor from 3 up" to `actions`; run it after the actions
    /// that set up 0, 1 and 2 (a dup2 from a pipe above 2 reads that pipe first).
    public static func closeAll(in actions: inout posix_spawn_file_actions_t) {
        _ = closeFrom?(&actions, 3)
    }
}
