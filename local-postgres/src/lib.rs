//! A PostgreSQL cluster of our own, started from the binaries installed on the machine.
//! A crate of its own: process supervision has nothing to do with bookkeeping, and its
//! tests start real clusters without linking the service.
//!
//! Used by the embedded default (`cargo run` with no configuration) and by the test
//! harness. PostgreSQL refuses to run as root, so when we are root the cluster is
//! created and run as the `postgres` system user. The server runs in its own process
//! group (a terminal's Ctrl-C reaches us, and we stop it in order) and is started by a
//! supervisor thread that asks the kernel to stop it if our process dies.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use nix::sys::signal::{kill, Signal};
use nix::unistd::{Gid, Pid, Uid, User};
use rand::distributions::{Alphanumeric, DistString};
use secrecy::{ExposeSecret, SecretString};

/// The message for a machine without PostgreSQL: what to install or what to set.
pub const MISSING_POSTGRES: &str = "no PostgreSQL binaries found (looked at `pg_config --bindir` and \
/usr/lib/postgresql/*/bin). Install them with `apt-get install postgresql` (the service starts a \
cluster of its own), or set REGISTRY_DATABASE_URL to use an existing PostgreSQL server.";

/// Where the PostgreSQL server programs (`initdb`, `postgres`, `pg_dump`, ...) live.
#[derive(Debug, Clone)]
pub struct PgBinaries {
    bindir: PathBuf,
}

impl PgBinaries {
    /// The server programs: `pg_config --bindir` if it has `initdb` and `postgres`, else
    /// the newest `/usr/lib/postgresql/*/bin` that has them.
    pub fn locate() -> anyhow::Result<Self> {
        Self::locate_server_in("pg_config", Path::new("/usr/lib/postgresql"))
    }

    fn locate_server_in(pg_config: &str, versions_dir: &Path) -> anyhow::Result<Self> {
        Self::locate_in(pg_config, versions_dir, &["initdb", "postgres"]).ok_or_else(|| anyhow!(MISSING_POSTGRES))
    }

    /// The client programs `pg_dump` and `pg_restore` (a client-only install, as in the
    /// production image, is enough), looked for the same way, then in `/usr/bin`.
    pub fn locate_client() -> anyhow::Result<Self> {
        Self::locate_in(
            "pg_config",
            Path::new("/usr/lib/postgresql"),
            &["pg_dump", "pg_restore"],
        )
        .or_else(|| {
            let usr_bin = PathBuf::from("/usr/bin");
            usr_bin
                .join("pg_dump")
                .is_file()
                .then_some(PgBinaries { bindir: usr_bin })
        })
        .ok_or_else(|| {
            anyhow!(
                "pg_dump and pg_restore not found: install the PostgreSQL client (apt-get install postgresql-client)"
            )
        })
    }

    fn locate_in(pg_config: &str, versions_dir: &Path, programs: &[&str]) -> Option<Self> {
        let from_pg_config = Command::new(pg_config)
            .arg("--bindir")
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        let mut candidates: Vec<PathBuf> = from_pg_config.into_iter().collect();
        let mut versioned: Vec<(u32, PathBuf)> = fs::read_dir(versions_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
                Some((version, entry.path().join("bin")))
            })
            .collect();
        versioned.sort_by_key(|entry| std::cmp::Reverse(entry.0));
        candidates.extend(versioned.into_iter().map(|(_, dir)| dir));
        candidates
            .into_iter()
            .find(|dir| programs.iter().all(|program| dir.join(program).is_file()))
            .map(|bindir| PgBinaries { bindir })
    }

    pub fn tool(&self, name: &str) -> PathBuf {
        self.bindir.join(name)
    }
}

/// How a cluster is run.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Folder holding `pgdata/`, `postgres.log` and the superuser password.
    pub root: PathBuf,
    /// `false` turns fsync off: for throwaway test clusters only.
    pub durable: bool,
}

/// A running cluster, started by us or found already running in `root`.
pub struct LocalCluster {
    port: u16,
    superuser_password: SecretString,
    /// Present when we started the server, and so must stop it.
    server: Option<Supervisor>,
    /// The port recorded by the previous start, if any.
    previous_port: Option<u16>,
}

