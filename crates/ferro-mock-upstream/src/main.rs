//! `ferro-mock-upstream` binary: run the mock OpenAI-wire provider standalone
//! (for benchmarks and manual testing). Drive faults and read recordings via
//! the `/__mock/*` routes documented in the library.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ferro_mock_upstream::{MockOptions, MockUpstream};

#[derive(Parser, Debug)]
#[command(
    name = "ferro-mock-upstream",
    about = "Fast mock of an OpenAI-wire LLM provider"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9901")]
    addr: SocketAddr,
    /// Latency added before every response's headers, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Content chunks per streamed reply.
    #[arg(long, default_value_t = 5)]
    stream_chunks: usize,
    /// Gap between SSE events, in milliseconds.
    #[arg(long, default_value_t = 0)]
    chunk_gap_ms: u64,
    /// Do not record requests (use for load tests: recording grows memory).
    #[arg(long)]
    no_record: bool,
    /// Tokio worker threads (1 = single-threaded runtime).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ferro-mock-upstream: cannot build runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let opts = MockOptions {
        latency: Duration::from_millis(args.latency_ms),
        stream_chunks: args.stream_chunks,
        chunk_gap: Duration::from_millis(args.chunk_gap_ms),
        record: !args.no_record,
        addr: Some(args.addr),
    };
    runtime.block_on(async move {
        let mock = match MockUpstream::start_with(opts).await {
            Ok(m) => m,
            Err(e) => {
                eprintln!("ferro-mock-upstream: cannot listen on {}: {e}", args.addr);
                return ExitCode::FAILURE;
            }
        };
        println!("ferro-mock-upstream listening on {}", mock.url());
        wait_for_signal().await;
        mock.shutdown().await;
        ExitCode::SUCCESS
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
