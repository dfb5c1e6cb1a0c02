// The Shoup passes with two rounds per local-memory exchange, instantiated twice after
// ntt_pass.h (source.rs):
// - Fr_ntt_first_radix4 (R4_SETS 0): the bit-reversal permutation and the first LOG_2GROUP
//   rounds, as Fr_ntt_first_shoup;
// - Fr_ntt_sets_radix4 (R4_SETS 1): k >= 4 later rounds as independent transforms of 2^k
//   elements after one Montgomery product per element, as Fr_ntt_sets_shoup.
// Same products, same twiddle table, same sub-block of 2 GROUP elements; what differs is
// who does what between barriers. Here a thread owns four elements of a set, slots a, a + m,
// a + 2m, a + 3m (m = 2^q), and runs rounds q and q + 1 on them (a radix-4 step: the two
// round-q butterflies share their twiddle, the round q + 1 pairs take it and the one m
// above), so a pass has half the barriers of ntt_pass.h and a quarter less local-memory
// traffic (per four butterflies six element loads and six stores where ntt_pass.h has eight
// and eight, three twiddle pairs where it has four). On an H100 about half of the Shoup
// passes' warps were waiting at a barrier at any moment, and the multiplier pipe was busy
// only 75-77% of the time (bench/NOTES.md 32). The price is resident warps: a thread holds at
// most two elements besides the one it multiplies (the others are parked in its own
// local-memory slots, which no other thread touches before the next barrier), but at 64
// registers ptxas still spilled 8-24 bytes, hoisting the next product's loads; at 80 it
// does not, so three blocks of GROUP threads per SM (24 warps, where the Shoup passes have
// 40), each block two sub-blocks of 2 GROUP elements sharing one twiddle table (48 KiB of
// local memory at GROUP 256). Which is faster is the card's to say (ntt.rs, `auto`).
// n / 4 threads; the host uses these passes from 4 GROUP elements and for k >= 4 (ntt.rs).
//
// Rounds: 0 and 1 in registers from the global loads (slots 4b .. 4b + 3: round 0 has
// twiddle 1, round 1 one product, by omega_4), then middle steps of two rounds (one for
// an odd count) from q = 2, then rounds k - 2 and k - 1 in registers on slots b + i 2^(k-2),
// the elements t + i GROUP / 2 of the sub-block, written straight to global memory. Every
// product that ntt_pass.h skips is skipped here too: round 1's by construction, and in the
// step at q = 2 the threads whose twiddle index j is 0 (three of their four butterflies
// have twiddle 1) fill whole warps at GROUP 256 (j is the thread's top bits).
#if defined(__CUDACC__)
#define R4_BLOCKS __launch_bounds__(GROUP, 3)
#else
#define R4_BLOCKS NTT_BLOCKS
#endif
#if R4_SETS
#define R4_PARAMS GLOBAL const Fr *twiddles, GLOBAL const Fr *pairs, u32 log_n, u32 s, u32 k
#else
#define R4_PARAMS GLOBAL const Fr *pairs, u32 log_n
#endif
KERNEL void R4_BLOCKS R4_NAME(GLOBAL const Fr *src, GLOBAL Fr *dst, R4_PARAMS, u32 count) {
#undef R4_PARAMS
    const u32 quads = GROUP / 2; // threads per sub-block
    SHARED HalfFr sh[2 * 2 * 2 * GROUP];
    SHARED HalfFr tw[4 * GROUP];
    u32 l = LOCAL_ID();
    // Sub-block h of the work-group (its elements at sh + h 4 GROUP), thread t in it.
    u32 h = l / quads, t = l % quads;
    u32 sub = (GLOBAL_ID() - l) / GROUP * 2 + h;
    u32 off = h * 4 * GROUP;
#if R4_SETS
    u32 log_l = LOG_2GROUP - k, lo_base;
    u32 base = sets_base(sub, s, k, &lo_base);
#define R4_AT(slot, set) (base + ((slot) << s) + (set))
#else
    const u32 k = LOG_2GROUP, log_l = 0;
    u32 base = sub * 2 * GROUP;
#define R4_AT(slot, set) (base + (slot))
#endif
    // The twiddle pairs as in ntt_pass.h: index i (a power of the 2 GROUP-th root) at
    // pass_slot(i) of the w plane and the w' plane.
    {
        Fr w = pairs[pass_slot(l)];
        PLANES_SET(tw, GROUP, l, w);
        w = pairs[GROUP + pass_slot(l)];
        PLANES_SET(tw + 2 * GROUP, GROUP, l, w);
    }
#define R4_MUL(v, i) do { \
        Fr r4w, r4s; u32 r4at = pass_slot(i); \
        PLANES_GET(tw + 2 * GROUP, GROUP, r4at, r4s); \
        PLANES_GET(tw, GROUP, r4at, r4w); \
        v = Fr_mul_twiddle(v, r4w, r4s); \
    } while (0)
