//! The in-process budget store: committed spend and in-flight reservations
//! per API key, behind one mutex, with spend persisted as an append-only
//! journal under `FERRO_DATA_DIR` (`budget-<store_id>.jsonl`, one
//! `{"k":key,"usd":amount}` line per settled request, replayed and compacted at first use,
//! so a config built only to be validated never touches the file).
//! Settling appends the line to an in-memory buffer under the lock (no
//! syscall on the request path); [`LocalBudget::flush`] writes it out, called
//! every [`FLUSH_EVERY`] by the shared flusher thread, when the store is
//! dropped and at shutdown. A crash loses at most the last interval's spend.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Spend by budget key (the gateway's key ids and digests): a fast hasher.
type Map = HashMap<String, f64, foldhash::fast::RandomState>;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// How often buffered journal lines reach the file.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(100);

#[derive(Serialize, Deserialize)]
struct Line<'a> {
    k: std::borrow::Cow<'a, str>,
    usd: f64,
}

#[derive(Default)]
struct State {
    spent: Map,
    reserved: Map,
    /// Journal lines settled but not yet written.
    pending: Vec<u8>,
    max_keys: usize,
    /// The journal has been replayed (done at first use, so a config that is
    /// only built to be validated never touches the file).
    loaded: bool,
}

/// One `store_id`'s spend.
pub(crate) struct LocalBudget {
    state: Mutex<State>,
    /// The journal, opened at first use; written only by `flush`.
    journal: Mutex<Option<File>>,
    dir: Option<PathBuf>,
    path: Option<PathBuf>,
}

fn file_name(store_id: &str) -> String {
    let clean: String = store_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("budget-{clean}.jsonl")
}

fn replay(path: &Path) -> Result<Map, String> {
    let mut spent = Map::default();
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(spent),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    for line in BufReader::new(f).lines() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        // A torn last line (crash mid-write) is skipped, not fatal.
        if let Ok(l) = serde_json::from_str::<Line<'_>>(&line) {
            if l.usd.is_finite() {
                *spent.entry(l.k.into_owned()).or_insert(0.0) += l.usd;
            }
        }
    }
    Ok(spent)
}

fn owner_only(opts: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts
}

fn push_line(buf: &mut Vec<u8>, key: &str, usd: f64) -> std::io::Result<()> {
    serde_json::to_writer(&mut *buf, &Line { k: key.into(), usd })
        .map_err(std::io::Error::other)?;
    buf.push(b'\n');
    Ok(())
}

fn write_line(f: &mut File, key: &str, usd: f64) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(64);
    push_line(&mut buf, key, usd)?;
    f.write_all(&buf)
}

/// Replays the journal, rewrites it compacted (one line per key) and opens it
/// for appending.
fn load(dir: &Path, path: &Path) -> Result<(Map, File), String> {
    let err = |e: std::io::Error| format!("budget store {}: {e}", path.display());
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
        }
    }
    let spent = replay(path)?;
    let tmp = path.with_extension("jsonl.tmp");
    {
        let mut f = owner_only(OpenOptions::new().write(true).create(true).truncate(true))
            .open(&tmp)
            .map_err(err)?;
        for (k, v) in &spent {
            write_line(&mut f, k, *v).map_err(err)?;
        }
        f.sync_all().map_err(err)?;
    }
    std::fs::rename(&tmp, path).map_err(err)?;
    let journal = owner_only(OpenOptions::new().append(true).create(true))
        .open(path)
        .map_err(err)?;
    Ok((spent, journal))
}

impl LocalBudget {
    /// The store of `store_id`, journaled under `dir` (`None`: memory only).
    /// Nothing is read or written until the first request.
    pub(crate) fn open(dir: Option<&Path>, store_id: &str) -> Result<LocalBudget, String> {
        Ok(LocalBudget {
            state: Mutex::new(State::default()),
            journal: Mutex::new(None),
            dir: dir.map(Path::to_path_buf),
            path: dir.map(|d| d.join(file_name(store_id))),
        })
    }

