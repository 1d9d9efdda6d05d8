//! Scraping in Storm: the `scrape` command and `$lib.scrape` (`ndefs`, `context`,
//! `genMatches`), over [`crate::scrape`]. Scraped values count only when the data model
//! normalizes them, as the reference's view scrape interface does.

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use indexmap::IndexMap;
use rmpv::Value;

use super::cmds::{Opts, OptsStream};
use super::error::{Flow, RResult, StormError, rterr};
use super::exec::ItemStream;
use super::lib::{arg, req};
use super::runt::{GenItem, GenVal, Item, Path, Runt};
use super::value::{Key, Val, new_dict};
use crate::node::Node;
use crate::scrape::{self, ScrapeMatch};

/// The argument spec of the `scrape` command (the format of `cmddefs.json`).
pub(crate) const CMDDEF: &str = include_str!("scrape.json");

/// The functions of `$lib.scrape`.
pub(crate) const LIB_FUNCS: &[&str] = &["ndefs", "context", "genMatches"];

/// Whether this module runs the command.
pub(crate) fn handles(name: &str) -> bool {
    name == "scrape"
}

/// A scraped value the model normalizes: its form, normalized value and context.
struct Found {
    form: &'static str,
    norm: Value,
    info: ScrapeMatch,
}

/// Scrape `text` off the async runtime, keeping the values the model normalizes (the
/// reference's `View.scrapeIface`). With `unique`, a `(form, raw value)` seen before is
/// skipped before normalizing.
async fn scrape_text(runt: &Runt, text: String, unique: bool, refang: bool) -> RResult<Vec<Found>> {
    let matches =
        tokio::task::spawn_blocking(move || scrape::context_scrape(&text, None, refang, false))
            .await
            .map_err(|e| rterr(format!("scrape failed: {e}")))?;
    let model = runt.model();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for m in matches {
        if unique && !seen.insert((m.form, m.valu.clone())) {
            continue;
        }
        let Some(ty) = model.ty(m.form) else { continue };
        let Ok((norm, _)) = ty.norm(&m.valu.to_value()) else {
            continue;
        };
        out.push(Found {
            form: m.form,
            norm,
            info: m,
        });
    }
    Ok(out)
}

/// The `info` dict of a context result: `{match, offset}`.
fn info_dict(m: &ScrapeMatch) -> Val {
    let mut d = IndexMap::new();
    d.insert(Key::Str(Arc::from("match")), Val::from(m.text.as_str()));
    d.insert(Key::Str(Arc::from("offset")), Val::Int(m.offset as i128));
    new_dict(d)
}

fn genr(items: Vec<Val>) -> Val {
    let items: Vec<RResult<GenItem>> = items.into_iter().map(|v| Ok(GenItem::Val(v))).collect();
    GenVal::val(futures::stream::iter(items).boxed())
}

/// Call `$lib.scrape.<name>(...)`.
pub(crate) async fn call_lib(
    runt: &Arc<Runt>,
    name: &str,
    args: Vec<Val>,
    kwargs: Vec<(String, Val)>,
) -> RResult<Val> {
    let text = req(&args, &kwargs, 0, "text", name)?.to_str()?;
    Ok(match name {
        "ndefs" => {
            let found = scrape_text(runt, text, true, true).await?;
            genr(
                found
                    .into_iter()
                    .map(|f| {
                        Val::Tuple(Arc::from(vec![
                            Val::from(f.form),
                            Val::from_msgpack(&f.norm),
                        ]))
                    })
                    .collect(),
            )
        }
        "context" => {
            let found = scrape_text(runt, text, false, true).await?;
            genr(
                found
                    .into_iter()
                    .map(|f| {
                        Val::Tuple(Arc::from(vec![
                            Val::from(f.form),
                            Val::from_msgpack(&f.norm),
                            info_dict(&f.info),
                        ]))
                    })
                    .collect(),
            )
        }
        "genMatches" => gen_matches(text, &args, &kwargs).await?,
        _ => {
            return Err(Flow::Err(
                StormError::new("NoSuchName", format!("Cannot find name [{name}]"))
                    .with("name", name),
            ));
        }
    })
}

/// `$lib.scrape.genMatches(text, pattern, fangs=None, flags=regex.IGNORECASE)`: `(valu, info)`
/// for each match of the pattern's `valu` group.
async fn gen_matches(text: String, args: &[Val], kwargs: &[(String, Val)]) -> RResult<Val> {
    let pattern = req(args, kwargs, 1, "pattern", "genMatches")?.to_str()?;
    let fangs = match arg(args, kwargs, 2, "fangs") {
        None | Some(Val::Null) => None,
        Some(v) => {
            let items = v
                .seq_items()
                .ok_or_else(|| rterr("fangs must be a list of (src, dst) pairs"))?;
            let mut pairs = Vec::new();
            for item in items {
                let pair = item
                    .seq_items()
                    .filter(|p| p.len() == 2)
                    .ok_or_else(|| rterr("fangs must be a list of (src, dst) pairs"))?;
                pairs.push((pair[0].to_str()?, pair[1].to_str()?));
            }
            Some(pairs)
        }
    };
    // the reference's default flags: regex.IGNORECASE
    let flags = match arg(args, kwargs, 3, "flags") {
        None | Some(Val::Null) => 2,
        Some(v) => v.to_int()?,
    };
    let regex = regex::RegexBuilder::new(&pattern)
        .case_insensitive(flags & 2 != 0)
        .multi_line(flags & 8 != 0)
        .dot_matches_new_line(flags & 16 != 0)
        .ignore_whitespace(flags & 64 != 0)
        .build()
        .map_err(|e| {
            Flow::Err(StormError::new(
                "BadArg",
                format!("Invalid regular expression: {e}"),
            ))
        })?;
    let res =
        tokio::task::spawn_blocking(move || scrape::gen_matches(&text, &regex, fangs.as_deref()))
            .await
            .map_err(|e| rterr(format!("genMatches failed: {e}")))?;
    let matches = res.map_err(|e| match e {
        scrape::GenMatchError::LongFang { src, dst } => Flow::Err(
            StormError::new(
                "BadArg",
                format!("fang dst[{dst}] must be <= in length to src[{src}]"),
            )
            .with("src", src.as_str())
            .with("dst", dst.as_str()),
        ),
        other => Flow::Err(StormError::new("BadArg", other.to_string())),
    })?;
    Ok(genr(
        matches
            .into_iter()
            .map(|m| {
                let mut d = IndexMap::new();
                d.insert(Key::Str(Arc::from("match")), Val::from(m.text.as_str()));
                d.insert(Key::Str(Arc::from("offset")), Val::Int(m.offset as i128));
                Val::Tuple(Arc::from(vec![Val::from(m.valu.as_str()), new_dict(d)]))
            })
            .collect(),
    ))
}

