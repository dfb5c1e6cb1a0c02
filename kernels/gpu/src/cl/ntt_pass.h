// The NTT passes whose twiddles come from local memory, instantiated three times after
// ntt.h (source.rs):
// - Fr_ntt_first (PASS_SETS 0, PASS_SHOUP 0): the bit-reversal permutation and the first
//   LOG_2GROUP rounds, Montgomery twiddle products;
// - Fr_ntt_first_shoup (PASS_SETS 0, PASS_SHOUP 1): the same with Shoup's product
//   (Fr_mul_twiddle), its (w, w') pairs from a GROUP-pair table of their own;
// - Fr_ntt_sets_shoup (PASS_SETS 1, PASS_SHOUP 1): k later rounds as independent
//   transforms of 2^k elements, Shoup's product again (below).
// Shoup's product has 15-17% fewer multiplier-pipe cycles than Montgomery's; read from
// global memory, its pairs made every pass wait on their loads and slower (bench/NOTES.md
// 26), so here they come from local memory. Which is faster is the card's to say (ntt.rs,
// NttTwiddles).
//
// The first pass: each work-group gathers the 2 GROUP elements that land in its block
// (src[bitrev(i)]), runs the rounds m = 1 .. GROUP on them and writes the block to dst.
// dst differs from src unless n is exactly 2 GROUP (one work-group, which reads everything
// before writing). n / 2 threads.
//
// The sets pass: rounds with half-blocks 2^s .. 2^(s+k-1) (s >= LOG_2GROUP, 1 <= k <
// LOG_2GROUP), as Fr_ntt_strided runs them, but with the twiddles split. Those rounds mix
// the elements of a set {base + (p << s) + lo : p < 2^k} only, p the set's 2^s-element
// block, lo < 2^s the index within it. With A_p the block p (the transforms of size 2^s of
// the earlier rounds) and P = bitrev_k(p), they compute, for t < 2^k,
//     X[lo + 2^s t] = sum_P omega_2^k^(t P) (omega_2^(s+k)^(lo P) A_bitrev(P)[lo]),
// a transform of size 2^k after one product per element by omega_2^(s+k)^(lo P) (from the
// transform's table, Montgomery form), whose own twiddles are powers of a 2^k-th root of
// unity: the first pass's GROUP pairs, the same for every set, in local memory. The
// products are as many as Fr_ntt_strided's (k 2^(k-1) per set, one more with the 2^k - 1
// of twiddle 1 left out), but only the
// per-element ones are Montgomery products with a global twiddle (two per thread, where
// Fr_ntt_strided loads one per round); the rest are Shoup's, and those with twiddle 1 in
// whole warps are skipped. Memory block p is the sub-transform's bit-reversed input slot p
// already.
// A work-group takes L = 2 GROUP / 2^k sets with consecutive lo (coalesced reads of L
// neighbours) and writes src's elements to the same places in dst (dst may be src). n / 2
// threads.
//
// Element e of the work-group (0 <= e < 2 GROUP) is slot e >> log L of set e mod L; its
// local-memory place is pass_slot(e), and twiddle index i's (a power of the 2 GROUP-th
// root) is pass_slot(i): read in the rounds' patterns, the plain layout had 8-way bank
// conflicts on the twiddles (bench/NOTES.md 30).
#if PASS_SETS
#define PASS_PARAMS GLOBAL const Fr *pairs, u32 log_n, u32 s, u32 k
#else
#define PASS_PARAMS u32 log_n
#endif
KERNEL void PASS_BLOCKS PASS_NAME(GLOBAL const Fr *src, GLOBAL Fr *dst, GLOBAL const Fr *twiddles,
                                  PASS_PARAMS, u32 count) {
#undef PASS_PARAMS
    SHARED HalfFr sh[2 * 2 * GROUP];
    u32 l = LOCAL_ID();
    u32 group_id = (GLOBAL_ID() - l) / GROUP;
#if PASS_SETS
    u32 log_l = LOG_2GROUP - k, lo_base;
    u32 base = sets_base(group_id, s, k, &lo_base);
#define PASS_AT(slot, set) (base + ((slot) << s) + (set))
#else
    const u32 k = LOG_2GROUP, log_l = 0;
    u32 base = group_id * 2 * GROUP;
#define PASS_AT(slot, set) (base + (slot))
#endif
    // Thread l: set l mod L, and in the first and last rounds pair b of that set.
    u32 set_mask = (1u << log_l) - 1;
    u32 set = l & set_mask, b = l >> log_l;
    // The GROUP twiddles, powers of a 2 GROUP-th root of unity: one per thread into local
    // memory before the first barrier, read there by every round. Thread l moves the one
    // that belongs in slot l, pass_slot(l) (pass_slot is its own inverse): storing twiddle
    // l at pass_slot(l) kept that slot live through the pass, and ptxas spilled it.
#if PASS_SHOUP
    // Planes of GROUP halves: w at tw[0 .. 2 GROUP), w' at tw[2 GROUP .. 4 GROUP). The table:
    // the GROUP plain powers, then their w'.
#if PASS_SETS
    GLOBAL const Fr *table = pairs;
#else
    GLOBAL const Fr *table = twiddles;
#endif
    SHARED HalfFr tw[4 * GROUP];
    Fr w = table[pass_slot(l)];
    PLANES_SET(tw, GROUP, l, w);
    w = table[GROUP + pass_slot(l)];
    PLANES_SET(tw + 2 * GROUP, GROUP, l, w);
    // v *= the twiddle of index i; v is read before the butterfly's u, which then is not
    // live during the product (registers: bench/NOTES.md 22).
#define PASS_MUL(v, slot) do { \
        Fr s_; PLANES_GET(tw + 2 * GROUP, GROUP, slot, s_); \
        PLANES_GET(tw, GROUP, slot, w); \
        v = Fr_mul_twiddle(v, w, s_); \
    } while (0)
