//! Exact numbers: rationals over `i128`, promoted to big integers when a product would
//! overflow. Comparisons such as `bytesSent >= 10 * bytesReceived` or
//! `bytesSent > 65535 * packetsSent` are therefore exact for every `u64` input, as the flow model
//! requires; nothing wraps and nothing rounds.

use std::cmp::Ordering;
use std::fmt;

use num_bigint::BigInt;

/// An exact rational number. The common case (`Small`) costs no allocation.
#[derive(Clone, Debug)]
pub enum Num {
    /// `n / d` with `d > 0`.
    Small(i128, i128),
    /// `n / d` with `d > 0`, for values past `i128`.
    Big(Box<(BigInt, BigInt)>),
}

impl Num {
    /// A whole number.
    pub fn int(n: i128) -> Num {
        Num::Small(n, 1)
    }

    /// `n / d`; `None` if `d` is zero.
    pub fn ratio(n: i128, d: i128) -> Option<Num> {
        match d.cmp(&0) {
            Ordering::Equal => None,
            Ordering::Greater => Some(Num::Small(n, d)),
            Ordering::Less => match (n.checked_neg(), d.checked_neg()) {
                (Some(n), Some(d)) => Some(Num::Small(n, d)),
                _ => Some(Num::big(BigInt::from(n) * -1, BigInt::from(d) * -1)),
            },
        }
    }

    fn big(n: BigInt, d: BigInt) -> Num {
        Num::Big(Box::new((n, d)))
    }

    fn parts_big(&self) -> (BigInt, BigInt) {
        match self {
            Num::Small(n, d) => (BigInt::from(*n), BigInt::from(*d)),
            Num::Big(b) => (b.0.clone(), b.1.clone()),
        }
    }

    /// Parses a decimal literal (`12`, `1.5`, `-0.25`) exactly.
    pub fn parse_decimal(text: &str) -> Option<Num> {
        let (neg, t) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (int_part, frac_part) = t.split_once('.').unwrap_or((t, ""));
        if int_part.is_empty()
            || !int_part.bytes().all(|b| b.is_ascii_digit())
            || !frac_part.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let digits = format!("{int_part}{frac_part}");
        let n: i128 = digits.parse().ok()?;
        let d = 10i128.checked_pow(u32::try_from(frac_part.len()).ok()?)?;
        Num::ratio(if neg { -n } else { n }, d)
    }

    /// Sum.
    pub fn add(&self, other: &Num) -> Num {
        if let (Num::Small(a, b), Num::Small(c, d)) = (self, other) {
            if let Some(r) = (|| {
                Some(Num::Small(
                    a.checked_mul(*d)?.checked_add(c.checked_mul(*b)?)?,
                    b.checked_mul(*d)?,
                ))
            })() {
                return r;
            }
        }
        let ((a, b), (c, d)) = (self.parts_big(), other.parts_big());
        Num::big(a * &d + c * &b, b * d)
    }

    /// Difference.
    pub fn sub(&self, other: &Num) -> Num {
        self.add(&other.neg())
    }

    /// Negation.
    pub fn neg(&self) -> Num {
        match self {
            Num::Small(n, d) => match n.checked_neg() {
                Some(m) => Num::Small(m, *d),
                None => Num::big(-BigInt::from(*n), BigInt::from(*d)),
            },
            Num::Big(b) => Num::big(-b.0.clone(), b.1.clone()),
        }
    }

    /// Product.
    pub fn mul(&self, other: &Num) -> Num {
        if let (Num::Small(a, b), Num::Small(c, d)) = (self, other) {
            if let (Some(n), Some(m)) = (a.checked_mul(*c), b.checked_mul(*d)) {
                return Num::Small(n, m);
            }
        }
        let ((a, b), (c, d)) = (self.parts_big(), other.parts_big());
        Num::big(a * c, b * d)
    }

