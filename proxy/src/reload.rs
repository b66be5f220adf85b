//! Hot reload of the YAML configuration without dropping a request.
//!
//! A [`Reloader`] watches the config file (and the mapping file it names) and is also triggered by
//! `POST /admin/config/reload`. Each attempt parses and validates the file completely; a valid
//! file becomes a new [`App`] generation around the same long-lived state and is swapped in
//! atomically (requests already running finish on the generation they started with); an invalid
//! file leaves the running generation untouched, is logged with every problem and counted.

use crate::app::{App, Live};
use parking_lot::Mutex;
use serde::Serialize;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// What one reload attempt did.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadReport {
    /// `ok`, `invalid` or `unchanged`.
    pub result: &'static str,
    pub generation: u64,
    /// Every problem of an invalid file, with its path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// Changed settings that apply only after a restart or upgrade.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub needs_restart: Vec<&'static str>,
}

/// Reload counters (`arigate_config_reloads_total{result}`).
#[derive(Debug, Default)]
pub struct ReloadCounts {
    pub ok: AtomicU64,
    pub invalid: AtomicU64,
}

pub struct Reloader {
    live: Live,
    path: Option<PathBuf>,
    fingerprint: Mutex<Option<u64>>,
    pub counts: ReloadCounts,
    last: Mutex<Option<(SystemTime, ReloadReport)>>,
}

impl Reloader {
    /// `path` is the file the running config came from (`None` for the embedded demo config).
    pub fn new(live: Live, path: Option<PathBuf>) -> Arc<Reloader> {
        let fingerprint = path.as_deref().and_then(fingerprint);
        Arc::new(Reloader {
            live,
            path,
            fingerprint: Mutex::new(fingerprint),
            counts: ReloadCounts::default(),
            last: Mutex::new(None),
        })
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The last attempt and when it ran.
    pub fn last(&self) -> Option<(SystemTime, ReloadReport)> {
        self.last.lock().clone()
    }

    /// Reads, validates and (if valid) swaps in the config file now.
    pub fn reload(&self, trigger: &str) -> Result<ReloadReport, String> {
        let Some(path) = &self.path else {
            return Err(
                "this edge runs the embedded demo config: there is no file to reload".into(),
            );
        };
        let print = fingerprint(path);
        let report = match arigate_config::load(path, &|k| std::env::var(k).ok()) {
            Ok(config) => {
                let current = self.live.load_full();
                let needs_restart = current.needs_restart(&config);
                let next = current.reloaded(config);
                let generation = next.generation;
                self.live.store(Arc::new(next));
                self.counts.ok.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    trigger,
                    generation,
                    ?needs_restart,
                    "configuration reloaded"
                );
                ReloadReport {
                    result: "ok",
                    generation,
                    problems: Vec::new(),
                    needs_restart,
                }
            }
            Err(e) => {
                self.counts.invalid.fetch_add(1, Ordering::Relaxed);
                let problems: Vec<String> = e.to_string().lines().map(str::to_string).collect();
                tracing::error!(trigger, file = %path.display(), ?problems, "configuration rejected; the running one stays");
                ReloadReport {
                    result: "invalid",
                    generation: self.live.load().generation,
                    problems,
                    needs_restart: Vec::new(),
                }
            }
        };
        *self.fingerprint.lock() = print;
        *self.last.lock() = Some((SystemTime::now(), report.clone()));
        Ok(report)
    }