fn opt<'a>(opts: &'a Opts, name: &str) -> &'a Val {
    static NULL: Val = Val::Null;
    opts.get(name).unwrap_or(&NULL)
}

/// The `--forms` option: a comma-separated string, a list, or one value.
fn forms_opt(opts: &Opts) -> RResult<Vec<String>> {
    Ok(match opt(opts, "forms") {
        Val::Str(s) => s.split(',').map(str::to_owned).collect(),
        v => match v.seq_items() {
            Some(items) => items.iter().map(Val::to_str).collect::<RResult<_>>()?,
            None => vec![v.to_str()?],
        },
    })
}

/// Add (or get) the node of a scraped value.
async fn add_node(runt: &Arc<Runt>, form: &str, norm: &Value) -> RResult<Option<Node>> {
    runt.layer_confirm(&["node", "add", form])?;
    let mut editor = runt.shared.editor.lock().await;
    let buid = editor.add_node(form, norm).await.map_err(Flow::from)?;
    runt.flush(&mut editor).await?;
    drop(editor);
    match buid {
        Some(buid) => runt.view.get_node(buid).await.map_err(Flow::from),
        None => Ok(None),
    }
}

/// Run the `scrape` command.
pub(crate) fn run(
    runt: &Arc<Runt>,
    runtsafe: bool,
    idle: Option<Arc<Opts>>,
    mut input: OptsStream,
) -> ItemStream {
    let runt = Arc::clone(runt);
    async_stream::try_stream! {
        let mut seen_node = false;
        while let Some(x) = input.next().await {
            let (item, opts) = x?;
            seen_node = true;
            let refs = opt(&opts, "refs").truthy();
            let doyield = opt(&opts, "doyield").truthy();
            let refang = opt(&opts, "dorefang").truthy();
            let forms = forms_opt(&opts)?;
            let mut todo: Vec<String> = Vec::new();
            if let Some(values) = opt(&opts, "values").seq_items() {
                for v in values {
                    todo.push(v.to_str()?);
                }
            }
            // without values, every property of the node is scraped
            if todo.is_empty() {
                for (_, v) in &item.node.props {
                    todo.push(Val::from_msgpack(v).to_str()?);
                }
            }
            let isrunt = runt.model().form(&item.node.form).is_some_and(|f| f.is_runt());
            for text in todo {
                for found in scrape_text(&runt, text, false, refang).await? {
                    if !forms.is_empty() && !forms.iter().any(|f| f == found.form) {
                        continue;
                    }
                    let Some(nnode) = add_node(&runt, found.form, &found.norm).await? else {
                        continue;
                    };
                    if refs {
                        if isrunt {
                            runt.shared.warn(
                                &format!("Edges cannot be used with runt nodes: {}", item.node.form),
                                Vec::new(),
                            ).await;
                        } else {
                            runt.layer_confirm(&["node", "edge", "add", "refs"])?;
                            let mut editor = runt.shared.editor.lock().await;
                            editor.add_edge(&item.node.buid, "refs", &nnode.buid).await.map_err(Flow::from)?;
                            runt.flush(&mut editor).await?;
                        }
                    }
                    if doyield {
                        let path = item.path.fork(&item.node, &nnode, || {
                            Value::Map(vec![(Value::from("type"), Value::from("scrape"))])
                        });
                        yield Item { node: Arc::new(nnode), path };
                    }
                }
            }
            if !doyield {
                yield item;
            }
        }
        if runtsafe && !seen_node && let Some(opts) = idle {
            let doyield = opt(&opts, "doyield").truthy();
            let refang = opt(&opts, "dorefang").truthy();
            let forms = forms_opt(&opts)?;
            let values = opt(&opts, "values").seq_items().unwrap_or_default();
            for v in values {
                let text = v.to_str()?;
                for found in scrape_text(&runt, text, false, refang).await? {
                    if !forms.is_empty() && !forms.iter().any(|f| f == found.form) {
                        continue;
                    }
                    let Some(node) = add_node(&runt, found.form, &found.norm).await? else {
                        continue;
                    };
                    if doyield {
                        let path: Path = runt.init_path(&node);
                        yield Item { node: Arc::new(node), path };
                    }
                }
            }
        }
    }
    .boxed()
}
