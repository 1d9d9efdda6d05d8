//! `synapse-tools storm CORTEX [QUERY]`: the Storm CLI (the reference's
//! `python -m synapse.tools.storm`).
//!
//! With a query it runs it once and exits (1 if an `err` message came back). Without, it
//! reads queries interactively, with line editing, history (`~/.syn/storm_history`) and Tab
//! completion of forms, properties and Storm commands. Lines starting with `!` are local
//! commands ([`cmdr`]): `!help`, `!quit`, `!runfile`, `!pushfile`, `!pullfile`, `!export`.
//! Output follows the reference's format line for line ([`render`]).

mod cmdr;
mod render;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use futures::StreamExt;
use synapse_telepath::{Proxy, Value};

use cmdr::{Cmd, CmdFuture, Cmdr};

const WELCOME: &str = "
Welcome to the Storm interpreter!

Local interpreter (non-storm) commands may be executed with a ! prefix:
    Use !quit to exit.
    Use !help to see local interpreter commands.

Use the <Tab> key for suggestion/completion of forms, commands, and tags.
";

/// Arguments of `synapse-tools storm`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A telepath URL for the Cortex (tcp://user:passwd@host:port/, cell:///path/to/dirn, ...).
    pub(crate) cortex: String,
    /// A single storm command to run and exit.
    pub(crate) onecmd: Option<String>,
    /// The view iden to work in.
    #[arg(long)]
    pub(crate) view: Option<String>,
    /// A JSON/YAML file which contains storm runtime options.
    #[arg(long)]
    pub(crate) optsfile: Option<PathBuf>,
}

/// JSON (from an opts file) as a telepath value.
fn from_json(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(num) => {
            if let Some(int) = num.as_i64() {
                Value::from(int)
            } else if let Some(int) = num.as_u64() {
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
                .map(|(k, v)| (Value::from(k.as_str()), from_json(v)))
                .collect(),
        ),
    }
}

fn map_set(map: &mut Value, key: &str, valu: Value) {
    if let Value::Map(items) = map {
        match items.iter_mut().find(|(k, _)| k.as_str() == Some(key)) {
            Some(slot) => slot.1 = valu,
            None => items.push((Value::from(key), valu)),
        }
    }
}

