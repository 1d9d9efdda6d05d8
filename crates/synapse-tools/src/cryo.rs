//! `synapse-tools cryo list|cat`: the reference's `synapse.tools.cryo.list` and
//! `synapse.tools.cryo.cat`, with the same arguments and output.

mod pprint;

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};
use futures::TryStreamExt;
use synapse_cryotank::{CryoClient, SliceOpts, TankClient};
use synapse_telepath::{Value, codec};

/// Records sent per `puts` call when ingesting.
const INGEST_BATCH: usize = 10_000;

/// The cryotank tools.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// List tanks within a cryo cell.
    List(ListArgs),
    /// Display data items from a cryo cell (or, with --ingest, add them).
    Cat(CatArgs),
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    /// Telepath URLs to cryo cells.
    #[arg(required = true, value_name = "CRYOCELL")]
    cryocell: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct CatArgs {
    /// The telepath URL for the remote cryotank (`tcp://host:port/cryotank/<name>`).
    cryotank: String,
    /// Begin at offset index.
    #[arg(long, default_value_t = 0)]
    offset: u64,
    /// How many items to display.
    #[arg(long, default_value_t = 10)]
    size: u64,
    /// Output raw items with no offsets.
    #[arg(long)]
    omit_offset: bool,
    /// Input/Output items in jsonl format.
    #[arg(long, conflicts_with = "msgpack")]
    jsonl: bool,
    /// Input/Output items in msgpack format.
    #[arg(long)]
    msgpack: bool,
    /// Verbose output (accepted for compatibility; no effect).
    #[arg(short, long)]
    verbose: bool,
    /// Reverses direction: feeds cryotank from stdin in msgpack or jsonl format.
    #[arg(short, long)]
    ingest: bool,
}

/// Run a cryo tool.
pub(crate) async fn main(args: Args) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.cmd {
        Cmd::List(args) => list(&args, &mut out).await,
        Cmd::Cat(args) => cat(&args, &mut std::io::stdin().lock(), &mut out).await,
    }
}

