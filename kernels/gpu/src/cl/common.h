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
// Five GROUP-thread blocks of the NTT passes per SM (at most 48 registers per thread):
// 1280 threads to hide their barriers and local-memory latency. With 4 (64 registers)
// ptxas took 52 for the strided pass, which also holds 4 blocks: 48 cost it 2 of ~280
// instructions per round and no spills.
#define NTT_BLOCKS __launch_bounds__(GROUP, 5)
// Rows of the carry-chain field product (field.h, MUL_CHAINS; CUDA only). x[0..8) +=
// b * (c0, c1, c2, c3) with ci's low and high words at x's word pairs (2i, 2i + 1), and
// the row's carry out added to x8. ptxas turns each mad.lo.cc / madc.hi.cc pair of one
// product into a single IMAD.WIDE.U32(.X) that adds the whole 64-bit product with carries
// in and out: one instruction per 32x32-bit product, where the portable product needs
// about four. A row is one asm statement so that nothing can come between its carries.
#define CHAIN_ROW(x, x8, c0, c1, c2, c3, b) asm( \
    "mad.lo.cc.u32 %0, %9, %13, %0;\n\tmadc.hi.cc.u32 %1, %9, %13, %1;\n\t" \
    "madc.lo.cc.u32 %2, %10, %13, %2;\n\tmadc.hi.cc.u32 %3, %10, %13, %3;\n\t" \
    "madc.lo.cc.u32 %4, %11, %13, %4;\n\tmadc.hi.cc.u32 %5, %11, %13, %5;\n\t" \
    "madc.lo.cc.u32 %6, %12, %13, %6;\n\tmadc.hi.cc.u32 %7, %12, %13, %7;\n\t" \
    "addc.u32 %8, %8, 0;" \
    : "+r"((x)[0]), "+r"((x)[1]), "+r"((x)[2]), "+r"((x)[3]), "+r"((x)[4]), "+r"((x)[5]), "+r"((x)[6]), \
      "+r"((x)[7]), "+r"(x8) : "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(b))
// The same row, after first adding s to y0, a word one below x[0]: the carry of that add
// enters the row at x[0].
#define CHAIN_ROW_AFTER_ADD(y0, s, x, x8, c0, c1, c2, c3, b) asm( \
    "add.cc.u32 %9, %9, %15;\n\t" \
    "madc.lo.cc.u32 %0, %10, %14, %0;\n\tmadc.hi.cc.u32 %1, %10, %14, %1;\n\t" \
    "madc.lo.cc.u32 %2, %11, %14, %2;\n\tmadc.hi.cc.u32 %3, %11, %14, %3;\n\t" \
    "madc.lo.cc.u32 %4, %12, %14, %4;\n\tmadc.hi.cc.u32 %5, %12, %14, %5;\n\t" \
    "madc.lo.cc.u32 %6, %13, %14, %6;\n\tmadc.hi.cc.u32 %7, %13, %14, %7;\n\t" \
    "addc.u32 %8, %8, 0;" \
    : "+r"((x)[0]), "+r"((x)[1]), "+r"((x)[2]), "+r"((x)[3]), "+r"((x)[4]), "+r"((x)[5]), "+r"((x)[6]), \
      "+r"((x)[7]), "+r"(x8), "+r"(y0) : "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(b), "r"(s))
// Shorter rows for the squaring's off-diagonal products (field.h): x[0..2k) += b * (c0 ..)
// for k = 3, 2, 1 products, the carry out added to xk. The caller orders the rows so that
// xk holds at most earlier rows' carries, which a carry cannot overflow.
#define CHAIN_ROW3(x, x6, c0, c1, c2, b) asm( \
    "mad.lo.cc.u32 %0, %7, %10, %0;\n\tmadc.hi.cc.u32 %1, %7, %10, %1;\n\t" \
    "madc.lo.cc.u32 %2, %8, %10, %2;\n\tmadc.hi.cc.u32 %3, %8, %10, %3;\n\t" \
    "madc.lo.cc.u32 %4, %9, %10, %4;\n\tmadc.hi.cc.u32 %5, %9, %10, %5;\n\t" \
    "addc.u32 %6, %6, 0;" \
    : "+r"((x)[0]), "+r"((x)[1]), "+r"((x)[2]), "+r"((x)[3]), "+r"((x)[4]), "+r"((x)[5]), "+r"(x6) \
    : "r"(c0), "r"(c1), "r"(c2), "r"(b))