fn map_get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    match map {
        Value::Map(items) => items
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// The Storm CLI over a Cortex proxy.
pub(crate) struct StormCli {
    proxy: Proxy,
    /// Storm opts sent with every query (`repr` on, plus the opts file and `--view`).
    stormopts: Value,
    out: Box<dyn Write + Send>,
    indented: bool,
    hidetags: bool,
    hideprops: bool,
    quit: bool,
    cmds: Arc<Cmdr<StormCli>>,
}

impl StormCli {
    /// A CLI printing to `out`.
    pub(crate) fn new(proxy: Proxy, out: Box<dyn Write + Send>) -> Self {
        let mut cmds = Cmdr::new();
        cmds.add(Arc::new(QuitCmd));
        cmds.add(Arc::new(HelpCmd));
        cmds.add(Arc::new(ExportCmd));
        cmds.add(Arc::new(RunFileCmd));
        cmds.add(Arc::new(PullFileCmd));
        cmds.add(Arc::new(PushFileCmd));
        StormCli {
            proxy,
            stormopts: Value::Map(vec![(Value::from("repr"), Value::Boolean(true))]),
            out,
            indented: false,
            hidetags: false,
            hideprops: false,
            quit: false,
            cmds: Arc::new(cmds),
        }
    }

    /// Apply `--optsfile` and `--view`.
    fn apply_args(&mut self, args: &Args) -> anyhow::Result<()> {
        if let Some(path) = &args.optsfile {
            let text = std::fs::read_to_string(path).map_err(|_| {
                anyhow::anyhow!("The --optsfile {} does not exist.", path.display())
            })?;
            let json: serde_json::Value = serde_yaml::from_str(&text)
                .with_context(|| format!("cannot parse {}", path.display()))?;
            if let Value::Map(items) = from_json(&json) {
                for (key, valu) in items {
                    if let Some(key) = key.as_str() {
                        map_set(&mut self.stormopts, key, valu);
                    }
                }
            }
        }
        if let Some(view) = &args.view {
            map_set(&mut self.stormopts, "view", Value::from(view.as_str()));
        }
        Ok(())
    }

    fn out_line(&mut self, line: &str) {
        // A closed output (a pipe) is not an error worth stopping for.
        let _ = writeln!(self.out, "{line}");
    }

    /// Print a line (after ending a line of edit dots).
    pub(crate) fn printf(&mut self, line: &str) {
        if self.indented {
            self.out_line("");
            self.indented = false;
        }
        self.out_line(line);
    }

    /// Run a Storm query and print its messages; false if it failed.
    pub(crate) async fn storm(&mut self, text: &str, opts: Option<Value>) -> anyhow::Result<bool> {
        let mut realopts = self.stormopts.clone();
        if let Some(Value::Map(items)) = opts {
            for (key, valu) in items {
                if let Some(key) = key.as_str() {
                    map_set(&mut realopts, key, valu);
                }
            }
        }
        let mut msgs = self
            .proxy
            .stream("storm", vec![Value::from(text), realopts], Vec::new())
            .await?;
        let mut ret = true;
        while let Some(mesg) = msgs.next().await {
            let mesg = mesg?;
            let Some([kind, info]) = mesg.as_array().map(Vec::as_slice) else {
                continue;
            };
            match kind.as_str().unwrap_or_default() {
                "node" => {
                    for line in render::node_lines(info, self.hideprops, self.hidetags) {
                        self.printf(&line);
                    }
                }
                "node:edits" => {
                    let count = render::edit_count(info);
                    let _ = write!(self.out, "{}", ".".repeat(count));
                    let _ = self.out.flush();
                    self.indented = true;
                }
                "fini" => self.printf(&render::fini_line(info)),
                "print" => {
                    let text = map_get(info, "mesg")
                        .map(render::py_str)
                        .unwrap_or_default();
                    self.printf(&text);
                }
                "warn" => self.printf(&render::warn_line(info)),
                "err" => {
                    for line in render::err_lines(info) {
                        self.printf(&line);
                    }
                    ret = false;
                }
                _ => {}
            }
        }
        let _ = self.out.flush();
        Ok(ret)
    }

    /// Run one line: a `!` command or a Storm query. `None` for commands without a result.
    pub(crate) async fn run_line(&mut self, line: &str) -> anyhow::Result<Option<bool>> {
        if !line.starts_with('!') {
            return self.storm(line, None).await.map(Some);
        }
        let argv = match cmdr::split_args(line) {
            Ok(argv) => argv,
            Err(err) => {
                self.printf(&format!("error: {err}"));
                return Ok(Some(false));
            }
        };
        let name = argv.first().cloned().unwrap_or_default();
        let Some(cmd) = self.cmds.get(&name) else {
            self.printf(&format!("cmd not found: {name}"));
            return Ok(None);
        };
        cmd.run(self, argv[1..].to_vec()).await.map(Some)
    }

    fn help(&mut self, names: &[String]) {
        let lines = self.cmds.help(names);
        for line in lines {
            self.printf(&line);
        }
    }
}

/// Print the usage of a command and say why its arguments were refused (as argparse).
fn usage(cli: &mut StormCli, usage: &str, mesg: &str) -> bool {
    cli.printf(&format!("usage: {usage}"));
    cli.printf(&format!(
        "{}: error: {mesg}",
        usage.split(' ').next().unwrap_or_default()
    ));
    false
}

/// `!quit`.
struct QuitCmd;

impl Cmd<StormCli> for QuitCmd {
    fn name(&self) -> &'static str {
        "!quit"
    }
    fn doc(&self) -> &'static str {
        "
    Quit the current command line interpreter.

    Example:

        !quit
    "
    }
    fn run<'a>(&'a self, cli: &'a mut StormCli, _argv: Vec<String>) -> CmdFuture<'a> {
        Box::pin(async move {
            cli.printf("o/");
            cli.quit = true;
            Ok(true)
        })
    }
}

/// `!help [cmd ...]`.
struct HelpCmd;

impl Cmd<StormCli> for HelpCmd {
    fn name(&self) -> &'static str {
        "!help"
    }
    fn doc(&self) -> &'static str {
        "
    List interpreter extended commands and display help output.

    Example:

        !help foocmd
    "
    }
    fn run<'a>(&'a self, cli: &'a mut StormCli, argv: Vec<String>) -> CmdFuture<'a> {
        Box::pin(async move {
            cli.help(&argv);
            Ok(true)
        })
    }
}

