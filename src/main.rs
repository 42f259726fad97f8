//! The `credit-hub` binary: parse the command line, run it.

use clap::Parser;

// glibc's allocator spent a quarter of the ingest benchmark in malloc and free; mimalloc is the
// allocator of the field for many small, short-lived allocations across threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = credit_hub::cli::Cli::parse();
    match credit_hub::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("credit-hub: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
