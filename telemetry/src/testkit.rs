//! A throwaway ClickHouse server for tests: its own temporary data directory, a generated minimal
//! config on free loopback ports, started with whatever binary is installed (`clickhouse-server`
//! from Debian, or `clickhouse server`; `ARIGATE_CLICKHOUSE_BIN` overrides), killed and reaped on
//! drop. It panics with the reason (and the server's log tail) when it cannot start: tests that
//! need ClickHouse fail loudly, never skip.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer `/ping`.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// A running (or stopped, restartable) test ClickHouse.
#[derive(Debug)]
pub struct TestClickHouse {
    dir: PathBuf,
    http_port: u16,
    tcp_port: u16,
    child: Option<Child>,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 to find a free port");
    l.local_addr().expect("local addr").port()
}

fn binary() -> (PathBuf, Vec<&'static str>) {
    if let Ok(bin) = std::env::var("ARIGATE_CLICKHOUSE_BIN") {
        let args = if bin.ends_with("clickhouse") {
            vec!["server"]
        } else {
            vec![]
        };
        return (PathBuf::from(bin), args);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/usr/bin", "/usr/local/bin"].map(PathBuf::from));
    for (name, args) in [
        ("clickhouse-server", vec![]),
        ("clickhouse", vec!["server"]),
    ] {
        for d in &dirs {
            let p = d.join(name);
            if p.is_file() {
                return (p, args);
            }
        }
    }
    panic!(
        "ClickHouse is not installed: no clickhouse-server or clickhouse binary on PATH or in /usr/sbin. \
         Install it (Debian: apt-get install -y clickhouse-server clickhouse-client, or run \
         scripts/clickhouse-for-tests.sh) or set ARIGATE_CLICKHOUSE_BIN."
    );
}

impl TestClickHouse {
    /// Creates a data directory and config and starts the server; waits until it answers.
    pub fn start() -> TestClickHouse {
        let base = std::env::temp_dir().join(format!(
            "arigate-ch-{}-{}",
            std::process::id(),
            crate::span::new_span_id()
        ));
        std::fs::create_dir_all(&base).expect("create ClickHouse temp dir");
        let mut ch = TestClickHouse {
            dir: base,
            http_port: free_port(),
            tcp_port: free_port(),
            child: None,
        };
        ch.write_config();
        ch.restart();
        ch
    }

    fn write_config(&self) {
        let d = self.dir.display();
        let config = format!(
            r#"<?xml version="1.0"?>
<yandex>
  <logger><level>information</level><log>{d}/server.log</log><errorlog>{d}/server.err.log</errorlog><size>10M</size><count>1</count></logger>
  <http_port>{http}</http_port>
  <tcp_port>{tcp}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>64</max_concurrent_queries>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mlock_executable>false</mlock_executable>
</yandex>
"#,
            http = self.http_port,
            tcp = self.tcp_port
        );
        let users = r#"<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default>
    <arigate><password>arigate-test-pw</password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></arigate>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"#;
        std::fs::write(self.dir.join("config.xml"), config).expect("write ClickHouse config");
        std::fs::write(self.dir.join("users.xml"), users).expect("write ClickHouse users");
    }

    /// Base URL of the HTTP interface.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// The HTTP port.
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// A user with a password, to test authenticated access: `(user, password)`.
    pub fn password_user(&self) -> (&'static str, &'static str) {
        ("arigate", "arigate-test-pw")
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Kills the server (like a crash) and waits for it; the data directory and ports stay.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same data directory and ports (after [`Self::stop`]);
    /// waits until it answers `/ping`, or panics with the log tail.
    pub fn restart(&mut self) {
        self.stop();
        let (bin, args) = binary();
        let out = std::fs::File::create(self.dir.join("stdout.log")).expect("create stdout log");
        let err = out.try_clone().expect("clone log handle");
        let child = Command::new(&bin)
            .args(&args)
            .arg(format!(
                "--config-file={}",
                self.dir.join("config.xml").display()
            ))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        self.child = Some(child);
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if self.ping() {
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    panic!(
                        "ClickHouse ({}) exited during start-up with {status}:\n{}",
                        bin.display(),
                        self.log_tail()
                    );
                }
            }
            if Instant::now() > deadline {
                let tail = self.log_tail();
                self.stop();
                panic!(
                    "ClickHouse ({}) did not answer on {} within {START_DEADLINE:?}:\n{tail}",
                    bin.display(),
                    self.url()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `Some(reason)` when the server process has exited on its own (crash, kill by someone
    /// else), with the log tail; `None` while it runs or after [`Self::stop`].
    pub fn exited(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(format!(
                "ClickHouse exited with {status}:\n{}",
                self.log_tail()
            )),
            _ => None,
        }
    }

    /// Whether `/ping` answers `Ok.` now.
    pub fn ping(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], self.http_port)),
            Duration::from_millis(200),
        ) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        if s.write_all(b"GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut buf = String::new();
        let _ = s.read_to_string(&mut buf);
        buf.contains("200 OK") && buf.contains("Ok.")
    }

    fn log_tail(&self) -> String {
        let mut out = String::new();
        for f in ["stdout.log", "server.err.log", "server.log"] {
            if let Ok(text) = std::fs::read_to_string(self.dir.join(f)) {
                let lines: Vec<&str> = text.lines().collect();
                let from = lines.len().saturating_sub(25);
                out.push_str(&format!("--- {f}\n{}\n", lines[from..].join("\n")));
            }
        }
        out
    }
}

impl Drop for TestClickHouse {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