/// `!runfile <file>`.
struct RunFileCmd;

impl Cmd<StormCli> for RunFileCmd {
    fn name(&self) -> &'static str {
        "!runfile"
    }
    fn doc(&self) -> &'static str {
        "
    Run a local storm file.

    Example:

        !runfile /path/to/file.storm
    "
    }
    fn run<'a>(&'a self, cli: &'a mut StormCli, argv: Vec<String>) -> CmdFuture<'a> {
        Box::pin(async move {
            let [path] = argv.as_slice() else {
                return Ok(usage(
                    cli,
                    "!runfile [-h] stormfile",
                    "expected one argument",
                ));
            };
            let path = cmdr::unquote(path);
            let Ok(text) = std::fs::read(&path) else {
                cli.printf(&format!("no such file: {path}"));
                return Ok(false);
            };
            cli.printf(&format!("running storm file: {path}"));
            cli.storm(&String::from_utf8_lossy(&text), None).await
        })
    }
}

/// `!pushfile <file>`.
struct PushFileCmd;

impl Cmd<StormCli> for PushFileCmd {
    fn name(&self) -> &'static str {
        "!pushfile"
    }
    fn doc(&self) -> &'static str {
        "
    Upload a file and create a file:bytes node.

    Example:

        !pushfile /path/to/file
    "
    }
    fn run<'a>(&'a self, cli: &'a mut StormCli, argv: Vec<String>) -> CmdFuture<'a> {
        Box::pin(async move {
            let [path] = argv.as_slice() else {
                return Ok(usage(
                    cli,
                    "!pushfile [-h] filepath",
                    "expected one argument",
                ));
            };
            let path = PathBuf::from(cmdr::unquote(path));
            if !path.is_file() {
                cli.printf(&format!("no such file: {}", path.display()));
                return Ok(false);
            }
            cli.printf(&format!("uploading file: {}", path.display()));
            let upload = cli
                .proxy
                .share("getAxonUpload", Vec::new(), Vec::new())
                .await?;
            let saved = async {
                let mut file = tokio::fs::File::open(&path).await?;
                let mut buf = vec![0u8; 10_000_000];
                loop {
                    let size = tokio::io::AsyncReadExt::read(&mut file, &mut buf).await?;
                    if size == 0 {
                        break;
                    }
                    upload
                        .call(
                            "write",
                            vec![Value::Binary(buf[..size].to_vec())],
                            Vec::new(),
                        )
                        .await?;
                }
                anyhow::Ok(upload.call("save", Vec::new(), Vec::new()).await?)
            }
            .await;
            upload.fini().await;
            let saved = saved?;
            let sha256 = match saved.as_array().map(Vec::as_slice) {
                Some([_, Value::Binary(sha256)]) => hex::encode(sha256),
                _ => anyhow::bail!("unexpected upload result {saved}"),
            };
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let opts = Value::Map(vec![(
                Value::from("vars"),
                Value::Map(vec![
                    (Value::from("sha256"), Value::from(sha256)),
                    (Value::from("name"), Value::from(name)),
                ]),
            )]);
            cli.storm(
                "[ file:bytes=$sha256 ] { -:name [:name=$name] }",
                Some(opts),
            )
            .await
        })
    }
}

/// `!pullfile <sha256> <file>`.
struct PullFileCmd;

impl Cmd<StormCli> for PullFileCmd {
    fn name(&self) -> &'static str {
        "!pullfile"
    }
    fn doc(&self) -> &'static str {
        "
    Download a file by sha256 and store it locally.

    Example:

        !pullfile c00adfcc316f8b00772cdbce2505b9ea539d74f42861801eceb1017a44344ed3 /path/to/savefile
    "
    }
    fn run<'a>(&'a self, cli: &'a mut StormCli, argv: Vec<String>) -> CmdFuture<'a> {
        Box::pin(async move {
            let [sha256, path] = argv.as_slice() else {
                return Ok(usage(
                    cli,
                    "!pullfile [-h] sha256 filepath",
                    "the following arguments are required: sha256, filepath",
                ));
            };
            let (sha256, path) = (cmdr::unquote(sha256), cmdr::unquote(path));
            cli.printf(&format!("downloading sha256: {sha256}"));
            let res = async {
                let mut chunks = cli
                    .proxy
                    .stream(
                        "getAxonBytes",
                        vec![Value::from(sha256.as_str())],
                        Vec::new(),
                    )
                    .await?;
                let mut file = std::fs::File::create(&path)?;
                while let Some(chunk) = chunks.next().await {
                    if let Value::Binary(byts) = chunk? {
                        file.write_all(&byts)?;
                    }
                }
                anyhow::Ok(())
            }
            .await;
            match res {
                Ok(()) => {
                    cli.printf(&format!("saved to: {path}"));
                    Ok(true)
                }
                Err(err) => {
                    cli.printf(&remote_mesg(&err));
                    Ok(false)
                }
            }
        })
    }
}

