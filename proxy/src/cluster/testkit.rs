//! A throwaway Redis for tests: `redis-server` on a free loopback port, no persistence, killed and
//! reaped on drop; [`TestRedis::kill`] and [`TestRedis::restart`] simulate an outage on the same
//! port. It panics with the reason when the binary is missing or the server does not answer: tests
//! that need Redis fail loudly, never skip.

use arigate_config::duration::HumanDuration;
use arigate_config::schema::RedisFile;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn binary() -> PathBuf {
    if let Ok(bin) = std::env::var("ARIGATE_REDIS_BIN") {
        return PathBuf::from(bin);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/bin", "/usr/sbin", "/usr/local/bin"].map(PathBuf::from));
    dirs.into_iter()
        .map(|d| d.join("redis-server"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "Redis is not installed: no redis-server on PATH. Install it (Debian: apt-get \
                 install -y redis-server; scripts/test.sh does) or set ARIGATE_REDIS_BIN."
            )
        })
}

/// Node settings for a Redis at `url`: keys under `prefix`, a 50 ms bound per operation.
pub fn settings(url: &str, prefix: &str) -> RedisFile {
    RedisFile {
        url: url.to_string(),
        pool_size: 1,
        key_prefix: prefix.to_string(),
        timeout: HumanDuration(Duration::from_millis(50)),
        max_entry_bytes: 64 * 1024,
        write_queue: 64,
    }
}

/// A running (or killed, restartable) test Redis.
pub struct TestRedis {
    port: u16,
    child: Option<Child>,
}

impl TestRedis {
    /// Starts a server on a free port and waits until it answers PING.
    /// A port found free can be taken by another test's server before this one binds it: then
    /// it tries another (five times at most).
    pub fn start() -> TestRedis {
        let mut r = TestRedis {
            port: free_port(),
            child: None,
        };
        for _ in 0..4 {
            match r.try_restart() {
                Ok(()) => return r,
                Err(e) => {
                    eprintln!("{e}; trying another port");
                    r.port = free_port();
                }
            }
        }
        r.restart();
        r
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Node settings for this server: keys under `prefix`, a 50 ms bound per operation.
    pub fn settings(&self, prefix: &str) -> RedisFile {
        settings(&self.url(), prefix)
    }

    /// Starts the server again on the same port, empty (as a Redis without persistence restarts).
    pub fn restart(&mut self) {
        if let Err(e) = self.try_restart() {
            panic!("{e}");
        }
    }

    fn try_restart(&mut self) -> Result<(), String> {
        self.kill();
        let child = Command::new(binary())
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                &std::env::temp_dir().display().to_string(),
                "--loglevel",
                "warning",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server does not start: {e}"));
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                return Err(format!(
                    "redis-server exited with {status} (port {} taken?)",
                    self.port
                ));
            }
            assert!(
                Instant::now() < until,
                "redis-server on port {} did not answer PING within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Kills the server at once (SIGKILL): connections drop, nothing is saved.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