#define CHAIN_ROW2(x, x4, c0, c1, b) asm( \
    "mad.lo.cc.u32 %0, %5, %7, %0;\n\tmadc.hi.cc.u32 %1, %5, %7, %1;\n\t" \
    "madc.lo.cc.u32 %2, %6, %7, %2;\n\tmadc.hi.cc.u32 %3, %6, %7, %3;\n\t" \
    "addc.u32 %4, %4, 0;" \
    : "+r"((x)[0]), "+r"((x)[1]), "+r"((x)[2]), "+r"((x)[3]), "+r"(x4) : "r"(c0), "r"(c1), "r"(b))
#define CHAIN_ROW1(x, x2, c0, b) asm( \
    "mad.lo.cc.u32 %0, %3, %4, %0;\n\tmadc.hi.cc.u32 %1, %3, %4, %1;\n\t" \
    "addc.u32 %2, %2, 0;" \
    : "+r"((x)[0]), "+r"((x)[1]), "+r"(x2) : "r"(c0), "r"(b))
// Rows of a product taken modulo 2^256 (the NTT's twiddle product, ntt.h): x[..] += b *
// (c0 ..) on word pairs, with no carry out of the row's last word. _TRUNC rows end on a
// whole pair (the last high word's carry dropped), _LOW rows on the low word of their last
// product alone (its high word is at 2^256 and beyond).
#define CHAIN_ROW4_TRUNC(x, c0, c1, c2, c3, b) asm( \
    "mad.lo.cc.u32 %0, %8, %12, %0;\n\tmadc.hi.cc.u32 %1, %8, %12, %1;\n\t" \
    "madc.lo.cc.u32 %2, %9, %12, %2;\n\tmadc.hi.cc.u32 %3, %9, %12, %3;\n\t" \
    "madc.lo.cc.u32 %4, %10, %12, %4;\n\tmadc.hi.cc.u32 %5, %10, %12, %5;\n\t" \
    "madc.lo.cc.u32 %6, %11, %12, %6;\n\tmadc.hi.u32 %7, %11, %12, %7;" \
    : "+r"((x)[0]), "+r"((x)[1]), "+r"((x)[2]), "+r"((x)[3]), "+r"((x)[4]), "+r"((x)[5]), "+r"((x)[6]), "+r"((x)[7]) \
    : "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(b))
#define CHAIN_ROW3_TRUNC(x, c0, c1, c2, b) asm( \
    "mad.lo.cc.u32 %0, %6, %9, %0;\n\tmadc.hi.cc.u32 %1, %6, %9, %1;\n\t" \
    "madc.lo.cc.u32 %2, %7, %9, %2;\n\tmadc.hi.cc.u32 %3, %7, %9, %3;\n\t" \
    "madc.lo.cc.u32 %4, %8, %9, %4;\n\tmadc.hi.u32 %5, %8, %9, %5;" \
    : "+r"((x)[0]), "+r"((x)[1]), "+r"((x)[2]), "+r"((x)[3]), "+r"((x)[4]), "+r"((x)[5]) \
    : "r"(c0), "r"(c1), "r"(c2), "r"(b))
#define CHAIN_ROW2_TRUNC(x, c0, c1, b) asm( \
    "mad.lo.cc.u32 %0, %4, %6, %0;\n\tmadc.hi.cc.u32 %1, %4, %6, %1;\n\t" \
    "madc.lo.cc.u32 %2, %5, %6, %2;\n\tmadc.hi.u32 %3, %5, %6, %3;" \
    : "+r"((x)[0]), "+r"((x)[1]), "+r"((x)[2]), "+r"((x)[3]) \
    : "r"(c0), "r"(c1), "r"(b))
#define CHAIN_ROW1_TRUNC(x, c0, b) asm( \
    "mad.lo.cc.u32 %0, %2, %3, %0;\n\tmadc.hi.u32 %1, %2, %3, %1;" \
    : "+r"((x)[0]), "+r"((x)[1]) \
    : "r"(c0), "r"(b))