#define R4_GET(e, x) SH_GET(sh + off, e, x)
#define R4_SET(e, x) SH_SET(sh + off, e, x)
    u32 set_mask = (1u << log_l) - 1;
    u32 set = t & set_mask, b = t >> log_l;
    // Rounds 0 and 1 on slots 4b + i (elements ((4b + i) << log_l) + set). Round 1's pair
    // (4b + 1, 4b + 3) takes omega_4, index GROUP / 2: read from global memory (one address
    // for every thread), as the local table is not complete before the first barrier.
#define R4_MUL_OMEGA4(v) v = Fr_mul_twiddle(v, pairs[GROUP / 2], pairs[GROUP + GROUP / 2])
    u32 e0 = ((4 * b) << log_l) + set;
    u32 s0 = pass_slot(e0), s1 = s0 ^ pass_slot(1u << log_l);
    u32 s2 = s0 ^ pass_slot(2u << log_l), s3 = s1 ^ pass_slot(2u << log_l);
    Fr x0, x1, x2, x3;
#if R4_SETS
    // The per-element factors of ntt_pass.h's sets pass: slot p takes omega^(lo bitrev(p))
    // (omega the n-th root, powers below n / 2 in the table). With P = bitrev_k(4b) <
    // 2^(k-2) and d = lo 2^(k-2) (shifted), slots 4b .. 4b + 3 take i0, i0 + 2d, i0 + d,
    // i0 + 3d; the first and third are below n / 2, the others may not be, and then their
    // factor is -omega^(i - n / 2), whose sign swaps round 0's sum and difference.
    u32 lo = lo_base + set, shift = log_n - s - k, top = 1u << (log_n - 1);
    u32 i0 = (lo * bit_reverse(4 * b, k)) << shift;
    u32 d = (lo << (k - 2)) << shift;
    u32 i1 = i0 + 2 * d, i3 = i1 + d;
#define R4_ROUND0(x, y, negative) do { \
        Fr d_ = Fr_sub(x, y); \
        x = Fr_add(x, y); \
        if (negative) { y = x; x = d_; } else { y = d_; } \
    } while (0)
    x0 = Fr_mul_inline(src[R4_AT(4 * b, set)], twiddles[i0]);
    x1 = Fr_mul_inline(src[R4_AT(4 * b + 1, set)], twiddles[i1 & (top - 1)]);
    R4_ROUND0(x0, x1, i1 & top);
    // Parked until round 1, so that x2's and x3's products run beside x2 alone. Their
    // loads would not wait: ptxas issued all eight global loads first (64 registers of
    // operands) and spilled. Their indices add x1's word 0 ANDed with log_n >> 5, zero for
    // every log_n (< 32) but not to the compiler, so the loads follow x1's product.
    R4_SET(s0, x0);
    R4_SET(s1, x1);
    u32 after = x1.v[0] & (log_n >> 5);
    x2 = Fr_mul_inline(src[R4_AT(4 * b + 2, set) + after], twiddles[i0 + d + after]);
    x3 = Fr_mul_inline(src[R4_AT(4 * b + 3, set) + after], twiddles[(i3 & (top - 1)) + after]);
    R4_ROUND0(x2, x3, i3 & top);
#undef R4_ROUND0
    R4_MUL_OMEGA4(x3);
    R4_GET(s1, x1);
#else
    // The bit-reversal gather; x2 and x3 first, so that omega_4's product runs beside x2.
    u32 g = base + 4 * t;
    x2 = src[bit_reverse(g + 2, log_n)];
    x3 = src[bit_reverse(g + 3, log_n)];
    REG_SUM_DIFF(x2, x3);
    R4_MUL_OMEGA4(x3);
    x0 = src[bit_reverse(g, log_n)];
    x1 = src[bit_reverse(g + 1, log_n)];
    REG_SUM_DIFF(x0, x1);
#endif
    REG_SUM_DIFF(x1, x3);
    R4_SET(s1, x1);
    R4_SET(s3, x3);
#if R4_SETS
    R4_GET(s0, x0);
