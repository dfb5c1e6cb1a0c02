// The NTT's first pass, instantiated twice after ntt.h (source.rs): with FIRST_SHOUP 0 as
// Fr_ntt_first, whose twiddles are Montgomery-form powers read from the transform's table,
// and with FIRST_SHOUP 1 as Fr_ntt_first_shoup, whose twiddles are (w, w') pairs for Shoup's
// product (Fr_mul_twiddle) read from a GROUP-pair table of their own. The Shoup form has 17%
// fewer multiplier instructions per product; with its pairs in local memory, as here, it
// no longer waits on their global loads, which is what made it slower in every pass
// (bench/NOTES.md 26). Which is faster is the card's to say (ntt.rs, FirstPass).

// The bit-reversal permutation fused with the first LOG_2GROUP rounds: each work-group
// gathers the 2 GROUP elements that land in its block (src[bitrev(i)]), runs the rounds
// m = 1 .. GROUP on them and writes the block to dst. dst differs from src unless n is
// exactly 2 GROUP (one work-group, which reads everything before writing). n / 2 threads.
KERNEL void FIRST_BLOCKS FIRST_NAME(GLOBAL const Fr *src, GLOBAL Fr *dst, GLOBAL const Fr *twiddles,
                         u32 log_n, u32 count) {
    SHARED HalfFr sh[2 * 2 * GROUP];
    // The pass's twiddles are the GROUP powers of a 2 GROUP-th root of unity, omega^(j n /
    // 2 GROUP): each thread loads one into local memory before the first barrier, and the
    // rounds read them there instead of waiting on scattered global loads (H100: the
    // pass's long-scoreboard stalls 2.8 -> 0.9 per issue, bench/NOTES.md 27).
    u32 l = LOCAL_ID();
    u32 base = (GLOBAL_ID() - l) * 2;
#if FIRST_SHOUP
    // Planes of GROUP halves: w at tw[0 .. 2 GROUP), w' at tw[2 GROUP .. 4 GROUP).
    // twiddles: the GROUP plain powers, then their w'.
    SHARED HalfFr tw[4 * GROUP];
    Fr w = twiddles[l];
    PLANES_SET(tw, GROUP, l, w);
    w = twiddles[GROUP + l];
    PLANES_SET(tw + 2 * GROUP, GROUP, l, w);
    // v *= the twiddle of index e; v is read before the butterfly's u, which then is not
    // live during the product (registers: bench/NOTES.md 22).
#define FIRST_MUL(v, e) do { \
        Fr s_; PLANES_GET(tw + 2 * GROUP, GROUP, e, s_); \
        PLANES_GET(tw, GROUP, e, w); \
        v = Fr_mul_twiddle(v, w, s_); \
    } while (0)
#define FIRST_BUTTERFLY(x, y, e) do { \
        Fr u_, v_; SH_GET(sh, y, v_); \
        FIRST_MUL(v_, e); \
        SH_GET(sh, x, u_); \
        REG_SUM_DIFF(u_, v_); \
        SH_SET(sh, x, u_); SH_SET(sh, y, v_); \
    } while (0)
#else
    SHARED HalfFr tw[2 * GROUP];
    Fr w = twiddles[l << (log_n - LOG_2GROUP)];
    PLANES_SET(tw, GROUP, l, w);
#define FIRST_BUTTERFLY(x, y, e) do { \
        PLANES_GET(tw, GROUP, e, w); \
        SH_BUTTERFLY(sh, x, y, w); \
    } while (0)
#endif
    // Round m = 1 pairs (2l, 2l + 1) with twiddle 1.
    Fr x = src[bit_reverse(base + 2 * l, log_n)];
    Fr y = src[bit_reverse(base + 2 * l + 1, log_n)];
    REG_SUM_DIFF(x, y);
    SH_SET(sh, first_slot(2 * l), x);
    SH_SET(sh, first_slot(2 * l + 1), y);
    BARRIER();
    // Both loops are unrolled: with q a constant, a round's indices cost a few instructions
    // (in one loop choosing the mapping and the path cost ~30 per round, 10 of them on the
    // multiplier pipe). The uniform rounds' thread index is rotated by whole warps from one
    // work-group to the next, so that the warps which skip a product are not always on the
    // same SM sub-partitions (warp w of a block runs on sub-partition w mod 4).
    u32 rotated = (l + (((GLOBAL_ID() - l) / GROUP) << 5)) & (GROUP - 1);
    UNROLL for (u32 q = 1; q <= NTT_UNIFORM_ROUNDS && q + 1 < LOG_2GROUP; q++) {
        u32 m = 1u << q;
        u32 j = rotated >> (LOG_2GROUP - 1 - q);
        u32 i = ((rotated & ((GROUP >> q) - 1)) << (q + 1)) + j;
        // i has bit q clear and the slot map is linear over XOR: slot(i + m) = slot(i) ^ slot(m).
        u32 si = first_slot(i), sm = si ^ first_slot(m);
        if (j == 0) {
            Fr u, v;
            SH_GET(sh, si, u);
            SH_GET(sh, sm, v);
            REG_SUM_DIFF(u, v);
            SH_SET(sh, si, u);
            SH_SET(sh, sm, v);
        } else {
            FIRST_BUTTERFLY(si, sm, j << (LOG_2GROUP - 1 - q));
        }
        BARRIER();
    }
    UNROLL for (u32 q = NTT_UNIFORM_ROUNDS + 1; q + 1 < LOG_2GROUP; q++) {
        u32 m = 1u << q;
        u32 j = l & (m - 1);
        u32 i = ((l - j) << 1) + j;
        u32 si = first_slot(i), sm = si ^ first_slot(m);
        FIRST_BUTTERFLY(si, sm, j << (LOG_2GROUP - 1 - q));
        BARRIER();
    }
    // Round m = GROUP pairs (l, l + GROUP).
    SH_GET(sh, first_slot(l), x);
    SH_GET(sh, first_slot(l + GROUP), y);
#if FIRST_SHOUP
    FIRST_MUL(y, l);
    REG_SUM_DIFF(x, y);
#undef FIRST_MUL
#else
    PLANES_GET(tw, GROUP, l, w);
    REG_BUTTERFLY(x, y, w);
#endif
#undef FIRST_BUTTERFLY
    dst[base + l] = x;
    dst[base + l + GROUP] = y;
}
