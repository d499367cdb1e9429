//! Child processes of a test (the app, Catalogs, servers) and their
//! output, killed with their whole process group.

use super::*;

/// Lines a child process printed: collected in the background from its
/// pipes, or, for real Spin, read on demand from the component's log file
/// (Spin writes it before the component's write returns) after the lines
/// Spin itself printed.
#[derive(Clone, Default)]
pub struct Output {
    collected: Arc<Mutex<Vec<String>>>,
    log_file: Option<PathBuf>,
}

impl Output {
    pub fn lines(&self) -> Vec<String> {
        let mut lines = self.collected.lock().unwrap().clone();
        if let Some(file) = &self.log_file {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            lines.extend(text.lines().map(str::to_owned));
        }
        lines
    }

    /// The same process output, plus a component log file after it.
    pub(super) fn with_log_file(&self, file: PathBuf) -> Output {
        Output {
            collected: self.collected.clone(),
            log_file: Some(file),
        }
    }

    /// A component log file alone.
    pub(super) fn log_file(file: PathBuf) -> Output {
        Output {
            collected: Default::default(),
            log_file: Some(file),
        }
    }

    /// Lines that are JSON objects.
    pub fn json_lines(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(Value::is_object)
            .collect()
    }

    /// The JSON log lines of event `name`, in order.
    pub fn events(&self, name: &str) -> Vec<Value> {
        self.json_lines()
            .into_iter()
            .filter(|line| line["event"] == name)
            .collect()
    }
}

/// A process started by [`start`], in a process group of its own: `spin
/// up` runs the app in a child process (`spin trigger http`), so stopping
/// it, or a crash, means the whole group (SIGKILL), also when dropped.
pub struct Process(Child);

impl Process {
    /// SIGKILL to the whole group, like a crash; waits for the leader.
    pub async fn kill(&mut self) -> std::io::Result<()> {
        self.kill_group();
        self.0.kill().await
    }

    fn kill_group(&self) {
        if let Some(pid) = self.0.id() {
            // SAFETY: kill(2) on a process group this test run created.
            unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill_group();
    }
}

/// Starts `command`, collects its stdout and stderr, and waits until a
/// stdout line starts with `ready_prefix` (or a stderr line contains it,
/// after a log prefix); returns the rest of that line.
pub async fn start(mut command: Command, ready_prefix: &str) -> (Process, String, Output, Output) {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().expect("spawn");
    let stdout = Output::default();
    let stderr = Output::default();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    // Whichever stream prints the ready line first (gunicorn logs to stderr).
    let ready_tx_shared = Arc::new(Mutex::new(Some(ready_tx)));
    let prefix = ready_prefix.to_owned();
    let ready = ready_tx_shared.clone();
    let mut out_lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let collected = stdout.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = out_lines.next_line().await {
            if let Some(rest) = line.strip_prefix(&prefix) {
                if let Some(tx) = ready.lock().unwrap().take() {
                    let _ = tx.send(rest.to_owned());
                }
            }
            collected.collected.lock().unwrap().push(line);
        }
    });
    let mut err_lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let collected = stderr.clone();
    let prefix = ready_prefix.to_owned();
    let ready = ready_tx_shared.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = err_lines.next_line().await {
            if let Some((_, rest)) = line.split_once(&prefix) {
                if let Some(tx) = ready.lock().unwrap().take() {
                    let _ = tx.send(rest.to_owned());
                }
            }
            collected.collected.lock().unwrap().push(line);
        }
    });
    // Only the readers hold the sender now: when the process exits before
    // it is ready, both pipes close and the wait ends at once.
    drop(ready_tx_shared);
    let address = tokio::time::timeout(std::time::Duration::from_secs(120), ready_rx)
        .await
        .unwrap_or_else(|_| panic!("not ready in time; stderr: {:?}", stderr.lines()))
        .unwrap_or_else(|_| panic!("exited before ready; stderr: {:?}", stderr.lines()));
    (Process(child), address, stdout, stderr)
}