/// The message of a remote error (`errinfo['mesg']`), else the error's text.
fn remote_mesg(err: &anyhow::Error) -> String {
    err.downcast_ref::<synapse_telepath::Error>()
        .and_then(|e| e.remote())
        .and_then(|r| r.mesg().map(str::to_owned))
        .unwrap_or_else(|| err.to_string())
}

/// `!export <file> <query> [--include-tags [TAG ...]] [--no-tags]`.
struct ExportCmd;

impl Cmd<StormCli> for ExportCmd {
    fn name(&self) -> &'static str {
        "!export"
    }
    fn doc(&self) -> &'static str {
        "
    Export the results of a storm query into a nodes file.

    Example:

        // Export nodes to a file
        !export dnsa.nodes { inet:fqdn#mynodes -> inet:dns:a }

        // Export nodes to a file and only include specific tags
        !export fqdn.nodes { inet:fqdn#mynodes } --include-tags footag
    "
    }
    fn run<'a>(&'a self, cli: &'a mut StormCli, argv: Vec<String>) -> CmdFuture<'a> {
        Box::pin(async move {
            let usage_text =
                "!export [-h] [--include-tags [INCLUDE_TAGS ...]] [--no-tags] filepath query";
            let mut positional = Vec::new();
            let mut include: Option<Vec<String>> = None;
            let mut notags = false;
            let mut in_tags = false;
            for arg in argv {
                match arg.as_str() {
                    "--include-tags" => {
                        include.get_or_insert_with(Vec::new);
                        in_tags = true;
                    }
                    "--no-tags" => {
                        notags = true;
                        in_tags = false;
                    }
                    flag if flag.starts_with("--") => {
                        return Ok(usage(
                            cli,
                            usage_text,
                            &format!("unrecognized arguments: {flag}"),
                        ));
                    }
                    _ if in_tags => include
                        .get_or_insert_with(Vec::new)
                        .push(cmdr::unquote(&arg)),
                    _ => positional.push(cmdr::unquote(&arg)),
                }
            }
            let [path, query] = positional.as_slice() else {
                return Ok(usage(
                    cli,
                    usage_text,
                    "the following arguments are required: filepath, query",
                ));
            };
            cli.printf("exporting nodes");
            let mut opts = cli.stormopts.clone();
            let scrub = |tags: Vec<Value>| {
                Value::Map(vec![(
                    Value::from("include"),
                    Value::Map(vec![(Value::from("tags"), Value::Array(tags))]),
                )])
            };
            if let Some(tags) = include.filter(|t| !t.is_empty()) {
                let tags = tags.iter().map(|t| Value::from(t.as_str())).collect();
                map_set(&mut opts, "scrub", scrub(tags));
            }
            if notags {
                map_set(&mut opts, "scrub", scrub(Vec::new()));
            }
            let res = async {
                let mut podes = cli
                    .proxy
                    .stream(
                        "exportStorm",
                        vec![Value::from(query.as_str()), opts],
                        Vec::new(),
                    )
                    .await?;
                let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
                let mut count = 0usize;
                while let Some(pode) = podes.next().await {
                    rmpv::encode::write_value(&mut file, &pode?)?;
                    count += 1;
                }
                file.flush()?;
                anyhow::Ok(count)
            }
            .await;
            match res {
                Ok(count) => {
                    cli.printf(&format!("saved {count} nodes to: {path}"));
                    Ok(true)
                }
                Err(err) => {
                    cli.printf(&remote_mesg(&err));
                    Ok(false)
                }
            }
        })
    }
}