#define PASS_BUTTERFLY(x, y, i) do { \
        Fr u_, v_; SH_GET(sh, y, v_); \
        PASS_MUL(v_, pass_slot(i)); \
        SH_GET(sh, x, u_); \
        REG_SUM_DIFF(u_, v_); \
        SH_SET(sh, x, u_); SH_SET(sh, y, v_); \
    } while (0)
#else
    SHARED HalfFr tw[2 * GROUP];
    Fr w = twiddles[pass_slot(l) << (log_n - LOG_2GROUP)];
    PLANES_SET(tw, GROUP, l, w);
#define PASS_MUL(v, slot) do { \
        PLANES_GET(tw, GROUP, slot, w); \
        v = Fr_mul_inline(v, w); \
    } while (0)
#define PASS_BUTTERFLY(x, y, i) do { \
        PLANES_GET(tw, GROUP, pass_slot(i), w); \
        SH_BUTTERFLY(sh, x, y, w); \
    } while (0)
#endif
    // Round 0 pairs slots (2b, 2b + 1) with twiddle 1.
#if PASS_SETS
    Fr x = src[PASS_AT(2 * b, set)];
    Fr y = src[PASS_AT(2 * b + 1, set)];
    // Slot 2b takes the factor omega^i0, slot 2b + 1 omega^i1 (omega the n-th root, table
    // entries omega^i for i < n / 2): i1 may be n / 2 or more, and then omega^i1 =
    // -omega^(i1 - n / 2), whose sign swaps the sum and the difference.
    u32 lo = lo_base + set, shift = log_n - s - k, top = 1u << (log_n - 1);
    u32 i0 = (lo * bit_reverse(2 * b, k)) << shift;
    u32 i1 = i0 + ((lo << (k - 1)) << shift);
    x = Fr_mul_inline(x, twiddles[i0]);
    y = Fr_mul_inline(y, twiddles[i1 & (top - 1)]);
    Fr d = Fr_sub(x, y);
    x = Fr_add(x, y);
    if (i1 & top) {
        y = x;
        x = d;
    } else {
        y = d;
    }
