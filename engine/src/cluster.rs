//! Running one batch across several processes: `run --processes N --process I --hostfile F`
//! (and the long-lived workers of `watch` on a cluster, through [`start`]).
//!
//! timely already knows how to run a dataflow over TCP, but its own start-up
//! (`CommunicationConfig::Cluster`) retries a missing peer forever and reports on stdout, and
//! its argument parser claims `-h`. This module owns the start-up instead: process `i` listens
//! on its own address, dials every lower-indexed process (retrying until `--connect-timeout`),
//! accepts every higher-indexed one, and the two ends of each connection exchange a fixed-size
//! hello (index, process count, workers per process, and a fingerprint of the job), so a
//! peer that cannot be reached, runs other patterns or other files, or was given another
//! `--workers`, is named before any data moves. The connected sockets are then handed to
//! timely's `initialize_networking_from_sockets`, and the workers run from `execute_from`.
//!
//! Timely reports a lost peer by panicking in its network threads, which poisons the queues
//! the workers read, and a worker that meets a poisoned queue while unwinding aborts the
//! process without a word about the cause. So while a cluster runs, a panic hook records the
//! panics of timely's threads instead of printing them, and as soon as a network thread fails
//! (or a worker panics a second time, which would abort) it prints one line naming the lost
//! peer and ends the process with status 3: the run cannot finish, and exiting closes this
//! process's connections, so the failure reaches every other peer the same way. A single
//! worker panic is caught (`catch_unwind`) and returned as [`ClusterError::Lost`]; the caller
//! then does not wait on threads that may be stuck, they end with the process. A lost peer
//! is therefore a non-zero exit on every surviving process, never a hang or a partial result.
//!
//! After the worker function returns, [`execute`] gathers its results on global worker 0
//! (process 0) through a small exchange dataflow, and tells every process which processes
//! failed. Like `render`, this module names timely types; nothing else outside `render` does.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely::communication::allocator::{AllocatorBuilder, ProcessBuilder};
use timely::communication::Hooks;
use timely::dataflow::operators::{Exchange, Inspect, Probe, ToStream};
use timely::worker::Worker;
use timely::WorkerConfig;

use compiler::plan::JoinPlan;

use crate::run::{Inputs, RunOptions};

/// Where the processes of a cluster listen, and which one this is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSpec {
    /// This process's index (0-based); process 0 collects and writes the results.
    pub process: usize,
    /// One `host:port` per process, in process order; process `i` listens on `addresses[i]`.
    pub addresses: Vec<String>,
    /// How long start-up waits for every peer before giving up.
    pub connect_timeout: Duration,
}

impl ClusterSpec {
    /// A spec for process `process` of `addresses.len()` processes.
    pub fn new(
        process: usize,
        addresses: Vec<String>,
        connect_timeout: Duration,
    ) -> Result<ClusterSpec, ClusterError> {
        if process >= addresses.len() {
            return Err(ClusterError::NoSuchProcess {
                process,
                processes: addresses.len(),
            });
        }
        Ok(ClusterSpec {
            process,
            addresses,
            connect_timeout,
        })
    }

    /// Number of processes.
    pub fn processes(&self) -> usize {
        self.addresses.len()
    }

    /// The addresses of a hostfile: one `host:port` a line, in process order; blank lines and
    /// `#` comments are skipped.
    pub fn parse_hostfile(text: &str) -> Result<Vec<String>, ClusterError> {
        let mut addresses = Vec::new();
        for (idx, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let port_ok = line
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !port_ok || line.contains(char::is_whitespace) {
                return Err(ClusterError::BadAddress {
                    line: idx + 1,
                    text: line.to_string(),
                });
            }
            addresses.push(line.to_string());
        }
        if addresses.is_empty() {
            return Err(ClusterError::NoAddresses);
        }
        Ok(addresses)
    }
}