/// Tab completion of forms, properties and Storm commands (from `getCoreInfoV2`).
#[derive(Default)]
struct Completions {
    words: Vec<String>,
}

impl Completions {
    async fn load(proxy: &Proxy) -> Completions {
        let Ok(info) = proxy.call("getCoreInfoV2", Vec::new(), Vec::new()).await else {
            return Completions::default();
        };
        let mut words = Vec::new();
        if let Some(Value::Map(forms)) =
            map_get(&info, "modeldict").and_then(|m| map_get(m, "forms"))
        {
            for (name, form) in forms {
                let Some(name) = name.as_str() else { continue };
                words.push(name.to_owned());
                if let Some(Value::Map(props)) = map_get(form, "props") {
                    for (prop, _) in props {
                        if let Some(prop) = prop.as_str() {
                            let sep = if prop.starts_with('.') { "" } else { ":" };
                            words.push(format!("{name}{sep}{prop}"));
                        }
                    }
                }
            }
        }
        if let Some(Value::Array(cmds)) =
            map_get(&info, "stormdocs").and_then(|d| map_get(d, "commands"))
        {
            for cmd in cmds {
                if let Some(name) = map_get(cmd, "name").and_then(Value::as_str) {
                    words.push(name.to_owned());
                }
            }
        }
        words.sort();
        words.dedup();
        Completions { words }
    }
}

impl rustyline::completion::Completer for Completions {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let head = &line[..pos];
        let start = head
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_')))
            .map_or(0, |idx| idx + 1);
        let word = &head[start..];
        if word.is_empty() {
            return Ok((pos, Vec::new()));
        }
        let found = self
            .words
            .iter()
            .filter(|w| w.starts_with(word))
            .take(200)
            .cloned()
            .collect();
        Ok((start, found))
    }
}

impl rustyline::hint::Hinter for Completions {
    type Hint = String;
}
impl rustyline::highlight::Highlighter for Completions {}
impl rustyline::validate::Validator for Completions {}
impl rustyline::Helper for Completions {}

type LineEditor = rustyline::Editor<Completions, rustyline::history::FileHistory>;

/// `~/.syn/storm_history` (the reference's `getSynPath('storm_history')`).
fn history_path() -> Option<PathBuf> {
    let home = std::env::var_os("SYN_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".syn")))?;
    std::fs::create_dir_all(&home).ok()?;
    Some(home.join("storm_history"))
}

async fn interactive(mut cli: StormCli) -> anyhow::Result<()> {
    let completions = Completions::load(&cli.proxy).await;
    let mut editor: LineEditor = rustyline::Editor::new()?;
    editor.set_helper(Some(completions));
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    cli.printf(WELCOME);
    while !cli.quit {
        let (back, line) = tokio::task::spawn_blocking(move || {
            let line = editor.readline("storm> ");
            (editor, line)
        })
        .await?;
        editor = back;
        let line = match line {
            Ok(line) => line,
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(err) => return Err(err.into()),
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(line);
        if let Some(path) = &history {
            let _ = editor.append_history(path);
        }
        tokio::select! {
            res = cli.run_line(line) => {
                if let Err(err) = res {
                    cli.printf(&format!("error: {}", remote_mesg(&err)));
                }
            }
            _ = tokio::signal::ctrl_c() => {
                cli.printf("<ctrl-c>");
            }
        }
    }
    Ok(())
}

/// Run the Storm CLI. Errors print as the reference's tool wrapper does (`ERROR: <mesg>` on
/// stdout, exit code 1).
pub(crate) async fn main(args: Args) -> anyhow::Result<ExitCode> {
    match run(args).await {
        Ok(code) => Ok(code),
        Err(err) => {
            println!("ERROR: {}", remote_mesg(&err));
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let proxy = synapse_telepath::openurl(&args.cortex).await?;
    let mut cli = StormCli::new(proxy.clone(), Box::new(std::io::stdout()));
    cli.apply_args(&args)?;
    let code = match &args.onecmd {
        Some(line) => match cli.run_line(line).await? {
            Some(false) => ExitCode::FAILURE,
            _ => ExitCode::SUCCESS,
        },
        None => {
            interactive(cli).await?;
            ExitCode::SUCCESS
        }
    };
    proxy.fini().await;
    Ok(code)
}
