//! The MSM's scatter split into many launches per window (`APPLIANCE_GPU_SCATTER_KIB`, set
//! before any MSM in this process: a test binary of its own, so that no other test shares
//! the setting), on the OpenCL device: results equal to arkworks'. At the default the test
//! sizes scatter each window in one launch, so the conformance suite never splits.
#![cfg(feature = "opencl")]

use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::VariableBaseMSM;
use ark_ff::{UniformRand, Zero};
use kernels_gpu::msm::{
    load_bases, msm, msm_device_scalars, msm_sorted, sort_scalars, upload_scalars, SCATTER_KIB_ENV,
};

mod common;

/// Random scalars with runs of circom's common values: 0, 1 and -1, and some repeated.
fn skewed_scalars(n: usize, rng: &mut impl rand::Rng) -> Vec<Fr> {
    (0..n)
        .map(|i| match i % 5 {
            0 => Fr::zero(),
            1 => Fr::from(1u64),
            2 => -Fr::from(1u64),
            3 if i % 2 == 0 => Fr::from(7u64),
            _ => Fr::rand(rng),
        })
        .collect()
}

#[test]
fn a_scatter_split_into_bucket_ranges_gives_arkworks_msm() {
    // 1 KiB of slots per launch: windows of ~1000 entries (4 KB) take 4 launches and more.
    std::env::set_var(SCATTER_KIB_ENV, "1");
    let Some(dev) = common::device() else { return };
    let mut rng = ark_std::test_rng();
    let n = 1100;
    let g1: Vec<G1Affine> = kernels_testkit::random_g1_bases(n, &mut rng);
    let g2: Vec<G2Affine> = kernels_testkit::random_g2_bases(n, &mut rng);
    for scalars in [
        skewed_scalars(n, &mut rng),
        (0..n).map(|_| Fr::rand(&mut rng)).collect::<Vec<_>>(),
    ] {
        let want1 = G1Projective::msm(&g1, &scalars).expect("reference");
        let want2 = G2Projective::msm(&g2, &scalars).expect("reference");
        for window in [None, Some(2), Some(9)] {
            let r1 =
                load_bases::<_, ark_bn254::g1::Config>(&dev, &g1, window, None).expect("bases");
            assert_eq!(
                msm(&dev, &r1, &scalars, window).expect("msm"),
                want1,
                "{window:?}"
            );
            let on_device = upload_scalars(&dev, &scalars).expect("upload");
            let got = msm_device_scalars(&dev, &r1, &on_device, window).expect("msm");
            assert_eq!(got, want1, "device scalars, {window:?}");
            let r2 =
                load_bases::<_, ark_bn254::g2::Config>(&dev, &g2, window, None).expect("bases");
            let sorted = sort_scalars(&dev, &scalars, window)
                .expect("sort")
                .expect("one sort");
            let got = msm_sorted(&dev, &r2, &sorted, window)
                .expect("msm")
                .expect("same width");
            assert_eq!(got, want2, "sorted, g2, {window:?}");
        }
        // Shifted copies: several windows share one range of buckets.
        let copies =
            load_bases::<_, ark_bn254::g1::Config>(&dev, &g1, Some(8), Some(3)).expect("bases");
        assert_eq!(
            msm(&dev, &copies, &scalars, Some(8)).expect("msm"),
            want1,
            "copies"
        );
    }
}