/// Why a cluster run could not start or did not finish.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ClusterError {
    /// A hostfile line is not `host:port`.
    #[error("hostfile line {line}: `{text}` is not host:port")]
    #[diagnostic(code(engine::cluster::bad_address))]
    BadAddress {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
    /// A hostfile without addresses.
    #[error("the hostfile lists no host:port")]
    #[diagnostic(code(engine::cluster::no_addresses))]
    NoAddresses,
    /// `--process` is not below the number of processes.
    #[error("process {process} does not exist: the cluster has {processes} process(es), numbered from 0")]
    #[diagnostic(code(engine::cluster::no_such_process))]
    NoSuchProcess {
        /// The index given.
        process: usize,
        /// Number of processes.
        processes: usize,
    },
    /// This process cannot listen on its own address.
    #[error("process {process} cannot listen on {address}: {error} (is this the host of process {process}, and is the port free?)")]
    #[diagnostic(code(engine::cluster::listen))]
    Listen {
        /// This process.
        process: usize,
        /// Its address.
        address: String,
        /// What the system said.
        error: io::Error,
    },
    /// A lower-indexed peer never accepted a connection.
    #[error("could not reach process {peer} at {address} within {}: {detail}", secs(*.waited))]
    #[diagnostic(code(engine::cluster::unreachable), help("start every process with the same hostfile; `flowpat cluster-check --hostfile FILE` tests the addresses"))]
    Unreachable {
        /// The peer.
        peer: usize,
        /// Its address.
        address: String,
        /// The connect timeout.
        waited: Duration,
        /// The last connection error.
        detail: String,
    },
    /// Higher-indexed peers never connected.
    #[error("{missing} did not connect within {}", secs(*.waited))]
    #[diagnostic(code(engine::cluster::not_joined), help("start every process with the same hostfile; `flowpat cluster-check --hostfile FILE` tests the addresses"))]
    NotJoined {
        /// The peers that did not connect, with their addresses.
        missing: String,
        /// The connect timeout.
        waited: Duration,
    },
    /// A peer answered, but not as a process of this job.
    #[error("process {peer} at {address}: {reason}")]
    #[diagnostic(code(engine::cluster::handshake))]
    Handshake {
        /// The peer.
        peer: usize,
        /// Its address.
        address: String,
        /// What differs.
        reason: String,
    },
    /// A peer went away (or a worker failed) while the run was under way.
    #[error("{who} was lost during the run ({detail}); every process stops: a run writes no results, a watch keeps only the epochs it committed")]
    #[diagnostic(code(engine::cluster::lost))]
    Lost {
        /// `process 1 (host:port)`, or `a worker of this process`.
        who: String,
        /// What timely reported.
        detail: String,
    },
    /// A peer failed on its share of the work (and said so).
    #[error("process {peer} ({address}) failed: {message}")]
    #[diagnostic(code(engine::cluster::remote))]
    Remote {
        /// The peer.
        peer: usize,
        /// Its address.
        address: String,
        /// Its error.
        message: String,
    },
    /// timely could not start its threads.
    #[error("the dataflow could not start: {reason}")]
    #[diagnostic(code(engine::cluster::start))]
    Start {
        /// What timely or the system said.
        reason: String,
    },
}

fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// What every process of a cluster must agree on, each part as a SHA-256, so that a
/// mismatch can be named: the plans (patterns and parameters), the file tables (ids, display
/// paths and formats: every process splits the same files), the networks, and the read
/// options (bad-row policy, time window, text options).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobFingerprint {
    /// The compiled plans, in order.
    pub plans: [u8; 32],
    /// The flow and event file tables.
    pub files: [u8; 32],
    /// The networks file's content.
    pub networks: [u8; 32],
    /// The read options.
    pub options: [u8; 32],
}

impl JobFingerprint {
    const PARTS: [(&'static str, &'static str); 4] = [
        ("plans", "the patterns or their parameters differ"),
        ("files", "the input files differ (every process must see the same file list: the same folders or a shared copy)"),
        ("networks", "the networks files differ"),
        ("options", "the read options differ (--since, --until, --strict or the text options)"),
    ];

    fn parts(&self) -> [&[u8; 32]; 4] {
        [&self.plans, &self.files, &self.networks, &self.options]
    }
}

