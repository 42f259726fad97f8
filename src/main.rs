//! The `credit-hub` binary: parse the command line, run it.

use clap::Parser;

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