const SUPERUSER: &str = "postgres";

impl LocalCluster {
    /// Starts the cluster in `options.root`, creating it on first use; reuses a server
    /// already running there. A cluster left half-made by an earlier run that stopped
    /// part-way (no completion marker) is removed and made again.
    pub fn start_or_reuse(options: &ClusterOptions) -> anyhow::Result<Self> {
        let binaries = PgBinaries::locate()?;
        let root =
            std::path::absolute(&options.root).with_context(|| format!("resolving {}", options.root.display()))?;
        let root = root.as_path();
        let created_root = !root.exists();
        fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        // One start at a time per cluster: a second run during the first's initdb must
        // not take its pgdata for a half-made one. Released when this function returns.
        let _starting = lock_exclusive(&root.join(".start.lock"))?;
        let run_as = RunAs::detect()?;
        if let Some(run_as) = &run_as {
            // The postgres user must be able to traverse to pgdata; nothing else here is readable.
            fs::set_permissions(root, fs::Permissions::from_mode(0o711))?;
            run_as.check_reachable(root)?;
        }
        let data = root.join("pgdata");
        let password_file = root.join("superuser-password");
        match ClusterState::of(root) {
            ClusterState::Complete => {}
            ClusterState::Legacy => write_private(&root.join(COMPLETE_MARKER), "")?,
            ClusterState::HalfMade => {
                tracing::warn!(data = %data.display(), "a half-made cluster from an earlier run: making it again");
                fs::remove_dir_all(&data).with_context(|| format!("removing the half-made {}", data.display()))?;
                create_cluster(&binaries, root, run_as.as_ref(), options.durable, created_root)?;
            }
            ClusterState::Absent => create_cluster(&binaries, root, run_as.as_ref(), options.durable, created_root)?,
        }
        let superuser_password = SecretString::from(
            fs::read_to_string(&password_file)
                .with_context(|| format!("reading {}", password_file.display()))?
                .trim()
                .to_owned(),
        );
        if let Some(port) = running_port(&data) {
            if pg_isready(&binaries, port) {
                tracing::info!(port, data = %data.display(), "reusing the running local PostgreSQL");
                return Ok(LocalCluster {
                    port,
                    superuser_password,
                    server: None,
                    previous_port: None,
                });
            }
        }
        // Keep the port of earlier runs where possible: tenant rows in the registry name it.
        let port_file = root.join("port");
        let previous_port = fs::read_to_string(&port_file)
            .ok()
            .and_then(|p| p.trim().parse::<u16>().ok());
        let port = match previous_port {
            Some(port) if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() => port,
            _ => free_port()?,
        };
        let server = start_server(
            &binaries,
            &data,
            &root.join("postgres.log"),
            port,
            run_as.as_ref(),
            options.durable,
        )?;
        // Recorded only once the server runs there: a start that failed on a new port
        // must not make the next run believe the cluster already moved (the registry's
        // rows would keep naming the old port).
        write_private(&port_file, &port.to_string())?;
        Ok(LocalCluster {
            port,
            superuser_password,
            server: Some(server),
            previous_port,
        })
    }

