//! `synapse-tools <tool> [options]`: the command-line tools of Synapse. Each tool is one
//! module with its `command()` and `run()`, and one line in [`tools`] and in [`main`].

mod progress;
mod pullfile;
mod pushfile;

use std::process::ExitCode;

use clap::Command;

/// The subcommands, one per tool.
fn tools() -> Command {
    Command::new("synapse-tools")
        .about("Synapse command-line tools")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(pushfile::command())
        .subcommand(pullfile::command())
}

fn main() -> ExitCode {
    let matches = tools().get_matches();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let res = runtime.block_on(async {
        match matches.subcommand() {
            Some(("pushfile", sub)) => pushfile::run(sub).await,
            Some(("pullfile", sub)) => pullfile::run(sub).await,
            Some((other, _)) => Err(anyhow::anyhow!("unknown tool {other}")),
            None => Err(anyhow::anyhow!("no tool given")),
        }
    });
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        tools().debug_assert();
        let matches = tools()
            .try_get_matches_from([
                "synapse-tools",
                "pullfile",
                "-a",
                "tcp://x/",
                "-l",
                "aa",
                "-l",
                "bb",
            ])
            .unwrap();
        let (_, sub) = matches.subcommand().unwrap();
        assert_eq!(sub.get_many::<String>("hashes").unwrap().count(), 2);
        assert!(
            tools()
                .try_get_matches_from(["synapse-tools", "pushfile", "-a", "x"])
                .is_err()
        );
    }
}