    /// Quotient; `None` when dividing by zero.
    pub fn div(&self, other: &Num) -> Option<Num> {
        if other.is_zero() {
            return None;
        }
        let flipped = match other {
            Num::Small(c, d) => Num::ratio(*d, *c)?,
            Num::Big(b) => {
                let (c, d) = (&b.0, &b.1);
                if c.sign() == num_bigint::Sign::Minus {
                    Num::big(-d.clone(), -c.clone())
                } else {
                    Num::big(d.clone(), c.clone())
                }
            }
        };
        Some(self.mul(&flipped))
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        match self {
            Num::Small(n, _) => *n == 0,
            Num::Big(b) => b.0.sign() == num_bigint::Sign::NoSign,
        }
    }

    /// Exact comparison.
    pub fn cmp_exact(&self, other: &Num) -> Ordering {
        if let (Num::Small(a, b), Num::Small(c, d)) = (self, other) {
            if b == d {
                return a.cmp(c);
            }
            if let (Some(l), Some(r)) = (a.checked_mul(*d), c.checked_mul(*b)) {
                return l.cmp(&r);
            }
        }
        let ((a, b), (c, d)) = (self.parts_big(), other.parts_big());
        (a * d).cmp(&(c * b))
    }

    /// The value if it is a whole number that fits `i128`.
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Num::Small(n, d) if n % d == 0 => Some(n / d),
            _ => None,
        }
    }
}

impl PartialEq for Num {
    fn eq(&self, other: &Num) -> bool {
        self.cmp_exact(other) == Ordering::Equal
    }
}

impl fmt::Display for Num {
    /// Whole numbers print as integers; others as exact decimals when the denominator divides
    /// a power of ten, else as `n/d`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, d) = self.parts_big();
        let g = gcd(n.clone(), d.clone());
        let (n, d) = (n / &g, d / &g);
        if d == BigInt::from(1) {
            return write!(f, "{n}");
        }
        let mut scale = BigInt::from(1);
        for places in 1..=30u32 {
            scale *= 10;
            if (&scale % &d) == BigInt::from(0) {
                let scaled = n.clone() * (&scale / &d);
                let neg = scaled.sign() == num_bigint::Sign::Minus;
                let digits = if neg {
                    (-scaled).to_string()
                } else {
                    scaled.to_string()
                };
                let places = places as usize;
                let padded = format!("{digits:0>width$}", width = places + 1);
                let (i, frac) = padded.split_at(padded.len() - places);
                return write!(f, "{}{i}.{frac}", if neg { "-" } else { "" });
            }
        }
        write!(f, "{n}/{d}")
    }
}

fn gcd(a: BigInt, b: BigInt) -> BigInt {
    let (mut a, mut b) = (
        if a.sign() == num_bigint::Sign::Minus {
            -a
        } else {
            a
        },
        b,
    );
    while b != BigInt::from(0) {
        let r = &a % &b;
        a = b;
        b = r;
    }
    if a == BigInt::from(0) {
        BigInt::from(1)
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_past_u64() {
        let bytes = Num::int(u64::MAX as i128);
        let packets = Num::int(u64::MAX as i128);
        let product = bytes.mul(&packets);
        assert!(matches!(product, Num::Big(_)));
        assert_eq!(product.cmp_exact(&Num::int(i128::MAX)), Ordering::Greater);
        assert_eq!(
            Num::int(1_600_000_000_000_000)
                .cmp_exact(&Num::int(65535).mul(&Num::int(4_294_967_295))),
            Ordering::Greater
        );
    }

    #[test]
    fn decimals_print_exactly() {
        assert_eq!(
            Num::parse_decimal("4294967.238")
                .map(|n| n.to_string())
                .as_deref(),
            Some("4294967.238")
        );
        assert_eq!(
            Num::ratio(1, 2000).map(|n| n.to_string()).as_deref(),
            Some("0.0005")
        );
        assert_eq!(
            Num::ratio(-3, 1).map(|n| n.to_string()).as_deref(),
            Some("-3")
        );
        assert_eq!(
            Num::ratio(1, 3).map(|n| n.to_string()).as_deref(),
            Some("1/3")
        );
    }
}
