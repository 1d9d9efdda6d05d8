//! `synapse-tools <tool> ...`: Synapse's command-line tools (the reference's
//! `python -m synapse.tools.*`). Each tool is one module with its own arguments and `main`.

mod cryo;
mod progress;
mod pullfile;
mod pushfile;
mod storm;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Synapse command-line tools.
#[derive(Debug, Parser)]
#[command(name = "synapse-tools", version)]
struct Cli {
    #[command(subcommand)]
    tool: Tool,
}

#[derive(Debug, Subcommand)]
enum Tool {
    /// Cryotank tools: list tanks, display or ingest records.
    Cryo(cryo::Args),
    /// Upload files to an Axon (and make file:bytes nodes in a Cortex).
    Pushfile(pushfile::Args),
    /// Fetch files from an Axon by sha256.
    Pullfile(pullfile::Args),
    /// The Storm CLI: run Storm queries against a Cortex.
    Storm(storm::Args),
}

fn main() -> ExitCode {
    // Large copies by a vector loop on AMD CPUs (see `synapse_base::process`).
    synapse_base::process::tune_memcpy();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let res = runtime.block_on(async {
        match cli.tool {
            Tool::Cryo(args) => cryo::main(args).await,
            Tool::Pushfile(args) => pushfile::main(args).await,
            Tool::Pullfile(args) => pullfile::main(args).await,
            Tool::Storm(args) => storm::main(args).await,
        }
    });
    match res {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn storm_arguments_parse_as_the_reference() {
        let cli = Cli::try_parse_from([
            "synapse-tools",
            "storm",
            "tcp://root:secret@127.0.0.1:27492/",
            "inet:fqdn | limit 1",
            "--view",
            "abcd",
        ])
        .unwrap();
        let Tool::Storm(args) = cli.tool else {
            panic!("not the storm tool")
        };
        assert_eq!(args.onecmd.as_deref(), Some("inet:fqdn | limit 1"));
        assert_eq!(args.view.as_deref(), Some("abcd"));
        assert!(Cli::try_parse_from(["synapse-tools", "storm"]).is_err());
    }

    #[test]
    fn cryo_arguments_parse_as_the_reference() {
        let cli = Cli::try_parse_from([
            "synapse-tools",
            "cryo",
            "cat",
            "tcp://host/cryotank/x",
            "--offset",
            "5",
            "--size",
            "3",
            "--jsonl",
            "-i",
        ]);
        assert!(cli.is_ok(), "{cli:?}");
        let both = Cli::try_parse_from([
            "synapse-tools",
            "cryo",
            "cat",
            "tcp://host/cryotank/x",
            "--jsonl",
            "--msgpack",
        ]);
        assert!(both.is_err());
        assert!(Cli::try_parse_from(["synapse-tools", "cryo", "list"]).is_err());
        assert!(
            Cli::try_parse_from(["synapse-tools", "cryo", "list", "tcp://a/", "tcp://b/"]).is_ok()
        );
    }
}
