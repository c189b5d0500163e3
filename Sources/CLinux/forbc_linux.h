// Linux calls that Glibc does not wrap for Swift: openat2(2) (glibc 2.36 has no wrapper, and Swift cannot call the
// variadic syscall(2)). Nothing is linked: the kernel answers through syscall(2) of the C library.
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

/// openat2(dirfd, path, {flags, 0, resolve}); -1 with errno set on failure (ENOSYS where the kernel lacks it).
static inline int forbc_openat2(int dirfd, const char *_Nonnull path, int flags, unsigned long long resolve) {
    struct open_how how = {.flags = (unsigned long long)flags, .mode = 0, .resolve = resolve};
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/// The RESOLVE_* flags forbc uses, as constants Swift imports.
static const unsigned long long forbc_resolve_beneath = RESOLVE_BENEATH;
static const unsigned long long forbc_resolve_no_magiclinks = RESOLVE_NO_MAGICLINKS;

/// getdents64(2): the entries of an open directory as `struct linux_dirent64` records, without opendir's buffer and
/// the fstat and fcntl calls fdopendir makes; -1 with errno set on failure.
static inline long forbc_getdents64(int fd, void *_Nonnull buffer, unsigned long size) {
    return syscall(SYS_getdents64, fd, buffer, size);
}

// glibc declares pipe2(2) and posix_spawn_file_actions_addclosefrom_np(3) (2.34+) only under _GNU_SOURCE, which the
// Glibc module is built without; both are plain symbols of the C library. POSIX_SPAWN_SETSID (2.26+) likewise.
#include <fcntl.h>
#include <spawn.h>
extern int pipe2(int pipefd[_Nonnull 2], int flags);
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *_Nonnull actions, int from);

/// pipe2(fds, O_CLOEXEC): both ends close-on-exec from their creation, so a child that another thread starts
/// meanwhile inherits neither (pipe then fcntl leaves a window where it does, and it holds the write end open).
static inline int forbc_pipe_cloexec(int fds[_Nonnull 2]) { return pipe2(fds, O_CLOEXEC); }

/// Closes every descriptor from `from` up in the child (close_range(2), or the kernel's list where it lacks it).
static inline int forbc_spawn_close_from(posix_spawn_file_actions_t *_Nonnull actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

/// POSIX_SPAWN_SETSID: the child starts a session of its own (no controlling terminal).
static const short forbc_spawn_setsid = 0x80;
