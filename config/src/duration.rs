//! Human durations: `250ms`, `1s`, `1.5s`, `30m`, `2h`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::Duration;

/// A duration written for humans in YAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

pub fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{s:?} has no unit (ms, s, m, h)"))?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a number with a unit"))?;
    let ms = match unit {
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        "h" => n * 3_600_000.0,
        _ => return Err(format!("unknown unit {unit:?} in {s:?} (use ms, s, m, h)")),
    };
    if !ms.is_finite() || ms < 0.0 {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(Duration::from_micros((ms * 1000.0).round() as u64))
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s)
            .map(HumanDuration)
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}ms", self.0.as_millis()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case("300ms", 300)]
    #[case("1s", 1000)]
    #[case("1.5s", 1500)]
    #[case("30m", 1_800_000)]
    #[case("2h", 7_200_000)]
    fn parses(#[case] s: &str, #[case] ms: u64) {
        assert_eq!(parse(s), Ok(Duration::from_millis(ms)));
    }

    #[rstest::rstest]
    #[case("300")]
    #[case("fast")]
    #[case("3 days")]
    #[case("-1s")]
    fn rejects(#[case] s: &str) {
        assert!(parse(s).is_err(), "{s}");
    }
}
