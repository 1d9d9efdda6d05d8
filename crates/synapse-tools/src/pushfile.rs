//! `synapse-tools pushfile`: upload files to an Axon (the reference's `synapse.tools.axon.put`
//! / `synapse.tools.pushfile`), optionally making `file:bytes` nodes in a Cortex.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use md5::Digest as _;
use rmpv::Value;
use synapse_telepath::Proxy;
use tokio::io::AsyncReadExt;

use crate::progress::Progress;

/// The read size of uploads (the reference's `iterfd` chunk).
const CHUNK: usize = 10_000_000;

/// The arguments (those of the reference's `synapse.tools.axon.put`).
#[derive(Debug, clap::Args)]
#[command(
    about = "Command line tool for uploading files to an Axon and making file:bytes in a Cortex."
)]
pub(crate) struct Args {
    /// URL for a target Axon to store files at.
    #[arg(short = 'a', long = "axon")]
    axon: String,
    /// URL for a target Cortex to make file:bytes nodes.
    #[arg(short = 'c', long = "cortex")]
    cortex: Option<String>,
    /// Recursively search paths to upload files.
    #[arg(short = 'r', long = "recursive")]
    recursive: bool,
    /// comma separated list of tags to add to the nodes
    #[arg(short = 't', long = "tags")]
    tags: Option<String>,
    /// File names (or glob patterns) to upload
    #[arg(required = true)]
    filenames: Vec<String>,
}

/// The files a pattern names, as Python's `glob.glob` finds them (sorted).
fn expand(pattern: &str, recursive: bool) -> anyhow::Result<Vec<PathBuf>> {
    let pattern = if recursive {
        pattern.to_string()
    } else {
        pattern.replace("**", "*")
    };
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let mut paths: Vec<PathBuf> = glob::glob_with(&pattern, opts)
        .with_context(|| format!("bad pattern {pattern}"))?
        .filter_map(Result::ok)
        .collect();
    paths.sort();
    Ok(paths)
}

/// The hashes of a local file (md5 and sha1 only when a Cortex needs them).
struct FileHashes {
    sha256: [u8; 32],
    md5: String,
    sha1: String,
    size: u64,
}

fn hash_file(path: &Path, label: &str, all: bool) -> anyhow::Result<FileHashes> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut progress = Progress::new(&format!("hashing {label}"), total);
    let mut sha256 = ring::digest::Context::new(&ring::digest::SHA256);
    let mut md5 = md5::Md5::new();
    let mut sha1 = sha1::Sha1::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let got = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if got == 0 {
            break;
        }
        sha256.update(&buf[..got]);
        if all {
            md5.update(&buf[..got]);
            sha1.update(&buf[..got]);
        }
        size += got as u64;
        progress.add(got as u64);
    }
    progress.finish();
    let mut out = [0u8; 32];
    out.copy_from_slice(sha256.finish().as_ref());
    Ok(FileHashes {
        sha256: out,
        md5: hex::encode(md5.finalize()),
        sha1: hex::encode(sha1.finalize()),
        size,
    })
}

async fn upload(axon: &Proxy, path: &Path, label: &str, size: u64) -> anyhow::Result<Value> {
    let mut file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;
    let share = axon.share("upload", vec![], vec![]).await?;
    let mut progress = Progress::new(&format!("uploading {label}"), size);
    let res = async {
        loop {
            let mut buf = Vec::with_capacity(CHUNK);
            let got = (&mut file)
                .take(CHUNK as u64)
                .read_to_end(&mut buf)
                .await
                .with_context(|| format!("cannot read {}", path.display()))?;
            if got == 0 {
                break;
            }
            share
                .call("write", vec![Value::Binary(buf)], vec![])
                .await?;
            progress.add(got as u64);
        }
        Ok::<_, anyhow::Error>(share.call("save", vec![], vec![]).await?)
    }
    .await;
    progress.finish();
    share.fini().await;
    res
}

/// Python's `repr` of a tuple of strings.
fn tuple_repr(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|t| format!("'{t}'")).collect();
    match parts.len() {
        1 => format!("({},)", parts[0]),
        _ => format!("({})", parts.join(", ")),
    }
}