fn sha(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// The fingerprint of a batch run (its worker count travels in the hello on its own).
pub(crate) fn job_fingerprint(
    plans: &[Arc<JoinPlan>],
    inputs: &Inputs,
    options: &RunOptions,
) -> JobFingerprint {
    let plans: String = plans.iter().map(|plan| format!("{plan:?}\n")).collect();
    let mut files = String::new();
    for (kind, table) in [("flows", &inputs.flows), ("events", &inputs.events)] {
        for file in table.files() {
            files.push_str(&format!(
                "{kind} {} {} {:?}\n",
                file.id.0, file.display, file.format
            ));
        }
    }
    JobFingerprint {
        plans: sha(&plans),
        files: sha(&files),
        networks: sha(&inputs.networks.fingerprint()),
        options: sha(&format!("{:?}", options.read)),
    }
}

// ---------------------------------------------------------------------------------------------
// Start-up: listen, dial, accept, hello.

const MAGIC: [u8; 8] = *b"FLOWPAT\x01";
const HELLO_LEN: usize = 8 + 4 + 4 + 4 + 4 * 32;
/// How long an accepted connection may take to say hello before it is ignored.
const HELLO_WAIT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Hello {
    process: u32,
    processes: u32,
    workers: u32,
    job: JobFingerprint,
}

impl Hello {
    fn encode(&self) -> [u8; HELLO_LEN] {
        let mut out = [0u8; HELLO_LEN];
        out[..8].copy_from_slice(&MAGIC);
        out[8..12].copy_from_slice(&self.process.to_be_bytes());
        out[12..16].copy_from_slice(&self.processes.to_be_bytes());
        out[16..20].copy_from_slice(&self.workers.to_be_bytes());
        for (k, part) in self.job.parts().into_iter().enumerate() {
            out[20 + 32 * k..20 + 32 * (k + 1)].copy_from_slice(part);
        }
        out
    }

    /// `None` when the bytes are not a flowpat hello.
    fn decode(bytes: &[u8; HELLO_LEN]) -> Option<Hello> {
        if bytes[..8] != MAGIC {
            return None;
        }
        let word =
            |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("four bytes"));
        let part = |k: usize| -> [u8; 32] {
            bytes[20 + 32 * k..20 + 32 * (k + 1)]
                .try_into()
                .expect("32 bytes")
        };
        let job = JobFingerprint {
            plans: part(0),
            files: part(1),
            networks: part(2),
            options: part(3),
        };
        Some(Hello {
            process: word(8),
            processes: word(12),
            workers: word(16),
            job,
        })
    }

    /// Why a peer's hello does not belong to this job, if it does not.
    fn mismatch(&self, theirs: &Hello) -> Option<String> {
        if theirs.processes != self.processes {
            return Some(format!("it was started for {} processes, this one for {}; give every process the same hostfile and --processes", theirs.processes, self.processes));
        }
        if theirs.workers != self.workers {
            return Some(format!(
                "it runs {} worker(s), this one {}; give every process the same --workers",
                theirs.workers, self.workers
            ));
        }
        let differ: Vec<&str> = self
            .job
            .parts()
            .into_iter()
            .zip(theirs.job.parts())
            .zip(JobFingerprint::PARTS)
            .filter(|((mine, theirs), _)| mine != theirs)
            .map(|(_, (_, why))| why)
            .collect();
        if !differ.is_empty() {
            return Some(format!(
                "it runs a different job: {}; give every process the same command (only --process differs)",
                differ.join("; ")
            ));
        }
        None
    }
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// Dials lower-indexed process `peer` until the deadline, then says hello. `Ok(None)` when
/// another part of start-up failed first.
fn dial(
    spec: &ClusterSpec,
    peer: usize,
    hello: &Hello,
    deadline: Instant,
    abort: &AtomicBool,
) -> Result<Option<TcpStream>, ClusterError> {
    let address = &spec.addresses[peer];
    let mut last = String::from("no answer");
    let mut stream = loop {
        if abort.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let attempt = match address.to_socket_addrs() {
            Ok(addrs) => {
                let mut found = None;
                for addr in addrs {
                    match TcpStream::connect_timeout(
                        &addr,
                        remaining(deadline)
                            .clamp(Duration::from_millis(10), Duration::from_secs(2)),
                    ) {
                        Ok(s) => {
                            found = Some(s);
                            break;
                        }
                        Err(e) => last = e.to_string(),
                    }
                }
                found
            }
            Err(e) => {
                last = format!("cannot resolve the address: {e}");
                None
            }
        };
        if let Some(s) = attempt {
            break s;
        }
        if Instant::now() >= deadline {
            return Err(ClusterError::Unreachable {
                peer,
                address: address.clone(),
                waited: spec.connect_timeout,
                detail: last,
            });
        }
        std::thread::sleep(remaining(deadline).min(Duration::from_millis(200)));
    };
    let failed = |reason: String| ClusterError::Handshake {
        peer,
        address: address.clone(),
        reason,
    };
    let wait = remaining(deadline).max(HELLO_WAIT);
    stream
        .set_read_timeout(Some(wait))
        .and_then(|()| stream.set_write_timeout(Some(wait)))
        .map_err(|e| failed(e.to_string()))?;
    stream.write_all(&hello.encode()).map_err(|e| {
        failed(format!(
            "accepted the connection but the hello could not be sent: {e}"
        ))
    })?;
    let mut buf = [0u8; HELLO_LEN];
    stream.read_exact(&mut buf).map_err(|e| {
        failed(format!(
            "accepted the connection but did not answer as a flowpat process: {e}"
        ))
    })?;
    let theirs = Hello::decode(&buf)
        .ok_or_else(|| failed("answered, but is not a flowpat cluster process".into()))?;
    if theirs.process as usize != peer {
        return Err(failed(format!(
            "process {} answered at this address; every process must use the same hostfile",
            theirs.process
        )));
    }
    if let Some(reason) = hello.mismatch(&theirs) {
        return Err(failed(reason));
    }
    Ok(Some(stream))
}

/// Accepts a connection from every higher-indexed process until the deadline. Connections
/// that do not say a flowpat hello (such as `cluster-check` probes) are dropped. `Ok(None)`
/// when another part of start-up failed first.
fn accept_all(
    spec: &ClusterSpec,
    listener: &TcpListener,
    hello: &Hello,
    deadline: Instant,
    abort: &AtomicBool,
) -> Result<Option<Vec<TcpStream>>, ClusterError> {
    let me = spec.process;
    let n = spec.processes();
    let mut got: Vec<Option<TcpStream>> = (me + 1..n).map(|_| None).collect();
    let listen_failed = |error: io::Error| ClusterError::Listen {
        process: me,
        address: spec.addresses[me].clone(),
        error,
    };
    listener.set_nonblocking(true).map_err(listen_failed)?;
    while got.iter().any(Option::is_none) {
        if abort.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let mut stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted =>
            {
                if Instant::now() >= deadline {
                    let missing: Vec<String> = got
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.is_none())
                        .map(|(k, _)| {
                            format!("process {} ({})", me + 1 + k, spec.addresses[me + 1 + k])
                        })
                        .collect();
                    return Err(ClusterError::NotJoined {
                        missing: missing.join(", "),
                        waited: spec.connect_timeout,
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(e) => return Err(listen_failed(e)),
        };
        let wait = remaining(deadline).clamp(Duration::from_millis(100), HELLO_WAIT);
        let said = stream
            .set_nonblocking(false)
            .and_then(|()| stream.set_read_timeout(Some(wait)))
            .and_then(|()| stream.set_write_timeout(Some(wait)));
        let mut buf = [0u8; HELLO_LEN];
        let Some(theirs) = said
            .and_then(|()| stream.read_exact(&mut buf))
            .ok()
            .and_then(|()| Hello::decode(&buf))
        else {
            continue;
        };
        let peer = theirs.process as usize;
        let address = spec
            .addresses
            .get(peer)
            .cloned()
            .unwrap_or_else(|| "an address outside the hostfile".into());
        let failed = |reason: String| ClusterError::Handshake {
            peer,
            address: address.clone(),
            reason,
        };
        // Answer first, so that a mismatched peer can name the difference too.
        stream.write_all(&hello.encode()).map_err(|e| {
            failed(format!(
                "connected but the hello could not be answered: {e}"
            ))
        })?;
        if let Some(reason) = hello.mismatch(&theirs) {
            return Err(failed(reason));
        }
        if peer <= me || peer >= n {
            return Err(failed(format!("it dialled process {me}, which only accepts processes {} to {}; every process must use the same hostfile", me + 1, n - 1)));
        }
        if got[peer - me - 1].is_some() {
            return Err(failed(
                "two processes claim this index; check --process on every host".into(),
            ));
        }
        got[peer - me - 1] = Some(stream);
    }
    Ok(Some(
        got.into_iter().map(|s| s.expect("all accepted")).collect(),
    ))
}

/// Connects this process to every other one: `sockets[p]` talks to process `p`, and
/// `sockets[process]` is `None`, as timely expects.
fn connect(
    spec: &ClusterSpec,
    workers: usize,
    job: JobFingerprint,
) -> Result<Vec<Option<TcpStream>>, ClusterError> {
    let me = spec.process;
    let deadline = Instant::now() + spec.connect_timeout;
    let hello = Hello {
        process: me as u32,
        processes: spec.processes() as u32,
        workers: workers as u32,
        job,
    };
    // Every process listens (even the last, which accepts nobody) so that a wrong --process
    // fails here, on an address this host does not own, and so that cluster-check sees it.
    let listener =
        TcpListener::bind(&spec.addresses[me]).map_err(|error| ClusterError::Listen {
            process: me,
            address: spec.addresses[me].clone(),
            error,
        })?;
    let abort = AtomicBool::new(false);
    let (dialled, accepted) = std::thread::scope(|s| {
        let acceptor = s.spawn(|| {
            let res = accept_all(spec, &listener, &hello, deadline, &abort);
            if res.is_err() {
                abort.store(true, Ordering::SeqCst);
            }
            res
        });
        let mut dialled = Vec::new();
        let mut failure = None;
        for peer in 0..me {
            match dial(spec, peer, &hello, deadline, &abort) {
                Ok(Some(stream)) => dialled.push(stream),
                Ok(None) => break,
                Err(e) => {
                    abort.store(true, Ordering::SeqCst);
                    failure = Some(e);
                    break;
                }
            }
        }
        let accepted = acceptor.join().unwrap_or_else(|p| panic::resume_unwind(p));
        (failure.map_or(Ok(dialled), Err), accepted)
    });
    let dialled = dialled?;
    let accepted = accepted?.expect("start-up is aborted only after a failure");
    let mut sockets: Vec<Option<TcpStream>> = dialled.into_iter().map(Some).collect();
    sockets.push(None);
    sockets.extend(accepted.into_iter().map(Some));
    for stream in sockets.iter().flatten() {
        let ready = stream
            .set_read_timeout(None)
            .and_then(|()| stream.set_write_timeout(None))
            .and_then(|()| stream.set_nodelay(true));
        ready.map_err(|e| ClusterError::Start {
            reason: format!("preparing a connection: {e}"),
        })?;
    }
    Ok(sockets)
}

// ---------------------------------------------------------------------------------------------
// Failures inside timely: captured panics.

/// A cluster run in progress: its spec, and the panics of its timely threads
/// (`timely:work-K`, `timely:send-P`, `timely:recv-P`) as `(thread name, message)`.
struct Capturing {
    spec: ClusterSpec,
    panics: Vec<(String, String)>,
}

/// `None` when no cluster run is on (panics then go to the previous hook).
static CAPTURED: Mutex<Option<Capturing>> = Mutex::new(None);
static HOOK: Once = Once::new();

thread_local! {
    /// Panics seen on this thread: a second one is a panic during unwinding (timely's queues
    /// panic in `Drop` once poisoned), which the runtime turns into an abort.
    static PANICS_HERE: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a worker panicked".to_string()
    }
}

fn is_network_failure(thread: &str, message: &str) -> bool {
    thread.starts_with("timely:recv-")
        || (thread.starts_with("timely:send-") && message.starts_with("timely communication error"))
}

/// Installs (once) a panic hook that, while a cluster run is on, records the panics of timely
/// threads instead of printing them. A lost peer (a network thread's panic) and a panic
/// during unwinding (which would abort with no word of the cause) end the process at once,
/// with the clearest message and exit status 3: the run cannot finish, and a prompt exit
/// closes this process's connections so that the failure reaches every peer.
fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current().name().unwrap_or("").to_string();
            if thread.starts_with("timely:") {
                let verdict = match CAPTURED.lock() {
                    Ok(mut captured) => captured.as_mut().map(|state| {
                        let message = panic_text(info.payload());
                        let network = is_network_failure(&thread, &message);
                        state.panics.push((thread.clone(), message));
                        let nested = PANICS_HERE.with(|n| {
                            n.set(n.get() + 1);
                            n.get() > 1
                        });
                        (network || nested).then(|| lost(&state.spec, &state.panics, None))
                    }),
                    Err(_) => None,
                };
                match verdict {
                    Some(Some(fatal)) => {
                        eprintln!("error: {fatal}");
                        std::process::exit(3);
                    }
                    Some(None) => return,
                    None => {}
                }
            }
            previous(info)
        }));
    });
}