#define CHAIN_ROW4_LOW(x, c0, c1, c2, c3, b) asm( \
    "mad.lo.cc.u32 %0, %7, %11, %0;\n\tmadc.hi.cc.u32 %1, %7, %11, %1;\n\t" \
    "madc.lo.cc.u32 %2, %8, %11, %2;\n\tmadc.hi.cc.u32 %3, %8, %11, %3;\n\t" \
    "madc.lo.cc.u32 %4, %9, %11, %4;\n\tmadc.hi.cc.u32 %5, %9, %11, %5;\n\t" \
    "madc.lo.u32 %6, %10, %11, %6;" \
    : "+r"((x)[0]), "+r"((x)[1]), "+r"((x)[2]), "+r"((x)[3]), "+r"((x)[4]), "+r"((x)[5]), "+r"((x)[6]) \
    : "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(b))
#define CHAIN_ROW3_LOW(x, c0, c1, c2, b) asm( \
    "mad.lo.cc.u32 %0, %5, %8, %0;\n\tmadc.hi.cc.u32 %1, %5, %8, %1;\n\t" \
    "madc.lo.cc.u32 %2, %6, %8, %2;\n\tmadc.hi.cc.u32 %3, %6, %8, %3;\n\t" \
    "madc.lo.u32 %4, %7, %8, %4;" \
    : "+r"((x)[0]), "+r"((x)[1]), "+r"((x)[2]), "+r"((x)[3]), "+r"((x)[4]) \
    : "r"(c0), "r"(c1), "r"(c2), "r"(b))
#define CHAIN_ROW2_LOW(x, c0, c1, b) asm( \
    "mad.lo.cc.u32 %0, %3, %5, %0;\n\tmadc.hi.cc.u32 %1, %3, %5, %1;\n\t" \
    "madc.lo.u32 %2, %4, %5, %2;" \
    : "+r"((x)[0]), "+r"((x)[1]), "+r"((x)[2]) \
    : "r"(c0), "r"(c1), "r"(b))
#define CHAIN_ROW1_LOW(x, c0, b) asm( \
    "mad.lo.u32 %0, %1, %2, %0;" \
    : "+r"((x)[0]) \
    : "r"(c0), "r"(b))

// Rows that start with a high word alone: x[0] += the high word of b c0, then b (c1 ..)
// on the word pairs (x[1], x[2]) .., the carry out added to the carry word. For the
// twiddle product's quotient estimate (ntt.h), whose column 6 needs only its high words:
// mad.hi with a carry out is one IMAD.HI (two multiplier-pipe cycles, an IMAD.WIDE four).
#define CHAIN_HROW2(x, x3, c0, c1, b) asm( \
    "mad.hi.cc.u32 %0, %4, %6, %0;\n\t" \
    "madc.lo.cc.u32 %1, %5, %6, %1;\n\tmadc.hi.cc.u32 %2, %5, %6, %2;\n\t" \
    "addc.u32 %3, %3, 0;" \
    : "+r"((x)[0]), "+r"((x)[1]), "+r"((x)[2]), "+r"(x3) : "r"(c0), "r"(c1), "r"(b))
#define CHAIN_HROW3(x, x5, c0, c1, c2, b) asm( \
    "mad.hi.cc.u32 %0, %6, %9, %0;\n\t" \
    "madc.lo.cc.u32 %1, %7, %9, %1;\n\tmadc.hi.cc.u32 %2, %7, %9, %2;\n\t" \
    "madc.lo.cc.u32 %3, %8, %9, %3;\n\tmadc.hi.cc.u32 %4, %8, %9, %4;\n\t" \
    "addc.u32 %5, %5, 0;" \
    : "+r"((x)[0]), "+r"((x)[1]), "+r"((x)[2]), "+r"((x)[3]), "+r"((x)[4]), "+r"(x5) \
    : "r"(c0), "r"(c1), "r"(c2), "r"(b))
