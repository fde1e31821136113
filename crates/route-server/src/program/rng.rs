//! A tiny deterministic PRNG (SplitMix64) for the realism profile's delays.
//!
//! The delays only need to look drawn from a list and be the same for the same
//! seed, so a 10-line generator beats a dependency: SplitMix64 (Steele, Lea,
//! Flood 2014, as in `java.util.SplittableRandom`) passes BigCrush and has no
//! bad seeds, zero included.

/// SplitMix64.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// An index below `n` (`n` > 0). The modulo bias is below 2^-59 for any list
    /// of delays anyone will configure.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        // Both conversions are lossless on 64-bit targets and the result is < n.
        (self.next_u64() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // First outputs for seed 1234567 from the reference C implementation.
        let mut r = SplitMix64::new(1_234_567);
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn same_seed_gives_the_same_indices() {
        let a: Vec<usize> = {
            let mut r = SplitMix64::new(7);
            (0..20).map(|_| r.below(13)).collect()
        };
        let mut r = SplitMix64::new(7);
        assert!(a.iter().all(|&i| i == r.below(13)));
        assert!(a.iter().any(|&i| i != a[0]), "{a:?}");
    }
}
