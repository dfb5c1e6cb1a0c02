// Pippenger MSM kernels for one group (template over POINT/FIELD). msm_digits and
// msm_scatter (digits.h) sort the (bucket, point) pairs by bucket; the bucket sums below
// cut that sorted list into equal chunks, so that a bucket holding most of the points
// (circom's many scalars equal to 1) is summed by many threads, not one.

// Where a segment's sum goes: dest < 2^31 is an index into out (the whole run fitted in the
// segment), else dest - 2^31 indexes the partial sums for the next round.
DEVICE void POINT_store_sum(GLOBAL POINT_xyzz *out, GLOBAL POINT_xyzz *next, u32 d,
                            POINT_xyzz acc) {
    if (d >> 31) next[d & 0x7fffffffu] = acc;
    else out[d] = acc;
}

// Thread t adds the bases named by entries[t chunk .. t chunk + chunk) (each entry is
// point_index << 1 | negate; bucket b's entries end at ends[b] and number counts[b]). Every
// thread makes the same number of additions: with one thread per bucket instead, a warp
// waited on its fullest bucket, about twice the mean at ~8 entries per bucket. A bucket
// that lies inside the chunk is stored to out; the part of a bucket that began before the
// chunk goes to carry[2t], the part of one that goes on after it to carry[2t + 1], for
// msm_carry_runs and the segment sums to finish (a chunk-aligned bucket end counts as
// inside).
KERNEL void POINT_sum_chunks(GLOBAL const POINT_affine *bases, GLOBAL const u32 *entries,
                             GLOBAL const u32 *counts, GLOBAL const u32 *ends, u32 buckets,
                             u32 total, u32 chunk, GLOBAL POINT_xyzz *out,
                             GLOBAL POINT_xyzz *carry, u32 count) {
    u32 t = GLOBAL_ID();
    if (t >= count) return;
    u32 lo = t * chunk;
    u32 hi = total - lo > chunk ? lo + chunk : total;
    // The first bucket ending after lo (ends[buckets - 1] = total > lo).
    u32 a = 0;
    u32 z = buckets - 1;
    while (a < z) {
        u32 mid = a + (z - a) / 2;
        if (ends[mid] > lo) z = mid;
        else a = mid + 1;
    }
    u32 b = a;
    u32 end = ends[b];
    bool before = end - counts[b] < lo;
    POINT_xyzz acc = POINT_zero();
    for (u32 e = lo; e < hi; e++) {
        if (e == end) {
            if (before) carry[2 * t] = acc;
            else out[b] = acc;
            // The next bucket with entries: an empty one ends where the last one did.
            do { b++; } while (ends[b] == e);
            end = ends[b];
            before = false;
            acc = POINT_zero();
        }
        u32 v = entries[e];
        POINT_affine p = bases[v >> 1];
        if (v & 1) p = POINT_affine_neg(p);
        acc = POINT_add_affine(acc, p);
    }
    if (before) carry[2 * t] = acc;
    else if (end > hi) carry[2 * t + 1] = acc;
    else out[b] = acc;
}

// Segment s sums the points in[start[s] .. stop[s]) and stores the sum as dest[s] says:
// the rounds of the segment tree.
KERNEL void POINT_sum_points(GLOBAL const POINT_xyzz *in, GLOBAL const u32 *start,
                             GLOBAL const u32 *stop, GLOBAL const u32 *dest,
                             GLOBAL POINT_xyzz *out, GLOBAL POINT_xyzz *next, u32 count) {
    u32 s = GLOBAL_ID();
    if (s >= count) return;
    POINT_xyzz acc = POINT_zero();
    u32 end = stop[s];
    for (u32 e = start[s]; e < end; e++) acc = POINT_add(acc, in[e]);
    POINT_store_sum(out, next, dest[s], acc);
}

// Bucket reduction. buckets[w * bucket_count + b] holds bucket b + 1 of window w. Thread t takes
// window t / per_window, buckets [lo, hi) with lo = (t % per_window) * seg_len, and writes
// sum_{b in [lo, hi)} (b + 1) * bucket_b: the running sum gives weights b - lo + 1, and lo
// times the plain sum supplies the rest.
KERNEL void POINT_reduce_buckets(GLOBAL const POINT_xyzz *buckets, GLOBAL POINT_xyzz *out,
                                 u32 bucket_count, u32 seg_len, u32 per_window, u32 count) {
    u32 t = GLOBAL_ID();
    if (t >= count) return;
    u32 w = t / per_window;
    u32 lo = (t % per_window) * seg_len;
    u32 hi = lo + seg_len < bucket_count ? lo + seg_len : bucket_count;
    POINT_xyzz run = POINT_zero();
    POINT_xyzz acc = POINT_zero();
    for (u32 b = hi; b > lo; b--) {
        run = POINT_add(run, buckets[w * bucket_count + b - 1]);
        acc = POINT_add(acc, run);
    }
    out[t] = POINT_add(acc, POINT_mul_small(run, lo));
}

// Window sums, one level: window w's len points in[w len ..] become its out_len =
// ceil(len / group) sums of `group` neighbours, out[w out_len + j] for thread t = w out_len
// + j. The host repeats it until one point per window is left: a few short levels where
// the segment tree took two rounds of up to 32 additions, each with layout launches and
// waits.
KERNEL void POINT_sum_groups(GLOBAL const POINT_xyzz *in, GLOBAL POINT_xyzz *out, u32 len,
                             u32 group, u32 out_len, u32 count) {
    u32 t = GLOBAL_ID();
    if (t >= count) return;
    u32 w = t / out_len;
    u32 lo = (t % out_len) * group;
    u32 hi = len - lo > group ? lo + group : len;
    POINT_xyzz acc = POINT_zero();
    for (u32 e = lo; e < hi; e++) acc = POINT_add(acc, in[w * len + e]);
    out[t] = acc;
}

// Precomputed shifted bases: bases[to + i] = 2^shift * bases[from + i], in affine form, so
// that an MSM needs only ceil(windows / copies) windows (each copy serves one group of
// windows). Run once when the bases are loaded.
KERNEL void POINT_shift_bases(GLOBAL POINT_affine *bases, u32 from, u32 to, u32 shift,
                              u32 count) {
    u32 i = GLOBAL_ID();
    if (i >= count) return;
    POINT_affine a = bases[from + i];
    if (POINT_affine_is_zero(a)) {
        bases[to + i] = a;
        return;
    }
    POINT_xyzz p = POINT_add_affine(POINT_zero(), a);
    for (u32 k = 0; k < shift; k++) p = POINT_dbl(p);
    POINT_affine r;
    r.x = FIELD_mul(p.x, FIELD_inverse(p.zz));
    r.y = FIELD_mul(p.y, FIELD_inverse(p.zzz));
    bases[to + i] = r;
}
