//! Cluster options of `run` and `watch`, and the `cluster-check` command.
//!
//! The engine owns the connections (`engine::cluster`); this module turns `--processes`,
//! `--process`, `--hostfile` and `--connect-timeout` into a `ClusterSpec`, and checks, before a
//! long job, that every address of a hostfile accepts a TCP connection.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use engine::cluster::ClusterSpec;

/// `run` or `watch` across processes (omit all four to run in this process alone).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ClusterArgs {
    /// Number of processes of a cluster run [default: the number of addresses in --hostfile]
    #[arg(long, value_name = "N")]
    pub processes: Option<usize>,
    /// This process's index in the cluster, from 0 (process 0 prints or writes the results)
    #[arg(long, value_name = "I")]
    pub process: Option<usize>,
    /// Cluster addresses: one host:port a line, in process order (the same file everywhere)
    #[arg(long, value_name = "FILE")]
    pub hostfile: Option<PathBuf>,
    /// How long to wait for every peer to connect
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub connect_timeout: String,
}

/// The addresses of a hostfile.
pub fn read_hostfile(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading hostfile {}", path.display()))?;
    ClusterSpec::parse_hostfile(&text).with_context(|| format!("in hostfile {}", path.display()))
}

impl ClusterArgs {
    /// The cluster this process belongs to, or `None` for a run in this process alone.
    pub fn spec(&self) -> Result<Option<ClusterSpec>> {
        let timeout =
            crate::import::parse_duration(&self.connect_timeout).context("--connect-timeout")?;
        let Some(hostfile) = &self.hostfile else {
            match self.processes {
                Some(n) if n > 1 => {
                    return Err(crate::usage(format!(
                        "--processes {n} needs --hostfile FILE (one host:port a line)"
                    )))
                }
                _ if self.process.is_some_and(|p| p > 0) => {
                    return Err(crate::usage(
                        "--process needs --hostfile FILE (one host:port a line)",
                    ))
                }
                _ => return Ok(None),
            }
        };
        let addresses = read_hostfile(hostfile)?;
        let processes = self.processes.unwrap_or(addresses.len());
        if processes != addresses.len() {
            return Err(crate::usage(format!(
                "--processes {processes}, but {} lists {} address(es): give one host:port a line per process",
                hostfile.display(),
                addresses.len()
            )));
        }
        let Some(process) = self.process else {
            return Err(crate::usage(format!(
                "--hostfile needs --process I: this process's index, 0 to {}",
                processes - 1
            )));
        };
        if processes == 1 && process == 0 {
            return Ok(None);
        }
        Ok(Some(ClusterSpec::new(process, addresses, timeout)?))
    }
}

/// How one address answered.
enum Answer {
    Open(Duration),
    Refused(String),
    Failed(String),
}

fn probe(address: &str, timeout: Duration) -> Answer {
    let addrs: Vec<_> = match address.to_socket_addrs() {
        Ok(addrs) => addrs.collect(),
        Err(e) => return Answer::Failed(format!("cannot resolve: {e}")),
    };
    let started = Instant::now();
    let mut last = Answer::Failed("no address".into());
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(_) => return Answer::Open(started.elapsed()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = Answer::Refused(format!(
                    "refused: the host answered but nothing listens on the port ({e})"
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                last = Answer::Failed(format!(
                    "no answer within {}s (host down or port filtered)",
                    timeout.as_secs_f64()
                ))
            }
            Err(e) => last = Answer::Failed(e.to_string()),
        }
    }
    last
}

/// `flowpat cluster-check`: connects to every address of the hostfile (all at once) and
/// prints a table; exit 0 when every one accepts a TCP connection, 1 otherwise.
pub fn cluster_check(hostfile: &Path, timeout: &str) -> Result<ExitCode> {
    let timeout = crate::import::parse_duration(timeout).context("--timeout")?;
    let timeout = timeout.max(Duration::from_millis(1));
    let addresses = read_hostfile(hostfile)?;
    let answers: Vec<Answer> = std::thread::scope(|s| {
        let probes: Vec<_> = addresses
            .iter()
            .map(|a| s.spawn(move || probe(a, timeout)))
            .collect();
        probes
            .into_iter()
            .map(|p| {
                p.join()
                    .unwrap_or_else(|_| Answer::Failed("the check panicked".into()))
            })
            .collect()
    });
    let width = addresses.iter().map(String::len).max().unwrap_or(0).max(7);
    let mut out = crate::output::stdout();
    writeln!(out, "process  {:<width$}  status", "address")?;
    let mut open = 0;
    for (process, (address, answer)) in addresses.iter().zip(&answers).enumerate() {
        let status = match answer {
            Answer::Open(took) => {
                open += 1;
                format!("ok ({:.1} ms)", took.as_secs_f64() * 1000.0)
            }
            Answer::Refused(why) | Answer::Failed(why) => why.clone(),
        };
        writeln!(
            out,
            "{process:<7}  {address:<width$}  {}",
            crate::output::terminal_safe(&status)
        )?;
    }
    eprintln!(
        "{open} of {} address(es) accept connections",
        addresses.len()
    );
    Ok(if open == addresses.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
