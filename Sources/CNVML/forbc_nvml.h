/*
 * The part of NVIDIA's NVML API (nvml.h, API version 12/13) that forbc uses, declared from NVIDIA's published
 * documentation: the types and structs by their documented fields, and each function twice, as a prototype (for
 * the C mock in Tests/NVMLMock, which implements them) and as a pointer type NAME_fn (for NVMLLibrary, which
 * resolves them with dlsym: nothing links against libnvidia-ml).
 */
#ifndef FORBC_NVML_H
#define FORBC_NVML_H

/* nvmlReturn_t is a C enum in nvml.h; an int has its size and values. */
typedef int nvmlReturn_t;
#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_NO_PERMISSION 4
#define NVML_ERROR_NOT_FOUND 6
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define NVML_ERROR_DRIVER_NOT_LOADED 9
#define NVML_ERROR_FUNCTION_NOT_FOUND 13
#define NVML_ERROR_IN_USE 19
#define NVML_ERROR_VGPU_ECC_NOT_SUPPORTED 22
#define NVML_ERROR_INSUFFICIENT_RESOURCES 23
#define NVML_ERROR_ARGUMENT_VERSION_MISMATCH 25
#define NVML_ERROR_UNKNOWN 999

#define NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE 32
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE 16
#define NVML_DEVICE_UUID_V2_BUFFER_SIZE 96
#define NVML_DEVICE_NAME_V2_BUFFER_SIZE 96
#define NVML_DEVICE_MIG_DISABLE 0
#define NVML_DEVICE_MIG_ENABLE 1
/* GPU-instance profile indices run 0 ... 16 (NVML_GPU_INSTANCE_PROFILE_COUNT is 17 in API 12). */
#define NVML_GPU_INSTANCE_PROFILE_COUNT 17
/* Compute-instance profile indices: 1, 2, 3, 4, 7, 8 and 6 slices, then 1 slice REV1. */
#define NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE 0
#define NVML_COMPUTE_INSTANCE_PROFILE_2_SLICE 1
#define NVML_COMPUTE_INSTANCE_PROFILE_3_SLICE 2
#define NVML_COMPUTE_INSTANCE_PROFILE_4_SLICE 3
#define NVML_COMPUTE_INSTANCE_PROFILE_7_SLICE 4
#define NVML_COMPUTE_INSTANCE_PROFILE_8_SLICE 5
#define NVML_COMPUTE_INSTANCE_PROFILE_6_SLICE 6
#define NVML_COMPUTE_INSTANCE_PROFILE_COUNT 8
#define NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED 0

typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct nvmlGpuInstance_st *nvmlGpuInstance_t;
typedef struct nvmlComputeInstance_st *nvmlComputeInstance_t;

typedef struct nvmlPciInfo_st {
    char busIdLegacy[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE];
    unsigned int domain;
    unsigned int bus;
    unsigned int device;
    unsigned int pciDeviceId;
    unsigned int pciSubSystemId;
    char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
} nvmlPciInfo_t;

