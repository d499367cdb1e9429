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
    /// Start the app in the current directory (or --from). Takes the
    /// `spin up` flags this project's deployments use; unknown flags are
    /// errors.
    Up {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: String,
        /// Runtime config file (SQLite databases, state_dir, log_dir).
        #[arg(long)]
        runtime_config_file: Option<PathBuf>,
        /// The manifest, or a directory containing spin.toml.
        #[arg(long, short = 'f', default_value = "spin.toml")]
        from: PathBuf,
        /// Disable the Wasmtime compilation cache.
        #[arg(long, conflicts_with = "cache")]
        disable_cache: bool,
        /// Wasmtime cache configuration file.
        #[arg(long)]
        cache: Option<PathBuf>,
        /// Disable the pooling instance allocator.
        #[arg(long)]
        disable_pooling: bool,
        /// Application state directory ("" unsets it).
        #[arg(long)]
        state_dir: Option<String>,
        /// Directory for component logs. As in Spin 4.1, an empty value is
        /// refused here (`log_dir = ""` in the runtime config disables them).
        #[arg(long, short = 'L', value_name = "APP_LOG_DIR",
              value_parser = clap::builder::NonEmptyStringValueParser::new())]
        log_dir: Option<String>,
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
            disable_cache,
            cache,
            disable_pooling,
            state_dir,
            log_dir,
        } => {
            let options = spin_host::server::Options {
                manifest: from,
                listen,
                runtime_config_file,
                disable_cache,
                cache_config: cache,
                disable_pooling,
                state_dir,
                log_dir,
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
