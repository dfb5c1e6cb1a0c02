pragma circom 2.0.0;
// Public inputs u, v that appear in no constraint at all, plus one that is used.
template Unused() {
    signal input u;
    signal input v;
    signal input w;
    signal input s;
    signal output out;
    out <== w * s;
}
component main {public [u, v, w]} = Unused();
