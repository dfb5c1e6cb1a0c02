// Radix-2 NTT over Fr, natural order in and out: a bit-reversal permutation, then log2(n)
// butterfly rounds (decimation in time) with a twiddle table resident on the device, then
// the inverse/coset scaling. Data stays on the device between calls. Below 2 GROUP
// elements one kernel per round (Fr_bit_reverse, Fr_butterfly); from 2 GROUP on, passes of
// many rounds in local memory (Fr_ntt_first, Fr_ntt_strided, and the Shoup variants of
// ntt_pass.h).

// The Shoup first pass's launch bounds: the portable products' twiddle product (64-bit
// sums) needs about 60 registers, so on CUDA without carry chains (A/B runs) four blocks.
#if defined(__CUDACC__) && !defined(MUL_CHAINS)
#define NTT_SHOUP_BLOCKS __launch_bounds__(GROUP, 4)
#else
#define NTT_SHOUP_BLOCKS NTT_BLOCKS
#endif

// x reversed in its low log_n bits (1 <= log_n <= 32).
DEVICE u32 bit_reverse(u32 x, u32 log_n) {
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
    x = (x >> 16) | (x << 16);
    return x >> (32 - log_n);
}

// v w mod p for a twiddle w < p held as the pair (w, w' = floor(w 2^256 / p)): Shoup's
// product. q = the high half of v w', from the limb products v_i w'_j with i + j >= 7 and
// the high words of those with i + j = 6 only (what is left out sums below 13 2^224 <
// 2^228), and r = v w - q p computed modulo 2^256. With Q = floor(v w' / 2^256), q is Q,
// and r < 2p as in Shoup's product, or Q - 1. That happens only when v w' mod 2^256 <
// 2^228, and then v w / p = v w' / 2^256 + v M / (p 2^256) (M = w 2^256 mod p < p) < Q +
// 2^-28 + p / 2^256 < Q + 1: floor(v w / p) = Q and r = (v w mod p) + p < 2p again. So one
// subtraction of p makes r reduced. Column 6 by its high words alone takes seven IMAD.HI
// for seven IMAD.WIDE, half their multiplier-pipe cycles (bench/NOTES.md 33).
// 85 full limb products (36 + 28 + 21), 7 high words and 15 low words alone (with BN254's
// p, whose low word makes q's row products by it a shift: below), where the Montgomery
// product takes 128. Montgomery form carries through: v = x R gives (x w) R.
// The host makes the pairs (ntt.rs, shoup_pair). Used by the Shoup passes (ntt_pass.h),
// whose pairs come from local memory: read from global memory in every pass, the pairs
// made the passes wait on their loads, and slower (bench/NOTES.md 26).
#if !defined(Fr_NP0_SHIFT)
#error "Fr_mul_twiddle needs -p mod 2^32 = 2^s - 1 (source.rs, neg_low_limb_shift)"
#endif
DEVICE Fr Fr_mul_twiddle(Fr v, Fr w, Fr ws) {
    const Fr p = Fr_P();
    // Words 1..7 of -p modulo 2^256, so that the rows below add q (2^256 - p) for - q p.
    // Its word 0, np0 = 2^Fr_NP0_SHIFT - 1, enters as a shift instead (below); np[0] is
    // never read.
    u32 np[LIMBS];
    UNROLL for (int k = 1; k < LIMBS; k++) np[k] = ~p.v[k];
    Fr r;
#if defined(MUL_CHAINS) && defined(__CUDACC__) && LIMBS == 8
    // The rows of common.h: od collects the products that land on odd word pairs, ev those
    // on even ones, by absolute word position; rows are ordered so that each row's carry
    // word holds at most earlier carries. A row that is the first to reach its last word
    // ends there (_TRUNC): that word then holds at most hi(b c) + 1 < 2^32, so no carry
    // leaves it, and the row's carry-word addition (an IMAD.X in the passes) goes
    // (bench/NOTES.md 35).
    const u32 *a = v.v, *s = ws.v, *c = w.v;
    u32 ev[2 * LIMBS], od[2 * LIMBS], q[LIMBS];
    UNROLL for (int k = 0; k < 2 * LIMBS; k++) { ev[k] = 0; od[k] = 0; }
    CHAIN_HROW1_TRUNC(ev + 7, s[6], a[0]);
    CHAIN_ROW1_TRUNC(od + 7, s[7], a[0]);
    CHAIN_HROW2_TRUNC(ev + 7, s[5], s[7], a[1]);
    CHAIN_ROW1(od + 7, od[9], s[6], a[1]);
    CHAIN_HROW2(ev + 7, ev[10], s[4], s[6], a[2]);
    CHAIN_ROW2_TRUNC(od + 7, s[5], s[7], a[2]);
    CHAIN_HROW3_TRUNC(ev + 7, s[3], s[5], s[7], a[3]);
    CHAIN_ROW2(od + 7, od[11], s[4], s[6], a[3]);
    CHAIN_HROW3(ev + 7, ev[12], s[2], s[4], s[6], a[4]);
    CHAIN_ROW3_TRUNC(od + 7, s[3], s[5], s[7], a[4]);
    CHAIN_HROW4_TRUNC(ev + 7, s[1], s[3], s[5], s[7], a[5]);
    CHAIN_ROW3(od + 7, od[13], s[2], s[4], s[6], a[5]);
    CHAIN_HROW4(ev + 7, ev[14], s[0], s[2], s[4], s[6], a[6]);
    CHAIN_ROW4_TRUNC(od + 7, s[1], s[3], s[5], s[7], a[6]);
    CHAIN_ROW4_TRUNC(ev + 8, s[1], s[3], s[5], s[7], a[7]);
    CHAIN_ROW(od + 7, od[15], s[0], s[2], s[4], s[6], a[7]);
    CHAIN_HIGH_HALF(q, ev, od);
    // v w + q (2^256 - p) modulo 2^256, in words 0..7 of e2 + o2.
    u32 e2[LIMBS], o2[LIMBS];
    UNROLL for (int k = 0; k < LIMBS; k++) o2[k] = 0;
    // With 2^256 - p = np0 + 2^32 (np1 ..) and np0 = 2^s - 1 (BN254: s = 28), q np0 =
    // (q << s) - q modulo 2^256: eight funnel shifts and a subtraction on the ALU where the
    // row products took seven IMAD.WIDE and an IMAD, 30 of the product's ~430
    // multiplier-pipe cycles (bench/NOTES.md 35). e2 starts from it; the rows of q skip np0.
    // The portable form below does the same.
    u32 q_shifted[LIMBS], unused_borrow;
    q_shifted[0] = q[0] << Fr_NP0_SHIFT;
    UNROLL for (int k = 1; k < LIMBS; k++)
        q_shifted[k] = (q[k] << Fr_NP0_SHIFT) | (q[k - 1] >> (32 - Fr_NP0_SHIFT));
    CHAIN_SUB8(e2, q_shifted, q, unused_borrow);
    // v w's rows, then q's without np0 (q np0 is in e2 already).
    CHAIN_ROW4_TRUNC(e2, c[0], c[2], c[4], c[6], a[0]);
    CHAIN_ROW4_LOW(o2 + 1, c[1], c[3], c[5], c[7], a[0]);
    CHAIN_ROW3_TRUNC(e2 + 2, c[1], c[3], c[5], a[1]);
    CHAIN_ROW4_LOW(o2 + 1, c[0], c[2], c[4], c[6], a[1]);
    CHAIN_ROW3_TRUNC(e2 + 2, c[0], c[2], c[4], a[2]);
    CHAIN_ROW3_LOW(o2 + 3, c[1], c[3], c[5], a[2]);
    CHAIN_ROW2_TRUNC(e2 + 4, c[1], c[3], a[3]);
    CHAIN_ROW3_LOW(o2 + 3, c[0], c[2], c[4], a[3]);
    CHAIN_ROW2_TRUNC(e2 + 4, c[0], c[2], a[4]);
    CHAIN_ROW2_LOW(o2 + 5, c[1], c[3], a[4]);
    CHAIN_ROW1_TRUNC(e2 + 6, c[1], a[5]);
    CHAIN_ROW2_LOW(o2 + 5, c[0], c[2], a[5]);
    CHAIN_ROW1_TRUNC(e2 + 6, c[0], a[6]);
    CHAIN_ROW1_LOW(o2 + 7, c[1], a[6]);
    CHAIN_ROW1_LOW(o2 + 7, c[0], a[7]);
    CHAIN_ROW3_TRUNC(e2 + 2, np[2], np[4], np[6], q[0]);
    CHAIN_ROW4_LOW(o2 + 1, np[1], np[3], np[5], np[7], q[0]);
    CHAIN_ROW3_TRUNC(e2 + 2, np[1], np[3], np[5], q[1]);
    CHAIN_ROW3_LOW(o2 + 3, np[2], np[4], np[6], q[1]);
    CHAIN_ROW2_TRUNC(e2 + 4, np[2], np[4], q[2]);
    CHAIN_ROW3_LOW(o2 + 3, np[1], np[3], np[5], q[2]);
    CHAIN_ROW2_TRUNC(e2 + 4, np[1], np[3], q[3]);
    CHAIN_ROW2_LOW(o2 + 5, np[2], np[4], q[3]);
    CHAIN_ROW1_TRUNC(e2 + 6, np[2], q[4]);
    CHAIN_ROW2_LOW(o2 + 5, np[1], np[3], q[4]);
    CHAIN_ROW1_TRUNC(e2 + 6, np[1], q[5]);
    CHAIN_ROW1_LOW(o2 + 7, np[2], q[5]);
    CHAIN_ROW1_LOW(o2 + 7, np[1], q[6]);
    u32 unused;
    CHAIN_ADD8(r.v, e2, o2, unused);
#else
    // The same sums as plain schoolbook rows. A row's column-6 product passes on its high
    // word only, as the carry into column 7 (t[6] is never needed).
    u32 t[2 * LIMBS];
    UNROLL for (int k = 0; k < 2 * LIMBS; k++) t[k] = 0;
    UNROLL for (int i = 0; i < LIMBS; i++) {
        u64 x = 0;
        UNROLL for (int j = 0; j < LIMBS; j++) {
            if (i + j < LIMBS - 2) continue;
            if (i + j == LIMBS - 2) {
                x = (u64)v.v[i] * ws.v[j];
                continue;
            }
            x = (u64)t[i + j] + (u64)v.v[i] * ws.v[j] + (x >> 32);
            t[i + j] = (u32)x;
        }
        t[i + LIMBS] = (u32)(x >> 32);
    }
    // Then v w and q (2^256 - p) modulo 2^256, one after the other (fewer live registers).
    UNROLL for (int k = 0; k < LIMBS; k++) r.v[k] = 0;
    UNROLL for (int i = 0; i < LIMBS; i++) {
        u64 x = 0;
        UNROLL for (int j = 0; i + j < LIMBS; j++) {
            x = (u64)r.v[i + j] + (u64)v.v[i] * w.v[j] + (x >> 32);
            r.v[i + j] = (u32)x;
        }
    }
    // q np0 = (q << s) - q as in the carry-chain form: r += (q << s) + ~q + 1, then the rows
    // of q from np1 on.
    u64 c = 1;
    UNROLL for (int k = 0; k < LIMBS; k++) {
        u32 qk = t[LIMBS + k];
        u32 shifted = qk << Fr_NP0_SHIFT;
        if (k > 0) shifted |= t[LIMBS + k - 1] >> (32 - Fr_NP0_SHIFT);
        c += (u64)r.v[k] + shifted + (u32)~qk;
        r.v[k] = (u32)c;
        c >>= 32;
    }
    UNROLL for (int i = 0; i < LIMBS; i++) {
        u64 x = 0;
        UNROLL for (int j = 1; i + j < LIMBS; j++) {
            x = (u64)r.v[i + j] + (u64)t[LIMBS + i] * np[j] + (x >> 32);
            r.v[i + j] = (u32)x;
        }
    }
#endif
    Fr d;
    return Fr_sub_raw(&d, r, p) ? r : d;
}

