//! The time as Docker writes it in logs and container states: Go's RFC 3339 with nanoseconds
//! (time.RFC3339Nano: trailing zeros of the fraction dropped, and the dot with them), in UTC.

/// Appends the current time.
pub fn now(out: &mut Vec<u8>) {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
    format(now.tv_sec, now.tv_nsec as u32, out);
}

pub fn format(seconds: i64, nanoseconds: u32, out: &mut Vec<u8>) {
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    digits(out, year as u64, 4);
    out.push(b'-');
    digits(out, month.into(), 2);
    out.push(b'-');
    digits(out, day.into(), 2);
    out.push(b'T');
    digits(out, (of_day / 3600) as u64, 2);
    out.push(b':');
    digits(out, (of_day / 60 % 60) as u64, 2);
    out.push(b':');
    digits(out, (of_day % 60) as u64, 2);
    if nanoseconds > 0 {
        let mut fraction = nanoseconds;
        let mut width = 9;
        while fraction % 10 == 0 {
            fraction /= 10;
            width -= 1;
        }
        out.push(b'.');
        digits(out, fraction.into(), width);
    }
    out.push(b'Z');
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
/// civil_from_days).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `value` in decimal, zero-padded to `width` digits.
fn digits(out: &mut Vec<u8>, value: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut rest = value;
    let mut at = buf.len();
    while rest > 0 {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&buf[(buf.len() - width.max(buf.len() - at))..]);
}
