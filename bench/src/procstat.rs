//! Process figures from /proc: resident memory and CPU time, for the
//! server (by pid, one per node), for the services the servers use (a
//! database, a bus) and for the bench itself.

use std::collections::HashMap;
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

/// The fields of /proc/PID/stat after the command name, which is in
/// parentheses and may hold spaces, so fields are counted after the last
/// `)`: state is field 3 (index 0 here), ppid 4, utime 14, stime 15,
/// cutime 16 and cstime 17.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    Some(
        stat[stat.rfind(')')? + 1..]
            .split_ascii_whitespace()
            .collect(),
    )
}

/// utime + stime in ticks from the text of /proc/PID/stat.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let fields = stat_fields(stat)?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The parent pid and utime + stime + cutime + cstime in ticks: the
/// process's own CPU and that of the children it has reaped.
fn parse_ppid_and_ticks_with_children(stat: &str) -> Option<(u32, u64)> {
    let fields = stat_fields(stat)?;
    let ppid: u32 = fields.get(1)?.parse().ok()?;
    let mut ticks = 0;
    for i in 11..=14 {
        ticks += fields.get(i)?.parse::<u64>().ok()?;
    }
    Some((ppid, ticks))
}

/// CPU seconds of each process in `roots` with all its descendants
/// (`None` for a root that is gone). A child that has exited counts
/// through its parent's cutime/cstime once reaped, so the figure only
/// grows: a PostgreSQL postmaster with the backends it forks, for instance.
pub fn tree_cpu_seconds(roots: &[u32]) -> Vec<Option<f64>> {
    let Some(procs) = all_processes() else {
        return roots.iter().map(|_| None).collect();
    };
    roots
        .iter()
        .map(|&root| Some(tree_ticks(&procs, &[root])? as f64 / clock_ticks()))
        .collect()
}

/// pid → (ppid, ticks with reaped children) of every process now.
fn all_processes() -> Option<HashMap<u32, (u32, u64)>> {
    let mut procs: HashMap<u32, (u32, u64)> = HashMap::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue; // gone meanwhile
        };
        if let Some(p) = parse_ppid_and_ticks_with_children(&stat) {
            procs.insert(pid, p);
        }
    }
    Some(procs)
}

/// The sum of the ticks of `roots` and their descendants in `procs`
/// (pid → (ppid, ticks)); `None` if a root is missing.
fn tree_ticks(procs: &HashMap<u32, (u32, u64)>, roots: &[u32]) -> Option<u64> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (&pid, &(ppid, _)) in procs {
        children.entry(ppid).or_default().push(pid);
    }
    let mut total = 0;
    let mut stack = Vec::new();
    for &root in roots {
        procs.get(&root)?;
        stack.push(root);
    }
    while let Some(pid) = stack.pop() {
        total += procs.get(&pid).map_or(0, |&(_, t)| t);
        stack.extend(children.get(&pid).into_iter().flatten());
    }
    Some(total)
}