DEVICE_CALL Fr Fr_mul_twiddle_called(Fr v, Fr w, Fr ws) { return Fr_mul_twiddle(v, w, ws); }

// Unit-test kernel: out[i] = a[i] w with the twiddle pair (w, w') at tw[2i], tw[2i + 1].
KERNEL void Fr_twiddle_selftest(GLOBAL const Fr *a, GLOBAL const Fr *tw, GLOBAL Fr *out, u32 count) {
    u32 i = GLOBAL_ID();
    if (i >= count) return;
    out[i] = Fr_mul_twiddle_called(a[i], tw[2 * i], tw[2 * i + 1]);
}

KERNEL void Fr_bit_reverse(GLOBAL Fr *a, u32 log_n, u32 count) {
    u32 i = GLOBAL_ID();
    if (i >= count) return;
    u32 j = bit_reverse(i, log_n);
    if (i < j) {
        Fr t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

// One round with half-block m: thread t handles the pair (i, i + m) of its 2m block with
// twiddle omega^(j n / 2m), twiddles[k] = omega^k for k < n/2.
KERNEL void Fr_butterfly(GLOBAL Fr *a, GLOBAL const Fr *twiddles, u32 m, u32 stride, u32 count) {
    u32 t = GLOBAL_ID();
    if (t >= count) return;
    u32 j = t % m;
    u32 i = (t / m) * 2 * m + j;
    Fr u = a[i];
    Fr v = Fr_mul(a[i + m], twiddles[j * stride]);
    a[i] = Fr_add(u, v);
    a[i + m] = Fr_sub(u, v);
}

// Sizes n >= 2 GROUP run in passes of several rounds each in local (shared) memory: one
// read and one write of the vector per pass instead of per round. Local memory holds
// 2 GROUP elements as two planes of 16-byte halves (words 0..3 of element e at sh[e], words
// 4..7 at sh[2 GROUP + e]): a thread moves an element with two 128-bit accesses (with
// planes of single words, eight 32-bit ones: those and their addresses were 48 of a round's
// 335 instructions), and eight threads on neighbouring elements, the unit of a 128-bit
// access, hit eight different groups of banks.
// The passes of ntt_pass.h keep their twiddles in the same layout (PLANES_*, planes of GROUP
// halves where the data's are 2 GROUP long).
typedef struct ALIGN16 { u32 w[4]; } HalfFr;
#define PLANES_GET(sh, plane, e, x) do { \
        HalfFr lo_ = (sh)[e], hi_ = (sh)[(plane) + (e)]; \
        UNROLL for (int w_ = 0; w_ < 4; w_++) { (x).v[w_] = lo_.w[w_]; (x).v[w_ + 4] = hi_.w[w_]; } \
    } while (0)
#define PLANES_SET(sh, plane, e, x) do { \
        HalfFr lo_, hi_; \
        UNROLL for (int w_ = 0; w_ < 4; w_++) { lo_.w[w_] = (x).v[w_]; hi_.w[w_] = (x).v[w_ + 4]; } \
        (sh)[e] = lo_; (sh)[(plane) + (e)] = hi_; \
    } while (0)
