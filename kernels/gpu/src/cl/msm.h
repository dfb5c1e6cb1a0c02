// Pippenger MSM kernels for one group (template over POINT/FIELD). The host computes the
// signed window digits, sorts the (bucket, point) pairs by bucket and cuts every bucket
// into segments of at most a few dozen entries, so that a bucket holding most of the
// points (circom's many scalars equal to 1) is summed by many threads, not one.

// Segment s sums the bases named by entries[start[s] .. start[s+1]) (each entry is
// point_index << 1 | negate) and writes the sum to out[dest[s]].
KERNEL void POINT_sum_bases(GLOBAL const POINT_affine *bases, GLOBAL const u32 *entries,
                            GLOBAL const u32 *start, GLOBAL const u32 *dest,
                            GLOBAL POINT_xyzz *out, u32 count) {
    u32 s = GLOBAL_ID();
    if (s >= count) return;
    POINT_xyzz acc = POINT_zero();
    u32 end = start[s + 1];
    for (u32 e = start[s]; e < end; e++) {
        u32 v = entries[e];
        POINT_affine b = bases[v >> 1];
        if (v & 1) b = POINT_affine_neg(b);
        acc = POINT_add_affine(acc, b);
    }
    out[dest[s]] = acc;
}

// Segment s sums the points in[start[s] .. start[s+1]) into out[dest[s]]: the later
// rounds of the segment tree.
KERNEL void POINT_sum_points(GLOBAL const POINT_xyzz *in, GLOBAL const u32 *start,
                             GLOBAL const u32 *dest, GLOBAL POINT_xyzz *out, u32 count) {
    u32 s = GLOBAL_ID();
    if (s >= count) return;
    POINT_xyzz acc = POINT_zero();
    u32 end = start[s + 1];
    for (u32 e = start[s]; e < end; e++) acc = POINT_add(acc, in[e]);
    out[dest[s]] = acc;
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
