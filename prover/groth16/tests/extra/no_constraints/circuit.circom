pragma circom 2.0.0;
// No constraints, no public signals: the QAP domain has size 1.
template Empty() {
    signal input a;
}
component main = Empty();
