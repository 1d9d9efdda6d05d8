//! `synapse-tools pullfile`: fetch files from an Axon by sha256 (the reference's
//! `synapse.tools.axon.get` / `synapse.tools.pullfile`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use futures::StreamExt;
use rmpv::Value;
use synapse_telepath::Proxy;
use tokio::io::AsyncWriteExt;

use crate::progress::Progress;

/// The arguments (those of the reference's `synapse.tools.axon.get`).
#[derive(Debug, clap::Args)]
#[command(about = "Fetches file from the given axon")]
pub(crate) struct Args {
    /// URL to the axon blob store
    #[arg(short = 'a', long = "axon")]
    axon: String,
    /// Directory to output files to
    #[arg(short = 'o', long = "output")]
    output: Option<String>,
    /// List of hashes to pull from axon
    #[arg(short = 'l', long = "list-hashes")]
    hashes: Vec<String>,
}

/// Fetch one blob into `path`.
async fn fetch(axon: &Proxy, sha256: &[u8], hexsha: &str, path: &PathBuf) -> anyhow::Result<()> {
    let size = axon
        .call("size", vec![Value::Binary(sha256.to_vec())], vec![])
        .await?
        .as_u64()
        .unwrap_or(0);
    let mut file = tokio::fs::File::create(path)
        .await
        .with_context(|| format!("cannot create {}", path.display()))?;
    let mut progress = Progress::new(&format!("fetching {}", &hexsha[..16]), size);
    let mut chunks = axon
        .stream("get", vec![Value::Binary(sha256.to_vec())], vec![])
        .await?;
    let res = async {
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            let byts = chunk
                .as_slice()
                .context("the Axon sent a chunk that is not bytes")?;
            file.write_all(byts)
                .await
                .with_context(|| format!("cannot write {}", path.display()))?;
            progress.add(byts.len() as u64);
        }
        file.flush().await?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    progress.finish();
    res
}

/// Run the tool.
pub(crate) async fn main(args: Args) -> anyhow::Result<ExitCode> {
    let url = &args.axon;
    let outdir = PathBuf::from(args.output.as_deref().unwrap_or("."));
    std::fs::create_dir_all(&outdir)
        .with_context(|| format!("cannot create {}", outdir.display()))?;
    let hashes = args.hashes;
    let mut raws = Vec::with_capacity(hashes.len());
    for text in &hashes {
        raws.push(hex::decode(text).with_context(|| format!("not a hex sha256: {text}"))?);
    }

    let axon = Proxy::open(url)
        .await
        .with_context(|| format!("cannot connect to the Axon at {url}"))?;
    let list = Value::Array(raws.iter().map(|r| Value::Binary(r.clone())).collect());
    let wants = axon.call("wants", vec![list], vec![]).await?;
    let missing: Vec<Vec<u8>> = wants
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_slice().map(<[u8]>::to_vec))
                .collect()
        })
        .unwrap_or_default();
    for sha256 in &missing {
        println!("{} not in axon store", hex::encode(sha256));
    }
    for (text, raw) in hashes.iter().zip(&raws) {
        if missing.contains(raw) {
            continue;
        }
        println!("Fetching {text} to file");
        match fetch(&axon, raw, text, &outdir.join(text)).await {
            Ok(()) => println!("Fetched {text} to file"),
            Err(err) => println!("Error: Hit Exception: {err:#}"),
        }
    }
    axon.fini().await;
    Ok(ExitCode::SUCCESS)
}