    /// The state, with the journal replayed on first use.
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, String> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !s.loaded {
            if let (Some(dir), Some(path)) = (&self.dir, &self.path) {
                let (spent, journal) = load(dir, path)?;
                s.spent = spent;
                *self.journal.lock().unwrap_or_else(|p| p.into_inner()) = Some(journal);
            }
            s.loaded = true;
        }
        Ok(s)
    }

    pub(crate) fn set_max_keys(&self, n: usize) {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .max_keys = n;
    }

    /// Reserves `amount` for `key` when its spend plus what is in flight is
    /// still under `limit`; else returns the committed spend.
    /// `Err` when the journal cannot be read.
    pub(crate) fn reserve(
        &self,
        key: &str,
        limit: f64,
        amount: f64,
    ) -> Result<Result<(), f64>, String> {
        let mut s = self.lock()?;
        let spent = s.spent.get(key).copied().unwrap_or(0.0);
        let held = s.reserved.get(key).copied().unwrap_or(0.0);
        if spent + held >= limit {
            return Ok(Err(spent));
        }
        *s.reserved.entry(key.to_owned()).or_insert(0.0) += amount;
        Ok(Ok(()))
    }

    /// Releases a reservation of `reserved` and commits `actual`.
    pub(crate) fn settle(&self, key: &str, reserved: f64, actual: f64) {
        let mut s = match self.lock() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("budget spend not recorded: {e}");
                return;
            }
        };
        if reserved > 0.0 {
            if let Some(r) = s.reserved.get_mut(key) {
                *r -= reserved;
                if *r <= 1e-12 {
                    s.reserved.remove(key);
                }
            }
        }
        if actual <= 0.0 {
            return;
        }
        if !s.spent.contains_key(key) && s.max_keys > 0 && s.spent.len() >= s.max_keys {
            // At the cap the smallest spender is forgotten (as in the Go gateway).
            let min = s
                .spent
                .iter()
                .filter(|(k, _)| !s.reserved.contains_key(*k))
                .min_by(|a, b| a.1.total_cmp(b.1))
                .map(|(k, _)| k.clone());
            if let Some(k) = min {
                s.spent.remove(&k);
            }
        }
        *s.spent.entry(key.to_owned()).or_insert(0.0) += actual;
        if self.path.is_some() {
            if let Err(e) = push_line(&mut s.pending, key, actual) {
                tracing::error!(path = ?self.path, "budget journal line not encoded: {e}");
            }
        }
    }

    /// Writes the buffered journal lines (off the request path: the state
    /// lock is held only to take the buffer).
    pub(crate) fn flush(&self) {
        let buf = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if s.pending.is_empty() {
                return;
            }
            std::mem::take(&mut s.pending)
        };
        let mut j = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = j.as_mut() {
            if let Err(e) = f.write_all(&buf) {
                tracing::error!(path = ?self.path, "budget journal write failed: {e}");
            }
        }
    }

    /// Committed spend of `key`.
    #[cfg(test)]
    pub(crate) fn spent(&self, key: &str) -> f64 {
        self.lock()
            .map(|s| s.spent.get(key).copied().unwrap_or(0.0))
            .unwrap_or(0.0)
    }
}

impl Drop for LocalBudget {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reserve_settle_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBudget::open(Some(dir.path()), "team/a").unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "lazy");
        let journal = dir.path().join("budget-team_a.jsonl");
        assert!(b.reserve("k", 1.0, 0.6).unwrap().is_ok());
        assert!(
            b.reserve("k", 1.0, 0.6).unwrap().is_ok(),
            "0.6 in flight < 1.0"
        );
        assert!(b.reserve("k", 1.0, 0.6).unwrap().is_err(), "1.2 in flight");
        b.settle("k", 0.6, 0.5);
        assert_eq!(std::fs::read_to_string(&journal).unwrap(), "", "buffered");
        b.flush();
        assert_eq!(
            std::fs::read_to_string(&journal).unwrap().lines().count(),
            1
        );
        b.settle("k", 0.6, 0.25);
        assert_eq!(b.spent("k"), 0.75);
        assert!(b.reserve("k", 1.0, 0.6).unwrap().is_ok());
        b.settle("k", 0.6, 0.0);
        drop(b);
        let again = LocalBudget::open(Some(dir.path()), "team/a").unwrap();
        assert_eq!(again.spent("k"), 0.75);
        let text = std::fs::read_to_string(&journal).unwrap();
        assert_eq!(text.lines().count(), 1, "compacted: {text}");
    }
}
