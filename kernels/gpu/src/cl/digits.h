// MSM scalar decomposition and bucket sort on the device. Scalars arrive in Montgomery
// form; one product by the integer 1 takes them out of it. Digits are signed, c bits wide,
// in [-(2^(c-1) - 1), 2^(c-1)] (windows * c >= 255 absorbs the last carry), encoded as
// |d| << 1 | (d < 0), 0 for a zero digit. With precomputed shifted bases (copies of the
// bases, copy j shifted by 2^(j c wk)), window w uses copy w / wk as its window w % wk:
// bucket (w % wk) * nb + |d| - 1, point (w / wk) * n_bases + index. Without, wk = windows.

// Bits [start, start + len) of a canonical scalar (len <= 31).
DEVICE u32 Fr_bits(Fr s, u32 start, u32 len) {
    u32 limb = start / 32;
    u32 shift = start % 32;
    if (limb >= LIMBS) return 0;
    u32 v = s.v[limb] >> shift;
    if (shift + len > 32 && limb + 1 < LIMBS) v |= s.v[limb + 1] << (32 - shift);
    return v & ((1u << len) - 1);
}

// Thread i writes digits[w * count + i] for every window and counts its buckets.
KERNEL void msm_digits(GLOBAL const Fr *scalars, GLOBAL u32 *digits, GLOBAL u32 *counts,
                       u32 c, u32 windows, u32 wk, u32 count) {
    u32 i = GLOBAL_ID();
    if (i >= count) return;
    Fr one = Fr_zero();
    one.v[0] = 1;
    Fr s = Fr_mul(scalars[i], one);
    u32 nb = 1u << (c - 1);
    u32 carry = 0;
    for (u32 w = 0; w < windows; w++) {
        u32 raw = Fr_bits(s, w * c, c) + carry;
        u32 d;
        if (raw > nb) {
            u32 magnitude = (1u << c) - raw;
            carry = 1;
            d = magnitude ? ((magnitude << 1) | 1) : 0;
        } else {
            carry = 0;
            d = raw << 1;
        }
        digits[w * count + i] = d;
        if (d) ATOMIC_ADD(&counts[(w % wk) * nb + (d >> 1) - 1], 1u);
    }
}

// Thread i places its (point, sign) pair of window w at the next free slot of its bucket,
// if the bucket is one of [lo, hi) of the window; cursor starts as the exclusive prefix sum
// of the counts. The host launches one window, or one range of a window's buckets, at a
// time: such a range's slots are contiguous, so the random 4-byte writes of a launch stay in
// a range the L2 cache can hold and combine, where all windows at once sent them across the
// whole array to memory (msm.rs, scatter_parts). The order inside a bucket varies from run
// to run; the bucket sums, as group elements, do not.
KERNEL void msm_scatter(GLOBAL const u32 *digits, GLOBAL u32 *cursor, GLOBAL u32 *entries,
                        u32 c, u32 w, u32 wk, u32 n_bases, u32 offset, u32 lo, u32 hi,
                        u32 count) {
    u32 i = GLOBAL_ID();
    if (i >= count) return;
    u32 nb = 1u << (c - 1);
    u32 d = digits[w * count + i];
    u32 m = (d >> 1) - 1;
    if (d && m >= lo && m < hi) {
        u32 slot = ATOMIC_ADD(&cursor[(w % wk) * nb + m], 1u);
        u32 point = (w / wk) * n_bases + offset + i;
        entries[slot] = (point << 1) | (d & 1);
    }
}

// The runs of carry slots left by the sum_chunks kernels (msm.h): a bucket whose entries
// span chunks t0 < t1 has its parts in carry[2 t0 + 1 .. 2 t1 + 1) (its tail in t0, its
// heads in t0 + 1 .. t1, and the unused tails of the chunks it fills, which stay zero);
// any other bucket has none. Rewrites counts and ends in place into those runs.
KERNEL void msm_carry_runs(GLOBAL u32 *counts, GLOBAL u32 *ends, u32 chunk, u32 count) {
    u32 b = GLOBAL_ID();
    if (b >= count) return;
    u32 k = counts[b];
    u32 t1 = k ? (ends[b] - 1) / chunk : 0;
    u32 t0 = k ? (ends[b] - k) / chunk : 0;
    counts[b] = 2 * (t1 - t0);
    ends[b] = 2 * t1 + 1;
}