#define SH_GET(sh, e, x) PLANES_GET(sh, 2 * GROUP, e, x)
#define SH_SET(sh, e, x) PLANES_SET(sh, 2 * GROUP, e, x)

// The butterfly with twiddle 1 on two registers: (u, v) = (u + v, u - v).
#define REG_SUM_DIFF(u, v) do { \
        Fr d_ = Fr_sub(u, v); \
        u = Fr_add(u, v); v = d_; \
    } while (0)
// One butterfly of local memory: (sh[x], sh[y]) = (u + w v, u - w v).
#define SH_BUTTERFLY(sh, x, y, w) do { \
        Fr u_, v_; SH_GET(sh, x, u_); SH_GET(sh, y, v_); \
        REG_BUTTERFLY(u_, v_, w); \
        SH_SET(sh, x, u_); SH_SET(sh, y, v_); \
    } while (0)
// The same on two registers: (u, v) = (u + w v, u - w v).
#define REG_BUTTERFLY(u, v, w) do { \
        Fr wv_ = Fr_mul_inline(v, w); \
        Fr d_ = Fr_sub(u, wv_); \
        u = Fr_add(u, wv_); v = d_; \
    } while (0)

// Both passes run their first and last rounds in registers. A thread loads the pair of its
// first round, so that round needs no local-memory round trip (in Fr_ntt_first, no product
// either: its twiddle is 1), and the pair of a pass's last round is always (l, l + GROUP),
// the elements the thread writes, so that round needs none either: two local round trips
// and barriers fewer per pass, and at 2^24 one round of products in 24 fewer.