    /// Checks the files every `every` and reloads when their content changed.
    pub fn watch(self: &Arc<Self>, every: Duration) {
        let Some(path) = self.path.clone() else {
            return;
        };
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("arigate-reload".into())
            .spawn(move || {
                // The files are read and hashed only when a stat says one of them changed. The
                // stat comes first: a write after it changes the next one.
                let mut files = vec![path.clone()];
                let mut stamp = None;
                loop {
                    std::thread::sleep(every);
                    let now_stamp = stamp_of(&files);
                    if stamp.as_ref() == Some(&now_stamp) {
                        continue;
                    }
                    stamp = Some(now_stamp);
                    let (now, watched) = read_files(&path);
                    // The mapping file the config names now is watched from here on.
                    if watched != files {
                        files = watched;
                        stamp = None;
                    }
                    if now.is_some() && now != *me.fingerprint.lock() {
                        let _ = me.reload("file changed");
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot watch the config file; reload with POST /admin/config/reload");
        }
    }
}

/// What a stat says of each file (size, modification time, inode; `None` when unreadable).
fn stamp_of(files: &[PathBuf]) -> Vec<Option<(u64, SystemTime, u64)>> {
    use std::os::unix::fs::MetadataExt;
    files
        .iter()
        .map(|f| {
            let m = std::fs::metadata(f).ok()?;
            Some((m.len(), m.modified().ok()?, m.ino()))
        })
        .collect()
}

/// The mapping file a config text names, relative to the config's directory.
fn mapping_file(path: &Path, text: &[u8]) -> Option<PathBuf> {
    let v = serde_yaml_ng::from_slice::<serde_yaml_ng::Value>(text).ok()?;
    let m = v.get("mapping")?.as_str()?;
    Some(path.parent().unwrap_or(Path::new(".")).join(m))
}

/// A hash of the config file and the mapping file it names (`None` if unreadable).
fn fingerprint(path: &Path) -> Option<u64> {
    read_files(path).0
}

/// [`fingerprint`], and the files it read: the config file and the mapping file it names. The
/// config is read and parsed once for both.
fn read_files(path: &Path) -> (Option<u64>, Vec<PathBuf>) {
    let mut files = vec![path.to_path_buf()];
    let Ok(text) = std::fs::read(path) else {
        return (None, files);
    };
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    if let Some(file) = mapping_file(path, &text) {
        std::fs::read(&file).ok().hash(&mut h);
        files.push(file);
    }
    (Some(h.finish()), files)
}

/// The running configuration for the admin API, secrets left out.
pub fn redacted_view(app: &App, reloader: &Reloader) -> serde_json::Value {
    use serde_json::json;
    let c = &app.config;
    let suppliers: Vec<_> = c
        .suppliers
        .iter()
        .map(|s| {
            json!({
                "code": s.code,
                "protocol": s.protocol.as_str(),
                "endpoint": s.endpoint,
                "enabled": s.enabled,
                "timeout": format!("{:?}", s.timeout),
                "booking_timeout": format!("{:?}", s.booking_timeout),
                "auth": format!("{:?}", s.credentials.mode).to_lowercase(),
                "credentials": "[redacted]",
                "webhook_secrets": s.webhook_secrets.len(),
            })
        })
        .collect();
    let agents: Vec<_> = c
        .agents
        .iter()
        .map(|a| {
            json!({
                "id": a.id,
                "name": a.name,
                "suppliers": a.suppliers,
                "key_sha256": format!("{}…", a.key_sha256.chars().take(8).collect::<String>()),
            })
        })
        .collect();
    let last = reloader.last().map(|(at, r)| {
        json!({"at": chrono::DateTime::<chrono::Utc>::from(at).to_rfc3339(), "report": r})
    });
    json!({
        "generation": app.generation,
        "file": reloader.path().map(|p| p.display().to_string()),
        "reloads": {"ok": reloader.counts.ok.load(Ordering::Relaxed), "invalid": reloader.counts.invalid.load(Ordering::Relaxed), "last": last},
        "listen": c.listen.to_string(),
        "admin_listen": c.admin_listen.to_string(),
        "threads": c.threads,
        "tokens": {"secret": "[redacted]", "previous_secrets": c.tokens.previous.len(), "offer_ttl": format!("{:?}", c.tokens.offer_ttl)},
        "search": {
            "supplier_timeout": format!("{:?}", c.search.supplier_timeout),
            "deadline": format!("{:?}", c.search.deadline),
            "max_hotels": c.search.max_hotels,
            "max_rooms": c.search.max_rooms,
            "max_nights": c.search.max_nights,
        },
        "limits": {
            "max_request_body_bytes": c.max_request_body_bytes,
            "max_supplier_response_bytes": c.max_supplier_response_bytes,
            "idempotency_entries": c.idempotency_entries,
            "idempotency_ttl": format!("{:?}", c.idempotency_ttl),
        },
        "cache": serde_json::to_value(&c.cache).unwrap_or_default(),
        "traces": {
            "enabled": c.traces.enabled,
            "service": c.traces.service,
            "backend": app.traces.backend,
            "clickhouse": c.traces.clickhouse.as_ref().map(|ch| json!({"url": ch.url, "database": ch.database, "table": ch.table, "retention_days": ch.retention_days, "password": ch.password.as_ref().map(|_| "[redacted]")})),
        },
        "currency": {"as_of": c.currency.as_of.to_string(), "per_eur": c.currency.per_eur.iter().map(|(k, v)| (k.clone(), v.to_string())).collect::<std::collections::BTreeMap<_, _>>()},
        "agents": agents,
        "suppliers": suppliers,
        "hotels": c.mapping.hotels.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watcher_stats_the_config_and_the_mapping_it_names_wherever_it_is() {
        let root = std::env::temp_dir().join(format!("arigate-reload-{}", std::process::id()));
        let (conf_dir, data_dir) = (root.join("conf"), root.join("data"));
        std::fs::create_dir_all(&conf_dir).unwrap();
        std::fs::create_dir_all(&data_dir).unwrap();
        let config = conf_dir.join("arigate.yaml");
        let mapping = data_dir.join("hotels.yaml");
        std::fs::write(&config, "mapping: ../data/hotels.yaml\n").unwrap();
        std::fs::write(&mapping, "hotels: []\n").unwrap();

        let (print, files) = read_files(&config);
        assert_eq!(print, fingerprint(&config));
        assert_eq!(
            files,
            vec![config.clone(), conf_dir.join("../data/hotels.yaml")]
        );
        let before = (stamp_of(&files), fingerprint(&config));
        assert!(before.0.iter().all(Option::is_some));
        assert_eq!(
            stamp_of(&files),
            before.0,
            "nothing changed, nothing differs"
        );

        // A change of the mapping alone changes the stamp and the fingerprint.
        std::fs::write(&mapping, "hotels: [{id: ARG-1}]\n").unwrap();
        let after = (stamp_of(&files), fingerprint(&config));
        assert_ne!(after.0, before.0);
        assert_ne!(after.1, before.1);

        // A mapping that disappears is seen as unreadable, not as unchanged.
        std::fs::remove_file(&mapping).unwrap();
        assert_eq!(stamp_of(&files)[1], None);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