#endif
    REG_SUM_DIFF(x0, x2);
    R4_SET(s0, x0);
    R4_SET(s2, x2);
    BARRIER();
    // Middle steps: rounds q and q + 1 (q + 1 <= k - 3), or round q alone where one round is
    // left before k - 2. Unrolled, as in ntt_pass.h (q a constant). The thread's quad:
    // j (< 2^q) from its top q bits, then the quad's place in its set (slot bits q + 2 up)
    // from its low bits and the set from the bits between, so that the eight lanes of a
    // 16-byte access phase differ in slot bits q + 2 .. q + 4 (at k - 2 - q >= 3), which
    // pass_slot spreads over the eight bank groups. Rotated by a warp per sub-block, so that
    // the skipping warps are not always on the same SM sub-partitions.
    u32 rotated = (t + (sub << 5)) & (quads - 1);
    UNROLL for (u32 q = 2; q + 3 <= LOG_2GROUP; q += 2) {
        if (q + 3 > k) break;
        bool pair = q + 4 <= k;
        u32 j = rotated >> (LOG_2GROUP - 2 - q);
        u32 rest = rotated & ((1u << (LOG_2GROUP - 2 - q)) - 1);
        u32 hb = k - 2 - q;
        u32 a = ((rest & ((1u << hb) - 1)) << (q + 2)) + j;
        u32 m = 1u << q;
        u32 q0 = pass_slot((a << log_l) + (rest >> hb));
        u32 q1 = q0 ^ pass_slot(m << log_l);
        u32 q2 = q0 ^ pass_slot((2 * m) << log_l), q3 = q1 ^ (q0 ^ q2);
        // Twiddle 1 for round q and for round q + 1's (a, a + 2m) when j = 0.
        bool skip = q + 1 <= NTT_UNIFORM_ROUNDS && j == 0;
        u32 iq = j << (LOG_2GROUP - 1 - q);
        R4_GET(q1, x1);
        if (!skip) R4_MUL(x1, iq);
        R4_GET(q0, x0);
        REG_SUM_DIFF(x0, x1);
        // Both parked: x3's products run beside x2 at most.
        R4_SET(q0, x0);
        R4_SET(q1, x1);
        R4_GET(q3, x3);
        if (!skip) R4_MUL(x3, iq);
        R4_GET(q2, x2);
        REG_SUM_DIFF(x2, x3);
        if (pair) {
            // Round q + 1: (a + m, a + 3m) with index j + m, then (a, a + 2m) with j.
            R4_MUL(x3, (j + m) << (LOG_2GROUP - 2 - q));
            R4_GET(q1, x1);
            REG_SUM_DIFF(x1, x3);
            R4_SET(q1, x1);
            if (!skip) R4_MUL(x2, j << (LOG_2GROUP - 2 - q));
            R4_GET(q0, x0);
            REG_SUM_DIFF(x0, x2);
            R4_SET(q0, x0);
        }
        R4_SET(q2, x2);
        R4_SET(q3, x3);
        BARRIER();
    }
    // Rounds k - 2 and k - 1 on slots b + i 2^(k-2): elements t + i GROUP / 2. Round k - 2's
    // index is b << (log_l + 1) for both pairs; round k - 1's is b << log_l = t - set for
    // (b, b + 2^(k-1)) and that plus GROUP / 2 for the other pair. x0 and x1 are parked in
    // their slots while x2 and x3 are multiplied, and each pair is written as it is done.
    u32 bl = t - set;
    u32 t0 = pass_slot(t), t1 = t0 ^ pass_slot(quads);
    u32 t2 = t0 ^ pass_slot(2 * quads), t3 = t1 ^ (t0 ^ t2);
    u32 quarter = 1u << (k - 2);
    R4_GET(t1, x1);
    R4_MUL(x1, bl << 1);
    R4_GET(t0, x0);
    REG_SUM_DIFF(x0, x1);
    R4_SET(t0, x0);
    R4_SET(t1, x1);
    R4_GET(t3, x3);
    R4_MUL(x3, bl << 1);
    R4_GET(t2, x2);
    REG_SUM_DIFF(x2, x3);
    R4_MUL(x3, bl + quads);
    R4_GET(t1, x1);
    REG_SUM_DIFF(x1, x3);
    dst[R4_AT(b + quarter, set)] = x1;
    dst[R4_AT(b + 3 * quarter, set)] = x3;
    R4_MUL(x2, bl);
    R4_GET(t0, x0);
    REG_SUM_DIFF(x0, x2);
    dst[R4_AT(b, set)] = x0;
    dst[R4_AT(b + 2 * quarter, set)] = x2;
#undef R4_MUL
#undef R4_MUL_OMEGA4
#undef R4_GET
#undef R4_SET
#undef R4_AT
}
#undef R4_BLOCKS