// Rounds 1..NTT_UNIFORM_ROUNDS of Fr_ntt_first give thread l the butterfly whose twiddle
// index j is l's top q bits (below: l's low bits): the GROUP >> q threads with j = 0,
// whose twiddle is 1, then fill whole warps (CUDA: GROUP = 256, 128 / 64 / 32 threads),
// which skip the product. At 2^24 that is 7 of the first pass's 64 warp-rounds of
// products per block, 3.8% of the NTT's. (OpenCL's GROUP = 64 leaves 32 / 16 / 8 threads:
// on a GPU with 32-wide warps only round 1 skips whole warps; the others diverge.)
#define NTT_UNIFORM_ROUNDS 3

// The local-memory slot of element e, or of twiddle index e, in the passes of ntt_pass.h: e
// with its low three bits XORed with bits 3..5 and 6..8. The uniform rounds read elements
// 2^(q+1) apart (four or eight of them in the same 16-byte bank group without this), the
// later rounds twiddles 2^(8-q) apart (eight in one group for q = 4, 5); the other accesses
// read eight neighbours or pairs (2l, 2l + 1), which the XOR keeps in eight different
// groups. With sets of 2^k < 2 GROUP elements interleaved (the sets pass), the round-0
// stores have two-way conflicts at k = 7, 8 (bench/NOTES.md 30, 34).
DEVICE u32 pass_slot(u32 e) { return e ^ ((e >> 3) & 7) ^ ((e >> 6) & 7); }

