//! A progress line on stderr for anything slower than a second — shown only
//! when stderr is a terminal, erased when the work ends.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long work may take before the spinner appears.
pub const DELAY: Duration = Duration::from_secs(1);
const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// A running spinner; dropping it stops and erases it.
#[derive(Debug)]
pub struct Spinner {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Spinner {
    /// Starts a spinner labelled `message` (a no-op when stderr is not a TTY).
    pub fn start(message: &str) -> Spinner {
        let stop = Arc::new(AtomicBool::new(false));
        if !std::io::stderr().is_terminal() {
            return Spinner { stop, thread: None };
        }
        let flag = stop.clone();
        let message = message.to_owned();
        let thread = std::thread::Builder::new()
            .name("ferrogw-spinner".into())
            .spawn(move || {
                let t0 = Instant::now();
                while t0.elapsed() < DELAY {
                    if flag.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                let mut i = 0usize;
                let mut drawn = false;
                while !flag.load(Ordering::Relaxed) {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(
                        err,
                        "\r\x1b[2K{} {message} ({:.0}s)",
                        FRAMES[i % FRAMES.len()],
                        t0.elapsed().as_secs_f64()
                    );
                    let _ = err.flush();
                    drawn = true;
                    drop(err);
                    i += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                if drawn {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "\r\x1b[2K");
                    let _ = err.flush();
                }
            })
            .ok();
        Spinner { stop, thread }
    }

    /// Stops and erases the spinner now.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop();
    }
}
