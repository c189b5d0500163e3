/*
 * A C-level mock of NVIDIA's NVML for forbc's tests, built by them with gcc as `libnvidia-ml.so.1` and loaded
 * through forbc's real dlopen path (FORBC_NVML_LIBRARY). It implements the functions Sources/CNVML/forbc_nvml.h
 * declares, over two GPUs: an H100 80GB HBM3 in a VM (0000:00:06.0; a MIG mode change stays pending until a GPU
 * reset) and an A100-SXM4-40GB on bare metal (0000:07:00.0; a mode change applies at once), with NVIDIA's
 * GPU-instance profile and placement tables (the same as ForbcSimulator's MIGTables).
 *
 * State lives in the file FORBC_NVML_MOCK_STATE (each forbc command is a new process), so plan, apply and drift
 * see one host. FORBC_NVML_MOCK_FAIL="call:code,..." makes those calls return that code (error injection).
 * A test that loads the mock into its own process sets both through forbc_nvml_mock_configure instead (and the
 * active vGPUs, FORBC_NVML_MOCK_VGPUS for a spawned forbc, through forbc_nvml_mock_configure_vgpus): a test never
 * changes its process's environment, which other threads read while they spawn processes.
 * Built with -DFORBC_MOCK_SMI it is a stand-in `nvidia-smi`: `--gpu-reset -i N` applies a pending mode (and drops
 * the instances; FORBC_NVML_MOCK_SMI_DELAY_MS makes it take that long, after creating the file
 * FORBC_NVML_MOCK_SMI_STARTED names), `--mock-processes N GI COUNT` sets processes on GPU instance GI (0: the whole
 * GPU).
 * The A100 also runs NVIDIA's vGPU manager: its vGPU scheduler (all three policies, time slice 1 to 30 ms, as the
 * simulated nvidia-l40s-vgpu) and two supported vGPU types, one time-sliced, one MIG-backed on 3g.20gb.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../Sources/CNVML/forbc_nvml.h"

#include <stddef.h>

/* The typed header against the byte offsets forbc read on the real H100 (driver 580.159.04) before it had one. */
_Static_assert(offsetof(nvmlPciInfo_t, busId) == 36, "nvmlPciInfo_t.busId");
_Static_assert(sizeof(nvmlMemory_t) == 24, "nvmlMemory_t");
_Static_assert(offsetof(nvmlGpuInstanceProfileInfo_t, sliceCount) == 8, "sliceCount");
_Static_assert(offsetof(nvmlGpuInstanceProfileInfo_t, instanceCount) == 12, "instanceCount");
_Static_assert(offsetof(nvmlGpuInstanceProfileInfo_t, multiprocessorCount) == 16, "multiprocessorCount");
_Static_assert(offsetof(nvmlGpuInstanceProfileInfo_t, memorySizeMB) == 40, "memorySizeMB");
_Static_assert(sizeof(nvmlGpuInstancePlacement_t) == 8, "nvmlGpuInstancePlacement_t");
_Static_assert(offsetof(nvmlGpuInstanceInfo_t, id) == 8, "nvmlGpuInstanceInfo_t.id");
_Static_assert(offsetof(nvmlGpuInstanceInfo_t, profileId) == 12, "nvmlGpuInstanceInfo_t.profileId");
_Static_assert(offsetof(nvmlGpuInstanceInfo_t, placement) == 16, "nvmlGpuInstanceInfo_t.placement");

struct profile {
    unsigned index, id, slices, instances, memoryMiB, sms, size;
    unsigned starts[8];
    unsigned nstarts;
};

static const struct profile h100[] = {
    {0, 19, 1, 7, 9984, 16, 1, {0, 1, 2, 3, 4, 5, 6}, 7},
    {1, 14, 2, 3, 20096, 32, 2, {0, 2, 4}, 3},
    {2, 9, 3, 2, 40448, 60, 4, {0, 4}, 2},
    {3, 5, 4, 1, 40448, 64, 4, {0}, 1},
    {4, 0, 7, 1, 81152, 132, 8, {0}, 1},
    {7, 20, 1, 1, 9984, 16, 1, {0, 1, 2, 3, 4, 5, 6}, 7},
    {9, 15, 1, 4, 20096, 26, 2, {0, 2, 4, 6}, 4},
};

static const struct profile a100[] = {
    {0, 19, 1, 7, 4864, 14, 1, {0, 1, 2, 3, 4, 5, 6}, 7},
    {1, 14, 2, 3, 9856, 28, 2, {0, 2, 4}, 3},
    {2, 9, 3, 2, 19968, 42, 4, {0, 4}, 2},
    {3, 5, 4, 1, 19968, 56, 4, {0}, 1},
    {4, 0, 7, 1, 40192, 98, 8, {0}, 1},
    {7, 20, 1, 1, 4864, 14, 1, {0, 1, 2, 3, 4, 5, 6}, 7},
    {9, 15, 1, 4, 9856, 14, 2, {0, 2, 4, 6}, 4},
};

/* Compute slices of NVML_COMPUTE_INSTANCE_PROFILE_* 0 ... 6. */
__attribute__((unused)) static const unsigned ciSlices[] = {1, 2, 3, 4, 7, 8, 6};

struct ci {
    int used;
    unsigned id, profile;
};