// Fr_ntt_first and the Shoup passes: ntt_pass.h, instantiated after this file.

// Where sub-block `block` (2 GROUP elements) of a pass over rounds s .. s + k - 1 starts:
// the index of its first element, and in *lo_base the low part lo (< 2^s) of its first
// set. It holds L = 2 GROUP / 2^k sets with consecutive lo, so that their reads are runs of
// L neighbours; the 2^s / L sub-blocks of one group of 2^(s+k) elements come one after
// another. Fr_ntt_strided, Fr_ntt_sets_shoup and Fr_ntt_sets_radix4 share it.
DEVICE u32 sets_base(u32 block, u32 s, u32 k, u32 *lo_base) {
    u32 log_l = LOG_2GROUP - k, blocks_log = s - log_l;
    *lo_base = (block & ((1u << blocks_log) - 1)) << log_l;
    return ((block >> blocks_log) << (s + k)) + *lo_base;
}

// Rounds with half-blocks 2^s .. 2^(s+k-1) (s >= LOG_2GROUP, 1 <= k < LOG_2GROUP). These
// rounds only mix elements whose indices differ in bits s .. s+k-1, so the vector splits
// into independent sets of 2^k elements at stride 2^s. A work-group takes L = 2 GROUP / 2^k
// sets with consecutive low parts (coalesced reads of L neighbours), runs the k rounds in
// local memory and writes src's elements to the same places in dst (dst may be src: each
// work-group reads all of its elements before its first barrier and writes after its
// last). n / 2 threads.
KERNEL void NTT_BLOCKS Fr_ntt_strided(GLOBAL const Fr *src, GLOBAL Fr *dst, GLOBAL const Fr *twiddles,
                           u32 log_n, u32 s, u32 k, u32 count) {
    SHARED HalfFr sh[2 * 2 * GROUP];
    u32 l = LOCAL_ID();
    u32 g = (GLOBAL_ID() - l) / GROUP;
    u32 log_l = LOG_2GROUP - k, lo_base;
    u32 lo_mask = (1u << log_l) - 1;
    u32 base = sets_base(g, s, k, &lo_base);
    // Element e of the work-group: set e & lo_mask, position e >> log_l within the set, at
    // src[base + ((e >> log_l) << s) + (e & lo_mask)]. Thread l: set lo_t, pair b.
    u32 lo_t = l & lo_mask;
    u32 b = l >> log_l;
    // The twiddle of the pair (i, i + 2^q) of a set, j = i mod 2^q: omega^(jg n / 2M) for
    // the global half-block M = 2^(s+q), jg = index mod M.
#define STRIDED_TWIDDLE(j, q) twiddles[((((j) << s) + lo_base + lo_t)) << (log_n - 1 - s - (q))]
    // Round 0 pairs positions (2b, 2b + 1) of set lo_t.
    Fr x = src[base + ((2 * b) << s) + lo_t];
    Fr y = src[base + ((2 * b + 1) << s) + lo_t];
    REG_BUTTERFLY(x, y, STRIDED_TWIDDLE(0u, 0u));
    if (k > 1) {
        SH_SET(sh, ((2 * b) << log_l) + lo_t, x);
        SH_SET(sh, ((2 * b + 1) << log_l) + lo_t, y);
        BARRIER();
        for (u32 q = 1; q + 1 < k; q++) {
            u32 m = 1u << q;
            u32 j = b & (m - 1);
            u32 i = ((b - j) << 1) + j;
            SH_BUTTERFLY(sh, (i << log_l) + lo_t, ((i + m) << log_l) + lo_t, STRIDED_TWIDDLE(j, q));
            BARRIER();
        }
        // Round k - 1 pairs positions (b, b + 2^(k-1)): elements l and l + GROUP.
        SH_GET(sh, l, x);
        SH_GET(sh, l + GROUP, y);
        REG_BUTTERFLY(x, y, STRIDED_TWIDDLE(b, k - 1));
    }
    // Elements l and l + GROUP: positions b and b + 2^(k-1) of set lo_t (for k = 1 the
    // round-0 pair itself).
    dst[base + (b << s) + lo_t] = x;
    dst[base + ((b + (1u << (k - 1))) << s) + lo_t] = y;
#undef STRIDED_TWIDDLE
}