async fn make_node(
    core: &Proxy,
    name: &str,
    hashes: &FileHashes,
    tags: &[String],
) -> anyhow::Result<String> {
    let vars = Value::Map(vec![
        (Value::from("md5"), Value::from(hashes.md5.as_str())),
        (Value::from("sha1"), Value::from(hashes.sha1.as_str())),
        (
            Value::from("sha256"),
            Value::from(hex::encode(hashes.sha256)),
        ),
        (Value::from("size"), Value::from(hashes.size)),
        (Value::from("name"), Value::from(name)),
        (
            Value::from("tags"),
            Value::Array(tags.iter().map(|t| Value::from(t.as_str())).collect()),
        ),
    ]);
    let opts = Value::Map(vec![(Value::from("vars"), vars)]);
    let query = "[file:bytes=$sha256 :md5=$md5 :sha1=$sha1 :size=$size :name=$name] \
                 { for $tag in $tags { [+#$tag] } }";
    let mut msgs = core
        .stream(
            "storm",
            vec![Value::from(query)],
            vec![("opts".to_string(), opts)],
        )
        .await?;
    let mut node = None;
    use futures::StreamExt;
    while let Some(mesg) = msgs.next().await {
        let mesg = mesg?;
        if node.is_none() && mesg[0].as_str() == Some("node") {
            node = Some(mesg[1].clone());
        }
        if mesg[0].as_str() == Some("err") {
            anyhow::bail!("storm error: {}", mesg[1]);
        }
    }
    let node = node.context("the Cortex made no node")?;
    let iden = &node[0][1];
    let props = &node[1]["props"];
    let show = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    Ok(format!(
        "file: {name} ({}) added to core ({}) as {}",
        show(&props["size"]),
        show(iden),
        show(&props["name"])
    ))
}

/// Run the tool.
pub(crate) async fn main(args: Args) -> anyhow::Result<ExitCode> {
    let url = &args.axon;
    let axon = Proxy::open(url)
        .await
        .with_context(|| format!("cannot connect to the Axon at {url}"))?;
    let core = match &args.cortex {
        Some(url) => Some(
            Proxy::open(url)
                .await
                .with_context(|| format!("cannot connect to the Cortex at {url}"))?,
        ),
        None => None,
    };
    let mut tags: Vec<String> = args
        .tags
        .as_deref()
        .map(|t| t.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    tags.sort();
    tags.dedup();
    if core.is_some() && !tags.is_empty() {
        println!("adding tags: {}", tuple_repr(&tags));
    }

    let mut paths = std::collections::BTreeSet::new();
    for item in &args.filenames {
        let found = expand(item, args.recursive)?;
        if found.is_empty() {
            println!("filepath does not contain any files: {item}");
            continue;
        }
        paths.extend(found.into_iter().filter(|p| p.is_file()));
    }

    for path in paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let all = core.is_some();
        let (hpath, label) = (path.clone(), name.clone());
        let hashes = tokio::task::spawn_blocking(move || hash_file(&hpath, &label, all)).await??;
        let has = axon
            .call("has", vec![Value::Binary(hashes.sha256.to_vec())], vec![])
            .await?;
        if has.as_bool() == Some(true) {
            println!("Axon already had [{name}]");
        } else {
            let saved = upload(&axon, &path, &name, hashes.size).await?;
            if saved[1].as_slice() != Some(&hashes.sha256[..]) {
                anyhow::bail!(
                    "hashes do not match: the Axon saved {} for {}",
                    saved[1],
                    hex::encode(hashes.sha256)
                );
            }
            println!("Uploaded [{name}] to axon");
        }
        if let Some(core) = &core {
            println!("{}", make_node(core, &name, &hashes, &tags).await?);
        }
    }
    axon.fini().await;
    if let Some(core) = core {
        core.fini().await;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_expand_as_python_glob() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::create_dir_all(base.join("sub/deeper")).unwrap();
        for name in [
            "a.txt",
            "b.txt",
            ".hidden.txt",
            "sub/c.txt",
            "sub/deeper/d.txt",
        ] {
            std::fs::write(base.join(name), name).unwrap();
        }
        let names = |pattern: &str, recursive: bool| -> Vec<String> {
            expand(&format!("{}/{pattern}", base.display()), recursive)
                .unwrap()
                .iter()
                .map(|p| p.strip_prefix(base).unwrap().display().to_string())
                .collect()
        };
        assert_eq!(names("*.txt", false), ["a.txt", "b.txt"]);
        assert_eq!(names("**/*.txt", false), ["sub/c.txt"]);
        assert_eq!(
            names("**/*.txt", true),
            ["a.txt", "b.txt", "sub/c.txt", "sub/deeper/d.txt"]
        );
        assert_eq!(names("a.txt", false), ["a.txt"]);
        assert!(names("nope*", false).is_empty());
    }

    #[test]
    fn reprs() {
        assert_eq!(tuple_repr(&["a".into()]), "('a',)");
        assert_eq!(tuple_repr(&["a".into(), "b".into()]), "('a', 'b')");
    }
}
