//! Process figures from /proc: resident memory and CPU time, for the
//! server (by pid) and for the bench itself.

use std::time::Instant;

/// Clock ticks per second for /proc/PID/stat times.
#[allow(unsafe_code)]
fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions and only reads a constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// utime + stime of a process (`None`: this process), in seconds.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    parse_cpu_ticks(&stat).map(|t| t as f64 / clock_ticks())
}

/// utime + stime in ticks from the text of /proc/PID/stat. The command
/// name in parentheses may hold spaces, so fields are counted after the
/// last `)`: state is field 3, utime 14 and stime 15.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_ascii_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// VmRSS of a process in bytes.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_rss(&status)
}

fn parse_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_ascii_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Raises this process's open-file soft limit to its hard limit; returns
/// the soft limit in force afterwards.
#[allow(unsafe_code)]
pub fn raise_nofile_limit() -> std::io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a valid rlimit with soft <= hard.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur)
}

/// CPU time of the server and of the bench at one instant.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    pub at: Instant,
    pub server: Option<f64>,
    pub bench: Option<f64>,
}

impl CpuSample {
    pub fn now(server_pid: Option<u32>) -> Self {
        CpuSample {
            at: Instant::now(),
            server: server_pid.and_then(|p| cpu_seconds(Some(p))),
            bench: cpu_seconds(None),
        }
    }
}

/// CPU used between two samples.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuWindow {
    pub wall_s: f64,
    pub server_s: Option<f64>,
    pub bench_s: Option<f64>,
}

impl CpuWindow {
    pub fn between(a: &CpuSample, b: &CpuSample) -> Self {
        let diff = |x: Option<f64>, y: Option<f64>| Some((y? - x?).max(0.0));
        CpuWindow {
            wall_s: b.at.duration_since(a.at).as_secs_f64(),
            server_s: diff(a.server, b.server),
            bench_s: diff(a.bench, b.bench),
        }
    }

    pub fn server_util(&self) -> Option<f64> {
        Some(self.server_s? / self.wall_s.max(1e-9))
    }

    pub fn bench_util(&self) -> Option<f64> {
        Some(self.bench_s? / self.wall_s.max(1e-9))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_read_after_a_command_name_with_spaces() {
        let stat = "123 (tokio (x) y) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
    }

    #[test]
    fn rss_is_read_in_bytes() {
        let status = "Name:\tbanter\nVmPeak:\t  10 kB\nVmRSS:\t    2048 kB\nThreads: 3\n";
        assert_eq!(parse_rss(status), Some(2048 * 1024));
    }

    #[test]
    fn this_process_has_a_cpu_time() {
        assert!(cpu_seconds(None).is_some());
        assert!(rss_bytes(std::process::id()).unwrap() > 0);
    }
}
