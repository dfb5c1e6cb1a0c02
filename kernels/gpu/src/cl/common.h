// One kernel source for CUDA (NVRTC) and OpenCL C: these macros hide the dialect.
// The host prepends the generated field constants (see source.rs) and then this file.
#if defined(__CUDACC__)
typedef unsigned int u32;
typedef unsigned long long u64;
#define KERNEL extern "C" __global__
#define DEVICE static __device__ __forceinline__
// Field products and point additions are called, not inlined: inlining every Montgomery
// product into every point formula made 19 MB of PTX that NVRTC and ptxas take minutes over.
#define DEVICE_CALL static __device__ __noinline__
#define GLOBAL
#define GLOBAL_ID() (blockIdx.x * blockDim.x + threadIdx.x)
#define UNROLL _Pragma("unroll")
#define LOCAL_ID() (threadIdx.x)
#define SHARED __shared__
#define BARRIER() __syncthreads()
#define ATOMIC_ADD(p, v) atomicAdd((p), (v))
#define ALIGN16 __align__(16)
#else
typedef uint u32;
typedef ulong u64;
#define KERNEL __kernel
#define DEVICE static inline
#define DEVICE_CALL static
#define GLOBAL __global
#define GLOBAL_ID() ((u32)get_global_id(0))
#define UNROLL _Pragma("unroll")
#define LOCAL_ID() ((u32)get_local_id(0))
#define SHARED __local
#define BARRIER() barrier(CLK_LOCAL_MEM_FENCE)
#define ATOMIC_ADD(p, v) atomic_add((p), (v))
#define ALIGN16 __attribute__((aligned(16)))
#endif
// GROUP (threads per work-group / block) is defined by the host, which launches with it.
