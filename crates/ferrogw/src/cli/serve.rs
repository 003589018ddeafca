//! `ferrogw` / `ferrogw serve`: run the gateway until SIGTERM/SIGINT.

use super::Exit;
use std::sync::Arc;

pub fn run() -> Exit {
    let env: ferro_gateway::Env = Arc::new(|k| std::env::var(k).ok());
    ferro_gateway::init_logging_from_env(&*env);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ferrogw: cannot start the async runtime: {e}");
            return Exit::Failure;
        }
    };
    match rt.block_on(ferro_gateway::run(env)) {
        Ok(()) => Exit::Ok,
        Err(errs) => {
            for e in errs {
                eprintln!("ferrogw: {e}");
            }
            Exit::Usage
        }
    }
}