#define CHAIN_HROW4(x, x7, c0, c1, c2, c3, b) asm( \
    "mad.hi.cc.u32 %0, %8, %12, %0;\n\t" \
    "madc.lo.cc.u32 %1, %9, %12, %1;\n\tmadc.hi.cc.u32 %2, %9, %12, %2;\n\t" \
    "madc.lo.cc.u32 %3, %10, %12, %3;\n\tmadc.hi.cc.u32 %4, %10, %12, %4;\n\t" \
    "madc.lo.cc.u32 %5, %11, %12, %5;\n\tmadc.hi.cc.u32 %6, %11, %12, %6;\n\t" \
    "addc.u32 %7, %7, 0;" \
    : "+r"((x)[0]), "+r"((x)[1]), "+r"((x)[2]), "+r"((x)[3]), "+r"((x)[4]), "+r"((x)[5]), \
      "+r"((x)[6]), "+r"(x7) : "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(b))

// The same rows ending on their last high word, with no carry out: for a row whose last
// word is still zero, which then holds at most hi(b c) + 1 < 2^32.
#define CHAIN_HROW1_TRUNC(x, c0, b) asm( \
    "mad.hi.u32 %0, %1, %2, %0;" : "+r"((x)[0]) : "r"(c0), "r"(b))
#define CHAIN_HROW2_TRUNC(x, c0, c1, b) asm( \
    "mad.hi.cc.u32 %0, %3, %5, %0;\n\t" \
    "madc.lo.cc.u32 %1, %4, %5, %1;\n\tmadc.hi.u32 %2, %4, %5, %2;" \
    : "+r"((x)[0]), "+r"((x)[1]), "+r"((x)[2]) : "r"(c0), "r"(c1), "r"(b))
#define CHAIN_HROW3_TRUNC(x, c0, c1, c2, b) asm( \
    "mad.hi.cc.u32 %0, %5, %8, %0;\n\t" \
    "madc.lo.cc.u32 %1, %6, %8, %1;\n\tmadc.hi.cc.u32 %2, %6, %8, %2;\n\t" \
    "madc.lo.cc.u32 %3, %7, %8, %3;\n\tmadc.hi.u32 %4, %7, %8, %4;" \
    : "+r"((x)[0]), "+r"((x)[1]), "+r"((x)[2]), "+r"((x)[3]), "+r"((x)[4]) \
    : "r"(c0), "r"(c1), "r"(c2), "r"(b))
#define CHAIN_HROW4_TRUNC(x, c0, c1, c2, c3, b) asm( \
    "mad.hi.cc.u32 %0, %7, %11, %0;\n\t" \
    "madc.lo.cc.u32 %1, %8, %11, %1;\n\tmadc.hi.cc.u32 %2, %8, %11, %2;\n\t" \
    "madc.lo.cc.u32 %3, %9, %11, %3;\n\tmadc.hi.cc.u32 %4, %9, %11, %4;\n\t" \
    "madc.lo.cc.u32 %5, %10, %11, %5;\n\tmadc.hi.u32 %6, %10, %11, %6;" \
    : "+r"((x)[0]), "+r"((x)[1]), "+r"((x)[2]), "+r"((x)[3]), "+r"((x)[4]), "+r"((x)[5]), "+r"((x)[6]) \
    : "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(b))

// q[0..8) = the words 8..15 of ev + od (both from word 7 up): the high half of the
// twiddle product's quotient estimate, with the carry out of word 7.
#define CHAIN_HIGH_HALF(q, ev, od) do { \
        u32 word7_; \
        asm("add.cc.u32 %8, %9, %18;\n\taddc.cc.u32 %0, %10, %19;\n\t" \
            "addc.cc.u32 %1, %11, %20;\n\taddc.cc.u32 %2, %12, %21;\n\t" \
            "addc.cc.u32 %3, %13, %22;\n\taddc.cc.u32 %4, %14, %23;\n\t" \
            "addc.cc.u32 %5, %15, %24;\n\taddc.cc.u32 %6, %16, %25;\n\taddc.u32 %7, %17, %26;" \
            : "=r"((q)[0]), "=r"((q)[1]), "=r"((q)[2]), "=r"((q)[3]), "=r"((q)[4]), \
              "=r"((q)[5]), "=r"((q)[6]), "=r"((q)[7]), "=r"(word7_) \
            : "r"((ev)[7]), "r"((ev)[8]), "r"((ev)[9]), "r"((ev)[10]), "r"((ev)[11]), \
              "r"((ev)[12]), "r"((ev)[13]), "r"((ev)[14]), "r"((ev)[15]), "r"((od)[7]), \
              "r"((od)[8]), "r"((od)[9]), "r"((od)[10]), "r"((od)[11]), "r"((od)[12]), \
              "r"((od)[13]), "r"((od)[14]), "r"((od)[15])); \
    } while (0)