struct gi {
    int used;
    unsigned id, profileId, start, size, nextCi;
    int processes;
    struct ci cis[8];
};

struct dev {
    const char *name, *uuid, *busId;
    unsigned deviceId;
    unsigned long long memoryMiB;
    const struct profile *table;
    unsigned nprofiles;
    int needsReset;
    unsigned current, pending, nextGi;
    int processes;
    struct gi gis[8];
    unsigned schedPolicy, schedTimeslice; /* vGPU scheduler (0: never set, best effort at the default) */
    unsigned hetero;                      /* heterogeneous (mixed-size) vGPU mode */
};

struct migdev {
    struct dev *dev;
    struct gi *gi;
    struct ci *ci;
};

static struct dev devs[2];
static struct migdev migdevs[2][8];

static void reset_state(void) {
    memset(devs, 0, sizeof devs);
    devs[0] = (struct dev){"NVIDIA H100 80GB HBM3", "GPU-0ac371be-ac08-bc04-b91a-57647d64c496", "00000000:00:06.0",
                           0x233010de, 81559, h100, 7, 1, 0, 0, 1, 0, {{0}}};
    devs[1] = (struct dev){"NVIDIA A100-SXM4-40GB", "GPU-25a4c960-d2cf-5729-81f0-293de8ef7b17", "00000000:07:00.0",
                           0x20b010de, 40960, a100, 7, 0, 0, 0, 1, 0, {{0}}};
}

/* What forbc_nvml_mock_configure set; once it was called the environment is not read. */
static int configured;
static char configured_state[4096];
static char configured_fail[1024];
/* What forbc_nvml_mock_configure_vgpus set (forbc_nvml_mock_configure clears it), and the number of
 * nvmlDeviceGetActiveVgpus calls since. */
static char configured_vgpus[1024];
static unsigned active_calls;

/* Sets the state file and the injected errors of the mock in this process (NULL: none); no active vGPU. */
void forbc_nvml_mock_configure(const char *state, const char *fail) {
    configured = 1;
    snprintf(configured_state, sizeof configured_state, "%s", state ? state : "");
    snprintf(configured_fail, sizeof configured_fail, "%s", fail ? fail : "");
    configured_vgpus[0] = 0;
    active_calls = 0;
}

/* Sets the active vGPU instances of the mock in this process, as FORBC_NVML_MOCK_VGPUS does for a process started
 * with it (see mock_vgpus); after forbc_nvml_mock_configure. */
void forbc_nvml_mock_configure_vgpus(const char *spec) {
    snprintf(configured_vgpus, sizeof configured_vgpus, "%s", spec ? spec : "");
    active_calls = 0;
}

static const char *state_path(void) {
    if (configured) return configured_state[0] ? configured_state : NULL;
    return getenv("FORBC_NVML_MOCK_STATE");
}

static const char *fail_spec(void) { return configured ? configured_fail : getenv("FORBC_NVML_MOCK_FAIL"); }

/* Reads the state file written by save_state, if there is one. */
static void load_state(void) {
    static int loaded;
    const char *path = state_path();
    if (!path && loaded) return; /* no file: the state lives in this process only */
    loaded = 1;
    reset_state();
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) return;
    char kind[8];
    while (fscanf(f, "%7s", kind) == 1) {
        unsigned d;
        if (strcmp(kind, "dev") == 0) {
            if (fscanf(f, "%u", &d) != 1 || d > 1) break;
            if (fscanf(f, "%u %u %u %d", &devs[d].current, &devs[d].pending, &devs[d].nextGi, &devs[d].processes) != 4)
                break;
        } else if (strcmp(kind, "sched") == 0) {
            if (fscanf(f, "%u", &d) != 1 || d > 1) break;
            if (fscanf(f, "%u %u", &devs[d].schedPolicy, &devs[d].schedTimeslice) != 2) break;
        } else if (strcmp(kind, "hetero") == 0) {
            if (fscanf(f, "%u", &d) != 1 || d > 1) break;
            if (fscanf(f, "%u", &devs[d].hetero) != 1) break;
        } else if (strcmp(kind, "gi") == 0) {
            unsigned k, n;
            if (fscanf(f, "%u %u", &d, &k) != 2 || d > 1 || k > 7) break;
            struct gi *g = &devs[d].gis[k];
            g->used = 1;
            if (fscanf(f, "%u %u %u %u %d %u %u", &g->id, &g->profileId, &g->start, &g->size, &g->processes,
                       &g->nextCi, &n) != 7 || n > 8)
                break;
            for (unsigned i = 0; i < n; i++) {
                unsigned c;
                if (fscanf(f, "%u", &c) != 1 || c > 7) break;
                g->cis[c].used = 1;
                if (fscanf(f, "%u %u", &g->cis[c].id, &g->cis[c].profile) != 2) break;
            }
        } else {
            break;
        }
    }
    fclose(f);
}