// a[i] *= c * g^i: coset shifts and the inverse's 1/n, fused. The host passes
// lo[j] = g^j (j < 2^k) and hi[j] = c * g^(j 2^k), so c * g^i = lo[i mod 2^k] * hi[i >> k]:
// two products per element instead of a square-and-multiply power in every thread.
KERNEL void Fr_scale(GLOBAL Fr *a, GLOBAL const Fr *lo, GLOBAL const Fr *hi, u32 k, u32 count) {
    u32 i = GLOBAL_ID();
    if (i >= count) return;
    a[i] = Fr_mul(a[i], Fr_mul(lo[i & ((1u << k) - 1)], hi[i >> k]));
}

// The pointwise products of a Groth16 quotient (ntt.rs, coset_quotient): out = x y, and
// then, after the transforms, x = x y - z.
KERNEL void Fr_product(GLOBAL Fr *out, GLOBAL const Fr *x, GLOBAL const Fr *y, u32 count) {
    u32 i = GLOBAL_ID();
    if (i >= count) return;
    out[i] = Fr_mul(x[i], y[i]);
}

KERNEL void Fr_product_sub(GLOBAL Fr *x, GLOBAL const Fr *y, GLOBAL const Fr *z, u32 count) {
    u32 i = GLOBAL_ID();
    if (i >= count) return;
    x[i] = Fr_sub(Fr_mul(x[i], y[i]), z[i]);
}