    /// The port an earlier run of this cluster used, when it differs from today's.
    pub fn moved_from_port(&self) -> Option<u16> {
        self.previous_port.filter(|&p| p != self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A superuser URL for database `db`. It holds the password: keep it in a `SecretString`.
    pub fn superuser_url(&self, db: &str) -> SecretString {
        SecretString::from(format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{db}",
            self.superuser_password.expose_secret(),
            self.port
        ))
    }

    /// The superuser's password (for tools such as pgbench, via `PGPASSWORD`).
    pub fn superuser_password(&self) -> &SecretString {
        &self.superuser_password
    }

    /// Stops the server if we started it (fast shutdown), and waits for it.
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `postgres` system user we switch to when running as root.
struct RunAs {
    uid: Uid,
    gid: Gid,
}

impl RunAs {
    fn detect() -> anyhow::Result<Option<RunAs>> {
        if !Uid::effective().is_root() {
            return Ok(None);
        }
        let user = User::from_name("postgres")?
            .ok_or_else(|| anyhow!("running as root, but there is no `postgres` system user to run PostgreSQL as"))?;
        Ok(Some(RunAs {
            uid: user.uid,
            gid: user.gid,
        }))
    }

    fn apply(&self, cmd: &mut Command) {
        cmd.uid(self.uid.as_raw()).gid(self.gid.as_raw());
    }

    /// Every folder above `root` must let the postgres user pass.
    fn check_reachable(&self, root: &Path) -> anyhow::Result<()> {
        match self.first_closed_ancestor(root)? {
            None => Ok(()),
            Some((dir, mode)) => bail!(
                "PostgreSQL runs as the `postgres` user, which cannot enter {} (mode {mode:o}); \
                 choose a data folder it can reach with NUSA_DATA_DIR (e.g. under /var/lib or /srv)",
                dir.display()
            ),
        }
    }

    /// The first folder on the way to `path` (itself included when it is a folder) that
    /// the postgres user may not pass, with its mode.
    fn first_closed_ancestor(&self, path: &Path) -> anyhow::Result<Option<(PathBuf, u32)>> {
        use std::os::unix::fs::MetadataExt;
        let absolute = std::path::absolute(path)?;
        for dir in absolute.ancestors() {
            let Ok(meta) = fs::metadata(dir) else {
                continue; // not made yet: it will be made passable
            };
            if !meta.is_dir() {
                continue;
            }
            let mode = meta.mode();
            let passable = if meta.uid() == self.uid.as_raw() {
                mode & 0o100 != 0
            } else if meta.gid() == self.gid.as_raw() {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            };
            if !passable {
                return Ok(Some((dir.to_path_buf(), mode & 0o777)));
            }
        }
        Ok(None)
    }

    fn chown(&self, path: &Path) -> anyhow::Result<()> {
        nix::unistd::chown(path, Some(self.uid), Some(self.gid)).with_context(|| format!("chown {}", path.display()))
    }
}

/// Written into the cluster's folder once `initdb` and the password file are complete:
/// a `pgdata` without it is what a run stopped part-way left behind.
const COMPLETE_MARKER: &str = "cluster-complete";

/// What an earlier run left in a cluster folder.
#[derive(Debug, PartialEq, Eq)]
enum ClusterState {
    /// Nothing yet.
    Absent,
    /// Made completely (the marker is there).
    Complete,
    /// Made before the marker existed, and started at least once (so `initdb` finished).
    Legacy,
    /// `pgdata` exists but was never finished: safe to remove and make again.
    HalfMade,
}

impl ClusterState {
    fn of(root: &Path) -> ClusterState {
        let data = root.join("pgdata");
        if root.join(COMPLETE_MARKER).exists() && data.join("PG_VERSION").exists() {
            ClusterState::Complete
        } else if data.join("postmaster.opts").exists() {
            // A server ran here, so initdb finished: never removed (a missing password
            // file then fails the start with a clear error instead).
            ClusterState::Legacy
        } else if data.exists() {
            ClusterState::HalfMade
        } else {
            ClusterState::Absent
        }
    }
}

/// Runs `initdb` in `root/pgdata` and writes the superuser password and the completion
/// marker. On failure it removes what it made (the whole `root` when this run created
/// it), so the next run starts clean.
fn create_cluster(
    binaries: &PgBinaries,
    root: &Path,
    run_as: Option<&RunAs>,
    durable: bool,
    created_root: bool,
) -> anyhow::Result<()> {
    let marker = root.join(COMPLETE_MARKER);
    let password_file = root.join("superuser-password");
    let outcome = initdb(binaries, root, &password_file, run_as, durable).and_then(|()| write_private(&marker, ""));
    if let Err(err) = outcome {
        let _ = fs::remove_dir_all(root.join("pgdata"));
        let _ = fs::remove_file(&password_file);
        let _ = fs::remove_file(root.join(".initdb-pwfile"));
        if created_root {
            let _ = fs::remove_dir_all(root);
        }
        return Err(err.context(format!(
            "could not create the PostgreSQL cluster in {}; nothing of it was kept: fix the cause above and run \
             again, or set NUSA_DATA_DIR to another folder (or REGISTRY_DATABASE_URL to an existing server)",
            root.display()
        )));
    }
    Ok(())
}

fn initdb(
    binaries: &PgBinaries,
    root: &Path,
    password_file: &Path,
    run_as: Option<&RunAs>,
    durable: bool,
) -> anyhow::Result<()> {
    let data = root.join("pgdata");
    fs::create_dir_all(&data)?;
    fs::set_permissions(&data, fs::Permissions::from_mode(0o700))?;
    let password = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
    write_private(password_file, &password)?;
    // initdb reads the password from a file the cluster's user can read; removed right after.
    // Every path is absolute, so the working directory below changes none of them.
    let pwfile = root.join(".initdb-pwfile");
    write_private(&pwfile, &password)?;
    let mut cmd = server_command(binaries, "initdb");
    cmd.arg("-D")
        .arg(&data)
        .args([
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--no-locale",
            "--auth=scram-sha-256",
            "--no-instructions",
        ])
        .arg(format!("--pwfile={}", pwfile.display()))
        .current_dir(root)
        .stdout(Stdio::null());
    if !durable {
        cmd.arg("--no-sync");
    }
    if let Some(run_as) = run_as {
        run_as.chown(&data)?;
        run_as.chown(&pwfile)?;
        run_as.apply(&mut cmd);
    }
    let output = cmd.output().context("running initdb");
    let _ = fs::remove_file(&pwfile);
    let output = output?;
    if !output.status.success() {
        bail!("initdb failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}

/// Whether a server started by us could reach `path`: always when we are not root (it
/// runs as us); as root, when the `postgres` user may pass every folder down to it.
pub fn server_can_reach(path: &Path) -> anyhow::Result<bool> {
    Ok(match RunAs::detect()? {
        None => true,
        Some(run_as) => run_as.first_closed_ancestor(path)?.is_none(),
    })
}

/// Where clusters go when, as root, the data folder is closed to the `postgres` user:
/// `/var/lib/nusa-journal`, owned by root (0711). Not under the postgres user's home:
/// that user owns its home and could swap our folders for links to files root then writes.
pub const SERVER_USER_CLUSTERS_DIR: &str = "/var/lib/nusa-journal";

/// Makes [`SERVER_USER_CLUSTERS_DIR`] (root-owned, 0711: passable, not listable) and
/// returns it; refuses one that is a link or owned by someone else.
pub fn server_user_clusters_dir() -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let dir = PathBuf::from(SERVER_USER_CLUSTERS_DIR);
    if !dir.exists() {
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let meta = fs::symlink_metadata(&dir)?;
    if !meta.is_dir() || meta.uid() != Uid::effective().as_raw() {
        bail!("{} must be a folder owned by this user, not a link", dir.display());
    }
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o711))?;
    Ok(dir)
}

/// One of the server programs with an empty environment: the service's own variables
/// (master key, admin token, database URLs) never reach PostgreSQL's processes.
fn server_command(binaries: &PgBinaries, program: &str) -> Command {
    let mut cmd = Command::new(binaries.tool(program));
    cmd.env_clear().env("LC_ALL", "C");
    cmd
}

/// Holds an exclusive `flock` on `path` (created 0600) until dropped; waits for it.
fn lock_exclusive(path: &Path) -> anyhow::Result<nix::fcntl::Flock<fs::File>> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, errno)| anyhow!("locking {}: {errno}", path.display()))
}

