// libvirt's C API as forbc uses it, without linking libvirt: the headers give the types and prototypes, and
// `forbc_libvirt_bind` fills a table of function pointers, each typed from its prototype (`__typeof__`), from the
// libraries forbc dlopen's when a hypervisor is first consulted. Calling a libvirt function directly would leave an
// undefined symbol at link time, so every call goes through the table.
#include <dlfcn.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdlib.h>

#define FORBC_LIBVIRT_FUNCTIONS(X)                                                                                  \
    X(virt, virSetErrorFunc)                                                                                        \
    X(virt, virGetLastError)                                                                                        \
    X(virt, virConnectOpen)                                                                                         \
    X(virt, virConnectClose)                                                                                        \
    X(virt, virConnectListAllDomains)                                                                               \
    X(virt, virDomainLookupByName)                                                                                  \
    X(virt, virDomainFree)                                                                                          \
    X(virt, virDomainGetName)                                                                                       \
    X(virt, virDomainGetUUIDString)                                                                                 \
    X(virt, virDomainGetState)                                                                                      \
    X(virt, virDomainIsPersistent)                                                                                  \
    X(virt, virDomainGetXMLDesc)                                                                                    \
    X(virt, virDomainAttachDeviceFlags)                                                                             \
    X(virt, virDomainDetachDeviceFlags)                                                                             \
    X(virt, virDomainUndefine)                                                                                      \
    X(virt, virDomainDefineXML)                                                                                     \
    X(qemu, virDomainQemuAgentCommand)

/// One field per libvirt function forbc calls, typed from libvirt's own prototype.
struct forbc_libvirt {
#define FORBC_LIBVIRT_FIELD(library, name) __typeof__(name) *_Nonnull name;
    FORBC_LIBVIRT_FUNCTIONS(FORBC_LIBVIRT_FIELD)
#undef FORBC_LIBVIRT_FIELD
};

/// Fills `table` from the dlopen'ed `virt` (libvirt.so.0) and `qemu` (libvirt-qemu.so.0); returns NULL, or the
/// name of the first function that a library lacks (the table is then unusable).
static inline const char *_Nullable forbc_libvirt_bind(
    void *_Nonnull virt, void *_Nonnull qemu, struct forbc_libvirt *_Nonnull table) {
#define FORBC_LIBVIRT_BIND(library, name)                                                                           \
    {                                                                                                               \
        void *symbol = dlsym(library, #name);                                                                       \
        if (symbol == NULL) return #name;                                                                           \
        table->name = (__typeof__(name) *)symbol;                                                                   \
    }
    FORBC_LIBVIRT_FUNCTIONS(FORBC_LIBVIRT_BIND)
#undef FORBC_LIBVIRT_BIND
    return NULL;
}