typedef struct nvmlMemory_st {
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_t;

typedef struct nvmlProcessInfo_st {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlProcessInfo_t;

typedef struct nvmlGpuInstancePlacement_st {
    unsigned int start;
    unsigned int size;
} nvmlGpuInstancePlacement_t;

typedef struct nvmlGpuInstanceProfileInfo_st {
    unsigned int id;
    unsigned int isP2pSupported;
    unsigned int sliceCount;
    unsigned int instanceCount;
    unsigned int multiprocessorCount;
    unsigned int copyEngineCount;
    unsigned int decoderCount;
    unsigned int encoderCount;
    unsigned int jpegCount;
    unsigned int ofaCount;
    unsigned long long memorySizeMB;
} nvmlGpuInstanceProfileInfo_t;

typedef struct nvmlGpuInstanceInfo_st {
    nvmlDevice_t device;
    unsigned int id;
    unsigned int profileId;
    nvmlGpuInstancePlacement_t placement;
} nvmlGpuInstanceInfo_t;

typedef struct nvmlComputeInstanceProfileInfo_st {
    unsigned int id;
    unsigned int sliceCount;
    unsigned int instanceCount;
    unsigned int multiprocessorCount;
    unsigned int sharedCopyEngineCount;
    unsigned int sharedDecoderCount;
    unsigned int sharedEncoderCount;
    unsigned int sharedJpegCount;
    unsigned int sharedOfaCount;
} nvmlComputeInstanceProfileInfo_t;

/* vGPU scheduler (NVML R535 and later; nvml.h's vGPU structs). */
#define NVML_SUPPORTED_VGPU_SCHEDULER_POLICY_COUNT 3
#define NVML_VGPU_SCHEDULER_ARR_DEFAULT 0
#define NVML_VGPU_SCHEDULER_ARR_DISABLE 1

typedef union {
    struct {
        unsigned int avgFactor;
        unsigned int timeslice;
    } vgpuSchedDataWithARR;
    struct {
        unsigned int timeslice;
    } vgpuSchedData;
} nvmlVgpuSchedulerParams_t;

typedef struct nvmlVgpuSchedulerGetState_st {
    unsigned int schedulerPolicy;
    unsigned int arrMode;
    nvmlVgpuSchedulerParams_t schedulerParams;
} nvmlVgpuSchedulerGetState_t;

typedef union {
    struct {
        unsigned int avgFactor;
        unsigned int frequency;
    } vgpuSchedDataWithARR;
    struct {
        unsigned int timeslice;
    } vgpuSchedData;
} nvmlVgpuSchedulerSetParams_t;

typedef struct nvmlVgpuSchedulerSetState_st {
    unsigned int schedulerPolicy;
    unsigned int enableARRMode;
    nvmlVgpuSchedulerSetParams_t schedulerParams;
} nvmlVgpuSchedulerSetState_t;

typedef struct nvmlVgpuSchedulerCapabilities_st {
    unsigned int supportedSchedulers[NVML_SUPPORTED_VGPU_SCHEDULER_POLICY_COUNT];
    unsigned int maxTimeslice;
    unsigned int minTimeslice;
    unsigned int isArrModeSupported;
    unsigned int maxFrequencyForARR;
    unsigned int minFrequencyForARR;
    unsigned int maxAvgFactorForARR;
    unsigned int minAvgFactorForARR;
} nvmlVgpuSchedulerCapabilities_t;

/* A prototype and its pointer type NAME_fn. */
#define FORBC_NVML(name, params) \
    nvmlReturn_t name params;    \
    typedef nvmlReturn_t(*name##_fn) params;

FORBC_NVML(nvmlInit_v2, (void))
FORBC_NVML(nvmlShutdown, (void))
const char *nvmlErrorString(nvmlReturn_t result);
typedef const char *(*nvmlErrorString_fn)(nvmlReturn_t result);
FORBC_NVML(nvmlDeviceGetCount_v2, (unsigned int *deviceCount))
FORBC_NVML(nvmlDeviceGetHandleByIndex_v2, (unsigned int index, nvmlDevice_t *device))
FORBC_NVML(nvmlDeviceGetPciInfo_v3, (nvmlDevice_t device, nvmlPciInfo_t *pci))
FORBC_NVML(nvmlDeviceGetMemoryInfo, (nvmlDevice_t device, nvmlMemory_t *memory))
FORBC_NVML(nvmlDeviceGetUUID, (nvmlDevice_t device, char *uuid, unsigned int length))
FORBC_NVML(nvmlDeviceGetName, (nvmlDevice_t device, char *name, unsigned int length))
FORBC_NVML(nvmlDeviceGetMigMode, (nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode))
FORBC_NVML(nvmlDeviceSetMigMode, (nvmlDevice_t device, unsigned int mode, nvmlReturn_t *activationStatus))
FORBC_NVML(
    nvmlDeviceGetComputeRunningProcesses_v3, (nvmlDevice_t device, unsigned int *infoCount, nvmlProcessInfo_t *infos))
FORBC_NVML(
    nvmlDeviceGetGpuInstanceProfileInfo,
    (nvmlDevice_t device, unsigned int profile, nvmlGpuInstanceProfileInfo_t *info))
FORBC_NVML(
    nvmlDeviceGetGpuInstancePossiblePlacements_v2,
    (nvmlDevice_t device, unsigned int profileId, nvmlGpuInstancePlacement_t *placements, unsigned int *count))
FORBC_NVML(
    nvmlDeviceCreateGpuInstanceWithPlacement,
    (nvmlDevice_t device, unsigned int profileId, const nvmlGpuInstancePlacement_t *placement,
     nvmlGpuInstance_t *gpuInstance))
FORBC_NVML(
    nvmlDeviceGetGpuInstances,
    (nvmlDevice_t device, unsigned int profileId, nvmlGpuInstance_t *gpuInstances, unsigned int *count))
FORBC_NVML(nvmlDeviceGetGpuInstanceById, (nvmlDevice_t device, unsigned int id, nvmlGpuInstance_t *gpuInstance))
FORBC_NVML(nvmlGpuInstanceGetInfo, (nvmlGpuInstance_t gpuInstance, nvmlGpuInstanceInfo_t *info))
FORBC_NVML(nvmlGpuInstanceDestroy, (nvmlGpuInstance_t gpuInstance))
FORBC_NVML(
    nvmlGpuInstanceGetComputeInstanceProfileInfo,
    (nvmlGpuInstance_t gpuInstance, unsigned int profile, unsigned int engProfile,
     nvmlComputeInstanceProfileInfo_t *info))
FORBC_NVML(
    nvmlGpuInstanceCreateComputeInstance,
    (nvmlGpuInstance_t gpuInstance, unsigned int profileId, nvmlComputeInstance_t *computeInstance))
FORBC_NVML(
    nvmlGpuInstanceGetComputeInstances,
    (nvmlGpuInstance_t gpuInstance, unsigned int profileId, nvmlComputeInstance_t *computeInstances,
     unsigned int *count))
FORBC_NVML(nvmlComputeInstanceDestroy, (nvmlComputeInstance_t computeInstance))
FORBC_NVML(nvmlDeviceGetMaxMigDeviceCount, (nvmlDevice_t device, unsigned int *count))
FORBC_NVML(nvmlDeviceGetMigDeviceHandleByIndex, (nvmlDevice_t device, unsigned int index, nvmlDevice_t *migDevice))
FORBC_NVML(nvmlDeviceGetGpuInstanceId, (nvmlDevice_t device, unsigned int *id))
FORBC_NVML(
    nvmlDeviceGetVgpuSchedulerCapabilities, (nvmlDevice_t device, nvmlVgpuSchedulerCapabilities_t *pCapabilities))
FORBC_NVML(nvmlDeviceGetVgpuSchedulerState, (nvmlDevice_t device, nvmlVgpuSchedulerGetState_t *pSchedulerState))
FORBC_NVML(nvmlDeviceSetVgpuSchedulerState, (nvmlDevice_t device, nvmlVgpuSchedulerSetState_t *pSchedulerState))
/* Heterogeneous (mixed-size) vGPU mode: version NVML_STRUCT_VERSION(VgpuHeterogeneousMode, 1). */
typedef struct nvmlVgpuHeterogeneousMode_v1_st {
    unsigned int version;
    unsigned int mode;
} nvmlVgpuHeterogeneousMode_t;
#define FORBC_NVML_VGPU_HETEROGENEOUS_MODE_V1 (sizeof(nvmlVgpuHeterogeneousMode_t) | (1U << 24U))
FORBC_NVML(nvmlDeviceGetVgpuHeterogeneousMode, (nvmlDevice_t device, nvmlVgpuHeterogeneousMode_t *pHeterogeneousMode))
FORBC_NVML(
    nvmlDeviceSetVgpuHeterogeneousMode, (nvmlDevice_t device, const nvmlVgpuHeterogeneousMode_t *pHeterogeneousMode))
/* A vGPU type's placements (NVML API reference, nvmlVgpuPlacementList_v2_t): placementSize is "the number of slots
 * occupied by the vGPU type", placementIds the slots where it may start; mode is an input (0: heterogeneous,
 * 1: homogeneous). Version NVML_STRUCT_VERSION(VgpuPlacementList, 2). */
#define NVML_VGPU_PGPU_HETEROGENEOUS_MODE 0
#define NVML_VGPU_PGPU_HOMOGENEOUS_MODE 1
typedef struct nvmlVgpuPlacementList_v2_st {
    unsigned int version;
    unsigned int placementSize;
    unsigned int count;
    unsigned int *placementIds;
    unsigned int mode;
} nvmlVgpuPlacementList_t;
#define FORBC_NVML_VGPU_PLACEMENT_LIST_V2 (sizeof(nvmlVgpuPlacementList_t) | (2U << 24U))
FORBC_NVML(nvmlDeviceGetVgpuTypeSupportedPlacements,
           (nvmlDevice_t device, unsigned int vgpuTypeId, nvmlVgpuPlacementList_t *pPlacementList))
FORBC_NVML(nvmlDeviceGetVgpuTypeCreatablePlacements,
           (nvmlDevice_t device, unsigned int vgpuTypeId, nvmlVgpuPlacementList_t *pPlacementList))
/* Active vGPU instances (nvmlVgpuInstance_t is an unsigned int) and, in heterogeneous mode, each one's placement:
 * nvmlVgpuInstanceGetPlacementId "returns a valid placement ID … else NVML_INVALID_VGPU_PLACEMENT_ID" (NVML API
 * reference). Version NVML_STRUCT_VERSION(VgpuPlacementId, 1). */
#define NVML_INVALID_VGPU_PLACEMENT_ID 0xFFFF
typedef struct nvmlVgpuPlacementId_v1_st {
    unsigned int version;
    unsigned int placementId;
} nvmlVgpuPlacementId_t;
#define FORBC_NVML_VGPU_PLACEMENT_ID_V1 (sizeof(nvmlVgpuPlacementId_t) | (1U << 24U))
FORBC_NVML(nvmlDeviceGetActiveVgpus, (nvmlDevice_t device, unsigned int *vgpuCount, unsigned int *vgpuInstances))
FORBC_NVML(nvmlVgpuInstanceGetType, (unsigned int vgpuInstance, unsigned int *vgpuTypeId))
FORBC_NVML(nvmlVgpuInstanceGetPlacementId, (unsigned int vgpuInstance, nvmlVgpuPlacementId_t *pPlacement))
/* vGPU types (nvmlVgpuTypeId_t is an unsigned int). */
#define NVML_INVALID_GPU_INSTANCE_PROFILE_ID 0xFFFFFFFF
FORBC_NVML(nvmlDeviceGetSupportedVgpus, (nvmlDevice_t device, unsigned int *vgpuCount, unsigned int *vgpuTypeIds))
FORBC_NVML(nvmlVgpuTypeGetName, (unsigned int vgpuTypeId, char *vgpuTypeName, unsigned int *size))
FORBC_NVML(nvmlVgpuTypeGetGpuInstanceProfileId, (unsigned int vgpuTypeId, unsigned int *gpuInstanceProfileId))

#endif
