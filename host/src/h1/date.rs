//! The `Date` field a proxy with a clock adds when the origin sent none
//! (RFC 9110 section 6.6.1), in the IMF-fixdate form of section 5.6.7:
//! `Sun, 06 Nov 1994 08:49:37 GMT`.
//!
//! Formatting is done at most once a second per worker: [`DateCache`]
//! keeps the last value and only re-renders when the second changes, so a
//! response on the hot path costs one clock read and a copy of 29 bytes.

use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate.
const LEN: usize = 29;

/// The formatted date of the current second; one per worker thread.
#[derive(Debug, Clone)]
pub struct DateCache {
    second: u64,
    value: [u8; LEN],
}

impl Default for DateCache {
    fn default() -> Self {
        let mut cache = DateCache { second: 0, value: [0; LEN] };
        cache.value = format_imf_fixdate(0);
        cache
    }
}

impl DateCache {
    /// The date at `now`, re-formatted only if the second changed.
    pub fn at(&mut self, now: SystemTime) -> &[u8] {
        // A clock before 1970 is a broken clock: say 1970 rather than fail a response.
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second {
            self.second = second;
            self.value = format_imf_fixdate(second);
        }
        &self.value
    }
}

/// `seconds` since the Unix epoch as an IMF-fixdate.
pub fn format_imf_fixdate(seconds: u64) -> [u8; LEN] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    let days = seconds / 86_400;
    let in_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    two(&mut out[5..7], day);
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    // Years past 9999 do not fit the form; clamp rather than write garbage.
    let year = year.min(9999);
    two(&mut out[12..14], year / 100);
    two(&mut out[14..16], year % 100);
    two(&mut out[17..19], in_day / 3600);
    two(&mut out[20..22], in_day / 60 % 60);
    two(&mut out[23..25], in_day % 60);
    out
}

fn two(out: &mut [u8], n: u64) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31): Howard
/// Hinnant's `civil_from_days`, for the proleptic Gregorian calendar.
pub fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_known_instants() {
        assert_eq!(&format_imf_fixdate(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        // RFC 9110's own example.
        assert_eq!(&format_imf_fixdate(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&format_imf_fixdate(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(&format_imf_fixdate(4_102_444_799), b"Thu, 31 Dec 2099 23:59:59 GMT");
    }

    #[test]
    fn the_cache_follows_the_second() {
        let mut cache = DateCache::default();
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(cache.at(t), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(cache.at(t + Duration::from_millis(999)), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(cache.at(t + Duration::from_secs(1)), b"Sun, 06 Nov 1994 08:49:38 GMT");
    }
}
