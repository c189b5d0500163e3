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