// x[0..16) += (a0^2, a1^2 2^64, ..., a7^2 2^448): the squares of a square's diagonal, each
// on a word pair; the carry out dropped (the caller knows the sum is below 2^512).
#define CHAIN_DIAGONAL(x, a) asm( \
    "mad.lo.cc.u32 %0, %16, %16, %0;\n\tmadc.hi.cc.u32 %1, %16, %16, %1;\n\t" \
    "madc.lo.cc.u32 %2, %17, %17, %2;\n\tmadc.hi.cc.u32 %3, %17, %17, %3;\n\t" \
    "madc.lo.cc.u32 %4, %18, %18, %4;\n\tmadc.hi.cc.u32 %5, %18, %18, %5;\n\t" \
    "madc.lo.cc.u32 %6, %19, %19, %6;\n\tmadc.hi.cc.u32 %7, %19, %19, %7;\n\t" \
    "madc.lo.cc.u32 %8, %20, %20, %8;\n\tmadc.hi.cc.u32 %9, %20, %20, %9;\n\t" \
    "madc.lo.cc.u32 %10, %21, %21, %10;\n\tmadc.hi.cc.u32 %11, %21, %21, %11;\n\t" \
    "madc.lo.cc.u32 %12, %22, %22, %12;\n\tmadc.hi.cc.u32 %13, %22, %22, %13;\n\t" \
    "madc.lo.cc.u32 %14, %23, %23, %14;\n\tmadc.hi.u32 %15, %23, %23, %15;" \
    : "+r"((x)[0]), "+r"((x)[1]), "+r"((x)[2]), "+r"((x)[3]), "+r"((x)[4]), "+r"((x)[5]), "+r"((x)[6]), \
      "+r"((x)[7]), "+r"((x)[8]), "+r"((x)[9]), "+r"((x)[10]), "+r"((x)[11]), "+r"((x)[12]), \
      "+r"((x)[13]), "+r"((x)[14]), "+r"((x)[15]) \
    : "r"((a)[0]), "r"((a)[1]), "r"((a)[2]), "r"((a)[3]), "r"((a)[4]), "r"((a)[5]), "r"((a)[6]), "r"((a)[7]))
// r[0..8) = e[0..8) + (s, o[0], ..., o[6]), the carry out dropped (the caller knows the
// sum is below 2^256).
#define CHAIN_MERGE(r, e, o, s) asm( \
    "add.cc.u32 %0, %8, %16;\n\taddc.cc.u32 %1, %9, %17;\n\t" \
    "addc.cc.u32 %2, %10, %18;\n\taddc.cc.u32 %3, %11, %19;\n\t" \
    "addc.cc.u32 %4, %12, %20;\n\taddc.cc.u32 %5, %13, %21;\n\t" \
    "addc.cc.u32 %6, %14, %22;\n\taddc.u32 %7, %15, %23;" \
    : "=r"((r)[0]), "=r"((r)[1]), "=r"((r)[2]), "=r"((r)[3]), "=r"((r)[4]), "=r"((r)[5]), "=r"((r)[6]), \
      "=r"((r)[7]) : "r"((e)[0]), "r"((e)[1]), "r"((e)[2]), "r"((e)[3]), "r"((e)[4]), "r"((e)[5]), \
      "r"((e)[6]), "r"((e)[7]), "r"(s), "r"((o)[0]), "r"((o)[1]), "r"((o)[2]), "r"((o)[3]), "r"((o)[4]), \
      "r"((o)[5]), "r"((o)[6]))