#else
    Fr x = src[bit_reverse(base + 2 * l, log_n)];
    Fr y = src[bit_reverse(base + 2 * l + 1, log_n)];
    REG_SUM_DIFF(x, y);
#endif
    if (k > 1) {
        // Slot 2b of the set is element 2 (l - set) + set, slot 2b + 1 the one L above.
        u32 e0 = pass_slot(((l - set) << 1) + set);
        SH_SET(sh, e0, x);
        SH_SET(sh, e0 ^ pass_slot(set_mask + 1), y);
        BARRIER();
        // Both loops are unrolled: with q a constant, a round's indices cost a few
        // instructions (in one loop choosing the mapping and the path cost ~30 per round,
        // 10 of them on the multiplier pipe). Rounds 1..NTT_UNIFORM_ROUNDS give the thread
        // the butterfly whose twiddle index j is its top q bits, so that the j = 0
        // butterflies (twiddle 1) fill whole warps, which skip the product; the thread index
        // is rotated by whole warps from one work-group to the next, so that the skipping
        // warps are not always on the same SM sub-partitions (warp w of a block runs on
        // sub-partition w mod 4). Below j, the thread's low k - 1 - q bits give the
        // butterfly's place in its set and its top log L bits the set: with the set on the
        // low bits, as in the other rounds, the eight lanes of a 16-byte access phase spanned
        // two sets, two-way bank conflicts at k = 7, 8 (bench/NOTES.md 34). The partner of
        // element e is e + (2^q << log L): e has that bit clear and pass_slot is linear over
        // XOR.
        u32 rotated = (l + (group_id << 5)) & (GROUP - 1);
        UNROLL for (u32 q = 1; q <= NTT_UNIFORM_ROUNDS && q + 1 < LOG_2GROUP; q++) {
            if (q + 1 >= k) break;
            u32 j = rotated >> (LOG_2GROUP - 1 - q);
            u32 rest = rotated & ((GROUP >> q) - 1);
            u32 hb = k - 1 - q;
            u32 e = ((rest & ((1u << hb) - 1)) << (q + 1 + log_l)) + (j << log_l) + (rest >> hb);
            u32 si = pass_slot(e), sm = si ^ pass_slot((1u << q) << log_l);
            if (j == 0) {
                Fr u, v;
                SH_GET(sh, si, u);
                SH_GET(sh, sm, v);
                REG_SUM_DIFF(u, v);
                SH_SET(sh, si, u);
                SH_SET(sh, sm, v);
            } else {
                PASS_BUTTERFLY(si, sm, j << (LOG_2GROUP - 1 - q));
            }
            BARRIER();
        }
        UNROLL for (u32 q = NTT_UNIFORM_ROUNDS + 1; q + 1 < LOG_2GROUP; q++) {
            if (q + 1 >= k) break;
            u32 j = b & ((1u << q) - 1);
            u32 e = ((((b - j) << 1) + j) << log_l) + set;
            u32 si = pass_slot(e), sm = si ^ pass_slot((1u << q) << log_l);
            PASS_BUTTERFLY(si, sm, j << (LOG_2GROUP - 1 - q));
            BARRIER();
        }
        // Round k - 1 pairs slots (b, b + 2^(k-1)): elements l and l + GROUP, with the
        // twiddle of index b 2^(LOG_2GROUP - k) = l - set.
        // y is read and multiplied before x is read (registers, as in PASS_BUTTERFLY).
        u32 el = pass_slot(l);
        SH_GET(sh, el ^ pass_slot(GROUP), y);
        PASS_MUL(y, el ^ pass_slot(set));
        SH_GET(sh, el, x);
        REG_SUM_DIFF(x, y);
    }
    dst[PASS_AT(b, set)] = x;
    dst[PASS_AT(b + (1u << (k - 1)), set)] = y;
#undef PASS_MUL
#undef PASS_BUTTERFLY
#undef PASS_AT
}