async fn list(args: &ListArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    for url in &args.cryocell {
        writeln!(out, "{url}")?;
        let cryo = CryoClient::open(url)
            .await
            .with_context(|| format!("cannot connect to {url}"))?;
        let tanks = cryo.list().await;
        cryo.fini().await;
        for (name, info) in tanks? {
            writeln!(out, "    {name}: {}", pprint::repr(&info, false))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn cat(
    args: &CatArgs,
    input: &mut impl Read,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    if args.ingest && !args.jsonl && !args.msgpack {
        writeln!(
            out,
            "Must specify exactly one of --jsonl or --msgpack if --ingest is specified"
        )?;
        return Ok(ExitCode::FAILURE);
    }
    let tank = TankClient::open(&args.cryotank)
        .await
        .with_context(|| format!("cannot connect to {}", args.cryotank))?;
    let res = if args.ingest {
        ingest(args, &tank, input).await
    } else {
        show(args, &tank, out).await
    };
    tank.fini().await;
    res.map(|()| ExitCode::SUCCESS)
}

async fn show(args: &CatArgs, tank: &TankClient, out: &mut impl Write) -> anyhow::Result<()> {
    let opts = SliceOpts {
        size: Some(args.size),
        ..SliceOpts::default()
    };
    let mut rows = tank.slice(args.offset, opts).await?;
    while let Some((offs, item)) = rows.try_next().await? {
        if args.jsonl {
            let json = to_json(&item)
                .with_context(|| format!("record {offs} cannot be written as JSON"))?;
            writeln!(out, "{json}")?;
        } else if args.msgpack {
            out.write_all(&codec::encode(&item)?)?;
        } else if args.omit_offset {
            writeln!(out, "{}", pprint::pformat(&item))?;
        } else {
            let pair = Value::Array(vec![Value::from(offs), item]);
            writeln!(out, "{}", pprint::pformat(&pair))?;
        }
    }
    out.flush()?;
    Ok(())
}

async fn ingest(args: &CatArgs, tank: &TankClient, input: &mut impl Read) -> anyhow::Result<()> {
    let mut data = Vec::new();
    input.read_to_end(&mut data).context("cannot read stdin")?;
    let items = if args.msgpack {
        let mut items = Vec::new();
        let mut rest = &data[..];
        while !rest.is_empty() {
            let (item, used) = codec::decode_prefix(rest)
                .with_context(|| format!("bad msgpack at byte {}", data.len() - rest.len()))?;
            items.push(item);
            rest = &rest[used..];
        }
        items
    } else {
        let text = String::from_utf8(data).context("stdin is not UTF-8")?;
        let mut items = Vec::new();
        for (lineno, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let json: serde_json::Value = serde_json::from_str(line)
                .with_context(|| format!("bad JSON on line {}", lineno + 1))?;
            items.push(from_json(&json));
        }
        items
    };
    let mut added = 0;
    for chunk in items.chunks(INGEST_BATCH) {
        added += tank
            .puts(chunk.to_vec())
            .await
            .with_context(|| format!("puts failed after {added} records were added"))?;
    }
    Ok(())
}

/// JSON of a record with sorted keys and no spaces, as the reference's `s_json.dumps(item,
/// sort_keys=True)`; bytes, non-string keys and non-finite floats are refused as there.
fn to_json(valu: &Value) -> anyhow::Result<String> {
    fn conv(valu: &Value) -> anyhow::Result<serde_json::Value> {
        Ok(match valu {
            Value::Nil => serde_json::Value::Null,
            Value::Boolean(flag) => serde_json::Value::Bool(*flag),
            Value::Integer(int) => match (int.as_i64(), int.as_u64()) {
                (Some(num), _) => num.into(),
                (_, Some(num)) => num.into(),
                _ => bail!("integer out of range"),
            },
            Value::F32(num) => finite(f64::from(*num))?,
            Value::F64(num) => finite(*num)?,
            Value::String(_) => match valu.as_str() {
                Some(text) => text.into(),
                None => bail!("a string is not valid UTF-8"),
            },
            Value::Binary(_) => bail!("Object of type bytes is not JSON serializable"),
            Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(conv).collect::<Result<_, _>>()?)
            }
            Value::Map(items) => {
                let mut pairs = Vec::with_capacity(items.len());
                for (key, item) in items {
                    let Some(key) = key.as_str() else {
                        bail!("Dictionary keys must be strings");
                    };
                    pairs.push((key.to_string(), conv(item)?));
                }
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
                serde_json::Value::Object(pairs.into_iter().collect())
            }
            Value::Ext(..) => bail!("integer out of range"),
        })
    }
    fn finite(num: f64) -> anyhow::Result<serde_json::Value> {
        match serde_json::Number::from_f64(num) {
            Some(num) => Ok(serde_json::Value::Number(num)),
            None => bail!("nan or inf number is not allowed"),
        }
    }
    Ok(serde_json::to_string(&conv(valu)?)?)
}

/// A JSON value as a record (objects become maps, numbers ints where they are integers).
fn from_json(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(flag) => Value::Boolean(*flag),
        serde_json::Value::Number(num) => {
            if let Some(int) = num.as_u64() {
                Value::from(int)
            } else if let Some(int) = num.as_i64() {
                Value::from(int)
            } else {
                Value::F64(num.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(text) => Value::from(text.as_str()),
        serde_json::Value::Array(items) => Value::Array(items.iter().map(from_json).collect()),
        serde_json::Value::Object(items) => Value::Map(
            items
                .iter()
                .map(|(key, item)| (Value::from(key.as_str()), from_json(item)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_match_the_reference() {
        let valu = Value::Map(vec![
            ("b".into(), 1.into()),
            (
                "a".into(),
                Value::Array(vec![Value::F64(1.5), Value::Nil, true.into(), "é\n".into()]),
            ),
        ]);
        assert_eq!(
            to_json(&valu).unwrap(),
            r#"{"a":[1.5,null,true,"é\n"],"b":1}"#
        );
        assert_eq!(
            to_json(&Value::Array(vec!["x".into(), 2.into()])).unwrap(),
            r#"["x",2]"#
        );
        for bad in [
            Value::Binary(vec![1]),
            Value::Map(vec![(1.into(), 2.into())]),
            Value::F64(f64::NAN),
            Value::Ext(0, vec![1; 9]),
        ] {
            assert!(to_json(&bad).is_err(), "{bad}");
        }
        let json: serde_json::Value =
            serde_json::from_str(r#"{"x": [1, -2, 2.5, "s", null]}"#).unwrap();
        assert_eq!(
            from_json(&json),
            Value::Map(vec![(
                "x".into(),
                Value::Array(vec![
                    1.into(),
                    (-2).into(),
                    Value::F64(2.5),
                    "s".into(),
                    Value::Nil
                ])
            )])
        );
    }
}