// r[0..8) = a + b and r[0..8) = a - b over 2^256, c the carry (1) or borrow (0xffffffff)
// out: one IADD3.X per word, where the portable 64-bit forms of field.h take two to four
// (and a field product's final subtraction of p another ~50 instructions). CHAIN8 is the
// shared shape: `first` on word 0, `next` on words 1..7, `out` of two zeros for c.
#define CHAIN8(first, next, out, r, a, b, c) asm( \
    first " %0, %9, %17;\n\t" next " %1, %10, %18;\n\t" next " %2, %11, %19;\n\t" \
    next " %3, %12, %20;\n\t" next " %4, %13, %21;\n\t" next " %5, %14, %22;\n\t" \
    next " %6, %15, %23;\n\t" next " %7, %16, %24;\n\t" out " %8, 0, 0;" \
    : "=r"((r)[0]), "=r"((r)[1]), "=r"((r)[2]), "=r"((r)[3]), "=r"((r)[4]), "=r"((r)[5]), "=r"((r)[6]), \
      "=r"((r)[7]), "=r"(c) : "r"((a)[0]), "r"((a)[1]), "r"((a)[2]), "r"((a)[3]), "r"((a)[4]), "r"((a)[5]), \
      "r"((a)[6]), "r"((a)[7]), "r"((b)[0]), "r"((b)[1]), "r"((b)[2]), "r"((b)[3]), "r"((b)[4]), "r"((b)[5]), \
      "r"((b)[6]), "r"((b)[7]))
// r[0..8) = a + b + cin (cin 0 or 1), c the carry out: the first add turns cin back into
// the carry flag (cin + 0xffffffff carries exactly when cin is 1), so that a 512-bit sum
// runs as two 256-bit halves (an asm statement takes at most 30 operands).
#define CHAIN_ADD8_CARRY_IN(r, a, b, cin, c) do { \
        u32 flag_; \
        asm("add.cc.u32 %9, %26, 0xffffffff;\n\t" \
            "addc.cc.u32 %0, %10, %18;\n\taddc.cc.u32 %1, %11, %19;\n\t" \
            "addc.cc.u32 %2, %12, %20;\n\taddc.cc.u32 %3, %13, %21;\n\t" \
            "addc.cc.u32 %4, %14, %22;\n\taddc.cc.u32 %5, %15, %23;\n\t" \
            "addc.cc.u32 %6, %16, %24;\n\taddc.cc.u32 %7, %17, %25;\n\taddc.u32 %8, 0, 0;" \
            : "=r"((r)[0]), "=r"((r)[1]), "=r"((r)[2]), "=r"((r)[3]), "=r"((r)[4]), "=r"((r)[5]), \
              "=r"((r)[6]), "=r"((r)[7]), "=r"(c), "=r"(flag_) \
            : "r"((a)[0]), "r"((a)[1]), "r"((a)[2]), "r"((a)[3]), "r"((a)[4]), "r"((a)[5]), "r"((a)[6]), \
              "r"((a)[7]), "r"((b)[0]), "r"((b)[1]), "r"((b)[2]), "r"((b)[3]), "r"((b)[4]), "r"((b)[5]), \
              "r"((b)[6]), "r"((b)[7]), "r"(cin)); \
    } while (0)
#define CHAIN_ADD8(r, a, b, c) CHAIN8("add.cc.u32", "addc.cc.u32", "addc.u32", r, a, b, c)
#define CHAIN_SUB8(r, a, b, c) CHAIN8("sub.cc.u32", "subc.cc.u32", "subc.u32", r, a, b, c)
#else
typedef uint u32;
typedef ulong u64;
#define KERNEL __kernel
// OpenCL C 1.1 (the most Mesa's Clover offers) has no `static` functions; the source is one
// translation unit, so nothing needs their internal linkage there.
#if defined(__OPENCL_C_VERSION__) && __OPENCL_C_VERSION__ >= 120
#define DEVICE static inline
#define DEVICE_CALL static
#else
#define DEVICE
#define DEVICE_CALL
#endif
#define GLOBAL __global
#define GLOBAL_ID() ((u32)get_global_id(0))
#define UNROLL _Pragma("unroll")
#define LOCAL_ID() ((u32)get_local_id(0))
#define SHARED __local
#define BARRIER() barrier(CLK_LOCAL_MEM_FENCE)
#define ATOMIC_ADD(p, v) atomic_add((p), (v))
#define ALIGN16 __attribute__((aligned(16)))
#define NTT_BLOCKS
#endif
// GROUP (threads per work-group / block) is defined by the host, which launches with it.
