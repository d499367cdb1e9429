//! `spin-host up`: serve a Spin app the way `spin up` does.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "spin-host",
    version,
    about = "A small Spin-compatible host on Wasmtime"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the app in the current directory (or --from).
    Up {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: String,
        /// Runtime config file (SQLite database locations).
        #[arg(long)]
        runtime_config_file: Option<PathBuf>,
        /// The manifest, or a directory containing spin.toml.
        #[arg(long, short = 'f', default_value = "spin.toml")]
        from: PathBuf,
    },
    /// Print the interfaces a component imports and exports, one per line.
    Inspect {
        /// The component (.wasm).
        component: PathBuf,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Command::Up {
            listen,
            runtime_config_file,
            from,
        } => {
            let options = spin_host::server::Options {
                manifest: from,
                listen,
                runtime_config_file,
            };
            spin_host::server::up(options).await
        }
        Command::Inspect { component } => spin_host::server::inspect(&component),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