/// Time the hypervisor gave each CPU's turn to someone else (the `steal`
/// column of /proc/stat), in clock ticks, CPU by CPU (`cpu0`, `cpu1`, …).
/// On a virtual machine this tells a slow run of the machine from a slow
/// server: a stolen 100 ms stops the server and the load generator alike.
pub fn steal_ticks() -> Option<Vec<u64>> {
    parse_steal_ticks(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// The steal ticks of each `cpuN` line (not the summed `cpu` line).
fn parse_steal_ticks(stat: &str) -> Option<Vec<u64>> {
    let per_cpu: Option<Vec<u64>> = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        // user nice system idle iowait irq softirq steal …
        .map(|l| l.split_ascii_whitespace().nth(8)?.parse().ok())
        .collect();
    per_cpu.filter(|v| !v.is_empty())
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

/// The processes a run watches: the servers (one pid per node: CPU and
/// RSS, summed and per pid) and the services they use (a PostgreSQL
/// postmaster, a redis-server: CPU of the process and its descendants).
#[derive(Debug, Clone, Default)]
pub struct Watched {
    pub servers: Vec<u32>,
    pub services: Vec<u32>,
}

impl Watched {
    /// VmRSS of each server.
    pub fn rss_per_server(&self) -> Vec<Option<u64>> {
        self.servers.iter().map(|&p| rss_bytes(p)).collect()
    }

    /// VmRSS of the servers, summed (`None` without servers or if one
    /// cannot be read).
    pub fn rss(&self) -> Option<u64> {
        sum(self.rss_per_server())
    }

    /// Whether the report needs per-pid figures: more than one server, or
    /// services.
    pub fn several(&self) -> bool {
        self.servers.len() > 1 || !self.services.is_empty()
    }
}

/// The sum of the values; `None` if there are none or one is `None`.
pub fn sum<T: std::iter::Sum<T>>(values: Vec<Option<T>>) -> Option<T> {
    if values.is_empty() {
        return None;
    }
    values.into_iter().sum()
}

/// CPU time of the servers, the services and the bench at one instant.
#[derive(Debug, Clone)]
pub struct CpuSample {
    pub at: Instant,
    /// Per server pid.
    pub servers: Vec<Option<f64>>,
    /// Per service pid, with its descendants.
    pub services: Vec<Option<f64>>,
    pub bench: Option<f64>,
    /// Steal ticks per CPU of the machine.
    pub steal: Option<Vec<u64>>,
}

impl CpuSample {
    pub fn now(watched: &Watched) -> Self {
        CpuSample {
            at: Instant::now(),
            servers: watched
                .servers
                .iter()
                .map(|&p| cpu_seconds(Some(p)))
                .collect(),
            services: tree_cpu_seconds(&watched.services),
            bench: cpu_seconds(None),
            steal: steal_ticks(),
        }
    }
}

/// CPU used between two samples.
#[derive(Debug, Clone, Default)]
pub struct CpuWindow {
    pub wall_s: f64,
    /// All servers.
    pub server_s: Option<f64>,
    pub server_s_per_pid: Vec<Option<f64>>,
    /// All services.
    pub service_s: Option<f64>,
    pub service_s_per_pid: Vec<Option<f64>>,
    pub bench_s: Option<f64>,
    /// Seconds stolen from each CPU of the machine by the hypervisor.
    pub steal_s_per_cpu: Option<Vec<f64>>,
}

impl CpuWindow {
    pub fn between(a: &CpuSample, b: &CpuSample) -> Self {
        let diff = |x: Option<f64>, y: Option<f64>| Some((y? - x?).max(0.0));
        let per_pid = |a: &[Option<f64>], b: &[Option<f64>]| -> Vec<Option<f64>> {
            a.iter().zip(b).map(|(&x, &y)| diff(x, y)).collect()
        };
        let servers = per_pid(&a.servers, &b.servers);
        let services = per_pid(&a.services, &b.services);
        CpuWindow {
            wall_s: b.at.duration_since(a.at).as_secs_f64(),
            server_s: sum(servers.clone()),
            server_s_per_pid: servers,
            service_s: sum(services.clone()),
            service_s_per_pid: services,
            bench_s: diff(a.bench, b.bench),
            steal_s_per_cpu: match (&a.steal, &b.steal) {
                (Some(x), Some(y)) if x.len() == y.len() => Some(
                    x.iter()
                        .zip(y)
                        .map(|(x, y)| y.saturating_sub(*x) as f64 / clock_ticks())
                        .collect(),
                ),
                _ => None,
            },
        }
    }

    pub fn server_util(&self) -> Option<f64> {
        Some(self.server_s? / self.wall_s.max(1e-9))
    }

    pub fn bench_util(&self) -> Option<f64> {
        Some(self.bench_s? / self.wall_s.max(1e-9))
    }

    pub fn service_util(&self) -> Option<f64> {
        Some(self.service_s? / self.wall_s.max(1e-9))
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
    fn children_ticks_and_the_parent_are_read_too() {
        let stat = "9 (postgres: x) S 4 2 3 4 5 6 7 8 9 10 250 50 7 3 20 0 1 0";
        assert_eq!(parse_ppid_and_ticks_with_children(stat), Some((4, 310)));
    }

    #[test]
    fn a_tree_sums_a_root_and_its_descendants_only() {
        let procs: HashMap<u32, (u32, u64)> = [
            (1, (0, 1000)),
            (10, (1, 5)),
            (11, (10, 7)),
            (12, (10, 11)),
            (20, (1, 100)),
        ]
        .into_iter()
        .collect();
        assert_eq!(tree_ticks(&procs, &[10]), Some(23));
        assert_eq!(tree_ticks(&procs, &[11, 20]), Some(107));
        assert_eq!(tree_ticks(&procs, &[10, 99]), None);
    }

    #[test]
    fn server_cpu_is_summed_over_the_pids_and_kept_per_pid() {
        let at = Instant::now();
        let a = CpuSample {
            at,
            servers: vec![Some(1.0), Some(2.0)],
            services: vec![Some(5.0), Some(1.0)],
            bench: None,
            steal: Some(vec![100, 200]),
        };
        let b = CpuSample {
            at,
            servers: vec![Some(1.5), Some(3.0)],
            services: vec![Some(5.25), Some(1.5)],
            bench: None,
            steal: Some(vec![125, 200]),
        };
        let w = CpuWindow::between(&a, &b);
        assert_eq!(w.server_s, Some(1.5));
        assert_eq!(w.server_s_per_pid, [Some(0.5), Some(1.0)]);
        assert_eq!(w.service_s, Some(0.75));
        assert_eq!(w.service_s_per_pid, [Some(0.25), Some(0.5)]);
        assert_eq!(w.steal_s_per_cpu, Some(vec![25.0 / clock_ticks(), 0.0]));
        assert_eq!(sum::<u64>(vec![]), None);
        assert_eq!(sum(vec![Some(1u64), None]), None);
    }

    #[test]
    fn steal_is_read_per_cpu_from_the_eighth_column() {
        let stat = "cpu  10 0 5 100 0 0 1 9 0 0\n\
                    cpu0 5 0 2 50 0 0 1 4 0 0\n\
                    cpu1 5 0 3 50 0 0 0 5 0 0\n\
                    intr 12345\n";
        assert_eq!(parse_steal_ticks(stat), Some(vec![4, 5]));
        assert_eq!(parse_steal_ticks("intr 1\n"), None);
        assert!(steal_ticks().is_some_and(|cpus| !cpus.is_empty()));
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
