//! The two 16-bit float storage types the library reads: bfloat16 and IEEE
//! half. Storage only (bit patterns in a `u16`); convert to `f32` to compute.

/// bfloat16: the top 16 bits of an IEEE single.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Bf16(pub u16);

/// IEEE 754 binary16 (half precision).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct F16(pub u16);

impl Bf16 {
    /// Rounds to nearest, ties to even; NaN stays NaN (quieted).
    pub fn from_f32(x: f32) -> Bf16 {
        let b = x.to_bits();
        if x.is_nan() {
            return Bf16(((b >> 16) as u16) | 0x0040);
        }
        let rounding = 0x7fff + ((b >> 16) & 1);
        Bf16((b.wrapping_add(rounding) >> 16) as u16)
    }

    /// Exact.
    pub fn to_f32(self) -> f32 {
        f32::from_bits((self.0 as u32) << 16)
    }

    pub const fn from_bits(bits: u16) -> Bf16 {
        Bf16(bits)
    }

    pub const fn to_bits(self) -> u16 {
        self.0
    }
}

impl F16 {
    /// Rounds to nearest, ties to even, with subnormals; out of range gives
    /// +-Inf; NaN stays NaN (quieted).
    pub fn from_f32(x: f32) -> F16 {
        let b = x.to_bits();
        let sign = ((b >> 16) & 0x8000) as u16;
        let exp = ((b >> 23) & 0xff) as i32;
        let man = b & 0x7f_ffff;
        if exp == 0xff {
            let nan = if man != 0 { 0x0200 | (man >> 13) as u16 } else { 0 };
            return F16(sign | 0x7c00 | nan);
        }
        let e = exp - 127 + 15; // the half's biased exponent
        if e >= 0x1f {
            return F16(sign | 0x7c00);
        }
        let (kept, rest_bits, rest) = if e <= 0 {
            if e < -10 {
                return F16(sign); // below half the smallest subnormal
            }
            let m = man | 0x80_0000;
            let shift = (14 - e) as u32;
            (m >> shift, shift, m & ((1u32 << shift) - 1))
        } else {
            (((e as u32) << 10) | (man >> 13), 13, man & 0x1fff)
        };
        let half = 1u32 << (rest_bits - 1);
        let rounded = if rest > half || (rest == half && kept & 1 == 1) {
            kept + 1
        } else {
            kept
        };
        F16(sign | rounded as u16) // a carry into the exponent is the right answer (up to Inf)
    }

    /// Exact.
    pub fn to_f32(self) -> f32 {
        let h = self.0 as u32;
        let sign = (h & 0x8000) << 16;
        let exp = (h >> 10) & 0x1f;
        let man = h & 0x3ff;
        let bits = match exp {
            0 => {
                let mag = man as f32 * f32::from_bits(0x3380_0000); // man * 2^-24
                return if sign != 0 { -mag } else { mag };
            }
            0x1f => sign | 0x7f80_0000 | (man << 13),
            _ => sign | ((exp + 112) << 23) | (man << 13),
        };
        f32::from_bits(bits)
    }

    pub const fn from_bits(bits: u16) -> F16 {
        F16(bits)
    }

    pub const fn to_bits(self) -> u16 {
        self.0
    }
}

impl From<Bf16> for f32 {
    fn from(x: Bf16) -> f32 {
        x.to_f32()
    }
}

impl From<F16> for f32 {
    fn from(x: F16) -> f32 {
        x.to_f32()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_round_trips_and_rounds_to_even() {
        for x in [
            0.0f32,
            -0.0,
            1.0,
            -2.5,
            3.140625,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e-40,
        ] {
            let r = Bf16::from_f32(x);
            assert_eq!(Bf16::from_f32(r.to_f32()), r);
        }
        assert_eq!(Bf16::from_f32(1.0).0, 0x3f80);
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1).
        assert_eq!(Bf16::from_f32(1.0 + 1.0 / 256.0).to_f32(), 1.0);
        // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties to 1 + 2^-6.
        assert_eq!(Bf16::from_f32(1.0 + 3.0 / 256.0).to_f32(), 1.0 + 1.0 / 64.0);
        assert!(Bf16::from_f32(f32::NAN).to_f32().is_nan());
        assert_eq!(Bf16::from_f32(f32::MAX).to_f32(), f32::INFINITY);
    }

    #[test]
    fn f16_matches_known_bit_patterns() {
        let sub = 2f32.powi(-24); // the smallest subnormal
        let cases: &[(f32, u16)] = &[
            (0.0, 0x0000),
            (-0.0, 0x8000),
            (1.0, 0x3c00),
            (-2.0, 0xc000),
            (65504.0, 0x7bff),
            (65520.0, 0x7c00), // rounds up to Inf
            (f32::INFINITY, 0x7c00),
            (2f32.powi(-14), 0x0400), // smallest normal
            (sub, 0x0001),
            (0.5 * sub, 0x0000), // ties to even (0)
            (1.5 * sub, 0x0002), // ties to even (2)
            (2.5 * sub, 0x0002), // ties to even (2)
            (0.5000001 * sub, 0x0001),
            (1.0 / 3.0, 0x3555),
        ];
        for &(x, bits) in cases {
            assert_eq!(F16::from_f32(x).0, bits, "{x}");
        }
        for bits in 0..=0xffffu16 {
            let h = F16(bits);
            let x = h.to_f32();
            if x.is_nan() {
                assert!(F16::from_f32(x).to_f32().is_nan());
            } else {
                assert_eq!(F16::from_f32(x), h, "{bits:#06x}");
            }
        }
    }
}