fn captured() -> Vec<(String, String)> {
    CAPTURED
        .lock()
        .map(|c| c.as_ref().map(|s| s.panics.clone()).unwrap_or_default())
        .unwrap_or_default()
}

/// Starts capturing timely panics; capture ends when the value is dropped.
struct Capture;

impl Capture {
    fn start(spec: &ClusterSpec) -> Capture {
        install_hook();
        if let Ok(mut c) = CAPTURED.lock() {
            *c = Some(Capturing {
                spec: spec.clone(),
                panics: Vec::new(),
            });
        }
        Capture
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Ok(mut c) = CAPTURED.lock() {
            *c = None;
        }
    }
}

/// The clearest account of a failure: a network thread's panic names the peer; otherwise the
/// first worker panic that is a cause rather than a consequence (a poisoned queue).
fn lost(spec: &ClusterSpec, panics: &[(String, String)], fallback: Option<&str>) -> ClusterError {
    let network = panics.iter().find_map(|(thread, message)| {
        if !is_network_failure(thread, message) {
            return None;
        }
        let peer: usize = thread
            .strip_prefix("timely:recv-")
            .or_else(|| thread.strip_prefix("timely:send-"))?
            .parse()
            .ok()?;
        Some((
            peer,
            message
                .trim_start_matches("timely communication error: ")
                .to_string(),
        ))
    });
    match network {
        Some((peer, detail)) => ClusterError::Lost {
            who: format!(
                "process {peer} ({})",
                spec.addresses.get(peer).map(String::as_str).unwrap_or("?")
            ),
            detail,
        },
        None => {
            let detail = panics
                .iter()
                .map(|(_, m)| m.as_str())
                .find(|m| !m.contains("poisoned") && !m.contains("during cleanup"))
                .or(panics.first().map(|(_, m)| m.as_str()))
                .or(fallback)
                .unwrap_or("a worker stopped");
            ClusterError::Lost {
                who: format!("a worker of process {}", spec.process),
                detail: detail.to_string(),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Gathering results on process 0.

#[derive(Clone, serde::Serialize, serde::Deserialize)]
enum Envelope<T> {
    /// A worker's result, for global worker 0.
    Out(T),
    /// A worker's failure, for the first worker of every process.
    Failed { process: u32, message: String },
}

struct Gathered<T, E> {
    own_error: Option<E>,
    outs: Vec<T>,
    failures: Vec<(usize, String)>,
}

/// Sends this worker's result to global worker 0 and its failure (if any) to every process.
fn gather<T, E>(worker: &mut Worker, processes: usize, result: Result<T, E>) -> Gathered<T, E>
where
    T: timely::ExchangeData + Clone,
    E: fmt::Display,
{
    let peers = worker.peers();
    let per_process = peers / processes;
    let me = (worker.index() / per_process) as u32;
    let (records, own_error) = match result {
        Ok(out) => (vec![(0u64, Envelope::Out(out))], None),
        Err(e) => {
            let message = e.to_string();
            let records = (0..processes)
                .map(|p| {
                    (
                        (p * per_process) as u64,
                        Envelope::Failed {
                            process: me,
                            message: message.clone(),
                        },
                    )
                })
                .collect();
            (records, Some(e))
        }
    };
    let received: Rc<RefCell<Vec<Envelope<T>>>> = Rc::new(RefCell::new(Vec::new()));
    let sink = received.clone();
    let probe = worker.dataflow::<u64, _, _>(move |scope| {
        let (probe, _) = records
            .to_stream(scope)
            .container::<Vec<_>>()
            .exchange(|(target, _)| *target)
            .inspect(move |(_, envelope)| sink.borrow_mut().push(envelope.clone()))
            .probe();
        probe
    });
    while !probe.done() {
        worker.step_or_park(Some(Duration::from_millis(50)));
    }
    let mut gathered = Gathered {
        own_error,
        outs: Vec::new(),
        failures: Vec::new(),
    };
    for envelope in received.take() {
        match envelope {
            Envelope::Out(out) => gathered.outs.push(out),
            Envelope::Failed { process, message } => {
                gathered.failures.push((process as usize, message))
            }
        }
    }
    gathered
}

// ---------------------------------------------------------------------------------------------
// Execution.

/// Connects this process to its peers and starts `workers` timely threads running `func`,
/// with timely's panics captured (see [`install_hook`]) until the returned [`Capture`] is
/// dropped.
fn launch<R, F>(
    spec: &ClusterSpec,
    workers: usize,
    job: JobFingerprint,
    func: F,
) -> Result<(timely::communication::initialize::WorkerGuards<R>, Capture), ClusterError>
where
    R: Send + 'static,
    F: Fn(&mut Worker) -> R + Send + Sync + 'static,
{
    let sockets = connect(spec, workers, job)?;
    let hooks = Hooks::default();
    let process_allocators =
        ProcessBuilder::new_typed_vector(workers, hooks.refill.clone(), hooks.spill.clone());
    let (builders, comms) = initialize_networking_from_sockets(
        process_allocators,
        sockets,
        spec.process,
        workers,
        hooks,
    )
    .map_err(|e| ClusterError::Start {
        reason: e.to_string(),
    })?;
    let builders: Vec<AllocatorBuilder> = builders.into_iter().map(AllocatorBuilder::Tcp).collect();
    let capture = Capture::start(spec);
    let guards =
        timely::execute::execute_from(builders, Box::new(comms), WorkerConfig::default(), func)
            .map_err(|reason| ClusterError::Start { reason })?;
    Ok((guards, capture))
}

/// The workers of a long-lived cluster job (`watch`), started and not awaited: the caller
/// talks to them through its own channels and polls [`Running::failure`] while it waits, so a
/// failed worker is an error rather than a hang. A lost peer ends the process at once (see
/// [`install_hook`]).
pub(crate) struct Running {
    guards: Option<timely::communication::initialize::WorkerGuards<()>>,
    spec: ClusterSpec,
    _capture: Capture,
}

impl Running {
    /// Why the job cannot go on, once a timely thread of this process has panicked.
    pub(crate) fn failure(&self) -> Option<ClusterError> {
        let panics = captured();
        (!panics.is_empty()).then(|| lost(&self.spec, &panics, None))
    }

    /// Waits for every worker to return (after the job told them to stop).
    pub(crate) fn join(mut self) -> Result<(), ClusterError> {
        let joined = match self.guards.take() {
            Some(guards) => panic::catch_unwind(AssertUnwindSafe(|| guards.join())),
            None => return Ok(()),
        };
        let panics = captured();
        match joined {
            Ok(results) if panics.is_empty() && results.iter().all(Result::is_ok) => Ok(()),
            Ok(results) => {
                let fallback = results.into_iter().find_map(Result::err);
                Err(lost(&self.spec, &panics, fallback.as_deref()))
            }
            Err(payload) => Err(lost(
                &self.spec,
                &panics,
                Some(&panic_text(payload.as_ref())),
            )),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Not joined: some threads may wait on a peer that is gone; they end with the process.
        if let Some(guards) = self.guards.take() {
            std::mem::forget(guards);
        }
    }
}

/// Starts `func` on `workers` threads as one process of the cluster `spec`, without waiting
/// for them (see [`Running`]).
pub(crate) fn start<F>(
    workers: usize,
    spec: &ClusterSpec,
    job: JobFingerprint,
    func: F,
) -> Result<Running, ClusterError>
where
    F: Fn(&mut Worker) + Send + Sync + 'static,
{
    let (guards, capture) = launch(spec, workers, job, func)?;
    Ok(Running {
        guards: Some(guards),
        spec: spec.clone(),
        _capture: capture,
    })
}

/// SHA-256 of a text, as a fingerprint part.
pub(crate) fn fingerprint_part(text: &str) -> [u8; 32] {
    sha(text)
}

/// What each local worker ended with: its own result, or why it panicked (single process), in
/// local worker order. In a cluster, process 0 receives every worker's `Ok` result (its own
/// and its peers'), the other processes none; a failure of this process's own workers comes
/// back as their `Err`, and any other failure as the `ClusterError`.
pub type WorkerResults<T, E> = Vec<Result<Result<T, E>, String>>;

/// Runs `func` on `workers` local threads, in this process alone (`cluster: None`, exactly as
/// `timely::execute` with `Config::process`) or as one process of a cluster, after connecting
/// to its peers; `job` fingerprints what every process must agree on.
pub fn execute<T, E, F>(
    workers: usize,
    cluster: Option<&ClusterSpec>,
    job: JobFingerprint,
    func: F,
) -> Result<WorkerResults<T, E>, ClusterError>
where
    T: timely::ExchangeData + Clone + Send + 'static,
    E: fmt::Display + Send + 'static,
    F: Fn(&mut Worker) -> Result<T, E> + Send + Sync + 'static,
{
    let Some(spec) = cluster else {
        let guards = timely::execute(timely::Config::process(workers), func)
            .map_err(|reason| ClusterError::Start { reason })?;
        return Ok(guards.join());
    };
    let me = spec.process;
    let processes = spec.processes();
    let (tx, rx) = mpsc::channel::<(usize, Result<Gathered<T, E>, String>)>();
    let tx = Mutex::new(tx);
    let first = me * workers;
    let (guards, capture) = launch(spec, workers, job, move |worker| {
        let local = worker.index() - first;
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            let result = func(worker);
            let gathered = gather(worker, processes, result);
            while worker.has_dataflows() {
                worker.step_or_park(Some(Duration::from_millis(50)));
            }
            gathered
        }));
        let send = |msg| tx.lock().map(|tx| tx.send(msg).is_ok()).unwrap_or(false);
        match outcome {
            Ok(gathered) => {
                send((local, Ok(gathered)));
            }
            Err(payload) => {
                send((local, Err(panic_text(payload.as_ref()))));
                // Unwind on, so the worker's queues are dropped while panicking: that poisons
                // them and the failure reaches the peers instead of leaving them waiting.
                panic::resume_unwind(payload);
            }
        }
    })?;

    // Wait for every worker, or for the first failure and a grace period for the rest.
    const GRACE: Duration = Duration::from_secs(3);
    let mut slots: Vec<Option<Result<Gathered<T, E>, String>>> =
        (0..workers).map(|_| None).collect();
    let mut failed_at: Option<Instant> = None;
    while slots.iter().any(Option::is_none) {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok((local, outcome)) => {
                if outcome.is_err() {
                    failed_at.get_or_insert_with(Instant::now);
                }
                slots[local] = Some(outcome);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if !captured().is_empty() {
            failed_at.get_or_insert_with(Instant::now);
        }
        if failed_at.is_some_and(|t| t.elapsed() > GRACE) {
            break;
        }
    }
    let all_done = slots.iter().all(|s| matches!(s, Some(Ok(_))));
    if !all_done || !captured().is_empty() {
        let fallback = slots
            .iter()
            .flatten()
            .find_map(|s| s.as_ref().err().cloned());
        let err = lost(spec, &captured(), fallback.as_deref());
        // Some threads may wait forever on a peer that is gone: leave them to the process's
        // exit (which closes our sockets, so the failure cascades to the other peers).
        std::mem::forget(guards);
        drop(capture);
        return Err(err);
    }
    // Joining also waits for the network threads to send and receive their last bytes.
    let joined = panic::catch_unwind(AssertUnwindSafe(|| guards.join()));
    let panics = captured();
    drop(capture);
    match joined {
        Ok(results) if panics.is_empty() && results.iter().all(Result::is_ok) => {}
        Ok(results) => {
            let fallback = results.into_iter().find_map(Result::err);
            return Err(lost(spec, &panics, fallback.as_deref()));
        }
        Err(payload) => return Err(lost(spec, &panics, Some(&panic_text(payload.as_ref())))),
    }

    let mut out: WorkerResults<T, E> = Vec::new();
    let mut remote: Vec<(usize, String)> = Vec::new();
    for gathered in slots.into_iter().flatten().flatten() {
        if let Some(e) = gathered.own_error {
            out.push(Ok(Err(e)));
        }
        out.extend(gathered.outs.into_iter().map(|t| Ok(Ok(t))));
        remote.extend(gathered.failures.into_iter().filter(|(p, _)| *p != me));
    }
    let own_failed = out.iter().any(|r| matches!(r, Ok(Err(_))));
    if !own_failed {
        remote.sort();
        if let Some((peer, message)) = remote.into_iter().next() {
            return Err(ClusterError::Remote {
                peer,
                address: spec.addresses[peer].clone(),
                message,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostfile_lines() {
        let text = "# cluster\n10.0.0.1:4000\n\n  host-b.example:4001  # second\n[::1]:4002\n";
        assert_eq!(
            ClusterSpec::parse_hostfile(text).unwrap(),
            vec!["10.0.0.1:4000", "host-b.example:4001", "[::1]:4002"]
        );
        assert!(matches!(
            ClusterSpec::parse_hostfile("10.0.0.1\n"),
            Err(ClusterError::BadAddress { line: 1, .. })
        ));
        assert!(matches!(
            ClusterSpec::parse_hostfile("a:1\nb:70000\n"),
            Err(ClusterError::BadAddress { line: 2, .. })
        ));
        assert!(matches!(
            ClusterSpec::parse_hostfile("# none\n"),
            Err(ClusterError::NoAddresses)
        ));
        assert!(matches!(
            ClusterSpec::new(2, vec!["a:1".into(), "b:2".into()], Duration::from_secs(1)),
            Err(ClusterError::NoSuchProcess { .. })
        ));
    }

    #[test]
    fn hello_round_trip_and_mismatch() {
        let hello = Hello {
            process: 1,
            processes: 3,
            workers: 2,
            job: JobFingerprint {
                plans: [7; 32],
                ..JobFingerprint::default()
            },
        };
        assert_eq!(Hello::decode(&hello.encode()), Some(hello));
        let mut garbage = hello.encode();
        garbage[0] = b'G';
        assert_eq!(Hello::decode(&garbage), None);
        assert!(hello
            .mismatch(&Hello {
                process: 0,
                ..hello
            })
            .is_none());
        assert!(hello
            .mismatch(&Hello {
                workers: 4,
                ..hello
            })
            .unwrap()
            .contains("--workers"));
        assert!(hello
            .mismatch(&Hello {
                job: JobFingerprint {
                    files: [8; 32],
                    ..hello.job
                },
                ..hello
            })
            .unwrap()
            .contains("the input files differ"));
    }

    #[test]
    fn a_missing_peer_is_named_within_the_timeout() {
        // Nothing listens on process 0's port, so process 1's dialling is refused until the
        // deadline; process 0 waits in vain for process 1.
        let free = |_| {
            TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .to_string()
        };
        let addresses: Vec<String> = (0..2).map(free).collect();
        let spec = ClusterSpec::new(1, addresses.clone(), Duration::from_millis(600)).unwrap();
        let started = Instant::now();
        let err = connect(&spec, 1, JobFingerprint::default()).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        match err {
            ClusterError::Unreachable {
                peer: 0, address, ..
            } => assert_eq!(address, addresses[0]),
            other => panic!("unexpected {other}"),
        }
        let spec = ClusterSpec::new(0, addresses, Duration::from_millis(600)).unwrap();
        let err = connect(&spec, 1, JobFingerprint::default()).unwrap_err();
        assert!(err.to_string().contains("process 1 ("), "{err}");
    }
}