static void save_state(void) {
    const char *path = state_path();
    FILE *f = path ? fopen(path, "w") : NULL;
    if (!f) return;
    for (unsigned d = 0; d < 2; d++) {
        struct dev *v = &devs[d];
        fprintf(f, "dev %u %u %u %u %d\n", d, v->current, v->pending, v->nextGi, v->processes);
        if (v->schedPolicy) fprintf(f, "sched %u %u %u\n", d, v->schedPolicy, v->schedTimeslice);
        if (v->hetero) fprintf(f, "hetero %u %u\n", d, v->hetero);
        for (unsigned k = 0; k < 8; k++) {
            struct gi *g = &v->gis[k];
            if (!g->used) continue;
            unsigned n = 0;
            for (unsigned c = 0; c < 8; c++) n += g->cis[c].used;
            fprintf(f, "gi %u %u %u %u %u %u %d %u %u", d, k, g->id, g->profileId, g->start, g->size, g->processes,
                    g->nextCi, n);
            for (unsigned c = 0; c < 8; c++)
                if (g->cis[c].used) fprintf(f, " %u %u %u", c, g->cis[c].id, g->cis[c].profile);
            fprintf(f, "\n");
        }
    }
    fclose(f);
}

/* The code FORBC_NVML_MOCK_FAIL gives `call`, or NVML_SUCCESS. */
__attribute__((unused)) static nvmlReturn_t injected(const char *call) {
    const char *spec = fail_spec();
    size_t length = strlen(call);
    while (spec && *spec) {
        if (strncmp(spec, call, length) == 0 && spec[length] == ':') return atoi(spec + length + 1);
        spec = strchr(spec, ',');
        if (spec) spec++;
    }
    return NVML_SUCCESS;
}

#define FAIL_POINT(call)                           \
    do {                                           \
        nvmlReturn_t code_ = injected(call);       \
        if (code_ != NVML_SUCCESS) return code_;   \
    } while (0)

__attribute__((unused)) static struct dev *as_dev(nvmlDevice_t device) {
    for (unsigned d = 0; d < 2; d++)
        if ((void *)device == (void *)&devs[d]) return &devs[d];
    return NULL;
}

__attribute__((unused)) static struct migdev *as_mig(nvmlDevice_t device) {
    for (unsigned d = 0; d < 2; d++)
        for (unsigned k = 0; k < 8; k++)
            if ((void *)device == (void *)&migdevs[d][k]) return &migdevs[d][k];
    return NULL;
}

__attribute__((unused)) static struct gi *as_gi(nvmlGpuInstance_t handle, struct dev **owner) {
    for (unsigned d = 0; d < 2; d++)
        for (unsigned k = 0; k < 8; k++)
            if ((void *)handle == (void *)&devs[d].gis[k] && devs[d].gis[k].used) {
                if (owner) *owner = &devs[d];
                return &devs[d].gis[k];
            }
    return NULL;
}

__attribute__((unused)) static const struct profile *profile_by_id(const struct dev *v, unsigned id) {
    for (unsigned p = 0; p < v->nprofiles; p++)
        if (v->table[p].id == id) return &v->table[p];
    return NULL;
}

static int gi_processes(const struct dev *v) {
    int n = v->processes;
    for (unsigned k = 0; k < 8; k++)
        if (v->gis[k].used) n += v->gis[k].processes;
    return n;
}

#ifndef FORBC_MOCK_SMI

/* nvmlInit_v2 and nvmlShutdown count, as NVML's do. */
static int initialized;

nvmlReturn_t nvmlInit_v2(void) {
    FAIL_POINT("nvmlInit_v2");
    load_state();
    initialized++;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void) {
    if (initialized == 0) return NVML_ERROR_UNINITIALIZED;
    initialized--;
    return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t result) {
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_IN_USE: return "In use by another client";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_INSUFFICIENT_RESOURCES: return "Insufficient resources";
    default: return "Unknown Error";
    }
}