/// Writes a file only its owner can read (mode 0600). Never through a link.
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    Ok(())
}

/// The port of a live postmaster in `data`, read from `postmaster.pid`.
fn running_port(data: &Path) -> Option<u16> {
    let pid_file = fs::read_to_string(data.join("postmaster.pid")).ok()?;
    let mut lines = pid_file.lines();
    let pid: i32 = lines.next()?.trim().parse().ok()?;
    kill(Pid::from_raw(pid), None).ok()?;
    lines.nth(2)?.trim().parse().ok()
}

fn pg_isready(binaries: &PgBinaries, port: u16) -> bool {
    server_command(binaries, "pg_isready")
        .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string(), "-t", "1"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// A port that was free a moment ago.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn start_server(
    binaries: &PgBinaries,
    data: &Path,
    log: &Path,
    port: u16,
    run_as: Option<&RunAs>,
    durable: bool,
) -> anyhow::Result<Supervisor> {
    // The server's log may quote tenant data (a refused row's values): owner only.
    let log_file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    let mut cmd = server_command(binaries, "postgres");
    cmd.arg("-D").arg(data).args(["-p", &port.to_string()]);
    for setting in [
        "listen_addresses=127.0.0.1",
        "unix_socket_directories=",
        "max_connections=300",
        "shared_buffers=128MB",
    ] {
        cmd.args(["-c", setting]);
    }
    if !durable {
        for setting in ["fsync=off", "synchronous_commit=off", "full_page_writes=off"] {
            cmd.args(["-c", setting]);
        }
    }
    cmd.current_dir(data)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .process_group(0);
    if let Some(run_as) = run_as {
        run_as.apply(&mut cmd);
    }
    let server = Supervisor::spawn(cmd)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !pg_isready(binaries, port) {
        if server.has_exited() || Instant::now() > deadline {
            server.stop();
            bail!(
                "PostgreSQL did not start; its log ({}) ends with:\n{}",
                log.display(),
                log_tail(log)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(server)
}

fn log_tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// Owns the server process from a dedicated thread. The kernel's parent-death signal
/// is tied to the thread that forked, so that thread lives exactly as long as the
/// server should: if our process dies, the server gets SIGQUIT and goes too.
struct Supervisor {
    pid: Pid,
    stop_tx: mpsc::Sender<()>,
    done_rx: mpsc::Receiver<()>,
}

impl Supervisor {
    fn spawn(mut cmd: Command) -> anyhow::Result<Supervisor> {
        let (pid_tx, pid_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("postgres-supervisor".into())
            .spawn(move || {
                // SAFETY: prctl is async-signal-safe; it runs in the child between fork and exec.
                unsafe {
                    cmd.pre_exec(|| {
                        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
                let mut child = match cmd.spawn() {
                    Ok(child) => child,
                    Err(err) => {
                        let _ = pid_tx.send(Err(err));
                        return;
                    }
                };
                let _ = pid_tx.send(Ok(child.id()));
                // Wait for a stop request (or for the owner to go away).
                let _ = stop_rx.recv();
                let pid = Pid::from_raw(child.id() as i32);
                let _ = kill(pid, Signal::SIGINT); // fast shutdown: roll back, close, exit
                let deadline = Instant::now() + Duration::from_secs(20);
                while matches!(child.try_wait(), Ok(None)) {
                    if Instant::now() > deadline {
                        let _ = kill(pid, Signal::SIGQUIT);
                        let _ = child.wait();
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = done_tx.send(());
            })?;
        let pid = pid_rx
            .recv()
            .map_err(|_| anyhow!("supervisor thread died"))?
            .context("starting postgres")?;
        Ok(Supervisor {
            pid: Pid::from_raw(pid as i32),
            stop_tx,
            done_rx,
        })
    }

    fn has_exited(&self) -> bool {
        kill(self.pid, None).is_err() || is_zombie(self.pid)
    }

    fn stop(self) {
        let _ = self.stop_tx.send(());
        let _ = self.done_rx.recv_timeout(Duration::from_secs(30));
    }
}

fn is_zombie(pid: Pid) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Removes a folder left by a throwaway cluster (tests).
pub fn remove_tree(path: &Path) {
    let _ = fs::remove_dir_all(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder the server (as the `postgres` user when we are root) can reach.
    fn reachable_temp_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        dir
    }

    fn throwaway(root: &Path) -> ClusterOptions {
        ClusterOptions {
            root: root.to_path_buf(),
            durable: false,
        }
    }

    fn postgres_installed() -> bool {
        let found = PgBinaries::locate().is_ok();
        if !found {
            eprintln!("skipped: no PostgreSQL binaries on this machine");
        }
        found
    }

    #[test]
    fn a_new_cluster_serves_is_reused_while_running_and_stops_cleanly() {
        if !postgres_installed() {
            return;
        }
        let dir = reachable_temp_dir();
        let root = dir.path().join("cluster");
        // A variable of ours (as the service's master key would be) must not reach the server.
        std::env::set_var("NUSA_TEST_SECRET_FOR_NO_CHILD", "s3cret");
        let mut first = LocalCluster::start_or_reuse(&throwaway(&root)).expect("start");
        let binaries = PgBinaries::locate().expect("binaries");
        assert!(pg_isready(&binaries, first.port()), "the new cluster answers");
        let postmaster = fs::read_to_string(root.join("pgdata/postmaster.pid")).expect("pid file");
        let pid = postmaster.lines().next().expect("pid line").trim().to_owned();
        let environ = fs::read(format!("/proc/{pid}/environ")).expect("environ");
        assert!(
            !String::from_utf8_lossy(&environ).contains("NUSA_TEST_SECRET_FOR_NO_CHILD"),
            "the server's environment is clean"
        );
        assert!(root.join(COMPLETE_MARKER).exists(), "marked complete once made");
        assert_eq!(mode(&root.join("superuser-password")), 0o600);
        assert!(first
            .superuser_url("postgres")
            .expose_secret()
            .contains(&first.port().to_string()));

        // A second start while the first runs reuses that server and will not stop it.
        let mut second = LocalCluster::start_or_reuse(&throwaway(&root)).expect("reuse");
        assert_eq!(second.port(), first.port());
        second.stop();
        assert!(
            pg_isready(&binaries, first.port()),
            "stopping a reused cluster leaves it running"
        );

        first.stop();
        assert!(!root.join("pgdata/postmaster.pid").exists(), "stopped cleanly");
        assert!(!pg_isready(&binaries, first.port()));

        // Started again, it keeps its port where it can (tenant rows name it).
        let third = LocalCluster::start_or_reuse(&throwaway(&root)).expect("restart");
        assert_eq!(third.port(), first.port());
        assert_eq!(third.moved_from_port(), None);
    }

    #[test]
    fn a_half_made_cluster_is_removed_and_made_again() {
        if !postgres_installed() {
            return;
        }
        let dir = reachable_temp_dir();
        let root = dir.path().join("cluster");
        fs::create_dir_all(root.join("pgdata/base")).expect("pgdata");
        fs::write(root.join("pgdata/PG_VERSION"), "15\n").expect("PG_VERSION");
        assert_eq!(ClusterState::of(&root), ClusterState::HalfMade);
        let cluster = LocalCluster::start_or_reuse(&throwaway(&root)).expect("start");
        assert!(pg_isready(&PgBinaries::locate().expect("binaries"), cluster.port()));
        assert_eq!(ClusterState::of(&root), ClusterState::Complete);
    }

    #[test]
    fn cluster_states_are_told_apart() {
        let dir = reachable_temp_dir();
        let root = dir.path();
        assert_eq!(ClusterState::of(root), ClusterState::Absent);
        fs::create_dir_all(root.join("pgdata")).expect("pgdata");
        assert_eq!(ClusterState::of(root), ClusterState::HalfMade);
        fs::write(root.join("pgdata/postmaster.opts"), "").expect("opts");
        fs::write(root.join("superuser-password"), "pw").expect("password");
        assert_eq!(
            ClusterState::of(root),
            ClusterState::Legacy,
            "made before the marker, and started once"
        );
        fs::write(root.join("pgdata/PG_VERSION"), "15").expect("version");
        fs::write(root.join(COMPLETE_MARKER), "").expect("marker");
        assert_eq!(ClusterState::of(root), ClusterState::Complete);
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn missing_binaries_name_the_package_and_the_variable() {
        let err = PgBinaries::locate_server_in("no-such-pg-config", Path::new("/no/such/dir"))
            .err()
            .map(|e| e.to_string());
        let message = err.unwrap_or_default();
        assert!(message.contains("apt-get install postgresql"), "{message}");
        assert!(message.contains("REGISTRY_DATABASE_URL"), "{message}");
    }
}