/* Every call re-reads the state file: another process (nvidia-smi's reset) may have changed the host. */
#define READY()                                      \
    do {                                             \
        if (!initialized) return NVML_ERROR_UNINITIALIZED; \
        load_state();                                \
    } while (0)

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount) {
    READY();
    FAIL_POINT("nvmlDeviceGetCount_v2");
    *deviceCount = 2;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    READY();
    FAIL_POINT("nvmlDeviceGetHandleByIndex_v2");
    if (index > 1 || !device) return NVML_ERROR_INVALID_ARGUMENT;
    *device = (nvmlDevice_t)&devs[index];
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) {
    READY();
    struct dev *v = as_dev(device);
    if (!v || !pci) return NVML_ERROR_INVALID_ARGUMENT;
    memset(pci, 0, sizeof *pci);
    snprintf(pci->busId, sizeof pci->busId, "%s", v->busId);
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%s", v->busId + 4);
    pci->pciDeviceId = v->deviceId;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    READY();
    struct dev *v = as_dev(device);
    if (!v || !memory) return NVML_ERROR_INVALID_ARGUMENT;
    memory->total = v->memoryMiB << 20;
    memory->used = 0;
    memory->free = memory->total;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
    READY();
    struct dev *v = as_dev(device);
    struct migdev *m = as_mig(device);
    if (v) {
        snprintf(uuid, length, "%s", v->uuid);
    } else if (m && m->gi->used && m->ci->used) {
        unsigned d = m->dev == &devs[0] ? 0 : 1;
        snprintf(uuid, length, "MIG-%08x-0000-4000-8000-%012x", 0xf0bc0000u + d, m->gi->id * 256 + m->ci->id);
    } else {
        return NVML_ERROR_INVALID_ARGUMENT;
    }
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    READY();
    struct dev *v = as_dev(device);
    if (!v) return NVML_ERROR_INVALID_ARGUMENT;
    snprintf(name, length, "%s", v->name);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode) {
    READY();
    FAIL_POINT("nvmlDeviceGetMigMode");
    struct dev *v = as_dev(device);
    if (!v) return as_mig(device) ? NVML_ERROR_NOT_SUPPORTED : NVML_ERROR_INVALID_ARGUMENT;
    *currentMode = v->current;
    *pendingMode = v->pending;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceSetMigMode(nvmlDevice_t device, unsigned int mode, nvmlReturn_t *activationStatus) {
    READY();
    FAIL_POINT("nvmlDeviceSetMigMode");
    struct dev *v = as_dev(device);
    if (!v || mode > 1) return NVML_ERROR_INVALID_ARGUMENT;
    if (gi_processes(v) > 0) return NVML_ERROR_IN_USE;
    for (unsigned k = 0; k < 8; k++)
        if (!mode && v->gis[k].used) return NVML_ERROR_IN_USE;
    v->pending = mode;
    if (!v->needsReset) v->current = mode;
    if (activationStatus) *activationStatus = NVML_SUCCESS;
    save_state();
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                     nvmlProcessInfo_t *infos) {
    READY();
    struct dev *v = as_dev(device);
    struct migdev *m = as_mig(device);
    int n = 0;
    if (v) {
        n = gi_processes(v);
    } else if (m) {
        /* A GPU instance's processes are shown on its first compute instance. */
        int first = 1;
        for (struct ci *c = m->gi->cis; c < m->ci; c++)
            if (c->used) first = 0;
        n = first ? m->gi->processes : 0;
    } else {
        return NVML_ERROR_INVALID_ARGUMENT;
    }
    if (n > 0 && (!infos || *infoCount < (unsigned)n)) {
        *infoCount = (unsigned)n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    for (int i = 0; i < n; i++) infos[i] = (nvmlProcessInfo_t){(unsigned)(4000 + i), 1 << 20, 0, 0};
    *infoCount = (unsigned)n;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfo(nvmlDevice_t device, unsigned int profile,
                                                 nvmlGpuInstanceProfileInfo_t *info) {
    READY();
    struct dev *v = as_dev(device);
    if (!v || !info || profile >= NVML_GPU_INSTANCE_PROFILE_COUNT) return NVML_ERROR_INVALID_ARGUMENT;
    for (unsigned p = 0; p < v->nprofiles; p++) {
        const struct profile *t = &v->table[p];
        if (t->index != profile) continue;
        memset(info, 0, sizeof *info);
        info->id = t->id;
        info->sliceCount = t->slices;
        info->instanceCount = t->instances;
        info->multiprocessorCount = t->sms;
        info->memorySizeMB = t->memoryMiB;
        return NVML_SUCCESS;
    }
    return NVML_ERROR_NOT_SUPPORTED;
}

nvmlReturn_t nvmlDeviceGetGpuInstancePossiblePlacements_v2(nvmlDevice_t device, unsigned int profileId,
                                                           nvmlGpuInstancePlacement_t *placements,
                                                           unsigned int *count) {
    READY();
    struct dev *v = as_dev(device);
    const struct profile *t = v ? profile_by_id(v, profileId) : NULL;
    if (!t || !count) return NVML_ERROR_INVALID_ARGUMENT;
    if (!placements) {
        *count = t->nstarts;
        return NVML_SUCCESS;
    }
    if (*count < t->nstarts) return NVML_ERROR_INSUFFICIENT_SIZE;
    for (unsigned i = 0; i < t->nstarts; i++) placements[i] = (nvmlGpuInstancePlacement_t){t->starts[i], t->size};
    *count = t->nstarts;
    return NVML_SUCCESS;
}

static unsigned mask(unsigned start, unsigned size) { return ((1u << size) - 1) << start; }

nvmlReturn_t nvmlDeviceCreateGpuInstanceWithPlacement(nvmlDevice_t device, unsigned int profileId,
                                                      const nvmlGpuInstancePlacement_t *placement,
                                                      nvmlGpuInstance_t *gpuInstance) {
    READY();
    FAIL_POINT("nvmlDeviceCreateGpuInstanceWithPlacement");
    struct dev *v = as_dev(device);
    if (!v || !placement || !gpuInstance) return NVML_ERROR_INVALID_ARGUMENT;
    if (!v->current) return NVML_ERROR_NOT_SUPPORTED;
    const struct profile *t = profile_by_id(v, profileId);
    int offered = 0;
    for (unsigned i = 0; t && i < t->nstarts; i++)
        offered |= t->starts[i] == placement->start && t->size == placement->size;
    if (!offered) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned used = 0, same = 0;
    struct gi *free = NULL;
    for (unsigned k = 0; k < 8; k++) {
        struct gi *g = &v->gis[k];
        if (!g->used) {
            if (!free) free = g;
            continue;
        }
        used |= mask(g->start, g->size);
        same += g->profileId == profileId;
    }
    if (!free || (used & mask(placement->start, placement->size)) || same >= t->instances)
        return NVML_ERROR_INSUFFICIENT_RESOURCES;
    *free = (struct gi){1, v->nextGi++, profileId, placement->start, placement->size, 1, 0, {{0}}};
    *gpuInstance = (nvmlGpuInstance_t)free;
    save_state();
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetGpuInstances(nvmlDevice_t device, unsigned int profileId, nvmlGpuInstance_t *gpuInstances,
                                       unsigned int *count) {
    READY();
    struct dev *v = as_dev(device);
    if (!v || !count) return NVML_ERROR_INVALID_ARGUMENT;
    if (!v->current) return NVML_ERROR_NOT_SUPPORTED;
    unsigned n = 0;
    for (unsigned k = 0; k < 8; k++)
        if (v->gis[k].used && v->gis[k].profileId == profileId) gpuInstances[n++] = (nvmlGpuInstance_t)&v->gis[k];
    *count = n;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetGpuInstanceById(nvmlDevice_t device, unsigned int id, nvmlGpuInstance_t *gpuInstance) {
    READY();
    struct dev *v = as_dev(device);
    if (!v || !gpuInstance) return NVML_ERROR_INVALID_ARGUMENT;
    for (unsigned k = 0; k < 8; k++)
        if (v->gis[k].used && v->gis[k].id == id) {
            *gpuInstance = (nvmlGpuInstance_t)&v->gis[k];
            return NVML_SUCCESS;
        }
    return NVML_ERROR_NOT_FOUND;
}

nvmlReturn_t nvmlGpuInstanceGetInfo(nvmlGpuInstance_t gpuInstance, nvmlGpuInstanceInfo_t *info) {
    READY();
    struct dev *v = NULL;
    struct gi *g = as_gi(gpuInstance, &v);
    if (!g || !info) return NVML_ERROR_INVALID_ARGUMENT;
    info->device = (nvmlDevice_t)v;
    info->id = g->id;
    info->profileId = g->profileId;
    info->placement = (nvmlGpuInstancePlacement_t){g->start, g->size};
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlGpuInstanceDestroy(nvmlGpuInstance_t gpuInstance) {
    READY();
    FAIL_POINT("nvmlGpuInstanceDestroy");
    struct gi *g = as_gi(gpuInstance, NULL);
    if (!g) return NVML_ERROR_INVALID_ARGUMENT;
    if (g->processes > 0) return NVML_ERROR_IN_USE;
    for (unsigned c = 0; c < 8; c++)
        if (g->cis[c].used) return NVML_ERROR_IN_USE;
    memset(g, 0, sizeof *g);
    save_state();
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlGpuInstanceGetComputeInstanceProfileInfo(nvmlGpuInstance_t gpuInstance, unsigned int profile,
                                                          unsigned int engProfile,
                                                          nvmlComputeInstanceProfileInfo_t *info) {
    READY();
    struct dev *v = NULL;
    struct gi *g = as_gi(gpuInstance, &v);
    if (!g || !info || engProfile != NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED) return NVML_ERROR_INVALID_ARGUMENT;
    const struct profile *t = profile_by_id(v, g->profileId);
    if (profile > NVML_COMPUTE_INSTANCE_PROFILE_6_SLICE || ciSlices[profile] > t->slices)
        return NVML_ERROR_NOT_SUPPORTED;
    memset(info, 0, sizeof *info);
    info->id = profile;
    info->sliceCount = ciSlices[profile];
    info->instanceCount = t->slices / ciSlices[profile];
    info->multiprocessorCount = t->sms * ciSlices[profile] / t->slices;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlGpuInstanceCreateComputeInstance(nvmlGpuInstance_t gpuInstance, unsigned int profileId,
                                                  nvmlComputeInstance_t *computeInstance) {
    READY();
    FAIL_POINT("nvmlGpuInstanceCreateComputeInstance");
    struct dev *v = NULL;
    struct gi *g = as_gi(gpuInstance, &v);
    if (!g || profileId > NVML_COMPUTE_INSTANCE_PROFILE_6_SLICE) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned used = 0;
    struct ci *free = NULL;
    for (unsigned c = 0; c < 8; c++) {
        if (g->cis[c].used)
            used += ciSlices[g->cis[c].profile];
        else if (!free)
            free = &g->cis[c];
    }
    if (!free || used + ciSlices[profileId] > profile_by_id(v, g->profileId)->slices)
        return NVML_ERROR_INSUFFICIENT_RESOURCES;
    *free = (struct ci){1, g->nextCi++, profileId};
    if (computeInstance) *computeInstance = (nvmlComputeInstance_t)free;
    save_state();
    return NVML_SUCCESS;
}

static struct ci *as_ci(nvmlComputeInstance_t handle, struct gi **owner) {
    for (unsigned d = 0; d < 2; d++)
        for (unsigned k = 0; k < 8; k++)
            for (unsigned c = 0; c < 8; c++)
                if ((void *)handle == (void *)&devs[d].gis[k].cis[c] && devs[d].gis[k].cis[c].used) {
                    *owner = &devs[d].gis[k];
                    return &devs[d].gis[k].cis[c];
                }
    return NULL;
}

nvmlReturn_t nvmlGpuInstanceGetComputeInstances(nvmlGpuInstance_t gpuInstance, unsigned int profileId,
                                                nvmlComputeInstance_t *computeInstances, unsigned int *count) {
    READY();
    struct gi *g = as_gi(gpuInstance, NULL);
    if (!g || !count) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned n = 0;
    for (unsigned c = 0; c < 8; c++)
        if (g->cis[c].used && g->cis[c].profile == profileId) computeInstances[n++] = (nvmlComputeInstance_t)&g->cis[c];
    *count = n;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlComputeInstanceDestroy(nvmlComputeInstance_t computeInstance) {
    READY();
    FAIL_POINT("nvmlComputeInstanceDestroy");
    struct gi *g = NULL;
    struct ci *c = as_ci(computeInstance, &g);
    if (!c) return NVML_ERROR_INVALID_ARGUMENT;
    if (g->processes > 0) return NVML_ERROR_IN_USE;
    memset(c, 0, sizeof *c);
    save_state();
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned int *count) {
    READY();
    if (!as_dev(device) || !count) return NVML_ERROR_INVALID_ARGUMENT;
    *count = 7;
    return NVML_SUCCESS;
}

/* MIG devices in order: each GPU instance's compute instances. */
nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned int index, nvmlDevice_t *migDevice) {
    READY();
    struct dev *v = as_dev(device);
    if (!v || !migDevice) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned d = v == &devs[0] ? 0 : 1, n = 0;
    for (unsigned k = 0; k < 8; k++)
        for (unsigned c = 0; c < 8; c++) {
            if (!v->gis[k].used || !v->gis[k].cis[c].used) continue;
            if (n == index && n < 8) {
                migdevs[d][n] = (struct migdev){v, &v->gis[k], &v->gis[k].cis[c]};
                *migDevice = (nvmlDevice_t)&migdevs[d][n];
                return NVML_SUCCESS;
            }
            n++;
        }
    return NVML_ERROR_NOT_FOUND;
}

nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t device, unsigned int *id) {
    READY();
    struct migdev *m = as_mig(device);
    if (!m || !id) return NVML_ERROR_INVALID_ARGUMENT;
    *id = m->gi->id;
    return NVML_SUCCESS;
}

/* The vGPU manager runs on the A100 (device 1) only; the H100 in a VM has none. */
static struct dev *vgpu_host(nvmlDevice_t device, nvmlReturn_t *code) {
    struct dev *v = as_dev(device);
    *code = !v ? NVML_ERROR_INVALID_ARGUMENT : v != &devs[1] ? NVML_ERROR_NOT_SUPPORTED : NVML_SUCCESS;
    return *code == NVML_SUCCESS ? v : NULL;
}

#define DEFAULT_TIMESLICE 2000000u
#define MIN_TIMESLICE 1000000u
#define MAX_TIMESLICE 30000000u

nvmlReturn_t nvmlDeviceGetVgpuSchedulerCapabilities(nvmlDevice_t device, nvmlVgpuSchedulerCapabilities_t *caps) {
    READY();
    FAIL_POINT("nvmlDeviceGetVgpuSchedulerCapabilities");
    nvmlReturn_t code;
    if (!vgpu_host(device, &code)) return code;
    if (!caps) return NVML_ERROR_INVALID_ARGUMENT;
    memset(caps, 0, sizeof *caps);
    for (unsigned i = 0; i < NVML_SUPPORTED_VGPU_SCHEDULER_POLICY_COUNT; i++) caps->supportedSchedulers[i] = i + 1;
    caps->minTimeslice = MIN_TIMESLICE;
    caps->maxTimeslice = MAX_TIMESLICE;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetVgpuSchedulerState(nvmlDevice_t device, nvmlVgpuSchedulerGetState_t *state) {
    READY();
    nvmlReturn_t code;
    struct dev *v = vgpu_host(device, &code);
    if (!v) return code;
    if (!state) return NVML_ERROR_INVALID_ARGUMENT;
    memset(state, 0, sizeof *state);
    state->schedulerPolicy = v->schedPolicy ? v->schedPolicy : 1;
    state->arrMode = NVML_VGPU_SCHEDULER_ARR_DISABLE;
    state->schedulerParams.vgpuSchedData.timeslice = v->schedPolicy ? v->schedTimeslice : DEFAULT_TIMESLICE;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceSetVgpuSchedulerState(nvmlDevice_t device, nvmlVgpuSchedulerSetState_t *state) {
    READY();
    FAIL_POINT("nvmlDeviceSetVgpuSchedulerState");
    nvmlReturn_t code;
    struct dev *v = vgpu_host(device, &code);
    if (!v) return code;
    unsigned slice = state ? state->schedulerParams.vgpuSchedData.timeslice : 0;
    if (slice == 0) slice = DEFAULT_TIMESLICE;
    if (!state || state->schedulerPolicy < 1 || state->schedulerPolicy > 3 ||
        state->enableARRMode != NVML_VGPU_SCHEDULER_ARR_DISABLE || slice < MIN_TIMESLICE || slice > MAX_TIMESLICE)
        return NVML_ERROR_INVALID_ARGUMENT;
    v->schedPolicy = state->schedulerPolicy;
    v->schedTimeslice = slice;
    save_state();
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetVgpuHeterogeneousMode(nvmlDevice_t device, nvmlVgpuHeterogeneousMode_t *mode) {
    READY();
    nvmlReturn_t code;
    if (!vgpu_host(device, &code)) return code;
    struct dev *v = as_dev(device);
    if (!mode) return NVML_ERROR_INVALID_ARGUMENT;
    if (mode->version != FORBC_NVML_VGPU_HETEROGENEOUS_MODE_V1) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    if (v->current) return NVML_ERROR_NOT_SUPPORTED; /* NVML release notes: NOT_SUPPORTED in MIG mode */
    mode->mode = v->hetero;
    return NVML_SUCCESS;
}

/* The mock's rule, not NVIDIA's numbers: no vGPU instances exist in the mock, so the mode always changes. */
nvmlReturn_t nvmlDeviceSetVgpuHeterogeneousMode(nvmlDevice_t device, const nvmlVgpuHeterogeneousMode_t *mode) {
    READY();
    FAIL_POINT("nvmlDeviceSetVgpuHeterogeneousMode");
    nvmlReturn_t code;
    struct dev *v = vgpu_host(device, &code);
    if (!v) return code;
    if (mode && mode->version != FORBC_NVML_VGPU_HETEROGENEOUS_MODE_V1) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    if (!mode || mode->mode > 1) return NVML_ERROR_INVALID_ARGUMENT;
    if (v->current) return NVML_ERROR_NOT_SUPPORTED;
    v->hetero = mode->mode;
    save_state();
    return NVML_SUCCESS;
}

/* The time-sliced A100-10C (10 of 40 GB) takes 10 slots from 0, 10, 20 or 30 (the mock's numbers); the MIG-backed
 * type has no time-sliced placement. The count first, as NVML's list calls do. The mock has no vGPU instances, so
 * every supported placement is creatable. */
nvmlReturn_t nvmlDeviceGetVgpuTypeSupportedPlacements(nvmlDevice_t device, unsigned int id,
                                                      nvmlVgpuPlacementList_t *list);
nvmlReturn_t nvmlDeviceGetVgpuTypeCreatablePlacements(nvmlDevice_t device, unsigned int id,
                                                      nvmlVgpuPlacementList_t *list) {
    FAIL_POINT("nvmlDeviceGetVgpuTypeCreatablePlacements");
    return nvmlDeviceGetVgpuTypeSupportedPlacements(device, id, list);
}

nvmlReturn_t nvmlDeviceGetVgpuTypeSupportedPlacements(nvmlDevice_t device, unsigned int id,
                                                      nvmlVgpuPlacementList_t *list) {
    READY();
    nvmlReturn_t code;
    if (!vgpu_host(device, &code)) return code;
    if (list && list->version != FORBC_NVML_VGPU_PLACEMENT_LIST_V2) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    if (!list || list->mode > 1) return NVML_ERROR_INVALID_ARGUMENT;
    if (id != 703) return NVML_ERROR_NOT_SUPPORTED;
    static const unsigned ids[] = {0, 10, 20, 30};
    unsigned n = sizeof ids / sizeof ids[0];
    list->placementSize = 10;
    if (list->count < n || !list->placementIds) {
        list->count = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    memcpy(list->placementIds, ids, sizeof ids);
    list->count = n;
    return NVML_SUCCESS;
}

static const struct {
    unsigned id, profile;
    const char *name;
} a100Vgpus[] = {{703, NVML_INVALID_GPU_INSTANCE_PROFILE_ID, "NVIDIA A100-10C"}, {723, 9, "NVIDIA A100-3-20C"}};

nvmlReturn_t nvmlDeviceGetSupportedVgpus(nvmlDevice_t device, unsigned int *count, unsigned int *ids) {
    READY();
    nvmlReturn_t code;
    if (!vgpu_host(device, &code)) return code;
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned n = sizeof a100Vgpus / sizeof a100Vgpus[0];
    if (*count < n || !ids) {
        *count = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    for (unsigned i = 0; i < n; i++) ids[i] = a100Vgpus[i].id;
    *count = n;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlVgpuTypeGetName(unsigned int id, char *name, unsigned int *size) {
    READY();
    for (unsigned i = 0; i < sizeof a100Vgpus / sizeof a100Vgpus[0]; i++) {
        if (a100Vgpus[i].id != id) continue;
        if (!name || !size || *size <= strlen(a100Vgpus[i].name)) return NVML_ERROR_INSUFFICIENT_SIZE;
        strcpy(name, a100Vgpus[i].name);
        *size = (unsigned)strlen(name);
        return NVML_SUCCESS;
    }
    return NVML_ERROR_INVALID_ARGUMENT;
}

nvmlReturn_t nvmlVgpuTypeGetGpuInstanceProfileId(unsigned int id, unsigned int *profile) {
    READY();
    for (unsigned i = 0; i < sizeof a100Vgpus / sizeof a100Vgpus[0]; i++) {
        if (a100Vgpus[i].id != id) continue;
        if (!profile) return NVML_ERROR_INVALID_ARGUMENT;
        *profile = a100Vgpus[i].profile;
        return NVML_SUCCESS;
    }
    return NVML_ERROR_INVALID_ARGUMENT;
}

/* Active vGPU instances on the A100: "type@placement,..." (instance ids 1, 2, ...; the mock's knob, as the mock
 * creates no vGPU itself), from forbc_nvml_mock_configure_vgpus, else FORBC_NVML_MOCK_VGPUS. In heterogeneous mode
 * each reports its placement ID, else NVML_INVALID_VGPU_PLACEMENT_ID (NVML API reference,
 * nvmlVgpuInstanceGetPlacementId). An entry "+type@placement" is a VM that starts between the count and the fetch:
 * nvmlDeviceGetActiveVgpus lists it from its second call on; "-type@placement" is a VM that ended once the list was
 * read: listed, but nvmlVgpuInstanceGetType and nvmlVgpuInstanceGetPlacementId answer NVML_ERROR_NOT_FOUND. */
struct mock_vgpu {
    unsigned type, placement;
    char when; /* 0, '+' or '-' */
};

static unsigned mock_vgpus(struct mock_vgpu vgpus[32]) {
    const char *spec = configured ? configured_vgpus : getenv("FORBC_NVML_MOCK_VGPUS");
    unsigned n = 0;
    while (spec && *spec && n < 32) {
        char when = (*spec == '+' || *spec == '-') ? *spec++ : 0;
        if (sscanf(spec, "%u@%u", &vgpus[n].type, &vgpus[n].placement) != 2) break;
        vgpus[n++].when = when;
        spec = strchr(spec, ',');
        if (spec) spec++;
    }
    return n;
}

/* The instance's entry while NVML would still find it, else NULL. */
static const struct mock_vgpu *mock_instance(unsigned instance, struct mock_vgpu vgpus[32]) {
    unsigned n = mock_vgpus(vgpus);
    if (instance == 0 || instance > n) return NULL;
    const struct mock_vgpu *v = &vgpus[instance - 1];
    return v->when == '-' || (v->when == '+' && active_calls < 2) ? NULL : v;
}

nvmlReturn_t nvmlDeviceGetActiveVgpus(nvmlDevice_t device, unsigned int *count, unsigned int *instances) {
    READY();
    FAIL_POINT("nvmlDeviceGetActiveVgpus");
    nvmlReturn_t code;
    if (!vgpu_host(device, &code)) return code;
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    active_calls++;
    struct mock_vgpu vgpus[32];
    unsigned all = mock_vgpus(vgpus), n = 0, ids[32];
    for (unsigned i = 0; i < all; i++)
        if (vgpus[i].when != '+' || active_calls > 1) ids[n++] = i + 1;
    if (*count < n || (n > 0 && !instances)) {
        *count = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    if (n > 0) memcpy(instances, ids, n * sizeof ids[0]);
    *count = n;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlVgpuInstanceGetType(unsigned int instance, unsigned int *type) {
    READY();
    FAIL_POINT("nvmlVgpuInstanceGetType");
    struct mock_vgpu vgpus[32];
    if (instance == 0 || !type) return NVML_ERROR_INVALID_ARGUMENT;
    const struct mock_vgpu *v = mock_instance(instance, vgpus);
    if (!v) return NVML_ERROR_NOT_FOUND;
    *type = v->type;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlVgpuInstanceGetPlacementId(unsigned int instance, nvmlVgpuPlacementId_t *placement) {
    READY();
    FAIL_POINT("nvmlVgpuInstanceGetPlacementId");
    struct mock_vgpu vgpus[32];
    if (instance == 0 || !placement) return NVML_ERROR_INVALID_ARGUMENT;
    if (placement->version != FORBC_NVML_VGPU_PLACEMENT_ID_V1) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    const struct mock_vgpu *v = mock_instance(instance, vgpus);
    if (!v) return NVML_ERROR_NOT_FOUND;
    placement->placementId = devs[1].hetero ? v->placement : NVML_INVALID_VGPU_PLACEMENT_ID;
    return NVML_SUCCESS;
}

#else /* FORBC_MOCK_SMI: the stand-in nvidia-smi */

int main(int argc, char **argv) {
    load_state();
    if (argc == 4 && strcmp(argv[1], "--gpu-reset") == 0 && strcmp(argv[2], "-i") == 0) {
        unsigned d = (unsigned)atoi(argv[3]);
        if (d > 1) return 2;
        if (gi_processes(&devs[d]) > 0) {
            fprintf(stderr, "GPU %s is in use\n", devs[d].busId);
            return 1;
        }
        /* A reset that takes a while (a test sends forbc a Ctrl-C meanwhile): a file says it began. */
        const char *started = getenv("FORBC_NVML_MOCK_SMI_STARTED");
        FILE *marker = started ? fopen(started, "w") : NULL;
        if (marker) fclose(marker);
        const char *delay = getenv("FORBC_NVML_MOCK_SMI_DELAY_MS");
        if (delay) usleep((useconds_t)atoi(delay) * 1000);
        devs[d].current = devs[d].pending;
        memset(devs[d].gis, 0, sizeof devs[d].gis);
    } else if (argc == 5 && strcmp(argv[1], "--mock-processes") == 0) {
        unsigned d = (unsigned)atoi(argv[2]), id = (unsigned)atoi(argv[3]);
        if (d > 1) return 2;
        if (id == 0) devs[d].processes = atoi(argv[4]);
        for (unsigned k = 0; k < 8; k++)
            if (id != 0 && devs[d].gis[k].used && devs[d].gis[k].id == id) devs[d].gis[k].processes = atoi(argv[4]);
    } else {
        fprintf(stderr, "usage: nvidia-smi --gpu-reset -i N | --mock-processes N GI COUNT\n");
        return 2;
    }
    save_state();
    return 0;
}

#endif
